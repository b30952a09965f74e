/**
 * `npm run scenarios`: runs every named scenario in scenarios/ (each with its own default seed, or
 * `--seeds N` seeds from it) on worker threads and prints a table.
 *
 *   npm run scenarios -- [--jobs N] [--seeds N] [--timeout 300s] [--filter TEXT] [--json] [--all]
 *
 * A scenario is expected to pass unless it says otherwise: a file named `planted-*` or whose story
 * says "expected to FAIL" is a deliberately broken variant and must fail. scenarios/planted/ holds
 * demo material for the shrinker (it fails only on some seeds) and is skipped unless `--all`.
 * Exit 0 when every scenario met its expectation, 1 otherwise (a timeout counts as unmet).
 */
import { readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parseDurationMs } from '../scenario.js';

export interface ScenarioRow {
  readonly file: string;
  readonly name: string;
  readonly protocol: string;
  readonly nodes: number;
  readonly seed: number | null;
  readonly expected: 'pass' | 'fail';
  readonly outcome: 'pass' | 'fail' | 'timeout' | 'error';
  readonly simulatedMs: number;
  readonly wallMs: number;
  readonly events: number;
  readonly trace: string;
  readonly detail: string;
}

export function listScenarios(root: string, all: boolean): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (!all && name === 'planted' && dir === root) continue;
        walk(path);
      } else if (name.endsWith('.txt')) out.push(path);
    }
  };
  walk(root);
  return out;
}

export function expectedOf(file: string, story: string): 'pass' | 'fail' {
  return /(^|\/)planted[-/]/.test(file) || /expected to FAIL/.test(story) ? 'fail' : 'pass';
}

function workerEntry(): URL {
  const self = import.meta.url;
  if (self.endsWith('.js')) return new URL('./scenarios-worker.js', self);
  const require = createRequire(self);
  const api = pathToFileURL(require.resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs')).href;
  const target = new URL('./scenarios-worker.ts', self).href;
  return new URL(
    `data:text/javascript,${encodeURIComponent(`import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(target)});`)}`,
  );
}

function runOne(file: string, seed: number | null, timeoutMs: number): Promise<Omit<ScenarioRow, 'file' | 'name'>> {
  return new Promise((resolve) => {
    const started = performance.now();
    const worker = new Worker(workerEntry(), { workerData: { file, seed } });
    let settled = false;
    const done = (row: Omit<ScenarioRow, 'file' | 'name'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      resolve(row);
    };
    const empty = { protocol: '?', nodes: 0, seed, expected: 'pass' as const, simulatedMs: 0, events: 0, trace: '' };
    const timer = setTimeout(
      () =>
        done({
          ...empty,
          outcome: 'timeout',
          wallMs: performance.now() - started,
          detail: `still running after ${timeoutMs / 1000} s`,
        }),
      timeoutMs,
    );
    worker.on('message', (m) => {
      if (!m.ok)
        return done({
          ...empty,
          outcome: 'error',
          wallMs: performance.now() - started,
          detail: String(m.error).split('\n')[0]!,
        });
      done({
        protocol: m.protocol,
        nodes: m.nodes,
        seed: m.seed,
        expected: expectedOf(file, m.story),
        outcome: m.result,
        simulatedMs: m.simulatedMs,
        wallMs: m.wallMs,
        events: m.events,
        trace: m.trace,
        detail: m.violations[0] ?? '',
      });
    });
    worker.on('error', (e) =>
      done({ ...empty, outcome: 'error', wallMs: performance.now() - started, detail: e.message }),
    );
  });
}

export async function runScenarios(args: string[]): Promise<number> {
  let jobs = Math.max(1, availableParallelism());
  let seeds = 1;
  let timeoutMs = 300_000;
  let filter = '';
  let json = false;
  let all = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--jobs') jobs = Math.max(1, Number(args[++i]));
    else if (a === '--seeds') seeds = Math.max(1, Number(args[++i]));
    else if (a === '--timeout') timeoutMs = parseDurationMs(args[++i] ?? '') ?? timeoutMs;
    else if (a === '--filter') filter = args[++i] ?? '';
    else if (a === '--json') json = true;
    else if (a === '--all') all = true;
    else {
      process.stderr.write(
        `scenarios: unknown argument '${a}'\nUsage: npm run scenarios -- [--jobs N] [--seeds N] [--timeout 300s] [--filter TEXT] [--json] [--all]\n`,
      );
      return 2;
    }
  }
  const files = listScenarios('scenarios', all).filter((f) => f.includes(filter));
  const tasks: { file: string; seed: number | null; k: number }[] = [];
  for (const file of files) for (let k = 0; k < seeds; k++) tasks.push({ file, seed: null, k });
  const rows: ScenarioRow[] = [];
  const started = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < tasks.length) {
      const task = tasks[next++]!;
      // Seed k of a scenario is its default seed + k; the worker learns the default from the file.
      const seed = task.k === 0 ? null : await defaultSeed(task.file).then((s) => s + task.k);
      const row = await runOne(task.file, seed, timeoutMs);
      const name = relative('scenarios', task.file).replace(/\.txt$/, '');
      rows.push({ file: task.file, name, ...row });
      if (!json && process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${rows.length}/${tasks.length} ${name}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, lane));
  if (!json && process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
  rows.sort((a, b) => a.name.localeCompare(b.name) || (a.seed ?? 0) - (b.seed ?? 0));
  const met = (r: ScenarioRow): boolean => r.outcome === r.expected;
  const wallMs = performance.now() - started;
  const summary = {
    scenarios: files.length,
    runs: rows.length,
    asExpected: rows.filter(met).length,
    unexpected: rows
      .filter((r) => !met(r))
      .map((r) => `${r.name} seed ${r.seed}: ${r.outcome} (expected ${r.expected})`),
    simulatedMs: Math.round(rows.reduce((a, r) => a + r.simulatedMs, 0)),
    wallMs: Math.round(wallMs),
    jobs,
  };
  if (json) process.stdout.write(JSON.stringify({ ...summary, rows }) + '\n');
  else
    process.stdout.write(
      table(rows) +
        `\n${summary.runs} runs of ${summary.scenarios} scenarios: ${summary.asExpected} as expected, ${summary.unexpected.length} not, in ${(wallMs / 1000).toFixed(1)} s on ${jobs} jobs\n` +
        JSON.stringify(summary) +
        '\n',
    );
  return summary.unexpected.length === 0 ? 0 : 1;
}

async function defaultSeed(file: string): Promise<number> {
  const { readFileSync } = await import('node:fs');
  const m = /^\s*seed\s+(\d+)/m.exec(readFileSync(file, 'utf8'));
  return m ? Number(m[1]) : 1;
}

export function table(rows: readonly ScenarioRow[]): string {
  const header = [
    'scenario',
    'protocol',
    'nodes',
    'seed',
    'result',
    'expected',
    'sim s',
    'wall ms',
    'events',
    'violation / note',
  ];
  const cells = rows.map((r) => [
    r.name,
    r.protocol,
    String(r.nodes),
    r.seed === null ? '-' : String(r.seed),
    r.outcome === r.expected ? r.outcome : `${r.outcome.toUpperCase()} ✗`,
    r.expected,
    (r.simulatedMs / 1000).toFixed(1),
    String(Math.round(r.wallMs)),
    String(r.events),
    r.detail.slice(0, 70),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c]!.length)));
  const line = (row: readonly string[]): string =>
    row
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runScenarios(process.argv.slice(2));
}
