/**
 * Loading and running scenario files: the one path every entry point uses (`conclave sim run`,
 * `npm start`, the explorer, the TUI, tests). Errors about the file name the file, the line or the
 * parameter, and what is wrong; they are `ScenarioError`s, never stack traces.
 */
import { readFileSync } from 'node:fs';
import type { Harness } from './harness.js';
import { loadHarness, harnessNames } from './harnesses/index.js';
import { builtinActions, parseScenario, ScenarioError, type Scenario } from './scenario.js';
import { didYouMean } from './suggest.js';
import { Simulation, type RunResult, type SimOptions } from './engine/simulation.js';
import { numericFaultKnobs } from './engine/nemesis.js';

export interface LoadedScenario {
  readonly scenario: Scenario;
  readonly harness: Harness;
}

export async function loadScenario(path: string): Promise<LoadedScenario> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ScenarioError(
      path,
      0,
      `cannot read the file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  return loadScenarioText(text, path);
}

export async function loadScenarioText(text: string, path: string): Promise<LoadedScenario> {
  const scenario = parseScenario(text, path);
  const harness = await loadHarness(scenario.protocol);
  if (!harness)
    throw new ScenarioError(
      path,
      lineOf(text, /^\s*protocol\b/m),
      `unknown protocol '${scenario.protocol}' (known: ${harnessNames.join(', ')})`,
    );
  for (const key of Object.keys(scenario.params)) {
    if (!(key in harness.params)) {
      const known = Object.keys(harness.params).join(', ') || 'none';
      throw new ScenarioError(
        path,
        lineOf(text, new RegExp(`^\\s*set\\s+${escape(key)}\\b`, 'm')),
        `unknown parameter '${key}' for protocol ${harness.name}${didYouMean(key, Object.keys(harness.params))} (known: ${known})`,
      );
    }
  }
  for (const problem of harness.validate?.(scenario) ?? []) {
    // Problems that name a parameter (`set KEY: ...`) point at its line.
    const key = /^set (\S+):/.exec(problem)?.[1];
    throw new ScenarioError(
      path,
      key === undefined ? 0 : lineOf(text, new RegExp(`^\\s*set\\s+${escape(key)}\\b`, 'm')),
      problem,
    );
  }
  for (const event of scenario.timeline) {
    if (isBuiltin(event.action)) continue;
    let problem = harness.act ? harness.act(null, event.action, event.args) : `unknown action '${event.action}'`;
    if (problem?.startsWith('unknown action')) {
      // Harnesses list their own actions as "(raft knows: a, b, c)"; suggest from those and the built-ins.
      const own = /knows: ([^)]*)\)/.exec(problem)?.[1]?.split(/,\s*/) ?? [];
      problem += didYouMean(event.action, [...builtinActions, ...own]);
    }
    if (problem) throw new ScenarioError(path, event.line, problem);
  }
  return { scenario, harness };
}

export function runLoaded(loaded: LoadedScenario, seed: number, options: SimOptions = {}): RunResult {
  return new Simulation(loaded.scenario, loaded.harness, seed, options).run();
}

export async function runScenarioFile(path: string, seed: number, options: SimOptions = {}): Promise<RunResult> {
  return runLoaded(await loadScenario(path), seed, options);
}

/** The one command that replays a run, printed with every failure (with the `--knob` pins it ran with). */
export function replayCommand(scenarioFile: string, seed: number, pins: Readonly<Record<string, string>> = {}): string {
  const knobs = Object.entries(pins).map(([key, value]) => ` --knob ${key}=${value}`);
  return `node bin/conclave.js sim run ${scenarioFile} --seed ${seed}${knobs.join('')}`;
}

/**
 * Adds one `--knob KEY=VALUE` to `pins`, or says what is wrong: the key must be a fault knob
 * (`tornWritePercent`, ...) or one of the harness's parameters, and the scenario with every protocol
 * pin laid over it must still validate.
 */
export function addKnobPin(loaded: LoadedScenario, pins: Record<string, string>, text: string): string | null {
  const eq = text.indexOf('=');
  if (eq <= 0) return `--knob needs KEY=VALUE, got '${text}'`;
  const key = text.slice(0, eq);
  const value = text.slice(eq + 1);
  const isFault = (numericFaultKnobs as readonly string[]).includes(key);
  if (isFault && !Number.isFinite(Number(value))) return `--knob ${key}: '${value}' is not a number`;
  if (!isFault && !(key in loaded.harness.params))
    return `--knob ${key}: not a fault knob (${numericFaultKnobs.join(', ')}) nor a parameter of protocol ${loaded.harness.name} (${Object.keys(loaded.harness.params).join(', ')})`;
  pins[key] = value;
  const params = { ...loaded.scenario.params };
  for (const [k, v] of Object.entries(pins)) if (!(numericFaultKnobs as readonly string[]).includes(k)) params[k] = v;
  const problems = loaded.harness.validate?.({ ...loaded.scenario, params }) ?? [];
  return problems.length > 0 ? `--knob ${text}: ${problems.join('; ')}` : null;
}

function isBuiltin(action: string): boolean {
  return builtinActions.has(action);
}

function lineOf(text: string, pattern: RegExp): number {
  const match = pattern.exec(text);
  if (!match) return 0;
  return text.slice(0, match.index).split('\n').length;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
