/**
 * Sessions (Consul agent/consul/state/session.go and session_endpoint.go). A session ties locks to a
 * node's health: it is invalidated when destroyed, when its TTL runs out, when its node is
 * deregistered, or when one of its checks goes critical. Invalidation releases (or, with behavior
 * `delete`, deletes) every key it holds and starts lock-delay on them, and deletes the prepared
 * queries tied to it.
 *
 * TTL deadlines are leader time: `nowMs` in the create/renew command plus TTL × `sessionTtlMultiplier`;
 * the leader proposes `sessionsExpire {nowMs}` when the earliest deadline passes (query
 * `sessionExpiryNext` tells it when). Consul renews in leader memory only; we replicate renewals so a
 * new leader knows every deadline, and `sessionTimersReset` restarts them all on a leadership change.
 */
import { kvReleaseSession } from './kv.js';
import { deletePreparedQueriesOfSession } from './preparedQuery.js';
import { bumpTable, type StoreState } from './state.js';
import {
  sessionLockDelayMsDefault,
  sessionTtlMsMax,
  sessionTtlMsMin,
  sessionTtlMultiplier,
  serfCheckId,
  type CommandResult,
  type Session,
  type SessionSpec,
} from './types.js';

/** Consul's MaxLockDelay: a longer lock-delay is cut to this. */
export const sessionLockDelayMsMax = 60_000;

export function sessionCreate(
  state: StoreState,
  index: number,
  spec: SessionSpec,
  nowMs: number,
): CommandResult<{ ID: string }> {
  const problem = checkSessionSpec(state, spec);
  if (problem) return { ok: false, error: problem };
  const noChecks = spec.nodeChecks === undefined && spec.serviceChecks === undefined;
  const session: Session = {
    ID: spec.id,
    Name: spec.name ?? '',
    Node: spec.node,
    LockDelayMs: Math.min(spec.lockDelayMs ?? sessionLockDelayMsDefault, sessionLockDelayMsMax),
    Behavior: spec.behavior ?? 'release',
    TtlMs: spec.ttlMs ?? 0,
    NodeChecks: noChecks ? [serfCheckId] : [...(spec.nodeChecks ?? [])],
    ServiceChecks: [...(spec.serviceChecks ?? [])],
    CreateIndex: index,
    ModifyIndex: index,
  };
  // Every linked check must exist on the node and not be critical (Consul sessionCreateTxn).
  for (const checkId of [...session.NodeChecks, ...session.ServiceChecks]) {
    const check = state.checks.get(session.Node)?.get(checkId);
    if (!check) return { ok: false, error: `Missing check '${checkId}' registration` };
    if (check.Status === 'critical') return { ok: false, error: `Check '${checkId}' is in critical state` };
  }
  state.sessions.set(session.ID, session);
  if (session.TtlMs > 0) state.sessionDeadlineMs.set(session.ID, nowMs + session.TtlMs * sessionTtlMultiplier);
  bumpTable(state, 'sessions', index);
  return { ok: true, value: { ID: session.ID } };
}

function checkSessionSpec(state: StoreState, spec: SessionSpec): string | null {
  if (spec === null || typeof spec !== 'object') return 'missing session';
  if (typeof spec.id !== 'string' || spec.id === '') return 'Must provide session ID';
  if (state.sessions.has(spec.id)) return `Session ID '${spec.id}' already exists`;
  if (typeof spec.node !== 'string' || spec.node === '') return 'Must provide Node';
  if (!state.nodes.has(spec.node)) return 'Missing node registration';
  if (spec.behavior !== undefined && spec.behavior !== 'release' && spec.behavior !== 'delete')
    return `Invalid Behavior setting '${String(spec.behavior)}'`;
  const ttlMs = spec.ttlMs ?? 0;
  if (!Number.isFinite(ttlMs) || (ttlMs !== 0 && (ttlMs < sessionTtlMsMin || ttlMs > sessionTtlMsMax))) {
    return `Invalid Session TTL '${ttlMs}ms', must be between [10s=24h0m0s]`;
  }
  const lockDelayMs = spec.lockDelayMs ?? 0;
  if (!Number.isFinite(lockDelayMs) || lockDelayMs < 0) return `Invalid LockDelay '${lockDelayMs}ms'`;
  return null;
}

/** Renews a TTL session's deadline. Unknown → error (HTTP 404). Does not change ModifyIndex. */
export function sessionRenew(state: StoreState, id: string, nowMs: number): CommandResult<Session> {
  const session = state.sessions.get(id);
  if (!session) return { ok: false, error: `Session id '${id}' not found` };
  if (session.TtlMs > 0) state.sessionDeadlineMs.set(id, nowMs + session.TtlMs * sessionTtlMultiplier);
  return { ok: true, value: session };
}

/**
 * Invalidates a session: removes it, releases or deletes its keys, starts lock-delay on them at the
 * leader's `nowMs`. Unknown ids do nothing (destroy is idempotent). True when one was removed.
 */
export function sessionInvalidate(state: StoreState, index: number, id: string, nowMs: number): boolean {
  const session = state.sessions.get(id);
  if (!session) return false;
  kvReleaseSession(state, index, id, session.Behavior === 'delete', session.LockDelayMs, nowMs);
  deletePreparedQueriesOfSession(state, index, id);
  state.sessions.delete(id);
  state.sessionDeadlineMs.delete(id);
  bumpTable(state, 'sessions', index);
  return true;
}

/** Invalidates every TTL session whose deadline is ≤ nowMs (in id order). Returns the ids. */
export function sessionsExpire(state: StoreState, index: number, nowMs: number): string[] {
  const due = [...state.sessionDeadlineMs].filter(([, deadlineMs]) => deadlineMs <= nowMs).map(([id]) => id);
  due.sort();
  for (const id of due) sessionInvalidate(state, index, id, nowMs);
  return due;
}

export function sessionTimersReset(state: StoreState, nowMs: number): void {
  for (const id of state.sessionDeadlineMs.keys()) {
    const session = state.sessions.get(id)!;
    state.sessionDeadlineMs.set(id, nowMs + session.TtlMs * sessionTtlMultiplier);
  }
}

/** Sessions linked to check `checkId` of `node` (Consul's session_checks table). */
export function sessionsOfCheck(state: StoreState, node: string, checkId: string): string[] {
  const ids: string[] = [];
  for (const session of state.sessions.values()) {
    if (session.Node !== node) continue;
    if (session.NodeChecks.includes(checkId) || session.ServiceChecks.includes(checkId)) ids.push(session.ID);
  }
  return ids.sort();
}

export function sessionsOfNode(state: StoreState, node: string): string[] {
  const ids: string[] = [];
  for (const session of state.sessions.values()) if (session.Node === node) ids.push(session.ID);
  return ids.sort();
}

/** The earliest TTL deadline, or null when no TTL session exists. */
export function sessionExpiryNext(state: StoreState): number | null {
  let next: number | null = null;
  for (const deadlineMs of state.sessionDeadlineMs.values()) if (next === null || deadlineMs < next) next = deadlineMs;
  return next;
}
