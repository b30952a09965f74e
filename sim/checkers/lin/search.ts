/**
 * The Wing–Gong search with Lowe's memoisation, for one partition of a history (the algorithm
 * Porcupine implements; Wing & Gong 1993, Lowe 2017 §3 "just-in-time linearization" and its cache of
 * configurations).
 *
 * The history becomes a doubly linked list of call and return entries in real-time order (calls
 * before returns at equal times). The search walks the list from the head:
 * - at a call entry, it tries to linearize that operation now: the model must accept it from the
 *   current state, and the configuration (set of linearized operations, new state) must be new. Then
 *   the operation's call and return entries are lifted out of the list, the choice is pushed on a
 *   stack, and the walk restarts at the head;
 * - at a return entry, the operation it belongs to should already have been linearized, so the last
 *   choice was wrong: pop it, put its entries back (unlift) and try the next call after it;
 * - an empty list means every operation is linearized: success. Popping an empty stack: failure.
 *
 * Everything in the hot loop is integer work on typed arrays:
 * - states are interned to small integer ids through the model's hash/equal, and `step` is memoised
 *   per (state id, operation) in a dense Int32Array (a Map beyond a size bound), so the model runs at
 *   most once per pair;
 * - the set of linearized operations is a Uint32Array bitset, its hash is maintained incrementally
 *   (Zobrist: XOR of a fixed random key per operation), and a configuration's hash is that XOR the
 *   state id's key;
 * - the cache of seen configurations is an open-addressing table over an arena of bitsets, so a
 *   membership test allocates nothing.
 *
 * The search is resumable (`run(budget)`), so several partitions can be interleaved and the first one
 * that fails stops the check, the way Porcupine runs partitions on goroutines and kills the rest.
 */
import { assert } from '../../../core/assert.js';
import type { LinOp, Model } from './types.js';

const NIL = -1;
/** Transition not computed yet. */
const UNSEEN = -2;
/** Transition rejected by the model. */
const REJECTED = -1;
/** Cells of the dense transition table (states × ops) before falling back to a Map. */
const DENSE_TRANSITIONS_MAX = 1 << 23;
/** Check the wall clock once per this many search steps. */
const CLOCK_EVERY_STEPS = 1 << 16;

export type SearchStatus = 'running' | 'ok' | 'fail' | 'timeout';

/** What the search had got furthest with when it was stuck (for explanations). */
export interface DeepestPoint {
  /** Operation indexes (into the partition's ops) in linearization order. */
  readonly prefix: number[];
  readonly stateId: number;
  /** The operation whose return entry was reached without it being linearized. */
  readonly blockingOp: number;
  /** Operations whose calls preceded that return in the list (could have gone next). */
  readonly candidateOps: number[];
}

/** Thomas Wang / murmur3 finaliser: a 32-bit integer mix. */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) | 0;
}

export class PartitionSearch<S, I, O> {
  readonly opCount: number;
  steps = 0;
  status: SearchStatus = 'running';
  deepest: DeepestPoint | undefined;

  // The list: entries 0..2m-1 in time order, HEAD = 2m.
  private readonly head: number;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly entryOp: Int32Array;
  private readonly entryIsCall: Uint8Array;
  private readonly returnEntry: Int32Array;

  // Linearized set and its incremental hash.
  private readonly words: number;
  private readonly linearized: Uint32Array;
  private readonly opKey: Int32Array;
  private zobrist = 0;

  // Interned states and memoised transitions.
  private readonly states: S[] = [];
  private stateKey = new Int32Array(16);
  private readonly stateIndex = new Map<number, number | number[]>();
  private transitionRows: number;
  private transitions: Int32Array;
  private readonly transitionMap = new Map<number, number>();

  // The configuration cache: open addressing over an arena of bitsets.
  private slots: Int32Array;
  private cacheHash: Int32Array;
  private cacheState: Int32Array;
  private cacheBits: Uint32Array;
  private cacheCount = 0;

  // The stack of choices and the walk's position, kept between run() slices.
  private readonly callEntry: Int32Array;
  private readonly callState: Int32Array;
  private depth = 0;
  private cursor: number;
  private state: number;
  private deepestDepth = -1;

  constructor(
    private readonly model: Model<S, I, O>,
    readonly ops: readonly LinOp<I, O>[],
    private readonly explain = true,
  ) {
    const m = ops.length;
    this.opCount = m;
    this.head = 2 * m;
    this.next = new Int32Array(2 * m + 1);
    this.prev = new Int32Array(2 * m + 1);
    this.entryOp = new Int32Array(2 * m);
    this.entryIsCall = new Uint8Array(2 * m);
    this.returnEntry = new Int32Array(m);
    this.buildList();

    this.words = Math.max(1, (m + 31) >>> 5);
    this.linearized = new Uint32Array(this.words);
    this.opKey = new Int32Array(m);
    let seed = 0x243f6a88;
    for (let i = 0; i < m; i++) {
      seed = (seed + 0x9e3779b9) | 0;
      this.opKey[i] = mix32(seed);
    }

    this.transitionRows = Math.max(1, Math.min(8, Math.floor(DENSE_TRANSITIONS_MAX / Math.max(1, m))));
    this.transitions = new Int32Array(this.transitionRows * m).fill(UNSEEN);

    const cacheCapacity = 1 << 10;
    this.slots = new Int32Array(cacheCapacity * 2);
    this.cacheHash = new Int32Array(cacheCapacity);
    this.cacheState = new Int32Array(cacheCapacity);
    this.cacheBits = new Uint32Array(cacheCapacity * this.words);

    this.callEntry = new Int32Array(m);
    this.callState = new Int32Array(m);
    this.state = this.intern(model.init());
    this.cursor = this.next[this.head]!;
    if (m === 0) this.status = 'ok';
  }

  /** Sorts call/return entries by time (calls first at equal times) and links them. */
  private buildList(): void {
    const m = this.opCount;
    const ops = this.ops;
    const codes: number[] = new Array<number>(2 * m);
    for (let i = 0; i < m; i++) {
      const op = ops[i]!;
      assert(op.returnTime >= op.callTime, `operation ${op.id} returns before it is called`);
      codes[2 * i] = 2 * i;
      codes[2 * i + 1] = 2 * i + 1;
    }
    const time = (code: number): number => (code & 1 ? ops[code >>> 1]!.returnTime : ops[code >>> 1]!.callTime);
    codes.sort((a, b) => {
      const ta = time(a);
      const tb = time(b);
      if (ta !== tb) return ta < tb ? -1 : 1;
      if ((a & 1) !== (b & 1)) return (a & 1) - (b & 1);
      return a - b;
    });
    for (let k = 0; k < 2 * m; k++) {
      const code = codes[k]!;
      const op = code >>> 1;
      this.entryOp[k] = op;
      if (code & 1) this.returnEntry[op] = k;
      else this.entryIsCall[k] = 1;
      this.next[k] = k + 1 < 2 * m ? k + 1 : NIL;
      this.prev[k] = k === 0 ? this.head : k - 1;
    }
    this.next[this.head] = m > 0 ? 0 : NIL;
    this.prev[this.head] = NIL;
  }

  /** The id of `state`, interning it if new. */
  private intern(state: S): number {
    const model = this.model;
    const h = model.hash(state) | 0;
    const found = this.stateIndex.get(h);
    if (found !== undefined) {
      if (typeof found === 'number') {
        if (model.equal(this.states[found]!, state)) return found;
      } else {
        for (const id of found) if (model.equal(this.states[id]!, state)) return id;
      }
    }
    const id = this.states.length;
    this.states.push(state);
    if (found === undefined) this.stateIndex.set(h, id);
    else if (typeof found === 'number') this.stateIndex.set(h, [found, id]);
    else found.push(id);
    if (id >= this.stateKey.length) {
      const grown = new Int32Array(this.stateKey.length * 2);
      grown.set(this.stateKey);
      this.stateKey = grown;
    }
    this.stateKey[id] = mix32((id + 1) * 0x61c88647);
    return id;
  }

  /** The state id after `op` from `stateId`, or REJECTED; memoised. */
  transition(stateId: number, op: number): number {
    const m = this.opCount;
    if (stateId < this.transitionRows) {
      const cached = this.transitions[stateId * m + op]!;
      if (cached !== UNSEEN) return cached;
    } else {
      const cached = this.transitionMap.get(stateId * m + op);
      if (cached !== undefined) return cached;
    }
    const o = this.ops[op]!;
    const result = this.model.step(this.states[stateId]!, o.input, o.output);
    const nextId = result.ok ? this.intern(result.next) : REJECTED;
    this.growTransitions();
    if (stateId < this.transitionRows) this.transitions[stateId * m + op] = nextId;
    else this.transitionMap.set(stateId * m + op, nextId);
    return nextId;
  }

  private growTransitions(): void {
    const m = this.opCount;
    while (this.states.length > this.transitionRows && this.transitionRows * 2 * m <= DENSE_TRANSITIONS_MAX) {
      const grown = new Int32Array(this.transitionRows * 2 * m).fill(UNSEEN);
      grown.set(this.transitions);
      this.transitions = grown;
      this.transitionRows *= 2;
    }
  }

  stateOf(id: number): S {
    return this.states[id]!;
  }

  get stateCount(): number {
    return this.states.length;
  }

  get cacheSize(): number {
    return this.cacheCount;
  }

  /**
   * Whether (linearized bitset as it is now, stateId) is already in the cache; inserts it if not.
   * The caller has already set the new operation's bit.
   */
  private seenBefore(hash: number, stateId: number): boolean {
    const words = this.words;
    const bits = this.linearized;
    const slots = this.slots;
    const mask = slots.length - 1;
    let i = hash & mask;
    for (;;) {
      const slot = slots[i]!;
      if (slot === 0) break;
      const k = slot - 1;
      if (this.cacheHash[k] === hash && this.cacheState[k] === stateId) {
        const base = k * words;
        let same = true;
        for (let w = 0; w < words; w++) {
          if (this.cacheBits[base + w] !== bits[w]) {
            same = false;
            break;
          }
        }
        if (same) return true;
      }
      i = (i + 1) & mask;
    }
    const k = this.cacheCount;
    if (k === this.cacheHash.length) this.growCacheArena();
    this.cacheHash[k] = hash;
    this.cacheState[k] = stateId;
    this.cacheBits.set(bits, k * words);
    slots[i] = k + 1;
    this.cacheCount = k + 1;
    if (this.cacheCount * 2 > slots.length) this.rehash();
    return false;
  }

  private growCacheArena(): void {
    const capacity = this.cacheHash.length * 2;
    const hash = new Int32Array(capacity);
    hash.set(this.cacheHash);
    this.cacheHash = hash;
    const state = new Int32Array(capacity);
    state.set(this.cacheState);
    this.cacheState = state;
    const bits = new Uint32Array(capacity * this.words);
    bits.set(this.cacheBits);
    this.cacheBits = bits;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let k = 0; k < this.cacheCount; k++) {
      let i = this.cacheHash[k]! & mask;
      while (slots[i] !== 0) i = (i + 1) & mask;
      slots[i] = k + 1;
    }
    this.slots = slots;
  }

  /**
   * Runs at most `budgetSteps` steps (or until `deadlineMs` on performance.now()) and reports where
   * the search is. Call again while it answers 'running'.
   */
  run(budgetSteps: number, deadlineMs = Infinity): SearchStatus {
    if (this.status !== 'running') return this.status;
    const m = this.opCount;
    const head = this.head;
    const next = this.next;
    const prev = this.prev;
    const entryOp = this.entryOp;
    const entryIsCall = this.entryIsCall;
    const returnEntry = this.returnEntry;
    const linearized = this.linearized;
    const opKey = this.opKey;
    const callEntry = this.callEntry;
    const callState = this.callState;
    let transitions = this.transitions;
    let transitionRows = this.transitionRows;
    let stateKey = this.stateKey;
    let e = this.cursor;
    let state = this.state;
    let depth = this.depth;
    let zobrist = this.zobrist;
    let steps = 0;
    let clock = CLOCK_EVERY_STEPS;
    let status: SearchStatus = 'ok';

    while (next[head] !== NIL) {
      if (steps >= budgetSteps) {
        status = 'running';
        break;
      }
      steps++;
      if (--clock === 0) {
        clock = CLOCK_EVERY_STEPS;
        if (deadlineMs !== Infinity && performance.now() > deadlineMs) {
          status = 'timeout';
          break;
        }
      }
      if (entryIsCall[e] === 1) {
        const op = entryOp[e]!;
        let after = state < transitionRows ? transitions[state * m + op]! : UNSEEN;
        if (after === UNSEEN) {
          after = this.transition(state, op);
          transitions = this.transitions;
          transitionRows = this.transitionRows;
          stateKey = this.stateKey;
        }
        if (after >= 0) {
          const w = op >>> 5;
          const bit = 1 << (op & 31);
          linearized[w]! |= bit;
          const key = opKey[op]!;
          if (!this.seenBefore((zobrist ^ key ^ stateKey[after]!) | 0, after)) {
            callEntry[depth] = e;
            callState[depth] = state;
            depth++;
            state = after;
            zobrist ^= key;
            // lift: unlink the call entry, then its return entry
            const p = prev[e]!;
            const n = next[e]!;
            next[p] = n;
            prev[n] = p;
            const r = returnEntry[op]!;
            const rp = prev[r]!;
            const rn = next[r]!;
            next[rp] = rn;
            if (rn !== NIL) prev[rn] = rp;
            e = next[head]!;
          } else {
            linearized[w]! &= ~bit;
            e = next[e]!;
          }
        } else {
          e = next[e]!;
        }
      } else {
        if (this.explain && depth > this.deepestDepth) this.recordDeepest(e, depth, state);
        if (depth === 0) {
          status = 'fail';
          break;
        }
        depth--;
        e = callEntry[depth]!;
        state = callState[depth]!;
        const op = entryOp[e]!;
        linearized[op >>> 5]! &= ~(1 << (op & 31));
        zobrist ^= opKey[op]!;
        // unlift: relink the return entry, then the call entry
        const r = returnEntry[op]!;
        const rn = next[r]!;
        next[prev[r]!] = r;
        if (rn !== NIL) prev[rn] = r;
        next[prev[e]!] = e;
        prev[next[e]!] = e;
        e = next[e]!;
      }
    }

    this.cursor = e;
    this.state = state;
    this.depth = depth;
    this.zobrist = zobrist;
    this.steps += steps;
    this.status = status;
    return status;
  }

  private recordDeepest(returnAt: number, depth: number, state: number): void {
    this.deepestDepth = depth;
    const prefix: number[] = [];
    for (let d = 0; d < depth; d++) prefix.push(this.entryOp[this.callEntry[d]!]!);
    const candidateOps: number[] = [];
    for (let k = this.next[this.head]!; k !== returnAt && k !== NIL; k = this.next[k]!) {
      if (this.entryIsCall[k] === 1) candidateOps.push(this.entryOp[k]!);
    }
    this.deepest = { prefix, stateId: state, blockingOp: this.entryOp[returnAt]!, candidateOps };
  }

  /** After 'ok': the linearization found (operation indexes in order). */
  linearization(): number[] {
    assert(this.status === 'ok', 'linearization() after a successful search');
    const order: number[] = [];
    for (let d = 0; d < this.depth; d++) order.push(this.entryOp[this.callEntry[d]!]!);
    return order;
  }
}
