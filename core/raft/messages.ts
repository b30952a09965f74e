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
  /**
   * The server id (identity.ts) recorded for a member, by name: a member counts toward a quorum only
   * under this id, so a server that came back under its old name with a new id (its disk was wiped or
   * replaced) is a stranger until it is removed and added again (as Consul's raft server ids are node
   * ids). A member without an entry (a bootstrap configuration, a data dir from before ids existed) is
   * not checked until the leader records its id. Absent = no ids recorded (old entries load unchanged).
   */
  readonly ids?: Readonly<Record<NodeId, string>>;
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

/**
 * Every message carries its sender's server id (identity.ts), set by state.ts `send`. Optional on the
 * wire: a peer of an older version sends none, which matches only a member with no recorded id.
 */
interface FromServer {
  readonly sid?: string;
}

export interface RequestVote extends FromServer {
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

export interface VoteReply extends FromServer {
  readonly type: 'voteReply';
  /** Granted: the term that was asked for; refused: the voter's own term. */
  readonly term: number;
  readonly granted: boolean;
  readonly preVote: boolean;
}

export interface AppendEntries extends FromServer {
  readonly type: 'append';
  readonly term: number;
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  /** The leader's ReadIndex round (thesis §6.4); echoed in the reply. */
  readonly readSeq: number;
}

export interface AppendReply extends FromServer {
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

export interface InstallSnapshot extends FromServer {
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

export interface SnapshotReply extends FromServer {
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

export interface TimeoutNow extends FromServer {
  readonly type: 'timeoutNow';
  readonly term: number;
}

export type RaftMessage =
  RequestVote | VoteReply | AppendEntries | AppendReply | InstallSnapshot | SnapshotReply | TimeoutNow;

const messageTypes = new Set(['vote', 'voteReply', 'append', 'appendReply', 'snapshot', 'snapshotReply', 'timeoutNow']);
const entryTypes = new Set(['command', 'noop', 'config']);

/**
 * Most entries one AppendEntries may carry from the wire. Far above any configured batch
 * (`appendEntriesMax`), so a legitimate leader never reaches it; a forged one cannot make a follower
 * walk an unbounded array.
 */
export const wireEntriesMax = 65_536;

/**
 * How far past our own term a peer's term may be (2^32). A legitimate peer moves one term per
 * election, so it cannot get 2^32 terms ahead of a live member; a forged term near 2^53 would leave the
 * cluster unable to elect anyone (term + 1 is no longer a safe integer) once persisted.
 */
export const termJumpMax = 2 ** 32;

/**
 * Wire hygiene: the full shape and range check of a decoded message, before any of it is used or
 * persisted. Every number that becomes a term, an index, an offset or a length must be a safe
 * non-negative integer (≤ 2^53 − 1); terms inside a message may not exceed the message's own term;
 * entries must be numbered consecutively after prevIndex with non-decreasing terms. A message that
 * fails is a peer's garbage (or a stranger's forgery): the caller drops it, never asserts on it. The
 * jump rule against our own term is `checkTermJump` (it needs the state).
 */
export function checkMessage(value: unknown): value is RaftMessage {
  if (value === null || typeof value !== 'object') return false;
  const m = value as Record<string, unknown>;
  if (typeof m.type !== 'string' || !messageTypes.has(m.type)) return false;
  if (!isWireNumber(m.term)) return false;
  if (m.sid !== undefined && !isServerId(m.sid)) return false;
  const term = m.term;
  switch (m.type) {
    case 'vote':
      return isWireNumber(m.lastIndex) && isTermUpTo(m.lastTerm, term) && isBool(m.preVote) && isBool(m.transfer);
    case 'voteReply':
      return isBool(m.granted) && isBool(m.preVote);
    case 'append':
      return (
        isWireNumber(m.prevIndex) &&
        isTermUpTo(m.prevTerm, term) &&
        isWireNumber(m.commit) &&
        isWireNumber(m.readSeq) &&
        checkEntries(m.entries, m.prevIndex, m.prevTerm, term)
      );
    case 'appendReply':
      return (
        isBool(m.success) &&
        isWireNumber(m.matchIndex) &&
        isWireNumber(m.rejectIndex) &&
        isWireNumber(m.hintIndex) &&
        isTermUpTo(m.hintTerm, term) &&
        isWireNumber(m.readSeq)
      );
    case 'snapshot':
      return (
        isWireNumber(m.lastIndex) &&
        isTermUpTo(m.lastTerm, term) &&
        isWireNumber(m.offset) &&
        typeof m.data === 'string' &&
        isWireNumber(m.totalChars) &&
        m.offset + m.data.length <= m.totalChars &&
        isWireNumber(m.readSeq) &&
        checkMembership(m.membership)
      );
    case 'snapshotReply':
      return (
        isWireNumber(m.lastIndex) &&
        isWireNumber(m.nextOffset) &&
        isBool(m.gap) &&
        isBool(m.done) &&
        isWireNumber(m.readSeq)
      );
    case 'timeoutNow':
      return true;
  }
  return false;
}

/** The jump rule: a message whose term is more than `termJumpMax` past ours is dropped. */
export function checkTermJump(messageTerm: number, ourTerm: number): boolean {
  return messageTerm <= ourTerm + termJumpMax;
}

/** A number from the wire that may become a term, index, offset or length: 0 ≤ n ≤ 2^53 − 1, whole. */
export function isWireNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isTermUpTo(value: unknown, term: number): value is number {
  return isWireNumber(value) && value <= term;
}

function isBool(value: unknown): value is boolean {
  return typeof value === 'boolean';
}

function checkEntries(value: unknown, prevIndex: number, prevTerm: number, term: number): value is Entry[] {
  if (!Array.isArray(value) || value.length > wireEntriesMax) return false;
  if (prevIndex + value.length > Number.MAX_SAFE_INTEGER) return false;
  let lastTerm = prevTerm;
  for (let i = 0; i < value.length; i++) {
    const e = value[i] as Record<string, unknown> | null;
    if (e === null || typeof e !== 'object') return false;
    if (e.index !== prevIndex + 1 + i) return false;
    if (!isTermUpTo(e.term, term) || e.term < lastTerm) return false;
    lastTerm = e.term;
    if (typeof e.type !== 'string' || !entryTypes.has(e.type)) return false;
    if (e.type === 'config' && !checkMembership(e.config)) return false;
    if (e.session !== undefined && e.session !== null) {
      const session = e.session as Record<string, unknown>;
      if (typeof session !== 'object' || typeof session.clientId !== 'string' || !isWireNumber(session.seq))
        return false;
    }
  }
  return true;
}

/** Longest server id accepted from the wire (ours are 36-character UUIDs). */
export const serverIdCharsMax = 64;

export function isServerId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= serverIdCharsMax;
}

export function checkMembership(value: unknown): value is Membership {
  if (value === null || typeof value !== 'object') return false;
  const m = value as Record<string, unknown>;
  if (!checkNames(m.voters) || !checkNames(m.learners)) return false;
  if (m.ids === undefined) return true;
  if (m.ids === null || typeof m.ids !== 'object' || Array.isArray(m.ids)) return false;
  // Every own enumerable value (what Object.values lists), without the array: every snapshot chunk
  // and config entry carries a membership, and this runs on each of them.
  const ids = m.ids as Record<string, unknown>;
  for (const name in ids) if (hasOwn.call(ids, name) && !isServerId(ids[name])) return false;
  return true;
}

const hasOwn = Object.prototype.hasOwnProperty;

/** A list of node names: an array of strings. */
function checkNames(list: unknown): boolean {
  if (!Array.isArray(list)) return false;
  // A hole is skipped, as every() skips it.
  for (let i = 0; i < list.length; i++) if (typeof list[i] !== 'string' && i in list) return false;
  return true;
}
