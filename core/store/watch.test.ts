/**
 * The blocking-query registry (checklist §2 "Blocking-query semantics"): when a read parks, when it
 * is released (its scope's index passed minIndex, or its deadline = wait + jitter < wait/16), the
 * bound on parked readers, and — driven with the real store — that a watcher of one key is woken by
 * writes to that key and not by unrelated writes (checklist §1 "Index scoping").
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Prng } from '../prng.js';
import { identicalWriteKeepsModifyIndex } from './kv.js';
import { createStoreFsm } from './store.js';
import type { StoreQuery } from './types.js';
import {
  blockingConfigDefault,
  blockingInvariants,
  cancelReader,
  createBlockingRegistry,
  drainReaders,
  effectiveWaitMs,
  expireReaders,
  mustBlock,
  nextDeadlineMs,
  parkReader,
  releaseReady,
  tooManyBlockingQueries,
} from './watch.js';

describe('blocking-query registry', () => {
  it('?index=0 or an index already passed answers at once; otherwise the read blocks', () => {
    expect(mustBlock(0, 5)).toBe(false);
    expect(mustBlock(4, 5)).toBe(false);
    expect(mustBlock(5, 5)).toBe(true);
    expect(mustBlock(9, 5)).toBe(true); // an index from the future (another server) waits too
  });

  it('wait defaults to 5 min and is capped at 10 min (Consul default/max query time)', () => {
    expect(effectiveWaitMs(blockingConfigDefault, undefined)).toBe(300_000);
    expect(effectiveWaitMs(blockingConfigDefault, 0)).toBe(300_000);
    expect(effectiveWaitMs(blockingConfigDefault, 20)).toBe(20);
    expect(effectiveWaitMs(blockingConfigDefault, 3_600_000)).toBe(600_000);
  });

  it('deadline = now + wait + jitter, jitter in [0, wait/16), from the prng (replays by seed)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.integer({ min: 1, max: 700_000 }),
        fc.integer({ min: 0, max: 1e9 }),
        (seed, waitMs, nowMs) => {
          const r1 = createBlockingRegistry<string>();
          const r2 = createBlockingRegistry<string>();
          const a = parkReader(r1, 1, 'k', 3, waitMs, nowMs, new Prng(seed));
          const b = parkReader(r2, 1, 'k', 3, waitMs, nowMs, new Prng(seed));
          expect(a).toEqual(b);
          if (!a.ok) throw new Error('parked');
          const wait = effectiveWaitMs(blockingConfigDefault, waitMs);
          const jitter = a.deadlineMs - nowMs - wait;
          expect(jitter).toBeGreaterThanOrEqual(0);
          expect(jitter).toBeLessThan(Math.max(1, Math.floor(wait / 16)));
        },
      ),
    );
  });

  it('releases exactly the readers whose scope index passed their minIndex', () => {
    const registry = createBlockingRegistry<string>();
    const prng = new Prng(1);
    parkReader(registry, 1, 'a', 10, 1000, 0, prng);
    parkReader(registry, 2, 'b', 10, 1000, 0, prng);
    parkReader(registry, 3, 'a', 12, 1000, 0, prng);
    const index: Record<string, number> = { a: 11, b: 10 };
    const asked: string[] = [];
    const released = releaseReady(registry, 11, (scope) => (asked.push(scope), index[scope]!));
    expect(released.map((r) => r.requestId)).toEqual([1]);
    expect(asked).toEqual(['a', 'b']); // reader 3 (minIndex 12 ≥ applied 11) is not even asked about
    index.a = 13;
    expect(releaseReady(registry, 13, (s) => index[s]!).map((r) => r.requestId)).toEqual([3]);
    expect([...registry.parked.keys()]).toEqual([2]);
    expect(blockingInvariants(registry)).toEqual([]);
  });

  it('expires readers at their deadline, earliest first, with the next deadline to arm', () => {
    const registry = createBlockingRegistry<string>({ ...blockingConfigDefault, jitterFraction: 16 });
    const prng = new Prng(7);
    const d1 = parkReader(registry, 1, 'x', 1, 1600, 1000, prng);
    const d2 = parkReader(registry, 2, 'x', 1, 160, 1000, prng);
    if (!d1.ok || !d2.ok) throw new Error('parked');
    expect(nextDeadlineMs(registry)).toBe(d2.deadlineMs);
    expect(expireReaders(registry, d2.deadlineMs - 1)).toEqual([]);
    expect(expireReaders(registry, d1.deadlineMs).map((r) => r.requestId)).toEqual([2, 1]);
    expect(nextDeadlineMs(registry)).toBeNull();
  });

  it('refuses past parkedReadersMax with a clear error, and accepts again after one leaves', () => {
    const registry = createBlockingRegistry<number>({ ...blockingConfigDefault, parkedReadersMax: 3 });
    const prng = new Prng(3);
    for (let i = 0; i < 3; i++) expect(parkReader(registry, i, i, 1, 100, 0, prng).ok).toBe(true);
    const refused = parkReader(registry, 9, 9, 1, 100, 0, prng);
    expect(refused).toEqual({ ok: false, error: `${tooManyBlockingQueries}: 3 parked (parkedReadersMax 3)` });
    expect(cancelReader(registry, 1)).toBe(true);
    expect(cancelReader(registry, 1)).toBe(false);
    expect(parkReader(registry, 9, 9, 1, 100, 0, prng).ok).toBe(true);
    expect(drainReaders(registry).map((r) => r.requestId)).toEqual([0, 2, 9]);
  });

  it('refuses a bad config and a read that should not park', () => {
    expect(() => createBlockingRegistry({ ...blockingConfigDefault, parkedReadersMax: 0 })).toThrow(/parkedReadersMax/);
    const registry = createBlockingRegistry<string>();
    expect(() => parkReader(registry, 1, 'k', 0, 10, 0, new Prng(1))).toThrow(/mustBlock/);
  });
});

describe('blocking queries against the store (index scoping)', () => {
  it('a key watcher wakes on its key (write or delete), not on other keys, catalog or sessions', () => {
    const fsm = createStoreFsm();
    const registry = createBlockingRegistry<StoreQuery>();
    const prng = new Prng(11);
    let index = 1;
    const apply = (command: Parameters<typeof fsm.apply>[0]) => {
      fsm.apply(command, ++index);
      return releaseReady(registry, index, (q) => fsm.indexOf(q)).map((r) => r.requestId);
    };
    apply({ type: 'kvSet', entry: { key: 'web/config', value: new TextEncoder().encode('v1') } });
    const watchKey: StoreQuery = { type: 'kvGet', key: 'web/config' };
    const watchMissing: StoreQuery = { type: 'kvGet', key: 'web/absent' };
    const watchPrefix: StoreQuery = { type: 'kvList', prefix: 'web/' };
    parkReader(registry, 1, watchKey, fsm.indexOf(watchKey), 60_000, 0, prng);
    parkReader(registry, 3, watchPrefix, fsm.indexOf(watchPrefix), 60_000, 0, prng);
    expect(apply({ type: 'kvSet', entry: { key: 'db/config', value: null } })).toEqual([]);
    parkReader(registry, 2, watchMissing, fsm.indexOf(watchMissing), 60_000, 0, prng);
    expect(apply({ type: 'memberHealth', node: 'n1', address: '10.0.0.1', health: 'alive', nowMs: 0 })).toEqual([]);
    expect(apply({ type: 'sessionCreate', session: { id: 's', node: 'n1' }, nowMs: 0 })).toEqual([]);
    // An identical rewrite wakes nobody only where it keeps ModifyIndex (Consul ≥ 1.7).
    if (identicalWriteKeepsModifyIndex)
      expect(apply({ type: 'kvSet', entry: { key: 'web/config', value: new TextEncoder().encode('v1') } })).toEqual([]);
    // A 404 watcher sees the KV table index: any KV write or delete wakes it (Consul's rule), nothing else does.
    expect(apply({ type: 'kvSet', entry: { key: 'web/config', value: new TextEncoder().encode('v2') } })).toEqual([
      1, 3, 2,
    ]); // parking order
    parkReader(registry, 4, watchKey, fsm.indexOf(watchKey), 60_000, 0, prng);
    parkReader(registry, 5, watchPrefix, fsm.indexOf(watchPrefix), 60_000, 0, prng);
    expect(apply({ type: 'kvDelete', key: 'db/config' })).toEqual([]);
    expect(apply({ type: 'kvDelete', key: 'web/config' })).toEqual([4, 5]);
  });
});
