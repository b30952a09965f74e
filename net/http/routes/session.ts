/** `/v1/session/*` → typed `session.*` requests (ACL rules: core/agent/endpoints/session.ts). */
import type { AgentRequest } from '../../../core/agent/api.js';
import { lockDelayMs, durationMs } from '../convert.js';
import { sessionCreateSchema } from '../schemas.js';
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
  prefix,
  withOptional,
  withRest,
} from '../wire.js';

// ───────────────────────────────────────────── sessions ───────────────────────────────────────────

async function sessionCreate(r: Req): Promise<Out> {
  const d = decode(r, sessionCreateSchema, {});
  if (!d.ok) return d.out;
  const b = d.value;
  const lockDelay = lockDelayMs(b.LockDelay);
  if (!lockDelay.ok) return badRequest(lockDelay.error);
  const ttl = durationMs(b.TTL, 'TTL');
  if (!ttl.ok) return badRequest(`Request decode failed: Invalid Session TTL '${String(b.TTL)}'`);
  const behavior = b.Behavior as string | undefined;
  if (behavior !== undefined && behavior !== '' && behavior !== 'release' && behavior !== 'delete') {
    return badRequest(`Invalid Behavior setting '${behavior}'`);
  }
  let checks: string[] | undefined;
  if (b.Checks !== undefined || b.NodeChecks !== undefined) {
    checks = [
      ...new Set([...((b.Checks as string[] | undefined) ?? []), ...((b.NodeChecks as string[] | undefined) ?? [])]),
    ];
  }
  const serviceChecks = (b.ServiceChecks as { ID?: string; Namespace?: string }[] | undefined)?.map((c) =>
    c.Namespace ? { id: c.ID ?? '', namespace: c.Namespace } : { id: c.ID ?? '' },
  );
  return ask(
    r,
    withOptional({ type: 'session.create' } as AgentRequest, {
      name: b.Name,
      node: b.Node,
      lockDelayMs: lockDelay.value,
      checks,
      serviceChecks,
      behavior: behavior || undefined,
      ttlMs: ttl.value,
    }),
  );
}

export const sessionRoutes: readonly Route[] = [
  // sessions
  exact('/v1/session/create', { PUT: sessionCreate }),
  prefix('/v1/session/destroy/', { PUT: withRest('session id', (id) => ({ type: 'session.destroy', id })) }),
  prefix('/v1/session/info/', {
    GET: blockingWithRest('session id', (id, read) => ({ type: 'session.info', id, read })),
  }),
  prefix('/v1/session/node/', {
    GET: blockingWithRest('node name', (node, read) => ({ type: 'session.node', node, read })),
  }),
  exact('/v1/session/list', { GET: (r) => blockingRead(r, (read) => ({ type: 'session.list', read })) }),
  prefix('/v1/session/renew/', { PUT: withRest('session id', (id) => ({ type: 'session.renew', id })) }),
];
