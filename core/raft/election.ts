/**
 * Leader election (Raft §5.2, §5.4.1), pre-vote (thesis §9.6), check-quorum (thesis §6.2, a leader
 * without a quorum steps down) and the disregard rule against disruptive servers (thesis §4.2.3).
 * A leaf over the state: it grants votes, counts them and asks for them; the role changes they lead
 * to (campaign, lead, step down) are made by step.ts through role.ts.
 */
import type { NodeId, StepContext } from '../types.js';
import type { RequestVote, VoteReply } from './messages.js';
import { checkQuorumWindowMsOf } from './config.js';
import { membershipAt } from './configs.js';
import { checkOwnIdCurrent, checkSenderCounts } from './identity.js';
import {
  armTimer,
  checkStarved,
  isVoter,
  quorumSize,
  randomElectionTimeoutMs,
  resetElectionTimer,
  send,
  timerElection,
  trace,
  type RaftState,
} from './state.js';

/**
 * A node campaigns only if it is a voter in its latest configuration, under its own server id (learners,
 * removed servers and a server whose name is on record with another id — it lost its data — never do) —
 * or while its removal is not committed: a voter of the configuration at its commit index whose latest entry
 * removes it altogether (not one that makes it a learner) may still be the one the others need (thesis
 * §4.2.2: a removed leader leads until its removal commits). Found by the explorer (raft/disk-replaced-membership seeds 357 and 434, session 18): a leader
 * removed itself, stepped down on check-quorum before the entry committed and held the longest log; it no
 * longer campaigned, refused the others' shorter logs, and with one more voter gone they had no quorum
 * without it — no leader ever again. Campaigning, it counts votes in its latest configuration (its own not
 * among them, election.ts checkVoteQuorum), commits its removal as leader and then steps down as any removed
 * leader does.
 */
export function checkCanCampaign(s: RaftState): boolean {
  if (!checkOwnIdCurrent(s)) return false;
  if (s.membership.voters.includes(s.id)) return true;
  // A learner of its latest configuration (a demoted voter) stays out of elections (thesis §4.2.1), committed or not.
  if (s.membership.learners.includes(s.id)) return false;
  return s.membershipIndex > s.commitIndex && membershipAt(s, s.commitIndex).voters.includes(s.id);
}

/**
 * Whether we may grant a vote or a poll to `from` (identity.ts): its id is the one our configuration
 * records for it, and we hold some log. A server with nothing at all (a joiner, or one that lost its
 * disk and restarted without a configuration) has no entries to protect, so its vote would let any
 * candidate win with entries that a quorum acknowledged missing; it waits for the leader instead.
 */
export function checkMayGrant(s: RaftState, from: NodeId, m: RequestVote): boolean {
  return (s.log.lastIndex > 0 || s.config.unsafeIgnoreServerIds === true) && checkSenderCounts(s, from, m.sid);
}

/** §5.4.1: the candidate's log is at least as up-to-date as ours. */
export function checkLogUpToDate(s: RaftState, lastIndex: number, lastTerm: number): boolean {
  if (s.config.unsafeVoteWithoutLogCheck) return true; // the test-only broken variant
  const myTerm = s.log.lastTerm;
  return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= s.log.lastIndex);
}

/**
 * The election timer fired. Returns true when the timeout has really elapsed; otherwise re-arms the
 * timer for what is left (a leader was heard from meanwhile), after the local clock jumped back for a
 * whole new wait, or — when the timer fired more than a heartbeat late (state.ts checkStarved) — for
 * one heartbeat interval, so that the messages queued behind it are read first.
 */
export function rearmUnlessElapsed(s: RaftState, ctx: StepContext, nowMs: number): boolean {
  const elapsedMs = nowMs - s.electionResetMs;
  if (elapsedMs < 0) {
    resetElectionTimer(s, ctx, nowMs); // the local clock jumped backwards: start the wait again
    return false;
  }
  if (elapsedMs < s.electionTimeoutMs) {
    armTimer(ctx, timerElection, s.electionTimeoutMs - elapsedMs); // heard from a leader meanwhile
    return false;
  }
  if (checkStarved(s.config, elapsedMs - s.electionTimeoutMs)) {
    // Starved: the leader's heartbeats may be unread behind this timer. Look again once they are read.
    trace(ctx, { type: 'raft.electionDeferred', node: s.id, lateMs: elapsedMs - s.electionTimeoutMs });
    s.electionResetMs = nowMs - s.electionTimeoutMs + s.config.heartbeatIntervalMs;
    armTimer(ctx, timerElection, s.config.heartbeatIntervalMs);
    return false;
  }
  return true;
}

/**
 * The driver says the stream to our leader closed (the `linkDown` input): its process died and its
 * kernel closed the socket, or the connection was reset. Only a hint — a partition gives none, and a live
 * leader redials — so it changes timing, never a rule (issue 15: failover after a kill -9 took the whole
 * 3–6 s election timeout of raft_multiplier 3). A follower stops shielding that leader with the disregard
 * rule and polls (pre-vote, §9.6) one heartbeat interval (plus up to one more, random, so the followers
 * do not split the vote) after the signal instead of a full election timeout after the leader's last
 * message. A live leader's next heartbeat arrives within that interval and cancels both (onLeaderMessage
 * resets the timer and the flag); a poll sent while it lives is refused by every follower that still
 * hears it, so a dropped connection alone deposes no working leader. Without pre-vote a premature
 * campaign would raise the term of a healthy cluster, so then nothing changes.
 */
export function onLeaderLinkDown(s: RaftState, ctx: StepContext, nowMs: number, peer: NodeId): void {
  if (s.role !== 'follower' || s.leader !== peer || !s.config.preVote || s.leaderLinkDown) return;
  s.leaderLinkDown = true;
  const waitMs = s.config.heartbeatIntervalMs + ctx.prng.below(s.config.heartbeatIntervalMs + 1);
  const leftMs = s.electionTimeoutMs - (nowMs - s.electionResetMs);
  trace(ctx, { type: 'raft.leaderLinkDown', node: s.id, leader: peer, waitMs: Math.min(waitMs, leftMs) });
  if (leftMs <= waitMs) return; // the election timer is due sooner anyway
  s.electionResetMs = nowMs - s.electionTimeoutMs + waitMs;
  armTimer(ctx, timerElection, waitMs);
}

/** Sends RequestVote (or, for a poll, a pre-vote at term+1) to every other voter. */
export function requestVotes(s: RaftState, ctx: StepContext, preVote: boolean, transfer: boolean): void {
  for (const id of s.membership.voters) {
    if (id === s.id) continue;
    // One message per voter: send() stamps the message it is given.
    const request: RequestVote = {
      type: 'vote',
      term: preVote ? s.term + 1 : s.term,
      lastIndex: s.log.lastIndex,
      lastTerm: s.log.lastTerm,
      preVote,
      transfer,
    };
    send(s, ctx, id, request);
  }
}

/** Whether the votes (or pre-votes) gathered so far, ours included, are a quorum of the voters. */
export function checkVoteQuorum(s: RaftState): boolean {
  let count = 0;
  for (const id of s.votes) if (isVoter(s, id)) count++;
  return count >= quorumSize(s.membership.voters.length);
}

/**
 * A (pre-)candidate counts a granted vote for its current round. Returns true when this vote made the
 * quorum. Replies to an older round, refusals and replies to a role we left count for nothing.
 */
export function recordVote(s: RaftState, from: NodeId, m: VoteReply): boolean {
  if (!m.granted) return false;
  if (m.preVote) {
    if (s.role !== 'precandidate' || m.term !== s.term + 1) return false; // a stale poll
  } else if (s.role !== 'candidate' || m.term !== s.term) return false;
  s.votes.add(from);
  return checkVoteQuorum(s);
}

/**
 * The disregard rule (thesis §4.2.3): a server that heard from a leader recently ignores vote requests —
 * unless the stream to that leader closed since (onLeaderLinkDown): then a peer's poll is answered on
 * its merits at once, or the fast failover below would wait out this rule for a whole election timeout.
 */
export function checkHeardFromLeaderRecently(s: RaftState, nowMs: number): boolean {
  if (s.role === 'leader') return s.config.checkQuorum;
  if (s.leader === null || s.leaderLinkDown) return false;
  const sinceMs = nowMs - s.lastLeaderContactMs;
  return sinceMs >= 0 && sinceMs < s.config.electionTimeoutMsMin;
}

/** Refuses a vote or a poll with our own term (a stale candidate learns it from the refusal). */
export function refuseVote(s: RaftState, ctx: StepContext, from: NodeId, m: RequestVote): void {
  send(s, ctx, from, { type: 'voteReply', term: s.term, granted: false, preVote: m.preVote });
}

/**
 * RequestVote once the term is settled (step.ts): a poll is for a later term and changes nothing here;
 * a vote is for our term, granted once per term to an up-to-date log (§5.2, §5.4.1). Every role answers
 * the same way: a candidate or leader already voted for itself.
 */
export function onRequestVote(s: RaftState, ctx: StepContext, nowMs: number, from: NodeId, m: RequestVote): void {
  if (m.preVote) {
    // Grant a poll for a later term to an up-to-date log; nothing changes here (§9.6).
    const granted = m.term > s.term && checkLogUpToDate(s, m.lastIndex, m.lastTerm) && checkMayGrant(s, from, m);
    send(s, ctx, from, { type: 'voteReply', term: granted ? m.term : s.term, granted, preVote: true });
    return;
  }
  const eligible = checkLogUpToDate(s, m.lastIndex, m.lastTerm) && checkMayGrant(s, from, m);
  const granted = (s.vote === null || s.vote === from) && eligible;
  if (granted) {
    if (s.vote !== from) {
      s.vote = from;
      s.hardStateDirty = true; // Figure 2: persist votedFor before the reply (send() flushes it)
    }
  }
  if (granted || (eligible && s.vote === s.id)) {
    // §5.2: granting a vote resets the election timer; a fresh random timeout keeps a split vote
    // from repeating in lockstep (every server that voted re-draws, not only the candidates). A candidate
    // that refuses only because it voted for itself this term, to a candidate it would otherwise have
    // voted for, re-draws too: it backs off so that the better-placed candidate's next timeout tends to
    // come first. Without it their phases drift as a random walk that nothing resets when neither hears
    // the other's term first (configurations that differ in flight, pre-vote off): disk-full seed 99 had
    // no leader for 4.9 s after the heal, the candidate that could never win always timing out first.
    s.electionResetMs = nowMs;
    if (!granted && s.role === 'candidate' && s.config.splitVoteBackoff) {
      // A split vote (config.ts splitVoteBackoff): poll again after one to three heartbeats, re-arming the
      // timer that would otherwise fire at the old, later deadline.
      const heartbeatMs = s.config.heartbeatIntervalMs;
      s.electionTimeoutMs = heartbeatMs + ctx.prng.below(2 * heartbeatMs + 1);
      armTimer(ctx, timerElection, s.electionTimeoutMs);
    } else s.electionTimeoutMs = randomElectionTimeoutMs(s.config, ctx.prng);
  }
  send(s, ctx, from, { type: 'voteReply', term: s.term, granted, preVote: false });
}

/** Check-quorum: whether a quorum of voters (us included) answered within the window (config.ts checkQuorumWindowMsOf). */
export function checkQuorumActive(s: RaftState, nowMs: number): boolean {
  const windowMs = checkQuorumWindowMsOf(s.config);
  let active = 0;
  for (const id of s.membership.voters) {
    if (id === s.id) active++;
    else {
      const p = s.progress.get(id);
      if (p && nowMs - p.lastAckMs < windowMs) active++;
    }
  }
  return active >= quorumSize(s.membership.voters.length);
}
