/**
 * The simulated disk of one node. It models what an fsync-based store really guarantees:
 *
 *  - a write is durable only once a sync that covers it has completed;
 *  - on a crash, the unsynced writes are lost — except that any prefix of them may have reached the
 *    platter anyway (page-cache flushes happen in the background), and the first write past that
 *    prefix may be torn: an append whose last entry is only partly there;
 *  - optionally, a stored log entry can rot (a bit flip), which the loader reports by position.
 *
 * With the codec on, values are stored as msgpackr bytes, so a protocol that mutates an object after
 * persisting it cannot change what is on "disk" (and a value that does not encode fails loudly here,
 * as it would on the real disk). With the codec off (speed runs), values are stored by reference.
 */
import { pack, unpack } from 'msgpackr';
import { assert } from '../../core/assert.js';
import type { Prng } from '../../core/prng.js';
import type { DurableLog, DurableState, StorageOp } from '../../core/types.js';

interface StoredLog {
  entries: unknown[];
  /** Position of an entry that rotted on disk (bit flip), if any. */
  rotAt: number | null;
}

interface PendingOp {
  readonly marker: number;
  readonly op: StorageOp;
}

export interface CrashOutcome {
  readonly unsyncedOps: number;
  readonly survivedOps: number;
  readonly torn: boolean;
}

export class SimStorage {
  private readonly records = new Map<string, unknown>();
  private readonly logs = new Map<string, StoredLog>();
  private pending: PendingOp[] = [];
  private tornLogs = new Set<string>();
  /** Marker of the latest write handed to the disk. */
  writtenMarker = 0;
  /** Marker up to which every write is durable. Invariant: durableMarker ≤ writtenMarker. */
  durableMarker = 0;

  constructor(private readonly codec: boolean) {}

  /** Queues the ops of one persist effect (not yet durable); returns the marker a sync must reach. */
  write(ops: readonly StorageOp[]): number {
    const marker = ++this.writtenMarker;
    for (const op of ops) this.pending.push({ marker, op: this.codec ? encodeOp(op) : op });
    return marker;
  }

  /** A sync that started when `marker` was the latest write completed: everything up to it is durable. */
  sync(marker: number): void {
    assert(marker <= this.writtenMarker, 'sync of a write that was never made');
    if (marker <= this.durableMarker) return;
    let i = 0;
    while (i < this.pending.length && this.pending[i]!.marker <= marker) this.applyOp(this.pending[i++]!.op);
    this.pending = this.pending.slice(i);
    this.durableMarker = marker;
  }

  get unsynced(): boolean {
    return this.writtenMarker > this.durableMarker;
  }

  /**
   * The node crashed. A random prefix of the unsynced ops survives; with probability tornRatio the
   * next op, if it is an append, is torn (some of its entries land, the last one partially).
   */
  crash(prng: Prng, tornNumerator: number, tornDenominator: number): CrashOutcome {
    const unsyncedOps = this.pending.length;
    const survivedOps = unsyncedOps === 0 ? 0 : prng.below(unsyncedOps + 1);
    for (let i = 0; i < survivedOps; i++) this.applyOp(this.pending[i]!.op);
    let torn = false;
    const next = this.pending[survivedOps];
    if (next && next.op.op === 'append' && next.op.entries.length > 0 && prng.chance(tornNumerator, tornDenominator)) {
      const keep = prng.below(next.op.entries.length); // whole entries before the torn one
      this.applyOp({ ...next.op, entries: next.op.entries.slice(0, keep) });
      this.tornLogs.add(next.op.log);
      torn = true;
    }
    this.pending = [];
    this.writtenMarker = this.durableMarker = Math.max(this.writtenMarker, this.durableMarker);
    return { unsyncedOps, survivedOps, torn };
  }

  /** Flips a bit in a random durable log entry (bit rot). Returns the log and position, if any entry exists. */
  rot(prng: Prng): { log: string; position: number } | null {
    const candidates = [...this.logs.entries()].filter(([, log]) => log.entries.length > 0);
    if (candidates.length === 0) return null;
    const [name, log] = prng.pick(candidates);
    const position = prng.below(log.entries.length);
    log.rotAt = log.rotAt === null ? position : Math.min(log.rotAt, position);
    return { log: name, position };
  }

  /**
   * What a restarting node reads. A torn final entry is cut off and reported as `tornTail`; a rotten
   * entry at the end is indistinguishable from a torn write (its checksum fails at the tail), so it is
   * reported the same way; a rotten entry before the tail is reported as `corrupt`.
   */
  load(): DurableState {
    const records = new Map<string, unknown>();
    for (const [key, value] of this.records) records.set(key, this.codec ? unpack(value as Uint8Array) : value);
    const logs = new Map<string, DurableLog>();
    for (const [name, log] of this.logs) {
      let entries = log.entries;
      let tornTail = this.tornLogs.has(name);
      let corrupt: DurableLog['corrupt'];
      if (log.rotAt !== null) {
        if (log.rotAt === entries.length - 1) {
          entries = entries.slice(0, -1);
          tornTail = true;
        } else corrupt = { position: log.rotAt, reason: `checksum mismatch in ${name} entry ${log.rotAt}` };
      }
      const decoded = this.codec ? entries.map((e) => unpack(e as Uint8Array)) : entries.slice();
      logs.set(name, corrupt ? { entries: decoded, tornTail, corrupt } : { entries: decoded, tornTail });
    }
    return { records, logs };
  }

  /** Called once a restarted node has started: a torn tail is reported once, then it is history. */
  acknowledgeLoad(): void {
    this.tornLogs.clear();
  }

  /** Bytes (codec on) or entries (codec off) held durably, for summaries. */
  get logEntryCount(): number {
    let count = 0;
    for (const log of this.logs.values()) count += log.entries.length;
    return count;
  }

  private applyOp(op: StorageOp): void {
    switch (op.op) {
      case 'put':
        this.records.set(op.key, op.value);
        return;
      case 'delete':
        this.records.delete(op.key);
        return;
      case 'append': {
        const log = this.logFor(op.log);
        for (const entry of op.entries) log.entries.push(entry);
        return;
      }
      case 'truncate': {
        const log = this.logFor(op.log);
        assert(op.keepCount >= 0, 'truncate keeps a non-negative count');
        if (op.keepCount < log.entries.length) log.entries.length = op.keepCount;
        if (log.rotAt !== null && log.rotAt >= op.keepCount) log.rotAt = null;
        this.tornLogs.delete(op.log);
        return;
      }
      case 'dropPrefix': {
        const log = this.logFor(op.log);
        assert(op.dropCount >= 0, 'dropPrefix drops a non-negative count');
        log.entries.splice(0, op.dropCount);
        if (log.rotAt !== null) log.rotAt = log.rotAt < op.dropCount ? null : log.rotAt - op.dropCount;
        return;
      }
    }
  }

  private logFor(name: string): StoredLog {
    let log = this.logs.get(name);
    if (!log) {
      log = { entries: [], rotAt: null };
      this.logs.set(name, log);
    }
    return log;
  }
}

function encodeOp(op: StorageOp): StorageOp {
  switch (op.op) {
    case 'put':
      return { ...op, value: pack(op.value) };
    case 'append':
      return { ...op, entries: op.entries.map((e) => pack(e)) };
    default:
      return op;
  }
}
