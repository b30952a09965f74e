/**
 * `conclave sim replay FILE [--json] [--verbose]` (routed from cli/commands/sim.ts): reruns a replay
 * file and checks it gives the same trace hash. Warns when the code changed since the file was
 * written (then a different trace is expected, not a bug).
 *
 * Exit 0 when the replay reproduced the recorded trace and result; 1 when it did not (or the run
 * now fails where it passed); 2 on bad usage or an unreadable file.
 */
import { ScenarioError } from '../../../sim/scenario.js';
import { codeVersion, readReplay, replay, ReplayFileError } from '../../../sim/tools/replay.js';
import type { LogLine } from '../../../sim/engine/simulation.js';

const usage = 'Usage: conclave sim replay FILE [--json] [--verbose]\n';

export async function runReplay(args: string[]): Promise<number> {
  const json = args.includes('--json');
  const verbose = args.includes('--verbose') || args.includes('-v');
  const rest = args.filter((a) => !['--json', '--verbose', '-v'].includes(a));
  if (rest.length !== 1 || rest[0]!.startsWith('-')) {
    process.stderr.write(
      `conclave sim replay: ${rest.length === 0 ? 'missing FILE' : `unexpected argument '${rest.find((a) => a.startsWith('-')) ?? rest[1]}'`}\n\n${usage}`,
    );
    return 2;
  }
  let file;
  try {
    file = readReplay(rest[0]!);
  } catch (error) {
    if (error instanceof ReplayFileError) {
      process.stderr.write(`conclave sim replay: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const now = codeVersion();
  if (file.codeVersion !== now) {
    process.stderr.write(
      `warning: the code changed since this replay was recorded (code ${file.codeVersion}, now ${now}); the run may take another path and give another trace\n`,
    );
  }
  const print = (line: LogLine): void => {
    if (json || (!verbose && line.kind === 'trace')) return;
    process.stdout.write(
      `${(line.atMs / 1000).toFixed(3).padStart(8)}s [${line.kind === 'violation' ? 'VIOLATION' : line.kind}] ${line.text}\n`,
    );
  };
  if (!json)
    process.stdout.write(
      `==> replaying ${rest[0]}: ${file.scenarioFile} seed ${file.seed} (${file.origin}, recorded ${file.result}, trace ${file.trace})\n`,
    );
  let run;
  try {
    run = await replay(file, { onLog: print });
  } catch (error) {
    if (error instanceof ScenarioError) {
      process.stderr.write(`conclave sim replay: the scenario in ${rest[0]} is not valid here: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const r = run.result;
  const same = run.sameTrace && r.result === file.result;
  if (json) {
    process.stdout.write(
      JSON.stringify({
        file: rest[0],
        scenario: file.scenarioFile,
        seed: file.seed,
        trace: r.trace,
        recordedTrace: file.trace,
        sameTrace: run.sameTrace,
        result: r.result,
        recordedResult: file.result,
        codeChanged: !run.sameCode,
        violations: r.violations,
        simulatedMs: Math.round(r.simulatedMs),
        wallMs: Math.round(r.wallMs),
      }) + '\n',
    );
  } else {
    for (const v of r.violations) process.stdout.write(`    violation: ${v}\n`);
    process.stdout.write(
      same
        ? `replay reproduced the recorded run: trace ${r.trace}, result ${r.result}\n`
        : `replay DIFFERS: trace ${r.trace} (recorded ${file.trace}), result ${r.result} (recorded ${file.result})${run.sameCode ? ' — same code, so this is nondeterminism: a bug' : ' — the code changed'}\n`,
    );
    process.stdout.write(`seed=${file.seed} trace=${r.trace} result=${r.result}\n`);
  }
  return same ? 0 : 1;
}
