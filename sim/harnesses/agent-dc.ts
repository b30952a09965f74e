/**
 * Timeline actions and expectations of the `agent` harness about what crosses datacenters besides KV
 * (issue 17): prepared queries that fail over, and user events fired in another DC.
 *
 *   at 3s health n4 api passing        n4 registers service `api` with a TTL check in that status
 *                                      (again: the check's status changes; critical makes it unhealthy)
 *   at 5s query-create n1 api nearest=1 dcs=dc3,dc2
 *                                      a prepared query named `api` on service `api` with that Failover
 *   at 9s query n5 api dc2             n5 executes it; the answer must come from dc2 with ≥ 1 node
 *                                      (`none`: it must be empty), counting 0 failovers from its own
 *                                      DC and ≥ 1 from another; checked by `expect queries`
 *   at 9s event n5 deploy dc2          n5 fires user event `deploy` with `?dc=dc2`
 *   at 9s event n5 deploy service=api tag=v2 node=n.
 *                                      with Consul's filters (`?service=`, `?tag=`, `?node=`: regular
 *                                      expressions; only agents that match accept it)
 *   at 8s lookup n4 catalog api tag=v2 n5
 *   at 8s lookup n4 health api passing none
 *                                      n4 reads catalog/service/api or health/service/api (with `?tag=`,
 *                                      `?passing`); the instances' nodes must be exactly NODE,NODE (any
 *                                      order), or `none`; judged with the queries by `expect queries`
 *   at 5s node-meta n4 x1 rack=a       n4 registers external node x1 (catalog/register, no agent behind it) with
 *                                      that NodeMeta (again: the node's meta is replaced)
 *   at 7s nodes n5 rack=a x1           n5 reads /v1/catalog/nodes?node-meta=rack:a; the nodes must be exactly
 *                                      these, or `none` (round N); judged with the queries by `expect queries`
 *   at 5s query-create n1 tied api session=n4
 *                                      the query is tied to a new session on n4 (TTL 10 s, never renewed):
 *                                      Consul deletes a prepared query when its session is invalidated
 *   at 30s datacenters n1 dc1,dc2      n1 reads /v1/catalog/datacenters; the DCs must be exactly these (any
 *                                      order: the order is by estimated round trip). Consul lists a DC while
 *                                      the WAN pool has a server of it that has not left: a DC whose servers
 *                                      all left (`leave`) is gone from the list (round N)
 *   expect queries                     every `query`, `lookup` and `datacenters` action was answered as it said
 *   expect event deploy dc2            every live agent of dc2 received `deploy`, no agent elsewhere did
 *   expect event-at deploy n5          (one DC too) the live agents holding `deploy` are exactly these
 *   at 6s acl-create n9 app key:app/=write
 *                                      a client token made in the ACL DC with the master token; `access` and
 *                                      the two below name it `app`
 *   at 13s acl-update n9 app key:app/=read
 *                                      its rules replaced (same ID)
 *   at 13s acl-delete n9 app           destroyed; `access` goes on sending its ID (Consul: 403 "ACL not found")
 *   at 9s access n4 delete-tree app/ dc2 app denied
 *                                      a KV get, put or recursive delete in that DC with that token, which must
 *                                      be let through (ok) or refused (denied: 403); checked by `expect access`
 *   at 10s access n4 list app/ dc2 app app/a,app/b
 *                                      a recursive KV list (`GET /v1/kv/app/?recurse`) in that DC with that token:
 *                                      the keys it must answer, comma-separated (`none`: nothing; `denied`: 403).
 *                                      Consul answers a list with only the keys the token may read (round P)
 *
 * Every answer is logged as a sentence, so the golden transcript shows which DC served each query.
 */
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import type { NodeId } from '../../core/types.js';
import type { AgentState } from '../../core/agent/machine.js';
import type { SimApi } from '../harness.js';
import type { Scenario } from '../scenario.js';
import { datacenterDefault } from '../../core/store/types.js';

export const dcActions = [
  'health',
  'query-create',
  'query',
  'event',
  'acl-create',
  'acl-update',
  'acl-delete',
  'access',
  'lookup',
  'datacenters',
  'node-meta',
  'nodes',
] as const;

/** A `query` action: what it asked and what came back (null until answered). */
interface QueryCheck {
  readonly node: NodeId;
  readonly name: string;
  /** `DC`, `none`, or `DC=NODE,NODE` (exactly these nodes, in any order); `first=NODE` appended as ` first NODE`. */
  readonly want: string;
  got: string | null;
}

/** A `query` action's optional arguments: `near=NODE|_agent` (sent), `first=NODE` (the answer's first node). */
function queryOptions(options: readonly string[]): { near?: string; first?: string } | string {
  const out: { near?: string; first?: string } = {};
  for (const option of options) {
    const [key, value] = option.split('=');
    if (key === 'near' && value) out.near = value;
    else if (key === 'first' && value) out.first = value;
    else return `query: unknown option '${option}' (near=NODE, first=NODE)`;
  }
  return out;
}

/**
 * An `access` action: a KV request (get, put, or a recursive delete, which needs write on the prefix and on
 * every narrower key rule under it) with a token into a DC whose ACLs are on, and whether it was let through.
 */
interface AccessCheck {
  readonly what: string;
  /** ok, denied, too-large, hidden or shown; for a `list`, the keys answered (`none`, or `denied`). */
  readonly want: string;
  got: string | null;
}

/** The keys of a KV list answer, sorted and comma-separated; `none` for an empty answer (404). */
function listedKeys(body: unknown): string {
  const keys = Array.isArray(body) ? body.map((e) => String((e as { Key?: unknown }).Key)).sort() : [];
  return keys.length === 0 ? 'none' : keys.join(',');
}

/** What this simulation's DC actions saw (kept on the harness's run state). */
export class DcActivity {
  readonly queries: QueryCheck[] = [];
  readonly access: AccessCheck[] = [];
  /** Token IDs of `acl-create` by the scenario's name for them (kept after `acl-delete`: `access` sends the stale ID). */
  readonly tokens = new Map<string, string>();
}

/** The master token of `set acl` scenarios (simAclMasterToken in agent.ts, which imports this module). */
const masterToken = 'root';

/** `key:PREFIX=POLICY` (PREFIX may be empty) as a legacy ACL rule; null when malformed. */
function aclRuleOf(spec: string): string | null {
  const m = /^(key|service|node|event|query|session):([^=]*)=(read|write|deny)$/.exec(spec);
  return m ? `${m[1]} "${m[2]}" { policy = "${m[3]}" }` : null;
}

const requestTimeoutMs = 10_000;

function send(sim: SimApi, node: NodeId, body: AgentRequest, then: (response: AgentResponse | undefined) => void) {
  sim.request(node, { machine: 'agent', body }, requestTimeoutMs, (r) => then(r as AgentResponse | undefined));
}

function knownDc(scenario: Scenario, dc: string): boolean {
  // One DC without a `nodes dc1:…` line: the agents' default datacenter.
  if (scenario.datacenters.length === 0) return dc === datacenterDefault;
  return scenario.datacenters.some((d) => d.name === dc);
}

/** Checks an action's arguments (sim null: at parse time) and, with a simulation, runs it. */
export function actDc(
  sim: SimApi | null,
  action: string,
  args: readonly string[],
  activity: DcActivity | null,
): string | null {
  const node = args[0];
  // At parse time (no simulation) the DCs are not known yet: a DC name is checked when the action runs.
  const dcKnown = (dc: string): boolean => sim === null || knownDc(sim.scenario, dc);
  switch (action) {
    case 'health': {
      const [, service, status, tagsOption] = args;
      const tags = tagsOption?.startsWith('tags=') ? tagsOption.slice(5).split(',') : undefined;
      if (
        args.length < 3 ||
        args.length > 4 ||
        (status !== 'passing' && status !== 'warning' && status !== 'critical') ||
        (args.length === 4 && tags === undefined)
      )
        return 'health takes NODE SERVICE passing|warning|critical [tags=T,T]';
      if (sim === null) return null;
      const check = { id: `${service}-ttl`, name: `${service}-ttl`, ttlMs: 3_600_000, status } as const;
      const definition = { name: service!, port: 8080, checks: [check], ...(tags ? { tags } : {}) };
      send(sim, node!, { type: 'agent.service.register', service: definition }, (r) =>
        sim.log(`harness: ${service} on ${node} set ${status} (${r ? r.status : 'no answer'})`),
      );
      return null;
    }
    case 'query-create': {
      if (args.length < 3)
        return 'query-create takes NODE NAME SERVICE [nearest=N] [dcs=DC,DC] [tags=T,!T] [only-passing] [template] [session=NODE]';
      const failover: { NearestN?: number; Datacenters?: string[] } = {};
      // Filters (issue 12, round D): absent in the older scenarios, whose definitions stay as they were.
      const filters: { Tags?: string[]; OnlyPassing?: boolean } = {};
      let template: { Type: string } | undefined;
      let sessionNode: string | undefined;
      for (const option of args.slice(3)) {
        const [key, value] = option.split('=');
        if (key === 'session' && value) {
          sessionNode = value;
          continue;
        }
        if (key === 'nearest' && /^\d+$/.test(value ?? '')) failover.NearestN = Number(value);
        else if (key === 'dcs' && value) failover.Datacenters = value.split(',');
        else if (key === 'tags' && value) filters.Tags = value.split(',');
        else if (option === 'only-passing') filters.OnlyPassing = true;
        else if (option === 'template') template = { Type: 'name_prefix_match' };
        else
          return `query-create: unknown option '${option}' (nearest=N, dcs=DC,DC, tags=T,!T, only-passing, template, session=NODE)`;
      }
      if (sim === null) return null;
      const create = (session: string | undefined): void => {
        const definition = {
          Name: args[1]!,
          Service: { Service: args[2]!, Failover: failover, ...filters },
          ...(template ? { Template: template } : {}),
          ...(session !== undefined ? { Session: session } : {}),
        };
        send(sim, node!, { type: 'query.create', definition }, (r) =>
          sim.log(`harness: prepared query ${args[1]} created on ${node} (${r ? r.status : 'no answer'})`),
        );
      };
      if (sessionNode === undefined) create(undefined);
      else
        send(sim, node!, { type: 'session.create', node: sessionNode, ttlMs: 10_000 }, (r) => {
          const id = r?.status === 200 ? (r.body as { ID?: unknown }).ID : undefined;
          if (typeof id === 'string') return create(id);
          sim.log(
            `harness: session for prepared query ${args[1]} not created on ${node} (${r ? r.status : 'no answer'})`,
          );
        });
      return null;
    }
    case 'query': {
      const wantArg = args[2];
      const [wantDc, wantNodes] = (wantArg ?? '').split('=');
      const options = queryOptions(args.slice(3));
      if (
        args.length < 3 ||
        wantDc === undefined ||
        (wantDc !== 'none' && wantDc !== 'missing' && !dcKnown(wantDc)) ||
        (wantNodes !== undefined && (wantDc === 'none' || wantDc === 'missing' || wantNodes === '')) ||
        typeof options === 'string'
      )
        return 'query takes NODE NAME DC|none|missing|DC=NODE,NODE [near=NODE] [first=NODE] (the DC that must answer with nodes, none, or missing: 404, no such query)';
      if (sim === null) return null;
      const sortedNodes = (nodes: readonly string[]): string => [...nodes].sort().join(',');
      const want =
        (wantNodes === undefined ? wantDc : `${wantDc}=${sortedNodes(wantNodes.split(','))}`) +
        (options.first ? ` first ${options.first}` : '');
      const check: QueryCheck = { node: node!, name: args[1]!, want, got: null };
      activity!.queries.push(check);
      const request = {
        type: 'query.execute',
        idOrName: args[1]!,
        ...(options.near ? { near: options.near } : {}),
        read: { consistency: 'default' },
      } as const;
      send(sim, node!, request, (r) => {
        const body =
          r?.status === 200
            ? (r.body as { Datacenter: string; Failovers: number; Nodes: { Node: { Node: string } }[] })
            : null;
        const names = body === null ? [] : body.Nodes.map((e) => e.Node.Node);
        // Consul's `Failovers` counts the DCs asked, the one that answered included: 0 for an answer from
        // here, at least 1 from another DC (an answer that says otherwise is judged wrong by `expect queries`).
        const home = sim.scenario.datacenters.find((d) => d.nodes.includes(node!))?.name ?? datacenterDefault;
        const miscounted =
          body !== null &&
          (body.Datacenter === home ? body.Failovers !== 0 : body.Nodes.length > 0 && body.Failovers < 1);
        check.got =
          body === null
            ? r?.status === 404
              ? 'missing'
              : `error ${r ? `${r.status} ${r.error ?? ''}` : 'timeout'}`
            : miscounted
              ? `${body.Datacenter} counting ${body.Failovers} failover(s)`
              : body.Nodes.length === 0
                ? 'none'
                : (wantNodes === undefined ? body.Datacenter : `${body.Datacenter}=${sortedNodes(names)}`) +
                  (options.first ? ` first ${names[0]}` : '');
        sim.log(
          body === null
            ? `harness: query ${args[1]} on ${node} failed: ${check.got}`
            : `harness: query ${args[1]} on ${node} answered by ${body.Datacenter} after ${body.Failovers} failover(s) with ${body.Nodes.length} node(s)`,
        );
      });
      return null;
    }
    case 'acl-create': {
      const rules = args.slice(2).map(aclRuleOf);
      if (args.length < 2 || rules.some((r) => r === null))
        return 'acl-create takes NODE NAME [RESOURCE:PREFIX=read|write|deny ...] (a client token; `access` uses it by NAME)';
      if (sim === null) return null;
      const definition = { Name: args[1]!, Type: 'client', Rules: rules.join('\n') };
      send(sim, node!, { type: 'acl.create', definition, token: masterToken }, (r) => {
        if (r?.status === 200) activity!.tokens.set(args[1]!, (r.body as { ID: string }).ID);
        sim.log(`harness: ACL token ${args[1]} created on ${node} (${r ? r.status : 'no answer'})`);
      });
      return null;
    }
    case 'acl-update':
    case 'acl-delete': {
      const update = action === 'acl-update';
      const rules = args.slice(2).map(aclRuleOf);
      if (args.length < 2 || (!update && args.length !== 2) || rules.some((r) => r === null))
        return update
          ? 'acl-update takes NODE NAME [RESOURCE:PREFIX=read|write|deny ...] (the rules replace those of acl-create NAME)'
          : 'acl-delete takes NODE NAME (destroys the token of acl-create NAME)';
      if (sim === null) return null;
      const id = activity!.tokens.get(args[1]!);
      if (id === undefined) {
        sim.log(`harness: ${action} ${args[1]} on ${node}: no token ${args[1]}`);
        return null;
      }
      const body: AgentRequest = update
        ? {
            type: 'acl.update',
            definition: { ID: id, Name: args[1]!, Type: 'client', Rules: rules.join('\n') },
            token: masterToken,
          }
        : { type: 'acl.destroy', id, token: masterToken };
      send(sim, node!, body, (r) =>
        sim.log(
          `harness: ACL token ${args[1]} ${update ? 'updated' : 'destroyed'} on ${node} (${r ? r.status : 'no answer'})`,
        ),
      );
      return null;
    }
    case 'access': {
      const [, op, key, dc, tokenName, want] = args;
      if (
        args.length !== 6 ||
        (op !== 'put' && op !== 'get' && op !== 'delete-tree' && op !== 'list') ||
        !dcKnown(dc!) ||
        (op !== 'list' && want !== 'ok' && want !== 'denied')
      )
        return 'access takes NODE put|get|delete-tree KEY DC TOKEN ok|denied, or NODE list PREFIX DC TOKEN KEY,KEY|none|denied (TOKEN: an acl-create NAME, or anonymous)';
      if (sim === null) return null;
      const what = `${op} ${key} in ${dc} from ${node} with ${tokenName}`;
      const check: AccessCheck = { what, want: want!, got: null };
      activity!.access.push(check);
      const token = tokenName === 'anonymous' ? 'anonymous' : activity!.tokens.get(tokenName!);
      if (token === undefined) {
        check.got = `no token ${tokenName}`;
        return null;
      }
      const request: AgentRequest =
        op === 'put'
          ? { type: 'kv.put', key: key!, value: new TextEncoder().encode(what), dc, token }
          : op === 'get'
            ? { type: 'kv.get', key: key!, read: { consistency: 'default' }, dc, token }
            : op === 'list'
              ? { type: 'kv.list', prefix: key!, read: { consistency: 'default' }, dc, token }
              : { type: 'kv.deleteTree', prefix: key!, dc, token };
      send(sim, node!, request, (r) => {
        check.got =
          r === undefined
            ? 'timeout'
            : r.status === 403
              ? 'denied'
              : op === 'list' && (r.status === 200 || r.status === 404)
                ? listedKeys(r.status === 200 ? r.body : null)
                : r.status === 200 || (op === 'get' && r.status === 404)
                  ? 'ok'
                  : `error ${r.status} ${r.error ?? ''}`;
        sim.log(`harness: access ${what}: ${check.got}`);
      });
      return null;
    }
    case 'event': {
      // Filters (round L): `service=`, `tag=`, `node=` after the name; absent in the older scenarios.
      const filters = eventFilters(args.slice(2).filter((a) => a.includes('=')));
      const plain = args.slice(2).filter((a) => !a.includes('='));
      const dc = plain[0];
      const usage = 'event takes NODE NAME [DC] [service=REGEX] [tag=REGEX] [node=REGEX]';
      if (args.length < 2 || plain.length > 1 || typeof filters === 'string' || (dc !== undefined && !dcKnown(dc)))
        return typeof filters === 'string' ? filters : usage;
      if (sim === null) return null;
      const request = {
        type: 'event.fire',
        name: args[1]!,
        payload: null,
        ...filters,
        ...(dc ? { dc } : {}),
      } as const;
      send(sim, node!, request, (r) =>
        sim.log(`harness: event ${args[1]} fired on ${node}${dc ? ` for ${dc}` : ''} (${r ? r.status : 'no answer'})`),
      );
      return null;
    }
    case 'lookup':
      return lookup(sim, args, activity);
    case 'node-meta': {
      const [, external, pair] = args;
      const [metaKey, metaValue] = (pair ?? '').split('=');
      if (args.length !== 3 || !external || !metaKey || metaValue === undefined)
        return 'node-meta takes NODE EXTERNAL KEY=VALUE (registers node EXTERNAL with that NodeMeta)';
      if (sim === null) return null;
      const request = {
        type: 'catalog.register',
        node: external,
        address: '10.0.1.1',
        nodeMeta: { [metaKey]: metaValue },
      } as const;
      send(sim, node!, request, (r) =>
        sim.log(`harness: node ${external} registered with ${pair} on ${node} (${r ? r.status : 'no answer'})`),
      );
      return null;
    }
    case 'nodes': {
      const [, pair, want] = args;
      const [metaKey, metaValue] = (pair ?? '').split('=');
      if (args.length !== 3 || !metaKey || metaValue === undefined || !want)
        return 'nodes takes NODE KEY=VALUE NODE,NODE|none (the nodes /v1/catalog/nodes?node-meta=KEY:VALUE must list)';
      if (sim === null) return null;
      const sorted = (nodes: readonly string[]): string => [...new Set(nodes)].sort().join(',');
      const check: QueryCheck = {
        node: node!,
        name: `catalog/nodes?node-meta=${metaKey}:${metaValue}`,
        want: want === 'none' ? 'none' : sorted(want.split(',')),
        got: null,
      };
      activity!.queries.push(check);
      const request = {
        type: 'catalog.nodes',
        nodeMeta: { [metaKey]: metaValue },
        read: { consistency: 'default' },
      } as const;
      send(sim, node!, request, (r) => {
        const names =
          r?.status === 200 && Array.isArray(r.body) ? (r.body as { Node: string }[]).map((n) => n.Node) : null;
        check.got =
          names === null
            ? `error ${r ? `${r.status} ${r.error ?? ''}` : 'timeout'}`
            : names.length === 0
              ? 'none'
              : sorted(names);
        sim.log(`harness: nodes ${check.name} on ${node} answered ${check.got}`);
      });
      return null;
    }
    case 'datacenters': {
      const [, list] = args;
      if (args.length !== 2 || !list) return 'datacenters takes NODE DC,DC (the DCs /v1/catalog/datacenters must list)';
      if (sim === null) return null;
      const sorted = (dcs: readonly string[]): string => [...dcs].sort().join(',');
      const check: QueryCheck = { node: node!, name: 'catalog/datacenters', want: sorted(list.split(',')), got: null };
      activity!.queries.push(check);
      send(sim, node!, { type: 'catalog.datacenters' }, (r) => {
        check.got =
          r?.status === 200 && Array.isArray(r.body)
            ? sorted(r.body as string[])
            : `error ${r ? `${r.status} ${r.error ?? ''}` : 'timeout'}`;
        sim.log(`harness: datacenters on ${node} answered ${check.got}`);
      });
      return null;
    }
    default:
      return null;
  }
}

function eventFilters(
  options: readonly string[],
): { nodeFilter?: string; serviceFilter?: string; tagFilter?: string } | string {
  const out: { nodeFilter?: string; serviceFilter?: string; tagFilter?: string } = {};
  for (const option of options) {
    const at = option.indexOf('=');
    const [key, value] = [option.slice(0, at), option.slice(at + 1)];
    if (value === '') return `event: empty filter '${option}'`;
    if (key === 'node') out.nodeFilter = value;
    else if (key === 'service') out.serviceFilter = value;
    else if (key === 'tag') out.tagFilter = value;
    else return `event: unknown filter '${option}' (service=, tag=, node=)`;
  }
  return out;
}

/**
 * `lookup NODE catalog|health SERVICE [tag=T] [passing] NODE,NODE|none`: a service lookup as a client (DNS,
 * consul-template) makes it, judged by the nodes of the instances it answers (Consul: `?tag=` keeps the
 * instances with that tag, case-insensitively; `?passing` those whose checks all pass). Pushed to the
 * queries list, so `expect queries` judges it.
 */
function lookup(sim: SimApi | null, args: readonly string[], activity: DcActivity | null): string | null {
  const [node, kind, service] = args;
  const want = args[args.length - 1];
  const options = args.slice(3, -1);
  const tag = options.find((o) => o.startsWith('tag='))?.slice(4);
  const passing = options.includes('passing');
  const known = options.every((o) => (o.startsWith('tag=') && o.length > 4) || (o === 'passing' && kind === 'health'));
  if (args.length < 4 || (kind !== 'catalog' && kind !== 'health') || !known || want === undefined || want === '')
    return 'lookup takes NODE catalog|health SERVICE [tag=T] [passing] NODE,NODE|none (passing: health only)';
  if (sim === null) return null;
  const sorted = (nodes: readonly string[]): string => [...new Set(nodes)].sort().join(',');
  const wanted = want === 'none' ? 'none' : sorted(want.split(','));
  const check: QueryCheck = {
    node: node!,
    name: `${kind}/${service}${tag ? `?tag=${tag}` : ''}${passing ? '?passing' : ''}`,
    want: wanted,
    got: null,
  };
  activity!.queries.push(check);
  const read = { consistency: 'default' } as const;
  const request: AgentRequest =
    kind === 'catalog'
      ? { type: 'catalog.service', service: service!, ...(tag ? { tag } : {}), read }
      : { type: 'health.service', service: service!, ...(tag ? { tag } : {}), ...(passing ? { passing } : {}), read };
  send(sim, node!, request, (r) => {
    const body = r?.status === 200 && Array.isArray(r.body) ? (r.body as { Node: string | { Node: string } }[]) : null;
    const names = (body ?? []).map((e) => (typeof e.Node === 'string' ? e.Node : e.Node.Node));
    check.got =
      body === null
        ? `error ${r ? `${r.status} ${r.error ?? ''}` : 'timeout'}`
        : names.length === 0
          ? 'none'
          : sorted(names);
    sim.log(`harness: lookup ${check.name} on ${node} answered ${check.got}`);
  });
  return null;
}

/** `expect queries` and `expect event NAME DC`; undefined for any other name. */
export function expectDc(
  sim: SimApi,
  name: string,
  args: readonly string[],
  activity: DcActivity,
  agentOf: (nodeId: NodeId) => AgentState | null,
): string | null | undefined {
  if (name === 'queries') {
    if (activity.queries.length === 0) return 'no query action ran';
    const wrong = activity.queries.filter((q) => q.got !== q.want);
    return wrong.length === 0
      ? null
      : wrong.map((q) => `query ${q.name} on ${q.node}: wanted ${q.want}, got ${q.got ?? 'no answer'}`).join('; ');
  }
  if (name === 'access') {
    if (activity.access.length === 0) return 'no access action ran';
    const wrong = activity.access.filter((a) => a.got !== a.want);
    return wrong.length === 0
      ? null
      : wrong.map((a) => `${a.what}: wanted ${a.want}, got ${a.got ?? 'no answer'}`).join('; ');
  }
  if (name === 'event-at') {
    const [event, nodes] = args;
    if (event === undefined || nodes === undefined) return 'event-at takes NAME NODE,NODE';
    const wanted = new Set(nodes.split(','));
    const problems: string[] = [];
    for (const id of sim.nodeIds) {
      const agent = agentOf(id);
      if (agent === null || !sim.isUp(id) || agent.left) continue;
      const has = agent.events.some((e) => e.Name === event);
      if (wanted.has(id) && !has) problems.push(`${id} did not receive ${event}`);
      if (!wanted.has(id) && has) problems.push(`${id} received ${event}, which its filters exclude`);
    }
    return problems.length === 0 ? null : problems.join('; ');
  }
  if (name === 'event') {
    const [event, dc] = args;
    if (event === undefined || dc === undefined || !knownDc(sim.scenario, dc)) return 'event takes NAME DC';
    const inDc = new Set(sim.scenario.datacenters.find((d) => d.name === dc)!.nodes);
    const problems: string[] = [];
    for (const id of sim.nodeIds) {
      const agent = agentOf(id);
      if (agent === null || !sim.isUp(id)) continue;
      const has = agent.events.some((e) => e.Name === event);
      if (inDc.has(id) && !has && !agent.left) problems.push(`${id} (${dc}) did not receive ${event}`);
      if (!inDc.has(id) && has) problems.push(`${id} outside ${dc} received ${event}`);
    }
    return problems.length === 0 ? null : problems.join('; ');
  }
  return undefined;
}
