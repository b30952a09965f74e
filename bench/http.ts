/**
 * bench:http — the HTTP API of one agent (a single-server cluster on loopback, in-memory storage):
 *
 *   1. GET /v1/kv/x and PUT /v1/kv/x at concurrency 16 (closed loop, keep-alive): requests/s, p50, p99;
 *   2. blocking-query wake latency: 1,000 watchers parked on GET /v1/kv/w?index=N&wait=60s, then one
 *      PUT /v1/kv/w; the latency of each watcher is the time from the PUT's answer to its own answer
 *      (p50, p99, over several rounds). A herd of 50 is measured first, so a figure exists even when
 *      the big herd fails (its error is printed in `wakeError`, never hidden).
 *
 * The issue names no anchors for these figures, so no ratios are printed. The last line is one JSON
 * object. Knobs: BENCH_SECONDS (per phase, default 5), BENCH_WATCHERS (1000), BENCH_ROUNDS (5).
 */
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { startTestAgent } from '../test/consul-client/agent.js';
import { closedLoop, quantile, round } from './load.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const watcherCount = Number(process.env.BENCH_WATCHERS ?? 1000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
/** A herd small enough to measure even when the big one fails. */
const smallWatcherCount = Number(process.env.BENCH_SMALL_WATCHERS ?? 50);
const concurrency = 16;

interface Answer {
  status: number;
  index: number;
  body: string;
}

function request(agent: http.Agent, port: number, method: string, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          index: Number(res.headers['x-consul-index'] ?? 0),
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const loadAtStart = os.loadavg()[0]!;
  const agent = await startTestAgent({ nodeName: 'bench1' });
  const port = agent.httpPort;
  try {
    process.stdout.write(`agent: ${agent.mode} on 127.0.0.1:${port}\n`);
    const pool = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    await request(pool, port, 'PUT', '/v1/kv/x', 'hello');

    // Warm up (JIT, keep-alive sockets) before measuring.
    await closedLoop(
      async (w, seq) =>
        (await request(pool, port, w % 2 ? 'GET' : 'PUT', '/v1/kv/x', w % 2 ? undefined : `warm${seq}`)).status === 200,
      concurrency,
      1500,
      0,
    );
    const put = await closedLoop(
      async (w, seq) => (await request(pool, port, 'PUT', '/v1/kv/x', `v${w}-${seq}`)).status === 200,
      concurrency,
      seconds * 1000,
    );
    process.stdout.write(
      `PUT /v1/kv/x c${concurrency}: ${put.perSecond} req/s, p50 ${put.latencyMsP50} ms, p99 ${put.latencyMsP99} ms, errors ${put.errors}\n`,
    );
    const get = await closedLoop(
      async () => (await request(pool, port, 'GET', '/v1/kv/x')).status === 200,
      concurrency,
      seconds * 1000,
    );
    process.stdout.write(
      `GET /v1/kv/x c${concurrency}: ${get.perSecond} req/s, p50 ${get.latencyMsP50} ms, p99 ${get.latencyMsP99} ms, errors ${get.errors}\n`,
    );

    // Blocking-query wake latency: a small herd first (a figure even if the big one fails), then
    // the 1,000 parked watchers.
    const small = await wakePhase(port, agent, smallWatcherCount, rounds);
    const big = await wakePhase(port, agent, watcherCount, rounds);
    const result = {
      bench: 'http',
      // The machine is shared: figures are only comparable at similar load.
      loadAverage1mStart: round(loadAtStart, 2),
      loadAverage1mEnd: round(os.loadavg()[0]!, 2),
      cpus: os.cpus().length,
      agentMode: agent.mode,
      concurrency,
      seconds,
      putPerSecond: put.perSecond,
      putLatencyMsP50: put.latencyMsP50,
      putLatencyMsP99: put.latencyMsP99,
      putErrors: put.errors,
      getPerSecond: get.perSecond,
      getLatencyMsP50: get.latencyMsP50,
      getLatencyMsP99: get.latencyMsP99,
      getErrors: get.errors,
      wakeRounds: rounds,
      watchers: watcherCount,
      wakeLatencyMsP50: big.samples.length ? round(quantile(big.samples, 0.5), 3) : null,
      wakeLatencyMsP99: big.samples.length ? round(quantile(big.samples, 0.99), 3) : null,
      wakeLatencyMsMax: big.samples.length ? round(quantile(big.samples, 1), 3) : null,
      wakeSamples: big.samples.length,
      wakeMissed: big.missed,
      ...(big.error ? { wakeError: big.error } : {}),
      smallWatchers: smallWatcherCount,
      smallWakeLatencyMsP50: small.samples.length ? round(quantile(small.samples, 0.5), 3) : null,
      smallWakeLatencyMsP99: small.samples.length ? round(quantile(small.samples, 0.99), 3) : null,
      smallWakeMissed: small.missed,
      ...(small.error ? { smallWakeError: small.error } : {}),
    };
    pool.destroy();
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    await agent.stop();
  }
}

interface WakeResult {
  samples: number[];
  missed: number;
  error?: string;
}

/**
 * `count` watchers park on /v1/kv/w at its current index; one PUT changes it; each watcher's wake
 * latency is the time from the PUT's answer to its own. A watcher answered with an unchanged index,
 * a failed PUT or a dead agent is counted, never hidden.
 */
async function wakePhase(
  port: number,
  agent: { httpPort: number },
  count: number,
  roundCount: number,
): Promise<WakeResult> {
  const watchPool = new http.Agent({ keepAlive: true, maxSockets: count + 8 });
  const writer = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const samples: number[] = [];
  let missed = 0;
  try {
    for (let round = 0; round < roundCount; round++) {
      const current = await request(writer, port, 'PUT', '/v1/kv/w', `r${round}`).then(() =>
        request(writer, port, 'GET', '/v1/kv/w'),
      );
      const index = current.index;
      const answeredAt: number[] = [];
      const failures: string[] = [];
      const watchers = Array.from({ length: count }, () =>
        request(watchPool, port, 'GET', `/v1/kv/w?index=${index}&wait=60s`).then(
          (a) => {
            answeredAt.push(performance.now());
            if (a.status !== 200 || a.index <= index) missed++;
          },
          (e: Error) => void failures.push(e.message),
        ),
      );
      await waitForParked(agent, count);
      await new Promise((r) => setTimeout(r, 200));
      const early = answeredAt.length;
      const t0 = performance.now();
      const put = await request(writer, port, 'PUT', '/v1/kv/w', `changed-${round}`);
      const putAnsweredAt = performance.now();
      if (put.status !== 200) {
        await Promise.all(watchers);
        return {
          samples,
          missed,
          error: `PUT with ${count} parked watchers answered ${put.status} ${put.body.trim()} after ${round2(putAnsweredAt - t0)} ms`,
        };
      }
      await Promise.all(watchers);
      if (failures.length) return { samples, missed, error: `${failures.length} watchers failed: ${failures[0]}` };
      for (const at of answeredAt.slice(early)) samples.push(Math.max(0, at - putAnsweredAt));
      process.stdout.write(
        `wake (${count} watchers) round ${round + 1}: ${answeredAt.length - early}/${count} woken, PUT took ${round2(putAnsweredAt - t0)} ms, last watcher ${round2(Math.max(...answeredAt) - putAnsweredAt)} ms after it; ${early} answered early\n`,
      );
    }
    return { samples, missed };
  } catch (error) {
    return { samples, missed, error: `wake phase with ${count} watchers failed: ${(error as Error).message}` };
  } finally {
    watchPool.destroy();
    writer.destroy();
  }
}

function round2(x: number): number {
  return round(x, 2);
}

/** Polls the metrics endpoint until `count` blocking reads are in flight in the HTTP layer. */
async function waitForParked(agent: { httpPort: number }, count: number): Promise<void> {
  const probe = new http.Agent({ keepAlive: false });
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    const m = await request(probe, agent.httpPort, 'GET', '/v1/agent/metrics?format=prometheus');
    const line = m.body.split('\n').find((l) => l.startsWith('conclave_http_blocking_in_flight '));
    if (line && Number(line.split(' ')[1]) >= count) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`only some of ${count} watchers parked within 20 s`);
}

await main();
