/**
 * `npm run bench:explore`: the explorer's throughput — seeds per second on one worker thread and on
 * `jobs` (default: every core), over a short Raft scenario under the full swarm nemesis, plus the
 * speed-up. Last line: one JSON object.
 *
 *   npm run bench:explore -- [--scenario FILE] [--seeds N] [--jobs N]
 */
import { availableParallelism } from 'node:os';
import { explore } from '../sim/explore.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const scenarioPath = flag('scenario', 'scenarios/raft/explore-swarm-3.txt');
const seeds = Number(flag('seeds', '200'));
const jobs = Number(flag('jobs', String(availableParallelism())));

async function measure(j: number): Promise<{ seedsPerSec: number; simSpeedup: number; failed: number }> {
  const s = await explore({ scenarioPath, range: { from: 1, to: seeds }, jobs: j, runner: { replayDir: null } });
  return { seedsPerSec: s.seedsPerSec, simSpeedup: s.simulatedMs / s.wallMs, failed: s.failed };
}

const one = await measure(1);
process.stdout.write(`1 job:  ${one.seedsPerSec.toFixed(1)} seeds/s (${one.simSpeedup.toFixed(0)}× real time), ${one.failed} failed\n`);
const many = await measure(jobs);
process.stdout.write(`${jobs} jobs: ${many.seedsPerSec.toFixed(1)} seeds/s (${many.simSpeedup.toFixed(0)}× real time), ${many.failed} failed\n`);
process.stdout.write(
  JSON.stringify({
    scenario: scenarioPath,
    seeds,
    jobs,
    seedsPerSecOneJob: Math.round(one.seedsPerSec * 10) / 10,
    seedsPerSecAllJobs: Math.round(many.seedsPerSec * 10) / 10,
    parallelSpeedup: Math.round((many.seedsPerSec / one.seedsPerSec) * 100) / 100,
    simSpeedupAllJobs: Math.round(many.simSpeedup),
    failed: many.failed,
  }) + '\n',
);
