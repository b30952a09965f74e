/**
 * The Consul-compatible HTTP router: a plain request (method, raw URL, headers, body bytes) in, a
 * plain response (status, headers, body) out. It parses paths and query strings, decodes bodies
 * with Go's case-insensitive key matching, hands the agent a typed `AgentRequest`, and renders its
 * `AgentResponse` with Consul's wire rules (consul-api.md §0):
 *
 *  - `X-Consul-Index` on every blocking-capable read, floored at 1, also on 404;
 *    `X-Consul-KnownLeader` and `X-Consul-LastContact` with it;
 *  - plain-text errors; 404 for unknown paths ("404 page not found"), 405 for wrong methods (legacy
 *    GETs accepted on join, force-leave, deregister and check pass/warn/fail);
 *  - `?dc=<other>` → 500 "No path to datacenter"; `?stale&consistent` → 400; `?pretty`;
 *  - ACL endpoints → 401 (ACLs are disabled); the token (`X-Consul-Token`, `?token=`) is accepted
 *    and ignored.
 *
 * No socket code lives here (server.ts does that), so the fuzzer drives this function directly.
 * `routeHttp` never throws: a bug in a handler answers 500 with the message.
 */
import type { AgentRequest, AgentResponse, ReadOptions } from '../../core/agent/api.js';
import type { RawJsonNumber } from '../../core/agent/ops.js';
import { kvValueBytesMax, txnOpsMax } from '../../core/agent/api.js';
import { parseKvFlags } from '../../core/store/types.js';
import { catalogChecks, lockDelayMs, durationMs, toCheckDefinition, toServiceDefinition, toTxnOps } from './convert.js';
import { consulJsonToPrometheus, type HttpMetrics } from './metrics.js';
import { compileFilter, isFilterError, type FilterPredicate } from './filter.js';
import { gatedAgent, requestToken, type AclSettings, type AgentCall } from '../gate.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot.js';
import { distanceSeconds, isCoordinate, type Coordinate } from '../../core/swim/coordinate.js';
import {
  decodeJsonBody,
  parseBlocking,
  parseConsistency,
  parseGoBool,
  parseUint,
  queryFlag,
  type Schema,
} from './parse.js';
import {
  aclSchema,
  coordinateUpdateSchema,
  catalogDeregisterSchema,
  catalogRegisterSchema,
  checkTypeSchema,
  checkUpdateSchema,
  preparedQuerySchema,
  serviceRegisterSchema,
  sessionCreateSchema,
  txnSchema,
} from './schemas.js';

/** Largest request body accepted (Consul's KV value limit applies to every body here). */
export const requestBodyBytesMax = kvValueBytesMax;

export interface HttpRequestIn {
  readonly method: string;
  /** The request target as sent: path plus query string, still percent-encoded. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly body: Uint8Array;
}

export interface HttpResponseOut {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string | Uint8Array;
  /** The route template that answered ("/v1/kv/*"), for metrics. */
  readonly route: string;
}

export interface RouterContext {
  readonly call: (request: AgentRequest) => Promise<AgentResponse>;
  readonly datacenter: string;
  readonly metrics?: HttpMetrics;
  /**
   * How long to wait for the agent's answer beyond a blocking read's own wait (plus its wait/16
   * jitter) before answering 500. Keeps the HTTP layer from hanging if an answer is lost.
   */
  readonly callTimeoutMs?: number;
  /**
   * `PUT /v1/agent/reload`: the agent process re-reads its config files and sends `agent.reload` with
   * what they define (the same code as SIGHUP). Absent → 500, since only the process knows its files.
   */
  readonly reload?: () => Promise<AgentResponse>;
  /** This agent's node name: `?near=_agent` sorts its entries first. */
  readonly nodeName?: string;
  /** Legacy ACLs, enforced by the gate (net/gate.ts) on every request a handler sends; off when absent. */
  readonly acl?: AclSettings;
}

export const callTimeoutMsDefault = 30_000;

const textPlain = 'text/plain; charset=utf-8';
const appJson = 'application/json';

/**
 * What a handler sees. It reaches the agent only through `call`, the ACL gate bound to the request's
 * token (net/gate.ts): the router's own context is given without its raw `call`.
 */
interface Req {
  readonly call: AgentCall;
  /** Authorize without sending (for `agent.reload`, which the process carries out): null = allowed. */
  readonly check: (request: AgentRequest) => Promise<AgentResponse | null>;
  readonly method: string;
  /** Percent-decoded remainder of the path after the route prefix (key, id, node name…). */
  readonly rest: string;
  readonly query: URLSearchParams;
  readonly body: Uint8Array;
  readonly pretty: boolean;
  readonly ctx: Omit<RouterContext, 'call'>;
  readonly dc: string | undefined;
}

type Handler = (r: Req) => Promise<Out> | Out;

/** A handler's answer before headers common to all responses are added. */
interface Out {
  status: number;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

interface Route {
  /** Exact path, or a prefix ending in '/' whose remainder is passed as `rest`. */
  readonly path: string;
  readonly prefix: boolean;
  /** Allowed methods → handler. */
  readonly methods: Readonly<Record<string, Handler>>;
}

// ───────────────────────────────────────────── helpers ────────────────────────────────────────────

function text(status: number, body: string, headers?: Record<string, string>): Out {
  return { status, headers: { 'Content-Type': textPlain, ...headers }, body };
}

function badRequest(message: string): Out {
  return text(400, message);
}

/**
 * JSON as Consul writes it. A `RawJsonNumber` (a uint64 KV flag above 2^53 − 1) goes out as its exact
 * digits: the replacer turns it into a tagged string, whose quotes are then dropped. The tag holds a
 * per-process nonce and a NUL, so no user string can pass for one.
 */
function jsonText(value: unknown, pretty: boolean): string {
  const plain = JSON.stringify(value === undefined ? null : value, null, pretty ? 4 : undefined);
  // The replacer costs on every value: run it only when a RawJsonNumber is there to write.
  if (!plain.includes('"rawJsonNumber"')) return pretty ? `${plain}\n` : plain;
  let raw = false;
  const s = JSON.stringify(
    value === undefined ? null : value,
    (_key, v: unknown) => {
      if (
        v !== null &&
        typeof v === 'object' &&
        typeof (v as RawJsonNumber).rawJsonNumber === 'string' &&
        /^[0-9]{1,20}$/.test((v as RawJsonNumber).rawJsonNumber)
      ) {
        raw = true;
        return `${rawTag}${(v as RawJsonNumber).rawJsonNumber}`;
      }
      return v;
    },
    pretty ? 4 : undefined,
  );
  const out = raw ? s.replace(rawTagPattern, '$1') : s;
  return pretty ? `${out}\n` : out;
}

const rawNonce = Math.random().toString(36).slice(2, 10);
const rawTag = `\u0000raw${rawNonce}:`;
const rawTagPattern = new RegExp(`"\\\\u0000raw${rawNonce}:([0-9]{1,20})"`, 'g');

/** How a route renders the agent's answer. */
interface RenderMode {
  /** A blocking-capable read: X-Consul-Index (floored at 1) and the leader headers always. */
  readonly blocking?: boolean;
  /** A write that Consul answers with an empty body (agent endpoints). */
  readonly empty?: boolean;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve('timeout'), ms);
    timer.unref?.();
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

async function ask(r: Req, request: AgentRequest, mode: RenderMode = {}): Promise<Out> {
  const read = (request as { read?: ReadOptions }).read;
  const blockingWaitMs = read?.minIndex ? (read.waitMs ?? 0) * (17 / 16) : 0;
  const timeoutMs = blockingWaitMs + (r.ctx.callTimeoutMs ?? callTimeoutMsDefault);
  const metrics = r.ctx.metrics;
  const parked = !!read?.minIndex;
  if (parked && metrics) metrics.blockingInFlight++;
  let response: AgentResponse | 'timeout';
  try {
    response = await withTimeout(r.call(r.dc !== undefined ? { ...request, dc: r.dc } : request), timeoutMs);
  } catch (error) {
    return text(500, `rpc error: ${(error as Error)?.message ?? String(error)}`);
  } finally {
    if (parked && metrics) metrics.blockingInFlight--;
  }
  if (response === 'timeout') return text(500, 'rpc error: timeout');
  return render(r, response, mode);
}

/**
 * A decimal integer header value at least `floor`: Consul's index is never 0 (clients busy-loop or
 * reject it), and nothing a buggy agent reports (NaN, fractions, 1e21) may leak a non-integer form.
 */
function integerHeader(value: number | undefined, floor: number): string {
  if (value === undefined || !Number.isFinite(value)) return String(floor);
  return String(Math.min(Number.MAX_SAFE_INTEGER, Math.max(floor, Math.floor(value))));
}

function render(r: Req, response: AgentResponse, mode: RenderMode): Out {
  const headers: Record<string, string> = {};
  if (mode.blocking || response.index !== undefined) headers['X-Consul-Index'] = integerHeader(response.index, 1);
  if (mode.blocking || response.knownLeader !== undefined)
    headers['X-Consul-KnownLeader'] = String(response.knownLeader === true);
  if (mode.blocking || response.lastContactMs !== undefined)
    headers['X-Consul-LastContact'] = integerHeader(response.lastContactMs, 0);
  const status =
    Number.isInteger(response.status) && response.status >= 100 && response.status <= 599 ? response.status : 500;
  const success = status >= 200 && status < 300;
  if (!success && !(status === 409 && response.body != null)) {
    return text(status, response.error ?? '', headers);
  }
  if (response.body instanceof Uint8Array) {
    return { status, headers: { ...headers, 'Content-Type': textPlain }, body: response.body };
  }
  if (mode.empty) return { status, headers: { ...headers, 'Content-Type': textPlain }, body: '' };
  return { status, headers: { ...headers, 'Content-Type': appJson }, body: jsonText(response.body, r.pretty) };
}

function readOptions(r: Req): ReadOptions | Out {
  const consistency = parseConsistency(r.query);
  if (!consistency.ok) return badRequest(consistency.error);
  const blocking = parseBlocking(r.query);
  if (!blocking.ok) return badRequest(blocking.error);
  const read: { minIndex?: number; waitMs?: number; consistency: ReadOptions['consistency'] } = {
    consistency: consistency.value,
  };
  if (blocking.value.minIndex > 0) {
    read.minIndex = blocking.value.minIndex;
    read.waitMs = blocking.value.waitMs;
  }
  return read;
}

function isOut(x: unknown): x is Out {
  return typeof x === 'object' && x !== null && 'status' in x && 'body' in x;
}

/** A blocking read: parse ?index/?wait/?stale/?consistent, then ask. */
async function blockingRead(r: Req, build: (read: ReadOptions) => AgentRequest | Out): Promise<Out> {
  const read = readOptions(r);
  if (isOut(read)) return read;
  const request = build(read);
  if (isOut(request)) return request;
  return ask(r, request, { blocking: true });
}

function decode(
  r: Req,
  schema: Schema,
  emptyAs?: unknown,
): { ok: true; value: Record<string, unknown> } | { ok: false; out: Out } {
  if (r.body.length === 0 && emptyAs !== undefined) return { ok: true, value: emptyAs as Record<string, unknown> };
  const parsed = decodeJsonBody(r.body, schema);
  if (!parsed.ok) return { ok: false, out: badRequest(parsed.error) };
  return { ok: true, value: (parsed.value ?? {}) as Record<string, unknown> };
}

/** Optional uint query parameter; `undefined` when absent, an Out on a bad value. */
function uintParam(r: Req, name: string): number | undefined | Out {
  if (!r.query.has(name)) return undefined;
  const n = parseUint(r.query.get(name)!);
  if (n === undefined) return badRequest(`Invalid ${name}`);
  return n;
}

/** `?enable=true|false`, required, Go booleans (agent and service maintenance). */
function enableParam(r: Req): boolean | Out {
  const raw = r.query.get('enable');
  if (raw === null || raw === '') return badRequest('Missing value for enable');
  const b = parseGoBool(raw);
  if (b === undefined) return badRequest('Invalid value for enable');
  return b;
}

function withOptional<T extends object>(base: T, extras: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(extras)) if (v !== undefined && v !== null && v !== '') out[k] = v;
  return out as T;
}

function requireRest(r: Req, what: string): string | Out {
  return r.rest === '' ? badRequest(`Missing ${what}`) : r.rest;
}

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

// ───────────────────────────────────────────── sessions ───────────────────────────────────────────

async function sessionCreate(r: Req): Promise<Out> {
  const d = decode(r, sessionCreateSchema, {});
  if (!d.ok) return d.out;
  const b = d.value;
  const lockDelay = lockDelayMs(b.LockDelay);
  if (!lockDelay.ok) return badRequest(lockDelay.error);
  const ttl = durationMs(b.TTL, 'TTL');
  if (!ttl.ok) return badRequest(`Request decode failed: Invalid Session TTL '${String(b.TTL)}'`);
  const behavior = b.Behavior as string | undefined;
  if (behavior !== undefined && behavior !== '' && behavior !== 'release' && behavior !== 'delete') {
    return badRequest(`Invalid Behavior setting '${behavior}'`);
  }
  let checks: string[] | undefined;
  if (b.Checks !== undefined || b.NodeChecks !== undefined) {
    checks = [
      ...new Set([...((b.Checks as string[] | undefined) ?? []), ...((b.NodeChecks as string[] | undefined) ?? [])]),
    ];
  }
  const serviceChecks = (b.ServiceChecks as { ID?: string; Namespace?: string }[] | undefined)?.map((c) =>
    c.Namespace ? { id: c.ID ?? '', namespace: c.Namespace } : { id: c.ID ?? '' },
  );
  return ask(
    r,
    withOptional({ type: 'session.create' } as AgentRequest, {
      name: b.Name,
      node: b.Node,
      lockDelayMs: lockDelay.value,
      checks,
      serviceChecks,
      behavior: behavior || undefined,
      ttlMs: ttl.value,
    }),
  );
}

// ────────────────────────────────────────────── agent ─────────────────────────────────────────────

async function serviceRegister(r: Req): Promise<Out> {
  const d = decode(r, serviceRegisterSchema);
  if (!d.ok) return d.out;
  const service = toServiceDefinition(d.value, 'Name');
  if (!service.ok) return badRequest(service.error);
  return ask(r, { type: 'agent.service.register', service: service.value }, { empty: true });
}

async function checkRegister(r: Req): Promise<Out> {
  const d = decode(r, checkTypeSchema);
  if (!d.ok) return d.out;
  if (typeof d.value.Name !== 'string' || d.value.Name === '') return badRequest('Missing check name');
  const check = toCheckDefinition(d.value);
  if (!check.ok) return badRequest(check.error);
  return ask(r, { type: 'agent.check.register', check: check.value }, { empty: true });
}

function checkTtl(type: 'agent.check.pass' | 'agent.check.warn' | 'agent.check.fail'): Handler {
  return (r) => {
    const id = requireRest(r, 'check ID');
    if (isOut(id)) return id;
    const note = r.query.get('note');
    return ask(r, note ? { type, id, note } : { type, id }, { empty: true });
  };
}

async function checkUpdate(r: Req): Promise<Out> {
  const id = requireRest(r, 'check ID');
  if (isOut(id)) return id;
  const d = decode(r, checkUpdateSchema);
  if (!d.ok) return d.out;
  const status = d.value.Status;
  if (status !== 'passing' && status !== 'warning' && status !== 'critical')
    return badRequest(`Invalid check status: '${String(status ?? '')}'`);
  const output = d.value.Output as string | undefined;
  return ask(
    r,
    output === undefined
      ? { type: 'agent.check.update', id, status }
      : { type: 'agent.check.update', id, status, output },
    { empty: true },
  );
}

function simple(build: (r: Req) => AgentRequest | Out, mode: RenderMode = {}): Handler {
  return (r) => {
    const request = build(r);
    if (isOut(request)) return request;
    return ask(r, request, mode);
  };
}

function withRest(what: string, build: (rest: string, r: Req) => AgentRequest | Out, mode: RenderMode = {}): Handler {
  return simple((r) => {
    const rest = requireRest(r, what);
    if (isOut(rest)) return rest;
    return build(rest, r);
  }, mode);
}

function blockingWithRest(
  what: string,
  build: (rest: string, read: ReadOptions, r: Req) => AgentRequest | Out,
): Handler {
  return (r) => {
    const rest = requireRest(r, what);
    if (isOut(rest)) return rest;
    return blockingRead(r, (read) => build(rest, read, r));
  };
}

/**
 * `GET /v1/agent/metrics`: the agent's own figures (Consul's JSON shape) merged with the HTTP layer's;
 * `?format=prometheus` renders both as Prometheus text. If the agent cannot answer, the HTTP figures
 * are still served in Prometheus form (a scraper should see the API is alive), and JSON answers the
 * agent's error.
 */
async function metrics(r: Req): Promise<Out> {
  let response: AgentResponse | undefined;
  try {
    const answer = await withTimeout(r.call({ type: 'agent.metrics' }), r.ctx.callTimeoutMs ?? callTimeoutMsDefault);
    if (answer !== 'timeout') response = answer;
  } catch {
    response = undefined;
  }
  const agentOk =
    response !== undefined && response.status === 200 && response.body !== null && typeof response.body === 'object';
  const agentJson = (agentOk ? response!.body : {}) as Record<string, unknown>;
  const local = r.ctx.metrics;
  if (r.query.get('format') === 'prometheus') {
    const body = consulJsonToPrometheus(agentJson) + (local ? local.toPrometheus() : '');
    return { status: 200, headers: { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }, body };
  }
  if (!agentOk) return response ? render(r, response, {}) : text(500, 'rpc error: timeout');
  const merged: Record<string, unknown> = { ...agentJson };
  if (local) {
    const mine = local.toConsulJson();
    for (const key of ['Gauges', 'Counters', 'Samples'] as const) {
      const theirs = Array.isArray(merged[key]) ? (merged[key] as unknown[]) : [];
      merged[key] = [...theirs, ...mine[key]];
    }
  }
  return { status: 200, headers: { 'Content-Type': appJson }, body: jsonText(merged, r.pretty) };
}

// ───────────────────────────────────────────── catalog ────────────────────────────────────────────

async function catalogRegister(r: Req): Promise<Out> {
  const d = decode(r, catalogRegisterSchema);
  if (!d.ok) return d.out;
  const b = d.value;
  if (typeof b.Node !== 'string' || b.Node === '') return badRequest('Must provide node');
  if (typeof b.Address !== 'string' || b.Address === '') return badRequest('Must provide address');
  if (b.Datacenter && b.Datacenter !== r.ctx.datacenter) return text(500, 'No path to datacenter');
  let service;
  if (b.Service) {
    const s = toServiceDefinition(b.Service as Record<string, unknown>, 'Service');
    if (!s.ok) return badRequest(s.error);
    service = s.value;
  }
  const checks = catalogChecks(b);
  if (!checks.ok) return badRequest(checks.error);
  return ask(
    r,
    withOptional({ type: 'catalog.register', node: b.Node, address: b.Address } as AgentRequest, {
      datacenter: b.Datacenter,
      id: b.ID,
      taggedAddresses: b.TaggedAddresses,
      nodeMeta: b.NodeMeta,
      service,
      checks: checks.value.length > 0 ? checks.value : undefined,
    }),
  );
}

async function catalogDeregister(r: Req): Promise<Out> {
  const d = decode(r, catalogDeregisterSchema);
  if (!d.ok) return d.out;
  const b = d.value;
  if (typeof b.Node !== 'string' || b.Node === '') return badRequest('Must provide node');
  if (b.Datacenter && b.Datacenter !== r.ctx.datacenter) return text(500, 'No path to datacenter');
  return ask(
    r,
    withOptional({ type: 'catalog.deregister', node: b.Node } as AgentRequest, {
      serviceId: b.ServiceID,
      checkId: b.CheckID,
    }),
  );
}

/**
 * Where a list endpoint's entries keep what `?filter`, `?near` and `?node-meta` look at. `list`: the
 * body is an array of entries; `map`: an object whose values are the entries (agent services and
 * checks); `services`: catalog/node's `{Node, Services: {id: service}}`, filtered on its services.
 */
interface ListShape {
  readonly body: 'list' | 'map' | 'services';
  /** The node an entry belongs to, for `?near`. */
  readonly nodeOf?: (entry: Record<string, unknown>) => unknown;
  /** The node meta an entry carries, for `?node-meta` (applied here, not by the agent). */
  readonly metaOf?: (entry: Record<string, unknown>) => unknown;
}

const record = (x: unknown): Record<string, unknown> =>
  x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
const shapes = {
  nodes: { body: 'list', nodeOf: (e) => e.Node } as ListShape,
  catalogService: { body: 'list', nodeOf: (e) => e.Node, metaOf: (e) => e.NodeMeta } as ListShape,
  healthService: { body: 'list', nodeOf: (e) => record(e.Node).Node, metaOf: (e) => record(e.Node).Meta } as ListShape,
  checks: { body: 'list', nodeOf: (e) => e.Node } as ListShape,
  map: { body: 'map' } as ListShape,
  catalogNode: { body: 'services' } as ListShape,
};

/**
 * `?filter=` (Consul's expression language, net/http/filter.ts), `?near=` and `?node-meta=` on a
 * list endpoint. The filter is parsed before the agent is asked (a bad one answers 400 and costs
 * nothing); the answer is filtered here, after the agent, so `X-Consul-Index` and blocking are those
 * of the unfiltered result, as in Consul. `?near=NODE` (or `_agent`) sorts entries by the estimated
 * round trip from that node, from the network coordinates in the catalog (`/v1/coordinate/nodes`, a
 * stale read): nodes without a coordinate go last, ties keep their order. When the near node itself
 * has no coordinate yet, its own entries go first and the rest keep their order.
 */
function listed(shape: ListShape, handler: Handler): Handler {
  return async (r) => {
    let filter: FilterPredicate | undefined;
    const source = r.query.get('filter');
    if (source !== null) {
      const compiled = compileFilter(source);
      if (isFilterError(compiled)) return badRequest(compiled.error);
      filter = compiled;
    }
    const nearParam = r.query.get('near');
    const near = nearParam === '_agent' ? r.ctx.nodeName : nearParam || undefined;
    const meta = shape.metaOf ? nodeMetaParam(r) : undefined;
    const out = await handler(r);
    if (out.status !== 200 || typeof out.body !== 'string' || (!filter && near === undefined && !meta)) return out;
    const keep = (entry: unknown): boolean => {
      if (filter && !filter(entry)) return false;
      if (meta && shape.metaOf) {
        const m = record(shape.metaOf(record(entry)));
        if (!Object.entries(meta).every(([k, v]) => m[k] === v)) return false;
      }
      return true;
    };
    let body: unknown = JSON.parse(out.body);
    if (shape.body === 'list' && Array.isArray(body)) {
      let entries = body.filter(keep);
      if (near !== undefined && shape.nodeOf) entries = await sortNear(r, entries, near, shape.nodeOf);
      body = entries;
    } else if (shape.body === 'map' && body !== null && typeof body === 'object') {
      body = Object.fromEntries(Object.entries(body).filter(([, v]) => keep(v)));
    } else if (shape.body === 'services' && body !== null && typeof body === 'object') {
      const node = body as Record<string, unknown>;
      body = {
        ...node,
        Services: Object.fromEntries(Object.entries(record(node.Services)).filter(([, v]) => keep(v))),
      };
    }
    return { ...out, body: jsonText(body, r.pretty) };
  };
}

async function sortNear(
  r: Req,
  entries: unknown[],
  near: string,
  nodeOf: (entry: Record<string, unknown>) => unknown,
): Promise<unknown[]> {
  const coordinates = new Map<string, Coordinate>();
  try {
    const answer = await r.call({ type: 'coordinate.nodes', read: { consistency: 'stale' } });
    if (answer.status === 200 && Array.isArray(answer.body)) {
      for (const e of answer.body as { Node?: unknown; Coord?: unknown }[])
        if (typeof e?.Node === 'string' && isCoordinate(e.Coord)) coordinates.set(e.Node, e.Coord);
    }
  } catch {
    // No coordinates: fall back to the near node first.
  }
  const origin = coordinates.get(near);
  if (origin === undefined)
    return [...entries.filter((e) => nodeOf(record(e)) === near), ...entries.filter((e) => nodeOf(record(e)) !== near)];
  const distance = (e: unknown): number => {
    const node = nodeOf(record(e));
    if (node === near) return -1; // the node itself first, whatever its height
    const c = typeof node === 'string' ? coordinates.get(node) : undefined;
    return c === undefined ? Number.POSITIVE_INFINITY : distanceSeconds(origin, c);
  };
  return entries
    .map((e, i) => ({ e, i, d: distance(e) }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .map((x) => x.e);
}

/** `?node-meta=key:value` (repeatable) → a record; a value without ':' matches an empty value, as Consul does. */
function nodeMetaParam(r: Req): Record<string, string> | undefined {
  const all = r.query.getAll('node-meta');
  if (all.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const item of all) {
    const colon = item.indexOf(':');
    if (colon < 0) out[item] = '';
    else out[item.slice(0, colon)] = item.slice(colon + 1);
  }
  return out;
}

// ───────────────────────────────────────────── events ─────────────────────────────────────────────

async function eventFire(r: Req): Promise<Out> {
  const name = requireRest(r, 'name');
  if (isOut(name)) return name;
  return ask(
    r,
    withOptional({ type: 'event.fire', name, payload: r.body.length > 0 ? r.body : null } as AgentRequest, {
      nodeFilter: r.query.get('node'),
      serviceFilter: r.query.get('service'),
      tagFilter: r.query.get('tag'),
    }),
  );
}

// ───────────────────────────────────────── prepared queries ───────────────────────────────────────

async function queryCreate(r: Req): Promise<Out> {
  const d = decode(r, preparedQuerySchema);
  if (!d.ok) return d.out;
  return ask(r, { type: 'query.create', definition: d.value });
}

/**
 * `/v1/query/<id>`: GET, PUT (replace), DELETE; `/v1/query/<id or name>/execute` and `/explain`: GET
 * only (Consul's preparedQuerySpecific).
 */
function querySpecific(method: 'GET' | 'PUT' | 'DELETE'): Handler {
  return async (r) => {
    const action = /\/(execute|explain)$/.exec(r.rest)?.[1];
    const id = action ? r.rest.slice(0, -action.length - 1) : r.rest;
    if (id === '') return badRequest('Missing query ID');
    if (action && method !== 'GET') return text(405, `method ${method} not allowed`, { Allow: 'GET' });
    if (action === 'explain') return blockingRead(r, (read) => ({ type: 'query.explain', idOrName: id, read }));
    if (action === 'execute') {
      const limit = uintParam(r, 'limit');
      if (isOut(limit)) return limit;
      return blockingRead(r, (read) =>
        withOptional({ type: 'query.execute', idOrName: id, read } as AgentRequest, {
          near: r.query.get('near'),
          limit,
        }),
      );
    }
    if (method === 'GET') return blockingRead(r, (read) => ({ type: 'query.get', id, read }));
    if (method === 'DELETE') return ask(r, { type: 'query.delete', id }, { empty: true });
    const d = decode(r, preparedQuerySchema);
    if (!d.ok) return d.out;
    return ask(r, { type: 'query.update', id, definition: d.value }, { empty: true });
  };
}

// ───────────────────────────────────────────── routes ─────────────────────────────────────────────

const healthStates = new Set(['any', 'passing', 'warning', 'critical']);

function exact(path: string, methods: Record<string, Handler>): Route {
  return { path, prefix: false, methods };
}
function prefix(path: string, methods: Record<string, Handler>): Route {
  return { path, prefix: true, methods };
}
/** PUT, plus GET for the legacy endpoints python-consul 0.7.1 calls with GET (consul-api.md §0). */
function putOrLegacyGet(handler: Handler): Record<string, Handler> {
  return { PUT: handler, GET: handler };
}

const root: Handler = () => text(200, 'Conclave Agent (Consul-compatible HTTP API at /v1/)');
const aclDisabled: Handler = () => text(401, 'ACL support disabled');

/** The legacy ACL API when ACLs are on (permissions are checked in routeHttp before these run). */
function aclRoute(handler: Handler): Handler {
  return (r) => (r.ctx.acl?.enabled ? handler(r) : aclDisabled(r));
}

async function aclWrite(r: Req, type: 'acl.create' | 'acl.update'): Promise<Out> {
  const d = r.body.length === 0 ? { ok: true as const, value: {} } : decodeJsonBody(r.body, aclSchema);
  if (!d.ok) return badRequest(d.error);
  return ask(r, { type, definition: (d.value ?? {}) as Record<string, unknown> });
}

async function aclClone(r: Req): Promise<Out> {
  const source = await r.call({ type: 'acl.info', id: r.rest, read: { consistency: 'default' } });
  const token = Array.isArray(source.body)
    ? (source.body[0] as { Name: string; Type: string; Rules: string } | undefined)
    : undefined;
  if (source.status !== 200) return render(r, source, {});
  if (!token) return text(403, 'ACL not found');
  return ask(r, { type: 'acl.create', definition: { Name: token.Name, Type: token.Type, Rules: token.Rules } });
}
/** `GET /v1/snapshot`: the archive of the whole store (a default-consistency read through the leader). */
async function snapshotSave(r: Req): Promise<Out> {
  const read = readOptions(r);
  if (isOut(read)) return read;
  const response = await r.call({ type: 'snapshot.save', read });
  if (response.status !== 200) return render(r, response, {});
  const index = Math.max(1, Math.floor(Number(response.index ?? 1)) || 1);
  return {
    status: 200,
    headers: { 'Content-Type': 'application/octet-stream', 'X-Consul-Index': String(index) },
    body: encodeSnapshot(response.body, index),
  };
}

/** `PUT /v1/snapshot`: restore the archive's store through Raft. */
async function snapshotRestore(r: Req): Promise<Out> {
  const decoded = decodeSnapshot(r.body);
  if (!decoded.ok) return badRequest(decoded.error);
  return ask(r, { type: 'snapshot.restore', snapshot: decoded.store }, { empty: true });
}

/** `PUT /v1/coordinate/update`: a node's coordinate, as agents send theirs (Consul's Coordinate.Update). */
async function coordinateUpdate(r: Req): Promise<Out> {
  const d = decode(r, coordinateUpdateSchema);
  if (!d.ok) return d.out;
  const b = d.value as { Node?: string; Datacenter?: string; Coord?: unknown };
  if (typeof b.Node !== 'string' || b.Node === '') return badRequest('Must provide node');
  if (b.Datacenter && b.Datacenter !== r.ctx.datacenter) return text(500, 'No path to datacenter');
  return ask(r, { type: 'coordinate.update', node: b.Node, coord: b.Coord ?? null }, { empty: true });
}

export const routes: readonly Route[] = [
  exact('/', { GET: root, HEAD: root }),
  // KV
  prefix('/v1/kv/', { GET: kvGet, PUT: kvPut, DELETE: kvDelete }),
  exact('/v1/kv', { GET: kvGet, PUT: kvPut, DELETE: kvDelete }),
  exact('/v1/txn', { PUT: txn, POST: txn }),
  // sessions
  exact('/v1/session/create', { PUT: sessionCreate }),
  prefix('/v1/session/destroy/', { PUT: withRest('session id', (id) => ({ type: 'session.destroy', id })) }),
  prefix('/v1/session/info/', {
    GET: blockingWithRest('session id', (id, read) => ({ type: 'session.info', id, read })),
  }),
  prefix('/v1/session/node/', {
    GET: blockingWithRest('node name', (node, read) => ({ type: 'session.node', node, read })),
  }),
  exact('/v1/session/list', { GET: (r) => blockingRead(r, (read) => ({ type: 'session.list', read })) }),
  prefix('/v1/session/renew/', { PUT: withRest('session id', (id) => ({ type: 'session.renew', id })) }),
  // agent
  exact('/v1/agent/self', { GET: simple(() => ({ type: 'agent.self' })) }),
  exact('/v1/agent/members', {
    GET: simple((r) => (queryFlag(r.query, 'wan') ? { type: 'agent.members', wan: true } : { type: 'agent.members' })),
  }),
  prefix(
    '/v1/agent/join/',
    putOrLegacyGet(
      withRest(
        'address',
        (address, r) =>
          queryFlag(r.query, 'wan')
            ? { type: 'agent.join', addresses: [address], wan: true }
            : { type: 'agent.join', addresses: [address] },
        { empty: true },
      ),
    ),
  ),
  exact('/v1/agent/leave', { PUT: simple(() => ({ type: 'agent.leave' }), { empty: true }) }),
  prefix(
    '/v1/agent/force-leave/',
    putOrLegacyGet(withRest('node', (node) => ({ type: 'agent.forceLeave', node }), { empty: true })),
  ),
  exact('/v1/agent/reload', { PUT: (r) => reloadHandler(r) }),
  exact('/v1/agent/maintenance', {
    PUT: simple(
      (r) => {
        const enable = enableParam(r);
        if (isOut(enable)) return enable;
        return withOptional({ type: 'agent.maintenance', enable } as AgentRequest, { reason: r.query.get('reason') });
      },
      { empty: true },
    ),
  }),
  exact('/v1/agent/services', {
    GET: listed(
      shapes.map,
      simple(() => ({ type: 'agent.services' })),
    ),
  }),
  exact('/v1/agent/service/register', { PUT: serviceRegister }),
  prefix(
    '/v1/agent/service/deregister/',
    putOrLegacyGet(withRest('service id', (id) => ({ type: 'agent.service.deregister', id }), { empty: true })),
  ),
  prefix('/v1/agent/service/maintenance/', {
    PUT: withRest(
      'service id',
      (id, r) => {
        const enable = enableParam(r);
        if (isOut(enable)) return enable;
        return withOptional({ type: 'agent.service.maintenance', id, enable } as AgentRequest, {
          reason: r.query.get('reason'),
        });
      },
      { empty: true },
    ),
  }),
  exact('/v1/agent/checks', {
    GET: listed(
      shapes.map,
      simple(() => ({ type: 'agent.checks' })),
    ),
  }),
  exact('/v1/agent/check/register', { PUT: checkRegister }),
  prefix('/v1/agent/check/pass/', putOrLegacyGet(checkTtl('agent.check.pass'))),
  prefix('/v1/agent/check/warn/', putOrLegacyGet(checkTtl('agent.check.warn'))),
  prefix('/v1/agent/check/fail/', putOrLegacyGet(checkTtl('agent.check.fail'))),
  prefix('/v1/agent/check/update/', { PUT: checkUpdate }),
  prefix(
    '/v1/agent/check/deregister/',
    putOrLegacyGet(withRest('check id', (id) => ({ type: 'agent.check.deregister', id }), { empty: true })),
  ),
  exact('/v1/agent/metrics', { GET: metrics }),
  // catalog
  exact('/v1/catalog/datacenters', { GET: simple(() => ({ type: 'catalog.datacenters' })) }),
  exact('/v1/catalog/nodes', {
    GET: listed(shapes.nodes, (r) =>
      blockingRead(r, (read) =>
        withOptional({ type: 'catalog.nodes', read } as AgentRequest, { nodeMeta: nodeMetaParam(r) }),
      ),
    ),
  }),
  exact('/v1/catalog/services', { GET: (r) => blockingRead(r, (read) => ({ type: 'catalog.services', read })) }),
  prefix('/v1/catalog/service/', {
    GET: listed(
      shapes.catalogService,
      blockingWithRest('service name', (service, read, r) =>
        withOptional({ type: 'catalog.service', service, read } as AgentRequest, { tag: r.query.get('tag') }),
      ),
    ),
  }),
  prefix('/v1/catalog/node/', {
    GET: listed(
      shapes.catalogNode,
      blockingWithRest('node name', (node, read) => ({ type: 'catalog.node', node, read })),
    ),
  }),
  exact('/v1/catalog/register', { PUT: catalogRegister }),
  exact('/v1/catalog/deregister', { PUT: catalogDeregister }),
  // health
  prefix('/v1/health/state/', {
    GET: listed(
      shapes.checks,
      blockingWithRest('check state', (state, read) => {
        if (!healthStates.has(state)) return badRequest(`Invalid state: ${state}`);
        return { type: 'health.state', state: state as 'any', read };
      }),
    ),
  }),
  prefix('/v1/health/node/', {
    GET: listed(
      shapes.checks,
      blockingWithRest('node name', (node, read) => ({ type: 'health.node', node, read })),
    ),
  }),
  prefix('/v1/health/checks/', {
    GET: listed(
      shapes.checks,
      blockingWithRest('service name', (service, read) => ({ type: 'health.checks', service, read })),
    ),
  }),
  prefix('/v1/health/service/', {
    GET: listed(
      shapes.healthService,
      blockingWithRest('service name', (service, read, r) =>
        withOptional({ type: 'health.service', service, read } as AgentRequest, {
          tag: r.query.get('tag'),
          passing: queryFlag(r.query, 'passing') || undefined,
        }),
      ),
    ),
  }),
  // status
  exact('/v1/status/leader', { GET: simple(() => ({ type: 'status.leader' })) }),
  exact('/v1/status/peers', { GET: simple(() => ({ type: 'status.peers' })) }),
  // operator
  exact('/v1/operator/raft/configuration', { GET: simple(() => ({ type: 'operator.raft.configuration' })) }),
  exact('/v1/operator/raft/peer', {
    DELETE: simple(
      (r) => ({ type: 'operator.raft.removePeer', peer: r.query.get('address') || r.query.get('id') || '' }),
      { empty: true },
    ),
  }),
  // prepared queries
  exact('/v1/query', { GET: (r) => blockingRead(r, (read) => ({ type: 'query.list', read })), POST: queryCreate }),
  prefix('/v1/query/', { GET: querySpecific('GET'), PUT: querySpecific('PUT'), DELETE: querySpecific('DELETE') }),
  // events
  prefix('/v1/event/fire/', { PUT: eventFire }),
  exact('/v1/event/list', {
    GET: (r) =>
      blockingRead(r, (read) =>
        withOptional({ type: 'event.list', read } as AgentRequest, { name: r.query.get('name') }),
      ),
  }),
  // ACLs are off: every ACL endpoint says so, as python-consul's ACLDisabled expects.
  exact('/v1/acl/create', { PUT: aclRoute((r) => aclWrite(r, 'acl.create')) }),
  exact('/v1/acl/update', { PUT: aclRoute((r) => aclWrite(r, 'acl.update')) }),
  prefix('/v1/acl/destroy/', { PUT: aclRoute(withRest('ACL ID', (id) => ({ type: 'acl.destroy', id }))) }),
  prefix('/v1/acl/info/', {
    GET: aclRoute(blockingWithRest('ACL ID', (id, read) => ({ type: 'acl.info', id, read }))),
  }),
  prefix('/v1/acl/clone/', { PUT: aclRoute(aclClone) }),
  exact('/v1/acl/list', { GET: aclRoute((r) => blockingRead(r, (read) => ({ type: 'acl.list', read }))) }),
  prefix('/v1/acl/', { GET: aclDisabled, PUT: aclDisabled, POST: aclDisabled, DELETE: aclDisabled }),
  exact('/v1/snapshot', { GET: snapshotSave, PUT: snapshotRestore }),
  exact('/v1/coordinate/datacenters', { GET: simple(() => ({ type: 'coordinate.datacenters' })) }),
  exact('/v1/coordinate/nodes', {
    GET: listed(shapes.nodes, (r) => blockingRead(r, (read) => ({ type: 'coordinate.nodes', read }))),
  }),
  prefix('/v1/coordinate/node/', {
    GET: blockingWithRest('node name', (node, read) => ({ type: 'coordinate.node', node, read })),
  }),
  exact('/v1/coordinate/update', { PUT: coordinateUpdate }),
];

async function reloadHandler(r: Req): Promise<Out> {
  if (!r.ctx.reload) return text(500, 'Reload is not available: this agent has no configuration files to re-read');
  const denied = await r.check({ type: 'agent.reload', services: [], checks: [] });
  if (denied) return render(r, denied, {});
  let response: AgentResponse;
  try {
    response = await r.ctx.reload();
  } catch (error) {
    return text(500, `Reload failed: ${(error as Error)?.message ?? String(error)}`);
  }
  return render(r, response, { empty: true });
}

// ─────────────────────────────────────────── dispatcher ───────────────────────────────────────────

function matchRoute(path: string): { route: Route; rest: string } | undefined {
  let best: { route: Route; rest: string } | undefined;
  for (const route of routes) {
    if (route.prefix) {
      if (path.startsWith(route.path) && (!best || route.path.length > best.route.path.length))
        best = { route, rest: path.slice(route.path.length) };
    } else if (path === route.path) {
      return { route, rest: '' };
    }
  }
  return best;
}

/** Answers one HTTP request. Never throws and always resolves. */
export async function routeHttp(req: HttpRequestIn, ctx: RouterContext): Promise<HttpResponseOut> {
  let route = 'unmatched';
  try {
    const question = req.url.indexOf('?');
    const rawPath = question < 0 ? req.url : req.url.slice(0, question);
    const rawQuery = question < 0 ? '' : req.url.slice(question + 1);
    let path: string;
    try {
      // Go's URL parsing decodes the path before Consul's handlers see it; %2F becomes '/'.
      path = decodeURIComponent(rawPath);
    } catch {
      return { ...text(400, `invalid URL escape in path`), route: 'bad-url' };
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
      // An absolute-form target ("http://host:8500/v1/..."), as proxies send.
      try {
        path = decodeURIComponent(new URL(rawPath).pathname);
      } catch {
        return { ...text(400, 'invalid request target'), route: 'bad-url' };
      }
    }
    const query = new URLSearchParams(rawQuery);
    const matched = matchRoute(path);
    if (!matched) return { ...text(404, '404 page not found\n'), route: 'unmatched' };
    route = matched.route.prefix ? `${matched.route.path}*` : matched.route.path;
    const method = req.method.toUpperCase();
    const handler = matched.route.methods[method];
    if (!handler) {
      const allow = Object.keys(matched.route.methods).join(', ');
      return { ...text(405, `method ${method} not allowed`, { Allow: allow }), route };
    }
    const dc = query.get('dc') || undefined;
    if (dc !== undefined && dc !== ctx.datacenter && path.startsWith('/v1/')) {
      return { ...text(500, 'No path to datacenter'), route };
    }
    const token = requestToken(req.headers, query);
    const gate = gatedAgent(ctx.call, ctx.acl, { nodeName: ctx.nodeName ?? '' });
    const { call: _raw, ...handlerCtx } = ctx;
    const out = await handler({
      call: (request) => gate.call(request, token),
      check: (request) => gate.check(request, token),
      method,
      rest: matched.rest,
      query,
      body: req.body,
      pretty: query.has('pretty'),
      ctx: handlerCtx,
      dc,
    });
    return { status: out.status, headers: out.headers, body: out.body, route };
  } catch (error) {
    return { ...text(500, `internal error: ${(error as Error)?.message ?? String(error)}`), route };
  }
}
