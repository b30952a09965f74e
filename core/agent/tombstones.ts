/**
 * Tombstone GC: the leader reaps deleted KV keys' tombstones once they are `tombstoneTtlMs` old, as
 * Consul's leader does with its TombstoneGC (agent/consul/state/tombstone_gc.go, leader.go).
 *
 * A delete leaves a tombstone (core/store/kv.ts) so that the key's index stays at its deletion: a blocking
 * query or an anti-entropy reader that saw the key wakes on the delete. Kept for ever, every deleted key
 * would stay in every replica's memory and snapshots; reaped at once, a reader coming back late would miss
 * the delete's index. Consul's compromise, followed here:
 *
 *  - Hints. When an apply leaves tombstones, the store marks its result (`tombstoneHint`, core/store
 *    types.ts CommandResult) and the leader, which proposed it, hints the index here. Hints land in windows
 *    of `tombstoneGranularityMs`, each keeping the highest index hinted into it: one reap per window,
 *    however many deletes.
 *  - Reaps. A window is reaped `windowsToExpiry` windows after its own — at least the TTL after any hint in
 *    it, at most TTL + 2 × granularity — by proposing `tombstonesReap { upToIndex }` through Raft, so every
 *    replica forgets the same tombstones at the same log index. Every tombstone at or below a hinted index
 *    existed when the hint was made, so none is reaped younger than the TTL (sim/checkers/tombstones.ts
 *    holds the simulator to it).
 *  - Leadership. Only the leader keeps windows. On gaining leadership it enables the GC and hints the index
 *    of its first command (`sessionTimersReset`), whose result carries the hint when tombstones are kept:
 *    tombstones an earlier leader left, whose hints died with its leadership, are reaped a TTL later. (Consul
 *    hints Raft's last index; the first command of the term is at or after it.) On losing leadership it
 *    drops its windows and its timer; the next leader hints again.
 *
 * Where this differs from Consul: Consul names a window by its wall-clock expiry (now + TTL rounded up to
 * the granularity) and arms one timer per window. Then a wall clock stepped backward files a later hint into
 * a window whose timer, armed before the step, fires less than a TTL after that hint — the explorer found it
 * (scenarios/agent/tombstone-gc.txt seed 527: a reap 1.6 s after a delete, TTL 3 s, after a clock jump). Here
 * a window is named by a count of granularity ticks, one `tombstoneGc` timer armed while any window is
 * pending: timers are delays, never early, so a window's age is measured by the timers alone, whatever the
 * clock reads.
 *
 * State is volatile: a restarted server is not the leader, and a new leader hints again.
 */
import { assert } from '../assert.js';
import type { StoreCommand } from '../store/types.js';
import { tombstoneBucketsMax } from './api.js';
import { trace, type AgentState, type Env } from './state.js';

/** The tick timer's name (routed by machine.ts). */
export const tombstoneTimer = 'tombstoneGc';

/**
 * How many ticks after its own a window is reaped: a hint comes at most one tick interval before its
 * window's first tick, so ceil(TTL / granularity) + 1 whole intervals later it is at least TTL old.
 */
export function windowsToExpiry(ttlMs: number, granularityMs: number): number {
  assert(ttlMs > 0 && granularityMs > 0, 'tombstone TTL and granularity are positive');
  return Math.ceil(ttlMs / granularityMs) + 1;
}

/** Gaining leadership: start collecting hints (the first command's result brings the catch-up hint). */
export function enableTombstoneGc(s: AgentState): void {
  const gc = s.tombstoneGc;
  assert(gc.windows.size === 0 && !gc.ticking, 'a server that did not lead keeps no tombstone windows');
  gc.enabled = true;
  gc.tick = 0;
}

/** Losing leadership: forget every window and the tick; the next leader hints again. */
export function disableTombstoneGc(s: AgentState, env: Env): void {
  const gc = s.tombstoneGc;
  gc.enabled = false;
  gc.windows.clear();
  if (gc.ticking) env.ctx.emit({ kind: 'cancelTimer', timer: tombstoneTimer });
  gc.ticking = false;
}

/**
 * An apply at `index` left tombstones (or a new leader's first command found some): remember the index in
 * the current window, arming the tick if none is armed. Does nothing unless this server leads.
 */
export function hintTombstones(s: AgentState, env: Env, index: number): void {
  const gc = s.tombstoneGc;
  if (!gc.enabled) return;
  gc.windows.set(gc.tick, Math.max(gc.windows.get(gc.tick) ?? 0, index));
  assert(gc.windows.size <= tombstoneBucketsMax, 'tombstone windows are reaped as the ticks pass');
  if (gc.ticking) return;
  gc.ticking = true;
  env.ctx.emit({ kind: 'setTimer', timer: tombstoneTimer, afterMs: s.config.timing.tombstoneGranularityMs });
}

/**
 * The tick: the windows old enough are reaped by one proposal, up to the highest index hinted into them.
 * The tick is armed again while windows are pending. A failed proposal is only traced: the tombstones stay
 * until a later window's reap covers them (Consul logs the failure likewise).
 */
export function onTombstoneGcTimer(
  s: AgentState,
  env: Env,
  propose: (command: StoreCommand, then: (ok: boolean, env: Env, error: string) => void) => void,
): void {
  const gc = s.tombstoneGc;
  if (!gc.enabled || !gc.ticking) return; // a tick that fired as it was cancelled
  gc.tick++;
  const t = s.config.timing;
  const lastDue = gc.tick - windowsToExpiry(t.tombstoneTtlMs, t.tombstoneGranularityMs);
  let upToIndex = 0;
  for (const [window, index] of gc.windows) {
    if (window > lastDue) continue;
    upToIndex = Math.max(upToIndex, index);
    gc.windows.delete(window);
  }
  gc.ticking = gc.windows.size > 0;
  if (gc.ticking) env.ctx.emit({ kind: 'setTimer', timer: tombstoneTimer, afterMs: t.tombstoneGranularityMs });
  if (upToIndex === 0) return;
  propose({ type: 'tombstonesReap', upToIndex }, (ok, env2, error) => {
    if (ok) trace(env2, { type: 'consul.tombstonesReaped', upToIndex });
    else trace(env2, { type: 'consul.tombstoneReapFailed', upToIndex, error });
  });
}

/**
 * Takes the store's `tombstoneHint` off a Raft result (the caller passes the rest on, as it was before
 * hints existed) and hints `index` if it was set.
 */
export function takeTombstoneHint(s: AgentState, env: Env, index: number, result: unknown): unknown {
  if (result === null || typeof result !== 'object' || !('tombstoneHint' in result)) return result;
  const { tombstoneHint, ...rest } = result as { tombstoneHint?: unknown };
  if (tombstoneHint === true) hintTombstones(s, env, index);
  return rest;
}

/** Local invariants (agentInvariants). */
export function tombstoneGcInvariants(s: AgentState): string[] {
  const gc = s.tombstoneGc;
  const broken: string[] = [];
  if (!gc.enabled && (gc.windows.size > 0 || gc.ticking))
    broken.push(`tombstone GC disabled with ${gc.windows.size} windows${gc.ticking ? ' and its tick armed' : ''}`);
  if (gc.ticking !== gc.windows.size > 0)
    broken.push(`tombstone GC tick ${gc.ticking ? 'armed' : 'idle'} with ${gc.windows.size} windows pending`);
  if (gc.windows.size > tombstoneBucketsMax)
    broken.push(`${gc.windows.size} tombstone windows exceed tombstoneBucketsMax ${tombstoneBucketsMax}`);
  if (gc.enabled && !s.isLeader) broken.push('tombstone GC enabled on a server that does not lead');
  return broken;
}
