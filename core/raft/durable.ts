/**
 * Raft's durable layout and its loader.
 *
 *   record 'hardState'  { term, vote, commit? }  — Raft Figure 2's persistent state; commit is a hint
 *                                                  (it lets a restarted node re-apply without waiting)
 *   log    'log'        Entry { term, index, type, command?, session?, config? } — position 0 holds
 *                                                  index `durableFirstIndex` (positions shift on dropPrefix)
 *   record 'snapshot'   SnapshotRecord { lastIndex, lastTerm, membership, data, logPrevIndex, logPrevTerm }
 *   record 'identity'   { id } — this server's id (identity.ts; absent in data dirs of older versions)
 *   Memberships (config entries, snapshots) may carry `ids` by name; older ones have none and load as is.
 *
 * Loading: a torn tail (a crash mid-append; nothing in it was acknowledged) is accepted and cut off;
 * a checksum mismatch before the tail, or a log that does not fit together, is refused with a
 * RaftLoadError naming what is wrong — never silently dropped.
 */
import type { DurableState, StorageOp } from '../types.js';
import { checkMembership, type Entry } from './messages.js';
import type { SnapshotRecord } from './snapshot.js';

export class RaftLoadError extends Error {
  constructor(
    /** What is corrupt: 'hardState', 'snapshot' or 'log'. */
    readonly what: string,
    readonly detail: string,
  ) {
    super(`raft refused to start: ${what} is corrupt: ${detail}`);
    this.name = 'RaftLoadError';
  }
}

export interface LoadedDurable {
  readonly term: number;
  readonly vote: string | null;
  readonly commit: number;
  readonly snapshot: SnapshotRecord | null;
  /** Entries after the compaction point, contiguous. */
  readonly entries: readonly Entry[];
  readonly logPrevIndex: number;
  readonly logPrevTerm: number;
  readonly durableFirstIndex: number;
  /** Ops to persist at start (cut a torn tail or a stale suffix off the durable log). */
  readonly startOps: StorageOp[];
  readonly notes: string[];
}

function isInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

export function loadDurable(durable: DurableState): LoadedDurable {
  const notes: string[] = [];
  const startOps: StorageOp[] = [];
  const hs = durable.records.get('hardState') as { term?: unknown; vote?: unknown; commit?: unknown } | undefined;
  let term = 0;
  let vote: string | null = null;
  let commit = 0;
  if (hs !== undefined) {
    if (
      hs === null ||
      typeof hs !== 'object' ||
      !isInt(hs.term) ||
      !(hs.vote === null || typeof hs.vote === 'string') ||
      !(hs.commit === undefined || isInt(hs.commit))
    ) {
      throw new RaftLoadError('hardState', `record is malformed: ${safeJson(hs)}`);
    }
    term = hs.term;
    vote = hs.vote as string | null;
    commit = (hs.commit as number | undefined) ?? 0;
  }
  const snapRaw = durable.records.get('snapshot') as SnapshotRecord | undefined;
  let snapshot: SnapshotRecord | null = null;
  if (snapRaw !== undefined) {
    const ok =
      snapRaw !== null &&
      typeof snapRaw === 'object' &&
      isInt(snapRaw.lastIndex) &&
      isInt(snapRaw.lastTerm) &&
      typeof snapRaw.data === 'string' &&
      isInt(snapRaw.logPrevIndex) &&
      isInt(snapRaw.logPrevTerm) &&
      snapRaw.logPrevIndex <= snapRaw.lastIndex &&
      checkMembership(snapRaw.membership);
    if (!ok) throw new RaftLoadError('snapshot', 'record is malformed');
    snapshot = snapRaw;
  }
  const log = durable.logs.get('log');
  const raw = (log?.entries ?? []) as Entry[];
  if (log?.corrupt) {
    const first = raw[0];
    const index = first && isInt(first.index) ? ` (index ${first.index + log.corrupt.position})` : '';
    throw new RaftLoadError('log', `entry at position ${log.corrupt.position}${index}: ${log.corrupt.reason}`);
  }
  for (let i = 0; i < raw.length; i++) {
    const e = raw[i]!;
    if (
      e === null ||
      typeof e !== 'object' ||
      !isInt(e.index) ||
      !isInt(e.term) ||
      (e.type !== 'command' && e.type !== 'noop' && e.type !== 'config')
    ) {
      throw new RaftLoadError('log', `entry at position ${i} is malformed`);
    }
    if (i > 0 && e.index !== raw[i - 1]!.index + 1)
      throw new RaftLoadError('log', `entry at position ${i} has index ${e.index}, expected ${raw[i - 1]!.index + 1}`);
    if (i > 0 && e.term < raw[i - 1]!.term)
      throw new RaftLoadError(
        'log',
        `entry at position ${i} (index ${e.index}) has term ${e.term} below its predecessor's ${raw[i - 1]!.term}`,
      );
  }
  if (log?.tornTail) {
    notes.push(`cut a torn tail off the log after ${raw.length} entries`);
    startOps.push({ op: 'truncate', log: 'log', keepCount: raw.length });
  }
  const logPrevIndex = snapshot?.logPrevIndex ?? 0;
  const logPrevTerm = snapshot?.logPrevTerm ?? 0;
  const durableFirstIndex = raw.length > 0 ? raw[0]!.index : logPrevIndex + 1;
  if (raw.length > 0 && raw[0]!.index > logPrevIndex + 1) {
    throw new RaftLoadError(
      'log',
      `starts at index ${raw[0]!.index} but the snapshot's log begins after ${logPrevIndex}: entries are missing`,
    );
  }
  let entries = raw.filter((e) => e.index > logPrevIndex);
  if (snapshot) {
    // A snapshot install whose log truncation was lost in a crash leaves a stale suffix behind: an entry
    // at the snapshot's index with another term. Everything from there on is discarded.
    const atSnap = raw.find((e) => e.index === snapshot!.lastIndex);
    if (atSnap && atSnap.term !== snapshot.lastTerm) {
      entries = entries.filter((e) => e.index < snapshot!.lastIndex);
      const keep = snapshot.lastIndex - durableFirstIndex;
      startOps.push({ op: 'truncate', log: 'log', keepCount: Math.max(0, keep) });
      notes.push(
        `discarded a stale log suffix from index ${snapshot.lastIndex} (term ${atSnap.term} ≠ snapshot term ${snapshot.lastTerm})`,
      );
      // The snapshot covers index lastIndex itself, so the in-memory log restarts at the snapshot.
      return finish(
        term,
        vote,
        commit,
        snapshot,
        [],
        snapshot.lastIndex,
        snapshot.lastTerm,
        snapshot.lastIndex + 1,
        startOps,
        notes,
        true,
        durableFirstIndex,
      );
    }
  }
  const lastRaw = raw[raw.length - 1];
  if (lastRaw !== undefined && lastRaw.index < logPrevIndex) {
    // A snapshot install whose log truncation was lost in a crash can also leave an old log that ends
    // below the compaction point: every entry on disk is covered by the snapshot, and the next append
    // (at the compaction point + 1) would leave a gap after them that the next start reads as a corrupt
    // log. They are discarded.
    notes.push(
      `discarded ${raw.length} log entries that end at ${lastRaw.index}, below the snapshot's compaction point ${logPrevIndex}`,
    );
    return finish(
      term,
      vote,
      commit,
      snapshot,
      [],
      logPrevIndex,
      logPrevTerm,
      logPrevIndex + 1,
      startOps,
      notes,
      true,
      durableFirstIndex,
    );
  }
  return finish(
    term,
    vote,
    commit,
    snapshot,
    entries,
    logPrevIndex,
    logPrevTerm,
    durableFirstIndex,
    startOps,
    notes,
    false,
    durableFirstIndex,
  );
}

function finish(
  term: number,
  vote: string | null,
  commit: number,
  snapshot: SnapshotRecord | null,
  entries: readonly Entry[],
  logPrevIndex: number,
  logPrevTerm: number,
  durableFirstIndex: number,
  startOps: StorageOp[],
  notes: string[],
  resetLog: boolean,
  originalFirst: number,
): LoadedDurable {
  if (resetLog) {
    // Replace the whole durable log: truncate to 0 positions, then the in-memory log starts after the snapshot.
    startOps.length = 0;
    startOps.push({ op: 'truncate', log: 'log', keepCount: 0 });
    void originalFirst;
  }
  const lastIndex = entries.length > 0 ? entries[entries.length - 1]!.index : logPrevIndex;
  if (entries.length > 0 && entries[0]!.term < logPrevTerm)
    throw new RaftLoadError('log', `entry ${entries[0]!.index} has a term below the compaction point's`);
  const floor = snapshot?.lastIndex ?? 0;
  const clippedCommit = Math.max(floor, Math.min(commit, lastIndex));
  return {
    term,
    vote,
    commit: clippedCommit,
    snapshot,
    entries,
    logPrevIndex,
    logPrevTerm,
    durableFirstIndex,
    startOps,
    notes,
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value).slice(0, 200);
  } catch {
    return String(value);
  }
}
