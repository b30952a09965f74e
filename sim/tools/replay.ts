/**
 * Replay files: a small JSON file that reruns one simulation bit for bit.
 *
 * A run is a pure function of (scenario, seed, code). The file therefore carries the scenario's text
 * (so later edits to the scenario file do not change the replay), the seed, the knobs the nemesis
 * drew (pinned on replay, and readable by a human: which faults this seed used), a fingerprint of the
 * code (so a replay on changed code warns instead of silently differing), and the expected trace
 * hash and violations. Faults typed in the TUI are `at` lines appended to the scenario text.
 *
 * Written by `conclave sim explore` for failing seeds, by the TUI's `s` key, and by `sim shrink`;
 * read by `conclave sim replay`, `sim shrink` and `sim report`.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { assert } from '../../core/assert.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenarioText, type LoadedScenario } from '../run.js';
import { Simulation, type Knobs, type LogLine, type MessageHop, type RunResult } from '../engine/simulation.js';

export const replayFormat = 'conclave-replay';
export const replayVersion = 1;

export interface ReplayFile {
  readonly format: typeof replayFormat;
  readonly version: number;
  /** The scenario file's path when the run was made (for messages and the scenario's name). */
  readonly scenarioFile: string;
  /** The full scenario text that ran, interactive faults included. */
  readonly scenarioText: string;
  readonly seed: number;
  /** Whether messages crossed the msgpackr codec (it changes the trace). */
  readonly codec: boolean;
  /** The knobs drawn from the seed, pinned on replay. */
  readonly knobs: Knobs;
  /** Fingerprint of the simulator and protocol code (core/ and sim/ sources). */
  readonly codeVersion: string;
  /** What the run gave: replays must give the same. */
  readonly trace: string;
  readonly result: 'pass' | 'fail';
  readonly violations: readonly string[];
  readonly simulatedMs: number;
  /** Where it came from: explore, tui, shrink, run. */
  readonly origin: string;
  /** Faults typed in the TUI (already in `scenarioText`), for the reader. */
  readonly interactive?: readonly string[];
  readonly createdAt?: string;
}

/** The repository root (works from sources and from dist/). */
export function repoRoot(): string {
  // This file lives in sim/tools/ (or dist/sim/tools/): the root is the nearest folder above it that
  // holds package.json.
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    assert(parent !== dir, 'sim/tools/replay.ts is not inside the repository');
    dir = parent;
  }
  return dir;
}

let cachedCodeVersion: string | null = null;

/**
 * A fingerprint of the code a run depends on: the TypeScript sources of core/ and sim/ (tests
 * excluded), or the compiled JavaScript when the sources are not there. 12 hex digits.
 */
export function codeVersion(): string {
  if (cachedCodeVersion !== null) return cachedCodeVersion;
  const root = repoRoot();
  const hash = createHash('sha256');
  let files = 0;
  for (const top of ['core', 'sim']) {
    for (const base of [join(root, top), join(root, 'dist', top)]) {
      const found = listSources(base, base === join(root, top) ? '.ts' : '.js');
      if (found.length === 0) continue;
      for (const file of found) {
        hash.update(file.slice(base.length));
        hash.update(readFileSync(file));
        files++;
      }
      break;
    }
  }
  cachedCodeVersion = files === 0 ? 'unknown' : hash.digest('hex').slice(0, 12);
  return cachedCodeVersion;
}

function listSources(dir: string, ext: string): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (name === 'test' || name === 'node_modules') continue;
    if (statSync(path).isDirectory()) out.push(...listSources(path, ext));
    else if (name.endsWith(ext) && !/\.(test|prop\.test)\.[jt]s$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

export function makeReplay(fields: {
  scenarioFile: string;
  scenarioText: string;
  result: RunResult;
  codec: boolean;
  origin: string;
  interactive?: readonly string[];
}): ReplayFile {
  const r = fields.result;
  return {
    format: replayFormat,
    version: replayVersion,
    scenarioFile: fields.scenarioFile,
    scenarioText: fields.scenarioText,
    seed: r.seed,
    codec: fields.codec,
    knobs: r.knobs,
    codeVersion: codeVersion(),
    trace: r.trace,
    result: r.result,
    violations: r.violations,
    simulatedMs: r.simulatedMs,
    origin: fields.origin,
    ...(fields.interactive && fields.interactive.length > 0 ? { interactive: fields.interactive } : {}),
    createdAt: new Date().toISOString(),
  };
}

export function replayFileName(scenarioName: string, seed: number, suffix = ''): string {
  return `${scenarioName.replace(/[^A-Za-z0-9_.-]+/g, '_')}-seed${seed}${suffix}.replay.json`;
}

export function writeReplay(replay: ReplayFile, path: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(replay, null, 2) + '\n');
  return path;
}

export class ReplayFileError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'ReplayFileError';
  }
}

/** Reads and checks a replay file; errors name the file and the field. */
export function readReplay(path: string): ReplayFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ReplayFileError(
      path,
      `cannot read the file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ReplayFileError(path, `not JSON: ${(error as Error).message}`);
  }
  if (data === null || typeof data !== 'object' || data.format !== replayFormat)
    throw new ReplayFileError(path, `not a replay file (field 'format' must be '${replayFormat}')`);
  if (data.version !== replayVersion)
    throw new ReplayFileError(
      path,
      `replay format version ${String(data.version)} is not supported (this build reads ${replayVersion})`,
    );
  const need: [string, string][] = [
    ['scenarioFile', 'string'],
    ['scenarioText', 'string'],
    ['seed', 'number'],
    ['codec', 'boolean'],
    ['knobs', 'object'],
    ['codeVersion', 'string'],
    ['trace', 'string'],
    ['result', 'string'],
  ];
  for (const [field, type] of need)
    if (typeof data[field] !== type || data[field] === null)
      throw new ReplayFileError(path, `field '${field}' is missing or not a ${type}`);
  if (!Number.isSafeInteger(data.seed) || (data.seed as number) < 0)
    throw new ReplayFileError(path, `field 'seed' must be a non-negative integer`);
  const knobs = data.knobs as Record<string, unknown>;
  // Files written before the knobs were all percent (issue 20 §2) name the network fault knobs as ratios.
  for (const [legacy, key] of legacyRatioKnobs)
    if (typeof knobs[legacy] === 'number' && !(key in knobs)) {
      knobs[key] = (knobs[legacy] as number) * 100;
      delete knobs[legacy];
    }
  return data as unknown as ReplayFile;
}

const legacyRatioKnobs = [
  ['faultLossRatio', 'faultLossPercent'],
  ['faultDuplicateRatio', 'faultDuplicatePercent'],
  ['faultReorderRatio', 'faultReorderPercent'],
] as const;

export interface ReplayRun {
  readonly loaded: LoadedScenario;
  readonly result: RunResult;
  readonly sameTrace: boolean;
  readonly sameCode: boolean;
}

export interface ReplayHooks {
  readonly onLog?: (line: LogLine) => void;
  readonly onMessage?: (hop: MessageHop) => void;
  /** Called with the simulation before it runs (the report attaches observers). */
  readonly onSimulation?: (sim: Simulation) => void;
}

/** Reruns a replay file: the same scenario text, seed, knobs and codec setting. */
export async function replay(file: ReplayFile, hooks: ReplayHooks = {}): Promise<ReplayRun> {
  const loaded = await loadScenarioText(file.scenarioText, file.scenarioFile);
  const sim = new Simulation(loaded.scenario, loaded.harness, file.seed, {
    codec: file.codec,
    knobs: file.knobs,
    ...(hooks.onLog ? { onLog: hooks.onLog } : {}),
    ...(hooks.onMessage ? { onMessage: hooks.onMessage } : {}),
  });
  hooks.onSimulation?.(sim);
  const result = sim.run();
  return { loaded, result, sameTrace: result.trace === file.trace, sameCode: file.codeVersion === codeVersion() };
}

/** Where failing runs leave their replay files unless told otherwise (git-ignored). */
export const replayDirDefault = '.conclave/replays';

/**
 * For `conclave sim run` (and anything else that runs a scenario file): writes the replay file of a
 * run into `dir` and returns its path. The scenario text is read from the file now, so call it right
 * after the run.
 */
export function writeRunReplay(
  scenarioFile: string,
  result: RunResult,
  codec: boolean,
  dir: string = replayDirDefault,
  origin = 'run',
): string {
  const scenarioText = readFileSync(scenarioFile, 'utf8');
  const name = scenarioFile.replace(/^.*\//, '').replace(/\.[^.]*$/, '');
  return writeReplay(
    makeReplay({ scenarioFile, scenarioText, result, codec, origin }),
    join(dir, replayFileName(name, result.seed)),
  );
}
