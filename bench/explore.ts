/**
 * `npm run bench:explore`: the explorer's throughput — seeds per second on one worker thread and on
 * `jobs` (default: every core), over a short Raft scenario under the full swarm nemesis, plus the
 * speed-up. Last line: one JSON object.
 *
 *   npm run bench:explore -- [--scenario FILE] [--seeds N] [--jobs N]
 */
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import type * as ExploreModule from '../sim/tools/explore.js';

// The compiled explorer (dist/, as `conclave sim explore` runs it) when built: its workers load
// JavaScript; from the TypeScript sources every worker would first transpile the simulator.
const compiled = new URL('../dist/sim/tools/explore.js', import.meta.url);
const { explore } = (await import(
  existsSync(compiled) ? compiled.href : '../sim/tools/explore.js'
)) as typeof ExploreModule;
process.stdout.write(
  `explorer: ${existsSync(compiled) ? 'compiled (dist/)' : 'TypeScript sources (run npm run build for compiled numbers)'}\n`,
);

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const scenarioPath = flag('scenario', 'scenarios/raft/explore-swarm-3.txt');
const seeds = Number(flag('seeds', '200'));
const jobs = Number(flag('jobs', String(availableParallelism())));

/**
 * Wall-clock rates depend on what else the machine runs; CPU time does not (much). `seedsPerCpuSec`
 * is seeds per second of CPU consumed by this process and its worker threads: on an idle machine,
 * seeds/s on N cores ≈ N × seedsPerCpuSec.
 */
async function measure(
  j: number,
): Promise<{ seedsPerSec: number; seedsPerCpuSec: number; simSpeedup: number; failed: number }> {
  const cpu0 = process.cpuUsage();
  const s = await explore({ scenarioPath, range: { from: 1, to: seeds }, jobs: j, runner: { replayDir: null } });
  const cpu = process.cpuUsage(cpu0);
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  return {
    seedsPerSec: s.seedsPerSec,
    seedsPerCpuSec: seeds / cpuSec,
    simSpeedup: s.simulatedMs / s.wallMs,
    failed: s.failed,
  };
}

const one = await measure(1);
process.stdout.write(
  `1 job:  ${one.seedsPerSec.toFixed(1)} seeds/s (${one.simSpeedup.toFixed(0)}× real time), ${one.seedsPerCpuSec.toFixed(1)} seeds per CPU-second, ${one.failed} failed\n`,
);
const many = await measure(jobs);
process.stdout.write(
  `${jobs} jobs: ${many.seedsPerSec.toFixed(1)} seeds/s (${many.simSpeedup.toFixed(0)}× real time), ${many.seedsPerCpuSec.toFixed(1)} seeds per CPU-second, ${many.failed} failed\n`,
);
process.stdout.write(
  JSON.stringify({
    scenario: scenarioPath,
    seeds,
    jobs,
    seedsPerSecOneJob: Math.round(one.seedsPerSec * 10) / 10,
    seedsPerSecAllJobs: Math.round(many.seedsPerSec * 10) / 10,
    parallelSpeedup: Math.round((many.seedsPerSec / one.seedsPerSec) * 100) / 100,
    seedsPerCpuSecOneJob: Math.round(one.seedsPerCpuSec * 10) / 10,
    seedsPerCpuSecAllJobs: Math.round(many.seedsPerCpuSec * 10) / 10,
    loadAverage1m: Math.round(loadavg()[0]! * 10) / 10,
    simSpeedupAllJobs: Math.round(many.simSpeedup),
    failed: many.failed,
  }) + '\n',
);
