/**
 * The Wing–Gong search with Lowe's memoisation, for one partition of a history (the algorithm
 * Porcupine implements; Wing & Gong 1993, Lowe 2017 "Testing for linearizability" §3 and its cache of
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
 * Two sound reductions on top of Porcupine's search, both enabled by optional model hooks:
 * - Read-only operations (`model.readOnly`: a read, a cas that returned false) are linearized as soon
 *   as they may, without trying alternatives: if some valid order exists from a configuration in which
 *   a read-only operation r is enabled and accepted, moving r to the front of that order keeps it valid
 *   (r changes no state; everything that must precede r is already linearized). So a configuration
 *   with such an r is decided by its one child with r, and the child failing fails the parent.
 * - Operations with an unknown outcome (return +∞) under a model that accepts any output for them
 *   (`model.acceptsUnknown`) can always go last. So the search succeeds once every other operation is
 *   linearized, and it never linearizes one where it would not change the state: whatever follows
 *   could as well follow without it, with it appended at the end.
 *
 * - With `model.growth` (kv), a configuration is abandoned when a pending read can never be
 *   satisfied: its value does not extend the current one and no reset can be linearized before it.
 *
 * Everything in the hot loop is integer work on typed arrays:
 * - states are interned to small integer ids (by value when primitive, else through the model's
 *   hash/equal), and `step` is memoised per (state id, operation) in a dense Int32Array, so for
 *   histories with few states (registers) the model runs at most once per pair; beyond the table's
 *   bound (kv strings, which rarely repeat) the model is stepped directly;
 * - the set of linearized operations is an Int32Array bitset whose hash is kept incrementally
 *   (Zobrist: XOR of a fixed random key per operation); a configuration's hash is that XOR a key for
 *   the state id;
 * - the cache of seen configurations is one open-addressing Int32Array whose slots hold the hash, the
 *   state id and the bitset inline, so a membership test is one probe sequence and allocates nothing.
 *
 * The search is resumable (`run(budget)`), so several partitions can be interleaved and the first one
 * that fails stops the check, the way Porcupine runs partitions on goroutines and kills the rest.
 */
import { assert } from '../../../core/assert.js';
import type { LinOp, Model } from './types.js';
import { UNKNOWN } from './types.js';

const NIL = -1;
/** Transition not computed yet. */
const UNSEEN = -2;
/** Transition rejected by the model. */
const REJECTED = -1;
/**
 * Cells of the dense transition table (states × ops). States beyond it are stepped without a memo:
 * a history with that many states (kv appends in many orders) rarely revisits a (state, op) pair.
 */
const DENSE_TRANSITIONS_MAX = 1 << 16;
/** Check the wall clock once per this many search steps. */
const CLOCK_EVERY_STEPS = 1 << 16;
/** Initial configuration-cache slots (grows by doubling at half load), at least and at most. */
const CACHE_SLOTS_INITIAL = 1 << 10;
const CACHE_SLOTS_START_MAX = 1 << 14;
/** 'auto' cache: hash compaction above this many bitset words (256 operations in the partition). */
const COMPACT_WORDS_MIN = 8;

/** Operation classes (see the reductions above). */
const NORMAL = 0;
/** Finite response, read-only: linearized greedily. */
const READ_ONLY = 1;
/** Unknown outcome, response +∞, changes state: may be linearized, never needed. */
const DEFERRABLE = 2;
/** Unknown outcome, response +∞, read-only: never worth linearizing. */
const USELESS = 3;

export type SearchStatus = 'running' | 'ok' | 'fail' | 'timeout' | 'limit';

/** Resource bounds of one search (past them it stops with status 'limit'), and its reductions. */
export interface SearchLimits {
  readonly statesMax: number;
  readonly cacheBytesMax: number;
  /** Use the model's readOnly/acceptsUnknown/growth hooks (default true); false = Porcupine's search. */
  readonly reductions?: boolean;
  /** Configuration cache: exact bitsets, 64-bit fingerprints (hash compaction), or auto (default). */
  readonly cache?: 'exact' | 'compact' | 'auto';
  /**
   * Subsumption of configurations that differ only in operations of unknown outcome (default false;
   * the hunt for a small core turns it on, where most operations are relaxed to unknown). A
   * configuration (required set R, unknown-outcome set D, state s) is pruned when (R, D', s) with
   * D' ⊆ D was reached before: everything that can follow it could follow the earlier one, which has
   * at least the same operations left (unknown-outcome operations are optional). Without it, a search
   * with a hundred such operations that must fail tries every subset of them that yields a new state.
   */
  readonly dominance?: boolean;
}

const NO_LIMITS: SearchLimits = { statesMax: Infinity, cacheBytesMax: Infinity };

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

/** Murmur3's finaliser: a 32-bit integer mix. */
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
  private readonly opClass: Uint8Array;
  /** Whether any operation is READ_ONLY (else the scan for one on entering a configuration is skipped). */
  private hasReadOnly = false;

  // Linearized set and its incremental hash.
  private readonly words: number;
  private readonly linearized: Int32Array;
  private readonly opKey: Int32Array;
  private zobrist = 0;
  /** A second, independent Zobrist hash: with the first, the 64-bit fingerprint of hash compaction. */
  private readonly opKey2: Int32Array;
  private zobrist2 = 0;
  /** With limits.dominance: Zobrist hash of the required (not unknown-outcome) operations linearized. */
  private zobristRequired = 0;
  /** Per bitset word, the bits of required operations (with limits.dominance). */
  private readonly requiredMask: Int32Array;
  /** (zobristRequired ^ state key) → linearized bitsets reached with that key (with limits.dominance). */
  private readonly reached = new Map<number, Int32Array[]>();

  // Interned states and memoised transitions.
  private readonly states: S[] = [];
  private stateKey = new Int32Array(16);
  private stateKey2 = new Int32Array(16);
  /** Object states: model hash → id(s). */
  private readonly stateIndex = new Map<number, number | number[]>();
  /** Primitive states (string, number, null...) are interned by value: V8 hashes them natively. */
  private readonly primitiveIndex = new Map<unknown, number>();
  private transitionRows: number;
  private transitions: Int32Array;
  /** model.growth: reset operations by call time, and a memo of mayGrowInto (0 unknown, 1 yes, 2 no). */
  private readonly growth: Model<S, I, O>['growth'];
  private readonly resetOps: Int32Array;
  private growthMemo: Uint8Array;

  // The configuration cache: slots of `stride` Int32s: [hash, stateId + 1 (0 = empty), bits...], or
  // with hash compaction [hash, stateId + 1, hash2].
  private readonly stride: number;
  /**
   * Hash compaction (Holzmann's "bitstate"/hash-compact idea, as in SPIN): remember a configuration
   * by a 64-bit fingerprint instead of its bitset, so a long history's cache entry is 12 bytes, not
   * n/8. A fingerprint collision can only prune a branch wrongly, so a success is still exact (the
   * linearization found is real) but a failure must be confirmed by an exact search (check.ts).
   */
  readonly compact: boolean;
  private table: Int32Array;
  private tableMask: number;
  private cacheCount = 0;
  /** Set when the cache may not grow any more (limits.cacheBytesMax); the run loop then stops. */
  private cacheFull = false;

  // The stack of choices and the walk's position, kept between run() slices.
  private readonly callEntry: Int32Array;
  private readonly callState: Int32Array;
  private readonly callForced: Uint8Array;
  private depth = 0;
  private cursor: number;
  private entering = true;
  private state: number;
  /** Operations not yet linearized that must be (every class but DEFERRABLE and USELESS). */
  private requiredLeft: number;
  private deepestDepth = -1;

  constructor(
    private readonly model: Model<S, I, O>,
    readonly ops: readonly LinOp<I, O>[],
    private readonly explain = true,
    private readonly limits: SearchLimits = NO_LIMITS,
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

    const reductions = limits.reductions ?? true;
    this.growth = reductions ? model.growth : undefined;
    this.opClass = new Uint8Array(m);
    let required = 0;
    for (let i = 0; i < m; i++) {
      const op = ops[i]!;
      const readOnly = reductions && model.readOnly ? model.readOnly(op.input, op.output) : false;
      const deferrable =
        reductions && model.acceptsUnknown === true && op.output === UNKNOWN && op.returnTime === Infinity;
      this.opClass[i] = deferrable ? (readOnly ? USELESS : DEFERRABLE) : readOnly ? READ_ONLY : NORMAL;
      if (!deferrable) required++;
      if (this.opClass[i] === READ_ONLY) this.hasReadOnly = true;
    }
    this.requiredLeft = required;

    this.words = Math.max(1, (m + 31) >>> 5);
    this.linearized = new Int32Array(this.words);
    this.requiredMask = new Int32Array(this.words);
    for (let i = 0; i < m; i++)
      if (this.opClass[i] !== DEFERRABLE && this.opClass[i] !== USELESS) this.requiredMask[i >>> 5]! |= 1 << (i & 31);
    this.opKey = new Int32Array(m);
    this.opKey2 = new Int32Array(m);
    let seed = 0x243f6a88;
    for (let i = 0; i < m; i++) {
      seed = (seed + 0x9e3779b9) | 0;
      this.opKey[i] = mix32(seed);
      this.opKey2[i] = mix32(seed ^ 0x5bd1e995);
    }

    this.transitionRows = Math.max(1, Math.min(8, Math.floor(DENSE_TRANSITIONS_MAX / Math.max(1, m))));
    this.transitions = new Int32Array(this.transitionRows * m).fill(UNSEEN);
    const growth = this.growth;
    const resets: number[] = [];
    if (growth) for (let i = 0; i < m; i++) if (growth.isReset(ops[i]!.input)) resets.push(i);
    resets.sort((a, b) => ops[a]!.callTime - ops[b]!.callTime);
    this.resetOps = Int32Array.from(resets);
    this.growthMemo = new Uint8Array(growth ? this.transitions.length : 0);

    const cacheMode = limits.cache ?? 'auto';
    this.compact = cacheMode === 'compact' || (cacheMode === 'auto' && this.words > COMPACT_WORDS_MIN);
    this.stride = this.compact ? 3 : 2 + this.words;
    // Larger histories tend to need larger caches: start bigger to skip early rehashes.
    let slots = CACHE_SLOTS_INITIAL;
    while (slots < CACHE_SLOTS_START_MAX && slots < m * 64) slots *= 2;
    this.table = new Int32Array(slots * this.stride);
    this.tableMask = slots - 1;

    this.callEntry = new Int32Array(m);
    this.callState = new Int32Array(m);
    this.callForced = new Uint8Array(m);
    this.state = this.intern(model.init());
    this.cursor = this.next[this.head]!;
    if (required === 0) this.status = 'ok';
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

  /**
   * The id of `state`, interning it if new. Primitive states are compared by value (SameValueZero),
   * object states by the model's hash and equal.
   */
  private intern(state: S): number {
    if (state === null || (typeof state !== 'object' && typeof state !== 'function')) {
      const known = this.primitiveIndex.get(state);
      if (known !== undefined) return known;
      const id = this.addState(state);
      this.primitiveIndex.set(state, id);
      return id;
    }
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
    const id = this.addState(state);
    if (found === undefined) this.stateIndex.set(h, id);
    else if (typeof found === 'number') this.stateIndex.set(h, [found, id]);
    else found.push(id);
    return id;
  }

  private addState(state: S): number {
    const id = this.states.length;
    this.states.push(state);
    if (id >= this.stateKey.length) {
      const grown = new Int32Array(this.stateKey.length * 2);
      grown.set(this.stateKey);
      this.stateKey = grown;
      const grown2 = new Int32Array(this.stateKey2.length * 2);
      grown2.set(this.stateKey2);
      this.stateKey2 = grown2;
    }
    this.stateKey[id] = mix32((id + 1) * 0x61c88647);
    this.stateKey2[id] = mix32((id + 1) * 0x2545f491 + 0x27d4eb2f);
    return id;
  }

  /** The state id after `op` from `stateId`, or REJECTED; memoised while the table is dense. */
  transition(stateId: number, op: number): number {
    const m = this.opCount;
    if (stateId < this.transitionRows) {
      const cached = this.transitions[stateId * m + op]!;
      if (cached !== UNSEEN) return cached;
    }
    const o = this.ops[op]!;
    const result = this.model.step(this.states[stateId]!, o.input, o.output);
    const nextId = result.ok ? this.intern(result.next) : REJECTED;
    assert(
      nextId === REJECTED || this.opClass[op] !== READ_ONLY || nextId === stateId,
      `model.readOnly is wrong about operation ${o.id}: it changed the state`,
    );
    if (this.states.length > this.transitionRows) this.growTransitions();
    if (stateId < this.transitionRows) this.transitions[stateId * m + op] = nextId;
    return nextId;
  }

  private growTransitions(): void {
    const m = this.opCount;
    while (this.states.length > this.transitionRows && this.transitionRows * 2 * m <= DENSE_TRANSITIONS_MAX) {
      const grown = new Int32Array(this.transitionRows * 2 * m).fill(UNSEEN);
      grown.set(this.transitions);
      this.transitions = grown;
      if (this.growth) {
        const memo = new Uint8Array(grown.length);
        memo.set(this.growthMemo);
        this.growthMemo = memo;
      }
      this.transitionRows *= 2;
    }
  }

  /**
   * With model.growth: whether the read-only `op`, rejected in `stateId`, can never be accepted in
   * this configuration: the state cannot grow into one that accepts it, and no reset operation that
   * is still to be linearized was called before `op` returned (so none can come before it).
   */
  private hopeless(stateId: number, op: number): boolean {
    if (!this.growth) return false;
    if (this.mayGrowInto(stateId, op)) return false;
    // A reset still to be linearized that may come before `op` starts the growth afresh from its own
    // result (independent of the state it is applied to: the growth contract).
    const returnTime = this.ops[op]!.returnTime;
    const resets = this.resetOps;
    for (let i = 0; i < resets.length; i++) {
      const r = resets[i]!;
      if (this.ops[r]!.callTime > returnTime) break;
      if ((this.linearized[r >>> 5]! & (1 << (r & 31))) !== 0) continue;
      const after = this.transition(stateId, r);
      if (after >= 0 && this.mayGrowInto(after, op)) return false;
    }
    return true;
  }

  private mayGrowInto(stateId: number, op: number): boolean {
    const cell = stateId < this.transitionRows ? stateId * this.opCount + op : -1;
    let may = cell >= 0 ? this.growthMemo[cell]! : 0;
    if (may === 0) {
      const o = this.ops[op]!;
      may = this.growth!.mayGrowInto(this.states[stateId]!, o.input, o.output) ? 1 : 2;
      if (cell >= 0) this.growthMemo[cell] = may;
    }
    return may === 1;
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
   * Whether (the linearized bitset as it is now, stateId) is already in the cache; inserts it if not.
   * The caller has already set the new operation's bit.
   */
  private seenBefore(hash: number, hash2: number, stateId: number): boolean {
    const words = this.words;
    const stride = this.stride;
    const bits = this.linearized;
    const table = this.table;
    const mask = this.tableMask;
    const tag = stateId + 1;
    let i = hash & mask;
    for (;;) {
      const base = i * stride;
      const slotTag = table[base + 1]!;
      if (slotTag === 0) {
        table[base] = hash;
        table[base + 1] = tag;
        if (this.compact) table[base + 2] = hash2;
        else for (let w = 0; w < words; w++) table[base + 2 + w] = bits[w]!;
        if (++this.cacheCount * 2 > mask) this.rehash();
        return false;
      }
      if (slotTag === tag && table[base] === hash) {
        if (this.compact) {
          if (table[base + 2] === hash2) return true;
          i = (i + 1) & mask;
          continue;
        }
        let w = 0;
        while (w < words && table[base + 2 + w] === bits[w]) w++;
        if (w === words) return true;
      }
      i = (i + 1) & mask;
    }
  }

  private rehash(): void {
    const stride = this.stride;
    const old = this.table;
    const slots = (this.tableMask + 1) * 2;
    if (slots * stride * 4 > this.limits.cacheBytesMax) {
      // Keep filling the current table (up to ~3/4 before the run loop notices) rather than grow.
      this.cacheFull = true;
      if (this.cacheCount * 4 < (this.tableMask + 1) * 3) return;
    }
    const table = new Int32Array(slots * stride);
    const mask = slots - 1;
    for (let base = 0; base < old.length; base += stride) {
      if (old[base + 1] === 0) continue;
      let i = old[base]! & mask;
      while (table[i * stride + 1] !== 0) i = (i + 1) & mask;
      for (let w = 0; w < stride; w++) table[i * stride + w] = old[base + w]!;
    }
    this.table = table;
    this.tableMask = mask;
  }

  /**
   * Runs at most about `budgetSteps` steps (or until `deadlineMs` on performance.now()) and reports
   * where the search is. Call again while it answers 'running'.
   *
   * One long function on purpose: it is the hot loop, and keeping the list, bitset and stack in
   * locals (rather than fields read through `this` in helpers) is what makes it fast.
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
    const opClass = this.opClass;
    const linearized = this.linearized;
    const opKey = this.opKey;
    const opKey2 = this.opKey2;
    const callEntry = this.callEntry;
    const callState = this.callState;
    const callForced = this.callForced;
    let transitions = this.transitions;
    let transitionRows = this.transitionRows;
    let stateKey = this.stateKey;
    let stateKey2 = this.stateKey2;
    let e = this.cursor;
    let state = this.state;
    let depth = this.depth;
    let zobrist = this.zobrist;
    let zobrist2 = this.zobrist2;
    let zobristRequired = this.zobristRequired;
    const dominance = this.limits.dominance === true;
    let entering = this.entering;
    const hasReadOnly = this.hasReadOnly;
    let requiredLeft = this.requiredLeft;
    let steps = 0;
    let clock = CLOCK_EVERY_STEPS;
    let status: SearchStatus = 'ok';

    main: while (requiredLeft > 0) {
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
        if (this.cacheFull || this.states.length > this.limits.statesMax) {
          status = 'limit';
          break;
        }
      }
      let stuck = false;
      if (entering) {
        // A new configuration: if a read-only operation is enabled, its child decides (see above).
        entering = false;
        e = next[head]!;
        if (hasReadOnly)
          for (let k = e; entryIsCall[k] === 1; k = next[k]!) {
            const op = entryOp[k]!;
            if (opClass[op] !== READ_ONLY) continue;
            let after = state < transitionRows ? transitions[state * m + op]! : UNSEEN;
            if (after === UNSEEN) {
              after = this.transition(state, op);
              transitions = this.transitions;
              transitionRows = this.transitionRows;
              stateKey = this.stateKey;
              stateKey2 = this.stateKey2;
            }
            if (after < 0) {
              const hopeless = this.hopeless(state, op);
              transitions = this.transitions; // hopeless() may have interned states
              transitionRows = this.transitionRows;
              stateKey = this.stateKey;
              stateKey2 = this.stateKey2;
              if (hopeless) {
                stuck = true;
                break;
              }
              continue;
            }
            const w = op >>> 5;
            const bit = 1 << (op & 31);
            linearized[w]! |= bit;
            const key = opKey[op]!;
            const key2 = opKey2[op]!;
            if (
              this.seenBefore((zobrist ^ key ^ stateKey[after]!) | 0, (zobrist2 ^ key2 ^ stateKey2[after]!) | 0, after)
            ) {
              linearized[w]! &= ~bit;
              stuck = true; // its child is a known dead end, so this configuration is one too
              break;
            }
            callEntry[depth] = k;
            callState[depth] = state;
            callForced[depth] = 1;
            depth++;
            zobrist ^= key;
            zobrist2 ^= key2;
            zobristRequired ^= key;
            requiredLeft--;
            lift(next, prev, k, returnEntry[op]!);
            entering = true;
            continue main;
          }
      }
      if (!stuck && entryIsCall[e] === 1) {
        const op = entryOp[e]!;
        const cls = opClass[op]!;
        if (cls === READ_ONLY || cls === USELESS) {
          e = next[e]!;
          continue;
        }
        let after = state < transitionRows ? transitions[state * m + op]! : UNSEEN;
        if (after === UNSEEN) {
          after = this.transition(state, op);
          transitions = this.transitions;
          transitionRows = this.transitionRows;
          stateKey = this.stateKey;
          stateKey2 = this.stateKey2;
        }
        if (after < 0 || (cls === DEFERRABLE && after === state)) {
          e = next[e]!;
          continue;
        }
        const w = op >>> 5;
        const bit = 1 << (op & 31);
        linearized[w]! |= bit;
        const key = opKey[op]!;
        const key2 = opKey2[op]!;
        const requiredKey = cls === NORMAL ? key : 0;
        if (
          this.seenBefore((zobrist ^ key ^ stateKey[after]!) | 0, (zobrist2 ^ key2 ^ stateKey2[after]!) | 0, after) ||
          (dominance && this.dominated((zobristRequired ^ requiredKey ^ stateKey[after]!) | 0))
        ) {
          linearized[w]! &= ~bit;
          e = next[e]!;
          continue;
        }
        callEntry[depth] = e;
        callState[depth] = state;
        callForced[depth] = 0;
        depth++;
        state = after;
        zobrist ^= key;
        zobrist2 ^= key2;
        zobristRequired ^= requiredKey;
        if (cls === NORMAL) requiredLeft--;
        lift(next, prev, e, returnEntry[op]!);
        entering = true;
        continue;
      }
      // Stuck: at a return entry, or a forced child already failed. Backtrack; a failed forced
      // (read-only) choice fails its parent too, so keep popping through those.
      if (this.explain && depth > this.deepestDepth) this.recordDeepest(depth, state);
      for (;;) {
        if (depth === 0) {
          status = 'fail';
          break main;
        }
        depth--;
        e = callEntry[depth]!;
        state = callState[depth]!;
        const op = entryOp[e]!;
        linearized[op >>> 5]! &= ~(1 << (op & 31));
        zobrist ^= opKey[op]!;
        zobrist2 ^= opKey2[op]!;
        const cls = opClass[op]!;
        if (cls === NORMAL || cls === READ_ONLY) {
          requiredLeft++;
          zobristRequired ^= opKey[op]!;
        }
        unlift(next, prev, e, returnEntry[op]!);
        if (callForced[depth] === 0) break;
      }
      e = next[e]!;
    }

    this.cursor = e;
    this.state = state;
    this.depth = depth;
    this.zobrist = zobrist;
    this.zobrist2 = zobrist2;
    this.zobristRequired = zobristRequired;
    this.entering = entering;
    this.requiredLeft = requiredLeft;
    this.steps += steps;
    this.status = status;
    return status;
  }

  /**
   * With limits.dominance: whether a configuration with the same required operations linearized, the
   * same state (both in `key`) and a subset of the current unknown-outcome operations was reached
   * before; records the current one if not. Sound (see SearchLimits.dominance): the earlier
   * configuration was either explored to a dead end, or is an ancestor whose other branches include
   * every continuation of this one.
   */
  private dominated(key: number): boolean {
    const bits = this.linearized;
    const mask = this.requiredMask;
    const words = this.words;
    let list = this.reached.get(key);
    if (list === undefined) this.reached.set(key, (list = []));
    for (const seen of list) {
      let w = 0;
      for (; w < words; w++) {
        const a = seen[w]!;
        const b = bits[w]!;
        if ((a & mask[w]!) !== (b & mask[w]!) || (a & ~b) !== 0) break;
      }
      if (w === words) return true;
    }
    list.push(bits.slice());
    return false;
  }

  /** Records the stack and the operations that could go next, when deeper than ever before. */
  private recordDeepest(depth: number, state: number): void {
    this.deepestDepth = depth;
    const prefix: number[] = [];
    for (let d = 0; d < depth; d++) prefix.push(this.entryOp[this.callEntry[d]!]!);
    const candidateOps: number[] = [];
    let k = this.next[this.head]!;
    for (; k !== NIL && this.entryIsCall[k] === 1; k = this.next[k]!) {
      const op = this.entryOp[k]!;
      if (this.opClass[op] !== USELESS) candidateOps.push(op);
    }
    assert(k !== NIL, 'a stuck search stops at a return entry');
    this.deepest = { prefix, stateId: state, blockingOp: this.entryOp[k]!, candidateOps };
  }

  /**
   * After 'ok': the linearization found (operation indexes in order). Operations with unknown outcome
   * that the search did not need come last.
   */
  linearization(): number[] {
    assert(this.status === 'ok', 'linearization() after a successful search');
    const order: number[] = [];
    const done = new Uint8Array(this.opCount);
    for (let d = 0; d < this.depth; d++) {
      const op = this.entryOp[this.callEntry[d]!]!;
      order.push(op);
      done[op] = 1;
    }
    for (let op = 0; op < this.opCount; op++) if (done[op] === 0) order.push(op);
    return order;
  }
}

/** Unlinks a call entry and then its return entry (a call is never last: its return follows). */
function lift(next: Int32Array, prev: Int32Array, call: number, ret: number): void {
  const p = prev[call]!;
  const n = next[call]!;
  next[p] = n;
  prev[n] = p;
  const rp = prev[ret]!;
  const rn = next[ret]!;
  next[rp] = rn;
  if (rn !== NIL) prev[rn] = rp;
}

/** Relinks a return entry and then its call entry, undoing `lift` (the entries kept their links). */
function unlift(next: Int32Array, prev: Int32Array, call: number, ret: number): void {
  const rn = next[ret]!;
  next[prev[ret]!] = ret;
  if (rn !== NIL) prev[rn] = ret;
  next[prev[call]!] = call;
  prev[next[call]!] = call;
}
