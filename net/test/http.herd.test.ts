/**
 * A herd of blocking queries: 300 watchers parked on one key through the HTTP API of a real agent,
 * then one PUT; every watcher must wake with the new index, and the PUT must answer promptly.
 * (bench:http measures the same with 1,000 watchers; this is the correctness half, in npm test.)
 *
 * This used to stop the node: each parked read rechecks through a `local` call to Raft, and one
 * commit with more than ~128 parked reads exceeded the runtime's old bound of 256 local hops per step
 * (the bound is now sized for blockingQueriesMax, and the hop queue is walked without shift()).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import http from 'node:http';
import { startTestAgent, type TestAgent } from '../../test/consul-client/agent.js';

let agent: TestAgent;
beforeAll(async () => {
  agent = await startTestAgent({ nodeName: 'herd1' });
}, 30_000);
afterAll(async () => agent?.stop());

function get(pool: http.Agent, path: string): Promise<{ status: number; index: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: agent.httpPort, path, agent: pool, timeout: 20_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, index: Number(res.headers['x-consul-index'] ?? 0) }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

it('300 parked watchers all wake on one PUT', async () => {
  const base = `http://127.0.0.1:${agent.httpPort}`;
  await fetch(`${base}/v1/kv/herd`, { method: 'PUT', body: 'v0' });
  const index = Number((await fetch(`${base}/v1/kv/herd`)).headers.get('x-consul-index'));
  const pool = new http.Agent({ keepAlive: true, maxSockets: 400 });
  try {
    const watchers = Array.from({ length: 300 }, () => get(pool, `/v1/kv/herd?index=${index}&wait=15s`));
    // Wait until the HTTP layer holds them all.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const text = await (await fetch(`${base}/v1/agent/metrics?format=prometheus`)).text();
      if (Number(/^conclave_http_blocking_in_flight (\d+)$/m.exec(text)?.[1] ?? 0) >= 300) break;
      if (Date.now() > deadline) throw new Error('watchers did not park');
      await new Promise((r) => setTimeout(r, 50));
    }
    const started = Date.now();
    const put = await fetch(`${base}/v1/kv/herd`, { method: 'PUT', body: 'v1', signal: AbortSignal.timeout(5000) });
    expect(put.status).toBe(200);
    const results = await Promise.all(watchers);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(results.every((r) => r.status === 200 && r.index > index)).toBe(true);
  } finally {
    pool.destroy();
  }
}, 40_000);
