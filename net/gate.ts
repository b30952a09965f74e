/**
 * The ACL gate between a front end (the HTTP router, DNS) and the agent: every request a front end
 * sends goes through `GatedAgent.call(request, token)`, which
 *
 *  1. resolves the token (`X-Consul-Token`, `?token=`, or the agent's `acl_token` for DNS; none →
 *     `anonymous`) with a stale read of the replicated ACL table — an unknown token is 403 "ACL not
 *     found";
 *  2. asks the request's family for its decision on the typed request (core/agent/endpoints), running
 *     the reads a rule asks for (`lookup`) with full rights;
 *  3. sends that same request object to the agent, and
 *  4. filters the typed answer (`filterResponse`) before the front end renders it.
 *
 * There is no other path from a front end to the agent: the router gives its handlers this gate, not
 * the raw `call`. With ACLs off the gate passes everything through unchanged.
 */
import type { AgentRequest, AgentResponse } from '../core/agent/api.js';
import {
  authorize,
  authorizerFor,
  filterResponse,
  lookupDepthMax,
  type AgentFacts,
  type Authorizer,
  type Decision,
} from '../core/agent/endpoints/index.js';
import { anonymousTokenId, type AclToken } from '../core/store/acl.js';

export interface AclSettings {
  readonly enabled: boolean;
  readonly defaultPolicy: 'allow' | 'deny';
}

export type AgentCall = (request: AgentRequest) => Promise<AgentResponse>;

export interface GatedAgent {
  /** Authorize, execute and filter `request` for `token`. */
  call(request: AgentRequest, token: string): Promise<AgentResponse>;
  /**
   * Authorize only: null when `token` may send `request`, else the denial to answer. For requests the
   * front end carries out itself (`agent.reload` re-reads the agent's files before it is sent).
   */
  check(request: AgentRequest, token: string): Promise<AgentResponse | null>;
}

const aclNotFound: AgentResponse = { status: 403, body: null, error: 'ACL not found' };

export function gatedAgent(call: AgentCall, settings: AclSettings | undefined, facts: AgentFacts): GatedAgent {
  if (!settings?.enabled) return { call: (request) => call(request), check: async () => null };
  type Verdict =
    { readonly ok: false; readonly denial: AgentResponse } | { readonly ok: true; readonly authz: Authorizer };
  const denied = (denial: AgentResponse): Verdict => ({ ok: false, denial });
  const decide = async (request: AgentRequest, token: string): Promise<Verdict> => {
    const answer = await call({ type: 'acl.info', id: token || anonymousTokenId, read: { consistency: 'stale' } });
    const found =
      answer.status === 200 && Array.isArray(answer.body) ? (answer.body[0] as AclToken | undefined) : undefined;
    if (!found) return denied(aclNotFound);
    const authz = authorizerFor(found, settings.defaultPolicy);
    let decision: Decision = authorize(request, authz, facts);
    const answers = new Map<string, AgentResponse>(); // one read per distinct lookup
    for (let depth = 0; decision.kind === 'lookup'; depth++) {
      if (depth >= lookupDepthMax) return denied({ status: 500, body: null, error: 'ACL lookup too deep' });
      const key = JSON.stringify(decision.request);
      let answer = answers.get(key);
      if (answer === undefined) answers.set(key, (answer = await call(decision.request)));
      decision = decision.then(answer);
    }
    if (decision.kind === 'deny') return denied({ status: 403, body: null, error: decision.error });
    return { ok: true, authz };
  };
  return {
    async call(request, token) {
      const d = await decide(request, token);
      if (!d.ok) return d.denial;
      return filterResponse(request, await call(request), d.authz, facts);
    },
    async check(request, token) {
      const d = await decide(request, token);
      return d.ok ? null : d.denial;
    },
  };
}

/** The token a request carries: `X-Consul-Token`, then `?token=`, else anonymous. */
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
  return query.get('token') || anonymousTokenId;
}
