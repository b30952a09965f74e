/**
 * The run's fingerprint: a 64-bit hash folded over every event the simulator processes (its kind,
 * time, node, and the bytes of every delivered message). Two runs with the same fingerprint took the
 * same path; a different fingerprint for the same seed means nondeterminism (or changed code).
 *
 * Two independent 32-bit lanes (FNV-1a style with different primes and offsets) make the 64 bits;
 * Math.imul keeps everything in 32-bit integer arithmetic, so it is fast and exact.
 */
/** How many bytes at each end of a large message the hash folds. */
const sampleBytes = 256;

export class TraceHash {
  private hi = 0x811c9dc5 | 0;
  private lo = 0x050c5d1f | 0;

  number(value: number): void {
    // Fold both 32-bit halves of a non-negative integer up to 2^53.
    this.word(value >>> 0);
    this.word(Math.floor(value / 0x100000000) >>> 0);
  }

  word(value: number): void {
    this.hi = Math.imul(this.hi ^ value, 0x01000193);
    this.lo = Math.imul(this.lo ^ (value + 0x9e3779b9), 0x5bd1e995);
    this.lo ^= this.lo >>> 15;
  }

  /**
   * Folds a message's bytes. A large message (a push-pull of 10,000 members is ~400 KB) is folded by
   * its length and its first and last `sampleBytes` bytes: a divergence inside it shows in the run's
   * later events anyway, and hashing every byte of every big message cost a third of a scale run.
   */
  bytes(data: Uint8Array): void {
    const n = data.length;
    if (n > 2 * sampleBytes) {
      this.word(n);
      this.range(data, 0, sampleBytes);
      this.range(data, n - sampleBytes, n);
      return;
    }
    this.range(data, 0, n);
  }

  private range(data: Uint8Array, start: number, end: number): void {
    let hi = this.hi;
    let lo = this.lo;
    for (let i = start; i < end; i++) {
      const b = data[i]!;
      hi = Math.imul(hi ^ b, 0x01000193);
      lo = Math.imul(lo ^ (b + 0x7f4a7c15), 0x5bd1e995);
    }
    this.hi = hi;
    this.lo = lo ^ (lo >>> 13);
  }

  string(text: string): void {
    for (let i = 0; i < text.length; i++) this.word(text.charCodeAt(i));
  }

  /** 16 lowercase hex digits. */
  hex(): string {
    return (this.hi >>> 0).toString(16).padStart(8, '0') + (this.lo >>> 0).toString(16).padStart(8, '0');
  }
}

/** A stable 32-bit hash of a string (stream names, timer names). */
export function hashString(text: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
