/**
 * Consul's DNS interface (consul-api.md §4) over UDP and TCP, wire format by dns-packet. What a name
 * means and which records answer it is the agent's pure lookup (core/agent/endpoints/dns.ts, which the
 * simulator's explorer judges too); this file is the wire around it.
 *
 * Every TTL is 0 unless a prepared query sets one; the answer is authoritative; an unknown name is
 * NXDOMAIN with the zone's SOA in the authority section; a known name without records of the asked
 * type is NOERROR + SOA (NODATA). Over UDP without EDNS the answer is trimmed to 512 bytes with TC set
 * (with EDNS, to the advertised size). Names outside the domain are REFUSED (no recursors). Packets
 * that do not decode as a query are dropped; nothing a client sends can crash the server.
 *
 * Lookups carry the agent's `acl_token` (cli/agent/run.ts): a prepared query failing over to another
 * DC is authorized there with it. Each read the lookup makes waits at most lookupTimeoutMs (SERVFAIL).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { isIPv6 } from 'node:net';
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import {
  addrLabel,
  durationSeconds,
  parseQueryName,
  resolveDns,
  reverseAddress,
  type DnsAnswer,
  type DnsRecord,
  dnsZone,
  type DnsZone,
  type ParsedName,
} from '../../core/agent/endpoints/dns.js';

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

export interface DnsContext extends DnsZone {
  readonly call: (request: AgentRequest) => Promise<AgentResponse>;
}

type Answer = dnsPacket.Answer;

const rcodeNum = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
type Rcode = keyof typeof rcodeNum;

// ───────────────────────────────────────────── lookup ─────────────────────────────────────────────

export { parseQueryName, reverseAddress, addrLabel, durationSeconds, type ParsedName };

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

/** Fisher–Yates with the OS's randomness: which instance a client tries first spreads the load. */
function shuffle<T>(list: T[]): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}

/** Runs the pure lookup (core/agent/endpoints/dns.ts) against the agent, each read bounded by lookupTimeoutMs. */
async function lookup(ctx: DnsContext, name: string, qtype: string): Promise<DnsAnswer> {
  const steps = resolveDns(name, qtype, ctx, shuffle);
  let step = steps.next();
  while (!step.done) step = steps.next(await ask(ctx, step.value));
  return step.value;
}

/** A record of the lookup as dns-packet encodes it (class IN). */
function toAnswer(record: DnsRecord): Answer {
  return { ...record, class: 'IN' } as Answer;
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
    const result = await lookup(ctx, q.name, String(q.type));
    const answers = result.answers.map(toAnswer);
    if (result.soa === 'answer') answers.push(soa(ctx));
    return reply(
      result.rcode,
      answers,
      result.soa === 'authority' ? [soa(ctx)] : [],
      result.extras.map((records) => records.map(toAnswer)),
    );
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
  return { ...dnsZone(options.domain, options.datacenter), call: options.call };
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
