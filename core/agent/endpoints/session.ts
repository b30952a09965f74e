/**
 * ACL rules of the session family: session write on the session's node to create, destroy or renew
 * it (the node of an existing session is looked up); session read on a session's node to see it in
 * info, node and list answers.
 */
import type { AgentRequest, AgentResponse } from '../api.js';
import { allow, allowIf, keepEntries, record, str, type AgentFacts, type Authorizer, type Decision } from './authz.js';

export type SessionRequest = Extract<AgentRequest, { type: `session.${string}` }>;

export function authorizeSession(request: SessionRequest, authz: Authorizer, facts: AgentFacts): Decision {
  switch (request.type) {
    case 'session.create':
      return allowIf(authz.may('session', request.node ?? facts.nodeName, 'write'));
    case 'session.destroy':
    case 'session.renew':
      return {
        kind: 'lookup',
        request: { type: 'session.info', id: request.id, read: { consistency: 'default' } },
        then: (response: AgentResponse) => {
          const found = Array.isArray(response.body) ? record(response.body[0]) : {};
          // An unknown session changes nothing; the agent answers it (renew: 404).
          return typeof found.Node === 'string' ? allowIf(authz.may('session', found.Node, 'write')) : allow;
        },
      };
    case 'session.info':
    case 'session.node':
    case 'session.list':
      return allow; // filtered
  }
}

export function filterSession(request: SessionRequest, body: unknown, authz: Authorizer): unknown {
  switch (request.type) {
    case 'session.info':
    case 'session.node':
    case 'session.list':
      return keepEntries(body, (s) => authz.may('session', str(s.Node), 'read'));
    default:
      return body;
  }
}
