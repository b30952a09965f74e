/**
 * Raft's configuration: one type, two profiles (`sim`, `lan`) derived from one base, validated when
 * constructed. Every field says its meaning, unit and trade-off.
 */
import { assert } from '../assert.js';
import type { NodeId } from '../types.js';
import type { FsmFactory } from './api.js';

export interface RaftConfig {
  /**
   * Lower bound of the randomized election timeout (ms). A follower that hears nothing from a leader
   * for a timeout drawn uniformly from [min, max] starts an election (Raft §5.2). Must be well above
   * the broadcast time (one round trip plus a sync, §5.6: broadcastTime ≪ electionTimeout ≪ MTBF).
   * Also the window of the disregard rule (thesis §4.2.3) and of check-quorum.
   */
  readonly electionTimeoutMsMin: number;
  /** Upper bound of the election timeout (ms). A wider range means fewer split votes (§9.3) but a longer worst case. */
  readonly electionTimeoutMsMax: number;
  /** How often a leader sends AppendEntries when it has nothing else to send (ms). ≤ electionTimeoutMsMin / 3. */
  readonly heartbeatIntervalMs: number;
  /**
   * How long a leader may hold back an AppendEntries that would carry only a moved commit index (ms);
   * 0 = send it at once. Followers learn the commit with the next entries instead (under load there
   * always are some) or when this delay runs out, as hashicorp/raft's CommitTimeout does. Longer saves
   * a message and its ack per follower per commit at low concurrency (at one client, ~40 % of all Raft
   * messages); shorter keeps followers' local (stale) reads and the blocking queries parked on them
   * fresher: on an idle cluster a follower applies a write up to this much later. Reads through the
   * leader, heartbeats and ReadIndex rounds never wait for it. A value above heartbeatIntervalMs acts
   * as heartbeatIntervalMs (every heartbeat carries the commit index).
   */
  readonly commitNoticeDelayMs: number;
  /** Most entries in one AppendEntries. Larger batches amortize per-message cost; smaller keep messages quick to retransmit. */
  readonly appendEntriesMax: number;
  /** Soft bound on the estimated bytes of the entries of one AppendEntries (at least one entry is always sent). */
  readonly appendBytesMax: number;
  /**
   * Most AppendEntries in flight (sent, not acknowledged) to one follower while it is in the
   * replicate state: the pipelining window (flow control). 1 = stop-and-wait.
   */
  readonly inflightAppendsMax: number;
  /** Take a snapshot and compact the log once this many applied entries are past the last snapshot. */
  readonly snapshotThresholdEntries: number;
  /** Entries kept in the log below a new snapshot, so a slightly slow follower catches up without one. */
  readonly snapshotTrailingEntries: number;
  /** Characters of the encoded snapshot per InstallSnapshot chunk (≈ bytes for ASCII payloads). */
  readonly snapshotChunkBytes: number;
  /** Pre-vote (thesis §9.6): ask for votes at term+1 before incrementing the term, so a partitioned node cannot disrupt. */
  readonly preVote: boolean;
  /** Check-quorum: a leader that has not heard from a quorum within `checkQuorumWindowMs` steps down. */
  readonly checkQuorum: boolean;
  /**
   * The check-quorum window (ms): Consul's leader lease (`LeaderLeaseTimeout`, 500 ms × raft_multiplier).
   * A leader steps down when fewer than a quorum of voters acknowledged it within this window. Shorter
   * frees a partitioned leader's clients sooner; longer survives slow followers (a GC pause, a starved
   * host) without an election. Default: electionTimeoutMsMin (etcd's rule). ≥ 2 × heartbeatIntervalMs.
   */
  readonly checkQuorumWindowMs?: number;
  /**
   * Lease reads (thesis §6.4.1): a leader with quorum contact within the lease answers reads without a
   * ReadIndex round. Safe only if clocks drift less than `clockDriftBoundPpm`; needs checkQuorum. Off by default.
   */
  readonly leaseReads: boolean;
  /**
   * ReadIndex batching: a read that arrives while a round is in flight waits for the next round (started
   * when that one is confirmed, or at the next heartbeat) and shares it with every read arriving meanwhile —
   * one heartbeat and one ack per voter for the batch instead of per read (etcd's read loop batches alike).
   * Never a round that left before the read arrived. Off in the profiles; the agent turns it on (mounts.ts).
   */
  readonly readBatching: boolean;
  /**
   * Split-vote backoff: a candidate that refuses a rival candidate of its own term only because it voted
   * for itself (a split vote: both polled at once, each granted the other's poll) campaigns again after
   * one to three heartbeat intervals instead of a whole new election timeout. Timing only, never a rule.
   * A leader's death heard through its closed connections makes both followers poll within the same
   * heartbeat window, so at production timing a split otherwise cost a full timeout (3–6 s at the agent's
   * raft_multiplier 3; scenarios/agent/failover-split.txt). Off in the profiles; the agent turns it on.
   */
  readonly splitVoteBackoff: boolean;
  /** Bound on clock rate error (ppm) assumed by lease reads; the lease is shortened by it. */
  readonly clockDriftBoundPpm: number;
  /** Builds the replicated state machine; called at init (and the FSM is restored from the snapshot). */
  readonly createFsm: FsmFactory;
  /** Sibling machine told about leader changes and applied progress (`RaftNotice`), if any. */
  readonly observer?: string;
  /** Initial voters. Empty = wait for a `bootstrap` request (bootstrap-expect) or to be added by a leader. */
  readonly servers: readonly NodeId[];
  /** With bootstrap-expect, a `bootstrap` request is refused until it lists at least this many servers. */
  readonly bootstrapExpect?: number;
  /** Network channel for Raft RPCs. 'stream' is TCP-like (the default); 'datagram' stresses loss/dup/reorder. */
  readonly channel: 'stream' | 'datagram';
  /** Most proposals waiting for commit on a leader; beyond it a proposal is refused with `busy`. */
  readonly pendingProposalsMax: number;
  /** Most linearizable reads waiting on a leader; beyond it a read is refused with `busy`. */
  readonly pendingReadsMax: number;
  /** Most client sessions remembered for exactly-once (thesis §6.3); the least recently used is evicted. */
  readonly sessionsMax: number;
  /** A learner added as a voter must catch up within this many ms or the addServer request times out (thesis §4.2.1). */
  readonly catchUpMsMax: number;
  /**
   * TEST ONLY — a deliberately broken variant: commit an entry of a previous term by counting its
   * replicas, which Raft §5.4.2 forbids (the Figure 8 bug). Never set outside tests that prove the
   * checkers catch it.
   */
  readonly unsafeCommitPreviousTerm?: boolean;
  /**
   * TEST ONLY — a deliberately broken variant: grant votes without the §5.4.1 up-to-date log check,
   * so a server missing committed entries can win. Proves the fault-schedule properties can fail.
   */
  readonly unsafeVoteWithoutLogCheck?: boolean;
  /**
   * TEST ONLY — the rule before issue 13 §2 (identity.ts): server ids are minted and carried but never
   * checked, a server with an empty log votes, and a server that knows it lost its data bootstraps
   * again. A server that lost its disk then votes like the old one. Proves the explorer finds it.
   */
  readonly unsafeIgnoreServerIds?: boolean;
}

export class RaftConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid raft config: ${problems.join('; ')}`);
    this.name = 'RaftConfigError';
  }
}

type Tunables = Omit<RaftConfig, 'createFsm' | 'observer' | 'servers' | 'bootstrapExpect'>;

/** Base values, for a LAN with ~1 ms round trips and ~5 ms syncs (hashicorp/raft's LAN defaults scaled). */
const base: Tunables = {
  electionTimeoutMsMin: 150,
  electionTimeoutMsMax: 300, // the Raft paper's recommended 150–300 ms (§9.3)
  heartbeatIntervalMs: 50, // a third of the minimum election timeout: two heartbeats may be lost
  // hashicorp/raft's CommitTimeout is 50 ms (unscaled by Consul's raft_multiplier). 10 ms is enough for a
  // closed-loop client's next write to reach the leader first (loopback: ~1 ms), so at low concurrency
  // the commit rides on the next append, while a follower's local reads lag an idle leader's by ≤ 10 ms.
  commitNoticeDelayMs: 10,
  appendEntriesMax: 64,
  appendBytesMax: 256 * 1024,
  inflightAppendsMax: 8,
  snapshotThresholdEntries: 8192,
  snapshotTrailingEntries: 1024,
  snapshotChunkBytes: 64 * 1024,
  preVote: true,
  checkQuorum: true,
  leaseReads: false,
  readBatching: false,
  splitVoteBackoff: false,
  clockDriftBoundPpm: 500,
  channel: 'stream',
  pendingProposalsMax: 4096,
  pendingReadsMax: 4096,
  sessionsMax: 4096,
  catchUpMsMax: 10_000,
};

/** Consul's bounds on `performance.raft_multiplier` (agent/config/builder.go refuses others). */
export const raftMultiplierMin = 1;
export const raftMultiplierMax = 10;
/**
 * The real agent's raft_multiplier when the config does not set one. Consul's default is 5 (elections
 * after 5–10 s); ours is chosen by measurement — README, "Timing": no election in the soak on a busy
 * host, and failover after kill -9 comparable to etcd's.
 */
export const defaultRaftMultiplier = 3;

export const raftProfiles: Readonly<Record<'sim' | 'lan', Tunables>> = {
  /** The simulator: small thresholds so snapshots, chunking and compaction happen in short runs. */
  sim: {
    ...base,
    appendEntriesMax: 16, // small batches so that several appends are in flight (pipelining is exercised)
    snapshotThresholdEntries: 64, // snapshots every few seconds of workload
    snapshotTrailingEntries: 8,
    snapshotChunkBytes: 256, // several chunks per snapshot, so a lost chunk is exercised
    inflightAppendsMax: 4,
    sessionsMax: 64,
    catchUpMsMax: 5_000,
  },
  /** A real LAN cluster (Consul servers in one datacenter): Consul's timing at our default raft_multiplier. */
  lan: { ...base, ...raftTimingFor(defaultRaftMultiplier) },
};

/**
 * Raft timing from Consul's `performance.raft_multiplier` m, with hashicorp/raft's meaning of each
 * value: a follower waits 1 s × m (randomized up to 2 s × m) without hearing a leader before it
 * campaigns (HeartbeatTimeout, ElectionTimeout); the leader sends a heartbeat every tenth of that
 * (hashicorp/raft heartbeats at HeartbeatTimeout / 10); the leader steps down when it has not heard
 * from a quorum within 500 ms × m (LeaderLeaseTimeout). Consul defaults to m = 5 and recommends 1 on
 * dedicated production servers; the agent's default is measured (README, "Timing").
 */
export function raftTimingFor(
  multiplier: number,
): Pick<RaftConfig, 'electionTimeoutMsMin' | 'electionTimeoutMsMax' | 'heartbeatIntervalMs' | 'checkQuorumWindowMs'> {
  assert(
    Number.isInteger(multiplier) && multiplier >= raftMultiplierMin && multiplier <= raftMultiplierMax,
    `raft_multiplier must be an integer in ${raftMultiplierMin}..${raftMultiplierMax}`,
  );
  return {
    electionTimeoutMsMin: 1000 * multiplier,
    electionTimeoutMsMax: 2000 * multiplier,
    heartbeatIntervalMs: 100 * multiplier,
    checkQuorumWindowMs: 500 * multiplier,
  };
}

/** The check-quorum window of a config (its own, or the election timeout's lower bound). */
export function checkQuorumWindowMsOf(c: RaftConfig): number {
  return c.checkQuorumWindowMs ?? c.electionTimeoutMsMin;
}

/** Builds a validated config from a profile plus the required and overridden fields. Throws RaftConfigError. */
export function makeRaftConfig(
  profile: keyof typeof raftProfiles,
  fields: Pick<RaftConfig, 'createFsm'> & Partial<RaftConfig>,
): RaftConfig {
  const config: RaftConfig = { ...raftProfiles[profile], servers: [], ...fields };
  const problems = checkRaftConfig(config);
  if (problems.length > 0) throw new RaftConfigError(problems);
  return config;
}

/** Every problem with a config, each naming its field. Empty when valid. */
export function checkRaftConfig(c: RaftConfig): string[] {
  const problems: string[] = [];
  const positiveInt = (name: keyof RaftConfig, value: number): void => {
    if (!Number.isInteger(value) || value < 1) problems.push(`${name} must be a positive integer (got ${value})`);
  };
  positiveInt('electionTimeoutMsMin', c.electionTimeoutMsMin);
  positiveInt('electionTimeoutMsMax', c.electionTimeoutMsMax);
  positiveInt('heartbeatIntervalMs', c.heartbeatIntervalMs);
  positiveInt('appendEntriesMax', c.appendEntriesMax);
  positiveInt('appendBytesMax', c.appendBytesMax);
  positiveInt('inflightAppendsMax', c.inflightAppendsMax);
  positiveInt('snapshotThresholdEntries', c.snapshotThresholdEntries);
  positiveInt('snapshotChunkBytes', c.snapshotChunkBytes);
  positiveInt('pendingProposalsMax', c.pendingProposalsMax);
  positiveInt('pendingReadsMax', c.pendingReadsMax);
  positiveInt('sessionsMax', c.sessionsMax);
  positiveInt('catchUpMsMax', c.catchUpMsMax);
  if (!Number.isInteger(c.snapshotTrailingEntries) || c.snapshotTrailingEntries < 0)
    problems.push('snapshotTrailingEntries must be a non-negative integer');
  if (c.electionTimeoutMsMax < c.electionTimeoutMsMin)
    problems.push('electionTimeoutMsMax must be ≥ electionTimeoutMsMin');
  if (c.heartbeatIntervalMs * 2 > c.electionTimeoutMsMin)
    problems.push('heartbeatIntervalMs must be ≤ electionTimeoutMsMin / 2 (a heartbeat must beat the timeout)');
  if (!Number.isInteger(c.commitNoticeDelayMs) || c.commitNoticeDelayMs < 0)
    problems.push(`commitNoticeDelayMs must be a non-negative integer (got ${c.commitNoticeDelayMs})`);
  if (c.checkQuorumWindowMs !== undefined) {
    positiveInt('checkQuorumWindowMs', c.checkQuorumWindowMs);
    if (c.checkQuorumWindowMs < c.heartbeatIntervalMs * 2)
      problems.push('checkQuorumWindowMs must be ≥ 2 × heartbeatIntervalMs (a window must see a heartbeat answered)');
  }
  if (c.leaseReads && !c.checkQuorum)
    problems.push('leaseReads needs checkQuorum (a leader must step down before its lease can be wrong)');
  if (!(c.clockDriftBoundPpm >= 0 && c.clockDriftBoundPpm < 100_000))
    problems.push('clockDriftBoundPpm must be in [0, 100000)');
  if (typeof c.createFsm !== 'function') problems.push('createFsm must be a function returning an Fsm');
  if (!Array.isArray(c.servers)) problems.push('servers must be an array of node ids');
  else if (new Set(c.servers).size !== c.servers.length) problems.push('servers lists a node twice');
  if (c.bootstrapExpect !== undefined && (!Number.isInteger(c.bootstrapExpect) || c.bootstrapExpect < 1))
    problems.push('bootstrapExpect must be a positive integer');
  if (c.channel !== 'stream' && c.channel !== 'datagram') problems.push("channel must be 'stream' or 'datagram'");
  return problems;
}
