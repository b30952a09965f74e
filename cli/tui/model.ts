/**
 * The TUI's view model: a plain, readonly "cluster snapshot" that the presentational components draw.
 * The container (cli/tui/app.tsx) builds one from a running simulation (cli/tui/session.ts) after every
 * batch of events; tests build them by hand. Nothing here knows about the simulator, so the components
 * can be tested frame by frame with fixed data.
 *
 * Every field a harness may not provide is nullable: a SWIM-only cluster has no term, a Raft-only
 * cluster no member view. The components print `-` for null.
 */

import type { Coordinate } from '../../core/swim/coordinate.js';
import type { TraceTopic } from '../../core/trace.js';

/** One node as the table shows it. */
export interface NodeSnapshot {
  readonly name: string;
  /** False while crashed (volatile state lost, waiting for a restart). */
  readonly up: boolean;
  /** True while paused (no processing; its timers fire late on resume). */
  readonly paused: boolean;
  /** Raft role (leader, follower, candidate, precandidate, learner), or another protocol's role. */
  readonly role: string | null;
  readonly term: number | null;
  readonly commitIndex: number | null;
  readonly appliedIndex: number | null;
  /** The leader this node believes in; null when it knows none. */
  readonly leader: string | null;
  /** How this node sees each other member (SWIM status: alive, suspect, failed, leaving, left). */
  readonly peers: Readonly<Record<string, string>>;
  /** Lifeguard health score (0 is healthy) or a check status; null when the harness has none. */
  readonly health: string | null;
  /** Harness-specific columns (`Harness.describe`). */
  readonly extra: Readonly<Record<string, string | number>>;
  /**
   * The detail pane's lines (`d`): every field of every machine's `view()` on this node, as
   * `machine.field value`. Absent for big clusters (the cost would be paid for every node).
   */
  readonly details?: readonly string[];
  /** The detail pane's sections (small clusters only; absent when the node has no such machine). */
  readonly raftLog?: RaftLogTail;
  readonly kv?: KvSample;
  /**
   * This node's network coordinate (Vivaldi, fed by its probes' round trips), when it runs SWIM: the
   * web UI's coordinate map. The core replaces the object on every update, so a kept snapshot keeps
   * the coordinate of its moment.
   */
  readonly coordinate?: Coordinate;
  /** This node's SWIM view with incarnations. */
  readonly members?: readonly { readonly id: string; readonly status: string; readonly incarnation: number }[];
  /** The last messages this node received (or that were dropped on their way to it), oldest first. */
  readonly messagesIn?: readonly MessageSeen[];
  /** The last messages this node sent (as they arrived or were dropped), oldest first. */
  readonly messagesOut?: readonly MessageSeen[];
}

/** The last entries of a node's Raft log. */
export interface RaftLogTail {
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly entries: readonly { readonly index: number; readonly term: number; readonly command: string }[];
}

/** The first keys of a node's KV store (as its state machine holds them). */
export interface KvSample {
  readonly keyCount: number;
  readonly entries: readonly { readonly key: string; readonly value: string; readonly modifyIndex: number }[];
}

export interface MessageSeen {
  /** When it was sent (global simulated ms). */
  readonly atMs: number;
  /** The other end. */
  readonly peer: string;
  /** `raft.append`, `swim.ping`… */
  readonly what: string;
  readonly dropped: boolean;
}

/** Who can reach whom right now. */
export interface PartitionSnapshot {
  /** Groups that cannot talk to each other; empty when the network is whole. */
  readonly groups: readonly (readonly string[])[];
  /** Links cut in one direction only (`from` cannot reach `to`), beyond the groups. */
  readonly oneWay: readonly { readonly from: string; readonly to: string }[];
  /** Links holding their messages until `untilMs`. */
  readonly clogged: readonly { readonly from: string; readonly to: string; readonly untilMs: number }[];
}

export type EventKind = 'election' | 'membership' | 'fault' | 'verdict' | 'client' | 'info';

/** One line of the scrolling event log. */
export interface LogLine {
  /** Position in the run's trace (stable key for ink's <Static>). */
  readonly seq: number;
  readonly atMs: number;
  readonly kind: EventKind;
  /** The node the line is about (it logged it), or null for faults, phases and verdicts. */
  readonly node?: string | null;
  readonly text: string;
  /** A Raft leader was elected (the `l` key runs until the next one). */
  readonly leaderChange?: boolean;
}

/** Message rates over the last window of simulated time. */
export interface RateSnapshot {
  readonly windowMs: number;
  readonly sentPerSec: number;
  readonly deliveredPerSec: number;
  readonly droppedPerSec: number;
  readonly sentTotal: number;
  readonly deliveredTotal: number;
  readonly droppedTotal: number;
}

/** Client operations by outcome (from the run's history). */
export interface OpCounts {
  readonly ok: number;
  readonly fail: number;
  readonly unknown: number;
  readonly open: number;
  /** Counts by operation name: `{ put: 12, cas: 3 }`. */
  readonly byF: Readonly<Record<string, number>>;
}

export interface Verdict {
  /** running: no violation yet; pass: the run ended with every expectation met; fail: a violation. */
  readonly status: 'running' | 'pass' | 'fail';
  readonly violations: readonly string[];
}

export interface ClusterSnapshot {
  readonly scenario: string;
  readonly seed: number;
  readonly nowMs: number;
  /** The run's total planned length (safety + liveness), for the position bar. */
  readonly endMs: number;
  readonly phase: 'safety' | 'liveness' | 'done';
  readonly events: number;
  readonly nodes: readonly NodeSnapshot[];
  readonly partition: PartitionSnapshot;
  readonly log: readonly LogLine[];
  readonly rates: RateSnapshot;
  readonly ops: OpCounts;
  readonly verdict: Verdict;
  /** Faults typed at the keyboard so far (they go into a saved replay). */
  readonly interactiveFaults: number;
}

/** The container's own state, shown in the header and help line. */
export interface UiState {
  readonly paused: boolean;
  /** Simulated ms per wall ms; Infinity = flat out. */
  readonly speed: number;
  readonly selected: number;
  /** A one-line message (saved file, refused key) shown above the help line. */
  readonly message: string | null;
  /** The `?` overlay: what every column and letter means. */
  readonly help?: boolean;
  /** The detail pane of the selected node (`d`), in place of the event log. */
  readonly detail?: boolean;
  /** Every violation in full (`v`), in place of the event log. */
  readonly violations?: boolean;
  /** First line shown of the detail or violations pane (PgUp/PgDn, J/K, Home/End); 0 or absent: the top. */
  readonly scroll?: number;
  /**
   * The events pane scrolled back: the `seq` of the newest line shown (the view stays on these lines
   * while new ones arrive); null or absent: it follows the newest line.
   */
  readonly eventsEndSeq?: number | null;
  /** Running flat out until the next such event (`f`, `l`, `x`); null or absent: not hunting. */
  readonly until?: HuntKind | null;
}

/** What the run-until keys look for: the next fault, the next leader change, the first violation. */
export type HuntKind = 'fault' | 'leader' | 'violation';

export const huntLabel: Record<HuntKind, string> = {
  fault: 'the next fault',
  leader: 'the next leader change',
  violation: 'the first violation',
};

/** Does this event-log line end a hunt for `kind`? */
export function endsHunt(kind: HuntKind, line: LogLine): boolean {
  switch (kind) {
    case 'fault':
      return line.kind === 'fault';
    case 'leader':
      return line.leaderChange === true;
    case 'violation':
      return line.kind === 'verdict' && line.text.startsWith('VIOLATION');
  }
}

/** The speed ladder for + and -: ×1 … ×10,000, then flat out. */
export const speeds: readonly number[] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, Infinity];

export function speedLabel(speed: number): string {
  return speed === Infinity ? 'flat out' : `×${speed.toLocaleString('en-US')}`;
}

export function nextSpeed(speed: number, direction: 1 | -1): number {
  const index = speeds.indexOf(speed);
  const at = index < 0 ? speeds.findIndex((s) => s >= speed) : index;
  return speeds[Math.min(speeds.length - 1, Math.max(0, at + direction))]!;
}

/** `12.345s`, with millisecond precision; simulated time only. */
export function formatSimTime(ms: number): string {
  return `${(ms / 1000).toFixed(3)}s`;
}

/** One-letter codes for a member status in the per-peer column. */
export function statusLetter(status: string | undefined): string {
  switch (status) {
    case undefined:
      return '?';
    case 'alive':
      return 'A';
    case 'suspect':
      return 'S';
    case 'failed':
    case 'dead':
      return 'F';
    case 'leaving':
      return 'l';
    case 'left':
      return 'L';
    default:
      return status.slice(0, 1).toUpperCase();
  }
}

/**
 * The colour class of a core trace event, from its typed topic (core/trace.ts): no sentence is parsed.
 */
export function classifyTopic(topic: TraceTopic): EventKind {
  return topic === 'election' ? 'election' : topic === 'membership' ? 'membership' : 'info';
}

/**
 * Classifies a harness's free-text line (workload and harness notes, which are not core events) for
 * the event log's colour.
 */
export function classifyLine(text: string): EventKind {
  const t = text.toLowerCase();
  if (
    t.startsWith('fault') ||
    t.startsWith('nemesis') ||
    // Whole words (with their -ed forms): 'heal' must not catch "marking health alive".
    /\b(crash|restart|partition|heal|pause|resume|clog|jump)(ed|ged|d)?\b|\b(one-?way|drift)\b/.test(t)
  )
    return 'fault';
  if (/\b(leader|elect|candidate|vote|term)\b/.test(t)) return 'election';
  if (/\b(join|joined|leave|left|suspect|failed|alive|member|add-?server|remove-?server)\b/.test(t))
    return 'membership';
  if (/\b(violation|verdict|pass|fail)\b/.test(t)) return 'verdict';
  if (t.startsWith('workload') || t.startsWith('client')) return 'client';
  return 'info';
}

/** Is there any cut between `from` and `to` (either reason)? */
export function isCut(partition: PartitionSnapshot, from: string, to: string): boolean {
  if (partition.oneWay.some((l) => l.from === from && l.to === to)) return true;
  if (partition.groups.length === 0) return false;
  const groupOf = (n: string): number => partition.groups.findIndex((g) => g.includes(n));
  return groupOf(from) !== groupOf(to);
}

export const emptyPartition: PartitionSnapshot = { groups: [], oneWay: [], clogged: [] };
export const emptyRates: RateSnapshot = {
  windowMs: 1000,
  sentPerSec: 0,
  deliveredPerSec: 0,
  droppedPerSec: 0,
  sentTotal: 0,
  deliveredTotal: 0,
  droppedTotal: 0,
};
export const emptyOps: OpCounts = { ok: 0, fail: 0, unknown: 0, open: 0, byF: {} };
