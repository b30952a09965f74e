/**
 * A session is stored as its creator asked (issue 12, round F): when `PUT /v1/session/create` answers an
 * ID, the session that ID names in the servers' stores has the TTL and LockDelay the client sent, the
 * default Behavior (`release`) when it sent none, the node of the agent it asked when it named none, and the
 * node checks it named (serfHealth when it named none; round L) —
 * what `GET /v1/session/info/:id` would then show it, and what the leader's TTL sweep and lock-delay act
 * on. A field lost or defaulted on the way (an explicit LockDelay of 0 read as unset, a TTL dropped) is a
 * session that behaves unlike what its client was promised.
 *
 * Judged when the answer arrives, on every server whose store already holds the session (the one that
 * answered applied it first), without sending anything: the workload's traces stay as they were.
 */
import type { RaftState } from '../../core/raft/state.js';
import type { Session } from '../../core/store/types.js';
import type { StoreFsm } from '../../core/store/store.js';
import type { NodeId } from '../../core/types.js';
import type { SimApi } from '../harness.js';

/** What a session client sent: the fields it set explicitly (absent: Consul's documented default). */
export interface SessionAsked {
  readonly ttlMs: number;
  readonly lockDelayMs: number;
  readonly behavior?: 'release' | 'delete';
  /** The agent it was sent to: the session's node when the request names none. */
  readonly via: NodeId;
  /** The node checks it named (`Checks`/`NodeChecks`); absent: none named, so Consul ties it to serfHealth. */
  readonly nodeChecks?: readonly string[];
}

/** Differences between a stored session and what was asked, each a sentence (empty when it matches). */
export function sessionMisses(session: Session, asked: SessionAsked): string[] {
  const misses: string[] = [];
  if (session.TtlMs !== asked.ttlMs) misses.push(`TTL ${session.TtlMs} ms, asked ${asked.ttlMs} ms`);
  if (session.LockDelayMs !== asked.lockDelayMs)
    misses.push(`LockDelay ${session.LockDelayMs} ms, asked ${asked.lockDelayMs} ms`);
  const behavior = asked.behavior ?? 'release';
  if (session.Behavior !== behavior) misses.push(`Behavior ${session.Behavior}, asked ${behavior}`);
  if (session.Node !== asked.via) misses.push(`Node ${session.Node}, created through ${asked.via}`);
  // Consul's session endpoint: a session that names neither node nor service checks is tied to serfHealth;
  // one that names node checks — an empty list included, the documented way to opt out — has exactly those.
  const nodeChecks = asked.nodeChecks ?? ['serfHealth'];
  if (session.NodeChecks.join(',') !== nodeChecks.join(','))
    misses.push(`NodeChecks [${session.NodeChecks.join(', ')}], asked [${nodeChecks.join(', ')}]`);
  return misses;
}

/** The created session `id` as every server that holds it stores it, against what was asked. */
export function checkSessionAsAsked(sim: SimApi, id: string, asked: SessionAsked): void {
  for (const nodeId of sim.nodeIds) {
    const runtime = sim.runtime(nodeId);
    if (runtime === null || !runtime.hasMachine('raft')) continue;
    const session = (runtime.stateOf<RaftState>('raft').fsm as StoreFsm).state.sessions.get(id);
    if (session === undefined) continue;
    const misses = sessionMisses(session, asked);
    if (misses.length > 0)
      return sim.violation(
        `session ${id} created through ${asked.via} is stored on ${nodeId} with ${misses.join(', ')}`,
      );
  }
}
