/**
 * The HTTP API server on node:http: reads the body (bounded at 512 KiB → 413), hands a plain request
 * to `routeHttp`, writes its answer, and records metrics. All Consul semantics live in router.ts.
 */
import type { AclSettings } from '../gate.js';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import { HttpMetrics } from './metrics.js';
import { requestBodyBytesMax, routeHttp, type RouterContext } from './router.js';
import { answerUi, type UiAssets } from './ui.js';

/** Largest snapshot archive accepted by PUT /v1/snapshot (compressed). */
const snapshotRequestBytesMax = 32 * 1024 * 1024;

export interface HttpApiOptions {
  /** Bind address (`-client`, default 127.0.0.1). */
  readonly host: string;
  /** Port (8500; 0 picks a free one, for tests). */
  readonly port: number;
  /** Sends one request to the node's agent machine and resolves with its one reply. */
  readonly call: (request: AgentRequest) => Promise<AgentResponse>;
  /** This agent's datacenter; `?dc=` naming another answers 500 "No path to datacenter". */
  readonly datacenter: string;
  /** Shared metrics; a fresh set when absent. */
  readonly metrics?: HttpMetrics;
  /** `PUT /v1/agent/reload`: re-read config files and send `agent.reload` (the SIGHUP path). */
  readonly reload?: () => Promise<AgentResponse>;
  /** Extra wait for an agent answer beyond a blocking read's own wait, before a 500. */
  readonly callTimeoutMs?: number;
  /** This agent's node name: what `?near=_agent` sorts first. */
  readonly nodeName?: string;
  /** Legacy ACLs enforced on every request (off when absent). */
  readonly acl?: AclSettings;
  /** `/v1/operator/keyring`, carried out by the agent process. */
  readonly keyring?: RouterContext['keyring'];
  /** The web UI's files (`-ui`), served at /ui/ with `/` redirecting there; absent = no UI (404, as before). */
  readonly ui?: UiAssets;
  /** `GET /v1/agent/debug/insides`: the cluster's insides as this agent sees them (cli/agent/insides.ts). */
  readonly insides?: RouterContext['insides'];
  /** HTTPS (`ports.https`): the agent's certificate; `verifyIncoming` asks for a client certificate the CA signed. */
  readonly tls?: {
    readonly cert: Buffer;
    readonly key: Buffer;
    readonly ca: Buffer | null;
    readonly verifyIncoming: boolean;
  };
}

export interface HttpApi {
  /** `host:port` actually bound. */
  readonly address: string;
  readonly port: number;
  readonly metrics: HttpMetrics;
  /** Stops listening and drops open connections (parked blocking reads included). */
  close(): Promise<void>;
}

export async function startHttpApi(options: HttpApiOptions): Promise<HttpApi> {
  const metrics = options.metrics ?? new HttpMetrics();
  const ctx: RouterContext = {
    call: options.call,
    datacenter: options.datacenter,
    metrics,
    ...(options.reload ? { reload: options.reload } : {}),
    ...(options.callTimeoutMs !== undefined ? { callTimeoutMs: options.callTimeoutMs } : {}),
    ...(options.nodeName !== undefined ? { nodeName: options.nodeName } : {}),
    ...(options.acl !== undefined ? { acl: options.acl } : {}),
    ...(options.keyring !== undefined ? { keyring: options.keyring } : {}),
    ...(options.insides !== undefined ? { insides: options.insides } : {}),
  };
  const ui = options.ui ?? null;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => serve(req, res, ctx, metrics, ui);
  const t = options.tls;
  const server = t
    ? https.createServer(
        {
          maxHeaderSize: 64 * 1024,
          cert: t.cert,
          key: t.key,
          ...(t.ca ? { ca: t.ca } : {}),
          requestCert: t.verifyIncoming,
          rejectUnauthorized: t.verifyIncoming,
        },
        handler,
      )
    : http.createServer({ maxHeaderSize: 64 * 1024 }, handler);
  // A request must arrive whole within a minute; the response may take as long as a blocking read's wait.
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 30_000;
  server.on('clientError', (_error, socket) => {
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const hostText = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    address: `${hostText}:${bound.port}`,
    port: bound.port,
    metrics,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function serve(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  ctx: RouterContext,
  metrics: HttpMetrics,
  ui: UiAssets | null,
): void {
  const startMs = performance.now();
  metrics.inFlight++;
  let done = false;
  const finish = (
    status: number,
    headers: Record<string, string>,
    body: string | Uint8Array,
    route: string,
    closeAfter = false,
  ) => {
    if (done) return;
    done = true;
    metrics.inFlight--;
    metrics.record(req.method ?? 'GET', route, status, performance.now() - startMs);
    if (res.destroyed) return;
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    res.statusCode = status;
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.setHeader('Content-Length', bytes.length);
    if (closeAfter) res.setHeader('Connection', 'close');
    res.end(req.method === 'HEAD' ? undefined : bytes);
    if (closeAfter) res.once('finish', () => req.socket.destroySoon?.());
  };
  // The web UI: off the API's path (one byte compared for /v1/… requests), answered from memory.
  if (ui !== null && req.url !== undefined && req.url.charCodeAt(1) !== 118 /* the v of /v1/ */) {
    const answer = answerUi(ui, req.method ?? 'GET', req.url, req.headers);
    if (answer !== null) {
      req.resume();
      finish(answer.status, answer.headers, answer.body, 'ui');
      return;
    }
  }
  // A snapshot restore carries the whole store; every other body is bounded like a KV value.
  const bodyBytesMax = (req.url ?? '').split('?')[0] === '/v1/snapshot' ? snapshotRequestBytesMax : requestBodyBytesMax;
  const tooLarge = (size: number | string) =>
    finish(
      413,
      { 'Content-Type': 'text/plain; charset=utf-8' },
      `Request body(${size} bytes) too large, max size: ${bodyBytesMax} bytes.`,
      'too-large',
      true,
    );

  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > bodyBytesMax) {
    tooLarge(declared);
    req.resume();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    if (done) return;
    size += chunk.length;
    if (size > bodyBytesMax) {
      tooLarge(size);
      return;
    }
    chunks.push(chunk);
  });
  req.on('error', () => {
    if (!done) {
      done = true;
      metrics.inFlight--;
    }
  });
  req.on('end', () => {
    if (done) return;
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    void routeHttp(
      {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: new Uint8Array(body.buffer, body.byteOffset, body.length),
      },
      ctx,
    ).then((out) => finish(out.status, out.headers, out.body, out.route));
  });
}
