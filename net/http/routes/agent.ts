/** `/v1/agent/*` → typed `agent.*` requests (ACL rules: core/agent/endpoints/agent.ts). */
import type { AgentRequest, AgentResponse } from '../../../core/agent/api.js';
import type { AutopilotHealth } from '../../../core/agent/autopilot.js';
import { toCheckDefinition, toServiceDefinition } from '../convert.js';
import { consulJsonToPrometheus } from '../metrics.js';
import { queryFlag } from '../parse.js';
import { checkTypeSchema, checkUpdateSchema, serviceRegisterSchema } from '../schemas.js';
import {
  type Handler,
  type Out,
  type Req,
  type Route,
  appJson,
  ask,
  badRequest,
  callTimeoutMsDefault,
  decode,
  enableParam,
  exact,
  isOut,
  jsonText,
  listed,
  prefix,
  putOrLegacyGet,
  render,
  requireRest,
  shapes,
  simple,
  text,
  withOptional,
  withRest,
  withTimeout,
} from '../wire.js';

// ────────────────────────────────────────────── agent ─────────────────────────────────────────────

async function serviceRegister(r: Req): Promise<Out> {
  const d = decode(r, serviceRegisterSchema);
  if (!d.ok) return d.out;
  const service = toServiceDefinition(d.value, 'Name');
  if (!service.ok) return badRequest(service.error);
  return ask(r, { type: 'agent.service.register', service: service.value }, { empty: true });
}

async function checkRegister(r: Req): Promise<Out> {
  const d = decode(r, checkTypeSchema);
  if (!d.ok) return d.out;
  if (typeof d.value.Name !== 'string' || d.value.Name === '') return badRequest('Missing check name');
  const check = toCheckDefinition(d.value);
  if (!check.ok) return badRequest(check.error);
  return ask(r, { type: 'agent.check.register', check: check.value }, { empty: true });
}

function checkTtl(type: 'agent.check.pass' | 'agent.check.warn' | 'agent.check.fail'): Handler {
  return (r) => {
    const id = requireRest(r, 'check ID');
    if (isOut(id)) return id;
    const note = r.query.get('note');
    return ask(r, note ? { type, id, note } : { type, id }, { empty: true });
  };
}

async function checkUpdate(r: Req): Promise<Out> {
  const id = requireRest(r, 'check ID');
  if (isOut(id)) return id;
  const d = decode(r, checkUpdateSchema);
  if (!d.ok) return d.out;
  const status = d.value.Status;
  if (status !== 'passing' && status !== 'warning' && status !== 'critical')
    return badRequest(`Invalid check status: '${String(status ?? '')}'`);
  const output = d.value.Output as string | undefined;
  return ask(
    r,
    output === undefined
      ? { type: 'agent.check.update', id, status }
      : { type: 'agent.check.update', id, status, output },
    { empty: true },
  );
}

/**
 * `GET /v1/agent/metrics`: the agent's own figures (Consul's JSON shape) merged with the HTTP layer's;
 * `?format=prometheus` renders both as Prometheus text. If the agent cannot answer, the HTTP figures
 * are still served in Prometheus form (a scraper should see the API is alive), and JSON answers the
 * agent's error.
 */
/** A time as Go's time.Time.String() prints a UTC one: `2006-01-02 15:04:05 +0000 UTC`. */
export function goUtcTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC`;
}

/**
 * `GET /v1/agent/debug/insides` (issue 18): Raft role, term, indexes and last contact of each server,
 * the SWIM member table with incarnations, recent leader changes and member events, as this agent's
 * process reads them (cli/agent/insides.ts). Authorized by the rule of the Raft configuration it
 * extends: operator read.
 */
async function insides(r: Req): Promise<Out> {
  const denied = await r.check({ type: 'operator.raft.configuration' });
  if (denied) return render(r, denied, {});
  if (!r.ctx.insides) return text(404, '404 page not found\n');
  if (r.dc !== undefined && r.dc !== r.ctx.datacenter) return remoteInsides(r, r.dc);
  return { status: 200, headers: { 'Content-Type': appJson }, body: jsonText(r.ctx.insides(), r.pretty) };
}

/** Consul's member status numbers (serf.MemberStatus) as the insides name them. */
const memberStatusName: Record<number, string> = { 1: 'alive', 2: 'leaving', 3: 'left', 4: 'failed' };

/**
 * `?dc=` of another datacenter: that DC's servers as its leader sees them (autopilot health, forwarded
 * over the WAN like every `?dc=` server request), and its servers in this agent's WAN member table.
 * This agent's own recorder has seen no leader change or member event there: `events` is empty.
 */
async function remoteInsides(r: Req, dc: string): Promise<Out> {
  const health = await r.call({ type: 'operator.autopilot.health', dc } as AgentRequest);
  if (health.status !== 200) return render(r, health, {});
  const h = health.body as AutopilotHealth;
  const leader = h.Servers.find((x) => x.Leader);
  const wan = await r.call({ type: 'agent.members', wan: true });
  const members = wan.status === 200 && Array.isArray(wan.body) ? (wan.body as WanMember[]) : [];
  // The shape of cli/agent/insides.ts's Insides (net/ does not import cli/; the UI reads both alike).
  const body = {
    node: leader?.Name ?? '',
    datacenter: dc,
    server: true,
    clock: 'wall',
    nowMs: Date.now(),
    leader: leader?.Name ?? null,
    term: leader?.LastTerm ?? null,
    servers: h.Servers.map((x) => ({
      id: x.Address,
      name: x.Name,
      self: x.Leader,
      voter: x.Voter,
      role: x.Leader ? 'leader' : x.Healthy ? 'follower' : null,
      term: x.LastTerm,
      commitIndex: null,
      appliedIndex: null,
      logIndex: x.LastIndex,
      lastContactMs: x.LastContactMs < 0 ? null : x.LastContactMs,
      source: x.Leader ? 'self' : 'leader',
    })),
    members: members
      .filter((m) => m.Tags?.['dc'] === dc)
      .map((m) => ({
        id: `${m.Addr}:${m.Port}`,
        name: m.Name,
        status: memberStatusName[m.Status] ?? 'none',
        incarnation: null,
        tags: m.Tags ?? {},
      })),
    events: [],
  };
  return { status: 200, headers: { 'Content-Type': appJson }, body: jsonText(body, r.pretty) };
}

interface WanMember {
  readonly Name: string;
  readonly Addr: string;
  readonly Port: number;
  readonly Status: number;
  readonly Tags?: Record<string, string>;
}

async function metrics(r: Req): Promise<Out> {
  // The HTTP layer's own figures are served even when the agent cannot answer, but never to a caller
  // the ACL rule refuses (agent read on this node).
  const denied = await r.check({ type: 'agent.metrics' });
  if (denied) return render(r, denied, {});
  let response: AgentResponse | undefined;
  try {
    const answer = await withTimeout(r.call({ type: 'agent.metrics' }), r.ctx.callTimeoutMs ?? callTimeoutMsDefault);
    if (answer !== 'timeout') response = answer;
  } catch {
    response = undefined;
  }
  const agentOk =
    response !== undefined && response.status === 200 && response.body !== null && typeof response.body === 'object';
  const agentJson = (agentOk ? response!.body : {}) as Record<string, unknown>;
  const local = r.ctx.metrics;
  if (r.query.get('format') === 'prometheus') {
    const body = consulJsonToPrometheus(agentJson) + (local ? local.toPrometheus() : '');
    return { status: 200, headers: { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }, body };
  }
  if (!agentOk) return response ? render(r, response, {}) : text(500, 'rpc error: timeout');
  // Consul (go-metrics DisplayMetrics) names the interval's start `Timestamp`, as Go prints a UTC time:
  // "2026-12-06 03:40:10 +0000 UTC", the 10 s interval of the in-memory sink. The core has no wall clock.
  const { TimestampMs: _coreClock, ...rest } = agentJson;
  const merged: Record<string, unknown> = { Timestamp: goUtcTime(Math.floor(Date.now() / 10_000) * 10_000), ...rest };
  if (local) {
    const mine = local.toConsulJson();
    for (const key of ['Gauges', 'Counters', 'Samples'] as const) {
      const theirs = Array.isArray(merged[key]) ? (merged[key] as unknown[]) : [];
      merged[key] = [...theirs, ...mine[key]];
    }
  }
  return { status: 200, headers: { 'Content-Type': appJson }, body: jsonText(merged, r.pretty) };
}

async function reloadHandler(r: Req): Promise<Out> {
  if (!r.ctx.reload) return text(500, 'Reload is not available: this agent has no configuration files to re-read');
  const denied = await r.check({ type: 'agent.reload', services: [], checks: [] });
  if (denied) return render(r, denied, {});
  let response: AgentResponse;
  try {
    response = await r.ctx.reload();
  } catch (error) {
    return text(500, `Reload failed: ${(error as Error)?.message ?? String(error)}`);
  }
  return render(r, response, { empty: true });
}

export const agentRoutes: readonly Route[] = [
  // agent
  exact('/v1/agent/self', { GET: simple(() => ({ type: 'agent.self' })) }),
  exact('/v1/agent/members', {
    GET: simple((r) => (queryFlag(r.query, 'wan') ? { type: 'agent.members', wan: true } : { type: 'agent.members' })),
  }),
  prefix(
    '/v1/agent/join/',
    putOrLegacyGet(
      withRest(
        'address',
        (address, r) =>
          queryFlag(r.query, 'wan')
            ? { type: 'agent.join', addresses: [address], wan: true }
            : { type: 'agent.join', addresses: [address] },
        { empty: true },
      ),
    ),
  ),
  exact('/v1/agent/leave', { PUT: simple(() => ({ type: 'agent.leave' }), { empty: true }) }),
  prefix(
    '/v1/agent/force-leave/',
    putOrLegacyGet(
      withRest(
        'node',
        (node, r) =>
          queryFlag(r.query, 'wan')
            ? { type: 'agent.forceLeave', node, wan: true }
            : { type: 'agent.forceLeave', node },
        { empty: true },
      ),
    ),
  ),
  exact('/v1/agent/reload', { PUT: (r) => reloadHandler(r) }),
  exact('/v1/agent/maintenance', {
    PUT: simple(
      (r) => {
        const enable = enableParam(r);
        if (isOut(enable)) return enable;
        return withOptional({ type: 'agent.maintenance', enable } as AgentRequest, { reason: r.query.get('reason') });
      },
      { empty: true },
    ),
  }),
  exact('/v1/agent/services', {
    GET: listed(
      shapes.map,
      simple(() => ({ type: 'agent.services' })),
    ),
  }),
  exact('/v1/agent/service/register', { PUT: serviceRegister }),
  prefix('/v1/agent/service/', { GET: withRest('service id', (id) => ({ type: 'agent.service', id })) }),
  prefix(
    '/v1/agent/service/deregister/',
    putOrLegacyGet(withRest('service id', (id) => ({ type: 'agent.service.deregister', id }), { empty: true })),
  ),
  prefix('/v1/agent/service/maintenance/', {
    PUT: withRest(
      'service id',
      (id, r) => {
        const enable = enableParam(r);
        if (isOut(enable)) return enable;
        return withOptional({ type: 'agent.service.maintenance', id, enable } as AgentRequest, {
          reason: r.query.get('reason'),
        });
      },
      { empty: true },
    ),
  }),
  exact('/v1/agent/checks', {
    GET: listed(
      shapes.map,
      simple(() => ({ type: 'agent.checks' })),
    ),
  }),
  exact('/v1/agent/check/register', { PUT: checkRegister }),
  prefix('/v1/agent/check/pass/', putOrLegacyGet(checkTtl('agent.check.pass'))),
  prefix('/v1/agent/check/warn/', putOrLegacyGet(checkTtl('agent.check.warn'))),
  prefix('/v1/agent/check/fail/', putOrLegacyGet(checkTtl('agent.check.fail'))),
  prefix('/v1/agent/check/update/', { PUT: checkUpdate }),
  prefix(
    '/v1/agent/check/deregister/',
    putOrLegacyGet(withRest('check id', (id) => ({ type: 'agent.check.deregister', id }), { empty: true })),
  ),
  exact('/v1/agent/metrics', { GET: metrics }),
  exact('/v1/agent/debug/insides', { GET: insides }),
];
