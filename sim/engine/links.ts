/**
 * Stream connections between simulated nodes, for the transport's "connection dropped" signal (the
 * `linkDown` input, core/types.ts). The real transport (net/transport/socket.ts) signals it when an
 * outgoing connection closes — the peer's process died and its kernel closed the socket — and when a
 * frame is dropped because the peer refuses connections (down, redial back-off). The simulator models
 * the same two cases:
 *
 * - a node whose process dies (crash, disk replaced, storage exit) closes every connection opened to
 *   it: each peer that holds one hears `linkDown` one network latency later, unless the link back is
 *   cut (a partition carries no FIN, so it gives no hint, as in the real world);
 * - a stream message that reaches a node whose process is down is refused: its sender hears
 *   `linkDown` one latency later (the RST of a refused dial), again unless the link back is cut.
 *
 * A paused process keeps its connections (no signal); a crashed sender's own connections die with it.
 * A third case has live processes at both ends: a reset (the `reset` fault) drops what is in flight on
 * the connection both ways, and each end hears `linkDown` one latency later (unless the link is cut).
 * Which connections are open is bookkeeping here; the timing and the cut links are the network's.
 */
export class StreamLinks {
  /** Open connections, one-way: from × nodeCount + to — `from` dialled `to` and reached it. */
  private readonly open = new Set<number>();
  /**
   * Connection generation per one-way link (from × nodeCount + to), bumped by a reset: a stream message
   * carries the generation it was sent on, and one that arrives after its connection was reset is lost
   * (the RST discards what was in flight and what the receiver had not read yet).
   */
  private readonly epochs: Int32Array;

  constructor(readonly nodeCount: number) {
    this.epochs = new Int32Array(nodeCount * nodeCount);
  }

  /** The current connection generation of the link from → to. */
  epochOf(from: number, to: number): number {
    return this.epochs[from * this.nodeCount + to]!;
  }

  /**
   * The connections between live processes `a` and `b` are reset (an RST: a middlebox's idle timeout, a
   * conntrack flush, a load balancer, a peer's TCP stack giving up): both directions get a new
   * generation, so what was in flight is lost, and neither is open until a message reaches it again.
   */
  reset(a: number, b: number): void {
    this.resetOneWay(a, b);
    this.resetOneWay(b, a);
  }

  /**
   * Only the connection `from` dialled to `to` is reset (each direction is its own connection in the
   * real transport: a message goes out on the sender's, a reply on the replier's own): what `from` sent
   * on it is lost, and only `from`, its dialler, hears the close (net/transport/socket.ts signals
   * linkDown for outgoing connections only).
   */
  resetOneWay(from: number, to: number): void {
    const link = from * this.nodeCount + to;
    this.epochs[link] = this.epochs[link]! + 1;
    this.open.delete(link);
  }

  /** A stream message from `from` reached `to`'s live process: the connection is up. */
  opened(from: number, to: number): void {
    this.open.add(from * this.nodeCount + to);
  }

  /**
   * `node`'s process died: its connections, in and out, are gone. Returns the peers that held an open
   * connection to it (in index order, so the signals are scheduled deterministically).
   */
  closeAll(node: number): number[] {
    const peers: number[] = [];
    for (let peer = 0; peer < this.nodeCount; peer++) {
      if (this.open.delete(peer * this.nodeCount + node) && peer !== node) peers.push(peer);
      this.open.delete(node * this.nodeCount + peer);
    }
    return peers;
  }
}
