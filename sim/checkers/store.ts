/**
 * Per-step store rules checked at every apply, outside the store (the simulator's view of
 * core/store), shared by the kv and agent harnesses:
 *
 *  - session TTL: a TTL session is never invalidated by `sessionsExpire` before TTL ×
 *    sessionTtlMultiplier after its last renewal, in leader time (the `nowMs` stamped into the
 *    commands). A renewal is a create, a renew, or a new leader's `sessionTimersReset`, which restarts
 *    every TTL timer at its own time (Consul's leader does the same on gaining leadership). The rule is
 *    derived here from the commands alone, not from the store's deadline table, so a store that
 *    computes a deadline wrongly, or a leader that proposes the expiry early, is caught at the apply.
 *  - session invalidation has a cause (round I, session 14; Consul's Sessions documentation: a session is
 *    invalidated when it is destroyed, its TTL expires, its node is deregistered, or one of its health
 *    checks is deregistered or goes critical): a session that disappears at an apply must be the one a
 *    `sessionDestroy` names, or go by `sessionsExpire` (judged by the TTL rule), or have after the apply no
 *    node, or one of its own checks — on its own node — gone or critical. Nothing else may end a session:
 *    not another node's check, nor a check of the same id elsewhere.
 *  - the store's own invariants (storeInvariants) after every apply (round L).
 */
import type { StoreFsm } from '../../core/store/store.js';
import { sessionTtlMultiplier, type Session, type StoreCommand } from '../../core/store/types.js';
import { catalogTransitionOf, storeTransitionOf } from '../harnesses/store-coverage.js';
import {
  answerMoveProblemsAfter,
  answersOf,
  judgesAnswers,
  readIndexesOf,
  sameReadIndexes,
  judgedReads,
  tableChangesOnly,
  tableRowsOf,
  type Answers,
} from './store-tables.js';
import { kvReadIndexesOf, reapIndexProblems, type TombstoneEvent } from './tombstones.js';
import { tableIndexOf } from '../../core/store/state.js';

/** Store transitions kept between two drains by the harness (beyond: not counted, never unbounded). */
const transitionsKeptMax = 1024;
/** Tombstone events kept between two drains (beyond: dropped — a tombstone whose birth is lost is not judged). */
const tombstoneEventsKeptMax = 4096;

export class SessionTtlChecker {
  /** Leader time of each live session's last renewal (create, renew, timers reset). */
  private readonly lastRenewMs = new Map<string, number>();

  /** The sessions `command` may invalidate by TTL, to compare after the apply (empty for other commands). */
  before(command: StoreCommand, fsm: StoreFsm): Session[] {
    return command?.type === 'sessionsExpire' ? [...fsm.state.sessions.values()] : [];
  }

  /** After `command` applied at `index`: the problems, each a sentence. */
  after(command: StoreCommand, index: number, fsm: StoreFsm, before: readonly Session[]): string[] {
    const sessions = fsm.state.sessions;
    switch (command?.type) {
      case 'sessionCreate':
      case 'sessionRenew': {
        const id = command.type === 'sessionCreate' ? command.session?.id : command.id;
        if (id !== undefined && sessions.has(id)) this.lastRenewMs.set(id, command.nowMs);
        return [];
      }
      case 'sessionTimersReset':
        for (const id of sessions.keys()) this.lastRenewMs.set(id, command.nowMs);
        return [];
      case 'sessionsExpire':
        break;
      default:
        return [];
    }
    const problems: string[] = [];
    for (const session of before) {
      if (sessions.has(session.ID)) continue;
      const renewedMs = this.lastRenewMs.get(session.ID);
      this.lastRenewMs.delete(session.ID);
      if (session.TtlMs === 0 || renewedMs === undefined) continue;
      const earliestMs = renewedMs + session.TtlMs * sessionTtlMultiplier;
      if (command.nowMs < earliestMs)
        problems.push(
          `session TTL: ${session.ID} invalidated by sessionsExpire at ${command.nowMs} ms (index ${index}), before ${earliestMs} ms = its last renewal at ${renewedMs} ms + TTL ${session.TtlMs} ms × ${sessionTtlMultiplier}`,
        );
    }
    return problems;
  }

  /** A snapshot was installed: the renewals before it are not ours to check. */
  reset(): void {
    this.lastRenewMs.clear();
  }
}

/** The sessions before an apply, for `sessionEndProblems` (a copy: the store removes them in place). */
export function sessionsOf(fsm: StoreFsm): ReadonlyMap<string, Session> {
  return new Map(fsm.state.sessions);
}

/** After `command` applied at `index`: a sentence per session it ended without one of Consul's causes. */
export function sessionEndProblems(
  before: ReadonlyMap<string, Session>,
  command: StoreCommand,
  index: number,
  fsm: StoreFsm,
): string[] {
  const type = (command as { type?: unknown } | null)?.type;
  if (type === 'snapshotRestore' || type === 'sessionsExpire') return [];
  const state = fsm.state;
  const problems: string[] = [];
  for (const [id, session] of before) {
    if (state.sessions.has(id)) continue;
    if (type === 'sessionDestroy' && (command as { id?: unknown }).id === id) continue;
    if (!state.nodes.has(session.Node)) continue;
    const checks = state.checks.get(session.Node);
    const linked = [...session.NodeChecks, ...session.ServiceChecks];
    if (linked.some((checkId) => checks?.get(checkId) === undefined || checks.get(checkId)!.Status === 'critical'))
      continue;
    problems.push(
      `session end: ${String(type)} at index ${index} invalidated session ${id} of ${session.Node}, whose node is registered and whose checks (${linked.join(', ') || 'none'}) are all there and not critical`,
    );
  }
  return problems;
}

/**
 * The store FSM with the per-step store rules checked at every apply (for harnesses whose FSM is the
 * plain store, as the agent's is). Problems pile up in `problems`; the harness drains them per step.
 */
export function checkedStoreFsm(
  fsm: StoreFsm,
  nodeId: string,
): StoreFsm & {
  readonly problems: string[];
  readonly transitions: string[];
  readonly tombstoneEvents: TombstoneEvent[];
} {
  const ttl = new SessionTtlChecker();
  const problems: string[] = [];
  const transitions: string[] = [];
  const tombstoneEvents: TombstoneEvent[] = [];
  const apply = fsm.apply.bind(fsm);
  const restore = fsm.restore.bind(fsm);
  // The judged reads' answers as of the last judged apply: the next one's "before", so each judged apply
  // runs the reads once. KV and txn applies leave them (they write no table those reads read: core/store
  // kv.ts and txn.ts only look sessions up); a restore forgets them.
  let answersNow: Answers | null = null;
  return Object.assign(fsm, {
    problems,
    transitions,
    tombstoneEvents,
    apply(command: unknown, index: number) {
      // Tombstone rules (sim/checkers/tombstones.ts): which tombstones a reap removes, and the KV reads before it.
      const graveyardIndex = tableIndexOf(fsm.state, 'tombstones');
      const reap =
        (command as StoreCommand | null)?.type === 'tombstonesReap' ? (command as { upToIndex: number }) : null;
      const removed = reap ? [...fsm.state.tombstones.values()].filter((i) => i <= reap.upToIndex) : [];
      const kvReads = reap ? kvReadIndexesOf(fsm.state) : null;
      const before = ttl.before(command as StoreCommand, fsm);
      const sessions = sessionsOf(fsm);
      const rows = tableRowsOf(fsm.state, command);
      const judged = judgesAnswers(command);
      const answers = judged ? (answersNow ?? answersOf(fsm.state)) : null;
      const indexes = judged ? readIndexesOf(fsm.state) : null;
      if (judged) answersNow = null; // kept only from a judged apply that finished
      const result = apply(command, index);
      if (tombstoneEvents.length < tombstoneEventsKeptMax) {
        if (tableIndexOf(fsm.state, 'tombstones') > graveyardIndex) tombstoneEvents.push({ kind: 'tombstoned', index });
        if (reap)
          tombstoneEvents.push({ kind: 'reaped', index, upToIndex: reap.upToIndex, removed: [...new Set(removed)] });
      }
      if (reap && kvReads)
        for (const p of reapIndexProblems(kvReads, fsm.state, index, reap.upToIndex)) problems.push(`${nodeId}: ${p}`);
      for (const p of ttl.after(command as StoreCommand, index, fsm, before)) problems.push(`${nodeId}: ${p}`);
      for (const p of sessionEndProblems(sessions, command as StoreCommand, index, fsm))
        problems.push(`${nodeId}: ${p}`);
      const tables = tableChangesOnly(rows, fsm.state, index, command);
      for (const p of tables.problems) problems.push(`${nodeId}: ${p}`);
      // A judged table changed: the answer-index rule is due, on the same run of the reads as the answers kept.
      const reads = tables.any ? judgedReads(fsm.state, index, command) : null;
      if (reads !== null) for (const p of reads.indexProblems) problems.push(`${nodeId}: ${p}`);
      // The store's own invariants (core/store/store.ts storeInvariants: every session, service, check and
      // coordinate belongs to a registered node, locks to live sessions...), as the kv harness checks them
      // at every apply; the agent's store ran without them (round L, L11: a deregistered node's coordinate).
      const broken = fsm.invariants();
      if (broken.length > 0) problems.push(`${nodeId}: store invariants after index ${index}: ${broken.join('; ')}`);
      if (answers !== null) {
        // Nothing the judged reads are made of changed (rows, their order, the indexes): their answers are
        // the same, so they are not run again (most catalog applies are anti-entropy rewriting what is there).
        if (tables.unchanged && sameReadIndexes(indexes!, fsm.state)) answersNow = answers;
        else {
          const after = reads?.answers ?? answersOf(fsm.state);
          for (const p of answerMoveProblemsAfter(answers, after, fsm.state, index, command))
            problems.push(`${nodeId}: ${p}`);
          answersNow = after;
        }
      }
      // Store transitions for `sim explore --coverage` (bounded: a step applies a bounded batch and the
      // harness drains them after every step).
      if (transitions.length < transitionsKeptMax) {
        const kv = storeTransitionOf(command as StoreCommand, result);
        if (kv !== null) transitions.push(kv);
        transitions.push(
          ...catalogTransitionOf(command as StoreCommand, result, sessions.size, fsm.state.sessions.size),
        );
      }
      return result;
    },
    restore(snapshot: unknown) {
      answersNow = null;
      restore(snapshot);
      ttl.reset();
    },
  });
}
