/**
 * Snapshot data survives encoding: plain JSON values, Uint8Array (base64, checked against Node's own
 * encoder), Map, and undefined inside arrays; any cut of the encoding into chunks joins back to the
 * same value (InstallSnapshot sends it by offset).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSnapshotData, encodeSnapshotData, fromBase64, toBase64 } from './codec.js';

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
