/**
 * Consul's DNS interface (consul-api.md §4) over UDP and TCP, wire format by dns-packet:
 *
 *   NAME.node[.DC].consul            A/AAAA of the node
 *   SVC.service[.DC].consul          one A per healthy instance (any critical check hides it), shuffled;
 *                                    SRV `1 1 <port> <node>.node.<dc>.consul.` with the A in additional
 *   TAG.SVC.service[.DC].consul      tag-filtered
 *   _SVC._TAG.service[.DC].consul    RFC 2782 form (`_tcp`/`_udp` = no tag filter)
 *   QUERY.query[.DC].consul          a prepared query by name or id, executed with its failover (A, or
 *                                    SRV naming each node in the DC that answered); its DNS.TTL
 *
 * Names are case-insensitive; every TTL is 0; the answer is authoritative; an unknown name is
 * NXDOMAIN with the zone's SOA in the authority section; a known name without records of the asked
 * type is NOERROR + SOA (NODATA). Over UDP without EDNS the answer is trimmed to 512 bytes with TC set
 * (with EDNS, to the advertised size). Names outside the domain are REFUSED (no recursors). Packets
 * that do not decode as a query are dropped; nothing a client sends can crash the server.
 *
 * Lookups read the catalog through the agent with `stale` consistency, as Consul's DNS does by default
 * (`allow_stale`), so any server answers even without a leader. They carry the agent's `acl_token`
 * (cli/agent/run.ts): a prepared query failing over to another DC is authorized there with it.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { isIPv4, isIPv6 } from 'node:net';
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import { agentErrors, type AgentRequest, type AgentResponse } from '../../core/agent/api.js';

/** RFC 1035 §4.2.1: a UDP message without EDNS is at most 512 bytes. */
export const udpBytesMax = 512;
/** The largest EDNS payload size we honour (a common safe ceiling; larger fragments). */
export const ednsBytesMax = 4096;
/** TCP messages carry a 16-bit length prefix. */
export const tcpBytesMax = 65535;
/** Bound on bytes buffered per TCP connection before it is dropped (a few max-size messages). */
export const tcpBufferBytesMax = 4 * (tcpBytesMax + 2);
/** Idle TCP connections are closed after this long, as resolvers expect (RFC 7766 suggests tens of s). */
export const tcpIdleMs = 10_000;
/** A lookup that the agent does not answer in this time is SERVFAIL. */
export const lookupTimeoutMs = 5_000;

export interface DnsServerOptions {
  readonly host: string;
  /** 8600; 0 picks a free port (UDP and TCP then share the UDP one when possible). */
  readonly port: number;
  /** The zone, with a trailing dot: 'consul.'. */
  readonly domain: string;
  readonly datacenter: string;
  readonly call: (request: AgentRequest) => Promise<AgentResponse>;
}

export interface DnsServer {
  readonly address: string;
  readonly port: number;
  /** Counters for the metrics endpoint and benchmarks. */
  readonly stats: DnsStats;
  close(): Promise<void>;
}

export interface DnsStats {
  queries: number;
  dropped: number;
  truncated: number;
}

export interface DnsContext {
  readonly domainLabels: readonly string[];
  readonly zone: string;
  readonly datacenter: string;
  readonly call: (request: AgentRequest) => Promise<AgentResponse>;
}

type Answer = dnsPacket.Answer;

const rcodeNum = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
type Rcode = keyof typeof rcodeNum;

// ───────────────────────────────────────────── lookup ─────────────────────────────────────────────

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

async function ask(ctx: DnsContext, request: AgentRequest): Promise<AgentResponse | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      ctx.call(request),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), lookupTimeoutMs);
        timer.unref?.();
      }),
    ]);
  } catch {
    return undefined;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

const stale = { consistency: 'stale' } as const;

/** Consul's `.addr` label: an IP as hex (8 digits for IPv4, 32 for IPv6). */
export function addrLabel(address: string): string | undefined {
  if (isIPv4(address))
    return address
      .split('.')
      .map((o) => Number(o).toString(16).padStart(2, '0'))
      .join('');
  if (isIPv6(address)) {
    const [head = '', tail = ''] = address.split('::');
    const h = head === '' ? [] : head.split(':');
    const t = tail === '' ? [] : tail.split(':');
    const groups = address.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    if (groups.length !== 8) return undefined;
    return groups
      .map((g) => g.padStart(4, '0'))
      .join('')
      .toLowerCase();
  }
  return undefined;
}

function addressOfLabel(hex: string): string {
  if (hex.length === 8) return [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.');
  return Array.from({ length: 8 }, (_, i) => hex.slice(i * 4, i * 4 + 4)).join(':');
}

function addressRecords(name: string, address: string, qtype: string): Answer[] {
  if (isIPv4(address) && (qtype === 'A' || qtype === 'ANY'))
    return [{ type: 'A', name, ttl: 0, class: 'IN', data: address }];
  if (isIPv6(address) && (qtype === 'AAAA' || qtype === 'ANY'))
    return [{ type: 'AAAA', name, ttl: 0, class: 'IN', data: address }];
  return [];
}

/** Finds the catalog's spelling of a name that DNS gave us in lower case. */
function matchName(candidates: Iterable<string>, wanted: string): string | undefined {
  for (const c of candidates) if (c.toLowerCase() === wanted) return c;
  return undefined;
}

interface LookupResult {
  readonly rcode: Rcode;
  readonly answers: Answer[];
  /** Parallel to answers for SRV: the additional A record(s) each answer brings. */
  readonly extras: Answer[][];
}

const nxdomain: LookupResult = { rcode: 'NXDOMAIN', answers: [], extras: [] };
const servfail: LookupResult = { rcode: 'SERVFAIL', answers: [], extras: [] };

/**
 * `NAME.node.DC.consul`, `SVC.service.DC.consul`: a DC other than ours is asked through `?dc=` (the
 * agent's servers forward it over the WAN, core/agent/wan.ts).
 */
function inDc(ctx: DnsContext, dc: string): { dc?: string } {
  return dc.toLowerCase() === ctx.datacenter.toLowerCase() ? {} : { dc };
}

/** A failed lookup: an unknown datacenter is NXDOMAIN (Consul's answer to ErrNoDCPath), anything else SERVFAIL. */
function failureOf(response: AgentResponse | undefined): LookupResult {
  return response?.error === agentErrors.noPathToDc ? nxdomain : servfail;
}

async function lookupNode(
  ctx: DnsContext,
  qname: string,
  qtype: string,
  node: string,
  dc: string,
): Promise<LookupResult> {
  const where = inDc(ctx, dc);
  let response = await ask(ctx, { type: 'catalog.node', node, read: stale, ...where });
  if (!response || response.status >= 500) return failureOf(response);
  if (response.body == null) {
    // The query was lowercased; the catalog may spell the node differently.
    const nodes = await ask(ctx, { type: 'catalog.nodes', read: stale, ...where });
    if (!nodes || nodes.status >= 500) return failureOf(nodes);
    const list = Array.isArray(nodes.body) ? (nodes.body as { Node?: unknown }[]) : [];
    const spelled = matchName(
      list.map((n) => String(n.Node)),
      node,
    );
    if (spelled === undefined || spelled === node) return nxdomain;
    response = await ask(ctx, { type: 'catalog.node', node: spelled, read: stale, ...where });
    if (!response || response.status >= 500) return failureOf(response);
    if (response.body == null) return nxdomain;
  }
  const record = (response.body as { Node?: { Address?: unknown; Meta?: unknown } }).Node;
  const address = String(record?.Address ?? '');
  const answers = addressRecords(qname, address, qtype);
  // Consul answers a node's meta as TXT records ("key=value"; a key prefixed `rfc1035-` gives its
  // bare value), for TXT and ANY queries.
  if (qtype === 'TXT' || qtype === 'ANY') answers.push(...metaTxt(qname, record?.Meta));
  return { rcode: 'NOERROR', answers, extras: answers.map(() => []) };
}

function metaTxt(name: string, meta: unknown): Answer[] {
  if (meta === null || typeof meta !== 'object') return [];
  return Object.entries(meta as Record<string, unknown>)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(
      ([k, v]) =>
        ({
          type: 'TXT',
          name,
          ttl: 0,
          class: 'IN',
          data: k.startsWith('rfc1035-') ? String(v) : `${k}=${String(v)}`,
        }) as Answer,
    );
}

/** `d.c.b.a.in-addr.arpa` → "a.b.c.d"; undefined for anything else (IPv6 reverse names are not served). */
export function reverseAddress(name: string): string | undefined {
  const labels = name.toLowerCase().replace(/\.$/, '').split('.');
  if (labels.length !== 6 || labels[4] !== 'in-addr' || labels[5] !== 'arpa') return undefined;
  const octets = labels.slice(0, 4).reverse();
  return octets.every((o) => /^(0|[1-9][0-9]{0,2})$/.test(o) && Number(o) <= 255) ? octets.join('.') : undefined;
}

/** PTR: the nodes whose address is the reversed one, as `<node>.node.<dc>.<domain>` (Consul's handlePtr). */
async function lookupPtr(ctx: DnsContext, qname: string, address: string): Promise<LookupResult> {
  const nodes = await ask(ctx, { type: 'catalog.nodes', read: stale });
  if (!nodes || nodes.status >= 500) return servfail;
  const list = Array.isArray(nodes.body) ? (nodes.body as { Node?: unknown; Address?: unknown }[]) : [];
  const answers: Answer[] = list
    .filter((n) => n.Address === address && typeof n.Node === 'string')
    .map(
      (n) =>
        ({
          type: 'PTR',
          name: qname,
          ttl: 0,
          class: 'IN',
          data: `${String(n.Node)}.node.${ctx.datacenter}.${ctx.zone}`,
        }) as Answer,
    );
  return answers.length === 0 ? nxdomain : { rcode: 'NOERROR', answers, extras: answers.map(() => []) };
}

interface HealthEntry {
  Node?: { Node?: string; Address?: string };
  Service?: { Service?: string; Address?: string; Port?: number; Tags?: string[] | null };
  Checks?: { Status?: string }[];
}

function shuffle<T>(list: T[]): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}

async function lookupService(
  ctx: DnsContext,
  qname: string,
  qtype: string,
  service: string,
  tag: string | undefined,
  dc: string,
): Promise<LookupResult> {
  const where = inDc(ctx, dc);
  let response = await ask(ctx, { type: 'health.service', service, read: stale, ...where });
  if (!response || response.status >= 500) return failureOf(response);
  let entries = Array.isArray(response.body) ? (response.body as HealthEntry[]) : [];
  if (entries.length === 0) {
    const services = await ask(ctx, { type: 'catalog.services', read: stale, ...where });
    if (!services || services.status >= 500) return failureOf(services);
    const names = services.body && typeof services.body === 'object' ? Object.keys(services.body as object) : [];
    const spelled = matchName(names, service);
    if (spelled === undefined || spelled === service) return nxdomain;
    response = await ask(ctx, { type: 'health.service', service: spelled, read: stale, ...where });
    if (!response || response.status >= 500) return failureOf(response);
    entries = Array.isArray(response.body) ? (response.body as HealthEntry[]) : [];
  }
  const healthy = entries.filter((e) => {
    if ((e.Checks ?? []).some((c) => c?.Status === 'critical')) return false;
    if (tag === undefined) return true;
    return (e.Service?.Tags ?? []).some((t) => String(t).toLowerCase() === tag);
  });
  if (healthy.length === 0) return nxdomain;
  return serviceRecords(ctx, qname, qtype, shuffle(healthy), dc, 0);
}

/**
 * The records of service instances, in the order given: SRV (target `<node>.node.<dc>`, or `<hex>.addr.<dc>`
 * for a service address of its own, with the A/AAAA in additional), else one A/AAAA per instance.
 * `dc` is the datacenter the instances are in; `ttlS` every record's TTL in seconds.
 */
function serviceRecords(
  ctx: DnsContext,
  qname: string,
  qtype: string,
  instances: readonly HealthEntry[],
  dc: string,
  ttlS: number,
): LookupResult {
  const answers: Answer[] = [];
  const extras: Answer[][] = [];
  const withTtl = (records: Answer[]): Answer[] => records.map((r) => ({ ...r, ttl: ttlS }) as Answer);
  for (const e of instances) {
    const address = e.Service?.Address || e.Node?.Address || '';
    if (qtype === 'SRV') {
      // Consul ≥ 0.7: a service address other than the node's is named by `<hex>.addr`, so that
      // `<node>.node` keeps meaning the node's own address for resolvers that cache the additional A.
      const serviceAddress = e.Service?.Address ?? '';
      const hex = serviceAddress !== '' && serviceAddress !== e.Node?.Address ? addrLabel(serviceAddress) : undefined;
      const target = hex ? `${hex}.addr.${dc}.${ctx.zone}` : `${e.Node?.Node ?? ''}.node.${dc}.${ctx.zone}`;
      answers.push({
        type: 'SRV',
        name: qname,
        ttl: ttlS,
        class: 'IN',
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
  return { rcode: 'NOERROR', answers, extras };
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

/**
 * `QUERY.query[.DC].consul` (Consul's preparedQueryLookup): the agent executes the prepared query by
 * name or id — in DC when one is named, with the query's failover to other DCs when none of its
 * instances is healthy here — and the instances it returns are answered as a service's, in its order
 * (shuffled or `Near`-sorted by the server), named in the DC that served them. An unknown query, or one
 * that found no instance anywhere, is NXDOMAIN; the query's `DNS.TTL` is the records' TTL.
 */
async function lookupQuery(
  ctx: DnsContext,
  qname: string,
  qtype: string,
  query: string,
  dc: string,
): Promise<LookupResult> {
  const response = await ask(ctx, { type: 'query.execute', idOrName: query, read: stale, ...inDc(ctx, dc) });
  if (response?.status === 404) return nxdomain;
  if (!response || response.status !== 200) return failureOf(response);
  const body = (response.body ?? {}) as { Nodes?: unknown; DNS?: { TTL?: unknown }; Datacenter?: unknown };
  const nodes = Array.isArray(body.Nodes) ? (body.Nodes as HealthEntry[]) : [];
  if (nodes.length === 0) return nxdomain;
  const ttlS = typeof body.DNS?.TTL === 'string' && body.DNS.TTL !== '' ? (durationSeconds(body.DNS.TTL) ?? 0) : 0;
  const served = typeof body.Datacenter === 'string' && body.Datacenter !== '' ? body.Datacenter : dc;
  return serviceRecords(ctx, qname, qtype, nodes, served, ttlS);
}

function soa(ctx: DnsContext): Answer {
  return {
    type: 'SOA',
    name: ctx.zone,
    ttl: 0,
    class: 'IN',
    data: {
      mname: `ns.${ctx.zone}`,
      rname: `postmaster.${ctx.zone}`,
      serial: Math.floor(Date.now() / 1000) >>> 0,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: 0,
    },
  };
}

// ───────────────────────────────────────────── answer ─────────────────────────────────────────────

/**
 * Answers one DNS message. Returns the encoded response, or undefined to drop the packet (it did not
 * decode, or it was itself a response). Never throws.
 */
export async function answerDns(
  message: Uint8Array,
  ctx: DnsContext,
  transport: 'udp' | 'tcp',
): Promise<Buffer | undefined> {
  let query: dnsPacket.Packet;
  try {
    query = dnsPacket.decode(Buffer.from(message.buffer, message.byteOffset, message.byteLength));
  } catch {
    return undefined;
  }
  try {
    if (query.type !== 'query') return undefined;
    const id = query.id ?? 0;
    const rd = ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) !== 0;
    const questions = query.questions ?? [];
    const opt = (query.additionals ?? []).find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
    const limit =
      transport === 'tcp'
        ? tcpBytesMax
        : opt
          ? Math.min(Math.max(udpBytesMax, opt.udpPayloadSize ?? udpBytesMax), ednsBytesMax)
          : udpBytesMax;
    const opcode = ((query.flags ?? 0) >> 11) & 0xf;
    const reply = (rcode: Rcode, answers: Answer[] = [], authorities: Answer[] = [], extras: Answer[][] = []): Buffer =>
      encodeWithin({ id, rd, opcode, rcode, questions, answers, authorities, extras, opt: !!opt }, limit);
    if (opcode !== 0) return reply('NOTIMP');
    if (questions.length !== 1) return reply('FORMERR');
    const q = questions[0]!;
    // A label holding a dot (or an empty label) decodes fine but cannot be encoded back faithfully:
    // answer FORMERR without echoing the question, so the reply itself is always well-formed.
    if (!encodableName(q.name))
      return encodeWithin(
        { id, rd, opcode, rcode: 'FORMERR', questions: [], answers: [], authorities: [], extras: [], opt: !!opt },
        limit,
      );
    const qtype = String(q.type);
    const reversed = reverseAddress(q.name);
    if (reversed !== undefined) {
      if (qtype !== 'PTR' && qtype !== 'ANY') return reply('NOERROR');
      const result = await lookupPtr(ctx, q.name, reversed);
      return reply(result.rcode, result.answers);
    }
    const parsed = parseQueryName(q.name, ctx.domainLabels);
    switch (parsed.kind) {
      case 'outside':
        return reply('REFUSED');
      case 'zone':
        if (qtype === 'SOA' || qtype === 'ANY') return reply('NOERROR', [soa(ctx)]);
        return reply('NOERROR', [], [soa(ctx)]);
      case 'unknown':
        return reply('NXDOMAIN', [], [soa(ctx)]);
      case 'addr': {
        if (parsed.dc !== undefined && parsed.dc !== ctx.datacenter.toLowerCase())
          return reply('NXDOMAIN', [], [soa(ctx)]);
        const answers = addressRecords(q.name, addressOfLabel(parsed.hex), qtype);
        return answers.length ? reply('NOERROR', answers) : reply('NOERROR', [], [soa(ctx)]);
      }
      case 'node':
      case 'service':
      case 'query': {
        const dc = parsed.dc ?? ctx.datacenter;
        const result =
          parsed.kind === 'node'
            ? await lookupNode(ctx, q.name, qtype, parsed.node, dc)
            : parsed.kind === 'service'
              ? await lookupService(ctx, q.name, qtype, parsed.service, parsed.tag, dc)
              : await lookupQuery(ctx, q.name, qtype, parsed.query, dc);
        if (result.rcode !== 'NOERROR') return reply(result.rcode, [], result.rcode === 'NXDOMAIN' ? [soa(ctx)] : []);
        if (result.answers.length === 0) return reply('NOERROR', [], [soa(ctx)]);
        return reply('NOERROR', result.answers, [], result.extras);
      }
    }
  } catch {
    return undefined;
  }
}

/** True when dns-packet encodes `name` back to the labels it was decoded from (RFC 1035 §2.3.4 limits). */
export function encodableName(name: string): boolean {
  if (name === '' || name === '.') return true;
  const labels = name.replace(/\.$/, '').split('.');
  if (Buffer.byteLength(name) > 253) return false;
  return labels.every((l) => l.length > 0 && Buffer.byteLength(l) <= 63);
}

interface ReplyParts {
  id: number;
  rd: boolean;
  opcode: number;
  rcode: Rcode;
  questions: dnsPacket.Question[];
  answers: Answer[];
  authorities: Answer[];
  extras: Answer[][];
  opt: boolean;
}

/**
 * Encodes a reply within `limitBytes`: drops trailing answers (with their additional records) until
 * it fits, setting TC when anything was dropped (RFC 2181 §9).
 */
function encodeWithin(parts: ReplyParts, limitBytes: number): Buffer {
  let count = parts.answers.length;
  for (;;) {
    const truncated = count < parts.answers.length;
    const additionals: Answer[] = parts.extras.slice(0, count).flat();
    if (parts.opt)
      additionals.push({
        type: 'OPT',
        name: '.',
        udpPayloadSize: ednsBytesMax,
        flags: 0,
        options: [],
      } as unknown as Answer);
    const flags =
      dnsPacket.AUTHORITATIVE_ANSWER |
      (parts.rd ? dnsPacket.RECURSION_DESIRED : 0) |
      (truncated ? dnsPacket.TRUNCATED_RESPONSE : 0) |
      (parts.opcode << 11) |
      rcodeNum[parts.rcode];
    const buf = dnsPacket.encode({
      id: parts.id,
      type: 'response',
      flags,
      questions: parts.questions,
      answers: parts.answers.slice(0, count),
      authorities: parts.authorities,
      additionals,
    });
    if (buf.length <= limitBytes || count === 0) return buf;
    count--;
  }
}

// ───────────────────────────────────────────── servers ────────────────────────────────────────────

/** The lookup context for `answerDns` (exported for tests and fuzzers that skip the sockets). */
export function dnsContext(options: Pick<DnsServerOptions, 'domain' | 'datacenter' | 'call'>): DnsContext {
  const domainLabels = options.domain
    .replace(/\.$/, '')
    .split('.')
    .filter((l) => l !== '')
    .map((l) => l.toLowerCase());
  return { domainLabels, zone: `${domainLabels.join('.')}.`, datacenter: options.datacenter, call: options.call };
}

export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const ctx = dnsContext(options);
  const stats: DnsStats = { queries: 0, dropped: 0, truncated: 0 };
  const isV6 = isIPv6(options.host);

  const udp = dgram.createSocket({ type: isV6 ? 'udp6' : 'udp4' });
  udp.on('error', () => {
    /* a send error on one datagram must not stop the server */
  });
  udp.on('message', (msg, rinfo) => {
    stats.queries++;
    void answerDns(msg, ctx, 'udp').then((out) => {
      if (!out) {
        stats.dropped++;
        return;
      }
      if ((out.readUInt16BE(2) & dnsPacket.TRUNCATED_RESPONSE) !== 0) stats.truncated++;
      udp.send(out, rinfo.port, rinfo.address, () => {});
    });
  });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(options.port, options.host, () => {
      udp.off('error', reject);
      resolve();
    });
  });
  const port = udp.address().port;

  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.setTimeout(tcpIdleMs, () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (buffered.length > tcpBufferBytesMax) {
        socket.destroy();
        return;
      }
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) break;
        const message = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        stats.queries++;
        void answerDns(message, ctx, 'tcp').then((out) => {
          if (!out) {
            // RFC 7766 §6.2.4-ish: a message we cannot parse ends the stream, as framing is now suspect.
            stats.dropped++;
            socket.destroy();
            return;
          }
          if (socket.writable) {
            const prefix = Buffer.alloc(2);
            prefix.writeUInt16BE(out.length);
            socket.write(Buffer.concat([prefix, out]));
          }
        });
      }
    });
  });
  tcp.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, options.host, () => {
      tcp.off('error', reject);
      resolve();
    });
  });

  return {
    address: `${isV6 ? `[${options.host}]` : options.host}:${port}`,
    port,
    stats,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((resolve) => tcp.close(() => resolve())),
        new Promise<void>((resolve) => udp.close(() => resolve())),
      ]);
    },
  };
}
