/**
 * ACL rules as a token's holder meets them at its own agent (issue 12, round F): the `acl-access` action.
 *
 * The simulator has no front end, so until now only what crossed a WAN was authorized (core/agent/acl.ts),
 * and a request that needs a lookup to be decided (a check's service, a session's node, a query's current
 * name, whether a catalog registration changes its node) is never decided there. Real clients meet those
 * rules at their local agent's HTTP API, through the gate of core/agent/gate.ts (net/gate.ts puts it over
 * promises); `gatedCall` runs that same gate over simulated requests: resolve the token with the agent's
 * `acl.resolve`, ask the request's family for its decision (core/agent/endpoints), run the reads a rule
 * asks for with full rights, then send the request and filter the answer (`filterResponse`).
 *
 *   at 9s acl-access n4 check-pass api-ttl svcread denied
 *       NODE OP ARG TOKEN ok|denied   (TOKEN: an acl-create NAME, `anonymous`, or `root`, the master token)
 *
 * OPs (what a user of the ACL docs expects is written in the scenario, never derived from the rules):
 *   check-pass CHECK              PUT /v1/agent/check/pass/CHECK on NODE
 *   service-register SERVICE      PUT /v1/agent/service/register (SERVICE, port 8080) on NODE
 *   catalog-register N@ADDR/SVC   PUT /v1/catalog/register of node N at ADDR with service SVC; node N is first
 *                                 registered at 10.0.0.1 with the master token (an external node)
 *   session-destroy [DC:]N        a session on node N is made with the master token, then destroyed with TOKEN;
 *                                 with DC, both in that datacenter (`?dc=`): decided there, its lookup run there
 *   session-renew [DC:]N          likewise, renewed with TOKEN
 *   query-update OLD:NEW          a prepared query OLD on service `web` is made with the master token, then
 *                                 replaced with one named NEW with TOKEN
 *   query-delete NAME             likewise, deleted with TOKEN
 *   event-fire NAME               PUT /v1/event/fire/NAME
 *   health-service SVC            GET /v1/health/service/SVC    (reads: ok = at least one entry answered;
 *   catalog-service SVC           GET /v1/catalog/service/SVC    denied = 403, or every entry filtered out)
 *   health-checks SVC             GET /v1/health/checks/SVC
 *   catalog-node N                GET /v1/catalog/node/N         (ok = the node answered; denied = 403 or null)
 *   service-deregister ID/NAME    a service NAME with id ID is registered on NODE with the master token, then
 *                                 PUT /v1/agent/service/deregister/ID with TOKEN (the rule is on its name)
 *   session-create N              PUT /v1/session/create with Node N (the rule is on N, not on NODE)
 *   txn-delete-tree PREFIX        PUT /v1/txn with one KV delete-tree of PREFIX (the rule of a recursive delete:
 *                                 write on PREFIX and on every narrower key rule under it)
 *   kv-put BYTES                  PUT /v1/kv/big/BYTES with a value of BYTES bytes: ok up to Consul's 512 KiB
 *                                 (524,288 bytes), `too-large` (413) above
 *   node-service N/ID/NAME        an external node N is registered at 10.0.0.1 with a service NAME whose id is ID
 *                                 (with the master token), then GET /v1/catalog/node/N with TOKEN: ok = the
 *                                 node answered with that instance; denied = 403, no node, or the instance
 *                                 filtered out (Consul filters a node's services by service read on the
 *                                 service's name: an id is no name, round N)
 *   query-get NAME                a prepared query NAME on service `web` carrying a Token is made with the
 *                                 master token, then GET /v1/query/<id> with TOKEN: `hidden` = answered with
 *                                 its Token as `<hidden>`, `shown` = with the Token itself, denied = 403 or
 *                                 filtered out (Consul redacts a query's Token for every token but a
 *                                 management one, round N)
 *
 * Each outcome goes to the `access` list of the DC actions, so `expect access` judges it.
 */
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import { makeGate } from '../../core/agent/gate.js';
import type { NodeId } from '../../core/types.js';
import type { SimApi } from '../harness.js';
import type { DcActivity } from './agent-dc.js';

export const gateActions = ['acl-access'] as const;

const masterToken = 'root';
const requestTimeoutMs = 10_000;
const ops = [
  'check-pass',
  'service-register',
  'catalog-register',
  'session-destroy',
  'session-renew',
  'query-update',
  'query-delete',
  'event-fire',
  'health-service',
  'catalog-service',
  'health-checks',
  'catalog-node',
  'service-deregister',
  'session-create',
  'txn-delete-tree',
  'kv-put',
  'node-service',
  'query-get',
] as const;
type Op = (typeof ops)[number];
const reads: readonly Op[] = ['health-service', 'catalog-service', 'health-checks'];

const usage = `acl-access takes NODE OP ARG TOKEN ok|denied|too-large (OP: ${ops.join(', ')}; catalog-register ARG NODE@ADDRESS/SERVICE, query-update ARG OLD:NEW, service-deregister ARG ID/NAME, kv-put ARG BYTES, node-service ARG NODE/ID/NAME; query-get answers hidden|shown|denied)`;
const wants = ['ok', 'denied', 'too-large', 'hidden', 'shown'] as const;
/** The Token a query-get setup puts in its query: what must not reach a token that is not management. */
const queryToken = 'query-token-secret';

function send(sim: SimApi, node: NodeId, body: AgentRequest, then: (response: AgentResponse | undefined) => void) {
  sim.request(node, { machine: 'agent', body }, requestTimeoutMs, (r) => then(r as AgentResponse | undefined));
}

/**
 * `request` sent to `node`'s agent through the gate the real agent's HTTP API uses (core/agent/gate.ts):
 * 403 when the token is unknown or the rule denies, else the agent's answer filtered by what the token may
 * read; a request bound for another DC goes there with its token, to be decided there.
 */
export function gatedCall(
  sim: SimApi,
  node: NodeId,
  request: AgentRequest,
  token: string,
  then: (response: AgentResponse | undefined) => void,
): void {
  const settings = { enabled: true, defaultPolicy: 'deny' } as const;
  const datacenter = sim.scenario.datacenters.find((dc) => dc.nodes.includes(node))?.name ?? 'dc1';
  makeGate((r, done) => send(sim, node, r, done), settings, { nodeName: node }, datacenter).call(request, token, then);
}

/** The outcome as the scenario states it: ok, denied, or what else came back. */
function outcomeOf(op: Op, response: AgentResponse | undefined, instance?: string): string {
  if (response === undefined) return 'timeout';
  if (response.status === 403) return 'denied';
  if (response.status === 413) return 'too-large';
  if (response.status !== 200) return `error ${response.status} ${response.error ?? ''}`;
  if (op === 'catalog-node') return response.body !== null && typeof response.body === 'object' ? 'ok' : 'denied';
  if (op === 'node-service') {
    const services = (response.body as { Services?: Record<string, { Service?: string }> } | null)?.Services;
    return services !== undefined && Object.values(services).some((s) => s.Service === instance) ? 'ok' : 'denied';
  }
  if (op === 'query-get') {
    const found = Array.isArray(response.body) ? (response.body[0] as { Token?: unknown } | undefined) : undefined;
    if (found === undefined) return 'denied';
    return found.Token === '<hidden>'
      ? 'hidden'
      : found.Token === queryToken
        ? 'shown'
        : `token ${String(found.Token)}`;
  }
  if (!reads.includes(op)) return 'ok';
  return Array.isArray(response.body) && response.body.length > 0 ? 'ok' : 'denied';
}

/** Checks an `acl-access` action's arguments (sim null: at parse time) and, with a simulation, runs it. */
export function actGate(sim: SimApi | null, args: readonly string[], activity: DcActivity | null): string | null {
  const [node, opArg, arg, tokenName, want] = args;
  const op = ops.find((o) => o === opArg);
  if (args.length !== 5 || op === undefined || !arg || !wants.some((w) => w === want)) return usage;
  const register = /^([^@/]+)@([^/]+)\/(.+)$/.exec(arg);
  if (op === 'catalog-register' && register === null) return usage;
  const rename = /^([^:]+):([^:]+)$/.exec(arg);
  if (op === 'query-update' && rename === null) return usage;
  const named = /^([^/]+)\/([^/]+)$/.exec(arg);
  if (op === 'service-deregister' && named === null) return usage;
  const hosted = /^([^/]+)\/([^/]+)\/([^/]+)$/.exec(arg);
  if (op === 'node-service' && hosted === null) return usage;
  const readsQuery = want === 'hidden' || want === 'shown';
  if (readsQuery !== (op === 'query-get') && want !== 'denied') return usage;
  if (op === 'kv-put' && !/^[0-9]+$/.test(arg)) return usage;
  if (sim === null) return null;
  const what = `${op} ${arg} on ${node} with ${tokenName} (local)`;
  const check = { what, want: want as (typeof wants)[number], got: null as string | null };
  activity!.access.push(check);
  const token = tokenName === 'anonymous' || tokenName === masterToken ? tokenName : activity!.tokens.get(tokenName!);
  if (token === undefined) {
    check.got = `no token ${tokenName}`;
    return null;
  }
  const finish = (response: AgentResponse | undefined): void => {
    check.got = outcomeOf(op, response, hosted?.[3]);
    sim.log(`harness: acl-access ${what}: ${check.got}`);
  };
  const gated = (request: AgentRequest): void => gatedCall(sim, node!, request, token, finish);
  /** A setup step with the master token (no gate: an operator's request); its failure is the outcome. */
  const setup = (request: AgentRequest, next: (response: AgentResponse) => void): void =>
    send(sim, node!, request, (r) => (r?.status === 200 ? next(r) : finish(r)));
  const read = { consistency: 'default' } as const;
  switch (op) {
    case 'check-pass':
      gated({ type: 'agent.check.pass', id: arg });
      return null;
    case 'service-register':
      gated({ type: 'agent.service.register', service: { name: arg, port: 8080 } });
      return null;
    case 'catalog-register': {
      const [, target, address, service] = register!;
      setup({ type: 'catalog.register', node: target!, address: '10.0.0.1' }, () =>
        gated({ type: 'catalog.register', node: target!, address: address!, service: { name: service!, port: 80 } }),
      );
      return null;
    }
    case 'session-destroy':
    case 'session-renew': {
      // `dc2:n8`: the session lives in dc2, and the request goes there (`?dc=`), as Consul's CLI sends it.
      const [dc, sessionNode] = arg.includes(':') ? (arg.split(':', 2) as [string, string]) : [undefined, arg];
      const remote = dc === undefined ? {} : { dc };
      // The operator's setup in another DC carries the master token there (a local one needs none).
      const asOperator = dc === undefined ? {} : { dc, token: masterToken };
      setup({ type: 'session.create', node: sessionNode, ttlMs: 60_000, ...asOperator }, (created) => {
        const id = (created.body as { ID: string }).ID;
        gated(
          op === 'session-destroy'
            ? { type: 'session.destroy', id, ...remote }
            : { type: 'session.renew', id, ...remote },
        );
      });
      return null;
    }
    case 'query-update':
    case 'query-delete': {
      const [name, next] = op === 'query-update' ? [rename![1]!, rename![2]!] : [arg, arg];
      const definition = (n: string) => ({ Name: n, Service: { Service: 'web' } });
      setup({ type: 'query.create', definition: definition(name) }, (created) => {
        const id = (created.body as { ID: string }).ID;
        gated(
          op === 'query-update'
            ? { type: 'query.update', id, definition: definition(next) }
            : { type: 'query.delete', id },
        );
      });
      return null;
    }
    case 'event-fire':
      gated({ type: 'event.fire', name: arg, payload: null });
      return null;
    case 'health-service':
      gated({ type: 'health.service', service: arg, read });
      return null;
    case 'catalog-service':
      gated({ type: 'catalog.service', service: arg, read });
      return null;
    case 'health-checks':
      gated({ type: 'health.checks', service: arg, read });
      return null;
    case 'catalog-node':
      gated({ type: 'catalog.node', node: arg, read });
      return null;
    case 'service-deregister': {
      const [, id, name] = named!;
      setup({ type: 'agent.service.register', service: { id: id!, name: name!, port: 8080 } }, () =>
        gated({ type: 'agent.service.deregister', id: id! }),
      );
      return null;
    }
    case 'session-create':
      gated({ type: 'session.create', node: arg, ttlMs: 60_000 });
      return null;
    case 'txn-delete-tree':
      gated({ type: 'txn', ops: [{ verb: 'delete-tree', key: arg }] });
      return null;
    case 'kv-put':
      gated({ type: 'kv.put', key: `big/${arg}`, value: new Uint8Array(Number(arg)) });
      return null;
    case 'node-service': {
      const [, target, id, name] = hosted!;
      const service = { name: name!, id: id!, port: 80 };
      setup({ type: 'catalog.register', node: target!, address: '10.0.0.1', service }, () =>
        gated({ type: 'catalog.node', node: target!, read }),
      );
      return null;
    }
    case 'query-get': {
      const definition = { Name: arg, Token: queryToken, Service: { Service: 'web' } };
      setup({ type: 'query.create', definition }, (created) =>
        gated({ type: 'query.get', id: (created.body as { ID: string }).ID, read }),
      );
      return null;
    }
  }
}
