/**
 * What the report puts first: the cause of the failure, in words. For a linearizability violation, the
 * operations the checker could not linearize together (the ids it names in its minimal set), written
 * as Jepsen writes them (`cas r/2 v121→v136 ok`, `read r/2 → nil`), and the faults that began before
 * them; for a liveness violation, the harness's reasons (Harness.whyNotLive) and the operations they
 * name (an acknowledged value no node kept); for any other violation, the faults before it. The pictures centre on the same moment.
 *
 * Pure functions of a RunRecord (no DOM, no Node modules): the web UI can import this module, as it
 * imports svg.ts.
 */
import type { FaultWindow, RecordedOp, RunRecord } from './record.js';
import { violationTimeMs } from './record.js';
import { groupSlots, type GroupTxnOp, type GroupTxnOutput } from '../../checkers/lin/models.js';

export interface Story {
  /** The first line of the first violation (the checker's verdict, without its explanation). */
  readonly headline: string;
  /** The operations that explain it (empty when the violation names none), in completion order. */
  readonly causeOps: readonly RecordedOp[];
  /** The last of them, where the anomaly shows: the pictures centre on these. */
  readonly focusOps: readonly RecordedOp[];
  /**
   * Faults that began before the focus operations returned (the latest last); for a liveness
   * violation also those up to `livenessAfterMs` later (a crash right after an acknowledgement).
   */
  readonly faultsBefore: readonly FaultWindow[];
  /** A liveness violation: true, and `reasons` are the harness's sentences saying what is stuck. */
  readonly liveness: boolean;
  readonly reasons: readonly string[];
  /** The moment the pictures centre on: from the first focus operation's call to the last one's return. */
  readonly fromMs: number;
  readonly toMs: number;
}

/** Operations the message diagram centres on: the last ones of the cause set to complete. */
export const focusOpsMax = 2;
/** Simulated time shown before and after the focus operations. */
export const focusMarginMs = 25;
/** For a liveness violation, faults this long after the operations it names count as their cause. */
export const livenessAfterMs = 500;
const livenessHead = /^(liveness: no progress within \d+ ms after faults stopped)(?:: )?/;

export function storyOf(record: RunRecord): Story | null {
  const first = record.violations[0];
  if (!first) return null;
  const atMs = violationTimeMs(record) ?? record.simulatedMs;
  const byId = new Map(record.ops.map((op) => [op.id, op]));
  // The checker names its minimal set after "A minimal set" / "A set of"; earlier lines name the prefix.
  // A liveness violation names the operations that explain it (an acknowledged value nobody kept).
  const setAt = first.text.search(/A (minimal )?set of \d+ operations/);
  const named = setAt >= 0 ? first.text.slice(setAt) : first.text.startsWith('liveness:') ? first.text : '';
  const ids = [...new Set([...named.matchAll(/#(\d+) /g)].map((m) => Number(m[1])))];
  const causeOps = ids
    .map((id) => byId.get(id))
    .filter((op): op is RecordedOp => op !== undefined)
    .sort((a, b) => (a.completeMs ?? Infinity) - (b.completeMs ?? Infinity));
  const focusOps = causeOps.slice(-focusOpsMax);
  const fromMs = focusOps.length > 0 ? Math.max(0, Math.min(...focusOps.map((o) => o.invokeMs)) - focusMarginMs) : atMs;
  const toMs =
    focusOps.length > 0 ? Math.max(...focusOps.map((o) => o.completeMs ?? record.simulatedMs)) + focusMarginMs : atMs;
  const head = livenessHead.exec(first.text);
  const reasons = head
    ? first.text
        .slice(head[0].length)
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '')
    : [];
  const faultsUntilMs = head && causeOps.length > 0 ? toMs + livenessAfterMs : toMs;
  return {
    headline: head
      ? head[1]!
      : first.text
          .split('\n')[0]!
          .replace(/: Longest linearizable prefix.*$/, '')
          .slice(0, 300),
    causeOps,
    focusOps,
    faultsBefore: record.faults.filter((f) => f.startMs <= faultsUntilMs),
    liveness: head !== null,
    reasons,
    fromMs,
    toMs,
  };
}

const valueText = (v: unknown): string =>
  v === null || v === undefined ? 'nil' : typeof v === 'string' ? v : JSON.stringify(v);

/**
 * An operation as Jepsen writes it: `read r/2 → v10`, `write r/2 v34 ok`, `cas r/2 v121→v136 ok`,
 * `delete-cas r/2 v14 fail`; `?` for an unknown outcome.
 */
export function opText(op: RecordedOp): string {
  const key = op.key !== undefined ? ` ${op.key}` : '';
  const input = (op.input ?? {}) as Record<string, unknown>;
  const outcome = op.outcome === 'unknown' ? '?' : op.outcome;
  switch (op.f) {
    case 'read':
    case 'get':
      return op.outcome === 'ok' ? `${op.f}${key} → ${valueText(op.output)}` : `${op.f}${key} ${outcome}`;
    case 'write':
    case 'put':
      return `${op.f}${key} ${valueText(input['value'] ?? op.input)} ${outcome}`;
    case 'cas':
      return `cas${key} ${valueText(input['from'])}→${valueText(input['to'])} ${outcome}`;
    case 'delete-cas':
      return `delete-cas${key} ${valueText(input['from'])} ${outcome}`;
    case 'delete':
      return `delete${key} ${outcome}`;
    case 'txn':
      return txnText(op, key, outcome);
    case 'read-tree':
      return op.outcome === 'ok' && Array.isArray(op.output)
        ? `read-tree${key} → {${(op.output as (string | null)[])
            .flatMap((v, slot) => (v === null ? [] : [`${slotName(slot)}=${v}`]))
            .join(', ')}}`
        : `read-tree${key} ${outcome}`;
    case 'read-keys':
      return op.outcome === 'ok' && Array.isArray(op.output)
        ? `read-keys${key} → [${(op.output as string[]).join(', ')}]`
        : `read-keys${key} ${outcome}`;
    default:
      // An acknowledgement object ({"ok":true}) says no more than `ok`: only a value returned is shown.
      return `${op.f}${key}${op.input === null || op.input === undefined ? '' : ` ${JSON.stringify(op.input)}`} ${outcome}${op.outcome === 'ok' && op.output !== undefined && op.output !== null && typeof op.output !== 'object' ? ` → ${valueText(op.output)}` : ''}`;
  }
}

const slotName = (slot: number): string => groupSlots[slot] ?? `#${slot}`;

/** One sub-operation of a key-group txn, short: `set a=v3`, `cas b v2→v4`, `check c=v7`, `absent a`, `get b`. */
function txnOpText(op: GroupTxnOp): string {
  const k = slotName(op.slot);
  switch (op.verb) {
    case 'set':
      return `set ${k}=${valueText(op.value)}`;
    case 'cas':
      return `cas ${k} ${valueText(op.from)}→${valueText(op.value)}`;
    case 'delete':
      return `delete ${k}`;
    case 'delete-cas':
      return `delete-cas ${k} ${valueText(op.from)}`;
    case 'check-index':
      return `check ${k}=${valueText(op.from)}`;
    case 'check-not-exists':
      return `absent ${k}`;
    case 'get':
      return `get ${k}`;
    case 'get-tree':
      return 'get-tree';
  }
}

/**
 * A key-group transaction as Jepsen writes one: its sub-operations in brackets, the values its gets
 * returned after `→`, the ones that failed marked ✗ (then the whole txn rolled back):
 * `txn t/1/ [set a=v3, get c → v7] ok`, `txn t/1/ [set a=v3, cas b v2→v4 ✗] rolled back`.
 */
function txnText(op: RecordedOp, key: string, outcome: string): string {
  const ops = ((op.input ?? {}) as { ops?: GroupTxnOp[] }).ops;
  if (!Array.isArray(ops)) return `txn${key} ${outcome}`;
  const out = op.outcome === 'ok' ? (op.output as GroupTxnOutput | null | undefined) : undefined;
  const failed = new Set(out && !out.ok ? out.failed : []);
  const gets = out && out.ok ? [...out.gets] : [];
  const parts = ops.map((sub, i) => {
    const text = txnOpText(sub);
    if (failed.has(i)) return `${text} ✗`;
    if (sub.verb === 'get' && out?.ok) return `${text} → ${valueText(gets.shift())}`;
    return text;
  });
  const verdict = out && !out.ok ? 'rolled back' : outcome;
  return `txn${key} [${parts.join(', ')}] ${verdict}`;
}
