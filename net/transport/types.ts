/**
 * The transport contract between the driver and a network: one endpoint = one address (`ip:port`)
 * that receives datagrams (UDP) and streams (TCP) on the same port, as memberlist does on 8301.
 * Two implementations: real sockets (socket.ts) and an in-memory twin (memory.ts); both pass the
 * conformance suite in net/test/transport.conformance.ts.
 *
 * Semantics follow core/types.ts SendEffect: a datagram may be lost; a stream is in order per
 * (sender, receiver) while the connection lives, and is lost across crashes and partitions. The
 * transport never retries a message and `send` never throws for a network reason.
 */
import type { TraceEvent } from '../../core/trace.js';

export type Channel = 'datagram' | 'stream';

/** A log line; `event` is the typed trace event the line renders, when a machine's trace made it (core/trace.ts). */
export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', text: string, event?: TraceEvent) => void;

/** What the transport knows about the sender of one frame. */
export interface PeerInfo {
  readonly channel: Channel;
  /** The source IP of the datagram or connection. */
  readonly remoteIp: string;
  /** The frame was sealed and opened with a key of the ring. */
  readonly sealed: boolean;
  /** The connection is TLS with a client certificate the CA signed. */
  readonly tlsVerified: boolean;
  /** DNS names of the verified client certificate (empty otherwise). */
  readonly certNames: readonly string[];
}

export interface TransportStats {
  framesSent: number;
  framesReceived: number;
  /** Frames we could not deliver to the OS: queue full, peer unreachable, socket error. */
  framesDropped: number;
  /** Frames received and thrown away: malformed, other protocol version, oversized. */
  framesRejected: number;
  /** Frames dropped by gossip encryption: no key of the ring opened them, or plain ones were refused. */
  framesUnauthenticated: number;
  /** Frames whose claimed sender is not the peer that sent them (identity binding). */
  framesImpersonating: number;
  connectionsOpened: number;
}

export interface Transport {
  /** The address peers see as `from` on our frames (the advertise address). */
  readonly address: string;
  send(to: string, body: unknown, channel: Channel): void;
  /** Set by the driver; called once per delivered frame (`info`: what the socket knows of the sender). */
  onReceive: ((from: string, body: unknown, channel: Channel, info?: PeerInfo) => void) | null;
  /**
   * Set by the driver; called (never from inside `send`) when our stream connection to `to` closed or
   * could not be opened — the peer's process died or reset it — or a stream frame to it was dropped
   * while the transport waits to dial again: frames sent to `to` may not have arrived, and answers
   * will not come on it. A hint for failing fast (a partition gives none).
   */
  onLinkDown?: ((to: string) => void) | null;
  readonly stats: TransportStats;
  /** Stops listening and drops every connection. Queued frames are lost (as in a crash). */
  close(): Promise<void>;
}

export function emptyStats(): TransportStats {
  return {
    framesSent: 0,
    framesReceived: 0,
    framesDropped: 0,
    framesRejected: 0,
    framesUnauthenticated: 0,
    framesImpersonating: 0,
    connectionsOpened: 0,
  };
}

/**
 * Logs a line at most once per `intervalMs` per key, counting the rest: a peer spraying garbage must
 * not flood the log (memberlist logs each bad packet; we coalesce).
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();
  constructor(
    private readonly log: LogFn,
    private readonly intervalMs = 5000,
  ) {}

  warn(key: string, text: string): void {
    const nowMs = Date.now();
    const entry = this.last.get(key);
    if (entry && nowMs - entry.atMs < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    const suffix = entry && entry.suppressed > 0 ? ` (${entry.suppressed} more since the last report)` : '';
    this.last.set(key, { atMs: nowMs, suppressed: 0 });
    if (this.last.size > 1024) this.last.clear();
    this.log('warn', text + suffix);
  }
}
