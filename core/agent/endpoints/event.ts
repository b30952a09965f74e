/** ACL rules of user events: event write on the name to fire one, event read on it to list it. */
import type { AgentRequest } from '../api.js';
import { allow, allowIf, keepEntries, str, type Authorizer, type Decision } from './authz.js';

export type EventRequest = Extract<AgentRequest, { type: `event.${string}` }>;

export function authorizeEvent(request: EventRequest, authz: Authorizer): Decision {
  switch (request.type) {
    case 'event.fire':
      return allowIf(authz.may('event', request.name, 'write'));
    case 'event.list':
      return allow; // filtered
  }
}

export function filterEvent(request: EventRequest, body: unknown, authz: Authorizer): unknown {
  return request.type === 'event.list' ? keepEntries(body, (e) => authz.may('event', str(e.Name), 'read')) : body;
}
