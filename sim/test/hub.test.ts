/**
 * The hub and its workers against a real `redis-server` (started here on loopback) and real worker
 * processes, one of them killed with SIGKILL in the middle of a batch: every seed is counted once,
 * the failing seeds are exactly those `sim explore` finds, and running the hub again resumes the
 * finished sweep without any worker. Skips with one line when redis-server is not installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchesOf, fingerprintOf, jobIdOf, redisConnection, sweepId } from '../tools/hub.js';
import { explore } from '../tools/explore.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'conclave.js');
const scenario = 'scenarios/planted/broadcast-lost-ack.txt';
const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
if (!hasRedis) console.log('sim/test/hub.test.ts: skipped the hub/worker runs: redis-server is not installed');

describe('hub building blocks', () => {
  it('cuts a range into contiguous batches that tile it', () => {
    expect(batchesOf({ from: 3, to: 12 }, 4)).toEqual([
      { from: 3, to: 6 },
      { from: 7, to: 10 },
      { from: 11, to: 12 },
    ]);
    expect(batchesOf({ from: 1, to: 1 }, 200)).toEqual([{ from: 1, to: 1 }]);
  });
  it('names a sweep by everything that changes its results', () => {
    const base = { scenarioText: 'x', range: { from: 1, to: 10 }, batch: 5, codec: true, pins: {}, version: 'v' };
    const id = sweepId(base);
    expect(sweepId({ ...base })).toBe(id);
    for (const other of [
      { scenarioText: 'y' },
      { range: { from: 1, to: 11 } },
      { batch: 4 },
      { codec: false },
      { pins: { preVote: 'false' } },
      { version: 'w' },
    ])
      expect(sweepId({ ...base, ...other })).not.toBe(id);
    expect(jobIdOf(id, { from: 1, to: 5 })).toBe(`${id}-1-5`);
  });
  it('fingerprints a shrunk failure by its property and the kinds of fault it needs', () => {
    const a = fingerprintOf('liveness', ['at 1.2s crash n1', 'at 2s restart n1', 'at 3s crash n3']);
    expect(a).toBe('liveness · crash,restart');
    expect(fingerprintOf('liveness', ['at 9ms restart n4', 'at 10ms crash n2'])).toBe(a);
    expect(fingerprintOf('liveness', [])).toBe('liveness · no fault');
  });
  it('reads redis URLs and refuses others with a clear message', () => {
    expect(redisConnection('redis://127.0.0.1:6390/2')).toMatchObject({ host: '127.0.0.1', port: 6390, db: 2 });
    expect(redisConnection('redis://:s3cret@h')).toMatchObject({ host: 'h', port: 6379, password: 's3cret' });
    expect(() => redisConnection('http://h')).toThrow(/not a redis:\/\//);
    expect(() => redisConnection('nonsense')).toThrow(/not a URL/);
  });
});

describe('conclave sim hub / worker: bad usage', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, 'sim', ...args], { encoding: 'utf8' });
  it('names the problem and exits 2', () => {
    let r = run('hub', scenario);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/missing --seeds/);
    r = run('hub', scenario, '--seeds', '1..10', '--redis', 'http://x');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not a redis:\/\//);
    r = run('worker', '--lock', '0s');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--lock needs a duration of at least 1s/);
    r = run('hub', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Usage: conclave sim hub/);
  });
});

describe.skipIf(!hasRedis)('conclave sim hub with workers on a real Redis', () => {
  let redis: ChildProcess;
  let url = '';
  const workers: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'conclave-hub-'));

  beforeAll(async () => {
    const port = await freePort();
    url = `redis://127.0.0.1:${port}`;
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
    await waitForOutput(redis, /Ready to accept connections/, 10_000);
  });
  afterAll(() => {
    for (const w of workers) w.kill('SIGKILL');
    redis?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const startWorker = (name: string): { proc: ChildProcess; lines: string[] } => {
    const proc = spawn(
      process.execPath,
      [bin, 'sim', 'worker', '--redis', url, '--jobs', '1', '--lock', '2s', '--name', name],
      {
        cwd: root,
      },
    );
    workers.push(proc);
    const lines: string[] = [];
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => lines.push(...d.split('\n').filter(Boolean)));
    return { proc, lines };
  };
  const hub = (): Promise<{ code: number; json: Record<string, unknown>; stderr: string }> =>
    new Promise((resolve) => {
      const proc = spawn(
        process.execPath,
        [
          bin,
          'sim',
          'hub',
          scenario,
          '--seeds',
          '1..40',
          '--batch',
          '8',
          '--redis',
          url,
          '--shrink-budget',
          '200ms',
          '--replay-dir',
          join(dir, 'replays'),
          '--json',
        ],
        { cwd: root },
      );
      let out = '';
      let err = '';
      proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      proc.on('exit', (code) => {
        const last = out.trim().split('\n').at(-1) ?? '{}';
        resolve({ code: code ?? -1, json: JSON.parse(last), stderr: err });
      });
    });

  it('loses no seed and counts none twice when a worker is killed mid-batch, and resumes a finished sweep', async () => {
    const truth = await explore({ scenarioPath: join(root, scenario), range: { from: 1, to: 40 }, jobs: 1 });
    expect(truth.failed).toBeGreaterThan(0); // the planted bug fails some seeds

    // The victim works alone until it has a batch in hand, then dies mid-batch; only then do the other
    // workers join (with all three from the start, a fast machine can finish before the victim starts).
    const victim = startWorker('victim');
    await until(() => victim.lines.some((l) => /waiting for batches/.test(l)), 240_000);
    const running = hub();
    await until(() => victim.lines.some((l) => / started$/.test(l)), 240_000);
    victim.proc.kill('SIGKILL');
    const killedBatch = /batch (\d+\.\.\d+) of sweep/.exec(victim.lines.find((l) => / started$/.test(l))!)![1];
    startWorker('w2');
    startWorker('w3');

    const first = await running;
    expect(first.code).toBe(1); // some seeds fail: exit 1, as sim explore
    expect(first.json.seeds).toBe(40);
    expect((first.json.passed as number) + (first.json.failed as number)).toBe(40);
    expect(first.json.failingSeeds).toEqual(truth.failingSeeds);
    expect(first.json.lost).toEqual([]);
    expect(first.json.retried).toBeGreaterThanOrEqual(1);
    // The killed batch was run whole by another worker.
    const workerStats = first.json.workers as Record<string, { seeds: number }>;
    const counted = Object.values(workerStats).reduce((a, w) => a + w.seeds, 0);
    expect(counted).toBe(40);
    expect(killedBatch).toMatch(/^\d+\.\.\d+$/);
    // Failures are grouped by property (they all break liveness here), each with a replay file.
    const unique = first.json.unique as { property: string; seeds: number; replayFile: string | null }[];
    expect(unique.reduce((a, u) => a + u.seeds, 0)).toBe(truth.failed);
    expect(unique.every((u) => u.property === 'liveness' && u.replayFile)).toBe(true);
    const replay = spawnSync(process.execPath, [bin, 'sim', 'replay', unique[0]!.replayFile!], {
      encoding: 'utf8',
      cwd: root,
    });
    expect(replay.status).toBe(0); // the replay file reproduces the recorded run

    // The same hub command again: the sweep's batches are already done; no worker is needed.
    for (const w of workers) w.kill('SIGTERM');
    const again = await hub();
    expect(again.code).toBe(1);
    expect(again.json.sweep).toBe(first.json.sweep);
    expect(again.json.failingSeeds).toEqual(truth.failingSeeds);
    expect(again.json.seeds).toBe(40);
  }, 420_000); // generous: on a 2-core machine shared with other work it took minutes
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function waitForOutput(proc: ChildProcess, pattern: RegExp, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${ms} ms: ${seen}`)), ms);
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      seen += d;
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

async function until(ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
