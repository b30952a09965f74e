/**
 * Applying committed entries to the FSM, in log order, with client sessions for exactly-once
 * semantics (thesis §6.3): a command carries (clientId, seq); if the session already applied seq,
 * the retry is not applied again and gets the cached result. The session table is part of the
 * replicated state (it travels in snapshots) and is evicted deterministically (least recently used
 * by log index), so every server agrees on it.
 */
import type { StepContext } from '../types.js';
import type { Entry } from './messages.js';
import { fail, reply, type RaftState } from './state.js';

/** Most entries applied in one step; the rest are applied by the next step (bounds one step's work). */
export const applyBatchMax = 100_000;

/**
 * Applies one committed entry (the caller, step.ts's reaction to a moved commit index, walks them in
 * order and advances appliedIndex) and answers the proposal waiting for it, if this node proposed it.
 */
export function applyEntry(s: RaftState, ctx: StepContext, entry: Entry): void {
  let result: unknown;
  let superseded = false;
  switch (entry.type) {
    case 'command': {
      const session = entry.session;
      const known = session ? s.sessions.get(session.clientId) : undefined;
      if (session && known && session.seq <= known.seq) {
        // A retry of a command this session already applied: do not apply it twice (§6.3).
        superseded = session.seq < known.seq;
        result = superseded ? undefined : known.result;
        ctx.emit({
          kind: 'apply',
          index: entry.index,
          term: entry.term,
          command: { raft: 'duplicate', clientId: session.clientId, seq: session.seq },
        });
        break;
      }
      result = s.fsm.apply(entry.command, entry.index);
      ctx.emit({ kind: 'apply', index: entry.index, term: entry.term, command: entry.command });
      if (session) rememberSession(s, session.clientId, session.seq, result, entry.index);
      break;
    }
    case 'noop':
      ctx.emit({ kind: 'apply', index: entry.index, term: entry.term, command: { raft: 'noop' } });
      break;
    case 'config':
      ctx.emit({
        kind: 'apply',
        index: entry.index,
        term: entry.term,
        command: { raft: 'config', voters: entry.config!.voters, learners: entry.config!.learners },
      });
      break;
  }
  const pending = s.pending.get(entry.index);
  if (pending) {
    s.pending.delete(entry.index);
    if (!pending.target) {
      // internal entry: nobody waits for it
    } else if (pending.term !== entry.term)
      fail(s, ctx, pending.target, 'stepDown', 'the proposal was overwritten by another leader');
    else if (superseded) fail(s, ctx, pending.target, 'badRequest', 'session sequence number already superseded');
    else reply(s, ctx, pending.target, { ok: true, index: entry.index, result });
  }
}

function rememberSession(s: RaftState, clientId: string, seq: number, result: unknown, index: number): void {
  const known = s.sessions.get(clientId);
  if (known) {
    known.seq = seq;
    known.result = result;
    known.lastIndex = index;
    return;
  }
  s.sessions.set(clientId, { seq, result, lastIndex: index });
  if (s.sessions.size > s.config.sessionsMax) {
    let oldest: string | undefined;
    let oldestIndex = Infinity;
    for (const [id, session] of s.sessions) {
      if (session.lastIndex < oldestIndex) {
        oldestIndex = session.lastIndex;
        oldest = id;
      }
    }
    s.sessions.delete(oldest!);
  }
}

/** The session table as plain data for a snapshot (sorted, so equal tables encode equally). */
export function sessionsToData(s: RaftState): [string, number, unknown, number][] {
  return [...s.sessions.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, x]) => [id, x.seq, x.result, x.lastIndex]);
}

export function sessionsFromData(data: unknown): Map<string, { seq: number; result: unknown; lastIndex: number }> {
  const out = new Map<string, { seq: number; result: unknown; lastIndex: number }>();
  if (!Array.isArray(data)) return out;
  for (const row of data as [string, number, unknown, number][])
    out.set(row[0], { seq: row[1], result: row[2], lastIndex: row[3] });
  return out;
}
