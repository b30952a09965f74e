/**
 * The history of client operations in a run: when each was invoked and completed, with what outcome.
 * Checkers (linearizability, "every acknowledged write survives") read it; the report draws it.
 *
 * Outcomes follow Jepsen: `ok` (it happened, with this output), `fail` (it did not happen / the
 * precondition was false — for a CAS, it observed another value), `unknown` (timed out or the node
 * crashed: it may or may not have happened, at any time after its invocation).
 */
import { assert } from '../core/assert.js';

export type Outcome = 'ok' | 'fail' | 'unknown';

export interface Operation {
  readonly id: number;
  /** The client (Jepsen "process") that issued it; one outstanding operation per process. */
  readonly process: number;
  /** The operation's name: read, write, cas, get, put, append, lock, propose... */
  readonly f: string;
  /** The key it touches, when the model is partitioned by key. */
  readonly key?: string;
  readonly input: unknown;
  /**
   * The node the client sent it to; '-' when the client picks a node per attempt (the kv harness
   * follows redirects and retries elsewhere), until `complete` names the node that answered last.
   */
  node: string;
  readonly invokeMs: number;
  completeMs?: number;
  outcome?: Outcome;
  output?: unknown;
}

export class History {
  /** In invocation order; invokeMs never decreases along it (asserted in `invoke`, used by `firstFrom`). */
  readonly ops: Operation[] = [];
  private readonly open = new Set<number>();

  invoke(process: number, f: string, input: unknown, node: string, nowMs: number, key?: string): Operation {
    const last = this.ops[this.ops.length - 1];
    assert(last === undefined || nowMs >= last.invokeMs, 'operations are invoked in time order');
    for (const id of this.open)
      if (this.ops[id]!.process === process) assert(false, `process ${process} already has an open operation`);
    const op: Operation = {
      id: this.ops.length,
      process,
      f,
      input,
      node,
      invokeMs: nowMs,
      ...(key !== undefined ? { key } : {}),
    };
    this.ops.push(op);
    this.open.add(op.id);
    return op;
  }

  /** `servedBy`: the node whose answer the client got last, recorded when the invocation named none. */
  complete(op: Operation, outcome: Outcome, output: unknown, nowMs: number, servedBy?: string): void {
    if (!this.open.has(op.id)) assert(false, `operation ${op.id} completed twice`);
    if (servedBy !== undefined && op.node === '-') op.node = servedBy;
    assert(nowMs >= op.invokeMs, 'an operation completes after it was invoked');
    this.open.delete(op.id);
    op.completeMs = nowMs;
    op.outcome = outcome;
    op.output = outcome === 'unknown' ? undefined : output;
  }

  /**
   * The position in `ops` of the first operation invoked at or after `ms` (`ops.length` when none is):
   * the liveness polls look only at what was invoked after the faults stopped, not at the whole run.
   */
  firstFrom(ms: number): number {
    let lo = 0;
    let hi = this.ops.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ops[mid]!.invokeMs < ms) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Whether a write invoked at or after `ms` was acknowledged (the raft and kv harnesses' liveness). */
  someWriteOkFrom(ms: number): boolean {
    for (let i = this.firstFrom(ms); i < this.ops.length; i++) {
      const op = this.ops[i]!;
      if (op.f === 'write' && op.outcome === 'ok') return true;
    }
    return false;
  }

  /** Operations still open at the end of a run count as unknown (their response time is +∞). */
  get openCount(): number {
    return this.open.size;
  }

  /** Our own history format: one JSON object per line, the fields of `Operation`. */
  toJsonLines(): string {
    return this.ops.map((op) => JSON.stringify(op)).join('\n') + (this.ops.length > 0 ? '\n' : '');
  }
}
