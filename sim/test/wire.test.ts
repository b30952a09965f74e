/**
 * The simulator's fast wire (sim/engine/wire.ts) gives every receiver exactly what msgpackr would:
 *  - a property over arbitrary values (plain data and the kinds that are not: Map, Set, undefined,
 *    -0, lone surrogates, class instances, typed arrays, Dates) checks that the copy deep-equals
 *    `unpack(pack(value))` — same types, same key order — and that its digest is the decoded value's;
 *  - the copy does not alias the sender's objects (a change after sending does not travel);
 *  - whole runs of several scenarios (Raft, KV, the agent, SWIM, the stranger's garbage) give the
 *    same trace hash with the fast copy and with real msgpackr bytes: every delivered message, as its
 *    receiver saw it, was the same;
 *  - a core bug where a message does not survive the wire (a Map) still breaks the receiver.
 */
import fc from 'fast-check';
import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { copyAgain, delivered, wireCopy } from '../engine/wire.js';
import { loadScenario } from '../run.js';
import { Simulation } from '../engine/simulation.js';

/** Deep equality that also compares prototypes, -0, key order and Buffer vs Uint8Array. */
function same(a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false;
  if (typeof a === 'number') return Object.is(a, b);
  if (typeof a !== 'object' || a === null || b === null) return a === b;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Uint8Array) return Buffer.compare(a, b as Uint8Array) === 0;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => same(x, bb[i]));
  }
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  const ka = Object.keys(a);
  const kb = Object.keys(b as object);
  if (ka.join('\u0000') !== kb.join('\u0000')) return false;
  return ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
}

const leaf = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, 2 ** 31, 2 ** 32, 2 ** 53 + 2, -(2 ** 40), NaN, Infinity, 0.1),
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('a\ud800', '\udc00b', '😀', '__proto__', 'constructor'),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 8 }),
  fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)),
);
const odd = fc.oneof(
  fc.constant(undefined),
  fc.integer().map((n) => new Map([['k', n]])),
  fc.integer().map((n) => new Set([n])),
  fc.integer().map((n) => new Point(n, 1)),
  fc.integer().map((n) => new Date(n)),
  fc.integer().map((n) => new Int16Array([n])),
  fc.bigInt({ min: -(2n ** 60n), max: 2n ** 60n }),
);
const { value: valueArb } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, leaf, odd, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('1', '10', 'm', 'p', '__proto__')), tie('value'), {
    maxKeys: 5,
  }),
}));

/** Whether msgpackr encodes `v` (wireCopy throws, as a send would, when it does not). */
function encodes(v: unknown): boolean {
  try {
    pack(v);
    return true;
  } catch {
    return false;
  }
}

describe('wire copy', () => {
  it('equals msgpackr round trip, with the decoded value’s digest', () => {
    fc.assert(
      fc.property(valueArb, (value) => {
        let decoded: unknown;
        try {
          decoded = unpack(pack(value));
        } catch {
          return; // does not encode: the copy may throw or not; a member's send throws in both modes
        }
        const parcel = wireCopy(value);
        expect(same(parcel.value, decoded)).toBe(true);
        const reference = delivered(decoded);
        expect([parcel.digestHi, parcel.digestLo]).toEqual([reference.digestHi, reference.digestLo]);
        expect(same(copyAgain(parcel.value), decoded)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('shares no object with the sender, and digests differ when values differ', () => {
    const message = {
      m: 'raft',
      p: { type: 'append', entries: [{ term: 1, command: { k: 'a' } }], data: Buffer.from([1]) },
    };
    const parcel = wireCopy(message);
    message.p.entries[0]!.command.k = 'b';
    message.p.data[0] = 9;
    expect(parcel.value).toEqual({
      m: 'raft',
      p: { type: 'append', entries: [{ term: 1, command: { k: 'a' } }], data: Buffer.from([1]) },
    });
    const other = wireCopy(message);
    expect([other.digestHi, other.digestLo]).not.toEqual([parcel.digestHi, parcel.digestLo]);
    // Same values, other types: an integer and a string, an empty array and an empty object.
    const digest = (v: unknown) => {
      const p = wireCopy(v);
      return `${p.digestHi}:${p.digestLo}`;
    };
    expect(digest({ a: 1 })).not.toBe(digest({ a: '1' }));
    expect(digest([])).not.toBe(digest({}));
    expect(digest([1, [2]])).not.toBe(digest([[1], 2]));
  });

  it('digests a value the same whatever was digested before it (the string memos are invisible)', () => {
    // signedHashOf's slots are indexed by position and length: a value whose strings sit where other
    // strings of the same length sat (or where nothing did: the empty string) must fold the same.
    const digest = (v: unknown) => {
      const p = wireCopy(v);
      return `${p.digestHi}:${p.digestLo}`;
    };
    const values = [{ a: '', b: 'xy', c: [''] }, { a: 'p', b: 'zz', c: ['q'] }, '', { '': '' }, ['ab', 'cd', '']];
    const fresh = values.map((v) => {
      for (let i = 0; i < 600; i++) wireCopy({ [`k${i % 7}`]: `v${i}`, pad: 'x'.repeat(i % 70), i });
      return digest(v);
    });
    for (const order of [values, [...values].reverse()])
      for (const v of order) expect(digest(v)).toBe(fresh[values.indexOf(v)]);
    expect(fresh[0]).not.toBe(fresh[1]);
    fc.assert(
      fc.property(fc.array(valueArb, { minLength: 2, maxLength: 6 }), (list) => {
        const first = list.map((v) => (encodes(v) ? digest(v) : null));
        const again = [...list].reverse().map((v) => (encodes(v) ? digest(v) : null));
        expect(again.reverse()).toEqual(first);
      }),
      { numRuns: 300 },
    );
  });

  it('delivers a Map as msgpackr does (a plain object), so a core bug that puts one on the wire still shows', () => {
    const parcel = wireCopy({ m: 'kv', p: { index: new Map([['k', 1]]) } });
    const index = (parcel.value as { p: { index: unknown } }).p.index;
    expect(index instanceof Map).toBe(false);
    expect(index).toEqual({ k: 1 });
    expect(wireCopy({ a: undefined, b: -0 }).value).toEqual(unpack(pack({ a: undefined, b: -0 })));
  });
});

describe('copy and bytes give the same runs', () => {
  const cases: [string, number[]][] = [
    ['scenarios/kv/stranger-authenticated.txt', [1, 2]],
    ['scenarios/raft/explore-swarm-3.txt', [1, 2, 3]],
    ['scenarios/agent/default.txt', [1]],
    ['scenarios/swim/nemesis.txt', [1]],
    ['scenarios/agent/stranger-out-of-range.txt', [1]],
    ['scenarios/raft/planted-stranger-open-links.txt', [19]],
  ];
  for (const [file, seeds] of cases)
    it(`${file} seeds ${seeds.join(',')}`, async () => {
      const loaded = await loadScenario(new URL(`../../${file}`, import.meta.url).pathname);
      for (const seed of seeds) {
        const copy = new Simulation(loaded.scenario, loaded.harness, seed, { codec: 'copy' }).run();
        const bytes = new Simulation(loaded.scenario, loaded.harness, seed, { codec: 'bytes' }).run();
        expect(copy.trace, `seed ${seed}`).toBe(bytes.trace);
        expect(copy.violations).toEqual(bytes.violations);
        expect(copy.deliveries).toBeGreaterThan(0);
      }
    }, 120_000);
});
