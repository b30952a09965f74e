/**
 * `conclave sim shrink FILE [--out DIR] [--time-budget DURATION] [--any] [--json]` (routed from
 * cli/commands/sim.ts): minimises a failing replay file's fault schedule and workload (sim/shrink.ts)
 * and writes the shrunk replay file and a scenario file ready for `scenarios/`.
 *
 * Exit 0 when a shrunk run was written, 1 when the file could not be shrunk (it passes now, or the
 * recorded schedule does not reproduce the failure), 2 on bad usage or an unreadable file.
 */
import { basename, dirname, join } from 'node:path';
import { writeFileSync, mkdirSync } from 'node:fs';
import { makeReplay, readReplay, ReplayFileError, writeReplay } from '../../../sim/tools/replay.js';
import { ScenarioError, parseDurationMs } from '../../../sim/scenario.js';
import { shrink, ShrinkError, type ShrinkOutcome } from '../../../sim/tools/shrink.js';
import { didYouMean } from '../../../sim/suggest.js';

const usage = 'Usage: conclave sim shrink FILE [--out DIR] [--time-budget 60s] [--any] [--json]\n';

export async function runShrink(args: string[]): Promise<number> {
  let out: string | null = null;
  let budgetMs = 60_000;
  let any = false;
  let json = false;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--out') out = args[++i] ?? null;
    else if (a.startsWith('--out=')) out = a.slice(6);
    else if (a === '--time-budget' || a.startsWith('--time-budget=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[++i];
      const ms = v === undefined ? null : parseDurationMs(v);
      if (ms === null || ms <= 0) {
        process.stderr.write(
          `conclave sim shrink: --time-budget needs a duration such as 60s, got '${v ?? ''}'\n\n${usage}`,
        );
        return 2;
      }
      budgetMs = ms;
    } else if (a === '--any') any = true;
    else if (a === '--json') json = true;
    else if (a.startsWith('-')) {
      process.stderr.write(
        `conclave sim shrink: unknown flag '${a}'${didYouMean(a.replace(/^-+/, '').split('=')[0]!, ['out', 'time-budget', 'any', 'json'], '--')}\n\n${usage}`,
      );
      return 2;
    } else files.push(a);
  }
  if (files.length !== 1) {
    process.stderr.write(
      `conclave sim shrink: ${files.length === 0 ? 'missing FILE' : 'one FILE at a time'}\n\n${usage}`,
    );
    return 2;
  }
  if (out === '') out = null;
  const path = files[0]!;
  let file;
  try {
    file = readReplay(path);
  } catch (error) {
    if (error instanceof ReplayFileError) {
      process.stderr.write(`conclave sim shrink: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const tty = process.stderr.isTTY === true && !json;
  let outcome: ShrinkOutcome;
  try {
    outcome = await shrink(file, {
      timeBudgetMs: budgetMs,
      anyViolation: any,
      onProgress: (p) => {
        if (tty)
          process.stderr.write(
            `\r\x1b[2Kshrinking: ${p.faults} faults, safety ${(p.safetyMs / 1000).toFixed(2)} s after ${p.runs} runs, ${(p.elapsedMs / 1000).toFixed(1)} s`,
          );
      },
    });
  } catch (error) {
    if (tty) process.stderr.write('\r\x1b[2K');
    if (error instanceof ShrinkError || error instanceof ScenarioError) {
      process.stderr.write(`conclave sim shrink: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  if (tty) process.stderr.write('\r\x1b[2K');
  const dir = out ?? dirname(path);
  mkdirSync(dir, { recursive: true });
  const stem = basename(path)
    .replace(/\.replay\.json$/, '')
    .replace(/\.json$/, '');
  const story = [
    `Shrunk by \`conclave sim shrink\` from ${basename(path)} (${file.scenarioFile}, seed ${file.seed}):`,
    `${outcome.originalFaults} faults → ${outcome.faults}, safety phase ${(outcome.originalSafetyMs / 1000).toFixed(1)} s → ${(outcome.best.safetyMs / 1000).toFixed(3)} s, ${outcome.clientOps} client operations.`,
    `It breaks '${outcome.property}': ${outcome.bestResult.violations[0] ?? ''}`,
    outcome.knobsPinned
      ? 'NOTE: it fails only with the recorded knobs pinned: use the .replay.json file, not this scenario alone.'
      : `\`conclave sim run THIS_FILE\` reproduces it (seed ${file.seed}).`,
  ].join('\n');
  const scenarioText = withSeed(storyText(story, outcome.bestText), file.seed);
  const scenarioPath = join(dir, `${stem}.shrunk.txt`);
  writeFileSync(scenarioPath, scenarioText);
  const replayPath = writeReplay(
    makeReplay({
      scenarioFile: file.scenarioFile,
      scenarioText: outcome.bestText,
      result: outcome.bestResult,
      codec: file.codec,
      origin: 'shrink',
    }),
    join(dir, `${stem}.shrunk.replay.json`),
  );
  const summary = {
    file: path,
    property: outcome.property,
    originalFaults: outcome.originalFaults,
    faults: outcome.faults,
    clientOps: outcome.clientOps,
    events: outcome.faults + outcome.clientOps,
    simEvents: outcome.bestResult.events,
    safetyMs: outcome.best.safetyMs,
    params: outcome.best.params,
    runs: outcome.runs,
    wallMs: Math.round(outcome.wallMs),
    stoppedBy: outcome.stoppedBy,
    knobsPinned: outcome.knobsPinned,
    replayFile: replayPath,
    scenarioFile: scenarioPath,
    violation: outcome.bestResult.violations[0] ?? null,
  };
  if (json) process.stdout.write(JSON.stringify(summary) + '\n');
  else {
    process.stdout.write(
      `shrunk '${outcome.property}' from ${outcome.originalFaults} faults to ${outcome.faults} faults and ${outcome.clientOps} client operations ` +
        `(safety phase ${(outcome.best.safetyMs / 1000).toFixed(3)} s) in ${outcome.runs} runs, ${(outcome.wallMs / 1000).toFixed(1)} s (${outcome.stoppedBy === 'fixpoint' ? 'no smaller run fails' : `stopped by the ${outcome.stoppedBy} budget`})\n` +
        `    violation: ${outcome.bestResult.violations[0] ?? ''}\n` +
        `    schedule:\n${outcome.bestText
          .split('\n')
          .filter((l) => l.startsWith('at '))
          .map((l) => `      ${l}`)
          .join('\n')}\n` +
        `wrote ${replayPath}\nwrote ${scenarioPath}${outcome.knobsPinned ? ' (reproduces only with the replay file: the failure needs the recorded knobs)' : ''}\n`,
    );
  }
  return 0;
}

function storyText(story: string, text: string): string {
  const body = text.split('\n').filter((l) => !/^\s*#/.test(l));
  while (body.length > 0 && body[0]!.trim() === '') body.shift();
  return `${story
    .split('\n')
    .map((l) => `# ${l}`)
    .join('\n')}\n${body.join('\n')}`;
}

function withSeed(text: string, seed: number): string {
  const lines = text.split('\n').filter((l) => !/^\s*seed\s/.test(l));
  const at = lines.findIndex((l) => /^\s*nodes\s/.test(l));
  lines.splice(at + 1, 0, `seed ${seed}`);
  return lines.join('\n');
}
