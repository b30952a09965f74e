/**
 * Real sockets: UDP for datagrams and TCP for streams, on the same port (memberlist's layout on 8301;
 * the server port 8300 uses the same endpoint type). Outgoing TCP connections are pooled per
 * destination and reused; a broken connection is dropped with its queue and re-dialled on the next
 * send — at once if it had been up, after a backoff if the dial failed or it broke as it came up — so a
 * restarted peer is reached again without help from the core.
 *
 * Security (issue 14): with a keyring (keyring.ts) every frame is sealed with AES-GCM and frames no key
 * opens are dropped and counted — except on TLS streams where both ends present CA-signed certificates,
 * which TLS alone protects (checkTlsCarries); with `tls`, streams run over TLS — incoming connections that start
 * with a TLS handshake are wrapped, and with `verifyIncoming` plain connections and peers without a
 * certificate signed by the CA are refused; outgoing connections use TLS when `verifyOutgoing` is on.
 * `admit` binds the sender id a frame claims to the peer that sent it (identity binding: see the agent).
 * Outgoing connections leave from `bindHost` (unless it is 0.0.0.0), so a peer sees our real address.
 *
 * Bounds: each outgoing connection holds at most `queueBytesMax` unwritten bytes; a frame over the
 * bound is dropped and counted (the core retries what matters: Raft heartbeats, SWIM probes).
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as tls from 'node:tls';
import {
  datagramBytesMax,
  decodeDatagram,
  encodeFrame,
  FrameReader,
  splitAddress,
  wireVersion,
  type FrameSealer,
} from './frame.js';
import {
  emptyStats,
  RateLimitedLog,
  type Channel,
  type LogFn,
  type PeerInfo,
  type Transport,
  type TransportStats,
} from './types.js';
export type { PeerInfo } from './types.js';

export interface SocketTransportOptions {
  /** Address to bind (e.g. 127.0.0.104, 0.0.0.0). */
  readonly bindHost: string;
  /** Port for both UDP and TCP; 0 picks a free one (tests). */
  readonly port: number;
  /** Address peers should use for us, `ip:port`; default bindHost:port (bindHost must not be 0.0.0.0 then). */
  readonly advertise?: string;
  /** Open the UDP socket too (gossip port); the server RPC port is TCP only. */
  readonly udp: boolean;
  readonly log: LogFn;
  /** Unwritten bytes allowed per outgoing connection before frames are dropped. */
  readonly queueBytesMax?: number;
  /** A dial that has not connected after this long is abandoned (ms). */
  readonly connectTimeoutMs?: number;
  /** First delay before re-dialling a peer that refused or broke (ms); doubles up to reconnectDelayMsMax. */
  readonly reconnectDelayMsMin?: number;
  readonly reconnectDelayMsMax?: number;
  /** Gossip encryption: seal every frame, open incoming ones (keyring.ts). */
  readonly sealer?: FrameSealer | null;
  /** TLS on streams (the server RPC port). */
  readonly tls?: TransportTls | null;
  /**
   * Identity binding: may a frame claiming to come from `claimedFrom` be taken from this peer? False
   * drops it (counted in `framesImpersonating`); a string drops it too and says why (logged once per
   * peer and claimed id). Absent: every well-formed frame is delivered.
   */
  readonly admit?: (claimedFrom: string, body: unknown, peer: PeerInfo) => boolean | string;
}

export interface TransportTls {
  readonly ca: Buffer;
  readonly cert: Buffer | null;
  readonly key: Buffer | null;
  /** Incoming streams must be TLS with a client certificate signed by the CA (mutual TLS). */
  readonly verifyIncoming: boolean;
  /** Outgoing streams use TLS and check the server's certificate against the CA. */
  readonly verifyOutgoing: boolean;
  /**
   * Outgoing: the server's certificate must name this host (`server.<dc>.<domain>`); null: CA only. A
   * function names it per address dialled: a server of another datacenter presents its own DC's name.
   */
  readonly serverName: string | null | ((address: string) => string | null);
  /**
   * Outgoing TLS only to this port (the server RPC port); other ports (a caller's gossip port, where RPC
   * replies land, sealed by gossip encryption) get plain TCP. Null: every outgoing stream.
   */
  readonly outgoingPort: number | null;
}

interface Outgoing {
  socket: net.Socket | null;
  connected: boolean;
  /** Frames written while dialling; bounded by queueBytesMax. */
  pending: Buffer[];
  pendingBytes: number;
  /** While Date.now() < retryAtMs, sends are dropped (the peer refused recently). */
  retryAtMs: number;
  /** When the current connection came up (Date.now()), or null while dialling. */
  connectedAtMs: number | null;
  delayMs: number;
  corked: boolean;
}

export async function listenSocketTransport(options: SocketTransportOptions): Promise<Transport> {
  const transport = new SocketTransport(options);
  await transport.listen();
  return transport;
}

class SocketTransport implements Transport {
  address = '';
  onReceive: ((from: string, body: unknown, channel: Channel, info?: PeerInfo) => void) | null = null;
  onLinkDown: ((to: string) => void) | null = null;
  readonly stats: TransportStats = emptyStats();
  private readonly server = net.createServer((socket) => this.onConnection(socket));
  private udp: dgram.Socket | null = null;
  private readonly outgoing = new Map<string, Outgoing>();
  private readonly incoming = new Set<net.Socket>();
  private readonly limited: RateLimitedLog;
  private closed = false;
  /** Handshakes incoming TLS connections (never listens itself: onConnection hands it sockets). */
  private tlsServer: tls.Server | null = null;
  /** Peers whose impersonation was logged (once per peer and claimed id). */
  private readonly impersonationLogged = new Set<string>();
  private readonly queueBytesMax: number;
  private readonly connectTimeoutMs: number;
  private readonly reconnectDelayMsMin: number;
  private readonly reconnectDelayMsMax: number;

  constructor(private readonly options: SocketTransportOptions) {
    this.limited = new RateLimitedLog(options.log);
    const t = options.tls;
    if (t && t.cert && t.key) {
      const server = tls.createServer(
        { ca: t.ca, cert: t.cert, key: t.key, requestCert: true, rejectUnauthorized: t.verifyIncoming },
        (secure) => this.onSecure(secure),
      );
      server.on('tlsClientError', (error, socket) => {
        this.stats.framesRejected++;
        const peer = `${socket.remoteAddress}:${socket.remotePort}`;
        this.limited.warn(`tls:${peer}`, `transport: TLS handshake with ${peer} failed: ${error.message}`);
        socket.destroy();
      });
      this.tlsServer = server;
    }
    this.queueBytesMax = options.queueBytesMax ?? 64 * 1024 * 1024;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    this.reconnectDelayMsMin = options.reconnectDelayMsMin ?? 50;
    this.reconnectDelayMsMax = options.reconnectDelayMsMax ?? 1000;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.options.bindHost, port: this.options.port, exclusive: true }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.server.on('error', (error) => this.options.log('error', `transport: tcp server error: ${error.message}`));
    const port = (this.server.address() as net.AddressInfo).port;
    if (this.options.udp) {
      const udp = dgram.createSocket({ type: 'udp4', reuseAddr: false });
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind({ address: this.options.bindHost, port, exclusive: true }, () => {
            udp.off('error', reject);
            resolve();
          });
        });
      } catch (error) {
        this.server.close();
        throw error;
      }
      udp.on('error', (error) => this.options.log('error', `transport: udp error: ${error.message}`));
      udp.on('message', (bytes, rinfo) => this.onDatagram(bytes, rinfo.address, `${rinfo.address}:${rinfo.port}`));
      this.udp = udp;
    }
    this.address = this.options.advertise ?? `${this.options.bindHost}:${port}`;
  }

  send(to: string, body: unknown, channel: Channel): void {
    if (this.closed) return;
    let frame: Buffer;
    try {
      const sealer = this.checkTlsCarries(to, channel) ? null : (this.options.sealer ?? null);
      frame = encodeFrame(this.address, body, wireVersion, sealer);
    } catch (error) {
      this.stats.framesDropped++;
      this.limited.warn('encode', `transport: could not encode a message to ${to}: ${(error as Error).message}`);
      return;
    }
    if (channel === 'datagram' && this.udp && frame.length <= datagramBytesMax) {
      const { host, port } = splitAddress(to);
      this.stats.framesSent++;
      this.udp.send(frame, port, host, (error) => {
        if (error) this.stats.framesDropped++;
      });
      return;
    }
    this.sendStream(to, frame);
  }

  /**
   * Whether a frame to `to` travels on an outgoing TLS stream where both ends present certificates the
   * CA signed: then it is not sealed with the gossip key as well (AES-GCM under TLS doubled the cost of
   * every Raft frame), since TLS already encrypts and authenticates it, as on Consul's RPC port, which
   * never uses the gossip key. The receiver takes plain frames on a verified TLS stream only (onSecure).
   * Our own verify_incoming stands for the cluster's policy: a server that verifies incoming certificates
   * presents one a peer of its cluster verifies; with it off, frames stay sealed.
   */
  private checkTlsCarries(to: string, channel: Channel): boolean {
    const t = this.options.tls;
    if (!this.options.sealer || !t || !t.verifyOutgoing || !t.verifyIncoming || !t.cert || !t.key) return false;
    if (channel === 'datagram' && this.udp) return false;
    return t.outgoingPort === null || splitAddress(to).port === t.outgoingPort;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const out of this.outgoing.values()) out.socket?.destroy();
    this.outgoing.clear();
    for (const socket of this.incoming) socket.destroy();
    this.incoming.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.udp) await new Promise<void>((resolve) => this.udp!.close(() => resolve()));
  }

  // ─────────────────────────────────────── outgoing streams ───────────────────────────────────────

  private sendStream(to: string, frame: Buffer): void {
    let out = this.outgoing.get(to);
    if (!out) {
      out = {
        socket: null,
        connected: false,
        pending: [],
        pendingBytes: 0,
        retryAtMs: 0,
        connectedAtMs: null,
        delayMs: this.reconnectDelayMsMin,
        corked: false,
      };
      this.outgoing.set(to, out);
    }
    if (!out.socket) {
      if (Date.now() < out.retryAtMs) {
        this.stats.framesDropped++;
        this.linkDown(to);
        return;
      }
      this.dial(to, out);
    }
    const socket = out.socket!;
    if (!out.connected) {
      if (out.pendingBytes + frame.length > this.queueBytesMax) return this.dropFull(to);
      out.pending.push(frame);
      out.pendingBytes += frame.length;
      this.stats.framesSent++;
      return;
    }
    if (socket.writableLength + frame.length > this.queueBytesMax) return this.dropFull(to);
    this.write(out, frame);
  }

  /** Tells the driver on the next turn of the event loop (never re-entering the step that sent). */
  private linkDown(to: string): void {
    if (this.onLinkDown) setImmediate(() => this.onLinkDown?.(to));
  }

  private write(out: Outgoing, frame: Buffer): void {
    const socket = out.socket!;
    // Coalesce every frame written in one turn of the event loop into one syscall.
    if (!out.corked) {
      out.corked = true;
      socket.cork();
      process.nextTick(() => {
        out.corked = false;
        socket.uncork();
      });
    }
    socket.write(frame);
    this.stats.framesSent++;
  }

  private dropFull(to: string): void {
    this.stats.framesDropped++;
    this.limited.warn(`full:${to}`, `transport: queue to ${to} is full; dropped a frame`);
  }

  private dial(to: string, out: Outgoing): void {
    const { host, port } = splitAddress(to);
    const localAddress = this.options.bindHost !== '0.0.0.0' ? { localAddress: this.options.bindHost } : {};
    const t = this.options.tls;
    const useTls =
      t !== null && t !== undefined && t.verifyOutgoing && (t.outgoingPort === null || t.outgoingPort === port);
    const serverName = useTls ? (typeof t.serverName === 'function' ? t.serverName(to) : t.serverName) : null;
    const socket: net.Socket = useTls
      ? tls.connect({
          host,
          port,
          ...localAddress,
          ca: t.ca,
          ...(t.cert && t.key ? { cert: t.cert, key: t.key } : {}),
          rejectUnauthorized: true,
          servername: serverName ?? undefined,
          // verify_server_hostname: the certificate must name server.<dc>.<domain>; without it only the
          // CA is checked (Consul's verify_outgoing alone).
          checkServerIdentity: (_host, cert) => (serverName ? tls.checkServerIdentity(serverName, cert) : undefined),
        })
      : net.connect({ host, port, noDelay: true, ...localAddress });
    if (useTls) socket.setNoDelay(true);
    this.stats.connectionsOpened++;
    out.socket = socket;
    out.connected = false;
    socket.setTimeout(this.connectTimeoutMs);
    socket.on('timeout', () => {
      if (!out.connected) socket.destroy(new Error(`connect timeout after ${this.connectTimeoutMs} ms`));
    });
    socket.on(useTls ? 'secureConnect' : 'connect', () => {
      socket.setTimeout(0);
      out.connected = true;
      out.connectedAtMs = Date.now();
      out.delayMs = this.reconnectDelayMsMin;
      const pending = out.pending;
      out.pending = [];
      out.pendingBytes = 0;
      for (const frame of pending) {
        this.stats.framesSent--; // counted when queued
        this.write(out, frame);
      }
    });
    // We never expect data on an outgoing connection (replies come on the peer's own connection).
    socket.on('data', () => undefined);
    socket.on('error', (error) => {
      if (!this.closed) this.limited.warn(`dial:${to}`, `transport: connection to ${to} failed: ${error.message}`);
    });
    socket.on('close', () => {
      if (out.socket !== socket) return;
      // An established connection that broke (an RST from a middlebox, `ss -K`, a peer's stack giving up)
      // is re-dialled at once on the next send: the agent re-sends what was lost on it as soon as it hears
      // the close (core/agent/rpc.ts resendReplies), and a backoff would drop exactly those frames — the
      // replies its requesters wait for. A dial that failed, or a connection that broke as soon as it came
      // up (a peer that accepts and closes), backs off as before: the peer is down or refusing us.
      const lived = out.connectedAtMs === null ? 0 : Date.now() - out.connectedAtMs;
      const broke = lived >= this.reconnectDelayMsMin;
      this.stats.framesDropped += out.pending.length;
      out.socket = null;
      out.connected = false;
      out.connectedAtMs = null;
      out.pending = [];
      out.pendingBytes = 0;
      out.retryAtMs = broke ? 0 : Date.now() + out.delayMs;
      out.delayMs = broke ? this.reconnectDelayMsMin : Math.min(out.delayMs * 2, this.reconnectDelayMsMax);
      // After the bookkeeping: the driver hears of it on the next turn of the event loop, and what it sends
      // then finds the state above.
      if (!this.closed) this.linkDown(to);
    });
  }

  // ─────────────────────────────────────── incoming ───────────────────────────────────────

  /**
   * A new TCP connection. Without TLS it carries frames. With TLS, its first byte decides: 0x16 opens
   * a TLS handshake (wrapped, the byte given back); anything else is a plain frame, refused when
   * `verifyIncoming` is on (a frame's first byte is its length's top byte: 0..4).
   */
  private onConnection(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.incoming.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => this.incoming.delete(socket));
    const t = this.options.tls;
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    if (!t) return this.onStream(socket, socket.remoteAddress ?? '', peer, false, []);
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      if (first[0] !== 0x16) {
        if (t.verifyIncoming) {
          this.stats.framesRejected++;
          this.limited.warn(`plain:${peer}`, `transport: refused a plain connection from ${peer} (verify_incoming)`);
          socket.destroy();
          return;
        }
        socket.resume();
        return this.onStream(socket, socket.remoteAddress ?? '', peer, false, []);
      }
      if (!this.tlsServer) {
        this.limited.warn(`tls:${peer}`, `transport: a TLS handshake from ${peer}, but no cert_file/key_file here`);
        socket.destroy();
        return;
      }
      // A tls.Server that never listens does the handshake (and enforces verify_incoming) for us.
      this.tlsServer.emit('connection', socket);
    });
  }

  /** A finished TLS handshake on an incoming connection: frames flow with what the certificate proves. */
  private onSecure(secure: tls.TLSSocket): void {
    const remoteIp = secure.remoteAddress ?? '';
    const peer = `${remoteIp}:${secure.remotePort}`;
    const verified = secure.authorized;
    const cert = verified ? secure.getPeerCertificate() : null;
    const names = cert?.subjectaltname
      ? cert.subjectaltname
          .split(/,\s*/)
          .filter((n) => n.startsWith('DNS:'))
          .map((n) => n.slice(4))
      : [];
    secure.on('error', () => undefined);
    this.onStream(secure, remoteIp, peer, verified, names);
  }

  private onStream(
    socket: net.Socket,
    remoteIp: string,
    peer: string,
    tlsVerified: boolean,
    certNames: string[],
  ): void {
    socket.setNoDelay(true);
    // A peer whose certificate the CA signed needs no gossip seal on top of TLS (checkTlsCarries).
    const reader = new FrameReader(this.options.sealer ?? null, tlsVerified);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) {
        if ('error' in frame) {
          this.reject(peer, 'stream', frame.error, frame.unauthenticated === true);
          continue;
        }
        const info: PeerInfo = { channel: 'stream', remoteIp, sealed: frame.sealed, tlsVerified, certNames };
        this.deliver(frame.from, frame.body, 'stream', info, peer);
      }
      if (reader.fatal) socket.destroy();
    });
  }

  private onDatagram(bytes: Buffer, remoteIp: string, peer: string): void {
    const frame = decodeDatagram(bytes, this.options.sealer ?? null);
    if ('error' in frame) return this.reject(peer, 'datagram', frame.error, frame.unauthenticated === true);
    const info: PeerInfo = { channel: 'datagram', remoteIp, sealed: frame.sealed, tlsVerified: false, certNames: [] };
    this.deliver(frame.from, frame.body, 'datagram', info, peer);
  }

  private reject(peer: string, channel: Channel, why: string, unauthenticated: boolean): void {
    if (unauthenticated) this.stats.framesUnauthenticated++;
    else this.stats.framesRejected++;
    this.limited.warn(
      `reject:${peer}`,
      `transport: dropped ${unauthenticated ? 'an unauthenticated' : 'a malformed'} ${channel} frame from ${peer}: ${why}`,
    );
  }

  private deliver(from: string, body: unknown, channel: Channel, info: PeerInfo, peer: string): void {
    if (this.closed) return;
    const verdict = this.options.admit ? this.options.admit(from, body, info) : true;
    if (verdict !== true) {
      this.stats.framesImpersonating++;
      const why = verdict === false ? 'the peer is not that member' : verdict;
      const key = `${info.remoteIp}|${from}|${why}`;
      if (!this.impersonationLogged.has(key)) {
        if (this.impersonationLogged.size < 4096) this.impersonationLogged.add(key);
        this.options.log('warn', `transport: dropped frames from ${peer} claiming to be ${from}: ${why}`);
      }
      return;
    }
    this.stats.framesReceived++;
    try {
      this.onReceive?.(from, body, channel, info);
    } catch (error) {
      // A handler bug must not kill the socket loop; the driver logs its own failures too.
      this.options.log('error', `transport: receive handler failed: ${(error as Error).stack ?? error}`);
    }
  }
}
