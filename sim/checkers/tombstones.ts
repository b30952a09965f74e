/**
 * Tombstone GC rules (the leader's reaps, core/agent/tombstones.ts), judged outside the servers:
 *
 *  - Age (cluster-wide, per datacenter): a reap never removes a tombstone younger than the TTL. Consul keeps
 *    every tombstone at least TombstoneTTL so that a blocking query or an anti-entropy reader that saw the key
 *    still sees its deletion as a change. A tombstone's age is measured from the first apply of its index on
 *    any server of its datacenter (the leader that hinted it had applied it by then) to the reap's apply on
 *    the server that reaps it, in global simulated time, less a slack for clock drift (timers run on local
 *    clocks: sim/engine/clock.ts). Derived from the applies alone, not from the leader's windows, so a leader
 *    that reaps up to the wrong index, or buckets a hint into a window that ends before its TTL, is caught.
 *  - Indexes at a reap (per replica): a reap changes no KV answer and lowers no KV read's X-Consul-Index nor
 *    its change index (what a parked blocking query waits on) — for every key the store holds or has a
 *    tombstone for, and every prefix of those keys. A reap that erased the tombstone holding an index up would
 *    otherwise move a reader's index backward (core/store/kv.ts floors it by kvReapedIndex for this).
 *
 * That every replica reaps the same tombstones at the same index follows from the reap being a Raft command
 * (State Machine Safety, sim/checkers/raft.ts) applied by a deterministic store.
 */
import { changeIndex, queryIndex, runQuery } from '../../core/store/queries.js';
import type { StoreState } from '../../core/store/state.js';
import type { StoreQuery } from '../../core/store/types.js';

/**
 * Drift slack of the age rule: timers run on local clocks, and a clock that runs fast fires them early in
 * global time. The swarm nemesis draws at most 20,000 ppm (sim/engine/nemesis.ts); 5% covers it with room.
 */
export const tombstoneAgeDriftSlack = 0.05;

/** What a server's store did at an apply, for the age rule (drained by the harness after each step). */
export type TombstoneEvent =
  | { readonly kind: 'tombstoned'; readonly index: number }
  | {
      readonly kind: 'reaped';
      readonly index: number;
      readonly upToIndex: number;
      readonly removed: readonly number[];
    };

/** Keys judged at a reap, at most (a store of the simulated workloads holds a few dozen). */
const judgedKeysMax = 256;

/** The KV reads the index rule judges, and their answers: for each, X-Consul-Index, change index and value. */
export type KvReadIndexes = ReadonlyMap<
  string,
  { readonly index: number; readonly change: number; readonly value: string }
>;

/** The judged KV reads' indexes and answers in `state` before a reap (`reapIndexProblems` runs the same reads after it). */
export function kvReadIndexesOf(state: StoreState): KvReadIndexes {
  const keys = [...new Set([...state.kvKeys.withPrefix(''), ...state.tombstoneKeys.withPrefix('')])].slice(
    0,
    judgedKeysMax,
  );
  const queries: StoreQuery[] = [];
  const prefixes = new Set<string>();
  for (const key of keys) {
    queries.push({ type: 'kvGet', key });
    for (let n = 0; n <= key.length; n++) prefixes.add(key.slice(0, n));
  }
  for (const prefix of prefixes) queries.push({ type: 'kvList', prefix }, { type: 'kvKeys', prefix });
  const out = new Map<string, { index: number; change: number; value: string }>();
  for (const query of queries) {
    const read = readOf(state, query);
    if (read !== null) out.set(JSON.stringify(query), read);
  }
  return out;
}

function readOf(state: StoreState, query: StoreQuery): { index: number; change: number; value: string } | null {
  const result = runQuery(state, query);
  if ('error' in result) return null;
  return { index: queryIndex(state, query), change: changeIndex(state, query), value: JSON.stringify(result.value) };
}

/** A sentence per judged read whose answer the reap at `index` changed or whose index it lowered. */
export function reapIndexProblems(
  before: KvReadIndexes,
  state: StoreState,
  index: number,
  upToIndex: number,
): string[] {
  const problems: string[] = [];
  for (const [query, was] of before) {
    // The same reads after the reap — a reaped key's among them, though the store no longer names it.
    const now = readOf(state, JSON.parse(query) as StoreQuery);
    if (now === null) continue;
    const what = `tombstone reap: tombstonesReap up to ${upToIndex} at index ${index}`;
    if (now.value !== was.value) problems.push(`${what} changed the answer of ${query}`);
    else if (now.index < was.index)
      problems.push(`${what} moved the X-Consul-Index of ${query} backward, from ${was.index} to ${now.index}`);
    else if (now.change < was.change)
      problems.push(
        `${what} moved the change index of ${query} backward, from ${was.change} to ${now.change}: a blocking query parked on it wakes at an index below one it was answered`,
      );
  }
  return problems;
}

/** The age rule over one datacenter's servers (or one per datacenter, keyed by the caller). */
export class TombstoneAgeChecker {
  /** Tombstone-writing index → global time (ms) of its first apply on any server. */
  private readonly firstAppliedMs = new Map<number, number>();
  /** Reaps observed (for coverage and the run's summary). */
  reaps = 0;
  tombstonesReaped = 0;

  /** Judges one server's event at global time `nowMs`; the violation's sentence, or null. */
  note(nodeId: string, event: TombstoneEvent, nowMs: number, ttlMs: number): string | null {
    if (event.kind === 'tombstoned') {
      if (!this.firstAppliedMs.has(event.index)) this.firstAppliedMs.set(event.index, nowMs);
      return null;
    }
    this.reaps++;
    this.tombstonesReaped += event.removed.length;
    const earliestAgeMs = ttlMs * (1 - tombstoneAgeDriftSlack);
    for (const tombstone of event.removed) {
      const bornMs = this.firstAppliedMs.get(tombstone);
      if (bornMs === undefined) continue; // written by a snapshot restore: its deletion was never seen
      const ageMs = nowMs - bornMs;
      if (ageMs < earliestAgeMs)
        return `tombstone age: ${nodeId} applied tombstonesReap up to ${event.upToIndex} (index ${event.index}) at ${nowMs.toFixed(3)} ms, removing the tombstone written at index ${tombstone}, first applied at ${bornMs.toFixed(3)} ms: ${ageMs.toFixed(3)} ms old, younger than the TTL of ${ttlMs} ms`;
    }
    return null;
  }
}
