/**
 * The leader's tombstone GC end to end (core/agent/tombstones.ts), on the agent harness's five simulated
 * nodes with the real Raft, the TTL shortened to 4 s and the granularity to 1 s: a delete leaves a
 * tombstone on every server, which is still there just before the TTL and gone from every server once
 * TTL + 2 × granularity have passed (the leader proposed `tombstonesReap` through Raft); a leader that dies
 * with its windows pending leaves its tombstones to the next leader, which hints them again when it gains
 * leadership and reaps them a TTL later. Fixed seed: a failure replays exactly.
 */
import { describe, expect, it } from 'vitest';
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import { harness, leaderOf, storeOf } from '../harnesses/agent.js';
import { parseScenario } from '../scenario.js';
import { Simulation } from '../engine/simulation.js';

const servers = ['n1', 'n2', 'n3'];
const ttlMs = 4_000;
const granularityMs = 1_000;
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function cluster() {
  const text =
    'protocol agent\nnodes 5\nset clients 0\nnetwork latency=1ms..5ms\nduration safety=600s liveness=0s\n' +
    `set tombstoneTtlMs ${ttlMs}\nset tombstoneGranularityMs ${granularityMs}\n`;
  const sim = new Simulation(parseScenario(text, 'agent-tombstones.txt'), harness, 1);
  sim.begin();
  const call = (node: string, body: AgentRequest, advanceMs = 300): AgentResponse | undefined => {
    const box: { result: AgentResponse | undefined | 'pending' } = { result: 'pending' };
    sim.request(node, { machine: 'agent', body }, 10_000, (r) => (box.result = r as AgentResponse | undefined));
    sim.runUntil(sim.nowMs + advanceMs);
    expect(box.result).not.toBe('pending');
    return box.result as AgentResponse | undefined;
  };
  const tombstonesOn = (id: string): string[] => {
    const runtime = sim.runtime(id);
    return runtime ? [...storeOf(runtime).state.tombstones.keys()].sort() : [];
  };
  const upServers = (): string[] => servers.filter((id) => sim.isUp(id));
  return { sim, call, tombstonesOn, upServers };
}

describe('tombstone GC: the leader reaps deleted keys a TTL after their deletion', () => {
  it('delete → a tombstone on every server, kept through the TTL, gone from every server after TTL + 2 × granularity', () => {
    const { sim, call, tombstonesOn } = cluster();
    sim.runUntil(5_000);
    const leader = leaderOf(sim)!;
    expect(leader).not.toBeNull();
    for (const key of ['a', 'b/1', 'b/2', 'c'])
      expect(call('n4', { type: 'kv.put', key, value: bytes('v') })?.status).toBe(200);
    expect(call('n4', { type: 'kv.delete', key: 'a' })?.body).toBe(true);
    expect(call('n5', { type: 'kv.deleteTree', prefix: 'b/' })?.body).toBe(true);
    const deletedAtMs = sim.nowMs;
    for (const id of servers) expect(tombstonesOn(id)).toEqual(['a', 'b/1', 'b/2']);
    // Just before the TTL (from the second delete's answer, which came after its apply): all still there.
    sim.runUntil(deletedAtMs + ttlMs - 400);
    for (const id of servers) expect(tombstonesOn(id)).toEqual(['a', 'b/1', 'b/2']);
    expect(storeOf(sim.runtime(leader)!).state.kvReapedIndex).toBe(0);
    // TTL + 2 granularities later (and a commit round): gone everywhere.
    sim.runUntil(deletedAtMs + ttlMs + 2 * granularityMs + 500);
    for (const id of servers) {
      expect(tombstonesOn(id)).toEqual([]);
      expect(storeOf(sim.runtime(id)!).state.kvReapedIndex).toBeGreaterThan(0);
    }
    // A read of a reaped key still answers 404 with an index not below the delete's.
    const missing = call('n4', { type: 'kv.get', key: 'a', read: { consistency: 'consistent' } })!;
    expect(missing.status).toBe(404);
    // The key c, never deleted, is untouched.
    expect(call('n4', { type: 'kv.get', key: 'c', read: { consistency: 'consistent' } })!.status).toBe(200);
  });

  it('a leader that dies with windows pending: the next leader hints its first index on gaining leadership and reaps them', () => {
    const { sim, call, tombstonesOn, upServers } = cluster();
    sim.runUntil(5_000);
    const first = leaderOf(sim)!;
    expect(call('n4', { type: 'kv.put', key: 'x', value: bytes('v') })?.status).toBe(200);
    expect(call('n4', { type: 'kv.delete', key: 'x' })?.body).toBe(true);
    for (const id of servers) expect(tombstonesOn(id)).toEqual(['x']);
    sim.faults.crash(first); // its windows die with it, long before the TTL
    sim.runUntil(sim.nowMs + 3_000);
    const second = leaderOf(sim);
    expect(second).not.toBeNull();
    expect(second).not.toBe(first);
    const electedAtMs = sim.nowMs;
    // Nothing was deleted under the second leader: only its gaining-leadership hint can reap x.
    sim.runUntil(electedAtMs + ttlMs + 2 * granularityMs + 1_000);
    for (const id of upServers()) expect(tombstonesOn(id)).toEqual([]);
    for (const id of upServers()) expect(storeOf(sim.runtime(id)!).state.kvReapedIndex).toBeGreaterThan(0);
    sim.faults.restart(first);
    sim.runUntil(sim.nowMs + 3_000);
    expect(tombstonesOn(first)).toEqual([]); // caught up through the log (or a snapshot) with the reap
  });
});
