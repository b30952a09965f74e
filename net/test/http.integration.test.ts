/**
 * Consul's HTTP wire rules (consul-api.md §0–§2) against a real agent over real sockets, with plain
 * HTTP requests so that every header and status is visible: X-Consul-Index on blocking reads (never 0,
 * on 404, scoped per key and per table), the leader headers, percent-decoded keys, case-insensitive
 * JSON keys (python-consul's lowercase), presence-based flags, token header and ?token=, legacy GETs,
 * plain-text errors, unknown dc → 500, ?pretty, GET / → 200, blocking with ?index/&wait (and Go
 * durations), ?stale/?consistent, 413/400/404/405/401, nothing half-applied, and the Prometheus
 * metrics. Rows also covered by the npm client live in test/consul-client/consul.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../../test/consul-client/agent.js';

let agent: TestAgent;
let base: string;

beforeAll(async () => {
  agent = await startTestAgent({ nodeName: 'wire1' });
  base = `http://127.0.0.1:${agent.httpPort}`;
}, 30_000);
afterAll(async () => agent?.stop());

async function req(method: string, path: string, body?: string | Uint8Array, headers: Record<string, string> = {}) {
  const started = Date.now();
  const res = await fetch(base + path, { method, body, headers });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    ms: Date.now() - started,
    json: () => JSON.parse(text) as unknown,
  };
}
const index = (r: { headers: Headers }) => Number(r.headers.get('x-consul-index'));

describe('index and leader headers', () => {
  it('on every blocking-capable read, floored at 1, also on 404', async () => {
    const reads = [
      '/v1/kv/nothing-here',
      '/v1/kv/?recurse',
      '/v1/kv/?keys',
      '/v1/catalog/nodes',
      '/v1/catalog/services',
      '/v1/catalog/service/nothing',
      `/v1/catalog/node/${agent.nodeName}`,
      '/v1/health/state/any',
      `/v1/health/node/${agent.nodeName}`,
      '/v1/health/checks/nothing',
      '/v1/health/service/nothing',
      '/v1/session/list',
      `/v1/session/node/${agent.nodeName}`,
      '/v1/session/info/00000000-0000-0000-0000-000000000000',
      '/v1/event/list',
    ];
    for (const path of reads) {
      const r = await req('GET', path);
      expect([200, 404], path).toContain(r.status);
      expect(index(r), path).toBeGreaterThanOrEqual(1);
      expect(r.headers.get('x-consul-knownleader'), path).toMatch(/^(true|false)$/);
      expect(r.headers.get('x-consul-lastcontact'), path).toMatch(/^\d+$/);
    }
    const missing = await req('GET', '/v1/kv/nothing-here');
    expect([
      missing.status,
      missing.text,
      missing.headers.get('x-consul-knownleader'),
      missing.headers.get('x-consul-lastcontact'),
    ]).toEqual([404, '', 'true', '0']);
  });

  it('a single key reports its own ModifyIndex; unrelated writes do not move it; deleting raises the 404 index', async () => {
    await req('PUT', '/v1/kv/scoped/a', 'x');
    const a1 = await req('GET', '/v1/kv/scoped/a');
    const mine = (a1.json() as { ModifyIndex: number }[])[0]!.ModifyIndex;
    expect(index(a1)).toBe(mine);
    await req('PUT', '/v1/kv/scoped/b', 'y');
    await req('PUT', '/v1/catalog/register', JSON.stringify({ Node: 'elsewhere', Address: '10.0.0.2' }));
    expect(index(await req('GET', '/v1/kv/scoped/a'))).toBe(mine);
    // Prefix index: max ModifyIndex under the prefix.
    const b = (await req('GET', '/v1/kv/scoped/b').then((r) => r.json())) as { ModifyIndex: number }[];
    expect(index(await req('GET', '/v1/kv/scoped/?recurse'))).toBe(b[0]!.ModifyIndex);
    const before404 = index(await req('GET', '/v1/kv/scoped/gone'));
    await req('PUT', '/v1/kv/scoped/gone', 'z');
    await req('DELETE', '/v1/kv/scoped/gone');
    expect(index(await req('GET', '/v1/kv/scoped/gone'))).toBeGreaterThan(before404);
  });
});

describe('request parsing', () => {
  it('percent-decodes keys (%2F, %23) and keeps them distinct from raw forms', async () => {
    expect((await req('PUT', '/v1/kv/a%2Fx%2F1', 'one')).text).toBe('true');
    expect((await req('GET', '/v1/kv/a/x/1').then((r) => r.json())) as { Key: string }[]).toMatchObject([
      { Key: 'a/x/1' },
    ]);
    expect((await req('PUT', '/v1/kv/hash%23tag', 'h')).text).toBe('true');
    expect((await req('GET', '/v1/kv/hash%23tag').then((r) => r.json())) as { Key: string }[]).toMatchObject([
      { Key: 'hash#tag' },
    ]);
  });

  it('case-insensitive JSON keys (python-consul style) register a service with its check', async () => {
    const body = JSON.stringify({
      name: 'pysvc',
      id: 'pysvc1',
      tags: ['x'],
      port: 81,
      check: { ttl: '10s', notes: 'lower' },
    });
    expect((await req('PUT', '/v1/agent/service/register', body)).status).toBe(200);
    const services = (await req('GET', '/v1/agent/services').then((r) => r.json())) as Record<
      string,
      Record<string, unknown>
    >;
    expect(services.pysvc1).toMatchObject({ ID: 'pysvc1', Service: 'pysvc', Tags: ['x'], Port: 81 });
    const checks = (await req('GET', '/v1/agent/checks').then((r) => r.json())) as Record<
      string,
      Record<string, unknown>
    >;
    expect(checks['service:pysvc1']).toMatchObject({ ServiceID: 'pysvc1', Notes: 'lower', Status: 'critical' });
    // Check register with lowercase keys and a ServiceID.
    expect(
      (
        await req(
          'PUT',
          '/v1/agent/check/register',
          JSON.stringify({ name: 'extra', serviceid: 'pysvc1', ttl: '5s', status: 'passing' }),
        )
      ).status,
    ).toBe(200);
    const extra = (
      (await req('GET', '/v1/agent/checks').then((r) => r.json())) as Record<string, Record<string, unknown>>
    ).extra;
    expect(extra).toMatchObject({ ServiceID: 'pysvc1', Status: 'passing' });
    await req('PUT', '/v1/agent/service/deregister/pysvc1');
  });

  it('presence-based flags: ?recurse, ?recurse=1, ?keys=True, ?raw=true', async () => {
    await req('PUT', '/v1/kv/flags/a', 'A');
    for (const q of ['recurse', 'recurse=1', 'recurse=true'])
      expect(((await req('GET', `/v1/kv/flags?${q}`)).json() as unknown[]).length, q).toBe(1);
    expect((await req('GET', '/v1/kv/flags/?keys=True')).json()).toEqual(['flags/a']);
    const raw = await req('GET', '/v1/kv/flags/a?raw=true');
    expect([raw.text, raw.headers.get('content-type')]).toEqual(['A', 'text/plain; charset=utf-8']);
  });

  it('token in header and query is accepted', async () => {
    expect((await req('GET', '/v1/kv/flags/a?token=secret')).status).toBe(200);
    expect((await req('GET', '/v1/kv/flags/a', undefined, { 'X-Consul-Token': 'secret' })).status).toBe(200);
  });

  it('legacy GETs on join, force-leave, check pass/warn/fail, check and service deregister', async () => {
    await req('PUT', '/v1/agent/check/register', JSON.stringify({ Name: 'legacy', TTL: '30s' }));
    expect((await req('GET', '/v1/agent/check/pass/legacy?note=via-get')).status).toBe(200);
    expect(
      ((await req('GET', '/v1/agent/checks')).json() as Record<string, { Status: string; Output: string }>).legacy,
    ).toMatchObject({ Status: 'passing', Output: 'via-get' });
    expect((await req('GET', '/v1/agent/check/warn/legacy')).status).toBe(200);
    expect((await req('GET', '/v1/agent/check/fail/legacy')).status).toBe(200);
    expect((await req('GET', '/v1/agent/check/deregister/legacy')).status).toBe(200);
    expect(((await req('GET', '/v1/agent/checks')).json() as Record<string, unknown>).legacy).toBeUndefined();
    await req('PUT', '/v1/agent/service/register', JSON.stringify({ Name: 'legacysvc' }));
    expect((await req('GET', '/v1/agent/service/deregister/legacysvc')).status).toBe(200);
    expect(((await req('GET', '/v1/agent/services')).json() as Record<string, unknown>).legacysvc).toBeUndefined();
    expect((await req('GET', `/v1/agent/join/${agent.gossipAddress}`)).status).toBe(200);
    expect((await req('GET', '/v1/agent/force-leave/nobody')).status).toBeLessThan(600);
  });
});

describe('more rows', () => {
  it('check update sets status and output', async () => {
    await req('PUT', '/v1/agent/check/register', JSON.stringify({ Name: 'upd', TTL: '30s' }));
    expect(
      (await req('PUT', '/v1/agent/check/update/upd', JSON.stringify({ status: 'warning', output: 'half' }))).status,
    ).toBe(200);
    expect(
      ((await req('GET', '/v1/agent/checks')).json() as Record<string, Record<string, unknown>>).upd,
    ).toMatchObject({ Status: 'warning', Output: 'half' });
    expect((await req('PUT', '/v1/agent/check/update/upd', JSON.stringify({ Status: 'bogus' }))).status).toBe(400);
    await req('PUT', '/v1/agent/check/deregister/upd');
  });

  it('members ?wan=1, catalog ?node-meta, health ?passing=1', async () => {
    expect((await req('GET', '/v1/agent/members?wan=1')).status).toBe(200);
    await req(
      'PUT',
      '/v1/catalog/register',
      JSON.stringify({ Node: 'meta1', Address: '10.3.0.1', NodeMeta: { env: 'prod' } }),
    );
    await req(
      'PUT',
      '/v1/catalog/register',
      JSON.stringify({ Node: 'meta2', Address: '10.3.0.2', NodeMeta: { env: 'dev' } }),
    );
    expect(
      ((await req('GET', '/v1/catalog/nodes?node-meta=env:prod')).json() as { Node: string }[]).map((n) => n.Node),
    ).toEqual(['meta1']);
    await req(
      'PUT',
      '/v1/catalog/register',
      JSON.stringify({
        Node: 'meta1',
        Address: '10.3.0.1',
        Service: { Service: 'pp', ID: 'pp1' },
        Check: { CheckID: 'c1', Name: 'c1', Status: 'critical', ServiceID: 'pp1' },
      }),
    );
    await req(
      'PUT',
      '/v1/catalog/register',
      JSON.stringify({
        Node: 'meta2',
        Address: '10.3.0.2',
        Service: { Service: 'pp', ID: 'pp2' },
        Check: { CheckID: 'c2', Name: 'c2', Status: 'passing', ServiceID: 'pp2' },
      }),
    );
    expect(((await req('GET', '/v1/health/service/pp')).json() as unknown[]).length).toBe(2);
    const passing = (await req('GET', '/v1/health/service/pp?passing=1')).json() as { Node: { Node: string } }[];
    expect(passing.map((e) => e.Node.Node)).toEqual(['meta2']);
    expect(
      ((await req('GET', '/v1/health/checks/pp')).json() as { CheckID: string }[]).map((c) => c.CheckID).sort(),
    ).toEqual(['c1', 'c2']);
  });

  it('txn verbs: cas, get-tree, check-not-exists, delete-tree, delete-cas', async () => {
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    const ok = await req(
      'PUT',
      '/v1/txn',
      JSON.stringify([
        { KV: { Verb: 'check-not-exists', Key: 'tx/a' } },
        { KV: { Verb: 'set', Key: 'tx/a', Value: b64('1') } },
        { KV: { Verb: 'set', Key: 'tx/b', Value: b64('2'), Flags: 7 } },
        { KV: { Verb: 'get-tree', Key: 'tx/' } },
      ]),
    );
    expect(ok.status).toBe(200);
    const results = (
      ok.json() as { Results: { KV: { Key: string; Value: string | null; Flags: number; ModifyIndex: number } }[] }
    ).Results;
    expect(results.map((r) => r.KV.Key)).toEqual(['tx/a', 'tx/b', 'tx/a', 'tx/b']);
    expect(results.slice(2).map((r) => r.KV.Value)).toEqual([b64('1'), b64('2')]);
    const index = results[0]!.KV.ModifyIndex;
    expect(
      (
        await req(
          'PUT',
          '/v1/txn',
          JSON.stringify([{ KV: { Verb: 'cas', Key: 'tx/a', Value: b64('3'), Index: index } }]),
        )
      ).status,
    ).toBe(200);
    expect(
      (await req('PUT', '/v1/txn', JSON.stringify([{ KV: { Verb: 'delete-cas', Key: 'tx/a', Index: index } }]))).status,
    ).toBe(409);
    expect((await req('PUT', '/v1/txn', JSON.stringify([{ KV: { Verb: 'delete-tree', Key: 'tx/' } }]))).status).toBe(
      200,
    );
    expect((await req('GET', '/v1/kv/tx/?recurse')).status).toBe(404);
  });

  it('event fire with filters reports them', async () => {
    const fired = (await req('PUT', '/v1/event/fire/filtered?node=wire.*&service=web&tag=rails', 'x')).json() as Record<
      string,
      unknown
    >;
    expect(fired).toMatchObject({
      Name: 'filtered',
      NodeFilter: 'wire.*',
      ServiceFilter: 'web',
      TagFilter: 'rails',
      Version: 1,
    });
  });
});

describe('errors and misc', () => {
  it('GET / is 200; unknown path 404; wrong method 405; ACLs 401; unknown dc 500, all plain text', async () => {
    expect((await req('GET', '/')).status).toBe(200);
    const notFound = await req('GET', '/v1/nope');
    expect(notFound.status).toBe(404);
    const wrong = await req('POST', '/v1/kv/x');
    expect([wrong.status, wrong.headers.get('content-type')]).toEqual([405, 'text/plain; charset=utf-8']);
    expect((await req('DELETE', '/v1/catalog/nodes')).status).toBe(405);
    expect((await req('PUT', '/v1/acl/create', '{}')).status).toBe(401);
    expect((await req('GET', '/v1/acl/list')).status).toBe(401);
    for (const path of ['/v1/kv/x?dc=dc2', '/v1/catalog/nodes?dc=dc2', '/v1/health/service/web?dc=dc2']) {
      const r = await req('GET', path);
      expect([r.status, r.text], path).toEqual([500, 'No path to datacenter']);
    }
    expect(
      (await req('PUT', '/v1/catalog/register', JSON.stringify({ Datacenter: 'dc2', Node: 'n', Address: '1.1.1.1' })))
        .status,
    ).toBe(500);
    expect((await req('GET', '/v1/catalog/nodes?dc=dc1')).status).toBe(200);
    const noKey = await req('GET', '/v1/kv/');
    expect([noKey.status, noKey.text]).toEqual([400, 'Missing key name']);
  });

  it('?pretty indents JSON', async () => {
    const r = await req('GET', '/v1/catalog/datacenters?pretty');
    expect(r.text).toBe('[\n    "dc1"\n]\n');
    expect((await req('GET', '/v1/catalog/datacenters')).text).toBe('["dc1"]');
  });

  it('?stale and ?consistent each work; both together are a 400', async () => {
    await req('PUT', '/v1/kv/cons', 'c');
    expect((await req('GET', '/v1/kv/cons?stale')).status).toBe(200);
    expect((await req('GET', '/v1/kv/cons?consistent')).status).toBe(200);
    expect((await req('GET', '/v1/catalog/nodes?stale')).status).toBe(200);
    expect((await req('GET', '/v1/kv/cons?stale&consistent')).status).toBe(400);
    expect((await req('GET', '/v1/health/state/any?stale&consistent')).status).toBe(400);
  });

  it('bad JSON → 400 with the parse error; a big value → 413; nothing is half-applied', async () => {
    const bad = await req('PUT', '/v1/agent/service/register', '{"Name": "half", "Port": ');
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/^Request decode failed: .*JSON/);
    expect(((await req('GET', '/v1/agent/services')).json() as Record<string, unknown>).half).toBeUndefined();
    const typed = await req('PUT', '/v1/agent/service/register', '{"Name": "half", "Port": "80"}');
    expect(typed.status).toBe(400);
    expect(((await req('GET', '/v1/agent/services')).json() as Record<string, unknown>).half).toBeUndefined();
    const big = await req('PUT', '/v1/kv/big', new Uint8Array(512 * 1024 + 1));
    expect(big.status).toBe(413);
    expect((await req('GET', '/v1/kv/big')).status).toBe(404);
    expect((await req('PUT', '/v1/kv/big', new Uint8Array(512 * 1024))).text).toBe('true');
    // A txn with a failing op applies none of its sets.
    const txn = await req(
      'PUT',
      '/v1/txn',
      JSON.stringify([
        { KV: { Verb: 'set', Key: 'half/a', Value: 'YQ==' } },
        { KV: { Verb: 'cas', Key: 'half/b', Value: 'Yg==', Index: 12345 } },
      ]),
    );
    expect(txn.status).toBe(409);
    expect((await req('GET', '/v1/kv/half/a')).status).toBe(404);
  });

  it('Prometheus metrics include HTTP request counts and latencies and agent figures', async () => {
    const r = await req('GET', '/v1/agent/metrics?format=prometheus');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(r.text).toMatch(/^conclave_http_requests_total\{method="GET",route="\/v1\/kv\/\*",code="200"\} \d+$/m);
    expect(r.text).toMatch(/^conclave_http_request_duration_ms_bucket\{.*le="\+Inf"\} \d+$/m);
    expect(r.text).toMatch(/^conclave_http_blocking_in_flight \d+$/m);
    const json = (await req('GET', '/v1/agent/metrics')).json() as {
      Gauges: { Name: string }[];
      Counters: { Name: string }[];
    };
    expect(json.Counters.some((c) => c.Name === 'conclave.http.requests')).toBe(true);
    // Whatever the agent itself reports (Raft, gossip, parked queries) is rendered too.
    expect(r.text).toMatch(/^consul_raft_term \d+$/m);
    expect(r.text).toMatch(/^consul_agent_blocking_queries \d+$/m);
    const agentNames = json.Gauges.map((g) => g.Name).filter((n) => !n.startsWith('conclave.http.'));
    for (const name of agentNames) expect(r.text).toContain(name.replace(/[^a-zA-Z0-9_:]/g, '_'));
  });
});

describe('blocking queries', () => {
  it('returns at once when the index is behind, waits out ?wait (Go duration) when ahead, wakes on change', async () => {
    await req('PUT', '/v1/kv/block/k', 'v1');
    const now = await req('GET', '/v1/kv/block/k');
    const idx = index(now);
    const behind = await req('GET', `/v1/kv/block/k?index=${idx - 1}&wait=5s`);
    expect(behind.ms).toBeLessThan(1000);
    const timeout = await req('GET', `/v1/kv/block/k?index=${idx}&wait=300ms`);
    expect(timeout.status).toBe(200);
    expect(index(timeout)).toBe(idx);
    expect(timeout.ms).toBeGreaterThanOrEqual(280);
    expect(timeout.ms).toBeLessThan(300 + 300 / 16 + 1000);
    const parked = req('GET', `/v1/kv/block/k?index=${idx}&wait=10s`);
    await new Promise((r) => setTimeout(r, 100));
    await req('PUT', '/v1/kv/block/k', 'v2');
    const woken = await parked;
    expect(woken.ms).toBeLessThan(5000);
    expect(index(woken)).toBeGreaterThan(idx);
    expect((woken.json() as { Value: string }[])[0]!.Value).toBe(Buffer.from('v2').toString('base64'));
    expect((await req('GET', '/v1/kv/block/k?index=1&wait=5')).status).toBe(400);
  });

  it('blocking on catalog and health wakes on a service registration', async () => {
    const services = await req('GET', '/v1/catalog/services');
    const parked = req('GET', `/v1/catalog/services?index=${index(services)}&wait=10s`);
    const health = await req('GET', '/v1/health/service/blocky');
    const parkedHealth = req('GET', `/v1/health/service/blocky?index=${index(health)}&wait=10s`);
    await new Promise((r) => setTimeout(r, 100));
    await req('PUT', '/v1/agent/service/register', JSON.stringify({ Name: 'blocky' }));
    const [s, h] = await Promise.all([parked, parkedHealth]);
    expect(s.ms).toBeLessThan(5000);
    expect(Object.keys(s.json() as object)).toContain('blocky');
    expect(h.ms).toBeLessThan(5000);
    expect((h.json() as unknown[]).length).toBe(1);
    await req('PUT', '/v1/agent/service/deregister/blocky');
  });

  it('event list blocks until an event fires', async () => {
    const list = await req('GET', '/v1/event/list');
    const parked = req('GET', `/v1/event/list?index=${index(list)}&wait=10s`);
    await new Promise((r) => setTimeout(r, 100));
    const fired = (await req('PUT', '/v1/event/fire/wake', 'p')).json() as { ID: string };
    const woken = await parked;
    expect(woken.ms).toBeLessThan(5000);
    expect((woken.json() as { ID: string }[]).map((e) => e.ID)).toContain(fired.ID);
  });
});
