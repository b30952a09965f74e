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
import { settleFlush } from '../../core/flush.js';
import type { Prng } from '../../core/prng.js';
import { applyStorageOp, type StorageImage } from '../../core/storage.js';
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

/** What one sync did: everything asked is durable, part of it is (disk full), or the storage failed. */
export type SyncOutcome =
  | { readonly kind: 'durable' }
  | { readonly kind: 'retry'; readonly reason: string }
  | { readonly kind: 'fatal'; readonly reason: string };

/** WAL framing per record (length + CRC-32), as net/disk/storage.ts writes it. */
const recordHeaderBytes = 8;

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
  /**
   * Bytes the disk still takes (the `full` fault; Infinity otherwise). A flush past it is a short
   * write: the record that crosses the budget lands in part, and the next write fails (ENOSPC).
   */
  freeBytes = Infinity;
  /** Set once the flush rule called a write fatal: the process stops (the driver exits it). */
  failed: string | null = null;
  /**
   * A short write left part of a record at the end of the WAL: the loader cuts it off as a torn
   * tail, or, when records were appended after it, finds corruption there. Position per log.
   */
  private tornAt: Map<string, number> | null = null;
  private writtenAfterTorn = false;

  constructor(private readonly codec: boolean) {}

  /** Queues the ops of one persist effect (not yet durable); returns the marker a sync must reach. */
  write(ops: readonly StorageOp[]): number {
    const marker = ++this.writtenMarker;
    for (const op of ops) this.pending.push({ marker, op: this.codec ? encodeOp(op) : op });
    return marker;
  }

  /**
   * A sync that started when `marker` was the latest write completed. With space to spare everything
   * up to it is durable. Past the `full` budget the write is short and the shared flush rule
   * (core/flush.ts, the one DiskStorage follows) decides what is durable and what happens next.
   */
  sync(marker: number): SyncOutcome {
    assert(marker <= this.writtenMarker, 'sync of a write that was never made');
    if (this.failed !== null) return { kind: 'fatal', reason: this.failed };
    if (marker <= this.durableMarker) return { kind: 'durable' };
    let end = 0;
    while (end < this.pending.length && this.pending[end]!.marker <= marker) end++;
    if (this.freeBytes === Infinity) {
      for (let i = 0; i < end; i++) this.applyOp(this.pending[i]!.op);
      this.pending = this.pending.slice(end);
      this.durableMarker = marker;
      return { kind: 'durable' };
    }
    return this.syncWithinBudget(end);
  }

  private syncWithinBudget(end: number): SyncOutcome {
    // One record per persist effect (per marker), as the WAL frames them.
    const records: { marker: number; from: number; to: number; bytes: number }[] = [];
    for (let i = 0; i < end; i++) {
      const p = this.pending[i]!;
      const last = records[records.length - 1];
      const bytes = this.opBytes(p.op);
      if (last && last.marker === p.marker) {
        last.to = i + 1;
        last.bytes += bytes;
      } else records.push({ marker: p.marker, from: i, to: i + 1, bytes: recordHeaderBytes + bytes });
    }
    const sizes = records.map((r) => r.bytes);
    const total = sizes.reduce((a, b) => a + b, 0);
    const written = Math.min(total, this.freeBytes);
    // write(2) on a filling disk returns a short count; only a write with no room at all fails.
    const verdict = settleFlush(sizes, written, written === 0 && total > 0 ? 'noSpace' : null);
    if (verdict.kind === 'fatal') {
      this.failed = verdict.reason;
      return { kind: 'fatal', reason: verdict.reason };
    }
    // What physically reached the disk: the whole records inside `written`, and maybe part of one more.
    let physical = 0;
    let covered = 0;
    while (physical < records.length && covered + sizes[physical]! <= written) covered += sizes[physical++]!;
    const durableRecords = verdict.records;
    const kept = Math.min(durableRecords, physical);
    for (let r = 0; r < kept; r++)
      for (let i = records[r]!.from; i < records[r]!.to; i++) this.applyOp(this.pending[i]!.op);
    if (durableRecords > physical) {
      // A rule that called records durable that never fully reached the disk: the partial one is torn.
      if (written > covered && this.tornAt === null) this.markTorn();
      this.freeBytes -= written;
    } else this.freeBytes -= covered; // the partial record is cut off again (verdict 'short')
    if (durableRecords > 0) this.durableMarker = records[durableRecords - 1]!.marker;
    this.pending = this.pending.slice(durableRecords > 0 ? records[durableRecords - 1]!.to : 0);
    return verdict.kind === 'durable' ? { kind: 'durable' } : { kind: 'retry', reason: verdict.reason };
  }

  private markTorn(): void {
    this.tornAt = new Map();
    for (const [name, log] of this.logs) this.tornAt.set(name, log.entries.length);
  }

  /** Bytes an op takes in the WAL (payload only; the record adds its header). */
  private opBytes(op: StorageOp): number {
    const encoded = this.codec ? op : encodeOp(op);
    switch (encoded.op) {
      case 'put':
        return encoded.key.length + (encoded.value as Uint8Array).length + 4;
      case 'append': {
        let bytes = encoded.log.length + 4;
        for (const e of encoded.entries) bytes += (e as Uint8Array).length;
        return bytes;
      }
      default:
        return 16;
    }
  }

  /** The `full` fault: the disk takes `bytes` more, then writes fail. Infinity frees it. */
  setFreeBytes(bytes: number): void {
    this.freeBytes = bytes;
  }

  /** `disk replaced`: the node's data is gone (the process must be down); `keepRecords` were restored. */
  wipe(keepRecords: readonly string[]): void {
    assert(this.pending.length === 0, 'wipe a disk only while its node is down');
    // Keys are namespaced by machine ('raft/identity'): keep a record whose last segment is listed.
    const kept = (key: string) => keepRecords.includes(key.slice(key.lastIndexOf('/') + 1));
    for (const key of [...this.records.keys()]) if (!kept(key)) this.records.delete(key);
    this.logs.clear();
    this.tornLogs.clear();
    this.tornAt = null;
    this.writtenAfterTorn = false;
    this.failed = null;
  }

  get unsynced(): boolean {
    return this.writtenMarker > this.durableMarker;
  }

  /**
   * The node crashed. A random prefix of the unsynced ops survives; with chance tornNumerator/tornDenominator the
   * next op, if it is an append, is torn (some of its entries land, the last one partially).
   */
  crash(prng: Prng, tornNumerator: number, tornDenominator: number): CrashOutcome {
    const unsyncedOps = this.pending.length;
    let survivedOps = unsyncedOps === 0 ? 0 : prng.below(unsyncedOps + 1);
    // A full disk keeps only what fits (page-cache flushes need space too).
    if (this.freeBytes !== Infinity) {
      let fits = 0;
      while (fits < survivedOps && this.opBytes(this.pending[fits]!.op) <= this.freeBytes)
        this.freeBytes -= this.opBytes(this.pending[fits++]!.op);
      survivedOps = fits;
    }
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
    this.failed = null; // the next process opens the storage afresh
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
      let tornTail = this.tornLogs.has(name) || this.tornAt !== null;
      let corrupt: DurableLog['corrupt'];
      if (this.tornAt !== null && this.writtenAfterTorn) {
        // Records after a short-written one: the loader finds a bad record before valid ones.
        const position = Math.min(this.tornAt.get(name) ?? 0, entries.length);
        corrupt = { position, reason: `bad record in ${name} at entry ${position} with valid records after it` };
        tornTail = false;
      } else if (this.tornAt !== null) entries = entries.slice(0, this.tornAt.get(name) ?? 0);
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
    if (this.tornAt !== null && !this.writtenAfterTorn) {
      // The loader cut the torn record off (DiskStorage truncates the file there).
      for (const [name, length] of this.tornAt) {
        const log = this.logs.get(name);
        if (log && log.entries.length > length) log.entries.length = length;
      }
      this.tornAt = null;
    }
  }

  /** Bytes (codec on) or entries (codec off) held durably, for summaries. */
  get logEntryCount(): number {
    let count = 0;
    for (const log of this.logs.values()) count += log.entries.length;
    return count;
  }

  /** The meaning of the op is core's (applyStorageOp); around it, what this disk models besides: rot and tears. */
  private applyOp(op: StorageOp): void {
    if (this.tornAt !== null) this.writtenAfterTorn = true;
    applyStorageOp(this.image, op);
    if (op.op === 'truncate') {
      const log = this.logFor(op.log);
      if (log.rotAt !== null && log.rotAt >= op.keepCount) log.rotAt = null;
      this.tornLogs.delete(op.log);
    } else if (op.op === 'dropPrefix') {
      const log = this.logFor(op.log);
      if (log.rotAt !== null) log.rotAt = log.rotAt < op.dropCount ? null : log.rotAt - op.dropCount;
    }
  }

  private readonly image: StorageImage = { records: this.records, log: (name) => this.logFor(name).entries };

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
