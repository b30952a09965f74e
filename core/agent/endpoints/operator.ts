/**
 * ACL rules of the cluster-wide endpoints: status (open, as in Consul), operator (operator read or
 * write), snapshots and ACL administration (a management token; `acl.info` is open, as the legacy API
 * has it: knowing a token's secret is knowing the token).
 */
import type { AgentRequest } from '../api.js';
import { allow, allowIf, type Authorizer, type Decision } from './authz.js';

export type OperatorRequest = Extract<
  AgentRequest,
  { type: `status.${string}` | `operator.${string}` | `snapshot.${string}` | `acl.${string}` }
>;

export function authorizeOperator(request: OperatorRequest, authz: Authorizer): Decision {
  switch (request.type) {
    case 'status.leader':
    case 'status.peers':
      return allow;
    case 'operator.raft.configuration':
    case 'operator.autopilot.health':
      return allowIf(authz.may('operator', '', 'read'));
    case 'operator.raft.removePeer':
      return allowIf(authz.may('operator', '', 'write'));
    case 'operator.keyring':
      return allowIf(authz.may('keyring', '', request.op === 'list' ? 'read' : 'write'));
    case 'snapshot.save':
    case 'snapshot.restore':
    case 'acl.create':
    case 'acl.update':
    case 'acl.destroy':
    case 'acl.list':
      return allowIf(authz.management);
    case 'acl.info':
    case 'acl.resolve': // what a token may do, to whoever knows its secret (the gate's own question)
      return allow;
  }
}
