/** `/v1/catalog/*` and `/v1/health/*` → typed `catalog.*` / `health.*` requests (ACL rules: core/agent/endpoints/catalog.ts). */
import type { AgentRequest } from '../../../core/agent/api.js';
import { catalogChecks, toServiceDefinition } from '../convert.js';
import { queryFlag } from '../parse.js';
import { catalogDeregisterSchema, catalogRegisterSchema } from '../schemas.js';
import {
  type Handler,
  type Out,
  type Req,
  type Route,
  ask,
  badRequest,
  blockingRead,
  blockingWithRest,
  decode,
  exact,
  jsonText,
  listed,
  nodeMetaParam,
  prefix,
  shapes,
  simple,
  text,
  withOptional,
} from '../wire.js';

// ───────────────────────────────────────────── catalog ────────────────────────────────────────────

async function catalogRegister(r: Req): Promise<Out> {
  const d = decode(r, catalogRegisterSchema);
  if (!d.ok) return d.out;
  const b = d.value;
  if (typeof b.Node !== 'string' || b.Node === '') return badRequest('Must provide node');
  if (typeof b.Address !== 'string' || b.Address === '') return badRequest('Must provide address');
  // A body naming another DC is that DC's register (Consul forwards it there, as `?dc=` does).
  const target: Req = b.Datacenter && b.Datacenter !== r.ctx.datacenter ? { ...r, dc: String(b.Datacenter) } : r;
  let service;
  if (b.Service) {
    const s = toServiceDefinition(b.Service as Record<string, unknown>, 'Service');
    if (!s.ok) return badRequest(s.error);
    service = s.value;
  }
  const checks = catalogChecks(b);
  if (!checks.ok) return badRequest(checks.error);
  return ask(
    target,
    withOptional({ type: 'catalog.register', node: b.Node, address: b.Address } as AgentRequest, {
      datacenter: b.Datacenter,
      id: b.ID,
      taggedAddresses: b.TaggedAddresses,
      nodeMeta: b.NodeMeta,
      service,
      checks: checks.value.length > 0 ? checks.value : undefined,
    }),
  );
}

async function catalogDeregister(r: Req): Promise<Out> {
  const d = decode(r, catalogDeregisterSchema);
  if (!d.ok) return d.out;
  const b = d.value;
  if (typeof b.Node !== 'string' || b.Node === '') return badRequest('Must provide node');
  const target: Req = b.Datacenter && b.Datacenter !== r.ctx.datacenter ? { ...r, dc: String(b.Datacenter) } : r;
  return ask(
    target,
    withOptional({ type: 'catalog.deregister', node: b.Node } as AgentRequest, {
      serviceId: b.ServiceID,
      checkId: b.CheckID,
    }),
  );
}

/** `?tag=a&tag=b`: one tag as a string (as before), several as a list that must all match. */
function tagParam(r: Req): string | string[] | undefined {
  const tags = r.query.getAll('tag');
  return tags.length === 0 ? undefined : tags.length === 1 ? tags[0] : tags;
}

/**
 * `/v1/catalog/node-services/:node` (Consul ≥ 1.7, the Go client's CatalogNodeServiceList): catalog/node's
 * answer with its services as a list; an unknown node is `{"Node": null, "Services": []}`, as in Consul.
 */
function nodeServiceList(handler: Handler): Handler {
  return async (r) => {
    const out = await handler(r);
    if (out.status !== 200 || typeof out.body !== 'string') return out;
    const parsed = JSON.parse(out.body) as { Node?: unknown; Services?: Record<string, unknown> } | null;
    const body = { Node: parsed?.Node ?? null, Services: Object.values(parsed?.Services ?? {}) };
    return { ...out, body: jsonText(body, r.pretty) };
  };
}

const healthStates = new Set(['any', 'passing', 'warning', 'critical']);

export const catalogRoutes: readonly Route[] = [
  // catalog
  exact('/v1/catalog/datacenters', { GET: simple(() => ({ type: 'catalog.datacenters' })) }),
  exact('/v1/catalog/nodes', {
    GET: listed(shapes.nodes, (r) =>
      blockingRead(r, (read) =>
        withOptional({ type: 'catalog.nodes', read } as AgentRequest, { nodeMeta: nodeMetaParam(r) }),
      ),
    ),
  }),
  exact('/v1/catalog/services', { GET: (r) => blockingRead(r, (read) => ({ type: 'catalog.services', read })) }),
  prefix('/v1/catalog/service/', {
    GET: listed(
      shapes.catalogService,
      blockingWithRest('service name', (service, read, r) =>
        withOptional({ type: 'catalog.service', service, read } as AgentRequest, { tag: tagParam(r) }),
      ),
    ),
  }),
  prefix('/v1/catalog/node/', {
    GET: listed(
      shapes.catalogNode,
      blockingWithRest('node name', (node, read) => ({ type: 'catalog.node', node, read })),
    ),
  }),
  prefix('/v1/catalog/node-services/', {
    GET: nodeServiceList(
      listed(
        shapes.catalogNode,
        blockingWithRest('node name', (node, read) => ({ type: 'catalog.node', node, read })),
      ),
    ),
  }),
  exact('/v1/catalog/register', { PUT: catalogRegister }),
  exact('/v1/catalog/deregister', { PUT: catalogDeregister }),
  // health
  prefix('/v1/health/state/', {
    GET: listed(
      shapes.checks,
      blockingWithRest('check state', (state, read) => {
        if (!healthStates.has(state)) return badRequest(`Invalid state: ${state}`);
        return { type: 'health.state', state: state as 'any', read };
      }),
    ),
  }),
  prefix('/v1/health/node/', {
    GET: listed(
      shapes.checks,
      blockingWithRest('node name', (node, read) => ({ type: 'health.node', node, read })),
    ),
  }),
  prefix('/v1/health/checks/', {
    GET: listed(
      shapes.checks,
      blockingWithRest('service name', (service, read) => ({ type: 'health.checks', service, read })),
    ),
  }),
  prefix('/v1/health/service/', {
    GET: listed(
      shapes.healthService,
      blockingWithRest('service name', (service, read, r) =>
        withOptional({ type: 'health.service', service, read } as AgentRequest, {
          tag: tagParam(r),
          passing: queryFlag(r.query, 'passing') || undefined,
        }),
      ),
    ),
  }),
];
