/**
 * bench:cluster — three real Conclave servers on loopback (fsync on) against a three-member etcd 3.4 on
 * loopback, one system at a time so they never share the two cores, driven by the same client code
 * (bench/cluster-load.ts: node:http / node:https keep-alive, one connection per closed-loop client,
 * 100-byte values, every request to the leader; etcd through its v3 JSON gateway):
 *
 *   put c1 / c16 / c64 / c256   ops/s, p50, p99, errors, elections
 *   linearizable get c16        Conclave ?consistent, etcd range (linearizable by default)
 *   cas c16                     each op = read the key's index/revision (default read), then a conditional
 *                               write (Conclave ?cas=, etcd txn compare mod_revision)
 *   blocking-query wake         Conclave ?index=N&wait blocking GET vs etcd watch: PUT sent → watcher told
 *   follower wake               the same, answered from a follower's own state: Conclave ?stale blocking GET
 *                               on a follower vs etcd's watch (always member-local): how soon a follower
 *                               applies a write (Raft's commit notice, config.commitNoticeDelayMs)
 *   failover                    kill -9 of the leader → next successful write
 *
 * Per phase it reports errors (with samples), leader elections (Conclave: new terms in the servers'
 * "entering Leader state (term N)" log lines; etcd: the growth of `etcd_server_leader_changes_seen_total`
 * on its /metrics, the largest over members), the CPU the servers used (cores = CPU seconds / wall
 * seconds, summed over the three processes, and the leader's alone), and the load generator's own CPU
 * (the bench process, all threads) and the busiest load thread's event-loop utilisation: a thread above
 * 0.9 is saturated and the line says so ("LOADGEN SATURATED"), since the figure is then the client's.
 * The clients are dealt over BENCH_THREADS worker threads (default 2).
 *
 * Switches:
 *   BENCH_PHASE_MS=5000          length of each load phase
 *   BENCH_WARMUP_MS=3000         uncounted put load at 16 clients before the first phase (JIT warm-up)
 *   BENCH_PUT_CLIENTS=1,16,64,256 the put phases
 *   BENCH_ONLY=put               only the put phases (profiling); BENCH_ONLY=put64 only put c64;
 *                                BENCH_ONLY=get only linearizable get c16;
 *                                BENCH_ONLY=latency only the wake and failover measurements
 *   BENCH_SECURE=1               adds "conclave+tls": gossip encryption (`conclave keygen` → "encrypt") and
 *                                TLS (`conclave tls ca create`, `tls cert create -server` per server,
 *                                verify_incoming/outgoing/server_hostname, ports.https), the client on HTTPS
 *                                with a `tls cert create -client` certificate; JSON gains tlsPutC16Ratio.
 *                                Unless BENCH_SKIP_ETCD, also "etcd+tls": etcd with client and peer TLS, both
 *                                mutual (--client-cert-auth, --peer-client-cert-auth, certificates from
 *                                `conclave tls`), the same client certificate; JSON gains etcdTlsPutC16Ratio
 *   BENCH_TLS_PAIRS=N            then N interleaved pairs of put c16 phases, plain and TLS, each on a fresh
 *                                cluster, the order alternating (plain→tls, tls→plain, …) so load that rises
 *                                or falls during the run weighs on both alike; reports each pair's ratio and
 *                                the median (tlsPutC16RatioPairs, tlsPutC16RatioMedian). One plain-then-TLS
 *                                pass is biased: the variants run minutes apart on a shared machine. With
 *                                etcd, then N such pairs of etcd and etcd+tls (etcdTlsPutC16RatioMedian)
 *   BENCH_INTERLEAVE=1           every system (etcd, the baseline, the TLS variant) starts first; then each
 *                                phase runs on all of them in turn, the order reversed phase by phase, so a
 *                                ratio's two figures are seconds apart (runSuite's order: one system's whole
 *                                suite, then the next's, minutes apart on a machine whose load moves)
 *   BENCH_SKIP_ETCD=1            leaves etcd out
 *   BENCH_BASELINE=/path/repo    adds "conclave@base" (and with BENCH_SECURE "conclave@base+tls"): the same
 *                                suite against another checkout's build (before/after in one run)
 *   BENCH_PROFILE=dir            Conclave servers run with --cpu-prof into dir (stopped with SIGTERM so
 *                                the profiles are written; the failover phase is skipped)
 *   BENCH_RAFT_MULTIPLIER=m      performance.raft_multiplier for the Conclave servers (default: the agent's)
 *   BENCH_NODE_ARGS="--flag …"   extra Node/V8 flags for the Conclave servers (e.g. --max-semi-space-size=32,
 *                                --trace-gc with BENCH_KEEP to read the servers' GC in their logs)
 *   BENCH_KEEP=1                 keep the data dirs and server logs (CONCLAVE_PERF_LOG=1 adds a counters
 *                                line every 2 s to each Conclave server's log)
 *
 * etcd is installed from Debian when absent (`apt-get install -y etcd-server etcd-client`).
 * Last line: one JSON object with every figure and every ratio.
 */
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { loopbackServerArgs } from '../test/loopback-servers.js';
import {
  clientAgent,
  ops,
  request,
  type ClientSpec,
  type Op,
  type PhaseRequest,
  type PhaseResult,
} from './cluster-load.js';

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const phaseMs = Number(process.env['BENCH_PHASE_MS'] ?? 5000);
const putClients = (process.env['BENCH_PUT_CLIENTS'] ?? '1,16,64,256').split(',').map(Number);
const only = process.env['BENCH_ONLY'] ?? '';
const secure = process.env['BENCH_SECURE'] === '1';
const skipEtcd = process.env['BENCH_SKIP_ETCD'] === '1';
const baseline = process.env['BENCH_BASELINE'] ?? '';
const profileDir = process.env['BENCH_PROFILE'] ?? '';
const raftMultiplier = process.env['BENCH_RAFT_MULTIPLIER'] ?? '';
const nodeArgs = (process.env['BENCH_NODE_ARGS'] ?? '').split(/\s+/).filter((arg) => arg !== '');
const threadCount = Math.max(1, Number(process.env['BENCH_THREADS'] ?? 2));
const warmupMs = Number(process.env['BENCH_WARMUP_MS'] ?? 3000);
const interleave = process.env['BENCH_INTERLEAVE'] === '1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface System {
  readonly name: string;
  readonly spec: ClientSpec;
  readonly endpoints: readonly string[];
  /** Live server pids, by endpoint index (null once killed). */
  pids(): (number | null)[];
  /** Elections so far (a counter whose growth over a phase is that phase's elections). */
  elections(): Promise<number>;
  /** Starts a watcher on key; the returned function resolves at the first change after the call. */
  watch(endpoint: string, key: string): Promise<() => Promise<void>>;
  /**
   * The same, answered from the member's own applied state (how fresh a follower is): Conclave's
   * `?stale` blocking GET; etcd's watch, which its member always serves locally.
   */
  watchLocal(endpoint: string, key: string): Promise<() => Promise<void>>;
  leaderIndex(): Promise<number>;
  kill(index: number): void;
  stop(): Promise<void>;
}

// ───────────────────────────────────────── load threads ─────────────────────────────────────────

class LoadThreads {
  private readonly workers: Worker[];
  constructor(count: number) {
    const url = new URL('./cluster-load.ts', import.meta.url).href;
    // tsx registers itself in the worker first (a worker cannot load .ts through the parent's hooks).
    const code = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
    this.workers = Array.from({ length: count }, () => new Worker(code, { eval: true }));
  }

  /** Runs one phase: `clients` closed-loop clients dealt round-robin over the threads. */
  async run(req: Omit<PhaseRequest, 'clients'> & { clients: number }): Promise<PhaseResult[]> {
    const share = this.workers.map((_, t) =>
      [...Array(req.clients).keys()].filter((c) => c % this.workers.length === t),
    );
    return Promise.all(
      this.workers.flatMap((w, t) =>
        share[t]!.length === 0
          ? []
          : [
              new Promise<PhaseResult>((resolve, reject) => {
                const onError = (error: Error) => reject(error);
                w.once('error', onError);
                w.once('message', (result: PhaseResult) => {
                  w.off('error', onError);
                  resolve(result);
                });
                w.postMessage({ ...req, clients: share[t]! } satisfies PhaseRequest);
              }),
            ],
      ),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

// ───────────────────────────────────────── phases ─────────────────────────────────────────

interface Figures {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Operations that failed (error status, timeout, socket error): reported, never counted as throughput. */
  errors: number;
  elections: number;
  /** Server CPU: all three processes, and the leader's alone (cores). */
  cores: number;
  leaderCores: number;
  /** The bench process (every load thread), in cores, and the busiest load thread's event-loop utilisation. */
  loadgenCores: number;
  loadgenEluMax: number;
  /** The other systems' servers, idle meanwhile (BENCH_INTERLEAVE keeps them running), in cores. */
  bystanderCores: number;
  /**
   * Server CPU per operation (ms): all three processes, and the leader's. Steadier than ops/s on a shared
   * machine (a starved process does less, but not more per operation), so levers are compared on it.
   */
  cpuMsPerOp: number;
  leaderCpuMsPerOp: number;
  /**
   * The servers' voluntary context switches per operation (all threads of all three processes: each is
   * a thread that went to sleep and had to be woken — an event-loop wait, a thread-pool hand-off, a
   * blocking sync). Counts wake-ups on and off the write path; unlike ops/s it hardly moves with the
   * machine's load, so A/B comparisons on a shared machine use it.
   */
  sleepsPerOp: number;
}

async function phase(system: System, threads: LoadThreads, name: string, op: Op, clients: number): Promise<Figures> {
  const leader = await system.leaderIndex();
  const endpoint = system.endpoints[leader]!;
  const elections0 = await system.elections();
  const pids = system.pids().filter((p): p is number => p !== null);
  const leaderPid = system.pids()[leader] ?? null;
  const cpu0 = pids.map(cpuSeconds);
  const sleeps0 = pids.map(voluntarySwitches);
  const bystanders = running
    .filter((s) => s !== system)
    .flatMap((s) => s.pids().filter((p): p is number => p !== null));
  const bystanderCpu0 = bystanders.map(cpuSeconds);
  const self0 = process.cpuUsage();
  const start = performance.now();
  const results = await threads.run({
    spec: system.spec,
    op,
    clients,
    endpoint,
    durationMs: phaseMs,
    value: 'x'.repeat(100),
  });
  const wallS = (performance.now() - start) / 1000;
  const self = process.cpuUsage(self0);
  const cpu = pids.map((p, i) => cpuSeconds(p) - cpu0[i]!);
  const bystanderS = bystanders.reduce((sum, p, i) => sum + cpuSeconds(p) - bystanderCpu0[i]!, 0);
  const sleeps = pids.map((p, i) => voluntarySwitches(p) - sleeps0[i]!).reduce((a, b) => a + b, 0);
  const latencies = results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const errors = results.reduce((n, r) => n + r.errors, 0);
  // Throughput over the measured window (the clients' connections were opened before it: cluster-load.ts).
  const measuredS = Math.max(...results.map((r) => r.measuredMs)) / 1000;
  const f: Figures = {
    opsPerSec: Math.round(latencies.length / measuredS),
    p50Ms: round(quantile(latencies, 0.5)),
    p99Ms: round(quantile(latencies, 0.99)),
    errors,
    elections: (await system.elections()) - elections0,
    cores: round(cpu.reduce((a, b) => a + b, 0) / wallS),
    leaderCores: round((leaderPid === null ? 0 : cpu[pids.indexOf(leaderPid)]!) / wallS),
    loadgenCores: round((self.user + self.system) / 1e6 / wallS),
    loadgenEluMax: round(Math.max(...results.map((r) => r.elu))),
    bystanderCores: round(bystanderS / wallS),
    cpuMsPerOp: 0,
    leaderCpuMsPerOp: 0,
    sleepsPerOp: 0,
  };
  const done = latencies.length;
  f.cpuMsPerOp = done ? round((cpu.reduce((a, b) => a + b, 0) * 1000) / done) : NaN;
  f.leaderCpuMsPerOp = done && leaderPid !== null ? round((cpu[pids.indexOf(leaderPid)]! * 1000) / done) : NaN;
  f.sleepsPerOp = done ? round(sleeps / done) : NaN;
  log(
    `${system.name} ${name}: ${f.opsPerSec}/s p50 ${f.p50Ms} ms p99 ${f.p99Ms} ms, ${f.errors} errors, ` +
      `${f.elections} elections; servers ${f.cores} cores (leader ${f.leaderCores}), ${f.cpuMsPerOp} CPU ms/op ` +
      `(leader ${f.leaderCpuMsPerOp}), ${f.sleepsPerOp} sleeps/op; load generator ` +
      `${f.loadgenCores} cores, busiest thread ELU ${f.loadgenEluMax}${f.loadgenEluMax > 0.9 ? ' LOADGEN SATURATED' : ''}` +
      `${bystanders.length > 0 ? `; idle systems ${f.bystanderCores} cores` : ''}; load ${loadAverage()}`,
  );
  const samples = [...new Set(results.flatMap((r) => r.errorSamples))].slice(0, 5);
  if (samples.length > 0) log(`  errors: ${samples.join(' | ')}`);
  return f;
}

/** Write on the leader → a watcher on a follower told; `local`: the follower answers from its own state. */
async function wakeLatency(system: System, local = false): Promise<number> {
  const agent = clientAgent(system.spec, 4);
  const impl = ops[system.spec.kind];
  const leader = await system.leaderIndex();
  const writeTo = system.endpoints[leader]!;
  const watchOn = system.endpoints[(leader + 1) % system.endpoints.length]!;
  const samples: number[] = [];
  try {
    for (let i = 0; i < 40; i++) {
      const key = `bench/watch${i % 4}`;
      const waitFor = await (local ? system.watchLocal(watchOn, key) : system.watch(watchOn, key));
      await sleep(20);
      const t0 = performance.now();
      const woke = waitFor().then(() => performance.now() - t0);
      await impl.put(agent, writeTo, key, `w${i}`);
      samples.push(await woke);
    }
  } finally {
    agent.destroy();
  }
  samples.sort((a, b) => a - b);
  return round(quantile(samples, 0.5));
}

async function failover(system: System): Promise<number> {
  const leader = await system.leaderIndex();
  const others = system.endpoints.filter((_, i) => i !== leader);
  const agent = clientAgent(system.spec, 8);
  const impl = ops[system.spec.kind];
  const t0 = performance.now();
  system.kill(leader);
  try {
    for (let i = 0; ; i++) {
      // Short attempts: a request parked on a node that is still electing must not hide the recovery.
      const ok =
        (await impl.put(agent, others[i % others.length]!, 'bench/failover', `f${i}`, 300).catch(() => 'x')) === null;
      if (ok) return Math.round(performance.now() - t0);
      if (performance.now() - t0 > 60_000) return NaN;
      await sleep(5);
    }
  } finally {
    agent.destroy();
  }
}

/** A stable leader first: writes to the leader must succeed for 2 s in a row. */
async function warmUp(system: System): Promise<void> {
  const agent = clientAgent(system.spec, 1);
  const impl = ops[system.spec.kind];
  const deadline = Date.now() + 60_000;
  try {
    let okSince = Date.now();
    for (let i = 0; Date.now() - okSince < 2000; i++) {
      if (Date.now() > deadline) throw new Error(`${system.name}: no stable leader within 60 s`);
      const leader = await system.leaderIndex().catch(() => 0);
      const ok =
        (await impl.put(agent, system.endpoints[leader]!, 'bench/warmup', `w${i}`, 1000).catch(() => 'x')) === null;
      if (!ok) {
        okSince = Date.now();
        await sleep(50);
      }
    }
  } finally {
    agent.destroy();
  }
}

/**
 * An uncounted load before the first measured phase (BENCH_WARMUP_MS, default 3000; 0 skips it): puts at
 * 16 clients, so the first phase measures steady state — a fresh Node process spends its first seconds
 * compiling its hot paths (V8's optimising compiler runs on background threads, on the same two cores),
 * which weighed on whichever phase came first (put c1: 5.6 CPU ms/op first against 4.0 after a c16 phase,
 * same run). etcd gets the same warm-up.
 */
async function warmLoad(system: System, threads: LoadThreads): Promise<void> {
  if (warmupMs <= 0) return;
  const leader = await system.leaderIndex();
  await threads.run({
    spec: system.spec,
    op: 'put',
    clients: 16,
    endpoint: system.endpoints[leader]!,
    durationMs: warmupMs,
    value: 'x'.repeat(100),
  });
}

/** One measurement of the suite, on one system: its figures, keyed as in the JSON line. */
interface Step {
  readonly name: string;
  run(system: System): Promise<Record<string, number>>;
}

/** The suite in order (BENCH_ONLY picks a part); failover, which kills a server, comes last. */
function suiteSteps(threads: LoadThreads): Step[] {
  const figuresOf = (prefix: string, f: Figures) =>
    Object.fromEntries(Object.entries(f).map(([k, v]) => [`${prefix}${k[0]!.toUpperCase()}${k.slice(1)}`, v]));
  const load = (prefix: string, name: string, op: Op, clients: number): Step => ({
    name,
    run: async (system) => figuresOf(prefix, await phase(system, threads, name, op, clients)),
  });
  const steps: Step[] = [];
  if (only === 'get') return [load('readC16', 'linearizable get c16', 'get', 16)];
  for (const c of putClients) {
    if (only === 'latency') break;
    if (only === 'put64' && c !== 64) continue;
    steps.push(load(`putC${c}`, `put c${c}`, 'put', c));
  }
  if (only !== '' && only !== 'latency') return steps;
  if (only !== 'latency')
    steps.push(load('readC16', 'linearizable get c16', 'get', 16), load('casC16', 'cas c16', 'cas', 16));
  steps.push({
    name: 'wake',
    run: async (system) => {
      const wakeP50Ms = await wakeLatency(system);
      log(`${system.name} blocking-query wake p50: ${wakeP50Ms} ms`);
      return { wakeP50Ms };
    },
  });
  steps.push({
    name: 'follower wake',
    run: async (system) => {
      const followerWakeP50Ms = await wakeLatency(system, true);
      log(`${system.name} follower-local wake p50 (stale blocking query / watch): ${followerWakeP50Ms} ms`);
      return { followerWakeP50Ms };
    },
  });
  if (!profileDir)
    steps.push({
      name: 'failover',
      run: async (system) => {
        const failoverMs = await failover(system);
        log(`${system.name} leader kill -9 → next write: ${failoverMs} ms`);
        return { failoverMs };
      },
    });
  return steps;
}

async function runSuite(system: System, threads: LoadThreads): Promise<Record<string, number>> {
  await warmUp(system);
  await warmLoad(system, threads);
  const out: Record<string, number> = {};
  for (const step of suiteSteps(threads)) Object.assign(out, await step.run(system));
  return out;
}

/**
 * BENCH_INTERLEAVE=1: every system is started and warmed first, then each step of the suite runs on
 * every system in turn, the order reversed from one step to the next (A B, B A, A B …). The two figures
 * of a ratio are then measured seconds apart instead of minutes, and each system runs first as often
 * as the others: on this shared machine the load moves by more than our levers within minutes, and the
 * first system of a sequential run was disadvantaged (docs/cluster-performance.md). The systems not
 * under load meanwhile idle (heartbeats, gossip); their CPU is reported per phase ("bystanders").
 */
async function runInterleaved(systems: readonly System[], threads: LoadThreads) {
  for (const system of systems) {
    await warmUp(system);
    await warmLoad(system, threads);
  }
  const out: Record<string, Record<string, number>> = Object.fromEntries(systems.map((s) => [s.name, {}]));
  for (const [i, step] of suiteSteps(threads).entries()) {
    const order = i % 2 === 0 ? systems : [...systems].reverse();
    for (const system of order) Object.assign(out[system.name]!, await step.run(system));
  }
  return out;
}

// ───────────────────────────────────────── conclave ─────────────────────────────────────────

const conclaveCli = (cwd: string, args: string[]) =>
  execSync(
    `${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(repo, 'bin', 'conclave.js'))} ${args.join(' ')}`,
    { cwd },
  )
    .toString()
    .trim();

/** Certificates made by `conclave tls` in `root`/tls: a CA, a client certificate, one server certificate per IP. */
interface IssuedTls {
  readonly dir: string;
  readonly ca: string;
  /** The load client's certificate (`tls cert create -client`), with its key. */
  readonly client: { readonly ca: string; readonly cert: string; readonly key: string };
  /** Per IP: a server certificate naming server.dc1.consul, localhost, 127.0.0.1 and the IP (server+client auth). */
  readonly servers: readonly { readonly cert: string; readonly key: string }[];
}

function issueTls(root: string, ips: readonly string[]): IssuedTls {
  const dir = path.join(root, 'tls');
  fs.mkdirSync(dir, { recursive: true });
  conclaveCli(dir, ['tls', 'ca', 'create']);
  conclaveCli(dir, ['tls', 'cert', 'create', '-client', '-dc', 'dc1']);
  for (const ip of ips)
    conclaveCli(dir, ['tls', 'cert', 'create', '-server', '-dc', 'dc1', '-additional-ipaddress', ip]);
  const ca = path.join(dir, 'consul-agent-ca.pem');
  return {
    dir,
    ca,
    client: { ca, cert: path.join(dir, 'dc1-client-consul-0.pem'), key: path.join(dir, 'dc1-client-consul-0-key.pem') },
    servers: ips.map((_, i) => ({
      cert: path.join(dir, `dc1-server-consul-${i}.pem`),
      key: path.join(dir, `dc1-server-consul-${i}-key.pem`),
    })),
  };
}

/** Gossip key, CA, a client certificate and one server certificate per IP (naming the IP), a config file per server. */
function secureConfigs(issued: IssuedTls): string[] {
  const dir = issued.dir;
  const key = conclaveCli(dir, ['keygen']);
  // verify_incoming covers HTTPS too (as in Consul): the load client presents a client certificate.
  return issued.servers.map((server, i) => {
    const file = path.join(dir, `s${i + 1}.json`);
    fs.writeFileSync(
      file,
      JSON.stringify({
        encrypt: key,
        ca_file: issued.ca,
        cert_file: server.cert,
        key_file: server.key,
        verify_incoming: true,
        verify_outgoing: true,
        verify_server_hostname: true,
        ports: { https: 8501 },
      }),
    );
    return file;
  });
}

interface ConclaveVariant {
  readonly name: string;
  readonly build: string;
  readonly ips: readonly string[];
  readonly tls: boolean;
}

let conclaveStarts = 0;

async function startConclave(root: string, v: ConclaveVariant): Promise<System> {
  // A fresh directory per start (data, certificates): BENCH_TLS_PAIRS starts each variant several times.
  const dir = path.join(root, `${v.name.replace(/[^a-z0-9]/gi, '_')}-${++conclaveStarts}`);
  fs.mkdirSync(dir, { recursive: true });
  const issued = v.tls ? issueTls(dir, v.ips) : null;
  const configs = issued ? secureConfigs(issued) : [];
  const spec: ClientSpec = { kind: 'conclave', tls: issued ? issued.client : null };
  const extraConfig = path.join(dir, 'extra.json');
  fs.writeFileSync(
    extraConfig,
    JSON.stringify(raftMultiplier ? { performance: { raft_multiplier: Number(raftMultiplier) } } : {}),
  );
  const logs = v.ips.map((_, i) => path.join(dir, `s${i + 1}.log`));
  const procs: (ChildProcess | null)[] = v.ips.map((_, i) => {
    const out = fs.openSync(logs[i]!, 'w');
    const prof = profileDir
      ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${v.name}-s${i + 1}.cpuprofile`]
      : [];
    return spawn(
      process.execPath,
      [
        ...nodeArgs,
        ...prof,
        path.join(v.build, 'bin', 'conclave.js'),
        'agent',
        ...loopbackServerArgs(v.ips, i, path.join(dir, `data${i}`)),
        '-config-file',
        extraConfig,
        ...(v.tls ? ['-config-file', configs[i]!] : []),
      ],
      { stdio: ['ignore', out, out] },
    );
  });
  const endpoints = v.ips.map((ip) => (v.tls ? `https://${ip}:8501` : `http://${ip}:8500`));
  const control = clientAgent(spec, 4);
  const leaderTerms = () => {
    const terms = new Set<number>();
    for (const file of logs)
      for (const m of fs.readFileSync(file, 'utf8').matchAll(/entering Leader state \(term (\d+)\)/g))
        terms.add(Number(m[1]));
    return terms.size;
  };
  const system: System = {
    name: v.name,
    spec,
    endpoints,
    pids: () => procs.map((p) => (p && p.exitCode === null && p.signalCode === null ? p.pid! : null)),
    elections: () => Promise.resolve(leaderTerms()),
    async watch(e, key) {
      const r = await request(control, `${e}/v1/kv/${key}`, { timeoutMs: 5000 });
      const index = Number(r.headers['x-consul-index'] ?? 1);
      const pending = request(control, `${e}/v1/kv/${key}?index=${index}&wait=30s`);
      return async () => void (await pending);
    },
    async watchLocal(e, key) {
      const r = await request(control, `${e}/v1/kv/${key}?stale`, { timeoutMs: 5000 });
      const index = Number(r.headers['x-consul-index'] ?? 1);
      const pending = request(control, `${e}/v1/kv/${key}?stale&index=${index}&wait=30s`);
      return async () => void (await pending);
    },
    async leaderIndex() {
      for (const e of endpoints) {
        if (system.pids()[endpoints.indexOf(e)] === null) continue;
        const r = await request(control, `${e}/v1/status/leader`, { timeoutMs: 2000 }).catch(() => null);
        const leader = r && r.status === 200 ? (JSON.parse(r.text) as string) : '';
        const i = v.ips.indexOf(leader.split(':')[0]!);
        if (i >= 0 && system.pids()[i] !== null) return i;
      }
      throw new Error(`${v.name}: no leader known`);
    },
    kill(i) {
      procs[i]?.kill('SIGKILL');
      procs[i] = null;
    },
    async stop() {
      // SIGTERM exits promptly (and writes --cpu-prof profiles); SIGKILL whatever is left.
      for (const p of procs) p?.kill('SIGTERM');
      await sleep(profileDir ? 3000 : 500);
      for (const p of procs) p?.kill('SIGKILL');
      control.destroy();
      await sleep(300);
    },
  };
  const impl = ops.conclave;
  await waitUntil(
    async () => (await impl.put(control, endpoints[0]!, 'bench/ready', 'x', 2000)) === null,
    60_000,
    `${v.name} accepts writes`,
  ).catch(async (err: unknown) => {
    await system.stop();
    throw err;
  });
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

let etcdStarts = 0;

/**
 * A three-member etcd. `secure` ("etcd+tls"): client and peer TLS with mutual authentication, the
 * counterpart of Conclave's verify_incoming — `--client-cert-auth` and `--peer-client-cert-auth` with
 * certificates from `conclave tls` (server certificates carry server and client auth and the member's IP),
 * the load client presenting the client certificate.
 */
async function startEtcd(root: string, binary: string, secure = false): Promise<System> {
  const ips = secure ? ['127.0.8.1', '127.0.8.2', '127.0.8.3'] : ['127.0.4.1', '127.0.4.2', '127.0.4.3'];
  const dir = path.join(root, `etcd${secure ? '-tls' : ''}-${++etcdStarts}`);
  fs.mkdirSync(dir, { recursive: true });
  const issued = secure ? issueTls(dir, ips) : null;
  const scheme = secure ? 'https' : 'http';
  const cluster = ips.map((ip, i) => `e${i + 1}=${scheme}://${ip}:2380`).join(',');
  const tlsFlags = (i: number) =>
    issued
      ? [
          ['--cert-file', issued.servers[i]!.cert],
          ['--key-file', issued.servers[i]!.key],
          ['--trusted-ca-file', issued.ca],
          ['--client-cert-auth'],
          ['--peer-cert-file', issued.servers[i]!.cert],
          ['--peer-key-file', issued.servers[i]!.key],
          ['--peer-trusted-ca-file', issued.ca],
          ['--peer-client-cert-auth'],
        ].flat()
      : [];
  const procs: (ChildProcess | null)[] = ips.map((ip, i) =>
    spawn(
      binary,
      [
        '--name',
        `e${i + 1}`,
        '--data-dir',
        path.join(dir, `e${i}`),
        '--listen-client-urls',
        `${scheme}://${ip}:2379`,
        '--advertise-client-urls',
        `${scheme}://${ip}:2379`,
        '--listen-peer-urls',
        `${scheme}://${ip}:2380`,
        '--initial-advertise-peer-urls',
        `${scheme}://${ip}:2380`,
        '--initial-cluster',
        cluster,
        '--initial-cluster-state',
        'new',
        '--log-level',
        'error',
        ...tlsFlags(i),
      ],
      { stdio: 'ignore' },
    ),
  );
  const endpoints = ips.map((ip) => `${scheme}://${ip}:2379`);
  const spec: ClientSpec = { kind: 'etcd', tls: issued ? issued.client : null };
  const control = clientAgent(spec, 4);
  const post = async (e: string, p: string, body: unknown) => {
    const r = await request(control, `${e}${p}`, { method: 'POST', body: JSON.stringify(body), timeoutMs: 2000 });
    return JSON.parse(r.text) as Record<string, unknown>;
  };
  const alive = () => procs.map((p) => (p && p.exitCode === null && p.signalCode === null ? p.pid! : null));
  const system: System = {
    name: secure ? 'etcd+tls' : 'etcd',
    spec,
    endpoints,
    pids: alive,
    async elections() {
      // Every member counts the leader changes it saw; the largest count covers one that was down.
      let most = 0;
      for (const [i, e] of endpoints.entries()) {
        if (alive()[i] === null) continue;
        const r = await request(control, `${e}/metrics`, { timeoutMs: 2000 }).catch(() => null);
        const m = r ? /^etcd_server_leader_changes_seen_total (\d+)/m.exec(r.text) : null;
        if (m) most = Math.max(most, Number(m[1]));
      }
      return most;
    },
    async watch(e, key) {
      // The gateway streams one JSON object per event on a long-lived response (its own connection).
      const watchAgent = clientAgent(spec, 1);
      const mod = secure ? https : http;
      let resolveEvent: () => void = () => undefined;
      const event = new Promise<void>((r) => (resolveEvent = r));
      let created: () => void = () => undefined;
      const ready = new Promise<void>((r) => (created = r));
      const req = mod.request(`${e}/v3/watch`, { method: 'POST', agent: watchAgent }, (res) => {
        res.on('data', (chunk: Buffer) => {
          const text = chunk.toString();
          if (text.includes('"created"')) created();
          if (text.includes('"events"')) resolveEvent();
        });
        res.on('error', () => undefined);
      });
      req.on('error', () => undefined);
      req.end(JSON.stringify({ create_request: { key: b64(key) } }));
      await ready;
      return async () => {
        await event;
        req.destroy();
        watchAgent.destroy();
      };
    },
    watchLocal(e, key) {
      return this.watch(e, key); // an etcd member serves its watches from its own applied state
    },
    async leaderIndex() {
      for (const [i, e] of endpoints.entries()) {
        if (alive()[i] === null) continue;
        const s = await post(e, '/v3/maintenance/status', {}).catch(() => null);
        if (!s) continue;
        const leader = String(s['leader']);
        for (const [j, f] of endpoints.entries()) {
          if (alive()[j] === null) continue;
          const x = await post(f, '/v3/maintenance/status', {}).catch(() => null);
          if (x && String((x['header'] as { member_id: string }).member_id) === leader) return j;
        }
      }
      throw new Error('etcd: no leader known');
    },
    kill(i) {
      procs[i]?.kill('SIGKILL');
      procs[i] = null;
    },
    async stop() {
      for (const p of procs) p?.kill('SIGKILL');
      control.destroy();
      await sleep(300);
    },
  };
  await waitUntil(
    async () => (await ops.etcd.put(control, endpoints[0]!, 'bench/ready', 'x', 2000)) === null,
    60_000,
    'etcd accepts writes',
  ).catch(async (err: unknown) => {
    await system.stop();
    throw err;
  });
  return system;
}

// ───────────────────────────────────────── helpers ─────────────────────────────────────────

function cpuSeconds(pid: number): number {
  const tick = 100; // USER_HZ on Linux
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / tick;
  } catch {
    return 0; // exited
  }
}

/** Voluntary context switches of every thread of `pid` so far (0 once it exited). */
function voluntarySwitches(pid: number): number {
  let total = 0;
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const m = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
      if (m) total += Number(m[1]);
    }
  } catch {
    // exited, or a thread ended between the listing and the read
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

const quantile = (sorted: readonly number[], q: number) => sorted[Math.floor(sorted.length * q)] ?? NaN;
const round = (x: number) => Math.round(x * 100) / 100;
const log = (line: string) => process.stdout.write(`${line}\n`);
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? round(a / b) : null);
const loadAverage = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

// ───────────────────────────────────────── main ─────────────────────────────────────────

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-bench-'));
const threads = new LoadThreads(threadCount);
const tlsPairs = Number(process.env['BENCH_TLS_PAIRS'] ?? 0);

interface PairFigures {
  /** Each pair's TLS/plain put c16 ops/s (pairs with errors left out), and their median. */
  readonly ratios: number[];
  readonly median: number | null;
  /** Per pair: [plain, TLS] server CPU ms per op. */
  readonly cpuMsPerOp: number[][];
}

/**
 * BENCH_TLS_PAIRS: interleaved put c16 phases of a plain and a TLS system (`conclave` and `conclave+tls`;
 * etcd and `etcd+tls` too unless BENCH_SKIP_ETCD), each on a fresh cluster, the order alternating.
 */
async function runTlsPairs(
  label: string,
  start: { readonly plain: () => Promise<System>; readonly tls: () => Promise<System> },
  threads: LoadThreads,
): Promise<PairFigures> {
  const ratios: number[] = [];
  const cpu: number[][] = [];
  for (let i = 0; i < tlsPairs; i++) {
    const order = i % 2 === 0 ? (['plain', 'tls'] as const) : (['tls', 'plain'] as const);
    const got = new Map<string, Figures>();
    const names: string[] = [];
    for (const which of order) {
      const system = await start[which]();
      running.push(system);
      names.push(system.name);
      await warmUp(system);
      got.set(which, await phase(system, threads, `pair ${i + 1} put c16`, 'put', 16));
      await stopAll();
    }
    const a = got.get('plain')!;
    const b = got.get('tls')!;
    const r = ratio(b.opsPerSec, a.opsPerSec);
    if (r !== null && a.errors === 0 && b.errors === 0) ratios.push(r);
    cpu.push([a.cpuMsPerOp, b.cpuMsPerOp]);
    log(`${label} pair ${i + 1} (${names.join(' then ')}): tls/plain put c16 = ${r}`);
  }
  const sorted = [...ratios].sort((x, y) => x - y);
  const median =
    sorted.length === 0
      ? null
      : round(
          sorted.length % 2 === 1
            ? sorted[(sorted.length - 1) / 2]!
            : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2,
        );
  return { ratios, median, cpuMsPerOp: cpu };
}

const running: System[] = [];
const stopAll = async () => {
  for (const s of running.splice(0)) await s.stop();
};
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));
try {
  log(
    `bench:cluster: ${phaseMs} ms per phase, ${threadCount} load threads, ${os.cpus().length} cores, ` +
      `load average ${loadAverage()} at start, ${new Date().toISOString()}`,
  );
  const etcdBinary = skipEtcd ? '' : ensureEtcd();
  const variants: ConclaveVariant[] = [
    { name: 'conclave', build: repo, ips: ['127.0.3.1', '127.0.3.2', '127.0.3.3'], tls: false },
  ];
  if (baseline)
    variants.push({ name: 'conclave@base', build: baseline, ips: ['127.0.6.1', '127.0.6.2', '127.0.6.3'], tls: false });
  if (secure)
    variants.push({ name: 'conclave+tls', build: repo, ips: ['127.0.5.1', '127.0.5.2', '127.0.5.3'], tls: true });
  if (secure && baseline)
    variants.push({
      name: 'conclave@base+tls',
      build: baseline,
      ips: ['127.0.7.1', '127.0.7.2', '127.0.7.3'],
      tls: true,
    });
  const figures: Record<string, Record<string, number>> = {};
  // BENCH_BASELINE_FIRST=1: the baseline runs before ours (the first system's phases run on a machine
  // the bench itself has just warmed; alternate the order between runs for an A/B).
  if (process.env['BENCH_BASELINE_FIRST'] === '1' && variants.length > 1) variants.unshift(variants.splice(1, 1)[0]!);
  if (interleave) {
    for (const v of variants) running.push(await startConclave(root, v));
    if (!skipEtcd) running.push(await startEtcd(root, etcdBinary));
    if (!skipEtcd && secure) running.push(await startEtcd(root, etcdBinary, true));
    Object.assign(figures, await runInterleaved([...running], threads));
    await stopAll();
  } else
    for (const v of variants) {
      const system = await startConclave(root, v);
      running.push(system);
      figures[v.name] = await runSuite(system, threads);
      await stopAll();
    }
  let pairs: PairFigures | null = null;
  if (tlsPairs > 0) {
    const plain = variants.find((v) => v.name === 'conclave')!;
    const secureVariant = variants.find((v) => v.name === 'conclave+tls');
    if (!secureVariant) throw new Error('BENCH_TLS_PAIRS needs BENCH_SECURE=1');
    pairs = await runTlsPairs(
      'conclave',
      { plain: () => startConclave(root, plain), tls: () => startConclave(root, secureVariant) },
      threads,
    );
  }
  if (!skipEtcd && !interleave) {
    for (const tlsOn of secure ? [false, true] : [false]) {
      const etcd = await startEtcd(root, etcdBinary, tlsOn);
      running.push(etcd);
      figures[etcd.name] = await runSuite(etcd, threads);
      await stopAll();
    }
  }
  const etcdPairs =
    tlsPairs > 0 && !skipEtcd
      ? await runTlsPairs(
          'etcd',
          { plain: () => startEtcd(root, etcdBinary), tls: () => startEtcd(root, etcdBinary, true) },
          threads,
        )
      : null;
  const c = figures['conclave']!;
  const e = figures['etcd'] ?? {};
  const t = figures['conclave+tls'] ?? {};
  const ratios: Record<string, number | null> = {};
  for (const k of Object.keys(c))
    if (/OpsPerSec$|P99Ms$|P50Ms$|CpuMsPerOp$|SleepsPerOp$|failoverMs$|akeP50Ms$/.test(k))
      ratios[k] = ratio(c[k], e[k]);
  const result = {
    phaseMs,
    loadThreads: threadCount,
    loadAverageEnd: os.loadavg()[0],
    ...figures,
    ratiosConclaveOverEtcd: ratios,
    ...(secure ? { tlsPutC16Ratio: ratio(t['putC16OpsPerSec'], c['putC16OpsPerSec']) } : {}),
    ...(secure && !skipEtcd
      ? { etcdTlsPutC16Ratio: ratio(figures['etcd+tls']?.['putC16OpsPerSec'], e['putC16OpsPerSec']) }
      : {}),
    ...(pairs
      ? {
          tlsPutC16RatioPairs: pairs.ratios,
          tlsPutC16RatioMedian: pairs.median,
          tlsPairCpuMsPerOp: pairs.cpuMsPerOp,
        }
      : {}),
    ...(etcdPairs
      ? {
          etcdTlsPutC16RatioPairs: etcdPairs.ratios,
          etcdTlsPutC16RatioMedian: etcdPairs.median,
          etcdTlsPairCpuMsPerOp: etcdPairs.cpuMsPerOp,
        }
      : {}),
    ...(baseline
      ? {
          newOverBasePutC64: ratio(c['putC64OpsPerSec'], figures['conclave@base']?.['putC64OpsPerSec']),
          ...(secure
            ? {
                baseTlsPutC16Ratio: ratio(
                  figures['conclave@base+tls']?.['putC16OpsPerSec'],
                  figures['conclave@base']?.['putC16OpsPerSec'],
                ),
              }
            : {}),
        }
      : {}),
  };
  log('');
  const names = Object.keys(figures);
  log(`${'metric'.padEnd(22)}${names.map((n) => n.padStart(15)).join('')}  conclave/etcd`);
  const rows: [string, string][] = [];
  for (const cl of putClients)
    for (const m of ['OpsPerSec', 'P99Ms', 'Errors', 'Elections', 'Cores', 'CpuMsPerOp', 'SleepsPerOp'])
      rows.push([`put c${cl} ${m}`, `putC${cl}${m}`]);
  for (const p of ['readC16', 'casC16'])
    for (const m of ['OpsPerSec', 'P99Ms', 'Errors', 'Elections', 'Cores', 'CpuMsPerOp', 'SleepsPerOp'])
      rows.push([`${p} ${m}`, `${p}${m}`]);
  rows.push(['wake p50 ms', 'wakeP50Ms'], ['follower wake p50 ms', 'followerWakeP50Ms'], ['failover ms', 'failoverMs']);
  for (const [label, k] of rows) {
    if (!names.some((n) => figures[n]![k] !== undefined)) continue;
    const r = ratios[k];
    log(
      `${label.padEnd(22)}${names.map((n) => String(figures[n]![k] ?? '-').padStart(15)).join('')}  ${r === undefined || r === null ? '' : r}`,
    );
  }
  if (secure) log(`tlsPutC16Ratio (secure put c16 / plain put c16): ${result.tlsPutC16Ratio} (goal >= 0.85)`);
  if (secure && !skipEtcd) log(`etcd with client and peer TLS / plain, put c16: ${result.etcdTlsPutC16Ratio}`);
  if (pairs)
    log(
      `tlsPutC16Ratio over ${pairs.ratios.length} interleaved pairs: ${pairs.ratios.join(', ')}; ` +
        `median ${pairs.median} (goal >= 0.85)`,
    );
  if (etcdPairs)
    log(
      `etcd tls/plain put c16 over ${etcdPairs.ratios.length} interleaved pairs: ${etcdPairs.ratios.join(', ')}; ` +
        `median ${etcdPairs.median}`,
    );
  log(JSON.stringify(result));
} finally {
  await stopAll();
  await threads.close();
  if (process.env['BENCH_KEEP'] === '1') log(`data dirs and server logs kept in ${root}`);
  else fs.rmSync(root, { recursive: true, force: true });
}
