/**
 * A per-step rule on the agent's forwarded RPCs: **no read stays in flight to a server gossip just declared
 * failed.** The agent's own contract (core/agent/rpc.ts failRetryableRpcsTo, core/agent/wan.ts): when a
 * server's LAN or WAN gossip entry stops being live (SWIM declared it failed, or it left), the RPCs in flight
 * to it that are safe to send again — reads, status questions, event lists, also inside a `?dc=` op — fail at
 * once, and the edge holds and retries them on another server, instead of waiting out the RPC timer for an
 * answer a dead process will never send (a silent death: a pause or a partition closes no connection). Writes
 * stay pending (gossip may be wrong about a live server). Consul itself waits for its RPC timeout here; this
 * agent promises more, and the rule holds it to that.
 *
 * Judged at the step where an agent's view of a member goes from live to not live (so an RPC sent later to a
 * member the agent never saw live, such as a Raft leader that gossip marks failed, is not judged). Observing
 * only: it draws nothing and changes no trace.
 */
import type { AgentState } from '../../core/agent/state.js';
import { checkRetrySafe } from '../../core/agent/hold.js';
import { isLive } from '../../core/agent/rpc.js';
import type { NodeId } from '../../core/types.js';

/** Per node: the agent state last seen (a restart starts a new view) and which member ids it held live. */
export class GossipLiveness {
  readonly byNode = new Map<NodeId, { readonly agent: AgentState; readonly live: Set<NodeId> }>();
}

/** Null when no retry-safe RPC of `node` is in flight to a server its gossip just stopped holding live. */
export function checkRpcsToFailed(memory: GossipLiveness, node: NodeId, agent: AgentState): string | null {
  const before = memory.byNode.get(node);
  const live = new Set<NodeId>();
  for (const member of agent.members.values()) if (isLive(member)) live.add(member.id);
  for (const member of agent.wanMembers.values()) if (isLive(member)) live.add(member.id);
  memory.byNode.set(node, { agent, live });
  if (before === undefined || before.agent !== agent || agent.pendingRpcs.size === 0) return null;
  for (const [id, pending] of agent.pendingRpcs) {
    if (!before.live.has(pending.to) || live.has(pending.to)) continue;
    if (!checkRetrySafe(pending.op, 'unknown')) continue;
    return `${node}: RPC ${id} (${pending.op.kind}${pending.op.kind === 'dc' ? ` to ${pending.op.dc}` : ''}) is still in flight to ${pending.to}, which its gossip just stopped holding live: a read must fail over at once (rpc.ts failRetryableRpcsTo)`;
  }
  return null;
}
