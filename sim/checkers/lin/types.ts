/**
 * Types shared by the linearizability checker (Wing & Gong 1993; Lowe 2017, "Testing for
 * linearizability"; Horn & Kroening 2015, "Faster linearizability checking via P-compositionality"),
 * the models it checks against and the parsers that produce its histories.
 *
 * A history is a list of `LinOp`: one per client operation, with the interval in which it took effect
 * (`callTime` to `returnTime`) and what the client observed. The checker searches for a total order of
 * the operations that respects real time (an operation that returned before another was called comes
 * first) and that the sequential `Model` accepts.
 */

/**
 * The output of an operation whose outcome is unknown (timed out, the node crashed). It may or may not
 * have taken effect, at any moment after its call; a model must accept any result for it. The parsers
 * give such an operation `returnTime = +Infinity`, so it is concurrent with everything that follows.
 */
export const UNKNOWN: unique symbol = Symbol('unknown outcome');
export type Unknown = typeof UNKNOWN;

export interface LinOp<I = unknown, O = unknown> {
  /**
   * Names the operation in explanations and witnesses; unique within a history (the parsers use the
   * order of invocation, or our History's own op ids).
   */
  readonly id: number;
  /** The client (Jepsen "process") that issued it. */
  readonly process: number;
  readonly input: I;
  /** What the client observed, or UNKNOWN. */
  readonly output: O | Unknown;
  /** Logical or physical time of the invocation. */
  readonly callTime: number;
  /** Time of the response; +Infinity when the outcome is unknown. Invariant: returnTime >= callTime. */
  readonly returnTime: number;
}

/** The common operation shape all our parsers produce and all built-in models read. */
export interface RegisterInput {
  /** read/get, write/put/set, cas, append, delete. */
  readonly f: string;
  /** The key the operation touches; absent for a single-register history (etcd). */
  readonly key?: string;
  /** Argument of write/put/append. */
  readonly value?: unknown;
  /** cas(from, to): swap to `to` iff the current value equals `from` (null = absent). */
  readonly from?: unknown;
  readonly to?: unknown;
}

export interface StepResult<S> {
  /** Whether the sequential specification allows this output from this state. */
  readonly ok: boolean;
  /** The state after the operation (meaningless when !ok). */
  readonly next: S;
}

/**
 * A sequential specification. Implement this to check a new kind of object.
 *
 * States must be values: `step` never mutates its argument. The checker interns states by
 * `hash`/`equal` and memoises `step` per (state, operation), so a model may allocate freely.
 */
export interface Model<S = unknown, I = unknown, O = unknown> {
  readonly name: string;
  /** The initial state of one partition. */
  init(): S;
  /** Apply `input` in `state`, given that the client saw `output` (possibly UNKNOWN: accept anything). */
  step(state: S, input: I, output: O | Unknown): StepResult<S>;
  /**
   * P-compositionality (Herlihy & Wing 1990 §3.3, Horn & Kroening 2015): split the history into
   * independent sub-histories, each checked from `init()`. The whole history is linearizable iff every
   * part is. Omit for an object that cannot be split. Each part keeps the ops' ids.
   */
  partition?(ops: readonly LinOp<I, O>[]): { label: string; ops: LinOp<I, O>[] }[];
  /** Optional clean-up before checking (e.g. drop operations known not to have happened). */
  prepare?(ops: readonly LinOp<I, O>[]): LinOp<I, O>[];
  /**
   * A 32-bit hash of a state; equal states must hash equally. Used for object states only: primitive
   * states (string, number, boolean, null) are interned by value (SameValueZero) without calling
   * hash/equal, so for them `equal` must agree with ===.
   */
  hash(state: S): number;
  equal(a: S, b: S): boolean;
  describeOperation(input: I, output: O | Unknown): string;
  describeState(state: S): string;
  /**
   * Optional, for speed. True when the operation never changes the state whenever the model accepts
   * it (a read; a cas that returned false). The search then linearizes such an operation as soon as
   * it may and does not try the alternatives: any valid order can be rewritten to put it first
   * (a partial-order reduction). Returning false is always safe.
   */
  readOnly?(input: I, output: O | Unknown): boolean;
  /**
   * Optional, for speed. True when `step(state, input, UNKNOWN).ok` holds for every state and input.
   * Operations with unknown outcome and no response (+∞) can then always be put at the very end, so
   * the search finishes once every other operation is linearized, and never linearizes such an
   * operation at a point where it would not change the state (it can as well be deferred).
   */
  readonly acceptsUnknown?: boolean;
  /**
   * Optional, for explanations. The values an operation reads or writes (a register's value read,
   * written, compared or swapped in), compared with ===. The hunt for a small core of a violation
   * tries operations that mention a value the anomaly's operation mentions first. Omit it: the hunt
   * then pairs operations by time only.
   */
  mentions?(input: I, output: O | Unknown): readonly unknown[];
  /**
   * Optional pruning for a state that only grows between "resets" (kv: append extends the string,
   * put replaces it). A reset's resulting state must not depend on the state it is applied to.
   * `mayGrowInto(state, input, output)` must return false only when no sequence of non-reset
   * operations takes `state` to one where that read-only operation is accepted. The search then
   * abandons a configuration in which a pending read-only operation can be accepted neither now, nor
   * after growth from the current state, nor after growth from any reset that could still be
   * linearized before the read's response.
   */
  readonly growth?: {
    isReset(input: I): boolean;
    mayGrowInto(state: S, input: I, output: O | Unknown): boolean;
  };
}

export type Verdict = true | false | 'unknown';

/** Why a history is not linearizable: what the search got furthest with, in one partition. */
export interface Explanation {
  /** Label of the failing partition (the key), or '' when the model is not partitioned. */
  readonly partition: string;
  /** Operations in the partition. */
  readonly partitionOps: number;
  /**
   * The longest linearizable prefix the search found (op ids in linearization order), as Porcupine's
   * partial linearizations: a valid sequential order of these ops that respects real time.
   */
  readonly longestPrefix: number[];
  /** The model state after that prefix, described by the model. */
  readonly stateAfterPrefix: string;
  /**
   * The operation whose response forces it to take effect next, but which cannot: after the prefix,
   * neither it nor any operation concurrent with it can be applied (or every choice was already shown
   * to lead to a dead end).
   */
  readonly blocking: { id: number; description: string };
  /** The operations that could have been ordered next (including `blocking`) and why each fails. */
  readonly candidates: { id: number; description: string; rejected: 'model' | 'dead-end' }[];
  /**
   * A set of operations that cannot be linearized together even if every other operation of the
   * partition took effect at any time after its call or never (so they alone prove the violation),
   * ordered by call time; 1-minimal when `coreMinimal`.
   */
  readonly core: { id: number; description: string; callTime: number; returnTime: number }[];
  readonly coreMinimal: boolean;
  /** A few human sentences. */
  readonly text: string;
}

export interface CheckResult {
  readonly linearizable: Verdict;
  readonly explanation?: Explanation;
  /** Checking time, excluding parsing. */
  readonly ms: number;
  /** Search steps taken (entries visited), summed over partitions. */
  readonly steps: number;
  readonly partitions: number;
  /** Why the verdict is 'unknown': out of time, or a memory limit reached. */
  readonly unknownReason?: 'timeout' | 'limit';
  /**
   * When linearizable (and `explain` is on): a witness, one sequential order of op ids per partition
   * that respects real time and that the model accepts.
   */
  readonly linearizations?: { partition: string; order: number[] }[];
}

export interface CheckOptions {
  /** Give up after this long and answer 'unknown'. Default: no limit. */
  readonly timeoutMs?: number;
  /** Build an explanation when the history is not linearizable (default true). */
  readonly explain?: boolean;
  /** Search steps the explanation may spend looking for a minimal core (default 2,000,000). */
  readonly explainBudgetSteps?: number;
  /**
   * Use the model's optional reduction hooks (readOnly, acceptsUnknown, growth); default true. False
   * runs exactly Porcupine's search (same verdicts, more steps): for comparison and cross-checking.
   */
  readonly reductions?: boolean;
  /**
   * The configuration cache: 'exact' bitsets (Porcupine), 'compact' 64-bit fingerprints (hash
   * compaction: 12 bytes per configuration whatever the history length; a failure is then confirmed
   * by an exact search, so verdicts stay exact), or 'auto' (default): compact for partitions of more
   * than 256 operations.
   */
  readonly cache?: 'exact' | 'compact' | 'auto';
  /** Give up ('unknown') when a partition has interned this many states (default 2^20). */
  readonly statesMax?: number;
  /** Give up ('unknown') when a partition's configuration cache would exceed this (default 512 MiB). */
  readonly cacheBytesMax?: number;
}
