/**
 * The Consul-compatible HTTP router: a plain request (method, raw URL, headers, body bytes) in, a
 * plain response (status, headers, body) out. This file is the dispatcher: it decodes the path, finds
 * the route (each endpoint family's table lives in routes/<family>.ts, beside nothing else), checks
 * the method and `?dc`, and runs the handler with the ACL gate bound to the request's token
 * (`X-Consul-Token`, `?token=`; net/gate.ts). Handlers translate the HTTP form into a typed
 * `AgentRequest`, send it through the gate — which authorizes that very request with its family's
 * rule (core/agent/endpoints) and filters the answer — and render it with the wire rules of wire.ts
 * (consul-api.md §0):
 *
 *  - `X-Consul-Index` on every blocking-capable read, floored at 1, also on 404;
 *    `X-Consul-KnownLeader` and `X-Consul-LastContact` with it;
 *  - plain-text errors; 404 for unknown paths ("404 page not found"), 405 for wrong methods (legacy
 *    GETs accepted on join, force-leave, deregister and check pass/warn/fail);
 *  - `?dc=<other>` goes to the core with the request, whose servers forward it over the WAN (500 "No
 *    path to datacenter" when no server of that DC is known); `?stale&consistent` → 400; `?pretty`;
 *  - with ACLs off, ACL endpoints → 401 and the token is accepted and ignored.
 *
 * No socket code lives here (server.ts does that), so the fuzzers drive this function directly.
 * `routeHttp` never throws: a bug in a handler answers 500 with the message.
 */
import { gatedAgent, requestToken } from '../gate.js';
import { agentRoutes } from './routes/agent.js';
import { catalogRoutes } from './routes/catalog.js';
import { coordinateRoutes } from './routes/coordinate.js';
import { eventRoutes } from './routes/event.js';
import { kvRoutes } from './routes/kv.js';
import { operatorRoutes } from './routes/operator.js';
import { queryRoutes } from './routes/query.js';
import { sessionRoutes } from './routes/session.js';
import { text, type HttpRequestIn, type HttpResponseOut, type Route, type RouterContext } from './wire.js';

export {
  callTimeoutMsDefault,
  requestBodyBytesMax,
  type HttpRequestIn,
  type HttpResponseOut,
  type RouterContext,
} from './wire.js';

/** Every route, from the family tables; a path belongs to exactly one family. */
export const routes: readonly Route[] = [
  ...operatorRoutes,
  ...kvRoutes,
  ...sessionRoutes,
  ...agentRoutes,
  ...catalogRoutes,
  ...queryRoutes,
  ...eventRoutes,
  ...coordinateRoutes,
];

// ─────────────────────────────────────────── dispatcher ───────────────────────────────────────────

function matchRoute(path: string): { route: Route; rest: string } | undefined {
  let best: { route: Route; rest: string } | undefined;
  for (const route of routes) {
    if (route.prefix) {
      if (path.startsWith(route.path) && (!best || route.path.length > best.route.path.length))
        best = { route, rest: path.slice(route.path.length) };
    } else if (path === route.path) {
      return { route, rest: '' };
    }
  }
  return best;
}

/** Answers one HTTP request. Never throws and always resolves. */
export async function routeHttp(req: HttpRequestIn, ctx: RouterContext): Promise<HttpResponseOut> {
  let route = 'unmatched';
  try {
    const question = req.url.indexOf('?');
    const rawPath = question < 0 ? req.url : req.url.slice(0, question);
    const rawQuery = question < 0 ? '' : req.url.slice(question + 1);
    let path: string;
    try {
      // Go's URL parsing decodes the path before Consul's handlers see it; %2F becomes '/'.
      path = decodeURIComponent(rawPath);
    } catch {
      return { ...text(400, `invalid URL escape in path`), route: 'bad-url' };
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
      // An absolute-form target ("http://host:8500/v1/..."), as proxies send.
      try {
        path = decodeURIComponent(new URL(rawPath).pathname);
      } catch {
        return { ...text(400, 'invalid request target'), route: 'bad-url' };
      }
    }
    const query = new URLSearchParams(rawQuery);
    const matched = matchRoute(path);
    if (!matched) return { ...text(404, '404 page not found\n'), route: 'unmatched' };
    route = matched.route.prefix ? `${matched.route.path}*` : matched.route.path;
    const method = req.method.toUpperCase();
    const handler = matched.route.methods[method];
    if (!handler) {
      const allow = Object.keys(matched.route.methods).join(', ');
      return { ...text(405, `method ${method} not allowed`, { Allow: allow }), route };
    }
    const dc = query.get('dc') || undefined;
    const token = requestToken(req.headers, query);
    const gate = gatedAgent(ctx.call, ctx.acl, { nodeName: ctx.nodeName ?? '' }, ctx.datacenter);
    const { call: _raw, ...handlerCtx } = ctx;
    const out = await handler({
      call: (request) => gate.call(request, token),
      check: (request) => gate.check(request, token),
      method,
      rest: matched.rest,
      query,
      body: req.body,
      pretty: query.has('pretty'),
      ctx: handlerCtx,
      dc,
    });
    return { status: out.status, headers: out.headers, body: out.body, route };
  } catch (error) {
    return { ...text(500, `internal error: ${(error as Error)?.message ?? String(error)}`), route };
  }
}
