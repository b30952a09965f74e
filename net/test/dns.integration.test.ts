/**
 * DNS against a real agent: services registered through the HTTP API (agent and catalog endpoints),
 * health changed through TTL check updates, then resolved through UDP and TCP by our dig-style client.
 * Proves the data path end to end: a service whose check turns critical disappears from
 * `SVC.service.consul` (and reappears when passing), a warning one stays, the node's serfHealth
 * counts, tags filter in both forms, SRV targets resolve, and case does not matter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../../test/consul-client/agent.js';
import { dig } from '../dns/client.js';

let agent: TestAgent;
let base: string;

beforeAll(async () => {
  agent = await startTestAgent({ nodeName: 'dns1' });
  base = `http://127.0.0.1:${agent.httpPort}`;
}, 30_000);
afterAll(async () => agent?.stop());

const put = async (path: string, body?: unknown) => {
  const r = await fetch(base + path, { method: 'PUT', body: body === undefined ? undefined : JSON.stringify(body) });
  expect(r.status, path).toBe(200);
};

interface Rec {
  type: string;
  name: string;
  ttl?: number;
  data: unknown;
}
const q = async (name: string, type: 'A' | 'SRV' = 'A', transport: 'udp' | 'tcp' = 'udp') => {
  const { packet } = await dig(name, type, { host: '127.0.0.1', port: agent.dnsPort, transport });
  return {
    rcode: packet.rcode,
    answers: (packet.answers ?? []) as Rec[],
    additionals: (packet.additionals ?? []) as Rec[],
    authorities: (packet.authorities ?? []) as Rec[],
  };
};

/** Polls until a DNS answer satisfies `ok` (catalog writes and health updates are asynchronous). */
async function until(
  name: string,
  type: 'A' | 'SRV',
  ok: (r: Awaited<ReturnType<typeof q>>) => boolean,
): Promise<Awaited<ReturnType<typeof q>>> {
  const deadline = Date.now() + 30_000; // generous: a loaded machine slows catalog syncs
  for (;;) {
    const r = await q(name, type);
    if (ok(r)) return r;
    if (Date.now() > deadline) throw new Error(`${name} ${type}: last answer ${JSON.stringify(r)}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

describe('DNS on a real agent', () => {
  it('the agent node resolves with and without DC, in any case, over UDP and TCP', async () => {
    for (const transport of ['udp', 'tcp'] as const) {
      for (const name of [
        `${agent.nodeName}.node.consul`,
        `${agent.nodeName}.node.dc1.consul`,
        `${agent.nodeName.toUpperCase()}.NODE.CONSUL`,
      ]) {
        const r = await q(name, 'A', transport);
        expect(r.rcode).toBe('NOERROR');
        expect(r.answers.map((a) => [a.type, a.ttl, a.data])).toEqual([['A', 0, '127.0.0.1']]);
      }
    }
    const missing = await q('nobody.node.consul');
    expect(missing.rcode).toBe('NXDOMAIN');
    expect(missing.authorities[0]?.type).toBe('SOA');
  });

  it('a service with a critical check is hidden; passing or warning shows it', async () => {
    await put('/v1/agent/service/register', {
      Name: 'api',
      ID: 'api1',
      Port: 9001,
      Tags: ['blue'],
      Address: '10.20.0.1',
      Check: { TTL: '60s' },
    });
    await put('/v1/catalog/register', {
      Node: 'ext-a',
      Address: '10.20.0.2',
      Service: { ID: 'api2', Service: 'api', Port: 9002, Tags: ['green'] },
      Check: { CheckID: 'api2-alive', Name: 'alive', Status: 'passing', ServiceID: 'api2' },
    });
    // api1's TTL check starts critical: only the external instance answers.
    await until('api.service.consul', 'A', (r) => r.answers.length === 1 && r.answers[0]!.data === '10.20.0.2');
    await put('/v1/agent/check/pass/service:api1');
    await until('api.service.consul', 'A', (r) => r.answers.length === 2);
    await put('/v1/agent/check/warn/service:api1');
    await new Promise((res) => setTimeout(res, 200));
    expect((await q('api.service.consul')).answers.map((a) => a.data).sort()).toEqual(['10.20.0.1', '10.20.0.2']);
    await put('/v1/agent/check/fail/service:api1');
    await until('api.service.consul', 'A', (r) => r.answers.length === 1);
    // A critical node-level check hides every service on that node.
    await put('/v1/catalog/register', {
      Node: 'ext-a',
      Address: '10.20.0.2',
      Check: { CheckID: 'node-down', Name: 'node down', Status: 'critical' },
    });
    await until('api.service.consul', 'A', (r) => r.rcode === 'NXDOMAIN');
    await put('/v1/catalog/register', {
      Node: 'ext-a',
      Address: '10.20.0.2',
      Check: { CheckID: 'node-down', Name: 'node down', Status: 'passing' },
    });
    await put('/v1/agent/check/pass/service:api1');
    await until('api.service.consul', 'A', (r) => r.answers.length === 2);
  });

  it('tags, RFC 2782 and SRV with A records in additional', async () => {
    await until('api.service.consul', 'A', (r) => r.answers.length === 2);
    expect((await q('blue.api.service.consul')).answers.map((a) => a.data)).toEqual(['10.20.0.1']);
    expect((await q('_api._green.service.consul')).answers.map((a) => a.data)).toEqual(['10.20.0.2']);
    expect((await q('_api._tcp.service.dc1.consul')).answers).toHaveLength(2);
    const srv = await q('api.service.consul', 'SRV', 'tcp');
    const records = srv.answers.map((a) => a.data as { port: number; target: string }).sort((x, y) => x.port - y.port);
    expect(records).toEqual([
      // api1's service address (10.20.0.1) is not its node's (127.0.0.1): Consul names it by `.addr`.
      { priority: 1, weight: 1, port: 9001, target: '0a140001.addr.dc1.consul' },
      { priority: 1, weight: 1, port: 9002, target: 'ext-a.node.dc1.consul' },
    ]);
    expect(srv.additionals.map((a) => [a.name, a.data]).sort()).toEqual([
      ['0a140001.addr.dc1.consul', '10.20.0.1'],
      ['ext-a.node.dc1.consul', '10.20.0.2'],
    ]);
    expect((await q('0a140001.addr.dc1.consul')).answers.map((a) => a.data)).toEqual(['10.20.0.1']);
    // The consul service itself (the server registers it).
    expect((await q('consul.service.consul')).answers.map((a) => a.data)).toEqual(['127.0.0.1']);
  });

  it('a prepared query by name or id (QUERY.query.consul): its healthy instances, its DNS TTL, SRV', async () => {
    await until('api.service.consul', 'A', (r) => r.answers.length === 2);
    const created = await fetch(base + '/v1/query', {
      method: 'POST',
      body: JSON.stringify({ Name: 'api-q', Service: { Service: 'api', Tags: ['green'] }, DNS: { TTL: '15s' } }),
    });
    expect(created.status).toBe(200);
    const id = ((await created.json()) as { ID: string }).ID;
    for (const name of ['api-q.query.consul', 'API-Q.query.dc1.consul', `${id}.query.consul`]) {
      const r = await until(name, 'A', (x) => x.answers.length === 1);
      expect(r.answers.map((a) => [a.name, a.ttl, a.data])).toEqual([[name, 15, '10.20.0.2']]);
    }
    const srv = await until('api-q.query.consul', 'SRV', (x) => x.answers.length === 1);
    expect(srv.answers[0]!.data).toEqual({ priority: 1, weight: 1, port: 9002, target: 'ext-a.node.dc1.consul' });
    expect(srv.additionals.map((a) => [a.name, a.data])).toEqual([['ext-a.node.dc1.consul', '10.20.0.2']]);
    // The query finds no healthy instance (no Failover): NXDOMAIN, as an unknown query.
    await put('/v1/catalog/register', {
      Node: 'ext-a',
      Address: '10.20.0.2',
      Check: { CheckID: 'api2-alive', Name: 'alive', Status: 'critical', ServiceID: 'api2' },
    });
    await until('api-q.query.consul', 'A', (r) => r.rcode === 'NXDOMAIN');
    expect((await q('no-such-query.query.consul')).rcode).toBe('NXDOMAIN');
    await put('/v1/catalog/register', {
      Node: 'ext-a',
      Address: '10.20.0.2',
      Check: { CheckID: 'api2-alive', Name: 'alive', Status: 'passing', ServiceID: 'api2' },
    });
    await until('api-q.query.consul', 'A', (r) => r.answers.length === 1);
  });
});
