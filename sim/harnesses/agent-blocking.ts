/**
 * Blocking queries as Consul documents them (consul-api.md §2, Consul's "Blocking Queries"): a read with
 * `?index=N&wait=D` waits "until either the data changes (X-Consul-Index > N) or the wait elapses", and
 * returns as soon as the data changes. The KV harness judges the store's own registry (core/store/watch.ts)
 * by these rules; the agent parks its reads elsewhere (core/agent/server.ts answerOrPark, recheck,
 * answerParked; core/agent/hold.ts retries a held one with what is left of its wait), and no rule
 * judged that path. Two rules, one per promise:
 *
 *  - No early return (per call, at the client): a blocking read answered 200 or 404 with an X-Consul-Index
 *    not past its `?index` had nothing new to say, so its wait must have run out: it is answered no sooner
 *    than `wait` after the client sent it. Not judged in a run with clock faults (a jump moves the clocks
 *    a held read's remaining wait is computed from, as it moves Consul's wall clock).
 *  - No early RPC timeout (per call, at the client; round N): a blocking read is not answered 500 "rpc error:
 *    timeout" sooner than its wait after it was sent. Every forwarder on its path (client agent → server →
 *    another DC's server) gives the RPC its timeout on top of the wait it carries (Consul's blocking RPCs: the
 *    query's wait plus the RPC timeout), so a timer that fires before the wait ran out was set without it:
 *    every long poll through a client agent, or to another DC, would fail after the bare RPC timeout.
 *  - No missed wake-up (per step, on each server): after a server's step, none of the reads parked on it in
 *    `default` or `stale` mode has a change index (the store's `{ type: 'index' }`, what recheck asks)
 *    past its minIndex. The agent re-checks its parked reads on every Raft `applied` notice, and for these
 *    modes the check and the answer are local, synchronous calls, so a passed index is answered within the
 *    step that applied it. (A `consistent` read's answer waits for a ReadIndex round, so it may legitimately
 *    stay parked while the round runs; it is not judged here.)
 */
import { agentErrors, type AgentResponse } from '../../core/agent/api.js';
import type { AgentState } from '../../core/agent/machine.js';
import type { NodeId } from '../../core/types.js';
import type { Scenario } from '../scenario.js';

/** Whether the run moves node clocks (swarm `clock` faults, or a timeline `jump` / `drift`). */
export function hasClockFaults(scenario: Scenario): boolean {
  if (scenario.nemesis.mode === 'swarm' && scenario.nemesis.kinds.includes('clock')) return true;
  return scenario.timeline.some((event) => event.action === 'jump' || event.action === 'drift');
}

/**
 * Per-call rule (no early return): `what` names the call for the violation. Returns the violation's text,
 * or null.
 */
export function checkBlockingAnswer(
  scenario: Scenario,
  what: string,
  minIndex: number,
  waitMs: number,
  invokeMs: number,
  nowMs: number,
  response: AgentResponse | undefined,
): string | null {
  if (waitMs <= 0 || minIndex <= 0 || response === undefined) return null;
  const elapsedMs = nowMs - invokeMs;
  if (response.status === 500 && response.error === agentErrors.rpcTimeout) {
    if (elapsedMs >= waitMs - 0.5 || hasClockFaults(scenario)) return null;
    return `blocking query: the ${what} (?index=${minIndex}, wait ${waitMs} ms) was answered "${response.error}" ${elapsedMs.toFixed(1)} ms after it was sent, before its wait ran out: an RPC on its path was given no time for the wait`;
  }
  if (response.status !== 200 && response.status !== 404) return null;
  if (typeof response.index !== 'number' || response.index > minIndex) return null;
  // Half a millisecond for the microsecond rounding of timers; no clock runs off here (see hasClockFaults).
  if (elapsedMs >= waitMs - 0.5 || hasClockFaults(scenario)) return null;
  return `blocking query: the ${what} (?index=${minIndex}, wait ${waitMs} ms) was answered ${elapsedMs.toFixed(1)} ms after it was sent with X-Consul-Index ${response.index}, not past its index: it returned before its wait with nothing new`;
}

/** What the per-step rule needs of a server's store: its answer to a query (the FSM's `query`). */
export interface QueryableStore {
  query(query: unknown): unknown;
}

/** Per-step rule (no missed wake-up) on server `nodeId`: the violation's text, or null. */
export function checkParkedReads(nodeId: NodeId, agent: AgentState, store: QueryableStore): string | null {
  for (const parked of agent.parked.values()) {
    if (parked.op.consistency === 'consistent') continue;
    const answer = store.query({ type: 'index', of: parked.op.query }) as { index?: unknown } | null;
    const index = typeof answer?.index === 'number' ? answer.index : 0;
    if (index > parked.op.minIndex)
      return `blocking query: ${nodeId} still holds parked ${parked.op.consistency} read ${parked.id} (${JSON.stringify(parked.op.query).slice(0, 120)}) after its step, its change index ${index} past its minIndex ${parked.op.minIndex}: a wake-up was missed`;
  }
  return null;
}
