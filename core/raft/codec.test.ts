/**
 * Snapshot data survives encoding: plain JSON values, Uint8Array (base64, checked against Node's own
 * encoder), Map, and undefined inside arrays; any cut of the encoding into chunks joins back to the
 * same value (InstallSnapshot sends it by offset).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plainTree } from '../../test/arbitraries.js';
import { decodeSnapshotData, encodeSnapshotData, encodeSnapshotDataByReplacer, fromBase64, toBase64 } from './codec.js';

describe('snapshot codec', () => {
  it('base64 matches Node for any bytes, and decodes back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
        expect(fromBase64(toBase64(bytes))).toEqual(bytes);
      }),
    );
  });

  it('round-trips values with bytes, maps and holes, through any chunking', () => {
    const value = {
      kv: new Map([['a', { v: new Uint8Array([1, 2, 255]), flags: 7 }]]),
      list: [1, undefined, 'x'],
      n: null,
    };
    const text = encodeSnapshotData(value);
    expect(decodeSnapshotData(text)).toEqual(value);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: text.length }), (chunk) => {
        const parts: string[] = [];
        for (let i = 0; i < text.length; i += chunk) parts.push(text.slice(i, i + chunk));
        expect(decodeSnapshotData(parts.join(''))).toEqual(value);
      }),
    );
  });
});

describe('snapshot encoding fast path', () => {
  // The fast path (a tagged tree, then JSON.stringify without a replacer) must give exactly the text
  // of the reference replacer: snapshot text is sent in InstallSnapshot chunks and folded into traces.
  const tree = plainTree({ specialKeys: ['__proto__', '0', '12', 'toJSON'], maps: true });

  it('gives the reference text for any tree of plain data, bytes, buffers, maps and dates', () => {
    fc.assert(
      fc.property(tree, (value) => {
        expect(encodeSnapshotData(value)).toBe(encodeSnapshotDataByReplacer(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('matches the reference on class instances and boxed values (the replacer path), holes and sets', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const sparse: unknown[] = [1];
    sparse[3] = 2;
    for (const value of [new Point(1, 2), { p: new Point(3, 4) }, [Object(7), Object('s')], sparse, new Set([1])])
      expect(encodeSnapshotData(value)).toBe(encodeSnapshotDataByReplacer(value));
  });
});
