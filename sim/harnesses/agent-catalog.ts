/**
 * The catalog and health workload of the agent harness (opt-in, `set catalogClients N`): what
 * consul-esm and every external-service registration do, and what every service-discovery client reads.
 * Each process registers an external node (`e1`..`e3`, no agent behind it) with the service `ext` and
 * one service check `ext-alive` in a drawn status (passing, warning or critical) through `PUT
 * /v1/catalog/register`, deregisters a whole node (`PUT /v1/catalog/deregister`), or reads — `GET
 * /v1/health/service/ext`, the same with `?passing`, or `GET /v1/catalog/nodes` — in a drawn
 * consistency mode, through random agents (servers and clients alike, so forwarding is on the path).
 * Now and then it also registers or deregisters a service `loc0`..`loc2` on an agent (`PUT
 * /v1/agent/service/register`), or removes one from the catalog behind its agent's back, and
 * anti-entropy must bring the catalog back to what the agents host (`expect catalog-synced`).
 *
 * The check at the end of the run: the history of the consistent reads and every catalog write is
 * linearizable against a map model (external node → status of its check), where a health read answers
 * every registered node with its status, a `?passing` read only the nodes whose every check passes, and
 * a node list every registered external node. So a catalog write lost or applied twice, a
 * deregistration that leaves the node, its service or its check behind, a status not updated, or a
 * health filter that lets a warning or critical instance through all fail it. Draws from its own random
 * stream, so scenarios without it draw exactly what they drew before.
 */
import type { AgentRequest, AgentResponse, Consistency } from '../../core/agent/api.js';
import { assert } from '../../core/assert.js';
import { checkHistory, UNKNOWN, type LinOp } from '../checkers/lin/index.js';
import { hashString } from '../checkers/lin/models.js';
import type { Model, StepResult } from '../checkers/lin/types.js';
import type { SimApi } from '../harness.js';
import type { Operation } from '../history.js';
import type { Scenario } from '../scenario.js';
import { readModeDrawer } from './agent-reads.js';
import type { AgentsHost } from './agent-host.js';

export const catalogNodes = ['e1', 'e2', 'e3'] as const;
export const catalogService = 'ext';
export const catalogCheckId = 'ext-alive';
export const catalogStatuses = ['passing', 'warning', 'critical'] as const;
type Status = (typeof catalogStatuses)[number];
/** History key of the workload's operations (apart from the KV keys; their `f` is `catalog.<op>`, never a KV op's). */
const historyKey = `catalog:${catalogService}`;
/** Process ids of the catalog clients: after every other workload's. */
const processBase = 10_000;

export interface CatalogInput {
  readonly f: 'register' | 'deregister' | 'read';
  readonly node?: string;
  readonly status?: Status;
  /** read: what is read — health/service/ext, the same `?passing`, or the external nodes of catalog/nodes. */
  readonly what?: 'health' | 'passing' | 'nodes';
}

/** What the workload needs from the agent harness. */
export interface CatalogHost extends AgentsHost {
  /** The write was refused before it reached a log (`No cluster leader` …): it did not happen. */
  readonly definitelyNotApplied: (r: AgentResponse | undefined) => boolean;
}

export function startCatalog(sim: SimApi, scenario: Scenario, count: number, host: CatalogHost): void {
  if (count === 0) return;
  const prng = sim.random('catalog');
  const readMode = readModeDrawer(prng, scenario);
  const timeoutMs = Number(scenario.params['requestTimeoutMs'] ?? 3000);
  for (let c = 0; c < count; c++) {
    const process = processBase + c;
    const next = (): void => {
      if (sim.phase === 'safety') sim.after(1 + prng.below(200), issue);
    };
    const issue = (): void => {
      if (sim.phase !== 'safety') return;
      const via = prng.pick(host.agents());
      const roll = prng.below(20);
      if (roll >= 11 && roll < 13) {
        // An agent-hosted service comes or goes (not in the model: anti-entropy is eventual), or an
        // operator removes one from the catalog behind its agent's back (`consul catalog deregister`
        // of an agent's service), which the agent's next full sync must register again.
        const id = `loc${prng.below(3)}`;
        const kind = prng.below(3);
        const body: AgentRequest =
          kind === 0
            ? { type: 'agent.service.register', service: { name: id, port: 7000 + prng.below(100) } }
            : kind === 1
              ? { type: 'agent.service.deregister', id }
              : { type: 'catalog.deregister', node: prng.pick(host.agents()), serviceId: id };
        host.request(via, body, timeoutMs, () => next());
        return;
      }
      if (roll < 11) {
        const node = prng.pick(catalogNodes);
        const input: CatalogInput =
          roll < 8 ? { f: 'register', node, status: prng.pick(catalogStatuses) } : { f: 'deregister', node };
        const op = sim.history.invoke(process, `catalog.${input.f}`, input, via, sim.nowMs, historyKey);
        const body =
          input.f === 'register'
            ? {
                type: 'catalog.register' as const,
                node,
                address: `10.0.9.${catalogNodes.indexOf(node) + 1}`,
                service: { name: catalogService, id: catalogService, port: 8080 },
                checks: [{ id: catalogCheckId, name: 'ext alive', serviceId: catalogService, status: input.status! }],
              }
            : { type: 'catalog.deregister' as const, node };
        host.request(via, body, timeoutMs, (response) => {
          if (response?.status === 200) sim.history.complete(op, 'ok', true, sim.nowMs);
          else if (host.definitelyNotApplied(response)) sim.history.complete(op, 'fail', response!.error, sim.nowMs);
          else sim.history.complete(op, 'unknown', undefined, sim.nowMs);
          next();
        });
        return;
      }
      const mode = readMode();
      const what = prng.pick(['health', 'passing', 'nodes'] as const);
      const input: CatalogInput = { f: 'read', what };
      const op = sim.history.invoke(process, 'catalog.read', { ...input, mode }, via, sim.nowMs, historyKey);
      const read = { consistency: mode };
      const body: AgentRequest =
        what === 'nodes'
          ? { type: 'catalog.nodes', read }
          : { type: 'health.service', service: catalogService, passing: what === 'passing', read };
      host.request(via, body, timeoutMs, (response) => {
        if (response?.status === 200) {
          const seen = what === 'nodes' ? renderNodes(response.body) : renderHealth(response.body);
          if (typeof seen === 'string') sim.history.complete(op, 'ok', seen, sim.nowMs);
          else {
            sim.violation(`catalog: ${via} answered a ${what} read with ${seen.malformed}`);
            sim.history.complete(op, 'fail', undefined, sim.nowMs);
          }
        } else sim.history.complete(op, 'fail', response?.error, sim.nowMs); // a failed read constrains nothing
        next();
      });
    };
    sim.after(2000 + prng.below(200), issue);
  }
}

/**
 * A health/service answer as the model's state text: `node=status` of each instance, sorted, comma
 * separated (the status of its `ext-alive` check), or what is malformed about it.
 */
export function renderHealth(body: unknown): string | { malformed: string } {
  if (!Array.isArray(body)) return { malformed: 'a body that is not a list' };
  const parts: string[] = [];
  for (const entry of body as { Node?: { Node?: unknown }; Checks?: { CheckID?: unknown; Status?: unknown }[] }[]) {
    const node = entry?.Node?.Node;
    if (typeof node !== 'string') return { malformed: 'an entry without Node.Node' };
    const check = (entry.Checks ?? []).find((c) => c?.CheckID === catalogCheckId);
    if (check === undefined || typeof check.Status !== 'string')
      return { malformed: `an instance on ${node} without its ${catalogCheckId} check` };
    parts.push(`${node}=${check.Status}`);
  }
  return render(parts);
}

/** A catalog/nodes answer as the external nodes it lists, sorted, comma separated. */
export function renderNodes(body: unknown): string | { malformed: string } {
  if (!Array.isArray(body)) return { malformed: 'a body that is not a list' };
  const names: string[] = [];
  for (const entry of body as { Node?: unknown }[]) {
    if (typeof entry?.Node !== 'string') return { malformed: 'an entry without Node' };
    if ((catalogNodes as readonly string[]).includes(entry.Node)) names.push(entry.Node);
  }
  return render(names);
}

function render(parts: string[]): string {
  return parts.sort().join(',');
}

/**
 * The map model: state `node=status,…` sorted; a health read answers all of it, a `?passing` read only
 * its passing part, a node list the nodes alone.
 */
export const catalogModel: Model<string, CatalogInput, unknown> = {
  name: 'catalog',
  init: () => '',
  step(state: string, input: CatalogInput, output: unknown): StepResult<string> {
    const entries = state === '' ? [] : state.split(',');
    if (input.f === 'read') {
      if (output === UNKNOWN) return { ok: true, next: state };
      const expected =
        input.what === 'passing'
          ? render(entries.filter((e) => e.endsWith('=passing')))
          : input.what === 'nodes'
            ? render(entries.map((e) => e.slice(0, e.indexOf('='))))
            : state;
      return { ok: output === expected, next: state };
    }
    const others = entries.filter((e) => !e.startsWith(`${input.node}=`));
    if (input.f === 'deregister') return { ok: true, next: render(others) };
    assert(input.f === 'register', 'catalog model: register, deregister or read');
    return { ok: true, next: render([...others, `${input.node}=${input.status}`]) };
  },
  hash: hashString,
  equal: (a, b) => a === b,
  describeOperation(input, output) {
    if (input.f === 'read')
      return `${input.what === 'nodes' ? 'nodes' : input.what === 'passing' ? 'health?passing' : 'health'}() -> ${output === UNKNOWN ? '?' : JSON.stringify(output)}`;
    const what = input.f === 'register' ? `register(${input.node}=${input.status})` : `deregister(${input.node})`;
    return `${what}${output === UNKNOWN ? ' -> ?' : ''}`;
  },
  describeState: (state) => JSON.stringify(state),
  readOnly: (input) => input.f === 'read',
  acceptsUnknown: true,
};

/** The workload's operations as the model reads them: every write that may have happened, consistent reads. */
export function catalogLinOps(ops: readonly Operation[]): LinOp<CatalogInput, unknown>[] {
  const out: LinOp<CatalogInput, unknown>[] = [];
  for (const op of ops) {
    if (op.key !== historyKey || op.outcome === 'fail') continue;
    const input = op.input as CatalogInput & { mode?: Consistency };
    if (input.f === 'read' && (op.outcome !== 'ok' || input.mode !== 'consistent')) continue;
    const unknown = op.outcome === undefined || op.outcome === 'unknown';
    out.push({
      id: op.id,
      process: op.process,
      input: {
        f: input.f,
        ...(input.node !== undefined ? { node: input.node } : {}),
        ...(input.status !== undefined ? { status: input.status } : {}),
        ...(input.what !== undefined ? { what: input.what } : {}),
      },
      output: unknown ? UNKNOWN : input.f === 'read' ? op.output : true,
      callTime: op.invokeMs,
      returnTime: unknown ? Infinity : op.completeMs!,
    });
  }
  return out;
}

/** The end-of-run verdict: problems (empty when linearizable), and a log line. */
export function checkCatalog(sim: SimApi, timeoutMs: number): string[] {
  const ops = catalogLinOps(sim.history.ops);
  const invoked = sim.history.ops.filter((op) => op.key === historyKey);
  const failed = invoked.filter((op) => op.outcome === 'fail').length;
  const unknown = invoked.filter((op) => op.outcome === undefined || op.outcome === 'unknown').length;
  if (ops.length === 0) return [];
  const result = checkHistory(ops, catalogModel, { timeoutMs });
  if (result.linearizable === false) {
    const explanation = result.explanation ? JSON.stringify(result.explanation).slice(0, 600) : '';
    return [`catalog history of ${ops.length} operations is not linearizable: ${explanation}`];
  }
  sim.log(
    result.linearizable === 'unknown'
      ? `catalog: linearizability check of ${ops.length} operations ran out of time: no verdict`
      : `catalog: ${ops.length} catalog/health operations linearizable (${Math.round(result.ms)} ms; of ${invoked.length} invoked, ${failed} failed, ${unknown} unknown)`,
  );
  return [];
}
