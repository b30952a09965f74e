/**
 * Role changes, and nothing else (etcd-io/raft's becomeFollower / becomeCandidate / becomeLeader). Each
 * `becomeX` sets the role's state, arms the role's timer and tells the observer; what the new role then
 * does (ask for votes, append its no-op, replicate) is decided by the caller in step.ts. This file
 * imports only the state, so every mechanism can be read without it and it without them.
 */
import type { NodeId, StepContext } from '../types.js';
import {
  armTimer,
  fail,
  newProgress,
  noticeLeader,
  reply,
  resetElectionTimer,
  timerElection,
  timerHeartbeat,
  trace,
  type RaftState,
} from './state.js';

/** Follows `leader` (or nobody) at `term` (≥ ours); a newer term clears the vote (Figure 2). */
export function becomeFollower(
  s: RaftState,
  ctx: StepContext,
  nowMs: number,
  term: number,
  leader: NodeId | null,
): void {
  const previousRole = s.role;
  if (term > s.term) {
    s.term = term;
    s.vote = null;
    s.hardStateDirty = true;
  }
  s.role = 'follower';
  s.leader = leader;
  s.leaderLinkDown = false;
  s.votes.clear();
  if (previousRole === 'leader') answerWaitersOnStepDown(s, ctx);
  if (previousRole !== 'follower') {
    ctx.emit({ kind: 'cancelTimer', timer: timerHeartbeat });
    resetElectionTimer(s, ctx, nowMs);
  }
  noticeLeader(s, ctx);
}

/**
 * The leader role's exit: everything it was waiting on is answered, since the outcome is now unknown
 * to it (a proposal may still commit under the next leader), and its leader-only state goes.
 *
 * This runs inside becomeFollower, before the timers and the leader notice, rather than as a reaction
 * at the end of the step: the agent reads these answers and the notice as `local` effects in order,
 * and moving the answers after the notice would change what it does next (and every trace with it).
 */
function answerWaitersOnStepDown(s: RaftState, ctx: StepContext): void {
  for (const [, pending] of s.pending)
    if (pending.target)
      fail(s, ctx, pending.target, 'stepDown', 'leadership lost before the entry committed; it may still commit');
  s.pending.clear();
  for (const read of s.reads) fail(s, ctx, read.target, 'stepDown', 'leadership lost before the read was confirmed');
  s.reads = [];
  if (s.membershipOp) {
    fail(s, ctx, s.membershipOp.replyTo, 'stepDown', 'leadership lost during the membership change');
    s.membershipOp = null;
  }
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

/** Thesis §9.6: a poll at term+1 that changes neither our term nor our vote. */
export function becomePreCandidate(s: RaftState, ctx: StepContext, nowMs: number): void {
  s.role = 'precandidate';
  s.leader = null;
  s.votes = new Set([s.id]);
  resetElectionTimer(s, ctx, nowMs);
  trace(ctx, { type: 'raft.preVote', node: s.id, term: s.term + 1 });
  noticeLeader(s, ctx);
}

/** §5.2: a new term, a vote for ourselves (persisted before the first RequestVote leaves, Figure 2). */
export function becomeCandidate(s: RaftState, ctx: StepContext, nowMs: number, transfer: boolean): void {
  s.role = 'candidate';
  s.term += 1;
  s.vote = s.id;
  s.hardStateDirty = true; // persisted by send() before the first RequestVote leaves (Figure 2)
  s.leader = null;
  s.votes = new Set([s.id]);
  resetElectionTimer(s, ctx, nowMs);
  trace(ctx, { type: 'raft.becameCandidate', node: s.id, term: s.term, transfer });
  noticeLeader(s, ctx);
}

/** §5.2: won the election; one Progress per other member, the heartbeat timer instead of the election timer. */
export function becomeLeader(s: RaftState, ctx: StepContext, nowMs: number): void {
  s.role = 'leader';
  s.leader = s.id;
  s.votes.clear();
  s.transfer = null;
  s.strangersReported.clear(); // a new leader reports a stranger again: it is the one to have it replaced
  s.progress.clear();
  for (const id of s.membership.voters) if (id !== s.id) s.progress.set(id, newProgress(s, nowMs));
  for (const id of s.membership.learners) if (id !== s.id) s.progress.set(id, newProgress(s, nowMs));
  s.selfDurableIndex = s.commitIndex;
  s.lastQuorumCheckMs = nowMs;
  ctx.emit({ kind: 'cancelTimer', timer: timerElection });
  armTimer(ctx, timerHeartbeat, s.config.heartbeatIntervalMs);
  s.heartbeatDueMs = nowMs + s.config.heartbeatIntervalMs;
  trace(ctx, { type: 'raft.becameLeader', node: s.id, term: s.term });
  noticeLeader(s, ctx);
}
