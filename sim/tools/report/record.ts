/**
 * A run record: everything the report draws, as plain data. It is collected by re-running a replay
 * file with observers attached (sim/report/collect.ts), and can be written as JSON next to the HTML so
 * that other tools can draw their own pictures.
 *
 * Times are global simulated milliseconds.
 */
import type { Outcome } from '../../history.js';

export interface RunRecord {
  readonly scenario: string;
  readonly seed: number;
  /** The run's fingerprint (16 hex digits). */
  readonly trace: string;
  readonly result: 'pass' | 'fail';
  readonly simulatedMs: number;
  readonly nodes: readonly string[];
  readonly violations: readonly { readonly atMs: number; readonly text: string }[];
  readonly ops: readonly RecordedOp[];
  readonly faults: readonly FaultWindow[];
  readonly messages: readonly RecordedMessage[];
  readonly roles: readonly RoleChange[];
  readonly log: readonly { readonly atMs: number; readonly text: string }[];
}

export interface RecordedOp {
  readonly id: number;
  readonly process: number;
  readonly f: string;
  readonly key?: string;
  readonly node: string;
  readonly input: unknown;
  readonly output?: unknown;
  readonly invokeMs: number;
  /** Null when the operation never completed (its outcome is unknown, its end is +∞). */
  readonly completeMs: number | null;
  readonly outcome: Outcome;
}

/** A fault active from `startMs` to `endMs` (the end of the run when it was never healed). */
export interface FaultWindow {
  /** partition, oneway, bridge, ring, crash, pause, clog, clock, network… */
  readonly kind: string;
  /** The uniform sentence that started it ("partition n1 | n2 n3"). */
  readonly label: string;
  readonly startMs: number;
  readonly endMs: number;
  /** The nodes it touched (all nodes for a network-wide fault). */
  readonly nodes: readonly string[];
}

export interface RecordedMessage {
  readonly from: string;
  readonly to: string;
  readonly sendMs: number;
  /** Null when the message was dropped (loss, partition, crash of the receiver). */
  readonly deliverMs: number | null;
  /** A short name: the message type (RequestVote, AppendEntries, Ping…). */
  readonly label: string;
}

export interface RoleChange {
  readonly node: string;
  readonly atMs: number;
  /** The node's role from this time on; `down` while crashed, `paused` while paused. */
  readonly role: string;
  readonly term: number | null;
}

/** The earliest violation time, or null for a passing run. */
export function violationTimeMs(record: RunRecord): number | null {
  if (record.violations.length === 0) return null;
  return Math.min(...record.violations.map((v) => v.atMs));
}
