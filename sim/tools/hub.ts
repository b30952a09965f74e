/**
 * Exploration on many machines through an existing job queue: BullMQ on Redis.
 *
 * The hub (`conclave sim hub`) cuts a seed range into batches and puts one job per batch on a queue;
 * workers (`conclave sim worker`, on any number of machines) pull batches, run their seeds with the
 * explorer, shrink the first failure of each property, and return the batch's totals, its failing
 * seeds and their replay files. The queue — not our code — gives the guarantees a sweep needs:
 *
 * - **Nothing lost.** A worker holds a lock on its batch and renews it from its main thread (the
 *   seeds run on worker threads, so a long seed never starves the renewal). A worker killed mid-batch
 *   stops renewing; the others' stalled-job check puts the batch back on the queue, and another
 *   worker runs it whole.
 * - **Nothing counted twice.** The hub counts a batch only from its completed job record (one per
 *   job id); the killed worker's partial progress is never added. A batch's result must cover its
 *   seeds exactly, or the hub refuses it.
 * - **Resumable.** Job ids are derived from the sweep (code version, scenario text, knobs, range,
 *   batch size), so a restarted hub adds nothing new and picks up the results already there.
 * - **One code version per queue.** The queue's name carries the code fingerprint (`codeVersion`),
 *   so a worker built from other code never takes a batch whose traces it could not reproduce.
 *
 * Failures are deduplicated by their property and a fingerprint of the shrunk schedule: the kinds of
 * fault the minimal run still needs, node names and times left out (`liveness · crash,restart`).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Worker as Thread } from 'node:worker_threads';
import { Queue, QueueEvents, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { explore, formatRange, threadEntry, type ExploreSummary, type SeedRange } from './explore.js';
import { codeVersion, readReplay, replayFileName, writeReplay, type ReplayFile } from './replay.js';
import { propertyOf } from './shrink.js';

/** Seeds per batch unless the hub is told otherwise. */
export const batchSeedsDefault = 200;
/** How long a worker's lock on a batch lasts without renewal (BullMQ renews it at half of that). */
export const lockMsDefault = 30_000;
/** Failing seeds per batch whose replay files travel back to the hub (the counts are always exact). */
export const replaysPerBatchMax = 10;
/** Attempts of a batch whose runner crashed (a stalled batch does not use these up). */
const attemptsMax = 3;

export function queueName(version = codeVersion()): string {
  return `conclave-sim-${version}`;
}

/** `redis://[:password@]host[:port][/db]` → BullMQ's connection options. */
export function redisConnection(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--redis: '${url}' is not a URL (expected redis://host:port)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new Error(`--redis: '${url}' is not a redis:// or rediss:// URL`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new Error(`--redis: database '${u.pathname.slice(1)}' is not a number`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    // BullMQ's blocking commands must not give up after a few retries while Redis restarts.
    maxRetriesPerRequest: null,
  };
}

/** What a batch job carries: everything a worker on another machine needs (no shared files). */
export interface BatchJob {
  readonly sweep: string;
  readonly scenarioFile: string;
  readonly scenarioText: string;
  readonly from: number;
  readonly to: number;
  readonly codec: boolean;
  readonly pins: Readonly<Record<string, string>>;
  /** Wall-time budget to shrink the first failure of each property in the batch; 0: do not shrink. */
  readonly shrinkBudgetMs: number;
}

/** A failing seed as a batch reports it. */
export interface BatchFailure {
  readonly seed: number;
  readonly trace: string;
  readonly violations: readonly string[];
  readonly property: string;
  /** The replay file's contents (at most `replaysPerBatchMax` per batch carry one). */
  readonly replay?: ReplayFile;
  /** Set on the failure the worker shrank: the faults its minimal run still needs. */
  readonly shrunk?: ShrunkSummary;
}

export interface ShrunkSummary {
  /**
   * `property · fault kinds`, the deduplication key — only when the shrinker reached its fixpoint (a
   * schedule cut short by the time budget still carries faults the bug does not need); else null.
   */
  readonly fingerprint: string | null;
  readonly faults: number;
  /** The minimal schedule's timeline lines (`at 1.2s crash n2`). */
  readonly schedule: readonly string[];
  readonly runs: number;
  /** Why the shrinker stopped: at its fixpoint (nothing more can go), or out of time or runs. */
  readonly stoppedBy: 'fixpoint' | 'time' | 'runs';
}

export interface BatchResult {
  readonly worker: string;
  readonly from: number;
  readonly to: number;
  readonly passed: number;
  readonly failed: number;
  readonly failingSeeds: readonly number[];
  readonly simulatedMs: number;
  readonly wallMs: number;
  readonly events: number;
  readonly messages: number;
  readonly failures: readonly BatchFailure[];
}

/** The sweep's id: the same sweep (code, scenario, knobs, seeds, batches) gets the same job ids. */
export function sweepId(parts: {
  scenarioText: string;
  range: SeedRange;
  batch: number;
  codec: boolean;
  pins: Readonly<Record<string, string>>;
  version?: string;
}): string {
  const h = createHash('sha256');
  h.update(
    JSON.stringify([
      parts.version ?? codeVersion(),
      parts.scenarioText,
      formatRange(parts.range),
      parts.batch,
      parts.codec,
      Object.entries(parts.pins).sort(),
    ]),
  );
  return h.digest('hex').slice(0, 12);
}

/** The batches of a range: contiguous, in order, each at most `size` seeds. */
export function batchesOf(range: SeedRange, size: number): SeedRange[] {
  const out: SeedRange[] = [];
  for (let from = range.from; from <= range.to; from += size)
    out.push({ from, to: Math.min(range.to, from + size - 1) });
  return out;
}

export function jobIdOf(sweep: string, batch: SeedRange): string {
  return `${sweep}-${batch.from}-${batch.to}`;
}

/**
 * The deduplication key of a shrunk failure: its property and the sorted kinds of fault its minimal
 * schedule still needs (node names, times and amounts left out, so the same bug met on other nodes or
 * at other moments is one entry).
 */
export function fingerprintOf(property: string, schedule: readonly string[]): string {
  const kinds = [...new Set(schedule.map((line) => line.replace(/^at\s+\S+\s+/, '').split(/\s+/)[0]!))].sort();
  return `${property} · ${kinds.length > 0 ? kinds.join(',') : 'no fault'}`;
}

// --- the worker ---------------------------------------------------------------------------------

export interface WorkerOptions {
  readonly connection: ConnectionOptions;
  /** Seed threads per batch. */
  readonly jobs: number;
  readonly name: string;
  readonly lockMs: number;
  /** Called with one line per batch started and finished (for the worker's log). */
  readonly log: (line: string) => void;
}

export function defaultWorkerName(): string {
  return `${hostname()}-${process.pid}`;
}

/** Starts a worker; resolves once it is connected. `close()` lets the batch in hand finish first. */
export async function startWorker(options: WorkerOptions): Promise<{ close(): Promise<void>; queue: string }> {
  const scratch = join(tmpdir(), `conclave-worker-${process.pid}`);
  const name = queueName();
  const worker = new Worker<BatchJob, BatchResult>(name, (job) => runBatch(job, options, scratch), {
    connection: options.connection,
    concurrency: 1,
    lockDuration: options.lockMs,
    stalledInterval: Math.max(1000, Math.floor(options.lockMs / 2)),
    // A batch stalls only when its worker died; let it be picked up again several times.
    maxStalledCount: 10,
    name: options.name,
  });
  worker.on('error', (error) => options.log(`worker error: ${error.message}`));
  await worker.waitUntilReady();
  return {
    queue: name,
    close: async () => {
      await worker.close();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

async function runBatch(
  job: Job<BatchJob, BatchResult>,
  options: WorkerOptions,
  scratch: string,
): Promise<BatchResult> {
  const data = job.data;
  const range = { from: data.from, to: data.to };
  options.log(`batch ${formatRange(range)} of sweep ${data.sweep} (${data.scenarioFile}) started`);
  // The scenario travels in the job; the explorer reads it from a file of the same name.
  const dir = join(scratch, data.sweep);
  const replayDir = join(dir, `replays-${job.id}-${job.attemptsStarted}`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, basename(data.scenarioFile));
  writeFileSync(path, data.scenarioText);
  let lastProgressMs = 0;
  const summary = await explore({
    scenarioPath: path,
    range,
    jobs: options.jobs,
    offThread: true,
    runner: {
      replayDir,
      fast: !data.codec,
      ...(Object.keys(data.pins).length > 0 ? { pins: data.pins } : {}),
    },
    failuresKeptMax: data.to - data.from + 1,
    onSeed: (_r, p) => {
      if (p.wallMs - lastProgressMs < 1000) return;
      lastProgressMs = p.wallMs;
      void job.updateProgress({ done: p.done, total: p.total, failed: p.failed, worker: options.name });
    },
  });
  const failures: BatchFailure[] = [];
  const shrunkProperties = new Set<string>();
  for (const f of summary.failures) {
    const property = propertyOf(f.violations[0] ?? 'violation');
    let replay: ReplayFile | undefined;
    if (f.replayFile && failures.filter((x) => x.replay).length < replaysPerBatchMax)
      replay = { ...readReplay(f.replayFile), scenarioFile: data.scenarioFile };
    let shrunk: ShrunkSummary | undefined;
    if (replay && data.shrinkBudgetMs > 0 && !shrunkProperties.has(property)) {
      shrunkProperties.add(property);
      shrunk = (await shrinkOffThread(replay, data.shrinkBudgetMs)) ?? undefined;
    }
    failures.push({
      seed: f.seed,
      trace: f.trace,
      violations: f.violations,
      property,
      ...(replay ? { replay } : {}),
      ...(shrunk ? { shrunk } : {}),
    });
  }
  rmSync(replayDir, { recursive: true, force: true });
  options.log(
    `batch ${formatRange(range)} done: ${summary.passed} passed, ${summary.failed} failed in ${(summary.wallMs / 1000).toFixed(1)} s`,
  );
  return {
    worker: options.name,
    from: data.from,
    to: data.to,
    passed: summary.passed,
    failed: summary.failed,
    failingSeeds: summary.failingSeeds,
    simulatedMs: summary.simulatedMs,
    wallMs: summary.wallMs,
    events: summary.events,
    messages: summary.messages,
    failures,
  };
}

/** Shrinks on a worker thread, so the worker's main thread keeps renewing its lock. Null: it did not shrink. */
function shrinkOffThread(replay: ReplayFile, budgetMs: number): Promise<ShrunkSummary | null> {
  return new Promise((resolve) => {
    const thread = new Thread(threadEntry('hub-shrink-thread'), { workerData: { replay, budgetMs } });
    let result: ShrunkSummary | null = null;
    thread.on('message', (msg: ShrunkSummary | null) => (result = msg));
    thread.on('error', () => resolve(null));
    thread.on('exit', () => resolve(result));
  });
}

// --- the hub ------------------------------------------------------------------------------------

export interface HubOptions {
  readonly connection: ConnectionOptions;
  readonly scenarioFile: string;
  readonly range: SeedRange;
  readonly batch: number;
  readonly codec: boolean;
  readonly pins: Readonly<Record<string, string>>;
  readonly shrinkBudgetMs: number;
  /** Where replay files of failing seeds are written. */
  readonly replayDir: string | null;
  readonly onProgress?: (p: HubProgress) => void;
  /** How often the hub re-reads the state of unfinished batches (besides the queue's events). */
  readonly pollMs?: number;
}

export interface WorkerStats {
  readonly batches: number;
  readonly seeds: number;
  /** Seeds per second of busy time (the sum of its batches' wall times). */
  readonly seedsPerSec: number;
}

export interface HubProgress {
  readonly sweep: string;
  readonly queue: string;
  readonly batches: number;
  readonly batchesDone: number;
  readonly seedsDone: number;
  readonly seedsTotal: number;
  readonly failed: number;
  readonly unique: number;
  readonly workersConnected: number;
  readonly workers: Readonly<Record<string, WorkerStats>>;
  /** Seeds of batches being run right now, as their workers last reported. */
  readonly seedsInFlight: number;
  readonly wallMs: number;
  /** Batches that were started more than once (a worker died or its runner crashed). */
  readonly retried: number;
}

export interface UniqueFailure {
  readonly fingerprint: string;
  readonly property: string;
  /** How many failing seeds share it, and the first few. */
  readonly seeds: number;
  readonly examples: readonly number[];
  /** The shrunk schedule, when a worker shrank one of them, and whether that reached its fixpoint. */
  readonly schedule: readonly string[] | null;
  readonly minimal: boolean;
  /** A replay file of one of them, written by the hub. */
  readonly replayFile: string | null;
}

/** The `sim explore --json` fields (so `sim merge` adds hub results to shard results), and the hub's own. */
export interface HubSummary extends ExploreSummary {
  readonly sweep: string;
  readonly queue: string;
  readonly unique: readonly UniqueFailure[];
  readonly workers: Readonly<Record<string, WorkerStats>>;
  readonly retried: number;
  /** Batches that failed for good (their runner crashed every attempt): their seeds are not counted. */
  readonly lost: readonly { range: string; reason: string }[];
}

/** Puts the sweep's batches on the queue (again: no-op for those already there) and waits for every one. */
export async function runHub(options: HubOptions): Promise<HubSummary> {
  const started = performance.now();
  const scenarioText = readFileSync(options.scenarioFile, 'utf8');
  const sweep = sweepId({ scenarioText, ...options });
  const name = queueName();
  const queue = new Queue<BatchJob, BatchResult>(name, { connection: options.connection });
  const events = new QueueEvents(name, { connection: options.connection });
  const batches = batchesOf(options.range, options.batch);
  const pending = new Map(batches.map((b) => [jobIdOf(sweep, b), b]));
  const results = new Map<string, BatchResult>();
  const lost: { range: string; reason: string }[] = [];
  const inFlight = new Map<string, number>();
  const retried = new Set<string>();
  const seedsTotal = options.range.to - options.range.from + 1;
  const uniqueKeys = new Set<string>();
  let failed = 0;
  let workersConnected = 0;

  const workers: Record<string, { batches: number; seeds: number; busyMs: number }> = {};
  const accept = (id: string, result: BatchResult): void => {
    const batch = pending.get(id);
    if (!batch) return; // already counted (an event and a poll can both see it)
    const seeds = batch.to - batch.from + 1;
    if (result.from !== batch.from || result.to !== batch.to || result.passed + result.failed !== seeds)
      throw new Error(`batch ${id} reported ${result.passed}+${result.failed} seeds of ${result.from}..${result.to}`);
    pending.delete(id);
    inFlight.delete(id);
    results.set(id, result);
    failed += result.failed;
    for (const f of result.failures) uniqueKeys.add(f.shrunk?.fingerprint ?? f.property);
    const w = (workers[result.worker] ??= { batches: 0, seeds: 0, busyMs: 0 });
    w.batches++;
    w.seeds += seeds;
    w.busyMs += result.wallMs;
  };
  const progress = (): HubProgress => {
    let seedsDone = 0;
    for (const r of results.values()) seedsDone += r.to - r.from + 1;
    let seedsInFlight = 0;
    for (const n of inFlight.values()) seedsInFlight += n;
    return {
      sweep,
      queue: name,
      batches: batches.length,
      batchesDone: results.size,
      seedsDone,
      seedsTotal,
      failed,
      unique: uniqueKeys.size,
      workersConnected,
      workers: workerStats(workers),
      seedsInFlight,
      wallMs: performance.now() - started,
      retried: retried.size,
    };
  };

  try {
    await queue.waitUntilReady();
    await events.waitUntilReady();
    events.on('progress', ({ jobId, data }) => {
      if (pending.has(jobId) && typeof data === 'object' && data !== null && 'done' in data)
        inFlight.set(jobId, Number((data as { done: number }).done));
    });
    await queue.addBulk(
      batches.map((b) => ({
        name: 'batch',
        data: {
          sweep,
          scenarioFile: options.scenarioFile,
          scenarioText,
          from: b.from,
          to: b.to,
          codec: options.codec,
          pins: options.pins,
          shrinkBudgetMs: options.shrinkBudgetMs,
        },
        opts: {
          jobId: jobIdOf(sweep, b),
          attempts: attemptsMax,
          backoff: { type: 'fixed', delay: 1000 },
          removeOnComplete: false,
          removeOnFail: false,
        },
      })),
    );
    const pollMs = options.pollMs ?? 1000;
    while (pending.size > 0) {
      // The state of every unfinished batch, read from the queue (events can be missed across a hub
      // restart or a Redis reconnect; the job records cannot).
      for (const id of [...pending.keys()]) {
        const job = await queue.getJob(id);
        if (!job) throw new Error(`batch ${id} vanished from queue ${name} (was Redis flushed?)`);
        if (job.attemptsStarted > 1 || (job.stalledCounter ?? 0) > 0) retried.add(id);
        if (job.finishedOn && job.returnvalue) accept(id, job.returnvalue);
        else if (job.finishedOn && job.failedReason && job.attemptsMade >= attemptsMax) {
          const b = pending.get(id)!;
          pending.delete(id);
          lost.push({ range: formatRange(b), reason: job.failedReason });
        }
      }
      workersConnected = await queue.getWorkersCount();
      options.onProgress?.(progress());
      if (pending.size > 0) await new Promise((r) => setTimeout(r, pollMs));
    }
  } finally {
    await events.close();
    await queue.close();
  }
  return summarize(options, sweep, name, [...results.values()], workers, lost, progress());
}

function workerStats(workers: Record<string, { batches: number; seeds: number; busyMs: number }>) {
  const out: Record<string, WorkerStats> = {};
  for (const [name, w] of Object.entries(workers))
    out[name] = {
      batches: w.batches,
      seeds: w.seeds,
      seedsPerSec: w.busyMs > 0 ? Math.round((w.seeds * 10_000) / w.busyMs) / 10 : 0,
    };
  return out;
}

function summarize(
  options: HubOptions,
  sweep: string,
  queue: string,
  results: readonly BatchResult[],
  workers: Record<string, { batches: number; seeds: number; busyMs: number }>,
  lost: readonly { range: string; reason: string }[],
  last: HubProgress,
): HubSummary {
  const sum = (f: (r: BatchResult) => number): number => results.reduce((a, r) => a + f(r), 0);
  const seeds = sum((r) => r.to - r.from + 1);
  const failures = results.flatMap((r) => r.failures).sort((a, b) => a.seed - b.seed);
  const groups = new Map<string, BatchFailure[]>();
  // A failure that was not shrunk joins the group of a shrunk one with its property, if there is one.
  const fingerprintOfProperty = new Map<string, string>();
  for (const f of failures) if (f.shrunk?.fingerprint) fingerprintOfProperty.set(f.property, f.shrunk.fingerprint);
  for (const f of failures) {
    const key = f.shrunk?.fingerprint ?? fingerprintOfProperty.get(f.property) ?? f.property;
    const g = groups.get(key) ?? [];
    g.push(f);
    groups.set(key, g);
  }
  const written = new Map<number, string>();
  const write = (f: BatchFailure): string | null => {
    if (!f.replay || options.replayDir === null) return null;
    const name = basename(options.scenarioFile).replace(/\.[^.]+$/, '');
    const path = writeReplay(f.replay, join(options.replayDir, replayFileName(name, f.seed)));
    written.set(f.seed, path);
    return path;
  };
  const unique: UniqueFailure[] = [...groups.entries()].map(([fingerprint, g]) => {
    const shrunk = g.find((f) => f.shrunk);
    const withReplay = shrunk?.replay ? shrunk : g.find((f) => f.replay);
    return {
      fingerprint,
      property: g[0]!.property,
      seeds: g.length,
      examples: g.slice(0, 5).map((f) => f.seed),
      schedule: shrunk?.shrunk?.schedule ?? null,
      minimal: shrunk?.shrunk?.stoppedBy === 'fixpoint',
      replayFile: withReplay ? write(withReplay) : null,
    };
  });
  for (const f of failures) if (f.replay && !written.has(f.seed)) write(f);
  const wallMs = last.wallMs;
  return {
    sweep,
    queue,
    scenario: options.scenarioFile,
    seeds,
    passed: sum((r) => r.passed),
    failed: sum((r) => r.failed),
    failingSeeds: results.flatMap((r) => r.failingSeeds).sort((a, b) => a - b),
    simulatedMs: sum((r) => r.simulatedMs),
    wallMs,
    range: formatRange(options.range),
    shard: null,
    jobs: Object.keys(workers).length,
    seedsPerSec: wallMs > 0 ? (seeds * 1000) / wallMs : 0,
    events: sum((r) => r.events),
    messages: sum((r) => r.messages),
    failures: failures.map((f) => ({
      seed: f.seed,
      trace: f.trace,
      violations: f.violations,
      ...(written.has(f.seed) ? { replayFile: written.get(f.seed)! } : {}),
    })),
    unique: unique.sort((a, b) => b.seeds - a.seeds),
    workers: workerStats(workers),
    retried: last.retried,
    lost,
  };
}
