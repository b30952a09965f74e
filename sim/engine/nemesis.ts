/**
 * The swarm nemesis (swarm testing, as TigerBeetle's VOPR and Jepsen do it): each seed draws its own
 * mix of fault kinds and intensities (`drawKnobs`), logged first thing in the run, then injects one
 * fault every `faultEveryMs` on average during the safety phase and undoes it after a random
 * duration. Every draw comes from the `nemesis` random stream.
 */
import type { Prng } from '../../core/prng.js';
import type { NodeId } from '../../core/types.js';
import type { FaultApi, NetworkKnobs } from '../harness.js';
import { faultKinds, type FaultKind, type Scenario } from '../scenario.js';
import { describeBusyKnobs, type BusyKnobs } from './busy.js';

/**
 * The knobs drawn from the seed at the start of a run (swarm testing: each seed gets its own mix of
 * fault kinds and intensities, as TigerBeetle's VOPR does). All are logged first thing in a run.
 */
export interface Knobs extends BusyKnobs {
  /** Fault kinds this seed uses, with a relative weight each (0 = off). */
  faultWeights: Record<FaultKind, number>;
  /** Mean gap between nemesis actions (ms). */
  faultEveryMs: number;
  /** How long a fault lasts before it is undone, at most (ms). */
  faultDurationMsMax: number;
  /** Network knobs while a loss/dup/reorder fault is active. */
  faultLossPercent: number;
  faultDuplicatePercent: number;
  faultReorderPercent: number;
  /** Probability (as a percentage) that a crash tears the first unsynced append. */
  tornWritePercent: number;
  /** Probability (as a percentage) that a crash also rots a stored log entry (off unless asked). */
  bitRotPercent: number;
  /** fsync latency range (µs). */
  syncUsMin: number;
  syncUsMax: number;
  /** Largest clock jump (ms) and drift (ppm) the clock fault draws. */
  clockJumpMsMax: number;
  clockDriftPpmMax: number;
  /**
   * The protocol's own knobs for this seed (scenario parameters: preVote, channel, batch sizes...):
   * drawn by the harness in swarm scenarios (`Harness.drawKnobs`), pinned by `--knob KEY=VALUE`, and
   * laid over the scenario's parameters. Empty when nothing was drawn or pinned.
   */
  protocol: Readonly<Record<string, string>>;
}

/** What the nemesis needs from the simulation. */
export interface NemesisHost {
  readonly phase: 'safety' | 'liveness' | 'done';
  readonly nowMs: number;
  readonly nodeIds: readonly NodeId[];
  readonly faults: FaultApi;
  readonly baseNetwork: NetworkKnobs;
  after(delayMs: number, fn: () => void): void;
  isUp(nodeId: NodeId): boolean;
  isPaused(nodeId: NodeId): boolean;
  bridge(bridgeNode: NodeId, sides: NodeId[][]): void;
  ring(): void;
  /** Datacenter names of a multi-DC scenario (empty otherwise), and the WAN faults over them. */
  readonly datacenterNames: readonly string[];
  cutWan(fromDc: string, toDc: string): void;
  isolateDatacenter(dc: string): void;
  /** The node that believes it leads at the highest term (a Raft machine's role), or null. */
  leader(): NodeId | null;
  /** The nodes that have run a Raft machine: the servers of an agent scenario, every node of a Raft one. */
  raftHostIds(): NodeId[];
}

/** Draws the per-seed knobs (swarm testing): fault mix and intensities (the busy host's come from busy.ts). */
export function drawKnobs(r: Prng, scenario: Scenario): Omit<Knobs, keyof BusyKnobs> {
  const enabled = new Set(scenario.nemesis.mode === 'swarm' ? scenario.nemesis.kinds : []);
  const weight = (kind: FaultKind) => (enabled.has(kind) ? r.pick([0, 1, 2, 4]) : 0);
  const faultWeights = {} as Record<FaultKind, number>;
  for (const kind of faultKinds) faultWeights[kind] = weight(kind);
  // Swarm testing turns some kinds off per seed, but never all of the enabled ones.
  if (enabled.size > 0 && Object.values(faultWeights).every((w) => w === 0)) faultWeights[r.pick([...enabled])] = 1;
  const every = scenario.nemesis.everyMs;
  return {
    faultWeights,
    faultEveryMs: Math.max(1, Math.round((every * r.pick([1, 2, 4])) / 2)),
    faultDurationMsMax: Math.max(1, Math.round(every * r.pick([1, 2, 4, 8]))),
    faultLossPercent: r.pick([1, 5, 20, 50]),
    faultDuplicatePercent: r.pick([1, 10, 30]),
    faultReorderPercent: r.pick([5, 30, 80]),
    tornWritePercent: r.pick([0, 50, 100]),
    bitRotPercent: 0,
    syncUsMin: 100,
    syncUsMax: r.pick([500, 2000, 10_000]),
    clockJumpMsMax: r.pick([100, 1000, 5000]),
    clockDriftPpmMax: r.pick([100, 1000, 20_000]),
    protocol: {},
  };
}

/** The knobs as one log line (the first line of every run). */
export function describeKnobs(seed: number, scenario: Scenario, k: Knobs): string {
  const usesBusy =
    (scenario.nemesis.mode === 'swarm' && scenario.nemesis.kinds.includes('busy')) ||
    scenario.timeline.some((event) => event.action === 'busy');
  const weights = Object.entries(k.faultWeights)
    .filter(([kind]) => scenario.nemesis.mode === 'swarm' && scenario.nemesis.kinds.includes(kind as FaultKind))
    .map(([kind, w]) => `${kind}=${w}`)
    .join(' ');
  return (
    `seed ${seed} knobs: nemesis=${scenario.nemesis.mode}${weights ? ` weights[${weights}]` : ''} every=${k.faultEveryMs}ms ` +
    `durationMax=${k.faultDurationMsMax}ms loss=${pct(k.faultLossPercent)} dup=${pct(k.faultDuplicatePercent)} reorder=${pct(k.faultReorderPercent)} ` +
    `torn=${k.tornWritePercent}% rot=${k.bitRotPercent}% sync=${k.syncUsMin}..${k.syncUsMax}us clockJump=${k.clockJumpMsMax}ms drift=${k.clockDriftPpmMax}ppm` +
    (usesBusy ? ` ${describeBusyKnobs(k)}` : '') +
    describeProtocolKnobs(k.protocol)
  );
}

export class Nemesis {
  private readonly replacedDisks = new Set<NodeId>();

  constructor(
    private readonly host: NemesisHost,
    private readonly r: Prng,
    private readonly knobs: Knobs,
    private readonly safetyMs: number,
  ) {}

  /** Schedules the first action; each action schedules the next until the safety phase ends. */
  start(): void {
    const tick = () => {
      if (this.host.phase !== 'safety') return;
      this.act();
      const gap = 1 + this.r.below(Math.max(1, Math.round(this.knobs.faultEveryMs * 2)));
      if (this.host.nowMs + gap < this.safetyMs) this.host.after(gap, tick);
    };
    this.host.after(this.r.below(Math.max(1, Math.round(this.knobs.faultEveryMs))), tick);
  }

  private pickKind(): FaultKind | null {
    const weights = this.knobs.faultWeights;
    const kinds = (Object.keys(weights) as FaultKind[]).filter((k) => weights[k] > 0);
    if (kinds.length === 0) return null;
    const total = kinds.reduce((sum, k) => sum + weights[k], 0);
    let draw = this.r.below(total);
    for (const k of kinds) {
      if (draw < weights[k]) return k;
      draw -= weights[k];
    }
    return kinds[0]!;
  }

  private act(): void {
    const kind = this.pickKind();
    if (kind === null) return;
    const { host, r } = this;
    const ids = host.nodeIds;
    const duration = 1 + r.below(Math.max(1, this.knobs.faultDurationMsMax));
    const undo = (fn: () => void) => host.after(duration, () => host.phase === 'safety' && fn());
    const f = host.faults;
    switch (kind) {
      case 'partition': {
        const groupCount = 2 + r.below(2);
        const groups: NodeId[][] = Array.from({ length: groupCount }, () => []);
        for (const id of r.shuffle([...ids])) groups[r.below(groupCount)]!.push(id);
        f.partition(groups.filter((g) => g.length > 0));
        undo(() => f.heal());
        return;
      }
      case 'oneway': {
        if (ids.length < 2) return;
        const [a, b] = r.shuffle([...ids]);
        f.blockOneWay(a!, b!);
        undo(() => f.heal());
        return;
      }
      case 'bridge': {
        if (ids.length < 3) return;
        const shuffled = r.shuffle([...ids]);
        const bridgeNode = shuffled.pop()!;
        const half = Math.ceil(shuffled.length / 2);
        host.bridge(bridgeNode, [shuffled.slice(0, half), shuffled.slice(half)]);
        undo(() => f.heal());
        return;
      }
      case 'isolate': {
        // Jepsen's partition-leader: the node that believes it leads (any node when none does) is cut
        // off from every peer, while clients still reach it (client requests never cross the peer
        // network in the simulator). A deposed leader keeps answering whoever still asks it until it
        // notices — the window where lease reads, check-quorum and a consistent read served locally
        // go wrong; a random partition leaves the leader in a minority only now and then.
        const victim = host.leader() ?? r.pick(ids);
        f.partition([[victim]]);
        undo(() => f.heal());
        return;
      }
      case 'datagram-cut': {
        // One node's gossip is lost both ways while its streams work: the others' SWIM suspects it and
        // declares it failed although its process, Raft and RPCs are alive (a false positive), and it
        // declares them failed likewise. Nothing a client sends is lost.
        const victim = r.pick(ids);
        f.cutDatagrams(victim, true);
        undo(() => f.cutDatagrams(victim, false));
        return;
      }
      case 'ring':
        if (ids.length < 4) return;
        host.ring();
        undo(() => f.heal());
        return;
      case 'crash': {
        const up = ids.filter((id) => host.isUp(id));
        if (up.length === 0) return;
        const victim = r.pick(up);
        f.crash(victim);
        undo(() => f.restart(victim));
        return;
      }
      case 'reset': {
        // Connections between live processes reset (an RST from a middlebox's idle timeout, a conntrack
        // flush, a peer's TCP stack giving up): stream messages in flight are lost both ways and both ends
        // hear the connection drop; nothing else is wrong. One pair, or every connection of one node.
        if (ids.length < 2) return;
        const [a, b] = r.shuffle([...ids]);
        f.resetStreams(a!, r.chance(1, 2) ? b! : null);
        return;
      }
      case 'reset-oneway': {
        // Only the connection one node dialled to another is reset (every connection it dialled, half the
        // time): what it sent on it is lost, and only it hears the close — each direction is its own
        // connection in the real transport, and a NAT's idle timeout resets the idle one, often the
        // direction that carries a server's replies.
        if (ids.length < 2) return;
        const [a, b] = r.shuffle([...ids]);
        const peer = r.chance(1, 2) ? b! : null;
        f.resetStreams(a!, peer, true);
        // A flapping middlebox, half the time: the same connections are reset again once or twice, a few
        // milliseconds apart — within the flight of the replies a server sends again after the first reset
        // (the double-reset window; core/agent/rpc.ts keeps a re-sent reply for up to replyResendsMax
        // re-sends, so up to three resets in a row lose no reply).
        if (r.chance(1, 2)) {
          let atMs = 0;
          for (let again = 1 + r.below(2); again > 0; again--) {
            atMs += 1 + r.below(15);
            host.after(atMs, () => host.phase === 'safety' && f.resetStreams(a!, peer, true));
          }
        }
        return;
      }
      case 'crash-leader': {
        // Jepsen's kill-primary: the process of the node that believes it leads dies, and restarts after
        // the fault's duration — the failover every client of a cluster meets, drawn as often as the seed
        // says instead of one crash in n. Nothing while no node leads (the cluster is failing over
        // already: crashing another server would only take its quorum away).
        const victim = host.leader();
        if (victim === null || !host.isUp(victim)) return;
        f.crash(victim);
        undo(() => f.restart(victim));
        return;
      }
      case 'restart-fast': {
        // A process killed and started again at once (a supervisor's restart, `systemctl restart`, a
        // crash loop, a deploy): down for a few ms to half a second — often less than a round trip, or
        // than the replies and blocking reads its peers still owe the old process. What the peers send
        // after the new process is up reaches it (a new connection), so a late answer meant for the old
        // process meets the new one's calls (issue 13: call ids must not repeat across processes).
        const up = ids.filter((id) => host.isUp(id));
        if (up.length === 0) return;
        const victim = r.pick(up);
        f.crash(victim);
        host.after(1 + r.below(r.pick([5, 50, 500])), () => f.restart(victim));
        return;
      }
      case 'pause': {
        const up = ids.filter((id) => host.isUp(id) && !host.isPaused(id));
        if (up.length === 0) return;
        const victim = r.pick(up);
        f.pause(victim);
        undo(() => f.resume(victim));
        return;
      }
      case 'clock': {
        const victim = r.pick(ids);
        if (r.chance(1, 2)) f.jumpClock(victim, r.between(-this.knobs.clockJumpMsMax, this.knobs.clockJumpMsMax));
        else f.setDrift(victim, r.between(-this.knobs.clockDriftPpmMax, this.knobs.clockDriftPpmMax));
        return;
      }
      case 'loss':
      case 'dup':
      case 'reorder': {
        const knobs: Partial<NetworkKnobs> =
          kind === 'loss'
            ? { lossPercent: this.knobs.faultLossPercent }
            : kind === 'dup'
              ? { duplicatePercent: this.knobs.faultDuplicatePercent }
              : { reorderPercent: this.knobs.faultReorderPercent };
        f.setNetwork(knobs);
        undo(() => f.setNetwork(host.baseNetwork));
        return;
      }
      case 'full': {
        // The disk takes a few more bytes (none, part of one record, a few records), then writes
        // fail; space returns when the fault is undone.
        const victim = r.pick(ids);
        f.fillDisk(victim, r.pick([0, 16, 64, 256, 1024, 4096]));
        undo(() => f.freeDisk(victim));
        return;
      }
      case 'disk-replaced': {
        // A cluster survives losing a minority of its disks (the lost servers are re-added); losing a
        // majority loses data by definition and needs a manual recovery (Consul's peers.json), so a run
        // replaces at most ⌊(n−1)/2⌋ of its n servers' disks, each once (a client agent keeps no Raft
        // state: its disk is not drawn).
        const servers = host.raftHostIds();
        if (servers.length === 0 || this.replacedDisks.size >= Math.floor((servers.length - 1) / 2)) return;
        const victim = r.pick(servers.filter((id) => !this.replacedDisks.has(id)));
        this.replacedDisks.add(victim);
        f.replaceDisk(victim, r.chance(1, 2));
        return;
      }
      case 'busy': {
        // A busy host: some nodes (often all: they share the host) are starved for a while.
        const victims = r.chance(1, 2) ? [...ids] : r.shuffle([...ids]).slice(0, 1 + r.below(ids.length));
        for (const id of victims) f.setBusy(id, true);
        undo(() => {
          for (const id of victims) f.setBusy(id, false);
        });
        return;
      }
      case 'wan-cut': {
        // A datacenter cut off from the WAN (its uplink fails); its LAN goes on.
        if (host.datacenterNames.length < 2) return;
        host.isolateDatacenter(r.pick(host.datacenterNames));
        undo(() => f.heal());
        return;
      }
      case 'wan-oneway': {
        // One direction of the WAN between two datacenters drops everything (a one-way route failure).
        if (host.datacenterNames.length < 2) return;
        const [from, to] = r.shuffle([...host.datacenterNames]);
        host.cutWan(from!, to!);
        undo(() => f.heal());
        return;
      }
      case 'clog': {
        if (ids.length < 2) return;
        const [a, b] = r.shuffle([...ids]);
        f.clog(a!, b!, host.nowMs + duration);
        return;
      }
    }
  }
}

/** ` protocol[preVote=false channel=datagram ...]`, or nothing when no protocol knob was drawn or pinned. */
export function describeProtocolKnobs(protocol: Readonly<Record<string, string>> | undefined): string {
  const entries = Object.entries(protocol ?? {});
  return entries.length === 0 ? '' : ` protocol[${entries.map(([key, value]) => `${key}=${value}`).join(' ')}]`;
}

/** Fault knobs a `--knob KEY=VALUE` may pin (numbers); every other key is a protocol knob. */
export const numericFaultKnobs = [
  'faultEveryMs',
  'faultDurationMsMax',
  'faultLossPercent',
  'faultDuplicatePercent',
  'faultReorderPercent',
  'tornWritePercent',
  'bitRotPercent',
  'syncUsMin',
  'syncUsMax',
  'clockJumpMsMax',
  'clockDriftPpmMax',
] as const;

/** A percent knob as the knob line and fault lines show it (`5%`, `0.5%`). */
export function pct(percent: number): string {
  return `${+percent.toFixed(2)}%`;
}
