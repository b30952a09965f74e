/** `/v1/kv` and `/v1/txn`: HTTP forms → typed `kv.*` and `txn` requests (ACL rules: core/agent/endpoints/kv.ts). */
import { type AgentRequest, kvValueBytesMax, txnOpsMax } from '../../../core/agent/api.js';
import { parseKvFlags } from '../../../core/store/types.js';
import { toTxnOps } from '../convert.js';
import { decodeJsonBody, parseConsistency, queryFlag } from '../parse.js';
import { txnSchema } from '../schemas.js';
import {
  type Out,
  type Req,
  type Route,
  ask,
  badRequest,
  blockingRead,
  exact,
  isOut,
  prefix,
  text,
  uintParam,
  withOptional,
} from '../wire.js';

// ─────────────────────────────────────────────── KV ───────────────────────────────────────────────

async function kvGet(r: Req): Promise<Out> {
  const key = r.rest;
  if (queryFlag(r.query, 'keys')) {
    const separator = r.query.get('separator') ?? undefined;
    return blockingRead(r, (read) =>
      withOptional({ type: 'kv.keys', prefix: key, read } as AgentRequest, { separator }),
    );
  }
  if (queryFlag(r.query, 'recurse')) return blockingRead(r, (read) => ({ type: 'kv.list', prefix: key, read }));
  if (key === '') return badRequest('Missing key name');
  const raw = r.query.has('raw');
  return blockingRead(r, (read) => (raw ? { type: 'kv.get', key, raw: true, read } : { type: 'kv.get', key, read }));
}

async function kvPut(r: Req): Promise<Out> {
  const key = r.rest;
  if (key === '') return badRequest('Missing key name');
  if (r.body.length > kvValueBytesMax)
    return text(413, `Request body(${r.body.length} bytes) too large, max size: ${kvValueBytesMax} bytes.`);
  const flagsText = r.query.get('flags');
  const flags = flagsText === null ? undefined : parseKvFlags(flagsText);
  if (flags === undefined && flagsText !== null) return badRequest('Invalid flags');
  const value = r.body;
  const base = flags === undefined ? { key, value } : { key, value, flags };
  if (r.query.has('acquire')) {
    const session = r.query.get('acquire')!;
    if (session === '') return badRequest('Missing session');
    return ask(r, { type: 'kv.acquire', ...base, session });
  }
  if (r.query.has('release')) {
    const session = r.query.get('release')!;
    if (session === '') return badRequest('Missing session');
    return ask(r, { type: 'kv.release', ...base, session });
  }
  const cas = uintParam(r, 'cas');
  if (isOut(cas)) return cas;
  if (cas !== undefined) return ask(r, { type: 'kv.cas', ...base, index: cas });
  return ask(r, { type: 'kv.put', ...base });
}

async function kvDelete(r: Req): Promise<Out> {
  const key = r.rest;
  if (queryFlag(r.query, 'recurse')) return ask(r, { type: 'kv.deleteTree', prefix: key });
  if (key === '') return badRequest('Missing key name');
  const cas = uintParam(r, 'cas');
  if (isOut(cas)) return cas;
  return ask(r, cas === undefined ? { type: 'kv.delete', key } : { type: 'kv.delete', key, cas });
}

// ─────────────────────────────────────────────── txn ──────────────────────────────────────────────

async function txn(r: Req): Promise<Out> {
  const parsed = decodeJsonBody(r.body, txnSchema);
  if (!parsed.ok) return badRequest(parsed.error);
  const list = (parsed.value ?? []) as unknown[];
  if (list.length > txnOpsMax)
    return text(413, `Transaction contains too many operations (${list.length} > ${txnOpsMax})`);
  const ops = toTxnOps(list);
  if (!ops.ok) return badRequest(ops.error);
  const consistency = parseConsistency(r.query);
  if (!consistency.ok) return badRequest(consistency.error);
  return ask(r, { type: 'txn', ops: ops.value });
}

export const kvRoutes: readonly Route[] = [
  // KV
  prefix('/v1/kv/', { GET: kvGet, PUT: kvPut, DELETE: kvDelete }),
  exact('/v1/kv', { GET: kvGet, PUT: kvPut, DELETE: kvDelete }),
  exact('/v1/txn', { PUT: txn, POST: txn }),
];
