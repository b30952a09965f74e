/**
 * The in-memory twin of the socket transport (memberlist keeps one too): the same frames, encoded and
 * decoded by the same code, delivered through a `MemoryNetwork` on later turns of the event loop.
 * Streams are FIFO per (sender, receiver); a datagram is delivered unless the destination is closed.
 * It exists so that driver tests run without ports, and so the conformance suite has a reference.
 *
 * The lead's simulator (sim/simulator.ts) drives machines directly with virtual time and never goes
 * through a Transport, so it cannot be wrapped into this interface without the event loop; this twin
 * stands in for "the simulator's network" in the shared suite.
 */
import { decodeDatagram, encodeFrame, FrameReader } from './frame.js';
import { emptyStats, RateLimitedLog, type Channel, type LogFn, type Transport, type TransportStats } from './types.js';

export class MemoryNetwork {
  private readonly endpoints = new Map<string, MemoryTransport>();

  listen(address: string, log: LogFn): MemoryTransport {
    const existing = this.endpoints.get(address);
    if (existing && !existing.isClosed) throw new Error(`listen ${address}: address in use`);
    const endpoint = new MemoryTransport(this, address, log);
    this.endpoints.set(address, endpoint);
    return endpoint;
  }

  /** Delivers raw bytes as if a peer had written them (conformance tests of malformed input). */
  injectRaw(to: string, bytes: Uint8Array, channel: Channel): void {
    const target = this.endpoints.get(to);
    if (!target || target.isClosed) return;
    setImmediate(() => target.receiveRaw(Buffer.from(bytes), channel, 'injected'));
  }

  /** @internal */
  route(from: MemoryTransport, to: string, frame: Buffer, channel: Channel): boolean {
    const target = this.endpoints.get(to);
    if (!target || target.isClosed) return false;
    // A copy, so the sender cannot mutate what is in flight; delivered on a later turn, in send order.
    const copy = Buffer.from(frame);
    setImmediate(() => {
      if (!target.isClosed) target.receiveRaw(copy, channel, from.address);
    });
    return true;
  }

  remove(address: string, endpoint: MemoryTransport): void {
    if (this.endpoints.get(address) === endpoint) this.endpoints.delete(address);
  }
}

export class MemoryTransport implements Transport {
  onReceive: ((from: string, body: unknown, channel: Channel) => void) | null = null;
  onLinkDown: ((to: string) => void) | null = null;
  readonly stats: TransportStats = emptyStats();
  isClosed = false;
  private readonly limited: RateLimitedLog;
  /** Stream byte readers per sender, as a TCP connection would have. */
  private readonly readers = new Map<string, FrameReader>();

  constructor(
    private readonly network: MemoryNetwork,
    readonly address: string,
    private readonly log: LogFn,
  ) {
    this.limited = new RateLimitedLog(log);
  }

  send(to: string, body: unknown, channel: Channel): void {
    if (this.isClosed) return;
    let frame: Buffer;
    try {
      frame = encodeFrame(this.address, body);
    } catch (error) {
      this.stats.framesDropped++;
      this.limited.warn('encode', `transport: could not encode a message to ${to}: ${(error as Error).message}`);
      return;
    }
    if (this.network.route(this, to, frame, channel)) this.stats.framesSent++;
    else {
      this.stats.framesDropped++;
      // No endpoint at `to` (closed, or never there): a TCP dial would be refused.
      if (channel === 'stream' && this.onLinkDown) setImmediate(() => this.onLinkDown?.(to));
    }
  }

  async close(): Promise<void> {
    this.isClosed = true;
    this.network.remove(this.address, this);
  }

  /** @internal */
  receiveRaw(bytes: Buffer, channel: Channel, peer: string): void {
    if (this.isClosed) return;
    if (channel === 'datagram') {
      const frame = decodeDatagram(bytes);
      if ('error' in frame) return this.reject(peer, channel, frame.error);
      return this.deliver(frame.from, frame.body, channel);
    }
    let reader = this.readers.get(peer);
    if (!reader) {
      reader = new FrameReader();
      this.readers.set(peer, reader);
    }
    for (const frame of reader.push(bytes)) {
      if ('error' in frame) this.reject(peer, channel, frame.error);
      else this.deliver(frame.from, frame.body, channel);
    }
    // A fatal error closes "the connection": the next bytes from that peer start a fresh reader.
    if (reader.fatal) this.readers.delete(peer);
  }

  private reject(peer: string, channel: Channel, why: string): void {
    this.stats.framesRejected++;
    this.limited.warn(`reject:${peer}`, `transport: dropped a malformed ${channel} frame from ${peer}: ${why}`);
  }

  private deliver(from: string, body: unknown, channel: Channel): void {
    this.stats.framesReceived++;
    try {
      this.onReceive?.(from, body, channel);
    } catch (error) {
      this.log('error', `transport: receive handler failed: ${(error as Error).stack ?? error}`);
    }
  }
}
