/**
 * ACL rules of the catalog and health families. Reads are filtered: a node needs node read, a service
 * entry service read, a check the read rule of its service (or of its node, for a node check).
 *
 * Writes follow Consul's vetRegisterWithACL / vetDeregisterWithACL:
 *  - register: node write when the request creates the node or changes it (address, ID, tagged
 *    addresses, meta) — the current node is looked up; service write on the service registered; for
 *    each check, service write on its service (the one registered, else the node's service with that
 *    id), node write for a node check;
 *  - deregister: node write for the whole node; service write on the service's name for a service;
 *    for a check, its service's write rule (node write for a node check). Unknown entries need node
 *    write, so a guess cannot probe.
 */
import type { AgentRequest, AgentResponse } from '../api.js';
import {
  all,
  allow,
  allowIf,
  keepEntries,
  mayReadCheck,
  record,
  str,
  type Authorizer,
  type Decision,
} from './authz.js';

export type CatalogRequest = Extract<AgentRequest, { type: `catalog.${string}` | `health.${string}` }>;

/**
 * The reads a catalog rule decides on go to the leader (Consul decides Catalog.Register on the leader's
 * state store), as the session and query rules' do. A stale read decided on a lagging server's copy: a
 * token with only service write could re-register a node at the address it had before an operator moved
 * it (the stale copy shows no change, so no node write was asked) — and refused a service registered
 * onto a node created a moment before (round F's acl-endpoints scenario, seeds 92 and 276).
 */
const leaderRead = { consistency: 'default' } as const;

export function authorizeCatalog(request: CatalogRequest, authz: Authorizer): Decision {
  switch (request.type) {
    case 'catalog.datacenters':
    case 'catalog.nodes':
    case 'catalog.services':
    case 'catalog.service':
    case 'catalog.node':
    case 'health.state':
    case 'health.node':
    case 'health.checks':
    case 'health.service':
      return allow; // filtered
    case 'catalog.register':
      return authorizeRegister(request, authz);
    case 'catalog.deregister':
      return authorizeDeregister(request, authz);
  }
}

function withNode(node: string, then: (current: Record<string, unknown> | null) => Decision): Decision {
  return {
    kind: 'lookup',
    request: { type: 'catalog.node', node, read: leaderRead },
    then: (response: AgentResponse) =>
      then(response.status === 200 && response.body !== null ? record(response.body) : null),
  };
}

function sameMap(a: unknown, b: Readonly<Record<string, string>> | undefined): boolean {
  const x = record(a);
  const y = b ?? {};
  const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
  for (const k of keys) if (x[k] !== y[k]) return false;
  return true;
}

function authorizeRegister(request: Extract<CatalogRequest, { type: 'catalog.register' }>, authz: Authorizer) {
  return withNode(request.node, (current) => {
    const node = record(current?.Node);
    const changesNode =
      current === null ||
      str(node.Address) !== request.address ||
      (request.id !== undefined && request.id !== '' && str(node.ID) !== request.id) ||
      (request.taggedAddresses !== undefined && !sameMap(node.TaggedAddresses, request.taggedAddresses)) ||
      (request.nodeMeta !== undefined && !sameMap(node.Meta, request.nodeMeta));
    const services = record(current?.Services);
    const serviceNameOf = (id: string): string | undefined => {
      if (request.service && (request.service.id ?? request.service.name) === id) return request.service.name;
      const existing = record(services[id]);
      return typeof existing.Service === 'string' ? existing.Service : undefined;
    };
    return all([
      () => (changesNode ? allowIf(authz.may('node', request.node, 'write')) : allow),
      () => (request.service ? allowIf(authz.may('service', request.service.name, 'write')) : allow),
      // Registering over an existing service id on the node replaces that service: its name's rule too.
      () => {
        const replaced = request.service
          ? record(services[request.service.id ?? request.service.name]).Service
          : undefined;
        return typeof replaced === 'string' ? allowIf(authz.may('service', replaced, 'write')) : allow;
      },
      ...(request.checks ?? []).map((check) => () => {
        const name = check.serviceId ? serviceNameOf(check.serviceId) : undefined;
        return allowIf(
          name !== undefined ? authz.may('service', name, 'write') : authz.may('node', request.node, 'write'),
        );
      }),
    ]);
  });
}

function authorizeDeregister(request: Extract<CatalogRequest, { type: 'catalog.deregister' }>, authz: Authorizer) {
  const nodeWrite = () => allowIf(authz.may('node', request.node, 'write'));
  if (request.serviceId === undefined && request.checkId === undefined) return nodeWrite();
  return withNode(request.node, (current) => {
    const services = record(current?.Services);
    const serviceWrite = (id: string): Decision => {
      const name = record(services[id]).Service;
      return typeof name === 'string' ? allowIf(authz.may('service', name, 'write')) : nodeWrite();
    };
    return all([
      () => (request.serviceId !== undefined ? serviceWrite(request.serviceId) : allow),
      () =>
        request.checkId !== undefined
          ? {
              kind: 'lookup',
              request: { type: 'health.node', node: request.node, read: leaderRead },
              then: (response: AgentResponse) => {
                const list = Array.isArray(response.body) ? response.body.map(record) : [];
                const check = list.find((c) => c.CheckID === request.checkId);
                const serviceId = str(check?.ServiceID);
                return check && serviceId !== '' ? serviceWrite(serviceId) : nodeWrite();
              },
            }
          : allow,
    ]);
  });
}

export function filterCatalog(request: CatalogRequest, body: unknown, authz: Authorizer): unknown {
  const nodeRead = (node: unknown) => authz.may('node', str(node), 'read');
  const serviceRead = (name: unknown) => authz.may('service', str(name), 'read');
  switch (request.type) {
    case 'catalog.nodes':
      return keepEntries(body, (n) => nodeRead(n.Node));
    case 'catalog.services':
      if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
      return Object.fromEntries(Object.entries(body).filter(([name]) => serviceRead(name)));
    case 'catalog.service':
      return keepEntries(body, (e) => nodeRead(e.Node) && serviceRead(e.ServiceName));
    case 'catalog.node': {
      if (body === null || typeof body !== 'object') return body;
      const b = record(body);
      if (!nodeRead(record(b.Node).Node)) return null;
      const services = Object.entries(record(b.Services)).filter(([, s]) => serviceRead(record(s).Service));
      return { ...b, Services: Object.fromEntries(services) };
    }
    case 'health.state':
    case 'health.node':
    case 'health.checks':
      return keepEntries(body, (c) => mayReadCheck(authz, c, str(c.Node)));
    case 'health.service':
      return keepEntries(body, (e) => nodeRead(record(e.Node).Node) && serviceRead(record(e.Service).Service));
    default:
      return body;
  }
}
