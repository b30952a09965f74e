/**
 * Legacy ACL enforcement at the HTTP API (core/store/acl.ts holds the tokens and the rules logic).
 * With ACLs on, each request's token (`X-Consul-Token`, `?token=`; none → `anonymous`) is resolved
 * through the agent (a stale read of the replicated ACL table) and checked before the agent is asked:
 *
 *  - `/v1/acl/create|update|destroy|clone|list`: a management token; `info` is open.
 *  - KV: read on the key for GET (recurse and keys lists drop what the token may not read), write on
 *    the key for PUT/DELETE (a recursive delete needs write on the prefix and no narrower rule
 *    forbidding it); txn: read or write per operation's key.
 *  - Services: write on the service name to register or deregister it (agent and catalog), read to
 *    see it in catalog/health answers (entries of unreadable services are dropped).
 *  - Events: write on the event name to fire. Sessions: write on this agent's node to create,
 *    destroy or renew. Agent join/leave/force-leave/reload/maintenance: agent write on this node.
 *    Operator endpoints: operator read/write.
 *
 * Denials answer 403 "Permission denied"; an unknown token answers 403 "ACL not found". What no rule
 * covers follows `acl_default_policy`. Limits: DNS answers as the anonymous token would not be
 * filtered (it answers everything); node, query and agent-read policies are not enforced.
 */
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import { aclAllows, aclAllowsKeyPrefixWrite, type AclResource, type AclToken } from '../../core/store/acl.js';

export interface AclSettings {
  readonly enabled: boolean;
  readonly defaultPolicy: 'allow' | 'deny';
}

export interface AclRequest {
  readonly method: string;
  readonly path: string;
  readonly rest: string;
  readonly query: URLSearchParams;
  readonly body: Uint8Array;
  readonly token: string;
  readonly nodeName: string;
  readonly call: (request: AgentRequest) => Promise<AgentResponse>;
}

export type AclDecision =
  | { readonly kind: 'deny'; readonly status: number; readonly text: string }
  | { readonly kind: 'allow'; readonly token: AclToken | null; readonly filter?: (body: unknown) => unknown };

const allow: AclDecision = { kind: 'allow', token: null };
const denied: AclDecision = { kind: 'deny', status: 403, text: 'Permission denied' };

/** The token a request carries: the header, then `?token=`, else anonymous. */
export function requestToken(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
  query: URLSearchParams,
): string {
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'x-consul-token') {
      const v = Array.isArray(value) ? value[0] : value;
      if (typeof v === 'string' && v !== '') return v;
    }
  }
  return query.get('token') || 'anonymous';
}

async function resolve(r: AclRequest): Promise<AclToken | null> {
  const answer = await r.call({ type: 'acl.info', id: r.token, read: { consistency: 'stale' } });
  if (answer.status !== 200 || !Array.isArray(answer.body)) return null;
  return (answer.body[0] as AclToken | undefined) ?? null;
}

function bodyJson(body: Uint8Array): Record<string, unknown> {
  try {
    const v = JSON.parse(Buffer.from(body).toString('utf8')) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A field of a JSON object, matched case-insensitively as Go does. */
function field(o: Record<string, unknown>, name: string): unknown {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(o)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

export async function aclCheck(settings: AclSettings, r: AclRequest): Promise<AclDecision> {
  if (!settings.enabled) return allow;
  const token = await resolve(r);
  if (token === null) return { kind: 'deny', status: 403, text: 'ACL not found' };
  const may = (resource: AclResource, name: string, access: 'read' | 'write') =>
    aclAllows(token, settings.defaultPolicy, resource, name, access);
  const ok = (filter?: (body: unknown) => unknown): AclDecision =>
    filter ? { kind: 'allow', token, filter } : { kind: 'allow', token };
  const write = r.method !== 'GET' && r.method !== 'HEAD';
  const p = r.path;
  if (p === '/v1/snapshot') return token.Type === 'management' ? ok() : denied;
  if (p.startsWith('/v1/acl/')) {
    if (p.startsWith('/v1/acl/info/')) return ok();
    return token.Type === 'management' ? ok() : denied;
  }
  if (p.startsWith('/v1/kv/')) {
    const key = r.rest;
    if (!write) {
      const listing = r.query.has('recurse') || r.query.has('keys');
      if (!listing) return may('key', key, 'read') ? ok() : denied;
      return ok((body) =>
        Array.isArray(body)
          ? body.filter((e) =>
              may('key', typeof e === 'string' ? e : String((e as { Key?: unknown })?.Key ?? ''), 'read'),
            )
          : body,
      );
    }
    if (r.method === 'DELETE' && r.query.has('recurse'))
      return aclAllowsKeyPrefixWrite(token, settings.defaultPolicy, key) ? ok() : denied;
    return may('key', key, 'write') ? ok() : denied;
  }
  if (p === '/v1/txn') {
    let ops: unknown;
    try {
      ops = JSON.parse(Buffer.from(r.body).toString('utf8'));
    } catch {
      return ok(); // the router answers the parse error
    }
    for (const op of Array.isArray(ops) ? ops : []) {
      const kv =
        op && typeof op === 'object'
          ? (field(op as Record<string, unknown>, 'KV') as Record<string, unknown> | undefined)
          : undefined;
      if (!kv || typeof kv !== 'object') continue;
      const verb = String(field(kv, 'Verb') ?? '');
      const key = String(field(kv, 'Key') ?? '');
      const reading = verb === 'get' || verb === 'get-tree' || verb.startsWith('check-');
      if (
        verb === 'delete-tree'
          ? !aclAllowsKeyPrefixWrite(token, settings.defaultPolicy, key)
          : !may('key', key, reading ? 'read' : 'write')
      )
        return denied;
    }
    return ok();
  }
  if (p === '/v1/agent/service/register') {
    const b = bodyJson(r.body);
    const name = String(field(b, 'Name') ?? field(b, 'ID') ?? '');
    return may('service', name, 'write') ? ok() : denied;
  }
  if (p.startsWith('/v1/agent/service/deregister/') || p.startsWith('/v1/agent/service/maintenance/')) {
    const services = await r.call({ type: 'agent.services' });
    const found =
      services.status === 200 && services.body && typeof services.body === 'object'
        ? (services.body as Record<string, { Service?: string }>)[r.rest]
        : undefined;
    return may('service', found?.Service ?? r.rest, 'write') ? ok() : denied;
  }
  if (p === '/v1/catalog/register' || p === '/v1/catalog/deregister') {
    const b = bodyJson(r.body);
    const service = field(b, 'Service');
    if (!may('node', String(field(b, 'Node') ?? ''), 'write') && !(service && typeof service === 'object'))
      return denied;
    if (
      service &&
      typeof service === 'object' &&
      !may('service', String(field(service as Record<string, unknown>, 'Service') ?? ''), 'write')
    )
      return denied;
    return ok();
  }
  if (
    p.startsWith('/v1/health/service/') ||
    p.startsWith('/v1/catalog/service/') ||
    p.startsWith('/v1/health/checks/')
  ) {
    return may('service', r.rest, 'read') ? ok() : ok(() => []);
  }
  if (p === '/v1/catalog/services') {
    return ok((body) =>
      body && typeof body === 'object' && !Array.isArray(body)
        ? Object.fromEntries(Object.entries(body).filter(([name]) => may('service', name, 'read')))
        : body,
    );
  }
  if (
    p.startsWith('/v1/health/state/') ||
    p.startsWith('/v1/health/node/') ||
    p === '/v1/agent/checks' ||
    p === '/v1/agent/services'
  ) {
    const readable = (e: unknown): boolean => {
      const o = (e ?? {}) as { ServiceName?: unknown; Service?: unknown };
      const name = typeof o.ServiceName === 'string' ? o.ServiceName : typeof o.Service === 'string' ? o.Service : '';
      return name === '' || may('service', name, 'read');
    };
    return ok((body) =>
      Array.isArray(body)
        ? body.filter(readable)
        : body && typeof body === 'object'
          ? Object.fromEntries(Object.entries(body).filter(([, v]) => readable(v)))
          : body,
    );
  }
  if (p.startsWith('/v1/event/fire/')) return may('event', r.rest, 'write') ? ok() : denied;
  if (p === '/v1/session/create' || p.startsWith('/v1/session/destroy/') || p.startsWith('/v1/session/renew/'))
    return may('session', r.nodeName, 'write') ? ok() : denied;
  if (/^\/v1\/agent\/(join|leave|force-leave|reload|maintenance)/.test(p))
    return may('agent', r.nodeName, 'write') ? ok() : denied;
  if (p.startsWith('/v1/operator/')) return may('operator', '', write ? 'write' : 'read') ? ok() : denied;
  return ok();
}
