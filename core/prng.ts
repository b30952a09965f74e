import { assert } from './assert.js';

/**
 * The only source of randomness in core/. It is injected by the driver (seeded by the simulator,
 * seeded from the OS by the real agent) so that a run replays bit for bit from its seed.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's Small Fast Chaotic PRNG, 128-bit state): fast in
 * JavaScript because it needs only 32-bit integer operations, and its state is four numbers, so a
 * node's generator can be saved and restored for time travel.
 *
 * The API is integers only. Probabilities are ratios (`chance(1, 20)` is 5%), never floats, so that
 * no rounding differs between drivers.
 */
export type PrngState = readonly [number, number, number, number];

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number | PrngState) {
    if (typeof seed === 'number') {
      assert(Number.isSafeInteger(seed), 'prng seed must be a safe integer');
      this.a = 0x9e3779b9;
      this.b = 0x243f6a88;
      this.c = 0xb7e15162;
      this.d = 1;
      // Mix both halves of the seed in, then warm up so that nearby seeds diverge.
      this.a ^= seed >>> 0;
      this.b ^= Math.floor(seed / 0x100000000) >>> 0;
      for (let i = 0; i < 15; i++) this.uint32();
    } else {
      assert(seed.length === 4, 'prng state has four words');
      [this.a, this.b, this.c, this.d] = seed;
    }
  }

  /** A uniformly distributed integer in [0, 2^32). */
  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniformly distributed integer in [0, n). n must be in [1, 2^32]. Uses rejection, no bias. */
  below(n: number): number {
    if (!(Number.isInteger(n) && n >= 1 && n <= 0x100000000)) assert(false, `prng.below: bad bound ${n}`);
    if (n === 1) return 0;
    const limit = 0x100000000 - (0x100000000 % n);
    for (let i = 0; i < 64; i++) {
      const x = this.uint32();
      if (x < limit) return x % n;
    }
    // 64 rejections in a row has probability < 2^-64; take the (negligibly biased) last draw.
    return this.uint32() % n;
  }

  /** A uniformly distributed integer in [min, max], both inclusive. */
  between(min: number, max: number): number {
    if (!(Number.isInteger(min) && Number.isInteger(max) && min <= max))
      assert(false, `prng.between: bad range ${min}..${max}`);
    return min + this.below(max - min + 1);
  }

  /** True with probability numerator/denominator. */
  chance(numerator: number, denominator: number): boolean {
    assert(
      denominator > 0 && numerator >= 0 && numerator <= denominator,
      `prng.chance: bad ratio ${numerator}/${denominator}`,
    );
    if (numerator === 0) return false;
    if (numerator === denominator) return true;
    return this.below(denominator) < numerator;
  }

  /** An element chosen uniformly from a non-empty array. */
  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'prng.pick: empty array');
    return items[this.below(items.length)]!;
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }

  /** Derives an independent generator (for a sub-machine), advancing this one by a fixed amount. */
  fork(): Prng {
    return new Prng([this.uint32(), this.uint32(), this.uint32(), this.uint32() | 1]);
  }

  save(): PrngState {
    return [this.a, this.b, this.c, this.d];
  }

  restore(state: PrngState): void {
    [this.a, this.b, this.c, this.d] = state;
  }
}
