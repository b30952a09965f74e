/**
 * `conclave sim <subcommand>`: run one simulation; explore, replay, shrink and report live in their
 * own modules (sim/explore-cli.ts, sim/replay-cli.ts, ...) and are loaded on demand.
 *
 *   conclave sim run SCENARIO [--seed N] [--json] [--verbose] [--no-codec] [--history FILE]
 *
 * Human output ends with `seed=N trace=<16 hex> result=pass|fail`; `--json` prints one JSON object as
 * the last line. Exit 0 pass, 1 violation, 2 bad usage (or a bad scenario file).
 */
import { ScenarioError } from '../../sim/scenario.js';
import { writeFileSync } from 'node:fs';
import { loadScenario, replayCommand } from '../../sim/run.js';
import { Simulation, type LogLine, type RunResult } from '../../sim/engine/simulation.js';

const usage = `Usage: conclave sim <command> [args]

Commands:
    run SCENARIO [--seed N] [--json] [--verbose] [--no-codec] [--history FILE]   run one simulation
    explore SCENARIO [--seeds A..B] [--jobs N] [--shard i/n] [--json]
    merge FILE...                                                merge explorer shard results
    replay FILE                                                  rerun a replay file bit for bit
    shrink FILE                                                  minimise a failing replay file
    report FILE --out DIR                                        HTML timeline of a run
    replay-agent FILE                                            replay a real agent's flight recording
`;

/** Subcommands implemented elsewhere: module path (relative to this file) and exported function. */
const delegated: Record<string, { module: string; fn: string }> = {
  explore: { module: './sim/explore.js', fn: 'runExplore' },
  merge: { module: './sim/explore.js', fn: 'runMerge' },
  replay: { module: './sim/replay.js', fn: 'runReplay' },
  shrink: { module: './sim/shrink.js', fn: 'runShrink' },
  report: { module: './sim/report.js', fn: 'runReport' },
  'replay-agent': { module: './replay-agent.js', fn: 'run' },
};

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '-h' || sub === '--help') {
    process.stdout.write(usage);
    return sub === undefined ? 2 : 0;
  }
  if (sub === 'run') return runOne(rest);
  const target = delegated[sub];
  if (!target) {
    process.stderr.write(`conclave sim: unknown command '${sub}'\n\n${usage}`);
    return 2;
  }
  let mod: Record<string, (args: string[]) => Promise<number>>;
  try {
    mod = await import(target.module);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      process.stderr.write(`conclave sim ${sub}: not built in this version\n`);
      return 2;
    }
    throw error;
  }
  return mod[target.fn]!(rest);
}

export interface RunFlags {
  file: string;
  seed: number | null;
  json: boolean;
  verbose: boolean;
  codec: boolean;
  /** Where to write the run's client history (JSON lines, for `conclave check lin`); null: nowhere. */
  historyFile: string | null;
}

export function parseRunFlags(args: readonly string[]): RunFlags | string {
  const flags: RunFlags = { file: '', seed: null, json: false, verbose: false, codec: true, historyFile: null };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [name, inline] = arg.startsWith('-') ? splitFlag(arg) : [null, null];
    if (name === null) {
      if (flags.file) return `unexpected argument '${arg}'`;
      flags.file = arg;
    } else if (name === 'seed') {
      const value = inline ?? args[++i];
      if (value === undefined || !/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
        return `--seed needs a non-negative integer, got '${value ?? ''}'`;
      flags.seed = Number(value);
    } else if (name === 'json') flags.json = true;
    else if (name === 'verbose' || name === 'v') flags.verbose = true;
    else if (name === 'no-codec') flags.codec = false;
    else if (name === 'history') {
      const value = inline ?? args[++i];
      if (value === undefined || value === '') return '--history needs a FILE';
      flags.historyFile = value;
    } else return `unknown flag '${arg}'`;
  }
  if (!flags.file) return 'missing SCENARIO file';
  return flags;
}

function splitFlag(arg: string): [string, string | null] {
  const body = arg.replace(/^--?/, '');
  const eq = body.indexOf('=');
  return eq < 0 ? [body, null] : [body.slice(0, eq), body.slice(eq + 1)];
}

async function runOne(args: string[]): Promise<number> {
  const flags = parseRunFlags(args);
  if (typeof flags === 'string') {
    process.stderr.write(
      `conclave sim run: ${flags}\n\nUsage: conclave sim run SCENARIO [--seed N] [--json] [--verbose] [--no-codec] [--history FILE]\n`,
    );
    return 2;
  }
  let loaded;
  try {
    loaded = await loadScenario(flags.file);
  } catch (error) {
    if (error instanceof ScenarioError) {
      process.stderr.write(`conclave sim run: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const seed = flags.seed ?? loaded.scenario.seed;
  const print = (line: LogLine) => {
    if (flags.json) return;
    if (!flags.verbose && line.kind === 'trace') return;
    process.stdout.write(formatLogLine(line) + '\n');
  };
  if (!flags.json) {
    process.stdout.write(
      `==> scenario ${loaded.scenario.name} (${loaded.scenario.protocol}, ${loaded.scenario.nodes.length} nodes, seed ${seed})\n`,
    );
    if (loaded.scenario.story)
      process.stdout.write(
        loaded.scenario.story
          .split('\n')
          .map((l) => `    ${l}`)
          .join('\n') + '\n',
      );
  }
  const sim = new Simulation(loaded.scenario, loaded.harness, seed, { codec: flags.codec, onLog: print });
  const result = sim.run();
  if (flags.historyFile !== null) {
    const keep = loaded.harness.linearizable ?? (() => true);
    writeFileSync(
      flags.historyFile,
      sim.history.ops
        .filter((op) => keep(op))
        .map((op) => JSON.stringify(op) + '\n')
        .join(''),
    );
  }
  if (flags.json) {
    process.stdout.write(JSON.stringify(jsonOf(result)) + '\n');
  } else {
    process.stdout.write(summary(result));
    if (result.result === 'fail') process.stdout.write(`replay: ${replayCommand(flags.file, seed)}\n`);
    process.stdout.write(`seed=${seed} trace=${result.trace} result=${result.result}\n`);
  }
  return result.result === 'pass' ? 0 : 1;
}

export function formatLogLine(line: LogLine): string {
  const at = `${(line.atMs / 1000).toFixed(3).padStart(8)}s`;
  const tag = line.kind === 'violation' ? 'VIOLATION' : line.kind;
  return `${at} [${tag}] ${line.text}`;
}

export function jsonOf(result: RunResult): Record<string, unknown> {
  return {
    scenario: result.scenario,
    seed: result.seed,
    trace: result.trace,
    result: result.result,
    simulatedMs: Math.round(result.simulatedMs),
    wallMs: Math.round(result.wallMs),
    events: result.events,
    messages: result.messages,
    deliveries: result.deliveries,
    violations: result.violations,
    recoveredMs: result.recoveredMs,
    knobs: result.knobs,
  };
}

export function summary(result: RunResult): string {
  const lines = [
    `--- ${result.scenario}: ${result.result.toUpperCase()} after ${(result.simulatedMs / 1000).toFixed(2)} simulated s in ${result.wallMs.toFixed(0)} wall ms ` +
      `(${(result.simulatedMs / Math.max(result.wallMs, 0.001)).toFixed(0)}x real time)`,
    `    events ${result.events}, messages sent ${result.messages}, delivered ${result.deliveries}` +
      (result.recoveredMs !== null ? `, recovered ${result.recoveredMs.toFixed(0)} ms after faults stopped` : ''),
  ];
  for (const v of result.violations) lines.push(`    violation: ${v}`);
  return lines.join('\n') + '\n';
}
