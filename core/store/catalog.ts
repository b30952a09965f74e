/**
 * Catalog and health (Consul agent/consul/state/catalog.go): nodes, their services and checks.
 * Register ensures the node, then the service, then the checks; a write that changes nothing keeps
 * the record's ModifyIndex and the tables' indexes (Consul compares before writing). Every change
 * to a service instance, its checks, or its node's record or node-level checks raises that service
 * name's index, so `health/service/<svc>` watchers wake only for their service (Consul ≥ 1.2).
 *
 * A check going critical invalidates the sessions linked to it; deregistering a node invalidates its
 * sessions; deregistering a check invalidates the sessions linked to it (Consul deleteCheckTxn).
 */
import type { CheckStatus } from '../types.js';
import { sessionInvalidate, sessionsOfCheck, sessionsOfNode } from './session.js';
import { bumpTable, type StoreState } from './state.js';
import { coordinateDelete } from './coordinates.js';
import {
  datacenterDefault,
  serfCheckId,
  serfCheckName,
  serfOutputAlive,
  serfOutputFailed,
  type CatalogNode,
  type CatalogService,
  type CheckSpecRecord,
  type CommandResult,
  type HealthCheck,
  type MemberHealth,
  type NodeSpec,
  type ServiceSpec,
} from './types.js';

const checkStatuses: readonly CheckStatus[] = ['passing', 'warning', 'critical'];

function bumpService(state: StoreState, name: string, index: number): void {
  state.serviceIndex.set(name, index);
}

/** Raises the index of every service name on `node` (Consul updateAllServiceIndexesOfNode). */
function bumpServicesOfNode(state: StoreState, node: string, index: number): void {
  for (const service of state.services.get(node)?.values() ?? []) bumpService(state, service.Service, index);
}

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ak = Object.keys(a);
  if (ak.length !== Object.keys(b).length) return false;
  return ak.every((k) => a[k] === b[k]);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function checkRegistration(
  state: StoreState,
  node: NodeSpec,
  service: ServiceSpec | undefined,
  checks: readonly CheckSpecRecord[],
): string | null {
  if (node === null || typeof node !== 'object' || typeof node.node !== 'string' || node.node === '')
    return 'Must provide node';
  if (typeof node.address !== 'string' || node.address === '') return 'Must provide address';
  if (service !== undefined) {
    if (
      service === null ||
      typeof service !== 'object' ||
      typeof service.service !== 'string' ||
      service.service === ''
    )
      return 'Must provide service name';
    if (service.port !== undefined && (!Number.isInteger(service.port) || service.port < 0 || service.port > 65535))
      return `Invalid service port ${service.port}`;
  }
  if (!Array.isArray(checks)) return 'checks must be a list';
  for (const check of checks) {
    if (check === null || typeof check !== 'object' || typeof check.name !== 'string') return 'Must provide check name';
    const checkId = check.checkId ?? check.name;
    if (checkId === '') return 'Must provide check ID or name';
    if (check.status !== undefined && !checkStatuses.includes(check.status))
      return `Invalid check status '${String(check.status)}'`;
    const serviceId = check.serviceId ?? '';
    if (serviceId === '') continue;
    const registering = service !== undefined && (service.id ?? service.service) === serviceId;
    if (!registering && !state.services.get(node.node)?.has(serviceId)) return `Missing service registration`;
  }
  return null;
}

/** Consul ensureRegistrationTxn: node (unless skipped and present), then service, then checks. */
export function catalogRegister(
  state: StoreState,
  index: number,
  node: NodeSpec,
  service: ServiceSpec | undefined,
  checks: readonly CheckSpecRecord[],
  skipNodeUpdate: boolean,
  nowMs: number,
): CommandResult<true> {
  const problem = checkRegistration(state, node, service, checks);
  if (problem) return { ok: false, error: problem };
  if (!skipNodeUpdate || !state.nodes.has(node.node)) ensureNode(state, index, node);
  if (service) ensureService(state, index, node.node, service);
  for (const check of checks) ensureCheck(state, index, node.node, check, nowMs);
  return { ok: true, value: true };
}

export function ensureNode(state: StoreState, index: number, spec: NodeSpec): void {
  const existing = state.nodes.get(spec.node);
  const record: CatalogNode = {
    ID: spec.id ?? existing?.ID ?? '',
    Node: spec.node,
    Address: spec.address,
    Datacenter: spec.datacenter ?? existing?.Datacenter ?? datacenterDefault,
    TaggedAddresses: { ...(spec.taggedAddresses ?? existing?.TaggedAddresses ?? {}) },
    Meta: { ...(spec.meta ?? existing?.Meta ?? {}) },
    CreateIndex: existing?.CreateIndex ?? index,
    ModifyIndex: index,
  };
  if (
    existing &&
    existing.ID === record.ID &&
    existing.Address === record.Address &&
    existing.Datacenter === record.Datacenter &&
    sameRecord(existing.TaggedAddresses, record.TaggedAddresses) &&
    sameRecord(existing.Meta, record.Meta)
  ) {
    return;
  }
  state.nodes.set(spec.node, record);
  if (!state.services.has(spec.node)) state.services.set(spec.node, new Map());
  if (!state.checks.has(spec.node)) state.checks.set(spec.node, new Map());
  bumpTable(state, 'nodes', index);
  bumpServicesOfNode(state, spec.node, index);
}

function ensureService(state: StoreState, index: number, node: string, spec: ServiceSpec): void {
  const services = state.services.get(node)!;
  const id = spec.id ?? spec.service;
  const existing = services.get(id);
  const record: CatalogService = {
    ID: id,
    Service: spec.service,
    Tags: [...(spec.tags ?? [])],
    Address: spec.address ?? '',
    Port: spec.port ?? 0,
    Meta: { ...(spec.meta ?? {}) },
    EnableTagOverride: spec.enableTagOverride ?? false,
    CreateIndex: existing?.CreateIndex ?? index,
    ModifyIndex: index,
  };
  if (
    existing &&
    existing.Service === record.Service &&
    sameList(existing.Tags, record.Tags) &&
    existing.Address === record.Address &&
    existing.Port === record.Port &&
    sameRecord(existing.Meta, record.Meta) &&
    existing.EnableTagOverride === record.EnableTagOverride
  ) {
    return;
  }
  services.set(id, record);
  bumpTable(state, 'services', index);
  bumpService(state, record.Service, index);
  if (existing && existing.Service !== record.Service) bumpService(state, existing.Service, index);
}

function ensureCheck(state: StoreState, index: number, node: string, spec: CheckSpecRecord, nowMs: number): void {
  const checks = state.checks.get(node)!;
  const checkId = spec.checkId ?? spec.name;
  const existing = checks.get(checkId);
  const serviceId = spec.serviceId ?? '';
  const service = serviceId === '' ? undefined : state.services.get(node)!.get(serviceId);
  const record: HealthCheck = {
    Node: node,
    CheckID: checkId,
    Name: spec.name,
    Status: spec.status ?? 'critical',
    Notes: spec.notes ?? '',
    Output: spec.output ?? '',
    ServiceID: serviceId,
    ServiceName: service?.Service ?? '',
    ServiceTags: service ? [...service.Tags] : [],
    CreateIndex: existing?.CreateIndex ?? index,
    ModifyIndex: index,
  };
  if (
    existing &&
    existing.Name === record.Name &&
    existing.Status === record.Status &&
    existing.Notes === record.Notes &&
    existing.Output === record.Output &&
    existing.ServiceID === record.ServiceID &&
    existing.ServiceName === record.ServiceName &&
    sameList(existing.ServiceTags, record.ServiceTags)
  ) {
    return;
  }
  checks.set(checkId, record);
  bumpTable(state, 'checks', index);
  if (record.ServiceID !== '') bumpService(state, record.ServiceName, index);
  else bumpServicesOfNode(state, node, index);
  if (existing && existing.ServiceName !== '' && existing.ServiceName !== record.ServiceName)
    bumpService(state, existing.ServiceName, index);
  if (record.Status === 'critical') {
    for (const id of sessionsOfCheck(state, node, checkId)) sessionInvalidate(state, index, id, nowMs);
  }
}

/** Consul deregister: node only removes everything of the node; with serviceId or checkId only that. */
export function catalogDeregister(
  state: StoreState,
  index: number,
  node: string,
  serviceId: string | undefined,
  checkId: string | undefined,
  nowMs: number,
): CommandResult<true> {
  if (typeof node !== 'string' || node === '') return { ok: false, error: 'Must provide node' };
  if (!state.nodes.has(node)) return { ok: true, value: true };
  if (serviceId !== undefined) deleteService(state, index, node, serviceId, nowMs);
  if (checkId !== undefined) deleteCheck(state, index, node, checkId, nowMs);
  if (serviceId === undefined && checkId === undefined) deleteNode(state, index, node, nowMs);
  return { ok: true, value: true };
}

function deleteCheck(state: StoreState, index: number, node: string, checkId: string, nowMs: number): void {
  const checks = state.checks.get(node)!;
  const check = checks.get(checkId);
  if (!check) return;
  checks.delete(checkId);
  bumpTable(state, 'checks', index);
  if (check.ServiceID !== '') bumpService(state, check.ServiceName, index);
  else bumpServicesOfNode(state, node, index);
  for (const id of sessionsOfCheck(state, node, checkId)) sessionInvalidate(state, index, id, nowMs);
}

function deleteService(state: StoreState, index: number, node: string, serviceId: string, nowMs: number): void {
  const services = state.services.get(node)!;
  const service = services.get(serviceId);
  if (!service) return;
  for (const check of [...state.checks.get(node)!.values()])
    if (check.ServiceID === serviceId) deleteCheck(state, index, node, check.CheckID, nowMs);
  services.delete(serviceId);
  bumpTable(state, 'services', index);
  bumpService(state, service.Service, index);
}

function deleteNode(state: StoreState, index: number, node: string, nowMs: number): void {
  for (const id of sessionsOfNode(state, node)) sessionInvalidate(state, index, id, nowMs);
  for (const serviceId of [...state.services.get(node)!.keys()]) deleteService(state, index, node, serviceId, nowMs);
  for (const checkId of [...state.checks.get(node)!.keys()]) deleteCheck(state, index, node, checkId, nowMs);
  state.services.delete(node);
  state.checks.delete(node);
  state.nodes.delete(node);
  bumpTable(state, 'nodes', index);
  coordinateDelete(state, index, node);
}

/**
 * What the leader does with gossip news (Consul leader.go): alive → the node registered with a
 * passing serfHealth (and servers with service `consul`); failed → serfHealth critical (registering
 * the node if unknown); left → the node deregistered.
 */
export function memberHealth(
  state: StoreState,
  index: number,
  node: string,
  address: string,
  health: MemberHealth,
  serverPort: number | undefined,
  nowMs: number,
): CommandResult<true> {
  if (typeof node !== 'string' || node === '') return { ok: false, error: 'Must provide node' };
  if (health === 'left') return catalogDeregister(state, index, node, undefined, undefined, nowMs);
  if (health !== 'alive' && health !== 'failed')
    return { ok: false, error: `unknown member health '${String(health)}'` };
  if (typeof address !== 'string' || address === '') return { ok: false, error: 'Must provide address' };
  const existing = state.nodes.get(node);
  ensureNode(state, index, { node, address, ...(existing ? {} : { datacenter: datacenterDefault }) });
  if (health === 'alive' && serverPort !== undefined)
    ensureService(state, index, node, { id: 'consul', service: 'consul', port: serverPort, tags: [] });
  const status: CheckStatus = health === 'alive' ? 'passing' : 'critical';
  ensureCheck(
    state,
    index,
    node,
    {
      checkId: serfCheckId,
      name: serfCheckName,
      status,
      output: health === 'alive' ? serfOutputAlive : serfOutputFailed,
    },
    nowMs,
  );
  return { ok: true, value: true };
}
