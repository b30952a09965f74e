/** ACL rules of network coordinates: node write on a node to update its coordinate, node read to see it. */
import type { AgentRequest } from '../api.js';
import { allow, allowIf, keepEntries, str, type Authorizer, type Decision } from './authz.js';

export type CoordinateRequest = Extract<AgentRequest, { type: `coordinate.${string}` }>;

export function authorizeCoordinate(request: CoordinateRequest, authz: Authorizer): Decision {
  switch (request.type) {
    case 'coordinate.update':
      return allowIf(authz.may('node', request.node, 'write'));
    case 'coordinate.datacenters':
    case 'coordinate.nodes':
    case 'coordinate.node':
      return allow; // filtered
  }
}

export function filterCoordinate(request: CoordinateRequest, body: unknown, authz: Authorizer): unknown {
  if (request.type === 'coordinate.nodes' || request.type === 'coordinate.node')
    return keepEntries(body, (c) => authz.may('node', str(c.Node), 'read'));
  return body;
}
