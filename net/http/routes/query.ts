/** `/v1/query` → typed `query.*` requests (ACL rules: core/agent/endpoints/query.ts). */
import type { AgentRequest } from '../../../core/agent/api.js';
import { preparedQuerySchema } from '../schemas.js';
import {
  type Handler,
  type Out,
  type Req,
  type Route,
  ask,
  badRequest,
  blockingRead,
  decode,
  exact,
  isOut,
  prefix,
  text,
  uintParam,
  withOptional,
} from '../wire.js';

// ───────────────────────────────────────── prepared queries ───────────────────────────────────────

async function queryCreate(r: Req): Promise<Out> {
  const d = decode(r, preparedQuerySchema);
  if (!d.ok) return d.out;
  return ask(r, { type: 'query.create', definition: d.value });
}

/**
 * `/v1/query/<id>`: GET, PUT (replace), DELETE; `/v1/query/<id or name>/execute` and `/explain`: GET
 * only (Consul's preparedQuerySpecific).
 */
function querySpecific(method: 'GET' | 'PUT' | 'DELETE'): Handler {
  return async (r) => {
    const action = /\/(execute|explain)$/.exec(r.rest)?.[1];
    const id = action ? r.rest.slice(0, -action.length - 1) : r.rest;
    if (id === '') return badRequest('Missing query ID');
    if (action && method !== 'GET') return text(405, `method ${method} not allowed`, { Allow: 'GET' });
    if (action === 'explain') return blockingRead(r, (read) => ({ type: 'query.explain', idOrName: id, read }));
    if (action === 'execute') {
      const limit = uintParam(r, 'limit');
      if (isOut(limit)) return limit;
      return blockingRead(r, (read) =>
        withOptional({ type: 'query.execute', idOrName: id, read } as AgentRequest, {
          near: r.query.get('near'),
          limit,
        }),
      );
    }
    if (method === 'GET') return blockingRead(r, (read) => ({ type: 'query.get', id, read }));
    if (method === 'DELETE') return ask(r, { type: 'query.delete', id }, { empty: true });
    const d = decode(r, preparedQuerySchema);
    if (!d.ok) return d.out;
    return ask(r, { type: 'query.update', id, definition: d.value }, { empty: true });
  };
}

export const queryRoutes: readonly Route[] = [
  // prepared queries
  exact('/v1/query', { GET: (r) => blockingRead(r, (read) => ({ type: 'query.list', read })), POST: queryCreate }),
  prefix('/v1/query/', { GET: querySpecific('GET'), PUT: querySpecific('PUT'), DELETE: querySpecific('DELETE') }),
];
