/**
 * The npm `consul` client (2.0.1, the widely used Node client) against a real conclave agent: a
 * single-server cluster on loopback serving the HTTP API (see agent.ts for how it is started).
 * Every call goes through the client exactly as an application would make it, so each test proves
 * a checklist row end to end: the client's own URL forms, its case of JSON keys, its reading of
 * headers (the watch needs a non-zero X-Consul-Index) and of status codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Consul from 'consul';
import { startTestAgent, type TestAgent } from './agent.js';

let agent: TestAgent;
// The client's bundled typings are narrower than what Consul returns; the tests check shapes themselves.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let consul: any;

beforeAll(async () => {
  // Coordinates go to the servers every 300 ms here (Consul's minimum is 15 s), so tests see them soon.
  agent = await startTestAgent({
    nodeName: 'n1',
    configFiles: { 'coordinates.json': '{"sync_coordinate_interval_min": "300ms"}' },
  });
  consul = new Consul({ host: '127.0.0.1', port: agent.httpPort });
}, 30_000);
afterAll(async () => {
  consul?.destroy();
  await agent?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a truthy value (anti-entropy and check runs are asynchronous). */
async function eventually<T>(probe: () => Promise<T>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
      last = v;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`eventually: timed out; last ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await sleep(25);
  }
}

interface KvPair {
  Key: string;
  Value: string | null;
  Flags: number;
  CreateIndex: number;
  ModifyIndex: number;
  LockIndex: number;
  Session?: string;
}

describe('kv', () => {
  it('set / get / flags / missing', async () => {
    expect(await consul.kv.set('app/config', 'hello')).toBe(true);
    const pair = (await consul.kv.get('app/config')) as KvPair;
    expect(pair).toMatchObject({ Key: 'app/config', Value: 'hello', Flags: 0, LockIndex: 0 });
    expect(pair.CreateIndex).toBeGreaterThan(0);
    expect(pair.ModifyIndex).toBe(pair.CreateIndex);
    expect(await consul.kv.set({ key: 'app/flagged', value: 'x', flags: 42 })).toBe(true);
    expect(((await consul.kv.get('app/flagged')) as KvPair).Flags).toBe(42);
    expect(await consul.kv.get('app/missing')).toBeUndefined();
  });

  it("uint64 flags round-trip exactly (Go's api.Lock marks its key with 3304740253564472344)", async () => {
    const base = `http://127.0.0.1:${agent.httpPort}`;
    expect((await fetch(`${base}/v1/kv/golock?flags=3304740253564472344`, { method: 'PUT', body: 'x' })).status).toBe(
      200,
    );
    expect(await (await fetch(`${base}/v1/kv/golock`)).text()).toContain('"Flags":3304740253564472344,');
    const txn = await fetch(`${base}/v1/txn`, {
      method: 'PUT',
      body: '[{"KV":{"Verb":"set","Key":"gosem","Value":"eA==","Flags":16210313421097356768}},{"KV":{"Verb":"get","Key":"gosem"}}]',
    });
    expect(txn.status).toBe(200);
    expect(await txn.text()).toContain('"Flags":16210313421097356768,');
    const tooBig = await fetch(`${base}/v1/kv/golock?flags=18446744073709551616`, { method: 'PUT', body: 'x' });
    expect([tooBig.status, await tooBig.text()]).toEqual([400, 'Invalid flags']);
  });

  it('keys with slashes are percent-encoded by the client and decoded by the server', async () => {
    expect(await consul.kv.set('a/x/1', 'one')).toBe(true);
    expect(((await consul.kv.get('a/x/1')) as KvPair).Key).toBe('a/x/1');
  });

  it('check-and-set', async () => {
    await consul.kv.set('cas/k', 'v1');
    const before = (await consul.kv.get('cas/k')) as KvPair;
    expect(await consul.kv.set({ key: 'cas/k', value: 'v2', cas: before.ModifyIndex })).toBe(true);
    // Consul answers `false`; node-consul resolves a false body as undefined (papi's next(false, …)).
    expect(await consul.kv.set({ key: 'cas/k', value: 'v3', cas: before.ModifyIndex })).toBeFalsy();
    expect(((await consul.kv.get('cas/k')) as KvPair).Value).toBe('v2');
    // cas=0: create only if absent.
    expect(await consul.kv.set({ key: 'cas/k', value: 'v4', cas: 0 })).toBeFalsy();
    expect(await consul.kv.set({ key: 'cas/new', value: 'n', cas: 0 })).toBe(true);
  });

  it('recurse, keys and separator, raw', async () => {
    await consul.kv.set('tree/a', '1');
    await consul.kv.set('tree/b/c', '2');
    await consul.kv.set('tree/b/d', '3');
    await consul.kv.set('treetop', '4');
    const all = (await consul.kv.get({ key: 'tree', recurse: true })) as KvPair[];
    expect(all.map((p) => p.Key)).toEqual(['tree/a', 'tree/b/c', 'tree/b/d', 'treetop']);
    expect(all.map((p) => p.Value)).toEqual(['1', '2', '3', '4']);
    expect(await consul.kv.keys('tree/')).toEqual(['tree/a', 'tree/b/c', 'tree/b/d']);
    expect(await consul.kv.keys({ key: 'tree/', separator: '/' })).toEqual(['tree/a', 'tree/b/']);
    const raw = (await consul.kv.get({ key: 'tree/a', raw: true })) as Buffer;
    expect(Buffer.from(raw).toString()).toBe('1');
  });

  it('delete, delete recurse, delete cas', async () => {
    await consul.kv.set('del/a', '1');
    await consul.kv.set('del/b/c', '2');
    await consul.kv.set('del/b/d', '3');
    expect(await consul.kv.del('del/a')).toBe(true);
    expect(await consul.kv.get('del/a')).toBeUndefined();
    expect(await consul.kv.del({ key: 'del/b', recurse: true })).toBe(true);
    expect(await consul.kv.get({ key: 'del/', recurse: true })).toBeUndefined();
    await consul.kv.set('del/cas', 'x');
    const p = (await consul.kv.get('del/cas')) as KvPair;
    expect(await consul.kv.del({ key: 'del/cas', cas: p.ModifyIndex + 100 })).toBeFalsy();
    expect(((await consul.kv.get('del/cas')) as KvPair).Value).toBe('x');
    expect(await consul.kv.del({ key: 'del/cas', cas: p.ModifyIndex })).toBe(true);
    expect(await consul.kv.get('del/cas')).toBeUndefined();
  });

  it('empty value reads back as null', async () => {
    await consul.kv.set('empty', '');
    expect(((await consul.kv.get('empty')) as KvPair).Value).toBeNull();
  });

  it('watch from a missing key with a 1 ms wait sees the 404, each set, and the delete', async () => {
    const changes: (string | undefined)[] = [];
    const errors: Error[] = [];
    const watch = consul.watch({ method: consul.kv.get, options: { key: 'watch/fresh', wait: '1ms' } });
    watch.on('change', (data: KvPair | undefined) => changes.push(data?.Value ?? undefined));
    watch.on('error', (e: Error) => errors.push(e));
    try {
      // The first answer is a 404, which must carry a non-zero index or the watch errors out.
      await eventually(async () => changes.length === 1);
      for (const [i, v] of ['1', '2', '3'].entries()) {
        await consul.kv.set('watch/fresh', v);
        await eventually(async () => changes.length === i + 2);
      }
      await consul.kv.del('watch/fresh');
      await eventually(async () => changes.length === 5);
      expect(changes).toEqual([undefined, '1', '2', '3', undefined]);
      expect(errors).toEqual([]);
      expect(watch.isRunning()).toBe(true);
    } finally {
      watch.end();
    }
  });

  it('a watch without a key stops on the 400 "Missing key name" instead of retrying', async () => {
    const errors: { message: string }[] = [];
    const watch = consul.watch({ method: consul.kv.get });
    watch.on('error', (e: { message: string }) => errors.push(e));
    await eventually(async () => errors.length === 1);
    expect(errors[0]!.message).toMatch(/Missing key name/);
    expect(watch.isRunning()).toBe(false);
  });

  it('watch (blocking queries) sees each change and no unrelated writes', async () => {
    await consul.kv.set('watched', 'v0');
    const seen: (string | null)[] = [];
    const watch = consul.watch({ method: consul.kv.get, options: { key: 'watched', wait: '5s' } });
    const errors: Error[] = [];
    watch.on('change', (data: KvPair | undefined) => seen.push(data ? data.Value : null));
    watch.on('error', (e: Error) => errors.push(e));
    try {
      await eventually(async () => seen.length === 1);
      // Unrelated writes (another key, the catalog) must not produce a change event.
      await consul.kv.set('unrelated', 'x');
      await consul.catalog.register({ node: 'other-node', address: '10.9.9.9' });
      await sleep(200);
      expect(seen).toEqual(['v0']);
      await consul.kv.set('watched', 'v1');
      await eventually(async () => seen.length === 2);
      await consul.kv.del('watched');
      await eventually(async () => seen.length === 3);
      expect(seen).toEqual(['v0', 'v1', null]);
      expect(errors).toEqual([]);
    } finally {
      watch.end();
    }
  });
});

describe('sessions and locks', () => {
  it('create, info, node, list, renew, destroy', async () => {
    const { ID } = (await consul.session.create({
      name: 'worker',
      ttl: '30s',
      lockdelay: '1s',
      behavior: 'release',
    })) as { ID: string };
    expect(ID).toMatch(/^[0-9a-f-]{36}$/);
    const info = (await consul.session.info(ID)) as Record<string, unknown>;
    expect(info).toMatchObject({ ID, Name: 'worker', Node: agent.nodeName, Behavior: 'release', TTL: '30s' });
    expect(info.LockDelay).toBe(1e9);
    expect(((await consul.session.node(agent.nodeName)) as { ID: string }[]).map((s) => s.ID)).toContain(ID);
    expect(((await consul.session.list()) as { ID: string }[]).map((s) => s.ID)).toContain(ID);
    const renewed = (await consul.session.renew(ID)) as { ID: string }[];
    expect(renewed[0]?.ID).toBe(ID);
    await consul.session.destroy(ID);
    expect(await consul.session.info(ID)).toBeUndefined();
    await expect(consul.session.renew(ID)).rejects.toMatchObject({ response: { statusCode: 404 } });
  });

  it('acquire and release a lock; a second session cannot take it', async () => {
    const a = ((await consul.session.create({ lockdelay: '0s' })) as { ID: string }).ID;
    const b = ((await consul.session.create({ lockdelay: '0s' })) as { ID: string }).ID;
    expect(await consul.kv.set({ key: 'locks/leader', value: 'a', acquire: a })).toBe(true);
    expect(await consul.kv.set({ key: 'locks/leader', value: 'b', acquire: b })).toBeFalsy();
    const held = (await consul.kv.get('locks/leader')) as KvPair;
    expect(held).toMatchObject({ Session: a, LockIndex: 1, Value: 'a' });
    expect(await consul.kv.set({ key: 'locks/leader', value: 'b', release: b })).toBeFalsy();
    expect(await consul.kv.set({ key: 'locks/leader', value: 'a', release: a })).toBe(true);
    const released = (await consul.kv.get('locks/leader')) as KvPair;
    expect(released.Session).toBeUndefined();
    expect(released.LockIndex).toBe(1);
    expect(await consul.kv.set({ key: 'locks/leader', value: 'b', acquire: b })).toBe(true);
    expect(((await consul.kv.get('locks/leader')) as KvPair).LockIndex).toBe(2);
    // Destroying the holder releases the lock (behavior release).
    await consul.session.destroy(b);
    expect(((await consul.kv.get('locks/leader')) as KvPair).Session).toBeUndefined();
    await consul.session.destroy(a);
  });

  it('lock-delay: after an invalidation the key cannot be re-acquired until the delay passes', async () => {
    const a = ((await consul.session.create({ lockdelay: '1s' })) as { ID: string }).ID;
    const b = ((await consul.session.create({ lockdelay: '1s' })) as { ID: string }).ID;
    expect(await consul.kv.set({ key: 'locks/delayed', value: 'a', acquire: a })).toBe(true);
    await consul.session.destroy(a);
    const invalidatedAt = Date.now();
    expect(await consul.kv.set({ key: 'locks/delayed', value: 'b', acquire: b })).toBeFalsy();
    await eventually(
      async () => (await consul.kv.set({ key: 'locks/delayed', value: 'b', acquire: b })) === true,
      5000,
    );
    expect(Date.now() - invalidatedAt).toBeGreaterThanOrEqual(900);
    await consul.session.destroy(b);
  });

  it('session create on an unknown node is a 400 (a client error; Consul itself says 500, issue 13 §5)', async () => {
    await expect(consul.session.create({ node: 'no-such-node' })).rejects.toMatchObject({
      response: { statusCode: 400 },
    });
  });

  it('acquire with an unknown session is a 500', async () => {
    await expect(
      consul.kv.set({ key: 'locks/x', value: '', acquire: '00000000-0000-0000-0000-000000000000' }),
    ).rejects.toMatchObject({ response: { statusCode: 500 } });
  });
});

describe('transactions', () => {
  it('applies all operations and returns results', async () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const out = (await consul.transaction.create([
      { KV: { Verb: 'set', Key: 'txn/a', Value: b64('1') } },
      { KV: { Verb: 'set', Key: 'txn/b', Value: b64('2') } },
      { KV: { Verb: 'get', Key: 'txn/a' } },
    ])) as { Results: { KV: KvPair }[]; Errors: unknown };
    expect(out.Errors).toBeNull();
    expect(out.Results.map((r) => r.KV.Key)).toEqual(['txn/a', 'txn/b', 'txn/a']);
    expect(out.Results[2]!.KV.Value).toBe(b64('1'));
    expect(out.Results[0]!.KV.Value).toBeNull();
  });
  it('rolls back on a failed check (409) and applies nothing', async () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const err = await consul.transaction
      .create([
        { KV: { Verb: 'set', Key: 'txn/c', Value: b64('3') } },
        { KV: { Verb: 'check-index', Key: 'txn/a', Index: 999999 } },
      ])
      .then(
        () => undefined,
        (e: { response?: { statusCode: number; body: unknown } }) => e,
      );
    expect(err?.response?.statusCode).toBe(409);
    const body = err?.response?.body as { Results: unknown; Errors: { OpIndex: number; What: string }[] };
    expect(body.Results).toBeNull();
    expect(body.Errors[0]?.OpIndex).toBe(1);
    expect(await consul.kv.get('txn/c')).toBeUndefined();
  });
});

describe('agent', () => {
  it('self and members agree', async () => {
    const self = (await consul.agent.self()) as { Config: Record<string, unknown>; Member: Record<string, unknown> };
    expect(self.Config).toMatchObject({ Datacenter: 'dc1', NodeName: agent.nodeName, Server: true });
    const members = (await consul.agent.members()) as Record<string, unknown>[];
    const me = members.find((m) => m.Name === agent.nodeName);
    expect(me).toBeDefined();
    expect(me).toMatchObject({ Status: 1 });
    expect(self.Member).toEqual(me);
  });

  it('services: register with a TTL check, list, deregister', async () => {
    await consul.agent.service.register({
      name: 'api',
      id: 'api-1',
      tags: ['v1'],
      port: 8080,
      meta: { Team: 'core' },
      check: { ttl: '10s' },
    });
    const services = (await consul.agent.services()) as Record<string, Record<string, unknown>>;
    expect(services['api-1']).toMatchObject({
      ID: 'api-1',
      Service: 'api',
      Tags: ['v1'],
      Port: 8080,
      Meta: { Team: 'core' },
    });
    const checks = (await consul.agent.checks()) as Record<string, Record<string, unknown>>;
    expect(checks['service:api-1']).toMatchObject({
      CheckID: 'service:api-1',
      Status: 'critical',
      ServiceID: 'api-1',
      ServiceName: 'api',
    });
    expect(checks.serfHealth).toBeUndefined();
    // Appears in the catalog through anti-entropy.
    await eventually(async () => ((await consul.catalog.service.nodes('api')) as unknown[]).length === 1);
    await consul.agent.service.deregister('api-1');
    expect(((await consul.agent.services()) as Record<string, unknown>)['api-1']).toBeUndefined();
    expect(((await consul.agent.checks()) as Record<string, unknown>)['service:api-1']).toBeUndefined();
    await eventually(async () => ((await consul.catalog.service.nodes('api')) as unknown[]).length === 0);
  });

  it('service checks of every kind keep their Notes (HTTP against our own API, script, TCP)', async () => {
    await consul.agent.service.register({
      name: 'kinds',
      id: 'kinds-http',
      check: { http: `http://127.0.0.1:${agent.httpPort}/`, interval: '30s', notes: 'simple http check' },
    });
    await consul.agent.service.register({
      name: 'kinds',
      id: 'kinds-script',
      check: { script: 'true', interval: '30s', notes: 'simple script check' },
    });
    await consul.agent.service.register({
      name: 'kinds',
      id: 'kinds-tcp',
      check: { tcp: `127.0.0.1:${agent.httpPort}`, interval: '30s', notes: 'simple tcp check' },
    });
    const checks = (await consul.agent.checks()) as Record<string, { Notes: string; Status: string }>;
    expect(checks['service:kinds-http']?.Notes).toBe('simple http check');
    expect(checks['service:kinds-script']?.Notes).toBe('simple script check');
    expect(checks['service:kinds-tcp']?.Notes).toBe('simple tcp check');
    for (const id of ['kinds-http', 'kinds-script', 'kinds-tcp']) await consul.agent.service.deregister(id);
    // GET / on the HTTP port is a valid HTTP-check target (both client suites use it): it turns
    // passing. A short interval, since Consul staggers the first run randomly within one interval.
    await consul.agent.service.register({
      name: 'kinds',
      id: 'kinds-fast',
      check: { http: `http://127.0.0.1:${agent.httpPort}/`, interval: '1s' },
    });
    await eventually(
      async () =>
        ((await consul.agent.checks()) as Record<string, { Status: string }>)['service:kinds-fast']?.Status ===
        'passing',
    );
    await consul.agent.service.deregister('kinds-fast');
  });

  it('a service with several checks numbers them service:<id>:<n>', async () => {
    await consul.agent.service.register({ name: 'multi', id: 'multi1', checks: [{ ttl: '10s' }, { ttl: '20s' }] });
    const ids = Object.keys((await consul.agent.checks()) as Record<string, unknown>).filter((id) =>
      id.startsWith('service:multi1'),
    );
    expect(ids.sort()).toEqual(['service:multi1:1', 'service:multi1:2']);
    await consul.agent.service.deregister('multi1');
  });

  it('checks: register TTL, pass/warn/fail with notes, deregister', async () => {
    await consul.agent.check.register({ name: 'heartbeat', ttl: '15s', notes: 'beats' });
    const get = async () => ((await consul.agent.checks()) as Record<string, Record<string, unknown>>).heartbeat;
    expect(await get()).toMatchObject({ CheckID: 'heartbeat', Name: 'heartbeat', Status: 'critical', Notes: 'beats' });
    await consul.agent.check.pass({ id: 'heartbeat', note: 'all good' });
    expect(await get()).toMatchObject({ Status: 'passing', Output: 'all good' });
    await consul.agent.check.warn('heartbeat');
    expect((await get())?.Status).toBe('warning');
    await consul.agent.check.fail({ id: 'heartbeat', note: 'down' });
    expect(await get()).toMatchObject({ Status: 'critical', Output: 'down' });
    await consul.agent.check.deregister('heartbeat');
    expect(await get()).toBeUndefined();
  });

  it('node and service maintenance', async () => {
    await consul.agent.maintenance({ enable: true, reason: 'upgrade' });
    const checks = (await consul.agent.checks()) as Record<string, Record<string, unknown>>;
    expect(checks._node_maintenance).toMatchObject({ Status: 'critical', Notes: 'upgrade' });
    await consul.agent.maintenance(false);
    expect(((await consul.agent.checks()) as Record<string, unknown>)._node_maintenance).toBeUndefined();
    await consul.agent.service.register({ name: 'maint', id: 'maint-1' });
    await consul.agent.service.maintenance({ id: 'maint-1', enable: true, reason: 'patch' });
    expect(
      ((await consul.agent.checks()) as Record<string, Record<string, unknown>>)['_service_maintenance:maint-1'],
    ).toMatchObject({ Status: 'critical', Notes: 'patch' });
    await consul.agent.service.maintenance({ id: 'maint-1', enable: false });
    expect(((await consul.agent.checks()) as Record<string, unknown>)['_service_maintenance:maint-1']).toBeUndefined();
    await consul.agent.service.deregister('maint-1');
  });

  it('reload answers 200', async () => {
    await consul.agent.reload();
  });

  describe('two agents', () => {
    let second: TestAgent;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    let other: any;
    beforeAll(async () => {
      // A second loopback address with the same server port: agents reach servers at host:server-port.
      const bind = `127.0.${10 + (process.pid % 200)}.${2 + (Date.now() % 250)}`;
      second = await startTestAgent({ nodeName: 'n2', server: false, bind, serverPort: agent.serverPort });
      other = new Consul({ host: '127.0.0.1', port: second.httpPort });
    }, 30_000);
    afterAll(async () => {
      other?.destroy();
      await second?.stop();
    });
    const alive = (list: { Name: string; Status: number }[]) =>
      ['n1', 'n2'].every((n) => list.some((m) => m.Name === n && m.Status === 1));

    it('before the join the client knows no servers: reads answer 500 "No known Consul servers", as Consul clients do', async () => {
      for (const path of ['/v1/status/leader', '/v1/kv/x']) {
        const r = await fetch(`http://127.0.0.1:${second.httpPort}${path}`);
        expect([r.status, await r.text()], path).toEqual([500, 'No known Consul servers']);
      }
    });

    it('join: both agents see each other alive; the client forwards to the server', async () => {
      // A join may be lost under load (UDP); retry it as `-retry-join` would.
      await eventually(async () => (await consul.agent.join(second.gossipAddress), true), 25_000);
      await eventually(async () => alive((await consul.agent.members()) as { Name: string; Status: number }[]));
      await eventually(async () => alive((await other.agent.members()) as { Name: string; Status: number }[]));
      await consul.kv.set('joined/k', 'from-n1');
      expect(((await other.kv.get('joined/k')) as KvPair).Value).toBe('from-n1');
      expect(await other.kv.set('joined/k2', 'from-n2')).toBe(true);
      expect(((await consul.kv.get('joined/k2')) as KvPair).Value).toBe('from-n2');
      // The client registers its node in the catalog through the server.
      await eventually(async () => ((await consul.catalog.nodes()) as { Node: string }[]).some((n) => n.Node === 'n2'));
    }, 30_000);

    it('network coordinates: both nodes in coordinate/nodes, the servers in coordinate/datacenters, ?near sorts by them', async () => {
      type Entry = {
        Node: string;
        Segment: string;
        Coord: { Vec: number[]; Error: number; Adjustment: number; Height: number };
      };
      await eventually(async () => alive((await consul.agent.members()) as { Name: string; Status: number }[]));
      // The npm client has no coordinate API: plain HTTP. n2 has no config file: its own sync runs at
      // Consul's 15 s + jitter, so the test waits for n1's and sends n2's itself.
      const get = async (path: string): Promise<unknown> =>
        (await fetch(`http://127.0.0.1:${agent.httpPort}${path}`)).json();
      const entries = (await eventually(async () => {
        const list = (await get('/v1/coordinate/nodes')) as Entry[];
        return list.some((e) => e.Node === 'n1') ? list : null;
      }, 10_000)) as Entry[];
      const n1 = entries.find((e) => e.Node === 'n1')!;
      expect(n1.Segment).toBe('');
      expect(n1.Coord.Vec).toHaveLength(8);
      for (const x of [...n1.Coord.Vec, n1.Coord.Error, n1.Coord.Adjustment, n1.Coord.Height])
        expect(Number.isFinite(x)).toBe(true);
      const dcs = (await get('/v1/coordinate/datacenters')) as {
        Datacenter: string;
        AreaID: string;
        Coordinates: { Node: string }[];
      }[];
      expect(Object.keys(dcs[0]!).sort()).toEqual(['AreaID', 'Coordinates', 'Datacenter']);
      expect(dcs[0]!.Coordinates.map((c) => c.Node)).toEqual(['n1.dc1']);
      // A client's update goes through the servers too (what the agent sends on its timer).
      const r = await fetch(`http://127.0.0.1:${second.httpPort}/v1/coordinate/update`, {
        method: 'PUT',
        body: JSON.stringify({
          Node: 'n2',
          Coord: { ...n1.Coord, Vec: n1.Coord.Vec.map((x, i) => (i === 0 ? x + 0.002 : x)) },
        }),
      });
      expect(r.status).toBe(200);
      await eventually(async () => ((await get('/v1/coordinate/nodes')) as Entry[]).some((e) => e.Node === 'n2'));
      const one = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/coordinate/node/n2`);
      expect([one.status, ((await one.json()) as Entry[])[0]?.Node]).toEqual([200, 'n2']);
      expect((await fetch(`http://127.0.0.1:${agent.httpPort}/v1/coordinate/node/nobody`)).status).toBe(404);
      // ?near: the named node first, then by estimated round trip; nodes without a coordinate last.
      const near = (await consul.catalog.nodes({ near: 'n2' })) as { Node: string }[];
      expect(near.map((n) => n.Node).slice(0, 2)).toEqual(['n2', 'n1']);
      const self = (await consul.agent.self()) as { Coord: { Vec: number[] } | null };
      expect(self.Coord?.Vec).toHaveLength(8);
    }, 20_000);

    it('force-leave of an alive node answers 200 and shows it leaving (Status 2); it refutes and is alive again', async () => {
      await eventually(async () => alive((await consul.agent.members()) as { Name: string; Status: number }[]));
      await consul.agent.forceLeave('n2');
      const members = (await consul.agent.members()) as { Name: string; Status: number }[];
      expect(members.find((m) => m.Name === 'n2')?.Status).toBe(2);
      // n2 hears the leave intent, refutes it, and n1 sees it alive again; the other agent never lost it.
      await eventually(
        async () =>
          ((await consul.agent.members()) as { Name: string; Status: number }[]).find((m) => m.Name === 'n2')
            ?.Status === 1,
      );
      expect(
        ((await other.agent.members()) as { Name: string; Status: number }[]).find((m) => m.Name === 'n2')?.Status,
      ).toBe(1);
      // The node stayed in the catalog throughout (no deregistration on a refuted leave).
      expect(((await consul.catalog.nodes()) as { Node: string }[]).some((n) => n.Node === 'n2')).toBe(true);
    }, 30_000);
  });
});

describe('a server waiting for its peers (bootstrap-expect 2, alone)', () => {
  it('status/leader answers "" (python-consul polls until it is not), reads answer No cluster leader', async () => {
    const lonely = await startTestAgent({ nodeName: 'lonely', bootstrapExpect: 2 });
    try {
      const r = await fetch(`http://127.0.0.1:${lonely.httpPort}/v1/status/leader`);
      expect([r.status, await r.text()]).toEqual([200, '""']);
      const kv = await fetch(`http://127.0.0.1:${lonely.httpPort}/v1/kv/x`);
      expect([kv.status, await kv.text()]).toEqual([500, 'No cluster leader']);
      expect((await fetch(`http://127.0.0.1:${lonely.httpPort}/v1/kv/x?stale`)).status).toBe(404);
    } finally {
      await lonely.stop();
    }
  }, 30_000);
});

describe('catalog', () => {
  it('datacenters, nodes, services with the consul service', async () => {
    expect(await consul.catalog.datacenters()).toEqual(['dc1']);
    const nodes = (await consul.catalog.nodes()) as { Node: string; Address: string }[];
    expect(nodes.map((n) => n.Node)).toContain(agent.nodeName);
    const services = (await consul.catalog.services()) as Record<string, string[]>;
    expect(services.consul).toEqual([]);
  });

  it('register and deregister an external node and service', async () => {
    await consul.catalog.register({
      node: 'ext1',
      address: '10.1.2.3',
      service: { id: 'redis1', service: 'redis', tags: ['primary'], port: 6379 },
    });
    const nodes = (await consul.catalog.service.nodes({ service: 'redis', tag: 'primary' })) as Record<
      string,
      unknown
    >[];
    expect(nodes).toHaveLength(1);
    expect(nodes[0]).toMatchObject({
      Node: 'ext1',
      Address: '10.1.2.3',
      ServiceID: 'redis1',
      ServiceName: 'redis',
      ServiceTags: ['primary'],
      ServicePort: 6379,
    });
    expect(await consul.catalog.service.nodes({ service: 'redis', tag: 'nope' })).toEqual([]);
    const node = (await consul.catalog.node.services('ext1')) as {
      Node: { Node: string };
      Services: Record<string, { Service: string }>;
    };
    expect(node.Node.Node).toBe('ext1');
    expect(node.Services.redis1?.Service).toBe('redis');
    await consul.catalog.deregister({ node: 'ext1', serviceid: 'redis1' });
    expect(await consul.catalog.service.nodes('redis')).toEqual([]);
    expect(((await consul.catalog.nodes()) as { Node: string }[]).map((n) => n.Node)).toContain('ext1');
    await consul.catalog.deregister('ext1');
    expect(((await consul.catalog.nodes()) as { Node: string }[]).map((n) => n.Node)).not.toContain('ext1');
    // Consul answers `null` for an unknown node; node-consul resolves it as undefined.
    expect(await consul.catalog.node.services('ext1')).toBeFalsy();
  });
});

describe('filter, node-meta and near (the client passes them through on every list call)', () => {
  it('catalog nodes and service, health service, agent services', async () => {
    const base = `http://127.0.0.1:${agent.httpPort}`;
    for (const [node, rack, port] of [
      ['fx1', 'r1', 8001],
      ['fx2', 'r2', 8002],
    ] as const) {
      const r = await fetch(`${base}/v1/catalog/register`, {
        method: 'PUT',
        body: JSON.stringify({
          Node: node,
          Address: '10.9.0.1',
          NodeMeta: { rack },
          Service: { ID: `fweb-${node}`, Service: 'fweb', Tags: [rack], Port: port },
        }),
      });
      expect(r.status).toBe(200);
    }
    try {
      const names = (list: unknown) =>
        (list as { Node: string | { Node: string } }[]).map((e) => (typeof e.Node === 'string' ? e.Node : e.Node.Node));
      expect(names(await consul.catalog.nodes({ filter: 'Meta.rack == r2' }))).toEqual(['fx2']);
      expect(names(await consul.catalog.nodes({ 'node-meta': ['rack:r1'] }))).toEqual(['fx1']);
      expect(names(await consul.catalog.service.nodes({ service: 'fweb', 'node-meta': ['rack:r2'] }))).toEqual(['fx2']);
      await expect(consul.catalog.service.nodes({ service: 'fweb', filter: 'ServicePort > 1' })).rejects.toThrow(
        /boolean expression/,
      );
      expect(names(await consul.health.service({ service: 'fweb', filter: 'r1 in Service.Tags' }))).toEqual(['fx1']);
      expect(names(await consul.health.service({ service: 'fweb', 'node-meta': ['rack:r2'] }))).toEqual(['fx2']);
      expect(names(await consul.health.service({ service: 'fweb', near: 'fx2' }))).toEqual(['fx2', 'fx1']);
      expect(names(await consul.catalog.nodes({ near: '_agent' }))[0]).toBe(agent.nodeName);
      const services = (await consul.agent.service.list({ filter: 'Service == consul' })) as Record<string, unknown>;
      expect(Object.values(services).every((s) => (s as { Service: string }).Service === 'consul')).toBe(true);
    } finally {
      for (const node of ['fx1', 'fx2']) await consul.catalog.deregister(node);
    }
  });
});

describe('health', () => {
  it('node, checks, service (passing, tag), state', async () => {
    await consul.agent.service.register({ name: 'hsvc', id: 'hsvc-1', tags: ['blue'], check: { ttl: '30s' } });
    await eventually(async () => ((await consul.health.checks('hsvc')) as unknown[]).length === 1);
    const nodeChecks = (await consul.health.node(agent.nodeName)) as { CheckID: string }[];
    expect(nodeChecks[0]?.CheckID).toBe('serfHealth');
    expect(nodeChecks.map((c) => c.CheckID)).toContain('service:hsvc-1');
    const entries = (await consul.health.service('hsvc')) as {
      Node: { Node: string };
      Service: { ID: string };
      Checks: { CheckID: string }[];
    }[];
    expect(entries).toHaveLength(1);
    expect(entries[0]!.Checks.map((c) => c.CheckID).sort()).toEqual(['serfHealth', 'service:hsvc-1']);
    expect(await consul.health.service({ service: 'hsvc', passing: true })).toEqual([]);
    await consul.agent.check.pass('service:hsvc-1');
    await eventually(
      async () => ((await consul.health.service({ service: 'hsvc', passing: true })) as unknown[]).length === 1,
    );
    expect(await consul.health.service({ service: 'hsvc', tag: 'green' })).toEqual([]);
    expect(((await consul.health.service({ service: 'hsvc', tag: 'blue' })) as unknown[]).length).toBe(1);
    const passing = (await consul.health.state('passing')) as { CheckID: string }[];
    expect(passing.map((c) => c.CheckID)).toEqual(expect.arrayContaining(['serfHealth', 'service:hsvc-1']));
    await consul.agent.check.fail('service:hsvc-1');
    await eventually(async () =>
      ((await consul.health.state('critical')) as { CheckID: string }[]).some((c) => c.CheckID === 'service:hsvc-1'),
    );
    await consul.agent.service.deregister('hsvc-1');
  });
});

describe('status and events', () => {
  it('leader and peers', async () => {
    const leader = (await consul.status.leader()) as string;
    expect(leader).toMatch(/:\d+$/);
    expect(await consul.status.peers()).toEqual([leader]);
  });
  it('operator raft configuration: this server, leader and voter, at its RPC address (python-consul operator.raft_config)', async () => {
    const leader = (await consul.status.leader()) as string;
    const res = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/operator/raft/configuration`);
    expect(res.status).toBe(200);
    const config = (await res.json()) as { Servers: Record<string, unknown>[]; Index: number };
    // ID is the server's raft id (a UUID, as Consul's Raft protocol 3 uses node ids: core/raft/identity.ts).
    expect(config.Servers).toEqual([
      {
        ID: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        Node: 'n1',
        Address: leader,
        Leader: true,
        Voter: true,
        ProtocolVersion: '3',
      },
    ]);
    // The bootstrap configuration is the log's first entry, the no-op the second, and the entry
    // recording the server's id the third.
    expect(config.Index).toBe(3);
  });
  it('fire and list user events', async () => {
    const fired = (await consul.event.fire('deploy', 'v42')) as Record<string, unknown>;
    expect(fired).toMatchObject({ Name: 'deploy', Payload: 'v42', Version: 1 });
    expect(typeof fired.ID).toBe('string');
    const listed = (await consul.event.list('deploy')) as { ID: string; Payload: string }[];
    expect(listed.map((e) => e.ID)).toContain(fired.ID);
    expect(listed.find((e) => e.ID === fired.ID)?.Payload).toBe('v42');
    expect(await consul.event.list('other-name')).toEqual([]);
  });
});

describe('prepared queries', () => {
  it('create, get, list, execute, explain a template, update, destroy; unknown ids are 404', async () => {
    await consul.agent.service.register({
      name: 'pq-web',
      id: 'pq-web-1',
      tags: ['prod'],
      check: { ttl: '10s', status: 'passing' },
    });
    await eventually(async () => ((await consul.health.service('pq-web')) as unknown[]).length === 1);
    const created = (await consul.query.create({
      name: 'pq-web',
      service: { service: 'pq-web', onlypassing: true, tags: ['prod'] },
    })) as { ID: string };
    expect(created.ID).toMatch(/^[0-9a-f-]{36}$/);
    expect(await consul.query.get(created.ID)).toMatchObject({
      ID: created.ID,
      Name: 'pq-web',
      Service: { Service: 'pq-web', OnlyPassing: true, Tags: ['prod'] },
    });
    expect(((await consul.query.list()) as { ID: string }[]).map((q) => q.ID)).toContain(created.ID);
    const run = (await consul.query.execute('pq-web')) as {
      Service: string;
      Nodes: { Node: { Node: string }; Service: { ID: string } }[];
      Datacenter: string;
      Failovers: number;
    };
    expect(run).toMatchObject({ Service: 'pq-web', Datacenter: 'dc1', Failovers: 0 });
    expect(run.Nodes.map((n) => [n.Node.Node, n.Service.ID])).toEqual([['n1', 'pq-web-1']]);
    // A template answers every name with its prefix, rendered from the name.
    const template = (await consul.query.create({
      name: 'pq-',
      template: { type: 'name_prefix_match', regexp: '^pq-(.*)$' },
      service: { service: 'pq-${match(1)}' },
    })) as { ID: string };
    // (The client's explain reads the first item of an array; Consul answers an object, so ask directly.)
    const explained = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/query/pq-web-eu/explain`).then((r) =>
      r.json(),
    );
    expect(explained).toMatchObject({ Query: { ID: template.ID, Service: { Service: 'pq-web-eu' } } });
    await consul.query.update({ query: created.ID, name: 'pq-web', service: { service: 'pq-web', tags: ['canary'] } });
    expect(((await consul.query.execute(created.ID)) as { Nodes: unknown[] }).Nodes).toEqual([]);
    await consul.query.destroy(created.ID);
    await consul.query.destroy(template.ID);
    const missing = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/query/${created.ID}`);
    expect([missing.status, await missing.text(), missing.headers.get('x-consul-index') !== null]).toEqual([
      404,
      'Query not found',
      true,
    ]);
    const again = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/query/${created.ID}`, { method: 'DELETE' });
    expect([again.status, await again.text()]).toEqual([
      404, // Consul says 500; a client error is 4xx here (issue 13 §5)
      `Cannot modify non-existent prepared query: '${created.ID}'`,
    ]);
    await consul.agent.service.deregister('pq-web-1');
  });
});
