/**
 * Leadership transfer (thesis §3.10): the leader brings the target's log up to date, then sends it
 * TimeoutNow, which makes it campaign at once (its RequestVotes override the disregard rule). Proposals
 * are refused meanwhile; the transfer gives up after two maximum election timeouts. Once TimeoutNow has
 * left, the leader reads on a lease no more for the rest of its term (state.ts leaseVoidTerm).
 */
import type { StepContext } from '../types.js';
import type { RaftRequest } from './api.js';
import type { TimeoutNow } from './messages.js';
import { sendAppend } from './replication.js';
import { fail, isVoter, reply, send, trace, type RaftState, type ReplyTarget } from './state.js';

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
  trace(ctx, { type: 'raft.transferStarted', node: s.id, to, term: s.term });
  maybeSendTimeoutNow(s, ctx, nowMs);
}

/** Once the target's log matches ours, tell it to start an election now (§3.10); until then, replicate to it. */
export function maybeSendTimeoutNow(s: RaftState, ctx: StepContext, nowMs: number): void {
  if (!s.transfer || s.role !== 'leader') return;
  const p = s.progress.get(s.transfer.target);
  if (!p) {
    if (s.transfer.replyTo) fail(s, ctx, s.transfer.replyTo, 'badRequest', 'transfer target left the configuration');
    s.transfer = null;
    return;
  }
  if (p.match === s.log.lastIndex) {
    s.leaseVoidTerm = s.term; // the target may win within our lease now (state.ts leaseVoidTerm)
    send(s, ctx, s.transfer.target, { type: 'timeoutNow', term: s.term } satisfies TimeoutNow);
  } else sendAppend(s, ctx, nowMs, s.transfer.target, p, false);
}

export function checkTransferDeadline(s: RaftState, ctx: StepContext, nowMs: number): void {
  if (!s.transfer || nowMs < s.transfer.deadlineMs) return;
  trace(ctx, { type: 'raft.transferAbandoned', node: s.id, to: s.transfer.target });
  if (s.transfer.replyTo) fail(s, ctx, s.transfer.replyTo, 'timeout', 'the target did not take over in time');
  s.transfer = null;
}
