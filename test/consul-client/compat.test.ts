/**
 * Client compatibility gaps found by real clients (Go `hashicorp/consul/api` v1.20, Patroni; issue 13
 * §5), each checked end to end over HTTP against a real single-server agent (agent.ts): the endpoints
 * the Go client calls that were missing, repeated `?tag=` filters, the metrics time field, and client
 * errors that must be 4xx, never 500.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from './agent.js';

let agent: TestAgent;
let base: string;

beforeAll(async () => {
  agent = await startTestAgent({ nodeName: 'n1' });
  base = `http://127.0.0.1:${agent.httpPort}`;
}, 30_000);
afterAll(async () => {
  await agent?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function http(method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`${base}${path}`, { method, ...(body !== undefined ? { body } : {}) });
  return { status: r.status, text: await r.text() };
}

async function eventually<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error('eventually: timed out');
    await sleep(25);
  }
}

describe('endpoints the Go client calls', () => {
  it('GET /v1/agent/service/:id answers the local service (404 naming an unknown id)', async () => {
    const reg = await http(
      'PUT',
      '/v1/agent/service/register',
      JSON.stringify({ ID: 'web1', Name: 'web', Tags: ['a', 'b'], Port: 8080, Meta: { v: '1' } }),
    );
    expect(reg.status).toBe(200);
    const got = await http('GET', '/v1/agent/service/web1');
    expect(got.status).toBe(200);
    expect(JSON.parse(got.text)).toMatchObject({
      ID: 'web1',
      Service: 'web',
      Tags: ['a', 'b'],
      Port: 8080,
      Meta: { v: '1' },
      Datacenter: 'dc1',
    });
    const missing = await http('GET', '/v1/agent/service/nope');
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('nope');
  });

  it('GET /v1/catalog/node-services/:node lists the node and its services as a list', async () => {
    await http('PUT', '/v1/agent/service/register', JSON.stringify({ ID: 'db1', Name: 'db', Port: 5432 }));
    const body = await eventually(async () => {
      const r = await http('GET', '/v1/catalog/node-services/n1');
      const parsed = JSON.parse(r.text) as { Node: { Node: string }; Services: { ID: string }[] };
      return r.status === 200 && parsed.Services.some((s) => s.ID === 'db1') && parsed;
    });
    expect(body.Node.Node).toBe('n1');
    expect(Array.isArray(body.Services)).toBe(true);
    const unknown = await http('GET', '/v1/catalog/node-services/ghost');
    expect(unknown.status).toBe(200);
    expect(JSON.parse(unknown.text)).toEqual({ Node: null, Services: [] });
  });
});

describe('filters and fields', () => {
  it('repeated ?tag= must all match (catalog and health)', async () => {
    for (const [id, tags] of [
      ['t1', ['a']],
      ['t2', ['a', 'zz']],
      ['t3', ['zz']],
    ] as const)
      await http('PUT', '/v1/agent/service/register', JSON.stringify({ ID: id, Name: 'tagged', Tags: tags }));
    const ids = async (path: string): Promise<string[]> => {
      const r = await http('GET', path);
      return (JSON.parse(r.text) as { ServiceID?: string; Service?: { ID: string } }[])
        .map((e) => e.ServiceID ?? e.Service!.ID)
        .sort();
    };
    await eventually(async () => (await ids('/v1/catalog/service/tagged')).length === 3);
    expect(await ids('/v1/catalog/service/tagged?tag=a')).toEqual(['t1', 't2']);
    expect(await ids('/v1/catalog/service/tagged?tag=a&tag=zz')).toEqual(['t2']);
    expect(await ids('/v1/health/service/tagged?tag=zz&tag=a')).toEqual(['t2']);
    expect(await ids('/v1/catalog/service/tagged?tag=a&tag=missing')).toEqual([]);
  });

  it('/v1/agent/metrics names its time field Timestamp, in Go’s UTC format', async () => {
    const r = await http('GET', '/v1/agent/metrics');
    expect(r.status).toBe(200);
    const body = JSON.parse(r.text) as Record<string, unknown>;
    expect(body['Timestamp']).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d0 \+0000 UTC$/);
    expect(body).not.toHaveProperty('TimestampMs');
  });

  it('?index= accepts any uint64 (a huge one blocks until the wait); beyond uint64 is a 400', async () => {
    const t0 = Date.now();
    const r = await http('GET', '/v1/kv/nothing?index=18446744073709551615&wait=200ms');
    expect(r.status).toBe(404);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect((await http('GET', '/v1/kv/nothing?index=18446744073709551616')).status).toBe(400);
  });
});

describe('client errors are 4xx, never 500', () => {
  it('deeply nested JSON answers 400', async () => {
    for (const body of ['['.repeat(100_000), `{"Name":${'['.repeat(5000)}1${']'.repeat(5000)}}`]) {
      const r = await http('PUT', '/v1/agent/service/register', body);
      expect(r.status, r.text.slice(0, 100)).toBe(400);
    }
    expect((await http('PUT', '/v1/txn', '['.repeat(100_000))).status).toBe(400);
  });

  it('session validation errors answer 4xx', async () => {
    const badCheck = await http('PUT', '/v1/session/create', JSON.stringify({ Checks: ['no-such-check'] }));
    expect(badCheck.status).toBeGreaterThanOrEqual(400);
    expect(badCheck.status).toBeLessThan(500);
    const badNode = await http('PUT', '/v1/session/create', JSON.stringify({ Node: 'ghost' }));
    expect(badNode.status).toBeGreaterThanOrEqual(400);
    expect(badNode.status).toBeLessThan(500);
    const renew = await http('PUT', '/v1/session/renew/00000000-0000-0000-0000-000000000000');
    expect(renew.status).toBe(404);
  });

  it('prepared-query validation errors answer 4xx', async () => {
    const noService = await http('POST', '/v1/query', JSON.stringify({ Name: 'q1', Service: { Service: '' } }));
    expect(noService.status).toBe(400);
    const first = await http('POST', '/v1/query', JSON.stringify({ Name: 'dup', Service: { Service: 'web' } }));
    expect(first.status).toBe(200);
    const dup = await http('POST', '/v1/query', JSON.stringify({ Name: 'dup', Service: { Service: 'web' } }));
    expect(dup.status).toBeGreaterThanOrEqual(400);
    expect(dup.status).toBeLessThan(500);
    const unknown = await http(
      'PUT',
      '/v1/query/00000000-0000-0000-0000-000000000000',
      JSON.stringify({ Name: 'x', Service: { Service: 'web' } }),
    );
    expect(unknown.status).toBeGreaterThanOrEqual(400);
    expect(unknown.status).toBeLessThan(500);
  });
});
