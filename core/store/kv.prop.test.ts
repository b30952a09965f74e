/**
 * Model-based test of the KV store against a naive oracle (fast-check `commands`): random sequences
 * of set, CAS, delete, delete-CAS, delete-tree and transactions run on both; after every command the
 * results, every key's entry, every prefix listing and keys roll-up, and the X-Consul-Index of each
 * read must agree. The oracle is deliberately dumb (a Map copied for each transaction, prefix scans
 * by filtering every key), so the sorted key arrays, the undo journal and the tombstone bookkeeping
 * of the real store are checked against something with none of them.
 *
 * A second property is stated without reference to Consul's algorithm, because it is what blocking
 * queries rely on: whenever a read's answer changes, its index rises (and it never falls).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { identicalWriteKeepsModifyIndex } from './kv.js';
import { createStoreFsm, type StoreFsm } from './store.js';
import type { KvEntry, KvFlags, StoreQuery, TxnKvOp, TxnOutcome } from './types.js';

const keys = ['a', 'a/b', 'a/c', 'ab', 'b', 'b/x', 'c'] as const;
const prefixes = ['', 'a', 'a/', 'b', 'b/', 'c', 'd'] as const;

interface OEntry {
  value: string;
  flags: KvFlags;
  create: number;
  modify: number;
}

/** The naive oracle: Consul's rules written out with no data structure cleverness. */
class Oracle {
  kv = new Map<string, OEntry>();
  tombstones = new Map<string, number>();
  kvTable = 0;
  tombTable = 0;
  /** Index 1 is taken by a no-op, as in Raft (its first entry is the leader's no-op / configuration). */
  index = 1;

  set(key: string, value: string, flags: KvFlags): void {
    const old = this.kv.get(key);
    if (identicalWriteKeepsModifyIndex && old && old.value === value && old.flags === flags) return;
    this.kv.set(key, { value, flags, create: old?.create ?? this.index, modify: this.index });
    this.kvTable = this.index;
  }
  cas(key: string, value: string, flags: KvFlags, cas: number): boolean {
    const old = this.kv.get(key);
    if (cas === 0 ? old !== undefined : old?.modify !== cas) return false;
    this.set(key, value, flags);
    return true;
  }
  del(key: string): void {
    if (!this.kv.has(key)) return;
    this.kv.delete(key);
    this.tombstones.set(key, this.index);
    this.kvTable = this.tombTable = this.index;
  }
  delCas(key: string, cas: number): boolean {
    const old = this.kv.get(key);
    if (!old) return true;
    if (old.modify !== cas) return false;
    this.del(key);
    return true;
  }
  delTree(prefix: string): void {
    const doomed = [...this.kv.keys()].filter((k) => k.startsWith(prefix));
    if (doomed.length === 0) return;
    for (const k of doomed) {
      this.kv.delete(k);
      this.tombstones.set(k, this.index);
    }
    this.kvTable = this.tombTable = this.index;
  }
  /** The highest `upTo` of a reap: a floor of a prefix read's index once something matched. */
  reapedUpTo = 0;
  /** Tombstone GC: forgets tombstones at or below `upTo` (no table index moves, as in our store). */
  reap(upTo: number): void {
    for (const [k, t] of [...this.tombstones]) if (t <= upTo) this.tombstones.delete(k);
    this.reapedUpTo = Math.max(this.reapedUpTo, upTo);
  }
  /** Consul txn: run all, collect failing op indexes, undo everything if any failed. */
  txn(ops: readonly TxnKvOp[]): { failed: number[]; resultKeys: string[] } {
    const saved = {
      kv: new Map(this.kv),
      tombstones: new Map(this.tombstones),
      kvTable: this.kvTable,
      tombTable: this.tombTable,
    };
    const failed: number[] = [];
    const resultKeys: string[] = [];
    ops.forEach((op, i) => {
      const value = op.value ? new TextDecoder().decode(op.value) : '';
      const had = this.kv.get(op.key);
      switch (op.verb) {
        case 'set':
          this.set(op.key, value, op.flags ?? 0);
          resultKeys.push(op.key);
          break;
        case 'cas':
          if (this.cas(op.key, value, op.flags ?? 0, op.index ?? 0)) resultKeys.push(op.key);
          else failed.push(i);
          break;
        case 'delete':
          this.del(op.key);
          break;
        case 'delete-cas':
          if (!this.delCas(op.key, op.index ?? 0)) failed.push(i);
          break;
        case 'delete-tree':
          this.delTree(op.key);
          break;
        case 'get':
          if (had) resultKeys.push(op.key);
          else failed.push(i);
          break;
        case 'check-index':
          if (had && had.modify === op.index) resultKeys.push(op.key);
          else failed.push(i);
          break;
        case 'check-not-exists':
          if (had) failed.push(i);
          break;
        default:
          throw new Error(`oracle has no verb ${op.verb}`);
      }
    });
    if (failed.length > 0) Object.assign(this, saved);
    return { failed, resultKeys: failed.length > 0 ? [] : resultKeys };
  }

  tableIndex(): number {
    return Math.max(this.kvTable, this.tombTable);
  }
  getIndex(key: string): number {
    return this.kv.get(key)?.modify ?? Math.max(1, this.tableIndex());
  }
  prefixIndex(prefix: string): number {
    if (prefix === '') return Math.max(1, this.tableIndex());
    let index = 0;
    for (const [k, e] of this.kv) if (k.startsWith(prefix)) index = Math.max(index, e.modify);
    for (const [k, t] of this.tombstones) if (k.startsWith(prefix)) index = Math.max(index, t);
    return Math.max(1, index === 0 ? this.tableIndex() : Math.max(index, this.reapedUpTo));
  }
  list(prefix: string): [string, string, KvFlags, number, number][] {
    return [...this.kv]
      .filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, e]) => [k, e.value, e.flags, e.create, e.modify]);
  }
  keysSep(prefix: string): string[] {
    const out: string[] = [];
    for (const [k] of this.list(prefix)) {
      const at = k.indexOf('/', prefix.length);
      const rolled = at >= 0 ? k.slice(0, at + 1) : k;
      if (out[out.length - 1] !== rolled) out.push(rolled);
    }
    return out;
  }
}

interface Real {
  fsm: StoreFsm;
}

/**
 * A store whose index 1 is spent on a no-op: an empty store answers index 1 (never 0), so a write at
 * index 1 itself could not raise it. Consul relies on Raft never applying a KV write at index 1
 * ("Index 1 is impossible anyways (due to Raft internals)", kvs_endpoint.go); so do we.
 */
function freshStore(): StoreFsm {
  const fsm = createStoreFsm();
  fsm.apply({ type: 'tombstonesReap', upToIndex: 0 }, 1);
  return fsm;
}

const dec = new TextDecoder();
const enc = new TextEncoder();
const flat = (e: KvEntry): [string, string, KvFlags, number, number] => [
  e.Key,
  e.Value ? dec.decode(e.Value) : '',
  e.Flags,
  e.CreateIndex,
  e.ModifyIndex,
];

function compareAll(o: Oracle, r: Real): void {
  expect(r.fsm.invariants()).toEqual([]);
  for (const key of keys) {
    const got = r.fsm.query({ type: 'kvGet', key }) as { index: number; value: KvEntry | null };
    const want = o.kv.get(key);
    expect(got.value ? flat(got.value) : null, `get ${key}`).toEqual(
      want ? [key, want.value, want.flags, want.create, want.modify] : null,
    );
    expect(got.index, `index of get ${key}`).toBe(o.getIndex(key));
  }
  for (const prefix of prefixes) {
    const list = r.fsm.query({ type: 'kvList', prefix }) as { index: number; value: KvEntry[] };
    expect(list.value.map(flat), `list ${prefix}`).toEqual(o.list(prefix));
    expect(list.index, `index of list ${prefix}`).toBe(o.prefixIndex(prefix));
    const rolled = r.fsm.query({ type: 'kvKeys', prefix, separator: '/' }) as { value: string[] };
    expect(rolled.value, `keys ${prefix} /`).toEqual(o.keysSep(prefix));
  }
}

type Cmd = fc.Command<Oracle, Real>;

const arbKey = fc.constantFrom(...keys);
const arbValue = fc.constantFrom('', 'x', 'y', 'zz');
// Go's api.Lock and semaphore marks are above 2^53: they travel as exact decimal strings.
const arbFlags = fc.constantFrom<KvFlags>(0, 0, 7, '3304740253564472344', '18446744073709551615');
/** CAS indexes: mostly ones that exist in a short history, sometimes 0 or far off. */
const arbCas = fc.oneof(fc.integer({ min: 0, max: 12 }), fc.constant(999));

const kvCommand = (name: string, run: (o: Oracle, r: Real, index: number) => [unknown, unknown]): Cmd => ({
  check: () => true,
  run(o, r) {
    const index = ++o.index;
    const [want, got] = run(o, r, index);
    expect(got, name).toEqual(want);
    compareAll(o, r);
  },
  toString: () => name,
});

const arbOp: fc.Arbitrary<TxnKvOp> = fc.oneof(
  fc.record({
    verb: fc.constant('set' as const),
    key: arbKey,
    value: arbValue.map((v) => enc.encode(v)),
    flags: arbFlags,
  }),
  fc.record({
    verb: fc.constant('cas' as const),
    key: arbKey,
    value: arbValue.map((v) => enc.encode(v)),
    flags: arbFlags,
    index: arbCas,
  }),
  fc.record({ verb: fc.constant('delete' as const), key: arbKey }),
  fc.record({ verb: fc.constant('delete-cas' as const), key: arbKey, index: arbCas }),
  fc.record({ verb: fc.constant('delete-tree' as const), key: fc.constantFrom(...prefixes) }),
  fc.record({ verb: fc.constant('get' as const), key: arbKey }),
  fc.record({ verb: fc.constant('check-index' as const), key: arbKey, index: arbCas }),
  fc.record({ verb: fc.constant('check-not-exists' as const), key: arbKey }),
);

const commands = [
  fc.tuple(arbKey, arbValue, arbFlags).map(([k, v, f]) =>
    kvCommand(`set ${k}=${v} flags ${f}`, (o, r, i) => {
      o.set(k, v, f);
      return [
        { ok: true, value: true },
        r.fsm.apply({ type: 'kvSet', entry: { key: k, value: enc.encode(v), flags: f } }, i),
      ];
    }),
  ),
  fc
    .tuple(arbKey, arbValue, arbCas)
    .map(([k, v, c]) =>
      kvCommand(`cas ${k}=${v} at ${c}`, (o, r, i) => [
        { ok: true, value: o.cas(k, v, 0, c) },
        r.fsm.apply({ type: 'kvCas', entry: { key: k, value: enc.encode(v) }, cas: c }, i),
      ]),
    ),
  arbKey.map((k) =>
    kvCommand(`delete ${k}`, (o, r, i) => {
      o.del(k);
      return [{ ok: true, value: true }, r.fsm.apply({ type: 'kvDelete', key: k }, i)];
    }),
  ),
  fc
    .tuple(arbKey, arbCas)
    .map(([k, c]) =>
      kvCommand(`delete-cas ${k} at ${c}`, (o, r, i) => [
        { ok: true, value: o.delCas(k, c) },
        r.fsm.apply({ type: 'kvDeleteCas', key: k, cas: c }, i),
      ]),
    ),
  fc.constantFrom(...prefixes).map((p) =>
    kvCommand(`delete-tree '${p}'`, (o, r, i) => {
      o.delTree(p);
      return [{ ok: true, value: true }, r.fsm.apply({ type: 'kvDeleteTree', prefix: p }, i)];
    }),
  ),
  fc.integer({ min: 0, max: 8 }).map((back) =>
    kvCommand(`reap tombstones up to ${back} before`, (o, r, i) => {
      const upTo = Math.max(0, i - back);
      o.reap(upTo);
      const got = r.fsm.apply({ type: 'tombstonesReap', upToIndex: upTo }, i);
      return [true, got.ok];
    }),
  ),
  fc.array(arbOp, { minLength: 1, maxLength: 5 }).map((ops) =>
    kvCommand(
      `txn ${ops.map((op) => `${op.verb}:${op.key}${op.index !== undefined ? `@${op.index}` : ''}`).join(',')}`,
      (o, r, i) => {
        const want = o.txn(ops);
        const got = r.fsm.apply({ type: 'txn', ops, nowMs: 0 }, i);
        expect(got.ok).toBe(true);
        const outcome = (got as { value: TxnOutcome }).value;
        return [
          want,
          {
            failed: (outcome.Errors ?? []).map((e) => e.OpIndex),
            resultKeys: (outcome.Results ?? []).map((x) => x.KV.Key),
          },
        ];
      },
    ),
  ),
];

describe('KV store against a naive oracle (model-based)', () => {
  it('agrees on every result, entry, listing and index after every command', () => {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 60 }), (cmds) => {
        fc.modelRun(() => ({ model: new Oracle(), real: { fsm: freshStore() } }), cmds);
      }),
      { numRuns: 150 },
    );
  });

  it('a read whose answer changed has a higher index; indexes never fall (what blocking queries need)', () => {
    const reads: StoreQuery[] = [
      ...keys.map((key) => ({ type: 'kvGet', key }) as const),
      ...prefixes.map((prefix) => ({ type: 'kvList', prefix }) as const),
      ...prefixes.map((prefix) => ({ type: 'kvKeys', prefix, separator: '/' }) as const),
    ];
    const snap = (fsm: StoreFsm) => reads.map((q) => fsm.query(q) as { index: number; value: unknown });
    const key = (x: unknown) =>
      JSON.stringify(x, (_k, v) => (v && v.type === 'Buffer' ? v.data : v instanceof Uint8Array ? [...v] : v));
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 40 }), (cmds) => {
        const oracle = new Oracle();
        const fsm = freshStore();
        let before = snap(fsm);
        for (const cmd of cmds) {
          cmd.run(oracle, { fsm });
          const after = snap(fsm);
          after.forEach((now, i) => {
            const was = before[i]!;
            expect(now.index, `${JSON.stringify(reads[i])} after ${cmd.toString()}`).toBeGreaterThanOrEqual(was.index);
            if (key(now.value) !== key(was.value))
              expect(now.index, `${JSON.stringify(reads[i])} changed after ${cmd.toString()}`).toBeGreaterThan(
                was.index,
              );
          });
          before = after;
        }
      }),
      { numRuns: 100 },
    );
  });

  it('a reap that erases the tombstone holding a prefix’s index up does not lower that index (CI seed -416404097)', () => {
    // set a, set a/c, delete a, reap: the listing of 'a' was [a, a/c] at 3 and [a/c] from 4 on; with the
    // index taken from entries and tombstones alone it fell back to 3 after the reap, so a reader that
    // held index 3 from the first answer parked on an answer that had changed.
    const fsm = freshStore();
    const list = () => fsm.query({ type: 'kvList', prefix: 'a' }) as { index: number; value: unknown[] };
    const parked = () => (fsm.query({ type: 'index', of: { type: 'kvList', prefix: 'a' } }) as { index: number }).index;
    fsm.apply({ type: 'kvSet', entry: { key: 'a', value: enc.encode(''), flags: 0 } }, 2);
    fsm.apply({ type: 'kvSet', entry: { key: 'a/c', value: enc.encode(''), flags: 0 } }, 3);
    const first = list();
    fsm.apply({ type: 'kvDelete', key: 'a' }, 4);
    expect(list().index).toBe(4);
    fsm.apply({ type: 'tombstonesReap', upToIndex: 4 }, 5);
    expect(list().value).toHaveLength(1);
    expect(list().index).toBe(4);
    expect(parked()).toBeGreaterThan(first.index);
  });

  it('a parked reader’s change index passes the index it read whenever its answer changed, and never exceeds the answer’s index', () => {
    // What a blocking reader waits on (queries.ts changeIndex; the agent parks on it): a reader parks
    // with the index of an earlier answer, at any earlier state, so every pair of states is checked. For
    // a missing key or an empty prefix it is below the answer's index (the KV table's), so unrelated
    // writes wake nobody; that must never hide a change: a creation, a deletion, a reap, a txn.
    const reads: StoreQuery[] = [
      ...keys.map((key) => ({ type: 'kvGet', key }) as const),
      ...prefixes.map((prefix) => ({ type: 'kvList', prefix }) as const),
      ...prefixes.map((prefix) => ({ type: 'kvKeys', prefix, separator: '/' }) as const),
    ];
    const key = (x: unknown) =>
      JSON.stringify(x, (_k, v) => (v && v.type === 'Buffer' ? v.data : v instanceof Uint8Array ? [...v] : v));
    const snap = (fsm: StoreFsm) =>
      reads.map((q) => {
        const answer = fsm.query(q) as { index: number; value: unknown; changeIndex?: number };
        const change = (fsm.query({ type: 'index', of: q }) as { index: number }).index;
        expect(answer.changeIndex ?? answer.index, `the answer's change index of ${JSON.stringify(q)}`).toBe(change);
        expect(change, `change index of ${JSON.stringify(q)}`).toBeLessThanOrEqual(answer.index);
        return { index: answer.index, change, value: key(answer.value) };
      });
    let absentSeen = 0;
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 30 }), (cmds) => {
        const oracle = new Oracle();
        const fsm = freshStore();
        const states = [snap(fsm)];
        for (const cmd of cmds) {
          cmd.run(oracle, { fsm });
          const now = snap(fsm);
          for (const before of states)
            now.forEach((n, q) => {
              const was = before[q]!;
              if (n.change < n.index) absentSeen++;
              if (n.value !== was.value)
                expect(n.change, `${JSON.stringify(reads[q])} changed after ${cmd.toString()}`).toBeGreaterThan(
                  was.index,
                );
            });
          states.push(now);
        }
      }),
      { numRuns: 100 },
    );
    expect(absentSeen).toBeGreaterThan(0); // the case this is about was generated
  });
});
