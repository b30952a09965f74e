/**
 * Two datacenters in the simulator (issue 17): dc1 = n1..n3 servers + n4 n5 clients, dc2 = n6..n8
 * servers + n9 client, WAN links of 30–80 ms. No workload (clients 0): each test lets both DCs form,
 * then sends agent requests with `dc` to chosen nodes and injects WAN faults. What each proves is in
 * its name; the seed is fixed, so a failure replays exactly.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import { agentOf, harness, leaderOf, serfHealthOf, wanConverged } from '../harnesses/agent.js';
import { parseScenario } from '../scenario.js';
import { Simulation } from '../engine/simulation.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: string | null): string | null => (value === null ? null : Buffer.from(value, 'base64').toString());

function twoDcs(seed = 1) {
  const scenario =
    'protocol agent\nnodes dc1:3+2 dc2:3+1\nset clients 0\nnetwork latency=1ms..5ms\nwan latency=30ms..80ms\n' +
    'duration safety=600s liveness=0s\n';
  const logs: string[] = [];
  const sim = new Simulation(parseScenario(scenario, 'multidc.txt'), harness, seed, {
    onLog: (l) => logs.push(`${l.node ?? '-'} ${l.text}`),
  });
  sim.begin();
  const send = (node: string, body: AgentRequest): { result: AgentResponse | undefined | 'pending' } => {
    const box: { result: AgentResponse | undefined | 'pending' } = { result: 'pending' };
    sim.request(node, { machine: 'agent', body }, 60_000, (r) => (box.result = r as AgentResponse | undefined));
    return box;
  };
  const call = (node: string, body: AgentRequest, advanceMs = 1000): AgentResponse => {
    const box = send(node, body);
    sim.runUntil(sim.nowMs + advanceMs);
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
  expect(formed()).toBe(true);
  return { sim, logs, send, call };
}

describe('two datacenters', () => {
  it('forms: one leader per DC, each DC its own Raft, the six servers in one WAN pool named node.dc', () => {
    const { sim, logs, call } = twoDcs();
    const l1 = leaderOf(sim, 'dc1')!;
    const l2 = leaderOf(sim, 'dc2')!;
    expect(['n1', 'n2', 'n3']).toContain(l1);
    expect(['n6', 'n7', 'n8']).toContain(l2);
    // Each DC's Raft configuration holds only its own servers.
    const peers1 = call('n4', { type: 'status.peers' }).body as string[];
    const peers2 = call('n9', { type: 'status.peers' }).body as string[];
    expect([...peers1].sort()).toEqual(['n1', 'n2', 'n3']);
    expect([...peers2].sort()).toEqual(['n6', 'n7', 'n8']);
    const wan = call('n1', { type: 'agent.members', wan: true }).body as { Name: string; Status: number }[];
    expect(wan.map((m) => m.Name).sort()).toEqual(['n1.dc1', 'n2.dc1', 'n3.dc1', 'n6.dc2', 'n7.dc2', 'n8.dc2']);
    expect(wan.every((m) => m.Status === 1)).toBe(true);
    // Client agents are not in the WAN pool.
    expect(call('n4', { type: 'agent.members', wan: true }).body).toEqual([]);
    expect(logs.some((l) => l.startsWith('n1 consul: adding WAN server n6.dc2'))).toBe(true);
  });

  it('catalog/datacenters lists both DCs, the asking DC first (nearest by WAN coordinate)', () => {
    const { sim, call } = twoDcs();
    sim.runUntil(sim.nowMs + 20_000); // coordinates settle on the WAN round trips
    expect(call('n4', { type: 'catalog.datacenters' }).body).toEqual(['dc1', 'dc2']);
    expect(call('n9', { type: 'catalog.datacenters' }).body).toEqual(['dc2', 'dc1']);
    const coords = call('n6', { type: 'coordinate.datacenters' }).body as {
      Datacenter: string;
      AreaID: string;
      Coordinates: { Node: string; Coord: { Vec: number[] } }[];
    }[];
    expect(coords.map((c) => c.Datacenter)).toEqual(['dc2', 'dc1']);
    expect(coords[1]!.Coordinates.map((c) => c.Node)).toEqual(['n1.dc1', 'n2.dc1', 'n3.dc1']);
    expect(coords[0]!.AreaID).toBe('wan');
  });

  it('?dc=: a write through a dc1 client lands in dc2’s store only, and reads back in every consistency mode', () => {
    const { sim, call } = twoDcs();
    expect(call('n4', { type: 'kv.put', key: 'k', value: bytes('from-dc1'), dc: 'dc2' }).body).toBe(true);
    // dc2's own agents see it locally; dc1's store does not have it.
    const local2 = call('n9', { type: 'kv.get', key: 'k', read: { consistency: 'consistent' } });
    expect(text((local2.body as { Value: string }[])[0]!.Value)).toBe('from-dc1');
    expect(call('n5', { type: 'kv.get', key: 'k', read: { consistency: 'consistent' } }).status).toBe(404);
    for (const consistency of ['consistent', 'default', 'stale'] as const) {
      const r = call('n5', { type: 'kv.get', key: 'k', read: { consistency }, dc: 'dc2' });
      expect(r.status).toBe(200);
      expect(text((r.body as { Value: string }[])[0]!.Value)).toBe('from-dc1');
    }
    // Forwarded over the WAN by dc1’s servers (the put and the three reads), never by dc2’s.
    const forwarded = (ids: string[]) =>
      ids.reduce((n, id) => n + (agentOf(sim, id)!.counters['wanForwarded'] ?? 0), 0);
    expect(forwarded(['n1', 'n2', 'n3'])).toBe(4);
    expect(forwarded(['n6', 'n7', 'n8'])).toBe(0);
  });

  it('an unknown datacenter answers 500 No path to datacenter, from a client and from a server', () => {
    const { call } = twoDcs();
    for (const node of ['n4', 'n1']) {
      const r = call(node, { type: 'kv.get', key: 'k', read: { consistency: 'default' }, dc: 'dc9' });
      expect(r.status).toBe(500);
      expect(r.error).toBe('No path to datacenter');
    }
  });

  it('a blocking query in another DC parks there and wakes on that DC’s write', () => {
    const { sim, send, call } = twoDcs();
    const first = call('n4', { type: 'kv.put', key: 'b', value: bytes('1'), dc: 'dc2' });
    expect(first.body).toBe(true);
    const seen = call('n4', { type: 'kv.get', key: 'b', read: { consistency: 'default' }, dc: 'dc2' });
    const index = seen.index!;
    const parked = send('n4', {
      type: 'kv.get',
      key: 'b',
      read: { consistency: 'default', minIndex: index, waitMs: 30_000 },
      dc: 'dc2',
    });
    sim.runUntil(sim.nowMs + 2000);
    expect(parked.result).toBe('pending'); // parked on a dc2 server
    expect(call('n9', { type: 'kv.put', key: 'b', value: bytes('2') }).body).toBe(true);
    sim.runUntil(sim.nowMs + 1000);
    const woken = parked.result as AgentResponse;
    expect(woken.status).toBe(200);
    expect(woken.index!).toBeGreaterThan(index);
    expect(text((woken.body as { Value: string }[])[0]!.Value)).toBe('2');
  });

  it('dc2 cut off from the WAN from the start: its servers retry their WAN join peers until one answers, and one pool forms after the heal', () => {
    // Each DC's servers flood-join each other into the WAN pool at once; that answer must not end the
    // retry of -retry-join-wan (Consul's retryJoin stops when a listed peer was joined). Before the fix
    // dc1 and dc2 formed two WAN pools for ever (multidc/explore seeds 421 and 436).
    const scenario =
      'protocol agent\nnodes dc1:3+1 dc2:3+1\nset clients 0\nnetwork latency=1ms..5ms\nwan latency=30ms..80ms\n' +
      'duration safety=600s liveness=0s\n';
    const sim = new Simulation(parseScenario(scenario, 'multidc-cut.txt'), harness, 1, {});
    sim.begin();
    sim.isolateDatacenter('dc2');
    sim.runUntil(20_000);
    expect(wanConverged(sim)).toBe(false);
    sim.faults.heal();
    const end = sim.nowMs + 30_000;
    while (!wanConverged(sim) && sim.nowMs < end && sim.violations.length === 0) sim.runUntil(sim.nowMs + 500);
    expect(wanConverged(sim)).toBe(true);
  });

  it('dc2 cut off from the WAN: it serves its own clients, cross-DC requests fail; after the heal they work again', () => {
    const { sim, call } = twoDcs();
    sim.isolateDatacenter('dc2');
    // Local service in the cut-off DC goes on.
    expect(call('n9', { type: 'kv.put', key: 'cut', value: bytes('local') }).body).toBe(true);
    // A cross-DC request cannot be answered: an RPC timeout at first, then (the WAN pool marks dc2's
    // servers failed) No path to datacenter. Never a 200.
    let answer = call('n4', { type: 'kv.get', key: 'cut', read: { consistency: 'stale' }, dc: 'dc2' }, 12_000);
    expect(answer.status).toBe(500);
    sim.runUntil(sim.nowMs + 30_000);
    answer = call('n4', { type: 'kv.get', key: 'cut', read: { consistency: 'stale' }, dc: 'dc2' });
    expect(answer.status).toBe(500);
    expect(answer.error).toBe('No path to datacenter');
    // The DC list still names dc2 (its servers are failed, not reaped).
    expect(call('n4', { type: 'catalog.datacenters' }).body).toContain('dc2');
    sim.faults.heal();
    const end = sim.nowMs + 60_000;
    while (!wanConverged(sim) && sim.nowMs < end && sim.violations.length === 0) sim.runUntil(sim.nowMs + 500);
    expect(wanConverged(sim)).toBe(true);
    answer = call('n4', { type: 'kv.get', key: 'cut', read: { consistency: 'consistent' }, dc: 'dc2' });
    expect(answer.status).toBe(200);
    expect(text((answer.body as { Value: string }[])[0]!.Value)).toBe('local');
  });
});

/**
 * Prepared-query failover (Consul's queryFailover): `api` runs on n4 (dc1) and n9 (dc2) (the harness's own `web` on every client has a flaky script check), each with a
 * TTL check the test sets. A query with `Failover` answers from its own DC while an instance there is
 * healthy, from the next DC (WAN order, or the query's `Datacenters`) when none is, and says which DC
 * answered and how many DCs it asked.
 */
describe('prepared queries fail over to other datacenters', () => {
  type Execute = { Service: string; Nodes: { Node: { Node: string } }[]; Datacenter: string; Failovers: number };
  const register = (call: ReturnType<typeof twoDcs>['call'], node: string): void => {
    const service = {
      name: 'api',
      port: 80,
      checks: [{ id: 'api-ttl', name: 'api-ttl', ttlMs: 3_600_000, status: 'passing' as const }],
    };
    expect(call(node, { type: 'agent.service.register', service }).status).toBe(200);
  };
  const setup = () => {
    const dcs = twoDcs();
    register(dcs.call, 'n4');
    register(dcs.call, 'n9');
    dcs.sim.runUntil(dcs.sim.nowMs + 20_000); // catalogs synced, WAN coordinates settled
    const create = (definition: Record<string, unknown>): string => {
      const r = dcs.call('n4', { type: 'query.create', definition });
      expect(r.status).toBe(200);
      return (r.body as { ID: string }).ID;
    };
    const execute = (node: string, idOrName: string): Execute => {
      const r = dcs.call(node, { type: 'query.execute', idOrName, read: { consistency: 'default' } }, 3000);
      expect(r.status).toBe(200);
      return r.body as Execute;
    };
    const setCheck = (node: string, status: 'passing' | 'critical'): void => {
      const type = status === 'passing' ? 'agent.check.pass' : 'agent.check.fail';
      expect(dcs.call(node, { type, id: 'api-ttl' }).status).toBe(200);
      dcs.sim.runUntil(dcs.sim.nowMs + 3000); // the agent syncs the check to its DC's catalog
    };
    return { ...dcs, create, execute, setCheck };
  };
  const nodesOf = (e: Execute): string[] => e.Nodes.map((n) => n.Node.Node);

  it('NearestN 1: dc1 answers while its instance is healthy; when it is critical dc2 answers with Failovers 1, and back', () => {
    const { create, execute, setCheck } = setup();
    create({ Name: 'api', Service: { Service: 'api', Failover: { NearestN: 1 } } });
    let answer = execute('n5', 'api');
    expect([answer.Datacenter, answer.Failovers, nodesOf(answer)]).toEqual(['dc1', 0, ['n4']]);
    setCheck('n4', 'critical');
    for (const node of ['n4', 'n5', 'n1']) {
      answer = execute(node, 'api');
      expect([answer.Datacenter, answer.Failovers, nodesOf(answer)]).toEqual(['dc2', 1, ['n9']]);
    }
    // From dc2 the query is not known by name: it lives in dc1's store, as Consul's.
    setCheck('n4', 'passing');
    answer = execute('n5', 'api');
    expect([answer.Datacenter, answer.Failovers, nodesOf(answer)]).toEqual(['dc1', 0, ['n4']]);
  });

  it('without Failover there is none; Datacenters skips an unknown DC; every DC empty answers the count of DCs asked', () => {
    const { create, execute, setCheck } = setup();
    create({ Name: 'plain', Service: { Service: 'api' } });
    create({ Name: 'listed', Service: { Service: 'api', Failover: { Datacenters: ['dc7', 'dc2'] } } });
    setCheck('n4', 'critical');
    let answer = execute('n4', 'plain');
    expect([answer.Datacenter, answer.Failovers, nodesOf(answer)]).toEqual(['dc1', 0, []]);
    answer = execute('n4', 'listed');
    expect([answer.Datacenter, answer.Failovers, nodesOf(answer)]).toEqual(['dc2', 1, ['n9']]);
    setCheck('n9', 'critical');
    answer = execute('n4', 'listed');
    expect([answer.Datacenter, answer.Failovers, nodesOf(answer)]).toEqual(['dc2', 1, []]);
  });

  it('dc2 cut off from the WAN: the failover answers empty (not an error) and counts dc2 as asked', () => {
    const { sim, create, execute, setCheck } = setup();
    create({ Name: 'api', Service: { Service: 'api', Failover: { NearestN: 1 } } });
    setCheck('n4', 'critical');
    sim.isolateDatacenter('dc2');
    sim.runUntil(sim.nowMs + 40_000); // the WAN pool marks dc2's servers failed: No path, no RPC timeout
    const answer = execute('n5', 'api');
    expect([answer.Failovers, nodesOf(answer)]).toEqual([1, []]);
  });
});

/**
 * User events per datacenter: `event/fire?dc=dc2` from a dc1 agent is fired by a dc2 server into
 * dc2's LAN pool, so every dc2 agent receives it and no dc1 agent does; `event/list?dc=dc2` answers a
 * dc2 server's events and blocks there like a local list.
 */
describe('user events are per datacenter', () => {
  type Listed = { ID: string; Name: string; Payload: string | null }[];
  it('fire?dc=dc2 reaches dc2’s agents only; list?dc=dc2 shows it, dc1’s own list does not', () => {
    const { sim, call } = twoDcs();
    const fired = call('n4', { type: 'event.fire', name: 'deploy', payload: bytes('v2'), dc: 'dc2' });
    expect(fired.status).toBe(200);
    const id = (fired.body as { ID: string }).ID;
    sim.runUntil(sim.nowMs + 5000); // gossip spreads it through dc2's LAN pool
    for (const node of ['n6', 'n7', 'n8', 'n9']) expect(agentOf(sim, node)!.events.map((e) => e.ID)).toContain(id);
    for (const node of ['n1', 'n2', 'n3', 'n4', 'n5']) expect(agentOf(sim, node)!.events).toEqual([]);
    const remote = call('n5', { type: 'event.list', read: { consistency: 'default' }, dc: 'dc2' });
    expect(remote.status).toBe(200);
    expect((remote.body as Listed).map((e) => [e.ID, e.Name, text(e.Payload)])).toEqual([[id, 'deploy', 'v2']]);
    expect(call('n5', { type: 'event.list', read: { consistency: 'default' } }).body).toEqual([]);
    // A local fire in dc1 stays in dc1.
    const local = call('n4', { type: 'event.fire', name: 'local', payload: null });
    sim.runUntil(sim.nowMs + 5000);
    expect(agentOf(sim, 'n9')!.events.map((e) => e.Name)).toEqual(['deploy']);
    expect(agentOf(sim, 'n1')!.events.map((e) => e.ID)).toEqual([(local.body as { ID: string }).ID]);
    // An unknown DC: No path, nothing fired anywhere.
    const lost = call('n4', { type: 'event.fire', name: 'lost', payload: null, dc: 'dc9' });
    expect([lost.status, lost.error]).toEqual([500, 'No path to datacenter']);
  });

  it('list?dc=dc2 with an index blocks on a dc2 server until dc2 receives another event', () => {
    const { sim, send, call } = twoDcs();
    call('n9', { type: 'event.fire', name: 'first', payload: null });
    sim.runUntil(sim.nowMs + 5000);
    const seen = call('n4', { type: 'event.list', read: { consistency: 'default' }, dc: 'dc2' });
    expect((seen.body as Listed).map((e) => e.Name)).toEqual(['first']);
    const parked = send('n4', {
      type: 'event.list',
      read: { consistency: 'default', minIndex: seen.index!, waitMs: 60_000 },
      dc: 'dc2',
    });
    sim.runUntil(sim.nowMs + 3000);
    expect(parked.result).toBe('pending');
    call('n9', { type: 'event.fire', name: 'second', payload: null });
    sim.runUntil(sim.nowMs + 5000);
    const woken = parked.result as AgentResponse;
    expect(woken.status).toBe(200);
    expect((woken.body as Listed).map((e) => e.Name)).toEqual(['first', 'second']);
    expect(woken.index).not.toBe(seen.index);
  });
});

describe('expect served (scenarios/multidc/two-dc.txt)', () => {
  const file = 'scenarios/multidc/two-dc.txt';
  const base = readFileSync(file, 'utf8');
  const violationsOf = (text: string, seed: number): string[] =>
    new Simulation(parseScenario(text, file), harness, seed).run().violations;

  it('counts a successful CAS as a write: seed 3103 (dc2 applied CASes of its keys, no plain write, during the cut) passes', () => {
    expect(violationsOf(base, 3103)).toEqual([]);
  });

  it('still fails when dc2 cannot write during the window: its servers crashed through it', () => {
    const text = base.replace(
      'at 8s isolate-dc dc2',
      'at 8s crash n6\nat 8s crash n7\nat 8s crash n8\nat 18s restart n6\nat 18s restart n7\nat 18s restart n8',
    );
    expect(text).not.toBe(base);
    const violations = violationsOf(text, 3103).join('\n');
    expect(violations).toContain("no write of dc2's keys through dc2's agents completed between 8s and 18s");
  });
});
