/**
 * checkHistory: P-compositional linearizability checking (Horn & Kroening 2015) on top of the
 * Wing–Gong/Lowe search in search.ts.
 *
 * The model splits the history into independent partitions (per key). They are searched
 * "fastest first": all partitions advance in interleaved slices of search steps, smallest first, with
 * the slice doubling every round, and the first partition that fails ends the check. This is the
 * sequential stand-in for Porcupine's one goroutine per partition with a kill switch: a hard but
 * linearizable partition (key "0" of kv c50-bad) cannot hold up the verdict on an easy failing one.
 */
import { assert } from '../../../core/assert.js';
import { PartitionSearch } from './search.js';
import type { CheckOptions, CheckResult, Explanation, LinOp, Model } from './types.js';

/** Interned states per partition before giving up ('unknown'): kv states are strings of ~0.5 KB. */
const STATES_MAX_DEFAULT = 1 << 20;
/** Bytes of configuration cache per partition before giving up ('unknown'). */
const CACHE_BYTES_MAX_DEFAULT = 512 << 20;
/** Search steps a partition gets in the first round. */
const FIRST_SLICE_STEPS = 4096;
/** Growth of the slice per round: every partition gets about as much work as the fastest to finish. */
const SLICE_GROWTH = 1.5;

export function checkHistory<S, I, O>(ops: readonly LinOp<I, O>[], model: Model<S, I, O>, options: CheckOptions = {}): CheckResult {
  const startMs = performance.now();
  const deadlineMs = options.timeoutMs !== undefined ? startMs + options.timeoutMs : Infinity;
  const explain = options.explain ?? true;
  for (const op of ops) assert(op.returnTime >= op.callTime, `operation ${op.id} returns (${op.returnTime}) before it is called (${op.callTime})`);
  const prepared = model.prepare ? model.prepare(ops) : ops.slice();
  const parts = (model.partition ? model.partition(prepared) : [{ label: '', ops: prepared }]).filter((p) => p.ops.length > 0);
  parts.sort((a, b) => a.ops.length - b.ops.length);

  const limits = {
    statesMax: options.statesMax ?? STATES_MAX_DEFAULT,
    cacheBytesMax: options.cacheBytesMax ?? CACHE_BYTES_MAX_DEFAULT,
    reductions: options.reductions ?? true,
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
      const status = entry.search.run(slice, deadlineMs);
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
  const result: CheckResult = { linearizable: verdict, ms, steps, partitions: searches.length, ...(reason ? { unknownReason: reason } : {}) };
  if (failed && explain) return { ...result, explanation: explainFailure(model, failed.label, failed.search) };
  if (verdict === true && explain) {
    const linearizations = searches.map(({ label, search }) => ({ partition: label, order: search.linearization().map((i) => search.ops[i]!.id) }));
    return { ...result, linearizations };
  }
  return result;
}

/** Turns the deepest point of a failed search into an Explanation. */
export function explainFailure<S, I, O>(model: Model<S, I, O>, label: string, search: PartitionSearch<S, I, O>): Explanation {
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
    `Then ${describe(blocking)} has returned, so it must take effect next or after one of the operations concurrent with it, but none can be ordered:`,
    ...candidates.map((c) => `  #${c.id} ${c.description}: ${c.rejected === 'model' ? `impossible in state ${stateText}` : 'every order starting with it leads to a dead end'}`),
  ];
  if (deepest.prefix.length > 0) {
    const tail = deepest.prefix.slice(-5).map(describe).join(', ');
    lines.push(`Prefix ends with: ${deepest.prefix.length > 5 ? '…, ' : ''}${tail}.`);
  }
  return {
    partition: label,
    partitionOps: ops.length,
    longestPrefix: deepest.prefix.map((i) => ops[i]!.id),
    stateAfterPrefix: stateText,
    blocking: { id: ops[blocking]!.id, description: model.describeOperation(ops[blocking]!.input, ops[blocking]!.output) },
    candidates,
    text: lines.join('\n'),
  };
}
