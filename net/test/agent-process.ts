/**
 * Test helpers: real `conclave` processes (bin/conclave.js → dist/, built by the suite's global
 * setup), their output, and CLI runs.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { loopbackServerArgs } from '../../test/loopback-servers.js';

export const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The processes run a private copy of bin/ and dist/ taken when the test file loads (after the
 * suite's global setup built dist/): other test runs in the same tree rebuild dist/ in place, and an
 * agent started while that happens would load half-written modules.
 */
function snapshotBuild(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-build-'));
  fs.cpSync(path.join(repoRoot, 'dist'), path.join(dir, 'dist'), { recursive: true });
  fs.cpSync(path.join(repoRoot, 'bin'), path.join(dir, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(repoRoot, 'package.json'), path.join(dir, 'package.json'));
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    // Registered while the importing test file is collected: runs after its last test.
    afterAll(remove);
  } catch {
    process.on('exit', remove); // outside vitest (npm run chaos)
  }
  return dir;
}

export const conclaveBin = path.join(snapshotBuild(), 'bin', 'conclave.js');

export interface AgentHandle {
  readonly child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp | string, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

export function startAgent(args: readonly string[], env: NodeJS.ProcessEnv = {}): AgentHandle {
  const child = spawn(process.execPath, [conclaveBin, 'agent', ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    async waitFor(pattern, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      const test = () => (typeof pattern === 'string' ? out.includes(pattern) : pattern.test(out));
      while (!test()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} in agent output:\n${out}`);
        if (child.exitCode !== null) throw new Error(`agent exited (${child.exitCode}) before ${pattern}:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

export function conclave(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [conclaveBin, ...args],
      { cwd: repoRoot, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error
          ? typeof (error as { code?: unknown }).code === 'number'
            ? (error as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export async function until<T>(
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function stopAll(agents: readonly AgentHandle[]): Promise<void> {
  for (const a of agents) if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
  await Promise.all(agents.map((a) => a.exited));
}

/**
 * The arguments every agent of a multi-datacenter test takes: its name, one loopback IP for binding
 * and clients, its DC, its data dir, the shared gossip key, and a 1 s retry interval for its joins.
 */
export function dcAgentArgs(name: string, ip: string, dc: string, dataDir: string, key: string): string[] {
  return [
    '-node',
    name,
    '-bind',
    ip,
    '-client',
    ip,
    '-datacenter',
    dc,
    '-data-dir',
    dataDir,
    '-encrypt',
    key,
    '-retry-interval',
    '1s',
  ];
}

/**
 * A cluster of `agent -server -bootstrap-expect N` processes on `ips` (one each), with their own data dirs
 * under a temporary root and Consul's production Raft timing (raft_multiplier 1: elections in 1–2 s, so
 * they do not dominate a test's time). `start(i)` starts (or starts again) server i; every process is
 * killed and the root removed after the file's tests.
 */
export function fastServerCluster(ips: readonly string[], label: string) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `conclave-${label}-`));
  const dataDirs = ips.map((_, i) => path.join(root, `s${i + 1}`));
  const agents: AgentHandle[] = [];
  afterAll(async () => {
    await stopAll(agents);
    fs.rmSync(root, { recursive: true, force: true });
  });
  const fastRaft = path.join(root, 'fast-raft.json');
  fs.writeFileSync(fastRaft, JSON.stringify({ performance: { raft_multiplier: 1 } }));
  const start = (i: number): AgentHandle => {
    const agent = startAgent([...loopbackServerArgs(ips, i, dataDirs[i]!), '-config-file', fastRaft]);
    agents.push(agent);
    return agent;
  };
  return { root, dataDirs, agents, start };
}

/** One server of `/v1/operator/raft/configuration`. */
export interface RaftServer {
  ID: string;
  Node: string;
  Address: string;
  Voter: boolean;
  Leader: boolean;
}

/** `/v1/operator/raft/configuration` as the agent at `ip` answers it. */
export async function raftConfiguration(ip: string): Promise<RaftServer[]> {
  const r = await fetch(`http://${ip}:8500/v1/operator/raft/configuration`, { signal: AbortSignal.timeout(2_000) });
  if (r.status !== 200) throw new Error(`raft configuration on ${ip}: ${r.status}`);
  return ((await r.json()) as { Servers: RaftServer[] }).Servers;
}
