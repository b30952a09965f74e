/**
 * `conclave sim explore` over a suite: several scenario files and/or directories, or one file with a
 * budget (routed here by cli/commands/sim/explore.ts; one file without a budget keeps the
 * single-scenario explorer and its output).
 *
 *   conclave sim explore PATH... [--seeds A..B|N] [--budget DURATION | --budget-cpu DURATION]
 *                                [--stop-at-first | --keep-going] [--exclude TEXT].. [--jobs N] [--json] [--out FILE]
 *                                [--replay-dir DIR | --no-replays] [--no-codec]
 *
 * A directory is every scenario in it, recursively, as `npm run scenarios` lists them (sim/tools/suite.ts:
 * no `planted/` folder, no deliberately broken `planted-*` variants unless named as files). Seeds are
 * shared out so that every scenario gets an equal share of time (the next seed goes to the scenario that
 * has used the least), the policy scripts/mutants.ts measures the explorer with.
 *
 * With a budget the suite hunts: it stops at the first failing seed unless `--keep-going`. Without one
 * it runs the seed range (default 1..100) of every scenario and reports every failure unless
 * `--stop-at-first`. Exit 0 every seed passed, 1 a seed failed, 2 bad usage, a bad path or a bad
 * scenario file (named).
 */
import { availableParallelism } from 'node:os';
import { writeFileSync } from 'node:fs';
import { ScenarioError, parseDurationMs, unitHint } from '../../../sim/scenario.js';
import { loadScenario, replayCommand } from '../../../sim/run.js';
import {
  defaultRunnerUrl,
  parseSeedRange,
  type RunnerOptions,
  type SeedResult,
  type SeedRunnerModule,
} from '../../../sim/tools/explore.js';
import {
  SeedPool,
  SuitePathError,
  runSchedule,
  suiteScenarios,
  type Lane,
  type StoppedBy,
} from '../../../sim/tools/suite.js';
import { didYouMean } from '../../../sim/suggest.js';
import { parseJobs, parseSweepFlag, type SweepFlags } from './sweep-flags.js';

export const suiteUsage =
  'Usage: conclave sim explore PATH... [--seeds A..B|N] [--budget DURATION | --budget-cpu DURATION] [--stop-at-first | --keep-going] [--exclude TEXT].. [--jobs N] [--json] [--out FILE] [--replay-dir DIR | --no-replays] [--no-codec]\n';

/** Failing seeds printed with their replay command before the rest are only counted (all are in --json). */
export const suiteFailuresPrintedMax = 20;

interface SuiteFlags {
  paths: string[];
  /** Files below a directory whose path contains one of these are left out (`--exclude`). */
  exclude: string[];
  /** Per scenario; null: 1..∞ under a budget, else the single explorer's default. */
  seeds: string | null;
  budget: { kind: 'wall' | 'cpu'; ms: number } | null;
  stopAtFirst: boolean | null;
  jobs: number;
  json: boolean;
  out: string | null;
  replayDir: string | null;
  codec: boolean;
  runnerUrl: string | null;
}

const valueFlags = [
  'seeds',
  'jobs',
  'j',
  'shard',
  'out',
  'replay-dir',
  'knob',
  'runner',
  'budget',
  'budget-cpu',
  'exclude',
];

/**
 * Is this `sim explore` call a suite? More than one path, a directory, or a budget or stop flag. The
 * single-scenario explorer keeps every other call, with its output unchanged.
 */
export function isSuiteCall(args: readonly string[], isDirectory: (path: string) => boolean): boolean {
  const paths: string[] = [];
  let suiteFlag = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-')) {
      paths.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const name = body.split('=')[0]!;
    if (['budget', 'budget-cpu', 'stop-at-first', 'keep-going', 'exclude'].includes(name)) suiteFlag = true;
    if (valueFlags.includes(name) && !body.includes('=')) i++;
  }
  return suiteFlag || paths.length > 1 || paths.some(isDirectory);
}

function parseSuiteFlags(args: readonly string[]): SuiteFlags | string {
  const flags: SuiteFlags = {
    paths: [],
    exclude: [],
    seeds: null,
    budget: null,
    stopAtFirst: null,
    jobs: Math.max(1, availableParallelism()),
    json: false,
    out: null,
    replayDir: '.conclave/replays',
    codec: true,
    runnerUrl: null,
  };
  const sweep: SweepFlags = {
    file: null,
    seeds: null,
    json: false,
    out: null,
    replayDir: flags.replayDir,
    codec: true,
    knobs: [],
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-')) {
      flags.paths.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    // The flags a single-scenario explore takes too (sweep-flags.ts); knob pins are one scenario's.
    if (name !== 'knob') {
      const used = parseSweepFlag(args, i, sweep);
      if (typeof used === 'string') return used;
      if (used !== null) {
        i = used;
        continue;
      }
    }
    const value = (): string | undefined => (eq >= 0 ? body.slice(eq + 1) : args[++i]);
    switch (name) {
      case 'exclude': {
        const v = value();
        if (!v) return '--exclude needs a part of a path (swim/members-1000)';
        flags.exclude.push(v);
        break;
      }
      case 'budget':
      case 'budget-cpu': {
        const v = value();
        const ms = v === undefined ? null : parseDurationMs(v);
        if (ms === null || ms <= 0)
          return `--${name} needs a positive duration (120s, 10m), got '${v ?? ''}'${unitHint(v)}`;
        if (flags.budget) return 'give one of --budget (wall time) and --budget-cpu (CPU time), not both';
        flags.budget = { kind: name === 'budget' ? 'wall' : 'cpu', ms };
        break;
      }
      case 'stop-at-first':
      case 'keep-going':
        if (flags.stopAtFirst !== null) return 'give one of --stop-at-first and --keep-going';
        flags.stopAtFirst = name === 'stop-at-first';
        break;
      case 'jobs':
      case 'j': {
        const jobs = parseJobs(value());
        if (typeof jobs === 'string') return jobs;
        flags.jobs = jobs;
        break;
      }
      case 'runner': {
        const v = value();
        if (!v) return '--runner needs a module URL';
        flags.runnerUrl = v;
        break;
      }
      case 'shard':
      case 'knob':
      case 'coverage':
      case 'require-coverage':
      case 'guided':
        return `--${name} is for one scenario without a budget; a suite does not take it`;
      default:
        return `unknown flag '${arg}'${didYouMean(name, ['seeds', 'budget', 'budget-cpu', 'stop-at-first', 'keep-going', 'exclude', 'jobs', 'json', 'out', 'replay-dir', 'no-replays', 'no-codec'], '--')}`;
    }
  }
  if (flags.paths.length === 0) return 'missing SCENARIO file or directory';
  return {
    ...flags,
    seeds: sweep.seeds,
    json: sweep.json,
    out: sweep.out,
    replayDir: sweep.replayDir,
    codec: sweep.codec,
  };
}

/** One failing seed of a suite, as printed and in the JSON. */
export interface SuiteFailure {
  readonly scenario: string;
  readonly seed: number;
  readonly trace: string;
  readonly violations: readonly string[];
  readonly replay: string;
  readonly replayFile?: string;
}

/** The `sim explore --json` object of a suite (its last line). */
export interface SuiteSummary {
  readonly scenarios: number;
  readonly seeds: number;
  readonly passed: number;
  readonly failed: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly seedsPerSec: number;
  readonly jobs: number;
  readonly budget: { readonly kind: 'wall' | 'cpu'; readonly ms: number } | null;
  readonly stopAtFirst: boolean;
  readonly stoppedBy: StoppedBy | 'first failure';
  readonly perScenario: readonly {
    readonly scenario: string;
    readonly seeds: number;
    readonly range: string;
    readonly failed: number;
    readonly usedMs: number;
  }[];
  readonly failures: readonly SuiteFailure[];
}

/** The progress line: `46 scenarios · 812 seeds · 12.8 seeds/s · 1 failed · 63/120 s wall`. */
export function suiteProgressLine(p: {
  scenarios: number;
  seeds: number;
  failed: number;
  wallMs: number;
  budget: SuiteFlags['budget'];
  spentMs: number;
}): string {
  const rate = p.wallMs > 0 ? (p.seeds * 1000) / p.wallMs : 0;
  const spent = p.budget
    ? ` · ${Math.floor(p.spentMs / 1000)}/${Math.round(p.budget.ms / 1000)} s ${p.budget.kind === 'cpu' ? 'CPU' : 'wall'}`
    : ` · ${Math.floor(p.wallMs / 1000)} s`;
  return `${p.scenarios} scenarios · ${p.seeds.toLocaleString('en-US')} seeds · ${rate.toFixed(1)} seeds/s · ${p.failed} failed${spent}`;
}

const cpuMsNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

export async function runExploreSuite(args: readonly string[]): Promise<number> {
  const flags = parseSuiteFlags(args);
  if (typeof flags === 'string') {
    process.stderr.write(`conclave sim explore: ${flags}\n\n${suiteUsage}`);
    return 2;
  }
  let files: string[];
  try {
    files = suiteScenarios(flags.paths, flags.exclude);
  } catch (error) {
    if (error instanceof SuitePathError) {
      process.stderr.write(`conclave sim explore: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (flags.runnerUrl === null)
    for (const file of files) {
      try {
        await loadScenario(file); // a bad file is named once, here, before any seed runs
      } catch (error) {
        if (error instanceof ScenarioError) {
          process.stderr.write(`conclave sim explore: ${error.message}\n`);
          return 2;
        }
        const code = (error as NodeJS.ErrnoException).code;
        process.stderr.write(
          `conclave sim explore: ${file}: cannot read the file (${code ?? (error as Error).message})\n`,
        );
        return 2;
      }
    }
  const range = flags.seeds
    ? parseSeedRange(flags.seeds)!
    : flags.budget
      ? { from: 1, to: Infinity }
      : parseSeedRange('1..100')!;
  const stopAtFirst = flags.stopAtFirst ?? flags.budget !== null;
  const runner: RunnerOptions = { replayDir: flags.replayDir, fast: !flags.codec };
  const runnerUrl = flags.runnerUrl ?? defaultRunnerUrl();
  const jobs = Math.min(flags.jobs, Number.isFinite(range.to) ? files.length * (range.to - range.from + 1) : Infinity);
  const clock = flags.budget?.kind === 'cpu' ? cpuMsNow : () => performance.now();
  const rangeText = `${range.from}..${Number.isFinite(range.to) ? range.to : ''}`;
  if (!flags.json)
    process.stdout.write(
      `==> exploring ${files.length} scenario${files.length > 1 ? 's' : ''} (${flags.paths.join(', ')}), seeds ${rangeText} of each, ` +
        `${flags.budget ? `budget ${formatSeconds(flags.budget.ms)} ${flags.budget.kind === 'cpu' ? 'CPU' : 'wall'}, ` : ''}` +
        `equal time shares, ${stopAtFirst ? 'stopping at the first failing seed' : 'every failing seed reported'}, on ${jobs} ${jobs > 1 ? 'worker threads' : 'thread'}\n`,
    );
  const pool = jobs > 1 ? new SeedPool(jobs, runnerUrl, runner) : null;
  const local = pool ? null : ((await import(runnerUrl)) as SeedRunnerModule);
  await pool?.started();
  const failures: SuiteFailure[] = [];
  let seeds = 0;
  const tty = process.stderr.isTTY === true && !flags.json;
  const wallStarted = performance.now();
  const cpuStarted = cpuMsNow();
  const clockStarted = clock();
  let lastDrawMs = 0;
  const progress = (): string =>
    suiteProgressLine({
      scenarios: files.length,
      seeds,
      failed: failures.length,
      wallMs: performance.now() - wallStarted,
      budget: flags.budget,
      spentMs: clock() - clockStarted,
    });
  const print = (text: string): void => {
    if (tty) process.stderr.write('\r\x1b[2K');
    process.stdout.write(text);
  };
  let outcome;
  try {
    outcome = await runSchedule<SeedResult>({
      paths: files,
      seeds: range,
      budgetMs: flags.budget?.ms ?? null,
      clock,
      jobs,
      runSeed: (path, seed) => (pool ? pool.run(path, seed) : local!.runSeed(path, seed, runner)),
      onResult: (lane: Lane, seed: number, r: SeedResult) => {
        seeds++;
        if (r.result === 'fail') {
          const failure: SuiteFailure = {
            scenario: lane.path,
            seed,
            trace: r.trace,
            violations: r.violations,
            replay: replayCommand(lane.path, seed) + (flags.codec ? '' : ' --no-codec'),
            ...(r.replayFile ? { replayFile: r.replayFile } : {}),
          };
          failures.push(failure);
          if (!flags.json && failures.length <= suiteFailuresPrintedMax) print(failureLines(failure));
        }
        const nowMs = performance.now() - wallStarted;
        if (tty && nowMs - lastDrawMs >= 100) {
          lastDrawMs = nowMs;
          process.stderr.write(`\r\x1b[2K${progress()}`);
        }
        return r.result === 'fail' && stopAtFirst ? 'stop' : 'continue';
      },
    });
  } finally {
    if (tty) process.stderr.write('\r\x1b[2K');
    await pool?.close();
  }
  const wallMs = performance.now() - wallStarted;
  const summary: SuiteSummary = {
    scenarios: files.length,
    seeds,
    passed: seeds - failures.length,
    failed: failures.length,
    wallMs: Math.round(wallMs),
    cpuMs: Math.round(cpuMsNow() - cpuStarted),
    seedsPerSec: Math.round((wallMs > 0 ? (seeds * 1000) / wallMs : 0) * 10) / 10,
    jobs,
    budget: flags.budget,
    stopAtFirst,
    stoppedBy: outcome.stoppedBy === 'stop' ? 'first failure' : outcome.stoppedBy,
    perScenario: outcome.lanes.map((l) => ({
      scenario: l.path,
      seeds: l.seedsRun,
      range: l.seedsRun > 0 ? `${range.from}..${range.from + l.seedsRun - 1}` : '',
      failed: failures.filter((f) => f.scenario === l.path).length,
      usedMs: Math.round(l.usedMs),
    })),
    failures,
  };
  if (flags.out) writeFileSync(flags.out, JSON.stringify(summary) + '\n');
  if (flags.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else process.stdout.write(humanSuiteSummary(summary));
  return failures.length > 0 ? 1 : 0;
}

function failureLines(f: SuiteFailure): string {
  const lines = [
    `FAIL ${f.scenario} seed ${f.seed}: ${f.violations[0] ?? 'violation'}${f.violations.length > 1 ? ` (+${f.violations.length - 1} more)` : ''}`,
    `    replay: ${f.replay}`,
  ];
  if (f.replayFile) lines.push(`    replay file: ${f.replayFile} (conclave sim replay / shrink / report)`);
  return lines.join('\n') + '\n';
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

function humanSuiteSummary(s: SuiteSummary): string {
  const out: string[] = [];
  if (s.failed > suiteFailuresPrintedMax)
    out.push(`… and ${s.failed - suiteFailuresPrintedMax} more failing seeds (all in --json)`);
  const seedCounts = s.perScenario.map((p) => p.seeds);
  const used = s.perScenario.map((p) => p.usedMs / 1000);
  out.push(
    `shares: ${Math.min(...seedCounts)}..${Math.max(...seedCounts)} seeds and ${Math.min(...used).toFixed(1)}..${Math.max(...used).toFixed(1)} s per scenario`,
  );
  const why =
    s.stoppedBy === 'first failure'
      ? 'stopped at the first failing seed'
      : s.stoppedBy === 'budget'
        ? `the ${s.budget!.kind === 'cpu' ? 'CPU' : 'wall'} budget of ${formatSeconds(s.budget!.ms)} spent`
        : 'every seed run';
  out.push(
    `--- ${s.scenarios} scenario${s.scenarios > 1 ? 's' : ''}: ${s.seeds} seeds, ${s.passed} passed, ${s.failed} failed in ${(s.wallMs / 1000).toFixed(1)} s ` +
      `(${s.seedsPerSec.toFixed(1)} seeds/s on ${s.jobs} job${s.jobs > 1 ? 's' : ''}, ${(s.cpuMs / 1000).toFixed(1)} CPU-s); ${why}`,
  );
  return out.join('\n') + '\n';
}
