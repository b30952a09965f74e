/**
 * The explorer over a suite (sim/tools/suite.ts, `conclave sim explore PATH...`). A temporary folder holds
 * two tiny register scenarios: one that passes, one that reads from backups and is not linearizable from
 * seed 2 on (seed 1 passes). The suite must find that seed, name its scenario, and print a replay command
 * that fails the same way; a budget must stop a passing suite; seeds must be shared by time, not count;
 * directories must skip planted variants; a bad path or scenario file must exit 2 naming it.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { nextLane, runSchedule, suiteScenarios, SuitePathError, type Lane } from '../tools/suite.js';

const passing = `# A tiny passing suite member: the register example for one simulated second.
protocol register
nodes 3
seed 1
set clients 2
network latency=1ms..8ms
duration safety=1s liveness=1s
nemesis none
expect liveness
`;

// Reads from backups (core/example/register.ts's readFrom any) are stale under faults: seed 1 passes,
// seed 2 is the first that fails (checked below by running both seeds directly).
const stale = `# Reads from backups: not linearizable on most seeds.
protocol register
nodes 3
seed 1
set clients 3
set readFrom any
network latency=1ms..8ms loss=1% dup=1% reorder=5%
duration safety=2s liveness=1s
nemesis swarm kinds=crash,pause,partition every=300ms
expect liveness
`;

let dir = '';
let passDir = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'conclave-suite-'));
  writeFileSync(join(dir, 'a-pass.txt'), passing);
  writeFileSync(join(dir, 'b-stale.txt'), stale);
  writeFileSync(join(dir, 'planted-broken.txt'), stale); // a deliberately broken variant: skipped
  writeFileSync(join(dir, 'notes.md'), 'not a scenario');
  mkdirSync(join(dir, 'planted'));
  writeFileSync(join(dir, 'planted', 'demo.txt'), stale); // demo material: skipped
  mkdirSync(join(dir, 'deeper'));
  writeFileSync(join(dir, 'deeper', 'c-pass.txt'), passing); // recursive
  passDir = mkdtempSync(join(tmpdir(), 'conclave-suite-pass-'));
  writeFileSync(join(passDir, 'one.txt'), passing);
  writeFileSync(join(passDir, 'two.txt'), passing.replace('set clients 2', 'set clients 3'));
});

/** Runs `sim explore ARGS` in-process, capturing its output. */
async function explore(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { runExplore } = await import('../../cli/commands/sim/explore.js');
  let out = '';
  let err = '';
  const o = vi
    .spyOn(process.stdout, 'write')
    .mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  const e = vi
    .spyOn(process.stderr, 'write')
    .mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
  try {
    return { code: await runExplore(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('suiteScenarios', () => {
  it('lists a directory recursively, sorted, without planted variants; an explicit file is always taken', () => {
    expect(suiteScenarios([dir])).toEqual([
      join(dir, 'a-pass.txt'),
      join(dir, 'b-stale.txt'),
      join(dir, 'deeper', 'c-pass.txt'),
    ]);
    const planted = join(dir, 'planted-broken.txt');
    expect(suiteScenarios([planted, dir])).toEqual([
      planted,
      join(dir, 'a-pass.txt'),
      join(dir, 'b-stale.txt'),
      join(dir, 'deeper', 'c-pass.txt'),
    ]);
    expect(suiteScenarios([join(dir, 'planted')])).toEqual([join(dir, 'planted', 'demo.txt')]); // named: taken
  });

  it('leaves out the files below a directory that an exclude names, but not a file named explicitly', () => {
    expect(suiteScenarios([dir], ['stale'])).toEqual([join(dir, 'a-pass.txt'), join(dir, 'deeper', 'c-pass.txt')]);
    expect(suiteScenarios([dir], ['deeper/'])).toEqual([join(dir, 'a-pass.txt'), join(dir, 'b-stale.txt')]);
    expect(suiteScenarios([join(dir, 'b-stale.txt')], ['stale'])).toEqual([join(dir, 'b-stale.txt')]);
    const swim = suiteScenarios(['scenarios/swim'], ['swim/members-1000']);
    expect(swim).toContain('scenarios/swim/nemesis.txt');
    expect(swim.some((f) => f.includes('members-1000'))).toBe(false);
  });

  it('names a path that does not exist, and a directory without scenarios', () => {
    expect(() => suiteScenarios(['no/such/dir'])).toThrow(SuitePathError);
    expect(() => suiteScenarios(['no/such/dir'])).toThrow(/^no\/such\/dir: no such file or directory$/);
    const empty = mkdtempSync(join(tmpdir(), 'conclave-suite-empty-'));
    expect(() => suiteScenarios([empty])).toThrow(/no scenario files/);
  });

  it('the shipped library: scenarios/kv without its planted variant', () => {
    const kv = suiteScenarios(['scenarios/kv']);
    expect(kv).toContain('scenarios/kv/jepsen-cas.txt');
    expect(kv.some((f) => f.includes('planted'))).toBe(false);
    expect(suiteScenarios(['scenarios']).some((f) => f.startsWith('scenarios/planted/'))).toBe(false);
  });
});

describe('the equal-shares scheduler', () => {
  it('gives each lane the same time, not the same seeds (a fake clock: lane a costs 1 ms a seed, b 10 ms)', async () => {
    let nowMs = 0;
    const costMs: Record<string, number> = { a: 1, b: 10 };
    const outcome = await runSchedule({
      paths: ['a', 'b'],
      seeds: { from: 1, to: Infinity },
      budgetMs: 1000,
      clock: () => nowMs,
      jobs: 1,
      runSeed: (path) => void (nowMs += costMs[path]!),
      onResult: () => 'continue',
    });
    expect(outcome.stoppedBy).toBe('budget');
    const [a, b] = outcome.lanes;
    expect(Math.abs(a!.usedMs - b!.usedMs)).toBeLessThanOrEqual(10);
    expect(a!.seedsRun).toBeGreaterThan(8 * b!.seedsRun);
    expect(a!.usedMs + b!.usedMs).toBeGreaterThanOrEqual(1000);
  });

  it('runs each lane its seed range once, and stops when onResult says so', async () => {
    const seen: string[] = [];
    const all = await runSchedule({
      paths: ['a', 'b', 'c'],
      seeds: { from: 5, to: 7 },
      budgetMs: null,
      clock: () => 0,
      jobs: 1,
      runSeed: (path, seed) => `${path}${seed}`,
      onResult: (_lane, _seed, r) => (seen.push(r), 'continue'),
    });
    expect(all.stoppedBy).toBe('seeds');
    expect([...seen].sort()).toEqual(['a5', 'a6', 'a7', 'b5', 'b6', 'b7', 'c5', 'c6', 'c7']);
    const stopped = await runSchedule({
      paths: ['a', 'b'],
      seeds: { from: 1, to: 100 },
      budgetMs: null,
      clock: () => 0,
      jobs: 1,
      runSeed: (path, seed) => `${path}${seed}`,
      onResult: (_lane, _seed, r) => (r === 'b3' ? 'stop' : 'continue'),
    });
    expect(stopped.stoppedBy).toBe('stop');
    expect(stopped.lanes.map((l) => l.seedsRun)).toEqual([3, 3]);
  });

  it('counts seeds in flight, so several jobs do not all start on the first lane', () => {
    const lane = (path: string, usedMs: number, seedsRun: number, inFlight: number): Lane => ({
      path,
      nextSeed: seedsRun + inFlight + 1,
      lastSeed: Infinity,
      usedMs,
      seedsRun,
      inFlight,
    });
    expect(nextLane([lane('a', 0, 0, 1), lane('b', 0, 0, 0)])!.path).toBe('b');
    expect(nextLane([lane('a', 10, 1, 1), lane('b', 15, 1, 0)])!.path).toBe('b'); // a: 10 + 10 in flight
    expect(nextLane([lane('a', 10, 1, 0), lane('b', 15, 1, 0)])!.path).toBe('a');
    expect(nextLane([{ ...lane('a', 0, 3, 0), lastSeed: 3 }])).toBeNull();
  });
});

describe('conclave sim explore PATH... (the real simulator)', () => {
  it('finds the failing seed under a budget, names it, stops there, and its replay command fails the same way', async () => {
    const replayDir = mkdtempSync(join(tmpdir(), 'conclave-suite-replays-'));
    const r = await explore([dir, '--budget', '60s', '--jobs', '1', '--replay-dir', replayDir]);
    expect(r.code).toBe(1);
    const stalePath = join(dir, 'b-stale.txt');
    expect(r.out).toContain(`FAIL ${stalePath} seed 2: register history is not linearizable`);
    expect(r.out).toContain('stopped at the first failing seed');
    expect(r.out.match(/^FAIL /gm)).toHaveLength(1);
    const replay = /replay: node bin\/conclave\.js (sim run .*)$/m.exec(r.out)![1]!;
    expect(replay).toBe(`sim run ${stalePath} --seed 2`);
    const replayFile = /replay file: (\S+)/.exec(r.out)![1]!;
    expect(replayFile.startsWith(replayDir)).toBe(true);
    const { readReplay } = await import('../tools/replay.js');
    const recorded = readReplay(replayFile);
    const { run } = await import('../../cli/commands/sim.js');
    let out = '';
    const o = vi
      .spyOn(process.stdout, 'write')
      .mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const code = await run([...replay.split(' ').slice(1), '--no-replay']);
    o.mockRestore();
    e.mockRestore();
    expect(code).toBe(1);
    expect(out).toContain(`seed=2 trace=${recorded.trace} result=fail`);
  });

  it('with --json and --keep-going over a seed range: every failure of the range, seeds counted per scenario', async () => {
    const r = await explore([dir, '--seeds', '1..4', '--jobs', '2', '--no-replays', '--json']);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.out.trim().split('\n').at(-1)!);
    expect(json).toMatchObject({ scenarios: 3, seeds: 12, stopAtFirst: false, stoppedBy: 'seeds', jobs: 2 });
    expect(json.perScenario.map((p: { seeds: number }) => p.seeds)).toEqual([4, 4, 4]);
    const stale = json.failures.filter((f: { scenario: string }) => f.scenario.endsWith('b-stale.txt'));
    expect(stale.length).toBe(json.failed);
    expect(stale.map((f: { seed: number }) => f.seed)).toContain(2);
    expect(stale.map((f: { seed: number }) => f.seed)).not.toContain(1);
  });

  it('a budget stops a passing suite (exit 0), with both scenarios given time', async () => {
    const started = performance.now();
    const r = await explore([passDir, '--budget', '1500ms', '--jobs', '1', '--json']);
    const wallMs = performance.now() - started;
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out.trim().split('\n').at(-1)!);
    expect(json.stoppedBy).toBe('budget');
    expect(json.failed).toBe(0);
    expect(wallMs).toBeGreaterThanOrEqual(1500);
    expect(wallMs).toBeLessThan(15_000);
    const used = json.perScenario.map((p: { usedMs: number }) => p.usedMs);
    for (const u of used) expect(u).toBeGreaterThan(300); // equal shares of 1.5 s, give or take a seed
  });

  it('exits 2 naming a bad path or a bad scenario file, and refuses single-scenario flags', async () => {
    const bad = await explore([passDir, 'no/such/place', '--seeds', '2']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('no/such/place: no such file or directory');
    const broken = join(mkdtempSync(join(tmpdir(), 'conclave-suite-bad-')), 'broken.txt');
    writeFileSync(broken, passing.replace('protocol register', 'protocol regster'));
    const parse = await explore([passDir, broken]);
    expect(parse.code).toBe(2);
    expect(parse.err).toContain(`${broken}:2:`);
    const shard = await explore([passDir, '--shard', '1/2']);
    expect(shard.code).toBe(2);
    expect(shard.err).toContain('--shard is for one scenario');
    const both = await explore([passDir, '--budget', '1s', '--budget-cpu', '1s']);
    expect(both.code).toBe(2);
  });
});
