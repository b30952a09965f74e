/**
 * `conclave sim explore` and `conclave sim merge` (routed from cli/commands/sim.ts).
 *
 *   conclave sim explore SCENARIO [--seeds A..B|N] [--jobs N] [--shard i/n] [--json] [--out FILE]
 *                                 [--replay-dir DIR | --no-replays] [--no-codec] [--knob KEY=VALUE]..
 *                                 [--coverage | --require-coverage]
 *
 * `--coverage` counts, over every seed, the message, effect, request and input kinds and the
 * protocol's transitions (role changes, snapshot install, membership change...) the runs reached, and
 * names every transition of the protocol that no seed reached. `--require-coverage` does the same and
 * fails (exit 1) when any transition was not reached: the check that an exploration scenario reaches
 * every transition of its protocol in its seeds (e.g. `--seeds 1..1000`).
 *   conclave sim merge FILE... [--json]
 *
 * Exit 0 when every seed passed, 1 when any failed (each failing seed is printed with the command
 * that replays it), 2 on bad usage or a bad scenario file.
 */
import { availableParallelism } from 'node:os';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { ScenarioError } from '../../../sim/scenario.js';
import { addKnobPin, loadScenario, replayCommand, type LoadedScenario } from '../../../sim/run.js';
import {
  type Coverage,
  type ExploreSummary,
  explore,
  formatRange,
  mergeResults,
  parseSeedRange,
  parseShard,
  progressLine,
  shardRange,
} from '../../../sim/tools/explore.js';
import { didYouMean } from '../../../sim/suggest.js';
import { transitionsOf } from '../../../sim/harness.js';
import { isSuiteCall, runExploreSuite } from './explore-suite.js';
import { flagName, parseJobs, parseSweepFlag, type SweepFlags } from './sweep-flags.js';

const isDirectory = (path: string): boolean => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

const exploreUsage =
  'Usage: conclave sim explore SCENARIO [--seeds A..B|N] [--jobs N] [--shard i/n] [--json] [--out FILE] [--replay-dir DIR | --no-replays] [--no-codec] [--knob KEY=VALUE].. [--coverage | --require-coverage | --guided]\n';
const mergeUsage =
  'Usage: conclave sim merge FILE... [--json]   (FILE: the JSON output of `sim explore --json`, e.g. one per shard)\n';

/** Failing seeds printed in full; the rest are counted (all are in the JSON). */
export const failuresPrintedMax = 20;
export const defaultSeeds = '1..100';
export const defaultReplayDir = '.conclave/replays';

interface ExploreFlags {
  file: string;
  seeds: string;
  jobs: number;
  shard: string | null;
  guided: boolean;
  json: boolean;
  out: string | null;
  replayDir: string | null;
  codec: boolean;
  /** Test hook: a seed runner module URL instead of the simulator. Not documented for users. */
  runnerUrl: string | null;
  coverage: boolean;
  /** Exit 1 when a transition of the protocol was not reached (implies coverage). */
  requireCoverage: boolean;
  knobs: string[];
}

/** The shared sweep flags live in sweep-flags.ts (the suite form and `sim hub` parse them too). */
export { flagName, parseSweepFlag, type SweepFlags } from './sweep-flags.js';

function parseFlags(args: readonly string[]): ExploreFlags | string {
  const flags: SweepFlags & Omit<ExploreFlags, keyof SweepFlags> = {
    file: null,
    seeds: defaultSeeds,
    jobs: Math.max(1, availableParallelism()),
    shard: null,
    json: false,
    out: null,
    replayDir: defaultReplayDir,
    codec: true,
    runnerUrl: null,
    coverage: false,
    requireCoverage: false,
    knobs: [],
    guided: false,
  };
  for (let i = 0; i < args.length; i++) {
    const shared = parseSweepFlag(args, i, flags);
    if (typeof shared === 'string') return shared;
    if (shared !== null) {
      i = shared;
      continue;
    }
    const arg = args[i]!;
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const value = (): string | undefined => (eq >= 0 ? body.slice(eq + 1) : args[++i]);
    switch (name) {
      case 'jobs':
      case 'j': {
        const jobs = parseJobs(value());
        if (typeof jobs === 'string') return jobs;
        flags.jobs = jobs;
        break;
      }
      case 'shard': {
        const v = value();
        if (v === undefined || !parseShard(v)) return `--shard needs i/n with 1 ≤ i ≤ n, got '${v ?? ''}'`;
        flags.shard = v;
        break;
      }
      case 'coverage':
        flags.coverage = true;
        break;
      case 'require-coverage':
        flags.coverage = true;
        flags.requireCoverage = true;
        break;
      case 'guided':
        flags.coverage = true;
        flags.guided = true;
        break;
      case 'runner': {
        const v = value();
        if (!v) return '--runner needs a module URL';
        flags.runnerUrl = v;
        break;
      }
      default:
        return `unknown flag '${arg}'${didYouMean(flagName(arg), ['seeds', 'jobs', 'shard', 'json', 'out', 'replay-dir', 'no-replays', 'no-codec', 'coverage', 'require-coverage', 'guided'], '--')}`;
    }
  }
  if (!flags.file) return 'missing SCENARIO file';
  return { ...flags, file: flags.file, seeds: flags.seeds ?? defaultSeeds };
}

export async function runExplore(args: string[]): Promise<number> {
  // Several paths, a directory or a budget: the suite explorer (cli/commands/sim/explore-suite.ts).
  if (isSuiteCall(args, isDirectory)) return runExploreSuite(args);
  const flags = parseFlags(args);
  if (typeof flags === 'string') {
    process.stderr.write(`conclave sim explore: ${flags}\n\n${exploreUsage}`);
    return 2;
  }
  let loaded: LoadedScenario | null = null;
  const pins: Record<string, string> = {};
  if (flags.runnerUrl === null) {
    try {
      loaded = await loadScenario(flags.file); // report a bad file once, here, not from every worker
    } catch (error) {
      if (error instanceof ScenarioError) {
        process.stderr.write(`conclave sim explore: ${error.message}\n`);
        return 2;
      }
      throw error;
    }
    for (const text of flags.knobs) {
      const problem = addKnobPin(loaded, pins, text);
      if (problem) {
        process.stderr.write(`conclave sim explore: ${problem}\n`);
        return 2;
      }
    }
  }
  const whole = parseSeedRange(flags.seeds)!;
  let range = whole;
  if (flags.shard) {
    const { index, count } = parseShard(flags.shard)!;
    const part = shardRange(whole, index, count);
    if (!part) {
      process.stderr.write(
        `conclave sim explore: shard ${flags.shard} of ${formatRange(whole)} is empty (more shards than seeds)\n`,
      );
      return 2;
    }
    range = part;
  }
  const tty = process.stderr.isTTY === true;
  let lastDrawMs = 0;
  const draw = (line: string): void => void process.stderr.write(`\r\x1b[2K${line}`);
  if (!flags.json)
    process.stdout.write(
      `==> exploring ${flags.file}, seeds ${formatRange(range)}${flags.shard ? ` (shard ${flags.shard} of ${formatRange(whole)})` : ''} on ${Math.min(flags.jobs, range.to - range.from + 1)} worker${flags.jobs > 1 ? 's' : ''}\n`,
    );
  let summary: ExploreSummary;
  try {
    summary = await explore({
      scenarioPath: flags.file,
      range,
      jobs: flags.jobs,
      runner: {
        replayDir: flags.replayDir,
        fast: !flags.codec,
        ...(flags.coverage ? { coverage: true } : {}),
        ...(Object.keys(pins).length > 0 ? { pins } : {}),
      },
      ...(flags.runnerUrl ? { runnerUrl: flags.runnerUrl } : {}),
      ...(flags.coverage && loaded
        ? {
            guide: {
              seed: range.from,
              active: flags.guided,
              skip: loaded.harness.guideSkips ?? [],
              groups: loaded.harness.guideGroups ?? [],
              valid: (bred: Readonly<Record<string, string>>) => {
                const all = { ...pins };
                return Object.entries(bred).every(([k, v]) => addKnobPin(loaded!, all, `${k}=${v}`) === null);
              },
            },
          }
        : {}),
      onSeed: (_r, p) => {
        if (!tty) return;
        if (p.done < p.total && p.wallMs - lastDrawMs < 100) return;
        lastDrawMs = p.wallMs;
        draw(progressLine(p, Math.max(10, Math.min(40, (process.stderr.columns ?? 80) - 70))));
      },
    });
  } finally {
    if (tty) process.stderr.write('\r\x1b[2K');
  }
  summary = { ...summary, shard: flags.shard };
  const json = jsonOf(summary, pins);
  const transitions = loaded ? transitionsOf(loaded.harness, loaded.scenario, pins) : [];
  if (summary.coverage) json.unreached = unreachedTransitions(summary.coverage, transitions);
  if (flags.out) writeFileSync(flags.out, JSON.stringify(json) + '\n');
  if (flags.json) process.stdout.write(JSON.stringify(json) + '\n');
  else {
    if (summary.coverage) process.stdout.write(coverageReport(summary.coverage, transitions, summary.seeds));
    process.stdout.write(humanSummary(summary, flags.codec, pins));
  }
  if (summary.failed > 0) return 1;
  if (flags.requireCoverage && summary.coverage) {
    const unreached = unreachedTransitions(summary.coverage, transitions);
    if (unreached.length > 0) {
      process.stderr.write(
        `conclave sim explore: coverage check failed: ${unreached.length} of the ${transitions.length} transitions of the protocol were not reached in ${summary.seeds} seeds (${unreached.map((t) => t.replace(/^transition /, '')).join('; ')})\n`,
      );
      return 1;
    }
  }
  return 0;
}

/** The protocol's transitions no seed reached. */
export function unreachedTransitions(coverage: Coverage, transitions: readonly string[]): string[] {
  return transitions.filter((t) => !coverage[t]);
}

/**
 * The coverage report: every counted item by kind (transition, message, received, request, effect,
 * storage, input), with its total count and the share of seeds that reached it; then the protocol's
 * transitions that no seed reached.
 */
export function coverageReport(coverage: Coverage, transitions: readonly string[], seeds: number): string {
  const out: string[] = [`coverage over ${seeds} seeds (count, seeds that reached it):`];
  const kinds = ['transition', 'message', 'received', 'request', 'effect', 'storage', 'input'];
  const items = Object.entries(coverage);
  const kindOf = (what: string): string => what.split(' ')[0]!;
  for (const kind of [...kinds, ...new Set(items.map(([w]) => kindOf(w)).filter((k) => !kinds.includes(k)))]) {
    const rows = items.filter(([w]) => kindOf(w) === kind).sort((a, b) => b[1].count - a[1].count);
    if (rows.length === 0) continue;
    out.push(`  ${kind}:`);
    for (const [what, c] of rows)
      out.push(
        `    ${String(c.count).padStart(10)}  ${((100 * c.seeds) / Math.max(1, seeds)).toFixed(1).padStart(5)}%  ${what.slice(kind.length + 1)}`,
      );
  }
  const unreached = unreachedTransitions(coverage, transitions);
  out.push(
    unreached.length === 0
      ? `  every one of the ${transitions.length} transitions of the protocol was reached`
      : `  NOT REACHED (${unreached.length} of ${transitions.length} transitions):\n${unreached.map((t) => `    ${t.replace(/^transition /, '')}`).join('\n')}`,
  );
  return out.join('\n') + '\n';
}

/** The JSON object (the contract's fields first). */
export function jsonOf(s: ExploreSummary, pins: Readonly<Record<string, string>> = {}): Record<string, unknown> {
  return {
    scenario: s.scenario,
    seeds: s.seeds,
    passed: s.passed,
    failed: s.failed,
    failingSeeds: s.failingSeeds,
    simulatedMs: Math.round(s.simulatedMs),
    wallMs: Math.round(s.wallMs),
    range: s.range,
    shard: s.shard,
    jobs: s.jobs,
    seedsPerSec: Math.round(s.seedsPerSec * 10) / 10,
    events: s.events,
    messages: s.messages,
    failures: s.failures.map((f) => ({ ...f, replay: replayCommand(s.scenario, f.seed, { ...pins, ...f.pins }) })),
    ...(s.coverage ? { coverage: s.coverage } : {}),
    ...(s.coverageCurve ? { coverageCurve: s.coverageCurve } : {}),
    ...(s.guided ? { guided: s.guided } : {}),
  };
}

function humanSummary(s: ExploreSummary, codec: boolean, pins: Readonly<Record<string, string>> = {}): string {
  const out: string[] = [];
  for (const f of s.failures.slice(0, failuresPrintedMax)) {
    out.push(
      `FAIL seed ${f.seed}: ${f.violations[0] ?? 'violation'}${f.violations.length > 1 ? ` (+${f.violations.length - 1} more)` : ''}`,
    );
    out.push(`    replay: ${replayCommand(s.scenario, f.seed, { ...pins, ...f.pins })}${codec ? '' : ' --no-codec'}`);
    if (f.replayFile) out.push(`    replay file: ${f.replayFile} (conclave sim replay / shrink / report)`);
  }
  if (s.failed > failuresPrintedMax)
    out.push(`… and ${s.failed - failuresPrintedMax} more failing seeds (all in --json)`);
  if (s.coverageCurve)
    out.push(
      `coverage reached (distinct items / item×hit-count features): ${s.coverageCurve.map((p) => `${p.seeds.toLocaleString('en-US')} seeds → ${p.items} / ${p.features}`).join(', ')}` +
        (s.guided
          ? ` · guided: ${s.guided.bred} seeds ran bred knobs, ${s.guided.bredGains} of them reached something new; corpus ${s.guided.corpus}`
          : ''),
    );
  const speedup = s.wallMs > 0 ? s.simulatedMs / s.wallMs : 0;
  out.push(
    `--- ${s.scenario} seeds ${s.range}${s.shard ? ` (shard ${s.shard})` : ''}: ${s.passed} passed, ${s.failed} failed in ${(s.wallMs / 1000).toFixed(1)} s ` +
      `(${s.seedsPerSec.toFixed(1)} seeds/s on ${s.jobs} job${s.jobs > 1 ? 's' : ''}, ${Math.round(speedup).toLocaleString('en-US')}× real time)`,
  );
  return out.join('\n') + '\n';
}

/** Reads the last JSON line of an explorer output file. */
function readSummary(path: string): ExploreSummary | string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return `${path}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
  const last = text.trim().split('\n').at(-1) ?? '';
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(last);
  } catch {
    return `${path}: the last line is not JSON (expected the output of \`sim explore --json\`)`;
  }
  for (const field of ['scenario', 'seeds', 'passed', 'failed', 'failingSeeds', 'simulatedMs', 'wallMs', 'range']) {
    if (!(field in data)) return `${path}: field '${field}' is missing`;
  }
  if (!parseSeedRange(String(data.range))) return `${path}: field 'range' is not A..B`;
  return {
    failures: [],
    shard: null,
    jobs: 1,
    events: 0,
    messages: 0,
    seedsPerSec: 0,
    ...(data as object),
  } as unknown as ExploreSummary;
}

export async function runMerge(args: string[]): Promise<number> {
  const json = args.includes('--json');
  const files = args.filter((a) => a !== '--json');
  const unknown = files.find((a) => a.startsWith('-'));
  if (unknown || files.length === 0) {
    process.stderr.write(
      `conclave sim merge: ${unknown ? `unknown flag '${unknown}'` : 'no files given'}\n\n${mergeUsage}`,
    );
    return 2;
  }
  const parts: ExploreSummary[] = [];
  for (const file of files) {
    const part = readSummary(file);
    if (typeof part === 'string') {
      process.stderr.write(`conclave sim merge: ${part}\n`);
      return 2;
    }
    parts.push(part);
  }
  let merged;
  try {
    merged = mergeResults(parts);
  } catch (error) {
    process.stderr.write(`conclave sim merge: ${(error as Error).message}\n`);
    return 2;
  }
  const out = {
    ...jsonOf(merged),
    shards: parts.length,
    gaps: merged.gaps,
    wallMsTotal: Math.round(parts.reduce((a, p) => a + p.wallMs, 0)),
  };
  if (json) process.stdout.write(JSON.stringify(out) + '\n');
  else {
    if (merged.gaps.length > 0) process.stdout.write(`warning: seeds ${merged.gaps.join(', ')} are in no shard\n`);
    process.stdout.write(humanSummary(merged, true));
  }
  return merged.failed > 0 ? 1 : 0;
}
