/**
 * Log replication (Raft §5.3): AppendEntries with batching, pipelining and flow control (a window of
 * inflightAppendsMax per follower, thesis §10.2.2), fast backtracking with conflict term/index hints
 * (Raft §5.3, last paragraphs), and the commit rule that only counts replicas of current-term entries
 * (Raft §5.4.2, Figure 8). Proposals and the leader's heartbeat live here too. A leaf over the state and
 * the log: it moves match, next and the commit index; step.ts reacts to a moved commit index.
 */
import { assert } from '../assert.js';
import { buggify } from '../buggify.js';
import type { NodeId, StepContext, StorageOp } from '../types.js';
import type { RaftRequest } from './api.js';
import { onConfigEntryAppended, rollbackMembership } from './configs.js';
import type { AppendEntries, AppendReply, Entry } from './messages.js';
import { sendSnapshot, startSnapshot } from './snapshot.js';
import {
  advanceMatch,
  fail,
  hardStateOp,
  persist,
  quorumSize,
  quorumValue,
  send,
  type Progress,
  timerCommitNotice,
  timerReplicate,
  type RaftState,
  type ReplyTarget,
} from './state.js';

/**
 * The leader's own match for commitment: only what it knows is durable. Its AppendEntries leave before
 * its own write of the entries is durable (thesis §10.2.1, SendEffect.early), so a follower's ack is no
 * witness of the leader's copy; the leader's held ack to itself (sendSelfAck) is.
 */
function selfMatch(s: RaftState): number {
  return s.selfDurableIndex;
}

/** What a voter is known to hold: the leader its durable log, a follower its acknowledged match. */
function matchOf(s: RaftState, id: NodeId): number {
  return id === s.id ? selfMatch(s) : (s.progress.get(id)?.match ?? 0);
}

/**
 * Appends entries on the leader and persists them; the leader acknowledges its own write to itself, an
 * ack that leaves only once the write is durable (ORDERING RULE) and then counts toward a commit.
 */
export function appendLocal(s: RaftState, ctx: StepContext, entries: readonly Entry[], selfAck = true): void {
  assert(s.role === 'leader', 'only a leader appends to its own log');
  for (const entry of entries) {
    s.log.append(entry);
    if (entry.type === 'config') onConfigEntryAppended(s, entry);
  }
  persist(s, ctx, [hardStateOp(s), { op: 'append', log: 'log', entries }]); // term first: an entry never outlives its term
  s.hardStateDirty = false;
  if (selfAck && s.membership.voters.includes(s.id)) sendSelfAck(s, ctx);
}

/** A message to ourselves that leaves only once our log is durable (ORDERING RULE): our own append ack. */
export function sendSelfAck(s: RaftState, ctx: StepContext): void {
  send(s, ctx, s.id, {
    type: 'appendReply',
    term: s.term,
    success: true,
    matchIndex: s.log.lastIndex,
    rejectIndex: 0,
    hintIndex: 0,
    hintTerm: 0,
    readSeq: s.readSeq,
  });
}

export function onPropose(
  s: RaftState,
  ctx: StepContext,
  nowMs: number,
  target: ReplyTarget,
  request: Extract<RaftRequest, { type: 'propose' }>,
): void {
  if (s.role !== 'leader') return fail(s, ctx, target, s.leader ? 'notLeader' : 'noLeader');
  if (s.transfer) return fail(s, ctx, target, 'busy', 'leadership transfer in progress');
  if (s.pending.size >= s.config.pendingProposalsMax) return fail(s, ctx, target, 'busy', 'too many proposals waiting');
  const session = request.session;
  if (
    session !== undefined &&
    (typeof session.clientId !== 'string' || !Number.isSafeInteger(session.seq) || session.seq < 1)
  ) {
    return fail(s, ctx, target, 'badRequest', 'session needs a string clientId and a positive integer seq');
  }
  const entry: Entry = session
    ? {
        term: s.term,
        index: s.log.lastIndex + 1,
        type: 'command',
        command: request.command,
        session: { clientId: session.clientId, seq: session.seq },
      }
    : { term: s.term, index: s.log.lastIndex + 1, type: 'command', command: request.command };
  appendLocal(s, ctx, [entry], false);
  s.pending.set(entry.index, { target, term: s.term });
  s.selfAckDue = true;
  scheduleReplication(s, ctx);
}

/**
 * Batching across client requests: the first proposal (or acknowledgement) arms the `replicate` timer
 * with no delay; the driver fires it after the inputs it already holds (the real driver: at the end of
 * this turn of the event loop), so every proposal of the batch leaves in one AppendEntries per follower
 * and one self-ack instead of one each (the followers persist and acknowledge once), and the commit
 * index that several acknowledgements moved reaches each follower in one message.
 */
export function scheduleReplication(s: RaftState, ctx: StepContext): void {
  if (s.replicationDue) return;
  s.replicationDue = true;
  ctx.emit({ kind: 'setTimer', timer: timerReplicate, afterMs: 0 });
}

/** The batch leaves: our own ack (held until the log is durable), then what each follower needs. */
export function onReplicateTimeout(s: RaftState, ctx: StepContext, nowMs: number): void {
  if (!s.replicationDue) return;
  s.replicationDue = false;
  if (s.role !== 'leader') return; // stepped down meanwhile: the next leader's no-op self-ack covers the log
  if (s.selfAckDue && s.membership.voters.includes(s.id)) sendSelfAck(s, ctx);
  s.selfAckDue = false;
  broadcastAppend(s, ctx, nowMs);
}

export function broadcastAppend(s: RaftState, ctx: StepContext, nowMs: number): void {
  for (const [id, p] of s.progress) sendAppend(s, ctx, nowMs, id, p, false);
}

/**
 * Sends what a follower needs, within its flow-control window. probe: one AppendEntries at a time
 * (a heartbeat resends it); replicate: pipelined batches while the window has room; snapshot: chunks.
 * A moved commit index alone waits for the next entries or the `commitNotice` timer unless `commitNow`
 * (holdCommitNotice); a heartbeat always carries it.
 */
export function sendAppend(
  s: RaftState,
  ctx: StepContext,
  nowMs: number,
  id: NodeId,
  p: Progress,
  heartbeat: boolean,
  commitNow = false,
): void {
  if (p.state === 'snapshot') return sendSnapshot(s, ctx, nowMs, id, p, heartbeat);
  if (p.next <= s.log.prevIndex) return startSnapshot(s, ctx, nowMs, id, p); // compacted away (Raft §7)
  const max = s.config.appendEntriesMax;
  const bytes = s.config.appendBytesMax;
  if (p.state === 'probe') {
    if (p.probeSentMs >= 0 && !heartbeat) return;
    const entries = p.next <= s.log.lastIndex ? s.log.slice(p.next, max, bytes) : [];
    sendAppendMessage(s, ctx, id, p, p.next - 1, entries);
    p.probeSentMs = nowMs;
    return;
  }
  for (let sent = 0; p.inflight.length < s.config.inflightAppendsMax && p.next <= s.log.lastIndex; sent++) {
    assert(sent <= s.config.inflightAppendsMax, 'pipelining loop is bounded by the window');
    const entries = s.log.slice(p.next, max > 1 && buggify(ctx, 'raft.append.short') ? 1 : max, bytes);
    sendAppendMessage(s, ctx, id, p, p.next - 1, entries);
    const last = entries[entries.length - 1]!.index;
    p.inflight.push({ index: last, sentMs: nowMs });
    p.next = last + 1;
  }
  if (heartbeat || (p.sentCommit < s.commitIndex && !holdCommitNotice(s, ctx, nowMs, p, commitNow))) {
    // An empty AppendEntries anchored at the match point: always consistent, carries the commit index
    // and the ReadIndex round, and does not take a window slot.
    const anchor = s.log.termAt(p.match) !== undefined ? p.match : p.next - 1;
    sendAppendMessage(s, ctx, id, p, anchor, []);
  }
}

/**
 * Whether an AppendEntries that would carry only a moved commit index waits (config.commitNoticeDelayMs,
 * hashicorp/raft's CommitTimeout): the next entries carry the commit anyway, and at low concurrency they
 * come soon (a closed-loop client's next write), so the notice and its ack would be two messages per
 * follower per commit for nothing. The follower's first held notice is timed (Progress.commitHeldMs) and
 * the `commitNotice` timer armed. Safety does not depend on when followers learn the commit (Figure 2:
 * they apply only what the leader committed).
 */
function holdCommitNotice(s: RaftState, ctx: StepContext, nowMs: number, p: Progress, commitNow: boolean): boolean {
  if (commitNow || s.config.commitNoticeDelayMs === 0) return false;
  if (p.commitHeldMs < 0) p.commitHeldMs = nowMs;
  if (!s.commitNoticeDue) armCommitNotice(s, ctx, commitNoticeDelayMsOf(s));
  return true;
}

/** The delay in force: every heartbeat carries the commit index, so a longer one would never be waited out. */
function commitNoticeDelayMsOf(s: RaftState): number {
  return Math.min(s.config.commitNoticeDelayMs, s.config.heartbeatIntervalMs);
}

function armCommitNotice(s: RaftState, ctx: StepContext, afterMs: number): void {
  assert(afterMs >= 1 && !s.commitNoticeDue, 'one commitNotice timer at a time, in the future');
  s.commitNoticeDue = true;
  ctx.emit({ kind: 'setTimer', timer: timerCommitNotice, afterMs });
}

/**
 * A follower whose commit notice has waited the whole delay gets it now; one whose wait began later
 * (its previous notice rode on an append since) is looked at again when its own delay runs out. So a
 * follower trails the leader's commit index by at most the delay, and a steady one-client load, whose
 * next append always comes first, sends no notice at all.
 */
export function onCommitNoticeTimeout(s: RaftState, ctx: StepContext, nowMs: number): void {
  if (!s.commitNoticeDue) return;
  s.commitNoticeDue = false;
  if (s.role !== 'leader') return; // stepped down meanwhile: the next leader's appends carry its commit index
  const delayMs = commitNoticeDelayMsOf(s);
  let nextDueMs = Infinity;
  for (const [id, p] of s.progress) {
    if (p.sentCommit >= s.commitIndex) continue;
    if (p.commitHeldMs >= 0 && nowMs - p.commitHeldMs < delayMs)
      nextDueMs = Math.min(nextDueMs, p.commitHeldMs + delayMs);
    else sendAppend(s, ctx, nowMs, id, p, false, true);
  }
  if (nextDueMs !== Infinity) armCommitNotice(s, ctx, Math.max(1, nextDueMs - nowMs));
}

function sendAppendMessage(
  s: RaftState,
  ctx: StepContext,
  id: NodeId,
  p: Progress,
  prevIndex: number,
  entries: Entry[],
): void {
  const prevTerm = s.log.termAt(prevIndex);
  if (prevTerm === undefined) assert(false, `append to ${id}: no term at prevIndex ${prevIndex}`);
  const message: AppendEntries = {
    type: 'append',
    term: s.term,
    prevIndex,
    prevTerm,
    entries,
    commit: s.commitIndex,
    readSeq: s.readSeq,
  };
  p.sentCommit = s.commitIndex;
  p.commitHeldMs = -1;
  // Early: replication runs in parallel with the leader's own write (selfMatch waits for that one).
  send(s, ctx, id, message, true);
}

// ───────────────────────────────────────────── follower ─────────────────────────────────────────────

/** Refuses an AppendEntries from an older term: the stale leader learns our term from it and steps down (§5.1). */
export function appendRefusal(s: RaftState, m: AppendEntries): AppendReply {
  return {
    type: 'appendReply',
    term: s.term,
    success: false,
    matchIndex: 0,
    rejectIndex: m.prevIndex,
    hintIndex: 0,
    hintTerm: 0,
    readSeq: m.readSeq,
  };
}

/**
 * AppendEntries from the leader of our term (step.ts settled the term and follows the sender): the
 * consistency check (§5.3), storing the entries, and the commit index (Figure 2). Returns the answer;
 * the caller applies what became committed first, then sends it.
 */
export function onAppendEntries(s: RaftState, ctx: StepContext, m: AppendEntries): AppendReply {
  let prevIndex = m.prevIndex;
  let entries = m.entries;
  if (prevIndex < s.log.prevIndex) {
    // Below our compaction point everything is committed, so it matches the leader's log (§5.4.3).
    const skip = s.log.prevIndex - prevIndex;
    if (skip >= entries.length) return appendAccepted(s, s.log.prevIndex, m);
    entries = entries.slice(skip);
    prevIndex = s.log.prevIndex;
  } else {
    const term = s.log.termAt(prevIndex);
    if (term === undefined) return { ...appendRefusal(s, m), hintIndex: s.log.lastIndex + 1 };
    if (term !== m.prevTerm)
      return { ...appendRefusal(s, m), hintIndex: s.log.firstIndexOfTermAt(prevIndex), hintTerm: term };
  }
  const lastNew = prevIndex + entries.length;
  storeEntries(s, ctx, entries);
  // Figure 2: commitIndex = min(leaderCommit, index of last new entry).
  const commit = Math.min(m.commit, lastNew);
  if (commit > s.commitIndex) s.commitIndex = commit;
  return appendAccepted(s, lastNew, m);
}

function appendAccepted(s: RaftState, matchIndex: number, m: AppendEntries): AppendReply {
  return {
    type: 'appendReply',
    term: s.term,
    success: true,
    matchIndex,
    rejectIndex: 0,
    hintIndex: 0,
    hintTerm: 0,
    readSeq: m.readSeq,
  };
}

/** §5.3: skip entries we have, cut the log at the first conflict, append the rest; persist it all. */
function storeEntries(s: RaftState, ctx: StepContext, entries: readonly Entry[]): void {
  let k = 0;
  for (; k < entries.length; k++) {
    const e = entries[k]!;
    const term = s.log.termAt(e.index);
    if (term === undefined) break;
    if (term !== e.term) {
      if (e.index <= s.commitIndex) {
        // Impossible in a correct Raft (committed entries never conflict); report, do not hide it.
        s.safetyFaults.push(`leader's entry ${e.index}@${e.term} conflicts with committed ${e.index}@${term}`);
      }
      const ops: StorageOp[] = [{ op: 'truncate', log: 'log', keepCount: e.index - s.durableFirstIndex }];
      assert(e.index - s.durableFirstIndex >= 0, 'a truncation stays inside the durable log');
      s.log.truncateAfter(e.index - 1);
      rollbackMembership(s);
      ctx.emit({ kind: 'persist', ops });
      break;
    }
  }
  if (k === entries.length) return;
  const fresh = entries.slice(k);
  for (const entry of fresh) {
    s.log.append(entry);
    if (entry.type === 'config') onConfigEntryAppended(s, entry);
  }
  persist(s, ctx, [hardStateOp(s), { op: 'append', log: 'log', entries: fresh }]); // term first: an entry never outlives its term
  s.hardStateDirty = false;
}

// ───────────────────────────────────────────── leader ─────────────────────────────────────────────

/**
 * What every reply to the leader (append or snapshot) does first, once step.ts settled its term (it is
 * ours, and we lead): the follower was heard from now (check-quorum) and its ReadIndex round counts.
 * Returns the follower's progress, or null for a node we do not track.
 */
export function progressForReply(
  s: RaftState,
  nowMs: number,
  from: NodeId,
  m: { readonly term: number; readonly readSeq: number },
): Progress | null {
  assert(s.role === 'leader' && m.term === s.term, 'replies reach the leader of their term only');
  const p = s.progress.get(from);
  if (!p) return null;
  p.lastAckMs = nowMs;
  // An echo of a round we have not started is no acknowledgement of ours (a reply about another life's round).
  if (m.readSeq > p.readSeq && m.readSeq <= s.readSeq) p.readSeq = m.readSeq;
  return p;
}

/** Our own append ack (a lone voter's, sent once the append was durable): true when it moved what we know durable. */
export function onSelfAck(s: RaftState, m: AppendReply): boolean {
  if (m.matchIndex <= s.selfDurableIndex) return false;
  s.selfDurableIndex = Math.min(m.matchIndex, s.log.lastIndex);
  return true;
}

/** A follower accepted: raise its match, and a probe that found the match point starts pipelining. */
export function onAppendAccepted(s: RaftState, p: Progress, m: AppendReply): void {
  advanceMatch(s, p, m.matchIndex);
  if (p.state === 'probe') {
    p.state = 'replicate';
    p.probeSentMs = -1;
    p.inflight = [];
    p.next = p.match + 1;
  }
}

/**
 * Whether a refusal says the follower's log ends below the match it acknowledged: our probe at its match
 * point was refused for a log that has no entry there. A correct follower never loses an acknowledged
 * entry; one that lost its disk (and kept its id: a data dir older than ids, or a disk that lied about
 * a sync) does, and ignoring the refusal as stale would leave it behind for as long as we lead.
 */
export function checkLogBelowMatch(p: Progress, m: AppendReply): boolean {
  return p.state === 'probe' && m.hintTerm === 0 && m.rejectIndex === p.match && m.hintIndex <= p.match;
}

/** Forget what the follower acknowledged and probe from the end of its log (etcd-io/raft's Progress reset). */
export function resetProgressAfterLoss(p: Progress, followerNextIndex: number): void {
  p.match = 0;
  p.next = Math.max(1, followerNextIndex);
  p.state = 'probe';
  p.inflight = [];
  p.probeSentMs = -1;
}

/** A follower refused: unless the refusal is stale, probe again from where its hints point. */
export function onAppendRefused(s: RaftState, p: Progress, m: AppendReply): void {
  // A refusal older than what we know matches, or not about our outstanding probe, is stale.
  const stale =
    m.rejectIndex <= p.match || (p.state === 'probe' && m.rejectIndex !== p.next - 1) || p.state === 'snapshot';
  if (stale) return;
  p.next = backtrackNext(s, p, m);
  p.state = 'probe';
  p.inflight = [];
  p.probeSentMs = -1;
}

/** Fast backtracking: jump over a whole conflicting term (or to the follower's end) in one round trip. */
function backtrackNext(s: RaftState, p: Progress, m: AppendReply): number {
  let next = m.hintIndex;
  if (m.hintTerm > 0) {
    const last = s.log.lastIndexOfTerm(m.hintTerm);
    if (last > 0) next = last + 1;
  }
  return Math.max(p.match + 1, Math.min(next, m.rejectIndex));
}

/**
 * Raft §5.4.2: a leader commits an index once a majority of voters store it AND its entry is of the
 * leader's current term; earlier-term entries commit only indirectly (Figure 8 shows why counting
 * their replicas is unsafe). `unsafeCommitPreviousTerm` is the test-only broken variant. This only
 * moves the commit index; step.ts reacts to it (apply, serve reads, maybe snapshot).
 */
export function maybeCommit(s: RaftState): void {
  if (s.role !== 'leader') return;
  const voters = s.membership.voters;
  if (voters.length === 0) return;
  // Most acknowledgements move nothing: unless a quorum has matched past the commit index, the quorum
  // index cannot be past it either, and quorumValue below is skipped.
  const quorum = quorumSize(voters.length);
  let ahead = 0;
  for (const id of voters) if (matchOf(s, id) > s.commitIndex) ahead++;
  if (ahead < quorum) return;
  const candidate = quorumValue(voters, matchOf, s);
  assert(candidate > s.commitIndex, 'a quorum matched past the commit index, so its quorum index is past it');
  if (s.log.termAt(candidate) !== s.term && !s.config.unsafeCommitPreviousTerm) return;
  s.commitIndex = candidate;
}

/**
 * The leader's heartbeat to every follower: an append in flight for too long was lost (a partition
 * cut the stream), so that follower falls back to probing from its match point; then each gets what
 * it needs, at least an empty AppendEntries carrying the commit index and the ReadIndex round.
 */
export function broadcastHeartbeat(s: RaftState, ctx: StepContext, nowMs: number): void {
  const stallMs = s.config.electionTimeoutMsMin;
  for (const [id, p] of s.progress) {
    if (p.state === 'replicate' && p.inflight.length > 0 && nowMs - p.inflight[0]!.sentMs > stallMs) {
      p.state = 'probe';
      p.inflight = [];
      p.next = p.match + 1;
      p.probeSentMs = -1;
    }
    sendAppend(s, ctx, nowMs, id, p, true);
  }
}
