/**
 * The leader's tombstone GC (tombstones.ts) as a leaf over the agent state: hints bucketed into windows
 * of the granularity, one tick timer while any window is pending, a window reaped with its highest index
 * once it is ceil(TTL / granularity) + 1 ticks old, nothing kept by a server that does not lead. Consul's
 * TombstoneGC (tombstone_gc.go) buckets the same way, by wall-clock expiry; the last test shows why ticks.
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
  tombstoneTimer,
  windowsToExpiry,
} from './tombstones.js';
import { Prng } from '../prng.js';

const ttlMs = 3_000;
const granularityMs = 1_000;

function leader(): {
  s: AgentState;
  effects: Effect[];
  env: (nowMs: number) => Env;
  tick: (nowMs: number) => StoreCommand[];
} {
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
  const tick = (nowMs: number): StoreCommand[] => {
    const proposed: StoreCommand[] = [];
    onTombstoneGcTimer(s, env(nowMs), (command) => void proposed.push(command));
    return proposed;
  };
  return { s, effects, env, tick };
}

describe('tombstone GC windows', () => {
  it('a window is reaped ceil(TTL / granularity) + 1 ticks after its own: at least the TTL after any hint in it', () => {
    expect(windowsToExpiry(3_000, 1_000)).toBe(4);
    expect(windowsToExpiry(2_500, 1_000)).toBe(4);
    expect(windowsToExpiry(900_000, 30_000)).toBe(31); // Consul's values: 15 min, 30 s
    // A hint just before a tick (the worst case) still gets (n - 1) whole intervals ≥ TTL.
    for (const [ttl, g] of [
      [3_000, 1_000],
      [2_500, 1_000],
      [1, 1_000],
      [900_000, 30_000],
    ] as const)
      expect((windowsToExpiry(ttl, g) - 1) * g).toBeGreaterThanOrEqual(ttl);
  });

  it('hints between two ticks share a window and its highest index; one timer, armed by the first hint', () => {
    const { s, effects, env, tick } = leader();
    enableTombstoneGc(s);
    hintTombstones(s, env(100), 5);
    hintTombstones(s, env(600), 9);
    hintTombstones(s, env(700), 7); // a lower index later in the same window does not lower it
    expect([...s.tombstoneGc.windows]).toEqual([[0, 9]]);
    expect(effects).toEqual([{ kind: 'setTimer', timer: tombstoneTimer, afterMs: granularityMs }]);
    expect(tick(1_100)).toEqual([]);
    hintTombstones(s, env(1_500), 12);
    expect([...s.tombstoneGc.windows]).toEqual([
      [0, 9],
      [1, 12],
    ]);
    expect(tombstoneGcInvariants(s)).toEqual([]);
  });

  it('each window is reaped by one proposal up to its own index, at its tick; the tick stops when none is pending', () => {
    const { s, effects, env, tick } = leader();
    enableTombstoneGc(s);
    hintTombstones(s, env(100), 5); // window 0, armed at 100: ticks at 1100, 2100, 3100, 4100...
    expect(tick(1_100)).toEqual([]);
    hintTombstones(s, env(1_500), 8); // window 1
    expect(tick(2_100)).toEqual([]);
    expect(tick(3_100)).toEqual([]); // 5 is 3000 ms old: the TTL, but a hint at 1099 would not be
    expect(tick(4_100)).toEqual([{ type: 'tombstonesReap', upToIndex: 5 }]);
    expect(tick(5_100)).toEqual([{ type: 'tombstonesReap', upToIndex: 8 }]);
    expect(s.tombstoneGc.windows.size).toBe(0);
    expect(s.tombstoneGc.ticking).toBe(false);
    const armed = effects.filter((e) => e.kind === 'setTimer').length;
    expect(tick(6_100)).toEqual([]); // a stale firing does nothing and arms nothing
    expect(effects.filter((e) => e.kind === 'setTimer').length).toBe(armed);
    expect(tombstoneGcInvariants(s)).toEqual([]);
  });

  it('a server that does not lead keeps no windows; losing leadership cancels the tick', () => {
    const { s, effects, env, tick } = leader();
    hintTombstones(s, env(0), 3); // not enabled yet: dropped
    expect(s.tombstoneGc.windows.size).toBe(0);
    enableTombstoneGc(s);
    hintTombstones(s, env(0), 3);
    effects.length = 0;
    s.isLeader = false;
    disableTombstoneGc(s, env(500));
    expect(effects).toEqual([{ kind: 'cancelTimer', timer: tombstoneTimer }]);
    expect(s.tombstoneGc.windows.size).toBe(0);
    for (const at of [1_000, 2_000, 3_000, 4_000, 5_000]) expect(tick(at)).toEqual([]); // fired anyway
    expect(tombstoneGcInvariants(s)).toEqual([]);
  });

  it('the age of a window is counted in ticks, so a clock stepped backward cannot shorten it', () => {
    // Consul's window is named by now + TTL on the wall clock: a hint after a backward step lands in a window
    // armed before the step, whose timer comes less than a TTL after it. Here the hint at (local) 200, made
    // after the clock went back 2.5 s, waits its own full count of ticks.
    const { s, env, tick } = leader();
    enableTombstoneGc(s);
    hintTombstones(s, env(2_700), 5);
    expect(tick(3_700)).toEqual([]);
    hintTombstones(s, env(200), 9); // the clock stepped back: a later hint, an earlier reading
    expect(tick(1_700)).toEqual([]);
    expect(tick(2_700)).toEqual([]);
    expect(tick(3_700)).toEqual([{ type: 'tombstonesReap', upToIndex: 5 }]);
    expect(tick(4_700)).toEqual([{ type: 'tombstonesReap', upToIndex: 9 }]);
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
