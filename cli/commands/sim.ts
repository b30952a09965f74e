/**
 * `conclave sim <subcommand>`: run one simulation; explore, replay, shrink and report live in their
 * own modules (sim/explore-cli.ts, sim/replay-cli.ts, ...) and are loaded on demand.
 *
 *   conclave sim run SCENARIO [--seed N] [--knob KEY=VALUE].. [--json] [--verbose] [--no-codec] [--history FILE]
 *
 * Human output ends with `seed=N trace=<16 hex> result=pass|fail`; `--json` prints one JSON object as
 * the last line. Exit 0 pass, 1 violation, 2 bad usage (or a bad scenario file).
 */
import { ScenarioError } from '../../sim/scenario.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { didYouMean } from '../../sim/suggest.js';
import { makeReplay, replayFileName, writeReplay } from '../../sim/tools/replay.js';
import { addKnobPin, loadScenario, replayCommand } from '../../sim/run.js';
import { Simulation, codecMode, type CodecMode, type LogLine, type RunResult } from '../../sim/engine/simulation.js';

/** Where failing runs leave their replay files (as `sim explore` and the TUI's `s`). */
const defaultReplayDir = '.conclave/replays';

const usage = `Usage: conclave sim <command> [args]   (conclave sim <command> --help for its flags)

Commands:
    run SCENARIO [--seed N] [--json] [--verbose] [--history FILE]   run one simulation
    explore SCENARIO [--seeds A..B] [--jobs N] [--shard i/n] [--json] run many seeds (--coverage)
    explore PATH... [--budget 120s] [--seeds A..B]                   many scenarios or folders, equal time shares
    merge FILE...                                                    merge explorer shard results
    hub SCENARIO --seeds A..B [--redis URL]                          a sweep on a Redis job queue
    worker [--redis URL] [--jobs N]                                  run the hub's batches (any machine)
    replay FILE                                                      rerun a replay file bit for bit
    shrink FILE                                                      minimise a failing replay file
    report FILE --out DIR                                            HTML timeline of a run
    serve SCENARIO [--seed N] [--port P]                             a run in the browser, time travel
    replay-agent FILE                                                replay a real agent's flight recording
`;

/** `conclave sim <command> --help`: what each command does, its flags and its exit codes. */
export const subcommandHelp: Record<string, string> = {
  run: `Usage: conclave sim run SCENARIO [--seed N] [--knob KEY=VALUE].. [--json] [--verbose] [--history FILE] [--replay-dir DIR | --no-replay] [--no-codec | --codec MODE]

  Runs one simulation of a scenario file (scenarios/README.md, docs/scenario-grammar.md).
  --seed N          the seed (default: the scenario's \`seed\` line)
  --knob KEY=VALUE  pin a knob the swarm draws per seed: a protocol knob (preVote=false,
                    channel=datagram, ...) or a fault knob (tornWritePercent=100, ...); repeatable
  --json            one JSON object as the last line, instead of the human output
  --verbose, -v     every protocol log line too
  --history FILE    write the client operations its linearizability check reads, as JSON lines
                    (for \`conclave check lin FILE\`)
  --replay-dir DIR  where a failing run writes its replay file (default ${defaultReplayDir})
  --no-replay       write no replay file
  --no-codec        pass messages as objects, without the wire codec (faster; another trace)
  --codec MODE      copy (default: what msgpackr would deliver, copied without encoding when plain),
                    bytes (every message really packed and unpacked; the same trace hash as copy), off
Human output ends with \`seed=N trace=<16 hex> result=pass|fail\`. A failing run also prints the
command that reruns it, writes a replay file and prints the \`sim report\` command for it.
Exit: 0 pass, 1 violation, 2 bad usage or a bad scenario file.
`,
  explore: `Usage: conclave sim explore SCENARIO [--seeds A..B|N] [--jobs N] [--shard i/n] [--json] [--out FILE] [--replay-dir DIR | --no-replays] [--no-codec] [--knob KEY=VALUE].. [--coverage | --require-coverage | --guided]

  Runs many seeds on worker threads, with a progress bar. Every failing seed gets a replay file
  (default ${defaultReplayDir}) and the command that reruns it.
  --seeds A..B|N   the seeds (N: 1..N)          --jobs N        worker threads
  --shard i/n      this machine's share of the seeds (merge the --json outputs with \`sim merge\`)
  --json           one JSON summary             --out FILE      write the JSON summary to FILE
  --knob KEY=VALUE pin a knob for every seed (as sim run)
  --coverage       count the message, effect and request kinds and the protocol transitions the seeds
                   reached, and name every transition of the protocol none reached
  --require-coverage  as --coverage, and fail (exit 1) when a transition of the protocol was not
                   reached (every exploration scenario must reach all of them in 1,000 seeds)
  --guided         coverage-guided: half the seeds run knobs bred from the seeds that reached new
                   coverage (pinned, so each failure's replay command carries them); prints the
                   distinct coverage reached per 1,000 seeds (--coverage prints it unguided)
Exit: 0 every seed passed, 1 any failed (or, with --require-coverage, a transition was not reached),
2 bad usage or a bad scenario file.

Usage: conclave sim explore PATH... [--seeds A..B|N] [--budget DURATION | --budget-cpu DURATION] [--stop-at-first | --keep-going] [--exclude TEXT].. [--jobs N] [--json] [--out FILE] [--replay-dir DIR | --no-replays] [--no-codec]

  A suite: several scenario files and/or folders (a folder is every *.txt in it, recursively, as
  \`npm run scenarios\` lists them: no planted/ folder, no planted-* variant, unless named), or one file
  with a budget. Seeds are shared out by time: the next seed goes to the scenario that has used the
  least, so a slow scenario gets as much time as a fast one (the policy of scripts/mutants.ts).
  --seeds A..B|N   the seeds of each scenario (default 1..100; with a budget: from 1 until it is spent)
  --budget D       stop after D of wall time (120s, 10m)
  --budget-cpu D   stop after D of this process's CPU time (all its threads): the same hunt on a busy host
  --stop-at-first  stop at the first failing seed (the default with a budget: a hunt wants the first bug)
  --keep-going     report every failing seed (the default without a budget)
  --exclude TEXT   leave out the files below a folder whose path contains TEXT (repeatable): a scenario
                   whose one seed takes minutes (swim/members-1000) would take a short budget's share of
                   every other, as a seed is never cut off
  --jobs N         worker threads (default: the cores); one seed at a time each, charged its wall time
  Every failing seed prints its scenario, its violation, the \`sim run\` command that replays it and its
  replay file; the progress line (on a terminal) counts scenarios, seeds, seeds/s and failures. A
  suite does not take --shard, --knob or the coverage flags. A path that does not exist, a folder with
  no scenario and a bad scenario file are named (exit 2).
`,
  merge: `Usage: conclave sim merge FILE... [--json]

  Merges the JSON outputs of \`sim explore --json\` (e.g. one per shard) into one summary.
Exit: 0 every seed passed, 1 any failed, 2 bad usage.
`,
  replay: `Usage: conclave sim replay FILE [--json] [--verbose]

  Reruns a replay file (from sim run, explore, shrink or the TUI's \`s\`) and checks it gives the
  recorded trace hash and verdict. Warns when the code changed since it was recorded.
Exit: 0 the recorded run was reproduced (whatever its verdict: a replay of a failure that fails the
same way is a success), 1 it was not (another trace or verdict), 2 bad usage or an unreadable file.
`,
  shrink: `Usage: conclave sim shrink FILE [--out DIR] [--time-budget 60s] [--any] [--json]

  Minimises a failing replay file's faults and workload; writes the shrunk replay file and a
  scenario file ready for scenarios/.
  --out DIR           where to write them (default: beside FILE)
  --time-budget DUR   stop searching after this long (default 60s)
  --any               accept any violation, not only the original property
Exit: 0 a shrunk run was written, 1 the file could not be shrunk, 2 bad usage or an unreadable file.
`,
  report: `Usage: conclave sim report FILE --out DIR [--seed N] [--check] [--all-messages]

  Writes a self-contained HTML page of a run: client operations with fault windows, a message
  diagram around the violation, roles and terms over time.
  FILE     a replay file, or a scenario file with --seed N
  --check         open the page in headless Chromium and fail on console errors or network requests
  --all-messages  draw routine messages (heartbeats, pings, acks) in the message diagram; by default
                  they are folded into a count so the messages that matter stand out
Exit: 0 the report was written (whatever the run's verdict), 1 --check found problems, 2 bad usage.
`,
  serve: `Usage: conclave sim serve SCENARIO [--seed N] [--port P] [--host H] [--speed X] [--paused] [--replay-dir DIR] [--no-codec]

  Serves a simulated run in the browser (http://127.0.0.1:8510/ by default) with the TUI's controls:
  play/pause, speed, one event, seek any moment (time travel), partition/crash/restart/heal a node,
  save a replay; the cluster's insides (every node's Raft role, term and indexes, the member table,
  leader changes and faults) and the report's timeline, Lamport diagram and roles, up to the moment
  on screen. Ctrl-C stops.
  --seed N          the seed (default: the scenario's \`seed\` line)
  --port P          the port (default 8510; 0 picks a free one, printed on start)
  --host H          the address to listen on (default 127.0.0.1)
  --speed X         simulated ms per wall ms at start (1, 2, 5, 10 … 10000; default 10)
  --paused          start paused
  --replay-dir DIR  where "save" writes replay files (default .conclave/replays)
Exit: 0 after Ctrl-C, 2 bad usage or a bad scenario file.
`,
  'replay-agent': `Usage: conclave sim replay-agent FILE

  Replays a flight recording made with \`conclave agent -record FILE\` into the same core and checks
  that every step's effects are identical.
Exit: 0 reproduced, 1 at the first divergence, 2 bad usage.
`,
  hub: `Usage: conclave sim hub SCENARIO --seeds A..B|N [--redis URL] [--batch N] [--shrink-budget DUR | --no-shrink] [--knob KEY=VALUE].. [--no-codec] [--replay-dir DIR | --no-replays] [--json] [--out FILE]

  Puts a sweep on a Redis job queue (BullMQ) in batches and waits while \`conclave sim worker\`
  processes on any machines run them. A worker killed mid-batch loses nothing: its batch goes back
  on the queue and is counted once. Running the same hub command again resumes the same sweep.
  --redis URL          the queue's Redis (default redis://127.0.0.1:6379)
  --batch N            seeds per batch (default 200)
  --shrink-budget DUR  workers shrink the first failure of each property per batch (default 20s);
                       failures are grouped by property and the faults their shrunk run needs
  --no-shrink          do not shrink
  --replay-dir DIR     where replay files of failing seeds go (default ${defaultReplayDir})
  --json               one JSON summary (the \`sim explore --json\` fields, plus unique and workers)
Exit: 0 every seed passed, 1 any failed, 2 bad usage, 3 batches lost (their runner crashed every time).
`,

  worker: `Usage: conclave sim worker [--redis URL] [--jobs N] [--name NAME] [--lock DUR]

  Pulls batches of seeds from the hub's queue and runs them, until SIGINT or SIGTERM (then it
  finishes the batch in hand). Workers built from other code use another queue (its name carries
  the code's fingerprint), so no worker reports a trace it could not reproduce.
  --redis URL   the queue's Redis (default redis://127.0.0.1:6379)
  --jobs N      seed threads per batch (default: the machine's cores)
  --name NAME   how the hub names this worker (default host-pid)
  --lock DUR    how long a batch stays locked without renewal, i.e. how soon the batch of a killed
                worker is taken up again (default 30s)
`,
};

const helpFlags = ['-h', '--help', '-help'];

/** Subcommands implemented elsewhere: module path (relative to this file) and exported function. */
const delegated: Record<string, { module: string; fn: string }> = {
  explore: { module: './sim/explore.js', fn: 'runExplore' },
  merge: { module: './sim/explore.js', fn: 'runMerge' },
  replay: { module: './sim/replay.js', fn: 'runReplay' },
  shrink: { module: './sim/shrink.js', fn: 'runShrink' },
  report: { module: './sim/report.js', fn: 'runReport' },
  serve: { module: './sim/serve.js', fn: 'runSimServe' },
  'replay-agent': { module: './replay-agent.js', fn: 'run' },
  hub: { module: './sim/hub.js', fn: 'runSimHub' },
  worker: { module: './sim/hub.js', fn: 'runSimWorker' },
};

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || helpFlags.includes(sub) || sub === 'help') {
    const topic = sub === 'help' ? rest[0] : undefined;
    process.stdout.write(topic !== undefined && subcommandHelp[topic] ? subcommandHelp[topic] : usage);
    return sub === undefined ? 2 : 0;
  }
  if (subcommandHelp[sub] && rest.some((a) => helpFlags.includes(a))) {
    process.stdout.write(subcommandHelp[sub]);
    return 0;
  }
  if (sub === 'run') return runOne(rest);
  const target = delegated[sub];
  if (!target) {
    process.stderr.write(
      `conclave sim: unknown command '${sub}'${didYouMean(sub, Object.keys(subcommandHelp))}\n\n${usage}`,
    );
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
  /** `--no-codec` is false; `--codec bytes` runs every message through msgpackr (same trace hash as the default). */
  codec: boolean | CodecMode;
  /** Where to write the run's client history (JSON lines, for `conclave check lin`); null: nowhere. */
  historyFile: string | null;
  /** Where a failing run writes its replay file; null: nowhere (--no-replay). */
  replayDir: string | null;
  /** `--knob KEY=VALUE` texts, checked against the scenario once it is loaded. */
  knobs: string[];
}

const runFlagNames = ['seed', 'json', 'verbose', 'history', 'replay-dir', 'no-replay', 'no-codec', 'codec', 'help'];

export function parseRunFlags(args: readonly string[]): RunFlags | string {
  const flags: RunFlags = {
    file: '',
    seed: null,
    json: false,
    verbose: false,
    codec: true,
    historyFile: null,
    replayDir: defaultReplayDir,
    knobs: [],
  };
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
    } else if (name === 'knob') {
      const value = inline ?? args[++i];
      if (value === undefined || !value.includes('=')) return `--knob needs KEY=VALUE, got '${value ?? ''}'`;
      flags.knobs.push(value);
    } else if (name === 'json') flags.json = true;
    else if (name === 'verbose' || name === 'v') flags.verbose = true;
    else if (name === 'no-codec') flags.codec = false;
    else if (name === 'codec') {
      const value = inline ?? args[++i];
      if (value !== 'copy' && value !== 'bytes' && value !== 'off')
        return `--codec needs copy, bytes or off, got '${value ?? ''}'`;
      flags.codec = value;
    } else if (name === 'history') {
      const value = inline ?? args[++i];
      if (value === undefined || value === '') return '--history needs a FILE';
      flags.historyFile = value;
    } else if (name === 'replay-dir') {
      const value = inline ?? args[++i];
      if (value === undefined || value === '') return '--replay-dir needs a DIR';
      flags.replayDir = value;
    } else if (name === 'no-replay') flags.replayDir = null;
    else return `unknown flag '${arg}'${didYouMean(name, runFlagNames, arg.startsWith('--') ? '--' : '-')}`;
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
    process.stderr.write(`conclave sim run: ${flags}\n\n${subcommandHelp['run']}`);
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
  const pins: Record<string, string> = {};
  for (const text of flags.knobs) {
    const problem = addKnobPin(loaded, pins, text);
    if (problem) {
      process.stderr.write(`conclave sim run: ${problem}\n`);
      return 2;
    }
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
  const sim = new Simulation(loaded.scenario, loaded.harness, seed, { codec: flags.codec, onLog: print, pins });
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
  // A failing run leaves its replay file, the input of `sim replay`, `shrink` and `report`.
  let replayFile: string | null = null;
  if (result.result === 'fail' && flags.replayDir !== null) {
    const replay = makeReplay({
      scenarioFile: flags.file,
      scenarioText: readFileSync(flags.file, 'utf8'),
      result,
      codec: codecMode(flags.codec) !== 'off', // bytes and copy give one trace: the replay uses copy
      origin: 'run',
    });
    replayFile = writeReplay(replay, join(flags.replayDir, replayFileName(loaded.scenario.name, seed)));
  }
  if (flags.json) {
    process.stdout.write(JSON.stringify({ ...jsonOf(result), ...(replayFile ? { replayFile } : {}) }) + '\n');
  } else {
    process.stdout.write(summary(result));
    if (result.result === 'fail') {
      process.stdout.write(
        `replay: ${replayCommand(flags.file, seed, pins)}${codecMode(flags.codec) === 'off' ? ' --no-codec' : ''}\n`,
      );
      if (replayFile !== null) {
        process.stdout.write(`replay file: ${replayFile} (conclave sim replay / shrink / report)\n`);
        const reportDir = join('reports', replayFileName(loaded.scenario.name, seed).replace(/\.replay\.json$/, ''));
        process.stdout.write(`report: node bin/conclave.js sim report ${replayFile} --out ${reportDir}\n`);
      }
    }
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
