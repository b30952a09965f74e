/**
 * Autopilot probes of the agent harness (opt-in, `set autopilotProbes N`): what `consul operator autopilot
 * state` and a health dashboard do — `GET /v1/operator/autopilot/health` through random agents (followers
 * and client agents forward it to the leader), every 0.2–0.6 s during the faults. Each answer is judged
 * against Consul's definition of a server's health, from the answer alone and the heartbeat interval in
 * force (core/agent/autopilot.ts states the rules the same way):
 *
 *  - `LastContactThresholdMs` is two heartbeat intervals;
 *  - exactly one server is the leader, at last contact 0;
 *  - a server is healthy exactly when its gossip status is alive, it answered the leader within the
 *    threshold (a last contact of −1 is "never"), its last log term is the leader's and its log trails the
 *    leader's by at most 250 entries (Consul's MaxTrailingLogs);
 *  - the cluster is healthy exactly when every server is; the failure tolerance is the healthy voters
 *    beyond a quorum of voters, never below 0.
 *
 * Draws from its own random stream, so scenarios without it draw exactly what they drew before.
 */
import { maxTrailingLogs } from '../../core/agent/autopilot.js';
import type { SimApi } from '../harness.js';
import type { Scenario } from '../scenario.js';
import type { AgentsHost } from './agent-host.js';

/** What the probes need from the agent harness. */
export interface AutopilotHost extends AgentsHost {
  /** The heartbeat interval of the servers' Raft (ms), or null when no server is up to say. */
  readonly heartbeatMs: () => number | null;
}

export function startAutopilotProbes(sim: SimApi, scenario: Scenario, count: number, host: AutopilotHost): void {
  if (count === 0) return;
  const prng = sim.random('autopilot');
  // A probe that got no answer tries again soon (a dashboard's short timeout), not after a client's 3 s.
  const timeoutMs = 1000;
  let judged = 0;
  sim.at(scenario.safetyMs, () => sim.log(`autopilot: ${judged} health answers judged`));
  for (let p = 0; p < count; p++) {
    const probe = (): void => {
      if (sim.phase !== 'safety') return;
      const via = prng.pick(host.agents());
      host.request(via, { type: 'operator.autopilot.health' }, timeoutMs, (r) => {
        const heartbeatMs = host.heartbeatMs();
        if (r?.status === 200 && heartbeatMs !== null) {
          judged++;
          const problem = checkAutopilotAnswer(r.body, heartbeatMs);
          if (problem !== null) sim.violation(`autopilot: ${via} answered ${problem}`);
        }
        if (sim.phase === 'safety') sim.after(200 + prng.below(400), probe);
      });
    };
    sim.after(2000 + prng.below(500), probe);
  }
}

interface ServerHealth {
  readonly Name?: unknown;
  readonly SerfStatus?: unknown;
  readonly Leader?: unknown;
  readonly LastContactMs?: unknown;
  readonly LastTerm?: unknown;
  readonly LastIndex?: unknown;
  readonly Healthy?: unknown;
  readonly Voter?: unknown;
}

/** Null when an autopilot health answer keeps Consul's rules, else the first rule it breaks. */
export function checkAutopilotAnswer(body: unknown, heartbeatMs: number): string | null {
  const health = body as {
    Healthy?: unknown;
    FailureTolerance?: unknown;
    LastContactThresholdMs?: unknown;
    Servers?: unknown;
  } | null;
  if (health === null || typeof health !== 'object' || !Array.isArray(health.Servers)) return 'a malformed health';
  const thresholdMs = health.LastContactThresholdMs;
  if (thresholdMs !== 2 * heartbeatMs)
    return `a last-contact threshold of ${String(thresholdMs)} ms, not two heartbeats (${2 * heartbeatMs} ms)`;
  const servers = health.Servers as ServerHealth[];
  const leaders = servers.filter((x) => x.Leader === true);
  if (leaders.length !== 1) return `${leaders.length} servers marked leader`;
  const leader = leaders[0]!;
  if (leader.LastContactMs !== 0)
    return `the leader ${String(leader.Name)} at last contact ${String(leader.LastContactMs)}`;
  for (const x of servers) {
    const contact = Number(x.LastContactMs);
    const healthy =
      x.SerfStatus === 'alive' &&
      contact >= 0 &&
      contact < thresholdMs &&
      x.LastTerm === leader.LastTerm &&
      Number(leader.LastIndex) - Number(x.LastIndex) <= maxTrailingLogs;
    if (x.Healthy !== healthy)
      return `${String(x.Name)} ${x.Healthy ? 'healthy' : 'unhealthy'} (serf ${String(x.SerfStatus)}, last contact ${contact} ms, term ${String(x.LastTerm)}/${String(leader.LastTerm)}, index ${String(x.LastIndex)}/${String(leader.LastIndex)})`;
  }
  const all = servers.every((x) => x.Healthy === true);
  if (health.Healthy !== all)
    return `cluster ${health.Healthy ? 'healthy' : 'unhealthy'}, servers ${all ? 'all' : 'not all'} healthy`;
  const voters = servers.filter((x) => x.Voter === true);
  const tolerance = Math.max(0, voters.filter((x) => x.Healthy === true).length - (Math.floor(voters.length / 2) + 1));
  if (health.FailureTolerance !== tolerance)
    return `a failure tolerance of ${String(health.FailureTolerance)}, not ${tolerance} (${voters.length} voters)`;
  return null;
}
