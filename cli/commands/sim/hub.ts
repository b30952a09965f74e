/**
 * `conclave sim hub` and `conclave sim worker` (routed from cli/commands/sim.ts): a sweep run by any
 * number of worker processes on any number of machines, through a BullMQ queue on Redis
 * (sim/tools/hub.ts says what the queue guarantees).
 *
 *   conclave sim hub SCENARIO --seeds A..B [--redis URL] [--batch N] [--shrink-budget DUR | --no-shrink]
 *                    [--knob KEY=VALUE].. [--no-codec] [--replay-dir DIR | --no-replays] [--json] [--out FILE]
 *   conclave sim worker [--redis URL] [--jobs N] [--name NAME] [--lock DUR]
 *
 * The hub exits 0 when every seed passed, 1 when any failed, 2 on bad usage, 3 when batches were lost
 * (their runner crashed on every attempt). Its `--json` line has the fields of `sim explore --json`
 * (so `sim merge` adds hub results to shard results) plus the unique failures and per-worker rates.
 * The worker runs until SIGINT/SIGTERM, then finishes the batch in hand and exits 0.
 */
import { availableParallelism } from 'node:os';
import { writeFileSync } from 'node:fs';
import { ScenarioError, parseDurationMs } from '../../../sim/scenario.js';
import { addKnobPin, loadScenario, replayCommand } from '../../../sim/run.js';
import { formatEta, parseSeedRange } from '../../../sim/tools/explore.js';
import { jsonOf, parseSweepFlag, type SweepFlags } from './explore.js';
import {
  batchSeedsDefault,
  defaultWorkerName,
  lockMsDefault,
  redisConnection,
  runHub,
  startWorker,
  type HubProgress,
  type HubSummary,
} from '../../../sim/tools/hub.js';
import { replayDirDefault } from '../../../sim/tools/replay.js';
import { didYouMean } from '../../../sim/suggest.js';
import { subcommandHelp } from '../sim.js';

const redisDefault = 'redis://127.0.0.1:6379';
const hubUsage = subcommandHelp['hub']!;
const workerUsage = subcommandHelp['worker']!;

interface HubFlags extends SweepFlags {
  redis: string;
  batch: number;
  shrinkBudgetMs: number;
}

export function parseHubFlags(args: string[]): HubFlags | string {
  const flags: HubFlags = {
    file: null,
    seeds: null,
    redis: redisDefault,
    batch: batchSeedsDefault,
    shrinkBudgetMs: 20_000,
    codec: true,
    replayDir: replayDirDefault,
    json: false,
    out: null,
    knobs: [],
  };
  const known = ['seeds', 'redis', 'batch', 'shrink-budget', 'no-shrink', 'knob', 'no-codec', 'replay-dir'];
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
      case 'redis': {
        const v = value();
        if (!v) return '--redis needs a URL such as redis://127.0.0.1:6379';
        flags.redis = v;
        break;
      }
      case 'batch': {
        const v = value();
        if (v === undefined || !/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 100_000)
          return `--batch needs an integer from 1 to 100000, got '${v ?? ''}'`;
        flags.batch = Number(v);
        break;
      }
      case 'shrink-budget': {
        const v = value();
        const ms = v === undefined ? null : parseDurationMs(v);
        if (ms === null || ms < 0) return `--shrink-budget needs a duration such as 20s, got '${v ?? ''}'`;
        flags.shrinkBudgetMs = ms;
        break;
      }
      case 'no-shrink':
        flags.shrinkBudgetMs = 0;
        break;
      default:
        return `unknown flag '${arg}'${didYouMean(name, [...known, 'json', 'out', 'no-replays'], '--')}`;
    }
  }
  if (!flags.file) return 'missing SCENARIO file';
  if (!flags.seeds) return 'missing --seeds A..B';
  return flags;
}

export async function runSimHub(args: string[]): Promise<number> {
  const flags = parseHubFlags(args);
  if (typeof flags === 'string') {
    process.stderr.write(`conclave sim hub: ${flags}\n\n${hubUsage}`);
    return 2;
  }
  const pins: Record<string, string> = {};
  try {
    const loaded = await loadScenario(flags.file!);
    for (const text of flags.knobs) {
      const problem = addKnobPin(loaded, pins, text);
      if (problem) {
        process.stderr.write(`conclave sim hub: ${problem}\n`);
        return 2;
      }
    }
  } catch (error) {
    if (error instanceof ScenarioError) {
      process.stderr.write(`conclave sim hub: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  let connection;
  try {
    connection = redisConnection(flags.redis);
  } catch (error) {
    process.stderr.write(`conclave sim hub: ${(error as Error).message}\n`);
    return 2;
  }
  const range = parseSeedRange(flags.seeds!)!;
  const tty = process.stderr.isTTY === true;
  let lastLineMs = -Infinity;
  let announced = false;
  const summary = await runHub({
    connection,
    scenarioFile: flags.file!,
    range,
    batch: flags.batch,
    codec: flags.codec,
    pins,
    shrinkBudgetMs: flags.shrinkBudgetMs,
    replayDir: flags.replayDir,
    onProgress: (p) => {
      if (!announced) {
        announced = true;
        process.stderr.write(
          `==> sweep ${p.sweep}: ${flags.file} seeds ${flags.seeds} in ${p.batches} batches on queue ${p.queue} at ${flags.redis}\n`,
        );
      }
      // Long work shows progress: a live line on a terminal, a line every 10 s in a log.
      if (tty) process.stderr.write(`\r\x1b[2K${progressText(p)}`);
      else if (p.wallMs - lastLineMs >= 10_000 || p.seedsDone === p.seedsTotal) {
        lastLineMs = p.wallMs;
        process.stderr.write(`${progressText(p)}\n`);
      }
    },
  }).catch((error: Error) => error);
  if (tty) process.stderr.write('\r\x1b[2K');
  if (summary instanceof Error) {
    process.stderr.write(`conclave sim hub: ${summary.message}\n`);
    return 2;
  }
  const json = jsonOfHub(summary, pins);
  if (flags.out) writeFileSync(flags.out, JSON.stringify(json) + '\n');
  if (flags.json) process.stdout.write(JSON.stringify(json) + '\n');
  else process.stdout.write(humanHub(summary, pins, flags.codec));
  if (summary.lost.length > 0) return 3;
  return summary.failed > 0 ? 1 : 0;
}

/** `[####....]  45% 4,500/10,000 seeds · 12 failed (2 unique) · 3 workers: w1 210/s, w2 198/s · ETA 30s`. */
export function progressText(p: HubProgress, width = 20): string {
  const done = p.seedsDone + p.seedsInFlight;
  const ratio = p.seedsTotal > 0 ? Math.min(1, done / p.seedsTotal) : 1;
  const filled = Math.round(ratio * width);
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const rate = p.wallMs > 0 ? (done * 1000) / p.wallMs : 0;
  const rates = Object.entries(p.workers)
    .map(([name, w]) => `${name} ${n(w.seedsPerSec)}/s`)
    .join(', ');
  return (
    `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}% ` +
    `${n(done)}/${n(p.seedsTotal)} seeds · ${n(p.failed)} failed (${p.unique} unique) · ` +
    `${p.workersConnected} worker${p.workersConnected === 1 ? '' : 's'}${rates ? `: ${rates}` : ''} · ` +
    `${n(rate)} seeds/s · ETA ${formatEta(rate > 0 ? ((p.seedsTotal - done) / rate) * 1000 : NaN)}` +
    (p.retried > 0 ? ` · ${p.retried} batch${p.retried === 1 ? '' : 'es'} retried` : '')
  );
}

export function jsonOfHub(s: HubSummary, pins: Readonly<Record<string, string>>): Record<string, unknown> {
  return {
    ...jsonOf(s, pins),
    sweep: s.sweep,
    queue: s.queue,
    unique: s.unique,
    workers: s.workers,
    retried: s.retried,
    lost: s.lost,
  };
}

function humanHub(s: HubSummary, pins: Readonly<Record<string, string>>, codec: boolean): string {
  const out: string[] = [];
  for (const u of s.unique) {
    out.push(
      `FAIL ${u.fingerprint}: ${u.seeds} seed${u.seeds === 1 ? '' : 's'} (${u.examples.join(', ')}${u.seeds > u.examples.length ? ', …' : ''})`,
    );
    out.push(`    replay: ${replayCommand(s.scenario, u.examples[0]!, pins)}${codec ? '' : ' --no-codec'}`);
    if (u.replayFile) out.push(`    replay file: ${u.replayFile} (conclave sim replay / shrink / report)`);
    if (u.schedule) {
      const shown = u.schedule.slice(0, 8).join('; ') + (u.schedule.length > 8 ? '; …' : '');
      out.push(
        `    ${u.minimal ? 'shrunk' : 'partly shrunk (budget spent)'} to ${u.schedule.length} fault${u.schedule.length === 1 ? '' : 's'}: ${shown || '(none)'}`,
      );
    }
  }
  for (const l of s.lost) out.push(`LOST batch ${l.range}: ${l.reason}`);
  for (const [name, w] of Object.entries(s.workers))
    out.push(`    worker ${name}: ${w.batches} batches, ${w.seeds} seeds, ${w.seedsPerSec} seeds/s`);
  out.push(
    `--- ${s.scenario} seeds ${s.range} (sweep ${s.sweep}): ${s.passed} passed, ${s.failed} failed (${s.unique.length} unique) in ${(s.wallMs / 1000).toFixed(1)} s ` +
      `(${s.seedsPerSec.toFixed(1)} seeds/s on ${s.jobs} worker${s.jobs === 1 ? '' : 's'}${s.retried > 0 ? `, ${s.retried} batches retried` : ''})`,
  );
  return out.join('\n') + '\n';
}

export interface WorkerFlags {
  redis: string;
  jobs: number;
  name: string;
  lockMs: number;
}

export function parseWorkerFlags(args: string[]): WorkerFlags | string {
  const flags: WorkerFlags = {
    redis: redisDefault,
    jobs: Math.max(1, availableParallelism()),
    name: defaultWorkerName(),
    lockMs: lockMsDefault,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-')) return `unexpected argument '${arg}'`;
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const flag = eq < 0 ? body : body.slice(0, eq);
    const v = eq >= 0 ? body.slice(eq + 1) : args[++i];
    if (flag === 'redis') {
      if (!v) return '--redis needs a URL such as redis://127.0.0.1:6379';
      flags.redis = v;
    } else if (flag === 'jobs' || flag === 'j') {
      if (v === undefined || !/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 256)
        return `--jobs needs an integer from 1 to 256, got '${v ?? ''}'`;
      flags.jobs = Number(v);
    } else if (flag === 'name') {
      if (!v || !/^[A-Za-z0-9_.-]{1,64}$/.test(v))
        return `--name needs 1–64 letters, digits, '.', '_' or '-', got '${v ?? ''}'`;
      flags.name = v;
    } else if (flag === 'lock') {
      const ms = v === undefined ? null : parseDurationMs(v);
      if (ms === null || ms < 1000) return `--lock needs a duration of at least 1s, got '${v ?? ''}'`;
      flags.lockMs = ms;
    } else return `unknown flag '${arg}'${didYouMean(flag, ['redis', 'jobs', 'name', 'lock'], '--')}`;
  }
  return flags;
}

export async function runSimWorker(args: string[]): Promise<number> {
  const flags = parseWorkerFlags(args);
  if (typeof flags === 'string') {
    process.stderr.write(`conclave sim worker: ${flags}\n\n${workerUsage}`);
    return 2;
  }
  const { redis, jobs, name, lockMs } = flags;
  let connection;
  try {
    connection = redisConnection(redis);
  } catch (error) {
    process.stderr.write(`conclave sim worker: ${(error as Error).message}\n`);
    return 2;
  }
  const log = (line: string): void => void process.stdout.write(`${new Date().toISOString()} ${name}: ${line}\n`);
  const worker = await startWorker({ connection, jobs, name, lockMs, log });
  log(`waiting for batches on queue ${worker.queue} at ${redis} (${jobs} seed thread${jobs === 1 ? '' : 's'})`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log(`${signal}: finishing the batch in hand, then exiting`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await worker.close();
  log('stopped');
  return 0;
}
