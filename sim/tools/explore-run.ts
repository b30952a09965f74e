/**
 * The explorer's real seed runner: one scenario file, one seed, the same options as `conclave sim run`
 * (so `sim run SCENARIO --seed N` reproduces any seed the explorer reports). A failing seed gets a
 * replay file when the explorer was given a replay directory.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunnerOptions, SeedResult } from './explore.js';
import { makeReplay, replayFileName, writeReplay } from './replay.js';
import { loadScenarioText, runLoaded, type LoadedScenario } from '../run.js';
import { numericFaultKnobs, type Knobs } from '../engine/nemesis.js';

const cache = new Map<string, { text: string; loaded: LoadedScenario }>();

async function load(path: string): Promise<{ text: string; loaded: LoadedScenario }> {
  let entry = cache.get(path);
  if (!entry) {
    const text = readFileSync(path, 'utf8');
    entry = { text, loaded: await loadScenarioText(text, path) };
    cache.set(path, entry);
  }
  return entry;
}

export async function runSeed(scenarioPath: string, seed: number, options: RunnerOptions): Promise<SeedResult> {
  const { text, loaded } = await load(scenarioPath);
  const codec = !options.fast;
  const result = runLoaded(loaded, seed, {
    codec,
    ...(options.coverage ? { coverage: true } : {}),
    ...(options.pins ? { pins: options.pins } : {}),
  });
  let replayFile: string | undefined;
  if (result.result === 'fail' && options.replayDir !== null) {
    const replay = makeReplay({ scenarioFile: scenarioPath, scenarioText: text, result, codec, origin: 'explore' });
    replayFile = writeReplay(replay, join(options.replayDir, replayFileName(loaded.scenario.name, seed)));
  }
  return {
    seed,
    trace: result.trace,
    result: result.result,
    simulatedMs: result.simulatedMs,
    wallMs: result.wallMs,
    events: result.events,
    messages: result.messages,
    violations: result.violations,
    ...(replayFile ? { replayFile } : {}),
    ...(result.coverage ? { coverage: result.coverage, knobs: pinnableKnobs(result.knobs) } : {}),
    ...(options.pins && Object.keys(options.pins).length > 0 ? { pins: options.pins } : {}),
  };
}

/** The knobs a seed ran with that `--knob` can pin: the protocol's, and the numeric fault knobs. */
export function pinnableKnobs(knobs: Knobs): Record<string, string> {
  const out: Record<string, string> = { ...knobs.protocol };
  for (const key of numericFaultKnobs) out[key] = String(knobs[key]);
  return out;
}
