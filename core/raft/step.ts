/**
 * Where every input goes after raft.ts has read its clock (etcd-io/raft's `Step`). The parent branches;
 * the mechanisms compute:
 *
 *   - a peer message has its term settled once, in `settleTerm` (§5.1: a newer term makes us a
 *     follower, an older one is refused or dropped; pre-vote, the disregard rule and TimeoutNow are the
 *     written exceptions), then goes to the handler of our role: `stepLeader`, `stepCandidate`,
 *     `stepFollower`;
 *   - roles change only through role.ts; the mechanisms (election, replication, snapshot, membership,
 *     readindex, transfer, sessions, bootstrap) are leaves over the state and never call back here;
 *   - what a handler's change calls for runs in `react`: the commit index moved → apply the entries
 *     (answering their proposers; a leader removed by one hands over and steps down), serve the reads
 *     that waited, maybe snapshot. A handler reacts after its state change and before its own answer
 *     leaves (the follower's AppendEntries reply, the leader's next AppendEntries), which is the order
 *     the effects always had; raft.ts reacts once more at the end of every step.
 */
import { assert } from '../assert.js';
import type { NodeId, StepContext } from '../types.js';
import type { RaftRequest } from './api.js';
import { onBootstrap } from './bootstrap.js';
import {
  checkCanCampaign,
  checkHeardFromLeaderRecently,
  checkQuorumActive,
  checkVoteQuorum,
  onRequestVote,
  rearmUnlessElapsed,
  recordVote,
  refuseVote,
  requestVotes,
} from './election.js';
import {
  checkMessage,
  checkTermJump,
  type AppendEntries,
  type AppendReply,
  type InstallSnapshot,
  type RaftMessage,
  type SnapshotReply,
} from './messages.js';
import {
  checkMembershipProgress,
  checkRemovedLeader,
  handOverLeadership,
  maybeRecordIds,
  onAddServer,
  onRemoveServer,
} from './membership.js';
import { onRead, onReadAcks, serveReads, startReadRound } from './readindex.js';
import { checkSenderCounts, recordedIdOf } from './identity.js';
import {
  appendLocal,
  appendRefusal,
  broadcastAppend,
  broadcastHeartbeat,
  maybeCommit,
  onAppendAccepted,
  onAppendEntries,
  onAppendRefused,
  onPropose,
  checkLogBelowMatch,
  resetProgressAfterLoss,
  onSelfAck,
  progressForReply,
  scheduleReplication,
  sendAppend,
} from './replication.js';
import { becomeCandidate, becomeFollower, becomeLeader, becomePreCandidate } from './role.js';
import { applyBatchMax, applyEntry } from './sessions.js';
import { maybeTakeSnapshot, onInstallSnapshot, onSnapshotProgress, snapshotAnswer } from './snapshot.js';
import { checkQuorumWindowMsOf } from './config.js';
import {
  armTimer,
  checkStarved,
  fail,
  notify,
  reply,
  resetElectionTimer,
  send,
  strangersReportedMax,
  timerHeartbeat,
  trace,
  viewOf,
  knownIdsOf,
  progressOf,
  type RaftState,
  type ReplyTarget,
} from './state.js';
import { checkTransferDeadline, maybeSendTimeoutNow, onTransferRequest } from './transfer.js';

// ─────────────────────────────────────────── messages ───────────────────────────────────────────

export function onMessage(s: RaftState, ctx: StepContext, nowMs: number, from: NodeId, message: unknown): void {
  if (!checkMessage(message)) {
    trace(ctx, { type: 'raft.malformedMessage', node: s.id, from });
    return;
  }
  const m: RaftMessage = message;
  if (!checkTermJump(m.term, s.term)) {
    trace(ctx, {
      type: 'raft.termJumpDropped',
      node: s.id,
      from,
      messageType: m.type,
      messageTerm: m.term,
      term: s.term,
    });
    return;
  }
  // Our own append ack (replication.ts's sendSelfAck, held until our write is durable) is no news about terms; it only
  // tells the leader of its term what is durable.
  if (m.type === 'appendReply' && from === s.id) return onSelfAckMessage(s, ctx, nowMs, m);
  if (!checkFromMember(s, ctx, from, m)) return;
  if (!settleTerm(s, ctx, nowMs, from, m)) return;
  switch (s.role) {
    case 'leader':
      return stepLeader(s, ctx, nowMs, from, m);
    case 'candidate':
    case 'precandidate':
      return stepCandidate(s, ctx, nowMs, from, m);
    case 'follower':
      return stepFollower(s, ctx, nowMs, from, m);
  }
}

/**
 * The one place a sender's server id is checked (identity.ts). Votes, polls and acknowledgements count
 * toward a quorum, so they are taken only from a member under the id on record for it; a server that
 * came back under a member's name with another id (it lost its data) is reported once and ignored,
 * before its term can disturb anyone. AppendEntries, InstallSnapshot and TimeoutNow come from a leader
 * whose election already counted: a follower whose configuration is older than the leader's (it does not
 * know yet that the leader was re-added under a new id) must still follow it, so they are not checked.
 */
function checkFromMember(s: RaftState, ctx: StepContext, from: NodeId, m: RaftMessage): boolean {
  const member = s.membership.voters.includes(from) || s.membership.learners.includes(from);
  if (member && m.sid !== undefined) {
    s.seenIds.set(from, m.sid);
    if (!s.firstSeenIds.has(from)) s.firstSeenIds.set(from, m.sid);
  }
  if (m.type === 'append' || m.type === 'snapshot' || m.type === 'timeoutNow') return true;
  if (checkSenderCounts(s, from, m.sid)) return true;
  const recordedId = recordedIdOf(s.membership, from)!;
  const seenId = m.sid ?? '(none)';
  const key = `${from} ${seenId}`;
  if (!s.strangersReported.has(key)) {
    if (s.strangersReported.size >= strangersReportedMax) s.strangersReported.clear();
    s.strangersReported.add(key);
    trace(ctx, { type: 'raft.serverIdMismatch', node: s.id, server: from, seenId, recordedId });
    notify(s, ctx, { type: 'serverIdMismatch', server: from, recordedId, seenId });
  }
  return false;
}

/**
 * The one place a message's term is compared with ours (§5.1). Returns true when the message goes on to
 * the role handler: then its term is ours, or it is a pre-vote poll (or a granted poll's reply) for the
 * next term, which by design changes nobody's term (§9.6).
 */
function settleTerm(s: RaftState, ctx: StepContext, nowMs: number, from: NodeId, m: RaftMessage): boolean {
  if (m.term > s.term) {
    switch (m.type) {
      case 'vote':
        // The disregard rule (thesis §4.2.3): while we hear from a leader, a newer term from a
        // candidate does not depose it — unless the leader itself asked for the election (§3.10).
        if (!m.transfer && checkHeardFromLeaderRecently(s, nowMs)) {
          refuseVote(s, ctx, from, m);
          return false;
        }
        if (m.preVote) return true;
        becomeFollower(s, ctx, nowMs, m.term, null);
        return true;
      case 'voteReply':
        if (m.preVote && m.granted) return true; // a granted poll carries the term it was for
        becomeFollower(s, ctx, nowMs, m.term, null);
        return false;
      case 'append':
      case 'snapshot':
        becomeFollower(s, ctx, nowMs, m.term, from);
        return true;
      case 'appendReply':
      case 'snapshotReply':
        becomeFollower(s, ctx, nowMs, m.term, null);
        return false;
      case 'timeoutNow':
        // A leader, or a server that may not campaign, ignores a TimeoutNow altogether, newer term
        // included: it will learn the term from the election the sender's successor runs.
        if (s.role === 'leader' || !checkCanCampaign(s)) return false;
        becomeFollower(s, ctx, nowMs, m.term, from);
        return true;
    }
  }
  if (m.term < s.term) {
    // From an older term: a candidate or a leader learns ours from the refusal; replies and
    // TimeoutNow are stale and dropped.
    // The refusal echoes no ReadIndex round (readSeq 0): it carries OUR term, and the round was the
    // stale sender's. A leader restarted since then counts rounds from 0 again, and an echo of its old
    // round 28 at its new term would confirm its new rounds up to 28 that nobody acknowledged
    // (raft/explore-membership seed 37, found by the lease rule: a datagram from the node's previous
    // life, refused at the new term).
    if (m.type === 'vote') refuseVote(s, ctx, from, m);
    else if (m.type === 'append') send(s, ctx, from, { ...appendRefusal(s, m), readSeq: 0 });
    else if (m.type === 'snapshot') send(s, ctx, from, { ...snapshotAnswer(s, m, 0, false, false), readSeq: 0 });
    return false;
  }
  return true;
}

function stepFollower(s: RaftState, ctx: StepContext, nowMs: number, from: NodeId, m: RaftMessage): void {
  switch (m.type) {
    case 'vote':
      return onRequestVote(s, ctx, nowMs, from, m);
    case 'append':
    case 'snapshot':
      return onLeaderMessage(s, ctx, nowMs, from, m);
    case 'timeoutNow':
      return onTimeoutNow(s, ctx, nowMs, from);
    case 'voteReply':
    case 'appendReply':
    case 'snapshotReply':
      return; // answers to a role we no longer hold
  }
}

function stepCandidate(s: RaftState, ctx: StepContext, nowMs: number, from: NodeId, m: RaftMessage): void {
  switch (m.type) {
    case 'vote':
      return onRequestVote(s, ctx, nowMs, from, m);
    case 'voteReply':
      if (recordVote(s, from, m)) {
        if (m.preVote) campaign(s, ctx, nowMs, false);
        else lead(s, ctx, nowMs);
      }
      return;
    case 'append':
    case 'snapshot':
      return onLeaderMessage(s, ctx, nowMs, from, m); // someone won our term (§5.2): follow it
    case 'timeoutNow':
      return onTimeoutNow(s, ctx, nowMs, from);
    case 'appendReply':
    case 'snapshotReply':
      return;
  }
}

function stepLeader(s: RaftState, ctx: StepContext, nowMs: number, from: NodeId, m: RaftMessage): void {
  switch (m.type) {
    case 'vote':
      return onRequestVote(s, ctx, nowMs, from, m);
    case 'appendReply':
      return onAppendReply(s, ctx, nowMs, from, m);
    case 'snapshotReply':
      return onSnapshotReply(s, ctx, nowMs, from, m);
    case 'append':
    case 'snapshot':
      // Another leader of our term cannot exist in a correct Raft (the cluster checkers report it);
      // this one follows the sender, as a candidate would.
      return onLeaderMessage(s, ctx, nowMs, from, m);
    case 'voteReply':
    case 'timeoutNow':
      return;
  }
}

/** AppendEntries or InstallSnapshot from the leader of our term: follow it, take the message, react, answer. */
function onLeaderMessage(
  s: RaftState,
  ctx: StepContext,
  nowMs: number,
  from: NodeId,
  m: AppendEntries | InstallSnapshot,
): void {
  if (s.role !== 'follower' || s.leader !== from) becomeFollower(s, ctx, nowMs, m.term, from);
  s.lastLeaderContactMs = nowMs;
  s.leaderLinkDown = false;
  s.electionResetMs = nowMs;
  const answer = m.type === 'append' ? onAppendEntries(s, ctx, m) : onInstallSnapshot(s, ctx, from, m);
  react(s, ctx, nowMs);
  if (answer !== null) send(s, ctx, from, answer);
}

/** TimeoutNow (§3.10): the leader asks us to campaign at once. */
function onTimeoutNow(s: RaftState, ctx: StepContext, nowMs: number, from: NodeId): void {
  if (!checkCanCampaign(s)) return;
  trace(ctx, { type: 'raft.timeoutNow', node: s.id, from, term: s.term });
  campaign(s, ctx, nowMs, true);
}

function onSelfAckMessage(s: RaftState, ctx: StepContext, nowMs: number, m: AppendReply): void {
  if (s.role !== 'leader' || m.term !== s.term || !onSelfAck(s, m)) return;
  maybeCommit(s);
  react(s, ctx, nowMs);
}

function onAppendReply(s: RaftState, ctx: StepContext, nowMs: number, from: NodeId, m: AppendReply): void {
  const p = progressForReply(s, nowMs, from, m);
  if (!p) return;
  if (m.success) {
    onAppendAccepted(s, p, m);
    maybeCommit(s);
    react(s, ctx, nowMs);
    if (s.transfer?.target === from) maybeSendTimeoutNow(s, ctx, nowMs);
    checkMembershipProgress(s, ctx, nowMs);
  } else if (checkLogBelowMatch(p, m)) {
    trace(ctx, {
      type: 'raft.followerLostEntries',
      node: s.id,
      follower: from,
      lastIndex: m.hintIndex - 1,
      match: p.match,
    });
    resetProgressAfterLoss(p, m.hintIndex);
  } else onAppendRefused(s, p, m);
  onReadAcks(s, ctx, nowMs);
  // What the follower needs next (entries, the commit index) leaves with the turn's batch.
  if (s.role === 'leader' && s.progress.get(from) === p) scheduleReplication(s, ctx);
}

function onSnapshotReply(s: RaftState, ctx: StepContext, nowMs: number, from: NodeId, m: SnapshotReply): void {
  const p = progressForReply(s, nowMs, from, m);
  if (!p) return;
  const outcome = onSnapshotProgress(s, ctx, nowMs, from, p, m);
  if (outcome === 'installed') {
    maybeCommit(s);
    react(s, ctx, nowMs);
  }
  onReadAcks(s, ctx, nowMs);
  if (outcome === 'repeatedGap') return;
  if (s.role === 'leader' && s.progress.get(from) === p) sendAppend(s, ctx, nowMs, from, p, false);
}

// ─────────────────────────────────────────── roles in action ───────────────────────────────────────────

/** Thesis §9.6: poll the voters at term+1 without changing our term; a quorum of polls makes us campaign. */
function preCampaign(s: RaftState, ctx: StepContext, nowMs: number): void {
  becomePreCandidate(s, ctx, nowMs);
  if (checkVoteQuorum(s)) campaign(s, ctx, nowMs, false);
  else requestVotes(s, ctx, true, false);
}

/** §5.2: a new term and a vote for ourselves; a lone voter wins at once. */
function campaign(s: RaftState, ctx: StepContext, nowMs: number, transfer: boolean): void {
  becomeCandidate(s, ctx, nowMs, transfer);
  if (checkVoteQuorum(s)) lead(s, ctx, nowMs);
  else requestVotes(s, ctx, false, transfer);
}

/**
 * Thesis §6.4 / Raft §8: a new leader commits a blank no-op entry to learn the commit index; it also
 * commits every earlier-term entry indirectly (§5.4.2).
 */
function lead(s: RaftState, ctx: StepContext, nowMs: number): void {
  becomeLeader(s, ctx, nowMs);
  appendLocal(s, ctx, [{ term: s.term, index: s.log.lastIndex + 1, type: 'noop' }]);
  // Record the ids of the members we know (ours, our voters') right behind the no-op, before any
  // client entry can be appended: nothing after it commits without the ids in force (membership.ts).
  if (!maybeRecordIds(s, ctx, nowMs, true)) broadcastAppend(s, ctx, nowMs);
}

// ─────────────────────────────────────────── timers ───────────────────────────────────────────

export function onElectionTimeout(s: RaftState, ctx: StepContext, nowMs: number): void {
  if (s.role === 'leader') return; // a stale timer: leaders run on the heartbeat timer
  if (!rearmUnlessElapsed(s, ctx, nowMs)) return;
  if (!checkCanCampaign(s)) return resetElectionTimer(s, ctx, nowMs);
  if (s.config.preVote) preCampaign(s, ctx, nowMs);
  else campaign(s, ctx, nowMs, false);
}

export function onHeartbeatTimeout(s: RaftState, ctx: StepContext, nowMs: number): void {
  if (s.role !== 'leader') return;
  const lateMs = nowMs - s.heartbeatDueMs;
  armTimer(ctx, timerHeartbeat, s.config.heartbeatIntervalMs);
  s.heartbeatDueMs = nowMs + s.config.heartbeatIntervalMs;
  // Check-quorum (thesis §6.2): every window (Consul's leader lease, config.ts), a leader that heard
  // from fewer than a quorum steps down — unless this timer fired more than a heartbeat late: then the
  // process was starved and the followers' answers may be unread behind it (state.ts checkStarved), so
  // the verdict waits one heartbeat round.
  const windowMs = checkQuorumWindowMsOf(s.config);
  if (s.config.checkQuorum && nowMs - s.lastQuorumCheckMs >= windowMs) {
    if (checkStarved(s.config, lateMs)) {
      trace(ctx, { type: 'raft.checkQuorumDeferred', node: s.id, lateMs });
      s.lastQuorumCheckMs = nowMs - windowMs + s.config.heartbeatIntervalMs;
    } else {
      s.lastQuorumCheckMs = nowMs;
      if (!checkQuorumActive(s, nowMs)) {
        trace(ctx, { type: 'raft.steppedDownNoQuorum', node: s.id, term: s.term, windowMs });
        becomeFollower(s, ctx, nowMs, s.term, null);
        return;
      }
    }
  }
  checkTransferDeadline(s, ctx, nowMs);
  checkMembershipProgress(s, ctx, nowMs);
  if (s.role !== 'leader') return;
  if (s.reads.length > 0 || s.config.leaseReads) startReadRound(s, nowMs);
  broadcastHeartbeat(s, ctx, nowMs);
}

// ─────────────────────────────────────────── requests ───────────────────────────────────────────

export function onRequest(
  s: RaftState,
  ctx: StepContext,
  nowMs: number,
  target: ReplyTarget,
  request: RaftRequest,
): void {
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
      return reply(s, ctx, target, {
        ok: true,
        index: s.commitIndex,
        result: request.progress
          ? { ...viewOf(s), progress: progressOf(s), heartbeatIntervalMs: s.config.heartbeatIntervalMs }
          : request.ids
            ? { ...viewOf(s), knownIds: knownIdsOf(s) }
            : viewOf(s),
      });
    default:
      return fail(s, ctx, target, 'badRequest', `unknown request type ${String((request as { type?: unknown }).type)}`);
  }
}

// ─────────────────────────────────────────── reactions ───────────────────────────────────────────

/**
 * The commit index moved past what is applied: apply the committed entries in log order (at most
 * applyBatchMax per step; the end of the step calls this again), then serve the reads that waited for
 * them and maybe take a snapshot. A leader that a configuration entry removed hands over and steps
 * down as soon as that entry applies (thesis §4.2.2).
 */
export function react(s: RaftState, ctx: StepContext, nowMs: number): void {
  if (s.appliedIndex >= s.commitIndex) return;
  if (!(s.commitIndex <= s.log.lastIndex))
    assert(false, `commit ${s.commitIndex} beyond last index ${s.log.lastIndex}`);
  for (let n = 0; s.appliedIndex < s.commitIndex && n < applyBatchMax; n++) {
    const index = s.appliedIndex + 1;
    const entry = s.log.entryAt(index);
    if (entry === undefined) assert(false, `committed entry ${index} is not in the log (prevIndex ${s.log.prevIndex})`);
    applyEntry(s, ctx, entry);
    if (checkRemovedLeader(s, entry)) {
      handOverLeadership(s, ctx);
      becomeFollower(s, ctx, nowMs, s.term, null);
    }
    s.appliedIndex = index;
  }
  serveReads(s, ctx, nowMs);
  maybeTakeSnapshot(s, ctx);
}
