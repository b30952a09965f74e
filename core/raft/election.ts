/**
 * Leader election (Raft §5.2, §5.4.1), pre-vote (thesis §9.6), check-quorum (thesis §6.2, a leader
 * without a quorum steps down), the disregard rule against disruptive servers (thesis §4.2.3), and
 * leadership transfer with TimeoutNow (thesis §3.10).
 */
import type { NodeId, StepContext } from '../types.js';
import type { RaftRequest } from './api.js';
import type { RequestVote, TimeoutNow, VoteReply } from './messages.js';
import { appendLocal, sendAppend, newProgress } from './replication.js';
import { failReadsOnStepDown } from './readindex.js';
import { failMembershipOnStepDown } from './membership.js';
import {
  armTimer,
  fail,
  isVoter,
  notify,
  quorumSize,
  randomElectionTimeoutMs,
  reply,
  send,
  timerElection,
  timerHeartbeat,
  trace,
  type RaftState,
  type ReplyTarget,
} from './state.js';

/** A node campaigns only if it is a voter in its latest configuration (learners and removed servers never do). */
export function checkCanCampaign(s: RaftState): boolean {
  return s.membership.voters.includes(s.id);
}

/** §5.4.1: the candidate's log is at least as up-to-date as ours. */
export function checkLogUpToDate(s: RaftState, lastIndex: number, lastTerm: number): boolean {
  if (s.config.unsafeVoteWithoutLogCheck) return true; // the test-only broken variant
  const myTerm = s.log.lastTerm;
  return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= s.log.lastIndex);
}

/** Arms the election timer with a fresh randomized timeout (§5.2: randomized to avoid split votes). */
export function resetElectionTimer(s: RaftState, ctx: StepContext, nowMs: number): void {
  s.electionTimeoutMs = randomElectionTimeoutMs(s.config, ctx.prng);
  s.electionResetMs = nowMs;
  armTimer(ctx, timerElection, s.electionTimeoutMs);
}

export function becomeFollower(
  s: RaftState,
  ctx: StepContext,
  nowMs: number,
  term: number,
  leader: NodeId | null,
): void {
  const wasLeader = s.role === 'leader';
  const previousRole = s.role;
  if (term > s.term) {
    s.term = term;
    s.vote = null;
    s.hardStateDirty = true;
  }
  s.role = 'follower';
  s.leader = leader;
  s.votes.clear();
  if (wasLeader) stepDownCleanup(s, ctx);
  if (previousRole !== 'follower') {
    ctx.emit({ kind: 'cancelTimer', timer: timerHeartbeat });
    resetElectionTimer(s, ctx, nowMs);
  }
  noticeLeader(s, ctx);
}

/** A leader that stops leading answers everything it was waiting on: the outcome is unknown to it. */
function stepDownCleanup(s: RaftState, ctx: StepContext): void {
  for (const [, pending] of s.pending)
    if (pending.target)
      fail(s, ctx, pending.target, 'stepDown', 'leadership lost before the entry committed; it may still commit');
  s.pending.clear();
  failReadsOnStepDown(s, ctx);
  failMembershipOnStepDown(s, ctx);
  if (s.transfer) {
    if (s.transfer.replyTo)
      reply(s, ctx, s.transfer.replyTo, {
        ok: true,
        index: s.commitIndex,
        result: { transferredTo: s.transfer.target },
      });
    s.transfer = null;
  }
  s.progress.clear();
}

export function noticeLeader(s: RaftState, ctx: StepContext): void {
  const key = `${s.leader ?? ''}@${s.term}`;
  if (key === s.lastNotifiedLeader) return;
  s.lastNotifiedLeader = key;
  notify(s, ctx, { type: 'leader', leader: s.leader, term: s.term, isLeader: s.role === 'leader' });
}

export function onElectionTimer(s: RaftState, ctx: StepContext, nowMs: number): void {
  if (s.role === 'leader') return; // a stale timer: leaders run on the heartbeat timer
  const elapsedMs = nowMs - s.electionResetMs;
  if (elapsedMs < 0) {
    resetElectionTimer(s, ctx, nowMs); // the local clock jumped backwards: start the wait again
    return;
  }
  if (elapsedMs < s.electionTimeoutMs) {
    armTimer(ctx, timerElection, s.electionTimeoutMs - elapsedMs); // heard from a leader meanwhile
    return;
  }
  if (!checkCanCampaign(s)) {
    resetElectionTimer(s, ctx, nowMs);
    return;
  }
  if (s.config.preVote) becomePreCandidate(s, ctx, nowMs);
  else becomeCandidate(s, ctx, nowMs, false);
}

/** Thesis §9.6: poll the voters at term+1 without changing our term; only a majority makes us a candidate. */
function becomePreCandidate(s: RaftState, ctx: StepContext, nowMs: number): void {
  s.role = 'precandidate';
  s.leader = null;
  s.votes = new Set([s.id]);
  resetElectionTimer(s, ctx, nowMs);
  trace(ctx, `${s.id} started a pre-vote for term ${s.term + 1}`, 'debug');
  noticeLeader(s, ctx);
  if (countVotes(s) >= quorumSize(s.membership.voters.length)) {
    becomeCandidate(s, ctx, nowMs, false);
    return;
  }
  const request: RequestVote = {
    type: 'vote',
    term: s.term + 1,
    lastIndex: s.log.lastIndex,
    lastTerm: s.log.lastTerm,
    preVote: true,
    transfer: false,
  };
  for (const id of s.membership.voters) if (id !== s.id) send(s, ctx, id, request);
}

export function becomeCandidate(s: RaftState, ctx: StepContext, nowMs: number, transfer: boolean): void {
  s.role = 'candidate';
  s.term += 1;
  s.vote = s.id;
  s.hardStateDirty = true; // persisted by send() before the first RequestVote leaves (Figure 2)
  s.leader = null;
  s.votes = new Set([s.id]);
  resetElectionTimer(s, ctx, nowMs);
  trace(ctx, `${s.id} became candidate at term ${s.term}${transfer ? ' (leadership transfer)' : ''}`);
  noticeLeader(s, ctx);
  if (countVotes(s) >= quorumSize(s.membership.voters.length)) {
    becomeLeader(s, ctx, nowMs);
    return;
  }
  const request: RequestVote = {
    type: 'vote',
    term: s.term,
    lastIndex: s.log.lastIndex,
    lastTerm: s.log.lastTerm,
    preVote: false,
    transfer,
  };
  for (const id of s.membership.voters) if (id !== s.id) send(s, ctx, id, request);
}

function countVotes(s: RaftState): number {
  let count = 0;
  for (const id of s.votes) if (isVoter(s, id)) count++;
  return count;
}

export function becomeLeader(s: RaftState, ctx: StepContext, nowMs: number): void {
  s.role = 'leader';
  s.leader = s.id;
  s.votes.clear();
  s.transfer = null;
  s.progress.clear();
  for (const id of s.membership.voters) if (id !== s.id) s.progress.set(id, newProgress(s, nowMs));
  for (const id of s.membership.learners) if (id !== s.id) s.progress.set(id, newProgress(s, nowMs));
  s.selfDurableIndex = s.commitIndex;
  s.lastQuorumCheckMs = nowMs;
  ctx.emit({ kind: 'cancelTimer', timer: timerElection });
  armTimer(ctx, timerHeartbeat, s.config.heartbeatIntervalMs);
  trace(ctx, `${s.id} became leader at term ${s.term}`);
  noticeLeader(s, ctx);
  // Thesis §6.4 / Raft §8: a new leader commits a blank no-op entry to learn the commit index; it also
  // commits every earlier-term entry indirectly (§5.4.2).
  appendLocal(s, ctx, [{ term: s.term, index: s.log.lastIndex + 1, type: 'noop' }]);
  for (const [id, p] of s.progress) sendAppend(s, ctx, nowMs, id, p, false);
}

/** The disregard rule (thesis §4.2.3): a server that heard from a leader recently ignores vote requests. */
function checkHeardFromLeaderRecently(s: RaftState, nowMs: number): boolean {
  if (s.role === 'leader') return s.config.checkQuorum;
  if (s.leader === null) return false;
  const sinceMs = nowMs - s.lastLeaderContactMs;
  return sinceMs >= 0 && sinceMs < s.config.electionTimeoutMsMin;
}

export function onRequestVote(s: RaftState, ctx: StepContext, nowMs: number, from: NodeId, m: RequestVote): void {
  if (m.term > s.term && !m.transfer && checkHeardFromLeaderRecently(s, nowMs)) {
    send(s, ctx, from, { type: 'voteReply', term: s.term, granted: false, preVote: m.preVote });
    return;
  }
  if (m.preVote) {
    // Grant a poll for a later term to an up-to-date log; nothing changes here (§9.6).
    const granted = m.term > s.term && checkLogUpToDate(s, m.lastIndex, m.lastTerm);
    send(s, ctx, from, { type: 'voteReply', term: granted ? m.term : s.term, granted, preVote: true });
    return;
  }
  if (m.term < s.term) {
    send(s, ctx, from, { type: 'voteReply', term: s.term, granted: false, preVote: false });
    return;
  }
  if (m.term > s.term) becomeFollower(s, ctx, nowMs, m.term, null);
  const granted = (s.vote === null || s.vote === from) && checkLogUpToDate(s, m.lastIndex, m.lastTerm);
  if (granted) {
    if (s.vote !== from) {
      s.vote = from;
      s.hardStateDirty = true; // Figure 2: persist votedFor before the reply (send() flushes it)
    }
    // §5.2: granting a vote resets the election timer; a fresh random timeout keeps a split vote
    // from repeating in lockstep (every server that voted re-draws, not only the candidates).
    s.electionResetMs = nowMs;
    s.electionTimeoutMs = randomElectionTimeoutMs(s.config, ctx.prng);
  }
  send(s, ctx, from, { type: 'voteReply', term: s.term, granted, preVote: false });
}

export function onVoteReply(s: RaftState, ctx: StepContext, nowMs: number, from: NodeId, m: VoteReply): void {
  if (m.preVote) {
    if (!m.granted) {
      if (m.term > s.term) becomeFollower(s, ctx, nowMs, m.term, null);
      return;
    }
    if (s.role !== 'precandidate' || m.term !== s.term + 1) return; // a stale poll
    s.votes.add(from);
    if (countVotes(s) >= quorumSize(s.membership.voters.length)) becomeCandidate(s, ctx, nowMs, false);
    return;
  }
  if (m.term > s.term) {
    becomeFollower(s, ctx, nowMs, m.term, null);
    return;
  }
  if (s.role !== 'candidate' || m.term !== s.term || !m.granted) return;
  s.votes.add(from);
  if (countVotes(s) >= quorumSize(s.membership.voters.length)) becomeLeader(s, ctx, nowMs);
}

/** Check-quorum: every electionTimeoutMsMin, a leader that heard from fewer than a quorum steps down. */
export function checkQuorumActive(s: RaftState, nowMs: number): boolean {
  let active = 0;
  for (const id of s.membership.voters) {
    if (id === s.id) active++;
    else {
      const p = s.progress.get(id);
      if (p && nowMs - p.lastAckMs < s.config.electionTimeoutMsMin) active++;
    }
  }
  return active >= quorumSize(s.membership.voters.length);
}

// ───────────────────────────────────── leadership transfer (§3.10) ─────────────────────────────────────

export function onTransferRequest(
  s: RaftState,
  ctx: StepContext,
  nowMs: number,
  target: ReplyTarget,
  request: Extract<RaftRequest, { type: 'transferLeadership' }>,
): void {
  if (s.role !== 'leader') return fail(s, ctx, target, s.leader ? 'notLeader' : 'noLeader');
  if (s.transfer) return fail(s, ctx, target, 'busy', 'a leadership transfer is already in progress');
  let to = request.to;
  if (to === undefined) {
    let best = -1;
    for (const [id, p] of s.progress) if (isVoter(s, id) && p.match > best) ((best = p.match), (to = id));
  }
  if (to === undefined || to === s.id)
    return reply(s, ctx, target, { ok: true, index: s.commitIndex, result: { transferredTo: s.id } });
  if (!isVoter(s, to) || !s.progress.has(to)) return fail(s, ctx, target, 'badRequest', `${to} is not a voter`);
  s.transfer = { target: to, deadlineMs: nowMs + s.config.electionTimeoutMsMax * 2, replyTo: target };
  trace(ctx, `${s.id} is transferring leadership to ${to} at term ${s.term}`);
  maybeSendTimeoutNow(s, ctx, nowMs);
}

/** Once the target's log matches ours, tell it to start an election now (§3.10). */
export function maybeSendTimeoutNow(s: RaftState, ctx: StepContext, nowMs: number): void {
  if (!s.transfer || s.role !== 'leader') return;
  const p = s.progress.get(s.transfer.target);
  if (!p) {
    if (s.transfer.replyTo) fail(s, ctx, s.transfer.replyTo, 'badRequest', 'transfer target left the configuration');
    s.transfer = null;
    return;
  }
  if (p.match === s.log.lastIndex)
    send(s, ctx, s.transfer.target, { type: 'timeoutNow', term: s.term } satisfies TimeoutNow);
  else sendAppend(s, ctx, nowMs, s.transfer.target, p, false);
}

export function checkTransferDeadline(s: RaftState, ctx: StepContext, nowMs: number): void {
  if (!s.transfer || nowMs < s.transfer.deadlineMs) return;
  trace(ctx, `${s.id} gave up transferring leadership to ${s.transfer.target}`, 'warn');
  if (s.transfer.replyTo) fail(s, ctx, s.transfer.replyTo, 'timeout', 'the target did not take over in time');
  s.transfer = null;
}

export function onTimeoutNow(s: RaftState, ctx: StepContext, nowMs: number, from: NodeId, m: TimeoutNow): void {
  if (m.term < s.term || s.role === 'leader' || !checkCanCampaign(s)) return;
  if (m.term > s.term) becomeFollower(s, ctx, nowMs, m.term, from);
  trace(ctx, `${s.id} got TimeoutNow from ${from} at term ${s.term}`, 'debug');
  becomeCandidate(s, ctx, nowMs, true);
}
