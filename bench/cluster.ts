/**
 * bench:cluster — three real Conclave servers on loopback (fsync on) against a three-member etcd 3.4
 * on loopback, same load, HTTP/1.1 keep-alive clients (Conclave: a node:http(s) Agent; etcd: Node fetch
 * through its JSON gateway; the clients differ since the secure variant was added), one system at a
 * time so they never share the two cores:
 *
 *   put c1 / c16 / c64          ops/s, p50, p99
 *   linearizable get c16        Conclave ?consistent, etcd range (linearizable by default)
 *   cas c16                     each op = read the key's index/revision, then a conditional write
 *   blocking-query wake         Conclave ?index=N&wait blocking GET vs etcd watch: PUT sent → watcher told
 *   failover                    kill -9 of the leader → next successful write
 *
 * BENCH_SECURE=1 adds "conclave+tls": the same three servers with gossip encryption (`conclave keygen`
 * → "encrypt") and TLS (`conclave tls ca create`, `tls cert create -server -dc dc1` per server,
 * verify_incoming/outgoing/server_hostname, ports.https), the load client on HTTPS (node:https
 * keep-alive Agent trusting the CA, with a `tls cert create -client` certificate since verify_incoming
 * covers HTTPS); the JSON gains tlsPutC16Ratio = secure put c16 / plain put c16.
 * Both Conclave variants use the same client (node:http or node:https keep-alive Agent).
 * BENCH_SKIP_ETCD=1 leaves etcd out.
 *
 * CPU: user+system seconds of the three server processes per phase, divided by wall time (cores).
 * etcd is installed from Debian when absent (`apt-get install -y etcd-server etcd-client`).
 * Last line: one JSON object with every figure and the ratios conclave/etcd.
 */
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loopbackServerArgs } from '../test/loopback-servers.js';

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const phaseMs = Number(process.env['BENCH_PHASE_MS'] ?? 5000);
const secure = process.env['BENCH_SECURE'] === '1';
const skipEtcd = process.env['BENCH_SKIP_ETCD'] === '1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Figures {
  /** Operations that failed (error status, timeout): reported, never counted as throughput. */
  errors: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cores: number;
}

interface System {
  name: string;
  endpoints: string[];
  pids(): number[];
  put(endpoint: string, key: string, value: string, timeoutMs?: number): Promise<boolean>;
  get(endpoint: string, key: string): Promise<boolean>;
  /** Read the key's version, then write conditionally on it. True when the CAS took. */
  cas(endpoint: string, key: string, value: string): Promise<boolean>;
  /** Starts a watcher on key; resolves the returned promise at the first change after the call. */
  watch(endpoint: string, key: string): Promise<() => Promise<void>>;
  leaderIndex(): Promise<number>;
  kill(index: number): void;
  stop(): Promise<void>;
}

// ───────────────────────────────────────── load ─────────────────────────────────────────

async function load(
  system: System,
  concurrency: number,
  op: (endpoint: string, worker: number, i: number) => Promise<boolean>,
): Promise<Figures> {
  const latencies: number[] = [];
  let done = 0;
  let errors = 0;
  const cpu0 = cpuSeconds(system.pids());
  const start = performance.now();
  const end = start + phaseMs;
  await Promise.all(
    [...Array(concurrency).keys()].map(async (w) => {
      for (let i = 0; performance.now() < end; i++) {
        const endpoint = system.endpoints[(w + i) % system.endpoints.length]!;
        const t0 = performance.now();
        const ok = await op(endpoint, w, i).catch(() => false);
        if (ok) {
          latencies.push(performance.now() - t0);
          done++;
        } else errors++;
      }
    }),
  );
  const wallS = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    errors,
    opsPerSec: Math.round(done / wallS),
    p50Ms: round(latencies[Math.floor(latencies.length * 0.5)] ?? NaN),
    p99Ms: round(latencies[Math.floor(latencies.length * 0.99)] ?? NaN),
    cores: round((cpuSeconds(system.pids()) - cpu0) / wallS),
  };
}

async function wakeLatency(system: System): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 40; i++) {
    const key = `bench/watch${i % 4}`;
    const waitFor = await system.watch(system.endpoints[1]!, key);
    await sleep(20);
    const t0 = performance.now();
    const woke = waitFor().then(() => performance.now() - t0);
    await system.put(system.endpoints[0]!, key, `w${i}`);
    samples.push(await woke);
  }
  samples.sort((a, b) => a - b);
  return round(samples[Math.floor(samples.length / 2)]!);
}

async function failover(system: System): Promise<number> {
  const leader = await system.leaderIndex();
  const others = system.endpoints.filter((_, i) => i !== leader);
  const t0 = performance.now();
  system.kill(leader);
  for (let i = 0; ; i++) {
    // Short attempts: a request parked on a node that is still electing must not hide the recovery.
    const ok = await system.put(others[i % others.length]!, 'bench/failover', `f${i}`, 300).catch(() => false);
    if (ok) return Math.round(performance.now() - t0);
    if (performance.now() - t0 > 60_000) return NaN;
    await sleep(5);
  }
}

/** A stable leader first: writes through every endpoint must succeed for 2 s in a row. */
async function warmUp(system: System): Promise<void> {
  const deadline = Date.now() + 60_000;
  let okSince = Date.now();
  for (let i = 0; Date.now() - okSince < 2000; i++) {
    if (Date.now() > deadline) throw new Error(`${system.name}: no stable leader within 60 s`);
    const ok = await system
      .put(system.endpoints[i % system.endpoints.length]!, 'bench/warmup', `w${i}`, 1000)
      .catch(() => false);
    if (!ok) okSince = Date.now();
  }
}

async function runSuite(system: System): Promise<Record<string, number>> {
  await warmUp(system);
  const value = 'x'.repeat(100);
  const out: Record<string, number> = {};
  for (const c of [1, 16, 64]) {
    const f = await load(system, c, (e, w, i) => system.put(e, `bench/k${(w * 7 + i) % 100}`, value));
    log(
      `${system.name} put c${c}: ${f.opsPerSec}/s p50 ${f.p50Ms} ms p99 ${f.p99Ms} ms, ${f.cores} cores, ${f.errors} errors`,
    );
    Object.assign(out, {
      [`putC${c}Errors`]: f.errors,
      [`putC${c}OpsPerSec`]: f.opsPerSec,
      [`putC${c}P50Ms`]: f.p50Ms,
      [`putC${c}P99Ms`]: f.p99Ms,
      [`putC${c}Cores`]: f.cores,
    });
  }
  const g = await load(system, 16, (e, w, i) => system.get(e, `bench/k${(w * 7 + i) % 100}`));
  log(
    `${system.name} linearizable get c16: ${g.opsPerSec}/s p50 ${g.p50Ms} ms p99 ${g.p99Ms} ms, ${g.cores} cores, ${g.errors} errors`,
  );
  Object.assign(out, {
    readC16Errors: g.errors,
    readC16OpsPerSec: g.opsPerSec,
    readC16P50Ms: g.p50Ms,
    readC16P99Ms: g.p99Ms,
    readC16Cores: g.cores,
  });
  const c = await load(system, 16, (e, w, i) => system.cas(e, `bench/cas${w}`, `c${w}-${i}`));
  log(
    `${system.name} cas c16: ${c.opsPerSec}/s p50 ${c.p50Ms} ms p99 ${c.p99Ms} ms, ${c.cores} cores, ${c.errors} errors`,
  );
  Object.assign(out, {
    casC16Errors: c.errors,
    casC16OpsPerSec: c.opsPerSec,
    casC16P50Ms: c.p50Ms,
    casC16P99Ms: c.p99Ms,
    casC16Cores: c.cores,
  });
  out['wakeP50Ms'] = await wakeLatency(system);
  log(`${system.name} blocking-query wake p50: ${out['wakeP50Ms']} ms`);
  out['failoverMs'] = await failover(system);
  log(`${system.name} leader kill -9 → next write: ${out['failoverMs']} ms`);
  return out;
}

// ───────────────────────────────────────── conclave ─────────────────────────────────────────

interface Reply {
  status: number;
  text: string;
  headers: http.IncomingHttpHeaders;
}

/** One request over a keep-alive Agent (node:http or node:https, whichever the URL names). */
function request(
  agent: http.Agent,
  url: string,
  opts: { method?: string; body?: string; timeoutMs?: number } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.request(url, { method: opts.method ?? 'GET', agent }, (res) => {
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

const conclaveCli = (cwd: string, args: string[]) =>
  execSync(
    `${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(repo, 'bin', 'conclave.js'))} ${args.join(' ')}`,
    {
      cwd,
    },
  )
    .toString()
    .trim();

/** Gossip key, CA and one server certificate per IP (naming the IP), and a config file per server. */
function secureConfigs(root: string, ips: readonly string[]): string[] {
  const dir = path.join(root, 'tls');
  fs.mkdirSync(dir, { recursive: true });
  const key = conclaveCli(dir, ['keygen']);
  conclaveCli(dir, ['tls', 'ca', 'create']);
  // verify_incoming covers HTTPS too (as in Consul): the load client presents a client certificate.
  conclaveCli(dir, ['tls', 'cert', 'create', '-client', '-dc', 'dc1']);
  return ips.map((ip, i) => {
    conclaveCli(dir, ['tls', 'cert', 'create', '-server', '-dc', 'dc1', '-additional-ipaddress', ip]);
    const file = path.join(dir, `s${i + 1}.json`);
    fs.writeFileSync(
      file,
      JSON.stringify({
        encrypt: key,
        ca_file: path.join(dir, 'consul-agent-ca.pem'),
        cert_file: path.join(dir, `dc1-server-consul-${i}.pem`),
        key_file: path.join(dir, `dc1-server-consul-${i}-key.pem`),
        verify_incoming: true,
        verify_outgoing: true,
        verify_server_hostname: true,
        ports: { https: 8501 },
      }),
    );
    return file;
  });
}

async function startConclave(root: string, tls: boolean): Promise<System> {
  const name = tls ? 'conclave+tls' : 'conclave';
  const ips = tls ? ['127.0.5.1', '127.0.5.2', '127.0.5.3'] : ['127.0.3.1', '127.0.3.2', '127.0.3.3'];
  const configs = tls ? secureConfigs(root, ips) : [];
  const agent = tls
    ? new https.Agent({
        keepAlive: true,
        maxSockets: 128,
        ca: fs.readFileSync(path.join(root, 'tls', 'consul-agent-ca.pem')),
        cert: fs.readFileSync(path.join(root, 'tls', 'dc1-client-consul-0.pem')),
        key: fs.readFileSync(path.join(root, 'tls', 'dc1-client-consul-0-key.pem')),
      })
    : new http.Agent({ keepAlive: true, maxSockets: 128 });
  const procs: ChildProcess[] = ips.map((ip, i) =>
    spawn(
      process.execPath,
      [
        path.join(repo, 'bin', 'conclave.js'),
        'agent',
        ...loopbackServerArgs(ips, i, path.join(root, `${tls ? 't' : 'c'}${i}`)),
        ...(tls ? ['-config-file', configs[i]!] : []),
      ],
      { stdio: 'ignore' },
    ),
  );
  const endpoints = ips.map((ip) => (tls ? `https://${ip}:8501` : `http://${ip}:8500`));
  const system: System = {
    name,
    endpoints,
    pids: () => procs.filter((p) => p.exitCode === null && p.signalCode === null).map((p) => p.pid!),
    async put(e, key, value, timeoutMs = 5000) {
      const r = await request(agent, `${e}/v1/kv/${key}`, { method: 'PUT', body: value, timeoutMs });
      return r.status === 200 && r.text === 'true';
    },
    async get(e, key) {
      const r = await request(agent, `${e}/v1/kv/${key}?consistent`, { timeoutMs: 5000 });
      return r.status === 200 || r.status === 404;
    },
    async cas(e, key, value) {
      const r = await request(agent, `${e}/v1/kv/${key}`, { timeoutMs: 5000 });
      const index = r.status === 200 ? (JSON.parse(r.text) as { ModifyIndex: number }[])[0]!.ModifyIndex : 0;
      const w = await request(agent, `${e}/v1/kv/${key}?cas=${index}`, { method: 'PUT', body: value, timeoutMs: 5000 });
      return w.status === 200 && w.text === 'true';
    },
    async watch(e, key) {
      const r = await request(agent, `${e}/v1/kv/${key}`);
      const index = Number(r.headers['x-consul-index'] ?? 1);
      const pending = request(agent, `${e}/v1/kv/${key}?index=${index}&wait=30s`);
      return async () => void (await pending);
    },
    async leaderIndex() {
      const leader = JSON.parse((await request(agent, `${endpoints[0]}/v1/status/leader`)).text) as string;
      return ips.indexOf(leader.split(':')[0]!);
    },
    kill: (i) => void procs[i]!.kill('SIGKILL'),
    async stop() {
      for (const p of procs) p.kill('SIGKILL');
      agent.destroy();
      await sleep(300);
    },
  };
  await waitUntil(() => system.put(endpoints[0]!, 'bench/ready', 'x'), 60_000, `${name} accepts writes`).catch(
    async (err: unknown) => {
      await system.stop();
      throw err;
    },
  );
  return system;
}

// ───────────────────────────────────────── etcd ─────────────────────────────────────────

function ensureEtcd(): string {
  const found = () => {
    try {
      return execSync('command -v etcd', { shell: '/bin/sh' }).toString().trim();
    } catch {
      return '';
    }
  };
  if (found()) return found();
  log('etcd not found: apt-get install -y etcd-server etcd-client');
  execSync(
    'apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server etcd-client >/dev/null',
    { shell: '/bin/sh', stdio: 'inherit' },
  );
  return found();
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function startEtcd(root: string, binary: string): Promise<System> {
  const ips = ['127.0.4.1', '127.0.4.2', '127.0.4.3'];
  const cluster = ips.map((ip, i) => `e${i + 1}=http://${ip}:2380`).join(',');
  const procs: ChildProcess[] = ips.map((ip, i) =>
    spawn(
      binary,
      [
        '--name',
        `e${i + 1}`,
        '--data-dir',
        path.join(root, `e${i}`),
        '--listen-client-urls',
        `http://${ip}:2379`,
        '--advertise-client-urls',
        `http://${ip}:2379`,
        '--listen-peer-urls',
        `http://${ip}:2380`,
        '--initial-advertise-peer-urls',
        `http://${ip}:2380`,
        '--initial-cluster',
        cluster,
        '--initial-cluster-state',
        'new',
        '--log-level',
        'error',
      ],
      { stdio: 'ignore' },
    ),
  );
  const endpoints = ips.map((ip) => `http://${ip}:2379`);
  const post = async (e: string, p: string, body: unknown, timeoutMs = 5000) => {
    const r = await fetch(`${e}${p}`, {
      method: 'POST',
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: r.status, json: (await r.json()) as Record<string, unknown> };
  };
  const system: System = {
    name: 'etcd',
    endpoints,
    pids: () => procs.filter((p) => p.exitCode === null && p.signalCode === null).map((p) => p.pid!),
    async put(e, key, value, timeoutMs = 5000) {
      return (await post(e, '/v3/kv/put', { key: b64(key), value: b64(value) }, timeoutMs)).status === 200;
    },
    async get(e, key) {
      return (await post(e, '/v3/kv/range', { key: b64(key) })).status === 200;
    },
    async cas(e, key, value) {
      const r = await post(e, '/v3/kv/range', { key: b64(key) });
      const kv = (r.json['kvs'] as { mod_revision: string }[] | undefined)?.[0];
      const rev = kv ? kv.mod_revision : '0';
      const t = await post(e, '/v3/kv/txn', {
        compare: [{ key: b64(key), target: 'MOD', result: 'EQUAL', mod_revision: rev }],
        success: [{ request_put: { key: b64(key), value: b64(value) } }],
      });
      return t.status === 200 && t.json['succeeded'] === true;
    },
    async watch(e, key) {
      const controller = new AbortController();
      const r = await fetch(`${e}/v3/watch`, {
        method: 'POST',
        body: JSON.stringify({ create_request: { key: b64(key) } }),
        signal: controller.signal,
      });
      const reader = r.body!.getReader();
      await reader.read(); // the "created" message
      return async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done || (value && Buffer.from(value).toString().includes('"events"'))) break;
        }
        controller.abort();
      };
    },
    async leaderIndex() {
      const s = await post(endpoints[0]!, '/v3/maintenance/status', {});
      const leader = String(s.json['leader']);
      for (const [i, e] of endpoints.entries()) {
        const x = await post(e, '/v3/maintenance/status', {});
        if (String((x.json['header'] as { member_id: string }).member_id) === leader) return i;
      }
      return 0;
    },
    kill: (i) => void procs[i]!.kill('SIGKILL'),
    async stop() {
      for (const p of procs) p.kill('SIGKILL');
      await sleep(300);
    },
  };
  await waitUntil(() => system.put(endpoints[0]!, 'bench/ready', 'x'), 60_000, 'etcd accepts writes');
  return system;
}

// ───────────────────────────────────────── helpers ─────────────────────────────────────────

function cpuSeconds(pids: readonly number[]): number {
  const tick = 100; // USER_HZ on Linux
  let total = 0;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / tick;
    } catch {
      // exited
    }
  }
  return total;
}

async function waitUntil(fn: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(200);
  }
}

const round = (x: number) => Math.round(x * 100) / 100;
const log = (line: string) => process.stdout.write(`${line}\n`);
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? round(a / b) : null);

// ───────────────────────────────────────── main ─────────────────────────────────────────

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-bench-'));
try {
  const etcdBinary = skipEtcd ? '' : ensureEtcd();
  const conclave = await startConclave(root, false);
  const c = await runSuite(conclave);
  await conclave.stop();
  let t: Record<string, number> = {};
  if (secure) {
    const conclaveTls = await startConclave(root, true);
    t = await runSuite(conclaveTls);
    await conclaveTls.stop();
  }
  let e: Record<string, number> = {};
  if (!skipEtcd) {
    const etcd = await startEtcd(root, etcdBinary);
    e = await runSuite(etcd);
    await etcd.stop();
  }
  const result = {
    phaseMs,
    conclave: c,
    ...(secure ? { conclaveTls: t } : {}),
    ...(skipEtcd ? {} : { etcd: e }),
    putC1Ratio: ratio(c['putC1OpsPerSec'], e['putC1OpsPerSec']),
    putC16Ratio: ratio(c['putC16OpsPerSec'], e['putC16OpsPerSec']),
    putC64Ratio: ratio(c['putC64OpsPerSec'], e['putC64OpsPerSec']),
    readC16Ratio: ratio(c['readC16OpsPerSec'], e['readC16OpsPerSec']),
    casC16Ratio: ratio(c['casC16OpsPerSec'], e['casC16OpsPerSec']),
    putP99C64Ratio: ratio(c['putC64P99Ms'], e['putC64P99Ms']),
    wakeP50Ratio: ratio(c['wakeP50Ms'], e['wakeP50Ms']),
    failoverRatio: ratio(c['failoverMs'], e['failoverMs']),
    conclaveCoresPutC64: c['putC64Cores'],
    etcdCoresPutC64: e['putC64Cores'],
    ...(secure ? { tlsPutC16Ratio: ratio(t['putC16OpsPerSec'], c['putC16OpsPerSec']) } : {}),
  };
  log('');
  log(
    `metric           conclave(plain)${secure ? ' conclave(gossip-enc+TLS/HTTPS)' : ''}     etcd   ratio conclave(plain)/etcd`,
  );
  const cell = (x: number | undefined) => String(x ?? '-');
  for (const [name, k, rk] of [
    ['put c1 ops/s', 'putC1OpsPerSec', 'putC1Ratio'],
    ['put c1 errors', 'putC1Errors', ''],
    ['put c16 ops/s', 'putC16OpsPerSec', 'putC16Ratio'],
    ['put c16 errors', 'putC16Errors', ''],
    ['put c64 ops/s', 'putC64OpsPerSec', 'putC64Ratio'],
    ['put c64 errors', 'putC64Errors', ''],
    ['put c64 p99 ms', 'putC64P99Ms', 'putP99C64Ratio'],
    ['get c16 ops/s', 'readC16OpsPerSec', 'readC16Ratio'],
    ['cas c16 ops/s', 'casC16OpsPerSec', 'casC16Ratio'],
    ['wake p50 ms', 'wakeP50Ms', 'wakeP50Ratio'],
    ['failover ms', 'failoverMs', 'failoverRatio'],
  ] as const) {
    const r = rk ? String((result as Record<string, unknown>)[rk]) : '';
    log(
      `${name.padEnd(16)} ${cell(c[k]).padStart(15)}${secure ? cell(t[k]).padStart(32) : ''} ${cell(e[k]).padStart(8)} ${r.padStart(7)}`,
    );
  }
  if (secure) log(`tlsPutC16Ratio (secure put c16 / plain put c16): ${result.tlsPutC16Ratio} (goal >= 0.85)`);
  log(JSON.stringify(result));
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
