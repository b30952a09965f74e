import { describe, expect, it } from 'vitest';
import { agentErrors, type AgentRequest, type AgentResponse } from '../../core/agent/api.js';
import { dnsZone, resolveDns, type DnsAnswer, type DnsRecord } from '../../core/agent/endpoints/dns.js';
import { checkDnsLookup, type DnsExchange, type DnsQuestion } from '../harnesses/agent-dns.js';

const zone = dnsZone('consul.', 'dc1');
const keep = <T>(list: T[]): T[] => list;

/** Runs the real lookup against canned responses, in order; returns what it read and answered. */
function lookup(name: string, qtype: string, responses: (AgentResponse | undefined)[]) {
  const exchanges: DnsExchange[] = [];
  const steps = resolveDns(name, qtype, zone, keep);
  let step = steps.next();
  while (!step.done) {
    const response = responses.shift();
    exchanges.push({ request: step.value as AgentRequest, response });
    step = steps.next(response);
  }
  return { exchanges, answer: step.value };
}

const ok = (body: unknown): AgentResponse => ({ status: 200, body }) as AgentResponse;
const instance = (node: string, status: string, extra: Record<string, unknown> = {}) => ({
  Node: { Node: node, Address: `10.0.0.${node.slice(1)}` },
  Service: { Service: 'web', Port: 80, Tags: ['Rails'], ...extra },
  Checks: [{ Status: 'passing' }, { Status: status }],
});
const web: DnsQuestion = { kind: 'service', service: 'web', tag: undefined };

// The scenarios themselves (agent/dns-lookups, multidc/dns-failover) pass at their seed in golden.test.ts.
describe("the DNS judge (sim/harnesses/agent-dns.ts) holds the agent's lookup to Consul's rules", () => {
  it('passes what the lookup answers: critical hidden, warning kept, tags in any case, SRV targets', () => {
    const health = ok([instance('n1', 'passing'), instance('n2', 'warning'), instance('n3', 'critical')]);
    for (const [name, qtype, question] of [
      ['web.service.consul.', 'A', web],
      ['WEB.service.consul.', 'SRV', web],
      ['rails.web.service.consul.', 'SRV', { ...web, tag: 'rails' }],
      ['_web._tcp.service.consul.', 'ANY', web],
    ] as const) {
      const { exchanges, answer } = lookup(name, qtype, [health]);
      expect(answer.rcode).toBe('NOERROR');
      expect(answer.answers).toHaveLength(2);
      expect(checkDnsLookup(question, name, qtype, zone, exchanges, answer)).toBeNull();
    }
  });

  it('fails an answer that keeps a critical instance, drops a warning one, or names the wrong target', () => {
    const health = ok([instance('n1', 'passing'), instance('n2', 'warning'), instance('n3', 'critical')]);
    const { exchanges, answer } = lookup('web.service.consul.', 'SRV', [health]);
    const critical: DnsRecord = {
      type: 'SRV',
      name: 'web.service.consul.',
      ttl: 0,
      data: { priority: 1, weight: 1, port: 80, target: 'n3.node.dc1.consul.' },
    };
    const withCritical: DnsAnswer = {
      ...answer,
      answers: [...answer.answers, critical],
      extras: [...answer.extras, [{ type: 'A', name: 'n3.node.dc1.consul.', ttl: 0, data: '10.0.0.3' }]],
    };
    expect(checkDnsLookup(web, 'web.service.consul.', 'SRV', zone, exchanges, withCritical)).toMatch(/records/);
    const withoutWarning: DnsAnswer = {
      ...answer,
      answers: answer.answers.slice(0, 1),
      extras: answer.extras.slice(0, 1),
    };
    expect(checkDnsLookup(web, 'web.service.consul.', 'SRV', zone, exchanges, withoutWarning)).toMatch(/records/);
    const wrongDc: DnsAnswer = {
      ...answer,
      answers: answer.answers.map((r) =>
        r.type === 'SRV' ? { ...r, data: { ...r.data, target: r.data.target.replace('.dc1.', '.dc2.') } } : r,
      ),
    };
    expect(checkDnsLookup(web, 'web.service.consul.', 'SRV', zone, exchanges, wrongDc)).toMatch(/records/);
  });

  it('a service address of its own is an `.addr` target; a failed read SERVFAIL; an unknown DC NXDOMAIN', () => {
    const own = ok([instance('n1', 'passing', { Address: '10.9.9.9' })]);
    const srv = lookup('web.service.consul.', 'SRV', [own]);
    expect(srv.answer.answers[0]).toMatchObject({ data: { target: '0a090909.addr.dc1.consul.' } });
    expect(checkDnsLookup(web, 'web.service.consul.', 'SRV', zone, srv.exchanges, srv.answer)).toBeNull();
    const down = lookup('web.service.consul.', 'A', [
      { status: 500, body: null, error: 'No cluster leader' } as AgentResponse,
    ]);
    expect(down.answer.rcode).toBe('SERVFAIL');
    expect(checkDnsLookup(web, 'web.service.consul.', 'A', zone, down.exchanges, down.answer)).toBeNull();
    expect(
      checkDnsLookup(web, 'web.service.consul.', 'A', zone, down.exchanges, {
        ...down.answer,
        rcode: 'NXDOMAIN',
        soa: 'authority',
      }),
    ).toMatch(/SERVFAIL/);
    const noPath = { status: 500, body: null, error: agentErrors.noPathToDc } as AgentResponse;
    const dc9 = lookup('web.service.dc9.consul.', 'A', [noPath]);
    expect(dc9.exchanges[0]!.request).toMatchObject({
      type: 'health.service',
      dc: 'dc9',
      read: { consistency: 'stale' },
    });
    expect(
      checkDnsLookup({ ...web, dc: 'dc9' }, 'web.service.dc9.consul.', 'A', zone, dc9.exchanges, dc9.answer),
    ).toBeNull();
  });
});
