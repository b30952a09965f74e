/**
 * The shrinker: from a failing replay file, the smallest run that still breaks the same property.
 *
 * 1. Record. The failing run is replayed with a log observer; every fault it suffered during the
 *    safety phase (from the swarm nemesis or the scenario's timeline) becomes an explicit timeline
 *    line (`at 2254.812ms crash n1`), and the nemesis is switched off. Protocol actions of the
 *    scenario's timeline (`at 3s transfer n2`) join the schedule too.
 * 2. Check that this explicit schedule still fails with the same property (with the knobs left to the
 *    scenario file, so the shrunk scenario file reproduces on its own; if that does not fail, with
 *    the recorded knobs pinned, so at least the shrunk replay file reproduces).
 * 3. Shrink with fast-check's shrinkers over a candidate (which faults of the schedule are kept, the
 *    safety phase's length — which bounds the workload — and the harness's count-like parameters such
 *    as `clients`): repeatedly take the first shrink candidate that still fails, until none does, the
 *    time budget is spent, or the evaluation budget is.
 *
 * "The same property" is the violation's signature: its text up to the first `:`, node prefixes
 * stripped ("liveness", "election safety", "linearizability"). `anyViolation` accepts any failure.
 */
import fc from 'fast-check';
import { loadScenarioText } from '../run.js';
import { Simulation, type Knobs, type LogLine, type RunResult } from '../engine/simulation.js';
import type { ReplayFile } from './replay.js';
import { builtinActions, type Scenario } from '../scenario.js';
import type { Harness } from '../harness.js';

/** A fault or action of the recorded schedule, as a scenario timeline line. */
export interface ScheduledAction {
  readonly atMs: number;
  /** `crash n1`, `partition n1 n2 | n3`, … (a timeline action and its arguments). */
  readonly action: string;
  /** Counted against the fault goal (protocol actions are not faults). */
  readonly isFault: boolean;
}

/** Converts a simulator fault sentence (sim/simulator.ts `fault()`) back into a timeline action. */
export function actionOfFaultLine(text: string, nowMs: number): string | null {
  let m: RegExpExecArray | null;
  if ((m = /^partition (.+)$/.exec(text))) return m[1]!.includes('|') ? `partition ${m[1]}` : `partition ${m[1]} |`;
  if ((m = /^one-way partition: (\S+) cannot reach (\S+)$/.exec(text))) return `oneway ${m[1]} ${m[2]}`;
  if (text === 'network healed') return 'heal';
  if ((m = /^link (\S+)→(\S+) clogged until (\d+(?:\.\d+)?) ms$/.exec(text)))
    return `clog ${m[1]} ${m[2]} ${Math.max(0, Number(m[3]) - nowMs).toFixed(3)}ms`;
  if ((m = /^(\S+) crashed \(/.exec(text))) return `crash ${m[1]}`;
  if ((m = /^(\S+) restarted$/.exec(text))) return `restart ${m[1]}`;
  if ((m = /^(\S+) paused$/.exec(text))) return `pause ${m[1]}`;
  if ((m = /^(\S+) resumed \(/.exec(text))) return `resume ${m[1]}`;
  if ((m = /^(\S+) clock jumped \+?(-?\d+(?:\.\d+)?) ms$/.exec(text))) return `jump ${m[1]} ${m[2]}ms`;
  if ((m = /^(\S+) clock drift set to (-?\d+(?:\.\d+)?) ppm$/.exec(text))) return `drift ${m[1]} ${m[2]}`;
  if ((m = /^network (loss=\S+ dup=\S+ reorder=\S+)$/.exec(text))) return `network ${m[1]}`;
  if ((m = /^bridge partition: (.+) \| (.+) with (\S+) seeing both$/.exec(text)))
    return `bridge ${m[3]} ${m[1]} | ${m[2]}`;
  if (text === 'majority ring partition') return 'ring';
  return null;
}

/** The signature of a violation: what property broke, without node names and numbers. */
export function propertyOf(violation: string, nodes: readonly string[] = []): string {
  let text = violation.trim();
  const nodeSet = new Set(nodes);
  for (;;) {
    const m = /^(\S+?): /.exec(text);
    if (!m || !(nodeSet.has(m[1]!) || /^n\d+$/.test(m[1]!))) break;
    text = text.slice(m[0].length);
  }
  // A scenario-file prefix (`file.txt:12: ...`) names where, not what.
  text = text.replace(/^\S+\.txt:\d+: /, '');
  const head = text.split(':')[0]!.trim();
  return head.replace(/\d+/g, '#').toLowerCase();
}

/** Formats a time for an `at` line with microsecond precision, so the schedule replays exactly. */
export function formatAtMs(ms: number): string {
  return `${+ms.toFixed(3)}ms`;
}

export interface Recorded {
  readonly schedule: ScheduledAction[];
  readonly result: RunResult;
}

/** Replays the file once and records its fault schedule (safety phase only). */
export async function recordSchedule(file: ReplayFile): Promise<Recorded> {
  const loaded = await loadScenarioText(file.scenarioText, file.scenarioFile);
  const schedule: ScheduledAction[] = [];
  let safety = true;
  const onLog = (line: LogLine): void => {
    if (line.kind === 'phase' && line.text.startsWith('safety phase over')) safety = false;
    if (!safety || line.kind !== 'fault') return;
    const action = actionOfFaultLine(line.text, line.atMs);
    if (action) schedule.push({ atMs: line.atMs, action, isFault: true });
  };
  const result = new Simulation(loaded.scenario, loaded.harness, file.seed, {
    codec: file.codec,
    knobs: file.knobs,
    onLog,
  }).run();
  for (const event of loaded.scenario.timeline) {
    if (!builtinActions.has(event.action))
      schedule.push({ atMs: event.atMs, action: [event.action, ...event.args].join(' '), isFault: false });
  }
  schedule.sort((a, b) => a.atMs - b.atMs);
  return { schedule, result };
}

/** One point of the search: which schedule entries at which times, how long a safety phase, which parameter values. */
export interface Candidate {
  /** Indexes into the recorded schedule. */
  readonly kept: readonly number[];
  /** The time of every schedule entry (the recorded one until the time pass moves it earlier). */
  readonly times: readonly number[];
  readonly safetyMs: number;
  readonly params: Readonly<Record<string, number>>;
}

/**
 * The scenario text for a candidate: the original text without its nemesis, duration and `at` lines,
 * then `nemesis none`, the new durations and parameters, and the kept schedule.
 */
export function candidateText(
  originalText: string,
  scenario: Scenario,
  schedule: readonly ScheduledAction[],
  c: Candidate,
  story: string | null = null,
  protocol: Readonly<Record<string, string>> = {},
): string {
  const kept = keptActions(schedule, c);
  const lines = originalText.split(/\r?\n/).filter((line) => {
    const t = line.replace(/\s#.*$/, '').trim();
    if (/^(nemesis|duration|at)\b/.test(t)) return false;
    const set = /^set\s+(\S+)/.exec(t);
    return !(set && (set[1]! in c.params || set[1]! in protocol));
  });
  while (lines.length > 0 && lines.at(-1)!.trim() === '') lines.pop();
  const out: string[] = [];
  if (story !== null) out.push(...story.split('\n').map((l) => `# ${l}`.trimEnd()));
  out.push(...(story !== null ? lines.filter((l) => !/^\s*#/.test(l) || l.trim() === '') : lines));
  out.push('nemesis none');
  out.push(`duration safety=${formatAtMs(c.safetyMs)} liveness=${formatAtMs(scenario.livenessMs)}`);
  for (const [key, value] of Object.entries(c.params)) out.push(`set ${key} ${value}`);
  // Without the nemesis nothing is drawn: the seed's protocol knobs become pinned parameters.
  for (const [key, value] of Object.entries(protocol)) if (!(key in c.params)) out.push(`set ${key} ${value}`);
  for (const s of kept) out.push(`at ${formatAtMs(s.atMs)} ${s.action}`);
  return out.join('\n') + '\n';
}

/** The kept actions at their (possibly moved) times, in time order, inside the safety phase. */
export function keptActions(schedule: readonly ScheduledAction[], c: Candidate): ScheduledAction[] {
  return [...new Set(c.kept)]
    .map((i) => ({ i, action: { ...schedule[i]!, atMs: c.times[i]! } }))
    .sort((a, b) => a.action.atMs - b.action.atMs || a.i - b.i)
    .map((x) => x.action)
    .filter((a) => a.atMs < c.safetyMs);
}

/** Harness parameters that count workload (clients, operations, keys): shrunk toward 1. */
export function workloadParams(
  scenario: Scenario,
  harnessParams: Readonly<Record<string, string>>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(harnessParams)) {
    if (
      !/^(clients|writers|readers|processes|keys|ops|opsMax|operations|workers|proposals|proposalsMax|clientCount)$/i.test(
        key,
      )
    )
      continue;
    const value = Number(scenario.params[key]);
    if (Number.isInteger(value) && value > 1) out[key] = value;
  }
  return out;
}

export interface ShrinkOptions {
  /** Stop shrinking after this much wall time (the best so far is kept). */
  readonly timeBudgetMs?: number;
  /** Stop after this many candidate runs. */
  readonly runsMax?: number;
  /** Accept any violation, not only the same property. */
  readonly anyViolation?: boolean;
  readonly onProgress?: (p: ShrinkProgress) => void;
}

export interface ShrinkProgress {
  readonly runs: number;
  readonly faults: number;
  readonly safetyMs: number;
  readonly elapsedMs: number;
}

export interface ShrinkOutcome {
  readonly property: string;
  readonly originalFaults: number;
  readonly originalSafetyMs: number;
  readonly schedule: readonly ScheduledAction[];
  readonly best: Candidate;
  readonly bestText: string;
  readonly bestResult: RunResult;
  /** True when the knobs had to be pinned (then only the replay file reproduces, not the bare scenario). */
  readonly knobsPinned: boolean;
  readonly runs: number;
  readonly wallMs: number;
  /** Faults and client operations of the shrunk run (the goal counts these). */
  readonly faults: number;
  readonly clientOps: number;
  readonly stoppedBy: 'fixpoint' | 'time' | 'runs';
}

/** Points tried, evenly from time 0, before halving an action's time toward 0. */
export const timeScanPoints = 16;

export class ShrinkError extends Error {
  override name = 'ShrinkError';
}

export async function shrink(file: ReplayFile, options: ShrinkOptions = {}): Promise<ShrinkOutcome> {
  const started = performance.now();
  const timeBudgetMs = options.timeBudgetMs ?? 60_000;
  const runsMax = options.runsMax ?? 2000;
  if (file.result !== 'fail') throw new ShrinkError('the replay file records a passing run: nothing to shrink');
  const loaded = await loadScenarioText(file.scenarioText, file.scenarioFile);
  const { schedule, result: original } = await recordSchedule(file);
  if (original.result !== 'fail')
    throw new ShrinkError(
      `replaying the file passed (trace ${original.trace}, recorded ${file.trace}): the code changed, nothing to shrink`,
    );
  const property = propertyOf(original.violations[0]!, loaded.scenario.nodes);
  const params = workloadParams(loaded.scenario, loaded.harness.params);
  let runs = 0;
  // Different candidates often give the same scenario (duplicate indexes, actions past the end of
  // the safety phase): each text runs once.
  const seen = new Map<string, RunResult | null>();

  const evaluate = async (c: Candidate, knobs: Knobs | undefined): Promise<RunResult | null> => {
    const text = candidateText(file.scenarioText, loaded.scenario, schedule, c, null, file.knobs.protocol);
    const key = `${knobs ? 'pinned' : 'drawn'}\n${text}`;
    if (seen.has(key)) return seen.get(key)!;
    const result = await runCandidate(text, knobs);
    seen.set(key, result);
    return result;
  };

  const runCandidate = async (text: string, knobs: Knobs | undefined): Promise<RunResult | null> => {
    runs++;
    let candidate;
    try {
      candidate = await loadScenarioText(text, file.scenarioFile);
    } catch {
      return null; // a candidate the harness refuses (a parameter out of its range) is not a failure
    }
    let result: RunResult;
    try {
      result = new Simulation(candidate.scenario, candidate.harness, file.seed, {
        codec: file.codec,
        ...(knobs ? { knobs } : {}),
      }).run();
    } catch {
      return null; // a crash of the simulator or harness is a different bug
    }
    if (result.result !== 'fail') return null;
    if (!options.anyViolation && !result.violations.some((v) => propertyOf(v, loaded.scenario.nodes) === property))
      return null;
    return result;
  };

  const full: Candidate = {
    kept: schedule.map((_, i) => i),
    times: schedule.map((a) => a.atMs),
    safetyMs: loaded.scenario.safetyMs,
    params,
  };
  let knobs: Knobs | undefined;
  let bestResult = await evaluate(full, undefined);
  if (!bestResult) {
    knobs = file.knobs;
    bestResult = await evaluate(full, knobs);
  }
  if (!bestResult) {
    throw new ShrinkError(
      `the recorded fault schedule (${schedule.length} actions, nemesis off) does not reproduce '${property}'; the failure depends on something the schedule does not capture`,
    );
  }

  let best = full;
  let stoppedBy: ShrinkOutcome['stoppedBy'] = 'fixpoint';
  const outOfBudget = (): boolean => {
    if (performance.now() - started > timeBudgetMs) stoppedBy = 'time';
    else if (runs >= runsMax) stoppedBy = 'runs';
    else return false;
    return true;
  };
  /** Greedy descent over one fast-check shrink tree: take the first smaller value that still fails. */
  const descend = async <T>(arb: fc.Arbitrary<T>, start: T, toCandidate: (v: T) => Candidate): Promise<boolean> => {
    let current = new fc.Value<T>(start, undefined);
    let improved = false;
    outer: for (;;) {
      for (const next of arb.shrink(current.value, current.context)) {
        if (outOfBudget()) return improved;
        const c = toCandidate(next.value);
        const result = await evaluate(c, knobs);
        if (result) {
          current = next;
          best = c;
          bestResult = result;
          improved = true;
          options.onProgress?.({
            runs,
            faults: countFaults(schedule, c),
            safetyMs: c.safetyMs,
            elapsedMs: performance.now() - started,
          });
          continue outer;
        }
      }
      return improved;
    }
  };

  const keys = Object.keys(params);
  for (let round = 0; ; round++) {
    let improved = false;
    // Pass 1: fewer actions (fast-check's array shrinker drops chunks, then single entries) and a
    // shorter safety phase (an integer halving toward its minimum).
    const base = best;
    const pass1 = fc.tuple(
      fc.array(fc.nat({ max: Math.max(0, schedule.length - 1) }), { maxLength: Math.max(schedule.length, 1) }),
      fc.integer({ min: 1, max: Math.max(1, Math.ceil(base.safetyMs)) }),
    );
    improved =
      (await descend<[number[], number]>(pass1, [[...base.kept], Math.ceil(base.safetyMs)], ([kept, safetyMs]) => ({
        ...base,
        kept: [...new Set(kept)].filter((i) => base.times[i]! < safetyMs).sort((a, b) => a - b),
        safetyMs,
      }))) || improved;
    if (stoppedBy !== 'fixpoint') break;
    // Pass 2: each kept action as early as it can be (integers shrink toward 0), so a fault late in a
    // long run moves to its start and the workload before it can go.
    for (const index of [...best.kept]) {
      const at = Math.floor(best.times[index]!);
      if (at <= 0) continue;
      const moveTo = (base: Candidate, t: number): Candidate => ({
        ...base,
        times: base.times.map((x, i) => (i === index ? t : x)),
      });
      // A coarse scan from the start first: halving alone lands in few places, and a fault often
      // matters only inside a narrow window (right after an acknowledgement, say).
      for (let k = 0; k < timeScanPoints; k++) {
        const t = Math.floor((at * k) / timeScanPoints);
        if (outOfBudget()) break;
        const c = moveTo(best, t);
        const result = await evaluate(c, knobs);
        if (result) {
          best = c;
          bestResult = result;
          improved = true;
          break;
        }
      }
      const before = best;
      const from = Math.floor(before.times[index]!);
      improved =
        (from > 0 && (await descend(fc.integer({ min: 0, max: from }), from, (t) => moveTo(before, t)))) || improved;
      if (stoppedBy !== 'fixpoint') break;
    }
    if (stoppedBy !== 'fixpoint') break;
    // Pass 3: smaller workload parameters (clients, operations), each toward 1.
    if (keys.length > 0) {
      const before = best;
      improved =
        (await descend(
          fc.tuple(...keys.map((k) => fc.integer({ min: 1, max: before.params[k]! }))) as unknown as fc.Arbitrary<
            number[]
          >,
          keys.map((k) => before.params[k]!),
          (values) => ({ ...before, params: Object.fromEntries(keys.map((k, i) => [k, values[i]!])) }),
        )) || improved;
      if (stoppedBy !== 'fixpoint') break;
    }
    if (!improved) break;
  }
  const bestText = candidateText(file.scenarioText, loaded.scenario, schedule, best, null, file.knobs.protocol);
  const shrunk = await loadScenarioText(bestText, file.scenarioFile);
  return {
    property,
    originalFaults: schedule.filter((s) => s.isFault).length,
    originalSafetyMs: loaded.scenario.safetyMs,
    schedule,
    best,
    bestText,
    bestResult,
    knobsPinned: knobs !== undefined,
    runs,
    wallMs: performance.now() - started,
    faults: shrunk.scenario.timeline.filter((e) => builtinActions.has(e.action)).length,
    clientOps: clientOpsOf(shrunk.scenario, shrunk.harness, file.seed, file.codec, knobs),
    stoppedBy,
  };
}

function countFaults(schedule: readonly ScheduledAction[], c: Candidate): number {
  return keptActions(schedule, c).filter((s) => s.isFault).length;
}

function clientOpsOf(
  scenario: Scenario,
  harness: Harness,
  seed: number,
  codec: boolean,
  knobs: Knobs | undefined,
): number {
  const sim = new Simulation(scenario, harness, seed, { codec, ...(knobs ? { knobs } : {}) });
  sim.run();
  return sim.history.ops.length;
}
