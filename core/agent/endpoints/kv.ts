/**
 * ACL rules of the KV family (`kv.*`) and of `txn`, whose operations are each authorized as the KV
 * request they stand for. Key rules: read to get, write to change, write on the prefix and every
 * narrower rule under it for a recursive delete; lists are filtered key by key.
 */
import type { AgentRequest, TxnKvOp } from '../api.js';
import { allow, allowIf, all, keepEntries, record, str, type Authorizer, type Decision } from './authz.js';

export type KvRequest = Extract<
  AgentRequest,
  {
    type:
      | 'kv.get'
      | 'kv.list'
      | 'kv.keys'
      | 'kv.put'
      | 'kv.cas'
      | 'kv.acquire'
      | 'kv.release'
      | 'kv.delete'
      | 'kv.deleteTree'
      | 'txn';
  }
>;

export function authorizeKv(request: KvRequest, authz: Authorizer): Decision {
  switch (request.type) {
    case 'kv.get':
      return allowIf(authz.may('key', request.key, 'read'));
    case 'kv.list':
    case 'kv.keys':
      return allow; // filtered key by key
    case 'kv.put':
    case 'kv.cas':
    case 'kv.acquire':
    case 'kv.release':
    case 'kv.delete':
      return allowIf(authz.may('key', request.key, 'write'));
    case 'kv.deleteTree':
      return allowIf(authz.mayKeyPrefixWrite(request.prefix));
    case 'txn':
      return all(request.ops.map((op) => () => authorizeKv(txnOpAsRequest(op), authz)));
  }
}

/** The KV request a transaction operation stands for (what it reads or changes). */
export function txnOpAsRequest(op: TxnKvOp): KvRequest {
  const read = { consistency: 'default' } as const;
  const value = op.value ?? new Uint8Array();
  switch (op.verb) {
    case 'get':
    case 'check-index':
    case 'check-session':
    case 'check-not-exists':
      return { type: 'kv.get', key: op.key, read };
    case 'get-tree':
      return { type: 'kv.list', prefix: op.key, read };
    case 'delete-tree':
      return { type: 'kv.deleteTree', prefix: op.key };
    case 'delete':
    case 'delete-cas':
      return { type: 'kv.delete', key: op.key };
    default:
      // set, cas, lock, unlock and any verb the store may add: a write of the key.
      return { type: 'kv.put', key: op.key, value };
  }
}

export function filterKv(request: KvRequest, body: unknown, authz: Authorizer): unknown {
  const readable = (key: string) => authz.may('key', key, 'read');
  switch (request.type) {
    case 'kv.list':
      return keepEntries(body, (e) => readable(str(e.Key)));
    case 'kv.keys':
      return Array.isArray(body) ? body.filter((k) => readable(str(k))) : body;
    case 'txn': {
      const results = record(body).Results;
      if (!Array.isArray(results)) return body;
      return { ...record(body), Results: results.filter((r) => readable(str(record(record(r).KV).Key))) };
    }
    default:
      return body;
  }
}
