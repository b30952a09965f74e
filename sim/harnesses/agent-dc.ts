/**
 * Timeline actions and expectations of the `agent` harness about what crosses datacenters besides KV
 * (issue 17): prepared queries that fail over, and user events fired in another DC.
 *
 *   at 3s health n4 api passing        n4 registers service `api` with a TTL check in that status
 *                                      (again: the check's status changes; critical makes it unhealthy)
 *   at 5s query-create n1 api nearest=1 dcs=dc3,dc2
 *                                      a prepared query named `api` on service `api` with that Failover
 *   at 9s query n5 api dc2             n5 executes it; the answer must come from dc2 with ≥ 1 node
 *                                      (`none`: it must be empty), counting 0 failovers from its own
 *                                      DC and ≥ 1 from another; checked by `expect queries`
 *   at 9s event n5 deploy dc2          n5 fires user event `deploy` with `?dc=dc2`
 *   expect queries                     every `query` action was answered as it said
 *   expect event deploy dc2            every live agent of dc2 received `deploy`, no agent elsewhere did
 *
 * Every answer is logged as a sentence, so the golden transcript shows which DC served each query.
 */
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import type { NodeId } from '../../core/types.js';
import type { AgentState } from '../../core/agent/machine.js';
import type { SimApi } from '../harness.js';
import type { Scenario } from '../scenario.js';

export const dcActions = ['health', 'query-create', 'query', 'event'] as const;

/** A `query` action: what it asked and what came back (null until answered). */
interface QueryCheck {
  readonly node: NodeId;
  readonly name: string;
  readonly want: string;
  got: string | null;
}

/** What this simulation's DC actions saw (kept on the harness's run state). */
export class DcActivity {
  readonly queries: QueryCheck[] = [];
}

const requestTimeoutMs = 10_000;

function send(sim: SimApi, node: NodeId, body: AgentRequest, then: (response: AgentResponse | undefined) => void) {
  sim.request(node, { machine: 'agent', body }, requestTimeoutMs, (r) => then(r as AgentResponse | undefined));
}

function knownDc(scenario: Scenario, dc: string): boolean {
  return scenario.datacenters.some((d) => d.name === dc);
}

/** Checks an action's arguments (sim null: at parse time) and, with a simulation, runs it. */
export function actDc(
  sim: SimApi | null,
  action: string,
  args: readonly string[],
  activity: DcActivity | null,
): string | null {
  const node = args[0];
  // At parse time (no simulation) the DCs are not known yet: a DC name is checked when the action runs.
  const dcKnown = (dc: string): boolean => sim === null || knownDc(sim.scenario, dc);
  switch (action) {
    case 'health': {
      const [, service, status] = args;
      if (args.length !== 3 || (status !== 'passing' && status !== 'critical'))
        return 'health takes NODE SERVICE passing|critical';
      if (sim === null) return null;
      const check = { id: `${service}-ttl`, name: `${service}-ttl`, ttlMs: 3_600_000, status } as const;
      send(
        sim,
        node!,
        { type: 'agent.service.register', service: { name: service!, port: 8080, checks: [check] } },
        (r) => sim.log(`harness: ${service} on ${node} set ${status} (${r ? r.status : 'no answer'})`),
      );
      return null;
    }
    case 'query-create': {
      if (args.length < 3) return 'query-create takes NODE NAME SERVICE [nearest=N] [dcs=DC,DC]';
      const failover: { NearestN?: number; Datacenters?: string[] } = {};
      for (const option of args.slice(3)) {
        const [key, value] = option.split('=');
        if (key === 'nearest' && /^\d+$/.test(value ?? '')) failover.NearestN = Number(value);
        else if (key === 'dcs' && value) failover.Datacenters = value.split(',');
        else return `query-create: unknown option '${option}' (nearest=N, dcs=DC,DC)`;
      }
      if (sim === null) return null;
      const definition = { Name: args[1]!, Service: { Service: args[2]!, Failover: failover } };
      send(sim, node!, { type: 'query.create', definition }, (r) =>
        sim.log(`harness: prepared query ${args[1]} created on ${node} (${r ? r.status : 'no answer'})`),
      );
      return null;
    }
    case 'query': {
      const want = args[2];
      if (args.length !== 3 || want === undefined || (want !== 'none' && !dcKnown(want)))
        return 'query takes NODE NAME DC|none (the DC that must answer with nodes, or none)';
      if (sim === null) return null;
      const check: QueryCheck = { node: node!, name: args[1]!, want, got: null };
      activity!.queries.push(check);
      const request = { type: 'query.execute', idOrName: args[1]!, read: { consistency: 'default' } } as const;
      send(sim, node!, request, (r) => {
        const body = r?.status === 200 ? (r.body as { Datacenter: string; Failovers: number; Nodes: unknown[] }) : null;
        // Consul's `Failovers` counts the DCs asked, the one that answered included: 0 for an answer from
        // here, at least 1 from another DC (an answer that says otherwise is judged wrong by `expect queries`).
        const home = sim.scenario.datacenters.find((d) => d.nodes.includes(node!))?.name;
        const miscounted =
          body !== null &&
          (body.Datacenter === home ? body.Failovers !== 0 : body.Nodes.length > 0 && body.Failovers < 1);
        check.got =
          body === null
            ? `error ${r ? `${r.status} ${r.error ?? ''}` : 'timeout'}`
            : miscounted
              ? `${body.Datacenter} counting ${body.Failovers} failover(s)`
              : body.Nodes.length === 0
                ? 'none'
                : body.Datacenter;
        sim.log(
          body === null
            ? `harness: query ${args[1]} on ${node} failed: ${check.got}`
            : `harness: query ${args[1]} on ${node} answered by ${body.Datacenter} after ${body.Failovers} failover(s) with ${body.Nodes.length} node(s)`,
        );
      });
      return null;
    }
    case 'event': {
      const dc = args[2];
      if (args.length < 2 || args.length > 3 || (dc !== undefined && !dcKnown(dc))) return 'event takes NODE NAME [DC]';
      if (sim === null) return null;
      const request = { type: 'event.fire', name: args[1]!, payload: null, ...(dc ? { dc } : {}) } as const;
      send(sim, node!, request, (r) =>
        sim.log(`harness: event ${args[1]} fired on ${node}${dc ? ` for ${dc}` : ''} (${r ? r.status : 'no answer'})`),
      );
      return null;
    }
    default:
      return null;
  }
}

/** `expect queries` and `expect event NAME DC`; undefined for any other name. */
export function expectDc(
  sim: SimApi,
  name: string,
  args: readonly string[],
  activity: DcActivity,
  agentOf: (nodeId: NodeId) => AgentState | null,
): string | null | undefined {
  if (name === 'queries') {
    if (activity.queries.length === 0) return 'no query action ran';
    const wrong = activity.queries.filter((q) => q.got !== q.want);
    return wrong.length === 0
      ? null
      : wrong.map((q) => `query ${q.name} on ${q.node}: wanted ${q.want}, got ${q.got ?? 'no answer'}`).join('; ');
  }
  if (name === 'event') {
    const [event, dc] = args;
    if (event === undefined || dc === undefined || !knownDc(sim.scenario, dc)) return 'event takes NAME DC';
    const inDc = new Set(sim.scenario.datacenters.find((d) => d.name === dc)!.nodes);
    const problems: string[] = [];
    for (const id of sim.nodeIds) {
      const agent = agentOf(id);
      if (agent === null || !sim.isUp(id)) continue;
      const has = agent.events.some((e) => e.Name === event);
      if (inDc.has(id) && !has && !agent.left) problems.push(`${id} (${dc}) did not receive ${event}`);
      if (!inDc.has(id) && has) problems.push(`${id} outside ${dc} received ${event}`);
    }
    return problems.length === 0 ? null : problems.join('; ');
  }
  return undefined;
}
