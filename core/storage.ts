/**
 * What each `StorageOp` (core/types.ts) does to stored data, written once. Every storage — the
 * simulator's SimStorage, net/disk's DiskStorage when it folds its write-ahead log, the hand-driven
 * testkit's disk — holds its data as named records and named logs and applies ops with
 * `applyStorageOp`; the storage conformance suite (sim/test/storage.conformance.ts) checks that what a
 * node loads after a run of ops is what this function says. Pure: the storages do the I/O.
 */
import { assert } from './assert.js';
import type { StorageOp } from './types.js';

/** Stored data as a storage holds it in memory: records replaced whole, logs appended to. */
export interface StorageImage<V = unknown> {
  readonly records: Map<string, V>;
  /** The log named `name`; a log that does not exist yet is created empty. */
  log(name: string): V[];
}

/** An image over two plain maps (the usual layout). */
export function mapImage<V>(records: Map<string, V>, logs: Map<string, V[]>): StorageImage<V> {
  return {
    records,
    log(name) {
      let log = logs.get(name);
      if (log === undefined) logs.set(name, (log = []));
      return log;
    },
  };
}

/**
 * Applies one op. Positions in a log count from 0 after the last `dropPrefix`; `truncate` keeps the
 * first `keepCount` entries (a longer log than it has is left alone), `dropPrefix` drops the first
 * `dropCount` (all of them, if it has fewer). A negative count is a programmer error.
 */
export function applyStorageOp<V>(image: StorageImage<V>, op: StorageOp): void {
  switch (op.op) {
    case 'put':
      image.records.set(op.key, op.value as V);
      return;
    case 'delete':
      image.records.delete(op.key);
      return;
    case 'append': {
      const log = image.log(op.log);
      // One push per entry: a spread of a very long batch would overflow the call stack.
      for (const entry of op.entries) log.push(entry as V);
      return;
    }
    case 'truncate': {
      if (!(Number.isSafeInteger(op.keepCount) && op.keepCount >= 0))
        assert(false, `truncate ${op.log}: bad keepCount ${op.keepCount}`);
      const log = image.log(op.log);
      if (op.keepCount < log.length) log.length = op.keepCount;
      return;
    }
    case 'dropPrefix': {
      if (!(Number.isSafeInteger(op.dropCount) && op.dropCount >= 0))
        assert(false, `dropPrefix ${op.log}: bad dropCount ${op.dropCount}`);
      const log = image.log(op.log);
      log.splice(0, Math.min(op.dropCount, log.length));
      return;
    }
  }
}
