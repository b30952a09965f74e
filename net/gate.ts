/**
 * The ACL gate between a front end (the HTTP router, DNS) and the agent: every request a front end
 * sends goes through `GatedAgent.call(request, token)`, which
 *
 *  1. resolves the token (`X-Consul-Token`, `?token=`, or the agent's `acl_token` for DNS; none →
 *     `anonymous`) with the agent's `acl.resolve` — a stale read of the replicated ACL table, or of the
 *     ACL datacenter's through a cache and `acl_down_policy` (core/agent/acl.ts); an unknown token is
 *     403 "ACL not found";
 *  2. asks the request's family for its decision on the typed request (core/agent/endpoints), running
 *     the reads a rule asks for (`lookup`) with full rights;
 *  3. sends that same request object to the agent, and
 *  4. filters the typed answer (`filterResponse`) before the front end renders it.
 *
 * A request the agent runs in another datacenter (`?dc=`, or ACL administration with the ACL
 * datacenter elsewhere) is not decided here: it is sent with its token, which the target DC resolves
 * and authorizes with its own rules, and the agent filters the answer with that DC's grant — whether
 * or not ACLs are on in this DC (core/agent/acl.ts).
 *
 * There is no other path from a front end to the agent: the router gives its handlers this gate, not
 * the raw `call`. With ACLs off the gate passes local requests through unchanged.
 */
import type { AgentRequest, AgentResponse } from '../core/agent/api.js';
import { forwardedTo, type AclGrant, authorizerOfGrant, checkGrant } from '../core/agent/acl.js';
import {
  authorize,
  filterResponse,
  lookupDepthMax,
  type AgentFacts,
  type Authorizer,
  type Decision,
} from '../core/agent/endpoints/index.js';
import { anonymousTokenId } from '../core/store/acl.js';

export interface AclSettings {
  readonly enabled: boolean;
  readonly defaultPolicy: 'allow' | 'deny';
  /** `acl_datacenter`: where ACL administration runs (absent: this DC). */
  readonly datacenter?: string;
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

/**
 * `datacenter` is this agent's: a request the agent forwards to another one carries its token there
 * and is decided there (`forwardedTo`, the agent's own rule).
 */
export function gatedAgent(
  call: AgentCall,
  settings: AclSettings | undefined,
  facts: AgentFacts,
  datacenter: string,
): GatedAgent {
  const enabled = settings?.enabled === true;
  const aclDc = enabled ? settings?.datacenter : undefined;
  const remote = (request: AgentRequest): boolean =>
    ((request.dc !== undefined && request.dc !== '') || request.type.startsWith('acl.')) &&
    forwardedTo(request, datacenter, aclDc) !== null;
  // A prepared query decided here may still fail over to another DC, which authorizes and filters its
  // answer with the caller's token (Consul forwards it): the agent gets the token to send along.
  const carriesToken = (request: AgentRequest): boolean => request.type === 'query.execute' || remote(request);
  const withToken = (request: AgentRequest, token: string): AgentRequest => ({
    ...request,
    token: token || anonymousTokenId,
  });
  if (!enabled)
    return {
      call: (request, token) => call(carriesToken(request) ? withToken(request, token) : request),
      check: async () => null,
    };
  type Verdict =
    { readonly ok: false; readonly denial: AgentResponse } | { readonly ok: true; readonly authz: Authorizer };
  const denied = (denial: AgentResponse): Verdict => ({ ok: false, denial });
  const decide = async (request: AgentRequest, token: string): Promise<Verdict> => {
    const answer = await call({ type: 'acl.resolve', id: token || anonymousTokenId });
    if (answer.status === 403) return denied(aclNotFound);
    if (answer.status !== 200) return denied({ status: answer.status, body: null, error: answer.error ?? '' });
    if (checkGrant(answer.body) !== null) return denied({ status: 500, body: null, error: 'malformed ACL grant' });
    const authz = authorizerOfGrant(answer.body as AclGrant);
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
      // Decided and filtered by the DC it runs in (core/agent/acl.ts).
      if (remote(request)) return call(withToken(request, token));
      const d = await decide(request, token);
      if (!d.ok) return d.denial;
      return filterResponse(
        request,
        await call(carriesToken(request) ? withToken(request, token) : request),
        d.authz,
        facts,
      );
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
