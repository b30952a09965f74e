/**
 * The explorer over many scenarios (`conclave sim explore DIR... --budget 120s`, scripts/mutants.ts):
 * which files a suite is, and the one scheduler that shares seeds out among them.
 *
 * Equal shares: the next seed always goes to the scenario that has used the least time so far, so a
 * slow scenario (an agent cluster) gets as much time as a fast one (three Raft nodes), not as many
 * seeds. This is the policy scripts/mutants.ts has measured the explorer with since session 3; it
 * lives here once, and both callers run it.
 *
 * A suite stops at the first of: every scenario's seed range done, the budget spent (wall or CPU
 * milliseconds, on a clock the caller gives), or the caller's `onResult` saying stop (the first
 * failing seed, with `--stop-at-first`).
 */
import { readFileSync, statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { assert } from '../../core/assert.js';
import {
  threadEntry,
  type FromWorker,
  type RunnerOptions,
  type SeedResult,
  type ToWorker,
  type WorkerData,
} from './explore.js';
import { expectedOf, listScenarios } from './scenarios-run.js';

/** One scenario of a suite and what it has used so far. */
export interface Lane {
  readonly path: string;
  /** The next seed to run; a lane is done once it passes `lastSeed`. */
  nextSeed: number;
  readonly lastSeed: number;
  /** Time charged to this lane (the scheduler's clock while one job runs; wall time with several). */
  usedMs: number;
  seedsRun: number;
  /** Seeds handed out and not yet back (several jobs). */
  inFlight: number;
}

export type StoppedBy = 'seeds' | 'budget' | 'stop';

export interface ScheduleOptions<R> {
  readonly paths: readonly string[];
  /** Seeds of every scenario, inclusive; `to` may be Infinity when a budget bounds the run. */
  readonly seeds: { readonly from: number; readonly to: number };
  /** Stop handing out seeds once `clock()` has advanced this far from the start; null: no budget. */
  readonly budgetMs: number | null;
  /** Milliseconds: `performance.now` (wall) or the process's CPU time. */
  readonly clock: () => number;
  /** Seeds run at once (1: one after the other, each charged by `clock`; more: charged by wall time). */
  readonly jobs: number;
  readonly runSeed: (path: string, seed: number) => Promise<R> | R;
  /** Called for every finished seed, in finishing order; 'stop' ends the suite (seeds in flight still finish). */
  readonly onResult: (lane: Lane, seed: number, result: R) => 'continue' | 'stop' | Promise<'continue' | 'stop'>;
}

export interface ScheduleOutcome {
  readonly lanes: readonly Lane[];
  readonly stoppedBy: StoppedBy;
  /** `clock()` from the start to the end. */
  readonly elapsedMs: number;
}

/**
 * The lane the next seed goes to: the least time used, counting a seed in flight as the lane's mean
 * seed time so far (so several jobs do not all start on the first lane); ties go to fewer seeds in
 * flight, then fewer seeds run (round robin when no time shows on the clock), then the earlier lane.
 * Null when every lane is done.
 */
export function nextLane(lanes: readonly Lane[]): Lane | null {
  let best: Lane | null = null;
  let bestKey = Infinity;
  for (const lane of lanes) {
    if (lane.nextSeed > lane.lastSeed) continue;
    const meanMs = lane.seedsRun > 0 ? lane.usedMs / lane.seedsRun : 0;
    const key = lane.usedMs + lane.inFlight * meanMs;
    const tieBreak = (): boolean =>
      lane.inFlight < best!.inFlight || (lane.inFlight === best!.inFlight && lane.seedsRun < best!.seedsRun);
    if (best === null || key < bestKey || (key === bestKey && tieBreak())) {
      best = lane;
      bestKey = key;
    }
  }
  return best;
}

/** Runs a suite under the equal-shares policy (see the top of this file). */
export async function runSchedule<R>(options: ScheduleOptions<R>): Promise<ScheduleOutcome> {
  assert(options.paths.length > 0, 'a suite needs at least one scenario');
  assert(options.jobs >= 1, 'jobs must be at least 1');
  assert(options.seeds.from <= options.seeds.to, 'an empty seed range');
  assert(options.budgetMs !== null || Number.isFinite(options.seeds.to), 'an endless suite: no budget, no last seed');
  const lanes: Lane[] = options.paths.map((path) => ({
    path,
    nextSeed: options.seeds.from,
    lastSeed: options.seeds.to,
    usedMs: 0,
    seedsRun: 0,
    inFlight: 0,
  }));
  const { clock } = options;
  const started = clock();
  const overBudget = (): boolean => options.budgetMs !== null && clock() - started >= options.budgetMs;
  let stoppedBy: StoppedBy | null = null;
  const runOne = async (lane: Lane): Promise<void> => {
    const seed = lane.nextSeed++;
    lane.inFlight++;
    // One job: the lane is charged on the caller's clock (CPU time with a CPU budget). Several: the
    // process's CPU time is every thread's, so a seed is charged its own wall time instead.
    const charge = options.jobs === 1 ? clock : () => performance.now();
    const t0 = charge();
    const result = await options.runSeed(lane.path, seed);
    lane.usedMs += charge() - t0;
    lane.inFlight--;
    lane.seedsRun++;
    if ((await options.onResult(lane, seed, result)) === 'stop') stoppedBy ??= 'stop';
  };
  // Each job takes the next seed as soon as its last one is back, until a stop, the budget or the end.
  const job = async (): Promise<void> => {
    for (;;) {
      if (stoppedBy !== null) return;
      if (overBudget()) {
        stoppedBy = 'budget';
        return;
      }
      const lane = nextLane(lanes);
      if (lane === null) return;
      await runOne(lane);
    }
  };
  await Promise.all(Array.from({ length: options.jobs }, job));
  return { lanes, stoppedBy: stoppedBy ?? 'seeds', elapsedMs: clock() - started };
}

/** A path of a suite that is not there, or a directory without scenarios. */
export class SuitePathError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'SuitePathError';
  }
}

/**
 * The scenario files of a suite, in the order given (each directory's sorted), without duplicates. A
 * directory means every `*.txt` in it, recursively, as `npm run scenarios` lists them: skipping a
 * `planted/` folder below it and the deliberately broken variants (`planted-*`, or a story saying
 * "expected to FAIL" — they fail on every seed) and any file whose path contains one of `exclude` (a
 * scenario whose one seed takes minutes, such as swim/members-1000, would take a short budget's every
 * share: a seed is never cut off). A file named explicitly is always taken. Throws
 * SuitePathError naming a path that does not exist or a directory that holds no scenario.
 */
export function suiteScenarios(paths: readonly string[], exclude: readonly string[] = []): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (file: string): void => {
    const key = file.replace(/^\.\//, '');
    if (!seen.has(key)) (seen.add(key), out.push(key));
  };
  for (const path of paths) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch {
      throw new SuitePathError(path, 'no such file or directory');
    }
    if (!isDirectory) {
      add(path);
      continue;
    }
    const root = path.replace(/\/+$/, '');
    // Judged below the named directory: `scenarios/planted` named explicitly is taken whole.
    const files = listScenarios(root, false).filter((file) => {
      const below = file.slice(root.length + 1);
      if (exclude.some((text) => file.includes(text))) return false;
      return !/(^|\/)planted\//.test(below) && expectedOf(below, storyOf(file)) === 'pass';
    });
    if (files.length === 0) throw new SuitePathError(path, 'no scenario files (*.txt) in this directory');
    for (const file of files) add(file);
  }
  return out;
}

/** The comment block on top of a scenario file (what `expectedOf` reads), without parsing the rest. */
function storyOf(file: string): string {
  const lines: string[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' && lines.length === 0) continue;
    if (!trimmed.startsWith('#')) break;
    lines.push(trimmed.replace(/^#\s?/, ''));
  }
  return lines.join('\n');
}

/**
 * Worker threads for a suite: each runs one seed of any scenario at a time (sim/tools/explore-worker.ts,
 * told the scenario with each seed). `run` needs an idle worker: call it at most `jobs` times at once.
 */
export class SeedPool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly ready: Promise<void>;
  private readonly pending = new Map<Worker, PendingSeed>();

  constructor(jobs: number, runnerUrl: string, runner: RunnerOptions) {
    assert(jobs >= 1, 'a pool needs a worker');
    const data: WorkerData = { scenarioPath: '', runnerUrl, runner };
    const started: Promise<void>[] = [];
    for (let i = 0; i < jobs; i++) {
      const worker = new Worker(threadEntry(), { workerData: data });
      this.all.push(worker);
      started.push(
        new Promise<void>((resolve, reject) => {
          worker.once('error', reject);
          worker.on('message', (msg: FromWorker) => {
            if (msg.type === 'ready') return (this.idle.push(worker), resolve());
            this.onMessage(worker, msg);
          });
        }),
      );
      worker.on('error', (error) => this.pending.get(worker)?.reject(error));
    }
    this.ready = Promise.all(started).then(() => undefined);
  }

  /** Resolves once every worker has loaded its runner (so no seed is charged the start-up). */
  started(): Promise<void> {
    return this.ready;
  }

  async run(scenarioPath: string, seed: number): Promise<SeedResult> {
    await this.ready;
    const worker = this.idle.pop();
    assert(worker !== undefined, 'more seeds in flight than workers');
    return new Promise<SeedResult>((resolve, reject) => {
      this.pending.set(worker, { resolve, reject, result: null });
      worker.postMessage({ type: 'batch', seeds: [seed], scenarioPath } satisfies ToWorker);
    });
  }

  private onMessage(worker: Worker, msg: FromWorker): void {
    const p = this.pending.get(worker);
    if (!p) return;
    if (msg.type === 'result') p.result = msg.result;
    else if (msg.type === 'error') {
      this.pending.delete(worker);
      p.reject(new Error(`seed ${msg.seed} crashed the runner: ${msg.message}`));
    } else if (msg.type === 'batchDone') {
      // Answered only now, when the worker is free for the next seed.
      this.pending.delete(worker);
      this.idle.push(worker);
      if (p.result) p.resolve(p.result);
      else p.reject(new Error('a worker finished a seed without its result'));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}

interface PendingSeed {
  resolve(result: SeedResult): void;
  reject(error: unknown): void;
  result: SeedResult | null;
}
