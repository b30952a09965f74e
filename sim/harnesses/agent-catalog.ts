/**
 * The catalog and health workload of the agent harness (opt-in, `set catalogClients N`): what
 * consul-esm and every external-service registration do, and what every service-discovery client reads.
 * Each process registers an external node (`e1`..`e3`, no agent behind it) with the service `ext` and
 * one service check `ext-alive` in a drawn status (passing, warning or critical) through `PUT
 * /v1/catalog/register`, deregisters a whole node (`PUT /v1/catalog/deregister`), or reads `GET
 * /v1/health/service/ext` — half of the reads with `?passing` — in a drawn consistency mode, through
 * random agents (servers and clients alike, so forwarding is on the path).
 *
 * The check at the end of the run: the history of the consistent reads and every write is linearizable
 * against a map model (node → status of its check), where a read answers every registered node with
 * its status and a `?passing` read only the nodes whose every check passes. So a catalog write lost or
 * applied twice, a deregistration that leaves the node's service or check behind, a status not
 * updated, or a health filter that lets a warning or critical instance through all fail it. Draws from
 * its own random stream, so scenarios without it draw exactly what they drew before.
 */
import type { AgentRequest, AgentResponse, Consistency } from '../../core/agent/api.js';
import { assert } from '../../core/assert.js';
import { checkHistory, UNKNOWN, type LinOp } from '../checkers/lin/index.js';
import { hashString } from '../checkers/lin/models.js';
import type { Model, StepResult } from '../checkers/lin/types.js';
import type { SimApi } from '../harness.js';
import type { Operation } from '../history.js';
import type { Scenario } from '../scenario.js';

export const catalogNodes = ['e1', 'e2', 'e3'] as const;
export const catalogService = 'ext';
export const catalogCheckId = 'ext-alive';
const statuses = ['passing', 'warning', 'critical'] as const;
type Status = (typeof statuses)[number];
/** History key of the workload's operations (apart from the KV keys; their `f` is `catalog.<op>`, never a KV op's). */
const historyKey = `catalog:${catalogService}`;
/** Process ids of the catalog clients: after every other workload's. */
const processBase = 10_000;

export interface CatalogInput {
  readonly f: 'register' | 'deregister' | 'read';
  readonly node?: string;
  readonly status?: Status;
  /** read: `?passing`. */
  readonly passing?: boolean;
}

/** What the workload needs from the agent harness. */
export interface CatalogHost {
  readonly agents: () => readonly string[];
  /** The consistent and default shares of reads (stale gets the rest), and whether every read is stale. */
  readonly readShares: readonly [number, number];
  readonly allStale: boolean;
  readonly request: (
    node: string,
    body: AgentRequest,
    timeoutMs: number,
    done: (r: AgentResponse | undefined) => void,
  ) => void;
  /** The write was refused before it reached a log (`No cluster leader` …): it did not happen. */
  readonly definitelyNotApplied: (r: AgentResponse | undefined) => boolean;
}

export function startCatalog(sim: SimApi, scenario: Scenario, count: number, host: CatalogHost): void {
  if (count === 0) return;
  const prng = sim.random('catalog');
  const [consistentShare, defaultShare] = host.readShares;
  const readMode = (): Consistency => {
    if (host.allStale) return 'stale';
    const roll = prng.below(100);
    return roll < consistentShare ? 'consistent' : roll < consistentShare + defaultShare ? 'default' : 'stale';
  };
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
      if (roll < 11) {
        const node = prng.pick(catalogNodes);
        const input: CatalogInput =
          roll < 8 ? { f: 'register', node, status: prng.pick(statuses) } : { f: 'deregister', node };
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
      const passing = prng.below(2) === 0;
      const input: CatalogInput = { f: 'read', passing };
      const op = sim.history.invoke(process, 'catalog.read', { ...input, mode }, via, sim.nowMs, historyKey);
      const body = { type: 'health.service' as const, service: catalogService, passing, read: { consistency: mode } };
      host.request(via, body, timeoutMs, (response) => {
        if (response?.status === 200) {
          const seen = renderHealth(response.body);
          if (typeof seen === 'string') sim.history.complete(op, 'ok', seen, sim.nowMs);
          else {
            sim.violation(`catalog: ${via} answered health/service/${catalogService} with ${seen.malformed}`);
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

function render(parts: string[]): string {
  return parts.sort().join(',');
}

/** The map model: state `node=status,…` sorted; a read answers all of it, or only its passing part. */
export const catalogModel: Model<string, CatalogInput, unknown> = {
  name: 'catalog',
  init: () => '',
  step(state: string, input: CatalogInput, output: unknown): StepResult<string> {
    const entries = state === '' ? [] : state.split(',');
    if (input.f === 'read') {
      if (output === UNKNOWN) return { ok: true, next: state };
      const expected = input.passing ? render(entries.filter((e) => e.endsWith('=passing'))) : state;
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
      return `health${input.passing ? '?passing' : ''}() -> ${output === UNKNOWN ? '?' : JSON.stringify(output)}`;
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
        ...(input.passing !== undefined ? { passing: input.passing } : {}),
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
  if (ops.length === 0) return [];
  const result = checkHistory(ops, catalogModel, { timeoutMs });
  if (result.linearizable === false) {
    const explanation = result.explanation ? JSON.stringify(result.explanation).slice(0, 600) : '';
    return [`catalog history of ${ops.length} operations is not linearizable: ${explanation}`];
  }
  sim.log(
    result.linearizable === 'unknown'
      ? `catalog: linearizability check of ${ops.length} operations ran out of time: no verdict`
      : `catalog: ${ops.length} catalog/health operations linearizable (${Math.round(result.ms)} ms)`,
  );
  return [];
}
