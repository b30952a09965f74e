/**
 * Worker-thread entry of the scenario runner (sim/scenarios-run.ts): runs one scenario file with one
 * seed, exactly as `conclave sim run` does, and posts the verdict. One worker per scenario, so a
 * scenario that runs too long can be stopped (terminated) without stopping the others.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadScenario } from '../run.js';
import { ScenarioError } from '../scenario.js';
import { Simulation } from '../engine/simulation.js';

const { file, seed } = workerData as { file: string; seed: number | null };
try {
  const loaded = await loadScenario(file);
  const sim = new Simulation(loaded.scenario, loaded.harness, seed ?? loaded.scenario.seed, {});
  const result = sim.run();
  // Every `expect` line is checked here again, after a passing run, so that a passing row means the
  // expectations held whichever simulator runs it (until d536a2e the simulator skipped them on runs
  // that recovered early). Falsy answers are "met", as the simulator reads them.
  const unmet: string[] = [];
  if (result.result === 'pass') {
    for (const e of loaded.scenario.expectations) {
      if (e.name === 'liveness' || e.name === 'pass') continue;
      // Not `expect?.(…) ?? 'unknown'`: a met expectation answers null, which `??` would turn into a failure.
      const problem = loaded.harness.expect
        ? loaded.harness.expect(sim, e.name, e.args)
        : `unknown expectation '${e.name}' (the harness has none)`;
      if (problem) unmet.push(`expect ${e.name} (line ${e.line}): ${problem}`);
    }
  }
  parentPort!.postMessage({
    ok: true,
    protocol: loaded.scenario.protocol,
    nodes: loaded.scenario.nodes.length,
    story: loaded.scenario.story,
    seed: result.seed,
    trace: result.trace,
    result: unmet.length > 0 ? 'fail' : result.result,
    simulatedMs: result.simulatedMs,
    wallMs: result.wallMs,
    events: result.events,
    violations: [...result.violations, ...unmet],
  });
} catch (error) {
  parentPort!.postMessage({
    ok: false,
    error:
      error instanceof ScenarioError
        ? error.message
        : error instanceof Error
          ? (error.stack ?? error.message)
          : String(error),
  });
}
