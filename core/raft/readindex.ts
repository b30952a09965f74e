/**
 * Linearizable reads without writing to the log: ReadIndex (thesis §6.4). The leader
 *  1. has committed an entry of its current term (its no-op), so its commit index is at least that of
 *     any write completed before the read arrived;
 *  2. records readIndex = commitIndex;
 *  3. confirms it is still the leader with a round of heartbeats started after the read arrived
 *     (a quorum echoes a `readSeq` ≥ the read's round); with `readBatching`, reads that arrive while a
 *     round is in flight share the next round, started once that one is confirmed;
 *  4. answers with `fsm.query` once appliedIndex ≥ readIndex.
 * Lease reads (thesis §6.4.1, off by default) skip step 3 while a quorum acknowledged a round sent
 * less than electionTimeoutMsMin × (1 − clock drift bound) ago, and not once the leader has sent TimeoutNow
 * in its term (a transfer's target is elected without waiting out the lease: state.ts leaseVoidTerm).
 */
import type { NodeId, StepContext } from '../types.js';
import { buggify } from '../buggify.js';
import type { RaftRequest } from './api.js';
import { fail, quorumValue, reply, type RaftState, type ReplyTarget } from './state.js';
import { sendAppend } from './replication.js';

/** How many past rounds' send times are kept for lease reads. */
export const readRoundsKeptMax = 64;

export function onRead(
  s: RaftState,
  ctx: StepContext,
  nowMs: number,
  target: ReplyTarget,
  request: Extract<RaftRequest, { type: 'read' }>,
): void {
  if (s.role !== 'leader') return fail(s, ctx, target, s.leader ? 'notLeader' : 'noLeader');
  if (s.reads.length >= s.config.pendingReadsMax) return fail(s, ctx, target, 'busy', 'too many reads waiting');
  const committedInTerm = s.log.termAt(s.commitIndex) === s.term;
  if (s.config.leaseReads && committedInTerm && checkLease(s, nowMs) && !buggify(ctx, 'raft.lease.expire')) {
    s.reads.push({ target, query: request.query, readIndex: s.commitIndex, seq: 0 });
    serveReads(s, ctx, nowMs);
    return;
  }
  const readIndex = committedInTerm ? s.commitIndex : -1;
  if (s.config.readBatching && s.membership.voters.length > 1 && s.readSeq > confirmedSeq(s)) {
    // A round is in flight, and it left before this read arrived, so it cannot confirm it: the read
    // waits for the next round, which starts when this one is confirmed (onReadAcks) or at the next
    // heartbeat. Every read arriving meanwhile shares that round — one heartbeat and one ack per voter
    // for the batch instead of per read (etcd's read loop batches its ReadIndex requests likewise).
    s.reads.push({ target, query: request.query, readIndex, seq: s.readSeq + 1 });
    return;
  }
  startReadRound(s, nowMs);
  s.reads.push({ target, query: request.query, readIndex, seq: s.readSeq });
  if (s.membership.voters.length === 1) serveReads(s, ctx, nowMs);
  else sendReadRound(s, ctx, nowMs);
}

/** The heartbeats of a new ReadIndex round, one per voter. */
function sendReadRound(s: RaftState, ctx: StepContext, nowMs: number): void {
  for (const [id, p] of s.progress) if (s.membership.voters.includes(id)) sendAppend(s, ctx, nowMs, id, p, true);
}

/** Starts a new round: every AppendEntries / InstallSnapshot from now on carries it. */
export function startReadRound(s: RaftState, nowMs: number): void {
  s.readSeq += 1;
  s.readSeqSentMs.set(s.readSeq, nowMs);
  if (s.readSeqSentMs.size > readRoundsKeptMax) s.readSeqSentMs.delete(s.readSeq - readRoundsKeptMax);
}

/** The highest round a quorum of voters (us included) acknowledged. */
function confirmedSeq(s: RaftState): number {
  return quorumValue(s.membership.voters, readSeqOf, s);
}

function readSeqOf(s: RaftState, id: NodeId): number {
  return id === s.id ? s.readSeq : (s.progress.get(id)?.readSeq ?? 0);
}

function checkLease(s: RaftState, nowMs: number): boolean {
  if (s.leaseVoidTerm === s.term) return false; // TimeoutNow sent this term: another may lead within the lease
  const sentMs = s.readSeqSentMs.get(confirmedSeq(s));
  if (sentMs === undefined) return false;
  const leaseMs = s.config.electionTimeoutMsMin * (1 - s.config.clockDriftBoundPpm / 1e6);
  return nowMs >= sentMs && nowMs - sentMs < leaseMs;
}

/**
 * After acknowledgements: answers what they confirm, then starts the round that reads batched behind a
 * confirmed one wait for (their `seq` is one past the last round started).
 */
export function onReadAcks(s: RaftState, ctx: StepContext, nowMs: number): void {
  if (s.reads.length === 0) return;
  serveReads(s, ctx, nowMs);
  if (s.role !== 'leader' || s.reads.length === 0 || s.readSeq > confirmedSeq(s)) return;
  if (!s.reads.some((read) => read.seq > s.readSeq)) return;
  startReadRound(s, nowMs);
  sendReadRound(s, ctx, nowMs);
}

/** Answers every read whose round is confirmed and whose index is applied; assigns indexes once committed in term. */
export function serveReads(s: RaftState, ctx: StepContext, nowMs: number): void {
  if (s.role !== 'leader' || s.reads.length === 0) return;
  const committedInTerm = s.log.termAt(s.commitIndex) === s.term;
  const confirmed = confirmedSeq(s);
  const waiting = [];
  for (const read of s.reads) {
    if (read.readIndex < 0 && committedInTerm) read.readIndex = s.commitIndex;
    if (read.readIndex >= 0 && read.seq <= confirmed && s.appliedIndex >= read.readIndex) {
      reply(s, ctx, read.target, { ok: true, index: s.appliedIndex, result: s.fsm.query(read.query) });
    } else waiting.push(read);
  }
  s.reads = waiting;
  void nowMs;
}
