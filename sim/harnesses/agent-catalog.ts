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
 * health filter that lets a warning or critical instance through all fail it.
 *
 * With `set catalogNodeChecks 1` (round I, session 14) the external nodes carry a node-level check too,
 * as consul-esm's external health checks and node maintenance do: each registration also sets `ext-node`
 * (no service) in its own drawn status, some deregistrations remove only that check, and a prepared query
 * `ext-q` (OnlyPassing, IgnoreCheckIDs `ext-node`) is created once and executed among the reads. Consul's
 * documentation for the model: an instance's health is all of its checks, its node's included —
 * `health/service` lists them and `?passing` keeps an instance only when every one passes — while a
 * prepared query skips the checks its IgnoreCheckIDs names. The model's state then reads
 * `e1=passing+warning` (service check + node check). Half of the removals behind an agent's back then take
 * the client agents' check `service:web` instead of a service, which anti-entropy must restore too (Consul's
 * updateSyncState marks a local check the catalog lacks out of sync). Off, nothing of this is drawn.
 *
 * Draws from its own random stream, so scenarios without it draw exactly what they drew before.
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
/** The address an external node is registered at. */
export const catalogAddressOf = (node: string): string =>
  `10.0.9.${catalogNodes.indexOf(node as (typeof catalogNodes)[number]) + 1}`;
export const catalogService = 'ext';
export const catalogCheckId = 'ext-alive';
/** The node-level check of `set catalogNodeChecks 1`, and the prepared query that ignores it. */
export const catalogNodeCheckId = 'ext-node';
export const catalogQueryName = 'ext-q';
export const catalogStatuses = ['passing', 'warning', 'critical'] as const;
type Status = (typeof catalogStatuses)[number];
/** History key of the workload's operations (apart from the KV keys; their `f` is `catalog.<op>`, never a KV op's). */
const historyKey = `catalog:${catalogService}`;
/** Process ids of the catalog clients: after every other workload's. */
const processBase = 10_000;

export interface CatalogInput {
  /** `deregisterCheck`: only the node's `ext-node` check (with `catalogNodeChecks`). */
  readonly f: 'register' | 'deregister' | 'deregisterCheck' | 'read';
  readonly node?: string;
  readonly status?: Status;
  /** register with `catalogNodeChecks`: the status of the node's `ext-node` check. */
  readonly nodeStatus?: Status;
  /**
   * read: what is read — health/service/ext, the same `?passing`, the external nodes of catalog/nodes, or
   * (with `catalogNodeChecks`) the nodes the prepared query `ext-q` answers.
   */
  readonly what?: 'health' | 'passing' | 'nodes' | 'query';
}

/** What the workload needs from the agent harness. */
export interface CatalogHost extends AgentsHost {
  /** The write was refused before it reached a log (`No cluster leader` …): it did not happen. */
  readonly definitelyNotApplied: (r: AgentResponse | undefined) => boolean;
  /**
   * With DNS clients (`set dnsClients`): the external nodes' registrations carry what DNS answers differ
   * by — e1's `ext` tags in mixed case and node meta (TXT), e2's service address equal to its node's, e3's
   * a service address of its own (an SRV target `<hex>.addr`). Fixed per node: nothing more is drawn.
   */
  readonly dnsDetails?: boolean;
}

/** The DNS details of an external node's registration (CatalogHost.dnsDetails). */
function dnsDetailsOf(node: string): {
  service: { tags?: string[]; address?: string };
  nodeMeta?: Record<string, string>;
} {
  if (node === 'e1')
    return { service: { tags: ['Primary', 'rails'] }, nodeMeta: { rack: 'r1', 'rfc1035-note': 'ext one' } };
  if (node === 'e2') return { service: { address: catalogAddressOf(node) } };
  return { service: { address: '10.0.8.3' } };
}

export function startCatalog(sim: SimApi, scenario: Scenario, count: number, host: CatalogHost): void {
  if (count === 0) return;
  const prng = sim.random('catalog');
  const readMode = readModeDrawer(prng, scenario);
  const timeoutMs = Number(scenario.params['requestTimeoutMs'] ?? 3000);
  const nodeChecks = scenario.params['catalogNodeChecks'] === '1';
  /** With nodeChecks: whether `ext-q` exists (created before the catalog processes start, retried until it is). */
  let queryCreated = false;
  if (nodeChecks) {
    const create = (): void => {
      if (sim.phase !== 'safety' || queryCreated) return;
      const definition = {
        Name: catalogQueryName,
        Service: { Service: catalogService, OnlyPassing: true, IgnoreCheckIDs: [catalogNodeCheckId] },
      };
      host.request(prng.pick(host.agents()), { type: 'query.create', definition }, timeoutMs, (response) => {
        if (response?.status === 200) queryCreated = true;
        // A create of unknown outcome may have made it: a second one is refused as a name in use, and that
        // is proof enough that it exists.
        else if (response?.status === 400 && /aliases an existing query name/.test(response.error ?? ''))
          queryCreated = true;
        else sim.after(200 + prng.below(200), create);
      });
    };
    sim.after(1500 + prng.below(200), create);
  }
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
        // With nodeChecks, half of these removals take a check instead: the client agents' `service:web`
        // (the harness's web service), which the agent's full sync must register again as well.
        const body: AgentRequest =
          kind === 0
            ? { type: 'agent.service.register', service: { name: id, port: 7000 + prng.below(100) } }
            : kind === 1
              ? { type: 'agent.service.deregister', id }
              : nodeChecks && prng.below(2) === 0
                ? { type: 'catalog.deregister', node: prng.pick(host.agents()), checkId: 'service:web' }
                : { type: 'catalog.deregister', node: prng.pick(host.agents()), serviceId: id };
        host.request(via, body, timeoutMs, () => next());
        return;
      }
      if (roll < 11) {
        const node = prng.pick(catalogNodes);
        const input: CatalogInput =
          roll < 8
            ? {
                f: 'register',
                node,
                status: prng.pick(catalogStatuses),
                ...(nodeChecks ? { nodeStatus: prng.pick(catalogStatuses) } : {}),
              }
            : nodeChecks && prng.below(2) === 0
              ? { f: 'deregisterCheck', node }
              : { f: 'deregister', node };
        const op = sim.history.invoke(process, `catalog.${input.f}`, input, via, sim.nowMs, historyKey);
        const body: AgentRequest =
          input.f === 'register'
            ? {
                type: 'catalog.register' as const,
                node,
                address: catalogAddressOf(node),
                ...(host.dnsDetails && dnsDetailsOf(node).nodeMeta ? { nodeMeta: dnsDetailsOf(node).nodeMeta } : {}),
                service: {
                  name: catalogService,
                  id: catalogService,
                  port: 8080,
                  ...(host.dnsDetails ? dnsDetailsOf(node).service : {}),
                },
                checks: [
                  { id: catalogCheckId, name: 'ext alive', serviceId: catalogService, status: input.status! },
                  ...(input.nodeStatus !== undefined
                    ? [{ id: catalogNodeCheckId, name: 'ext node', status: input.nodeStatus }]
                    : []),
                ],
              }
            : input.f === 'deregisterCheck'
              ? { type: 'catalog.deregister' as const, node, checkId: catalogNodeCheckId }
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
      const what =
        nodeChecks && queryCreated && prng.below(4) === 0
          ? 'query'
          : prng.pick(['health', 'passing', 'nodes'] as const);
      const input: CatalogInput = { f: 'read', what };
      const op = sim.history.invoke(process, 'catalog.read', { ...input, mode }, via, sim.nowMs, historyKey);
      const read = { consistency: mode };
      const body: AgentRequest =
        what === 'nodes'
          ? { type: 'catalog.nodes', read }
          : what === 'query'
            ? { type: 'query.execute', idOrName: catalogQueryName, read }
            : { type: 'health.service', service: catalogService, passing: what === 'passing', read };
      host.request(via, body, timeoutMs, (response) => {
        if (response?.status === 200) {
          const seen =
            what === 'nodes'
              ? renderNodes(response.body)
              : what === 'query'
                ? renderHealth((response.body as { Nodes?: unknown } | null)?.Nodes)
                : renderHealth(response.body);
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
 * A health/service answer (or a prepared query's Nodes) as the model's state text: `node=status` of each
 * instance, sorted, comma separated (the status of its `ext-alive` check, then `+status` of the node's
 * `ext-node` check when it has one), or what is malformed about it.
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
    const nodeCheck = (entry.Checks ?? []).find((c) => c?.CheckID === catalogNodeCheckId);
    parts.push(`${node}=${check.Status}${typeof nodeCheck?.Status === 'string' ? `+${nodeCheck.Status}` : ''}`);
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
 * The map model: state `node=status,…` sorted (`node=status+nodeStatus` when the node has an `ext-node`
 * check); a health read answers all of it, a `?passing` read only the instances whose every check passes,
 * a node list the nodes alone, and the prepared query (OnlyPassing, ignoring `ext-node`) the instances whose
 * service check passes.
 */
export const catalogModel: Model<string, CatalogInput, unknown> = {
  name: 'catalog',
  init: () => '',
  step(state: string, input: CatalogInput, output: unknown): StepResult<string> {
    const entries = state === '' ? [] : state.split(',');
    if (input.f === 'read') {
      if (output === UNKNOWN) return { ok: true, next: state };
      const statuses = (e: string): string[] => e.slice(e.indexOf('=') + 1).split('+');
      const expected =
        input.what === 'passing'
          ? render(entries.filter((e) => statuses(e).every((x) => x === 'passing')))
          : input.what === 'query'
            ? render(entries.filter((e) => statuses(e)[0] === 'passing'))
            : input.what === 'nodes'
              ? render(entries.map((e) => e.slice(0, e.indexOf('='))))
              : state;
      return { ok: output === expected, next: state };
    }
    const mine = entries.find((e) => e.startsWith(`${input.node}=`));
    const others = entries.filter((e) => e !== mine);
    if (input.f === 'deregister') return { ok: true, next: render(others) };
    // Only the node check goes: the instance stays with its service check alone (none there: nothing happens).
    if (input.f === 'deregisterCheck')
      return { ok: true, next: mine === undefined ? state : render([...others, mine.split('+')[0]!]) };
    assert(input.f === 'register', 'catalog model: register, deregister, deregisterCheck or read');
    // A registration upserts the checks it names and leaves the node's others as they are (Consul's
    // ensureRegistrationTxn): without a node status, a node check the node had stays.
    const kept = input.nodeStatus ?? (mine?.includes('+') ? mine.split('+')[1] : undefined);
    return { ok: true, next: render([...others, `${input.node}=${input.status}${kept ? `+${kept}` : ''}`]) };
  },
  hash: hashString,
  equal: (a, b) => a === b,
  describeOperation(input, output) {
    if (input.f === 'read')
      return `${input.what === 'nodes' ? 'nodes' : input.what === 'passing' ? 'health?passing' : input.what === 'query' ? `query(${catalogQueryName})` : 'health'}() -> ${output === UNKNOWN ? '?' : JSON.stringify(output)}`;
    const what =
      input.f === 'register'
        ? `register(${input.node}=${input.status}${input.nodeStatus ? `+${input.nodeStatus}` : ''})`
        : input.f === 'deregisterCheck'
          ? `deregisterCheck(${input.node}/${catalogNodeCheckId})`
          : `deregister(${input.node})`;
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
        ...(input.nodeStatus !== undefined ? { nodeStatus: input.nodeStatus } : {}),
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
