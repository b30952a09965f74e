/** `/v1/coordinate/*` → typed `coordinate.*` requests (ACL rules: core/agent/endpoints/coordinate.ts). */
import type { Coordinate } from '../../../core/swim/coordinate.js';
import { coordinateUpdateSchema } from '../schemas.js';
import {
  type Out,
  type Req,
  type Route,
  ask,
  badRequest,
  blockingRead,
  blockingWithRest,
  decode,
  exact,
  listed,
  prefix,
  shapes,
  simple,
  text,
} from '../wire.js';

/** `PUT /v1/coordinate/update`: a node's coordinate, as agents send theirs (Consul's Coordinate.Update). */
async function coordinateUpdate(r: Req): Promise<Out> {
  const d = decode(r, coordinateUpdateSchema);
  if (!d.ok) return d.out;
  const b = d.value as { Node?: string; Datacenter?: string; Coord?: unknown };
  if (typeof b.Node !== 'string' || b.Node === '') return badRequest('Must provide node');
  if (b.Datacenter && b.Datacenter !== r.ctx.datacenter) return text(500, 'No path to datacenter');
  return ask(r, { type: 'coordinate.update', node: b.Node, coord: b.Coord ?? null }, { empty: true });
}

export const coordinateRoutes: readonly Route[] = [
  exact('/v1/coordinate/datacenters', { GET: simple(() => ({ type: 'coordinate.datacenters' })) }),
  exact('/v1/coordinate/nodes', {
    GET: listed(shapes.nodes, (r) => blockingRead(r, (read) => ({ type: 'coordinate.nodes', read }))),
  }),
  prefix('/v1/coordinate/node/', {
    GET: blockingWithRest('node name', (node, read) => ({ type: 'coordinate.node', node, read })),
  }),
  exact('/v1/coordinate/update', { PUT: coordinateUpdate }),
];
