/**
 * The TUI's handle on a simulation: advances it, builds view-model snapshots (model.ts), injects the
 * faults typed at the keyboard, travels in time, and saves what was watched as a replay file.
 *
 * Design, and why:
 *  - Faults typed at the keyboard become scenario timeline lines (`at 1234.567ms crash n2`) and the
 *    simulation is re-run from the seed up to the current time. The state on screen is therefore
 *    exactly what `conclave sim replay` of the saved file computes: the TUI never has a state that
 *    a replay cannot reach (applying the fault to the live simulation would order it differently
 *    from a timeline event at the same instant).
 *  - Time travel: a machine's state is mutated in place (core/types.ts) and the event queue holds
 *    closures, so a simulation cannot be copied. Instead the session keeps a view snapshot every
 *    `snapshotEveryMs` of simulated time — seeking backward shows the nearest one at once — and, in
 *    idle time, checkpoints: whole simulations re-run from the seed and parked every
 *    `checkpointEveryMs`. Continuing from the past takes the nearest checkpoint before that point
 *    and runs it the rest of the way (deterministic: it arrives at the very state the first run
 *    had); without one it re-runs from the seed.
 *  - Stepping follows `Simulation.run` exactly (safety phase, then `beginLiveness`, then `finish`),
 *    so a run watched in the TUI has the same trace as `sim run` and `sim replay`.
 *  - Time crosses the seam to the simulator in whole microseconds (`Simulation.nowUs`, `runUntilUs`),
 *    the queue's own unit. A target in fractional milliseconds was once rounded inside the simulator
 *    while this side waited for `nowMs >= target`, which never came: the TUI froze at 100% CPU
 *    (issue 16 §1). Every loop here is bounded by a wall-clock deadline as well, so the key reader
 *    and the signal handlers get their turn even if a simulation never stops producing events.
 *  - A re-run (after a typed fault, or to continue from the past) that does not finish within
 *    `catchUpSyncMs` goes on in later frames ("catching up"); meanwhile the screen shows the moment
 *    it is heading for, and keys that need the live simulation wait for it.
 */
import { assert } from '../../core/assert.js';
import { join } from 'node:path';
import type { Harness } from '../../sim/harness.js';
import { loadScenarioText, type LoadedScenario } from '../../sim/run.js';
import { parseScenario } from '../../sim/scenario.js';
import { makeReplay, replayFileName, writeReplay } from '../../sim/tools/replay.js';
import {
  Simulation,
  type LogLine as SimLogLine,
  type MessageHop,
  type RunResult,
} from '../../sim/engine/simulation.js';
import { checkHistory, parseHistoryJsonLines, registerModel, type CheckResult } from '../../sim/checkers/lin/index.js';
import { traceTopic } from '../../core/trace.js';
import type { RaftState } from '../../core/raft/raft.js';
import type { SwimState } from '../../core/swim/state.js';
import { formatAtMs } from '../../sim/tools/shrink.js';
import {
  type ClusterSnapshot,
  type LogLine,
  type NodeSnapshot,
  type OpCounts,
  type PartitionSnapshot,
  type KvSample,
  type MessageSeen,
  type RaftLogTail,
  classifyLine,
  classifyTopic,
  formatSimTime,
} from './model.js';
import { nextEventUs } from './sim-hooks.js';

/** Simulated time between two kept snapshots (the resolution of backward seeks). */
export const snapshotEveryMs = 100;
const usPerMs = 1000;
/** Events the simulator processes between two looks at the wall clock. */
export const eventsPerSliceMax = 2000;
/** Wall time a typed fault's re-run may take before the key returns; the rest runs in later frames. */
export const catchUpSyncMs = 250;
/** …and for clusters of more than `checkpointNodesMax` nodes, whose snapshots cost more. */
export const snapshotEveryMsBigCluster = 1000;
/** Event-log lines kept (the screen shows the last few). */
export const logLinesKeptMax = 200;
/** Node tables with more members than this summarise each node's view of its peers. */
export const peersDetailedMax = 32;
/** The window over which message rates are computed. */
export const rateWindowMs = 1000;

export type FaultKey = 'partition' | 'crash' | 'restart' | 'heal';

export interface SessionOptions {
  readonly codec?: boolean;
}

interface Counters {
  atMs: number;
  messages: number;
  deliveries: number;
  drops: number;
}

export class TuiSession {
  readonly scenarioFile: string;
  readonly originalText: string;
  readonly seed: number;
  readonly codec: boolean;
  /** Interactive faults as timeline lines, in the order typed. */
  readonly interactive: { atMs: number; line: string }[] = [];
  private loaded!: LoadedScenario;
  private run!: Run;
  /** Kept snapshots, in time order; `atUs` is the simulated time each was taken at. */
  private snapshots: { atUs: number; snap: ClusterSnapshot }[] = [];
  /** When set, the screen shows this past snapshot instead of the live simulation. */
  private viewing: { atUs: number; snap: ClusterSnapshot } | null = null;
  /**
   * When set, the live run is a re-run still on its way to `targetUs` (the moment on screen, in
   * `viewing`): a typed fault, or continuing from the past. Nothing else advances it until it arrives.
   */
  private catching: { targetUs: number; fromUs: number } | null = null;
  /** A forward seek that ran out of wall time: `catchUp` takes the live run on to here. */
  private pendingUs: number | null = null;
  /** Parked simulations by the time (µs) they stopped at (a multiple of checkpointEveryMs); null: the run ended before. */
  private checkpoints = new Map<number, Run | null>();
  private builder: { run: Run; atUs: number } | null = null;
  /** The furthest simulated time the live run reached (checkpoints are built up to it). */
  private reachedUs = 0;
  private harness!: Harness;

  private constructor(scenarioFile: string, text: string, seed: number, options: SessionOptions) {
    this.scenarioFile = scenarioFile;
    this.originalText = text;
    this.seed = seed;
    this.codec = options.codec ?? true;
  }

  static async open(
    scenarioFile: string,
    text: string,
    seed: number | null,
    options: SessionOptions = {},
  ): Promise<TuiSession> {
    const probe = await loadScenarioText(text, scenarioFile); // a bad file fails here, with its ScenarioError
    const session = new TuiSession(scenarioFile, text, seed ?? probe.scenario.seed, options);
    session.harness = probe.harness;
    session.rebuild(0, Infinity);
    return session;
  }

  get scenarioText(): string {
    if (this.interactive.length === 0) return this.originalText;
    const lines = this.interactive.map((f) => `${f.line}   # typed in the TUI`);
    return `${this.originalText.replace(/\s*$/, '')}\n${lines.join('\n')}\n`;
  }

  /** The simulated time on screen, in whole µs. */
  get nowUs(): number {
    return this.viewing?.atUs ?? this.sim.nowUs;
  }

  get nowMs(): number {
    return this.nowUs / usPerMs;
  }

  get endMs(): number {
    return this.loaded.scenario.safetyMs + this.loaded.scenario.livenessMs;
  }

  get endUs(): number {
    return Math.round(this.endMs * usPerMs);
  }

  get done(): boolean {
    return this.viewing === null && this.run.finished;
  }

  /** A re-run is on its way to the moment on screen (see `catching`); progress in [0, 1]. */
  get catchingUp(): { progress: number } | null {
    if (this.catching === null) return this.pendingUs === null ? null : { progress: 0 };
    const { targetUs, fromUs } = this.catching;
    return { progress: targetUs <= fromUs ? 1 : (this.sim.nowUs - fromUs) / (targetUs - fromUs) };
  }

  get nodeIds(): readonly string[] {
    return this.loaded.scenario.nodes;
  }

  get simulation(): Simulation {
    return this.run.sim;
  }

  private get sim(): Simulation {
    return this.run.sim;
  }

  /**
   * Checkpoints are whole simulations: at most `checkpointsMax` of them (a few for big clusters),
   * spread over the run, at least `checkpointEveryMs` apart.
   */
  get checkpointIntervalMs(): number {
    const max = this.loaded.scenario.nodes.length <= checkpointNodesMax ? checkpointsMax : checkpointsMaxBigCluster;
    return Math.max(checkpointEveryMs, Math.ceil(this.endMs / max / 1000) * 1000);
  }

  /** How many checkpoints are parked (for the status line and tests). */
  get checkpointCount(): number {
    return [...this.checkpoints.values()].filter((r) => r !== null).length;
  }

  /**
   * The scenario with the typed faults, parsed synchronously (the harness was loaded and the
   * original text validated by `open`; the added lines are built-in actions the parser checks), so
   * that a key's effect is on screen before the next key is read.
   */
  private parsed(): LoadedScenario {
    return { scenario: parseScenario(this.scenarioText, this.scenarioFile), harness: this.harness };
  }

  private newRun(): Run {
    return new Run(this.loaded, this.seed, this.codec);
  }

  /**
   * Re-runs from the seed (with the interactive faults) up to `untilUs`; checkpoints are void. The
   * re-run goes on in later frames (`catchUp`) if it is not there by `deadlineWallMs`.
   */
  private rebuild(untilUs: number, deadlineWallMs: number): void {
    const onScreen = this.run ? this.current() : null;
    this.loaded = this.parsed();
    this.viewing = null;
    this.checkpoints.clear();
    this.builder = null;
    this.reachedUs = 0;
    // Snapshots before `untilUs` are unchanged by a fault typed at `untilUs`; later ones are not.
    this.snapshots = this.snapshots.filter((s) => s.atUs < untilUs);
    this.run = this.newRun();
    this.run.linChecks = true;
    if (untilUs > 0 && onScreen !== null) this.startCatchUp(untilUs, onScreen, deadlineWallMs);
    else this.advanceToUs(untilUs, deadlineWallMs);
  }

  /** Shows `onScreen` (the moment `targetUs`) while the live run re-runs its way there. */
  private startCatchUp(targetUs: number, onScreen: ClusterSnapshot, deadlineWallMs: number): void {
    this.viewing = { atUs: targetUs, snap: onScreen };
    this.catching = { targetUs, fromUs: this.sim.nowUs };
    this.catchUp(deadlineWallMs);
  }

  /**
   * Moves a re-run on towards the moment on screen, until `deadlineWallMs` (performance.now()).
   * Returns true when nothing is left to catch up.
   */
  catchUp(deadlineWallMs: number): boolean {
    if (this.catching !== null) {
      // The snapshots up to the target exist already.
      const { targetUs } = this.catching;
      if (!this.run.advanceToUs(targetUs, null, deadlineWallMs)) return false;
      this.catching = null;
      if (this.viewing?.atUs === targetUs) this.viewing = null; // else the user went back meanwhile
      this.reachedUs = Math.max(this.reachedUs, this.sim.nowUs);
      if (this.run.finished) this.noteFinished();
    }
    if (this.pendingUs !== null) {
      const target = this.pendingUs;
      this.pendingUs = null;
      if (!this.advanceToUs(target, deadlineWallMs)) {
        this.pendingUs = target;
        return false;
      }
    }
    return true;
  }

  // ───────────────────────────────────────── running ─────────────────────────────────────────

  /**
   * Runs the simulation up to global time `targetUs` (whole µs, or Infinity: the end), phase by
   * phase as `run()` does, until `deadlineWallMs` (performance.now()) at the latest. Returns true
   * when it got there (or the run ended).
   */
  advanceToUs(targetUs: number, deadlineWallMs = Infinity): boolean {
    assert(Number.isSafeInteger(targetUs) || targetUs === Infinity, `advanceToUs needs whole µs, got ${targetUs}`);
    if (!this.catchUp(deadlineWallMs)) return false;
    if (this.viewing !== null && !this.resumeFromPast(deadlineWallMs)) return false;
    const reached = this.run.advanceToUs(targetUs, () => this.maybeSnapshot(), deadlineWallMs);
    if (this.run.finished) this.noteFinished();
    this.reachedUs = Math.max(this.reachedUs, this.sim.nowUs);
    return reached;
  }

  /** Advances by `deltaUs` (whole µs) of simulated time from what is on screen. */
  advanceByUs(deltaUs: number, deadlineWallMs = Infinity): boolean {
    return this.advanceToUs(this.nowUs + deltaUs, deadlineWallMs);
  }

  /**
   * The user continues from the past moment on screen: take the nearest checkpoint, else re-run.
   * Returns true when the live run is there.
   */
  private resumeFromPast(deadlineWallMs: number): boolean {
    const { atUs: at, snap } = this.viewing!;
    this.viewing = null;
    if (at >= this.sim.nowUs) return true;
    let bestUs = -1;
    for (const [t, run] of this.checkpoints) if (run !== null && t <= at && t > bestUs) bestUs = t;
    if (bestUs >= 0) {
      this.run = this.checkpoints.get(bestUs)!;
      this.run.linChecks = true;
      this.checkpoints.delete(bestUs); // it moves on; idle time parks a new one
    } else {
      this.run = this.newRun();
      this.run.linChecks = true;
    }
    if (this.builder && this.builder.atUs <= at) this.builder = null;
    this.startCatchUp(at, snap, deadlineWallMs);
    return this.catching === null;
  }

  private noteFinished(): void {
    const last = this.snapshots.at(-1);
    if (!last || last.atUs < this.sim.nowUs || last.snap.phase !== 'done')
      this.snapshots.push({ atUs: this.sim.nowUs, snap: this.snapshot() });
  }

  private maybeSnapshot(): void {
    const atUs = this.sim.nowUs;
    if (this.snapshots.length === 0 || this.snapshots.at(-1)!.atUs < atUs)
      this.snapshots.push({ atUs, snap: this.snapshot() });
  }

  /**
   * Builds checkpoints in idle time, for at most `budgetMs` of wall time. Returns false when there
   * is nothing left to build.
   */
  idleWork(budgetMs: number): boolean {
    const deadline = performance.now() + budgetMs;
    while (performance.now() < deadline) {
      if (this.builder === null) {
        const every = this.checkpointIntervalMs * usPerMs;
        let t = every;
        while (t <= this.reachedUs && this.checkpoints.has(t)) t += every;
        if (t > this.reachedUs || t >= this.endUs) return false;
        this.builder = { run: this.newRun(), atUs: t };
      }
      const b = this.builder;
      b.run.advanceToUs(b.atUs, null, deadline);
      if (b.run.finished) {
        this.checkpoints.set(b.atUs, null); // the run ends before this time: nothing to park
        this.builder = null;
      } else if (b.run.sim.nowUs >= b.atUs) {
        this.checkpoints.set(b.atUs, b.run);
        this.builder = null;
      }
    }
    return true;
  }

  /** Runs to the end without keeping snapshots (the plain summary without a terminal). */
  runToEnd(): void {
    this.catchUp(Infinity);
    this.viewing = null;
    this.run.advanceToUs(Infinity, null, Infinity);
    if (this.run.finished) this.noteFinished();
  }

  /**
   * Processes the next event (the `.` key) and says what it was ("timer n2 raft:election → n2 became
   * candidate at term 4"): the queue's head in words, then the log lines it caused. Does nothing
   * (null) while a re-run is still catching up.
   */
  stepOne(deadlineWallMs = Infinity): string | null {
    if (!this.catchUp(deadlineWallMs)) return null;
    if (this.viewing !== null && !this.advanceToUs(this.viewing.atUs, deadlineWallMs)) return null;
    if (this.run.finished) return 'the run is over';
    const next = nextEventUs(this.sim);
    const phaseEnd = this.sim.phase === 'safety' ? this.run.safetyUs : this.endUs;
    if (next === null || next > phaseEnd) {
      this.advanceToUs(phaseEnd, deadlineWallMs);
      return this.sim.phase === 'safety' ? 'nothing left in the safety phase' : 'the phase ended';
    }
    const what = this.sim.describeNextEvent() ?? 'nothing';
    const fromSeq = this.run.nextSeq;
    this.stepOneEvent();
    const caused = this.run.log.filter((l) => l.seq >= fromSeq).map((l) => (l.node ? `${l.node}: ${l.text}` : l.text));
    return `${formatSimTime(next / usPerMs)} ${what}${caused.length > 0 ? ` → ${caused.join('; ')}` : ''}`;
  }

  private stepOneEvent(): void {
    this.run.stepOne();
    if (this.run.finished) this.noteFinished();
    else if (this.sim.nowUs >= this.run.nextSnapshotUs) {
      this.maybeSnapshot();
      this.run.nextSnapshotUs = this.run.nextBoundaryUs();
    }
    this.reachedUs = Math.max(this.reachedUs, this.sim.nowUs);
  }

  /**
   * Runs on until the next event-log line that `wanted` accepts (the `f`, `l`, `x` keys), or the end
   * of the run, or `deadlineWallMs`: returns the line, 'end', or null (not there yet: call again, the
   * hunt goes on where it stopped). It stops at the instant of that line (after every event of that
   * same microsecond).
   */
  hunt(wanted: (line: LogLine) => boolean, deadlineWallMs: number): LogLine | 'end' | null {
    if (!this.catchUp(deadlineWallMs)) return null;
    if (this.viewing !== null && !this.advanceToUs(this.viewing.atUs, deadlineWallMs)) return null;
    if (this.run.finished) return 'end';
    this.run.stopWhen = wanted;
    this.run.hit = null;
    try {
      this.advanceToUs(this.endUs, deadlineWallMs);
    } finally {
      this.run.stopWhen = null;
    }
    if (this.run.hit !== null) return this.run.hit;
    return this.run.finished ? 'end' : null;
  }

  /**
   * Shows the state at `targetUs`: a kept snapshot when going back, a real run when going forward
   * (until `deadlineWallMs`; it stops short rather than hold the keyboard).
   */
  seekToUs(targetUs: number, deadlineWallMs = Infinity): void {
    const target = Math.max(0, Math.min(targetUs, this.endUs));
    if (this.catching !== null && target >= this.catching.targetUs) {
      if (!this.catchUp(deadlineWallMs)) return;
    }
    const live = this.catching?.targetUs ?? this.sim.nowUs;
    if (target >= live) {
      if (this.catching === null) this.viewing = null; // on from the live run, not from the past on screen
      // Out of time: later frames take it the rest of the way, so where a seek lands never depends
      // on how fast the machine is.
      if (!this.advanceToUs(target, deadlineWallMs)) this.pendingUs = target;
      return;
    }
    this.pendingUs = null;
    let best: { atUs: number; snap: ClusterSnapshot } | null = null;
    for (const s of this.snapshots) if (s.atUs <= target && (best === null || s.atUs > best.atUs)) best = s;
    if (best !== null) this.viewing = best;
  }

  // ───────────────────────────────────────── faults ─────────────────────────────────────────

  /**
   * Injects a fault at the time on screen, as a timeline line, by re-running from the seed (for at
   * most `catchUpSyncMs` now, the rest in later frames: see `catchUp`).
   */
  inject(key: FaultKey, nodeId: string | null, deadlineWallMs = performance.now() + catchUpSyncMs): string {
    const atUs = this.nowUs;
    const at = atUs / usPerMs;
    const ids = this.loaded.scenario.nodes;
    let action: string;
    switch (key) {
      case 'partition':
        assert(nodeId !== null, 'partition needs a node');
        action = ids.length > 1 ? `partition ${nodeId} |` : '';
        break;
      case 'crash':
        assert(nodeId !== null, 'crash needs a node');
        action = `crash ${nodeId}`;
        break;
      case 'restart':
        assert(nodeId !== null, 'restart needs a node');
        action = this.current().nodes.find((n) => n.name === nodeId)?.paused ? `resume ${nodeId}` : `restart ${nodeId}`;
        break;
      case 'heal':
        action = 'heal';
        break;
    }
    if (action === '') return 'nothing to partition: one node';
    const line = `at ${formatAtMs(at)} ${action}`;
    this.interactive.push({ atMs: at, line });
    this.rebuild(atUs, deadlineWallMs);
    return `${action} at ${formatAtMs(at)}`;
  }

  // ───────────────────────────────────────── saving ─────────────────────────────────────────

  /** The whole run as it would go on from here (what `sim replay` of the saved file computes). */
  fullRun(): RunResult {
    const loaded = this.parsed();
    return new Simulation(loaded.scenario, loaded.harness, this.seed, { codec: this.codec }).run();
  }

  /** Writes a replay file of the watched run (interactive faults included); returns its path. */
  save(dir: string): string {
    const result = this.fullRun();
    const replay = makeReplay({
      scenarioFile: this.scenarioFile,
      scenarioText: this.scenarioText,
      result,
      codec: this.codec,
      origin: 'tui',
      interactive: this.interactive.map((f) => f.line),
    });
    return writeReplay(replay, join(dir, replayFileName(this.loaded.scenario.name, this.seed, '-tui')));
  }

  // ───────────────────────────────────────── the view ─────────────────────────────────────────

  /** What the screen shows now. */
  current(): ClusterSnapshot {
    return this.viewing?.snap ?? this.snapshot();
  }

  /** The screen shows a kept moment of the past (not a re-run still catching up). */
  get isViewingPast(): boolean {
    return this.viewing !== null && (this.catching === null || this.viewing.atUs < this.catching.targetUs);
  }

  snapshot(): ClusterSnapshot {
    const sim = this.sim;
    const nowMs = sim.nowMs;
    const counters: Counters = {
      atMs: nowMs,
      messages: sim.counters.messages,
      deliveries: sim.counters.deliveries,
      drops: sim.counters.drops,
    };
    const samples = this.run.samples;
    const last = samples.at(-1);
    if (!last || last.atMs < nowMs) samples.push(counters);
    while (samples.length > 2 && samples[1]!.atMs <= nowMs - rateWindowMs) samples.shift();
    const base = samples[0]!;
    const spanMs = Math.max(1, nowMs - base.atMs);
    const perSec = (now: number, then: number): number => ((now - then) * 1000) / spanMs;
    return {
      scenario: this.loaded.scenario.name,
      seed: this.seed,
      nowMs,
      endMs: this.endMs,
      phase: sim.phase,
      events: sim.counters.events,
      nodes: this.loaded.scenario.nodes.map((id) => this.nodeSnapshot(id)),
      partition: this.partitionSnapshot(nowMs),
      log: [...this.run.log.slice(-logLinesKeptMax)], // the events pane scrolls back through them
      rates: {
        windowMs: spanMs,
        sentPerSec: perSec(counters.messages, base.messages),
        deliveredPerSec: perSec(counters.deliveries, base.deliveries),
        droppedPerSec: perSec(counters.drops, base.drops),
        sentTotal: counters.messages,
        deliveredTotal: counters.deliveries,
        droppedTotal: counters.drops,
      },
      ops: this.opCounts(),
      verdict:
        sim.violations.length > 0 || this.run.linViolation !== null
          ? {
              status: 'fail',
              violations: [...(this.run.linViolation !== null ? [this.run.linViolation] : []), ...sim.violations],
            }
          : sim.phase === 'done'
            ? { status: 'pass', violations: [] }
            : { status: 'running', violations: [] },
      interactiveFaults: this.interactive.length,
    };
  }

  private nodeSnapshot(id: string): NodeSnapshot {
    const sim = this.sim;
    const runtime = sim.runtime(id);
    const views = runtime ? runtime.view() : {};
    let role: string | null = null;
    let term: number | null = null;
    let commitIndex: number | null = null;
    let appliedIndex: number | null = null;
    let leader: string | null = null;
    let health: string | null = null;
    const peers: Record<string, string> = {};
    for (const view of Object.values(views)) {
      if (typeof view.role === 'string' && role === null) role = view.role;
      if (typeof view.term === 'number' && term === null) term = view.term;
      if (typeof view.commitIndex === 'number' && commitIndex === null) commitIndex = view.commitIndex;
      if (typeof view.appliedIndex === 'number' && appliedIndex === null) appliedIndex = view.appliedIndex;
      if ((typeof view.leader === 'string' || view.leader === null) && 'leader' in view && leader === null)
        leader = (view.leader as string | null) ?? null;
      if (typeof view.healthScore === 'number') health = String(view.healthScore);
      if (Array.isArray(view.members)) {
        const members = view.members as { id: string; status: string }[];
        if (this.loaded.scenario.nodes.length <= peersDetailedMax) for (const m of members) peers[m.id] = m.status;
        else {
          // A large cluster: keep counts only (a full map per node per snapshot would be n² entries).
          const counts = new Map<string, number>();
          for (const m of members) counts.set(m.status, (counts.get(m.status) ?? 0) + 1);
          let k = 0;
          for (const [status, count] of counts) for (let i = 0; i < count; i++) peers[`#${k++}`] = status;
        }
      }
    }
    const extra: Record<string, string | number> = {};
    if (runtime) {
      const described = this.loaded.harness.describe?.(sim, id) ?? {};
      for (const [k, v] of Object.entries(described))
        if (!['role', 'term', 'leader', 'commit', 'commitIndex', 'applied', 'appliedIndex'].includes(k)) extra[k] = v;
    }
    const details: string[] = [];
    if (this.loaded.scenario.nodes.length <= peersDetailedMax)
      for (const [machine, view] of Object.entries(views))
        for (const [key, value] of Object.entries(view)) details.push(`${machine}.${key} ${detailValue(value)}`);
    // Numbers and words first, lists and records after: a short pane shows the former.
    details.sort((a, b) => Number(/ [[{]/.test(a)) - Number(/ [[{]/.test(b)));
    const deep = this.loaded.scenario.nodes.length <= peersDetailedMax && runtime !== null;
    const raftLog = deep && runtime.hasMachine('raft') ? raftLogTail(runtime.stateOf<RaftState>('raft')) : undefined;
    const kv = deep && runtime.hasMachine('raft') ? kvSample(runtime.stateOf<RaftState>('raft')) : undefined;
    const members = deep ? membersOf(views) : undefined;
    const hops = this.run.hops.get(id);
    const coordinate = runtime?.hasMachine('swim') ? runtime.stateOf<SwimState>('swim').vivaldi.coordinate : undefined;
    return {
      name: id,
      details,
      ...(raftLog ? { raftLog } : {}),
      ...(kv ? { kv } : {}),
      ...(members ? { members } : {}),
      ...(coordinate ? { coordinate } : {}),
      ...(hops ? { messagesIn: [...hops.in], messagesOut: [...hops.out] } : {}),
      up: sim.isUp(id),
      paused: sim.isPaused(id),
      role,
      term,
      commitIndex,
      appliedIndex,
      leader,
      peers,
      health,
      extra,
    };
  }

  private partitionSnapshot(nowMs: number): PartitionSnapshot {
    const view = this.sim.partitionView();
    return {
      groups: view.groups.length > 1 ? view.groups : [],
      oneWay: view.blocked.map(([from, to]) => ({ from, to })),
      clogged: this.run.clogs.filter((c) => c.untilMs > nowMs),
    };
  }

  private opCounts(): OpCounts {
    const counts = { ok: 0, fail: 0, unknown: 0, open: 0 };
    const byF: Record<string, number> = {};
    for (const op of this.sim.history.ops) {
      if (op.outcome === undefined) counts.open++;
      else counts[op.outcome]++;
      byF[op.f] = (byF[op.f] ?? 0) + 1;
    }
    return { ...counts, byF };
  }
}

/** Raft log entries the detail pane shows. */
export const logTailEntries = 6;
/** KV keys the detail pane shows. */
export const kvKeysShown = 8;
/** Messages in and out kept per node for the detail pane. */
export const messagesKeptPerNode = 6;

function raftLogTail(s: RaftState): RaftLogTail {
  const entries: RaftLogTail['entries'][number][] = [];
  const first = Math.max(s.log.firstIndex, s.log.lastIndex - logTailEntries + 1);
  for (let index = first; index <= s.log.lastIndex; index++) {
    const entry = s.log.entryAt(index);
    if (!entry) continue;
    const command =
      entry.type === 'command' ? commandText(entry.command) : entry.type === 'config' ? 'configuration' : entry.type;
    entries.push({ index, term: entry.term, command });
  }
  return { firstIndex: s.log.firstIndex, lastIndex: s.log.lastIndex, entries };
}

/**
 * The first keys of the node's KV store, when its state machine is the store (core/store: the agent's
 * and the kv harness's FSMs keep `state.kv`, a Map of KV entries); undefined for other machines.
 */
function kvSample(s: RaftState): KvSample | undefined {
  const fsm = s.fsm as { state?: { kv?: unknown }; store?: { state?: { kv?: unknown } } };
  const kv = fsm.state?.kv ?? fsm.store?.state?.kv;
  if (!(kv instanceof Map)) return undefined;
  const keys = [...kv.keys()].sort().slice(0, kvKeysShown) as string[];
  return {
    keyCount: kv.size,
    entries: keys.map((key) => {
      const e = kv.get(key) as { Value?: unknown; ModifyIndex?: unknown };
      return { key, value: kvValue(e.Value), modifyIndex: typeof e.ModifyIndex === 'number' ? e.ModifyIndex : 0 };
    }),
  };
}

function kvValue(value: unknown): string {
  if (value instanceof Uint8Array) return shortJson(new TextDecoder().decode(value));
  return shortJson(value);
}

function membersOf(views: Record<string, Record<string, unknown>>): NodeSnapshot['members'] {
  for (const view of Object.values(views))
    if (Array.isArray(view.members))
      return (view.members as { id: string; status: string; incarnation?: number }[]).map((m) => ({
        id: m.id,
        status: m.status,
        incarnation: m.incarnation ?? 0,
      }));
  return undefined;
}

/**
 * A Raft command in a few words: its `type`, then its scalar fields as `name=value`, one level of
 * nesting flattened ("kvSet entry.key=k1 entry.value=v3"), byte strings as text.
 */
export function commandText(command: unknown): string {
  if (command === null || typeof command !== 'object' || Array.isArray(command)) return shortJson(command);
  const c = command as Record<string, unknown>;
  const parts: string[] = typeof c.type === 'string' ? [c.type] : [];
  const add = (name: string, value: unknown, depth: number): void => {
    if (value instanceof Uint8Array) return void parts.push(`${name}=${shortJson(new TextDecoder().decode(value))}`);
    if (value === null || typeof value !== 'object') return void parts.push(`${name}=${String(value)}`);
    if (depth === 0 && !Array.isArray(value))
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) add(`${name}.${k}`, v, 1);
  };
  for (const [k, v] of Object.entries(c)) if (k !== 'type') add(k, v, 0);
  return shortJson(parts.join(' '));
}

function shortJson(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return text.length > 100 ? `${text.slice(0, 99)}…` : text;
}

/** A view field for the detail pane: scalars as they are, short lists inline, long ones counted. */
function detailValue(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value) && value.length > detailItemsMax) return `[${value.length} items]`;
  const text = JSON.stringify(value);
  return text.length > detailCharsMax ? `${text.slice(0, detailCharsMax - 1)}…` : text;
}
const detailItemsMax = 12;
const detailCharsMax = 100;

/** Simulated time between two parked checkpoints (the most a resume from the past re-runs), at least. */
export const checkpointEveryMs = 2000;
/** Parked simulations kept at most: each is a whole cluster in memory. */
export const checkpointsMax = 40;
/** …and for clusters of more than `checkpointNodesMax` nodes. */
export const checkpointsMaxBigCluster = 4;
export const checkpointNodesMax = 50;
/** Simulated time a checkpoint builder advances between two looks at the wall clock. */
export const idleChunkMs = 50;
/** Simulated time between two incremental linearizability checks. */
export const linCheckEveryMs = 500;
/** Wall time one incremental check may take; longer says nothing (the end-of-run check still runs). */
export const linCheckWallMsMax = 200;
/**
 * Search steps the explanation of a violation found while running may take (the minimal operation set
 * is searched much harder, 2,000,000 steps, at the end of the run): a bigger budget took 8 s of wall
 * time on kv/planted-stale-leader-reads seed 1, freezing the screen.
 */
export const linExplainStepsMax = 20_000;

/**
 * One simulation and what the TUI gathers while it runs (log lines, clogged links, rate samples).
 * `advanceTo` follows `Simulation.run` exactly: safety phase, `beginLiveness`, liveness phase,
 * `finish` — so a run watched in pieces has the trace of a run in one go.
 */
class Run {
  readonly sim: Simulation;
  log: LogLine[] = [];
  private logSeq = 0;
  /** While set, a line it accepts stops `advanceToUs` (the hunt keys); that line lands in `hit`. */
  stopWhen: ((line: LogLine) => boolean) | null = null;
  hit: LogLine | null = null;
  /** Last messages in and out per node (small clusters only: recording decodes every message). */
  readonly hops = new Map<string, { in: MessageSeen[]; out: MessageSeen[] }>();
  /** Check linearizability while running (the live run; checkpoint builders do not). */
  linChecks = false;
  /** The first violation the incremental linearizability check found (null: none so far). */
  linViolation: string | null = null;
  private nextLinCheckUs = linCheckEveryMs * usPerMs;
  private linOpsChecked = -1;
  private readonly linearizable: LoadedScenario['harness']['linearizable'];
  private readonly linearizableSoFar: LoadedScenario['harness']['linearizableSoFar'];
  clogs: { from: string; to: string; untilMs: number }[] = [];
  samples: Counters[] = [];
  finished = false;
  /** The next snapshot boundary, whole µs (only the live run takes snapshots). */
  nextSnapshotUs = 0;
  readonly safetyUs: number;
  private readonly endUs: number;
  readonly snapshotEveryUs: number;

  constructor(loaded: LoadedScenario, seed: number, codec: boolean) {
    this.snapshotEveryUs =
      (loaded.scenario.nodes.length > checkpointNodesMax ? snapshotEveryMsBigCluster : snapshotEveryMs) * usPerMs;
    // As Simulation.run rounds them: the phases end on these very microseconds there too.
    this.safetyUs = Math.round(loaded.scenario.safetyMs * usPerMs);
    this.endUs = Math.round((loaded.scenario.safetyMs + loaded.scenario.livenessMs) * usPerMs);
    const small = loaded.scenario.nodes.length <= peersDetailedMax;
    this.linearizable = loaded.harness.linearizable;
    this.linearizableSoFar = loaded.harness.linearizableSoFar?.bind(loaded.harness);
    this.sim = new Simulation(loaded.scenario, loaded.harness, seed, {
      codec,
      onLog: (line) => this.onLog(line),
      ...(small ? { onMessage: (hop: MessageHop) => this.onMessage(hop) } : {}),
    });
    this.sim.begin();
  }

  /** The seq the next log line will get. */
  get nextSeq(): number {
    return this.logSeq;
  }

  private onMessage(hop: MessageHop): void {
    const what = `${hop.machine}.${hop.type}`;
    const dropped = hop.deliveredMs === null;
    const keep = (list: MessageSeen[], seen: MessageSeen): void => {
      list.push(seen);
      if (list.length > messagesKeptPerNode) list.shift();
    };
    const of = (id: string): { in: MessageSeen[]; out: MessageSeen[] } => {
      let hops = this.hops.get(id);
      if (!hops) this.hops.set(id, (hops = { in: [], out: [] }));
      return hops;
    };
    keep(of(hop.to).in, { atMs: hop.sentMs, peer: hop.from, what, dropped });
    keep(of(hop.from).out, { atMs: hop.sentMs, peer: hop.to, what, dropped });
  }

  /**
   * Linearizability, checked while the run goes (issue 16 §2): every `linCheckEveryMs` of simulated
   * time, the operations so far (those the harness's end-of-run check reads) go through the same
   * checker, operations still open counting as unknown (they may or may not have taken effect), so a
   * prefix that is not linearizable proves the whole run is not. A check that runs out of its wall
   * budget says nothing. The simulation itself is untouched (its trace is that of `sim run`).
   */
  private maybeCheckLin(): void {
    if (!this.linChecks || this.linViolation !== null) return;
    if (this.linearizable === undefined && this.linearizableSoFar === undefined) return;
    if (this.sim.nowUs < this.nextLinCheckUs) return;
    this.nextLinCheckUs = (Math.floor(this.sim.nowUs / (linCheckEveryMs * usPerMs)) + 1) * linCheckEveryMs * usPerMs;
    const done = this.sim.history.ops.filter((op) => op.outcome !== undefined).length;
    if (done === this.linOpsChecked) return; // nothing new completed
    this.linOpsChecked = done;
    const options = { timeoutMs: linCheckWallMsMax, explainBudgetSteps: linExplainStepsMax };
    // The register history (the operations `linearizable` keeps), then the harness's other histories
    // (kv: the key groups' transactions): the first that is not linearizable is the violation.
    const checks: { name: string; check: () => CheckResult }[] = [];
    const keep = this.linearizable;
    if (keep !== undefined)
      checks.push({
        name: 'register',
        check: () => {
          const ops = this.sim.history.ops.filter((op) => keep(op));
          return checkHistory(
            parseHistoryJsonLines(ops.map((op) => JSON.stringify(op)).join('\n')),
            registerModel,
            options,
          );
        },
      });
    for (const extra of this.linearizableSoFar?.(this.sim) ?? [])
      checks.push({ name: extra.name, check: () => extra.check(options) });
    let failed: { name: string; result: CheckResult } | null = null;
    for (const { name, check } of checks) {
      let result;
      try {
        result = check();
      } catch {
        continue; // a history this checker cannot read: the end-of-run check decides
      }
      if (result.linearizable === false) {
        failed = { name, result };
        break;
      }
    }
    if (failed === null) return;
    const text = `linearizability of the ${failed.name} history (checked while running, at ${(this.sim.nowMs / 1000).toFixed(3)}s): ${failed.result.explanation?.text ?? 'not linearizable'}`;
    this.linViolation = text;
    this.pushLine({ atMs: this.sim.nowMs, kind: 'verdict', node: null, text: `VIOLATION ${text}` });
  }

  private pushLine(line: Omit<LogLine, 'seq'>): void {
    const full: LogLine = { seq: this.logSeq++, ...line };
    this.log.push(full);
    if (this.log.length > logLinesKeptMax * 2) this.log.splice(0, this.log.length - logLinesKeptMax);
    if (this.stopWhen !== null && this.hit === null && this.stopWhen(full)) this.hit = full;
  }

  private onLog(line: SimLogLine): void {
    let m: RegExpExecArray | null;
    if (line.kind === 'fault' && (m = /^link (\S+)→(\S+) clogged until (\d+(?:\.\d+)?) ms$/.exec(line.text)))
      this.clogs.push({ from: m[1]!, to: m[2]!, untilMs: Number(m[3]) });
    if (line.kind === 'fault' && line.text === 'network healed') this.clogs = [];
    const kind =
      line.kind === 'fault' || line.kind === 'phase'
        ? 'fault'
        : line.kind === 'violation'
          ? 'verdict'
          : line.kind === 'client'
            ? 'client'
            : line.event !== undefined
              ? classifyTopic(traceTopic(line.event))
              : classifyLine(line.text);
    this.pushLine({
      atMs: line.atMs,
      kind,
      node: line.node,
      text: line.kind === 'violation' ? `VIOLATION ${line.text}` : line.text,
      ...(line.event?.type === 'raft.becameLeader' ? { leaderChange: true } : {}),
    });
  }

  /**
   * Runs up to `targetUs` (whole µs, or Infinity: the end); `onBoundary` is called at every snapshot
   * boundary crossed. Stops early, returning false, once `deadlineWallMs` (performance.now()) has
   * passed; the simulator is asked for at most `eventsPerSliceMax` events between two looks at it.
   */
  advanceToUs(targetUs: number, onBoundary: (() => void) | null, deadlineWallMs: number): boolean {
    const target = Math.min(targetUs, this.endUs);
    while (!this.finished) {
      if (this.sim.isStopped) {
        this.finish();
        break;
      }
      const phaseEnd = this.sim.phase === 'safety' ? this.safetyUs : this.endUs;
      // A hunt (`f`, `l`, `x`) goes one instant at a time, so that it stops with the clock at the event
      // it looked for, not at the end of a slice.
      const instantUs = this.stopWhen !== null ? (this.sim.nextEventUs() ?? Infinity) : Infinity;
      const stop = Math.min(target, phaseEnd, onBoundary ? this.nextSnapshotUs : Infinity, instantUs);
      const before = {
        nowUs: this.sim.nowUs,
        phase: this.sim.phase,
        boundary: this.nextSnapshotUs,
        events: this.sim.counters.events,
      };
      const arrived = this.sim.runUntilUs(stop, eventsPerSliceMax);
      this.maybeCheckLin();
      if (this.stopWhen !== null && this.hit !== null) return true;
      if (arrived && onBoundary && this.sim.nowUs >= this.nextSnapshotUs) {
        onBoundary();
        this.nextSnapshotUs = this.nextBoundaryUs();
      }
      if (arrived && !this.sim.isStopped) {
        if (this.sim.nowUs >= phaseEnd) {
          if (this.sim.phase === 'safety') this.sim.beginLiveness();
          else {
            this.finish();
            break;
          }
        } else if (this.sim.nowUs >= target) break;
      }
      // Every pass moves the clock, the phase or the snapshot boundary, or processes events:
      // a pass that did none of these would repeat forever (the freeze of issue 16 §1).
      assert(
        !arrived ||
          this.sim.isStopped ||
          this.sim.nowUs > before.nowUs ||
          this.sim.phase !== before.phase ||
          this.nextSnapshotUs !== before.boundary ||
          this.sim.counters.events > before.events,
        `the TUI's run made no progress at ${this.sim.nowUs} µs towards ${target} µs`,
      );
      if (performance.now() >= deadlineWallMs) return this.finished || this.sim.nowUs >= target;
    }
    if (!onBoundary) this.nextSnapshotUs = this.nextBoundaryUs();
    return true;
  }

  nextBoundaryUs(): number {
    return (Math.floor(this.sim.nowUs / this.snapshotEveryUs) + 1) * this.snapshotEveryUs;
  }

  stepOne(): void {
    this.sim.stepOne();
    this.maybeCheckLin();
    if (this.sim.isStopped) this.finish();
  }

  private finish(): void {
    this.sim.finish();
    this.finished = true;
  }
}
