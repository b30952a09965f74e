/**
 * npm run soak — three real Conclave servers on loopback (fsync on) under a steady mixed load with 500
 * parked blocking queries, on a busy host (CPU burner child processes, one per core by default), for
 * N minutes. No fault is injected: the goal is 0 leader elections after the first and 0 errors
 * (issue 13 §3). A benchmark, not a test.
 *
 *   npm run soak                          10 minutes, one burner per core, the agent's default timing
 *   npm run soak -- --minutes 2           shorter
 *   npm run soak -- --multiplier 2        performance.raft_multiplier 2 in every server's config
 *   npm run soak -- --burners 0           an idle host
 *
 * Load: 4 writers (PUT, one in four a CAS), 4 readers (default, consistent and stale GETs, a catalog
 * read), each pausing 20 ms between operations, spread over the three servers; 500 blocking queries
 * (`?index=N&wait=10s`, after a first plain read for N, as Consul's watch clients start) spread over
 * 50 keys and the three servers, re-parked as soon as they answer;
 * a writer touches one watched key every 100 ms. An error is a non-2xx answer (404 counts as an
 * answer for GETs), a timeout, a refused connection, or a blocking query that answers later than its
 * wait + 2 s.
 *
 * Every interval (30 s, or a tenth of the run when shorter) one line: elections so far, errors, ops,
 * p50/p99 of the non-blocking operations in the interval, blocking answers, and each server's RSS.
 * Elections are counted from the servers' own logs ("entering Leader state"), minus the first one.
 * Last line: one JSON object with every figure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { quantile, round } from './load.js';
import { loopbackServerArgs } from '../test/loopback-servers.js';

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => process.stdout.write(`${line}\n`);

// ───────────────────────────────────────── flags ─────────────────────────────────────────

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const minutes = Number(flag('minutes') ?? process.env['SOAK_MINUTES'] ?? 10);
const burnerCount = Number(flag('burners') ?? os.cpus().length);
const multiplier = flag('multiplier');
const blockingCount = Number(flag('blocking') ?? 500);
const durationMs = Math.round(minutes * 60_000);
const intervalMs = Math.min(30_000, Math.max(5_000, Math.round(durationMs / 10)));
if (!(durationMs > 0) || !(burnerCount >= 0) || !(blockingCount >= 0)) {
  process.stderr.write('usage: npm run soak -- [--minutes N] [--burners N] [--multiplier M] [--blocking N]\n');
  process.exit(2);
}

// ───────────────────────────────────────── cluster ─────────────────────────────────────────

const ips = ['127.0.9.1', '127.0.9.2', '127.0.9.3'];
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-soak-'));
const agent = new http.Agent({ keepAlive: true, maxSockets: 2048 });

interface Server {
  readonly ip: string;
  readonly proc: ChildProcess;
  readonly logFile: string;
}

function startServers(): Server[] {
  const configDir = path.join(root, 'config');
  fs.mkdirSync(configDir);
  if (multiplier !== undefined)
    fs.writeFileSync(
      path.join(configDir, 'performance.json'),
      JSON.stringify({ performance: { raft_multiplier: Number(multiplier) } }),
    );
  return ips.map((ip, i) => {
    const logFile = path.join(root, `s${i + 1}.log`);
    const out = fs.openSync(logFile, 'w');
    const proc = spawn(
      process.execPath,
      [
        path.join(repo, 'bin', 'conclave.js'),
        'agent',
        ...loopbackServerArgs(ips, i, path.join(root, `data${i + 1}`)),
        '-config-dir',
        configDir,
      ],
      { stdio: ['ignore', out, out] },
    );
    return { ip, proc, logFile };
  });
}

/** Leader terms seen in the servers' logs ("entering Leader state (term N)"), all servers together. */
function leaderTerms(servers: readonly Server[]): number[] {
  const terms: number[] = [];
  for (const s of servers) {
    const text = fs.readFileSync(s.logFile, 'utf8');
    for (const m of text.matchAll(/entering Leader state \(term (\d+)\)/g)) terms.push(Number(m[1]));
  }
  return terms.sort((a, b) => a - b);
}

function stepDowns(servers: readonly Server[]): string[] {
  const lines: string[] = [];
  for (const s of servers)
    for (const line of fs.readFileSync(s.logFile, 'utf8').split('\n'))
      if (/stepped down|entering Candidate state/.test(line)) lines.push(`${path.basename(s.logFile)}: ${line}`);
  return lines;
}

function rssMb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024, 1);
  } catch {
    return 0;
  }
}

/** CPU burners: the busy host. Each spins forever in its own process (killed at the end). */
function startBurners(count: number): ChildProcess[] {
  return Array.from({ length: count }, () =>
    spawn(process.execPath, ['-e', 'for (;;) { Math.sqrt(Math.random()); }'], { stdio: 'ignore' }),
  );
}

// ───────────────────────────────────────── http ─────────────────────────────────────────

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly index: number;
}

function request(ip: string, method: string, pathAndQuery: string, body: string | null, timeoutMs: number) {
  return new Promise<Answer>((resolve, reject) => {
    const req = http.request({ host: ip, port: 8500, method, path: pathAndQuery, agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          index: Number(res.headers['x-consul-index'] ?? 0),
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

// ───────────────────────────────────────── load ─────────────────────────────────────────

const stats = {
  ops: 0,
  errors: 0,
  blockingAnswers: 0,
  blockingLate: 0,
  latencies: [] as number[],
  errorSamples: [] as string[],
};
let running = true;

function recordError(what: string): void {
  stats.errors++;
  if (stats.errorSamples.length < 20) stats.errorSamples.push(`${new Date().toISOString()} ${what}`);
}

async function timed(what: string, op: () => Promise<boolean>): Promise<void> {
  const t0 = performance.now();
  try {
    if (await op()) {
      stats.ops++;
      stats.latencies.push(performance.now() - t0);
    } else recordError(what);
  } catch (error) {
    recordError(`${what}: ${(error as Error).message}`);
  }
}

async function writer(w: number): Promise<void> {
  for (let i = 0; running; i++) {
    const ip = ips[(w + i) % ips.length]!;
    const key = `soak/k${(w * 13 + i) % 200}`;
    if (i % 4 === 3) {
      await timed('cas', async () => {
        const r = await request(ip, 'GET', `/v1/kv/${key}`, null, 10_000);
        const index = r.status === 200 ? (JSON.parse(r.body) as { ModifyIndex: number }[])[0]!.ModifyIndex : 0;
        if (r.status !== 200 && r.status !== 404) return false;
        const p = await request(ip, 'PUT', `/v1/kv/${key}?cas=${index}`, `c${i}`, 10_000);
        return p.status === 200; // false (another writer won the race) is an answer, not an error
      });
    } else {
      await timed('put', async () => {
        const r = await request(ip, 'PUT', `/v1/kv/${key}`, `v${w}-${i}`, 10_000);
        return r.status === 200 && r.body === 'true';
      });
    }
    await sleep(20);
  }
}

async function reader(w: number): Promise<void> {
  const modes = ['', '?consistent', '?stale'];
  for (let i = 0; running; i++) {
    const ip = ips[(w + i) % ips.length]!;
    if (i % 10 === 9)
      await timed('catalog', async () => (await request(ip, 'GET', '/v1/catalog/nodes', null, 10_000)).status === 200);
    else
      await timed('get', async () => {
        const r = await request(ip, 'GET', `/v1/kv/soak/k${(w * 7 + i) % 200}${modes[i % 3]}`, null, 10_000);
        return r.status === 200 || r.status === 404;
      });
    await sleep(20);
  }
}

/**
 * One parked blocking query, re-parked as soon as it answers. It starts as Consul's own watch clients
 * do (api's WaitIndex 0, consul-template): a plain read for the current index, then blocking reads from
 * it. Starting all 500 at `?index=1` parked them at once while their 500 connections were still being
 * opened on a loaded host: the 10 s wait ran from the server's receipt, and the first batch answered
 * 12.0–12.5 s after the generator sent it (the only 42 errors of a 10-minute run).
 */
async function blocker(b: number): Promise<void> {
  const ip = ips[b % ips.length]!;
  const key = `soak/watch${b % 50}`;
  let index = 0;
  const waitMs = 10_000;
  while (running) {
    const t0 = performance.now();
    try {
      const query = index > 0 ? `?index=${index}&wait=10s` : '';
      const r = await request(ip, 'GET', `/v1/kv/${key}${query}`, null, waitMs + 15_000);
      const tookMs = performance.now() - t0;
      if (r.status !== 200 && r.status !== 404) {
        recordError(`blocking: ${r.status} ${r.body.slice(0, 80)}`);
        await sleep(100);
      } else {
        if (index > 0) stats.blockingAnswers++;
        const blocking = index > 0;
        index = r.index > 0 ? r.index : index;
        if (blocking && tookMs > waitMs + 2000) {
          stats.blockingLate++;
          recordError(`blocking answered after ${Math.round(tookMs)} ms (wait 10 s)`);
        }
      }
    } catch (error) {
      if (running) recordError(`blocking: ${(error as Error).message}`);
      await sleep(100);
    }
  }
}

async function toucher(): Promise<void> {
  for (let i = 0; running; i++) {
    await timed('touch', async () => {
      const r = await request(ips[i % ips.length]!, 'PUT', `/v1/kv/soak/watch${i % 50}`, `t${i}`, 10_000);
      return r.status === 200;
    });
    await sleep(100);
  }
}

async function waitForCluster(): Promise<void> {
  const deadline = Date.now() + 120_000;
  let okSince = 0;
  for (let i = 0; ; i++) {
    if (Date.now() > deadline) throw new Error('no stable leader within 120 s');
    const ok = await request(ips[i % 3]!, 'PUT', '/v1/kv/soak/ready', 'x', 2000)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (!ok) okSince = 0;
    else if (okSince === 0) okSince = Date.now();
    else if (Date.now() - okSince > 2000) return;
    await sleep(100);
  }
}

// ───────────────────────────────────────── main ─────────────────────────────────────────

const servers = startServers();
const burners: ChildProcess[] = [];
const samples: Record<string, number | number[]>[] = [];
let exitCode = 0;
try {
  await waitForCluster();
  const firstTerms = leaderTerms(servers);
  burners.push(...startBurners(burnerCount));
  log(
    `soak: 3 servers on ${ips.join(', ')}, ${minutes} min, ${burnerCount} CPU burners on ${os.cpus().length} cores, ` +
      `${blockingCount} blocking queries, raft_multiplier ${multiplier ?? 'default'}; logs in ${root}`,
  );
  const workers = [
    ...[0, 1, 2, 3].map((w) => writer(w)),
    ...[0, 1, 2, 3].map((w) => reader(w)),
    toucher(),
    ...Array.from({ length: blockingCount }, (_, b) => blocker(b)),
  ];
  // The load generator's own event-loop delay per interval: a late answer that the generator read late
  // (its loop busy with 500 queries' answers) is the generator's, not the cluster's.
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  const start = Date.now();
  while (Date.now() - start < durationMs) {
    await sleep(Math.min(intervalMs, durationMs - (Date.now() - start)));
    const lat = stats.latencies;
    stats.latencies = [];
    const terms = leaderTerms(servers);
    const sample = {
      atS: Math.round((Date.now() - start) / 1000),
      elections: Math.max(0, terms.length - firstTerms.length),
      errors: stats.errors,
      ops: lat.length,
      p50Ms: round(quantile(lat, 0.5)),
      p99Ms: round(quantile(lat, 0.99)),
      blockingAnswers: stats.blockingAnswers,
      blockingLate: stats.blockingLate,
      loadGenLagMsMax: round(loopDelay.max / 1e6),
      rssMb: servers.map((s) => rssMb(s.proc.pid)),
    };
    loopDelay.reset();
    samples.push(sample);
    log(
      `t=${String(sample.atS).padStart(4)}s elections=${sample.elections} errors=${sample.errors} ops=${sample.ops} ` +
        `p50=${sample.p50Ms}ms p99=${sample.p99Ms}ms blocking answers=${sample.blockingAnswers} (late ${sample.blockingLate}) load generator lag max=${sample.loadGenLagMsMax}ms rss=${sample.rssMb.join('/')} MB`,
    );
  }
  running = false;
  for (const b of burners) b.kill('SIGKILL');
  await Promise.race([Promise.all(workers), sleep(15_000)]);
  const terms = leaderTerms(servers);
  const elections = Math.max(0, terms.length - firstTerms.length);
  const allP99 = samples.map((s) => s['p99Ms'] as number);
  const result = {
    minutes,
    burners: burnerCount,
    cores: os.cpus().length,
    raftMultiplier: multiplier === undefined ? 'default' : Number(multiplier),
    blockingQueries: blockingCount,
    elections,
    errors: stats.errors,
    blockingAnswers: stats.blockingAnswers,
    blockingLate: stats.blockingLate,
    p99MsMax: allP99.length ? Math.max(...allP99) : 0,
    rssMbFinal: servers.map((s) => rssMb(s.proc.pid)),
    samples,
    errorSamples: stats.errorSamples,
    leadershipLines: stepDowns(servers).slice(0, 20),
  };
  if (elections > 0 || stats.errors > 0) {
    log(`soak: ${elections} elections, ${stats.errors} errors; first errors:`);
    for (const line of stats.errorSamples.slice(0, 10)) log(`  ${line}`);
    for (const line of result.leadershipLines.slice(0, 10)) log(`  ${line}`);
  }
  log(JSON.stringify(result));
} catch (error) {
  log(`soak failed: ${(error as Error).message}`);
  exitCode = 1;
} finally {
  running = false;
  for (const b of burners) b.kill('SIGKILL');
  for (const s of servers) s.proc.kill('SIGKILL');
  agent.destroy();
  await sleep(300);
  if (!process.env['SOAK_KEEP']) fs.rmSync(root, { recursive: true, force: true });
}
process.exit(exitCode);
