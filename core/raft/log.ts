/**
 * The in-memory Raft log: the entries after the compaction point (`prevIndex`, `prevTerm`), which is
 * at or below the last snapshot. Indexes start at 1; index 0 is the empty log (term 0).
 *
 * The log never persists anything itself; the mechanisms emit `persist` ops (see durable.ts) for
 * every change they make here, in the same step.
 */
import { assert } from '../assert.js';
import type { Entry } from './messages.js';

/** Bound on the backward scans of fast backtracking (a hint is an optimization, never required). */
export const termScanMax = 100_000;

/** What check() returns when the log is well formed: one shared, frozen empty list. */
const noProblems: readonly string[] = Object.freeze([]);

export class RaftLog {
  /** entries[k] has index prevIndex + 1 + k. Invariant: indexes are contiguous, terms never decrease. */
  private entries: Entry[] = [];
  /** Estimated encoded bytes of entries[k], for the appendBytesMax bound. */
  private sizes: number[] = [];
  /** The index and term just below the first entry: the compaction point (0, 0 for a full log). */
  prevIndex = 0;
  prevTerm = 0;

  get lastIndex(): number {
    return this.prevIndex + this.entries.length;
  }

  get lastTerm(): number {
    return this.entries.length === 0 ? this.prevTerm : this.entries[this.entries.length - 1]!.term;
  }

  get firstIndex(): number {
    return this.prevIndex + 1;
  }

  get length(): number {
    return this.entries.length;
  }

  /** The term at `index`, or undefined when compacted away (below prevIndex) or beyond the end. */
  termAt(index: number): number | undefined {
    if (index === this.prevIndex) return this.prevTerm;
    if (index < this.prevIndex || index > this.lastIndex) return undefined;
    return this.entries[index - this.prevIndex - 1]!.term;
  }

  entryAt(index: number): Entry | undefined {
    if (index <= this.prevIndex || index > this.lastIndex) return undefined;
    return this.entries[index - this.prevIndex - 1];
  }

  append(entry: Entry): void {
    if (entry.index !== this.lastIndex + 1)
      assert(false, `append at ${entry.index} after last index ${this.lastIndex}`);
    if (!(entry.term >= this.lastTerm))
      assert(false, `append of term ${entry.term} after term ${this.lastTerm}: terms never decrease in a log`);
    this.entries.push(entry);
    this.sizes.push(estimateBytes(entry.command) + 32);
  }

  /** Keeps entries with index ≤ `lastKept` (a conflicting suffix is removed, Raft §5.3). */
  truncateAfter(lastKept: number): void {
    if (!(lastKept >= this.prevIndex))
      assert(false, `truncate to ${lastKept} below the compaction point ${this.prevIndex}`);
    const keep = lastKept - this.prevIndex;
    if (keep < this.entries.length) {
      this.entries.length = keep;
      this.sizes.length = keep;
    }
  }

  /** Drops the entries with index ≤ `index`, whose term is `term` (log compaction, Raft §7). */
  compactTo(index: number, term: number): void {
    if (!(index >= this.prevIndex))
      assert(false, `compaction to ${index} below the compaction point ${this.prevIndex}`);
    if (index <= this.lastIndex) {
      const known = this.termAt(index);
      if (known !== term) assert(false, `compaction to ${index}: term ${term} but the log has ${known}`);
      const drop = index - this.prevIndex;
      this.entries.splice(0, drop);
      this.sizes.splice(0, drop);
    } else {
      this.entries = [];
      this.sizes = [];
    }
    this.prevIndex = index;
    this.prevTerm = term;
  }

  /** Entries from `fromIndex` on, at most `countMax` of them and about `bytesMax` (always at least one). */
  slice(fromIndex: number, countMax: number, bytesMax: number): Entry[] {
    if (!(fromIndex > this.prevIndex))
      assert(false, `slice from ${fromIndex} is compacted (prevIndex ${this.prevIndex})`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = fromIndex - this.prevIndex - 1; i < this.entries.length && out.length < countMax; i++) {
      bytes += this.sizes[i]!;
      if (out.length > 0 && bytes > bytesMax) break;
      out.push(this.entries[i]!);
    }
    return out;
  }

  /** Fast backtracking hint: the first index of the run of the term at `index` (≥ firstIndex). */
  firstIndexOfTermAt(index: number): number {
    const term = this.termAt(index);
    if (term === undefined) assert(false, `no term at ${index}`);
    let i = index;
    for (let steps = 0; i - 1 > this.prevIndex && this.termAt(i - 1) === term && steps < termScanMax; steps++) i--;
    return i;
  }

  /** The last index holding `term`, or 0 when the log (after the compaction point) has none. */
  lastIndexOfTerm(term: number): number {
    for (let i = this.lastIndex, steps = 0; i > this.prevIndex && steps < termScanMax; i--, steps++) {
      const t = this.termAt(i)!;
      if (t === term) return i;
      if (t < term) return 0;
    }
    return 0;
  }

  /** The entries after `index` (for rebuilding membership after a truncation or a restore). */
  *entriesAfter(index: number): Iterable<Entry> {
    for (let i = Math.max(index, this.prevIndex) - this.prevIndex; i < this.entries.length; i++) yield this.entries[i]!;
  }

  /** Problems with the log's shape (for invariants); checks only the ends, to stay O(1). */
  check(): readonly string[] {
    const n = this.entries.length;
    if (
      this.sizes.length === n &&
      (n === 0 ||
        (this.entries[0]!.index === this.prevIndex + 1 &&
          this.entries[n - 1]!.index === this.lastIndex &&
          this.entries[0]!.term >= this.prevTerm))
    )
      return noProblems; // the common case, without an array per call (it runs after every step)
    const problems: string[] = [];
    if (n > 0) {
      if (this.entries[0]!.index !== this.prevIndex + 1)
        problems.push(`first entry has index ${this.entries[0]!.index}, expected ${this.prevIndex + 1}`);
      if (this.entries[n - 1]!.index !== this.lastIndex)
        problems.push(`last entry has index ${this.entries[n - 1]!.index}, expected ${this.lastIndex}`);
      if (this.entries[0]!.term < this.prevTerm)
        problems.push('first entry has a lower term than the compaction point');
    }
    if (this.sizes.length !== n) problems.push('entry sizes out of step with entries');
    return problems;
  }
}

/** Values estimateBytes visits at most (a bound on its work; what is left unvisited is not counted). */
const estimateVisitsMax = 10_000;

/**
 * estimateBytes's stack of values still to visit, reused by every call (it runs for every entry every
 * node appends): each call starts with it empty and leaves it empty, so nothing carries between calls.
 */
const estimateStack: unknown[] = [];
const hasOwn = Object.prototype.hasOwnProperty;

/** A cheap, bounded estimate of a value's encoded size in bytes (strings count their length). */
export function estimateBytes(value: unknown): number {
  if (value === null || typeof value !== 'object') return leafBytes(value);
  const stack = estimateStack;
  let top = 0;
  stack[top++] = value;
  let total = 0;
  for (let visited = 0; top > 0 && visited < estimateVisitsMax; visited++) {
    const v = stack[--top];
    stack[top] = undefined; // hold no reference once visited
    if (v === null || typeof v !== 'object') total += leafBytes(v);
    else if (v instanceof Uint8Array) total += v.byteLength + 5;
    else if (Array.isArray(v)) {
      total += 5;
      for (let i = 0; i < v.length; i++) stack[top++] = v[i];
    } else {
      // Own enumerable keys in Object.keys order (for-in lists them so, inherited ones filtered), without
      // an array of keys per object.
      for (const key in v) {
        if (!hasOwn.call(v, key)) continue;
        total += key.length + 1;
        stack[top++] = (v as Record<string, unknown>)[key];
      }
    }
  }
  for (let i = 0; i < top; i++) stack[i] = undefined; // over the bound: what was left unvisited
  return total;
}

/** estimateBytes of anything but an object (null included). */
function leafBytes(v: unknown): number {
  if (v === null || v === undefined) return 1;
  if (typeof v === 'string') return v.length + 1;
  return 9; // numbers, booleans, and anything else (a function, a symbol, a bigint)
}
