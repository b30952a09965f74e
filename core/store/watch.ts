/**
 * Blocking queries (Consul's `?index=N&wait=D`, /work/shared/consul-api.md §2): a pure registry of
 * parked readers. It never runs a query itself; the caller (the agent) owns the store and the clock.
 *
 * How the agent drives it:
 *   1. A read arrives with `minIndex` (the client's `?index`). Run the query. If `mustBlock(minIndex,
 *      result.index)` is false, answer now (Consul returns at once when index is 0 or already passed).
 *   2. Otherwise `parkReader(...)`. On `{ ok: false }` answer the error (the registry is full); on
 *      `{ ok: true, deadlineMs }` arm (or re-arm) one timer for `nextDeadlineMs(registry)`.
 *   3. After every apply on this node, call `releaseReady(registry, appliedIndex, indexOf)` with the
 *      store's cheap `indexOf(scope)`; re-run the query for each reader returned and answer it.
 *   4. When the timer fires, `expireReaders(registry, nowMs)`; answer each returned reader with the
 *      current data and index (a timeout is a 200 with unchanged data, as in Consul).
 *   5. If the client goes away, `cancelReader(registry, requestId)`.
 *
 * Deadline = nowMs + wait + jitter, jitter drawn from the prng in [0, wait/16) so a herd of watchers
 * does not come back at once (Consul's RandomStagger(wait / JitterFraction)).
 */
import { assert } from '../assert.js';
import type { Prng } from '../prng.js';

export interface BlockingConfig {
  /**
   * Readers parked at once on one node. Each holds a client connection and is re-checked after every
   * apply, so the bound caps both memory and the per-apply cost (O(parked)). Past it, `parkReader`
   * refuses with `tooManyBlockingQueries`. Consul has no such bound; 4096 is far above any client
   * suite and small enough that a re-check of every reader per apply stays cheap.
   */
  readonly parkedReadersMax: number;
  /** Wait when the client gives none or 0 (Consul's defaultQueryTime, 5 min). */
  readonly waitMsDefault: number;
  /** Longest wait honoured; longer asks are cut to this (Consul's maxQueryTime, 10 min). */
  readonly waitMsMax: number;
  /** Jitter is drawn in [0, wait / jitterFraction) (Consul's JitterFraction, 16). */
  readonly jitterFraction: number;
}

export const blockingConfigDefault: BlockingConfig = {
  parkedReadersMax: 4096,
  waitMsDefault: 5 * 60_000,
  waitMsMax: 10 * 60_000,
  jitterFraction: 16,
};

export function checkBlockingConfig(config: BlockingConfig): string[] {
  const problems: string[] = [];
  if (!Number.isSafeInteger(config.parkedReadersMax) || config.parkedReadersMax < 1)
    problems.push('parkedReadersMax must be a positive integer');
  if (!(config.waitMsDefault > 0)) problems.push('waitMsDefault must be positive');
  if (!(config.waitMsMax >= config.waitMsDefault)) problems.push('waitMsMax must be at least waitMsDefault');
  if (!Number.isSafeInteger(config.jitterFraction) || config.jitterFraction < 1)
    problems.push('jitterFraction must be a positive integer');
  return problems;
}

export interface ParkedReader<Scope> {
  readonly requestId: number;
  /** What the reader watches (for the store: a StoreQuery). Opaque to the registry. */
  readonly scope: Scope;
  /** Released once the scope's index is > minIndex. */
  readonly minIndex: number;
  /** Released at this time (the node's clock) with unchanged data if nothing changed. */
  readonly deadlineMs: number;
}

export interface BlockingRegistry<Scope> {
  readonly config: BlockingConfig;
  /** Invariant: size ≤ config.parkedReadersMax. */
  readonly parked: Map<number, ParkedReader<Scope>>;
}

export const tooManyBlockingQueries = 'too many blocking queries';

export type ParkResult =
  { readonly ok: true; readonly deadlineMs: number } | { readonly ok: false; readonly error: string };

export function createBlockingRegistry<Scope>(config: BlockingConfig = blockingConfigDefault): BlockingRegistry<Scope> {
  const problems = checkBlockingConfig(config);
  if (problems.length !== 0) assert(false, `bad blocking config: ${problems.join('; ')}`);
  return { config, parked: new Map() };
}

/** True when a read with `?index=minIndex` must wait: minIndex > 0 and the result's index has not passed it. */
export function mustBlock(minIndex: number, currentIndex: number): boolean {
  return minIndex > 0 && currentIndex <= minIndex;
}

/** The wait Consul would honour for a requested wait (0/absent → default; cut to the max). */
export function effectiveWaitMs(config: BlockingConfig, waitMs: number | undefined): number {
  if (waitMs === undefined || !(waitMs > 0)) return config.waitMsDefault;
  return Math.min(waitMs, config.waitMsMax);
}

/** Parks a reader until its scope's index passes `minIndex` or its deadline. */
export function parkReader<Scope>(
  registry: BlockingRegistry<Scope>,
  requestId: number,
  scope: Scope,
  minIndex: number,
  waitMs: number | undefined,
  nowMs: number,
  prng: Prng,
): ParkResult {
  if (registry.parked.has(requestId)) assert(false, `request ${requestId} is already parked`);
  assert(Number.isFinite(minIndex) && minIndex > 0, 'only a read with minIndex > 0 parks (see mustBlock)');
  if (registry.parked.size >= registry.config.parkedReadersMax) {
    return {
      ok: false,
      error: `${tooManyBlockingQueries}: ${registry.parked.size} parked (parkedReadersMax ${registry.config.parkedReadersMax})`,
    };
  }
  const wait = effectiveWaitMs(registry.config, waitMs);
  const jitterMs = prng.below(Math.max(1, Math.floor(wait / registry.config.jitterFraction)));
  const deadlineMs = nowMs + wait + jitterMs;
  registry.parked.set(requestId, { requestId, scope, minIndex, deadlineMs });
  return { ok: true, deadlineMs };
}

/**
 * After an apply at `appliedIndex`: removes and returns (in parking order) every reader whose scope
 * index, per `indexOf`, passed its minIndex. A reader with minIndex ≥ appliedIndex cannot have been
 * passed (a scope index never exceeds the applied index), so `indexOf` is not called for it.
 */
export function releaseReady<Scope>(
  registry: BlockingRegistry<Scope>,
  appliedIndex: number,
  indexOf: (scope: Scope) => number,
): ParkedReader<Scope>[] {
  const ready: ParkedReader<Scope>[] = [];
  for (const reader of registry.parked.values()) {
    if (reader.minIndex >= appliedIndex) continue;
    if (indexOf(reader.scope) > reader.minIndex) ready.push(reader);
  }
  for (const reader of ready) registry.parked.delete(reader.requestId);
  return ready;
}

/** Removes and returns (by deadline, then request id) every reader whose deadline is ≤ nowMs. */
export function expireReaders<Scope>(registry: BlockingRegistry<Scope>, nowMs: number): ParkedReader<Scope>[] {
  const due: ParkedReader<Scope>[] = [];
  for (const reader of registry.parked.values()) if (reader.deadlineMs <= nowMs) due.push(reader);
  due.sort((a, b) => a.deadlineMs - b.deadlineMs || a.requestId - b.requestId);
  for (const reader of due) registry.parked.delete(reader.requestId);
  return due;
}

/** Forgets a parked reader (its client left, or the node lost leadership). True when it was parked. */
export function cancelReader<Scope>(registry: BlockingRegistry<Scope>, requestId: number): boolean {
  return registry.parked.delete(requestId);
}

/** Removes and returns every parked reader (e.g. when the agent stops serving): answer each. */
export function drainReaders<Scope>(registry: BlockingRegistry<Scope>): ParkedReader<Scope>[] {
  const all = [...registry.parked.values()];
  registry.parked.clear();
  return all;
}

/** The earliest deadline among parked readers, or null when none is parked: arm one timer for it. */
export function nextDeadlineMs<Scope>(registry: BlockingRegistry<Scope>): number | null {
  let next: number | null = null;
  for (const reader of registry.parked.values())
    if (next === null || reader.deadlineMs < next) next = reader.deadlineMs;
  return next;
}

export function blockingInvariants<Scope>(registry: BlockingRegistry<Scope>): string[] {
  const broken: string[] = [];
  if (registry.parked.size > registry.config.parkedReadersMax)
    broken.push(`${registry.parked.size} readers parked, bound ${registry.config.parkedReadersMax}`);
  for (const [id, reader] of registry.parked) {
    if (reader.requestId !== id) broken.push(`reader filed under ${id} says ${reader.requestId}`);
    if (!(reader.minIndex > 0)) broken.push(`reader ${id} parked with minIndex ${reader.minIndex}`);
  }
  return broken;
}
