/**
 * ACLs across datacenters (Consul 0.6's model, issue 14 and issue 17):
 *
 *  - **The token travels with the request.** A request that runs in another DC (`?dc=`, or ACL
 *    administration sent to the ACL datacenter) crosses the WAN as a `dc` op carrying the caller's
 *    token and the typed request (`ForwardedAuth`). The first server of the target DC resolves the
 *    token with its own view, authorizes that typed request with its own rules (core/agent/endpoints),
 *    translates and runs it — not an op another DC translated — and returns the grant it used, so the
 *    agent that renders the answer filters it with the target DC's rules. The asking DC's own gate
 *    neither allows nor denies such a request: its ACLs may be off, or laxer, or its tokens unknown there.
 *  - **One authoritative DC.** With `acl_datacenter` (or `primary_datacenter`) naming another DC, tokens
 *    are resolved from that DC's store over the WAN and cached for `acl_ttl`; while it cannot be asked,
 *    `acl_down_policy` decides: `allow`, `deny`, or `extend-cache` (the last answer, however old; deny
 *    without one). ACL writes and reads (`/v1/acl/*`) go to the ACL datacenter.
 *  - The one op an ACL-enabled DC runs for another DC without a token is that lookup: a stale read of
 *    one token (Consul's server-to-server ACL.GetPolicy).
 */
import type { AclToken } from '../store/acl.js';
import { anonymousTokenId } from '../store/acl.js';
import type { StoreQuery } from '../store/types.js';
import { Prng } from '../prng.js';
import type { AgentRequest } from './api.js';
import {
  allowAll,
  authorize,
  authorizerFor,
  denyAll,
  lookupDepthMax,
  permissionDenied,
  type Authorizer,
  type Decision,
} from './endpoints/index.js';
import { render, translate, type ForwardedAuth, type ServerOp, type ServerResult } from './ops.js';
import { count, trace, type AgentState, type Env, type Origin } from './state.js';
import { checkFailoverRemote, withQueryAuth } from './failover.js';
import { filterQuery, type QueryRequest } from './endpoints/query.js';

/** What a token may do, as a DC decided it. Plain data: it travels back with a forwarded request's result. */
export type AclGrant =
  /** The token's rules under the deciding DC's `acl_default_policy`. */
  | { readonly kind: 'token'; readonly token: AclToken; readonly defaultPolicy: 'allow' | 'deny' }
  /** Everything or nothing: `acl_down_policy` allow / deny while the ACL datacenter cannot be asked. */
  | { readonly kind: 'all'; readonly allow: boolean };

/** How a token resolved: a grant, an unknown token (403 "ACL not found"), or a failure to ask. */
export type Resolution =
  | { readonly kind: 'grant'; readonly grant: AclGrant }
  | { readonly kind: 'notFound' }
  | { readonly kind: 'error'; readonly status: number; readonly error: string };

/** Runs a server op for the agent itself (server.ts executeServerOp, passed in so this file is a leaf). */
export type Execute = (s: AgentState, env: Env, op: ServerOp, origin: Origin, hops: number) => void;

/** Most tokens from another DC kept at once; the oldest entry goes first (Map insertion order). */
export const aclCacheEntriesMax = 4096;
/** Consul's `acl_ttl` default. */
export const aclTtlMsDefault = 30_000;
export const aclNotFound = 'ACL not found';

export function aclEnabled(s: AgentState): boolean {
  return s.config.acl?.enabled === true;
}

/** The authoritative ACL datacenter (this one unless `acl_datacenter` names another). */
export function aclDatacenterOf(s: AgentState): string {
  return s.config.acl?.datacenter ?? s.config.datacenter;
}

export function authorizerOfGrant(grant: AclGrant): Authorizer {
  if (grant.kind === 'all') return grant.allow ? allowAll : denyAll;
  return authorizerFor(grant.token, grant.defaultPolicy);
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';

function checkToken(token: unknown): token is AclToken {
  return (
    isObject(token) &&
    typeof token['ID'] === 'string' &&
    typeof token['Rules'] === 'string' &&
    (token['Type'] === 'client' || token['Type'] === 'management')
  );
}

/** Wire hygiene for a grant in an rpcReply: null when well formed, else why not. */
export function checkGrant(grant: unknown): string | null {
  if (!isObject(grant)) return 'ACL grant is not an object';
  if (grant['kind'] === 'all') return typeof grant['allow'] === 'boolean' ? null : 'ACL grant without allow';
  if (grant['kind'] !== 'token') return 'ACL grant of unknown kind';
  if (grant['defaultPolicy'] !== 'allow' && grant['defaultPolicy'] !== 'deny') return 'ACL grant without a policy';
  return checkToken(grant['token']) ? null : 'ACL grant with a malformed token';
}

/** Wire hygiene for the auth of a `dc` op: null when well formed, else why not. */
export function checkForwardedAuth(auth: unknown): string | null {
  if (!isObject(auth)) return 'dc op auth is not an object';
  if (typeof auth['token'] !== 'string' || typeof auth['nodeName'] !== 'string') return 'dc op auth without a token';
  const request = auth['request'];
  return isObject(request) && typeof request['type'] === 'string' ? null : 'dc op auth without a request';
}

/** A request as it travels for authorization in another DC: without the token (that travels beside it). */
export function forwardedAuthOf(request: AgentRequest, nodeName: string): ForwardedAuth {
  const { token, ...rest } = request;
  return { token: token !== undefined && token !== '' ? token : anonymousTokenId, request: rest, nodeName };
}

/**
 * The DC a request runs in when that is not `ownDc`: the ACL datacenter for ACL administration (every
 * `/v1/acl/*` call, as Consul sends them), else its `?dc=`; null when it runs here. Whether the agent
 * forwards it at all depends on the request too (`forwardedTo`).
 */
export function targetDatacenterOf(request: AgentRequest, ownDc: string, aclDc: string | undefined): string | null {
  const acl = request.type.startsWith('acl.') && request.type !== 'acl.resolve';
  const dc = acl && aclDc !== undefined ? aclDc : request.dc;
  return dc !== undefined && dc !== '' && dc !== ownDc ? dc : null;
}

/**
 * The DC the agent forwards `request` to (and the token with it), or null when it runs here — also when
 * it names another DC but is about this agent (Consul ignores `?dc` there) or is malformed. The ACL gate
 * uses this to leave the decision to the target DC; machine.ts makes the same call with the same rule.
 */
export function forwardedTo(request: AgentRequest, ownDc: string, aclDc: string | undefined): string | null {
  const dc = targetDatacenterOf(request, ownDc, aclDc);
  if (dc === null) return null;
  // The translation's kind only: the PRNG's draws (ids, jitter) do not matter here.
  const translation = translate(request, '', new Prng(1), dc);
  if (translation.kind === 'server') return translation.op.kind !== 'wan' ? dc : null;
  // Events are per DC: another DC's are fired and listed there (machine.ts eventsOfDc), with the token.
  return translation.kind === 'agent' && (request.type === 'event.fire' || request.type === 'event.list') ? dc : null;
}

const tokenQuery = (id: string): StoreQuery => ({ type: 'aclGet', id });
const tokenRead = (id: string): ServerOp => ({
  kind: 'read',
  query: tokenQuery(id),
  consistency: 'stale',
  minIndex: 0,
  waitMs: 0,
});

/** Whether `op` is the ACL datacenter lookup of one token (the only tokenless op from another DC). */
export function checkTokenLookup(op: ServerOp): boolean {
  return op.kind === 'read' && op.query.type === 'aclGet' && op.minIndex === 0;
}

/**
 * Resolves token `id` in this DC's view: the local store's table when this is the ACL datacenter,
 * else the ACL datacenter's, through the cache and `acl_down_policy`.
 */
export function resolveToken(
  s: AgentState,
  env: Env,
  id: string,
  execute: Execute,
  then: (resolution: Resolution, env: Env) => void,
): void {
  const acl = s.config.acl;
  const policy = acl?.defaultPolicy ?? 'allow';
  const grantOf = (token: AclToken): Resolution => ({
    kind: 'grant',
    grant: { kind: 'token', token, defaultPolicy: policy },
  });
  const aclDc = aclDatacenterOf(s);
  if (aclDc === s.config.datacenter) {
    return execute(
      s,
      env,
      tokenRead(id),
      internal('aclResolve', (result, env2) => {
        if (!result.ok) return then({ kind: 'error', status: result.status, error: result.error }, env2);
        then(checkToken(result.value) ? grantOf(result.value) : { kind: 'notFound' }, env2);
      }),
      0,
    );
  }
  const cached = s.aclCache.get(id);
  const ttlMs = acl?.ttlMs ?? aclTtlMsDefault;
  if (cached !== undefined && env.nowMs < cached.fetchedMs + ttlMs) return then(grantOf(cached.token), env);
  count(s, 'aclRemoteLookups');
  const lookup: ServerOp = { kind: 'dc', dc: aclDc, op: tokenRead(id), crossed: false };
  execute(
    s,
    env,
    lookup,
    internal('aclResolveRemote', (result, env2) => {
      if (result.ok) {
        s.aclCache.delete(id);
        if (!checkToken(result.value)) return then({ kind: 'notFound' }, env2);
        s.aclCache.set(id, { token: result.value, fetchedMs: env2.nowMs });
        while (s.aclCache.size > aclCacheEntriesMax) s.aclCache.delete(s.aclCache.keys().next().value!);
        return then(grantOf(result.value), env2);
      }
      // Consul's acl_down_policy: the ACL datacenter could not answer.
      const down = acl?.downPolicy ?? 'extend-cache';
      count(s, 'aclDownPolicy');
      trace(env2, { type: 'agent.aclDown', datacenter: aclDc, policy: down, error: result.error });
      if (down === 'allow') return then({ kind: 'grant', grant: { kind: 'all', allow: true } }, env2);
      if (down === 'extend-cache' && cached !== undefined) return then(grantOf(cached.token), env2);
      then({ kind: 'grant', grant: { kind: 'all', allow: false } }, env2);
    }),
    0,
  );
}

/**
 * The op a forwarded request runs as sent, rather than translated here, with the request it must match:
 *  - a prepared query's failover runs the query as the asking DC resolved it (Consul's ExecuteRemote: no
 *    lookup by name here, where the query may not exist); the caller's `query.execute` is authorized;
 *  - a user event keeps the id the asking agent minted (Consul's agent mints it); `event.fire` must name
 *    the event the op fires, since its name is what the token is checked against; `event.list` answers
 *    are filtered by name at the edge.
 * Null for every other request (translated here); a string when the op does not match its request.
 * Both ops passed the wire checks (rpc.ts `checkServerOp`) on their way in.
 */
function ownOpOf(auth: ForwardedAuth, inner: ServerOp): ServerOp | string | null {
  if (checkFailoverRemote(inner, auth)) return inner;
  if (inner.kind === 'eventFire' && auth.request.type === 'event.fire')
    return inner.event.name === auth.request.name ? inner : 'forwarded event does not match its request';
  if (inner.kind === 'eventList' && auth.request.type === 'event.list') return inner;
  if (inner.kind === 'eventFire' || inner.kind === 'eventList')
    return `${auth.request.type} does not match a forwarded ${inner.kind}`;
  return null;
}

function internal(what: string, then: (result: ServerResult, env: Env) => void): Origin {
  return { kind: 'internal', what, then };
}

const failure = (status: number, error: string): ServerResult => ({ ok: false, status, error });

/**
 * A `dc` op that reached its DC, here, with ACLs on: resolve the caller's token, authorize the typed
 * request, translate it here and run that; the result carries the grant for the filter at the edge.
 * `answer` gets a denial or the result.
 */
export function runForwarded(
  s: AgentState,
  env: Env,
  op: ServerOp & { kind: 'dc' },
  hops: number,
  execute: Execute,
  answer: (result: ServerResult, env: Env) => void,
): void {
  const auth = op.auth;
  if (auth === undefined) {
    if (checkTokenLookup(op.op)) return execute(s, env, op.op, internal('aclLookup', answer), hops);
    count(s, 'aclForwardedDenied');
    return answer(failure(403, permissionDenied), env);
  }
  let runOp: ServerOp;
  const own = ownOpOf(auth, op.op);
  if (own !== null) {
    if (typeof own === 'string') return answer(failure(400, own), env);
    runOp = own;
  } else
    try {
      const translation = translate(auth.request, auth.nodeName, env.ctx.prng, s.config.datacenter);
      if (translation.kind === 'error')
        return answer(failure(translation.response.status, translation.response.error ?? 'bad request'), env);
      if (translation.kind !== 'server' || translation.op.kind === 'dc' || translation.op.kind === 'wan')
        return answer(failure(400, `${auth.request.type} does not run in another datacenter`), env);
      // A prepared query run here may fail over again: the caller's token goes on with it.
      runOp = withQueryAuth(translation.op, auth);
    } catch {
      // A peer's malformed request (a field of the wrong type): refused, never a thrown step.
      return answer(failure(400, 'malformed forwarded request'), env);
    }
  // A forwarded blocking read keeps the wait its edge gave it (a held retry shortens it there).
  if (runOp.kind === 'read' && op.op.kind === 'read') runOp = { ...runOp, waitMs: op.op.waitMs };
  resolveToken(s, env, auth.token, execute, (resolution, env2) => {
    if (resolution.kind === 'notFound') return answer(failure(403, aclNotFound), env2);
    if (resolution.kind === 'error') return answer(failure(resolution.status, resolution.error), env2);
    const grant = resolution.grant;
    let first: Decision;
    try {
      first = authorize(auth.request, authorizerOfGrant(grant), { nodeName: auth.nodeName });
    } catch {
      return answer(failure(400, 'malformed forwarded request'), env2);
    }
    decideHere(s, env2, first, auth.nodeName, hops, execute, 0, (decision, env3) => {
      if (decision.kind === 'deny') {
        count(s, 'aclForwardedDenied');
        return answer(failure(403, decision.error), env3);
      }
      count(s, 'aclForwardedAllowed');
      runAuthorized(s, env3, runOp, auth, grant, hops, execute, answer);
    });
  });
}

/**
 * Runs the reads a rule asks for (`lookup`: whose session is this, what is this query's name now, does this
 * registration change the node) here, in the DC the request runs in, with full rights — as the edge's gate
 * runs them for a local request (net/gate.ts) and as Consul decides a forwarded request in the DC that
 * executes it. Before, every such request forwarded with `?dc=` was refused: a session destroyed, a query
 * updated or a node registered in another DC (round F, session 13). `then` gets the final allow or deny.
 */
function decideHere(
  s: AgentState,
  env: Env,
  decision: Decision,
  nodeName: string,
  hops: number,
  execute: Execute,
  depth: number,
  then: (decision: Exclude<Decision, { kind: 'lookup' }>, env: Env) => void,
): void {
  if (decision.kind !== 'lookup') return then(decision, env);
  if (depth >= lookupDepthMax) return then({ kind: 'deny', error: 'ACL lookup too deep' }, env);
  let lookupOp: ServerOp;
  try {
    const translation = translate(decision.request, nodeName, env.ctx.prng, s.config.datacenter);
    if (translation.kind !== 'server' || translation.op.kind === 'dc' || translation.op.kind === 'wan')
      return then({ kind: 'deny', error: permissionDenied }, env);
    lookupOp = translation.op;
  } catch {
    return then({ kind: 'deny', error: permissionDenied }, env);
  }
  execute(
    s,
    env,
    lookupOp,
    internal('aclLookup', (result, env2) => {
      let next: Decision;
      try {
        next = decision.then(render(decision.request, result));
      } catch {
        return then({ kind: 'deny', error: permissionDenied }, env2);
      }
      decideHere(s, env2, next, nodeName, hops, execute, depth + 1, then);
    }),
    hops,
  );
}

/** An authorized forwarded op: run it here; the result carries the grant for the filter at the edge. */
function runAuthorized(
  s: AgentState,
  env2: Env,
  runOp: ServerOp,
  auth: ForwardedAuth,
  grant: AclGrant,
  hops: number,
  execute: Execute,
  answer: (result: ServerResult, env: Env) => void,
): void {
  execute(
    s,
    env2,
    runOp,
    internal('aclForwarded', (result, env3) => {
      if (!result.ok) return answer(result, env3);
      // A failover's DC answers only the nodes the token may read, so the asking DC goes on to the
      // next DC when none is left (Consul's ExecuteRemote filters before it replies).
      const value = checkFailoverRemote(runOp, auth)
        ? filterQuery(auth.request as QueryRequest, result.value, authorizerOfGrant(grant))
        : result.value;
      answer({ ...result, value, acl: grant }, env3);
    }),
    hops,
  );
}
