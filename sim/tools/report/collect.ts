/**
 * Collects a run record (record.ts) by replaying a run with observers attached. The observers only
 * read (log lines, message hops, node views), so the replay keeps its trace hash: the pictures are of
 * the very run the replay file names.
 */
import { performance } from 'node:perf_hooks';
import { assert } from '../../../core/assert.js';
import type { ReplayFile } from '../replay.js';
import { Simulation, type LogLine, type MessageHop, type RunResult } from '../../engine/simulation.js';
import type { Knobs } from '../../engine/nemesis.js';
import { loadScenarioText, type LoadedScenario } from '../../run.js';
import type { FaultWindow, RecordedMessage, RecordedOp, RoleChange, RunRecord } from './record.js';

/** Message hops kept (the latest): the Lamport diagram draws the ones just before the violation. */
export const messagesKeptMax = 20_000;
export const logKeptMax = 5_000;
/** Events the simulator runs between two looks at the wall clock (as the TUI's sessions do). */
export const eventsPerSliceMax = 2000;

export interface Collected {
  readonly record: RunRecord;
  readonly sameTrace: boolean;
}

export async function collectRecord(file: ReplayFile): Promise<Collected> {
  const loaded = await loadScenarioText(file.scenarioText, file.scenarioFile);
  const collector = new RecordCollector(loaded, file.seed, { codec: file.codec, knobs: file.knobs });
  collector.advanceToUs(Infinity);
  const record = collector.record(`${loaded.scenario.name} (${file.scenarioFile})`);
  return { record, sameTrace: record.trace === file.trace };
}

/**
 * A run recorded as it goes: the simulation steps in slices (`advanceToUs`, with a wall-clock
 * deadline), following `Simulation.run` exactly (safety phase, `beginLiveness`, liveness phase,
 * `finish`), so a run recorded in pieces has the trace of a run in one go; `record()` is the record of
 * what has run so far. `conclave sim serve` draws its first pictures from the first simulated seconds
 * at once instead of simulating the whole run first; `collectRecord` runs it to the end.
 */
export class RecordCollector {
  readonly sim: Simulation;
  private readonly messages: RecordedMessage[] = [];
  private readonly log: { atMs: number; text: string }[] = [];
  private readonly violations: { atMs: number; text: string }[] = [];
  private readonly faultLines: { atMs: number; text: string }[] = [];
  private readonly roles: RoleChange[] = [];
  private readonly lastRole = new Map<string, string>();
  private readonly safetyUs: number;
  private readonly endUs: number;
  private wallMs = 0;
  private result: RunResult | null = null;

  constructor(
    private readonly loaded: LoadedScenario,
    readonly seed: number,
    options: { readonly codec: boolean; readonly knobs?: Partial<Knobs> },
  ) {
    // As Simulation.run rounds them: the phases end on these very microseconds there too.
    this.safetyUs = Math.round(loaded.scenario.safetyMs * 1000);
    this.endUs = Math.round((loaded.scenario.safetyMs + loaded.scenario.livenessMs) * 1000);
    this.sim = new Simulation(loaded.scenario, loaded.harness, seed, {
      codec: options.codec,
      ...(options.knobs ? { knobs: options.knobs } : {}),
      onLog: (line) => this.onLog(line),
      onMessage: (hop) => this.onMessage(hop),
    });
    const started = performance.now();
    this.sim.begin();
    this.wallMs += performance.now() - started;
  }

  /** True once the run is over (its verdict is in `record()`). */
  get finished(): boolean {
    return this.result !== null;
  }

  /** Simulated time recorded so far (whole µs). */
  get nowUs(): number {
    // A run that is live again after its faults ends early: its end is where it stopped.
    return this.result ? Math.round(this.result.simulatedMs * 1000) : this.sim.nowUs;
  }

  /**
   * Runs on to `targetUs` (whole µs; Infinity: the end), until `deadlineWallMs` (performance.now())
   * has passed. True when it got there or the run is over; false to be called again.
   */
  advanceToUs(targetUs: number, deadlineWallMs = Infinity): boolean {
    const started = performance.now();
    try {
      for (let slices = 0; this.result === null; slices++) {
        assert(slices < 1e9, 'the recording made no progress');
        if (this.sim.isStopped) {
          this.finish();
          break;
        }
        const phaseEnd = this.sim.phase === 'safety' ? this.safetyUs : this.endUs;
        const arrived = this.sim.runUntilUs(Math.min(targetUs, phaseEnd), eventsPerSliceMax);
        if (arrived && !this.sim.isStopped && this.sim.nowUs >= phaseEnd) {
          if (this.sim.phase === 'safety') this.sim.beginLiveness();
          else this.finish();
        } else if (arrived && this.sim.nowUs >= targetUs) return true;
        if (performance.now() >= deadlineWallMs) return this.result !== null || this.sim.nowUs >= targetUs;
      }
      return true;
    } finally {
      this.wallMs += performance.now() - started;
    }
  }

  private finish(): void {
    this.sim.finish();
    this.result = this.sim.result(this.wallMs);
  }

  /** The record of the run so far (the whole run once `finished`). */
  record(scenarioLabel: string = this.loaded.scenario.name): RunRecord {
    const result = this.result;
    const nowMs = result ? result.simulatedMs : this.sim.nowMs;
    const nodes = this.loaded.scenario.nodes;
    const roles = [...this.roles];
    for (const id of nodes)
      if (!roles.some((r) => r.node === id && r.atMs === 0))
        roles.unshift({ node: id, atMs: 0, role: 'up', term: null });
    roles.sort((a, b) => a.atMs - b.atMs);
    const violations =
      this.violations.length > 0 || !result
        ? [...this.violations]
        : result.violations.map((text) => ({ atMs: result.simulatedMs, text }));
    return {
      scenario: scenarioLabel,
      seed: this.seed,
      trace: result ? result.trace : 'running',
      result: result ? result.result : violations.length > 0 ? 'fail' : 'pass',
      simulatedMs: nowMs,
      nodes,
      violations,
      ops: opsOf(this.sim),
      faults: faultWindows(this.faultLines, nowMs, nodes),
      messages: this.messages.slice(-messagesKeptMax),
      roles,
      log: this.log.slice(-logKeptMax),
    };
  }

  private noteRole(node: string, atMs: number, role: string, term: number | null): void {
    const key = `${role}/${term ?? ''}`;
    if (this.lastRole.get(node) === key) return;
    this.lastRole.set(node, key);
    this.roles.push({ node, atMs, role, term });
  }

  private look(node: string, atMs: number): void {
    const sim = this.sim;
    if (!sim.isUp(node)) return this.noteRole(node, atMs, 'down', null);
    if (sim.isPaused(node)) return this.noteRole(node, atMs, 'paused', null);
    // The first machine that names a role wins, as in the TUI's node table: Raft's (mounted first)
    // says leader or follower where the agent's own view would only say server.
    let role: string | null = null;
    let term: number | null = null;
    for (const view of Object.values(sim.runtime(node)!.view())) {
      if (typeof view.role === 'string' && role === null) role = view.role;
      if (typeof view.term === 'number' && term === null) term = view.term;
    }
    this.noteRole(node, atMs, role ?? 'up', term);
  }

  private onLog(line: LogLine): void {
    const log = this.log;
    log.push({
      atMs: line.atMs,
      text: line.node && !line.text.startsWith(line.node) ? `${line.node}: ${line.text}` : line.text,
    });
    if (log.length > logKeptMax * 2) log.splice(0, log.length - logKeptMax);
    if (line.kind === 'violation') this.violations.push({ atMs: focusMs(line.text, line.atMs), text: line.text });
    if (line.kind === 'fault' || (line.kind === 'phase' && line.text.startsWith('safety phase over')))
      this.faultLines.push({ atMs: line.atMs, text: line.text });
    // The simulation is still being built while its constructor logs its knobs: nothing to look at yet.
    if (!this.sim) return;
    if (line.node) this.look(line.node, line.atMs);
    else if (line.kind === 'fault') for (const id of this.sim.nodeIds) this.look(id, line.atMs);
  }

  private onMessage(hop: MessageHop): void {
    const messages = this.messages;
    messages.push({
      from: hop.from,
      to: hop.to,
      sendMs: hop.sentMs,
      deliverMs: hop.deliveredMs,
      label: hopLabel(hop),
    });
    if (messages.length > messagesKeptMax * 2) messages.splice(0, messages.length - messagesKeptMax);
    this.look(hop.from, hop.sentMs);
    this.look(hop.to, hop.deliveredMs ?? hop.sentMs);
  }
}

/**
 * A message's short name: its type, except that a Raft AppendEntries without entries is a `heartbeat`
 * (the diagram folds those) and one with entries says how many (`append[3]`).
 */
export function hopLabel(hop: MessageHop): string {
  if (hop.type === '?') return hop.machine;
  const entries = (hop.payload as { entries?: unknown } | null | undefined)?.entries;
  if (hop.machine === 'raft' && hop.type === 'append' && Array.isArray(entries))
    return entries.length === 0 ? 'heartbeat' : `append[${entries.length}]`;
  return hop.type;
}

/**
 * When a violation is found only at the end of a run (a history checker), it names the operations
 * that contradict each other with their [invoke, complete] times (the linearizability checker's
 * "minimal set"): the pictures centre on the moment the last of them completed, where the anomaly
 * happened, rather than on the end of the run.
 */
export function focusMs(text: string, atMs: number): number {
  const ends = [...text.matchAll(/\[(\d+(?:\.\d+)?), (\d+(?:\.\d+)?)\]/g)].map((m) => Number(m[2]));
  return ends.length > 0 ? Math.min(atMs, Math.max(...ends)) : atMs;
}

function opsOf(sim: Simulation): RecordedOp[] {
  return sim.history.ops.map((op) => ({
    id: op.id,
    process: op.process,
    f: op.f,
    ...(op.key !== undefined ? { key: op.key } : {}),
    node: op.node,
    input: op.input,
    ...(op.output !== undefined ? { output: op.output } : {}),
    invokeMs: op.invokeMs,
    completeMs: op.completeMs ?? null,
    outcome: op.outcome ?? 'unknown',
  }));
}

/**
 * Pairs fault sentences into windows: a network cut lasts until `network healed`, a crash until the
 * node restarts, a pause until it resumes, a network setting until the next one, a drift until it is
 * set to 0; a clock jump is an instant.
 */
export function faultWindows(
  lines: readonly { atMs: number; text: string }[],
  endMs: number,
  nodes: readonly string[],
): FaultWindow[] {
  const windows: FaultWindow[] = [];
  const open: {
    kind: string;
    label: string;
    startMs: number;
    nodes: string[];
    until: (text: string) => boolean;
    endMs?: number;
  }[] = [];
  const close = (atMs: number, text: string): void => {
    for (let i = open.length - 1; i >= 0; i--) {
      const w = open[i]!;
      if (text === '*' || w.until(text)) {
        windows.push({ kind: w.kind, label: w.label, startMs: w.startMs, endMs: atMs, nodes: w.nodes });
        open.splice(i, 1);
      }
    }
  };
  for (const { atMs, text } of lines) {
    if (text.startsWith('safety phase over')) {
      // The simulator heals everything here (some of it without a sentence of its own).
      close(atMs, '*');
      continue;
    }
    close(atMs, text);
    let m: RegExpExecArray | null;
    const cut = (kind: string, touched: string[]): void =>
      void open.push({ kind, label: text, startMs: atMs, nodes: touched, until: (t) => t === 'network healed' });
    if ((m = /^partition (.+)$/.exec(text))) cut('partition', nodes.slice());
    else if ((m = /^one-way partition: (\S+) cannot reach (\S+)$/.exec(text))) cut('oneway', [m[1]!, m[2]!]);
    else if (/^bridge partition/.test(text)) cut('bridge', nodes.slice());
    else if (text === 'majority ring partition') cut('ring', nodes.slice());
    else if ((m = /^link (\S+)→(\S+) clogged until (\d+(?:\.\d+)?) ms$/.exec(text)))
      windows.push({
        kind: 'clog',
        label: text,
        startMs: atMs,
        endMs: Math.min(endMs, Number(m[3])),
        nodes: [m[1]!, m[2]!],
      });
    else if ((m = /^(\S+) crashed \(/.exec(text))) {
      const id = m[1]!;
      open.push({ kind: 'crash', label: text, startMs: atMs, nodes: [id], until: (t) => t === `${id} restarted` });
    } else if ((m = /^(\S+) paused$/.exec(text))) {
      const id = m[1]!;
      open.push({
        kind: 'pause',
        label: text,
        startMs: atMs,
        nodes: [id],
        until: (t) => t.startsWith(`${id} resumed`) || t.startsWith(`${id} crashed`),
      });
    } else if ((m = /^network (loss=\S+ dup=\S+ reorder=\S+)$/.exec(text))) {
      if (!/^loss=0% dup=0% reorder=0%$/.test(m[1]!))
        open.push({
          kind: 'network',
          label: text,
          startMs: atMs,
          nodes: nodes.slice(),
          until: (t) => t.startsWith('network loss='),
        });
    } else if ((m = /^(\S+) clock jumped/.exec(text)))
      windows.push({ kind: 'clock', label: text, startMs: atMs, endMs: atMs, nodes: [m[1]!] });
    else if ((m = /^(\S+) clock drift set to (-?\d+(?:\.\d+)?) ppm$/.exec(text))) {
      const id = m[1]!;
      if (Number(m[2]) !== 0)
        open.push({
          kind: 'clock',
          label: text,
          startMs: atMs,
          nodes: [id],
          until: (t) => t.startsWith(`${id} clock drift set to`),
        });
    }
  }
  for (const w of open) windows.push({ kind: w.kind, label: w.label, startMs: w.startMs, endMs, nodes: w.nodes });
  return windows.sort((a, b) => a.startMs - b.startMs);
}
