/**
 * Raft as a `Machine` named 'raft' (Ongaro & Ousterhout 2014; Ongaro's thesis 2014). This file builds
 * the state (fresh, bootstrapped, or loaded from durable state), dispatches each input to the
 * mechanism that handles it, and exposes `invariants` and `view`. The mechanisms:
 *   election.ts     §5.2, §5.4.1, pre-vote §9.6, check-quorum, disregard rule §4.2.3, TimeoutNow §3.10
 *   replication.ts  §5.3 AppendEntries, pipelining and flow control, fast backtracking, §5.4.2 commit rule
 *   snapshot.ts     §7 / thesis §5 snapshots, compaction, chunked resumable InstallSnapshot
 *   membership.ts   thesis §4.1 one-at-a-time changes, learners, removing the leader
 *   readindex.ts    thesis §6.4 ReadIndex, optional lease reads
 *   sessions.ts     applying entries; client sessions for exactly-once (thesis §6.3)
 *   durable.ts      the durable layout and its loader (torn tail vs corruption)
 */
import type { Prng } from '../prng.js';
import type { DurableState, Input, Machine, NodeId, StepContext } from '../types.js';
import type { RaftLocalCall, RaftRequest, RaftResponse, RaftView } from './api.js';
import { checkRaftConfig, RaftConfigError, type RaftConfig } from './config.js';
import { loadDurable } from './durable.js';
import {
  noticeLeader,
  onElectionTimer,
  onRequestVote,
  onTimeoutNow,
  onTransferRequest,
  onVoteReply,
  resetElectionTimer,
} from './election.js';
import { RaftLog } from './log.js';
import { checkMessage, checkTermJump, type Entry, type Membership, type RaftMessage } from './messages.js';
import { onAddServer, onRemoveServer } from './membership.js';
import { onRead } from './readindex.js';
import { onAppendEntries, onAppendReply, onHeartbeatTimer, onPropose } from './replication.js';
import { applyCommitted } from './sessions.js';
import { onInstallSnapshot, onSnapshotReply, restoreFsm } from './snapshot.js';
import {
  fail,
  flushHardState,
  hardStateOp,
  notify,
  persist,
  randomElectionTimeoutMs,
  reply,
  timerElection,
  timerHeartbeat,
  trace,
  type RaftState,
  type ReplyTarget,
} from './state.js';

export { RaftLoadError } from './durable.js';
export type { RaftState } from './state.js';

const emptyMembership: Membership = { voters: [], learners: [] };

function initRaft(nodeId: NodeId, config: RaftConfig, durable: DurableState, prng: Prng): RaftState {
  const problems = checkRaftConfig(config);
  if (problems.length > 0) throw new RaftConfigError(problems);
  const loaded = loadDurable(durable);
  const log = new RaftLog();
  log.compactTo(loaded.logPrevIndex, loaded.logPrevTerm);
  for (const entry of loaded.entries) log.append(entry);
  const s: RaftState = {
    id: nodeId,
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
    votes: new Set(),
    progress: new Map(),
    pending: new Map(),
    reads: [],
    readSeq: 0,
    readSeqSentMs: new Map(),
    selfDurableIndex: 0,
    lastQuorumCheckMs: 0,
    transfer: null,
    membershipOp: null,
    incoming: null,
    durableFirstIndex: loaded.durableFirstIndex,
    startOps: [...loaded.startOps],
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
  if (loaded.notes.length > 0) notesOnStart.set(s, [...loaded.notes]);
  // Bootstrap with the configured servers (Consul's single-server bootstrap / a fixed initial set):
  // every server writes the same configuration entry at index 1, term 1 (as hashicorp/raft does).
  if (log.lastIndex === 0 && s.snapshot === null && s.term <= 1 && config.servers.length > 0)
    bootstrapEntry(s, config.servers);
  return s;
}

const notesOnStart = new WeakMap<RaftState, string[]>();

function bootstrapEntry(s: RaftState, servers: readonly NodeId[]): Entry {
  const entry: Entry = { term: 1, index: 1, type: 'config', config: { voters: [...servers], learners: [] } };
  s.log.append(entry);
  s.configs.push({ index: 1, membership: entry.config! });
  s.membership = entry.config!;
  s.membershipIndex = 1;
  s.term = 1;
  s.startOps.push(hardStateOp(s), { op: 'append', log: 'log', entries: [entry] });
  return entry;
}

function onStart(s: RaftState, ctx: StepContext, nowMs: number): void {
  s.started = true;
  for (const note of notesOnStart.get(s) ?? []) trace(ctx, `${s.id} ${note}`, 'warn');
  persist(ctx, s.startOps);
  s.startOps = [];
  s.electionResetMs = nowMs;
  ctx.emit({ kind: 'setTimer', timer: timerElection, afterMs: s.electionTimeoutMs });
  if (s.appliedIndex < s.commitIndex) applyCommitted(s, ctx, nowMs);
  trace(
    ctx,
    `${s.id} started at term ${s.term} with log ${s.log.prevIndex + 1}..${s.log.lastIndex}, commit ${s.commitIndex}`,
    'debug',
  );
}

function onRequest(s: RaftState, ctx: StepContext, nowMs: number, target: ReplyTarget, request: RaftRequest): void {
  if (request === null || typeof request !== 'object')
    return fail(s, ctx, target, 'badRequest', 'request must be an object');
  switch (request.type) {
    case 'propose':
      return onPropose(s, ctx, nowMs, target, request);
    case 'read':
      return onRead(s, ctx, nowMs, target, request);
    case 'readStale': {
      const lastContactMs =
        s.role === 'leader'
          ? 0
          : Number.isFinite(s.lastLeaderContactMs)
            ? Math.max(0, nowMs - s.lastLeaderContactMs)
            : -1;
      return reply(s, ctx, target, {
        ok: true,
        index: s.appliedIndex,
        result: s.fsm.query(request.query),
        lastContactMs,
      });
    }
    case 'addServer':
      return onAddServer(s, ctx, nowMs, target, request);
    case 'removeServer':
      return onRemoveServer(s, ctx, nowMs, target, request);
    case 'transferLeadership':
      return onTransferRequest(s, ctx, nowMs, target, request);
    case 'bootstrap':
      return onBootstrap(s, ctx, nowMs, target, request.servers);
    case 'status':
      return reply(s, ctx, target, { ok: true, index: s.commitIndex, result: viewOf(s) });
    default:
      return fail(s, ctx, target, 'badRequest', `unknown request type ${String((request as { type?: unknown }).type)}`);
  }
}

/** Consul's bootstrap: once bootstrap-expect servers are known (or for a single server), start with them. */
function onBootstrap(
  s: RaftState,
  ctx: StepContext,
  nowMs: number,
  target: ReplyTarget,
  servers: readonly NodeId[],
): void {
  if (
    !Array.isArray(servers) ||
    servers.some((x) => typeof x !== 'string') ||
    new Set(servers).size !== servers.length
  ) {
    return fail(s, ctx, target, 'badRequest', 'bootstrap needs a list of distinct server ids');
  }
  if (s.log.lastIndex > 0 || s.snapshot !== null || s.term > 1) {
    const same = s.membershipIndex === 1 && sameSet(s.membership.voters, servers);
    return same
      ? reply(s, ctx, target, { ok: true, index: 1, result: { already: true } })
      : fail(s, ctx, target, 'badRequest', 'already bootstrapped or joined a cluster');
  }
  const expect = s.config.bootstrapExpect ?? 1;
  if (servers.length < expect)
    return fail(s, ctx, target, 'badRequest', `bootstrap-expect is ${expect}, only ${servers.length} servers known`);
  if (!servers.includes(s.id)) return fail(s, ctx, target, 'badRequest', `${s.id} is not among the bootstrap servers`);
  bootstrapEntry(s, [...servers].sort());
  persist(ctx, s.startOps);
  s.startOps = [];
  trace(ctx, `${s.id} bootstrapped a cluster of ${servers.length}: ${[...servers].sort().join(' ')}`);
  resetElectionTimer(s, ctx, nowMs);
  reply(s, ctx, target, { ok: true, index: 1, result: { bootstrapped: true } });
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function onMessage(s: RaftState, ctx: StepContext, nowMs: number, from: NodeId, message: unknown): void {
  if (!checkMessage(message)) {
    trace(ctx, `${s.id} dropped a malformed raft message from ${from}`, 'warn');
    return;
  }
  const m: RaftMessage = message;
  if (!checkTermJump(m.term, s.term)) {
    trace(
      ctx,
      `${s.id} dropped a raft ${m.type} from ${from}: term ${m.term} is more than 2^32 past ours (${s.term})`,
      'warn',
    );
    return;
  }
  switch (m.type) {
    case 'vote':
      return onRequestVote(s, ctx, nowMs, from, m);
    case 'voteReply':
      return onVoteReply(s, ctx, nowMs, from, m);
    case 'append':
      return onAppendEntries(s, ctx, nowMs, from, m);
    case 'appendReply':
      return onAppendReply(s, ctx, nowMs, from, m);
    case 'snapshot':
      return onInstallSnapshot(s, ctx, nowMs, from, m);
    case 'snapshotReply':
      return onSnapshotReply(s, ctx, nowMs, from, m);
    case 'timeoutNow':
      return onTimeoutNow(s, ctx, nowMs, from, m);
  }
}

function step(s: RaftState, input: Input<RaftMessage, RaftRequest>, ctx: StepContext): void {
  const nowMs = monotonicMs(s, input.nowMs);
  switch (input.kind) {
    case 'start':
      onStart(s, ctx, nowMs);
      break;
    case 'message':
      onMessage(s, ctx, nowMs, input.from, input.message);
      break;
    case 'timer':
      if (input.timer === timerElection) onElectionTimer(s, ctx, nowMs);
      else if (input.timer === timerHeartbeat) onHeartbeatTimer(s, ctx, nowMs);
      break;
    case 'request':
      onRequest(s, ctx, nowMs, { kind: 'client', requestId: input.requestId }, input.request);
      break;
    case 'local': {
      const call = input.payload as RaftLocalCall;
      if (call === null || typeof call !== 'object' || typeof call.requestId !== 'number') {
        trace(ctx, `${s.id} ignored a malformed local call from ${input.fromMachine}`, 'warn');
        break;
      }
      onRequest(s, ctx, nowMs, { kind: 'local', machine: input.fromMachine, requestId: call.requestId }, call.request);
      break;
    }
    case 'checkResult':
      break;
  }
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

function viewOf(s: RaftState): RaftView {
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
  };
}

/** Per-node properties, O(1) + O(members): cheap enough to run after every step. */
export function raftInvariants(s: RaftState): string[] {
  const broken: string[] = [...s.safetyFaults];
  if (s.appliedIndex > s.commitIndex) broken.push(`applied ${s.appliedIndex} > commit ${s.commitIndex}`);
  if (s.commitIndex > s.log.lastIndex) broken.push(`commit ${s.commitIndex} > last index ${s.log.lastIndex}`);
  if (s.log.lastTerm > s.term) broken.push(`last log term ${s.log.lastTerm} > current term ${s.term}`);
  const snapIndex = s.snapshot?.lastIndex ?? 0;
  if (snapIndex > s.appliedIndex) broken.push(`snapshot ${snapIndex} > applied ${s.appliedIndex}`);
  if (s.log.prevIndex > snapIndex) broken.push(`log compacted to ${s.log.prevIndex} beyond the snapshot ${snapIndex}`);
  if (s.role === 'leader') {
    if (s.leader !== s.id) broken.push('a leader that does not name itself leader');
    if (s.vote !== s.id) broken.push(`a leader that voted for ${s.vote} in its own term`);
    for (const [id, p] of s.progress) {
      if (p.match >= p.next) broken.push(`progress of ${id}: match ${p.match} ≥ next ${p.next}`);
      if (p.match > s.log.lastIndex) broken.push(`progress of ${id}: match ${p.match} beyond our last index`);
      if (p.inflight.length > s.config.inflightAppendsMax)
        broken.push(`progress of ${id}: ${p.inflight.length} appends in flight`);
    }
  } else if (s.progress.size > 0 || s.pending.size > 0 || s.reads.length > 0)
    broken.push(`a ${s.role} with leader-only state`);
  if (s.started && s.hardStateDirty) broken.push('hard state changed but not persisted at the end of a step');
  broken.push(...s.log.check());
  return broken;
}

export const raftMachine: Machine<RaftState, RaftConfig, RaftMessage, RaftRequest, RaftResponse> = {
  name: 'raft',
  init: initRaft,
  step,
  invariants: raftInvariants,
  view: (s) => ({ ...viewOf(s) }),
};
