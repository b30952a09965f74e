/**
 * Collects a run record (record.ts) by replaying a run with observers attached. The observers only
 * read (log lines, message hops, node views), so the replay keeps its trace hash: the pictures are of
 * the very run the replay file names.
 */
import type { ReplayFile } from '../replay.js';
import { replay } from '../replay.js';
import type { LogLine, MessageHop, Simulation } from '../../engine/simulation.js';
import type { FaultWindow, RecordedMessage, RecordedOp, RoleChange, RunRecord } from './record.js';

/** Message hops kept (the latest): the Lamport diagram draws the ones just before the violation. */
export const messagesKeptMax = 20_000;
export const logKeptMax = 5_000;

export interface Collected {
  readonly record: RunRecord;
  readonly sameTrace: boolean;
}

export async function collectRecord(file: ReplayFile): Promise<Collected> {
  const messages: RecordedMessage[] = [];
  const log: { atMs: number; text: string }[] = [];
  const violations: { atMs: number; text: string }[] = [];
  const faultLines: { atMs: number; text: string }[] = [];
  const roles: RoleChange[] = [];
  const lastRole = new Map<string, string>();
  let sim: Simulation | null = null;

  const noteRole = (node: string, atMs: number, role: string, term: number | null): void => {
    const key = `${role}/${term ?? ''}`;
    if (lastRole.get(node) === key) return;
    lastRole.set(node, key);
    roles.push({ node, atMs, role, term });
  };
  const look = (node: string, atMs: number): void => {
    if (!sim) return;
    if (!sim.isUp(node)) return noteRole(node, atMs, 'down', null);
    if (sim.isPaused(node)) return noteRole(node, atMs, 'paused', null);
    let role = 'up';
    let term: number | null = null;
    for (const view of Object.values(sim.runtime(node)!.view())) {
      if (typeof view.role === 'string') role = view.role;
      if (typeof view.term === 'number') term = view.term;
    }
    noteRole(node, atMs, role, term);
  };
  const onLog = (line: LogLine): void => {
    log.push({
      atMs: line.atMs,
      text: line.node && !line.text.startsWith(line.node) ? `${line.node}: ${line.text}` : line.text,
    });
    if (log.length > logKeptMax * 2) log.splice(0, log.length - logKeptMax);
    if (line.kind === 'violation') violations.push({ atMs: focusMs(line.text, line.atMs), text: line.text });
    if (line.kind === 'fault' || (line.kind === 'phase' && line.text.startsWith('safety phase over')))
      faultLines.push({ atMs: line.atMs, text: line.text });
    if (line.node) look(line.node, line.atMs);
    else if (line.kind === 'fault' && sim) for (const id of sim.nodeIds) look(id, line.atMs);
  };
  const onMessage = (hop: MessageHop): void => {
    messages.push({
      from: hop.from,
      to: hop.to,
      sendMs: hop.sentMs,
      deliverMs: hop.deliveredMs,
      label: hopLabel(hop),
    });
    if (messages.length > messagesKeptMax * 2) messages.splice(0, messages.length - messagesKeptMax);
    look(hop.from, hop.sentMs);
    look(hop.to, hop.deliveredMs ?? hop.sentMs);
  };
  const run = await replay(file, {
    onLog,
    onMessage,
    onSimulation: (s) => {
      sim = s;
    },
  });
  const result = run.result;
  for (const id of run.loaded.scenario.nodes)
    if (!roles.some((r) => r.node === id && r.atMs === 0)) roles.unshift({ node: id, atMs: 0, role: 'up', term: null });
  roles.sort((a, b) => a.atMs - b.atMs);
  const ops: RecordedOp[] = opsOf(sim as unknown as Simulation);
  const record: RunRecord = {
    scenario: `${run.loaded.scenario.name} (${file.scenarioFile})`,
    seed: file.seed,
    trace: result.trace,
    result: result.result,
    simulatedMs: result.simulatedMs,
    nodes: run.loaded.scenario.nodes,
    violations:
      violations.length > 0 ? violations : result.violations.map((text) => ({ atMs: result.simulatedMs, text })),
    ops,
    faults: faultWindows(faultLines, result.simulatedMs, run.loaded.scenario.nodes),
    messages: messages.slice(-messagesKeptMax),
    roles,
    log: log.slice(-logKeptMax),
  };
  return { record, sameTrace: run.sameTrace };
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
