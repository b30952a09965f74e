/**
 * Sessions tied to a service's health check (kv harness, opt-in: `set sessionChecks service`), and the
 * rule that goes with every session whatever its checks.
 *
 * Consul's sessions documentation: a session is invalidated when "any of the health checks go to the
 * critical state". A lock client that ties its session to its service's check instead of its node's
 * serfHealth (`NodeChecks: []`, `ServiceChecks: [id]`) gives up its locks when its service fails while
 * its node stays up — the recipe for leader election among service instances. The workload here is
 * that service's agent: every node registers service `lock-svc` with check `lock-svc-alive`, and
 * reports the check's status now and then (one report in three critical; with `serviceWarnPercent`, some of
 * the others warning) while the safety phase lasts;
 * then it reports passing once, so that the liveness phase can take the lock again.
 *
 * The rule (checked by the kv harness's store checker after every apply, on every node): no session
 * outlives a check it is tied to going critical — after any command, no session names a node or
 * service check of its node that is critical. (A check that is not registered is not judged here.)
 */
import type { StoreState } from '../../core/store/state.js';
import type { StoreCommand } from '../../core/store/types.js';
import type { SimApi } from '../harness.js';

export const lockServiceName = 'lock-svc';
export const lockServiceCheckId = 'lock-svc-alive';

/** The checks part of a lock client's session spec for `sessionChecks` (serf: the store's default, serfHealth). */
export function sessionChecksFor(mode: string | undefined): {
  nodeChecks?: readonly string[];
  serviceChecks?: readonly string[];
} {
  if (mode === 'none') return { nodeChecks: [] };
  if (mode === 'service') return { nodeChecks: [], serviceChecks: [lockServiceCheckId] };
  return {};
}

/** The rule: every session's checks that are registered on its node are not critical. */
export function sessionsOnCriticalChecks(state: StoreState): string[] {
  const problems: string[] = [];
  for (const session of state.sessions.values()) {
    const checks = state.checks.get(session.Node);
    for (const id of [...session.NodeChecks, ...session.ServiceChecks]) {
      if (checks?.get(id)?.Status === 'critical')
        problems.push(
          `session ${session.ID} outlives its check ${session.Node}/${id} going critical (a session is invalidated when any of its checks is critical)`,
        );
    }
  }
  return problems;
}

/**
 * The service's agent on every node: registers `lock-svc` with its check passing, then about every
 * `everyMs` reports a fresh status (critical one time in three). Draws from its own stream, only when on.
 */
export function startLockServiceHealth(
  sim: SimApi,
  everyMs: number,
  propose: (command: StoreCommand, deadlineMs: number, done: (ok: boolean) => void) => void,
  warnPercent = 0,
): void {
  const prng = sim.random('lock-service-health');
  sim.nodeIds.forEach((node, i) => {
    const register = (status: 'passing' | 'warning' | 'critical'): StoreCommand => ({
      type: 'catalogRegister',
      node: { node, address: `10.0.0.${i + 1}` },
      service: { service: lockServiceName, id: lockServiceName, port: 9000 },
      checks: [{ checkId: lockServiceCheckId, name: 'lock service alive', serviceId: lockServiceName, status }],
      nowMs: sim.nowMs,
    });
    const report = (): void => {
      if (sim.phase === 'done') return;
      if (sim.phase !== 'safety') {
        // The service recovers for the liveness phase (until the report lands: a lost one is sent again).
        let landed = false;
        const again = (): void => {
          if (landed || sim.phase === 'done') return;
          propose(register('passing'), sim.nowMs + 1000, (ok) => void (landed = landed || ok));
          sim.after(1000, again);
        };
        return again();
      }
      // `set serviceWarnPercent P` (round L): that share of the passing reports warn instead — a session is
      // invalidated when a check goes critical, not when it warns (the cause rule, sim/checkers/store.ts,
      // then judges a session that ends at a warning). The extra draw only when set.
      const healthy = prng.below(3) === 0 ? 'critical' : 'passing';
      const status = healthy === 'passing' && warnPercent > 0 && prng.chance(warnPercent, 100) ? 'warning' : healthy;
      propose(register(status), sim.nowMs + 1000, () => undefined);
      sim.after(Math.max(1, Math.round(everyMs / 2) + prng.below(Math.max(1, everyMs))), report);
    };
    sim.after(prng.below(200), report);
  });
}
