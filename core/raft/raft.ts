/**
 * Raft as a `Machine` named 'raft' (Ongaro & Ousterhout 2014; Ongaro's thesis 2014). This file builds
 * the state (fresh, bootstrapped, or loaded from durable state), reads each input's clock and hands the
 * input to step.ts, and exposes `invariants` and `view`. The rest of core/raft, parents first:
 *   step.ts         every input: the term settled once, then the role's handler; reactions
 *   role.ts         becomeFollower / becomePreCandidate / becomeCandidate / becomeLeader
 *   election.ts     §5.2, §5.4.1, pre-vote §9.6, check-quorum, disregard rule §4.2.3
 *   transfer.ts     leadership transfer with TimeoutNow §3.10
 *   membership.ts   thesis §4.1 one-at-a-time changes, learners, removing the leader
 *   readindex.ts    thesis §6.4 ReadIndex, optional lease reads
 *   replication.ts  §5.3 AppendEntries, pipelining and flow control, fast backtracking, §5.4.2 commit rule
 *   snapshot.ts     §7 / thesis §5 snapshots, compaction, chunked resumable InstallSnapshot
 *   configs.ts      the configurations in the log (in force once appended, rolled back by a truncation)
 *   sessions.ts     applying an entry; client sessions for exactly-once (thesis §6.3)
 *   bootstrap.ts    the bootstrap configuration entry
 *   durable.ts      the durable layout and its loader (torn tail vs corruption)
 *   state.ts        the state and the helpers all of them share
 * No file imports one above it: `npx tsx scripts/import-graph.ts core/raft` prints the graph.
 */
import type { Prng } from '../prng.js';
import type { DurableState, Input, Machine, NodeId, StepContext } from '../types.js';
import type { RaftLocalInput, RaftLocalOutput, RaftRequest, RaftResponse } from './api.js';
import { bootstrapEntry } from './bootstrap.js';
import { checkRaftConfig, RaftConfigError, type RaftConfig } from './config.js';
import { loadDurable } from './durable.js';
import { settleIdentity } from './identity.js';
import { RaftLog } from './log.js';
import type { Membership, RaftMessage } from './messages.js';
import { onCommitNoticeTimeout, onReplicateTimeout } from './replication.js';
import { onLeaderLinkDown } from './election.js';
import { restoreFsm } from './snapshot.js';
import { onElectionTimeout, onHeartbeatTimeout, onMessage, onRequest, react } from './step.js';
import {
  checkSoleVoter,
  flushHardState,
  noticeLeader,
  notify,
  persist,
  randomElectionTimeoutMs,
  soleVoterElectionTimeoutMs,
  timerElection,
  timerHeartbeat,
  timerReplicate,
  timerCommitNotice,
  trace,
  viewOf,
  type RaftState,
} from './state.js';

export { RaftLoadError } from './durable.js';
export type { RaftState } from './state.js';

const emptyMembership: Membership = { voters: [], learners: [] };

function initRaft(nodeId: NodeId, config: RaftConfig, durable: DurableState, prng: Prng): RaftState {
  const problems = checkRaftConfig(config);
  if (problems.length > 0) throw new RaftConfigError(problems);
  const loaded = loadDurable(durable);
  const identity = settleIdentity(durable, prng);
  const log = new RaftLog();
  log.compactTo(loaded.logPrevIndex, loaded.logPrevTerm);
  for (const entry of loaded.entries) log.append(entry);
  const s: RaftState = {
    id: nodeId,
    serverId: identity.serverId,
    lostData: identity.lostData && !config.unsafeIgnoreServerIds,
    identityMarked: identity.marked,
    config,
    role: 'follower',
    term: loaded.term,
    vote: loaded.vote,
    leader: null,
    log,
    commitIndex: loaded.snapshot?.lastIndex ?? 0,
    appliedIndex: loaded.snapshot?.lastIndex ?? 0,
    fsm: config.createFsm(),
    sessions: new Map(),
    snapshot: null,
    membership: emptyMembership,
    membershipIndex: 0,
    configs: [],
    snapshotMembership: emptyMembership,
    electionTimeoutMs: randomElectionTimeoutMs(config, prng),
    electionResetMs: 0,
    lastLeaderContactMs: -Infinity,
    leaderLinkDown: false,
    votes: new Set(),
    seenIds: new Map(),
    firstSeenIds: new Map(),
    strangersReported: new Set(),
    progress: new Map(),
    pending: new Map(),
    reads: [],
    readSeq: 0,
    readSeqSentMs: new Map(),
    selfDurableIndex: 0,
    replicationDue: false,
    selfAckDue: false,
    commitNoticeDue: false,
    lastQuorumCheckMs: 0,
    heartbeatDueMs: 0,
    transfer: null,
    leaseVoidTerm: -1,
    membershipOp: null,
    incoming: null,
    durableFirstIndex: loaded.durableFirstIndex,
    // The identity first: no message carries the id before it is on disk.
    startOps: [...identity.ops, ...loaded.startOps],
    started: false,
    hardStateDirty: false,
    safetyFaults: [],
    lastNotifiedApplied: 0,
    lastNotifiedLeader: '',
    clockMs: 0,
    lastInputMs: NaN,
  };
  if (loaded.snapshot) {
    const { logPrevIndex: _a, logPrevTerm: _b, ...snap } = loaded.snapshot;
    s.snapshot = snap;
    s.snapshotMembership = snap.membership;
    restoreFsm(s, snap);
  }
  if (loaded.startOps.some((op) => op.op === 'truncate' && op.keepCount === 0)) s.durableFirstIndex = log.lastIndex + 1;
  for (const entry of log.entriesAfter(log.prevIndex))
    if (entry.type === 'config') s.configs.push({ index: entry.index, membership: entry.config! });
  const last = s.configs[s.configs.length - 1];
  s.membership = last ? last.membership : s.snapshotMembership;
  s.membershipIndex = last ? last.index : (s.snapshot?.lastIndex ?? 0);
  // A crash can keep an appended entry yet lose the hard state written with it; the term is at least
  // the last entry's. No vote was lost: a vote is persisted (and synced) before its reply leaves, and
  // the append that carried the newer term came after it.
  if (log.lastTerm > s.term) {
    s.term = log.lastTerm;
    s.vote = null;
    s.hardStateDirty = true;
  }
  // The commit hint: entries up to it are applied at start (they were committed before the crash).
  s.commitIndex = loaded.commit;
  const notes = identity.note === null ? loaded.notes : [identity.note, ...loaded.notes];
  if (notes.length > 0) notesOnStart.set(s, [...notes]);
  // Bootstrap with the configured servers (Consul's single-server bootstrap / a fixed initial set):
  // every server writes the same configuration entry at index 1, term 1 (as hashicorp/raft does).
  // Not after a lost disk (identity.ts): such a server waits for the leader to add it again.
  if (log.lastIndex === 0 && s.snapshot === null && s.term <= 1 && config.servers.length > 0 && !s.lostData)
    bootstrapEntry(s, config.servers);
  return s;
}

const notesOnStart = new WeakMap<RaftState, string[]>();

function onStart(s: RaftState, ctx: StepContext, nowMs: number): void {
  s.started = true;
  for (const note of notesOnStart.get(s) ?? []) trace(ctx, { type: 'raft.startNote', node: s.id, note });
  persist(s, ctx, s.startOps);
  s.startOps = [];
  s.electionResetMs = nowMs;
  if (checkSoleVoter(s)) s.electionTimeoutMs = soleVoterElectionTimeoutMs;
  ctx.emit({ kind: 'setTimer', timer: timerElection, afterMs: s.electionTimeoutMs });
  react(s, ctx, nowMs); // entries committed before the crash (the commit hint) apply now
  trace(ctx, {
    type: 'raft.started',
    node: s.id,
    term: s.term,
    firstIndex: s.log.prevIndex + 1,
    lastIndex: s.log.lastIndex,
    commitIndex: s.commitIndex,
  });
}

function step(s: RaftState, input: Input<RaftMessage, RaftRequest, RaftLocalInput>, ctx: StepContext): void {
  const nowMs = monotonicMs(s, input.nowMs);
  switch (input.kind) {
    case 'linkDown':
      // Only a hint (a partition gives none): it shortens a follower's wait for a dead leader, nothing more.
      onLeaderLinkDown(s, ctx, nowMs, input.peer);
      break;
    case 'start':
      onStart(s, ctx, nowMs);
      break;
    case 'message':
      onMessage(s, ctx, nowMs, input.from, input.message);
      break;
    case 'timer':
      if (input.timer === timerElection) onElectionTimeout(s, ctx, nowMs);
      else if (input.timer === timerHeartbeat) onHeartbeatTimeout(s, ctx, nowMs);
      else if (input.timer === timerReplicate) onReplicateTimeout(s, ctx, nowMs);
      else if (input.timer === timerCommitNotice) onCommitNoticeTimeout(s, ctx, nowMs);
      break;
    case 'request':
      onRequest(s, ctx, nowMs, { kind: 'client', requestId: input.requestId }, input.request);
      break;
    case 'local': {
      // Siblings are our own code, but a call is still checked as a client's request would be.
      const call = input.payload;
      if (call === null || typeof call !== 'object' || typeof call.requestId !== 'number') {
        trace(ctx, { type: 'raft.malformedLocal', node: s.id, fromMachine: input.fromMachine });
        break;
      }
      onRequest(s, ctx, nowMs, { kind: 'local', machine: input.fromMachine, requestId: call.requestId }, call.request);
      break;
    }
    case 'checkResult':
      break;
  }
  // The handlers reacted to what they changed; this catches up an apply that stopped at applyBatchMax.
  react(s, ctx, nowMs);
  flushHardState(s, ctx);
  if (s.appliedIndex !== s.lastNotifiedApplied) {
    s.lastNotifiedApplied = s.appliedIndex;
    notify(s, ctx, { type: 'applied', index: s.appliedIndex });
  }
  noticeLeader(s, ctx);
}

/**
 * Every duration Raft measures (election timeout, check-quorum, stalled appends, leases) is taken on
 * a monotonic clock built from the input clock: a backward jump of the local clock adds nothing
 * (instead of making every "time since" negative for as long as the jump), the time after it adds as
 * usual. Timers themselves are set as delays, so they are unaffected either way.
 */
function monotonicMs(s: RaftState, inputNowMs: number): number {
  if (Number.isNaN(s.lastInputMs)) s.clockMs = inputNowMs;
  else if (inputNowMs > s.lastInputMs) s.clockMs += inputNowMs - s.lastInputMs;
  s.lastInputMs = inputNowMs;
  return s.clockMs;
}

/** Per-node properties, O(1) + O(members): cheap enough to run after every step. */
export function raftInvariants(s: RaftState): string[] {
  // Allocation-light: it runs after every step of every node (no spread, no Map entry pairs).
  const broken: string[] = s.safetyFaults.length > 0 ? s.safetyFaults.slice() : [];
  if (s.appliedIndex > s.commitIndex) broken.push(`applied ${s.appliedIndex} > commit ${s.commitIndex}`);
  if (s.commitIndex > s.log.lastIndex) broken.push(`commit ${s.commitIndex} > last index ${s.log.lastIndex}`);
  if (s.log.lastTerm > s.term) broken.push(`last log term ${s.log.lastTerm} > current term ${s.term}`);
  const snapIndex = s.snapshot?.lastIndex ?? 0;
  if (snapIndex > s.appliedIndex) broken.push(`snapshot ${snapIndex} > applied ${s.appliedIndex}`);
  if (s.log.prevIndex > snapIndex) broken.push(`log compacted to ${s.log.prevIndex} beyond the snapshot ${snapIndex}`);
  if (s.role === 'leader') {
    if (s.leader !== s.id) broken.push('a leader that does not name itself leader');
    if (s.vote !== s.id) broken.push(`a leader that voted for ${s.vote} in its own term`);
    for (const id of s.progress.keys()) {
      const p = s.progress.get(id)!;
      if (p.match >= p.next) broken.push(`progress of ${id}: match ${p.match} ≥ next ${p.next}`);
      if (p.match > s.log.lastIndex) broken.push(`progress of ${id}: match ${p.match} beyond our last index`);
      if (p.inflight.length > s.config.inflightAppendsMax)
        broken.push(`progress of ${id}: ${p.inflight.length} appends in flight`);
    }
  } else if (s.progress.size > 0 || s.pending.size > 0 || s.reads.length > 0)
    broken.push(`a ${s.role} with leader-only state`);
  if (s.started && s.hardStateDirty) broken.push('hard state changed but not persisted at the end of a step');
  const logProblems = s.log.check();
  for (let i = 0; i < logProblems.length; i++) broken.push(logProblems[i]!);
  return broken;
}

export const raftMachine: Machine<
  RaftState,
  RaftConfig,
  RaftMessage,
  RaftRequest,
  RaftResponse,
  RaftLocalInput,
  { readonly toMachine: string; readonly payload: RaftLocalOutput }
> = {
  name: 'raft',
  init: initRaft,
  step,
  invariants: raftInvariants,
  role: (s) => s.role,
  view: (s) => ({ ...viewOf(s) }),
};
