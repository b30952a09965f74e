/**
 * bench:cluster's load generator: closed-loop clients over node:http / node:https keep-alive
 * connections, one connection per client (an Agent with maxSockets 1 each), for Conclave's HTTP API and
 * etcd's v3 JSON gateway alike, so both systems get the same client code. bench/cluster.ts runs this
 * module in worker threads (the clients of a phase are dealt round-robin over them) and reads each
 * thread's event-loop utilisation: a thread near 1.0 means the load generator, not the system, set the
 * pace.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { performance } from 'node:perf_hooks';
import * as tls from 'node:tls';
import { parentPort } from 'node:worker_threads';

export type SystemKind = 'conclave' | 'etcd';
export type Op = 'put' | 'get' | 'cas';

/** How a client reaches a system: plain HTTP, or HTTPS with the CA and a client certificate (files). */
export interface ClientSpec {
  readonly kind: SystemKind;
  readonly tls: { readonly ca: string; readonly cert: string; readonly key: string } | null;
}

export interface PhaseRequest {
  readonly spec: ClientSpec;
  readonly op: Op;
  /** The global numbers of the clients this thread runs (their keys depend on them). */
  readonly clients: readonly number[];
  readonly endpoint: string;
  readonly durationMs: number;
  readonly value: string;
}

export interface PhaseResult {
  readonly latenciesMs: number[];
  readonly errors: number;
  /** Up to 5 distinct error texts (status and body, or the socket error). */
  readonly errorSamples: string[];
  /** This thread's event-loop utilisation over the phase (0..1). */
  readonly elu: number;
  /** The measured window: from the clock's start (after the connections' warm-up) to the last answer (ms). */
  readonly measuredMs: number;
}

export interface Reply {
  readonly status: number;
  readonly text: string;
  readonly headers: http.IncomingHttpHeaders;
}

/** One keep-alive connection (for one closed-loop client). */
export function clientAgent(spec: ClientSpec, maxSockets = 1): http.Agent {
  if (!spec.tls) return new http.Agent({ keepAlive: true, maxSockets });
  return new https.Agent({ keepAlive: true, maxSockets, secureContext: secureContextFor(spec.tls) });
}

const secureContexts = new Map<string, tls.SecureContext>();

/**
 * The client's CA, certificate and key as one secure context, built once per thread. Handing the files'
 * bytes to https.Agent instead (`ca`, `cert`, `key`) costs every request: the agent's pool key
 * (https.Agent#getName, computed twice per request) appends each option, so three PEM Buffers were
 * decoded into strings per request — measured: the TLS client's CPU per request fell from ~93 to ~77 µs
 * with a shared context (/tmp pingpong of 30,000 requests, 16 clients). The load generator shares the
 * two cores with the servers, so that waste was charged to "TLS" in bench:cluster's ratio. Verification
 * is unchanged: the context holds the CA, and the server's certificate is still checked against it and
 * against the host dialled (rejectUnauthorized stays on by default).
 */
function secureContextFor(files: NonNullable<ClientSpec['tls']>): tls.SecureContext {
  const id = `${files.ca}\0${files.cert}\0${files.key}`;
  let context = secureContexts.get(id);
  if (!context) {
    context = tls.createSecureContext({
      ca: fs.readFileSync(files.ca),
      cert: fs.readFileSync(files.cert),
      key: fs.readFileSync(files.key),
    });
    secureContexts.set(id, context);
  }
  return context;
}

/** One request; rejects on a socket error or after timeoutMs. */
export function request(
  agent: http.Agent,
  url: string,
  opts: { method?: string; body?: string; timeoutMs?: number } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const headers = opts.body !== undefined ? { 'Content-Length': Buffer.byteLength(opts.body) } : {};
    const req = mod.request(url, { method: opts.method ?? 'GET', agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), headers: res.headers }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.timeoutMs !== undefined) req.setTimeout(opts.timeoutMs, () => req.destroy(new Error('timeout')));
    req.end(opts.body);
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Why an answer is a failure, or null when it is a success. */
type Verdict = string | null;
const bad = (r: Reply) => `${r.status} ${r.text.slice(0, 120).trim()}`;

/** The operations, per system: each resolves with null (success) or the reason it failed. */
export const ops: Record<
  SystemKind,
  {
    put(agent: http.Agent, endpoint: string, key: string, value: string, timeoutMs?: number): Promise<Verdict>;
    /** A linearizable read (Conclave ?consistent, etcd range's default). */
    get(agent: http.Agent, endpoint: string, key: string): Promise<Verdict>;
    /** Read the key's version (the system's default read), then write conditionally on it. */
    cas(agent: http.Agent, endpoint: string, key: string, value: string): Promise<Verdict>;
  }
> = {
  conclave: {
    async put(agent, e, key, value, timeoutMs = 5000) {
      const r = await request(agent, `${e}/v1/kv/${key}`, { method: 'PUT', body: value, timeoutMs });
      return r.status === 200 && r.text === 'true' ? null : bad(r);
    },
    async get(agent, e, key) {
      const r = await request(agent, `${e}/v1/kv/${key}?consistent`, { timeoutMs: 5000 });
      return r.status === 200 || r.status === 404 ? null : bad(r);
    },
    async cas(agent, e, key, value) {
      const r = await request(agent, `${e}/v1/kv/${key}`, { timeoutMs: 5000 });
      if (r.status !== 200 && r.status !== 404) return bad(r);
      const index = r.status === 200 ? (JSON.parse(r.text) as { ModifyIndex: number }[])[0]!.ModifyIndex : 0;
      const w = await request(agent, `${e}/v1/kv/${key}?cas=${index}`, { method: 'PUT', body: value, timeoutMs: 5000 });
      return w.status === 200 && w.text === 'true' ? null : `cas: ${bad(w)}`;
    },
  },
  etcd: {
    async put(agent, e, key, value, timeoutMs = 5000) {
      const body = JSON.stringify({ key: b64(key), value: b64(value) });
      const r = await request(agent, `${e}/v3/kv/put`, { method: 'POST', body, timeoutMs });
      return r.status === 200 ? null : bad(r);
    },
    async get(agent, e, key) {
      const r = await request(agent, `${e}/v3/kv/range`, {
        method: 'POST',
        body: JSON.stringify({ key: b64(key) }),
        timeoutMs: 5000,
      });
      return r.status === 200 ? null : bad(r);
    },
    async cas(agent, e, key, value) {
      const r = await request(agent, `${e}/v3/kv/range`, {
        method: 'POST',
        body: JSON.stringify({ key: b64(key) }),
        timeoutMs: 5000,
      });
      if (r.status !== 200) return bad(r);
      const kv = (JSON.parse(r.text) as { kvs?: { mod_revision: string }[] }).kvs?.[0];
      const t = await request(agent, `${e}/v3/kv/txn`, {
        method: 'POST',
        body: JSON.stringify({
          compare: [{ key: b64(key), target: 'MOD', result: 'EQUAL', mod_revision: kv ? kv.mod_revision : '0' }],
          success: [{ request_put: { key: b64(key), value: b64(value) } }],
        }),
        timeoutMs: 5000,
      });
      if (t.status !== 200) return `cas: ${bad(t)}`;
      return (JSON.parse(t.text) as { succeeded?: boolean }).succeeded === true ? null : 'cas: not succeeded';
    },
  },
};

/** The key a client's i-th operation uses: puts and gets spread over 100 keys, each CAS client owns one. */
export function keyFor(op: Op, client: number, i: number): string {
  return op === 'cas' ? `bench/cas${client}` : `bench/k${(client * 7 + i) % 100}`;
}

/** Runs the closed-loop clients of one phase on this thread. */
export async function runPhase(req: PhaseRequest): Promise<PhaseResult> {
  const impl = ops[req.spec.kind];
  const latenciesMs: number[] = [];
  const samples = new Set<string>();
  let errors = 0;
  // Every client opens its keep-alive connection (TCP, and the TLS handshake with its client
  // certificate) with one uncounted read before the clock starts: the phase measures steady-state
  // operations, as long-lived Consul clients see them, not connection set-up (16 handshakes inside a
  // 5 s phase weighed on TLS's throughput and made its p99).
  const agents = req.clients.map(() => clientAgent(req.spec));
  await Promise.all(
    req.clients.map((client, k) =>
      impl.get(agents[k]!, req.endpoint, keyFor('get', client, 0)).catch(() => 'warm-up failed'),
    ),
  );
  const elu0 = performance.eventLoopUtilization();
  const start = performance.now();
  const end = start + req.durationMs;
  await Promise.all(
    req.clients.map(async (client, k) => {
      const agent = agents[k]!;
      try {
        for (let i = 0; performance.now() < end; i++) {
          const key = keyFor(req.op, client, i);
          const t0 = performance.now();
          const verdict = await (
            req.op === 'put'
              ? impl.put(agent, req.endpoint, key, req.value)
              : req.op === 'get'
                ? impl.get(agent, req.endpoint, key)
                : impl.cas(agent, req.endpoint, key, `c${client}-${i}`)
          ).catch((error: Error) => `socket: ${error.message}`);
          if (verdict === null) latenciesMs.push(performance.now() - t0);
          else {
            errors++;
            if (samples.size < 5) samples.add(verdict);
          }
        }
      } finally {
        agent.destroy();
      }
    }),
  );
  const elu = performance.eventLoopUtilization(elu0).utilization;
  return { latenciesMs, errors, errorSamples: [...samples], elu, measuredMs: performance.now() - start };
}

// As a worker thread: one phase per message.
if (parentPort) {
  const port = parentPort;
  port.on('message', (req: PhaseRequest) => {
    void runPhase(req).then((result) => port.postMessage(result));
  });
}
