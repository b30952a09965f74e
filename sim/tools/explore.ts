/**
 * The explorer: runs one scenario over a range of seeds, on `jobs` worker threads, and sums up.
 *
 * Seeds are handed to workers in small batches on demand (not split up front), so a worker that drew
 * slow seeds does not hold up the others. Results come back per seed; the explorer keeps only the
 * totals and the failing seeds, so memory stays flat over millions of seeds.
 *
 * Sharding (`--shard i/n`) splits one seed range into n contiguous parts, one per CI job or machine;
 * `mergeResults` adds their JSON summaries back up and checks that the shards tile the range.
 *
 * What a worker runs for one seed is a "seed runner" module (exporting `runSeed`), named by URL, so
 * tests can explore with a stub runner and the CLI with the real simulator (sim/explore-run.ts).
 */
import { Worker } from 'node:worker_threads';
import { assert } from '../../core/assert.js';
import { threadEntry as threadEntryBeside } from '../../net/thread-entry.js';
import { Guide, type CurvePoint, type GuideOptions } from './guide.js';

/** What one seed's run reports (the `sim run --json` fields). */
export interface SeedResult {
  readonly seed: number;
  readonly trace: string;
  readonly result: 'pass' | 'fail';
  readonly simulatedMs: number;
  readonly wallMs: number;
  readonly events: number;
  readonly messages: number;
  readonly violations: readonly string[];
  /** A replay file written for a failing seed, when the runner wrote one. */
  readonly replayFile?: string;
  /** What the seed reached (with `RunnerOptions.coverage`): `kind name` → count. */
  readonly coverage?: Readonly<Record<string, number>>;
  /** The seed's pinnable knobs, drawn or pinned (with `RunnerOptions.coverage`): the guide breeds from them. */
  readonly knobs?: Readonly<Record<string, string>>;
  /** The knobs pinned for this run (`--knob` and the guide's), for its replay command. */
  readonly pins?: Readonly<Record<string, string>>;
}

/** Coverage over many seeds: for each item, how often it happened and in how many seeds. */
export type Coverage = Record<string, { count: number; seeds: number }>;

/** Adds one seed's counts into a running total. */
export function addCoverage(total: Coverage, seed: Readonly<Record<string, number>>): void {
  for (const [what, count] of Object.entries(seed)) {
    const t = (total[what] ??= { count: 0, seeds: 0 });
    t.count += count;
    t.seeds += 1;
  }
}

/** A module a worker loads: `runSeed(scenarioPath, seed, options)` runs one seed. */
export interface SeedRunnerModule {
  runSeed(scenarioPath: string, seed: number, options: RunnerOptions): Promise<SeedResult> | SeedResult;
}

export interface RunnerOptions {
  /** Where to write replay files for failing seeds; null: do not write any. */
  readonly replayDir: string | null;
  /** Turn the codec round-trip off, as `sim run --fast` does. */
  readonly fast?: boolean;
  /** Count coverage per seed (`sim explore --coverage`). */
  readonly coverage?: boolean;
  /** `--knob KEY=VALUE` pins for every seed. */
  readonly pins?: Readonly<Record<string, string>>;
}

export interface SeedRange {
  /** First seed, inclusive. */
  readonly from: number;
  /** Last seed, inclusive. */
  readonly to: number;
}

export interface ExploreOptions {
  readonly scenarioPath: string;
  readonly range: SeedRange;
  readonly jobs: number;
  /** URL of the seed runner module; the real simulator's by default. */
  readonly runnerUrl?: string;
  readonly runner?: RunnerOptions;
  /** Called after each finished seed (on the main thread). */
  readonly onSeed?: (result: SeedResult, progress: Progress) => void;
  /** Failing seeds kept with their details; the count of failures is always exact. */
  readonly failuresKeptMax?: number;
  /** Coverage-guided exploration (sim/tools/guide.ts); needs `runner.coverage`. */
  readonly guide?: GuideOptions;
  /**
   * Run seeds on worker threads even with one job, so the calling thread's event loop stays free (the
   * hub's workers renew their job locks on it).
   */
  readonly offThread?: boolean;
}

export interface Progress {
  readonly done: number;
  readonly total: number;
  readonly failed: number;
  readonly wallMs: number;
}

export interface Failure {
  readonly seed: number;
  readonly trace: string;
  readonly violations: readonly string[];
  readonly replayFile?: string;
  /** Knobs pinned for this seed (`--knob`, the guide's): its replay command needs them. */
  readonly pins?: Readonly<Record<string, string>>;
}

/** The `sim explore --json` object (its last line). */
export interface ExploreSummary {
  readonly scenario: string;
  /** Number of seeds run. */
  readonly seeds: number;
  readonly passed: number;
  readonly failed: number;
  readonly failingSeeds: readonly number[];
  /** Total simulated time over all seeds. */
  readonly simulatedMs: number;
  /** Wall time of the exploration (for a merge: the slowest shard, as shards run side by side). */
  readonly wallMs: number;
  /** The seed range covered, `A..B`, and which shard of it this was (`i/n`), if sharded. */
  readonly range: string;
  readonly shard: string | null;
  readonly jobs: number;
  readonly seedsPerSec: number;
  readonly events: number;
  readonly messages: number;
  readonly failures: readonly Failure[];
  /** What the seeds reached, summed over them (only when asked for). */
  readonly coverage?: Coverage;
  /** Distinct coverage items reached after every 1,000 seeds (with coverage). */
  readonly coverageCurve?: readonly CurvePoint[];
  /** With `--guided`: the corpus, and the bred seeds and how many of them reached something new. */
  readonly guided?: { readonly corpus: number; readonly bred: number; readonly bredGains: number };
}

export const failuresKeptMaxDefault = 100;
/** Largest batch of seeds handed to a worker at once; small batches balance load, large ones cut messaging. */
export const batchSeedsMax = 64;

/** Parses `A..B` (inclusive) or `N` (seeds 1..N). */
export function parseSeedRange(text: string): SeedRange | null {
  const range = /^(\d+)\.\.(\d+)$/.exec(text);
  if (range) {
    const from = Number(range[1]);
    const to = Number(range[2]);
    return Number.isSafeInteger(from) && Number.isSafeInteger(to) && from <= to ? { from, to } : null;
  }
  if (/^\d+$/.test(text) && Number(text) >= 1 && Number.isSafeInteger(Number(text)))
    return { from: 1, to: Number(text) };
  return null;
}

/** Parses `i/n` (1-based, like vitest's --shard). */
export function parseShard(text: string): { index: number; count: number } | null {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  if (!match) return null;
  const index = Number(match[1]);
  const count = Number(match[2]);
  return count >= 1 && index >= 1 && index <= count ? { index, count } : null;
}

/** Shard `index` of `count` (1-based) of a range: contiguous, sizes differ by at most one. Null when empty. */
export function shardRange(range: SeedRange, index: number, count: number): SeedRange | null {
  assert(index >= 1 && index <= count, `shard ${index}/${count} out of range`);
  const total = range.to - range.from + 1;
  const start = range.from + Math.floor(((index - 1) * total) / count);
  const end = range.from + Math.floor((index * total) / count) - 1;
  return end >= start ? { from: start, to: end } : null;
}

export function formatRange(range: SeedRange): string {
  return `${range.from}..${range.to}`;
}

/**
 * The URL of a worker-thread entry of sim/tools (`explore-worker` by default), runnable both from dist/
 * (JS) and from sources under tsx/vitest (TS): net/thread-entry.ts.
 */
export function threadEntry(name = 'explore-worker'): URL {
  return threadEntryBeside(import.meta.url, name);
}

export function defaultRunnerUrl(): string {
  return new URL(`./explore-run.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url).href;
}

/** Messages between the explorer and its workers. */
export type ToWorker =
  | {
      readonly type: 'batch';
      readonly seeds: readonly number[];
      /** Per seed, knobs to pin on top of the runner's (the guide's), or null. */
      readonly pins?: readonly (Readonly<Record<string, string>> | null)[];
      /** The scenario of these seeds, when it is not the worker's own (a suite: sim/tools/suite.ts). */
      readonly scenarioPath?: string;
    }
  | { readonly type: 'stop' };
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'result'; readonly result: SeedResult }
  | { readonly type: 'batchDone' }
  | { readonly type: 'error'; readonly seed: number; readonly message: string };

export interface WorkerData {
  readonly scenarioPath: string;
  readonly runnerUrl: string;
  readonly runner: RunnerOptions;
}

class Totals {
  done = 0;
  passed = 0;
  failed = 0;
  simulatedMs = 0;
  events = 0;
  messages = 0;
  readonly failingSeeds: number[] = [];
  readonly failures: Failure[] = [];
  coverage: Coverage | null = null;
  constructor(private readonly keptMax: number) {}

  add(r: SeedResult): void {
    this.done++;
    if (r.coverage) addCoverage((this.coverage ??= {}), r.coverage);
    this.simulatedMs += r.simulatedMs;
    this.events += r.events;
    this.messages += r.messages;
    if (r.result === 'pass') {
      this.passed++;
      return;
    }
    this.failed++;
    this.failingSeeds.push(r.seed);
    if (this.failures.length < this.keptMax)
      this.failures.push({
        seed: r.seed,
        trace: r.trace,
        violations: r.violations,
        ...(r.replayFile ? { replayFile: r.replayFile } : {}),
        ...(r.pins && Object.keys(r.pins).length > 0 ? { pins: r.pins } : {}),
      });
  }
}

/** Runs every seed of the range and returns the summary. Throws if a runner crashed (a bug, not a failing seed). */
export async function explore(options: ExploreOptions): Promise<ExploreSummary> {
  const { range } = options;
  const total = range.to - range.from + 1;
  assert(total >= 1, 'an empty seed range');
  const jobs = Math.max(1, Math.min(options.jobs, total));
  const runnerUrl = options.runnerUrl ?? defaultRunnerUrl();
  const runner: RunnerOptions = options.runner ?? { replayDir: null };
  const totals = new Totals(options.failuresKeptMax ?? failuresKeptMaxDefault);
  const guide = options.guide ? new Guide(options.guide) : null;
  const pinsFor = (seed: number): Record<string, string> | null => guide?.pinsFor(seed) ?? null;
  const started = performance.now();
  const report = (r: SeedResult): void => {
    totals.add(r);
    guide?.observe(r);
    options.onSeed?.(r, { done: totals.done, total, failed: totals.failed, wallMs: performance.now() - started });
  };
  if (jobs === 1 && !options.offThread) {
    const mod = (await import(runnerUrl)) as SeedRunnerModule;
    for (let seed = range.from; seed <= range.to; seed++) {
      const pins = pinsFor(seed);
      report(await mod.runSeed(options.scenarioPath, seed, pins ? withPins(runner, pins) : runner));
    }
  } else {
    await runOnWorkers({ scenarioPath: options.scenarioPath, runnerUrl, runner }, range, jobs, report, pinsFor);
  }
  const wallMs = performance.now() - started;
  totals.failingSeeds.sort((a, b) => a - b);
  return {
    scenario: options.scenarioPath,
    seeds: total,
    passed: totals.passed,
    failed: totals.failed,
    failingSeeds: totals.failingSeeds,
    simulatedMs: totals.simulatedMs,
    wallMs,
    range: formatRange(range),
    shard: null,
    jobs,
    seedsPerSec: wallMs > 0 ? (total * 1000) / wallMs : 0,
    events: totals.events,
    messages: totals.messages,
    failures: [...totals.failures].sort((a, b) => a.seed - b.seed),
    ...(totals.coverage ? { coverage: totals.coverage } : {}),
    ...(guide ? { coverageCurve: guide.finalCurve() } : {}),
    ...(guide && options.guide!.active
      ? { guided: { corpus: guide.corpusSize, bred: guide.bred, bredGains: guide.bredGains } }
      : {}),
  };
}

/** The runner's options with `pins` laid over its own. */
export function withPins(runner: RunnerOptions, pins: Readonly<Record<string, string>>): RunnerOptions {
  return { ...runner, pins: { ...runner.pins, ...pins } };
}

function runOnWorkers(
  data: WorkerData,
  range: SeedRange,
  jobs: number,
  report: (r: SeedResult) => void,
  pinsFor: (seed: number) => Record<string, string> | null,
): Promise<void> {
  const total = range.to - range.from + 1;
  // About eight batches per worker early on, so the tail of the range is shared out finely.
  const batch = Math.max(1, Math.min(batchSeedsMax, Math.ceil(total / (jobs * 8))));
  let next = range.from;
  const take = (): number[] => {
    const seeds: number[] = [];
    while (seeds.length < batch && next <= range.to) seeds.push(next++);
    return seeds;
  };
  return new Promise<void>((resolve, reject) => {
    const workers: Worker[] = [];
    let running = 0;
    let failed = false;
    const fail = (error: Error): void => {
      if (failed) return;
      failed = true;
      for (const w of workers) void w.terminate();
      reject(error);
    };
    const feed = (w: Worker): void => {
      const seeds = take();
      if (seeds.length > 0) {
        const pins = seeds.map(pinsFor);
        w.postMessage({ type: 'batch', seeds, ...(pins.some((p) => p) ? { pins } : {}) } satisfies ToWorker);
        return;
      }
      w.postMessage({ type: 'stop' } satisfies ToWorker);
    };
    for (let i = 0; i < jobs; i++) {
      const w = new Worker(threadEntry(), { workerData: data });
      workers.push(w);
      running++;
      w.on('message', (msg: FromWorker) => {
        if (failed) return;
        switch (msg.type) {
          case 'ready':
          case 'batchDone':
            feed(w);
            break;
          case 'result':
            report(msg.result);
            break;
          case 'error':
            fail(new Error(`seed ${msg.seed} crashed the runner: ${msg.message}`));
            break;
        }
      });
      w.on('error', (e) => fail(e instanceof Error ? e : new Error(String(e))));
      w.on('exit', () => {
        running--;
        if (running === 0 && !failed) resolve();
      });
    }
  });
}

/** Adds up shard summaries of one scenario; throws with a reason when they do not fit together. */
export function mergeResults(parts: readonly ExploreSummary[]): ExploreSummary & { readonly gaps: readonly string[] } {
  assert(parts.length > 0, 'nothing to merge');
  const scenario = parts[0]!.scenario;
  for (const p of parts)
    if (p.scenario !== scenario)
      throw new Error(`cannot merge results of different scenarios: ${scenario} and ${p.scenario}`);
  const ranges = parts.map((p) => parseSeedRange(p.range)).map((r, i) => r ?? { from: NaN, to: NaN, i });
  const sorted = ranges.map((r, i) => ({ ...r, i })).sort((a, b) => a.from - b.from);
  const gaps: string[] = [];
  for (let k = 1; k < sorted.length; k++) {
    const prev = sorted[k - 1]!;
    const cur = sorted[k]!;
    if (cur.from <= prev.to) throw new Error(`shards overlap: ${parts[prev.i]!.range} and ${parts[cur.i]!.range}`);
    if (cur.from > prev.to + 1) gaps.push(`${prev.to + 1}..${cur.from - 1}`);
  }
  const sum = (f: (p: ExploreSummary) => number): number => parts.reduce((a, p) => a + f(p), 0);
  const wallMs = Math.max(...parts.map((p) => p.wallMs));
  const seeds = sum((p) => p.seeds);
  return {
    scenario,
    seeds,
    passed: sum((p) => p.passed),
    failed: sum((p) => p.failed),
    failingSeeds: parts.flatMap((p) => p.failingSeeds).sort((a, b) => a - b),
    simulatedMs: sum((p) => p.simulatedMs),
    wallMs,
    range: `${sorted[0]!.from}..${sorted.at(-1)!.to}`,
    shard: null,
    jobs: sum((p) => p.jobs),
    seedsPerSec: wallMs > 0 ? (seeds * 1000) / wallMs : 0,
    events: sum((p) => p.events),
    messages: sum((p) => p.messages),
    failures: parts.flatMap((p) => p.failures).sort((a, b) => a.seed - b.seed),
    ...mergedCoverage(parts),
    gaps,
  };
}

function mergedCoverage(parts: readonly ExploreSummary[]): { coverage?: Coverage } {
  if (!parts.some((p) => p.coverage)) return {};
  const coverage: Coverage = {};
  for (const p of parts)
    for (const [what, c] of Object.entries(p.coverage ?? {})) {
      const t = (coverage[what] ??= { count: 0, seeds: 0 });
      t.count += c.count;
      t.seeds += c.seeds;
    }
  return { coverage };
}

/** A one-line progress bar: `[#####.....]  45% 4,500/10,000 seeds · 2 failed · 812 seeds/s · ETA 7s`. */
export function progressLine(p: Progress, widthChars = 30): string {
  const ratio = p.total > 0 ? p.done / p.total : 1;
  const filled = Math.round(ratio * widthChars);
  const rate = p.wallMs > 0 ? (p.done * 1000) / p.wallMs : 0;
  const etaMs = rate > 0 ? ((p.total - p.done) / rate) * 1000 : NaN;
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  return `[${'#'.repeat(filled)}${'.'.repeat(widthChars - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}% ${n(p.done)}/${n(p.total)} seeds · ${n(p.failed)} failed · ${n(rate)} seeds/s · ETA ${formatEta(etaMs)}`;
}

export function formatEta(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
