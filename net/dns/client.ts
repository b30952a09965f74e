/**
 * A minimal `dig`: sends one DNS query over UDP or TCP and decodes the answer with dns-packet. Used
 * by the tests and bench/dns.ts as a real network client of the DNS server.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';

export interface DigOptions {
  readonly host: string;
  readonly port: number;
  readonly transport?: 'udp' | 'tcp';
  /** Advertise EDNS with this UDP payload size. */
  readonly ednsBytes?: number;
  readonly timeoutMs?: number;
  readonly recursionDesired?: boolean;
}

export interface DigResult {
  readonly packet: dnsPacket.Packet & {
    rcode?: string;
    flag_tc?: boolean;
    flag_aa?: boolean;
    flag_rd?: boolean;
    flag_ra?: boolean;
  };
  readonly bytes: number;
}

/** Encodes the query `dig` would send. */
export function encodeQuery(
  name: string,
  type: dnsPacket.RecordType,
  options: Pick<DigOptions, 'ednsBytes' | 'recursionDesired'> = {},
  id = randomInt(65536),
): Buffer {
  return dnsPacket.encode({
    id,
    type: 'query',
    flags: options.recursionDesired === false ? 0 : dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    additionals: options.ednsBytes
      ? [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: options.ednsBytes,
            flags: 0,
            options: [],
          } as unknown as dnsPacket.Answer,
        ]
      : [],
  });
}

/** Sends raw bytes over UDP and resolves with the first datagram back, or undefined after the timeout. */
export function udpExchange(
  host: string,
  port: number,
  message: Uint8Array,
  timeoutMs = 2000,
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    function finish(value: Buffer | undefined) {
      clearTimeout(timer);
      try {
        socket.close();
      } catch {
        /* already closed */
      }
      resolve(value);
    }
    socket.on('message', (msg) => finish(msg));
    socket.on('error', () => finish(undefined));
    socket.send(message, port, host);
  });
}

/** Sends one length-prefixed message over TCP; resolves with the first answer, or undefined on close/timeout. */
export function tcpExchange(
  host: string,
  port: number,
  message: Uint8Array,
  timeoutMs = 2000,
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    let buffered = Buffer.alloc(0);
    let settled = false;
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    function finish(value: Buffer | undefined) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    }
    socket.on('connect', () => {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(message.length);
      socket.write(Buffer.concat([prefix, message]));
    });
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0))
        finish(buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
    });
    socket.on('error', () => finish(undefined));
    socket.on('close', () => finish(undefined));
  });
}

/** `dig @host -p port NAME TYPE [+tcp] [+bufsize=N]`. Rejects on timeout. */
export async function dig(name: string, type: dnsPacket.RecordType, options: DigOptions): Promise<DigResult> {
  const query = encodeQuery(name, type, options);
  const exchange = options.transport === 'tcp' ? tcpExchange : udpExchange;
  const raw = await exchange(options.host, options.port, query, options.timeoutMs ?? 2000);
  if (!raw) throw new Error(`dig ${name} ${type}: no answer`);
  return { packet: dnsPacket.decode(raw) as DigResult['packet'], bytes: raw.length };
}
