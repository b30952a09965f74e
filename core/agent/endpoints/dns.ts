/**
 * Consul's DNS interface, as pure lookups (consul-api.md §4): what a question asks, which agent reads
 * answer it, and which records those reads give. Sans-I/O, as h11 is: `resolveDns` is a generator that
 * yields each agent request it needs and is resumed with the agent's response (or undefined: no answer
 * in time), then returns the records. net/dns drives it with real packets and a real agent;
 * sim/harnesses/agent-dns.ts drives it inside the simulator, where the explorer judges its answers.
 *
 *   NAME.node[.DC].consul            A/AAAA of the node (TXT: its meta)
 *   SVC.service[.DC].consul          one A per healthy instance (any critical check hides it), shuffled;
 *                                    SRV `1 1 <port> <node>.node.<dc>.consul.` with the A in additional
 *   TAG.SVC.service[.DC].consul      tag-filtered
 *   _SVC._TAG.service[.DC].consul    RFC 2782 form (`_tcp`/`_udp` = no tag filter)
 *   QUERY.query[.DC].consul          a prepared query by name or id, executed with its failover (A, or
 *                                    SRV naming each node in the DC that answered); its DNS.TTL
 *   HEX.addr[.DC].consul             the address a `.addr` SRV target names
 *   d.c.b.a.in-addr.arpa             PTR: the nodes at that address
 *
 * Names are case-insensitive (RFC 4343): the catalog's own spelling is looked up when the lowercased
 * name finds nothing. Lookups read with `stale` consistency, as Consul's DNS does by default
 * (`allow_stale`), so any server answers even without a leader. A datacenter other than the agent's is
 * asked through `?dc=` (the servers forward it over the WAN); an unknown one is NXDOMAIN (Consul's answer
 * to ErrNoDCPath), any other failed read SERVFAIL.
 */
import { agentErrors, type AgentRequest, type AgentResponse } from '../api.js';

/** A record of an answer, before the wire adds its class (always IN). TTLs are in seconds. */
export type DnsRecord =
  | { readonly type: 'A' | 'AAAA' | 'TXT' | 'PTR'; readonly name: string; readonly ttl: number; readonly data: string }
  | {
      readonly type: 'SRV';
      readonly name: string;
      readonly ttl: number;
      readonly data: {
        readonly priority: number;
        readonly weight: number;
        readonly port: number;
        readonly target: string;
      };
    };

export type DnsRcode = 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED';

/**
 * The answer to one question. `soa`: where the zone's SOA goes — `answer` (a question for the zone's
 * SOA), `authority` (NXDOMAIN, and NODATA: a known name without records of the type), or nowhere.
 */
export interface DnsAnswer {
  readonly rcode: DnsRcode;
  readonly answers: readonly DnsRecord[];
  /** Parallel to answers: the additional records each one brings (an SRV target's A/AAAA). */
  readonly extras: readonly (readonly DnsRecord[])[];
  readonly soa: 'none' | 'answer' | 'authority';
}

/** The zone the agent answers for, and its own datacenter. */
export interface DnsZone {
  /** The domain's labels, lowercased (`['consul']`). */
  readonly domainLabels: readonly string[];
  /** The domain as a name, with its trailing dot (`consul.`). */
  readonly zone: string;
  readonly datacenter: string;
}

export function dnsZone(domain: string, datacenter: string): DnsZone {
  const domainLabels = domain
    .replace(/\.$/, '')
    .split('.')
    .filter((l) => l !== '')
    .map((l) => l.toLowerCase());
  return { domainLabels, zone: `${domainLabels.join('.')}.`, datacenter };
}

/** The lookup: yields agent requests, is resumed with their responses, returns the answer. */
export type DnsLookup = Generator<AgentRequest, DnsAnswer, AgentResponse | undefined>;

/** Reorders service instances (the driver's randomness: crypto in net/, the seeded PRNG in sim/). */
export type Shuffle = <T>(list: T[]) => T[];

// ───────────────────────────────────────────── names ──────────────────────────────────────────────

/** What a query name asks for, once the zone is stripped. */
export type ParsedName =
  | { readonly kind: 'node'; readonly node: string; readonly dc: string | undefined }
  | {
      readonly kind: 'service';
      readonly service: string;
      readonly tag: string | undefined;
      readonly dc: string | undefined;
    }
  /** `<name or id>.query[.DC].consul`: a prepared query (Consul's preparedQueryLookup). */
  | { readonly kind: 'query'; readonly query: string; readonly dc: string | undefined }
  /** `<hex ip>.addr[.DC].consul`: Consul's SRV target for a service address that is not its node's. */
  | { readonly kind: 'addr'; readonly hex: string; readonly dc: string | undefined }
  | { readonly kind: 'zone' }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'outside' };

/** The labels that say what a name asks for; a label after one of them names a datacenter. */
const typeLabels: ReadonlySet<string> = new Set(['node', 'service', 'query', 'addr']);

/**
 * Parses a query name (any case, with or without the trailing dot) against the zone. Labels are
 * lowercased: DNS is case-insensitive (RFC 4343).
 */
export function parseQueryName(name: string, domainLabels: readonly string[]): ParsedName {
  const labels = name
    .replace(/\.$/, '')
    .split('.')
    .filter((l) => l !== '')
    .map((l) => l.toLowerCase());
  const n = domainLabels.length;
  if (labels.length < n || labels.slice(labels.length - n).join('.') !== domainLabels.join('.'))
    return { kind: 'outside' };
  const inner = labels.slice(0, labels.length - n);
  if (inner.length === 0) return { kind: 'zone' };
  // The query type is the last label, or the one before a datacenter label.
  let typeAt = inner.length - 1;
  let dc: string | undefined;
  if (!typeLabels.has(inner[typeAt]!) && inner.length >= 2) {
    typeAt = inner.length - 2;
    dc = inner[inner.length - 1];
  }
  const kind = inner[typeAt];
  const before = inner.slice(0, typeAt);
  if (before.length === 0) return { kind: 'unknown' };
  if (kind === 'node') return { kind: 'node', node: before.join('.'), dc };
  // A query's name may hold dots: every label before `query` is part of it (as Consul joins them).
  if (kind === 'query') return { kind: 'query', query: before.join('.'), dc };
  if (kind === 'addr')
    return before.length === 1 && /^([0-9a-f]{8}|[0-9a-f]{32})$/.test(before[0]!)
      ? { kind: 'addr', hex: before[0]!, dc }
      : { kind: 'unknown' };
  if (kind === 'service') {
    if (before.length === 2 && before[0]!.startsWith('_') && before[1]!.startsWith('_')) {
      // RFC 2782: _service._proto.service.consul; Consul reads the "proto" label as a tag, `_tcp` as none.
      const tag = before[1]!.slice(1);
      return {
        kind: 'service',
        service: before[0]!.slice(1),
        tag: tag === 'tcp' || tag === 'udp' ? undefined : tag,
        dc,
      };
    }
    if (before.length === 1) return { kind: 'service', service: before[0]!, tag: undefined, dc };
    if (before.length === 2) return { kind: 'service', service: before[1]!, tag: before[0]!, dc };
    return { kind: 'unknown' };
  }
  return { kind: 'unknown' };
}

/** `d.c.b.a.in-addr.arpa` → "a.b.c.d"; undefined for anything else (IPv6 reverse names are not served). */
export function reverseAddress(name: string): string | undefined {
  const labels = name.toLowerCase().replace(/\.$/, '').split('.');
  if (labels.length !== 6 || labels[4] !== 'in-addr' || labels[5] !== 'arpa') return undefined;
  const octets = labels.slice(0, 4).reverse();
  return octets.every((o) => /^(0|[1-9][0-9]{0,2})$/.test(o) && Number(o) <= 255) ? octets.join('.') : undefined;
}

// ──────────────────────────────────────────── addresses ───────────────────────────────────────────

/** A dotted-quad IPv4 address, as node:net's isIPv4 accepts it (no leading zeros). */
export function isIpv4(address: string): boolean {
  const octets = address.split('.');
  return octets.length === 4 && octets.every((o) => /^(0|[1-9][0-9]{0,2})$/.test(o) && Number(o) <= 255);
}

/** An IPv6 address: eight groups of 1–4 hex digits, one `::` for a run of zero groups, an IPv4 tail allowed. */
export function isIpv6(address: string): boolean {
  if (address.includes('%') || address.split('::').length > 2) return false;
  const [head = '', tail] = address.split('::');
  const groupsOf = (part: string): string[] | null => {
    if (part === '') return [];
    const groups = part.split(':');
    const last = groups[groups.length - 1]!;
    if (last.includes('.')) {
      if (!isIpv4(last)) return null;
      groups.splice(groups.length - 1, 1, '0', '0'); // an IPv4 tail takes two groups' room
    }
    return groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g)) ? groups : null;
  };
  const h = groupsOf(head);
  const t = tail === undefined ? [] : groupsOf(tail);
  if (h === null || t === null) return false;
  if (head.includes('.') && tail !== undefined) return false; // an IPv4 tail ends the address
  return tail === undefined ? h.length === 8 : h.length + t.length <= 7;
}

/** Consul's `.addr` label: an IP as hex (8 digits for IPv4, 32 for IPv6). */
export function addrLabel(address: string): string | undefined {
  if (isIpv4(address))
    return address
      .split('.')
      .map((o) => Number(o).toString(16).padStart(2, '0'))
      .join('');
  if (isIpv6(address)) {
    const [head = '', tail = ''] = address.split('::');
    const h = head === '' ? [] : head.split(':');
    const t = tail === '' ? [] : tail.split(':');
    const groups = address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
    if (groups.length !== 8 || groups.some((g) => g.includes('.'))) return undefined;
    return groups
      .map((g) => g.padStart(4, '0'))
      .join('')
      .toLowerCase();
  }
  return undefined;
}

/** The address an `.addr` label names (its inverse). */
export function addressOfLabel(hex: string): string {
  if (hex.length === 8) return [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.');
  return Array.from({ length: 8 }, (_, i) => hex.slice(i * 4, i * 4 + 4)).join(':');
}

function addressRecords(name: string, address: string, qtype: string): DnsRecord[] {
  if (isIpv4(address) && (qtype === 'A' || qtype === 'ANY')) return [{ type: 'A', name, ttl: 0, data: address }];
  if (isIpv6(address) && (qtype === 'AAAA' || qtype === 'ANY')) return [{ type: 'AAAA', name, ttl: 0, data: address }];
  return [];
}

/** Go's time.ParseDuration for what a query's `DNS.TTL` holds ("10s", "1m30s", "500ms"): whole seconds, or undefined. */
export function durationSeconds(text: string): number | undefined {
  const units: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  const parts = /^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/u.test(text)
    ? [...text.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gu)]
    : text === '0'
      ? []
      : undefined;
  if (parts === undefined) return undefined;
  const seconds = parts.reduce((sum, m) => sum + Number(m[1]) * units[m[2]!]!, 0);
  // A DNS TTL is an unsigned 32-bit count of seconds (RFC 2181 §8).
  return Math.min(Math.floor(seconds), 0x7fffffff);
}

// ───────────────────────────────────────────── lookup ─────────────────────────────────────────────

const stale = { consistency: 'stale' } as const;

const answered = (rcode: DnsRcode, answers: DnsRecord[] = [], extras: DnsRecord[][] = []): DnsAnswer => ({
  rcode,
  answers,
  extras: extras.length === answers.length ? extras : answers.map(() => []),
  soa: rcode === 'NXDOMAIN' || (rcode === 'NOERROR' && answers.length === 0) ? 'authority' : 'none',
});
const nxdomain = (): DnsAnswer => answered('NXDOMAIN');

/** A failed read: an unknown datacenter is NXDOMAIN (Consul's answer to ErrNoDCPath), anything else SERVFAIL. */
function failureOf(response: AgentResponse | undefined): DnsAnswer {
  return response?.error === agentErrors.noPathToDc ? nxdomain() : answered('SERVFAIL');
}

const failed = (response: AgentResponse | undefined): boolean => !response || response.status >= 500;

/** `?dc=` for a datacenter other than the agent's (compared without case, as DNS names are). */
function inDc(zone: DnsZone, dc: string): { dc?: string } {
  return dc.toLowerCase() === zone.datacenter.toLowerCase() ? {} : { dc };
}

/** Finds the catalog's spelling of a name that DNS gave us in lower case. */
export function matchName(candidates: Iterable<string>, wanted: string): string | undefined {
  for (const c of candidates) if (c.toLowerCase() === wanted) return c;
  return undefined;
}

/** One instance of a `health.service` answer, as the lookup reads it. */
export interface DnsHealthEntry {
  readonly Node?: { readonly Node?: string; readonly Address?: string };
  readonly Service?: {
    readonly Service?: string;
    readonly Address?: string;
    readonly Port?: number;
    readonly Tags?: readonly string[] | null;
  };
  readonly Checks?: readonly ({ readonly Status?: string } | null)[];
}

/** The instances DNS answers: none of their checks critical (warning still answers), with the tag if asked. */
export function dnsHealthyInstances(entries: readonly DnsHealthEntry[], tag: string | undefined): DnsHealthEntry[] {
  return entries.filter((e) => {
    if ((e.Checks ?? []).some((c) => c?.Status === 'critical')) return false;
    if (tag === undefined) return true;
    return (e.Service?.Tags ?? []).some((t) => String(t).toLowerCase() === tag);
  });
}

/**
 * Answers one question. `name` as it came (any case, trailing dot or not), `qtype` the record type's
 * name (`A`, `SRV`, `ANY` …).
 */
export function* resolveDns(name: string, qtype: string, zone: DnsZone, shuffle: Shuffle): DnsLookup {
  const reversed = reverseAddress(name);
  if (reversed !== undefined) {
    if (qtype !== 'PTR' && qtype !== 'ANY') return { rcode: 'NOERROR', answers: [], extras: [], soa: 'none' };
    return yield* lookupPtr(zone, name, reversed);
  }
  const parsed = parseQueryName(name, zone.domainLabels);
  switch (parsed.kind) {
    case 'outside':
      return { rcode: 'REFUSED', answers: [], extras: [], soa: 'none' };
    case 'zone':
      return qtype === 'SOA' || qtype === 'ANY'
        ? { rcode: 'NOERROR', answers: [], extras: [], soa: 'answer' }
        : answered('NOERROR');
    case 'unknown':
      return nxdomain();
    case 'addr': {
      if (parsed.dc !== undefined && parsed.dc !== zone.datacenter.toLowerCase()) return nxdomain();
      return answered('NOERROR', addressRecords(name, addressOfLabel(parsed.hex), qtype));
    }
    case 'node':
      return yield* lookupNode(zone, name, qtype, parsed.node, parsed.dc ?? zone.datacenter);
    case 'service':
      return yield* lookupService(zone, name, qtype, parsed.service, parsed.tag, parsed.dc ?? zone.datacenter, shuffle);
    case 'query':
      return yield* lookupQuery(zone, name, qtype, parsed.query, parsed.dc ?? zone.datacenter);
  }
}

function* lookupNode(zone: DnsZone, qname: string, qtype: string, node: string, dc: string): DnsLookup {
  const where = inDc(zone, dc);
  let response = yield { type: 'catalog.node', node, read: stale, ...where };
  if (failed(response)) return failureOf(response);
  if (response!.body == null) {
    // The query was lowercased; the catalog may spell the node differently.
    const nodes = yield { type: 'catalog.nodes', read: stale, ...where };
    if (failed(nodes)) return failureOf(nodes);
    const list = Array.isArray(nodes!.body) ? (nodes!.body as { Node?: unknown }[]) : [];
    const spelled = matchName(
      list.map((n) => String(n.Node)),
      node,
    );
    if (spelled === undefined || spelled === node) return nxdomain();
    response = yield { type: 'catalog.node', node: spelled, read: stale, ...where };
    if (failed(response)) return failureOf(response);
    if (response!.body == null) return nxdomain();
  }
  const record = (response!.body as { Node?: { Address?: unknown; Meta?: unknown } }).Node;
  const answers = addressRecords(qname, String(record?.Address ?? ''), qtype);
  // Consul answers a node's meta as TXT records ("key=value"; a key prefixed `rfc1035-` gives its
  // bare value), for TXT and ANY queries.
  if (qtype === 'TXT' || qtype === 'ANY') answers.push(...metaTxt(qname, record?.Meta));
  return answered('NOERROR', answers);
}

function metaTxt(name: string, meta: unknown): DnsRecord[] {
  if (meta === null || typeof meta !== 'object') return [];
  return Object.entries(meta as Record<string, unknown>)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => ({
      type: 'TXT',
      name,
      ttl: 0,
      data: k.startsWith('rfc1035-') ? String(v) : `${k}=${String(v)}`,
    }));
}

/** PTR: the nodes whose address is the reversed one, as `<node>.node.<dc>.<domain>` (Consul's handlePtr). */
function* lookupPtr(zone: DnsZone, qname: string, address: string): DnsLookup {
  const nodes = yield { type: 'catalog.nodes', read: stale };
  if (failed(nodes)) return answered('SERVFAIL');
  const list = Array.isArray(nodes!.body) ? (nodes!.body as { Node?: unknown; Address?: unknown }[]) : [];
  const answers: DnsRecord[] = list
    .filter((n) => n.Address === address && typeof n.Node === 'string')
    .map((n) => ({
      type: 'PTR',
      name: qname,
      ttl: 0,
      data: `${String(n.Node)}.node.${zone.datacenter}.${zone.zone}`,
    }));
  // No SOA with a PTR's NXDOMAIN: the reverse zone is not ours.
  return answers.length === 0
    ? { rcode: 'NXDOMAIN', answers: [], extras: [], soa: 'none' }
    : answered('NOERROR', answers);
}

function* lookupService(
  zone: DnsZone,
  qname: string,
  qtype: string,
  service: string,
  tag: string | undefined,
  dc: string,
  shuffle: Shuffle,
): DnsLookup {
  const where = inDc(zone, dc);
  let response = yield { type: 'health.service', service, read: stale, ...where };
  if (failed(response)) return failureOf(response);
  let entries = Array.isArray(response!.body) ? (response!.body as DnsHealthEntry[]) : [];
  if (entries.length === 0) {
    const services = yield { type: 'catalog.services', read: stale, ...where };
    if (failed(services)) return failureOf(services);
    const names = services!.body && typeof services!.body === 'object' ? Object.keys(services!.body as object) : [];
    const spelled = matchName(names, service);
    if (spelled === undefined || spelled === service) return nxdomain();
    response = yield { type: 'health.service', service: spelled, read: stale, ...where };
    if (failed(response)) return failureOf(response);
    entries = Array.isArray(response!.body) ? (response!.body as DnsHealthEntry[]) : [];
  }
  const healthy = dnsHealthyInstances(entries, tag);
  if (healthy.length === 0) return nxdomain();
  return serviceRecords(zone, qname, qtype, shuffle(healthy), dc, 0);
}

/**
 * `QUERY.query[.DC].consul` (Consul's preparedQueryLookup): the agent executes the prepared query by
 * name or id — in DC when one is named, with the query's failover to other DCs when none of its
 * instances is healthy here — and the instances it returns are answered as a service's, in its order
 * (shuffled or `Near`-sorted by the server), named in the DC that served them. An unknown query, or one
 * that found no instance anywhere, is NXDOMAIN; the query's `DNS.TTL` is the records' TTL.
 */
function* lookupQuery(zone: DnsZone, qname: string, qtype: string, query: string, dc: string): DnsLookup {
  const response = yield { type: 'query.execute', idOrName: query, read: stale, ...inDc(zone, dc) };
  if (response?.status === 404) return nxdomain();
  if (!response || response.status !== 200) return failureOf(response);
  const body = (response.body ?? {}) as { Nodes?: unknown; DNS?: { TTL?: unknown }; Datacenter?: unknown };
  const nodes = Array.isArray(body.Nodes) ? (body.Nodes as DnsHealthEntry[]) : [];
  if (nodes.length === 0) return nxdomain();
  const ttlS = typeof body.DNS?.TTL === 'string' && body.DNS.TTL !== '' ? (durationSeconds(body.DNS.TTL) ?? 0) : 0;
  const served = typeof body.Datacenter === 'string' && body.Datacenter !== '' ? body.Datacenter : dc;
  return serviceRecords(zone, qname, qtype, nodes, served, ttlS);
}

/**
 * The records of service instances, in the order given: SRV (target `<node>.node.<dc>`, or `<hex>.addr.<dc>`
 * for a service address of its own, with the A/AAAA in additional), else one A/AAAA per instance.
 * `dc` is the datacenter the instances are in; `ttlS` every record's TTL in seconds.
 */
function serviceRecords(
  zone: DnsZone,
  qname: string,
  qtype: string,
  instances: readonly DnsHealthEntry[],
  dc: string,
  ttlS: number,
): DnsAnswer {
  const answers: DnsRecord[] = [];
  const extras: DnsRecord[][] = [];
  const withTtl = (records: DnsRecord[]): DnsRecord[] => records.map((r) => ({ ...r, ttl: ttlS }));
  for (const e of instances) {
    const address = e.Service?.Address || e.Node?.Address || '';
    if (qtype === 'SRV') {
      // Consul ≥ 0.7: a service address other than the node's is named by `<hex>.addr`, so that
      // `<node>.node` keeps meaning the node's own address for resolvers that cache the additional A.
      const serviceAddress = e.Service?.Address ?? '';
      const hex = serviceAddress !== '' && serviceAddress !== e.Node?.Address ? addrLabel(serviceAddress) : undefined;
      const target = hex ? `${hex}.addr.${dc}.${zone.zone}` : `${e.Node?.Node ?? ''}.node.${dc}.${zone.zone}`;
      answers.push({
        type: 'SRV',
        name: qname,
        ttl: ttlS,
        data: { priority: 1, weight: 1, port: e.Service?.Port ?? 0, target },
      });
      extras.push(withTtl(addressRecords(target, address, 'ANY')));
    } else {
      for (const a of withTtl(addressRecords(qname, address, qtype))) {
        answers.push(a);
        extras.push([]);
      }
    }
  }
  return answered('NOERROR', answers, extras);
}
