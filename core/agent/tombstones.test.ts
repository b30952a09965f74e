/**
 * The leader's tombstone GC (tombstones.ts) as a leaf over the agent state: hints bucketed into windows
 * of the granularity, one timer per window, the reap proposed with the window's highest index, nothing
 * kept by a server that does not lead. The windows follow Consul's TombstoneGC (tombstone_gc.go):
 * expiry = now + TTL rounded up to the next multiple of the granularity.
 */
import { describe, expect, it } from 'vitest';
import type { StoreCommand } from '../store/types.js';
import type { Effect } from '../types.js';
import { agentTimingLan, makeAgentConfig } from './api.js';
import { initialState, type AgentState, type Env } from './state.js';
import {
  disableTombstoneGc,
  enableTombstoneGc,
  hintTombstones,
  onTombstoneGcTimer,
  takeTombstoneHint,
  tombstoneGcInvariants,
  tombstoneTimerOf,
  windowOf,
} from './tombstones.js';
import { Prng } from '../prng.js';

const ttlMs = 10_000;
const granularityMs = 1_000;

function leader(): { s: AgentState; effects: Effect[]; env: (nowMs: number) => Env } {
  const config = makeAgentConfig({
    nodeName: 's1',
    server: true,
    timing: { ...agentTimingLan, tombstoneTtlMs: ttlMs, tombstoneGranularityMs: granularityMs },
  });
  const s = initialState(config, true, 'id-s1');
  s.isLeader = true;
  s.leader = config.rpcId;
  const effects: Effect[] = [];
  const env = (nowMs: number): Env => ({
    nowMs,
    ctx: { nodeId: 's1', prng: new Prng(1), emit: (e) => effects.push(e as Effect) },
  });
  return { s, effects, env };
}

describe('tombstone GC windows', () => {
  it('a window is the first multiple of the granularity strictly after now + TTL', () => {
    expect(windowOf(0, ttlMs, granularityMs)).toBe(11_000); // exactly on a boundary: the next one
    expect(windowOf(1, ttlMs, granularityMs)).toBe(11_000);
    expect(windowOf(999.5, ttlMs, granularityMs)).toBe(11_000);
    expect(windowOf(1_000, ttlMs, granularityMs)).toBe(12_000);
    // Consul's production values: a tombstone lives between 15 min and 15 min 30 s.
    expect(windowOf(12_345, 900_000, 30_000)).toBe(930_000);
    for (const nowMs of [0, 3, 500, 999, 1000, 123_456.789]) {
      const windowMs = windowOf(nowMs, ttlMs, granularityMs);
      expect(windowMs - nowMs).toBeGreaterThan(ttlMs);
      expect(windowMs - nowMs).toBeLessThanOrEqual(ttlMs + granularityMs);
    }
  });

  it('hints within one window share its timer and keep the highest index; the next window gets its own', () => {
    const { s, effects, env } = leader();
    enableTombstoneGc(s);
    hintTombstones(s, env(100), 5);
    hintTombstones(s, env(600), 9);
    hintTombstones(s, env(700), 7); // a lower index later in the same window does not lower it
    expect([...s.tombstoneGc.windows]).toEqual([[11_000, 9]]);
    expect(effects).toEqual([{ kind: 'setTimer', timer: tombstoneTimerOf(11_000), afterMs: 10_900 }]);
    hintTombstones(s, env(1_200), 12);
    expect([...s.tombstoneGc.windows]).toEqual([
      [11_000, 9],
      [12_000, 12],
    ]);
    expect(effects.filter((e) => e.kind === 'setTimer')).toHaveLength(2);
    expect(tombstoneGcInvariants(s)).toEqual([]);
  });

  it('a window that fires proposes the reap up to its own index, once; a window gone does nothing', () => {
    const { s, env } = leader();
    enableTombstoneGc(s);
    hintTombstones(s, env(100), 5);
    hintTombstones(s, env(1_500), 8);
    const proposed: StoreCommand[] = [];
    const propose = (command: StoreCommand): void => void proposed.push(command);
    onTombstoneGcTimer(s, env(11_000), 11_000, propose);
    // Index 8 was hinted at 1.5 s: not TTL old at 11 s, so the first window reaps only up to 5.
    expect(proposed).toEqual([{ type: 'tombstonesReap', upToIndex: 5 }]);
    onTombstoneGcTimer(s, env(11_001), 11_000, propose); // the same timer again (a driver's duplicate)
    expect(proposed).toHaveLength(1);
    onTombstoneGcTimer(s, env(12_000), 12_000, propose);
    expect(proposed).toEqual([
      { type: 'tombstonesReap', upToIndex: 5 },
      { type: 'tombstonesReap', upToIndex: 8 },
    ]);
    expect(s.tombstoneGc.windows.size).toBe(0);
  });

  it('a server that does not lead keeps no windows; losing leadership cancels every window timer', () => {
    const { s, effects, env } = leader();
    hintTombstones(s, env(0), 3); // not enabled yet: dropped
    expect(s.tombstoneGc.windows.size).toBe(0);
    enableTombstoneGc(s);
    hintTombstones(s, env(0), 3);
    hintTombstones(s, env(2_500), 4);
    effects.length = 0;
    s.isLeader = false;
    disableTombstoneGc(s, env(3_000));
    expect(effects).toEqual([
      { kind: 'cancelTimer', timer: tombstoneTimerOf(11_000) },
      { kind: 'cancelTimer', timer: tombstoneTimerOf(13_000) },
    ]);
    expect(s.tombstoneGc.windows.size).toBe(0);
    const proposed: StoreCommand[] = [];
    onTombstoneGcTimer(s, env(11_000), 11_000, (c) => void proposed.push(c)); // a timer that fired anyway
    expect(proposed).toEqual([]);
    expect(tombstoneGcInvariants(s)).toEqual([]);
  });

  it('the store hint is taken off a result before it goes on, and hints its index', () => {
    const { s, env } = leader();
    enableTombstoneGc(s);
    expect(takeTombstoneHint(s, env(0), 7, { ok: true, value: true, tombstoneHint: true })).toEqual({
      ok: true,
      value: true,
    });
    expect([...s.tombstoneGc.windows.values()]).toEqual([7]);
    const plain = { ok: true, value: true };
    expect(takeTombstoneHint(s, env(0), 8, plain)).toBe(plain); // untouched, same object
    expect([...s.tombstoneGc.windows.values()]).toEqual([7]);
  });

  it('the config refuses a granularity that cuts the TTL into too many windows', () => {
    expect(() =>
      makeAgentConfig({
        nodeName: 'x',
        timing: { ...agentTimingLan, tombstoneTtlMs: 10_000, tombstoneGranularityMs: 1 },
      }),
    ).toThrow(/tombstoneGranularityMs/);
  });
});
