/**
 * The split between "what a request asks of the servers" and "how its answer looks to the caller".
 *
 *  - `translate` turns an `AgentRequest` into a `ServerOp` (a store command to replicate, a store
 *    query with its consistency and blocking options, or a Raft status question), or says the agent
 *    answers it itself;
 *  - a server executes the op (core/agent/server.ts) and produces a `ServerResult`, the same on the
 *    node that asked and on any server it was forwarded to;
 *  - `render` turns the request plus the result into Consul's response shape, on the node that
 *    received the request (so a forwarded op carries no rendering state over the wire).
 */
import type { Prng } from '../prng.js';
import type { StoreCommand, StoreQuery, KvEntry, PreparedQuery, Session, TxnKvOp } from '../store/types.js';
import { datacenterDefault } from '../store/types.js';
import { checkPreparedQuery, preparedQueryFromInput } from '../store/preparedQuery.js';
import {
  agentErrors,
  blockingWaitMsDefault,
  blockingWaitMsMax,
  kvValueBytesMax,
  txnOpsMax,
  type AgentRequest,
  type AgentResponse,
  type CheckDefinition,
  type Consistency,
  type ReadOptions,
} from './api.js';
import { base64Encode } from './base64.js';
import type { AclGrant } from './acl.js';
import { restoreAt } from '../store/store.js';
import { blockingConfigDefault, effectiveWaitMs } from '../store/watch.js';

/** A unit of work for the servers. Plain data: it crosses the network in forwarded RPCs. */
export type ServerOp =
  /** Replicate a store command. A `nowMs` field is (re)stamped by the server that proposes it. */
  | { readonly kind: 'write'; readonly command: StoreCommand }
  | {
      readonly kind: 'read';
      readonly query: StoreQuery;
      readonly consistency: Consistency;
      readonly minIndex: number;
      readonly waitMs: number;
      /**
       * A prepared query's execution only: the caller's token and request. When the query fails over,
       * the server that ran it sends them with each `dc` op, so the DC asked authorizes and filters with
       * the caller's token (Consul forwards the caller's QueryOptions.Token to ExecuteRemote).
       */
      readonly auth?: ForwardedAuth;
    }
  | {
      readonly kind: 'status';
      readonly what: 'leader' | 'peers' | 'raftConfiguration' | 'autopilotHealth' | 'bootstrap';
    }
  /** Remove a server from the Raft configuration (by RPC address or Raft id); run on the leader. */
  | { readonly kind: 'raftRemovePeer'; readonly peer: string }
  /**
   * `?dc=`: run `op` in datacenter `dc` (core/agent/wan.ts). A client agent sends it to a server of its
   * own DC; that server forwards it over the WAN to a server of `dc` (`crossed` then true); a server of
   * `dc` runs `op`. A crossed op never crosses again, so no forwarding loop between DCs is possible.
   */
  | {
      readonly kind: 'dc';
      readonly dc: string;
      readonly op: ServerOp;
      readonly crossed: boolean;
      /**
       * A client's request, which the target DC authorizes with the caller's token before it runs it
       * (core/agent/acl.ts). Absent only on an agent's own lookups: a token resolved from the ACL
       * datacenter (the one op an ACL-enabled DC runs without a token).
       */
      readonly auth?: ForwardedAuth;
    }
  /** What the WAN pool knows, answered by any server: DCs by estimated round trip, or their servers' coordinates. */
  | { readonly kind: 'wan'; readonly what: 'datacenters' | 'coordinates' }
  /**
   * `event/fire?dc=`: a server of that DC fires the event (id minted by the asking agent) into its own
   * LAN pool, as Consul's Internal.EventFire; value: the event as fired there. Only sent wrapped in `dc`.
   */
  | { readonly kind: 'eventFire'; readonly event: RemoteEvent }
  /**
   * `event/list?dc=`: a server of that DC answers the events it received (named `name` when not
   * empty), blocking like a local list while the events index equals `minIndex`. Only sent wrapped in `dc`.
   */
  | { readonly kind: 'eventList'; readonly name: string; readonly minIndex: number; readonly waitMs: number };

/** A user event on its way to another DC's server (events.ts). */
export interface RemoteEvent {
  readonly id: string;
  readonly name: string;
  readonly payload: Uint8Array | null;
  readonly nodeFilter?: string;
  readonly serviceFilter?: string;
  readonly tagFilter?: string;
}

/** What the target DC needs to authorize a forwarded request as if its own front end had received it. */
export interface ForwardedAuth {
  /** The caller's token id ('anonymous' when it sent none). */
  readonly token: string;
  /** The typed request as the caller sent it (its `token` removed): the target DC translates and runs this. */
  readonly request: AgentRequest;
  /** The agent that received it: the node a session or an agent rule defaults to. */
  readonly nodeName: string;
}

export type ServerResult =
  | {
      readonly ok: true;
      readonly index: number;
      readonly value: unknown;
      readonly knownLeader: boolean;
      readonly lastContactMs: number;
      /**
       * The grant the target DC authorized a forwarded request with: the agent that renders the answer
       * filters it with this (what the token may not read is removed), never with its own DC's rules.
       */
      readonly acl?: AclGrant;
    }
  | { readonly ok: false; readonly status: number; readonly error: string };

export type Translation =
  | { readonly kind: 'server'; readonly op: ServerOp }
  | { readonly kind: 'agent' }
  | { readonly kind: 'error'; readonly response: AgentResponse };

/**
 * The store refused a command (its own validation: a missing check, an unknown session or query, a name
 * in use): the client's request is at fault, so 4xx — 404 when it names something that does not exist,
 * else 400 — never a 500, which clients read as a server fault and retry.
 */
function refusal(error: string): AgentResponse {
  return errorResponse(/not found|unknown|does not exist|non-existent/i.test(error) ? 404 : 400, error);
}

export function errorResponse(status: number, error: string, index?: number): AgentResponse {
  return index === undefined ? { status, body: null, error } : { status, body: null, error, index };
}

/** Effective blocking wait: default 5 min, cap 10 min, plus up to wait/16 of jitter (consul-api.md §2). */
export function blockingWaitMs(read: ReadOptions, prng: Prng): number {
  if (!read.minIndex || read.minIndex <= 0) return 0;
  // The store's blocking rules (core/store/watch.ts, Consul's): 0 or absent → 5 min, cut to 10 min,
  // jitter drawn in [0, wait/16).
  // Whole milliseconds: the wait travels in RPCs, whose decoder takes integers only (rpc.ts).
  const wait = Math.ceil(effectiveWaitMs(blockingConfig, read.waitMs));
  return wait + prng.below(Math.max(1, Math.floor(wait / blockingConfig.jitterFraction)));
}

const blockingConfig = { ...blockingConfigDefault, waitMsDefault: blockingWaitMsDefault, waitMsMax: blockingWaitMsMax };

function readOp(query: StoreQuery, read: ReadOptions, prng: Prng): Translation {
  return {
    kind: 'server',
    op: {
      kind: 'read',
      query,
      consistency: read.consistency,
      minIndex: Math.max(0, read.minIndex ?? 0),
      waitMs: blockingWaitMs(read, prng),
    },
  };
}

function write(command: StoreCommand): Translation {
  return { kind: 'server', op: { kind: 'write', command } };
}

function tooLarge(bytes: number): Translation {
  return {
    kind: 'error',
    response: errorResponse(413, `Request body(${bytes} bytes) too large, max size: ${kvValueBytesMax} bytes`),
  };
}

/** A UUID (v4 layout) from the PRNG: session ids, event ids. */
export function uuid(prng: Prng): string {
  const hex = (n: number, digits: number): string => n.toString(16).padStart(digits, '0');
  const a = prng.uint32();
  const b = prng.uint32();
  const c = prng.uint32();
  const d = prng.uint32();
  return `${hex(a, 8)}-${hex(b >>> 16, 4)}-${hex(((b & 0x0fff) | 0x4000) >>> 0, 4)}-${hex(((c >>> 16) & 0x3fff) | 0x8000, 4)}-${hex(c & 0xffff, 4)}${hex(d, 8)}`;
}

/**
 * What the servers must do for `request`, or 'agent' when the agent answers it alone. Validation that
 * needs no state happens here, so a bad request never crosses the network.
 */
export function translate(
  request: AgentRequest,
  nodeName: string,
  prng: Prng,
  datacenter: string = datacenterDefault,
): Translation {
  const keyed = (key: string, make: () => Translation): Translation =>
    key === '' ? { kind: 'error', response: errorResponse(400, agentErrors.missingKey) } : make();
  switch (request.type) {
    case 'kv.get':
      return keyed(request.key, () => readOp({ type: 'kvGet', key: request.key }, request.read, prng));
    case 'kv.list':
      return readOp({ type: 'kvList', prefix: request.prefix }, request.read, prng);
    case 'kv.keys':
      return readOp(
        { type: 'kvKeys', prefix: request.prefix, ...(request.separator ? { separator: request.separator } : {}) },
        request.read,
        prng,
      );
    case 'kv.put':
    case 'kv.cas':
    case 'kv.acquire':
    case 'kv.release':
      return keyed(request.key, () => {
        if (request.value.length > kvValueBytesMax) return tooLarge(request.value.length);
        const entry = {
          key: request.key,
          value: request.value.length === 0 ? null : request.value,
          flags: request.flags ?? 0,
        };
        if (request.type === 'kv.put') return write({ type: 'kvSet', entry });
        if (request.type === 'kv.cas') return write({ type: 'kvCas', entry, cas: request.index });
        if (request.type === 'kv.acquire') return write({ type: 'kvLock', entry, session: request.session, nowMs: 0 });
        return write({ type: 'kvUnlock', entry, session: request.session });
      });
    case 'kv.delete':
      return keyed(request.key, () =>
        write(
          request.cas !== undefined
            ? { type: 'kvDeleteCas', key: request.key, cas: request.cas }
            : { type: 'kvDelete', key: request.key },
        ),
      );
    case 'kv.deleteTree':
      return write({ type: 'kvDeleteTree', prefix: request.prefix });
    case 'txn': {
      if (request.ops.length > txnOpsMax)
        return {
          kind: 'error',
          response: errorResponse(
            413,
            `Transaction contains too many operations (${request.ops.length} > ${txnOpsMax})`,
          ),
        };
      for (const op of request.ops) if (op.value && op.value.length > kvValueBytesMax) return tooLarge(op.value.length);
      return write({ type: 'txn', ops: request.ops as readonly TxnKvOp[], nowMs: 0 });
    }
    case 'session.create':
      return write({
        type: 'sessionCreate',
        session: {
          id: uuid(prng),
          node: request.node ?? nodeName,
          ...(request.name !== undefined ? { name: request.name } : {}),
          ...(request.checks !== undefined ? { nodeChecks: request.checks } : {}),
          ...(request.serviceChecks !== undefined ? { serviceChecks: request.serviceChecks.map((c) => c.id) } : {}),
          ...(request.lockDelayMs !== undefined ? { lockDelayMs: request.lockDelayMs } : {}),
          ...(request.behavior !== undefined ? { behavior: request.behavior } : {}),
          ...(request.ttlMs !== undefined ? { ttlMs: request.ttlMs } : {}),
        },
        nowMs: 0,
      });
    case 'session.destroy':
      return write({ type: 'sessionDestroy', id: request.id, nowMs: 0 });
    case 'session.renew':
      return write({ type: 'sessionRenew', id: request.id, nowMs: 0 });
    case 'session.info':
      return readOp({ type: 'sessionInfo', id: request.id }, request.read, prng);
    case 'session.node':
      return readOp({ type: 'sessionNode', node: request.node }, request.read, prng);
    case 'session.list':
      return readOp({ type: 'sessionList' }, request.read, prng);
    case 'catalog.nodes':
      return readOp({ type: 'catalogNodes' }, request.read, prng);
    case 'catalog.services':
      return readOp({ type: 'catalogServices' }, request.read, prng);
    case 'catalog.service':
      return readOp(
        {
          type: 'catalogService',
          service: request.service,
          ...(request.tag !== undefined ? { tag: request.tag } : {}),
        },
        request.read,
        prng,
      );
    case 'catalog.node':
      return readOp({ type: 'catalogNode', node: request.node }, request.read, prng);
    case 'catalog.register': {
      if (!request.node) return { kind: 'error', response: errorResponse(400, 'Must provide node') };
      if (!request.address) return { kind: 'error', response: errorResponse(400, 'Must provide address') };
      const service = request.service;
      return write({
        type: 'catalogRegister',
        node: {
          node: request.node,
          address: request.address,
          ...(request.id !== undefined ? { id: request.id } : {}),
          ...(request.datacenter !== undefined ? { datacenter: request.datacenter } : {}),
          ...(request.taggedAddresses !== undefined ? { taggedAddresses: request.taggedAddresses } : {}),
          ...(request.nodeMeta !== undefined ? { meta: request.nodeMeta } : {}),
        },
        ...(service
          ? {
              service: {
                service: service.name,
                ...(service.id !== undefined ? { id: service.id } : {}),
                ...(service.tags !== undefined ? { tags: service.tags } : {}),
                ...(service.address !== undefined ? { address: service.address } : {}),
                ...(service.port !== undefined ? { port: service.port } : {}),
                ...(service.meta !== undefined ? { meta: service.meta } : {}),
                ...(service.enableTagOverride !== undefined ? { enableTagOverride: service.enableTagOverride } : {}),
              },
            }
          : {}),
        ...(request.checks && request.checks.length > 0 ? { checks: request.checks.map(catalogCheck) } : {}),
        nowMs: 0,
      });
    }
    case 'catalog.deregister':
      if (!request.node) return { kind: 'error', response: errorResponse(400, 'Must provide node') };
      return write({
        type: 'catalogDeregister',
        node: request.node,
        ...(request.serviceId !== undefined ? { serviceId: request.serviceId } : {}),
        ...(request.checkId !== undefined ? { checkId: request.checkId } : {}),
        nowMs: 0,
      });
    case 'health.state':
      return readOp({ type: 'healthState', state: request.state }, request.read, prng);
    case 'health.node':
      return readOp({ type: 'healthNode', node: request.node }, request.read, prng);
    case 'health.checks':
      return readOp({ type: 'healthChecks', service: request.service }, request.read, prng);
    case 'health.service':
      return readOp(
        {
          type: 'healthService',
          service: request.service,
          ...(request.tag !== undefined ? { tag: request.tag } : {}),
          ...(request.passing ? { passing: true } : {}),
        },
        request.read,
        prng,
      );
    case 'status.leader':
      return { kind: 'server', op: { kind: 'status', what: 'leader' } };
    case 'status.peers':
      return { kind: 'server', op: { kind: 'status', what: 'peers' } };
    case 'operator.raft.configuration':
      return { kind: 'server', op: { kind: 'status', what: 'raftConfiguration' } };
    case 'operator.autopilot.health':
      return { kind: 'server', op: { kind: 'status', what: 'autopilotHealth' } };
    case 'operator.keyring':
      return { kind: 'error', response: errorResponse(500, 'the keyring is held by the agent process, not the core') };
    case 'operator.raft.removePeer':
      if (!request.peer)
        return {
          kind: 'error',
          response: errorResponse(
            400,
            "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove",
          ),
        };
      return { kind: 'server', op: { kind: 'raftRemovePeer', peer: request.peer } };
    case 'query.create':
    case 'query.update': {
      const query = preparedQueryFromInput(
        request.definition,
        request.type === 'query.create' ? uuid(prng) : request.id,
      );
      const problem = checkPreparedQuery(query);
      if (problem) return { kind: 'error', response: errorResponse(400, problem) };
      return write({ type: 'preparedQuerySet', query, create: request.type === 'query.create' });
    }
    case 'query.delete':
      return write({ type: 'preparedQueryDelete', id: request.id });
    case 'acl.create':
    case 'acl.update': {
      const d = request.definition;
      const given = typeof d['ID'] === 'string' ? d['ID'] : '';
      if (request.type === 'acl.update' && given === '')
        return { kind: 'error', response: errorResponse(400, 'Must specify ID') };
      const acl = {
        ID: given || uuid(prng),
        Name: typeof d['Name'] === 'string' ? d['Name'] : '',
        Type: (d['Type'] ?? 'client') as 'client',
        Rules: typeof d['Rules'] === 'string' ? d['Rules'] : '',
      };
      return write({ type: 'aclSet', acl, create: request.type === 'acl.create' });
    }
    case 'acl.destroy':
      return write({ type: 'aclDelete', id: request.id });
    case 'snapshot.save':
      return readOp({ type: 'snapshot' }, request.read, prng);
    case 'snapshot.restore': {
      // Dry run first: a snapshot that would not restore must never reach the replicated log.
      const trial = restoreAt(request.snapshot, 1, 0);
      if ('error' in trial) return { kind: 'error', response: errorResponse(400, trial.error) };
      return write({ type: 'snapshotRestore', snapshot: request.snapshot, nowMs: 0 });
    }
    case 'acl.info':
      return readOp({ type: 'aclGet', id: request.id }, request.read, prng);
    case 'acl.list':
      return readOp({ type: 'aclList' }, request.read, prng);
    case 'catalog.datacenters':
      return { kind: 'server', op: { kind: 'wan', what: 'datacenters' } };
    case 'coordinate.datacenters':
      return { kind: 'server', op: { kind: 'wan', what: 'coordinates' } };
    case 'coordinate.nodes':
      return readOp({ type: 'coordinateNodes' }, request.read, prng);
    case 'coordinate.node':
      return readOp({ type: 'coordinateNodes', node: request.node }, request.read, prng);
    case 'coordinate.update':
      if (!request.node) return { kind: 'error', response: errorResponse(400, 'Must provide node') };
      return write({ type: 'coordinateBatchUpdate', updates: [{ Node: request.node, Coord: request.coord }] });
    case 'query.list':
      return readOp({ type: 'preparedQueryList' }, request.read, prng);
    case 'query.get':
      return readOp({ type: 'preparedQueryGet', id: request.id }, request.read, prng);
    case 'query.explain':
      return readOp({ type: 'preparedQueryExplain', idOrName: request.idOrName }, request.read, prng);
    case 'query.execute':
      return readOp(
        {
          type: 'preparedQueryExecute',
          idOrName: request.idOrName,
          agentNode: nodeName,
          seed: prng.uint32(),
          datacenter,
          ...(request.near !== undefined ? { near: request.near } : {}),
          ...(request.limit !== undefined ? { limit: request.limit } : {}),
        },
        request.read,
        prng,
      );
    default:
      return { kind: 'agent' };
  }
}

function catalogCheck(check: CheckDefinition): {
  checkId?: string;
  name: string;
  status?: 'passing' | 'warning' | 'critical';
  notes?: string;
  serviceId?: string;
} {
  const name = check.name ?? check.id ?? '';
  return {
    name,
    ...(check.id !== undefined ? { checkId: check.id } : {}),
    ...(check.status !== undefined ? { status: check.status } : {}),
    ...(check.notes !== undefined ? { notes: check.notes } : {}),
    ...(check.serviceId !== undefined ? { serviceId: check.serviceId } : {}),
  };
}

// ───────────────────────────────────────────── render ─────────────────────────────────────────────

/**
 * A JSON number written digit for digit (a uint64 above 2^53 − 1, such as Go's lock flag): the HTTP
 * layer's serializer writes `digits` unquoted. Anything else that serializes it sees the digits as a
 * string field, never a rounded number.
 */
export interface RawJsonNumber {
  readonly rawJsonNumber: string;
}

export function rawJsonNumber(digits: string): RawJsonNumber {
  return { rawJsonNumber: digits };
}

export function renderKvEntry(entry: KvEntry): Record<string, unknown> {
  const out: Record<string, unknown> = {
    LockIndex: entry.LockIndex,
    Key: entry.Key,
    Flags: typeof entry.Flags === 'string' ? rawJsonNumber(entry.Flags) : entry.Flags,
    Value: entry.Value === null || entry.Value.length === 0 ? null : base64Encode(entry.Value),
    CreateIndex: entry.CreateIndex,
    ModifyIndex: entry.ModifyIndex,
  };
  if (entry.Session !== '') out['Session'] = entry.Session;
  return out;
}

/** Consul's duration string for a TTL (`10s`, `1m30s` is written as seconds: Consul accepts both). */
function durationText(ms: number): string {
  if (ms <= 0) return '';
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

export function renderSession(session: Session): Record<string, unknown> {
  return {
    ID: session.ID,
    Name: session.Name,
    Node: session.Node,
    LockDelay: session.LockDelayMs * 1e6,
    Behavior: session.Behavior,
    TTL: durationText(session.TtlMs),
    NodeChecks: [...session.NodeChecks],
    ServiceChecks: session.ServiceChecks.map((id) => ({ ID: id, Namespace: '' })),
    Checks: [...session.NodeChecks, ...session.ServiceChecks],
    CreateIndex: session.CreateIndex,
    ModifyIndex: session.ModifyIndex,
  };
}

function isSession(value: unknown): value is Session {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as Session).ID === 'string' &&
    'Behavior' in (value as object)
  );
}

/** A store command result, normalized: `{ ok, value }` or `{ ok: false, error }` (error null = plain false). */
function commandOutcome(value: unknown): { ok: true; value: unknown } | { ok: false; error: string | null } {
  if (value !== null && typeof value === 'object' && 'ok' in value) {
    const v = value as { ok: boolean; value?: unknown; entry?: unknown; error?: string | null };
    if (v.ok) return { ok: true, value: 'value' in v ? v.value : (v.entry ?? true) };
    return { ok: false, error: v.error ?? null };
  }
  return { ok: true, value };
}

/** A write's boolean body: `true` unless the store said false / null (CAS mismatch, lock held). */
function writeBool(value: unknown): boolean {
  return !(value === false || value === null || value === undefined);
}

/** Turns a server result into the response to `request` (Consul's shapes, statuses and headers). */
export function render(request: AgentRequest, result: ServerResult): AgentResponse {
  if (!result.ok) return errorResponse(result.status, result.error);
  const meta = {
    index: Math.max(1, result.index),
    knownLeader: result.knownLeader,
    lastContactMs: result.lastContactMs,
  };
  const okBody = (body: unknown): AgentResponse => ({ status: 200, body, ...meta });
  const value = result.value;
  switch (request.type) {
    case 'kv.get': {
      const entry = value as KvEntry | null | undefined;
      if (!entry) return { status: 404, body: null, ...meta };
      if (request.raw) return okBody(entry.Value ?? new Uint8Array(0));
      return okBody([renderKvEntry(entry)]);
    }
    case 'kv.list': {
      const entries = (value as KvEntry[] | null) ?? [];
      if (entries.length === 0) return { status: 404, body: null, ...meta };
      return okBody(entries.map(renderKvEntry));
    }
    case 'kv.keys': {
      const keys = (value as string[] | null) ?? [];
      if (keys.length === 0) return { status: 404, body: null, ...meta };
      return okBody(keys);
    }
    case 'kv.put':
    case 'kv.cas':
    case 'kv.acquire':
    case 'kv.release':
    case 'kv.delete':
    case 'kv.deleteTree':
    case 'session.destroy':
    case 'catalog.register':
    case 'catalog.deregister': {
      const outcome = commandOutcome(value);
      if (!outcome.ok)
        return outcome.error === null
          ? { status: 200, body: false, index: meta.index }
          : errorResponse(500, outcome.error);
      return { status: 200, body: writeBool(outcome.value), index: meta.index };
    }
    case 'txn': {
      const outcome = commandOutcome(value);
      if (!outcome.ok) return errorResponse(500, outcome.error ?? 'transaction failed');
      const txn = outcome.value as { Results: { KV: KvEntry }[] | null; Errors: unknown[] | null };
      if (txn.Errors && txn.Errors.length > 0)
        return { status: 409, body: { Results: null, Errors: txn.Errors }, index: meta.index };
      return {
        status: 200,
        body: { Results: (txn.Results ?? []).map((r) => ({ KV: renderKvEntry(r.KV) })), Errors: null },
        index: meta.index,
      };
    }
    case 'session.create': {
      const outcome = commandOutcome(value);
      if (!outcome.ok) return refusal(outcome.error ?? 'session create failed');
      return { status: 200, body: outcome.value, index: meta.index };
    }
    case 'session.renew': {
      const outcome = commandOutcome(value);
      if (!outcome.ok) return refusal(outcome.error ?? 'session renew failed');
      return { status: 200, body: isSession(outcome.value) ? [renderSession(outcome.value)] : [], index: meta.index };
    }
    case 'session.info': {
      const v = value as Session | Session[] | null;
      const list = v === null || v === undefined ? [] : Array.isArray(v) ? v : [v];
      return okBody(list.map(renderSession));
    }
    case 'session.node':
    case 'session.list':
      return okBody(((value as Session[] | null) ?? []).map(renderSession));
    case 'catalog.nodes': {
      let nodes = (value as { Meta: Record<string, string> }[] | null) ?? [];
      const filter = request.nodeMeta;
      if (filter) nodes = nodes.filter((n) => Object.entries(filter).every(([k, v]) => n.Meta?.[k] === v));
      return okBody(nodes);
    }
    case 'catalog.node':
      return okBody(value ?? null);
    case 'status.leader':
    case 'status.peers':
    case 'operator.raft.configuration':
    case 'operator.autopilot.health':
      return { status: 200, body: value };
    case 'operator.raft.removePeer':
      return { status: 200, body: null };
    case 'query.create':
    case 'query.update':
    case 'query.delete': {
      const outcome = commandOutcome(value);
      if (!outcome.ok) return refusal(outcome.error ?? 'prepared query write failed');
      return { status: 200, body: request.type === 'query.create' ? outcome.value : null, index: meta.index };
    }
    case 'query.list':
      return okBody((value as PreparedQuery[] | null) ?? []);
    case 'acl.create':
    case 'acl.update':
    case 'acl.destroy': {
      const outcome = commandOutcome(value);
      if (!outcome.ok) return errorResponse(500, outcome.error ?? 'ACL write failed');
      return { status: 200, body: request.type === 'acl.destroy' ? true : outcome.value, index: meta.index };
    }
    case 'acl.info':
      return okBody(value === null || value === undefined ? [] : [value]);
    case 'snapshot.restore': {
      const outcome = commandOutcome(value);
      if (!outcome.ok) return errorResponse(500, outcome.error ?? 'snapshot restore failed');
      return { status: 200, body: null, index: meta.index };
    }
    case 'coordinate.node': {
      const list = (value as unknown[] | null) ?? [];
      return list.length === 0 ? { status: 404, body: null, ...meta } : okBody(list);
    }
    case 'coordinate.update': {
      const outcome = commandOutcome(value);
      if (!outcome.ok)
        return errorResponse(outcome.error === null ? 500 : 400, outcome.error ?? 'coordinate update failed');
      return { status: 200, body: null, index: meta.index };
    }
    case 'query.get':
    case 'query.explain':
    case 'query.execute': {
      const found = value as
        (PreparedQuery | { Query: PreparedQuery; Nodes: unknown[]; Datacenter: string }) | { error: string } | null;
      if (found === null || found === undefined) return errorResponse(404, 'Query not found', meta.index);
      if ('error' in found) return errorResponse(500, found.error, meta.index);
      if (request.type === 'query.get') return okBody([found]);
      if (request.type === 'query.explain') return okBody({ Query: found });
      const run = found as { Query: PreparedQuery; Nodes: unknown[]; Datacenter: string; Failovers?: number };
      return okBody({
        Service: run.Query.Service.Service,
        Nodes: run.Nodes,
        DNS: run.Query.DNS,
        Datacenter: run.Datacenter,
        Failovers: run.Failovers ?? 0,
      });
    }
    default:
      return okBody(value ?? []);
  }
}
