/**
 * Raft's wire messages (Raft paper Figure 2, thesis Figure 3.1, plus pre-vote §9.6, TimeoutNow §3.10
 * and chunked InstallSnapshot §5.3). Plain data only: the simulator may encode them with msgpackr.
 * The `type` strings are a wire enum: append-only.
 */
import type { NodeId } from '../types.js';

/** Cluster membership as stored in a configuration entry and in a snapshot (thesis §4.1). */
export interface Membership {
  readonly voters: readonly NodeId[];
  /** Non-voting members (learners): receive the log, do not vote, do not count for commitment. */
  readonly learners: readonly NodeId[];
}

export type EntryType = 'command' | 'noop' | 'config';

/** One log entry. Immutable once created (the simulator may store it by reference). */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** The client's command (type 'command'). */
  readonly command?: unknown;
  /** The client session that proposed it, for exactly-once application (thesis §6.3). */
  readonly session?: { readonly clientId: string; readonly seq: number };
  /** The new membership (type 'config'). */
  readonly config?: Membership;
}

export interface RequestVote {
  readonly type: 'vote';
  /** The term the candidate is (pre-vote: would be) in. */
  readonly term: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Pre-vote (thesis §9.6): a poll that changes nobody's term or vote. */
  readonly preVote: boolean;
  /** Sent because of TimeoutNow: overrides the disregard rule (thesis §3.10, §4.2.3). */
  readonly transfer: boolean;
}

export interface VoteReply {
  readonly type: 'voteReply';
  /** Granted: the term that was asked for; refused: the voter's own term. */
  readonly term: number;
  readonly granted: boolean;
  readonly preVote: boolean;
}

export interface AppendEntries {
  readonly type: 'append';
  readonly term: number;
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  /** The leader's ReadIndex round (thesis §6.4); echoed in the reply. */
  readonly readSeq: number;
}

export interface AppendReply {
  readonly type: 'appendReply';
  readonly term: number;
  readonly success: boolean;
  /** Success: the last index this message proved to match the leader's log. */
  readonly matchIndex: number;
  /** Failure: the prevIndex that did not match. */
  readonly rejectIndex: number;
  /** Failure hint (fast backtracking): the first index of `hintTerm` in the follower's log, or its lastIndex+1. */
  readonly hintIndex: number;
  /** Failure hint: the follower's term at rejectIndex, 0 when it has no entry there. */
  readonly hintTerm: number;
  readonly readSeq: number;
}

export interface InstallSnapshot {
  readonly type: 'snapshot';
  readonly term: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly membership: Membership;
  /** Position of `data` in the encoded snapshot (characters). */
  readonly offset: number;
  readonly data: string;
  readonly totalChars: number;
  readonly readSeq: number;
}

export interface SnapshotReply {
  readonly type: 'snapshotReply';
  readonly term: number;
  readonly lastIndex: number;
  /** The next offset the follower expects (resume point after a lost chunk). */
  readonly nextOffset: number;
  /** The chunk was refused because an earlier one is missing: the leader resends from nextOffset. */
  readonly gap: boolean;
  /** The follower installed the snapshot (or already had everything in it). */
  readonly done: boolean;
  readonly readSeq: number;
}

export interface TimeoutNow {
  readonly type: 'timeoutNow';
  readonly term: number;
}

export type RaftMessage =
  RequestVote | VoteReply | AppendEntries | AppendReply | InstallSnapshot | SnapshotReply | TimeoutNow;

const messageTypes = new Set(['vote', 'voteReply', 'append', 'appendReply', 'snapshot', 'snapshotReply', 'timeoutNow']);

/** Cheap shape check of a decoded message; a peer's garbage is dropped, never asserted on. */
export function checkMessage(value: unknown): value is RaftMessage {
  if (value === null || typeof value !== 'object') return false;
  const m = value as { type?: unknown; term?: unknown };
  if (typeof m.type !== 'string' || !messageTypes.has(m.type)) return false;
  if (typeof m.term !== 'number' || !Number.isSafeInteger(m.term) || m.term < 0) return false;
  if (m.type === 'append') {
    const a = value as AppendEntries;
    return (
      Array.isArray(a.entries) &&
      Number.isSafeInteger(a.prevIndex) &&
      a.prevIndex >= 0 &&
      Number.isSafeInteger(a.commit)
    );
  }
  if (m.type === 'snapshot') {
    const s = value as InstallSnapshot;
    return (
      typeof s.data === 'string' && Number.isSafeInteger(s.offset) && s.offset >= 0 && Number.isSafeInteger(s.lastIndex)
    );
  }
  return true;
}
