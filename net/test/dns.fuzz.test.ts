/**
 * Fuzzing the DNS server with fast-check (bounded): random bytes, and valid queries mutated by byte
 * flips, truncation, extension and header-count lies, plus random (well-formed) questions of every
 * type and name shape. Directly against `answerDns` (many runs) and over real UDP/TCP sockets (fewer
 * runs). Properties: never throws, never hangs, answers or drops; every answer decodes, carries the
 * query's id, is a response, and fits the transport's size limit; the server keeps answering.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import dnsPacket from 'dns-packet';
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import { dig, encodeQuery, tcpExchange, udpExchange } from '../dns/client.js';
import { answerDns, dnsContext, startDnsServer, type DnsServer } from '../dns/server.js';

/** A catalog double that answers with random, sometimes malformed, bodies. */
function chaoticCall(seed: { n: number }) {
  return async (req: AgentRequest): Promise<AgentResponse> => {
    seed.n = (seed.n * 1103515245 + 12345) >>> 0;
    const pick = seed.n % 7;
    if (pick === 0) throw new Error('agent down');
    if (pick === 1) return { status: 500, body: null, error: 'No cluster leader' };
    if (pick === 2) return { status: 200, body: null };
    if (pick === 3) return { status: 200, body: 'junk' };
    if (req.type === 'catalog.node')
      return { status: 200, body: { Node: { Node: 'a', Address: pick === 4 ? 'not-an-ip' : '10.0.0.1' } } };
    if (req.type === 'health.service') {
      return {
        status: 200,
        body: [
          {
            Node: { Node: 'x'.repeat(pick * 10) },
            Service: { Port: pick === 5 ? -1 : 80, Address: pick === 6 ? 'fd00::9' : '10.0.0.2', Tags: null },
            Checks: null,
          },
        ],
      };
    }
    return { status: 200, body: { web: [] } };
  };
}

const types = ['A', 'AAAA', 'SRV', 'ANY', 'TXT', 'SOA', 'MX', 'PTR', 'CNAME', 'NS'] as dnsPacket.RecordType[];
const label = fc.oneof(
  fc.constantFrom('a1', 'web', 'node', 'service', 'dc1', 'consul', '_web', '_tcp', 'rails', 'A2', 'x-y'),
  fc.stringMatching(/^[a-z0-9-]{1,20}$/),
);
const nameArb = fc.array(label, { minLength: 0, maxLength: 6 }).map((ls) => [...ls, 'consul'].join('.'));
const validQuery = fc
  .tuple(nameArb, fc.constantFrom(...types), fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }))
  .map(([name, type, edns]) => encodeQuery(name, type, edns === undefined ? {} : { ednsBytes: edns }));
const mutated = fc
  .tuple(
    validQuery,
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    fc.option(fc.nat({ max: 80 }), { nil: undefined }),
    fc.uint8Array({ maxLength: 20 }),
  )
  .map(([q, flips, cut, tail]) => {
    const b = Buffer.from(q);
    for (const [at, v] of flips) b[at % b.length] = v;
    const cutAt = cut === undefined ? b.length : Math.min(cut, b.length);
    return Buffer.concat([b.subarray(0, cutAt), Buffer.from(tail)]);
  });
const packetArb = fc.oneof(
  fc.uint8Array({ maxLength: 600 }).map((u) => Buffer.from(u)),
  mutated,
  validQuery,
);

function checkReply(query: Buffer, out: Buffer | undefined, limit: number): void {
  if (out === undefined) return; // a drop is allowed
  expect(out.length).toBeLessThanOrEqual(limit);
  const reply = dnsPacket.decode(out) as dnsPacket.Packet & { flag_qr?: boolean };
  expect(reply.type).toBe('response');
  expect(reply.id).toBe(query.readUInt16BE(0));
}

describe('DNS fuzz (direct)', () => {
  it('answers or drops every packet, never throws or hangs', async () => {
    const seed = { n: 7 };
    const ctx = dnsContext({ domain: 'consul.', datacenter: 'dc1', call: chaoticCall(seed) });
    await fc.assert(
      fc.asyncProperty(packetArb, fc.constantFrom('udp' as const, 'tcp' as const), async (packet, transport) => {
        const out = await Promise.race([
          answerDns(packet, ctx, transport),
          new Promise<'hung'>((r) => setTimeout(() => r('hung'), 2000)),
        ]);
        expect(out).not.toBe('hung');
        if (out === 'hung') return;
        // An EDNS client may get up to 4096 bytes over UDP; without EDNS 512 (checked in dns.test.ts).
        checkReply(packet, out, transport === 'tcp' ? 65535 : 4096);
      }),
      { numRuns: 1500 },
    );
  });
  it('keeps non-EDNS UDP answers within 512 bytes for any well-formed query', async () => {
    const ctx = dnsContext({
      domain: 'consul.',
      datacenter: 'dc1',
      call: async (req) =>
        req.type === 'health.service'
          ? {
              status: 200,
              body: Array.from({ length: 80 }, (_, i) => ({
                Node: { Node: `n${i}`.padEnd(40, 'x'), Address: `10.0.0.${i}` },
                Service: { Port: 1 },
                Checks: [],
              })),
            }
          : { status: 200, body: null },
    });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          nameArb,
          label.map((l) => `${l}.service.consul`),
        ),
        fc.constantFrom(...types),
        async (name, type) => {
          const q = encodeQuery(name, type);
          checkReply(q, await answerDns(q, ctx, 'udp'), 512);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('DNS fuzz (sockets)', () => {
  let server: DnsServer;
  beforeAll(async () => {
    server = await startDnsServer({
      host: '127.0.0.1',
      port: 0,
      domain: 'consul.',
      datacenter: 'dc1',
      call: chaoticCall({ n: 3 }),
    });
  });
  afterAll(async () => server.close());

  it('UDP and TCP: answer or drop, and keep serving', async () => {
    await fc.assert(
      fc.asyncProperty(packetArb, async (packet) => {
        checkReply(packet, await udpExchange('127.0.0.1', server.port, packet, 100), 4096);
      }),
      { numRuns: 40 },
    );
    await fc.assert(
      fc.asyncProperty(packetArb, async (packet) => {
        checkReply(packet, await tcpExchange('127.0.0.1', server.port, packet, 300), 65535);
      }),
      { numRuns: 30 },
    );
    // Still alive: a well-formed query gets a response (any rcode: the double is chaotic).
    let answered = false;
    for (let i = 0; i < 10 && !answered; i++)
      answered = !!(await dig('a1.node.consul', 'A', { host: '127.0.0.1', port: server.port }).catch(() => undefined));
    expect(answered).toBe(true);
  });
});
