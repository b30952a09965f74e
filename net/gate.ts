/**
 * The ACL gate between a front end (the HTTP router, DNS) and the agent: every request a front end
 * sends goes through `GatedAgent.call(request, token)`. What the gate does — resolve the token, decide
 * on the typed request with the reads its rule asks for, send that same request, filter the typed
 * answer; leave a request bound for another DC to that DC — is core/agent/gate.ts, the one
 * implementation the simulator's `acl-access` action runs too. This file puts it over promises.
 *
 * There is no other path from a front end to the agent: the router gives its handlers this gate, not
 * the raw `call`. With ACLs off the gate passes local requests through unchanged.
 */
import type { AgentRequest, AgentResponse } from '../core/agent/api.js';
import type { AgentFacts } from '../core/agent/endpoints/index.js';
import { makeGate, type AclSettings } from '../core/agent/gate.js';
import { anonymousTokenId } from '../core/store/acl.js';

export type { AclSettings } from '../core/agent/gate.js';

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

/**
 * The gate of core/agent/gate.ts over the agent's promise-returning `call`: a call that fails rejects the
 * request's promise, as it did before the gate moved to the core.
 */
export function gatedAgent(
  call: AgentCall,
  settings: AclSettings | undefined,
  facts: AgentFacts,
  datacenter: string,
): GatedAgent {
  return {
    call: (request, token) =>
      new Promise((resolve, reject) => {
        const gate = makeGate(sendOver(call, reject), settings, facts, datacenter);
        gate.call(request, token, (response) => resolve(response!));
      }),
    check: (request, token) =>
      new Promise((resolve, reject) => {
        const gate = makeGate(sendOver(call, reject), settings, facts, datacenter);
        gate.check(request, token, (denial) => resolve(denial ?? null));
      }),
  };
}

/**
 * The core gate's `send` over `call`. A rejected call rejects the request through `fail`, and so does an
 * error thrown while the gate goes on with an answer (as an `await` in an async function would), never an
 * unhandled rejection.
 */
function sendOver(call: AgentCall, fail: (error: unknown) => void) {
  return (request: AgentRequest, then: (response: AgentResponse | undefined) => void): void => {
    call(request).then((response) => {
      try {
        then(response);
      } catch (error) {
        fail(error);
      }
    }, fail);
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
