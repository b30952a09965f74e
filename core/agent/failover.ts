/**
 * Prepared-query failover across datacenters (Consul's queryFailover, agent/consul/prepared_query_endpoint.go).
 *
 * When a prepared query finds no healthy instance in this datacenter and its `Service.Failover` asks
 * for it, the server that ran it asks other datacenters, one at a time, in this order:
 *
 *  1. the `NearestN` nearest other DCs by estimated WAN round trip (core/agent/wan.ts
 *     `datacentersByDistance`, the order of `/v1/catalog/datacenters`);
 *  2. then each DC of `Datacenters` not already listed, in the query's order; a DC the WAN pool does not
 *     know is skipped (Consul logs and skips it rather than waiting out a "No path" per query).
 *
 * Each DC runs the query as this DC resolved it (`preparedQueryExecuteRemote`: no lookup by name there,
 * no `near` sort, the same limit and consistency mode). The first DC that answers with at least one
 * node is the answer: its `Datacenter`, its nodes, and `Failovers` = how many DCs were asked. A DC that
 * fails (no path, timeout, no leader) counts as asked, and the next one is tried. When every DC comes
 * back empty, the answer is empty with `Failovers` = the number of DCs tried, as Consul.
 */
import type { PreparedQuery } from '../store/types.js';
import { type ForwardedAuth, type ServerOp, type ServerResult } from './ops.js';
import { count, type AgentState, type Env, type Origin } from './state.js';
import { datacentersByDistance, hasWan, withCoordinates } from './wan.js';

/** How many DCs one execution may try (a bound on the loop; Consul has none, a list this long is a mistake). */
export const failoverDatacentersMax = 64;

export interface FailoverPolicy {
  readonly NearestN: number;
  readonly Datacenters: readonly string[] | null;
}

/** What the store answers to a prepared query execution (core/store/queries.ts). */
export interface ExecuteValue {
  readonly Query: PreparedQuery;
  readonly Nodes: readonly unknown[];
  readonly Datacenter: string;
  /** Set by failover only: how many other DCs were asked. */
  readonly Failovers?: number;
}

/**
 * The DCs to try, in order: the first `NearestN` of `others` (other DCs, nearest first), then the
 * query's `Datacenters` that `others` knows and that are not listed yet. Pure (Consul's candidate list).
 */
export function failoverTargets(others: readonly string[], policy: FailoverPolicy): string[] {
  const out: string[] = [];
  const known = new Set(others);
  const nearestN = Number.isSafeInteger(policy.NearestN) ? Math.max(0, policy.NearestN) : 0;
  for (const dc of others.slice(0, nearestN)) out.push(dc);
  for (const dc of policy.Datacenters ?? []) if (known.has(dc) && !out.includes(dc)) out.push(dc);
  return out.slice(0, failoverDatacentersMax);
}

/**
 * `op` with the caller's token and request when it executes a prepared query, which may fail over to
 * another DC: that DC authorizes and filters its answer with the caller's token, as Consul forwards the
 * caller's QueryOptions.Token to ExecuteRemote. Every other op is returned unchanged.
 */
export function withQueryAuth(op: ServerOp, auth: ForwardedAuth): ServerOp {
  return op.kind === 'read' && op.query.type === 'preparedQueryExecute' ? { ...op, auth } : op;
}

/** Whether `op` is a failover's remote execution sent for `auth`'s prepared query request (acl.ts runs it). */
export function checkFailoverRemote(op: ServerOp, auth: ForwardedAuth): op is ServerOp & { kind: 'read' } {
  return op.kind === 'read' && op.query.type === 'preparedQueryExecuteRemote' && auth.request.type === 'query.execute';
}

/** Whether a query asks for failover at all. */
export function checkFailoverWanted(policy: FailoverPolicy): boolean {
  return policy.NearestN > 0 || (policy.Datacenters ?? []).length > 0;
}

function executeValueOf(result: ServerResult): ExecuteValue | null {
  if (!result.ok) return null;
  const value = result.value as ExecuteValue | { error: string } | null | undefined;
  if (value === null || value === undefined || typeof value !== 'object' || 'error' in value) return null;
  return Array.isArray(value.Nodes) ? value : null;
}

/**
 * A read answered `result`: when it is a prepared query execution with no node and a failover policy,
 * on a server with a WAN pool, run the failover and deliver its answer (true); else false and the
 * caller delivers `result` itself. `run` executes a server op (server.ts executeServerOp: passed in, so
 * this leaf does not import its caller).
 */
export function maybeFailover(
  s: AgentState,
  env: Env,
  op: ServerOp & { kind: 'read' },
  origin: Origin,
  result: ServerResult,
  run: (s: AgentState, env: Env, op: ServerOp, origin: Origin, hops: number) => void,
  deliver: (s: AgentState, env: Env, origin: Origin, result: ServerResult) => void,
): boolean {
  if (op.query.type !== 'preparedQueryExecute' || !hasWan(s)) return false;
  const local = executeValueOf(result);
  if (local === null || local.Nodes.length > 0 || !checkFailoverWanted(local.Query.Service.Failover)) return false;
  const query = op.query;
  withCoordinates(s, env, (coords, env2) => {
    const others = datacentersByDistance(s, coords).filter((dc) => dc !== s.config.datacenter);
    const targets = failoverTargets(others, local.Query.Service.Failover);
    let last: ServerResult & { ok: true } = { ...(result as ServerResult & { ok: true }) };
    let lastValue: ExecuteValue = local;
    const tryAt = (at: number, env3: Env): void => {
      if (at >= targets.length)
        return deliver(s, env3, origin, { ...last, value: { ...lastValue, Nodes: [], Failovers: targets.length } });
      const dc = targets[at]!;
      count(s, 'queryFailovers');
      const remote: ServerOp = {
        kind: 'dc',
        dc,
        crossed: false,
        // Without the caller's token an ACL-enabled DC refuses it (403): the loop counts it and goes on.
        ...(op.auth !== undefined ? { auth: op.auth } : {}),
        op: {
          kind: 'read',
          query: {
            type: 'preparedQueryExecuteRemote',
            query: local.Query,
            seed: query.seed,
            datacenter: dc,
            ...(query.limit !== undefined ? { limit: query.limit } : {}),
          },
          consistency: op.consistency,
          minIndex: 0,
          waitMs: 0,
        },
      };
      run(
        s,
        env3,
        remote,
        {
          kind: 'internal',
          what: 'queryFailover',
          then: (answer, env4) => {
            const value = executeValueOf(answer);
            if (answer.ok && value !== null) {
              last = answer;
              lastValue = value;
              if (value.Nodes.length > 0)
                return deliver(s, env4, origin, { ...answer, value: { ...value, Failovers: at + 1 } });
            }
            tryAt(at + 1, env4);
          },
        },
        0,
      );
    };
    tryAt(0, env2);
  });
  return true;
}
