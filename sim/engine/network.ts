/**
 * The simulated network: which links are cut (partitions, one-way blocks, bridges, rings), which are
 * clogged, and what happens to one message in flight — dropped, duplicated, delayed, reordered.
 * Streams (TCP-like) are never lost, duplicated or reordered by the loss knobs: a stream message is
 * delivered after every earlier message on its link, or not at all when the link is cut.
 *
 * Every draw comes from one `network` random stream, in a fixed order per message (loss, duplicate,
 * then latency and reorder per copy), so that a run replays bit for bit.
 */
import type { NetworkKnobs } from '../harness.js';

const usPerMs = 1000;

export class Network {
  /** The scenario's network, restored when a loss/dup/reorder fault ends and when everything heals. */
  readonly base: NetworkKnobs;
  /** The knobs in force now. */
  current: NetworkKnobs;
  /** Group of each node while partitioned: nodes talk only within their group. */
  readonly groupOf: Int32Array;
  partitioned = false;
  /** Cut links, one-way: from × nodeCount + to. */
  readonly blockedPairs = new Set<number>();
  /**
   * Nodes whose datagrams are dropped, both ways, while their streams still work (the `datagram-cut`
   * fault: UDP blocked by a firewall, or a busy host's socket receive buffer overflowing — the kernel
   * drops UDP but TCP's flow control loses nothing). Gossip then calls a live process failed.
   */
  readonly datagramCut = new Set<number>();
  /**
   * Nodes whose stream messages are dropped, both ways and silently, while their datagrams still flow (the
   * `stream-cut` fault, the mirror of `datagram-cut`: a firewall that blocks the server port but not gossip,
   * or an RPC path wedged while the gossip loop runs). No FIN, no RST: senders hear nothing, and gossip keeps
   * calling the node alive.
   */
  readonly streamCut = new Set<number>();
  /** Links whose messages are held until a global time (µs). */
  readonly clogUntilUs = new Map<number, number>();
  /** Delivery time of the last stream message per link: a stream never reorders. */
  private readonly lastStreamUs = new Map<number, number>();
  /**
   * Multi-DC scenarios: each node's datacenter (index into the scenario's list), and the knobs of a
   * link between two DCs (the WAN: its own latency and loss; LAN faults such as `loss` leave it alone,
   * WAN faults cut it). Null for a one-DC scenario, whose draws are then exactly as before.
   */
  private readonly dcOf: Int32Array | null;
  private readonly wan: NetworkKnobs | null;

  constructor(
    knobs: NetworkKnobs,
    readonly nodeCount: number,
    private readonly rng: () => number,
    datacenters: { readonly dcOf: readonly number[]; readonly wan: NetworkKnobs } | null = null,
  ) {
    this.base = { ...knobs };
    this.current = { ...knobs };
    this.groupOf = new Int32Array(nodeCount);
    this.dcOf = datacenters === null ? null : Int32Array.from(datacenters.dcOf);
    this.wan = datacenters === null ? null : { ...datacenters.wan };
  }

  isBlocked(from: number, to: number): boolean {
    if (this.partitioned && this.groupOf[from] !== this.groupOf[to]) return true;
    return this.blockedPairs.size > 0 && this.blockedPairs.has(from * this.nodeCount + to);
  }

  /**
   * Decides the fate of one message sent at `nowUs`: null when it is lost (cut link or datagram
   * loss), otherwise the global delivery time (µs) of each copy (two when a datagram is duplicated).
   */
  route(from: number, to: number, stream: boolean, nowUs: number): number[] | null {
    const knobs = this.knobsOf(from, to);
    // Percent knobs against unit floats: p / 100 is the same double as the ratio p% always denoted.
    if (this.isBlocked(from, to)) return null;
    // A cut node's datagrams are dropped before any draw: runs without the fault draw exactly as before.
    if (!stream && this.datagramCut.size > 0 && (this.datagramCut.has(from) || this.datagramCut.has(to))) return null;
    // Likewise before any draw: runs without a stream cut draw exactly as before.
    if (stream && this.streamCut.size > 0 && (this.streamCut.has(from) || this.streamCut.has(to))) return null;
    if (!stream && this.rng() < knobs.lossPercent / 100) return null;
    const copies = !stream && this.rng() < knobs.duplicatePercent / 100 ? 2 : 1;
    const times: number[] = [];
    for (let copy = 0; copy < copies; copy++) {
      let atUs = nowUs + this.latencyUs(knobs);
      if (!stream && this.rng() < knobs.reorderPercent / 100)
        atUs += Math.round(this.rng() * knobs.reorderMsMax * usPerMs);
      const link = from * this.nodeCount + to;
      const clog = this.clogUntilUs.get(link);
      if (clog !== undefined && clog > atUs) atUs = clog;
      if (stream) {
        const last = this.lastStreamUs.get(link) ?? 0;
        if (atUs <= last) atUs = last + 1;
        this.lastStreamUs.set(link, atUs);
      }
      times.push(atUs);
    }
    return times;
  }

  /** Groups by node index; nodes not listed form one more group. */
  partition(groups: readonly (readonly number[])[]): void {
    this.groupOf.fill(groups.length);
    groups.forEach((group, g) => group.forEach((index) => (this.groupOf[index] = g)));
    this.partitioned = true;
  }

  blockOneWay(from: number, to: number): void {
    this.blockedPairs.add(from * this.nodeCount + to);
  }

  /** `bridge`: nodes on different sides cannot talk; the bridge node (on no side) talks to both. */
  bridge(sides: readonly (readonly number[])[]): void {
    for (let i = 0; i < sides.length; i++)
      for (let j = 0; j < sides.length; j++) {
        if (i === j) continue;
        for (const a of sides[i]!) for (const b of sides[j]!) this.blockOneWay(a, b);
      }
  }

  /** Majority ring: each node talks only to its ⌊n/2⌋ nearest neighbours on a ring (so each sees a majority, none the same one). */
  ring(): void {
    const n = this.nodeCount;
    const reach = Math.floor(n / 2) / 2;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        if (i === j) continue;
        const d = Math.min((i - j + n) % n, (j - i + n) % n);
        if (d > Math.ceil(reach)) this.blockOneWay(i, j);
      }
  }

  clog(from: number, to: number, untilUs: number): void {
    this.clogUntilUs.set(from * this.nodeCount + to, untilUs);
  }

  /** Ends partitions, one-way blocks, datagram and stream cuts and clogs (not loss/dup/reorder: see `set` and `reset`). */
  heal(): void {
    this.partitioned = false;
    this.blockedPairs.clear();
    this.datagramCut.clear();
    this.streamCut.clear();
    this.clogUntilUs.clear();
  }

  set(knobs: Partial<NetworkKnobs>): void {
    this.current = { ...this.current, ...knobs };
  }

  reset(): void {
    this.current = { ...this.base };
  }

  /** Which group each node index is in while partitioned, and the explicitly cut links. */
  view(): { groups: number[][]; blocked: [number, number][] } {
    const groups = new Map<number, number[]>();
    for (let index = 0; index < this.nodeCount; index++) {
      const g = this.partitioned ? this.groupOf[index]! : 0;
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g)!.push(index);
    }
    const n = this.nodeCount;
    const blocked = [...this.blockedPairs].map((key) => [Math.floor(key / n), key % n] as [number, number]);
    return { groups: [...groups.values()], blocked };
  }

  /** The knobs of the link from → to: the WAN's between two datacenters, else the network's now. */
  private knobsOf(from: number, to: number): NetworkKnobs {
    return this.dcOf !== null && this.dcOf[from] !== this.dcOf[to] ? this.wan! : this.current;
  }

  /** Cuts every link from a node of datacenter `fromDc` to a node of `toDc` (indices into the scenario's list). */
  cutWan(fromDc: number, toDc: number): void {
    if (this.dcOf === null) return;
    for (let a = 0; a < this.nodeCount; a++)
      if (this.dcOf[a] === fromDc)
        for (let b = 0; b < this.nodeCount; b++) if (this.dcOf[b] === toDc) this.blockOneWay(a, b);
  }

  /**
   * When a connection's close (FIN) or a refused dial's reset, sent by `from` at `nowUs`, reaches `to`:
   * one latency later, behind a clog, or null when the link is cut. Latency draws come from `rng` (the
   * caller's own stream), so modelling these signals shifts no draw of the messages.
   */
  signalUs(from: number, to: number, nowUs: number, rng: () => number): number | null {
    if (this.isBlocked(from, to)) return null;
    const atUs = nowUs + this.latencyUs(this.knobsOf(from, to), rng);
    const clog = this.clogUntilUs.get(from * this.nodeCount + to);
    return clog !== undefined && clog > atUs ? clog : atUs;
  }

  private latencyUs(knobs: NetworkKnobs, rng: () => number = this.rng): number {
    const tail = -Math.log(1 - rng()) * knobs.latencyMsTailMean;
    return Math.max(1, Math.round((knobs.latencyMsMin + tail) * usPerMs));
  }
}
