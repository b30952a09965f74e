/**
 * The agent machine on one server node, in the simulator, with SWIM and an instant single-node Raft
 * double (every proposal commits at once into a real store FSM). This isolates the agent's own
 * mechanisms — request translation and Consul's response shapes, blocking queries, local services and
 * checks with seeded check results, anti-entropy, maintenance, reload, events — from consensus, which
 * the multi-node tests (agent-cluster.test.ts) exercise with the real Raft.
 */
import { describe, expect, it } from 'vitest';
import {
  makeAgentConfig,
  agentTimingSim,
  type AgentConfig,
  type AgentRequest,
  type AgentResponse,
  type ReadOptions,
} from '../../core/agent/api.js';
import { agentMachine, type AgentState } from '../../core/agent/machine.js';
import { swimConfigFor } from '../../core/agent/tags.js';
import type { RaftLocalInput, RaftLocalOutput, RaftRequest, RaftResponse } from '../../core/raft/api.js';
import { createStoreFsm, type StoreFsm } from '../../core/store/store.js';
import { swimMachine } from '../../core/swim/machine.js';
import type { CheckSpec, Machine } from '../../core/types.js';
import type { Harness } from '../harness.js';
import { parseScenario } from '../scenario.js';
import { Simulation } from '../engine/simulation.js';

interface InstantRaft {
  fsm: StoreFsm;
  index: number;
}

/**
 * A one-node "Raft" that commits every proposal at once: enough to drive the agent alone. Typed with
 * Raft's local contract (raft/api.ts), so the double answers what the real Raft would.
 */
const instantRaft: Machine<
  InstantRaft,
  unknown,
  unknown,
  RaftRequest,
  RaftResponse,
  RaftLocalInput,
  { readonly toMachine: string; readonly payload: RaftLocalOutput }
> = {
  name: 'raft',
  init: () => ({ fsm: createStoreFsm(), index: 0 }),
  step(s, input, ctx) {
    if (input.kind === 'start') {
      ctx.emit({
        kind: 'local',
        toMachine: 'agent',
        payload: { type: 'leader', leader: ctx.nodeId, term: 1, isLeader: true },
      });
      return;
    }
    if (input.kind !== 'local') return;
    const { requestId, request } = input.payload;
    let response: RaftResponse;
    let applied = false;
    switch (request.type) {
      case 'propose':
        s.index++;
        response = { ok: true, index: s.index, result: s.fsm.apply(request.command, s.index) };
        applied = true;
        break;
      case 'read':
      case 'readStale':
        response = { ok: true, index: s.index, result: s.fsm.query(request.query), lastContactMs: 0 };
        break;
      case 'status':
        response = {
          ok: true,
          index: s.index,
          result: {
            role: 'leader',
            term: 1,
            leader: ctx.nodeId,
            commitIndex: s.index,
            appliedIndex: s.index,
            lastIndex: s.index,
            voters: [ctx.nodeId],
            learners: [],
            membershipIndex: 0,
          },
        };
        break;
      default:
        response = { ok: true, index: s.index, result: null };
    }
    ctx.emit({ kind: 'local', toMachine: input.fromMachine, payload: { type: 'reply', requestId, response } });
    if (applied) ctx.emit({ kind: 'local', toMachine: 'agent', payload: { type: 'applied', index: s.index } });
  },
};

const read: ReadOptions = { consistency: 'default' };

function setup(
  fields: Partial<AgentConfig> = {},
  checkStatus: (spec: CheckSpec) => 'passing' | 'warning' | 'critical' = () => 'passing',
) {
  const config = makeAgentConfig({
    nodeName: 's1',
    server: true,
    bootstrap: true,
    advertiseAddr: 's1',
    timing: agentTimingSim,
    wanPool: false, // the mounts below are built by hand, without the WAN pool's SWIM
    ...fields,
  });
  const harness: Harness = {
    name: 'agent-single',
    params: {},
    mounts: () => [
      { machine: swimMachine, config: swimConfigFor(config, 'sim') },
      { machine: instantRaft, config: {} },
      { machine: agentMachine, config },
    ],
    checkResult: (_sim, _node, _checkId, spec) => ({
      status: checkStatus(spec),
      output: `seeded ${checkStatus(spec)}`,
    }),
  };
  const scenario = parseScenario(
    'protocol agent-single\nnodes s1\nduration safety=600s liveness=0s\n',
    'agent-single.txt',
  );
  const logs: string[] = [];
  const sim = new Simulation(scenario, harness, 1, { onLog: (line) => logs.push(line.text) });
  sim.begin();
  sim.runUntil(100);
  const send = (body: AgentRequest): { result: AgentResponse | undefined | 'pending' } => {
    const box: { result: AgentResponse | undefined | 'pending' } = { result: 'pending' };
    sim.request(
      's1',
      { machine: 'agent', body },
      20 * 60_000,
      (response) => (box.result = response as AgentResponse | undefined),
    );
    return box;
  };
  const call = (body: AgentRequest, advanceMs = 50): AgentResponse => {
    const box = send(body);
    sim.runUntil(sim.nowMs + advanceMs);
    expect(box.result).not.toBe('pending');
    return box.result as AgentResponse;
  };
  const agent = (): AgentState => sim.runtime('s1')!.stateOf<AgentState>('agent');
  return { sim, logs, send, call, agent };
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('agent on one node (instant raft double)', () => {
  it('answers KV requests in the seed’s shapes, with 404s that carry an index', () => {
    const { call } = setup();
    const empty = call({ type: 'kv.list', prefix: '', read });
    expect(empty.status).toBe(404);
    expect(empty.index).toBeGreaterThanOrEqual(1);
    expect(call({ type: 'kv.put', key: 'web/key1', value: bytes('soft.dog') }).body).toBe(true);
    expect(call({ type: 'kv.put', key: 'web/key2', value: bytes('soft.dog'), flags: 42 }).body).toBe(true);
    const got = call({ type: 'kv.get', key: 'web/key2', read });
    expect(got.status).toBe(200);
    expect(got.body).toEqual([
      {
        LockIndex: 0,
        Key: 'web/key2',
        Flags: 42,
        Value: 'c29mdC5kb2c=',
        CreateIndex: got.index,
        ModifyIndex: got.index,
      },
    ]);
    expect(got.knownLeader).toBe(true);
    expect(got.lastContactMs).toBe(0);
    const modify = (got.body as { ModifyIndex: number }[])[0]!.ModifyIndex;
    expect(call({ type: 'kv.cas', key: 'web/key2', value: bytes('great'), index: modify }).body).toBe(true);
    expect(call({ type: 'kv.cas', key: 'web/key2', value: bytes('great'), index: modify }).body).toBe(false);
    expect(call({ type: 'kv.get', key: 'nope', read }).status).toBe(404);
    expect(call({ type: 'kv.get', key: '', read })).toMatchObject({ status: 400, error: 'Missing key name' });
    expect(call({ type: 'kv.put', key: 'x', value: new Uint8Array(512 * 1024 + 1) }).status).toBe(413);
    // Raw bodies are bytes (msgpackr hands back a Buffer, itself a Uint8Array).
    expect(new Uint8Array(call({ type: 'kv.get', key: 'web/key1', raw: true, read }).body as Uint8Array)).toEqual(
      bytes('soft.dog'),
    );
    expect(call({ type: 'kv.keys', prefix: 'web/', separator: '/', read }).body).toEqual(['web/key1', 'web/key2']);
    expect(call({ type: 'kv.deleteTree', prefix: 'web/' }).body).toBe(true);
    expect(call({ type: 'kv.list', prefix: 'web', read }).status).toBe(404);
    expect(call({ type: 'kv.get', key: 'a', read, dc: 'dc2' })).toMatchObject({
      status: 500,
      error: 'No path to datacenter',
    });
  });

  it('parks a blocking read until its own key changes, not on unrelated writes, and times out with 200', () => {
    const { call, send, sim } = setup();
    call({ type: 'kv.put', key: 'web/key2', value: bytes('v1') });
    const first = call({ type: 'kv.get', key: 'web/key2', read });
    const parked = send({
      type: 'kv.get',
      key: 'web/key2',
      read: { consistency: 'default', minIndex: first.index!, waitMs: 5000 },
    });
    sim.runUntil(sim.nowMs + 100);
    expect(parked.result).toBe('pending');
    call({ type: 'kv.put', key: 'other', value: bytes('x') });
    expect(parked.result).toBe('pending'); // an unrelated key does not wake it
    call({ type: 'kv.put', key: 'web/key2', value: bytes('v2') });
    expect(parked.result).not.toBe('pending');
    const woke = parked.result as AgentResponse;
    expect(woke.index).toBeGreaterThan(first.index!);
    expect((woke.body as { Value: string }[])[0]!.Value).toBe('djI=');
    // A wait that runs out answers 200 with the same index, after wait..wait+wait/16.
    const timing = send({
      type: 'kv.get',
      key: 'web/key2',
      read: { consistency: 'default', minIndex: woke.index!, waitMs: 1600 },
    });
    const start = sim.nowMs;
    sim.runUntil(start + 1590);
    expect(timing.result).toBe('pending');
    sim.runUntil(start + 1800);
    expect(timing.result).toMatchObject({ status: 200, index: woke.index });
  });

  it('a blocking read of a missing key waits for that key (its creation or deletion), not for every write', () => {
    // Issue 13 (the soak's start-up storm): a missing key's answer carries the KV table's index, which
    // every write to any key moves; its watchers used to wake (or answer at once) at each such write.
    // Now they wait on the key's own change index and still answer with the table's index, as Consul.
    const { call, send, sim } = setup();
    call({ type: 'kv.put', key: 'soak/k1', value: bytes('a') });
    const absent = call({ type: 'kv.get', key: 'soak/watch1', read });
    expect(absent.status).toBe(404);
    const parked = send({
      type: 'kv.get',
      key: 'soak/watch1',
      read: { consistency: 'default', minIndex: absent.index!, waitMs: 5000 },
    });
    sim.runUntil(sim.nowMs + 100);
    for (let i = 0; i < 3; i++) call({ type: 'kv.put', key: 'soak/k1', value: bytes(`b${i}`) }); // a neighbour
    call({ type: 'kv.put', key: 'soak/watch10', value: bytes('x') }); // a key its name is a prefix of
    expect(parked.result).toBe('pending');
    // Parked although the table's index has passed its minIndex since (answering at once would loop).
    const late = send({
      type: 'kv.get',
      key: 'soak/watch1',
      read: { consistency: 'default', minIndex: absent.index!, waitMs: 5000 },
    });
    sim.runUntil(sim.nowMs + 100);
    expect(late.result).toBe('pending');
    const created = call({ type: 'kv.put', key: 'soak/watch1', value: bytes('here') });
    expect(created.body).toBe(true);
    for (const b of [parked, late]) {
      expect(b.result).toMatchObject({ status: 200 });
      expect((b.result as AgentResponse).index).toBeGreaterThan(absent.index!);
      expect(((b.result as AgentResponse).body as { Value: string }[])[0]!.Value).toBe('aGVyZQ==');
    }
    // A reader that saw it wakes at its deletion (its tombstone), answered 404 with the table's index.
    const seen = (parked.result as AgentResponse).index!;
    const gone = send({
      type: 'kv.get',
      key: 'soak/watch1',
      read: { consistency: 'default', minIndex: seen, waitMs: 5000 },
    });
    sim.runUntil(sim.nowMs + 100);
    call({ type: 'kv.put', key: 'soak/k1', value: bytes('c') });
    expect(gone.result).toBe('pending');
    call({ type: 'kv.delete', key: 'soak/watch1' });
    expect(gone.result).toMatchObject({ status: 404 });
    const goneIndex = (gone.result as AgentResponse).index!;
    expect(goneIndex).toBeGreaterThan(seen);
    // At the end of its wait a missing key answers 404 with the table's index (moved by other writes).
    const quiet = send({
      type: 'kv.get',
      key: 'soak/watch1',
      read: { consistency: 'default', minIndex: goneIndex, waitMs: 1600 },
    });
    sim.runUntil(sim.nowMs + 100);
    call({ type: 'kv.put', key: 'soak/k2', value: bytes('d') });
    sim.runUntil(sim.nowMs + 1300);
    expect(quiet.result).toBe('pending');
    sim.runUntil(sim.nowMs + 400);
    expect(quiet.result).toMatchObject({ status: 404 });
    expect((quiet.result as AgentResponse).index).toBeGreaterThan(goneIndex);
    // A missing prefix likewise: `?recurse` of an empty prefix waits for a key under it.
    const list = call({ type: 'kv.list', prefix: 'empty/', read });
    expect(list.status).toBe(404);
    const listing = send({
      type: 'kv.list',
      prefix: 'empty/',
      read: { consistency: 'default', minIndex: list.index!, waitMs: 5000 },
    });
    sim.runUntil(sim.nowMs + 100);
    call({ type: 'kv.put', key: 'soak/k3', value: bytes('e') });
    expect(listing.result).toBe('pending');
    call({ type: 'kv.put', key: 'empty/a', value: bytes('f') });
    expect(listing.result).toMatchObject({ status: 200 });
  });

  it('registers the seed’s web service with a script check, runs it with seeded results, and syncs it', () => {
    const web = {
      name: 'web',
      tags: ['rails'],
      port: 80,
      checks: [{ script: 'curl localhost >/dev/null 2>&1', intervalMs: 10_000 }],
    };
    const ping = { name: 'ping', script: 'ping -c1 soft.dog >/dev/null', intervalMs: 30_000 };
    const { call, sim, logs } = setup({ services: [web], checks: [ping], enableLocalScriptChecks: true }, (spec) =>
      spec.type === 'script' && spec.args.join(' ').includes('curl') ? 'critical' : 'passing',
    );
    sim.runUntil(31_000);
    expect(logs).toContain("agent: Synced service 'web'");
    expect(logs).toContain("agent: Check 'service:web' is now critical");
    expect(logs.filter((l) => l === "agent: Check 'service:web' is now critical").length).toBeGreaterThanOrEqual(3); // every 10 s
    const critical = call({ type: 'health.state', state: 'critical', read });
    expect(critical.body).toEqual([
      expect.objectContaining({
        Node: 's1',
        CheckID: 'service:web',
        Name: "Service 'web' check",
        Status: 'critical',
        ServiceID: 'web',
        ServiceName: 'web',
      }),
    ]);
    const passing = call({ type: 'health.state', state: 'passing', read }).body as { CheckID: string }[];
    expect(passing.map((c) => c.CheckID).sort()).toEqual(['ping', 'serfHealth']);
    expect(call({ type: 'catalog.services', read }).body).toEqual({ consul: [], web: ['rails'] });
  });

  it('refuses API script checks unless enable_script_checks is set', () => {
    const { call } = setup();
    const refused = call({ type: 'agent.check.register', check: { name: 'sh', script: 'true', intervalMs: 1000 } });
    expect(refused.status).toBe(400);
    expect(refused.error).toContain('enable_script_checks');
    expect(
      setup({ enableScriptChecks: true }).call({
        type: 'agent.check.register',
        check: { name: 'sh', script: 'true', intervalMs: 1000 },
      }).status,
    ).toBe(200);
  });

  it('drives a TTL check: pass, then critical when the TTL lapses', () => {
    const { call, sim, logs } = setup();
    expect(call({ type: 'agent.check.register', check: { name: 'ttl', ttlMs: 1000 } }).status).toBe(200);
    expect((call({ type: 'agent.checks' }).body as Record<string, { Status: string }>)['ttl']!.Status).toBe('critical');
    call({ type: 'agent.check.pass', id: 'ttl', note: 'ok' });
    expect(
      (
        call({ type: 'health.node', node: 's1', read }).body as { CheckID: string; Status: string; Output: string }[]
      ).find((c) => c.CheckID === 'ttl'),
    ).toMatchObject({ Status: 'passing', Output: 'ok' });
    sim.runUntil(sim.nowMs + 1100);
    expect(logs).toContain("agent: Check 'ttl' missed TTL, is now critical");
    expect(
      (
        call({ type: 'health.node', node: 's1', read }).body as { CheckID: string; Status: string; Output: string }[]
      ).find((c) => c.CheckID === 'ttl'),
    ).toMatchObject({ Status: 'critical', Output: 'TTL expired' });
  });

  it('anti-entropy restores a service removed from the catalog behind the agent’s back', () => {
    const { call, sim, logs } = setup({ services: [{ name: 'web', port: 80 }] });
    sim.runUntil(1000);
    expect((call({ type: 'catalog.service', service: 'web', read }).body as unknown[]).length).toBe(1);
    expect(call({ type: 'catalog.deregister', node: 's1', serviceId: 'web' }).body).toBe(true);
    expect(call({ type: 'catalog.service', service: 'web', read }).body).toEqual([]);
    const syncsBefore = logs.filter((l) => l === "agent: Synced service 'web'").length;
    sim.runUntil(sim.nowMs + agentTimingSim.antiEntropyIntervalMs * 1.2);
    expect(logs.filter((l) => l === "agent: Synced service 'web'").length).toBe(syncsBefore + 1);
    expect((call({ type: 'catalog.service', service: 'web', read }).body as unknown[]).length).toBe(1);
  });

  it('maintenance mode adds a critical _node_maintenance check and removes it again', () => {
    const { call } = setup();
    call({ type: 'agent.maintenance', enable: true, reason: 'upgrading' });
    const critical = call({ type: 'health.state', state: 'critical', read }).body as {
      CheckID: string;
      Notes: string;
    }[];
    expect(critical).toEqual([expect.objectContaining({ CheckID: '_node_maintenance', Notes: 'upgrading' })]);
    call({ type: 'agent.maintenance', enable: false });
    expect(call({ type: 'health.state', state: 'critical', read }).body).toEqual([]);
  });

  it('reload adds, keeps and removes file-defined services; API-registered ones stay', () => {
    const { call } = setup({ services: [{ name: 'web', port: 80 }] });
    call({ type: 'agent.service.register', service: { name: 'api', port: 9000 } });
    call({ type: 'agent.reload', services: [{ name: 'db', port: 5432 }], checks: [] });
    expect(Object.keys(call({ type: 'agent.services' }).body as object).sort()).toEqual(['api', 'db']);
    expect(Object.keys(call({ type: 'catalog.services', read }).body as object).sort()).toEqual([
      'api',
      'consul',
      'db',
    ]);
  });

  it('fires user events and wakes a blocking event list', () => {
    const { call, send, sim } = setup();
    const empty = call({ type: 'event.list', read });
    const waiting = send({
      type: 'event.list',
      read: { consistency: 'default', minIndex: empty.index!, waitMs: 10_000 },
    });
    sim.runUntil(sim.nowMs + 50);
    expect(waiting.result).toBe('pending');
    const fired = call({ type: 'event.fire', name: 'deploy', payload: bytes('v2') });
    expect(fired.body).toMatchObject({ Name: 'deploy', Payload: 'djI=', Version: 1 });
    expect(waiting.result).toMatchObject({ status: 200, body: [expect.objectContaining({ Name: 'deploy' })] });
  });

  it('sessions and locks go through the store with the leader’s clock', () => {
    const { call } = setup();
    const created = call({ type: 'session.create', ttlMs: 10_000 });
    expect(created.status).toBe(200);
    const id = (created.body as { ID: string }).ID;
    expect(call({ type: 'kv.acquire', key: 'lock', value: bytes('me'), session: id }).body).toBe(true);
    expect(
      (call({ type: 'kv.get', key: 'lock', read }).body as { Session: string; LockIndex: number }[])[0],
    ).toMatchObject({ Session: id, LockIndex: 1 });
    expect((call({ type: 'session.info', id, read }).body as { TTL: string }[])[0]!.TTL).toBe('10s');
    expect(call({ type: 'session.renew', id: 'nope' }).status).toBe(404);
    expect(call({ type: 'kv.release', key: 'lock', value: bytes('me'), session: id }).body).toBe(true);
  });

  it('answers txn (200 with results, 409 with errors), catalog register/deregister, health and metrics', () => {
    const { call } = setup();
    const okTxn = call({
      type: 'txn',
      ops: [
        { verb: 'set', key: 't/a', value: bytes('1') },
        { verb: 'get', key: 't/a' },
      ],
    });
    expect(okTxn.status).toBe(200);
    expect(okTxn.body).toMatchObject({
      Errors: null,
      Results: [{ KV: { Key: 't/a', Value: null } }, { KV: { Key: 't/a', Value: 'MQ==' } }],
    });
    const badTxn = call({
      type: 'txn',
      ops: [
        { verb: 'set', key: 't/b', value: bytes('2') },
        { verb: 'cas', key: 't/a', value: bytes('3'), index: 999 },
      ],
    });
    expect(badTxn.status).toBe(409);
    expect((badTxn.body as { Errors: { OpIndex: number }[] }).Errors[0]!.OpIndex).toBe(1);
    expect(call({ type: 'kv.get', key: 't/b', read }).status).toBe(404); // all or nothing
    expect(
      call({
        type: 'catalog.register',
        node: 'ext',
        address: '10.1.1.1',
        service: { name: 'db', port: 5432 },
        checks: [{ name: 'db alive', status: 'passing', serviceId: 'db' }],
      }).body,
    ).toBe(true);
    expect(
      (call({ type: 'health.checks', service: 'db', read }).body as { Node: string; Status: string }[]).map((c) => [
        c.Node,
        c.Status,
      ]),
    ).toEqual([['ext', 'passing']]);
    expect((call({ type: 'health.service', service: 'db', passing: true, read }).body as unknown[]).length).toBe(1);
    expect((call({ type: 'catalog.nodes', read }).body as { Node: string }[]).map((n) => n.Node)).toEqual([
      'ext',
      's1',
    ]);
    expect(call({ type: 'catalog.deregister', node: 'ext' }).body).toBe(true);
    expect(call({ type: 'catalog.node', node: 'ext', read }).body).toBeNull();
    expect(call({ type: 'catalog.datacenters' }).body).toEqual(['dc1']);
    const metrics = call({ type: 'agent.metrics' }).body as { Gauges: { Name: string; Value: number }[] };
    expect(metrics.Gauges.find((g) => g.Name === 'consul.raft.leader')?.Value).toBe(1);
    // Gossip figures come from SWIM; commit time from the writes this server proposed above.
    const full = metrics as unknown as {
      Counters: { Name: string; Count: number }[];
      Samples: { Name: string; Count: number; Max: number }[];
    };
    expect(full.Counters.some((c) => c.Name === 'consul.memberlist.probes')).toBe(true);
    expect(metrics.Gauges.some((g) => g.Name === 'consul.memberlist.health.score')).toBe(true);
    const commit = full.Samples.find((x) => x.Name === 'consul.raft.commitTime');
    expect(commit?.Count).toBeGreaterThan(0);
    expect(commit!.Max).toBeGreaterThanOrEqual(0);
    expect(call({ type: 'status.leader' }).body).toBe('s1');
    const self = call({ type: 'agent.self' }).body as {
      Config: { NodeName: string; Server: boolean };
      Member: { Name: string; Status: number };
    };
    expect(self.Config).toMatchObject({ NodeName: 's1', Server: true });
    expect(self.Member).toEqual((call({ type: 'agent.members' }).body as unknown[])[0]);
  });
});
