/**
 * A sorted set of strings (a plain array kept in order, binary-searched), for prefix scans over KV
 * keys and tombstones. Go's memdb radix tree gives Consul the same ordered prefix walks.
 *
 * Order is JavaScript's string order (UTF-16 code units). Consul compares UTF-8 bytes; the two agree
 * except between characters at U+E000..U+FFFF and astral characters (surrogate pairs), which no client
 * we target uses in keys.
 */
import { assert } from '../assert.js';

export class SortedKeys {
  private readonly keys: string[] = [];

  get size(): number {
    return this.keys.length;
  }

  /** Index of the first key ≥ `key`. */
  lowerBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Adds `key`; true when it was new. */
  insert(key: string): boolean {
    const at = this.lowerBound(key);
    if (this.keys[at] === key) return false;
    this.keys.splice(at, 0, key);
    return true;
  }

  /** Removes `key`; true when it was present. */
  remove(key: string): boolean {
    const at = this.lowerBound(key);
    if (this.keys[at] !== key) return false;
    this.keys.splice(at, 1);
    return true;
  }

  /** The keys starting with `prefix`, in order (a copy; safe to mutate the set while iterating it). */
  withPrefix(prefix: string): string[] {
    const start = this.lowerBound(prefix);
    let end = start;
    while (end < this.keys.length && this.keys[end]!.startsWith(prefix)) end++;
    return this.keys.slice(start, end);
  }

  /** Calls `visit` for each key starting with `prefix`, in order, without copying. */
  forEachWithPrefix(prefix: string, visit: (key: string) => void): void {
    for (let i = this.lowerBound(prefix); i < this.keys.length; i++) {
      const key = this.keys[i]!;
      if (!key.startsWith(prefix)) return;
      visit(key);
    }
  }

  all(): readonly string[] {
    return this.keys;
  }

  /** Checks the order for invariants(); O(n). */
  checkSorted(): boolean {
    for (let i = 1; i < this.keys.length; i++) if (!(this.keys[i - 1]! < this.keys[i]!)) return false;
    return true;
  }

  static from(keys: Iterable<string>): SortedKeys {
    const set = new SortedKeys();
    const list = [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (let i = 1; i < list.length; i++) assert(list[i - 1] !== list[i], `duplicate key ${list[i]}`);
    for (const key of list) set.keys.push(key);
    return set;
  }
}
