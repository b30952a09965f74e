/**
 * The transport's "connection dropped" signal in the simulator (sim/engine/links.ts; issue 13 §4). The
 * real transport tells the agent at once when a stream connection to a peer closes (net/transport/
 * socket.ts), and the agent fails the RPCs pending to that peer instead of waiting out their timer
 * (core/agent/rpc.ts onLinkDown). These tests run the full agent stack on five simulated nodes (3
 * servers, 2 client agents) and record every `linkDown` input the nodes receive:
 * - a crash closes the connections opened to the crashed process: every peer that held one hears it
 *   one network latency later, except across a cut link (a partition carries no FIN);
 * - a stream message that reaches a process that is down is refused, and its sender hears it too;
 * - a paused process keeps its connections: no signal.
 * The agent's use of it is checked by sim/test/agent-inflight.test.ts (seeds that failed while the
 * simulator never emitted the signal).
 */
import { describe, expect, it } from 'vitest';
import type { Harness } from '../harness.js';
import { harness as agentHarness, leaderOf } from '../harnesses/agent.js';
import { parseScenario } from '../scenario.js';
import { Simulation } from '../engine/simulation.js';

interface Heard {
  readonly node: string;
  readonly peer: string;
  readonly atMs: number;
}

/** The agent harness, recording every linkDown input (node, peer, global time). */
function recording(): { harness: Harness; heard: Heard[]; sim: { current: Simulation | null } } {
  const heard: Heard[] = [];
  const sim: { current: Simulation | null } = { current: null };
  const harness: Harness = {
    ...agentHarness,
    onInput(api, nodeId, input) {
      if (input.kind === 'linkDown') heard.push({ node: nodeId, peer: input.peer, atMs: sim.current!.nowMs });
      agentHarness.onInput?.(api, nodeId, input);
    },
  };
  return { harness, heard, sim };
}

function cluster(seed: number) {
  const text = 'protocol agent\nnodes 5\nset clients 0\nnetwork latency=1ms..5ms\nduration safety=600s liveness=0s\n';
  const r = recording();
  const sim = new Simulation(parseScenario(text, 'linkdown.txt'), r.harness, seed);
  r.sim.current = sim;
  sim.begin();
  for (let waitedMs = 0; leaderOf(sim) === null && waitedMs < 10_000; waitedMs += 10) sim.runUntil(sim.nowMs + 10);
  expect(leaderOf(sim)).not.toBeNull();
  sim.runUntil(sim.nowMs + 3000); // clients synced, connections open
  return { sim, heard: r.heard };
}

describe('linkDown in the simulator', () => {
  it('a crash closes the connections opened to the process: its peers hear it one latency later, not across a cut link', () => {
    const { sim, heard } = cluster(1);
    const leader = leaderOf(sim)!;
    const [cut, ...others] = ['n1', 'n2', 'n3', 'n4', 'n5'].filter((id) => id !== leader);
    sim.faults.blockOneWay(leader, cut!); // the crashed process's FIN to `cut` is lost
    expect(heard).toEqual([]); // nothing closed while every process lives
    const crashedAt = sim.nowMs;
    sim.faults.crash(leader);
    sim.runUntil(crashedAt + 50);
    const first = heard.filter((h) => h.atMs <= crashedAt + 50);
    // The other servers replicate with the leader over streams: they held connections to it.
    expect(first.length).toBeGreaterThan(0);
    for (const h of first) {
      expect(h.peer).toBe(leader);
      expect(h.node).not.toBe(cut);
      expect(others).toContain(h.node);
      expect(h.atMs).toBeGreaterThan(crashedAt); // one latency later, never at once
    }
  });

  it('a stream message that reaches a process that is down is refused: its sender hears linkDown', () => {
    const { sim, heard } = cluster(2);
    const leader = leaderOf(sim)!;
    sim.faults.crash(leader);
    const crashedAt = sim.nowMs;
    sim.runUntil(crashedAt + 3000);
    // Long after the FINs: the survivors still send to the dead server (votes, retries) and are refused.
    const refused = heard.filter((h) => h.peer === leader && h.atMs > crashedAt + 500);
    expect(refused.length).toBeGreaterThan(0);
    expect(heard.every((h) => h.node !== leader)).toBe(true);
  });

  it('a paused process keeps its connections: no signal while it is paused', () => {
    const { sim, heard } = cluster(3);
    const leader = leaderOf(sim)!;
    sim.faults.pause(leader);
    const pausedAt = sim.nowMs;
    sim.runUntil(pausedAt + 3000);
    expect(heard.filter((h) => h.peer === leader)).toEqual([]);
  });
});
