/**
 * Fuzzing the HTTP API with fast-check (bounded): random methods, paths built from the real route
 * prefixes plus random (sometimes malformed) percent-encoded segments, random query strings over the
 * parameters Consul reads, random headers, and random bodies (bytes, JSON, near-valid JSON). Against
 * the router directly (many runs) and against the real node:http server over sockets (fewer runs,
 * plus raw garbage on the TCP port). Properties: it never throws, never hangs (each answer within a
 * deadline), always answers a valid status with string headers, and the server keeps serving.
 * The agent behind it is an adversarial double answering random (sometimes malformed) responses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import http from 'node:http';
import net from 'node:net';
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import { routeHttp, routes } from '../http/router.js';
import { startHttpApi, type HttpApi } from '../http/server.js';

const prefixes = [...routes.map((r) => r.path), '/v1/', '/v1/unknown/', '/ui/', ''];
const segment = fc.oneof(
  fc.string({ maxLength: 12 }).map((s) => encodeURIComponent(s)),
  fc.constantFrom('web', 'a%2Fb', '%', '%zz', '%E0%A4%A', '..', '', 'key%23', '%00', 'a/b/c', '?', '#frag'),
);
const pathArb = fc
  .tuple(fc.constantFrom(...prefixes), fc.array(segment, { maxLength: 3 }))
  .map(([p, segs]) => p + segs.join('/'));
const paramNames = [
  'recurse',
  'keys',
  'raw',
  'separator',
  'cas',
  'flags',
  'acquire',
  'release',
  'index',
  'wait',
  'stale',
  'consistent',
  'dc',
  'token',
  'pretty',
  'passing',
  'tag',
  'enable',
  'reason',
  'note',
  'node-meta',
  'wan',
  'format',
  'name',
  'node',
  'service',
];
const paramValue = fc.oneof(
  fc.constantFrom(
    '',
    '1',
    'true',
    'False',
    '0',
    '-1',
    '5s',
    '10m',
    '1h',
    '99999999999999999999',
    'dc1',
    'dc2',
    'prometheus',
    '%zz',
    'a:b',
  ),
  fc.string({ maxLength: 8 }),
);
const queryArb = fc
  .array(fc.tuple(fc.constantFrom(...paramNames), fc.option(paramValue, { nil: undefined })), { maxLength: 5 })
  .map((pairs) =>
    pairs.length === 0
      ? ''
      : '?' + pairs.map(([k, v]) => (v === undefined ? k : `${k}=${encodeURIComponent(v)}`)).join('&'),
  );
const methodArb = fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS', 'get');
const jsonish = fc.oneof(
  fc.json().map((s) => s),
  fc.constantFrom(
    '{"Name":"web","Port":80,"Check":{"TTL":"10s"}}',
    '[{"KV":{"Verb":"set","Key":"k","Value":"dg=="}}]',
    '{"name":',
    '{"Node":"n","Address":"1.2.3.4"}',
    'null',
    '[]',
    '{"LockDelay":"x"}',
  ),
);
const bodyArb = fc.oneof(
  jsonish.map((s) => new TextEncoder().encode(s)),
  fc.uint8Array({ maxLength: 64 }),
  fc.constant(new Uint8Array()),
);
const headerArb = fc.dictionary(
  fc.constantFrom('x-consul-token', 'content-type', 'authorization', 'x-junk'),
  fc.string({ maxLength: 10 }),
  { maxKeys: 3 },
);

/** An adversarial agent: random statuses, bodies (bytes, nulls, cyclic-free junk), indexes, errors, throws. */
const responseArb: fc.Arbitrary<AgentResponse | 'throw'> = fc.oneof(
  fc.constant('throw' as const),
  fc.record(
    {
      status: fc.oneof(fc.constantFrom(200, 404, 409, 400, 413, 500), fc.integer({ min: -5, max: 1000 })),
      body: fc.oneof(fc.jsonValue(), fc.uint8Array({ maxLength: 8 }), fc.constant(null), fc.constant(undefined)),
      index: fc.option(fc.oneof(fc.nat(), fc.double()), { nil: undefined }),
      knownLeader: fc.option(fc.boolean(), { nil: undefined }),
      lastContactMs: fc.option(fc.double(), { nil: undefined }),
      error: fc.option(fc.string({ maxLength: 10 }), { nil: undefined }),
    },
    { requiredKeys: ['status', 'body'] },
  ) as fc.Arbitrary<AgentResponse>,
);

function checkAnswer(out: { status: number; headers: Record<string, string>; body: unknown }): void {
  expect(Number.isInteger(out.status) && out.status >= 100 && out.status <= 599).toBe(true);
  for (const [k, v] of Object.entries(out.headers)) {
    expect(typeof k).toBe('string');
    expect(typeof v).toBe('string');
    expect(/[\r\n]/.test(v)).toBe(false);
  }
  expect(typeof out.body === 'string' || out.body instanceof Uint8Array).toBe(true);
  // Consul's index header is a positive decimal integer, whatever the agent said (clients reject 0).
  const index = out.headers['X-Consul-Index'];
  if (index !== undefined) expect(index).toMatch(/^[1-9][0-9]*$/);
  const lastContact = out.headers['X-Consul-LastContact'];
  if (lastContact !== undefined) expect(lastContact).toMatch(/^[0-9]+$/);
}

/** Routes one request with a 2-second deadline (a hang fails) and checks the answer's shape. */
async function routeAndCheck(
  req: Parameters<typeof routeHttp>[0],
  ctx: Parameters<typeof routeHttp>[1],
): Promise<void> {
  const out = await Promise.race([
    routeHttp(req, ctx),
    new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 2000)),
  ]);
  expect(out).not.toBe('hung');
  if (out !== 'hung') checkAnswer(out);
}

describe('HTTP router fuzz (direct)', () => {
  it('always answers, never throws or hangs', async () => {
    await fc.assert(
      fc.asyncProperty(
        methodArb,
        pathArb,
        queryArb,
        headerArb,
        bodyArb,
        responseArb,
        async (method, path, query, headers, body, answer) => {
          const seen: AgentRequest[] = [];
          const ctx = {
            datacenter: 'dc1',
            callTimeoutMs: 50,
            call: async (req: AgentRequest) => {
              seen.push(req);
              if (answer === 'throw') throw new Error('agent exploded');
              return answer;
            },
          };
          await routeAndCheck({ method, url: path + query, headers, body }, ctx);
          // A blocking read never asks the agent to wait past the 10-minute cap.
          for (const r of seen) {
            const read = (r as { read?: { waitMs?: number } }).read;
            if (read?.waitMs !== undefined) expect(read.waitMs).toBeLessThanOrEqual(600_000);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });
});

describe('HTTP router fuzz with ACLs on', () => {
  it('always answers, never throws or hangs, whatever the token lookups return', async () => {
    const tokenArb = fc.oneof(
      fc.constant({
        status: 200,
        body: [{ ID: 't', Name: '', Type: 'management', Rules: '', CreateIndex: 1, ModifyIndex: 1 }],
      }),
      fc.constant({
        status: 200,
        body: [
          {
            ID: 't',
            Name: '',
            Type: 'client',
            Rules: 'key "" { policy = "read" }\nservice "" { policy = "deny" }',
            CreateIndex: 1,
            ModifyIndex: 1,
          },
        ],
      }),
      fc.record({
        status: fc.constantFrom(200, 500),
        body: fc.oneof(fc.jsonValue(), fc.constant([{ Type: 'client', Rules: 'key {' }])),
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        methodArb,
        pathArb,
        queryArb,
        headerArb,
        bodyArb,
        responseArb,
        tokenArb,
        fc.constantFrom('allow' as const, 'deny' as const),
        async (method, path, query, headers, body, answer, token, defaultPolicy) => {
          const ctx = {
            datacenter: 'dc1',
            callTimeoutMs: 50,
            nodeName: 'n1',
            acl: { enabled: true, defaultPolicy },
            call: async (req: AgentRequest) => {
              if (req.type === 'acl.resolve') {
                // The agent's answer: a grant built from the token it found (or the garbage as it came).
                const found = token.status === 200 && Array.isArray(token.body) ? token.body[0] : undefined;
                return (
                  found !== undefined ? { status: 200, body: { kind: 'token', token: found, defaultPolicy } } : token
                ) as AgentResponse;
              }
              if (answer === 'throw') throw new Error('agent exploded');
              return answer;
            },
          };
          await routeAndCheck({ method, url: path + query, headers, body }, ctx);
        },
      ),
      { numRuns: 800 },
    );
  });
});

describe('HTTP server fuzz (sockets)', () => {
  let api: HttpApi;
  let calls = 0;
  beforeAll(async () => {
    api = await startHttpApi({
      host: '127.0.0.1',
      port: 0,
      datacenter: 'dc1',
      callTimeoutMs: 50,
      call: async () => {
        calls++;
        return calls % 3 === 0 ? { status: 404, body: null, index: 3 } : { status: 200, body: { ok: true }, index: 3 };
      },
    });
  });
  afterAll(async () => api.close());

  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  function send(method: string, path: string, headers: Record<string, string>, body: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: api.port, method, path, headers, agent, timeout: 3000 },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('timeout', () => req.destroy(new Error('hung')));
      req.on('error', reject);
      req.end(body);
    });
  }

  it('answers every request with a status, over a real socket', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'PUT', 'POST', 'DELETE'),
        pathArb,
        queryArb,
        headerArb,
        bodyArb,
        async (method, path, query, headers, body) => {
          let target = path + query;
          // node's client refuses some targets outright; those never reach a server.
          if (!target.startsWith('/') || /[^\x21-\x7e]/.test(target)) target = '/' + encodeURIComponent(target);
          const safeHeaders = Object.fromEntries(Object.entries(headers).filter(([, v]) => /^[\x20-\x7e]*$/.test(v)));
          const status = await send(method, target, safeHeaders, body);
          expect(status).toBeGreaterThanOrEqual(200);
          expect(status).toBeLessThan(600);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('survives raw garbage on the port and keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), async (bytes) => {
        await new Promise<void>((resolve) => {
          const s = net.connect(api.port, '127.0.0.1', () => s.end(Buffer.from(bytes)));
          s.on('data', () => {});
          s.on('close', () => resolve());
          s.on('error', () => resolve());
          s.setTimeout(2000, () => s.destroy());
        });
      }),
      { numRuns: 40 },
    );
    expect(await send('GET', '/', {}, new Uint8Array())).toBe(200);
  });

  it('refuses bodies over 512 KiB with 413, streamed or declared', async () => {
    expect(await send('PUT', '/v1/kv/big', {}, new Uint8Array(512 * 1024 + 1))).toBe(413);
    // Exactly 512 KiB reaches the agent (the double answers 200 or 404 in turn).
    expect([200, 404]).toContain(await send('PUT', '/v1/kv/ok', {}, new Uint8Array(512 * 1024)));
    expect(await send('GET', '/', {}, new Uint8Array())).toBe(200);
  });
});
