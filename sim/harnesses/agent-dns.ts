/**
 * DNS clients of the agent harness (opt-in, `set dnsClients N`): what `dig @agent -p 8600` and every
 * resolver pointed at Consul do — service, tag, RFC 2782, node, prepared-query, PTR and `.addr` lookups
 * through random agents every 0.2–0.6 s during the faults, names in any case and now and then in a named
 * or unknown datacenter. Each lookup runs the agent's own DNS lookup (core/agent/endpoints/dns.ts, the
 * code behind the real DNS server) against the simulated agent, and its answer is judged against Consul's
 * DNS rules applied to the reads it was given — a second statement of those rules, written apart:
 *
 *  - every read is `stale` (allow_stale), asked of the named datacenter only when it is not the agent's;
 *  - a service answers each instance none of whose checks is critical (warning answers), with the tag when
 *    one is asked (any case; `_tcp`/`_udp` ask none); an SRV names the port and `<node>.node.<dc>.<zone>`,
 *    or `<hex>.addr.<dc>.<zone>` for a service address other than its node's; an A gives the instance's
 *    address (the service's, else the node's); nothing healthy is NXDOMAIN;
 *  - a name that finds nothing lowercased is looked up once more in the catalog's own spelling;
 *  - a node answers its address (A) and its meta (TXT); a prepared query answers the instances it returned
 *    in the datacenter that served them, with its DNS TTL; a PTR the nodes at the address;
 *  - a failed read is SERVFAIL, an unknown datacenter NXDOMAIN; a name outside the zone REFUSED.
 *
 * Draws from its own random stream, so scenarios without it draw exactly what they drew before.
 */
import { agentErrors, type AgentRequest, type AgentResponse } from '../../core/agent/api.js';
import {
  addrLabel,
  dnsZone,
  resolveDns,
  type DnsAnswer,
  type DnsRecord,
  type DnsZone,
} from '../../core/agent/endpoints/dns.js';
import type { NodeId } from '../../core/types.js';
import type { SimApi } from '../harness.js';
import type { Scenario } from '../scenario.js';
import type { AgentsHost } from './agent-host.js';

/** What the DNS clients need from the agent harness. */
export interface DnsHost extends AgentsHost {
  /** The datacenter an agent serves (its DNS zone's own). */
  readonly datacenterOf: (node: NodeId) => string;
  /** Service names the workloads register (besides `consul`), and node names beyond the agents'. */
  readonly serviceNames: readonly string[];
  /** The ones this scenario is about (its catalog or timeline services): asked for half the time. */
  readonly featuredServices: readonly string[];
  readonly externalNodes: readonly { readonly node: string; readonly address: string }[];
  /** Prepared query names the workloads create. */
  readonly queryNames: readonly string[];
  /** Every datacenter of a multi-DC scenario (a name may ask any of them); empty with one DC. */
  readonly datacenters: readonly string[];
}

/** What a client asked, as it built the name (the judge does not parse the name back). */
export type DnsQuestion =
  | { readonly kind: 'service'; readonly service: string; readonly tag: string | undefined; readonly dc?: string }
  | { readonly kind: 'node'; readonly node: string; readonly dc?: string }
  | { readonly kind: 'query'; readonly query: string; readonly dc?: string }
  | { readonly kind: 'ptr'; readonly address: string }
  | { readonly kind: 'addr'; readonly address: string }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'outside' };

export interface DnsExchange {
  readonly request: AgentRequest;
  readonly response: AgentResponse | undefined;
}

const serviceTypes = ['A', 'SRV', 'ANY', 'AAAA'] as const;
const nodeTypes = ['A', 'ANY', 'TXT'] as const;

export function startDnsClients(sim: SimApi, scenario: Scenario, count: number, host: DnsHost): void {
  if (count === 0) return;
  const prng = sim.random('agent-dns');
  const timeoutMs = 1000;
  const shuffle = <T>(list: T[]): T[] => {
    for (let i = list.length - 1; i > 0; i--) {
      const j = prng.below(i + 1);
      [list[i], list[j]] = [list[j]!, list[i]!];
    }
    return list;
  };
  const spell = (name: string): string => (prng.below(3) === 0 ? name.toUpperCase() : name);
  let judged = 0;
  const outcomes = new Map<string, number>();
  sim.at(scenario.safetyMs, () => {
    const tally = [...outcomes].map(([what, n]) => `${what} ${n}`).join(', ');
    sim.log(`dns: ${judged} lookups judged (${tally})`);
  });

  /** A question and its name in `zone`; a third name a datacenter (now and then one that does not exist). */
  const ask = (zone: DnsZone): { question: DnsQuestion; name: string; qtype: string } => {
    // 9 in 20 a service, 4 a node, 3 a prepared query, 1 each a PTR, an `.addr`, an unknown and an outside
    // name; without queries or external nodes their share goes to services and nodes.
    let roll = prng.below(20);
    if (roll >= 13 && roll < 16 && host.queryNames.length === 0) roll = 0;
    if ((roll === 16 || roll === 17) && host.externalNodes.length === 0) roll = 9;
    const dcs = host.datacenters.length > 0 ? host.datacenters : [zone.datacenter];
    const dcLabel = prng.below(3) === 0 ? (prng.below(4) === 0 ? 'dc9' : spell(prng.pick(dcs))) : undefined;
    const suffix = `${dcLabel !== undefined ? `.${dcLabel}` : ''}.${zone.zone}`;
    const dc = dcLabel !== undefined ? { dc: dcLabel } : {};
    if (roll < 9) {
      const service =
        host.featuredServices.length > 0 && prng.below(2) === 0
          ? prng.pick(host.featuredServices)
          : prng.pick(['consul', ...host.serviceNames]);
      const form = prng.below(4);
      const tag = form === 1 || form === 3 ? prng.pick(['rails', 'primary', 'nope']) : undefined;
      const name =
        form === 0
          ? `${spell(service)}.service${suffix}`
          : form === 1
            ? `${spell(tag!)}.${spell(service)}.service${suffix}`
            : form === 2
              ? `_${spell(service)}._${prng.pick(['tcp', 'udp'])}.service${suffix}`
              : `_${spell(service)}._${spell(tag!)}.service${suffix}`;
      return { question: { kind: 'service', service, tag, ...dc }, name, qtype: prng.pick(serviceTypes) };
    }
    if (roll < 13) {
      const node = prng.pick([...host.agents(), ...host.externalNodes.map((n) => n.node), 'nosuch']);
      return {
        question: { kind: 'node', node, ...dc },
        name: `${spell(node)}.node${suffix}`,
        qtype: prng.pick(nodeTypes),
      };
    }
    if (roll < 16) {
      const query = prng.pick(host.queryNames);
      return {
        question: { kind: 'query', query, ...dc },
        name: `${query}.query${suffix}`,
        qtype: prng.pick(['A', 'SRV']),
      };
    }
    if (roll === 16) {
      const address = prng.pick(host.externalNodes).address;
      return {
        question: { kind: 'ptr', address },
        name: `${address.split('.').reverse().join('.')}.in-addr.arpa.`,
        qtype: prng.pick(['PTR', 'ANY']),
      };
    }
    if (roll === 17) {
      const address = prng.pick(host.externalNodes).address;
      return { question: { kind: 'addr', address }, name: `${addrLabel(address)!}.addr.${zone.zone}`, qtype: 'A' };
    }
    if (roll === 18) return { question: { kind: 'unknown' }, name: `web.nosuchtype${suffix}`, qtype: 'A' };
    return { question: { kind: 'outside' }, name: 'example.com.', qtype: 'A' };
  };

  for (let p = 0; p < count; p++) {
    const lookup = (): void => {
      if (sim.phase !== 'safety') return;
      const via = prng.pick(host.agents());
      const zone = dnsZone('consul.', host.datacenterOf(via));
      const { question, name, qtype } = ask(zone);
      const exchanges: DnsExchange[] = [];
      const steps = resolveDns(name, qtype, zone, shuffle);
      const go = (response: AgentResponse | undefined): void => {
        const step = steps.next(response);
        if (step.done) {
          judged++;
          const what = step.value.rcode === 'NOERROR' && step.value.answers.length === 0 ? 'NODATA' : step.value.rcode;
          outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
          const problem = checkDnsLookup(question, name, qtype, zone, exchanges, step.value);
          if (problem !== null) sim.violation(`dns: ${qtype} ${name} via ${via}: ${problem}`);
          if (sim.phase === 'safety') sim.after(200 + prng.below(400), lookup);
          return;
        }
        const request = step.value;
        host.request(via, request, timeoutMs, (r) => {
          exchanges.push({ request, response: r });
          go(r);
        });
      };
      go(undefined);
    };
    sim.after(1500 + prng.below(500), lookup);
  }
}

// ───────────────────────────────────────────── the judge ───────────────────────────────────────────

interface Instance {
  readonly Node?: { readonly Node?: unknown; readonly Address?: unknown };
  readonly Service?: { readonly Address?: unknown; readonly Port?: unknown; readonly Tags?: unknown };
  readonly Checks?: unknown;
}

const ipv4 = (text: string): boolean =>
  /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(text) &&
  text.split('.').every((o) => String(Number(o)) === o && Number(o) <= 255);

const failedRead = (r: AgentResponse | undefined): boolean => r === undefined || r.status >= 500;

/** What a failed read must give: NXDOMAIN for an unknown datacenter, else SERVFAIL. */
const failureRcode = (r: AgentResponse | undefined): DnsAnswer['rcode'] =>
  r?.error === agentErrors.noPathToDc ? 'NXDOMAIN' : 'SERVFAIL';

const sortedText = (items: readonly unknown[]): string => JSON.stringify(items.map((i) => JSON.stringify(i)).sort());

/** The `?dc=` a read must carry for a name's datacenter label (lowercased, as Consul reads the name). */
function dcParam(zone: DnsZone, dc: string | undefined): string | undefined {
  return dc === undefined || dc.toLowerCase() === zone.datacenter.toLowerCase() ? undefined : dc.toLowerCase();
}

/** Null when a lookup's reads and answer keep Consul's DNS rules, else what broke. */
export function checkDnsLookup(
  question: DnsQuestion,
  name: string,
  qtype: string,
  zone: DnsZone,
  exchanges: readonly DnsExchange[],
  answer: DnsAnswer,
): string | null {
  const asked = (i: number): AgentRequest | undefined => exchanges[i]?.request;
  const readProblem = exchanges
    .map((e) => e.request)
    .find((r) => !('read' in r) || (r as { read?: { consistency?: string } }).read?.consistency !== 'stale');
  if (readProblem !== undefined) return `a DNS read not stale: ${JSON.stringify(readProblem)}`;
  const expectNothingAsked = (): string | null =>
    exchanges.length > 0 ? `read ${exchanges.length} times for a name that needs no read` : null;
  const soaFor = (rcode: DnsAnswer['rcode'], records: number): DnsAnswer['soa'] =>
    rcode === 'NXDOMAIN' || (rcode === 'NOERROR' && records === 0) ? 'authority' : 'none';
  const expectRcode = (rcode: DnsAnswer['rcode'], soa = soaFor(rcode, 0)): string | null => {
    if (answer.rcode !== rcode) return `answered ${answer.rcode}, Consul's rules give ${rcode}`;
    if (rcode !== 'NOERROR' && answer.answers.length > 0) return `${rcode} with ${answer.answers.length} records`;
    if (answer.soa !== soa) return `${rcode} with the SOA in '${answer.soa}', not '${soa}'`;
    return null;
  };
  /** Records against the expected ones, order aside (instances are shuffled). */
  const expectRecords = (records: readonly DnsRecord[], extras?: readonly (readonly DnsRecord[])[]): string | null => {
    if (answer.rcode !== 'NOERROR') return `answered ${answer.rcode}, expected ${records.length} records`;
    if (sortedText(answer.answers) !== sortedText(records))
      return `records ${JSON.stringify(answer.answers)}, Consul's rules give ${JSON.stringify(records)}`;
    if (extras !== undefined) {
      const pairs = (a: readonly DnsRecord[], e: readonly (readonly DnsRecord[])[]) => a.map((r, i) => [r, e[i] ?? []]);
      if (sortedText(pairs(answer.answers, answer.extras)) !== sortedText(pairs(records, extras)))
        return `additional records ${JSON.stringify(answer.extras)}, expected ${JSON.stringify(extras)}`;
    }
    if (answer.soa !== soaFor('NOERROR', records.length)) return `NOERROR with the SOA in '${answer.soa}'`;
    return null;
  };
  const addressRecord = (owner: string, address: string, type: string, ttl = 0): DnsRecord[] =>
    ipv4(address) && (type === 'A' || type === 'ANY') ? [{ type: 'A', name: owner, ttl, data: address }] : [];

  switch (question.kind) {
    case 'outside':
      return expectNothingAsked() ?? expectRcode('REFUSED', 'none');
    case 'unknown':
      return expectNothingAsked() ?? expectRcode('NXDOMAIN');
    case 'addr':
      return expectNothingAsked() ?? expectRecords(addressRecord(name, question.address, qtype));
    case 'ptr': {
      const first = asked(0);
      if (first?.type !== 'catalog.nodes') return `a PTR read ${first?.type ?? 'nothing'}, not catalog.nodes`;
      const r = exchanges[0]!.response;
      if (failedRead(r)) return expectRcode('SERVFAIL', 'none');
      const nodes = Array.isArray(r!.body) ? (r!.body as { Node?: unknown; Address?: unknown }[]) : [];
      const records: DnsRecord[] = nodes
        .filter((n) => n.Address === question.address && typeof n.Node === 'string')
        .map((n) => ({ type: 'PTR', name, ttl: 0, data: `${String(n.Node)}.node.${zone.datacenter}.${zone.zone}` }));
      return records.length === 0 ? expectRcode('NXDOMAIN', 'none') : expectRecords(records);
    }
    case 'node': {
      const wanted = question.node.toLowerCase();
      const dc = dcParam(zone, question.dc);
      const readOf = (i: number, node: string): string | null => {
        const r = asked(i) as { type?: string; node?: string; dc?: string } | undefined;
        return r?.type === 'catalog.node' && r.node === node && r.dc === dc
          ? null
          : `read ${JSON.stringify(r)}, not catalog.node ${node}${dc ? ` in ${dc}` : ''}`;
      };
      let at = 0;
      let found = readOf(0, wanted);
      if (found !== null) return found;
      if (failedRead(exchanges[0]!.response)) return expectRcode(failureRcode(exchanges[0]!.response));
      if (exchanges[0]!.response!.body == null) {
        const list = asked(1) as { type?: string } | undefined;
        if (list?.type !== 'catalog.nodes') return `a node not found, then read ${list?.type ?? 'nothing'}`;
        const r = exchanges[1]!.response;
        if (failedRead(r)) return expectRcode(failureRcode(r));
        const names = (Array.isArray(r!.body) ? (r!.body as { Node?: unknown }[]) : []).map((n) => String(n.Node));
        const spelled = names.find((n) => n.toLowerCase() === wanted);
        if (spelled === undefined || spelled === wanted) return expectRcode('NXDOMAIN');
        found = readOf(2, spelled);
        if (found !== null) return found;
        if (failedRead(exchanges[2]!.response)) return expectRcode(failureRcode(exchanges[2]!.response));
        if (exchanges[2]!.response!.body == null) return expectRcode('NXDOMAIN');
        at = 2;
      }
      const record = (exchanges[at]!.response!.body as { Node?: { Address?: unknown; Meta?: unknown } }).Node;
      const records = addressRecord(name, String(record?.Address ?? ''), qtype);
      if (qtype === 'TXT' || qtype === 'ANY')
        for (const [k, v] of Object.entries((record?.Meta ?? {}) as Record<string, unknown>))
          records.push({ type: 'TXT', name, ttl: 0, data: k.startsWith('rfc1035-') ? String(v) : `${k}=${String(v)}` });
      return expectRecords(records);
    }
    case 'service':
    case 'query': {
      let instances: Instance[];
      // Consul lowercases the whole name before it reads it: a named DC is named in lower case.
      let servedDc = question.dc?.toLowerCase() ?? zone.datacenter;
      let ttl = 0;
      if (question.kind === 'query') {
        const r0 = asked(0) as { type?: string; idOrName?: string; dc?: string } | undefined;
        if (r0?.type !== 'query.execute' || r0.idOrName !== question.query || r0.dc !== dcParam(zone, question.dc))
          return `read ${JSON.stringify(r0)}, not query.execute ${question.query}`;
        const r = exchanges[0]!.response;
        if (r?.status === 404) return expectRcode('NXDOMAIN');
        if (r === undefined || r.status !== 200) return expectRcode(failureRcode(r));
        const body = (r.body ?? {}) as { Nodes?: unknown; DNS?: { TTL?: unknown }; Datacenter?: unknown };
        instances = Array.isArray(body.Nodes) ? (body.Nodes as Instance[]) : [];
        if (instances.length === 0) return expectRcode('NXDOMAIN');
        if (typeof body.Datacenter === 'string' && body.Datacenter !== '') servedDc = body.Datacenter;
        const ttlText = typeof body.DNS?.TTL === 'string' ? body.DNS.TTL : '';
        const m = /^(\d+)s$/.exec(ttlText);
        if (ttlText !== '' && m === null) return null; // a TTL this judge does not parse: the records' TTL is not judged
        ttl = m ? Number(m[1]) : 0;
      } else {
        const wanted = question.service.toLowerCase();
        const dc = dcParam(zone, question.dc);
        const healthRead = (i: number, service: string): string | null => {
          const r = asked(i) as { type?: string; service?: string; dc?: string } | undefined;
          return r?.type === 'health.service' && r.service === service && r.dc === dc
            ? null
            : `read ${JSON.stringify(r)}, not health.service ${service}${dc ? ` in ${dc}` : ''}`;
        };
        const bad = healthRead(0, wanted);
        if (bad !== null) return bad;
        let r = exchanges[0]!.response;
        if (failedRead(r)) return expectRcode(failureRcode(r));
        instances = Array.isArray(r!.body) ? (r!.body as Instance[]) : [];
        if (instances.length === 0) {
          const list = asked(1) as { type?: string } | undefined;
          if (list?.type !== 'catalog.services') return `no instance, then read ${list?.type ?? 'nothing'}`;
          const services = exchanges[1]!.response;
          if (failedRead(services)) return expectRcode(failureRcode(services));
          const body = services!.body;
          const spelled = Object.keys(body && typeof body === 'object' ? body : {}).find(
            (n) => n.toLowerCase() === wanted,
          );
          if (spelled === undefined || spelled === wanted) return expectRcode('NXDOMAIN');
          const again = healthRead(2, spelled);
          if (again !== null) return again;
          r = exchanges[2]!.response;
          if (failedRead(r)) return expectRcode(failureRcode(r));
          instances = Array.isArray(r!.body) ? (r!.body as Instance[]) : [];
        }
        const tag = question.tag?.toLowerCase();
        instances = instances.filter((e) => {
          const checks = Array.isArray(e.Checks) ? (e.Checks as { Status?: unknown }[]) : [];
          if (checks.some((c) => c?.Status === 'critical')) return false;
          const tags = Array.isArray(e.Service?.Tags) ? (e.Service!.Tags as unknown[]) : [];
          return tag === undefined || tags.some((t) => String(t).toLowerCase() === tag);
        });
        if (instances.length === 0) return expectRcode('NXDOMAIN');
      }
      const records: DnsRecord[] = [];
      const extras: DnsRecord[][] = [];
      for (const e of instances) {
        const nodeAddress = typeof e.Node?.Address === 'string' ? e.Node.Address : '';
        const serviceAddress = typeof e.Service?.Address === 'string' ? e.Service.Address : '';
        const address = serviceAddress !== '' ? serviceAddress : nodeAddress;
        if (qtype === 'SRV') {
          const hex = serviceAddress !== '' && serviceAddress !== nodeAddress ? addrLabel(serviceAddress) : undefined;
          const target =
            hex !== undefined
              ? `${hex}.addr.${servedDc}.${zone.zone}`
              : `${String(e.Node?.Node ?? '')}.node.${servedDc}.${zone.zone}`;
          const port = typeof e.Service?.Port === 'number' ? e.Service.Port : 0;
          records.push({ type: 'SRV', name, ttl, data: { priority: 1, weight: 1, port, target } });
          extras.push(addressRecord(target, address, 'ANY', ttl));
        } else {
          for (const a of addressRecord(name, address, qtype, ttl)) {
            records.push(a);
            extras.push([]);
          }
        }
      }
      return expectRecords(records, extras);
    }
  }
}
