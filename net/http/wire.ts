/**
 * The HTTP layer's wire rules and the small vocabulary every route file is written in: the request a
 * handler sees (`Req`, whose only way to the agent is the ACL gate, `r.call`), plain-text and JSON
 * answers, Consul's header rules (consul-api.md §0–§2: `X-Consul-Index` floored at 1 and present on
 * 404, the leader headers), blocking-read options, body decoding (strict: parse.ts), handler
 * builders, and the `?filter`/`?near`/`?node-meta` post-processing of list endpoints.
 *
 * Route tables live in routes/<family>.ts; router.ts dispatches to them.
 */
import { type AgentRequest, type AgentResponse, type ReadOptions, kvValueBytesMax } from '../../core/agent/api.js';
import type { RawJsonNumber } from '../../core/agent/ops.js';
import type { HttpMetrics } from './metrics.js';
import { compileFilter, isFilterError, type FilterPredicate } from './filter.js';
import type { AclSettings, AgentCall } from '../gate.js';
import { distanceSeconds, isCoordinate, type Coordinate } from '../../core/swim/coordinate.js';
import { decodeJsonBody, parseBlocking, parseConsistency, parseGoBool, parseUint, type Schema } from './parse.js';

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
  /**
   * `/v1/operator/keyring`: the gossip keyring, held by the agent process (cli/agent/keyring-ops.ts),
   * which fans each change out to every member. Absent → 500 (no gossip encryption here).
   */
  readonly keyring?: (op: 'list' | 'install' | 'use' | 'remove', key: string | null) => Promise<AgentResponse>;
  /** Legacy ACLs, enforced by the gate (net/gate.ts) on every request a handler sends; off when absent. */
  readonly acl?: AclSettings;
  /**
   * `GET /v1/agent/debug/insides`: Raft and SWIM state as this agent's process reads it
   * (cli/agent/insides.ts). Absent → 404 (an HTTP API without an agent process behind it).
   */
  readonly insides?: () => unknown;
}

export const callTimeoutMsDefault = 30_000;

export const textPlain = 'text/plain; charset=utf-8';
export const appJson = 'application/json';

/**
 * What a handler sees. It reaches the agent only through `call`, the ACL gate bound to the request's
 * token (net/gate.ts): the router's own context is given without its raw `call`.
 */
export interface Req {
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

export type Handler = (r: Req) => Promise<Out> | Out;

/** A handler's answer before headers common to all responses are added. */
export interface Out {
  status: number;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

export interface Route {
  /** Exact path, or a prefix ending in '/' whose remainder is passed as `rest`. */
  readonly path: string;
  readonly prefix: boolean;
  /** Allowed methods → handler. */
  readonly methods: Readonly<Record<string, Handler>>;
}

// ───────────────────────────────────────────── helpers ────────────────────────────────────────────

export function text(status: number, body: string, headers?: Record<string, string>): Out {
  return { status, headers: { 'Content-Type': textPlain, ...headers }, body };
}

export function badRequest(message: string): Out {
  return text(400, message);
}

/**
 * JSON as Consul writes it. A `RawJsonNumber` (a uint64 KV flag above 2^53 − 1) goes out as its exact
 * digits: the replacer turns it into a tagged string, whose quotes are then dropped. The tag holds a
 * per-process nonce and a NUL, so no user string can pass for one.
 */
export function jsonText(value: unknown, pretty: boolean): string {
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

export const rawNonce = Math.random().toString(36).slice(2, 10);
export const rawTag = `\u0000raw${rawNonce}:`;
export const rawTagPattern = new RegExp(`"\\\\u0000raw${rawNonce}:([0-9]{1,20})"`, 'g');

/** How a route renders the agent's answer. */
export interface RenderMode {
  /** A blocking-capable read: X-Consul-Index (floored at 1) and the leader headers always. */
  readonly blocking?: boolean;
  /** A write that Consul answers with an empty body (agent endpoints). */
  readonly empty?: boolean;
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
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

export async function ask(r: Req, request: AgentRequest, mode: RenderMode = {}): Promise<Out> {
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
export function integerHeader(value: number | undefined, floor: number): string {
  if (value === undefined || !Number.isFinite(value)) return String(floor);
  return String(Math.min(Number.MAX_SAFE_INTEGER, Math.max(floor, Math.floor(value))));
}

export function render(r: Req, response: AgentResponse, mode: RenderMode): Out {
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

export function readOptions(r: Req): ReadOptions | Out {
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

export function isOut(x: unknown): x is Out {
  return typeof x === 'object' && x !== null && 'status' in x && 'body' in x;
}

/** A blocking read: parse ?index/?wait/?stale/?consistent, then ask. */
export async function blockingRead(r: Req, build: (read: ReadOptions) => AgentRequest | Out): Promise<Out> {
  const read = readOptions(r);
  if (isOut(read)) return read;
  const request = build(read);
  if (isOut(request)) return request;
  return ask(r, request, { blocking: true });
}

export function decode(
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
export function uintParam(r: Req, name: string): number | undefined | Out {
  if (!r.query.has(name)) return undefined;
  const n = parseUint(r.query.get(name)!);
  if (n === undefined) return badRequest(`Invalid ${name}`);
  return n;
}

/** `?enable=true|false`, required, Go booleans (agent and service maintenance). */
export function enableParam(r: Req): boolean | Out {
  const raw = r.query.get('enable');
  if (raw === null || raw === '') return badRequest('Missing value for enable');
  const b = parseGoBool(raw);
  if (b === undefined) return badRequest('Invalid value for enable');
  return b;
}

export function withOptional<T extends object>(base: T, extras: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(extras)) if (v !== undefined && v !== null && v !== '') out[k] = v;
  return out as T;
}

export function requireRest(r: Req, what: string): string | Out {
  return r.rest === '' ? badRequest(`Missing ${what}`) : r.rest;
}

// ───────────────────────────────────────── handler builders ───────────────────────────────────────

export function simple(build: (r: Req) => AgentRequest | Out, mode: RenderMode = {}): Handler {
  return (r) => {
    const request = build(r);
    if (isOut(request)) return request;
    return ask(r, request, mode);
  };
}

export function withRest(
  what: string,
  build: (rest: string, r: Req) => AgentRequest | Out,
  mode: RenderMode = {},
): Handler {
  return simple((r) => {
    const rest = requireRest(r, what);
    if (isOut(rest)) return rest;
    return build(rest, r);
  }, mode);
}

export function blockingWithRest(
  what: string,
  build: (rest: string, read: ReadOptions, r: Req) => AgentRequest | Out,
): Handler {
  return (r) => {
    const rest = requireRest(r, what);
    if (isOut(rest)) return rest;
    return blockingRead(r, (read) => build(rest, read, r));
  };
}

export function exact(path: string, methods: Record<string, Handler>): Route {
  return { path, prefix: false, methods };
}
export function prefix(path: string, methods: Record<string, Handler>): Route {
  return { path, prefix: true, methods };
}
/** PUT, plus GET for the legacy endpoints python-consul 0.7.1 calls with GET (consul-api.md §0). */
export function putOrLegacyGet(handler: Handler): Record<string, Handler> {
  return { PUT: handler, GET: handler };
}

// ─────────────────────────────────────────── list endpoints ───────────────────────────────────────

/**
 * Where a list endpoint's entries keep what `?filter`, `?near` and `?node-meta` look at. `list`: the
 * body is an array of entries; `map`: an object whose values are the entries (agent services and
 * checks); `services`: catalog/node's `{Node, Services: {id: service}}`, filtered on its services.
 */
export interface ListShape {
  readonly body: 'list' | 'map' | 'services';
  /** The node an entry belongs to, for `?near`. */
  readonly nodeOf?: (entry: Record<string, unknown>) => unknown;
  /** The node meta an entry carries, for `?node-meta` (applied here, not by the agent). */
  readonly metaOf?: (entry: Record<string, unknown>) => unknown;
}

export const record = (x: unknown): Record<string, unknown> =>
  x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
export const shapes = {
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
 * stale read, of the `?dc=` DC when one is named): nodes without a coordinate go last, ties keep their order. When the near node itself
 * has no coordinate yet, its own entries go first and the rest keep their order.
 */
export function listed(shape: ListShape, handler: Handler): Handler {
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

export async function sortNear(
  r: Req,
  entries: unknown[],
  near: string,
  nodeOf: (entry: Record<string, unknown>) => unknown,
): Promise<unknown[]> {
  const coordinates = new Map<string, Coordinate>();
  try {
    // The coordinates of the DC the entries came from (`?dc=`): as Consul, `near` names a node of
    // that DC and is sorted by that DC's LAN coordinates, which never compare with another DC's.
    const request: AgentRequest = { type: 'coordinate.nodes', read: { consistency: 'stale' } };
    const answer = await r.call(r.dc !== undefined ? { ...request, dc: r.dc } : request);
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
export function nodeMetaParam(r: Req): Record<string, string> | undefined {
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
