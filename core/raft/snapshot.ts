/**
 * Snapshots and log compaction (Raft §7, thesis §5): every snapshotThresholdEntries applied entries a
 * node snapshots its FSM and session table and drops its log up to the snapshot (keeping a few
 * trailing entries). A leader whose follower needs compacted entries sends InstallSnapshot in chunks
 * by offset; a lost chunk is detected by the follower (offset gap) or by the leader (no reply within
 * half an election timeout) and the transfer resumes from the last acknowledged offset.
 */
import { assert } from '../assert.js';
import { buggify } from '../buggify.js';
import type { NodeId, StepContext, StorageOp } from '../types.js';
import { decodeSnapshotData, encodeSnapshotData } from './codec.js';
import { membershipAt, rollbackMembership } from './configs.js';
import type { InstallSnapshot, SnapshotReply } from './messages.js';
import { sessionsFromData, sessionsToData } from './sessions.js';
import {
  advanceMatch,
  hardStateOp,
  persist,
  send,
  trace,
  type Progress,
  type RaftState,
  type Snapshot,
} from './state.js';

/** The durable 'snapshot' record: the snapshot plus the log's compaction point at the time. */
export interface SnapshotRecord extends Snapshot {
  readonly logPrevIndex: number;
  readonly logPrevTerm: number;
}

export function snapshotRecordOp(s: RaftState): StorageOp {
  assert(s.snapshot !== null, 'a snapshot record needs a snapshot');
  const record: SnapshotRecord = { ...s.snapshot, logPrevIndex: s.log.prevIndex, logPrevTerm: s.log.prevTerm };
  return { op: 'put', key: 'snapshot', value: record };
}

export function maybeTakeSnapshot(s: RaftState, ctx: StepContext): void {
  const base = s.snapshot?.lastIndex ?? 0;
  if (s.appliedIndex - base < s.config.snapshotThresholdEntries) {
    if (s.appliedIndex <= base || !buggify(ctx, 'raft.snapshot.early')) return;
  }
  const lastIndex = s.appliedIndex;
  const lastTerm = s.log.termAt(lastIndex);
  if (lastTerm === undefined) assert(false, `applied entry ${lastIndex} has no term`);
  const data = encodeSnapshotData({ fsm: s.fsm.snapshot(), sessions: sessionsToData(s) });
  s.snapshot = { lastIndex, lastTerm, membership: membershipAt(s, lastIndex), data };
  const compactTo = Math.max(s.log.prevIndex, lastIndex - s.config.snapshotTrailingEntries);
  const ops: StorageOp[] = [];
  if (compactTo > s.log.prevIndex) {
    s.log.compactTo(compactTo, s.log.termAt(compactTo)!);
  }
  s.snapshotMembership = membershipAt(s, lastIndex);
  s.configs = s.configs.filter((c) => c.index > lastIndex);
  ops.push(snapshotRecordOp(s)); // the snapshot is durable before the log entries it replaces go
  const dropCount = s.log.prevIndex + 1 - s.durableFirstIndex;
  if (dropCount > 0) {
    ops.push({ op: 'dropPrefix', log: 'log', dropCount });
    s.durableFirstIndex += dropCount;
  }
  persist(s, ctx, ops);
  trace(ctx, { type: 'raft.snapshotTaken', node: s.id, index: lastIndex, chars: data.length });
}

// ───────────────────────────────────────────── leader side ─────────────────────────────────────────────

export function startSnapshot(s: RaftState, ctx: StepContext, nowMs: number, id: NodeId, p: Progress): void {
  assert(s.snapshot !== null, 'a compacted log implies a snapshot');
  p.state = 'snapshot';
  p.inflight = [];
  p.probeSentMs = -1;
  p.snap = { snapshot: s.snapshot, acked: 0, sent: 0, lastReplyMs: nowMs, rewoundTo: -1 };
  trace(ctx, { type: 'raft.snapshotSending', node: s.id, to: id, index: s.snapshot.lastIndex });
  sendSnapshot(s, ctx, nowMs, id, p, false);
}

/** Sends chunks within the window; on a heartbeat with no reply for a while, resumes from the acked offset. */
export function sendSnapshot(
  s: RaftState,
  ctx: StepContext,
  nowMs: number,
  id: NodeId,
  p: Progress,
  heartbeat: boolean,
): void {
  const snap = p.snap;
  assert(snap !== null, 'snapshot state has a snapshot');
  if (heartbeat && nowMs - snap.lastReplyMs >= s.config.electionTimeoutMsMin / 2) {
    // Presumed lost. A newer snapshot replaces the stale one (the follower restarts at offset 0);
    // otherwise resume from what the follower confirmed.
    if (s.snapshot && s.snapshot.lastIndex > snap.snapshot.lastIndex) {
      p.snap = { snapshot: s.snapshot, acked: 0, sent: 0, lastReplyMs: nowMs, rewoundTo: -1 };
      return sendSnapshot(s, ctx, nowMs, id, p, false);
    }
    snap.sent = snap.acked;
    snap.rewoundTo = -1;
    snap.lastReplyMs = nowMs;
  }
  const chunk = s.config.snapshotChunkBytes;
  const total = snap.snapshot.data.length;
  const window = chunk * s.config.inflightAppendsMax;
  for (let n = 0; (snap.sent < total || (total === 0 && snap.sent === 0)) && snap.sent - snap.acked < window; n++) {
    assert(n <= s.config.inflightAppendsMax, 'chunk loop bounded by the window');
    const message: InstallSnapshot = {
      type: 'snapshot',
      term: s.term,
      lastIndex: snap.snapshot.lastIndex,
      lastTerm: snap.snapshot.lastTerm,
      membership: snap.snapshot.membership,
      offset: snap.sent,
      data: snap.snapshot.data.slice(snap.sent, snap.sent + chunk),
      totalChars: total,
      readSeq: s.readSeq,
    };
    send(s, ctx, id, message);
    snap.sent = Math.min(total, snap.sent + chunk);
    if (total === 0) break;
  }
}

/**
 * What a leader learns from a follower's SnapshotReply (its term already settled, its progress found):
 * 'installed' when the follower holds the snapshot (the caller may commit), 'repeatedGap' when the reply
 * reports a gap we already resumed from (nothing to send), 'progress' otherwise.
 */
export function onSnapshotProgress(
  s: RaftState,
  ctx: StepContext,
  nowMs: number,
  from: NodeId,
  p: Progress,
  m: SnapshotReply,
): 'installed' | 'progress' | 'repeatedGap' {
  if (m.done) {
    advanceMatch(s, p, m.lastIndex);
    if (p.state === 'snapshot') {
      p.state = 'probe';
      p.snap = null;
      p.probeSentMs = -1;
      p.next = p.match + 1;
      trace(ctx, { type: 'raft.snapshotInstalledBy', node: s.id, follower: from, index: m.lastIndex });
    }
    return 'installed';
  }
  if (p.state !== 'snapshot' || !p.snap || m.lastIndex !== p.snap.snapshot.lastIndex) return 'progress';
  const snap = p.snap;
  if (m.nextOffset > snap.acked) {
    snap.acked = m.nextOffset;
    snap.lastReplyMs = nowMs; // progress; a transfer that makes none is resumed by the heartbeat
    // A late ack from before a rewind can report more than we have sent since: the follower holds
    // it, so sending resumes after it (else acked > sent breaks the chunk window's bound).
    if (snap.sent < snap.acked) snap.sent = snap.acked;
  }
  if (m.gap) {
    // The follower misses the chunk at nextOffset (lost, or it restarted and lost its partial copy):
    // it is the authority on what it holds, so resume there — once per offset, or every chunk in
    // flight would answer with a gap and each answer would resend the window (a message storm).
    if (snap.rewoundTo === m.nextOffset) return 'repeatedGap';
    snap.rewoundTo = m.nextOffset;
    snap.acked = m.nextOffset;
    snap.sent = m.nextOffset;
  }
  return 'progress';
}

// ───────────────────────────────────────────── follower side ─────────────────────────────────────────────

/** Bound on a snapshot being received (characters), so a peer cannot make us buffer without limit. */
export const incomingSnapshotCharsMax = 1 << 30;

/** The follower's answer to a chunk: how far it holds the snapshot, whether it installed it, whether it saw a gap. */
export function snapshotAnswer(
  s: RaftState,
  m: InstallSnapshot,
  nextOffset: number,
  done: boolean,
  gap: boolean,
): SnapshotReply {
  return { type: 'snapshotReply', term: s.term, lastIndex: m.lastIndex, nextOffset, done, gap, readSeq: m.readSeq };
}

/**
 * InstallSnapshot from the leader of our term (step.ts settled the term and follows the sender): takes
 * the chunk, installs the snapshot once whole, and returns the answer (null: a snapshot too large to
 * buffer gets none). The caller sends the answer after its reactions.
 */
export function onInstallSnapshot(
  s: RaftState,
  ctx: StepContext,
  from: NodeId,
  m: InstallSnapshot,
): SnapshotReply | null {
  const answer = (nextOffset: number, done: boolean, gap: boolean): SnapshotReply =>
    snapshotAnswer(s, m, nextOffset, done, gap);
  if (m.lastIndex <= s.commitIndex) return answer(m.totalChars, true, false); // we already have all of it
  if (m.totalChars > incomingSnapshotCharsMax) return null;
  const inc = s.incoming;
  if (!inc || inc.lastIndex !== m.lastIndex || inc.lastTerm !== m.lastTerm || inc.totalChars !== m.totalChars) {
    if (m.offset !== 0) return answer(0, false, true);
    s.incoming = {
      term: m.term,
      lastIndex: m.lastIndex,
      lastTerm: m.lastTerm,
      membership: m.membership,
      chunks: [],
      received: 0,
      totalChars: m.totalChars,
    };
  }
  const cur = s.incoming!;
  if (m.offset !== cur.received) return answer(cur.received, false, m.offset > cur.received);
  cur.chunks.push(m.data);
  cur.received += m.data.length;
  if (cur.received < cur.totalChars) return answer(cur.received, false, false);
  const snapshot: Snapshot = {
    lastIndex: cur.lastIndex,
    lastTerm: cur.lastTerm,
    membership: cur.membership,
    data: cur.chunks.join(''),
  };
  s.incoming = null;
  installSnapshot(s, ctx, snapshot);
  trace(ctx, { type: 'raft.snapshotInstalled', node: s.id, from, index: snapshot.lastIndex });
  return answer(cur.totalChars, true, false);
}

/** Replaces the FSM with the snapshot's and compacts (or discards) the log (Raft §7, Figure 13 steps 6–8). */
export function installSnapshot(s: RaftState, ctx: StepContext, snap: Snapshot): void {
  assert(snap.lastIndex > s.commitIndex, 'a snapshot installs only beyond the commit index');
  restoreFsm(s, snap);
  const ops: StorageOp[] = [];
  if (s.log.termAt(snap.lastIndex) === snap.lastTerm) {
    // Our log continues past the snapshot with the same history: keep the suffix (Figure 13 step 6).
    s.log.compactTo(snap.lastIndex, snap.lastTerm);
  } else {
    s.log.truncateAfter(s.log.prevIndex);
    s.log.compactTo(snap.lastIndex, snap.lastTerm);
    ops.push({ op: 'truncate', log: 'log', keepCount: 0 });
    s.durableFirstIndex = snap.lastIndex + 1;
  }
  s.snapshot = snap;
  s.snapshotMembership = snap.membership;
  s.configs = s.configs.filter((c) => c.index > snap.lastIndex && c.index <= s.log.lastIndex);
  rollbackMembership(s);
  s.commitIndex = snap.lastIndex;
  s.appliedIndex = snap.lastIndex;
  ops.unshift(snapshotRecordOp(s)); // first: the snapshot is durable before the entries it replaces go
  const dropCount = s.log.prevIndex + 1 - s.durableFirstIndex;
  if (dropCount > 0) {
    ops.push({ op: 'dropPrefix', log: 'log', dropCount });
    s.durableFirstIndex += dropCount;
  }
  ops.push(hardStateOp(s));
  s.hardStateDirty = false;
  persist(s, ctx, ops);
}

export function restoreFsm(s: RaftState, snap: Snapshot): void {
  const decoded = decodeSnapshotData(snap.data) as { fsm: unknown; sessions: unknown };
  s.fsm.restore(decoded.fsm);
  s.sessions = sessionsFromData(decoded.sessions);
}
