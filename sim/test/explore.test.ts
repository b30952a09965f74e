/**
 * The explorer's machinery on a stub runner (a pure function of the seed): every seed runs exactly
 * once whatever the number of workers, the failing seeds are found, shards tile a range and merge back
 * into the unsharded summary, and the progress line counts down.
 */
import { describe, expect, it } from 'vitest';
import {
  type ExploreSummary,
  explore,
  formatEta,
  mergeResults,
  parseSeedRange,
  parseShard,
  progressLine,
  shardRange,
} from '../tools/explore.js';

const stubUrl = new URL('./explore-stub.ts', import.meta.url).href;

describe('explore on a stub runner', () => {
  it('runs each seed once on 1 and on 2 worker threads with the same totals', async () => {
    const seen1: number[] = [];
    const one = await explore({
      scenarioPath: 's.txt',
      range: { from: 1, to: 300 },
      jobs: 1,
      runnerUrl: stubUrl,
      onSeed: (r) => seen1.push(r.seed),
    });
    const seen2: number[] = [];
    const two = await explore({
      scenarioPath: 's.txt',
      range: { from: 1, to: 300 },
      jobs: 2,
      runnerUrl: stubUrl,
      onSeed: (r) => seen2.push(r.seed),
    });
    for (const s of [one, two]) {
      expect(s.seeds).toBe(300);
      expect(s.passed).toBe(297);
      expect(s.failingSeeds).toEqual([97, 194, 291]);
      expect(s.simulatedMs).toBe(300_000);
    }
    expect(two.jobs).toBe(2);
    expect([...seen2].sort((a, b) => a - b)).toEqual(seen1);
    expect(two.failures.map((f) => f.violations[0])).toEqual(one.failures.map((f) => f.violations[0]));
  });

  it('shards tile the range and merge into the unsharded summary', async () => {
    const range = { from: 0, to: 999 };
    const parts: ExploreSummary[] = [];
    for (let i = 1; i <= 3; i++) {
      const r = shardRange(range, i, 3)!;
      parts.push({
        ...(await explore({ scenarioPath: 's.txt', range: r, jobs: 1, runnerUrl: stubUrl })),
        shard: `${i}/3`,
      });
    }
    expect(parts.map((p) => p.range)).toEqual(['0..332', '333..665', '666..999']);
    const whole = await explore({ scenarioPath: 's.txt', range, jobs: 1, runnerUrl: stubUrl });
    const merged = mergeResults(parts);
    expect(merged.gaps).toEqual([]);
    for (const k of [
      'seeds',
      'passed',
      'failed',
      'failingSeeds',
      'simulatedMs',
      'range',
      'events',
      'messages',
    ] as const)
      expect(merged[k]).toEqual(whole[k]);
    expect(() => mergeResults([parts[0]!, parts[0]!])).toThrow(/overlap/);
    expect(mergeResults([parts[0]!, parts[2]!]).gaps).toEqual(['333..665']);
    expect(() => mergeResults([parts[0]!, { ...parts[1]!, scenario: 'other.txt' }])).toThrow(/different scenarios/);
  });

  it('reports a crashing runner as an error, not as a failing seed', async () => {
    const crashUrl = `data:text/javascript,${encodeURIComponent('export function runSeed(p, seed) { if (seed === 5) throw new Error("boom"); return { seed, trace: "0", result: "pass", simulatedMs: 1, wallMs: 0, events: 0, messages: 0, violations: [] }; }')}`;
    await expect(
      explore({ scenarioPath: 's.txt', range: { from: 1, to: 20 }, jobs: 2, runnerUrl: crashUrl }),
    ).rejects.toThrow(/seed 5 crashed the runner: .*boom/s);
  });
});

describe('parsing and progress', () => {
  it('parses seed ranges and shards', () => {
    expect(parseSeedRange('5..9')).toEqual({ from: 5, to: 9 });
    expect(parseSeedRange('100')).toEqual({ from: 1, to: 100 });
    expect(parseSeedRange('9..5')).toBeNull();
    expect(parseSeedRange('x')).toBeNull();
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    expect(parseShard('0/4')).toBeNull();
    expect(parseShard('5/4')).toBeNull();
    expect(shardRange({ from: 1, to: 2 }, 1, 3)).toBeNull();
    expect([1, 2, 3].map((i) => shardRange({ from: 1, to: 2 }, i, 3))).toEqual([
      null,
      { from: 1, to: 1 },
      { from: 2, to: 2 },
    ]);
  });

  it('draws a progress bar with an ETA', () => {
    expect(progressLine({ done: 50, total: 200, failed: 1, wallMs: 1000 }, 10)).toBe(
      '[###.......]  25% 50/200 seeds · 1 failed · 50 seeds/s · ETA 3s',
    );
    expect(formatEta(125_000)).toBe('2m05s');
    expect(formatEta(NaN)).toBe('?');
  });
});

describe('conclave sim explore / merge (CLI functions)', () => {
  it('prints the contract JSON, exits 1 with a replay command per failing seed, and merges shard files', async () => {
    const { runExplore, runMerge } = await import('../../cli/commands/sim/explore.js');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { vi } = await import('vitest');
    const dir = mkdtempSync(join(tmpdir(), 'conclave-explore-'));
    let out = '';
    const spy = vi
      .spyOn(process.stdout, 'write')
      .mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
    try {
      const files: string[] = [];
      for (const shard of ['1/2', '2/2']) {
        out = '';
        const code = await runExplore([
          's.txt',
          '--seeds',
          '1..200',
          '--shard',
          shard,
          '--jobs',
          '2',
          '--json',
          '--runner',
          stubUrl,
          '--no-replays',
        ]);
        expect(code).toBe(1);
        const json = JSON.parse(out.trim().split('\n').at(-1)!);
        for (const key of ['scenario', 'seeds', 'passed', 'failed', 'failingSeeds', 'simulatedMs', 'wallMs'])
          expect(json).toHaveProperty(key);
        expect(json.failures[0].replay).toMatch(/sim run s\.txt --seed \d+$/);
        files.push(join(dir, `shard${files.length}.json`));
        writeFileSync(files.at(-1)!, out);
      }
      out = '';
      expect(await runMerge([...files, '--json'])).toBe(1);
      const merged = JSON.parse(out.trim().split('\n').at(-1)!);
      expect(merged).toMatchObject({
        scenario: 's.txt',
        seeds: 200,
        passed: 198,
        failed: 2,
        failingSeeds: [97, 194],
        range: '1..200',
        shards: 2,
        gaps: [],
      });
      out = '';
      expect(await runExplore(['s.txt', '--seeds', '1..50', '--runner', stubUrl, '--jobs', '1'])).toBe(0);
      expect(out).toContain('50 passed, 0 failed');
      expect(await runExplore(['s.txt', '--seeds', '9..1'])).toBe(2);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('explore with the real simulator', () => {
  it('gives every seed the trace and verdict of an in-process sim run, on worker threads, and writes replay files for failures', async () => {
    const { loadScenario, runLoaded } = await import('../run.js');
    const { readReplay } = await import('../tools/replay.js');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const path = 'scenarios/planted/broadcast-lost-ack.txt';
    const replayDir = mkdtempSync(join(tmpdir(), 'conclave-explore-real-'));
    const seen = new Map<number, { trace: string; result: string }>();
    const summary = await explore({
      scenarioPath: path,
      range: { from: 1, to: 5 },
      jobs: 2,
      runner: { replayDir },
      onSeed: (r) => seen.set(r.seed, { trace: r.trace, result: r.result }),
    });
    const loaded = await loadScenario(path);
    for (let seed = 1; seed <= 5; seed++) {
      const direct = runLoaded(loaded, seed, {});
      expect(seen.get(seed), `seed ${seed}`).toEqual({ trace: direct.trace, result: direct.result });
    }
    expect(summary.failed).toBeGreaterThan(0); // the planted bug shows within 5 seeds
    for (const f of summary.failures) expect(readReplay(f.replayFile!).trace).toBe(f.trace);
  });
});

describe('sim explore --require-coverage', () => {
  it('fails (exit 1) naming every transition of the protocol that no seed reached, and passes when none is missing', async () => {
    const { runExplore } = await import('../../cli/commands/sim/explore.js');
    const { vi } = await import('vitest');
    let out = '';
    let err = '';
    const outSpy = vi
      .spyOn(process.stdout, 'write')
      .mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
    const errSpy = vi
      .spyOn(process.stderr, 'write')
      .mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
    try {
      // One seed of a 3-node swarm cannot reach all 22 Raft transitions (it draws no membership changes).
      const one = ['scenarios/raft/explore-swarm-3.txt', '--seeds', '1..1', '--jobs', '1', '--no-replays'];
      expect(await runExplore([...one, '--coverage'])).toBe(0); // --coverage alone reports, never fails
      expect(out).toContain('NOT REACHED');
      expect(await runExplore([...one, '--require-coverage'])).toBe(1);
      expect(err).toMatch(
        /coverage check failed: \d+ of the 22 transitions of the protocol were not reached in 1 seeds/,
      );
      expect(err).toContain('membership: learner added');
      err = '';
      // The register example declares no transitions: nothing can be missing.
      const register = ['scenarios/example/register.txt', '--seeds', '1..2', '--jobs', '1', '--no-replays'];
      expect(await runExplore([...register, '--require-coverage'])).toBe(0);
      expect(err).toBe('');
    } finally {
      outSpy.mockRestore();
      errSpy.mockRestore();
    }
  });
});
