/**
 * Short-write and full-disk cases for the storage conformance suite (issue 20 §1), written against
 * SimStorage for now; DiskStorage meets the same cases on a real tmpfs in net/test/disk-full.test.ts.
 * They are meant to fold into the shared suite once it exists: a record is durable only when all its
 * bytes are written and synced; a short write keeps the whole records before it, queues the rest in
 * order, and nothing after them becomes durable until space returns.
 */
import { describe, expect, it } from 'vitest';
import type { StorageOp } from '../../core/types.js';
import { SimStorage } from './storage.js';

const append = (i: number): StorageOp[] => [{ op: 'append', log: 'raft/log', entries: [{ i, pad: 'x'.repeat(40) }] }];
const entries = (s: SimStorage) => (s.load().logs.get('raft/log')?.entries ?? []).map((e) => (e as { i: number }).i);

describe('SimStorage on a full disk', () => {
  it('a short write keeps the whole records before it durable and queues the rest', () => {
    const s = new SimStorage(true);
    s.setFreeBytes(150); // room for two records of ~60 bytes, part of a third
    for (let i = 0; i < 4; i++) s.write(append(i));
    const outcome = s.sync(s.writtenMarker);
    expect(outcome.kind).toBe('retry');
    expect(s.durableMarker).toBe(2);
    expect(entries(s)).toEqual([0, 1]);
    expect(s.load().logs.get('raft/log')?.tornTail).toBe(false); // the partial record was cut off again
  });

  it('writes nothing while full, and everything in order once space returns', () => {
    const s = new SimStorage(true);
    s.setFreeBytes(0);
    s.write(append(0));
    expect(s.sync(s.writtenMarker).kind).toBe('retry');
    expect(s.durableMarker).toBe(0);
    s.write(append(1));
    expect(s.sync(s.writtenMarker).kind).toBe('retry');
    s.setFreeBytes(Infinity);
    expect(s.sync(s.writtenMarker).kind).toBe('durable');
    expect(s.durableMarker).toBe(2);
    expect(entries(s)).toEqual([0, 1]);
  });

  it('a crash on a full disk keeps only what fits, never a record past the budget', () => {
    const s = new SimStorage(true);
    s.setFreeBytes(0);
    s.write(append(0));
    s.sync(s.writtenMarker);
    const prng = { below: (n: number) => n - 1, chance: () => false } as never; // keep every unsynced op
    s.crash(prng, 0, 100);
    expect(entries(s)).toEqual([]);
  });
});
