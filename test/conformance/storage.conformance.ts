/**
 * The shared storage conformance suite: every durable storage a driver uses (the simulator's
 * SimStorage, net/disk's DiskStorage) runs these same cases through a fixture, so what the protocols
 * rely on is written once: what was made durable loads back as core's applyStorageOp says (round
 * trips of every op), a write torn by a crash is cut off and reported as a torn tail, and damage to
 * acknowledged data is reported by its position instead of being loaded.
 *
 * A full disk (issue 13 §1): a record is durable only when all its bytes are written and synced; a
 * short write keeps the whole records before it, the rest waits in order (never reported durable,
 * never loaded after a crash), and everything waiting becomes durable, in order, once space returns.
 *
 * Extending it: add a case to `storageCases` below. A case that needs a fault only some storages can
 * model uses an optional method of StorageFixture (`fillDisk`), names it in the case's `needs`, and
 * each runner lists the methods its fixture offers in `capabilities` (test/conformance/storage.test.ts);
 * a storage without one skips the case with the reason in its name, never silently.
 */
import { describe, expect, it } from 'vitest';
import { applyStorageOp, mapImage } from '../../core/storage.js';
import type { DurableState, StorageOp } from '../../core/types.js';

/** What a node finds when it starts: its durable state, or a refusal naming where the damage is. */
export type Loaded =
  | { readonly kind: 'ok'; readonly durable: DurableState }
  | {
      readonly kind: 'corrupt';
      /** The log and the position (entry index after the last dropPrefix) of the damaged entry. */
      readonly log: string;
      readonly position: number;
      readonly text: string;
    };

export interface StorageFixture {
  /** Writes the ops of one persist effect and waits until they are durable. */
  persist(ops: readonly StorageOp[]): Promise<void>;
  /** Writes one persist effect and crashes during it: the write is torn (part of its last append lands). */
  persistTornAndCrash(ops: readonly StorageOp[]): Promise<void>;
  /** Damages the stored entry at `position` of `log` (a bit flip on the disk). */
  corruptEntry(log: string, position: number): Promise<void>;
  /** The process restarts (after a crash or a clean stop): what it loads. */
  restart(): Promise<Loaded>;
  cleanup(): Promise<void>;
  /**
   * `fillDisk` capability: from now on the disk takes about `freeBytes` more (Infinity: space
   * returns). A real disk rounds to its blocks; cases only rely on "some room" and "no room".
   */
  fillDisk?(freeBytes: number): Promise<void>;
  /**
   * `fillDisk` capability: writes one persist effect and tries to make it durable; 'waiting' when the
   * disk is full (the write stays queued, in order, and is tried again).
   */
  persistIfRoom?(ops: readonly StorageOp[]): Promise<'durable' | 'waiting'>;
  /** `fillDisk` capability: the latest write made, and the latest durable one (markers 1, 2, 3...). */
  markers?(): { readonly written: number; readonly durable: number };
}

export interface StorageCase {
  readonly name: string;
  /** Capabilities the case needs; fixtures without them skip it (listed as skipped). */
  readonly needs?: readonly string[];
  run(fx: StorageFixture): Promise<void>;
}

/** Folds ops the way core says (the expectation every storage is held to). */
function expected(ops: readonly StorageOp[]): { records: Record<string, unknown>; logs: Record<string, unknown[]> } {
  const records = new Map<string, unknown>();
  const logs = new Map<string, unknown[]>();
  const image = mapImage(records, logs);
  for (const op of ops) applyStorageOp(image, op);
  return { records: Object.fromEntries(records), logs: Object.fromEntries(logs) };
}

function plain(durable: DurableState): { records: Record<string, unknown>; logs: Record<string, unknown[]> } {
  return {
    records: Object.fromEntries(durable.records),
    logs: Object.fromEntries([...durable.logs].map(([name, log]) => [name, [...log.entries]])),
  };
}

async function loadOk(fx: StorageFixture): Promise<DurableState> {
  const loaded = await fx.restart();
  if (loaded.kind !== 'ok') throw new Error(`expected a clean load, got corruption: ${loaded.text}`);
  return loaded.durable;
}

/** The cases. Append here (see the header); keep each one small and about one promise. */
export const storageCases: StorageCase[] = [
  {
    name: 'put, delete, append, truncate and dropPrefix round-trip through a restart as applyStorageOp says',
    async run(fx) {
      const batches: StorageOp[][] = [
        [
          { op: 'put', key: 'hardState', value: { term: 3, vote: 'n2', commit: 0 } },
          { op: 'append', log: 'log', entries: [{ i: 1 }, { i: 2 }, { i: 3 }] },
        ],
        [{ op: 'append', log: 'log', entries: [{ i: 4 }, { i: 5 }] }],
        [{ op: 'truncate', log: 'log', keepCount: 3 }],
        [{ op: 'append', log: 'log', entries: [{ i: 4, again: true }] }],
        [
          { op: 'put', key: 'snapshot', value: { lastIndex: 2, data: 'xyz' } },
          { op: 'dropPrefix', log: 'log', dropCount: 2 },
        ],
        [{ op: 'put', key: 'gone', value: 1 }],
        [{ op: 'delete', key: 'gone' }],
        [{ op: 'append', log: 'other', entries: ['a'] }],
        [{ op: 'truncate', log: 'other', keepCount: 0 }],
      ];
      for (const ops of batches) await fx.persist(ops);
      expect(plain(await loadOk(fx))).toEqual(expected(batches.flat()));
      // A second restart loads the same (loading changes nothing), and writing goes on from there.
      expect(plain(await loadOk(fx))).toEqual(expected(batches.flat()));
      await fx.persist([{ op: 'append', log: 'log', entries: [{ i: 5 }] }]);
      const after = [...batches.flat(), { op: 'append', log: 'log', entries: [{ i: 5 }] } as StorageOp];
      expect(plain(await loadOk(fx))).toEqual(expected(after));
    },
  },
  {
    name: 'a torn write is cut off and reported as a torn tail; what was durable before it loads intact',
    async run(fx) {
      const durable: StorageOp[] = [
        { op: 'put', key: 'hardState', value: { term: 1 } },
        { op: 'append', log: 'log', entries: ['a', 'b'] },
      ];
      await fx.persist(durable);
      await fx.persistTornAndCrash([{ op: 'append', log: 'log', entries: ['c', 'd', 'e'] }]);
      const loaded = await loadOk(fx);
      expect(loaded.logs.get('log')!.tornTail).toBe(true);
      // Nothing of a torn write was acknowledged; a storage may keep its whole entries before the tear
      // (SimStorage does), but never an entry out of order or a changed durable one.
      const entries = [...loaded.logs.get('log')!.entries];
      expect(entries.slice(0, 2)).toEqual(['a', 'b']);
      expect(['c', 'd', 'e'].slice(0, entries.length - 2)).toEqual(entries.slice(2));
      expect(entries.length).toBeLessThan(5);
      expect(loaded.records.get('hardState')).toEqual({ term: 1 });
      // The tail is reported once: after the next durable write and restart the log is whole again.
      await fx.persist([{ op: 'append', log: 'log', entries: ['f'] }]);
      const next = await loadOk(fx);
      expect(next.logs.get('log')!.tornTail).toBe(false);
      expect(next.logs.get('log')!.entries.at(-1)).toBe('f');
    },
  },
  {
    name: 'damage before the tail is reported with its log and position, not loaded',
    async run(fx) {
      for (const entry of ['a', 'b', 'c', 'd']) await fx.persist([{ op: 'append', log: 'log', entries: [entry] }]);
      await fx.corruptEntry('log', 1);
      const loaded = await fx.restart();
      expect(loaded.kind).toBe('corrupt');
      if (loaded.kind !== 'corrupt') return;
      expect(loaded.log).toBe('log');
      expect(loaded.position).toBe(1);
    },
  },
  {
    name: 'a short write keeps the whole records before it; a crash then loads exactly the durable prefix, untorn',
    needs: ['fillDisk'],
    async run(fx) {
      await fx.persist([{ op: 'put', key: 'hardState', value: { term: 2 } }]);
      await fx.fillDisk!(12_000); // room for about two of these records, not six
      const outcomes: string[] = [];
      for (let i = 0; i < 6; i++) outcomes.push(await fx.persistIfRoom!(appendBig(i)));
      const { written, durable } = fx.markers!();
      expect(outcomes).toContain('waiting');
      expect(durable).toBeLessThan(written);
      // Markers count persists: 1 is the hard state, 2..7 the appends; a waiting one never turns durable.
      const durableAppends = durable - 1;
      expect(durableAppends).toBeGreaterThanOrEqual(0);
      expect(outcomes.slice(0, durableAppends).every((o) => o === 'durable')).toBe(true);
      expect(outcomes.slice(durableAppends).every((o) => o === 'waiting')).toBe(true);
      const loaded = await loadOk(fx); // the process dies with the rest still queued
      const log = loaded.logs.get('log');
      expect(bigIndexes(log?.entries ?? [])).toEqual([...Array(durableAppends).keys()]);
      expect(log?.tornTail ?? false).toBe(false); // the partial record was cut off at write time
      expect(loaded.records.get('hardState')).toEqual({ term: 2 });
    },
  },
  {
    name: 'writes wait while the disk is full and all become durable, in order, once space returns',
    needs: ['fillDisk'],
    async run(fx) {
      await fx.persist([{ op: 'append', log: 'log', entries: [{ i: -1 }] }]);
      await fx.fillDisk!(0);
      expect(await fx.persistIfRoom!(appendBig(0))).toBe('waiting');
      expect(await fx.persistIfRoom!(appendBig(1))).toBe('waiting');
      expect(fx.markers!()).toEqual({ written: 3, durable: 1 });
      await fx.fillDisk!(Infinity);
      expect(await fx.persistIfRoom!(appendBig(2))).toBe('durable'); // behind the two that waited
      expect(fx.markers!()).toEqual({ written: 4, durable: 4 });
      const loaded = await loadOk(fx);
      expect(bigIndexes(loaded.logs.get('log')!.entries)).toEqual([-1, 0, 1, 2]);
      expect(loaded.logs.get('log')!.tornTail).toBe(false);
    },
  },
  {
    name: 'a crash on a full disk loses only what never became durable',
    needs: ['fillDisk'],
    async run(fx) {
      await fx.persist([{ op: 'append', log: 'log', entries: [{ i: -1 }] }]);
      await fx.fillDisk!(0);
      expect(await fx.persistIfRoom!(appendBig(0))).toBe('waiting');
      const loaded = await loadOk(fx);
      expect(bigIndexes(loaded.logs.get('log')!.entries)).toEqual([-1]);
      // Space returns after the restart: the storage writes again from what it loaded.
      await fx.fillDisk!(Infinity);
      await fx.persist(appendBig(5));
      expect(bigIndexes((await loadOk(fx)).logs.get('log')!.entries)).toEqual([-1, 5]);
    },
  },
];

/** A log append of about 5 KB (entry `{ i }` with padding: more than a 4 KiB page), so a few fill a small disk. */
function appendBig(i: number): StorageOp[] {
  return [{ op: 'append', log: 'log', entries: [{ i, pad: 'x'.repeat(5_000) }] }];
}

function bigIndexes(entries: readonly unknown[]): number[] {
  return entries.map((e) => (e as { i: number }).i);
}

/** Runs every case against one storage. `capabilities` lists what the fixture can model beyond the basics. */
export function storageConformance(
  name: string,
  makeFixture: () => Promise<StorageFixture>,
  capabilities: readonly string[] = [],
): void {
  describe(`storage conformance: ${name}`, () => {
    for (const c of storageCases) {
      const missing = (c.needs ?? []).filter((n) => !capabilities.includes(n));
      const test = missing.length > 0 ? it.skip : it;
      test(missing.length > 0 ? `${c.name} (skipped: needs ${missing.join(', ')})` : c.name, async () => {
        const fx = await makeFixture();
        try {
          await c.run(fx);
        } finally {
          await fx.cleanup();
        }
      });
    }
  });
}
