/**
 * `conclave sim report FILE --out DIR [--check] [--all-messages]` (routed from cli/commands/sim.ts): replays a run and
 * writes a self-contained HTML page with its pictures (sim/report/). FILE is a replay file, or a
 * scenario file with `--seed N`. `--check` then opens the page in headless Chromium and fails on any
 * console error or network request.
 *
 * Exit 0 when the report was written (whatever the run's verdict), 1 when `--check` found problems,
 * 2 on bad usage or an unreadable file.
 */
import { readFileSync } from 'node:fs';

import { makeReplay, readReplay, ReplayFileError, type ReplayFile } from '../../../sim/tools/replay.js';
import { loadScenarioText, runLoaded } from '../../../sim/run.js';
import { ScenarioError } from '../../../sim/scenario.js';
import { checkPage, findChromium } from '../../../sim/tools/report/chromium.js';
import { layoutProbe } from '../../../sim/tools/report/layout.js';
import { collectRecord } from '../../../sim/tools/report/collect.js';
import { writeReport } from '../../../sim/tools/report/write.js';
import { didYouMean } from '../../../sim/suggest.js';

const usage =
  'Usage: conclave sim report FILE --out DIR [--seed N] [--check] [--all-messages]\n  FILE: a replay file (from explore, shrink or the TUI), or a scenario file with --seed N\n  --check: open the page in headless Chromium; fail on a console error or a network request\n  --all-messages: draw routine messages (heartbeats, pings, acks) in the message diagram instead of folding them into a count\n';

export async function runReport(args: string[]): Promise<number> {
  let out: string | null = null;
  let seed: number | null = null;
  let check = false;
  let allMessages = false;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string | undefined => (a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[++i]);
    if (a === '--out' || a.startsWith('--out=')) out = value() ?? null;
    else if (a === '--seed' || a.startsWith('--seed=')) {
      const v = value();
      if (v === undefined || !/^\d+$/.test(v)) return bad(`--seed needs a non-negative integer, got '${v ?? ''}'`);
      seed = Number(v);
    } else if (a === '--check') check = true;
    else if (a === '--all-messages') allMessages = true;
    else if (a.startsWith('-'))
      return bad(
        `unknown flag '${a}'${didYouMean(a.replace(/^-+/, '').split('=')[0]!, ['out', 'seed', 'check', 'all-messages'], '--')}`,
      );
    else files.push(a);
  }
  if (files.length !== 1) return bad(files.length === 0 ? 'missing FILE' : 'one FILE at a time');
  if (!out) return bad('missing --out DIR');
  const path = files[0]!;
  let file: ReplayFile;
  try {
    file = await replayOf(path, seed);
  } catch (error) {
    if (error instanceof ReplayFileError || error instanceof ScenarioError) {
      process.stderr.write(`conclave sim report: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const { record, sameTrace } = await collectRecord(file);
  if (!sameTrace)
    process.stderr.write(
      `warning: the replay took another path than recorded (trace ${record.trace}, recorded ${file.trace}); the report shows the run as it goes now\n`,
    );
  const replayCommand = path.endsWith('.json')
    ? `conclave sim replay ${path}`
    : `conclave sim run ${path} --seed ${file.seed}`;
  const written = writeReport(record, out, replayCommand, { allMessages });
  process.stdout.write(
    `wrote ${written.html} (${record.ops.length} client operations, ${record.faults.length} faults, ${record.messages.length} messages, result ${record.result})\n`,
  );
  if (!check) return 0;
  const chromium = findChromium();
  if (!chromium) {
    process.stderr.write('conclave sim report: --check needs chromium on PATH (apt-get install -y chromium)\n');
    return 2;
  }
  const page = await checkPage(chromium, written.html, `[document.querySelectorAll('svg').length, ${layoutProbe}]`);
  const [pictures, layout] = page.probe as [number, string[]];
  const problems = [
    ...page.problems,
    ...page.requests.map((u) => `network request: ${u}`),
    ...layout.map((p) => `layout: ${p}`),
  ];
  if (pictures !== 3) problems.push(`expected 3 pictures, found ${String(pictures)}`);
  for (const p of problems) process.stderr.write(`check: ${p}\n`);
  process.stdout.write(
    problems.length === 0
      ? 'check: the page opens in headless Chromium with no console error, no network request, no label clipped or overlapping\n'
      : `check: ${problems.length} problem(s)\n`,
  );
  return problems.length === 0 ? 0 : 1;
}

async function replayOf(path: string, seed: number | null): Promise<ReplayFile> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ReplayFileError(
      path,
      `cannot read the file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  if (text.trimStart().startsWith('{')) return readReplay(path);
  const loaded = await loadScenarioText(text, path);
  const result = runLoaded(loaded, seed ?? loaded.scenario.seed, {});
  return makeReplay({ scenarioFile: path, scenarioText: text, result, codec: true, origin: 'report' });
}

function bad(problem: string): number {
  process.stderr.write(`conclave sim report: ${problem}\n\n${usage}`);
  return 2;
}
