/**
 * One Raft node's state, and the small helpers every mechanism shares: effects (send, reply, persist
 * the hard state, arm a timer, tell the observer) and pure readers (quorum size, a fresh Progress, the
 * view). Everything else in core/raft imports this file; it imports nothing of core/raft but types.
 * step.ts settles the term and dispatches inputs, role.ts changes roles, and the mechanisms (election,
 * replication, snapshot, membership, readindex, transfer, sessions) are leaves over this state.
 */
import { assert } from '../assert.js';
import type { Prng } from '../prng.js';
import { traceEffect, type TraceEvent } from '../trace.js';
import type { NodeId, StepContext, StorageOp } from '../types.js';
import type { Fsm, RaftError, RaftLocalOutput, RaftNotice, RaftResponse, RaftView, MemberProgress } from './api.js';
import type { RaftConfig } from './config.js';
import type { RaftLog } from './log.js';
import type { Membership, RaftMessage } from './messages.js';
import { identityMarkOp } from './identity-record.js';

export type Role = 'follower' | 'precandidate' | 'candidate' | 'leader';

/** Who gets the answer to a request: a node-level client request, or a sibling machine's local call. */
export type ReplyTarget =
  | { readonly kind: 'client'; readonly requestId: number }
  | { readonly kind: 'local'; readonly machine: string; readonly requestId: number };

/** A snapshot as this node holds it (and persists it as record 'snapshot'). */
export interface Snapshot {
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly membership: Membership;
  /** encodeSnapshotData({ fsm, sessions }). */
  readonly data: string;
}

/** A client session (thesis §6.3): the last sequence number applied for a client and its result. */
export interface Session {
  seq: number;
  result: unknown;
  /** Index of the last command applied for this session (drives deterministic LRU eviction). */
  lastIndex: number;
}

/** The leader's view of one follower's log (etcd-io/raft's Progress, thesis §3.5 / §10.2). */
export interface Progress {
  /** Highest index known to match the leader's log. Invariant: match < next. */
  match: number;
  /** Next index to send. */
  next: number;
  /** probe: one AppendEntries at a time until the match point is found; replicate: pipelined; snapshot: sending one. */
  state: 'probe' | 'replicate' | 'snapshot';
  /** Last index and send time of each AppendEntries in flight (replicate), oldest first. Length ≤ inflightAppendsMax. */
  inflight: { index: number; sentMs: number }[];
  /** When the outstanding probe was sent, or -1 when none is outstanding. */
  probeSentMs: number;
  /** When this follower last answered at this term (check-quorum). */
  lastAckMs: number;
  /** The commit index last sent to it. */
  sentCommit: number;
  /**
   * When a notice of a newer commit index was first held back from it (replication.ts holdCommitNotice),
   * or -1 when it has been sent our commit index since. It learns the commit at most commitNoticeDelayMs later.
   */
  commitHeldMs: number;
  /** Highest ReadIndex round it acknowledged. */
  readSeq: number;
  /** The snapshot being sent, and the acknowledged / sent offsets. */
  snap: {
    readonly snapshot: Snapshot;
    acked: number;
    sent: number;
    lastReplyMs: number;
    /** Offset last resumed from after a gap (one resume per offset). */ rewoundTo: number;
  } | null;
}

export interface PendingProposal {
  readonly target: ReplyTarget | null;
  /** The term of the entry at this index when it was proposed; another term there means it was overwritten. */
  readonly term: number;
}

export interface PendingRead {
  readonly target: ReplyTarget;
  readonly query: unknown;
  /** The commit index to wait for; -1 until this leader has committed an entry of its term. */
  readIndex: number;
  /** The ReadIndex round that must reach a quorum; -1 until assigned. */
  seq: number;
}

export interface RaftState {
  readonly id: NodeId;
  /** This server's durable id (identity.ts): minted when its Raft data was empty; carried by every message it sends. */
  readonly serverId: string;
  /** Our identity survived but our Raft data did not (identity.ts): we never bootstrap, we wait to be added again. */
  readonly lostData: boolean;
  /** Whether our identity record is marked "Raft data written under this id" (identity.ts identityMarkOp). */
  identityMarked: boolean;
  readonly config: RaftConfig;
  role: Role;
  /** Latest term seen (persisted before any message that reveals it). */
  term: number;
  /** Candidate voted for in `term` (persisted before the vote reply). */
  vote: NodeId | null;
  leader: NodeId | null;
  readonly log: RaftLog;
  /** Invariant: appliedIndex ≤ commitIndex ≤ log.lastIndex; commitIndex never decreases while the node runs. */
  commitIndex: number;
  appliedIndex: number;
  fsm: Fsm;
  sessions: Map<string, Session>;
  snapshot: Snapshot | null;
  /** The latest membership in the log or the snapshot, committed or not (thesis §4.1), and its index. */
  membership: Membership;
  membershipIndex: number;
  /** Config entries in the log past the snapshot, oldest first, for rollback after a truncation. */
  configs: { index: number; membership: Membership }[];
  /** Membership as of the snapshot (the base the configs list builds on). */
  snapshotMembership: Membership;

  // Election (election.ts). Timeouts are deadlines checked when the 'election' timer fires.
  electionTimeoutMs: number;
  /** Last time the election timer was reset (leader contact, vote granted, election started). */
  electionResetMs: number;
  /** Last time a current leader was heard from (disregard rule, thesis §4.2.3); -Infinity when never. */
  lastLeaderContactMs: number;
  /**
   * The stream to our leader closed since we last heard from it (election.ts onLeaderLinkDown): the
   * disregard rule no longer shields it. Cleared by the leader's next message and by any role change.
   */
  leaderLinkDown: boolean;
  votes: Set<NodeId>;
  /**
   * The server id each member's messages last carried (volatile; members only, so bounded by the
   * configuration). The leader records a member's id from it (identity.ts idsFor); a member whose id
   * here differs from the recorded one came back with a new id (view: `idMismatches`).
   */
  seenIds: Map<NodeId, string>;
  /**
   * The first id each member's messages carried here (never overwritten, not persisted): what a server
   * about to bootstrap is told about itself (`status` with `ids`, core/agent/bootstrap.ts). A member that
   * was heard under one id and asks under another lost its data, even before the leader recorded ids.
   */
  firstSeenIds: Map<NodeId, string>;
  /** `name id` pairs already reported as strangers (logged once, not per message). Size ≤ strangersReportedMax. */
  strangersReported: Set<string>;

  // Leader (replication.ts, readindex.ts, membership.ts).
  progress: Map<NodeId, Progress>;
  pending: Map<number, PendingProposal>;
  reads: PendingRead[];
  readSeq: number;
  /** Local send time of recent ReadIndex rounds, for lease reads. */
  readSeqSentMs: Map<number, number>;
  /** Highest index the leader knows durable in its own log (its commits wait on it: replication.ts selfMatch). */
  selfDurableIndex: number;
  /**
   * Proposals and acknowledgements wait for the `replicate` timer (armed, due at once), so what one turn
   * of the driver brought leaves together (replication.ts scheduleReplication). `selfAckDue`: entries
   * were appended since the leader's last self-ack.
   */
  replicationDue: boolean;
  selfAckDue: boolean;
  /**
   * An AppendEntries that would carry only a moved commit index is held back, and the `commitNotice`
   * timer is armed (config.commitNoticeDelayMs): followers learn the commit with the next entries or
   * when it fires (replication.ts holdCommitNotice).
   */
  commitNoticeDue: boolean;
  lastQuorumCheckMs: number;
  /** When the heartbeat timer is due (local ms): a timer that fires long after it was starved (see `checkStarved`). */
  heartbeatDueMs: number;
  transfer: { target: NodeId; deadlineMs: number; replyTo: ReplyTarget | null } | null;
  /**
   * The term in which this node, as leader, sent TimeoutNow (transfer.ts). From then on its lease is
   * void for the rest of that term: the target's RequestVotes override the disregard rule the lease
   * rests on, so a new leader may be elected within the lease (readindex.ts checkLease) — whether the
   * transfer succeeds, is abandoned, or its TimeoutNow arrives late.
   */
  leaseVoidTerm: number;
  membershipOp: { id: NodeId; replyTo: ReplyTarget; learnerIndex: number; deadlineMs: number } | null;

  // Follower side of InstallSnapshot (snapshot.ts).
  incoming: {
    term: number;
    lastIndex: number;
    lastTerm: number;
    membership: Membership;
    chunks: string[];
    received: number;
    totalChars: number;
  } | null;

  /** Index that position 0 of the durable log 'log' holds (or will hold when it is empty). */
  durableFirstIndex: number;
  /** Ops that init decided on (bootstrap entry, discarding a stale tail) to persist at 'start'. */
  startOps: StorageOp[];
  started: boolean;
  /** Term or vote changed and is not yet in a persist effect. */
  hardStateDirty: boolean;
  /** Safety faults this node detected about itself (a conflict below its commit index); reported by invariants. */
  safetyFaults: string[];
  lastNotifiedApplied: number;
  lastNotifiedLeader: string;
  /** Monotonic time (ms) derived from the inputs' clocks; every handler sees this as `nowMs`. */
  clockMs: number;
  /** The last input's own `nowMs` (NaN before the first input). */
  lastInputMs: number;
}

export const timerElection = 'election';
export const timerHeartbeat = 'heartbeat';
/** Armed with no delay by the first proposal of a batch; fires once the driver has handed over the rest. */
export const timerReplicate = 'replicate';
/** Armed by the first held-back commit notice; when it fires, followers that missed the commit get it. */
export const timerCommitNotice = 'commitNotice';

/**
 * Sends a message stamped with our server id (identity.ts); a changed hard state is persisted first
 * (it is what the message promises). `early`: the message may leave before this node's earlier
 * persists are durable (SendEffect.early).
 *
 * The stamp is written into `message` itself: callers build the message for this send (a literal, or
 * one literal for the voters of one election) and keep nothing of it. A copy (`{ ...message, sid }`)
 * was the single most expensive line of a send: the spread's site sees every message shape.
 */
export function send(s: RaftState, ctx: StepContext, to: NodeId, message: RaftMessage, early = false): void {
  flushHardState(s, ctx);
  const stamped = message as { sid?: string };
  if (stamped.sid !== undefined && stamped.sid !== s.serverId)
    assert(false, `a ${message.type} stamped by ${stamped.sid} sent again by ${s.serverId}`);
  stamped.sid = s.serverId;
  ctx.emit(
    early
      ? { kind: 'send', to, message: stamped, channel: s.config.channel, early }
      : { kind: 'send', to, message: stamped, channel: s.config.channel },
  );
}

export const strangersReportedMax = 64;

export function reply(s: RaftState, ctx: StepContext, target: ReplyTarget, response: RaftResponse): void {
  flushHardState(s, ctx);
  if (target.kind === 'client') ctx.emit({ kind: 'reply', requestId: target.requestId, response });
  else {
    const payload: RaftLocalOutput = { type: 'reply', requestId: target.requestId, response };
    ctx.emit({ kind: 'local', toMachine: target.machine, payload });
  }
}

export function fail(s: RaftState, ctx: StepContext, target: ReplyTarget, error: RaftError, detail?: string): void {
  reply(s, ctx, target, {
    ok: false,
    error,
    leader: s.leader === s.id ? null : s.leader,
    ...(detail !== undefined ? { detail } : {}),
  });
}

/** The hard state record (Raft Figure 2 "persistent state"): term, vote, and the commit index as a hint. */
export function hardStateOp(s: RaftState): StorageOp {
  return { op: 'put', key: 'hardState', value: { term: s.term, vote: s.vote, commit: s.commitIndex } };
}

/**
 * Term and vote changes mark the hard state dirty; it is persisted before the next message or reply
 * leaves (and at the end of every step), which is the ordering Raft Figure 2 requires: "persistent
 * state ... updated on stable storage before responding to RPCs".
 */
export function flushHardState(s: RaftState, ctx: StepContext): void {
  if (!s.hardStateDirty) return;
  s.hardStateDirty = false;
  persist(s, ctx, [hardStateOp(s)]);
}

/**
 * Emits a batch of Raft writes; the first batch that holds Raft data also marks the identity record,
 * last in the batch (identity.ts identityMarkOp).
 */
export function persist(s: RaftState, ctx: StepContext, ops: StorageOp[]): void {
  if (ops.length === 0) return;
  if (!s.identityMarked && ops.some(isRaftDataOp)) {
    s.identityMarked = true;
    ops = [...ops, identityMarkOp(s.serverId)];
  }
  ctx.emit({ kind: 'persist', ops });
}

function isRaftDataOp(op: StorageOp): boolean {
  return op.op === 'append' || (op.op === 'put' && (op.key === 'hardState' || op.key === 'snapshot'));
}

export function armTimer(ctx: StepContext, timer: string, afterMs: number): void {
  ctx.emit({ kind: 'cancelTimer', timer });
  ctx.emit({ kind: 'setTimer', timer, afterMs: Math.max(1, afterMs) });
}

/**
 * A timer that fired `lateMs` after its deadline, by more than a heartbeat interval, means this process
 * was starved (a GC pause, a busy host, a stopped VM): an event loop runs due timers before it reads
 * the sockets, so the messages that would have reset the timeout may be waiting unread behind it. The
 * caller must not judge its peers on such a firing; it looks again one heartbeat interval later.
 */
export function checkStarved(config: RaftConfig, lateMs: number): boolean {
  return lateMs > config.heartbeatIntervalMs;
}

export function randomElectionTimeoutMs(config: RaftConfig, prng: Prng): number {
  return prng.between(config.electionTimeoutMsMin, config.electionTimeoutMsMax);
}

/** Emits a typed trace event (core/trace.ts) at its type's level. */
export function trace(ctx: StepContext, event: TraceEvent): void {
  ctx.emit(traceEffect(event));
}

export function notify(s: RaftState, ctx: StepContext, notice: RaftNotice): void {
  const payload: RaftLocalOutput = notice;
  if (s.config.observer !== undefined) ctx.emit({ kind: 'local', toMachine: s.config.observer, payload });
}

export function isVoter(s: RaftState, id: NodeId): boolean {
  return s.membership.voters.includes(id);
}

export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * Scratch space of quorumValue, reused by every call: the values of one call, in descending order.
 * It carries nothing from one call to the next (each call writes the slots it reads first).
 */
const quorumScratch: number[] = [];

/**
 * The highest value that a quorum of the voters has reached: the `quorumSize`-th largest of
 * `valueOf(context, voter)` over the voters (0 for no voters). The same number as sorting the values in
 * descending order and taking the one at `quorumSize − 1`, without a new array and a comparator per
 * call (the leader runs it on every acknowledgement): an insertion sort into the reused scratch.
 */
export function quorumValue<T>(
  voters: readonly NodeId[],
  valueOf: (context: T, id: NodeId) => number,
  context: T,
): number {
  const n = voters.length;
  if (n === 0) return 0;
  const values = quorumScratch;
  for (let i = 0; i < n; i++) {
    const v = valueOf(context, voters[i]!);
    let j = i;
    for (; j > 0 && values[j - 1]! < v; j--) values[j] = values[j - 1]!;
    values[j] = v;
  }
  return values[quorumSize(n) - 1]!;
}

/** The peers this node replicates to / asks for votes: every member but itself. */
export function peersOf(s: RaftState): NodeId[] {
  const out: NodeId[] = [];
  for (const id of s.membership.voters) if (id !== s.id) out.push(id);
  for (const id of s.membership.learners) if (id !== s.id) out.push(id);
  return out;
}

/**
 * A sole voter (a single-server cluster, `-dev`, `-bootstrap`) has nobody to split a vote with and no
 * leader to wait for: it campaigns at once instead of after a timeout of 1–2 s × raft_multiplier.
 */
export const soleVoterElectionTimeoutMs = 1;

export function checkSoleVoter(s: RaftState): boolean {
  return s.membership.voters.length === 1 && s.membership.voters[0] === s.id;
}

/** Arms the election timer with a fresh randomized timeout (§5.2: randomized to avoid split votes). */
export function resetElectionTimer(s: RaftState, ctx: StepContext, nowMs: number): void {
  s.electionTimeoutMs = checkSoleVoter(s) ? soleVoterElectionTimeoutMs : randomElectionTimeoutMs(s.config, ctx.prng);
  s.electionResetMs = nowMs;
  armTimer(ctx, timerElection, s.electionTimeoutMs);
}

/** Tells the observer when this node's view of the leader (or the term) changed since it last told it. */
export function noticeLeader(s: RaftState, ctx: StepContext): void {
  const key = `${s.leader ?? ''}@${s.term}`;
  if (key === s.lastNotifiedLeader) return;
  s.lastNotifiedLeader = key;
  notify(s, ctx, { type: 'leader', leader: s.leader, term: s.term, isLeader: s.role === 'leader' });
}

/** A leader's fresh view of a follower: probe from just past the leader's log (etcd-io/raft's Progress). */
export function newProgress(s: RaftState, nowMs: number): Progress {
  return {
    match: 0,
    next: s.log.lastIndex + 1,
    state: 'probe',
    inflight: [],
    probeSentMs: -1,
    lastAckMs: nowMs,
    sentCommit: 0,
    commitHeldMs: -1,
    readSeq: 0,
    snap: null,
  };
}

/** The follower holds entries up to `index`: raise match (never past our log), keep match < next, drop acked in-flight appends. */
export function advanceMatch(s: RaftState, p: Progress, index: number): void {
  if (index > p.match) p.match = Math.min(index, s.log.lastIndex);
  // A late or duplicated reply can arrive after we moved on: keep match < next either way.
  if (p.next <= p.match) p.next = p.match + 1;
  while (p.inflight.length > 0 && p.inflight[0]!.index <= p.match) p.inflight.shift();
}

export function viewOf(s: RaftState): RaftView {
  const role = s.role === 'follower' && s.membership.learners.includes(s.id) ? 'learner' : s.role;
  return {
    role,
    term: s.term,
    leader: s.leader,
    commitIndex: s.commitIndex,
    appliedIndex: s.appliedIndex,
    lastIndex: s.log.lastIndex,
    voters: s.membership.voters,
    learners: s.membership.learners,
    membershipIndex: s.membershipIndex,
    serverId: s.serverId,
    ids: s.membership.ids ?? {},
    idMismatches: idMismatchesOf(s),
  };
}

/** The id this server knows each member by: the one on record, else the first its messages carried here. */
export function knownIdsOf(s: RaftState): Record<NodeId, string> {
  const ids: Record<NodeId, string> = {};
  for (const [name, id] of s.firstSeenIds) ids[name] = id;
  const recorded = s.membership.ids ?? {};
  for (const name of Object.keys(recorded)) ids[name] = recorded[name]!;
  return ids;
}

/** A leader's replication view of every other member (autopilot server health); empty on others. */
export function progressOf(s: RaftState): MemberProgress[] {
  if (s.role !== 'leader') return [];
  const out: MemberProgress[] = [];
  for (const [id, p] of s.progress) {
    if (id === s.id) continue;
    out.push({ id, match: p.match, matchTerm: p.match > 0 ? (s.log.termAt(p.match) ?? 0) : 0, lastAckMs: p.lastAckMs });
  }
  return out;
}

/** Members whose messages carry another id than the one on record (they lost their data and came back). */
function idMismatchesOf(s: RaftState): { server: NodeId; recordedId: string; seenId: string }[] {
  const out: { server: NodeId; recordedId: string; seenId: string }[] = [];
  for (const [server, seenId] of s.seenIds) {
    const recordedId = s.membership.ids?.[server];
    if (recordedId !== undefined && recordedId !== seenId) out.push({ server, recordedId, seenId });
  }
  return out;
}
