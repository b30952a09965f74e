/**
 * A left agent writes nothing more to the catalog (Consul's `consul leave`: the agent leaves the gossip
 * pool and shuts down — the HTTP handler calls Leave and then ShutdownAgent — and the leader's reconcile
 * deregisters the `left` member's node). The promise a user relies on: after `consul leave` the node
 * disappears from `/v1/catalog/nodes` and stays gone. An agent that kept its anti-entropy running after
 * the leave would push its node and services again and bring it back.
 *
 * Per-step rule: once an agent has received a leave request, it sends no catalog registration of its own
 * node until it is started again (a restarted agent joins anew). Judged at the agent's sends rather than in
 * the catalog: a push already in flight when the leave arrives may still land after the leader's
 * deregistration (seed 241 of scenarios/agent/leave.txt — a push sent at 7.99 s applied after the
 * deregistration at 8.018 s), which is the race, not the left agent's doing.
 */
import type { NodeId } from '../../core/types.js';

/** Per run: the agents that received a leave request, and when (global ms). */
export class LeftNodes {
  readonly leftAtMs = new Map<NodeId, number>();
  /** Registration ops already sent before their agent's leave: resending one (the RPC hold) is that push. */
  private readonly earlier = new WeakSet<object>();

  /** An input of `node`: a leave request marks it left from now on. */
  noteInput(node: NodeId, atMs: number, request: unknown): void {
    const body = (request as { body?: { type?: string } } | null)?.body;
    if (body?.type === 'agent.leave' && !this.leftAtMs.has(node)) this.leftAtMs.set(node, atMs);
  }

  /** A process started: a left agent that starts again is a member again. */
  noteStart(node: NodeId): void {
    this.leftAtMs.delete(node);
  }

  /** A message `from` sends: a catalog registration of its own node after its leave is the violation. */
  checkSend(from: NodeId, atMs: number, message: unknown): string | null {
    const envelope = message as { m?: string; p?: { t?: string; op?: { kind?: string; command?: unknown } } } | null;
    const p = envelope?.m === 'agent' ? envelope.p : undefined;
    if (p?.t !== 'rpc' || p.op?.kind !== 'write') return null;
    const command = p.op.command as { type?: string; node?: { node?: string } } | undefined;
    if (command?.type !== 'catalogRegister' || command.node?.node !== from) return null;
    const leftMs = this.leftAtMs.get(from);
    if (leftMs === undefined) {
      this.earlier.add(p.op);
      return null;
    }
    if (this.earlier.has(p.op)) return null;
    return `left agent: ${from} received a leave at ${leftMs} ms but at ${atMs} ms still sends a catalog registration of its node (a left agent must stop anti-entropy; the leader deregistered it)`;
  }
}
