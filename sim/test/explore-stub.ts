/**
 * A stub seed runner for the explorer's own tests: no simulator, a pure function of the seed.
 * Seeds divisible by 97 "fail"; the work per seed is a little hashing so that parallelism shows.
 * The real runner is sim/explore-run.ts. (A test fixture: not built into dist/.)
 */
import type { RunnerOptions, SeedResult } from '../tools/explore.js';

export function runSeed(scenarioPath: string, seed: number, _options: RunnerOptions): SeedResult {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < 20_000; i++) h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) >>> 0;
  const fail = seed % 97 === 0;
  return {
    seed,
    trace: h.toString(16).padStart(16, '0'),
    result: fail ? 'fail' : 'pass',
    simulatedMs: 1000,
    wallMs: 0,
    events: 10,
    messages: 5,
    violations: fail ? [`stub: seed ${seed} is a multiple of 97 (${scenarioPath})`] : [],
  };
}
