/**
 * The one ACL entry point: `authorize` decides on the typed request the agent will execute, and
 * `filterResponse` trims its answer before it is rendered. Each endpoint family keeps its rules in its
 * own file; here every request type is sent to its family by an exhaustive switch, so a request type
 * added to core/agent/api.ts without a rule does not compile.
 */
import type { AgentRequest, AgentResponse } from '../api.js';
import { authorizeAgent, filterAgent } from './agent.js';
import type { AgentFacts, Authorizer, Decision } from './authz.js';
import { authorizeCatalog, filterCatalog } from './catalog.js';
import { authorizeCoordinate, filterCoordinate } from './coordinate.js';
import { authorizeEvent, filterEvent } from './event.js';
import { authorizeKv, filterKv } from './kv.js';
import { authorizeOperator } from './operator.js';
import { authorizeQuery, filterQuery } from './query.js';
import { authorizeSession, filterSession } from './session.js';

export * from './authz.js';
export { txnOpAsRequest } from './kv.js';

export function authorize(request: AgentRequest, authz: Authorizer, facts: AgentFacts): Decision {
  if (authz.management) return { kind: 'allow' };
  switch (request.type) {
    case 'kv.get':
    case 'kv.list':
    case 'kv.keys':
    case 'kv.put':
    case 'kv.cas':
    case 'kv.acquire':
    case 'kv.release':
    case 'kv.delete':
    case 'kv.deleteTree':
    case 'txn':
      return authorizeKv(request, authz);
    case 'session.create':
    case 'session.destroy':
    case 'session.info':
    case 'session.node':
    case 'session.list':
    case 'session.renew':
      return authorizeSession(request, authz, facts);
    case 'agent.self':
    case 'agent.members':
    case 'agent.join':
    case 'agent.leave':
    case 'agent.forceLeave':
    case 'agent.reload':
    case 'agent.maintenance':
    case 'agent.services':
    case 'agent.service':
    case 'agent.service.register':
    case 'agent.service.deregister':
    case 'agent.service.maintenance':
    case 'agent.checks':
    case 'agent.check.register':
    case 'agent.check.pass':
    case 'agent.check.warn':
    case 'agent.check.fail':
    case 'agent.check.update':
    case 'agent.check.deregister':
    case 'agent.metrics':
      return authorizeAgent(request, authz, facts);
    case 'catalog.datacenters':
    case 'catalog.nodes':
    case 'catalog.services':
    case 'catalog.service':
    case 'catalog.node':
    case 'catalog.register':
    case 'catalog.deregister':
    case 'health.state':
    case 'health.node':
    case 'health.checks':
    case 'health.service':
      return authorizeCatalog(request, authz);
    case 'status.leader':
    case 'status.peers':
    case 'operator.raft.configuration':
    case 'operator.autopilot.health':
    case 'operator.raft.removePeer':
    case 'operator.keyring':
    case 'acl.create':
    case 'acl.update':
    case 'acl.destroy':
    case 'acl.info':
    case 'acl.resolve':
    case 'acl.list':
    case 'snapshot.save':
    case 'snapshot.restore':
      return authorizeOperator(request, authz);
    case 'coordinate.datacenters':
    case 'coordinate.nodes':
    case 'coordinate.node':
    case 'coordinate.update':
      return authorizeCoordinate(request, authz);
    case 'query.create':
    case 'query.update':
    case 'query.delete':
    case 'query.list':
    case 'query.get':
    case 'query.explain':
    case 'query.execute':
      return authorizeQuery(request, authz);
    case 'event.fire':
    case 'event.list':
      return authorizeEvent(request, authz);
    default: {
      const unhandled: never = request;
      return { kind: 'deny', error: `no ACL rule for ${(unhandled as AgentRequest).type}` };
    }
  }
}

/** `response` with what `authz` may not read removed (successful answers only; errors pass unchanged). */
export function filterResponse(
  request: AgentRequest,
  response: AgentResponse,
  authz: Authorizer,
  facts: AgentFacts,
): AgentResponse {
  if (authz.management) return response;
  const ok = response.status === 200 || (request.type === 'txn' && response.status === 409);
  if (!ok || response.body instanceof Uint8Array) return response;
  const body = filterBody(request, response.body, authz, facts);
  // Consul answers 404 when every key of a KV list is filtered out.
  if ((request.type === 'kv.list' || request.type === 'kv.keys') && Array.isArray(body) && body.length === 0)
    return { ...response, status: 404, body: null, error: '' };
  return body === response.body ? response : { ...response, body };
}

function filterBody(request: AgentRequest, body: unknown, authz: Authorizer, facts: AgentFacts): unknown {
  switch (request.type) {
    case 'kv.list':
    case 'kv.keys':
    case 'txn':
      return filterKv(request, body, authz);
    case 'session.info':
    case 'session.node':
    case 'session.list':
      return filterSession(request, body, authz);
    case 'agent.services':
    case 'agent.checks':
      return filterAgent(request, body, authz, facts);
    case 'catalog.nodes':
    case 'catalog.services':
    case 'catalog.service':
    case 'catalog.node':
    case 'health.state':
    case 'health.node':
    case 'health.checks':
    case 'health.service':
      return filterCatalog(request, body, authz);
    case 'coordinate.nodes':
    case 'coordinate.node':
      return filterCoordinate(request, body, authz);
    case 'query.list':
    case 'query.get':
    case 'query.explain':
    case 'query.execute':
      return filterQuery(request, body, authz);
    case 'event.list':
      return filterEvent(request, body, authz);
    default:
      // Every other answer is either an acknowledgement or was authorized as a whole (kv.get: key read).
      return body;
  }
}
