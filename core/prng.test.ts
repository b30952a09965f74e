/** The PRNG: deterministic per seed, unbiased bounded draws, restorable state, ratio probabilities. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Prng } from './prng.js';

describe('Prng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const xs = Array.from({ length: 10 }, () => a.uint32());
    expect(Array.from({ length: 10 }, () => b.uint32())).toEqual(xs);
    expect(Array.from({ length: 10 }, () => c.uint32())).not.toEqual(xs);
  });

  it('below(n) stays in range for any seed and bound', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 1, max: 2 ** 32 }), (seed, n) => {
        const p = new Prng(seed);
        for (let i = 0; i < 20; i++) {
          const x = p.below(n);
          if (!(Number.isInteger(x) && x >= 0 && x < n)) return false;
        }
        return true;
      }),
    );
  });

  it('is roughly uniform (chi-square over 10 buckets)', () => {
    const p = new Prng(7);
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) buckets[p.below(10)]++;
    const chi = buckets.reduce((s, o) => s + (o - 10_000) ** 2 / 10_000, 0);
    expect(chi).toBeLessThan(30); // 9 degrees of freedom: p < 0.001 at 27.9
  });

  it('save/restore resumes the same sequence', () => {
    const p = new Prng(1);
    p.uint32();
    const saved = p.save();
    const next = [p.uint32(), p.uint32()];
    p.restore(saved);
    expect([p.uint32(), p.uint32()]).toEqual(next);
  });

  it('chance honours the extremes and the ratio', () => {
    const p = new Prng(3);
    expect(p.chance(0, 5)).toBe(false);
    expect(p.chance(5, 5)).toBe(true);
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (p.chance(1, 4)) hits++;
    expect(hits).toBeGreaterThan(2300);
    expect(hits).toBeLessThan(2700);
  });
});
