/**
 * estimateBytes (log.ts) against the reference it replaced: the same walk with a fresh stack per call
 * and Object.keys per object. The estimate decides how many entries an AppendEntries carries, so it
 * is part of every trace: any difference would change runs. fast-check draws arbitrary values (objects,
 * arrays with holes, bytes, strings, numbers, null, undefined) and values past the 10,000-visit bound.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { estimateBytes } from './log.js';

function reference(value: unknown): number {
  let total = 0;
  const stack: unknown[] = [value];
  for (let visited = 0; stack.length > 0 && visited < 10_000; visited++) {
    const v = stack.pop();
    if (v === null || v === undefined) total += 1;
    else if (typeof v === 'string') total += v.length + 1;
    else if (typeof v === 'number' || typeof v === 'boolean') total += 9;
    else if (v instanceof Uint8Array) total += v.byteLength + 5;
    else if (Array.isArray(v)) {
      total += 5;
      for (const item of v) stack.push(item);
    } else if (typeof v === 'object') {
      for (const key of Object.keys(v)) {
        total += key.length + 1;
        stack.push((v as Record<string, unknown>)[key]);
      }
    } else total += 9;
  }
  return total;
}

describe('estimateBytes', () => {
  it('gives the reference walk’s estimate for any value', () => {
    const value = fc.oneof(
      fc.anything({ withTypedArray: true, withSparseArray: true, withNullPrototype: true, withMap: true }),
      fc.uint8Array(),
    );
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 3 }), (values) => {
        for (const v of values) expect(estimateBytes(v)).toBe(reference(v));
      }),
      { numRuns: 1000 },
    );
  });

  it('stops at the same place past the visit bound (large and nested values)', () => {
    const wide = { items: Array.from({ length: 12_000 }, (_, i) => ({ k: `v${i}` })) };
    let deep: unknown = 'leaf';
    for (let i = 0; i < 11_000; i++) deep = { next: deep, i };
    for (const v of [wide, deep, [wide, deep]]) {
      expect(estimateBytes(v)).toBe(reference(v));
      expect(estimateBytes(v)).toBe(reference(v)); // a call after a bounded one starts clean
    }
    expect(estimateBytes({ a: 'xy' })).toBe(reference({ a: 'xy' }));
  });
});
