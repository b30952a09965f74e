/**
 * A false positive of gossip must not fail a write (issue 13: the soak's 3 write errors). The Raft
 * leader's datagrams are cut (`datagram-cut`: UDP dropped, TCP fine), so the followers' SWIM declares it
 * failed while its process, its connections and its Raft are alive. Writes and reads are kept in flight
 * through a follower (forwarded to the leader) until the follower's gossip marks the leader failed;
 * every one must be answered with success. Before the fix, `onMemberNotice` failed every RPC pending to
 * a server gossip called failed, so the writes in flight at that instant answered "rpc error: leader
 * changed … it may have been applied" although the leader was about to commit them. Now only reads
 * (safe to send again) fail there and are retried; a write waits for its answer, the connection's
 * close, a leader change or its RPC timer (core/agent/rpc.ts failRetryableRpcsTo).
 */
import { describe, expect, it } from 'vitest';
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import { agentOf, harness, leaderOf } from '../harnesses/agent.js';
import { parseScenario } from '../scenario.js';
import { Simulation } from '../engine/simulation.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('gossip calls the live leader failed', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: writes and reads in flight through a follower at that instant all succeed`, () => {
      // Without the TCP fallback probe: with it (the default) a cut of datagrams alone no longer fools
      // gossip; a firewall closing the serf port, UDP and TCP, while the RPC port stays open still does.
      const text = `protocol agent\nnodes 3\nset clients 0\nset tcpFallbackPing false\nnetwork latency=1ms..5ms\nduration safety=600s liveness=0s\n`;
      const sim = new Simulation(parseScenario(text, 'gossip-false-positive.txt'), harness, seed);
      sim.begin();
      for (let i = 0; i < 1000 && leaderOf(sim) === null; i++) sim.runUntil(sim.nowMs + 10);
      sim.runUntil(sim.nowMs + 3000); // every member alive everywhere
      const leader = leaderOf(sim)!;
      const term = agentOf(sim, leader)!.term;
      const follower = ['n1', 'n2', 'n3'].find((id) => id !== leader)!;
      const answers: { what: string; response: AgentResponse | undefined | 'pending' }[] = [];
      let sent = 0;
      const send = (body: AgentRequest): void => {
        const box: (typeof answers)[number] = { what: `${body.type} #${sent++}`, response: 'pending' };
        answers.push(box);
        sim.request(follower, { machine: 'agent', body }, 60_000, (r) => (box.response = r as AgentResponse));
      };
      const inFlight = (): number => answers.filter((a) => a.response === 'pending').length;
      sim.faults.cutDatagrams(leader, true);
      const failedSeen = (): boolean => agentOf(sim, follower)!.members.get(leader)?.status === 'failed';
      // Keep 8 writes and 4 reads in flight through the follower until its gossip marks the leader failed.
      for (let step = 0; step < 30_000 && !failedSeen(); step++) {
        while (inFlight() < 12)
          send(
            sent % 3 === 2
              ? { type: 'kv.get', key: 'k', read: { consistency: 'default' } }
              : { type: 'kv.put', key: 'k', value: bytes(`v${sent}`) },
          );
        sim.runUntil(sim.nowMs + 1);
      }
      expect(failedSeen()).toBe(true);
      const pendingAtNotice = inFlight();
      sim.runUntil(sim.nowMs + 5000);
      // The leader never changed: the failure was gossip's alone.
      expect(leaderOf(sim)).toBe(leader);
      expect(agentOf(sim, leader)!.term).toBe(term);
      expect(pendingAtNotice).toBeGreaterThan(0);
      // A put answers 200 true; a read 200, or 404 before the first put took.
      const ok = (a: (typeof answers)[number]): boolean =>
        a.response !== 'pending' &&
        (a.what.startsWith('kv.put')
          ? a.response?.status === 200 && a.response.body === true
          : a.response?.status === 200 || a.response?.status === 404);
      const bad = answers.filter((a) => !ok(a));
      expect(
        bad.map(
          (a) =>
            `${a.what}: ${a.response === 'pending' ? 'pending' : `${a.response?.status} ${a.response?.error ?? ''}`}`,
        ),
      ).toEqual([]);
    });
  }
});
