/**
 * What every endpoint family's ACL rule is written against: an `Authorizer` (the caller's token, its
 * parsed rules and the agent's `acl_default_policy`), the facts about this agent a rule may need, and
 * the `Decision` a rule returns.
 *
 * A rule decides on the typed `AgentRequest` that the agent will execute, never on the HTTP path or
 * body, so no second parse can disagree with the one that acts. When a rule needs state to decide
 * (which service a check belongs to, whether a catalog registration changes the node), it returns a
 * `lookup`: a read for the driver to run with full rights, and a pure continuation that decides on
 * the answer. Reads are then filtered by the family's `filter…` function before rendering.
 */
import { aclAllows, aclAllowsKeyPrefixWrite, type AclResource, type AclToken } from '../../store/acl.js';
import type { AgentRequest, AgentResponse } from '../api.js';

export type Access = 'read' | 'write';

export interface Authorizer {
  /** A management token: every rule passes and nothing is filtered. */
  readonly management: boolean;
  may(resource: AclResource, name: string, access: Access): boolean;
  /** Write on `prefix` and on every narrower key rule under it (a recursive delete). */
  mayKeyPrefixWrite(prefix: string): boolean;
}

/** What a rule may need to know about the agent that executes the request. */
export interface AgentFacts {
  /** This agent's node: the node of its local services, checks, sessions and agent rules. */
  readonly nodeName: string;
}

/** Denials answer 403 with Consul's text. Wire enum: append-only. */
export type Decision =
  | { readonly kind: 'allow' }
  | { readonly kind: 'deny'; readonly error: string }
  /**
   * Run `request` with full rights and decide on its answer. A decision may chain lookups (one per
   * check of a service registration); the driver answers a repeated request from its first answer
   * and refuses chains longer than `lookupDepthMax`.
   */
  | { readonly kind: 'lookup'; readonly request: AgentRequest; readonly then: (response: AgentResponse) => Decision };

/** Longest chain of lookups a rule may ask for: a service registration asks one per explicit check id. */
export const lookupDepthMax = 64;

export const allow: Decision = { kind: 'allow' };
export const permissionDenied = 'Permission denied';
export const deny: Decision = { kind: 'deny', error: permissionDenied };

export function allowIf(ok: boolean): Decision {
  return ok ? allow : deny;
}

/** Both decisions must allow; a lookup in the first is resolved before the second is asked. */
export function both(first: Decision, second: () => Decision): Decision {
  if (first.kind === 'deny') return first;
  if (first.kind === 'allow') return second();
  return { kind: 'lookup', request: first.request, then: (response) => both(first.then(response), second) };
}

/** Every decision must allow (in order). */
export function all(decisions: readonly (() => Decision)[]): Decision {
  let out: Decision = allow;
  for (const next of decisions) out = both(out, next);
  return out;
}

/** An authorizer for one token under `defaultPolicy`. */
export function authorizerFor(token: AclToken, defaultPolicy: 'allow' | 'deny'): Authorizer {
  return {
    management: token.Type === 'management',
    may: (resource, name, access) => aclAllows(token, defaultPolicy, resource, name, access),
    mayKeyPrefixWrite: (prefix) => aclAllowsKeyPrefixWrite(token, defaultPolicy, prefix),
  };
}

/** ACLs off: everything is allowed and nothing filtered. */
export const allowAll: Authorizer = { management: true, may: () => true, mayKeyPrefixWrite: () => true };

/** Nothing allowed (`acl_down_policy` deny while the ACL datacenter cannot be asked). */
export const denyAll: Authorizer = { management: false, may: () => false, mayKeyPrefixWrite: () => false };

// ─────────────────────────────────────── filtering helpers ───────────────────────────────────────

export const record = (x: unknown): Record<string, unknown> =>
  x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : {};

export const str = (x: unknown): string => (typeof x === 'string' ? x : '');

/** Keeps the entries of a list body that `keep` allows; any other body is left alone. */
export function keepEntries(body: unknown, keep: (entry: Record<string, unknown>) => boolean): unknown {
  return Array.isArray(body) ? body.filter((e) => keep(record(e))) : body;
}

/** Keeps the values of a map body (agent services and checks) that `keep` allows. */
export function keepValues(body: unknown, keep: (entry: Record<string, unknown>) => boolean): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  return Object.fromEntries(Object.entries(body).filter(([, v]) => keep(record(v))));
}

/** A check (catalog, health or agent shape): its service's read rule, or the node's for a node check. */
export function mayReadCheck(authz: Authorizer, check: Record<string, unknown>, node: string): boolean {
  const service = str(check.ServiceName);
  return authz.may('node', node, 'read') && (service === '' || authz.may('service', service, 'read'));
}
