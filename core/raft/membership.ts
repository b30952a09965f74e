/**
 * Membership changes one server at a time (thesis §4.1): a configuration entry takes effect on each
 * server as soon as it is in its log (committed or not), and a leader starts another change only
 * after the previous one committed and after it committed an entry of its own term (the fix to the
 * single-server change bug, raft-dev 2015, thesis errata). New voters first join as non-voting
 * learners and are promoted once caught up (thesis §4.2.1, as Consul's autopilot does). A leader that
 * removes itself steps down once the change commits and hands over with TimeoutNow (§4.2.2, §3.10).
 * How a configuration entry takes effect in the log lives in configs.ts; the step-down in step.ts.
 */
import type { NodeId, StepContext } from '../types.js';
import type { RaftRequest } from './api.js';
import type { Entry, Membership } from './messages.js';
import { appendLocal, broadcastAppend } from './replication.js';
import { checkIdsMissing, idsFor } from './identity.js';
import { fail, reply, send, trace, type RaftState, type ReplyTarget } from './state.js';

function checkChangeAllowed(s: RaftState): string | null {
  if (s.membershipOp) return 'a membership change is in progress';
  if (s.membershipIndex > s.commitIndex) return 'the previous membership change has not committed yet';
  if (s.log.termAt(s.commitIndex) !== s.term) return 'this leader has not committed an entry of its term yet';
  if (s.transfer) return 'leadership transfer in progress';
  return null;
}

/**
 * Appends a configuration entry for these voters and learners. It records every member's server id we
 * know (identity.ts idsFor): the ids on record, ours, and the ids a new member's messages carried.
 */
function appendConfig(
  s: RaftState,
  ctx: StepContext,
  nowMs: number,
  members: { readonly voters: readonly NodeId[]; readonly learners: readonly NodeId[] },
): number {
  const ids = idsFor(s, [...members.voters, ...members.learners]);
  const membership: Membership = { voters: members.voters, learners: members.learners, ids };
  const entry: Entry = { term: s.term, index: s.log.lastIndex + 1, type: 'config', config: membership };
  appendLocal(s, ctx, [entry]);
  for (const p of s.progress.values()) if (p.lastAckMs === 0) p.lastAckMs = nowMs;
  broadcastAppend(s, ctx, nowMs);
  return entry.index;
}

export function onAddServer(
  s: RaftState,
  ctx: StepContext,
  nowMs: number,
  target: ReplyTarget,
  request: Extract<RaftRequest, { type: 'addServer' }>,
): void {
  if (s.role !== 'leader') return fail(s, ctx, target, s.leader ? 'notLeader' : 'noLeader');
  if (typeof request.id !== 'string' || request.id === '')
    return fail(s, ctx, target, 'badRequest', 'addServer needs an id');
  const { voters, learners } = s.membership;
  const id = request.id;
  if (voters.includes(id)) {
    if (request.voter)
      return reply(s, ctx, target, { ok: true, index: s.membershipIndex, result: { already: 'voter' } });
    return fail(s, ctx, target, 'badRequest', `${id} is a voter; remove it before adding it as a learner`);
  }
  if (learners.includes(id) && !request.voter)
    return reply(s, ctx, target, { ok: true, index: s.membershipIndex, result: { already: 'learner' } });
  const problem = checkChangeAllowed(s);
  if (problem) return fail(s, ctx, target, 'busy', problem);
  if (learners.includes(id)) {
    s.membershipOp = {
      id,
      replyTo: target,
      learnerIndex: s.membershipIndex,
      deadlineMs: nowMs + s.config.catchUpMsMax,
    };
    checkMembershipProgress(s, ctx, nowMs);
    return;
  }
  const index = appendConfig(s, ctx, nowMs, { voters, learners: [...learners, id] });
  progressOf(s, id, nowMs);
  trace(ctx, { type: 'raft.learnerAdded', node: s.id, id, index });
  if (request.voter)
    s.membershipOp = { id, replyTo: target, learnerIndex: index, deadlineMs: nowMs + s.config.catchUpMsMax };
  else s.pending.set(index, { target, term: s.term });
}

function progressOf(s: RaftState, id: NodeId, nowMs: number): void {
  const p = s.progress.get(id);
  if (p) p.lastAckMs = nowMs;
}

export function onRemoveServer(
  s: RaftState,
  ctx: StepContext,
  nowMs: number,
  target: ReplyTarget,
  request: Extract<RaftRequest, { type: 'removeServer' }>,
): void {
  if (s.role !== 'leader') return fail(s, ctx, target, s.leader ? 'notLeader' : 'noLeader');
  const { voters, learners } = s.membership;
  const id = request.id;
  if (!voters.includes(id) && !learners.includes(id))
    return reply(s, ctx, target, { ok: true, index: s.membershipIndex, result: { already: 'absent' } });
  if (voters.length === 1 && voters[0] === id)
    return fail(s, ctx, target, 'badRequest', 'cannot remove the last voter');
  const problem = checkChangeAllowed(s);
  if (problem) return fail(s, ctx, target, 'busy', problem);
  const index = appendConfig(s, ctx, nowMs, {
    voters: voters.filter((v) => v !== id),
    learners: learners.filter((v) => v !== id),
  });
  trace(ctx, { type: 'raft.serverRemoved', node: s.id, id, index });
  s.pending.set(index, { target, term: s.term });
}

/**
 * The leader records the server ids it knows of members that have none on record (a bootstrap
 * configuration, a data dir from before ids existed, a member added before we heard from it): the same
 * members, their ids added. It changes no quorum by name, only which server may stand for a name, so a
 * new leader does it at once, behind its no-op (`atElection`); later, one such entry at a time.
 * Returns true when it appended one (and sent it).
 */
export function maybeRecordIds(s: RaftState, ctx: StepContext, nowMs: number, atElection: boolean): boolean {
  if (s.role !== 'leader' || (!atElection && s.membershipIndex > s.commitIndex) || !checkIdsMissing(s)) return false;
  const before = s.membership.ids ?? {};
  const index = appendConfig(s, ctx, nowMs, s.membership);
  const added = Object.entries(s.membership.ids ?? {}).filter(([name]) => before[name] === undefined);
  trace(ctx, { type: 'raft.idsRecorded', node: s.id, index, ids: Object.fromEntries(added) });
  return true;
}

/** Promotes a caught-up learner (its match reached our commit index), or times the request out; records missing ids. */
export function checkMembershipProgress(s: RaftState, ctx: StepContext, nowMs: number): void {
  const op = s.membershipOp;
  if (!op && s.role === 'leader' && s.transfer === null) maybeRecordIds(s, ctx, nowMs, false);
  if (!op || s.role !== 'leader') return;
  if (nowMs >= op.deadlineMs) {
    s.membershipOp = null;
    trace(ctx, { type: 'raft.promotionAbandoned', node: s.id, id: op.id });
    return fail(s, ctx, op.replyTo, 'timeout', `${op.id} did not catch up within ${s.config.catchUpMsMax}ms`);
  }
  const p = s.progress.get(op.id);
  if (!p || s.commitIndex < op.learnerIndex || p.match < s.commitIndex || s.membershipIndex > s.commitIndex) return;
  if (!s.membership.learners.includes(op.id)) {
    s.membershipOp = null;
    return fail(s, ctx, op.replyTo, 'stepDown', `${op.id} is no longer a learner`);
  }
  s.membershipOp = null;
  const { voters, learners } = s.membership;
  const index = appendConfig(s, ctx, nowMs, {
    voters: [...voters, op.id],
    learners: learners.filter((v) => v !== op.id),
  });
  trace(ctx, { type: 'raft.promoted', node: s.id, id: op.id, index });
  s.pending.set(index, { target: op.replyTo, term: s.term });
}

/** After a config entry applies: whether this leader is no longer among the voters and must step down (§4.2.2). */
export function checkRemovedLeader(s: RaftState, entry: Entry): boolean {
  return (
    entry.type === 'config' &&
    s.role === 'leader' &&
    entry.index === s.membershipIndex &&
    !s.membership.voters.includes(s.id)
  );
}

/** A removed leader hands over to its most up-to-date voter with TimeoutNow (§3.10) before it steps down. */
export function handOverLeadership(s: RaftState, ctx: StepContext): void {
  let best: NodeId | null = null;
  let bestMatch = -1;
  for (const [id, p] of s.progress)
    if (s.membership.voters.includes(id) && p.match > bestMatch) ((best = id), (bestMatch = p.match));
  trace(ctx, { type: 'raft.steppedDownRemoved', node: s.id, term: s.term });
  if (best !== null) send(s, ctx, best, { type: 'timeoutNow', term: s.term });
}
