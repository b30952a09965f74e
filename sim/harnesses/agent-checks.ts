/**
 * The agent-check workload of the agent harness (opt-in, `set checkClients N`): what a service's health
 * reporter does with TTL checks (Consul's `PUT /v1/agent/check/update|pass`, and `agent/service/register`
 * for the service it reports on). Process p works on one agent (node p mod the node count) and owns there:
 *
 *  - `st<p>`, a TTL check whose TTL outlasts the run, whose status and output it sets with
 *    `agent.check.update`, or only its output (the same status, a new output) — half the time followed at
 *    once by a change of status, which reaches the agent while the push of the first is in flight;
 *  - `hb<p>`, a heartbeat TTL check (`heartbeatTtlMs`) it passes every 0.3–0.7 s while the agent answers;
 *  - now and then a service `hc<p>`, registered or deregistered. With `set checkServiceChecks 1` the service
 *    carries a TTL check (`service:hc<p>`, registered critical), which the process passes or warns in the same
 *    instant it sends the registration: the update reaches the agent while the service's push (which carries
 *    its checks) is in flight, and `checks-synced` then holds the catalog to the status the agent ends with.
 *
 * Four rules, all observing (sim/harnesses/agent.ts calls them):
 *
 *  - **Local state** — when the agent acknowledges a registration or an update of `st<p>`, it holds what the
 *    process set: registered without a status, critical with an empty output (Consul's default); updated,
 *    the status and the output of the update. Skipped when the agent restarted since the request left (the
 *    restored check is the registered one again). Only the owner touches the check, so nothing else can
 *    change it in between.
 *  - **Kept across restarts** — the agent holds `hc<p>` exactly when the last answered request about it was an
 *    acknowledged registration (a deregistration, or its 404, says it does not), however often the agent
 *    restarted since: Consul persists API-registered services and purges a deregistered one (checkServiceKept).
 *  - **TTL** — a heartbeat check expires ('TTL expired', `agent.checkTtlMissed`) no sooner than its TTL
 *    after the agent applied the last pass (the time of the request's input at that agent, on its clock).
 *  - **`expect checks-synced`** (part of liveness, as `catalog-synced`): every live agent's services are in
 *    the leader's catalog (id and port) and its checks with the agent's status, and nothing else of its node
 *    is. Outputs are not compared: a change of output alone rides along with the next sync (Consul's
 *    check_update_interval), which may be the next full sync. A scenario that sets `antiEntropyMs` beyond
 *    its length has no periodic full sync in the run, so only the sync on change can bring a change there:
 *    one it marks in sync without having pushed, or never queues, stays wrong to the end. One exception,
 *    Consul's too: a service deregistered on an agent that restarted before it pushed the deregistration
 *    (the queue is not kept on disk) stays in the catalog until the agent's next full sync.
 *
 * Draws from its own random stream, so scenarios without it draw exactly what they drew before.
 */
import type { AgentRequest } from '../../core/agent/api.js';
import type { AgentState } from '../../core/agent/state.js';
import { nodeSpec } from '../../core/agent/antiEntropy.js';
import type { CheckStatus } from '../../core/types.js';
import type { NodeId } from '../../core/types.js';
import type { SimApi } from '../harness.js';
import type { Scenario } from '../scenario.js';
import type { LocalStateHost, RequestHost } from './agent-host.js';

/** The simulator's timer resolution (ms): a timer fires within a microsecond of its local deadline. */
const timerResolutionMs = 0.001;
/** The heartbeat checks' TTL (ms): passes come every 0.3–0.7 s, so only a lost re-arm lets one expire. */
export const heartbeatTtlMs = 1500;
/** The status checks' TTL (ms): longer than any run, so only the process changes them. */
const statusTtlMs = 3_600_000;
const statuses: readonly CheckStatus[] = ['passing', 'warning', 'critical'];

/** What the agent of process p must hold for `st<p>` after an acknowledged request. */
interface Expected {
  readonly status: CheckStatus;
  readonly output: string;
}

/** What the workload needs from the agent harness. */
export type ChecksHost = RequestHost & LocalStateHost;

/** Per run: when each agent last applied a pass of each heartbeat check (its own clock), by `node/checkId`. */
export class ChecksActivity {
  readonly passAppliedMs = new Map<string, number>();
  /** When each `node/serviceId` was last asked to deregister (global time). */
  readonly deregisteredMs = new Map<string, number>();
  acknowledged = 0;
  ttlExpiries = 0;
}

export function startChecks(
  sim: SimApi,
  scenario: Scenario,
  count: number,
  host: ChecksHost,
  activity: ChecksActivity,
): void {
  if (count === 0) return;
  const prng = sim.random('agent-checks');
  const serviceChecks = scenario.params['checkServiceChecks'] === '1';
  const timeoutMs = Number(scenario.params['requestTimeoutMs'] ?? 3000);
  sim.at(scenario.safetyMs, () =>
    sim.log(
      `agent-checks: ${activity.acknowledged} check requests acknowledged and checked, ${activity.ttlExpiries} heartbeat expiries`,
    ),
  );
  for (let p = 0; p < count; p++) {
    const node = sim.nodeIds[p % sim.nodeIds.length]!;
    const status = `st${p}`;
    const heartbeat = `hb${p}`;
    let outputs = 0;
    const later = (ms: number, fn: () => void): void => {
      if (sim.phase === 'safety') sim.after(ms, fn);
    };
    /** An acknowledged request about `st<p>`: the agent must hold `expected` now (unless it restarted). */
    const verify = (sentMs: number, expected: Expected, what: string): void => {
      activity.acknowledged++;
      const agent = host.agentOf(node);
      if (agent === null || host.startedSince(node, sentMs)) return;
      const check = agent.checks.get(status);
      if (check === undefined)
        return sim.violation(`agent-checks: ${node} acknowledged ${what} of ${status}, which it does not hold`);
      if (check.status !== expected.status || check.output !== expected.output)
        sim.violation(
          `agent-checks: ${node} acknowledged ${what} of ${status} (${expected.status}, '${expected.output}') but holds (${check.status}, '${check.output}')`,
        );
    };
    const register = (then: () => void): void => {
      const sentMs = sim.nowMs;
      const body: AgentRequest = {
        type: 'agent.check.register',
        check: { id: status, name: status, ttlMs: statusTtlMs },
      };
      host.request(node, body, timeoutMs, (r) => {
        if (r?.status !== 200) return later(500 + prng.below(500), () => register(then));
        verify(sentMs, { status: 'critical', output: '' }, 'the registration');
        const hb: AgentRequest = {
          type: 'agent.check.register',
          check: { id: heartbeat, name: heartbeat, ttlMs: heartbeatTtlMs },
        };
        host.request(node, hb, timeoutMs, (r2) => {
          if (r2?.status !== 200) return later(500 + prng.below(500), () => register(then));
          then();
        });
      });
    };
    const update = (burst: number, change: boolean): void => {
      const agent = host.agentOf(node);
      const current = agent?.checks.get(status)?.status;
      // A third of the updates change only the output (Consul pushes those with the next sync); the second
      // of a burst changes the status.
      const next = change
        ? prng.pick(statuses.filter((x) => x !== current))
        : current !== undefined && prng.below(3) === 0
          ? current
          : prng.pick(statuses);
      const expected = { status: next, output: `out ${p}.${++outputs}` };
      const sentMs = sim.nowMs;
      const body: AgentRequest = { type: 'agent.check.update', id: status, status: next, output: expected.output };
      host.request(node, body, timeoutMs, (r) => {
        if (r?.status === 200) verify(sentMs, expected, 'an update');
        if (burst > 0) return update(burst - 1, true);
        later(200 + prng.below(600), act);
      });
    };
    /**
     * Whether the agent must hold `hc<p>`: after an acknowledged registration yes, after an acknowledged
     * deregistration (or a 404) no, whatever restarts came in between; null while a request about it went
     * unanswered (it may or may not have been done, and kept on disk).
     */
    let serviceHeld: boolean | null = null;
    const act = (): void => {
      const roll = prng.below(10);
      const service = `hc${p}`;
      checkServiceKept(sim, node, service, serviceHeld, host.agentOf(node));
      if (roll < 7) return update(prng.below(2), false);
      const key = `${node}/${service}`;
      // Asked (and maybe done, if unanswered) from now; a 404 says the agent had no such service.
      const askedBefore = activity.deregisteredMs.get(key);
      if (roll >= 9) activity.deregisteredMs.set(key, sim.nowMs);
      const body: AgentRequest =
        roll < 9
          ? {
              type: 'agent.service.register',
              service: {
                name: service,
                port: 9000 + p,
                ...(serviceChecks ? { checks: [{ ttlMs: statusTtlMs }] } : {}),
              },
            }
          : { type: 'agent.service.deregister', id: service };
      serviceHeld = null;
      // `set checkServiceChecks 1`: the service's own check is set at once, without waiting for the
      // registration's answer (which comes after its push), so the change meets that push in flight.
      if (roll < 9 && serviceChecks)
        host.request(
          node,
          { type: 'agent.check.update', id: `service:${service}`, status: prng.pick(['passing', 'warning'] as const) },
          timeoutMs,
          () => {},
        );
      host.request(node, body, timeoutMs, (r) => {
        if (roll >= 9 && r?.status === 404) {
          if (askedBefore === undefined) activity.deregisteredMs.delete(key);
          else activity.deregisteredMs.set(key, askedBefore);
        }
        serviceHeld = r?.status === 200 ? roll < 9 : roll >= 9 && r?.status === 404 ? false : null;
        later(200 + prng.below(600), act);
      });
    };
    const pass = (): void => {
      host.request(node, { type: 'agent.check.pass', id: heartbeat }, timeoutMs, () =>
        later(300 + prng.below(400), pass),
      );
    };
    sim.after(2000 + prng.below(500), () =>
      register(() => {
        act();
        pass();
      }),
    );
  }
}

/**
 * **Kept across restarts** — Consul persists the services registered through its HTTP API in the data directory
 * and removes the file when one is deregistered (agent/agent.go persistService, purgeService), so an agent
 * holds, after any number of restarts, exactly the API services whose registration it acknowledged last:
 * `held` says whether the last answered request about `service` left it registered (null: unknown, a request
 * went unanswered). A violation when the live agent disagrees.
 */
export function checkServiceKept(
  sim: SimApi,
  node: NodeId,
  service: string,
  held: boolean | null,
  agent: AgentState | null,
): void {
  if (held === null || agent === null || agent.services.has(service) === held) return;
  sim.violation(
    held
      ? `agent-checks: ${node} acknowledged the registration of service ${service} and no deregistration, but does not hold it`
      : `agent-checks: ${node} acknowledged the deregistration of service ${service} and no registration since, but holds it`,
  );
}

/** The input hook: an agent applies a pass of a heartbeat check at this input's time (its clock). */
export function notePass(activity: ChecksActivity, node: NodeId, nowMs: number, request: unknown): void {
  const body = (request as { machine?: string; body?: { type?: string; id?: string } } | null)?.body;
  if (body?.type !== 'agent.check.pass' || typeof body.id !== 'string' || !body.id.startsWith('hb')) return;
  activity.passAppliedMs.set(`${node}/${body.id}`, nowMs);
}

/**
 * The effect hook: a heartbeat check that expired (`agent.checkTtlMissed` at the agent's clock `nowMs`)
 * less than its TTL after a pass was applied is a violation (the pass did not re-arm the deadline).
 */
export function checkTtlMiss(
  sim: SimApi,
  activity: ChecksActivity,
  node: NodeId,
  nowMs: number,
  event: { type: string; id?: unknown },
): void {
  if (event.type !== 'agent.checkTtlMissed' || typeof event.id !== 'string' || !event.id.startsWith('hb')) return;
  activity.ttlExpiries++;
  const passMs = activity.passAppliedMs.get(`${node}/${event.id}`);
  // Within a microsecond (the simulator's timer resolution): a check that expires exactly its TTL after the
  // last pass — the passes stop with the safety phase — reads 1499.9999999 ms in floating point (round L:
  // agent/leave-after-coordinates seeds 138, 149, 180, 212, 225 of 300, pass at 32004.202, expiry at 33504.202).
  if (passMs === undefined || nowMs - passMs >= heartbeatTtlMs - timerResolutionMs) return;
  sim.violation(
    `agent-checks: ${node}'s ${event.id} expired ${Math.round(nowMs - passMs)} ms after a pass it applied (TTL ${heartbeatTtlMs} ms)`,
  );
}

/** What the catalog comparison reads of the leader's store: its node records, services and checks, by node. */
export interface CatalogView {
  readonly nodes: ReadonlyMap<string, { readonly Address: string; readonly Meta: Readonly<Record<string, string>> }>;
  readonly services: ReadonlyMap<string, ReadonlyMap<string, { readonly Port: number }>>;
  readonly checks: ReadonlyMap<string, ReadonlyMap<string, { readonly Status: string; readonly ServiceID?: string }>>;
}

/**
 * Anti-entropy's end state, for `expect catalog-synced` and `expect checks-synced`: every live agent's services
 * (id and port) and checks are in the leader's catalog, and no other service or check of its node is — but the
 * leader's own (serfHealth, a server's `consul` service), and a service `lostQueue` excuses (its deregistration
 * was asked for before the agent restarted). With `statuses`, each check's status must match the agent's too.
 * Null when all hold, else `prefix` and what differs (the first few).
 */
export function catalogMisses(
  agents: readonly { readonly node: NodeId; readonly agent: AgentState }[],
  catalog: CatalogView,
  options: {
    readonly statuses: boolean;
    readonly lostQueue: (node: NodeId, serviceId: string) => boolean;
    readonly prefix: string;
  },
): string | null {
  const misses: string[] = [];
  for (const { node, agent } of agents) {
    // The node record, where there is one: anti-entropy keeps the agent's address and node_meta there (Consul's
    // syncNodeInfo). The leader's reconcile re-creates a deregistered node with its address alone; the agent's
    // comparison of the node (its full sync) must put the meta back.
    const record = catalog.nodes.get(node);
    if (record !== undefined) {
      const spec = nodeSpec(agent);
      if (record.Address !== spec.address)
        misses.push(`${node}'s node has address ${record.Address} in the catalog, ${spec.address} on the agent`);
      else if (metaText(record.Meta) !== metaText(spec.meta))
        misses.push(
          `${node}'s node meta is ${metaText(record.Meta)} in the catalog, ${metaText(spec.meta)} on the agent`,
        );
    }
    const services = catalog.services.get(node) ?? new Map<string, { readonly Port: number }>();
    for (const service of agent.services.values()) {
      const there = services.get(service.id);
      if (there === undefined || there.Port !== service.port)
        misses.push(`${node}'s service ${service.id}:${service.port} is not in the catalog`);
    }
    for (const [id, there] of services)
      if (id !== 'consul' && !agent.services.has(id) && !options.lostQueue(node, id))
        misses.push(`the catalog still has ${node}'s service ${id}:${there.Port}`);
    const remote =
      catalog.checks.get(node) ?? new Map<string, { readonly Status: string; readonly ServiceID?: string }>();
    for (const check of agent.checks.values()) {
      const there = remote.get(check.id);
      if (there === undefined) misses.push(`${node}'s check ${check.id} is not in the catalog`);
      else if (options.statuses && there.Status !== check.status)
        misses.push(`${node}'s check ${check.id} is ${check.status} on the agent, ${there.Status} in the catalog`);
    }
    // A service whose deregistration a restart lost keeps its checks in the catalog with it (round L: service
    // checks, `checkServiceChecks`).
    for (const [id, there] of remote)
      if (
        id !== 'serfHealth' &&
        !agent.checks.has(id) &&
        !(there.ServiceID && options.lostQueue(node, there.ServiceID))
      )
        misses.push(`the catalog still has ${node}'s check ${id}`);
  }
  return misses.length === 0 ? null : `${options.prefix}: ${misses.slice(0, 4).join('; ')}`;
}

/** A meta record as text with its keys sorted, for comparison and messages. */
function metaText(meta: Readonly<Record<string, string>> | undefined): string {
  return JSON.stringify(Object.entries(meta ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** `expect checks-synced`: catalogMisses with the checks' statuses compared. */
export function checksSyncMisses(
  agents: readonly { readonly node: NodeId; readonly agent: AgentState }[],
  catalog: CatalogView,
  lostQueue: (node: NodeId, serviceId: string) => boolean,
): string | null {
  return catalogMisses(agents, catalog, { statuses: true, lostQueue, prefix: 'checks not in sync' });
}

/** A monitor check's result an agent is stepping (the input hook notes it; the step hook judges it). */
export interface CheckResultInput {
  readonly node: NodeId;
  /** `[agent:]<generation>/<checkId>`, as the agent's runCheck effect named it (the runtime adds the owner). */
  readonly checkId: string;
  readonly status: CheckStatus;
}

/**
 * **A monitor check holds its last result** (the step hook, after an agent stepped a `checkResult`): Consul's
 * CheckMonitor maps a script's exit code 0 to passing, 1 to warning and anything else to critical (an HTTP
 * check: 2xx passing, 429 warning, else critical), and the check holds that status once the result is in —
 * a warning is not a failure (consul docs, "Checks": "exit code 1 — check is warning"). The simulator hands
 * the agent the status itself (`checkFailPercent`, `checkWarnPercent`), so after the step the agent's check
 * of that generation must hold it. A result for a check re-registered meanwhile (another generation) is
 * ignored by the agent, and here.
 */
export function checkResultApplied(input: CheckResultInput, agent: AgentState | null): string | null {
  if (agent === null) return null;
  // The runtime names the effect's owner in front (`agent:<generation>/<checkId>`); the check id may hold colons.
  const slash = input.checkId.indexOf('/');
  const head = input.checkId.slice(0, slash);
  const check = agent.checks.get(input.checkId.slice(slash + 1));
  const generation = Number(head.slice(head.lastIndexOf(':') + 1));
  if (slash < 0 || check === undefined || check.generation !== generation) return null;
  if (check.status === input.status) return null;
  return `${input.node}: check ${check.id} ran ${input.status} but the agent holds it ${check.status}`;
}
