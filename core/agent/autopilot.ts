/**
 * Consul's autopilot server health (`GET /v1/operator/autopilot/health`), computed on the leader from
 * what Raft's replication knows of each server (RaftView.progress) and what gossip says of it.
 *
 * A server is healthy, as Consul defines it, when its gossip status is alive, it answered the leader
 * within the last-contact threshold, its last log term is the leader's term, and its log trails the
 * leader's by at most `maxTrailingLogs` entries. Consul's threshold is 200 ms against heartbeats every
 * 100 ms (raft_multiplier 1): two heartbeats; ours is two heartbeat intervals of the configuration in
 * force, so a raft_multiplier of 3 does not make every follower look unhealthy between heartbeats.
 * LastIndex and LastTerm of a follower are the leader's match point (the highest index known to agree,
 * and its term): a follower may hold more than that, never less. `stableForMs` counts from the last
 * change of that server's health seen by this leader (from its first health query, when unchanged).
 */
import type { MemberProgress, RaftView } from '../raft/api.js';
import type { NodeId } from '../types.js';
import { nameOfServer, rpcAddressOf } from './rpc.js';
import type { AgentState } from './state.js';

/** Consul's default MaxTrailingLogs. */
export const maxTrailingLogs = 250;

export interface AutopilotServer {
  readonly ID: string;
  readonly Name: string;
  readonly Address: string;
  readonly SerfStatus: 'alive' | 'failed' | 'left' | 'none';
  readonly Version: string;
  readonly Leader: boolean;
  /** Milliseconds since the server last answered the leader (0 for the leader); rendered as a Go duration. */
  readonly LastContactMs: number;
  readonly LastTerm: number;
  readonly LastIndex: number;
  readonly Healthy: boolean;
  readonly Voter: boolean;
  /** Milliseconds its health has been what it is now; rendered as a time (StableSince). */
  readonly StableForMs: number;
}

export interface AutopilotHealth {
  readonly Healthy: boolean;
  /** Healthy voters beyond a quorum: how many more may fail (never below 0). */
  readonly FailureTolerance: number;
  readonly LastContactThresholdMs: number;
  readonly Servers: readonly AutopilotServer[];
}

function serfStatusOf(s: AgentState, id: NodeId): { status: AutopilotServer['SerfStatus']; version: string } {
  if (id === s.config.rpcId) return { status: 'alive', version: s.config.build };
  for (const member of s.members.values()) {
    if (member.id !== id) continue;
    const status =
      member.status === 'alive' || member.status === 'suspect'
        ? 'alive'
        : member.status === 'failed'
          ? 'failed'
          : 'left';
    return { status, version: member.tags['build'] ?? '' };
  }
  return { status: 'none', version: '' };
}

/** The health of every server of the configuration, from the leader's Raft view (asked with `progress`). */
export function autopilotHealth(s: AgentState, view: RaftView, nowMs: number, heartbeatMs: number): AutopilotHealth {
  const thresholdMs = 2 * heartbeatMs;
  const progress = new Map<NodeId, MemberProgress>((view.progress ?? []).map((p) => [p.id, p]));
  const leaderLastTerm = view.term;
  const servers: AutopilotServer[] = [];
  const members = [
    ...view.voters.map((id) => ({ id, voter: true })),
    ...view.learners.map((id) => ({ id, voter: false })),
  ];
  const seen = new Set<string>();
  for (const { id, voter } of members) {
    const self = id === s.config.rpcId;
    const p = progress.get(id);
    const serf = serfStatusOf(s, id);
    const lastContactMs = self ? 0 : p ? Math.max(0, nowMs - p.lastAckMs) : Infinity;
    const lastIndex = self ? view.lastIndex : (p?.match ?? 0);
    const lastTerm = self ? view.term : (p?.matchTerm ?? 0);
    const healthy =
      serf.status === 'alive' &&
      lastContactMs < thresholdMs &&
      lastTerm === leaderLastTerm &&
      view.lastIndex - lastIndex <= maxTrailingLogs;
    const serverId = view.ids[id] ?? rpcAddressOf(s, id);
    seen.add(serverId);
    const before = s.autopilotStable.get(serverId);
    if (!before || before.healthy !== healthy) s.autopilotStable.set(serverId, { healthy, sinceMs: nowMs });
    servers.push({
      ID: serverId,
      Name: nameOfServer(s, id),
      Address: rpcAddressOf(s, id),
      SerfStatus: serf.status,
      Version: serf.version,
      Leader: self,
      LastContactMs: Number.isFinite(lastContactMs) ? lastContactMs : -1,
      LastTerm: lastTerm,
      LastIndex: lastIndex,
      Healthy: healthy,
      Voter: voter,
      StableForMs: nowMs - s.autopilotStable.get(serverId)!.sinceMs,
    });
  }
  // Bounded: only servers of the configuration in force are remembered.
  for (const id of [...s.autopilotStable.keys()]) if (!seen.has(id)) s.autopilotStable.delete(id);
  const healthyVoters = servers.filter((x) => x.Voter && x.Healthy).length;
  const quorum = Math.floor(view.voters.length / 2) + 1;
  return {
    Healthy: servers.every((x) => x.Healthy),
    FailureTolerance: Math.max(0, healthyVoters - quorum),
    LastContactThresholdMs: thresholdMs,
    Servers: servers,
  };
}
