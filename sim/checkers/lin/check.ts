/**
 * checkHistory: P-compositional linearizability checking (Horn & Kroening 2015) on top of the
 * Wing–Gong/Lowe search in search.ts.
 *
 * The model splits the history into independent partitions (per key). They are searched
 * "fastest first": all partitions advance in interleaved slices of search steps, smallest first, with
 * the slice growing every round, and the first partition that fails ends the check. This is the
 * sequential stand-in for Porcupine's one goroutine per partition with a kill switch: a hard but
 * linearizable partition (key "0" of kv c50-bad) cannot hold up the verdict on an easy failing one.
 */
import { assert } from '../../../core/assert.js';
import { trialWithRelaxed } from './core-trial.js';
import { PartitionSearch, type SearchLimits } from './search.js';
import type { CheckOptions, CheckResult, Explanation, LinOp, Model, Unknown } from './types.js';
import { UNKNOWN } from './types.js';

/** Interned states per partition before giving up ('unknown'): kv states are strings of ~0.5 KB. */
const STATES_MAX_DEFAULT = 1 << 20;
/** Bytes of configuration cache per partition before giving up ('unknown'). */
const CACHE_BYTES_MAX_DEFAULT = 512 << 20;
/** Search steps the hunt for a minimal core of a violation may take, beyond the check itself. */
const EXPLAIN_BUDGET_STEPS_DEFAULT = 2_000_000;
/** Operations of the core listed in the text (the Explanation object has them all). */
const CORE_LINES_MAX = 20;
/** Search steps one trial of that hunt may take. */
const CORE_TRIAL_STEPS_MAX = 50_000;
/**
 * Sets of at most this many operations are tried one by one before delta debugging (a small core).
 * The bound, and why not 4: with 24 anchors and 10 partners each the hunt has at most 24 + 240 +
 * 24·C(10,2) = 1,344 distinct sets up to size 3; size 4 would add 24·C(10,3) = 2,880 more, each a
 * trial of up to SMALL_CORE_TRIAL_STEPS_MAX steps, on the failing runs' common path (the explanation
 * of every failing seed an explorer prints). Every planted stale read of kv/planted-stale-leader-reads
 * seeds 1–8 is explained by 2 or 3 operations (session 5's measurement); a violation that needs 4 or
 * more, or whose witnesses are not among an anchor's 10 partners, gets ddmin's 1-minimal set instead,
 * which the explanation calls "a minimal set" only when no trial ran out of steps.
 */
const SMALL_CORE_SIZE_MAX = 3;
/** Operations the small-core hunt builds sets around (the blocking one first, then observations). */
const SMALL_CORE_ANCHORS_MAX = 24;
/** Other operations tried with each anchor: those mentioning one of its values first, then the nearest. */
const SMALL_CORE_PARTNERS_MAX = 10;
/** Search steps one trial of the small-core hunt may take (a small set fails fast when it fails). */
const SMALL_CORE_TRIAL_STEPS_MAX = 20_000;
/** Steps of the depth-first look for a linearization of a hunt's set before the breadth-first proof. */
const SMALL_CORE_QUICK_STEPS = 500;
/** Share of the explanation's budget the small-core hunt may spend before delta debugging starts. */
const SMALL_CORE_BUDGET_SHARE = 0.75;
/** Search steps a partition gets in the first round. */
const FIRST_SLICE_STEPS = 4096;
/** Growth of the slice per round: every partition gets about as much work as the fastest to finish. */
const SLICE_GROWTH = 1.5;

export function checkHistory<S, I, O>(
  ops: readonly LinOp<I, O>[],
  model: Model<S, I, O>,
  options: CheckOptions = {},
): CheckResult {
  const startMs = performance.now();
  const deadlineMs = options.timeoutMs !== undefined ? startMs + options.timeoutMs : Infinity;
  const explain = options.explain ?? true;
  for (const op of ops)
    assert(
      op.returnTime >= op.callTime,
      `operation ${op.id} returns (${op.returnTime}) before it is called (${op.callTime})`,
    );
  const prepared = model.prepare ? model.prepare(ops) : ops.slice();
  const parts = (model.partition ? model.partition(prepared) : [{ label: '', ops: prepared }]).filter(
    (p) => p.ops.length > 0,
  );
  parts.sort((a, b) => a.ops.length - b.ops.length);

  const limits = {
    statesMax: options.statesMax ?? STATES_MAX_DEFAULT,
    cacheBytesMax: options.cacheBytesMax ?? CACHE_BYTES_MAX_DEFAULT,
    reductions: options.reductions ?? true,
    cache: options.cache ?? ('auto' as const),
  };
  const searches = parts.map((p) => ({ label: p.label, search: new PartitionSearch(model, p.ops, explain, limits) }));
  let reason: 'timeout' | 'limit' | undefined;
  let active = searches.slice();
  let slice = FIRST_SLICE_STEPS;
  let verdict: true | false | 'unknown' = true;
  let failed: (typeof searches)[number] | undefined;
  while (active.length > 0 && verdict === true) {
    const still: typeof active = [];
    for (const entry of active) {
      let status = entry.search.run(slice, deadlineMs);
      if (status === 'fail' && entry.search.compact) {
        // Hash compaction may have pruned a live branch on a fingerprint collision: confirm exactly.
        const exact = new PartitionSearch(model, entry.search.ops, explain, { ...limits, cache: 'exact' });
        status = exact.run(Infinity, deadlineMs);
        entry.search = exact;
      }
      if (status === 'running') still.push(entry);
      else if (status === 'fail') {
        verdict = false;
        failed = entry;
        break;
      } else if (status === 'timeout' || status === 'limit') {
        verdict = 'unknown';
        reason = status;
        break;
      }
    }
    active = still;
    slice = Math.ceil(slice * SLICE_GROWTH);
    if (verdict === true && active.length > 0 && performance.now() > deadlineMs) {
      verdict = 'unknown';
      reason = 'timeout';
    }
  }
  const ms = performance.now() - startMs;
  const steps = searches.reduce((sum, s) => sum + s.search.steps, 0);
  const result: CheckResult = {
    linearizable: verdict,
    ms,
    steps,
    partitions: searches.length,
    ...(reason ? { unknownReason: reason } : {}),
  };
  if (failed && explain) {
    const explanation = explainFailure(
      model,
      failed.label,
      failed.search,
      options.explainBudgetSteps ?? EXPLAIN_BUDGET_STEPS_DEFAULT,
      limits,
    );
    return { ...result, explanation };
  }
  if (verdict === true && explain) {
    const linearizations = searches.map(({ label, search }) => ({
      partition: label,
      order: search.linearization().map((i) => search.ops[i]!.id),
    }));
    return { ...result, linearizations };
  }
  return result;
}

/**
 * A small set of operations of a failing partition that cannot be linearized together.
 *
 * Relaxing an operation turns it into "unknown outcome, no response": it may take effect at any time
 * after its call, with any output, or never. That only adds linearizations, so if the partition is
 * still not linearizable with some operations relaxed, the ones kept strict are a violation on their
 * own, whatever the relaxed ones did. The set is shrunk by delta debugging (Zeller & Hildebrandt 2002,
 * ddmin, relaxing a complement chunk per trial). First, a hunt tries sets of 1, 2 and 3 operations
 * (`smallCore`, up to a share of the budget); when it finds none, trials that keep only a growing time
 * window before the blocking operation's response start the ddmin. Trials are bounded in search steps, so the result
 * does not depend on machine load; it is 1-minimal when no trial ran out of steps and the total
 * budget held.
 * Returns partition indexes of the strict operations, ordered by call time.
 */
export function findCore<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly LinOp<I, O>[],
  blockingOp: number,
  budgetSteps: number,
  limits: SearchLimits,
): { core: number[]; minimal: boolean } {
  let spent = 0;
  let minimal = true;
  /**
   * Whether the partition still fails with only `strict` kept strict. A trial that runs out of steps
   * counts as "does not fail" (the core stays sound) and, unless `hunting`, costs the 1-minimal claim.
   */
  /** The partition with every operation but `strict` relaxed to unknown outcome, no response. */
  const relax = (strict: readonly number[]): LinOp<I, O | Unknown>[] => {
    const keep = new Uint8Array(ops.length);
    for (const i of strict) keep[i] = 1;
    return ops.map((op, i) => (keep[i] === 1 ? op : { ...op, output: UNKNOWN as O | Unknown, returnTime: Infinity }));
  };
  const fails = (strict: readonly number[], stepsMax = CORE_TRIAL_STEPS_MAX, hunting = false): boolean => {
    // Exact cache: a "fail" must be real for the core to be sound (trials are step-bounded anyway).
    const search = new PartitionSearch(model, relax(strict), false, { ...limits, cache: 'exact', dominance: true });
    const allowed = Math.min(CORE_TRIAL_STEPS_MAX, budgetSteps - spent);
    const status = search.run(allowed);
    spent += search.steps;
    if (status === 'fail') return true;
    if (status !== 'ok') minimal = false;
    return false;
  };
  const byCall = (a: number, b: number): number => ops[a]!.callTime - ops[b]!.callTime || a - b;
  let strict = ops.map((_, i) => i).filter((i) => !(ops[i]!.output === UNKNOWN && ops[i]!.returnTime === Infinity));
  strict.sort(byCall);
  const small =
    model.acceptsUnknown === true
      ? smallCore(model, ops, strict, blockingOp, (set) => {
          const allowed = Math.min(SMALL_CORE_TRIAL_STEPS_MAX, budgetSteps * SMALL_CORE_BUDGET_SHARE - spent);
          if (allowed <= 0) return undefined;
          // Most sets tried do not fail, and a depth-first search finds their linearization at once;
          // breadth first is for proving that one fails.
          const quick = new PartitionSearch(model, relax(set), false, { ...limits, cache: 'exact', dominance: true });
          const status = quick.run(Math.min(SMALL_CORE_QUICK_STEPS, allowed));
          spent += quick.steps;
          if (status === 'ok') return false;
          const trial = trialWithRelaxed(model, ops, set, Math.max(0, allowed - quick.steps));
          spent += trial.steps;
          return trial.status === 'fail';
        })
      : undefined;
  if (small !== undefined) strict = small;
  else {
    // Cheap first trials: keep strict only the operations overlapping a time window that ends at the
    // blocking operation's response and reaches back further and further.
    const blocking = ops[blockingOp]!;
    const span = blocking.returnTime - blocking.callTime;
    for (let reach = Math.max(1, span); ; reach *= 2) {
      const from = blocking.callTime - reach;
      const window = strict.filter((i) => ops[i]!.callTime <= blocking.returnTime && ops[i]!.returnTime >= from);
      if (window.length === strict.length) break;
      if (window.length > 0 && fails(window)) {
        strict = window;
        break;
      }
      if (spent >= budgetSteps) break;
    }
  }
  // Read-only operations first: relaxing them costs the search nothing (they become free to drop),
  // so the early, cheap chunks of ddmin remove them, and the costly trials come later on fewer ops.
  const readOnly = (i: number): boolean => (model.readOnly ? model.readOnly(ops[i]!.input, ops[i]!.output) : false);
  strict.sort((a, b) => Number(readOnly(b)) - Number(readOnly(a)) || byCall(a, b));
  let chunks = 2;
  while (strict.length >= 2 && spent < budgetSteps) {
    const size = Math.ceil(strict.length / chunks);
    let reduced = false;
    for (let start = 0; start < strict.length && spent < budgetSteps; start += size) {
      const complement = strict.slice(0, start).concat(strict.slice(start + size));
      if (complement.length > 0 && fails(complement)) {
        strict = complement;
        chunks = Math.max(chunks - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (chunks >= strict.length) break;
      chunks = Math.min(chunks * 2, strict.length);
    }
  }
  if (spent >= budgetSteps) minimal = false;
  strict.sort(byCall);
  return { core: strict, minimal };
}

/**
 * Delta debugging finds a 1-minimal core, which can still be far from the smallest: a stale read is
 * shown by the two or three operations around it (the write or swap of the value read, the one that
 * replaced it, the read), while ddmin, relaxing chunks in call order, may settle on a dozen deletes
 * and reads of nil elsewhere in the partition. So first try every set of 1, 2, then 3 operations
 * built around an anchor (the operation the search got stuck on, then the other observations: reads
 * and failed swaps, nearest first) with partners that mention one of the anchor's values, then the
 * nearest in time. `fails` answers undefined once the hunt's share of the budget is spent.
 * Returns the first failing set (partition indexes), or undefined.
 */
export function smallCore<I, O>(
  model: Model<unknown, I, O> | Model<never, I, O>,
  ops: readonly LinOp<I, O>[],
  candidates: readonly number[],
  blockingOp: number,
  fails: (set: readonly number[]) => boolean | undefined,
): number[] | undefined {
  const readOnly = (i: number): boolean => model.readOnly?.(ops[i]!.input, ops[i]!.output) ?? false;
  const mentions = (i: number): readonly unknown[] => model.mentions?.(ops[i]!.input, ops[i]!.output) ?? [];
  /** Wall-clock gap between two operations' intervals (0 when they overlap). */
  const gap = (a: number, b: number): number => {
    const x = ops[a]!;
    const y = ops[b]!;
    return Math.max(0, x.callTime - y.returnTime, y.callTime - x.returnTime);
  };
  const around = (a: number): number => (a === blockingOp ? -1 : readOnly(a) ? 0 : 1);
  const anchors = candidates
    .slice()
    .sort((a, b) => around(a) - around(b) || gap(a, blockingOp) - gap(b, blockingOp) || a - b)
    .slice(0, SMALL_CORE_ANCHORS_MAX);
  const partnersOf = (a: number): number[] => {
    const values = mentions(a);
    const shares = (i: number): number => (mentions(i).some((v) => values.includes(v)) ? 0 : 1);
    return candidates
      .filter((i) => i !== a)
      .sort((x, y) => shares(x) - shares(y) || gap(x, a) - gap(y, a) || x - y)
      .slice(0, SMALL_CORE_PARTNERS_MAX);
  };
  const partners = anchors.map(partnersOf);
  for (let size = 1; size <= SMALL_CORE_SIZE_MAX; size++) {
    const tried = new Set<string>();
    for (let k = 0; k < anchors.length; k++) {
      const anchor = anchors[k]!;
      const others = partners[k]!;
      const sets: number[][] =
        size === 1
          ? [[anchor]]
          : size === 2
            ? others.map((p) => [anchor, p])
            : others.flatMap((p, i) => others.slice(i + 1).map((q) => [anchor, p, q]));
      for (const set of sets) {
        const sorted = set.slice().sort((x, y) => x - y);
        const key = sorted.join(',');
        if (tried.has(key)) continue;
        tried.add(key);
        const verdict = fails(sorted);
        if (verdict === undefined) return undefined;
        if (verdict) return sorted;
      }
    }
  }
  return undefined;
}

/** Turns the deepest point of a failed search into an Explanation. */
export function explainFailure<S, I, O>(
  model: Model<S, I, O>,
  label: string,
  search: PartitionSearch<S, I, O>,
  coreBudgetSteps = EXPLAIN_BUDGET_STEPS_DEFAULT,
  limits: SearchLimits = { statesMax: STATES_MAX_DEFAULT, cacheBytesMax: CACHE_BYTES_MAX_DEFAULT },
): Explanation {
  const deepest = search.deepest;
  assert(deepest !== undefined, 'a failed search records where it got stuck');
  const ops = search.ops;
  const describe = (i: number): string => `#${ops[i]!.id} ${model.describeOperation(ops[i]!.input, ops[i]!.output)}`;
  const candidates = deepest.candidateOps.map((i) => ({
    id: ops[i]!.id,
    description: model.describeOperation(ops[i]!.input, ops[i]!.output),
    rejected: search.transition(deepest.stateId, i) < 0 ? ('model' as const) : ('dead-end' as const),
  }));
  const stateText = model.describeState(search.stateOf(deepest.stateId));
  const blocking = deepest.blockingOp;
  const where = label !== '' ? ` (key ${JSON.stringify(label)})` : '';
  const lines = [
    `Longest linearizable prefix${where}: ${deepest.prefix.length} of ${ops.length} operations, leaving state ${stateText}.`,
    `Next, ${describe(blocking)} must take effect before its response, but no operation that may go next can be linearized:`,
    ...candidates.map(
      (c) =>
        `  #${c.id} ${c.description}: ${c.rejected === 'model' ? `impossible in state ${stateText}` : 'every order starting with it leads to a dead end'}`,
    ),
  ];
  if (deepest.prefix.length > 0) {
    const tail = deepest.prefix.slice(-5).map(describe).join(', ');
    lines.push(`Prefix ends with: ${deepest.prefix.length > 5 ? '…, ' : ''}${tail}.`);
  }
  const { core, minimal } = findCore(model, ops, blocking, coreBudgetSteps, limits);
  const time = (t: number): string => (t === Infinity ? '∞' : String(t));
  const coreOps = core.map((i) => ({
    id: ops[i]!.id,
    description: model.describeOperation(ops[i]!.input, ops[i]!.output),
    callTime: ops[i]!.callTime,
    returnTime: ops[i]!.returnTime,
  }));
  lines.push(
    `${minimal ? 'A minimal' : 'A'} set of ${core.length} operations that cannot be linearized together, whatever the other ${ops.length - core.length} did (each at any time after its call, or never)${minimal ? '' : ' (the search for a smaller one ran out of steps)'}:`,
    ...coreOps
      .slice(0, CORE_LINES_MAX)
      .map((c) => `  #${c.id} ${c.description}  [${time(c.callTime)}, ${time(c.returnTime)}]`),
  );
  if (coreOps.length > CORE_LINES_MAX)
    lines.push(`  … and ${coreOps.length - CORE_LINES_MAX} more (all are in explanation.core)`);
  return {
    partition: label,
    partitionOps: ops.length,
    longestPrefix: deepest.prefix.map((i) => ops[i]!.id),
    stateAfterPrefix: stateText,
    blocking: {
      id: ops[blocking]!.id,
      description: model.describeOperation(ops[blocking]!.input, ops[blocking]!.output),
    },
    candidates,
    core: coreOps,
    coreMinimal: minimal,
    text: lines.join('\n'),
  };
}
