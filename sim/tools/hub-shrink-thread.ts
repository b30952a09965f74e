/**
 * Worker-thread entry of the hub's workers (sim/tools/hub.ts): shrinks one failing replay within a
 * wall-time budget and posts its summary (or null when it could not), off the worker's main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { fingerprintOf, type ShrunkSummary } from './hub.js';
import type { ReplayFile } from './replay.js';
import { formatAtMs, keptActions, shrink } from './shrink.js';

const port = parentPort;
if (!port) throw new Error('sim/tools/hub-shrink-thread runs only as a worker thread');
const { replay, budgetMs } = workerData as { replay: ReplayFile; budgetMs: number };
let summary: ShrunkSummary | null = null;
try {
  const outcome = await shrink(replay, { timeBudgetMs: budgetMs });
  const schedule = keptActions(outcome.schedule, outcome.best).map((a) => `at ${formatAtMs(a.atMs)} ${a.action}`);
  summary = {
    fingerprint: outcome.stoppedBy === 'fixpoint' ? fingerprintOf(outcome.property, schedule) : null,
    faults: outcome.faults,
    schedule,
    runs: outcome.runs,
    stoppedBy: outcome.stoppedBy,
  };
} catch {
  summary = null; // the replay did not reproduce or the shrinker refused it: the failure stays unshrunk
}
port.postMessage(summary);
