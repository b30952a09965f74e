/** `/v1/event/*` → typed `event.*` requests (ACL rules: core/agent/endpoints/event.ts). */
import type { AgentRequest } from '../../../core/agent/api.js';
import {
  type Out,
  type Req,
  type Route,
  ask,
  blockingRead,
  exact,
  isOut,
  prefix,
  requireRest,
  withOptional,
} from '../wire.js';

// ───────────────────────────────────────────── events ─────────────────────────────────────────────

async function eventFire(r: Req): Promise<Out> {
  const name = requireRest(r, 'name');
  if (isOut(name)) return name;
  return ask(
    r,
    withOptional({ type: 'event.fire', name, payload: r.body.length > 0 ? r.body : null } as AgentRequest, {
      nodeFilter: r.query.get('node'),
      serviceFilter: r.query.get('service'),
      tagFilter: r.query.get('tag'),
    }),
  );
}

export const eventRoutes: readonly Route[] = [
  // events
  prefix('/v1/event/fire/', { PUT: eventFire }),
  exact('/v1/event/list', {
    GET: (r) =>
      blockingRead(r, (read) =>
        withOptional({ type: 'event.list', read } as AgentRequest, { name: r.query.get('name') }),
      ),
  }),
];
