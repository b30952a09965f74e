/**
 * Per-call rule (round P, session 18): an agent answers a service registration or deregistration after its
 * sync pushed it. Consul's agent endpoint (AgentRegisterService, AgentDeregisterService) calls
 * syncChanges before it answers, so a client that registers a service and then asks the catalog finds it,
 * and one that deregisters it no longer does; this agent does the same (core/agent/antiEntropy.ts
 * afterSync: the answer waits for the push, its failure, or a bound). So at a 200 answer some server of the
 * agent's datacenter already holds the service in its catalog (registration) or some server no longer does
 * (deregistration) — judged against every server's own store, not one chosen leader, so a leader change
 * in between cannot make a false alarm.
 *
 * Not judged: an answer after a sync of that agent failed since the call began (Consul answers then too,
 * logging the error), one that waited out the sync-wait bound, one from an agent that left (it stops
 * syncing), a call with a server of its datacenter down at the answer (the server that applied the push may
 * be the one down) or with one restarted since the call began (a restarted server's catalog is empty until it
 * hears the commit index again, and a replaced disk loses what it applied: agent/autopilot-catch-up seeds 8 and
 * 45 — the leader applied the push, answered, and lost its disk before the others applied it), and a call that
 * overlapped another call naming the same service id (which may have undone it: the catalog workload's
 * `catalog.deregister` behind the agent's back, another registration).
 */
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import type { NodeId } from '../../core/types.js';

interface Call {
  readonly node: NodeId;
  readonly kind: 'register' | 'deregister' | 'other';
  readonly serviceId: string;
  readonly startMs: number;
  overlapped: boolean;
}

/** The service id a request names, and whether it is a call this rule judges. */
function serviceCallOf(body: AgentRequest): { kind: Call['kind']; serviceId: string } | null {
  switch (body.type) {
    case 'agent.service.register':
      return { kind: 'register', serviceId: body.service.id ?? body.service.name };
    case 'agent.service.deregister':
      return { kind: 'deregister', serviceId: body.id };
    case 'catalog.deregister':
      return body.serviceId !== undefined ? { kind: 'other', serviceId: body.serviceId } : null;
    default:
      return null;
  }
}

/** What the rule asks of the harness when a call is answered. */
export interface SyncAnswerView {
  /** The agent left (it no longer syncs). */
  readonly left: boolean;
  /** The longest an answer waits for the sync (core/agent/antiEntropy.ts afterSync), ms. */
  readonly syncWaitMs: number;
  /** Per server of the agent's datacenter: whether its catalog holds `serviceId` on the agent's node; null when that server is down. */
  readonly holds: readonly (boolean | null)[];
  /** Per server of the agent's datacenter: when its process last started (simulated ms). */
  readonly startedMs: readonly number[];
}

export class SyncAnswers {
  private readonly calls = new Map<number, Call>();
  private readonly syncFailedMs = new Map<NodeId, number>();
  private nextToken = 1;

  /** A call starts; returns a token for `end`, or null when the call names no service. */
  begin(node: NodeId, body: AgentRequest, nowMs: number): number | null {
    const call = serviceCallOf(body);
    if (call === null) return null;
    const entry: Call = { node, ...call, startMs: nowMs, overlapped: false };
    for (const other of this.calls.values())
      if (other.serviceId === entry.serviceId) other.overlapped = entry.overlapped = true;
    const token = this.nextToken++;
    this.calls.set(token, entry);
    return token;
  }

  /** The agent on `node` reported a failed sync (trace `agent.syncFailed`). */
  noteSyncFailed(node: NodeId, nowMs: number): void {
    this.syncFailedMs.set(node, nowMs);
  }

  /** The call answered (or gave up: undefined); a violation's text, or null. */
  end(token: number, response: AgentResponse | undefined, nowMs: number, view: () => SyncAnswerView): string | null {
    const call = this.calls.get(token);
    this.calls.delete(token);
    if (call === undefined || call.kind === 'other' || call.overlapped || response?.status !== 200) return null;
    if ((this.syncFailedMs.get(call.node) ?? -1) >= call.startMs) return null;
    const v = view();
    if (v.left || nowMs - call.startMs >= v.syncWaitMs || v.holds.some((h) => h === null)) return null;
    if (v.startedMs.some((t) => t >= call.startMs)) return null;
    const what = `${call.node}'s agent answered 200 to the ${call.kind === 'register' ? 'registration' : 'deregistration'} of service ${call.serviceId} ${(nowMs - call.startMs).toFixed(1)} ms after it was asked`;
    if (call.kind === 'register' && !v.holds.some((h) => h === true))
      return `sync before answer: ${what}, but no server's catalog holds the service on ${call.node} (Consul's agent endpoint syncs the change before it answers)`;
    if (call.kind === 'deregister' && v.holds.every((h) => h === true))
      return `sync before answer: ${what}, but every server's catalog still holds it on ${call.node} (Consul's agent endpoint syncs the change before it answers)`;
    return null;
  }
}
