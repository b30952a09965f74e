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
 *    types.ts CommandResult) and the leader, which proposed it, hints the index here. Hints land in
 *    windows: the window is the first multiple of `tombstoneGranularityMs` strictly after now + TTL, and
 *    keeps the highest index hinted into it — one timer and one reap per window, however many deletes.
 *  - Reaps. When a window's timer fires, the leader proposes `tombstonesReap { upToIndex }` with the
 *    window's index through Raft, so every replica forgets the same tombstones at the same log index.
 *    Every tombstone at or below a hinted index existed when the hint was made, so none is reaped before it
 *    is TTL old by the leader's timers (sim/checkers/tombstones.ts holds the simulator to it).
 *  - Leadership. Only the leader keeps windows. On gaining leadership it enables the GC and hints the index
 *    of its first command (`sessionTimersReset`), whose result carries the hint when tombstones are kept:
 *    tombstones an earlier leader left, whose hints died with its leadership, are reaped a TTL later. (Consul
 *    hints Raft's last index; the first command of the term is at or after it.) On losing leadership it
 *    drops its windows and cancels their timers; the next leader hints again.
 *
 * State is volatile: a restarted server is not the leader, and a new leader hints again.
 */
import { assert } from '../assert.js';
import type { StoreCommand } from '../store/types.js';
import { tombstoneBucketsMax } from './api.js';
import { trace, type AgentState, type Env } from './state.js';

/** The timer of the window ending at `windowMs` (routed by machine.ts as `tombstoneGc:<windowMs>`). */
export function tombstoneTimerOf(windowMs: number): string {
  return `tombstoneGc:${windowMs}`;
}

/**
 * The window a hint at `nowMs` lands in: the first multiple of `granularityMs` strictly after
 * `nowMs + ttlMs` (Consul's nextExpires), so a window fires at least TTL after every hint in it.
 */
export function windowOf(nowMs: number, ttlMs: number, granularityMs: number): number {
  assert(ttlMs > 0 && granularityMs > 0, 'tombstone TTL and granularity are positive');
  const expiresMs = nowMs + ttlMs;
  const windowMs = (Math.floor(expiresMs / granularityMs) + 1) * granularityMs;
  assert(windowMs > expiresMs, 'a window ends after the TTL of every hint in it');
  return windowMs;
}

/** Gaining leadership: start collecting hints (the first command's result brings the catch-up hint). */
export function enableTombstoneGc(s: AgentState): void {
  assert(s.tombstoneGc.windows.size === 0, 'a server that did not lead keeps no tombstone windows');
  s.tombstoneGc.enabled = true;
}

/** Losing leadership: forget every window and its timer; the next leader hints again. */
export function disableTombstoneGc(s: AgentState, env: Env): void {
  s.tombstoneGc.enabled = false;
  for (const windowMs of s.tombstoneGc.windows.keys())
    env.ctx.emit({ kind: 'cancelTimer', timer: tombstoneTimerOf(windowMs) });
  s.tombstoneGc.windows.clear();
}

/**
 * An apply at `index` left tombstones (or a new leader's first command found some): remember the index in
 * the window TTL from now, arming the window's timer if it is new. Does nothing unless this server leads.
 */
export function hintTombstones(s: AgentState, env: Env, index: number): void {
  const gc = s.tombstoneGc;
  if (!gc.enabled) return;
  const t = s.config.timing;
  const windowMs = windowOf(env.nowMs, t.tombstoneTtlMs, t.tombstoneGranularityMs);
  const known = gc.windows.get(windowMs);
  if (known !== undefined) {
    gc.windows.set(windowMs, Math.max(known, index));
    return;
  }
  // A backward clock jump can leave windows behind the new one's: each keeps its own timer, all bounded.
  if (gc.windows.size >= tombstoneBucketsMax) return; // only after clock jumps; a later hint covers this index
  gc.windows.set(windowMs, index);
  env.ctx.emit({ kind: 'setTimer', timer: tombstoneTimerOf(windowMs), afterMs: windowMs - env.nowMs });
}

/**
 * A window's timer fired: propose the reap of every tombstone up to its index. A window that is gone (the
 * leadership it belonged to ended) does nothing. A failed proposal is only traced: the tombstones stay
 * until a later window's reap covers them (Consul logs the failure likewise).
 */
export function onTombstoneGcTimer(
  s: AgentState,
  env: Env,
  windowMs: number,
  propose: (command: StoreCommand, then: (ok: boolean, env: Env, error: string) => void) => void,
): void {
  const upToIndex = s.tombstoneGc.windows.get(windowMs);
  if (upToIndex === undefined || !s.tombstoneGc.enabled) return;
  s.tombstoneGc.windows.delete(windowMs);
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
  if (!gc.enabled && gc.windows.size > 0) broken.push(`${gc.windows.size} tombstone windows kept by a non-leader`);
  if (gc.windows.size > tombstoneBucketsMax)
    broken.push(`${gc.windows.size} tombstone windows exceed tombstoneBucketsMax ${tombstoneBucketsMax}`);
  if (gc.enabled && !s.isLeader) broken.push('tombstone GC enabled on a server that does not lead');
  return broken;
}
