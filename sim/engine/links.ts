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
 * Which connections are open is bookkeeping here; the timing and the cut links are the network's.
 */
export class StreamLinks {
  /** Open connections, one-way: from × nodeCount + to — `from` dialled `to` and reached it. */
  private readonly open = new Set<number>();

  constructor(readonly nodeCount: number) {}

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
