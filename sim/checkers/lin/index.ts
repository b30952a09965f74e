/**
 * Linearizability checker: Wing–Gong/Lowe search with P-compositionality and memoisation, as
 * Porcupine does it. See search.ts (the search), check.ts (partitions, verdict, explanation),
 * models.ts (etcd, kv, register) and parse.ts (Jepsen etcd logs, Jepsen EDN kv logs, our JSON lines).
 */
export { checkHistory, explainFailure } from './check.js';
export { PartitionSearch } from './search.js';
export { etcdModel, kvModel, registerModel, models, partitionByKey } from './models.js';
export { parseEtcdLog, parseKvEdn, parseHistoryJsonLines, parseHistory, detectFormat } from './parse.js';
export type { HistoryFormat, ParsedOp } from './parse.js';
export { UNKNOWN } from './types.js';
export type { CheckOptions, CheckResult, Explanation, LinOp, Model, RegisterInput, StepResult, Unknown, Verdict } from './types.js';
export { bruteForceLinearizable, checkOrder, precedes, ORACLE_OPS_MAX } from './oracle.js';
export { syntheticRegisterHistory, syntheticDefaults, type SyntheticConfig } from './synthetic.js';
