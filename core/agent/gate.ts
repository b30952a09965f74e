/**
 * The ACL gate between a front end and the agent, as one pure procedure that both drivers run: the real
 * agent's HTTP API and DNS (net/gate.ts, over promises) and the simulator's `acl-access` action
 * (sim/harnesses/agent-gate.ts, over simulated requests). Every request a front end sends
 *
 *  1. has its token resolved with the agent's `acl.resolve` (none → `anonymous`); an unknown token is
 *     403 "ACL not found";
 *  2. is decided by its family on the typed request (core/agent/endpoints), the reads a rule asks for
 *     (`lookup`) run with full rights, each distinct read once;
 *  3. is sent — that same request object — to the agent, and
 *  4. has its typed answer filtered (`filterResponse`) before the front end renders it.
 *
 * A request the agent runs in another datacenter (`?dc=`, or ACL administration with the ACL datacenter
 * elsewhere) is not decided here: it is sent with its token, which the target DC resolves and authorizes
 * with its own rules (core/agent/acl.ts `runForwarded`), whether or not ACLs are on in this DC. With ACLs
 * off, local requests pass unchanged.
 *
 * Continuation-passing, so that it needs neither promises nor timers: `send` runs one agent request and
 * calls back with its answer, or with undefined when the driver gave up on it (the simulator's request
 * timeout); the gate then answers undefined too.
 */
import { anonymousTokenId } from '../store/acl.js';
import { forwardedTo, authorizerOfGrant, checkGrant, type AclGrant } from './acl.js';
import type { AgentRequest, AgentResponse } from './api.js';
import {
  authorize,
  filterResponse,
  lookupDepthMax,
  type AgentFacts,
  type Authorizer,
  type Decision,
} from './endpoints/index.js';

export interface AclSettings {
  readonly enabled: boolean;
  readonly defaultPolicy: 'allow' | 'deny';
  /** `acl_datacenter`: where ACL administration runs (absent: this DC). */
  readonly datacenter?: string;
}

/** Runs one request on the agent; `then` gets its answer, or undefined when the driver gave up on it. */
export type GateSend = (request: AgentRequest, then: (response: AgentResponse | undefined) => void) => void;

export interface Gate {
  /** Authorize, execute and filter `request` for `token`. */
  call(request: AgentRequest, token: string, then: (response: AgentResponse | undefined) => void): void;
  /**
   * Authorize only: null when `token` may send `request`, else the denial to answer. For requests the
   * front end carries out itself (`agent.reload` re-reads the agent's files before it is sent).
   */
  check(request: AgentRequest, token: string, then: (denial: AgentResponse | null | undefined) => void): void;
}

const aclNotFound: AgentResponse = { status: 403, body: null, error: 'ACL not found' };

type Verdict =
  { readonly ok: false; readonly denial: AgentResponse } | { readonly ok: true; readonly authz: Authorizer };

/**
 * `datacenter` is this agent's: a request the agent forwards to another one carries its token there and
 * is decided there (`forwardedTo`, the agent's own rule).
 */
export function makeGate(
  send: GateSend,
  settings: AclSettings | undefined,
  facts: AgentFacts,
  datacenter: string,
): Gate {
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
  const sendAs = (request: AgentRequest, token: string, then: (response: AgentResponse | undefined) => void) =>
    send(carriesToken(request) ? withToken(request, token) : request, then);
  if (!enabled)
    return {
      call: (request, token, then) => sendAs(request, token, then),
      check: (_request, _token, then) => then(null),
    };
  const denied = (denial: AgentResponse): Verdict => ({ ok: false, denial });
  const decide = (request: AgentRequest, token: string, then: (verdict: Verdict | undefined) => void): void => {
    send({ type: 'acl.resolve', id: token || anonymousTokenId }, (resolved) => {
      if (resolved === undefined) return then(undefined);
      if (resolved.status === 403) return then(denied(aclNotFound));
      if (resolved.status !== 200)
        return then(denied({ status: resolved.status, body: null, error: resolved.error ?? '' }));
      if (checkGrant(resolved.body) !== null)
        return then(denied({ status: 500, body: null, error: 'malformed ACL grant' }));
      const authz = authorizerOfGrant(resolved.body as AclGrant);
      const answers = new Map<string, AgentResponse>(); // one read per distinct lookup
      const step = (decision: Decision, depth: number): void => {
        if (decision.kind === 'deny') return then(denied({ status: 403, body: null, error: decision.error }));
        if (decision.kind === 'allow') return then({ ok: true, authz });
        if (depth >= lookupDepthMax) return then(denied({ status: 500, body: null, error: 'ACL lookup too deep' }));
        const key = JSON.stringify(decision.request);
        const known = answers.get(key);
        if (known !== undefined) return step(decision.then(known), depth + 1);
        send(decision.request, (answer) => {
          if (answer === undefined) return then(undefined);
          answers.set(key, answer);
          step(decision.then(answer), depth + 1);
        });
      };
      step(authorize(request, authz, facts), 0);
    });
  };
  return {
    call(request, token, then) {
      // Decided and filtered by the DC it runs in (core/agent/acl.ts).
      if (remote(request)) return send(withToken(request, token), then);
      decide(request, token, (verdict) => {
        if (verdict === undefined) return then(undefined);
        if (!verdict.ok) return then(verdict.denial);
        sendAs(request, token, (response) =>
          then(response === undefined ? undefined : filterResponse(request, response, verdict.authz, facts)),
        );
      });
    },
    check(request, token, then) {
      decide(request, token, (verdict) => then(verdict === undefined ? undefined : verdict.ok ? null : verdict.denial));
    },
  };
}
