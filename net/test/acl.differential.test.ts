/**
 * A differential fuzzer for ACLs (issue 14 §4): random HTTP requests × random tokens through the real
 * router (routeHttp, the ACL gate, core/agent/endpoints), against an agent double that executes the
 * typed requests on the real store (core/agent/ops.ts translate → store FSM → render) plus a small
 * local service/check/event table. Each decision is compared with a reference model of Consul's
 * legacy ACL rules written here from scratch (longest prefix wins, write implies read, deny denies
 * both, management allows everything, `acl_default_policy` where no rule matches):
 *
 *  - **no change the model denies**: after every request, every resource whose state changed (a key,
 *    a node, a catalog or local service, a check, a session, an event, a query, a coordinate, a token)
 *    must be writable by the caller in the model;
 *  - **no read the model denies**: every key, service, node, session, event or query an answer
 *    discloses must be readable by the caller in the model;
 *  - **the same verdict**: for requests whose target the generator knows (a single key, service,
 *    event, node, query), the router answers 403 exactly when the model denies.
 *
 * Requests include the smuggling forms of the issue (`/v1/kv?recurse`, `K_V`, duplicate `KV`/`kv`,
 * `N_ame`, duplicate `Name`/`name`, a `Service` field in catalog/deregister). Seeded: a failure prints
 * fast-check's seed and path; ACL_FUZZ_SEED and ACL_FUZZ_RUNS override the defaults.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import { render, translate } from '../../core/agent/ops.js';
import { Prng } from '../../core/prng.js';
import { createStoreFsm, type StoreFsm } from '../../core/store/store.js';
import type { StoreCommand } from '../../core/store/types.js';
import { routeHttp, type RouterContext } from '../http/router.js';

// ───────────────────────────────────────── the universe ──────────────────────────────────────────

const agentNode = 'agent1';
const keys = ['a', 'a/b', 'ab', 'b', 'b/c'];
const services = ['web', 'mine', 'db'];
const nodes = [agentNode, 'n1', 'n2'];
const events = ['deploy', 'x'];
const queryNames = ['q1', 'web-q'];
const master = 'master-token';
const queryId = '11111111-2222-4333-8444-555555555555';
type Resource = 'key' | 'service' | 'node' | 'session' | 'event' | 'query' | 'agent' | 'operator' | 'keyring';
const blockResources = ['key', 'service', 'node', 'session', 'event', 'query', 'agent'] as const;
const prefixesOf: Record<(typeof blockResources)[number], string[]> = {
  key: ['', 'a', 'a/', 'b/'],
  service: ['', 'w', 'web', 'mine', 'd'],
  node: ['', 'n', 'n1', 'agent'],
  session: ['', 'n', 'agent'],
  event: ['', 'd', 'x'],
  query: ['', 'q', 'web'],
  agent: ['', 'agent'],
};
type Policy = 'read' | 'write' | 'deny';

// ────────────────────────────────────────── the model ────────────────────────────────────────────

interface TokenModel {
  readonly id: string;
  readonly management: boolean;
  readonly rules: readonly (readonly [Resource, string, Policy])[];
}

/** Consul's legacy rule, naively: the longest matching prefix decides, else the default policy. */
function modelMay(t: TokenModel, def: 'allow' | 'deny', resource: Resource, name: string, access: 'read' | 'write') {
  if (t.management) return true;
  let best: readonly [Resource, string, Policy] | undefined;
  for (const rule of t.rules) {
    if (rule[0] !== resource || !name.startsWith(rule[1])) continue;
    if (!best || rule[1].length > best[1].length) best = rule;
  }
  if (!best) return def === 'allow';
  return best[2] === 'write' || (best[2] === 'read' && access === 'read');
}

function rulesText(t: TokenModel): string {
  return t.rules
    .map(([resource, prefix, policy]) =>
      resource === 'operator' || resource === 'keyring'
        ? `${resource} = "${policy}"`
        : `${resource} "${prefix}" { policy = "${policy}" }`,
    )
    .join('\n');
}

const policyArb = fc.constantFrom<Policy>('read', 'write', 'deny');
const tokenArb = (id: string): fc.Arbitrary<TokenModel> =>
  fc
    .tuple(
      ...blockResources.map((resource) =>
        fc.uniqueArray(fc.tuple(fc.constantFrom(...prefixesOf[resource]), policyArb), {
          maxLength: 2,
          selector: (r) => r[0],
        }),
      ),
      fc.option(policyArb, { nil: undefined }),
    )
    .map((parts) => {
      const rules: [Resource, string, Policy][] = [];
      blockResources.forEach((resource, i) => {
        for (const [prefix, policy] of parts[i] as [string, Policy][]) rules.push([resource, prefix, policy]);
      });
      const operator = parts[blockResources.length] as Policy | undefined;
      if (operator) rules.push(['operator', '', operator]);
      return { id, management: false, rules };
    });

// ───────────────────────────────────────── the agent double ─────────────────────────────────────────

interface LocalCheck {
  CheckID: string;
  Name: string;
  Status: string;
  ServiceID: string;
  ServiceName: string;
  Script: boolean;
}

/** The real store behind the real request translation; local services, checks and events in maps. */
class AgentDouble {
  readonly fsm: StoreFsm = createStoreFsm();
  readonly services = new Map<string, { ID: string; Service: string; Port: number }>();
  readonly checks = new Map<string, LocalCheck>();
  readonly events: { ID: string; Name: string }[] = [];
  private index = 0;
  private readonly prng = new Prng(7);
  /** The agent's `acl_default_policy`: what `acl.resolve` puts in a grant. */
  defaultPolicy: 'allow' | 'deny' = 'allow';

  apply(command: StoreCommand) {
    return this.fsm.apply(command, ++this.index);
  }

  async call(request: AgentRequest): Promise<AgentResponse> {
    const t = translate(request, agentNode, this.prng, 'dc1');
    if (t.kind === 'error') return t.response;
    if (t.kind === 'agent') return this.local(request);
    const op = t.op;
    const ok = (index: number, value: unknown) =>
      render(request, { ok: true, index, value, knownLeader: true, lastContactMs: 0 });
    if (op.kind === 'write') return ok(this.index + 1, this.apply(op.command));
    if (op.kind === 'read') {
      const result = this.fsm.query(op.query);
      if ('error' in result) return { status: 500, body: null, error: String(result.error) };
      return ok(result.index, result.value);
    }
    return { status: 200, body: op.kind === 'status' ? [] : null };
  }

  private local(request: AgentRequest): AgentResponse {
    const done: AgentResponse = { status: 200, body: null };
    const missing: AgentResponse = { status: 404, body: null, error: 'not found' };
    switch (request.type) {
      case 'acl.resolve': {
        const found = this.fsm.query({ type: 'aclGet', id: request.id });
        if ('error' in found || found.value === null) return { status: 403, body: null, error: 'ACL not found' };
        return { status: 200, body: { kind: 'token', token: found.value, defaultPolicy: this.defaultPolicy } };
      }
      case 'agent.services':
        return { status: 200, body: Object.fromEntries(this.services) };
      case 'agent.checks':
        return {
          status: 200,
          body: Object.fromEntries([...this.checks].map(([id, c]) => [id, { Node: agentNode, ...c }])),
        };
      case 'agent.service.register': {
        const s = request.service;
        const id = s.id ?? s.name;
        this.services.set(id, { ID: id, Service: s.name, Port: s.port ?? 0 });
        for (const [i, c] of (s.checks ?? []).entries())
          this.addCheck(c.id ?? `service:${id}${(s.checks?.length ?? 0) > 1 ? `:${i + 1}` : ''}`, c.name ?? '', id, c);
        return done;
      }
      case 'agent.service.deregister':
        if (!this.services.delete(request.id)) return missing;
        for (const [id, c] of this.checks) if (c.ServiceID === request.id) this.checks.delete(id);
        return done;
      case 'agent.check.register': {
        const c = request.check;
        if (c.serviceId && !this.services.has(c.serviceId)) return { status: 400, body: null, error: 'no service' };
        this.addCheck(c.id ?? c.name ?? '', c.name ?? '', c.serviceId ?? '', c);
        return done;
      }
      case 'agent.check.pass':
      case 'agent.check.warn':
      case 'agent.check.fail':
      case 'agent.check.update': {
        const c = this.checks.get(request.id);
        if (!c) return missing;
        c.Status =
          request.type === 'agent.check.update'
            ? request.status
            : { 'agent.check.pass': 'passing', 'agent.check.warn': 'warning', 'agent.check.fail': 'critical' }[
                request.type
              ];
        return done;
      }
      case 'agent.check.deregister':
        return this.checks.delete(request.id) ? done : missing;
      case 'event.fire': {
        const event = { ID: `e${this.events.length}`, Name: request.name };
        this.events.push(event);
        return { status: 200, body: event };
      }
      case 'event.list':
        return { status: 200, body: this.events.filter((e) => !request.name || e.Name === request.name), index: 1 };
      default:
        return { status: 200, body: {} };
    }
  }

  private addCheck(
    id: string,
    name: string,
    serviceId: string,
    c: { script?: string; args?: readonly string[]; status?: string },
  ) {
    this.checks.set(id, {
      CheckID: id,
      Name: name,
      Status: c.status ?? 'critical',
      ServiceID: serviceId,
      ServiceName: this.services.get(serviceId)?.Service ?? '',
      Script: c.script !== undefined || (c.args?.length ?? 0) > 0,
    });
  }

  /**
   * Every resource's state, keyed by the (resource, name) whose write rule guards it. `alt`: an entry
   * that goes with its node (services, checks, sessions, coordinates) needs only the node's write rule
   * when the node is deregistered.
   */
  view(): Map<string, { resource: Resource; name: string; alt?: [Resource, string]; state: string }> {
    const out = new Map<string, { resource: Resource; name: string; alt?: [Resource, string]; state: string }>();
    const s = this.fsm.state;
    const put = (id: string, resource: Resource, name: string, state: unknown, alt?: [Resource, string]) =>
      out.set(id, { resource, name, state: JSON.stringify(state), ...(alt ? { alt } : {}) });
    // A session's locks are its own business: only the value and flags of a key are the key's.
    for (const [k, e] of s.kv) put(`kv ${k}`, 'key', k, [e.Value ? [...e.Value] : null, e.Flags]);
    for (const [n, node] of s.nodes)
      put(`node ${n}`, 'node', n, [node.Address, node.ID, node.TaggedAddresses, node.Meta]);
    for (const [n, list] of s.services)
      for (const [id, svc] of list)
        put(`csvc ${n}/${id}`, 'service', svc.Service, [svc.Port, svc.Tags, svc.Address], ['node', n]);
    for (const [n, list] of s.checks)
      for (const [id, c] of list)
        put(
          `ccheck ${n}/${id}`,
          c.ServiceName ? 'service' : 'node',
          c.ServiceName || n,
          [c.Status, c.ServiceID],
          ['node', n],
        );
    for (const [id, session] of s.sessions)
      put(`session ${id}`, 'session', session.Node, session.Name, ['node', session.Node]);
    for (const [id, q] of s.preparedQueries) put(`query ${id}`, 'query', q.Name, [q.Name, q.Service]);
    for (const [n, c] of s.coordinates) put(`coord ${n}`, 'node', n, c, ['node', n]);
    for (const [id, t] of s.acls) put(`acl ${id}`, 'operator', '\u0000management', [t.Rules, t.Type, t.Name]);
    for (const [id, svc] of this.services) put(`lsvc ${id}`, 'service', svc.Service, svc.Port);
    for (const [id, c] of this.checks) {
      put(`lcheck ${id}`, c.ServiceName ? 'service' : 'node', c.ServiceName || agentNode, [c.Status, c.ServiceID]);
      if (c.Script) put(`lscript ${id}`, 'node', agentNode, true);
    }
    for (const e of this.events) put(`event ${e.ID}`, 'event', e.Name, true);
    return out;
  }
}

/** The world every run starts from, written with full rights. */
function seededAgent(tokens: readonly TokenModel[]): AgentDouble {
  const a = new AgentDouble();
  const v = (s: string) => new TextEncoder().encode(s);
  for (const k of keys) a.apply({ type: 'kvSet', entry: { key: k, value: v(`v-${k}`), flags: 0 } });
  for (const [n, addr] of [
    [agentNode, '10.0.0.1'],
    ['n1', '10.0.0.2'],
    ['n2', '10.0.0.3'],
  ] as const)
    a.apply({ type: 'catalogRegister', node: { node: n, address: addr }, nowMs: 0 } as StoreCommand);
  a.apply({
    type: 'catalogRegister',
    node: { node: 'n1', address: '10.0.0.2' },
    service: { service: 'web', id: 'web', port: 80 },
    checks: [{ checkId: 'web-alive', name: 'alive', status: 'passing', serviceId: 'web' }],
    nowMs: 0,
  } as StoreCommand);
  a.apply({
    type: 'catalogRegister',
    node: { node: 'n2', address: '10.0.0.3' },
    service: { service: 'db', id: 'db', port: 5432 },
    nowMs: 0,
  } as StoreCommand);
  const sessionCreated = a.apply({
    type: 'sessionCreate',
    session: { id: 'sess-n1', node: 'n1', nodeChecks: [] },
    nowMs: 0,
  } as StoreCommand);
  expect(sessionCreated.ok).toBe(true);
  const queryCreated = a.apply({
    type: 'preparedQuerySet',
    query: queryDefinition(queryId, 'web-q', 'web'),
    create: true,
  } as StoreCommand);
  expect(queryCreated.ok).toBe(true);
  a.apply({
    type: 'coordinateBatchUpdate',
    updates: [{ Node: 'n1', Coord: { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 1e-5 } }],
  } as StoreCommand);
  const aclSet = (ID: string, Type: string, Rules: string) =>
    a.apply({ type: 'aclSet', acl: { ID, Name: ID, Type, Rules }, create: false } as StoreCommand);
  aclSet(master, 'management', '');
  for (const t of tokens) aclSet(t.id, 'client', rulesText(t));
  a.services.set('web', { ID: 'web', Service: 'web', Port: 80 });
  a.services.set('mine', { ID: 'mine', Service: 'mine', Port: 1 });
  a.checks.set('service:web', {
    CheckID: 'service:web',
    Name: 'web ttl',
    Status: 'passing',
    ServiceID: 'web',
    ServiceName: 'web',
    Script: false,
  });
  a.checks.set('mem', {
    CheckID: 'mem',
    Name: 'mem',
    Status: 'passing',
    ServiceID: '',
    ServiceName: '',
    Script: false,
  });
  a.events.push({ ID: 'e-seed', Name: 'deploy' });
  return a;
}

function queryDefinition(id: string, name: string, service: string) {
  return {
    ID: id,
    Name: name,
    Session: '',
    Token: '',
    Template: { Type: '', Regexp: '', RemoveEmptyTags: false },
    Service: {
      Service: service,
      Failover: { NearestN: 0, Datacenters: [] },
      OnlyPassing: false,
      IgnoreCheckIDs: [],
      Near: '',
      Tags: [],
      NodeMeta: {},
      ServiceMeta: {},
    },
    DNS: { TTL: '' },
  };
}

// ───────────────────────────────────────── the requests ─────────────────────────────────────────

interface Http {
  readonly method: string;
  readonly url: string;
  readonly body?: string;
  /** What the verdict must be, when the generator knows the one rule that decides. */
  readonly rule?: readonly [Resource | 'management', string, 'read' | 'write'];
  /** Which answer fields disclose what (checked against read rules). */
  readonly reads?: 'kv' | 'keys' | 'txn' | 'services' | 'catalog' | 'health' | 'agentServices' | 'agentChecks';
  readonly readsAlso?: 'sessions' | 'events' | 'queries' | 'execute' | 'nodes' | 'coords' | 'management';
}

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
const json = (x: unknown) => JSON.stringify(x);
const b64 = (s: string) => Buffer.from(s).toString('base64');

const kvRequests: fc.Arbitrary<Http>[] = [
  pick(keys).map((k) => ({
    method: 'GET',
    url: `/v1/kv/${k}`,
    rule: ['key', k, 'read'] as const,
    reads: 'kv' as const,
  })),
  pick(['', 'a', 'a/', 'b']).chain((p) =>
    pick([`/v1/kv/${p}?recurse`, `/v1/kv${p === '' ? '' : `/${p}`}?recurse`, `/v1/kv/${p}?keys`, '/v1/kv?keys']).map(
      (url) => ({ method: 'GET', url, reads: url.includes('keys') ? ('keys' as const) : ('kv' as const) }),
    ),
  ),
  pick(keys).map((k) => ({ method: 'PUT', url: `/v1/kv/${k}`, body: 'new', rule: ['key', k, 'write'] as const })),
  pick(keys).map((k) => ({ method: 'DELETE', url: `/v1/kv/${k}`, rule: ['key', k, 'write'] as const })),
  pick(['/v1/kv?recurse', '/v1/kv/?recurse', '/v1/kv/a?recurse', '/v1/kv/a/?recurse', '/v1/kv/b?recurse']).map(
    (url) => ({ method: 'DELETE', url }),
  ),
  fc
    .array(fc.tuple(pick(['set', 'get', 'delete', 'get-tree', 'delete-tree', 'check-not-exists']), pick(keys)), {
      minLength: 1,
      maxLength: 3,
    })
    .chain((ops) =>
      pick(['KV', 'kv', 'K_V', 'dup', 'Kv']).map((field) => {
        const list = ops.map(([verb, key]) => {
          const op = { Verb: verb, Key: key, ...(verb === 'set' ? { Value: b64('t') } : {}) };
          return field === 'dup'
            ? `{"KV":${json({ ...op, Key: 'zz' })},"kv":${json(op)}}`
            : `{${json(field)}:${json(op)}}`;
        });
        return { method: 'PUT', url: '/v1/txn', body: `[${list.join(',')}]`, reads: 'txn' as const };
      }),
    ),
];

const agentRequests: fc.Arbitrary<Http>[] = [
  fc.tuple(pick(services), pick(['plain', 'N_ame', 'dup', 'lower'])).map(([name, form]) => {
    const body =
      form === 'plain'
        ? json({ Name: name, Port: 9 })
        : form === 'lower'
          ? json({ name, port: 9 })
          : form === 'N_ame'
            ? `{"Name":"mine","N_ame":${json(name)},"Port":9}`
            : `{"Name":"mine","name":${json(name)},"Port":9}`;
    return {
      method: 'PUT',
      url: '/v1/agent/service/register',
      body,
      ...(form === 'plain' || form === 'lower' ? { rule: ['service', name, 'write'] as const } : {}),
    };
  }),
  // Registering over another service's id, or another check's id, replaces it.
  fc.tuple(pick(['web', 'mine']), pick(services)).map(([id, name]) => ({
    method: 'PUT',
    url: '/v1/agent/service/register',
    body: json({ ID: id, Name: name, Port: 7 }),
  })),
  fc.tuple(pick(['service:web', 'mem']), pick(['web', 'mine', ''])).map(([id, serviceId]) => ({
    method: 'PUT',
    url: '/v1/agent/check/register',
    body: json({ ID: id, Name: 'x', TTL: '10s', ...(serviceId ? { ServiceID: serviceId } : {}) }),
  })),
  pick(['web', 'mine', 'nope']).map((id) => ({ method: 'PUT', url: `/v1/agent/service/deregister/${id}` })),
  fc.tuple(pick(['web', 'mine', '']), fc.boolean()).map(([serviceId, script]) => ({
    method: 'PUT',
    url: '/v1/agent/check/register',
    body: json({
      Name: 'c',
      ...(serviceId ? { ServiceID: serviceId } : {}),
      ...(script ? { Script: 'true', Interval: '10s' } : { TTL: '10s' }),
    }),
  })),
  // A script check on a service: the service's write rule is not enough, it needs the node's.
  pick(['web', 'mine']).map((serviceId) => ({
    method: 'PUT',
    url: '/v1/agent/check/register',
    body: json({ Name: 's', ServiceID: serviceId, Args: ['true'], Interval: '10s' }),
  })),
  fc.tuple(pick(['pass', 'warn', 'fail']), pick(['service:web', 'mem', 'c', 'nope'])).map(([verb, id]) => ({
    method: 'PUT',
    url: `/v1/agent/check/${verb}/${id}`,
  })),
  pick(['service:web', 'mem']).map((id) => ({
    method: 'PUT',
    url: `/v1/agent/check/update/${id}`,
    body: json({ Status: 'critical' }),
  })),
  pick(['service:web', 'mem', 'c']).map((id) => ({ method: 'PUT', url: `/v1/agent/check/deregister/${id}` })),
  fc.constant({ method: 'GET', url: '/v1/agent/services', reads: 'agentServices' as const }),
  fc.constant({ method: 'GET', url: '/v1/agent/checks', reads: 'agentChecks' as const }),
];

const catalogRequests: fc.Arbitrary<Http>[] = [
  fc
    .tuple(pick(nodes), pick(['10.0.0.2', '6.6.6.6']), fc.option(pick(services), { nil: undefined }))
    .map(([node, address, service]) => ({
      method: 'PUT',
      url: '/v1/catalog/register',
      body: json({ Node: node, Address: address, ...(service ? { Service: { Service: service } } : {}) }),
    })),
  fc.tuple(pick(['n1', 'n2']), pick(services)).map(([node, name]) => ({
    method: 'PUT',
    url: '/v1/catalog/register',
    body: json({
      Node: node,
      Address: node === 'n1' ? '10.0.0.2' : '10.0.0.3',
      Service: { ID: node === 'n1' ? 'web' : 'db', Service: name },
    }),
  })),
  fc.tuple(pick(nodes), pick(['none', 'web', 'db', 'smuggle', 'check'])).map(([node, what]) => ({
    method: 'PUT',
    url: '/v1/catalog/deregister',
    body: json({
      Node: node,
      ...(what === 'web' || what === 'db' ? { ServiceID: what } : {}),
      ...(what === 'check' ? { CheckID: 'web-alive' } : {}),
      ...(what === 'smuggle' ? { Service: { Service: 'mine' } } : {}),
    }),
  })),
  fc.constant({ method: 'GET', url: '/v1/catalog/services', reads: 'services' as const }),
  fc.constant({ method: 'GET', url: '/v1/catalog/nodes', readsAlso: 'nodes' as const }),
  pick(services).map((s) => ({ method: 'GET', url: `/v1/catalog/service/${s}`, reads: 'catalog' as const })),
  pick(services).map((s) => ({ method: 'GET', url: `/v1/health/service/${s}`, reads: 'health' as const })),
  pick(['/v1/health/state/any', '/v1/health/node/n1', '/v1/health/checks/web']).map((url) => ({
    method: 'GET',
    url,
    reads: 'agentChecks' as const,
  })),
];

const otherRequests: fc.Arbitrary<Http>[] = [
  fc.option(pick(nodes), { nil: undefined }).map((node) => ({
    method: 'PUT',
    url: '/v1/session/create',
    body: json(node ? { Node: node } : {}),
    rule: ['session', node ?? agentNode, 'write'] as const,
  })),
  pick(['/v1/session/list', '/v1/session/info/sess-n1', '/v1/session/node/n1']).map((url) => ({
    method: 'GET',
    url,
    readsAlso: 'sessions' as const,
  })),
  fc.constant({ method: 'PUT', url: '/v1/session/destroy/sess-n1' }),
  pick(events).map((e) => ({ method: 'PUT', url: `/v1/event/fire/${e}`, rule: ['event', e, 'write'] as const })),
  fc.constant({ method: 'GET', url: '/v1/event/list', readsAlso: 'events' as const }),
  fc.tuple(pick(queryNames), pick(services)).map(([name, service]) => ({
    method: 'POST',
    url: '/v1/query',
    body: json({ Name: name, Service: { Service: service } }),
    rule: ['query', name, 'write'] as const,
  })),
  pick(['/v1/query', `/v1/query/${queryId}`]).map((url) => ({ method: 'GET', url, readsAlso: 'queries' as const })),
  pick([queryId, 'web-q']).map((id) => ({
    method: 'GET',
    url: `/v1/query/${id}/execute`,
    readsAlso: 'execute' as const,
  })),
  fc.constant({ method: 'DELETE', url: `/v1/query/${queryId}` }),
  pick(nodes).map((node) => ({
    method: 'PUT',
    url: '/v1/coordinate/update',
    body: json({ Node: node, Coord: { Vec: [1, 0, 0, 0, 0, 0, 0, 0], Error: 1, Adjustment: 0, Height: 1e-5 } }),
    rule: ['node', node, 'write'] as const,
  })),
  fc.constant({ method: 'GET', url: '/v1/coordinate/nodes', readsAlso: 'coords' as const }),
  fc.constant({ method: 'GET', url: '/v1/snapshot', rule: ['management', '', 'read'] as const }),
  fc.constant({ method: 'GET', url: '/v1/acl/list', rule: ['management', '', 'read'] as const }),
  fc.constant({
    method: 'PUT',
    url: '/v1/acl/create',
    body: json({ Name: 'x', Rules: '' }),
    rule: ['management', '', 'write'] as const,
  }),
  fc.constant({ method: 'GET', url: '/v1/operator/raft/configuration', rule: ['operator', '', 'read'] as const }),
  fc.constant({ method: 'GET', url: '/v1/operator/autopilot/health', rule: ['operator', '', 'read'] as const }),
];

const requestArb = fc.oneof(...kvRequests, ...agentRequests, ...catalogRequests, ...otherRequests);

// ───────────────────────────────────────── the property ─────────────────────────────────────────

const record = (x: unknown): Record<string, unknown> =>
  x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
const list = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
const s = (x: unknown) => (typeof x === 'string' ? x : '');

/** What an answer discloses, as (resource, name) pairs that must be readable. */
function disclosed(h: Http, body: unknown): [Resource | 'management', string][] {
  const out: [Resource | 'management', string][] = [];
  const check = (c: Record<string, unknown>) => {
    out.push(['node', s(c.Node) || agentNode]);
    if (s(c.ServiceName)) out.push(['service', s(c.ServiceName)]);
  };
  switch (h.reads) {
    case 'kv':
      for (const e of list(body)) out.push(['key', s(record(e).Key)]);
      break;
    case 'keys':
      for (const k of list(body)) out.push(['key', s(k)]);
      break;
    case 'txn':
      for (const r of list(record(body).Results)) out.push(['key', s(record(record(r).KV).Key)]);
      break;
    case 'services':
      for (const name of Object.keys(record(body))) out.push(['service', name]);
      break;
    case 'catalog':
      for (const e of list(body)) out.push(['service', s(record(e).ServiceName)], ['node', s(record(e).Node)]);
      break;
    case 'health':
      for (const e of list(body))
        out.push(['service', s(record(record(e).Service).Service)], ['node', s(record(record(e).Node).Node)]);
      break;
    case 'agentServices':
      for (const v of Object.values(record(body))) out.push(['service', s(record(v).Service)]);
      break;
    case 'agentChecks':
      for (const v of Array.isArray(body) ? body : Object.values(record(body))) check(record(v));
      break;
  }
  switch (h.readsAlso) {
    case 'sessions':
      for (const e of list(body)) out.push(['session', s(record(e).Node)]);
      break;
    case 'events':
      for (const e of list(body)) out.push(['event', s(record(e).Name)]);
      break;
    case 'queries':
      for (const e of list(body)) out.push(['query', s(record(e).Name)]);
      break;
    case 'execute':
      for (const e of list(record(body).Nodes))
        out.push(['service', s(record(record(e).Service).Service)], ['node', s(record(record(e).Node).Node)]);
      break;
    case 'nodes':
    case 'coords':
      for (const e of list(body)) out.push(['node', s(record(e).Node)]);
      break;
  }
  return out;
}

const seed = process.env.ACL_FUZZ_SEED ? Number(process.env.ACL_FUZZ_SEED) : 1406;
const numRuns = process.env.ACL_FUZZ_RUNS ? Number(process.env.ACL_FUZZ_RUNS) : 800;
const stats = { requests: 0, denied: 0, allowed: 0, badRequest: 0, verdictsCompared: 0, changes: 0, reads: 0 };

describe('ACL differential fuzzer: the router against a reference model', () => {
  it('no request reads or changes what the model denies; known verdicts agree', async () => {
    const scenario = fc.record({
      defaultPolicy: pick(['allow', 'deny'] as const),
      client: tokenArb('client-token'),
      anonymous: tokenArb('anonymous'),
      caller: pick(['client-token', 'anonymous', 'anonymous-implicit', master, 'no-such-token']),
      requests: fc.array(requestArb, { minLength: 1, maxLength: 6 }),
    });
    await fc.assert(
      fc.asyncProperty(scenario, async ({ defaultPolicy, client, anonymous, caller, requests }) => {
        const agent = seededAgent([client, anonymous]);
        agent.defaultPolicy = defaultPolicy;
        const ctx: RouterContext = {
          datacenter: 'dc1',
          nodeName: agentNode,
          acl: { enabled: true, defaultPolicy },
          call: (request) => agent.call(request),
        };
        const token: TokenModel | undefined =
          caller === master
            ? { id: master, management: true, rules: [] }
            : caller === 'client-token'
              ? client
              : caller === 'no-such-token'
                ? undefined
                : anonymous;
        const may = (resource: Resource | 'management', name: string, access: 'read' | 'write') =>
          token !== undefined &&
          (resource === 'management' ? token.management : modelMay(token, defaultPolicy, resource, name, access));
        for (const h of requests) {
          const before = agent.view();
          const headers: Record<string, string> = caller === 'anonymous-implicit' ? {} : { 'X-Consul-Token': caller };
          const out = await routeHttp(
            { method: h.method, url: h.url, headers, body: new TextEncoder().encode(h.body ?? '') },
            ctx,
          );
          stats.requests++;
          if (out.status === 403) stats.denied++;
          else if (out.status === 400) stats.badRequest++;
          else stats.allowed++;
          const where = `${h.method} ${h.url} ${h.body ?? ''} as ${caller} → ${out.status} ${String(out.body).slice(0, 200)}`;
          // 1. No change the model denies.
          const after = agent.view();
          for (const id of new Set([...before.keys(), ...after.keys()])) {
            const was = before.get(id);
            const now = after.get(id);
            if (was?.state === now?.state) continue;
            stats.changes++;
            for (const entry of [was, now]) {
              if (!entry) continue;
              const nodeGone = entry.alt && !after.has(`node ${entry.alt[1]}`) && may('node', entry.alt[1], 'write');
              const resource = entry.name === '\u0000management' ? 'management' : entry.resource;
              expect(nodeGone || may(resource, entry.name, 'write'), `changed ${id}: ${where}`).toBe(true);
            }
          }
          // 2. No read the model denies.
          if (out.status === 200 && typeof out.body === 'string' && out.body !== '') {
            let body: unknown;
            try {
              body = JSON.parse(out.body);
            } catch {
              body = undefined;
            }
            for (const [resource, name] of disclosed(h, body)) {
              stats.reads++;
              expect(may(resource, name, 'read'), `disclosed ${resource} ${name}: ${where}`).toBe(true);
            }
            if (h.rule && h.rule[2] === 'read') expect(may(...h.rule), `read allowed: ${where}`).toBe(true);
          }
          // 3. The same verdict where one rule decides.
          if (h.rule && out.status !== 400) {
            stats.verdictsCompared++;
            expect(out.status === 403, `verdict: ${where}`).toBe(!may(...h.rule));
          }
        }
      }),
      { seed, numRuns },
    );
    expect(stats.denied).toBeGreaterThan(numRuns / 4);
    expect(stats.allowed).toBeGreaterThan(numRuns / 4);
    expect(stats.verdictsCompared).toBeGreaterThan(numRuns / 4);
    console.log(`acl fuzz: seed ${seed}, ${numRuns} runs, ${JSON.stringify(stats)}`);
  }, 60_000);
});
