/**
 * KV transactions (`PUT /v1/txn`), following Consul's txnKVS (agent/consul/state/txn.go): every op runs
 * in order against the state as the earlier ops left it; an op that fails records
 * `{OpIndex, What}` and the rest still run (so all errors are reported); if any failed, every write
 * is undone (all-or-nothing). Results carry the entry for each op that has one, with the value
 * blanked except for get verbs; delete verbs and check-not-exists add no result.
 *
 * One divergence, on purpose: Consul checks lock-delay only in KVS.Apply, not in a txn `lock`; we
 * honour it in both, so no path can take a key during its lock-delay.
 */
import { checkKvWrite, kvCas, kvDelete, kvDeleteCas, kvDeleteTree, kvList, kvLock, kvSet, kvUnlock } from './kv.js';
import { beginTxn, commitTxn, rollbackTxn, type StoreState } from './state.js';
import { txnOpsMax, txnVerbs, type KvEntry, type TxnError, type TxnKvOp, type TxnOutcome } from './types.js';

/** Problems that refuse the whole transaction before it runs (Consul's endpoint checks). */
export function checkTxnOps(ops: readonly TxnKvOp[] | undefined): string | null {
  if (!Array.isArray(ops)) return 'txn ops must be a list';
  if (ops.length > txnOpsMax) return `Transaction contains too many operations (${ops.length} > ${txnOpsMax})`;
  return null;
}

export function applyTxn(state: StoreState, index: number, ops: readonly TxnKvOp[], nowMs: number): TxnOutcome {
  const results: { KV: KvEntry }[] = [];
  const errors: TxnError[] = [];
  beginTxn(state);
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const outcome = applyOp(state, index, op, nowMs);
    if (typeof outcome === 'string') errors.push({ OpIndex: i, What: outcome });
    else for (const entry of outcome) results.push({ KV: entry });
  }
  if (errors.length > 0) {
    rollbackTxn(state);
    return { Results: null, Errors: errors };
  }
  commitTxn(state);
  return { Results: results, Errors: null };
}

function blank(entry: KvEntry): KvEntry {
  return entry.Value === null ? entry : { ...entry, Value: null };
}

/** One op: the entries it reports, or Consul's error text. */
function applyOp(state: StoreState, index: number, op: TxnKvOp, nowMs: number): KvEntry[] | string {
  if (op === null || typeof op !== 'object' || !txnVerbs.includes(op.verb))
    return `unknown KV verb "${String(op?.verb)}"`;
  const write = { key: op.key, value: op.value ?? null, flags: op.flags ?? 0 };
  const problem = checkKvWrite(write, op.verb !== 'delete-tree' && op.verb !== 'get-tree');
  if (problem) return problem;
  const key = op.key;
  const index_ = op.index ?? 0;
  const session = op.session ?? '';
  switch (op.verb) {
    case 'set':
      return [blank(kvSet(state, index, write))];
    case 'cas': {
      const entry = kvCas(state, index, write, index_);
      return entry ? [blank(entry)] : `failed to set key "${key}", index is stale`;
    }
    case 'lock': {
      const outcome = kvLock(state, index, write, session, nowMs);
      if (outcome.ok) return [blank(outcome.entry)];
      return outcome.error ?? `failed to lock key "${key}", lock is already held`;
    }
    case 'unlock': {
      const outcome = kvUnlock(state, index, write, session);
      if (outcome.ok) return [blank(outcome.entry)];
      return outcome.error ?? `failed to unlock key "${key}", lock isn't held, or is held by another session`;
    }
    case 'get': {
      const entry = state.kv.get(key);
      return entry ? [entry] : `key "${key}" doesn't exist`;
    }
    case 'get-or-empty': {
      const entry = state.kv.get(key);
      return [entry ?? { Key: key, Value: null, Flags: 0, CreateIndex: 0, ModifyIndex: 0, LockIndex: 0, Session: '' }];
    }
    case 'get-tree':
      return kvList(state, key);
    case 'check-index': {
      const entry = state.kv.get(key);
      if (!entry) return `failed to check index, key "${key}" doesn't exist`;
      if (entry.ModifyIndex !== index_)
        return `failed index check for key "${key}", current modify index ${entry.ModifyIndex} != ${index_}`;
      return [blank(entry)];
    }
    case 'check-session': {
      const entry = state.kv.get(key);
      if (!entry) return `failed to check session, key "${key}" doesn't exist`;
      if (entry.Session !== session)
        return `failed session check for key "${key}", current session "${entry.Session}" != "${session}"`;
      return [blank(entry)];
    }
    case 'check-not-exists':
      return state.kv.has(key) ? `key "${key}" exists` : [];
    case 'delete':
      kvDelete(state, index, key);
      return [];
    case 'delete-cas':
      return kvDeleteCas(state, index, key, index_) ? [] : `failed to delete key "${key}", index is stale`;
    case 'delete-tree':
      kvDeleteTree(state, index, key);
      return [];
  }
}
