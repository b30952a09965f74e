/**
 * ACLs across two datacenters in the simulator (issue 14: forwarded requests re-authorized; issue 17:
 * legacy ACLs across DCs). dc1 = n1..n3 servers + n4 n5 clients, dc2 = n6..n8 servers + n9 client,
 * WAN 30–80 ms, no workload. `set acl` turns ACLs on per DC (master token `root`).
 *
 * What is proven, each in its test's name: a request forwarded with `dc` is authorized in the target
 * DC with the caller's token — never by the asking DC, whose ACLs may be off — and its answer is
 * filtered with the target DC's grant; with `acl_datacenter`, another DC resolves tokens from it,
 * caches them, and applies `acl_down_policy` when the ACL DC is cut off. The simulator has no HTTP
 * gate: requests to a node's own DC are not authorized here (net/gate.ts does it in the real agent).
 * The first test fails on the code before core/agent/acl.ts: the anonymous read of dc2's key got 200.
 */
import { describe, expect, it } from 'vitest';
import type { AclGrant } from '../../core/agent/acl.js';
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import { agentOf, harness, leaderOf, serfHealthOf, wanConverged } from '../harnesses/agent.js';
import { parseScenario } from '../scenario.js';
import { Simulation } from '../engine/simulation.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const read = { consistency: 'consistent' as const };

function twoDcs(acl: string, seed = 1) {
  const scenario =
    'protocol agent\nnodes dc1:3+2 dc2:3+1\nset clients 0\nnetwork latency=1ms..5ms\nwan latency=30ms..80ms\n' +
    `set acl ${acl}\nduration safety=600s liveness=0s\n`;
  const logs: string[] = [];
  const sim = new Simulation(parseScenario(scenario, 'multidc-acl.txt'), harness, seed, {
    onLog: (l) => logs.push(`${l.node ?? '-'} ${l.text}`),
  });
  sim.begin();
  const call = (node: string, body: AgentRequest, advanceMs = 2000): AgentResponse => {
    const box: { result: AgentResponse | undefined | 'pending' } = { result: 'pending' };
    sim.request(node, { machine: 'agent', body }, 60_000, (r) => (box.result = r as AgentResponse | undefined));
    const end = sim.nowMs + advanceMs;
    while (box.result === 'pending' && sim.nowMs < end && sim.violations.length === 0) sim.runUntil(sim.nowMs + 50);
    expect(sim.violations).toEqual([]); // a violation stops the simulation: say which
    expect(box.result).not.toBe('pending');
    expect(box.result).toBeDefined();
    return box.result as AgentResponse;
  };
  const formed = (): boolean =>
    leaderOf(sim, 'dc1') !== null &&
    leaderOf(sim, 'dc2') !== null &&
    wanConverged(sim) &&
    sim.nodeIds.every((id) => serfHealthOf(sim, id) === 'passing');
  const end = sim.nowMs + 30_000;
  while (!formed() && sim.nowMs < end && sim.violations.length === 0) sim.runUntil(sim.nowMs + 100);
  expect(sim.violations).toEqual([]);
  expect(formed()).toBe(true);
  // The leaders create the master and anonymous tokens right after they win; give them a moment.
  sim.runUntil(sim.nowMs + 2000);
  return { sim, logs, call };
}

const counter = (sim: Simulation, ids: readonly string[], name: string): number =>
  ids.reduce((n, id) => n + (agentOf(sim, id)!.counters[name] ?? 0), 0);

describe('ACLs across datacenters', () => {
  it('a request forwarded with dc is authorized in the target DC with the caller token, not by the asking DC', () => {
    // dc1 has no ACLs at all; dc2 denies by default.
    const { sim, call } = twoDcs('dc2:deny');
    expect(call('n9', { type: 'kv.put', key: 'secret', value: bytes('s') }).body).toBe(true);
    expect(call('n9', { type: 'kv.put', key: 'pub/a', value: bytes('a') }).body).toBe(true);
    // Anonymous (no token) from dc1 reading dc2's key: dc2's default policy denies it.
    const anonymous = call('n4', { type: 'kv.get', key: 'secret', read, dc: 'dc2' });
    expect(anonymous.status).toBe(403);
    expect(anonymous.error).toBe('Permission denied');
    // Nor may it write there: the key is unchanged.
    expect(call('n4', { type: 'kv.put', key: 'secret', value: bytes('evil'), dc: 'dc2' }).status).toBe(403);
    expect(call('n5', { type: 'kv.delete', key: 'secret', dc: 'dc2', token: 'anonymous' }).status).toBe(403);
    const kept = call('n9', { type: 'kv.get', key: 'secret', read }).body as { Value: string }[];
    expect(Buffer.from(kept[0]!.Value, 'base64').toString()).toBe('s');
    // A token dc2 does not know: ACL not found, from dc2.
    expect(call('n4', { type: 'kv.get', key: 'secret', read, dc: 'dc2', token: 'nope' }).error).toBe('ACL not found');
    // dc2's master token, unknown in dc1 (whose ACLs are off anyway), is honoured by dc2.
    expect(call('n4', { type: 'kv.get', key: 'secret', read, dc: 'dc2', token: 'root' }).status).toBe(200);
    // A client token of dc2 limited to pub/: dc2's rules filter the recursive read at dc1's edge.
    const created = call('n9', {
      type: 'acl.create',
      definition: { Name: 'pub', Type: 'client', Rules: 'key "pub/" { policy = "read" }' },
    });
    expect(created.status).toBe(200);
    const pubToken = (created.body as { ID: string }).ID;
    const listed = call('n4', { type: 'kv.list', prefix: '', read, dc: 'dc2', token: pubToken });
    expect(listed.status).toBe(200);
    expect((listed.body as { Key: string }[]).map((e) => e.Key)).toEqual(['pub/a']);
    expect(call('n4', { type: 'kv.get', key: 'secret', read, dc: 'dc2', token: pubToken }).status).toBe(403);
    expect(counter(sim, ['n6', 'n7', 'n8'], 'aclForwardedDenied')).toBeGreaterThanOrEqual(4);
    expect(counter(sim, ['n6', 'n7', 'n8'], 'aclForwardedAllowed')).toBeGreaterThanOrEqual(2);
  });

  it('the other direction: a laxer target DC decides too (dc1 denies locally, dc2 allows)', () => {
    const { call } = twoDcs('dc1:deny,dc2:allow');
    expect(call('n9', { type: 'kv.put', key: 'open', value: bytes('o') }).body).toBe(true);
    // dc1 would deny the anonymous caller; the request runs in dc2, whose default policy allows it.
    expect(call('n4', { type: 'kv.get', key: 'open', read, dc: 'dc2' }).status).toBe(200);
  });

  it('with acl_datacenter, dc2 resolves tokens from dc1, sends ACL writes there, and applies extend-cache while cut off', () => {
    const { sim, call, logs } = twoDcs('dc1:deny,dc2:deny/dc1/extend-cache');
    // A token created through dc2 is written in dc1, the ACL datacenter.
    const created = call('n9', {
      type: 'acl.create',
      definition: { Name: 'app', Type: 'client', Rules: 'key "app/" { policy = "write" }' },
      token: 'root',
    });
    expect(created.status).toBe(200);
    const app = (created.body as { ID: string }).ID;
    expect((call('n4', { type: 'acl.info', id: app, read }).body as unknown[]).length).toBe(1);
    expect((call('n6', { type: 'acl.info', id: app, read: { consistency: 'stale' } }).body as unknown[]).length).toBe(
      1,
    );
    // dc2's own agents resolve it from dc1 (the gate's question in the real agent).
    const grant = call('n9', { type: 'acl.resolve', id: app });
    expect(grant.status).toBe(200);
    expect((grant.body as AclGrant).kind).toBe('token');
    expect(counter(sim, ['n9'], 'aclRemoteLookups')).toBe(1);
    // Cached: asked again within acl_ttl, no new lookup.
    call('n9', { type: 'acl.resolve', id: app });
    expect(counter(sim, ['n9'], 'aclRemoteLookups')).toBe(1);
    // A request forwarded from dc1 to dc2 with that token: dc2 resolves it from dc1 and allows app/.
    expect(call('n4', { type: 'kv.put', key: 'app/x', value: bytes('1'), dc: 'dc2', token: app }).status).toBe(200);
    expect(call('n4', { type: 'kv.put', key: 'other', value: bytes('1'), dc: 'dc2', token: app }).status).toBe(403);
    // dc2 cut off from the WAN, past the TTL: the cached answer is extended; a token never cached is denied.
    sim.isolateDatacenter('dc2');
    sim.runUntil(sim.nowMs + 31_000);
    const extended = call('n9', { type: 'acl.resolve', id: app }, 30_000);
    expect(extended.status).toBe(200);
    expect((extended.body as AclGrant).kind).toBe('token');
    const unknown = call('n9', { type: 'acl.resolve', id: 'never-seen' }, 30_000);
    expect(unknown.body).toEqual({ kind: 'all', allow: false });
    expect(logs.some((l) => l.includes('applying acl_down_policy extend-cache'))).toBe(true);
  });

  it('acl_down_policy allow and deny while the ACL datacenter is cut off', () => {
    for (const down of ['allow', 'deny'] as const) {
      const { sim, call } = twoDcs(`dc1:deny,dc2:deny/dc1/${down}`);
      expect(call('n9', { type: 'acl.resolve', id: 'root' }).status).toBe(200);
      sim.isolateDatacenter('dc2');
      sim.runUntil(sim.nowMs + 31_000);
      expect(call('n9', { type: 'acl.resolve', id: 'root' }, 30_000).body).toEqual({
        kind: 'all',
        allow: down === 'allow',
      });
    }
  });
  it('a failover and events into an ACL-enabled DC carry the caller token: dc2 authorizes and filters with it', () => {
    // dc1 has no ACLs; dc2 denies by default. `api` runs only in dc2 (n9); the query lives in dc1.
    const { sim, call } = twoDcs('dc2:deny');
    const service = {
      name: 'api',
      port: 80,
      checks: [{ id: 'api-ttl', name: 'api-ttl', ttlMs: 3_600_000, status: 'passing' as const }],
    };
    expect(call('n9', { type: 'agent.service.register', service }).status).toBe(200);
    sim.runUntil(sim.nowMs + 20_000); // n9's service synced to dc2's catalog, WAN coordinates settled
    const query = { Name: 'api', Service: { Service: 'api', Failover: { NearestN: 1 } } };
    expect(call('n4', { type: 'query.create', definition: query }).status).toBe(200);
    type Execute = { Nodes: { Node: { Node: string } }[]; Datacenter: string; Failovers: number };
    const execute = (token?: string): [string, number, string[]] => {
      const request: AgentRequest = { type: 'query.execute', idOrName: 'api', read: { consistency: 'default' } };
      const r = call('n5', token !== undefined ? { ...request, token } : request);
      expect(r.status).toBe(200);
      const body = r.body as Execute;
      return [body.Datacenter, body.Failovers, body.Nodes.map((n) => n.Node.Node)];
    };
    // dc2's master token: dc2 runs the query and answers n9. Before, the op crossed without the token,
    // dc2 refused it, and the failover counted dc2 as asked and answered nothing.
    expect(execute('root')).toEqual(['dc2', 1, ['n9']]);
    // Anonymous: dc2's default policy hides the node and the service from this caller, so dc2 answers
    // none (an empty answer names the last DC asked, as Consul's).
    expect(execute()).toEqual(['dc2', 1, []]);
    // dc2's client tokens: one that may read api and every node sees n9; one limited to another service
    // sees nothing (dc2 filters before it answers, as Consul's ExecuteRemote).
    const token = (rules: string): string => {
      const r = call('n9', {
        type: 'acl.create',
        definition: { Name: rules, Type: 'client', Rules: rules },
        token: 'root',
      });
      expect(r.status).toBe(200);
      return (r.body as { ID: string }).ID;
    };
    const reader = token('service "api" { policy = "read" }\nnode "" { policy = "read" }');
    const other = token('service "db" { policy = "read" }\nnode "" { policy = "read" }');
    expect(execute(reader)).toEqual(['dc2', 1, ['n9']]);
    expect(execute(other)).toEqual(['dc2', 1, []]);
    expect(counter(sim, ['n6', 'n7', 'n8'], 'aclForwardedAllowed')).toBeGreaterThanOrEqual(4);

    // Events: dc2 decides with the caller's token (event write on the name), never dc1 (no ACLs there).
    const fire = (name: string, token?: string): AgentResponse =>
      call('n4', { type: 'event.fire', name, payload: null, dc: 'dc2', ...(token !== undefined ? { token } : {}) });
    const deployer = token('event "deploy" { policy = "write" }');
    expect(fire('deploy').status).toBe(403);
    expect(fire('deploy', 'nope').error).toBe('ACL not found');
    expect(fire('other', deployer).status).toBe(403);
    const fired = fire('deploy', deployer);
    expect(fired.status).toBe(200);
    expect(fire('other', 'root').status).toBe(200);
    sim.runUntil(sim.nowMs + 5000); // gossip spreads them through dc2
    const id = (fired.body as { ID: string }).ID;
    expect(agentOf(sim, 'n9')!.events.map((e) => e.ID)).toContain(id);
    expect(
      agentOf(sim, 'n9')!
        .events.map((e) => e.Name)
        .sort(),
    ).toEqual(['deploy', 'other']);
    // event.list?dc=dc2 is filtered by dc2's grant: the deployer token (no event read) sees none, root both.
    const list = (token: string): string[] =>
      (
        call('n5', { type: 'event.list', read: { consistency: 'default' }, dc: 'dc2', token }).body as {
          Name: string;
        }[]
      )
        .map((e) => e.Name)
        .sort();
    expect(list('root')).toEqual(['deploy', 'other']);
    expect(list(token('event "deploy" { policy = "read" }'))).toEqual(['deploy']);
  });
});
