/**
 * ACL rules of the agent family (`agent.*`): this agent's own node, services and checks.
 *
 *  - self, members, metrics: agent read on this node; join, leave, force-leave, reload, maintenance:
 *    agent write on it (Consul's agent rules);
 *  - a service (register, deregister, maintenance): service write on its name — for an existing
 *    service, the name it is registered under, looked up by id;
 *  - a check (register, pass/warn/fail, update, deregister): service write on the service it belongs
 *    to, node write on this node for a node check. A script check (`script`/`args`) needs node write
 *    as well, whatever it belongs to: it runs a program as the agent's user. (`enable_script_checks`
 *    is the agent's own rule, core/agent/local.ts: off, it refuses the check whoever asks.)
 *  - services and checks lists are filtered by service read (node read for node checks); one service
 *    (`agent/service/:id`) needs service read on its name.
 */
import type { AgentRequest, AgentResponse, CheckDefinition } from '../api.js';
import {
  all,
  allow,
  allowIf,
  keepValues,
  mayReadCheck,
  record,
  str,
  type AgentFacts,
  type Authorizer,
  type Decision,
} from './authz.js';

export type AgentFamilyRequest = Extract<AgentRequest, { type: `agent.${string}` }>;

export function authorizeAgent(request: AgentFamilyRequest, authz: Authorizer, facts: AgentFacts): Decision {
  const node = facts.nodeName;
  switch (request.type) {
    case 'agent.self':
    case 'agent.members':
    case 'agent.metrics':
      return allowIf(authz.may('agent', node, 'read'));
    case 'agent.join':
    case 'agent.leave':
    case 'agent.forceLeave':
    case 'agent.reload':
    case 'agent.maintenance':
      return allowIf(authz.may('agent', node, 'write'));
    case 'agent.services':
    case 'agent.checks':
      return allow; // filtered
    case 'agent.service':
      // Service read on its name (Consul's agent/service/:id); an unknown id answers 404 either way.
      return withLocalService(request.id, (name) =>
        name === undefined ? allow : allowIf(authz.may('service', name, 'read')),
      );
    case 'agent.service.register': {
      const service = request.service;
      const id = service.id ?? service.name;
      return all([
        () => allowIf(authz.may('service', service.name, 'write')),
        // Registering over an existing id replaces that service: its owner's rule applies too.
        () =>
          withLocalService(id, (name) => (name === undefined ? allow : allowIf(authz.may('service', name, 'write')))),
        ...(service.checks ?? []).map((check) => () => checkScriptRule(check, authz, node)),
        ...(service.checks ?? [])
          .filter((check) => check.id !== undefined)
          .map((check) => () => withLocalCheck(check.id!, (existing) => mayReplaceCheck(existing, authz, node))),
      ]);
    }
    case 'agent.service.deregister':
    case 'agent.service.maintenance':
      return withLocalService(request.id, (name) => allowIf(authz.may('service', name ?? request.id, 'write')));
    case 'agent.check.register': {
      const check = request.check;
      const owner = (): Decision =>
        check.serviceId
          ? withLocalService(check.serviceId, (name) =>
              allowIf(authz.may('service', name ?? check.serviceId!, 'write')),
            )
          : allowIf(authz.may('node', node, 'write'));
      return all([
        owner,
        () => checkScriptRule(check, authz, node),
        // Registering over an existing check id replaces that check: its owner's rule applies too.
        () => withLocalCheck(check.id ?? check.name ?? '', (existing) => mayReplaceCheck(existing, authz, node)),
      ]);
    }
    case 'agent.check.pass':
    case 'agent.check.warn':
    case 'agent.check.fail':
    case 'agent.check.update':
    case 'agent.check.deregister':
      return withLocalCheck(request.id, (check) => allowIf(mayWriteCheck(check, authz, node)));
  }
}

/** A check's owner rule: service write on its service, node write on this node for a node check. */
function mayWriteCheck(check: Record<string, unknown> | undefined, authz: Authorizer, node: string): boolean {
  const service = check ? str(check.ServiceName) : '';
  return service !== '' ? authz.may('service', service, 'write') : authz.may('node', node, 'write');
}

function mayReplaceCheck(existing: Record<string, unknown> | undefined, authz: Authorizer, node: string): Decision {
  return existing === undefined ? allow : allowIf(mayWriteCheck(existing, authz, node));
}

function checkScriptRule(check: CheckDefinition, authz: Authorizer, node: string): Decision {
  const script = check.script !== undefined || (check.args !== undefined && check.args.length > 0);
  return script ? allowIf(authz.may('node', node, 'write')) : allow;
}

/** Decides on the name of local service `id` (undefined when it is not registered here). */
function withLocalService(id: string, then: (name: string | undefined) => Decision): Decision {
  return {
    kind: 'lookup',
    request: { type: 'agent.services' },
    then: (response: AgentResponse) => {
      const found = response.status === 200 ? record(record(response.body)[id]) : {};
      return then(typeof found.Service === 'string' ? found.Service : undefined);
    },
  };
}

/** Decides on local check `id` (undefined when it is not registered here: the node's rule applies). */
function withLocalCheck(id: string, then: (check: Record<string, unknown> | undefined) => Decision): Decision {
  return {
    kind: 'lookup',
    request: { type: 'agent.checks' },
    then: (response: AgentResponse) => {
      const found = response.status === 200 ? record(response.body)[id] : undefined;
      return then(found === undefined ? undefined : record(found));
    },
  };
}

export function filterAgent(request: AgentFamilyRequest, body: unknown, authz: Authorizer, facts: AgentFacts): unknown {
  switch (request.type) {
    case 'agent.services':
      return keepValues(body, (s) => authz.may('service', str(s.Service), 'read'));
    case 'agent.checks':
      return keepValues(body, (c) => mayReadCheck(authz, c, facts.nodeName));
    default:
      return body;
  }
}
