/**
 * SWIM configuration: one type, three profiles (lan, wan, sim) derived from one base, validated when
 * built. Values follow hashicorp/memberlist's DefaultLANConfig / DefaultWANConfig and Serf's defaults;
 * each field says its unit and why it has the value it has.
 */
import { assert } from '../assert.js';
import type { NodeId } from '../types.js';

export interface SwimConfig {
  /** Which profile this came from ('lan', 'wan', 'sim'); for logs only. */
  readonly profile: string;

  // ── failure detection (SWIM §3.1, §4.3) ──
  /**
   * Time between two probes of this member (ms). One probe per period: the detection time and the
   * network load both scale with it. LAN 1 s (memberlist), WAN 5 s (higher RTT and jitter).
   */
  readonly probeIntervalMs: number;
  /**
   * How long to wait for a direct ack before asking others (ms). Must exceed the 99th-percentile RTT;
   * memberlist uses 500 ms on a LAN and 3 s on a WAN. Must be < probeIntervalMs (the indirect probes
   * need the rest of the period).
   */
  readonly probeTimeoutMs: number;
  /** k in SWIM §3.1: members asked to ping-req a silent target. 3 keeps false positives rare at 10% loss. */
  readonly indirectChecks: number;

  // ── suspicion (SWIM §4.2, Lifeguard §4.2) ──
  /**
   * Suspicion timeout multiplier (dimensionless): the minimum suspicion timeout is
   * suspicionMult · max(1, log10(n)) · probeIntervalMs. Higher = fewer false positives, slower
   * detection. LAN 4, WAN 6 (memberlist).
   */
  readonly suspicionMult: number;
  /**
   * Lifeguard: the maximum suspicion timeout is this × the minimum (dimensionless). A fresh suspicion
   * starts at the maximum and shrinks towards the minimum with independent confirmations. memberlist: 6.
   */
  readonly suspicionMaxTimeoutMult: number;

  // ── dissemination (SWIM §4.1) ──
  /**
   * Each piggy-backed update is sent retransmitMult · ⌈log10(n+1)⌉ times (dimensionless). 4 gives
   * high probability that every member hears it (memberlist).
   */
  readonly retransmitMult: number;
  /** Time between gossip rounds (ms). memberlist LAN 200 ms, WAN 500 ms: fast spread, small bursts. */
  readonly gossipIntervalMs: number;
  /** Members gossiped to per round (count). LAN 3, WAN 4 (more redundancy over lossier links). */
  readonly gossipNodes: number;
  /**
   * How long a failed member still receives gossip (ms), so that it can learn it was declared failed
   * and refute. memberlist LAN 30 s, WAN 60 s.
   */
  readonly gossipToTheDeadMs: number;
  /**
   * Largest datagram we send (bytes, estimated conservatively before encoding). 1,400 stays under a
   * 1,500-byte Ethernet MTU minus IP/UDP headers, so no IP fragmentation.
   */
  readonly packetBytesMax: number;
  /** Bound on pending broadcasts (count); the most-sent are dropped first. Bounds memory under churn. */
  readonly broadcastQueueMax: number;

  // ── anti-entropy (memberlist push-pull) ──
  /**
   * Period of full-state push-pull with one random member over the stream channel (ms); 0 disables it.
   * Scaled up for clusters over 32 members (memberlist pushPullScale). LAN 30 s, WAN 60 s.
   */
  readonly pushPullIntervalMs: number;
  /** How long a `join` waits for push-pull replies before answering with what it got (ms). */
  readonly joinTimeoutMs: number;
  /** Peers to join at start (Consul's retry_join); empty = wait for a `join` request. */
  readonly joinPeers: readonly NodeId[];
  /** Retry period for `joinPeers` while no peer answered (ms). Consul's retry_interval is 30 s. */
  readonly joinRetryMs: number;

  /**
   * memberlist's TCP fallback probe (on unless DisableTcpPings): when a direct ping gets no ack within
   * the probe timeout, the prober also pings the target over the stream channel, in parallel with the
   * indirect probes; an ack on it ends the probe without suspicion ("was able to connect … but other
   * probes failed, network may be misconfigured"). It keeps datagram loss that spares TCP — a full UDP
   * receive buffer on a busy host, a firewall dropping UDP — from turning into false positives. On in
   * every profile, the simulator's too (scenarios/swim/udp-loss-fallback.txt explores it); `set
   * tcpFallbackPing false` in a SWIM scenario shows what it saves.
   */
  readonly tcpFallbackPing: boolean;

  // ── Lifeguard (arXiv:1707.00788) ──
  /**
   * Turns on Lifeguard: the local health multiplier, dynamic suspicion timeouts with confirmations,
   * the buddy system and nacks. Off = plain SWIM with a fixed suspicion timeout (the minimum), kept for
   * comparison benchmarks only.
   */
  readonly lifeguard: boolean;
  /**
   * Local health multiplier ceiling (dimensionless): probe interval and timeout are scaled by
   * (score + 1), score in [0, awarenessMaxMultiplier − 1]. memberlist: 8, so a sick member probes at
   * most 8× slower instead of accusing healthy peers.
   */
  readonly awarenessMaxMultiplier: number;

  // ── leave, reconnect, reap (Serf) ──
  /**
   * How long a leaving member keeps answering probes and gossiping its leave intent before it goes
   * silent (ms). Long enough for retransmitMult·log10(n+1) gossip rounds; Serf waits 1 s + broadcast.
   */
  readonly leavePropagateMs: number;
  /**
   * Period of the reconnect attempt: push-pull with a random failed member so that partitions heal
   * (ms). Serf: 30 s.
   */
  readonly reconnectIntervalMs: number;
  /** A failed member is reaped (forgotten) after this long (ms). Serf/Consul reconnect_timeout: 72 h. */
  readonly reconnectTimeoutMs: number;
  /** A left member is reaped after this long (ms). Serf tombstone timeout: 24 h. */
  readonly tombstoneTimeoutMs: number;
  /** Period of the reaper (ms). Serf: 15 s. */
  readonly reapIntervalMs: number;

  // ── user events (Serf) ──
  /**
   * Lamport-time window of remembered user events (count of ltimes), for de-duplication. An event older
   * than clock − eventBufferSize is dropped as stale. Serf: 512.
   */
  readonly eventBufferSize: number;

  // ── identity ──
  /** This member's human name (`-node`); equal to its id in the simulator. Empty = use the id. */
  readonly name: string;
  /** This member's tags at start: role, dc, port, build, vsn. */
  readonly tags: Readonly<Record<string, string>>;
  /** Sibling machine told about membership changes with `local` SwimNotice effects; null = nobody. */
  readonly observer: string | null;
  /**
   * Simulation shortcut for very large clusters: members every node already knows at start (alive,
   * incarnation 0, tags `rosterTags`), shared by reference between nodes so that 10,000 nodes do not
   * need 10⁸ table entries. Null in the real agent, which always joins.
   */
  readonly roster: Roster | null;
}

/** A shared, immutable list of members known at boot (see `SwimConfig.roster`). */
export interface Roster {
  readonly ids: readonly NodeId[];
  readonly indexOf: ReadonlyMap<NodeId, number>;
  readonly tags: Readonly<Record<string, string>>;
}

export function makeRoster(ids: readonly NodeId[], tags: Readonly<Record<string, string>> = {}): Roster {
  const indexOf = new Map<NodeId, number>();
  for (const [i, id] of ids.entries()) {
    assert(!indexOf.has(id), `roster lists ${id} twice`);
    indexOf.set(id, i);
  }
  return { ids, indexOf, tags };
}

/** memberlist DefaultLANConfig + Serf defaults. */
export const lanConfig: SwimConfig = {
  profile: 'lan',
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  retransmitMult: 4,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  packetBytesMax: 1400,
  broadcastQueueMax: 4096,
  pushPullIntervalMs: 30_000,
  joinTimeoutMs: 10_000,
  joinPeers: [],
  joinRetryMs: 30_000,
  tcpFallbackPing: true,
  lifeguard: true,
  awarenessMaxMultiplier: 8,
  leavePropagateMs: 3_000,
  reconnectIntervalMs: 30_000,
  reconnectTimeoutMs: 72 * 3_600_000,
  tombstoneTimeoutMs: 24 * 3_600_000,
  reapIntervalMs: 15_000,
  eventBufferSize: 512,
  name: '',
  tags: {},
  observer: null,
  roster: null,
};

/** memberlist DefaultWANConfig: slower probes, longer suspicion, more gossip redundancy. */
export const wanConfig: SwimConfig = {
  ...lanConfig,
  profile: 'wan',
  probeIntervalMs: 5000,
  probeTimeoutMs: 3000,
  suspicionMult: 6,
  gossipNodes: 4,
  gossipIntervalMs: 500,
  gossipToTheDeadMs: 60_000,
  pushPullIntervalMs: 60_000,
  leavePropagateMs: 8_000,
};

/**
 * The simulator profile: LAN timings (the simulated network is LAN-like), but reconnect and join retry
 * every 10 s instead of 30 s so that partition-heal runs converge within a short simulated run.
 */
export const simConfig: SwimConfig = {
  ...lanConfig,
  profile: 'sim',
  reconnectIntervalMs: 10_000,
  joinRetryMs: 5_000,
};

export const profiles: Readonly<Record<string, SwimConfig>> = { lan: lanConfig, wan: wanConfig, sim: simConfig };

/** Problems with a config, each naming the field. Empty when valid. */
export function checkConfig(config: SwimConfig): string[] {
  const problems: string[] = [];
  const positive = [
    'probeIntervalMs',
    'probeTimeoutMs',
    'gossipIntervalMs',
    'joinTimeoutMs',
    'joinRetryMs',
    'reconnectIntervalMs',
    'reapIntervalMs',
  ] as const;
  for (const key of positive)
    if (!(config[key] > 0) || !Number.isFinite(config[key])) problems.push(`${key} must be a positive number of ms`);
  if (config.probeTimeoutMs >= config.probeIntervalMs)
    problems.push('probeTimeoutMs must be below probeIntervalMs (indirect probes need the rest of the period)');
  const counts = [
    'indirectChecks',
    'gossipNodes',
    'retransmitMult',
    'awarenessMaxMultiplier',
    'eventBufferSize',
    'broadcastQueueMax',
  ] as const;
  for (const key of counts)
    if (!Number.isInteger(config[key]) || config[key] < 1) problems.push(`${key} must be an integer ≥ 1`);
  if (!(config.suspicionMult >= 1)) problems.push('suspicionMult must be ≥ 1');
  if (!(config.suspicionMaxTimeoutMult >= 1)) problems.push('suspicionMaxTimeoutMult must be ≥ 1');
  if (!(config.pushPullIntervalMs >= 0)) problems.push('pushPullIntervalMs must be ≥ 0 (0 disables push-pull)');
  if (!(config.packetBytesMax >= 256)) problems.push('packetBytesMax must be ≥ 256 bytes');
  if (typeof config.tcpFallbackPing !== 'boolean') problems.push('tcpFallbackPing must be true or false');
  for (const key of ['gossipToTheDeadMs', 'leavePropagateMs', 'reconnectTimeoutMs', 'tombstoneTimeoutMs'] as const) {
    if (!(config[key] >= 0)) problems.push(`${key} must be ≥ 0 ms`);
  }
  return problems;
}

/** Builds a config from a profile and overrides; throws (assert) naming every bad field. */
export function makeConfig(
  profile: keyof typeof profiles | SwimConfig,
  overrides: Partial<SwimConfig> = {},
): SwimConfig {
  const base = typeof profile === 'string' ? profiles[profile] : profile;
  assert(base !== undefined, `unknown SWIM profile ${String(profile)}`);
  const config = { ...base, ...overrides };
  const problems = checkConfig(config);
  assert(problems.length === 0, `bad SWIM config: ${problems.join('; ')}`);
  return config;
}

// ───────────────────────────── derived values (small pure helpers) ─────────────────────────────

/** SWIM §4.1 / memberlist retransmitLimit: retransmitMult · ⌈log10(n + 1)⌉. */
export function retransmitLimit(retransmitMult: number, memberCount: number): number {
  return retransmitMult * Math.ceil(Math.log10(memberCount + 1));
}

/** Minimum suspicion timeout (ms): suspicionMult · max(1, log10(n)) · probeInterval (memberlist). */
export function suspicionTimeoutMinMs(config: SwimConfig, memberCount: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, memberCount)));
  return Math.floor(config.suspicionMult * nodeScale * config.probeIntervalMs);
}

/**
 * Lifeguard §4.2: the timeout after `confirmations` independent suspicions, falling logarithmically
 * from `maxMs` (no confirmation) to `minMs` (k confirmations):
 *   max(min, max − (max − min) · log(c + 1) / log(k + 1)).
 */
export function suspicionTimeoutMs(minMs: number, maxMs: number, confirmations: number, expected: number): number {
  assert(minMs <= maxMs, 'suspicion: min timeout above max');
  if (expected < 1) return minMs;
  const frac = Math.log(confirmations + 1) / Math.log(expected + 1);
  return Math.max(minMs, Math.floor(maxMs - frac * (maxMs - minMs)));
}

/** memberlist pushPullScale: above 32 members the push-pull period grows by ⌈log2(n) − log2(32)⌉ + 1. */
export function pushPullIntervalScaledMs(intervalMs: number, memberCount: number): number {
  const threshold = 32;
  if (memberCount <= threshold) return intervalMs;
  const multiplier = Math.ceil(Math.log2(memberCount) - Math.log2(threshold)) + 1;
  return intervalMs * multiplier;
}
