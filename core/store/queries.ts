/**
 * Read queries: each answers its data and the index Consul would put in X-Consul-Index for it
 * (/work/shared/consul-api.md §2 "Index scope per endpoint"), floored at 1 (an index is never 0).
 * `queryIndex` computes only the index, for the blocking-query registry, without building the data
 * where that is cheaper.
 */
import { kvGetChangeIndex, kvGetIndex, kvKeys, kvList, kvPrefixChangeIndex, kvPrefixIndex } from './kv.js';
import { coordinateEntries } from './coordinates.js';
import { aclList } from './acl.js';
import {
  executePreparedQuery,
  preparedQueryFromInput,
  preparedQueryList,
  resolvePreparedQuery,
} from './preparedQuery.js';
import { sessionExpiryNext } from './session.js';
import { maxTableIndex, type StoreState } from './state.js';
import type {
  CatalogNode,
  CatalogService,
  CheckServiceNode,
  HealthCheck,
  QueryError,
  QueryResult,
  ServiceNode,
  Session,
  StoreQuery,
} from './types.js';

function floor1(index: number): number {
  return Math.max(1, index);
}

/** A map's entries by key (UTF-16 code-unit order, as Go's string compare for ASCII names). */
function byName<T>(map: ReadonlyMap<string, T>): [string, T][] {
  // The default sort compares strings by code units, as `<` does, without a callback per comparison.
  return [...map.keys()].sort().map((key) => [key, map.get(key)!]);
}

type TagFilter = string | readonly string[] | undefined;

/** Every wanted tag is among the service's (several `?tag=` must all match, as in Consul's serviceTagsFilter). */
function hasTag(tags: readonly string[], tag: TagFilter): boolean {
  // Consul matches service tags case-insensitively (serviceTagFilter uses strings.EqualFold).
  if (tag === undefined) return true;
  const have = tags.map((t) => t.toLowerCase());
  return (typeof tag === 'string' ? [tag] : tag).every((want) => have.includes(want.toLowerCase()));
}

/** Per-service index if the service name ever existed, else the tables' (Consul maxIndexForService). */
function serviceIndexOf(state: StoreState, service: string, fallback: number): number {
  return floor1(state.serviceIndex.get(service) ?? fallback);
}

/** The X-Consul-Index a query would return, ≥ 1. */
export function queryIndex(state: StoreState, query: StoreQuery): number {
  // A snapshot restore changed everything at once: no scope's index is older than it, so every
  // blocking query parked before it wakes (Consul abandons the old state store's watches).
  return Math.max(scopeIndex(state, query), state.restoredIndex);
}

/**
 * The change index of a query: the index of the last change that concerns its answer — what a parked
 * blocking reader waits on (the `index` query; the agent's parking decision). Never above queryIndex,
 * and above the index of any earlier answer that differs from the current one (kv.prop.test.ts).
 *
 * It equals queryIndex except for an absent KV answer (a missing key, an empty prefix), whose
 * X-Consul-Index is the KV table's, as in Consul (kvsGetTxn, kvsListTxn): every write to any key moves
 * that, and a reader waiting on it would wake at every write. Consul's reader waits on its memdb watch
 * instead — the radix-tree node where the search for the key ended — so it wakes at any write to a key
 * that shares the longest stored prefix of its key (every `soak/k…` write woke the soak's watchers of
 * the missing `soak/watch…` keys). Here a missing key's reader wakes at the key's creation, or at its
 * deletion (its tombstone) for a reader that saw it before, or at a reap that erased that tombstone, and
 * at its wait's end; its answer still carries the table's index, so its client moves on.
 */
export function changeIndex(state: StoreState, query: StoreQuery): number {
  const index = queryIndex(state, query);
  switch (query.type) {
    case 'kvGet':
      return Math.min(index, Math.max(kvGetChangeIndex(state, query.key), state.restoredIndex));
    case 'kvList':
    case 'kvKeys':
      return Math.min(index, Math.max(kvPrefixChangeIndex(state, query.prefix), state.restoredIndex));
    default:
      return index;
  }
}

function scopeIndex(state: StoreState, query: StoreQuery): number {
  switch (query.type) {
    case 'kvGet':
    case 'kvLockDelay':
      return kvGetIndex(state, query.key);
    case 'kvList':
    case 'kvKeys':
      return kvPrefixIndex(state, query.prefix);
    case 'sessionInfo':
    case 'sessionList':
    case 'sessionNode':
    case 'sessionExpiryNext':
      return floor1(maxTableIndex(state, 'sessions'));
    case 'catalogNodes':
      return floor1(maxTableIndex(state, 'nodes'));
    case 'catalogServices':
      return floor1(maxTableIndex(state, 'services'));
    case 'catalogService':
      return serviceIndexOf(state, query.service, maxTableIndex(state, 'nodes', 'services'));
    case 'catalogNode':
      return floor1(maxTableIndex(state, 'nodes', 'services'));
    case 'healthState':
    case 'healthNode':
    case 'healthChecks':
      return floor1(maxTableIndex(state, 'checks'));
    case 'healthService':
      return serviceIndexOf(state, query.service, maxTableIndex(state, 'nodes', 'services', 'checks'));
    case 'index':
      return changeIndex(state, query.of);
    case 'preparedQueryList':
    case 'preparedQueryGet':
    case 'preparedQueryExplain':
      return floor1(maxTableIndex(state, 'prepared-queries'));
    case 'coordinateNodes':
    case 'coordinateDatacenters':
      return floor1(maxTableIndex(state, 'coordinates'));
    case 'aclGet':
    case 'aclList':
      return floor1(maxTableIndex(state, 'acls'));
    case 'snapshot':
      return floor1(state.lastIndex);
    case 'preparedQueryExecute':
      return floor1(maxTableIndex(state, 'prepared-queries', 'nodes', 'services', 'checks'));
    case 'preparedQueryExecuteRemote':
      return floor1(maxTableIndex(state, 'nodes', 'services', 'checks'));
  }
}

export function runQuery(state: StoreState, query: StoreQuery): QueryResult | QueryError {
  if (query === null || typeof query !== 'object') return { index: 1, error: 'query must be an object' };
  const value = queryValue(state, query);
  if (value === badQuery)
    return { index: 1, error: `unknown query type '${String((query as { type?: unknown }).type)}'` };
  const index = queryIndex(state, query);
  // An absent KV answer carries the table's index; a blocking reader waits on its change index.
  const absent = value === null || (Array.isArray(value) && value.length === 0);
  if (!absent || (query.type !== 'kvGet' && query.type !== 'kvList' && query.type !== 'kvKeys'))
    return { index, value };
  const change = changeIndex(state, query);
  return change < index ? { index, value, changeIndex: change } : { index, value };
}

const badQuery = Symbol('badQuery');

function queryValue(state: StoreState, query: StoreQuery): unknown {
  switch (query.type) {
    case 'kvGet':
      return state.kv.get(query.key) ?? null;
    case 'kvList':
      return kvList(state, query.prefix);
    case 'kvKeys':
      return kvKeys(state, query.prefix, query.separator ?? '');
    case 'kvLockDelay':
      return state.lockDelayUntilMs.get(query.key) ?? 0;
    case 'sessionInfo': {
      const session = state.sessions.get(query.id);
      return session ? [session] : [];
    }
    case 'sessionList':
      return byName(state.sessions).map(([, s]) => s) satisfies Session[];
    case 'sessionNode':
      return byName(state.sessions)
        .map(([, s]) => s)
        .filter((s) => s.Node === query.node);
    case 'sessionExpiryNext':
      return sessionExpiryNext(state);
    case 'catalogNodes':
      return byName(state.nodes).map(([, n]) => n) satisfies CatalogNode[];
    case 'catalogServices':
      return catalogServices(state);
    case 'catalogService':
      return catalogService(state, query.service, query.tag);
    case 'catalogNode': {
      const node = state.nodes.get(query.node);
      if (!node) return null;
      const services: Record<string, CatalogService> = {};
      for (const [id, service] of byName(state.services.get(query.node)!)) services[id] = service;
      return { Node: node, Services: services };
    }
    case 'healthState':
      return allChecks(state).filter((c) => query.state === 'any' || c.Status === query.state);
    case 'healthNode':
      return byName(state.checks.get(query.node) ?? new Map<string, HealthCheck>()).map(([, c]) => c);
    case 'healthChecks':
      return allChecks(state).filter((c) => c.ServiceName === query.service);
    case 'healthService':
      return healthService(state, query.service, query.tag, query.passing ?? false);
    case 'index':
      return changeIndex(state, query.of);
    case 'preparedQueryList':
      return preparedQueryList(state);
    case 'coordinateNodes':
      return coordinateEntries(state, query.node);
    case 'aclGet':
      return state.acls.get(query.id) ?? null;
    case 'aclList':
      return aclList(state);
    case 'coordinateDatacenters': {
      const servers = coordinateEntries(state).filter((e) => state.services.get(e.Node)?.has('consul'));
      return [
        {
          Datacenter: query.datacenter,
          AreaID: 'wan',
          Coordinates: servers.map((e) => ({ Node: `${e.Node}.${query.datacenter}`, Coord: e.Coord })),
        },
      ];
    }
    case 'preparedQueryGet':
      return state.preparedQueries.get(query.id) ?? null;
    case 'preparedQueryExplain':
      return resolvePreparedQuery(state, query.idOrName);
    case 'preparedQueryExecute': {
      const resolved = resolvePreparedQuery(state, query.idOrName);
      if (resolved === null || 'error' in resolved) return resolved;
      const options = {
        agentNode: query.agentNode,
        seed: query.seed,
        coordinates: state.coordinates,
        ...(query.near !== undefined ? { near: query.near } : {}),
        ...(query.limit !== undefined ? { limit: query.limit } : {}),
      };
      const nodes = executePreparedQuery(
        resolved,
        healthService(state, resolved.Service.Service, undefined, false),
        options,
      );
      return { Query: resolved, Nodes: nodes, Datacenter: query.datacenter };
    }
    case 'preparedQueryExecuteRemote': {
      // From another DC's server: every field is taken back to its type (a malformed one to its zero
      // value), so no peer's query can make this replica throw.
      const given = query.query as unknown;
      if (given === null || typeof given !== 'object') return badQuery;
      const fields = given as Record<string, unknown>;
      const remote = preparedQueryFromInput(fields, typeof fields.ID === 'string' ? fields.ID : '');
      const options = {
        agentNode: '',
        seed: query.seed,
        ...(query.limit !== undefined ? { limit: query.limit } : {}),
      };
      const instances = healthService(state, remote.Service.Service, undefined, false);
      const nodes = executePreparedQuery({ ...remote, Service: { ...remote.Service, Near: '' } }, instances, options);
      return { Query: remote, Nodes: nodes, Datacenter: query.datacenter };
    }
    default:
      return badQuery;
  }
}

/** Every check, by node then check id (Consul's memdb order). */
function allChecks(state: StoreState): HealthCheck[] {
  const out: HealthCheck[] = [];
  for (const [, checks] of byName(state.checks)) for (const [, check] of byName(checks)) out.push(check);
  return out;
}

function catalogServices(state: StoreState): Record<string, string[]> {
  const tags = new Map<string, Set<string>>();
  for (const services of state.services.values()) {
    for (const service of services.values()) {
      let set = tags.get(service.Service);
      if (!set) tags.set(service.Service, (set = new Set()));
      for (const tag of service.Tags) set.add(tag);
    }
  }
  const out: Record<string, string[]> = {};
  for (const [name, set] of byName(tags)) out[name] = [...set].sort();
  return out;
}

/** Instances of `service` as [node, service] pairs, by node then service id. */
function instances(state: StoreState, service: string, tag: TagFilter): [CatalogNode, CatalogService][] {
  const out: [CatalogNode, CatalogService][] = [];
  for (const [nodeName, services] of byName(state.services)) {
    // The node's instances of `service` by service id: picked first, then put in order (few match).
    let picked: [string, CatalogService][] | null = null;
    for (const [id, s] of services) if (s.Service === service && hasTag(s.Tags, tag)) (picked ??= []).push([id, s]);
    if (picked === null) continue;
    if (picked.length > 1) picked.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const node = state.nodes.get(nodeName)!;
    for (const [, s] of picked) out.push([node, s]);
  }
  return out;
}

function catalogService(state: StoreState, service: string, tag: TagFilter): ServiceNode[] {
  return instances(state, service, tag).map(([node, s]) => ({
    ID: node.ID,
    Node: node.Node,
    Address: node.Address,
    Datacenter: node.Datacenter,
    TaggedAddresses: node.TaggedAddresses,
    NodeMeta: node.Meta,
    ServiceID: s.ID,
    ServiceName: s.Service,
    ServiceTags: s.Tags,
    ServiceAddress: s.Address,
    ServicePort: s.Port,
    ServiceMeta: s.Meta,
    ServiceEnableTagOverride: s.EnableTagOverride,
    CreateIndex: s.CreateIndex,
    ModifyIndex: s.ModifyIndex,
  }));
}

/**
 * `health/service/<svc>`: each instance with its node's checks first (serfHealth...) then its own,
 * as Consul's documented responses show; `passing` keeps instances whose checks all pass.
 */
function healthService(state: StoreState, service: string, tag: TagFilter, passing: boolean): CheckServiceNode[] {
  const out: CheckServiceNode[] = [];
  for (const [node, s] of instances(state, service, tag)) {
    const checks = byName(state.checks.get(node.Node)!).map(([, c]) => c);
    const nodeChecks = checks.filter((c) => c.ServiceID === '');
    const serviceChecks = checks.filter((c) => c.ServiceID === s.ID);
    const all = [...nodeChecks, ...serviceChecks];
    if (passing && all.some((c) => c.Status !== 'passing')) continue;
    out.push({ Node: node, Service: s, Checks: all });
  }
  return out;
}
