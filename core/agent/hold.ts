/**
 * Requests in flight when a server dies (Consul's `rpc_hold_timeout`, 7 s): a request that failed
 * because the leader is gone or unknown is held here and retried — against the new leader as soon as
 * Raft names one (servers), else every `rpcHoldTimeoutMs / 16` (Consul's jitter fraction) — until it
 * succeeds or the hold times out. Only where it is safe:
 *
 *  - reads always (a read changes nothing);
 *  - a write refused with "no leader" never reached a log: always;
 *  - a write whose outcome is unknown (its leader stepped down, or changed while the RPC was in flight)
 *    never: the first attempt may still apply at any later time (an RPC queued in a paused server, an
 *    entry a later leader commits), after the retry answered and after other clients' writes, so even
 *    a plain set would come back from the past (agent/default seed 6: a put of v22 retried and answered,
 *    then applied again from a paused server's queue 1.4 s later, over a newer v27). The error goes to
 *    the client, which decides, as Consul does (its RPC layer retries writes only on "No cluster
 *    leader").
 *
 * Holding happens at the edge only, the agent the client talks to (`client` origins): a server that
 * forwards for another agent answers the error, and that agent holds — so a request is never held
 * twice. A held blocking query keeps its own deadline: it is retried with what is left of its wait,
 * so it still answers within `wait` plus a small margin; and its hold lasts until rpcHoldTimeoutMs past
 * the end of its wait (holdDeadlineMs), as Consul's does.
 */
import type { StoreCommand } from '../store/types.js';
import { agentErrors } from './api.js';
import type { ServerOp, ServerResult } from './ops.js';
import { count, trace, type AgentState, type Env, type Origin } from './state.js';

/** The error a pending RPC gets when its server stopped being the leader while it was in flight. */
export const leaderChangedError = 'rpc error: leader changed while the request was in flight; it may have been applied';
/** Raft's step-down error for a proposal (server.ts raftFailure): the outcome is unknown. */
export const leadershipLostError = 'leadership lost while committing log';

export interface HeldRequest {
  readonly id: number;
  /** The op as the client first asked it (retryOp shortens a blocking wait from this, once). */
  readonly op: ServerOp;
  readonly origin: Origin;
  /** When the edge first ran the op (a blocking query's wait counts from here). */
  readonly firstMs: number;
  /** When the hold gives up and answers `lastError` (set at the first failure: the hold lasts rpcHoldTimeoutMs). */
  readonly deadlineMs: number;
  lastError: ServerResult & { ok: false };
}

/** How a failure bears on a retry: the op certainly did not run, may have run, or failed for good. */
export function classifyFailure(result: ServerResult): 'notRun' | 'unknown' | 'final' {
  if (result.ok) return 'final';
  if (result.error === agentErrors.noLeader) return 'notRun';
  if (result.error === leaderChangedError || result.error === leadershipLostError) return 'unknown';
  return 'final';
}

/** Whether `op` may be sent again after a failure of this class. */
export function checkRetrySafe(op: ServerOp, failure: 'notRun' | 'unknown' | 'final'): boolean {
  if (failure === 'final') return false;
  if (op.kind === 'dc') return checkRetrySafe(op.op, failure);
  if (op.kind === 'read' || op.kind === 'status' || op.kind === 'eventList') return true;
  return failure === 'notRun';
}

export function holdRetryMs(s: AgentState): number {
  return Math.max(10, Math.round(s.config.timing.rpcHoldTimeoutMs / 16));
}

/**
 * Holds `op` for a retry instead of answering `result`, when the origin is a client of this agent,
 * the failure allows it and the hold has time left. Returns false when the caller must deliver.
 */
export function maybeHold(s: AgentState, env: Env, op: ServerOp, origin: Origin, result: ServerResult): boolean {
  if (origin.kind !== 'client' || result.ok) return false;
  if (!checkRetrySafe(op, classifyFailure(result))) return false;
  const previous = s.holdsByOrigin.get(origin);
  const firstMs = previous?.firstMs ?? env.nowMs;
  const deadlineMs = previous?.deadlineMs ?? holdDeadlineMs(s, op, firstMs, env.nowMs);
  if (env.nowMs >= deadlineMs) return false;
  if (s.held.size >= s.config.timing.pendingRpcMax) return false;
  // Keep the op as the client asked it: a retry that failed again was already shortened (retryOp), and
  // shortening that once more would take the time waited off a blocking query's wait twice.
  const firstOp = previous?.firstOp ?? op;
  const id = s.nextCallId++;
  const held: HeldRequest = { id, op: firstOp, origin, firstMs, deadlineMs, lastError: result };
  s.held.set(id, held);
  s.holdsByOrigin.set(origin, { firstMs, deadlineMs, firstOp });
  count(s, 'rpcHeld');
  trace(env, { type: 'agent.holding', op: op.kind, error: String(result.error) });
  env.ctx.emit({ kind: 'setTimer', timer: `hold:${id}`, afterMs: Math.min(holdRetryMs(s), deadlineMs - env.nowMs) });
  return true;
}

/** The op to run again: a blocking read keeps its own deadline (what is left of its wait). */
export function retryOp(held: HeldRequest, nowMs: number): ServerOp {
  // Whole milliseconds: a wait travels in RPCs, whose decoder (rpc.ts checkAgentMessage) takes integers only.
  const shorten = (op: ServerOp): ServerOp =>
    op.kind !== 'read' || op.waitMs <= 0
      ? op
      : { ...op, waitMs: Math.max(0, Math.ceil(op.waitMs - (nowMs - held.firstMs))) };
  const op = held.op;
  return op.kind === 'dc' ? { ...op, op: shorten(op.op) } : shorten(op);
}

/**
 * When the hold of `op` gives up: rpcHoldTimeoutMs after its first failure, and for a blocking query no
 * sooner than its wait plus rpcHoldTimeoutMs after it started — Consul's `HasTimedOut` gives a blocking
 * query the hold on top of its query time. Without that, a blocking read whose first server died early
 * in its wait and whose second died near its end answered the error instead of the new leader's result
 * (agent/failover-latency seed 407: a wait of 2,472 ms, leaders crashed 232 ms and 2,522 ms into it).
 */
function holdDeadlineMs(s: AgentState, op: ServerOp, firstMs: number, nowMs: number): number {
  const inner = op.kind === 'dc' ? op.op : op;
  const blocking = (inner.kind === 'read' || inner.kind === 'eventList') && inner.minIndex > 0;
  const waitMs = blocking ? inner.waitMs : 0;
  return Math.max(nowMs, firstMs + waitMs) + s.config.timing.rpcHoldTimeoutMs;
}

/** Takes every held request out (to run again now): the leader is known, or their timers fired. */
export function takeHeld(s: AgentState, env: Env, ids: Iterable<number>): HeldRequest[] {
  const out: HeldRequest[] = [];
  for (const id of ids) {
    const held = s.held.get(id);
    if (!held) continue;
    s.held.delete(id);
    env.ctx.emit({ kind: 'cancelTimer', timer: `hold:${id}` });
    out.push(held);
  }
  return out;
}

/** A client's op starts at the edge: remember when, for a later hold (a blocking wait counts from here). */
export function noteStart(s: AgentState, origin: Origin, nowMs: number): void {
  if (origin.kind === 'client' && !s.holdsByOrigin.has(origin))
    s.holdsByOrigin.set(origin, { firstMs: nowMs, deadlineMs: null });
}

/** The request left the agent (answered): forget its hold deadline. */
export function forgetHold(s: AgentState, origin: Origin): void {
  if (origin.kind === 'client') s.holdsByOrigin.delete(origin);
}
