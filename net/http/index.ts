/** The Consul-compatible HTTP API: `startHttpApi` (server.ts) and the pure router it serves. */
export { startHttpApi, type HttpApi, type HttpApiOptions } from './server.js';
export {
  routeHttp,
  routes,
  requestBodyBytesMax,
  type HttpRequestIn,
  type HttpResponseOut,
  type RouterContext,
} from './router.js';
export { HttpMetrics } from './metrics.js';
