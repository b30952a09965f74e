/**
 * Linearizability checker: the Wing–Gong/Lowe search with memoisation and P-compositionality, as
 * Porcupine does it, plus sound reductions (see search.ts). Files: search.ts (the search), check.ts
 * (partitions, verdict, explanation), models.ts (etcd, kv, register), parse.ts (Jepsen etcd logs,
 * Jepsen EDN kv logs, our JSON lines), oracle.ts (brute force, for tests), synthetic.ts (generator).
 *
 * Checking a simulator run (sim/history.ts):
 *
 *     const ops = historyToLinOps(history.ops, (op) => ['read', 'write', 'cas'].includes(op.f));
 *     // or, from a file: parseHistoryJsonLines(text)
 *     const result = checkHistory(ops, registerModel, { timeoutMs: 10_000 });
 *     if (result.linearizable === false) console.log(result.explanation!.text);
 *
 * The `register` model reads History operations per `key`, with these shapes:
 *   - f 'read' (or 'get'): output = the value read, null/undefined when the key is absent (a Consul
 *     404), or an object with a `value` field. Only reads meant to be linearizable (default or
 *     consistent mode, never `stale`) belong in the history.
 *   - f 'write' (or 'put'/'set'): input = the value (or {value}).
 *   - f 'cas': input = {from, to} (also {expected, value} or [from, to]); from = null means "only if
 *     absent" (Consul `?cas=0`). Outcome ok = swapped, fail = observed another value. Consul's cas is
 *     by ModifyIndex: a workload that writes unique values can translate `?cas=<index of the value it
 *     read>` into from = that value.
 *   - f 'delete': the key becomes absent.
 *   - outcome 'fail' of anything but a cas means it did not happen (dropped); 'unknown' or no
 *     completion means it may or may not have happened, at any time after its invocation.
 *
 * Adding a model: implement `Model` (types.ts): init, step(state, input, output) → {ok, next} (output
 * may be UNKNOWN: accept anything), hash/equal of states (primitive states are interned by value),
 * describeOperation/describeState, and optionally partition (P-compositionality), readOnly,
 * acceptsUnknown and growth (reductions; each documented on the interface). Then add it to `models`
 * in models.ts so `conclave check lin --model NAME` finds it, and run the oracle property test
 * (lin.prop.test.ts) against it.
 */
export { checkHistory, explainFailure } from './check.js';
export { PartitionSearch } from './search.js';
export {
  etcdModel,
  groupSlots,
  groupTreeText,
  kvGroupModel,
  kvModel,
  registerModel,
  models,
  partitionByKey,
  runGroupTxn,
} from './models.js';
export type { GroupTxnOp, GroupTxnOutput } from './models.js';
export {
  parseEtcdLog,
  parseKvEdn,
  parseHistoryJsonLines,
  historyToLinOps,
  parseHistory,
  detectFormat,
} from './parse.js';
export type { HistoryFormat, ParsedOp } from './parse.js';
export { UNKNOWN } from './types.js';
export type {
  CheckOptions,
  CheckResult,
  Explanation,
  LinOp,
  Model,
  RegisterInput,
  StepResult,
  Unknown,
  Verdict,
} from './types.js';
export { bruteForceLinearizable, checkOrder, precedes, ORACLE_OPS_MAX } from './oracle.js';
export { syntheticRegisterHistory, syntheticDefaults, type SyntheticConfig } from './synthetic.js';
