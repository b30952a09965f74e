/**
 * The DNS server over real UDP and TCP sockets on loopback, queried by a real DNS client
 * (dns-packet + node:dgram/net, net/dns/client.ts), against a catalog double that answers the
 * agent's catalog/health requests in Consul's JSON shape. Proves the DNS rules of consul-api.md §4:
 * node A lookups with and without DC, case-insensitivity, TTL 0, NXDOMAIN + SOA, service A (critical
 * hidden, shuffled), SRV + additional A, tag and RFC 2782 forms, UDP truncation at 512 bytes without
 * EDNS, TCP framing, malformed packets dropped. The real-agent DNS test is dns.integration.test.ts.
 */
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressOfLabel, addrLabel, isIpv4, isIpv6 } from '../../core/agent/endpoints/dns.js';
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import { dig, tcpExchange, udpExchange, encodeQuery } from '../dns/client.js';
import { durationSeconds, parseQueryName, reverseAddress, startDnsServer, type DnsServer } from '../dns/server.js';

interface Inst {
  node: string;
  address: string;
  port: number;
  tags: string[];
  critical?: boolean;
  serviceAddress?: string;
}

const nodes: Record<string, string> = { a1: '192.168.100.104', a2: '192.168.100.103', v6: 'fd00::1' };
const services: Record<string, Inst[]> = {
  web: [
    { node: 'a1', address: nodes.a1!, port: 80, tags: ['rails'] },
    { node: 'a2', address: nodes.a2!, port: 8080, tags: [] },
    { node: 'a3', address: '192.168.100.105', port: 80, tags: ['rails'], critical: true },
  ],
  db: [{ node: 'a2', address: nodes.a2!, port: 5432, tags: ['primary'], serviceAddress: '10.1.1.1' }],
  big: Array.from({ length: 60 }, (_, i) => ({
    node: `node-with-a-longish-name-${i}`,
    address: `10.0.${i >> 8}.${i & 255}`,
    port: 9000 + i,
    tags: [],
  })),
};

const calls: AgentRequest[] = [];
/** dc2, reached through `?dc=dc2` (the agent forwards it over the WAN): one node, b1. */
const dc2Nodes: Record<string, string> = { b1: '10.0.2.1' };

/**
 * Prepared queries as the agent answers `query.execute` (the store runs them; core/agent/failover.ts
 * fails over): `api` answers dc1's web instances in the server's order with DNS TTL 30s; `dr` found
 * nothing in dc1 and failed over to dc2 (b1); `empty` found nothing anywhere. In dc2 (`?dc=dc2`) `api`
 * answers b1.
 */
function executeDouble(req: AgentRequest & { type: 'query.execute' }): AgentResponse {
  const entry = (node: string, address: string, port: number) => ({
    Node: { Node: node, Address: address },
    Service: { Service: 'web', Address: '', Port: port, Tags: [] },
    Checks: [{ CheckID: 'serfHealth', Status: 'passing' }],
  });
  const b1 = entry('b1', dc2Nodes.b1!, 8081);
  const answer = (Nodes: unknown[], Datacenter: string, Failovers: number, TTL = '') => ({
    status: 200,
    index: 7,
    body: { Service: 'web', Nodes, DNS: { TTL }, Datacenter, Failovers },
  });
  const name = req.idOrName.toLowerCase();
  if (req.dc === 'dc2') return name === 'api' ? answer([b1], 'dc2', 0) : { status: 404, body: null, error: '' };
  if (name === 'api' || name === '8a9d6c3e-0000-4000-8000-000000000001')
    return answer([entry('a2', nodes.a2!, 8080), entry('a1', nodes.a1!, 80)], 'dc1', 0, '30s');
  if (name === 'dr') return answer([b1], 'dc2', 1);
  if (name === 'empty') return answer([], 'dc2', 1);
  return { status: 404, body: null, error: 'Query not found' };
}

async function catalogDouble(req: AgentRequest): Promise<AgentResponse> {
  calls.push(req);
  if (req.type === 'query.execute' && (req.dc === undefined || req.dc === 'dc2')) return executeDouble(req);
  if (req.dc === 'dc2' && (req.type === 'catalog.node' || req.type === 'catalog.nodes'))
    return req.type === 'catalog.node'
      ? {
          status: 200,
          body: dc2Nodes[req.node] ? { Node: { Node: req.node, Address: dc2Nodes[req.node] }, Services: {} } : null,
          index: 3,
        }
      : { status: 200, body: Object.entries(dc2Nodes).map(([Node, Address]) => ({ Node, Address })), index: 3 };
  if (req.dc !== undefined && req.dc !== 'dc1' && req.dc !== 'dc2')
    return { status: 500, body: null, error: 'No path to datacenter' };
  switch (req.type) {
    case 'catalog.node': {
      const address = nodes[req.node];
      const meta = req.node === 'a1' ? { rack: 'r1', 'rfc1035-spf': 'v=spf1 -all' } : {};
      return {
        status: 200,
        body: address ? { Node: { Node: req.node, Address: address, Meta: meta }, Services: {} } : null,
        index: 5,
      };
    }
    case 'catalog.nodes':
      return { status: 200, body: Object.entries(nodes).map(([Node, Address]) => ({ Node, Address })), index: 5 };
    case 'catalog.services':
      return { status: 200, body: Object.fromEntries(Object.keys(services).map((s) => [s, []])), index: 5 };
    case 'health.service': {
      const list = services[req.service] ?? [];
      return {
        status: 200,
        index: 5,
        body: list.map((i) => ({
          Node: { Node: i.node, Address: i.address },
          Service: { Service: req.service, Address: i.serviceAddress ?? '', Port: i.port, Tags: i.tags },
          Checks: [
            { CheckID: 'serfHealth', Status: 'passing' },
            ...(i.critical ? [{ CheckID: 'service:x', Status: 'critical' }] : []),
          ],
        })),
      };
    }
    default:
      return { status: 500, body: null, error: `unexpected ${req.type}` };
  }
}

let server: DnsServer;
const host = '127.0.0.1';

beforeAll(async () => {
  server = await startDnsServer({ host, port: 0, domain: 'consul.', datacenter: 'dc1', call: catalogDouble });
});
afterAll(async () => {
  await server.close();
});

/** dns-packet's Answer union without the OPT member, for reading fields in assertions. */
interface Rec {
  name: string;
  type: string;
  ttl?: number;
  data: unknown;
}
const recs = (list: unknown): Rec[] => (list ?? []) as Rec[];

const opts = (transport: 'udp' | 'tcp' = 'udp') => ({ host, port: server.port, transport });

describe('parseQueryName', () => {
  it('reads node, service, tag, RFC 2782 and DC forms', () => {
    const d = ['consul'];
    expect(parseQueryName('a2.node.consul.', d)).toEqual({ kind: 'node', node: 'a2', dc: undefined });
    expect(parseQueryName('A2.Node.DC1.Consul', d)).toEqual({ kind: 'node', node: 'a2', dc: 'dc1' });
    expect(parseQueryName('web.service.consul', d)).toEqual({
      kind: 'service',
      service: 'web',
      tag: undefined,
      dc: undefined,
    });
    expect(parseQueryName('rails.web.service.dc1.consul', d)).toEqual({
      kind: 'service',
      service: 'web',
      tag: 'rails',
      dc: 'dc1',
    });
    expect(parseQueryName('_web._rails.service.consul', d)).toEqual({
      kind: 'service',
      service: 'web',
      tag: 'rails',
      dc: undefined,
    });
    expect(parseQueryName('_web._tcp.service.consul', d)).toEqual({
      kind: 'service',
      service: 'web',
      tag: undefined,
      dc: undefined,
    });
    expect(parseQueryName('0a010101.addr.dc1.consul', d)).toEqual({ kind: 'addr', hex: '0a010101', dc: 'dc1' });
    expect(parseQueryName('consul.', d)).toEqual({ kind: 'zone' });
    expect(parseQueryName('example.com', d)).toEqual({ kind: 'outside' });
    expect(parseQueryName('what.consul', d)).toEqual({ kind: 'unknown' });
    expect(parseQueryName('node.consul', d)).toEqual({ kind: 'unknown' });
    expect(parseQueryName('API.query.consul', d)).toEqual({ kind: 'query', query: 'api', dc: undefined });
    expect(parseQueryName('my.api.query.dc2.consul', d)).toEqual({ kind: 'query', query: 'my.api', dc: 'dc2' });
    expect(parseQueryName('query.consul', d)).toEqual({ kind: 'unknown' });
  });
  it("reads a prepared query's DNS TTL as Go's time.ParseDuration", () => {
    expect(['10s', '1m30s', '1.5h', '500ms', '0', '2h0m0s'].map(durationSeconds)).toEqual([10, 90, 5400, 0, 0, 7200]);
    expect(['x', '10', '-5s', 's', '1d'].map(durationSeconds)).toEqual(Array(5).fill(undefined));
  });
});

describe('node lookups (the seed: dig @127.0.0.1 -p 8600 a2.node.consul)', () => {
  for (const transport of ['udp', 'tcp'] as const) {
    it(`answers A with TTL 0, authoritative, over ${transport}`, async () => {
      for (const name of ['a2.node.consul', 'a2.node.dc1.consul', 'A2.NODE.Consul']) {
        const { packet } = await dig(name, 'A', opts(transport));
        expect(packet.rcode).toBe('NOERROR');
        expect(packet.flag_aa).toBe(true);
        expect(packet.flag_ra).toBe(false);
        expect(packet.answers).toEqual([
          { name, type: 'A', ttl: 0, class: 'IN', flush: false, data: '192.168.100.103' },
        ]);
      }
      const a1 = await dig('a1.node.dc1.consul', 'A', opts(transport));
      expect(a1.packet.answers?.[0]).toMatchObject({ data: '192.168.100.104' });
    });
  }
  it('answers AAAA for an IPv6 node and NODATA (+SOA) for A of it', async () => {
    expect((await dig('v6.node.consul', 'AAAA', opts())).packet.answers?.[0]).toMatchObject({
      type: 'AAAA',
      data: 'fd00::1',
    });
    const none = await dig('v6.node.consul', 'A', opts());
    expect(none.packet.rcode).toBe('NOERROR');
    expect(none.packet.answers).toEqual([]);
    expect(none.packet.authorities?.[0]?.type).toBe('SOA');
  });
  it('NAME.node.DC.consul of another DC asks the agent with ?dc= (issue 17); an unknown DC is NXDOMAIN', async () => {
    calls.length = 0;
    const b1 = await dig('b1.node.dc2.consul', 'A', opts());
    expect(b1.packet.answers?.[0]).toMatchObject({ name: 'b1.node.dc2.consul', type: 'A', data: '10.0.2.1' });
    expect(calls[0]).toMatchObject({ type: 'catalog.node', node: 'b1', dc: 'dc2' });
    // Our own DC named explicitly is asked without ?dc=.
    calls.length = 0;
    await dig('a1.node.dc1.consul', 'A', opts());
    expect(calls[0]).not.toHaveProperty('dc');
    expect((await dig('b1.node.dc9.consul', 'A', opts())).packet.rcode).toBe('NXDOMAIN');
  });
  it('NXDOMAIN with the SOA in authority for unknown names', async () => {
    for (const name of [
      'nope.node.consul',
      'a2.node.dc2.consul',
      'a2.node.dc9.consul',
      'nosvc.service.consul',
      'junk.consul',
    ]) {
      const { packet } = await dig(name, 'A', opts());
      expect(packet.rcode, name).toBe('NXDOMAIN');
      expect(packet.answers).toEqual([]);
      expect(packet.authorities?.[0]).toMatchObject({
        type: 'SOA',
        name: 'consul',
        ttl: 0,
        data: { mname: 'ns.consul', rname: 'postmaster.consul', minimum: 0 },
      });
    }
  });
  it('TXT: the node meta as key=value (an rfc1035- key gives its bare value); A queries carry none', async () => {
    const txt = await dig('a1.node.consul', 'TXT', opts());
    expect(txt.packet.rcode).toBe('NOERROR');
    expect(
      recs(txt.packet.answers).map((a) => [a.type, (a.data as Buffer[]).map((b) => b.toString()).join('')]),
    ).toEqual([
      ['TXT', 'rack=r1'],
      ['TXT', 'v=spf1 -all'],
    ]);
    expect(recs((await dig('a1.node.consul', 'A', opts())).packet.answers).map((a) => a.type)).toEqual(['A']);
  });
  it('PTR: in-addr.arpa names the node with that address; unknown addresses are NXDOMAIN', async () => {
    const ptr = await dig('103.100.168.192.in-addr.arpa', 'PTR', opts());
    expect(ptr.packet.rcode).toBe('NOERROR');
    expect(recs(ptr.packet.answers)).toMatchObject([{ type: 'PTR', ttl: 0, data: 'a2.node.dc1.consul' }]);
    expect((await dig('9.9.9.9.in-addr.arpa', 'PTR', opts())).packet.rcode).toBe('NXDOMAIN');
    expect(reverseAddress('1.2.3.4.in-addr.arpa.')).toBe('4.3.2.1');
    for (const bad of ['256.1.1.1.in-addr.arpa', '01.1.1.1.in-addr.arpa', '1.1.1.in-addr.arpa', 'x.consul'])
      expect(reverseAddress(bad), bad).toBeUndefined();
  });
  it('REFUSED outside the domain (no recursors)', async () => {
    expect((await dig('example.com', 'A', opts())).packet.rcode).toBe('REFUSED');
  });
});

describe('service lookups', () => {
  it('one A per healthy instance; any critical check hides it', async () => {
    const { packet } = await dig('web.service.consul', 'A', opts());
    expect(packet.rcode).toBe('NOERROR');
    expect(
      recs(packet.answers)
        .map((a) => a.data)
        .sort(),
    ).toEqual(['192.168.100.103', '192.168.100.104']);
    expect(recs(packet.answers).every((a) => a.ttl === 0)).toBe(true);
  });
  it('uses the service address over the node address; SRV names it by .addr', async () => {
    expect(recs((await dig('db.service.consul', 'A', opts())).packet.answers).map((a) => a.data)).toEqual(['10.1.1.1']);
    const srv = await dig('db.service.consul', 'SRV', opts());
    expect(recs(srv.packet.answers).map((a) => a.data)).toEqual([
      { priority: 1, weight: 1, port: 5432, target: '0a010101.addr.dc1.consul' },
    ]);
    expect(recs(srv.packet.additionals).map((a) => [a.name, a.data])).toEqual([
      ['0a010101.addr.dc1.consul', '10.1.1.1'],
    ]);
    expect(recs((await dig('0a010101.addr.dc1.consul', 'A', opts())).packet.answers).map((a) => a.data)).toEqual([
      '10.1.1.1',
    ]);
    expect(
      recs((await dig('fd000000000000000000000000000001.addr.consul', 'AAAA', opts())).packet.answers).map(
        (a) => a.data,
      ),
    ).toEqual(['fd00::1']);
  });
  it('shuffles the order', async () => {
    const firsts = new Set<string>();
    for (let i = 0; i < 40 && firsts.size < 2; i++)
      firsts.add(String(recs((await dig('web.service.consul', 'A', opts())).packet.answers)[0]?.data));
    expect(firsts.size).toBe(2);
  });
  it('SRV answers with A records in additional', async () => {
    const { packet } = await dig('web.service.consul', 'SRV', opts('tcp'));
    const srv = recs(packet.answers).map(
      (a) => a.data as { priority: number; weight: number; port: number; target: string },
    );
    expect(srv.sort((x, y) => x.port - y.port)).toEqual([
      { priority: 1, weight: 1, port: 80, target: 'a1.node.dc1.consul' },
      { priority: 1, weight: 1, port: 8080, target: 'a2.node.dc1.consul' },
    ]);
    expect(
      recs(packet.additionals)
        .map((a) => [a.name, a.type, a.data])
        .sort() as unknown[],
    ).toEqual([
      ['a1.node.dc1.consul', 'A', '192.168.100.104'],
      ['a2.node.dc1.consul', 'A', '192.168.100.103'],
    ]);
  });
  it('filters by tag, in both forms', async () => {
    for (const name of ['rails.web.service.consul', '_web._rails.service.consul', 'RAILS.web.service.dc1.consul']) {
      expect(
        recs((await dig(name, 'A', opts())).packet.answers).map((a) => a.data),
        name,
      ).toEqual(['192.168.100.104']);
    }
    expect((await dig('_web._tcp.service.consul', 'A', opts())).packet.answers).toHaveLength(2);
    expect((await dig('nosuchtag.web.service.consul', 'A', opts())).packet.rcode).toBe('NXDOMAIN');
  });
});

describe('prepared query lookups (QUERY.query[.DC].consul, issue 17)', () => {
  it('A: the instances the query answers, in its order, with its DNS TTL; by name in any case, or by id', async () => {
    for (const name of [
      'api.query.consul',
      'API.Query.dc1.consul',
      '8a9d6c3e-0000-4000-8000-000000000001.query.consul',
    ]) {
      calls.length = 0;
      const { packet } = await dig(name, 'A', opts());
      expect(packet.rcode, name).toBe('NOERROR');
      expect(recs(packet.answers).map((a) => [a.name, a.type, a.ttl, a.data])).toEqual([
        [name, 'A', 30, nodes.a2],
        [name, 'A', 30, nodes.a1],
      ]);
      // Executed once, stale (any server answers, as Consul's DNS), in this DC (no ?dc=).
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({ type: 'query.execute', read: { consistency: 'stale' } });
      expect(calls[0]).not.toHaveProperty('dc');
    }
  });
  it('SRV of a query that failed over names the nodes in the DC that answered, with their A in additional', async () => {
    const { packet } = await dig('dr.query.consul', 'SRV', opts());
    expect(recs(packet.answers).map((a) => [a.type, a.ttl, a.data])).toEqual([
      ['SRV', 0, { priority: 1, weight: 1, port: 8081, target: 'b1.node.dc2.consul' }],
    ]);
    expect(recs(packet.additionals).map((a) => [a.name, a.type, a.data])).toEqual([
      ['b1.node.dc2.consul', 'A', '10.0.2.1'],
    ]);
    const srv = await dig('api.query.consul', 'SRV', opts('tcp'));
    expect(recs(srv.packet.answers).map((a) => (a.data as { target: string }).target)).toEqual([
      'a2.node.dc1.consul',
      'a1.node.dc1.consul',
    ]);
  });
  it('QUERY.query.DC.consul executes the query in that DC (?dc=); an unknown DC is NXDOMAIN', async () => {
    calls.length = 0;
    const { packet } = await dig('api.query.dc2.consul', 'A', opts());
    expect(recs(packet.answers).map((a) => a.data)).toEqual(['10.0.2.1']);
    expect(calls[0]).toMatchObject({ type: 'query.execute', idOrName: 'api', dc: 'dc2' });
    expect((await dig('api.query.dc9.consul', 'A', opts())).packet.rcode).toBe('NXDOMAIN');
  });
  it('an unknown query, or one with no instance anywhere, is NXDOMAIN with the SOA', async () => {
    for (const name of ['nosuch.query.consul', 'empty.query.consul', 'dr.query.dc2.consul']) {
      const { packet } = await dig(name, 'A', opts());
      expect(packet.rcode, name).toBe('NXDOMAIN');
      expect(packet.authorities?.[0]?.type).toBe('SOA');
    }
  });
});

describe('truncation and framing', () => {
  it('truncates over UDP without EDNS at 512 bytes and sets TC; TCP carries everything', async () => {
    const udp = await dig('big.service.consul', 'SRV', opts('udp'));
    expect(udp.bytes).toBeLessThanOrEqual(512);
    expect(udp.packet.flag_tc).toBe(true);
    expect((udp.packet.answers ?? []).length).toBeGreaterThan(0);
    expect((udp.packet.answers ?? []).length).toBeLessThan(60);
    const edns = await dig('big.service.consul', 'A', { ...opts('udp'), ednsBytes: 4096 });
    expect(edns.packet.flag_tc).toBe(false);
    expect(edns.packet.answers).toHaveLength(60);
    const tcp = await dig('big.service.consul', 'SRV', opts('tcp'));
    expect(tcp.packet.flag_tc).toBe(false);
    expect(tcp.packet.answers).toHaveLength(60);
    expect(tcp.packet.additionals).toHaveLength(60);
  });
  it('drops malformed packets and keeps serving', async () => {
    const before = server.stats.dropped;
    expect(await udpExchange(host, server.port, Buffer.from([1, 2, 3]), 300)).toBeUndefined();
    expect(await udpExchange(host, server.port, Buffer.alloc(0), 300)).toBeUndefined();
    // A response (QR set) is not a query: dropped, so two servers can never ping-pong.
    const response = encodeQuery('a2.node.consul', 'A');
    response.writeUInt16BE(response.readUInt16BE(2) | 0x8000, 2);
    expect(await udpExchange(host, server.port, response, 300)).toBeUndefined();
    expect(await tcpExchange(host, server.port, Buffer.from([9, 9, 9, 9, 9]), 500)).toBeUndefined();
    expect(server.stats.dropped).toBeGreaterThanOrEqual(before + 3);
    expect((await dig('a2.node.consul', 'A', opts())).packet.rcode).toBe('NOERROR');
    expect((await dig('a2.node.consul', 'A', opts('tcp'))).packet.rcode).toBe('NOERROR');
  });
  it('answers FORMERR (well-formed, no question echoed) to a label holding a dot — found by the fuzzer', async () => {
    // "a\\.node.consul": the first label is the two bytes "a." — it decodes, but re-encoding it would corrupt the reply.
    const query = Buffer.from([
      201, 51, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 97, 46, 4, 110, 111, 100, 101, 6, 99, 111, 110, 115, 117, 108, 0, 0, 1,
      0, 1,
    ]);
    const raw = await udpExchange(host, server.port, query, 1000);
    expect(raw).toBeDefined();
    const reply = (await import('dns-packet')).default.decode(raw!) as {
      id?: number;
      rcode?: string;
      questions?: unknown[];
    };
    expect([reply.id, reply.rcode, reply.questions]).toEqual([51507, 'FORMERR', []]);
  });
  it('answers several pipelined queries on one TCP connection', async () => {
    const { connect } = await import('node:net');
    const socket = connect(server.port, host);
    const frames = ['a1.node.consul', 'a2.node.consul', 'web.service.consul'].map((n, i) => {
      const q = encodeQuery(n, 'A', {}, 100 + i);
      const p = Buffer.alloc(2);
      p.writeUInt16BE(q.length);
      return Buffer.concat([p, q]);
    });
    socket.write(Buffer.concat(frames));
    const ids = await new Promise<number[]>((resolve) => {
      let buf = Buffer.alloc(0);
      const got: number[] = [];
      socket.on('data', (c) => {
        buf = Buffer.concat([buf, c]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          got.push(buf.readUInt16BE(2));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
        }
        if (got.length === 3) resolve(got);
      });
    });
    socket.destroy();
    expect(ids.sort()).toEqual([100, 101, 102]);
  });
});

describe("the core's address checks agree with node:net (core may not import it)", () => {
  const v4 = fc
    .tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300), fc.boolean())
    .map(([a, b, c, d, zero]) => `${zero ? '0' : ''}${a}.${b}.${c}.${d}`);
  const v6 = fc
    .tuple(
      fc.array(fc.stringMatching(/^[0-9a-fA-F]{1,5}$/), { maxLength: 9 }),
      fc.array(fc.stringMatching(/^[0-9a-fA-F]{1,4}$/), { maxLength: 8 }),
      fc.constantFrom('', '::', ':'),
      fc.option(v4, { nil: undefined }),
    )
    .map(([head, tail, gap, ipv4]) => {
      const text = gap === '' ? [...head, ...tail].join(':') : `${head.join(':')}${gap}${tail.join(':')}`;
      return ipv4 === undefined ? text : `${text}${text.endsWith(':') || text === '' ? '' : ':'}${ipv4}`;
    });
  it('isIpv4 and isIpv6 give node:net verdicts on IPv4-, IPv6-like and arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(v4, v6, fc.string({ maxLength: 40 })), (text) => {
        expect(isIpv4(text)).toBe(net.isIPv4(text));
        if (!text.includes('%')) expect(isIpv6(text)).toBe(net.isIPv6(text));
      }),
      { numRuns: 5000 },
    );
  });
  it('addrLabel names an address by 8 or 32 hex digits, and addressOfLabel reads it back', () => {
    expect(addrLabel('10.0.0.7')).toBe('0a000007');
    expect(addrLabel('2001:db8::1')).toBe('20010db8000000000000000000000001');
    expect(addrLabel('::ffff:1.2.3.4')).toBeUndefined(); // an IPv4 tail has no hex label (it gave a malformed one)
    expect(addressOfLabel('0a000007')).toBe('10.0.0.7');
  });
});
