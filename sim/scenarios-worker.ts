/**
 * Worker-thread entry of the scenario runner (sim/scenarios-run.ts): runs one scenario file with one
 * seed, exactly as `conclave sim run` does, and posts the verdict. One worker per scenario, so a
 * scenario that runs too long can be stopped (terminated) without stopping the others.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadScenario, runLoaded } from './run.js';
import { ScenarioError } from './scenario.js';

const { file, seed } = workerData as { file: string; seed: number | null };
try {
  const loaded = await loadScenario(file);
  const result = runLoaded(loaded, seed ?? loaded.scenario.seed, {});
  parentPort!.postMessage({
    ok: true,
    protocol: loaded.scenario.protocol,
    nodes: loaded.scenario.nodes.length,
    story: loaded.scenario.story,
    seed: result.seed,
    trace: result.trace,
    result: result.result,
    simulatedMs: result.simulatedMs,
    wallMs: result.wallMs,
    events: result.events,
    violations: result.violations,
  });
} catch (error) {
  parentPort!.postMessage({ ok: false, error: error instanceof ScenarioError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error) });
}
