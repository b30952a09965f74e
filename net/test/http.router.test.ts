/**
 * The router's translation layer in isolation: each HTTP form (path, query string, body) becomes the
 * right typed `AgentRequest`, and each `AgentResponse` is rendered with Consul's wire rules (index
 * headers floored at 1 and present on 404, plain-text errors, 405/404/413/400/401/500 cases).
 * The agent here is a recording double that answers canned responses: what is under test is the
 * mapping, not the agent (the real agent is exercised in http.integration.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import { routeHttp, type HttpRequestIn } from '../http/router.js';
import { HttpMetrics } from '../http/metrics.js';
import { rawJsonNumber } from '../../core/agent/ops.js';

function recorder(answer: (req: AgentRequest) => AgentResponse = () => ({ status: 200, body: true })) {
  const seen: AgentRequest[] = [];
  const ctx = {
    datacenter: 'dc1',
    call: async (req: AgentRequest) => {
      seen.push(req);
      return answer(req);
    },
  };
  const send = (method: string, url: string, body: string | Uint8Array = '', headers: Record<string, string> = {}) => {
    const req: HttpRequestIn = {
      method,
      url,
      headers,
      body: typeof body === 'string' ? new TextEncoder().encode(body) : body,
    };
    return routeHttp(req, ctx);
  };
  return { seen, send };
}

const text = (b: string | Uint8Array) => (typeof b === 'string' ? b : new TextDecoder().decode(b));

describe('KV translation', () => {
  it("carries uint64 flags exactly: ?flags= in, the digits out (Go's api.Lock flag 3304740253564472344)", async () => {
    // What the agent renders (core/agent/ops.ts renderKvEntry) for a flag above 2^53.
    const entry = {
      LockIndex: 1,
      Key: 'lock',
      Flags: rawJsonNumber('3304740253564472344'),
      Value: null,
      CreateIndex: 5,
      ModifyIndex: 5,
      Session: 's1',
    };
    const { seen, send } = recorder((req) =>
      req.type === 'kv.get' ? { status: 200, index: 5, body: [entry] } : { status: 200, body: true },
    );
    await send('PUT', '/v1/kv/lock?acquire=s1&flags=3304740253564472344');
    await send('PUT', '/v1/kv/x?flags=9007199254740991');
    expect(seen[0]).toMatchObject({ type: 'kv.acquire', flags: '3304740253564472344' });
    expect(seen[1]).toMatchObject({ type: 'kv.put', flags: 9007199254740991 });
    for (const bad of ['18446744073709551616', '-1', '1.5', 'x'])
      expect((await send('PUT', `/v1/kv/x?flags=${bad}`)).status, bad).toBe(400);
    const out = await send('GET', '/v1/kv/lock');
    expect(text(out.body)).toContain('"Flags":3304740253564472344,');
    const pretty = await send('GET', '/v1/kv/lock?pretty');
    expect(text(pretty.body)).toContain('"Flags": 3304740253564472344,');
  });
  it('maps the seed forms', async () => {
    const { seen, send } = recorder();
    await send('GET', '/v1/kv/?recurse');
    await send('PUT', '/v1/kv/web/key2?flags=42', 'soft.dog');
    await send('DELETE', '/v1/kv/web/sub?recurse');
    await send('PUT', '/v1/kv/web/key1?cas=1061', 'great');
    await send('GET', '/v1/kv/web/key2?index=10001&wait=5s');
    expect(seen[0]).toEqual({ type: 'kv.list', prefix: '', read: { consistency: 'default' } });
    expect(seen[1]).toMatchObject({ type: 'kv.put', key: 'web/key2', flags: 42 });
    expect(text((seen[1] as { value: Uint8Array }).value)).toBe('soft.dog');
    expect(seen[2]).toEqual({ type: 'kv.deleteTree', prefix: 'web/sub' });
    expect(seen[3]).toMatchObject({ type: 'kv.cas', key: 'web/key1', index: 1061 });
    expect(seen[4]).toEqual({
      type: 'kv.get',
      key: 'web/key2',
      read: { consistency: 'default', minIndex: 10001, waitMs: 5000 },
    });
  });
  it('percent-decodes keys, reads keys/separator/raw/acquire/release', async () => {
    const { seen, send } = recorder();
    await send('GET', '/v1/kv/a%2Fx%2F1');
    await send('GET', '/v1/kv/base?keys=True&separator=/');
    await send('GET', '/v1/kv/k%23?raw');
    await send('PUT', '/v1/kv/lock?acquire=s1', 'v');
    await send('PUT', '/v1/kv/lock?release=s1');
    await send('DELETE', '/v1/kv/k?cas=7');
    await send('GET', '/v1/kv/k?stale');
    expect(seen.map((r) => r.type)).toEqual([
      'kv.get',
      'kv.keys',
      'kv.get',
      'kv.acquire',
      'kv.release',
      'kv.delete',
      'kv.get',
    ]);
    expect(seen[0]).toMatchObject({ key: 'a/x/1' });
    expect(seen[1]).toMatchObject({ prefix: 'base', separator: '/' });
    expect(seen[2]).toMatchObject({ key: 'k#', raw: true });
    expect(seen[3]).toMatchObject({ key: 'lock', session: 's1' });
    expect(seen[5]).toEqual({ type: 'kv.delete', key: 'k', cas: 7 });
    expect(seen[6]).toMatchObject({ read: { consistency: 'stale' } });
  });
  it('rejects missing keys, bad params, both consistency modes, big bodies', async () => {
    const { seen, send } = recorder();
    expect((await send('GET', '/v1/kv/')).status).toBe(400);
    expect(text((await send('GET', '/v1/kv/')).body)).toBe('Missing key name');
    expect((await send('PUT', '/v1/kv/', 'x')).status).toBe(400);
    expect((await send('PUT', '/v1/kv/k?cas=abc', 'x')).status).toBe(400);
    expect((await send('PUT', '/v1/kv/k?flags=-1', 'x')).status).toBe(400);
    expect((await send('GET', '/v1/kv/k?stale&consistent')).status).toBe(400);
    expect((await send('GET', '/v1/kv/k?wait=5')).status).toBe(400);
    expect((await send('PUT', '/v1/kv/k', new Uint8Array(512 * 1024 + 1))).status).toBe(413);
    expect(seen).toEqual([]);
  });
});

describe('wire rules', () => {
  it('X-Consul-Index on blocking reads, floored at 1, also on 404; plain-text errors', async () => {
    const { send } = recorder((req) =>
      req.type === 'kv.get'
        ? { status: 404, body: null, index: 0, knownLeader: true, lastContactMs: 0 }
        : { status: 200, body: [], index: 12, knownLeader: true, lastContactMs: 0 },
    );
    const missing = await send('GET', '/v1/kv/nope');
    expect(missing.status).toBe(404);
    expect(missing.headers['X-Consul-Index']).toBe('1');
    expect(missing.headers['X-Consul-KnownLeader']).toBe('true');
    expect(missing.headers['X-Consul-LastContact']).toBe('0');
    expect(missing.headers['Content-Type']).toMatch(/^text\/plain/);
    const list = await send('GET', '/v1/catalog/nodes');
    expect(list.headers['X-Consul-Index']).toBe('12');
    expect(list.headers['Content-Type']).toBe('application/json');
  });
  it('operator raft peer removal: DELETE with ?address or ?id', async () => {
    const { seen, send } = recorder(() => ({ status: 200, body: null }));
    expect((await send('DELETE', '/v1/operator/raft/peer?address=10.0.0.3:8300')).status).toBe(200);
    await send('DELETE', '/v1/operator/raft/peer?id=abc');
    expect(seen).toEqual([
      { type: 'operator.raft.removePeer', peer: '10.0.0.3:8300' },
      { type: 'operator.raft.removePeer', peer: 'abc' },
    ]);
    expect((await send('GET', '/v1/operator/raft/peer')).status).toBe(405);
  });
  it('coordinate endpoints: datacenters, nodes (blocking), node, update with case-insensitive keys', async () => {
    const { seen, send } = recorder();
    await send('GET', '/v1/coordinate/datacenters');
    await send('GET', '/v1/coordinate/nodes?index=3&wait=1s');
    await send('GET', '/v1/coordinate/node/n1?stale');
    const coord = { vec: [0, 0, 0, 0, 0, 0, 0, 0.001], error: 0.5, adjustment: 0, height: 0.00001 };
    await send('PUT', '/v1/coordinate/update', JSON.stringify({ node: 'n1', segment: '', coord }));
    expect(seen.map((r) => r.type)).toEqual([
      'coordinate.datacenters',
      'coordinate.nodes',
      'coordinate.node',
      'coordinate.update',
    ]);
    expect(seen[1]).toMatchObject({ read: { minIndex: 3, waitMs: 1000 } });
    expect(seen[2]).toMatchObject({ node: 'n1', read: { consistency: 'stale' } });
    expect(seen[3]).toEqual({
      type: 'coordinate.update',
      node: 'n1',
      coord: { Vec: coord.vec, Error: 0.5, Adjustment: 0, Height: 0.00001 },
    });
    expect((await send('PUT', '/v1/coordinate/update', '{"Coord":{}}')).status).toBe(400);
    expect((await send('PUT', '/v1/coordinate/update', '{"Node":"n1","Datacenter":"dc9"}')).status).toBe(500);
  });
  it('prepared queries: create, get, update, delete, execute with near and limit, explain; execute is GET only', async () => {
    const { seen, send } = recorder();
    await send('POST', '/v1/query', '{"name":"web","service":{"service":"web","onlypassing":true}}');
    await send('GET', '/v1/query?index=4&wait=1s');
    await send('GET', '/v1/query/abc');
    await send('PUT', '/v1/query/abc', '{"Service":{"Service":"db"}}');
    await send('DELETE', '/v1/query/abc');
    await send('GET', '/v1/query/geo-eu/execute?near=_agent&limit=3');
    await send('GET', '/v1/query/geo-eu/explain');
    expect(seen).toEqual([
      { type: 'query.create', definition: { Name: 'web', Service: { Service: 'web', OnlyPassing: true } } },
      { type: 'query.list', read: { consistency: 'default', minIndex: 4, waitMs: 1000 } },
      { type: 'query.get', id: 'abc', read: { consistency: 'default' } },
      { type: 'query.update', id: 'abc', definition: { Service: { Service: 'db' } } },
      { type: 'query.delete', id: 'abc' },
      // The caller's token travels with an execute: a failover into another DC is authorized there (7835b63).
      {
        type: 'query.execute',
        idOrName: 'geo-eu',
        near: '_agent',
        limit: 3,
        read: { consistency: 'default' },
        token: 'anonymous',
      },
      { type: 'query.explain', idOrName: 'geo-eu', read: { consistency: 'default' } },
    ]);
    expect((await send('PUT', '/v1/query/abc/execute')).status).toBe(405);
    expect((await send('GET', '/v1/query/abc/execute?limit=x')).status).toBe(400);
    expect((await send('PUT', '/v1/query')).status).toBe(405);
  });
  it('404 unknown path, 405 wrong method, legacy GETs accepted, 401 for ACLs, 500 unknown dc', async () => {
    // The core decides about ?dc= (its servers forward it over the WAN): a DC it knows no server of
    // answers 500 No path to datacenter, rendered as Consul's plain-text error.
    const { seen, send } = recorder((req) =>
      req.dc === 'dc2' ? { status: 500, body: null, error: 'No path to datacenter' } : { status: 200, body: true },
    );
    expect((await send('GET', '/v1/nope')).status).toBe(404);
    expect((await send('POST', '/v1/kv/x')).status).toBe(405);
    expect((await send('DELETE', '/v1/agent/services')).status).toBe(405);
    expect((await send('GET', '/v1/agent/service/register')).status).toBe(405);
    expect((await send('GET', '/v1/agent/check/pass/c1?note=ok')).status).toBe(200);
    expect((await send('GET', '/v1/agent/join/127.0.0.2')).status).toBe(200);
    expect((await send('GET', '/v1/agent/force-leave/n2')).status).toBe(200);
    expect((await send('GET', '/v1/agent/service/deregister/web')).status).toBe(200);
    expect((await send('GET', '/v1/agent/check/deregister/c1')).status).toBe(200);
    expect((await send('PUT', '/v1/acl/create')).status).toBe(401);
    const dc2 = await send('GET', '/v1/catalog/nodes?dc=dc2');
    expect([dc2.status, text(dc2.body)]).toEqual([500, 'No path to datacenter']);
    expect(seen.at(-1)).toMatchObject({ type: 'catalog.nodes', dc: 'dc2' });
    expect((await send('GET', '/v1/catalog/nodes?dc=dc1')).status).toBe(200);
    expect((await send('GET', '/')).status).toBe(200);
    expect(seen.map((r) => r.type)).toEqual([
      'agent.check.pass',
      'agent.join',
      'agent.forceLeave',
      'agent.service.deregister',
      'agent.check.deregister',
      'catalog.nodes',
      'catalog.nodes',
    ]);
    expect(seen[0]).toEqual({ type: 'agent.check.pass', id: 'c1', note: 'ok' });
  });
  it('accepts the token in header or query and ignores it', async () => {
    const { seen, send } = recorder();
    await send('GET', '/v1/agent/self?token=abc', '', { 'x-consul-token': 'def' });
    expect(seen).toEqual([{ type: 'agent.self' }]);
  });
  it('pretty-prints with ?pretty', async () => {
    const { send } = recorder(() => ({ status: 200, body: { a: [1] } }));
    expect(text((await send('GET', '/v1/agent/self?pretty')).body)).toBe('{\n    "a": [\n        1\n    ]\n}\n');
    expect(text((await send('GET', '/v1/agent/self')).body)).toBe('{"a":[1]}');
  });
  it('writes raw KV bytes as text/plain', async () => {
    const { send } = recorder(() => ({ status: 200, body: new Uint8Array([104, 105]), index: 3 }));
    const out = await send('GET', '/v1/kv/k?raw');
    expect(text(out.body)).toBe('hi');
    expect(out.headers['Content-Type']).toMatch(/^text\/plain/);
  });
  it('answers 500 when the agent throws or never answers', async () => {
    const thrower = { datacenter: 'dc1', call: async () => Promise.reject(new Error('boom')) };
    const a = await routeHttp({ method: 'GET', url: '/v1/agent/self', headers: {}, body: new Uint8Array() }, thrower);
    expect([a.status, text(a.body)]).toEqual([500, 'rpc error: boom']);
    const never = { datacenter: 'dc1', callTimeoutMs: 20, call: () => new Promise<AgentResponse>(() => {}) };
    const b = await routeHttp({ method: 'GET', url: '/v1/agent/self', headers: {}, body: new Uint8Array() }, never);
    expect([b.status, text(b.body)]).toEqual([500, 'rpc error: timeout']);
  });
});

describe('bodies: case-insensitive keys, Go durations, bad JSON', () => {
  it('service register from python-style lowercase keys', async () => {
    const { seen, send } = recorder();
    const out = await send(
      'PUT',
      '/v1/agent/service/register',
      JSON.stringify({
        name: 'web',
        id: 'web1',
        tags: ['rails'],
        port: 80,
        check: { script: 'true', interval: '10s', timeout: '1s' },
      }),
    );
    expect(out.status).toBe(200);
    expect(text(out.body)).toBe('');
    expect(seen[0]).toEqual({
      type: 'agent.service.register',
      service: {
        name: 'web',
        id: 'web1',
        tags: ['rails'],
        port: 80,
        checks: [{ script: 'true', intervalMs: 10_000, timeoutMs: 1000 }],
      },
    });
  });
  it('check register, TTL in Go duration, Check+Checks merged', async () => {
    const { seen, send } = recorder();
    await send(
      'PUT',
      '/v1/agent/check/register',
      JSON.stringify({ Name: 'mem', TTL: '100ms', Notes: 'n', serviceid: 'web1', status: 'passing' }),
    );
    await send(
      'PUT',
      '/v1/agent/service/register',
      JSON.stringify({
        Name: 'a',
        Check: { TTL: '10s' },
        Checks: [
          { HTTP: 'http://x/', Interval: '5s' },
          { TCP: 'x:1', Interval: 5e9 },
        ],
      }),
    );
    expect(seen[0]).toEqual({
      type: 'agent.check.register',
      check: { name: 'mem', ttlMs: 100, notes: 'n', serviceId: 'web1', status: 'passing' },
    });
    expect(seen[1]).toMatchObject({
      service: {
        checks: [{ ttlMs: 10_000 }, { http: 'http://x/', intervalMs: 5000 }, { tcp: 'x:1', intervalMs: 5000 }],
      },
    });
  });
  it('bad JSON → 400 with the parse error; bad types → 400; nothing reaches the agent', async () => {
    const { seen, send } = recorder();
    const bad = await send('PUT', '/v1/agent/service/register', '{"Name": "web",');
    expect(bad.status).toBe(400);
    expect(text(bad.body)).toMatch(/^Request decode failed: /);
    expect((await send('PUT', '/v1/agent/service/register', '{"Name": "web", "Port": "80"}')).status).toBe(400);
    expect((await send('PUT', '/v1/agent/check/register', '{"Name": "c", "TTL": "ten"}')).status).toBe(400);
    expect((await send('PUT', '/v1/txn', '[{"KV":{"Verb":"set","Key":"k","Value":"!!"}}]')).status).toBe(400);
    expect(
      (
        await send(
          'PUT',
          '/v1/txn',
          JSON.stringify(Array.from({ length: 65 }, () => ({ KV: { Verb: 'get', Key: 'k' } }))),
        )
      ).status,
    ).toBe(413);
    expect(seen).toEqual([]);
  });
  it('txn, session create (LockDelay forms), catalog register/deregister, event fire', async () => {
    const { seen, send } = recorder();
    await send(
      'PUT',
      '/v1/txn',
      JSON.stringify([
        { kv: { verb: 'set', key: 'k', value: Buffer.from('v').toString('base64'), flags: 3 } },
        { KV: { Verb: 'get', Key: 'k' } },
      ]),
    );
    await send(
      'PUT',
      '/v1/session/create',
      JSON.stringify({ name: 's', lockdelay: '15s', ttl: '10s', behavior: 'delete', checks: ['serfHealth'] }),
    );
    await send('PUT', '/v1/session/create', JSON.stringify({ LockDelay: 5 }));
    await send('PUT', '/v1/session/create');
    await send(
      'PUT',
      '/v1/catalog/register',
      JSON.stringify({
        Node: 'n9',
        Address: '10.0.0.9',
        Service: { Service: 'db', Port: 5432 },
        Check: { CheckID: 'c', Name: 'c', Status: 'passing', ServiceID: 'db' },
      }),
    );
    await send('PUT', '/v1/catalog/deregister', JSON.stringify({ node: 'n9', serviceid: 'db' }));
    await send('PUT', '/v1/event/fire/deploy?node=a.*', 'payload');
    await send('PUT', '/v1/event/fire/empty');
    expect(seen[0]).toMatchObject({
      type: 'txn',
      ops: [
        { verb: 'set', key: 'k', flags: 3 },
        { verb: 'get', key: 'k' },
      ],
    });
    expect(text((seen[0] as unknown as { ops: { value: Uint8Array }[] }).ops[0]!.value)).toBe('v');
    expect(seen[1]).toEqual({
      type: 'session.create',
      name: 's',
      lockDelayMs: 15_000,
      ttlMs: 10_000,
      behavior: 'delete',
      checks: ['serfHealth'],
    });
    expect(seen[2]).toEqual({ type: 'session.create', lockDelayMs: 5000 });
    expect(seen[3]).toEqual({ type: 'session.create' });
    expect(seen[4]).toEqual({
      type: 'catalog.register',
      node: 'n9',
      address: '10.0.0.9',
      service: { name: 'db', port: 5432 },
      checks: [{ id: 'c', name: 'c', status: 'passing', serviceId: 'db' }],
    });
    expect(seen[5]).toEqual({ type: 'catalog.deregister', node: 'n9', serviceId: 'db' });
    expect(seen[6]).toMatchObject({ type: 'event.fire', name: 'deploy', nodeFilter: 'a.*' });
    expect(seen[7]).toEqual({ type: 'event.fire', name: 'empty', payload: null });
  });
  it('health, catalog and maintenance query parameters', async () => {
    const { seen, send } = recorder();
    await send('GET', '/v1/health/service/web?passing=1&tag=rails');
    await send('GET', '/v1/health/state/critical');
    expect((await send('GET', '/v1/health/state/bogus')).status).toBe(400);
    await send('GET', '/v1/catalog/service/web?tag=rails');
    await send('GET', '/v1/catalog/nodes?node-meta=env:prod');
    await send('PUT', '/v1/agent/maintenance?enable=true&reason=upgrade');
    expect((await send('PUT', '/v1/agent/maintenance')).status).toBe(400);
    await send('PUT', '/v1/agent/service/maintenance/web?enable=false');
    expect(seen).toEqual([
      { type: 'health.service', service: 'web', tag: 'rails', passing: true, read: { consistency: 'default' } },
      { type: 'health.state', state: 'critical', read: { consistency: 'default' } },
      { type: 'catalog.service', service: 'web', tag: 'rails', read: { consistency: 'default' } },
      { type: 'catalog.nodes', nodeMeta: { env: 'prod' }, read: { consistency: 'default' } },
      { type: 'agent.maintenance', enable: true, reason: 'upgrade' },
      { type: 'agent.service.maintenance', id: 'web', enable: false },
    ]);
  });
});

describe('metrics', () => {
  const agentMetrics = {
    Gauges: [{ Name: 'consul.raft.term', Value: 3, Labels: {} }],
    Counters: [{ Name: 'consul.agent.op.write', Count: 7, Sum: 7, Labels: { kind: 'kv' } }],
    Samples: [{ Name: 'consul.raft.commit_ms', Count: 2, Sum: 5.5, Labels: {} }],
  };
  it('renders the agent figures and the HTTP layer figures as Prometheus text', async () => {
    const metrics = new HttpMetrics();
    metrics.record('GET', '/v1/kv/*', 200, 3.2);
    metrics.record('GET', '/v1/kv/*', 200, 700);
    const ctx = { datacenter: 'dc1', metrics, call: async () => ({ status: 200, body: agentMetrics }) };
    const out = await routeHttp(
      { method: 'GET', url: '/v1/agent/metrics?format=prometheus', headers: {}, body: new Uint8Array() },
      ctx,
    );
    const body = text(out.body);
    expect(out.headers['Content-Type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(body).toContain('consul_raft_term 3\n');
    expect(body).toContain('consul_agent_op_write_total{kind="kv"} 7\n');
    expect(body).toContain('consul_raft_commit_ms_sum 5.5\n');
    expect(body).toContain('consul_raft_commit_ms_count 2\n');
    expect(body).toContain('conclave_http_requests_total{method="GET",route="/v1/kv/*",code="200"} 2\n');
    expect(body).toContain(
      'conclave_http_request_duration_ms_bucket{method="GET",route="/v1/kv/*",code="200",le="5"} 1\n',
    );
    expect(body).toContain(
      'conclave_http_request_duration_ms_bucket{method="GET",route="/v1/kv/*",code="200",le="1000"} 2\n',
    );
    const json = await routeHttp({ method: 'GET', url: '/v1/agent/metrics', headers: {}, body: new Uint8Array() }, ctx);
    const parsed = JSON.parse(text(json.body)) as { Gauges: { Name: string }[] };
    expect(parsed.Gauges.map((g) => g.Name)).toEqual([
      'consul.raft.term',
      'conclave.http.in_flight',
      'conclave.http.blocking_in_flight',
    ]);
  });
  it('still serves the HTTP figures when the agent cannot answer', async () => {
    const ctx = { datacenter: 'dc1', metrics: new HttpMetrics(), call: async () => Promise.reject(new Error('down')) };
    const prom = await routeHttp(
      { method: 'GET', url: '/v1/agent/metrics?format=prometheus', headers: {}, body: new Uint8Array() },
      ctx,
    );
    expect(prom.status).toBe(200);
    expect(text(prom.body)).toContain('conclave_http_in_flight 0');
    expect(
      (await routeHttp({ method: 'GET', url: '/v1/agent/metrics', headers: {}, body: new Uint8Array() }, ctx)).status,
    ).toBe(500);
  });
});

describe('operator/autopilot/health rendering', () => {
  const server = (name: string, healthy: boolean, lastContactMs: number) => ({
    ID: `id-${name}`,
    Name: name,
    Address: `10.0.0.1:8300`,
    SerfStatus: healthy ? 'alive' : 'failed',
    Version: '1.0.0',
    Leader: name === 'a',
    LastContactMs: lastContactMs,
    LastTerm: 2,
    LastIndex: 40,
    Healthy: healthy,
    Voter: true,
    StableForMs: 60_000,
  });
  it('renders Go durations and StableSince; 200 when healthy, 429 when a server is not (as Consul)', async () => {
    let healthy = true;
    const { seen, send } = recorder(() => ({
      status: 200,
      body: {
        Healthy: healthy,
        FailureTolerance: healthy ? 1 : 0,
        LastContactThresholdMs: 600,
        Servers: [server('a', true, 0), server('b', healthy, healthy ? 12.5 : 4200), server('c', true, -1)],
      },
    }));
    const ok = await send('GET', '/v1/operator/autopilot/health');
    expect(seen[0]).toEqual({ type: 'operator.autopilot.health' });
    expect(ok.status).toBe(200);
    const body = JSON.parse(text(ok.body)) as { Servers: Record<string, unknown>[] } & Record<string, unknown>;
    expect(body).toMatchObject({ Healthy: true, FailureTolerance: 1 });
    expect(body['LastContactThresholdMs']).toBeUndefined();
    expect(body.Servers.map((x) => x['LastContact'])).toEqual(['0s', '12.5ms', 'never']);
    const since = Date.parse(String(body.Servers[0]!['StableSince']));
    expect(Math.abs(Date.now() - 60_000 - since)).toBeLessThan(5_000);
    expect(Object.keys(body.Servers[0]!)).toEqual([
      'ID',
      'Name',
      'Address',
      'SerfStatus',
      'Version',
      'Leader',
      'LastContact',
      'LastTerm',
      'LastIndex',
      'Healthy',
      'Voter',
      'StableSince',
    ]);
    healthy = false;
    const sick = await send('GET', '/v1/operator/autopilot/health');
    expect(sick.status).toBe(429);
    expect(JSON.parse(text(sick.body)).Servers[1].LastContact).toBe('4.2s');
  });
});
