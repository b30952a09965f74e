/**
 * Durable storage for the real agent: the data dir.
 *
 *   <data-dir>/node-id                        this node's UUID, created once (Consul keeps one too)
 *   <data-dir>/storage/wal-<seq>.log          write-ahead segments: every persist effect, in order
 *   <data-dir>/storage/checkpoint-<seq>.bin   the whole state as of the start of segment <seq>
 *
 * Every persist effect (`StorageOp[]`: Raft hard state, log appends / truncations / prefix drops,
 * snapshots, the agent's local services and checks) becomes one WAL record
 *
 *   [u32 BE payload length][u32 BE CRC-32 of payload][payload: msgpack of the ops]
 *
 * Group commit: `write` only queues; one flush writes every queued record with one `writev`, however
 * many steps produced them, and makes it durable: the segment is opened with O_DSYNC, so that `writev`
 * returns only once its bytes (and the file size) are on the device, as a `write` and an `fdatasync`
 * would; it is one thread-pool round trip instead of two (issue 15: each trip is two wake-ups on the
 * path of every write, on the leader and on each follower). Where O_DSYNC does not exist (Windows), or
 * with `writeThrough: false`, the flush is a `writev` and then an `fdatasync`. The driver holds sends
 * and replies until the flush that covers their persists completes (the ORDERING RULE in core/types.ts).
 *
 * When a segment passes `segmentBytesMax`, a new segment starts and a checkpoint of everything before
 * it is built on a worker thread (checkpoint-thread.ts: the fold of the closed files and its encoding
 * stay off the event loop that serves requests) and written beside the segments: temp file, fsync,
 * rename, fsync of the directory; only then are older segments and checkpoints deleted. A crash
 * anywhere in that sequence leaves an older valid checkpoint and all the segments after it.
 *
 * Loading: the newest checkpoint whose CRC holds, then every later segment, record by record. A bad
 * record in the last segment with nothing valid after it is a torn tail (a crash during a write,
 * never acknowledged): the file is cut there and every log reports `tornTail`. A bad record anywhere
 * else is corruption of acknowledged data: loading fails with `DiskCorruptError` naming the file and
 * the byte offset. Limitation: a bit flip inside the very last record looks exactly like a torn write
 * and is repaired as one.
 */
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assert } from '../../core/assert.js';
import { crc32 } from '../../core/crc32.js';
import { diskFullRetryMsDefault, settleFlush, type WriteFailure } from '../../core/flush.js';
import { applyStorageOp, mapImage } from '../../core/storage.js';
import type { DurableLog, DurableState, StorageOp } from '../../core/types.js';
import { decode, encode } from '../codec.js';
import { CheckpointThread, ThreadGone } from './checkpoint-thread.js';

export const recordHeaderBytes = 8;
/**
 * Segment size that triggers a checkpoint. A checkpoint re-reads the segments it replaces (on the
 * checkpoint thread, or in slices on the event loop when the thread cannot run), so a smaller segment
 * bounds that work (8 MiB decodes in well under 100 ms); Raft's own compaction keeps the live state
 * small, so checkpoints stay small too.
 */
export const segmentBytesMaxDefault = 8 * 1024 * 1024;
/** A single persist effect larger than this is a bug (a snapshot of a huge store still fits). */
export const recordBytesMax = 256 * 1024 * 1024;
const checkpointMagic = 0x43434b50; // 'CCKP'

export class DiskCorruptError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    // Deleting the data dir is not a repair: on a server it drops acknowledged data and, before the
    // lost-data rule (issue 13 §2), let the emptied server vote with an empty log.
    super(
      `corrupt data in ${file} at offset ${offset}: ${reason}; refusing to start. Restore the data dir from a backup; ` +
        `do not delete it to rejoin empty unless the cluster keeps a quorum without this server — then run ` +
        '`conclave operator raft remove-peer` for it first (an emptied server does not vote until it is re-added)',
    );
    this.name = 'DiskCorruptError';
  }
}

/** What the driver needs from storage, on disk or in memory (`-dev`). */
export interface Storage {
  /** Queues the ops of one persist effect; returns its marker (1, 2, 3...). Nothing is durable yet. */
  write(ops: readonly StorageOp[]): number;
  /** Resolves once every write made before the call is durable. Many callers share one fsync. */
  flush(): Promise<void>;
  /** Every write with a marker ≤ this is durable. */
  readonly durableMarker: number;
  readonly writtenMarker: number;
  readonly stats: {
    flushes: number;
    recordsWritten: number;
    bytesWritten: number;
    syncMs?: number;
    /** Checkpoints completed (disk storage: one per segment rotation). */
    checkpoints?: number;
    /** Of those, built on the checkpoint thread rather than on the event loop. */
    checkpointsOnThread?: number;
  };
  /**
   * Set while writes wait for disk space (ENOSPC, or a short write): why, and since when (wall ms).
   * Queued records are written again every `diskFullRetryMs` until they fit; `flush()` stays pending
   * meanwhile (it never fails for a full disk). Null when the disk takes writes.
   */
  readonly full?: { readonly reason: string; readonly sinceMs: number } | null;
  /** Called when the storage becomes full and when space returns (null). */
  onFullChange?: (full: { readonly reason: string; readonly sinceMs: number } | null) => void;
  close(): Promise<void>;
}

export interface LoadReport {
  readonly durable: DurableState;
  /** Set when a torn tail was cut off: which file, at which offset. */
  readonly tornTail: { readonly file: string; readonly offset: number } | null;
  readonly recordCount: number;
}

export interface DiskOptions {
  /** Start a new segment (and checkpoint) when the current one passes this size. */
  readonly segmentBytesMax?: number;
  /** fdatasync on every flush (on by default; off only for throwaway benchmarks). */
  readonly fsync?: boolean;
  /**
   * Sync by writing through (the segment opened with O_DSYNC: each `writev` returns once durable) rather
   * than by a `writev` and then an `fdatasync`. Default: on where the platform has O_DSYNC. Both give
   * the same durability ("synchronized I/O data integrity completion", POSIX); writing through is one
   * thread-pool round trip per flush instead of two.
   */
  readonly writeThrough?: boolean;
  /** How long to wait before writing again after a full disk (ms). */
  readonly diskFullRetryMs?: number;
  /**
   * Opens a segment for appending with these open(2) flags (default `fsp.open(file, flags, 0o666)`;
   * the flags are O_WRONLY | O_APPEND | O_CREAT, plus O_DSYNC when writing through). A test passes one
   * that returns the real handle with its calls observed or held (e.g. a `datasync` or a write-through
   * `writev` that completes when the test says), to prove that nothing is called durable before the
   * sync returns.
   */
  readonly openSegment?: (file: string, flags: number) => Promise<fsp.FileHandle>;
  /**
   * Writes a checkpoint atomically (default writeFileAtomicAsync). A test passes one it holds, to show
   * that flushes go on while a checkpoint is being written.
   */
  readonly writeCheckpoint?: (file: string, bytes: Uint8Array) => Promise<void>;
  /**
   * Build checkpoints on a worker thread (default true): the fold of a whole segment and its encoding
   * leave the event loop that serves requests. False, or if the thread cannot run, they run on the
   * event loop in slices, giving it back between them.
   */
  readonly checkpointThread?: boolean;
}

// ───────────────────────────────────────── state folding ─────────────────────────────────────────

interface MutableState {
  records: Map<string, unknown>;
  logs: Map<string, unknown[]>;
}

function isOps(value: unknown): value is StorageOp[] {
  return (
    Array.isArray(value) &&
    value.every((op) => op !== null && typeof op === 'object' && typeof (op as { op?: unknown }).op === 'string')
  );
}

// ───────────────────────────────────────── record framing ─────────────────────────────────────────

export function encodeRecord(ops: readonly StorageOp[]): Buffer {
  const payload = encode(ops);
  assert(payload.length <= recordBytesMax, `a persist of ${payload.length} bytes exceeds ${recordBytesMax}`);
  const record = Buffer.allocUnsafe(recordHeaderBytes + payload.length);
  record.writeUInt32BE(payload.length, 0);
  record.writeUInt32BE(crc32(payload), 4);
  payload.copy(record, recordHeaderBytes);
  return record;
}

type Parsed = { ok: true; ops: StorageOp[]; next: number } | { ok: false; reason: string };

function parseRecord(bytes: Buffer, offset: number): Parsed {
  if (bytes.length - offset < recordHeaderBytes) return { ok: false, reason: 'header cut short' };
  const length = bytes.readUInt32BE(offset);
  const sum = bytes.readUInt32BE(offset + 4);
  if (length > recordBytesMax) return { ok: false, reason: `length ${length} over the limit` };
  const end = offset + recordHeaderBytes + length;
  if (end > bytes.length) return { ok: false, reason: `record of ${length} bytes runs past the end of the file` };
  if (crc32(bytes, offset + recordHeaderBytes, end) !== sum) return { ok: false, reason: 'CRC-32 mismatch' };
  let ops: unknown;
  try {
    ops = decode(bytes.subarray(offset + recordHeaderBytes, end));
  } catch (error) {
    return { ok: false, reason: `undecodable record (${(error as Error).message})` };
  }
  if (!isOps(ops)) return { ok: false, reason: 'record is not a list of storage ops' };
  return { ok: true, ops, next: end };
}

/** True if any valid record starts somewhere in bytes[from..]: the damage is not at the tail. */
function validRecordAfter(bytes: Buffer, from: number): boolean {
  for (let at = from; at + recordHeaderBytes <= bytes.length; at++) {
    const length = bytes.readUInt32BE(at);
    if (length === 0 || at + recordHeaderBytes + length > bytes.length) continue;
    if (parseRecord(bytes, at).ok) return true;
  }
  return false;
}

// ───────────────────────────────────────── files ─────────────────────────────────────────

const segmentName = (seq: number) => `wal-${String(seq).padStart(10, '0')}.log`;
const checkpointName = (seq: number) => `checkpoint-${String(seq).padStart(10, '0')}.bin`;

function listSeqs(dir: string, prefix: string, suffix: string): number[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith(suffix))
    .map((f) => Number(f.slice(prefix.length, -suffix.length)))
    .filter((n) => Number.isSafeInteger(n) && n > 0)
    .sort((a, b) => a - b);
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes `bytes` to `file` atomically: temp file, fsync, rename, fsync of the directory. A short
 * write is continued, and a write that takes nothing throws ENOSPC; the temp file is removed on any
 * failure, so a full disk never leaves half a checkpoint under the real name.
 */
export function writeFileAtomic(file: string, bytes: Uint8Array): void {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    let offset = 0;
    while (offset < bytes.length) {
      const n = fs.writeSync(fd, bytes, offset, bytes.length - offset);
      if (n <= 0) throw Object.assign(new Error(`ENOSPC: no space left on device, write ${tmp}`), { code: 'ENOSPC' });
      offset += n;
    }
    fs.fsyncSync(fd);
  } catch (error) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw error;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

/** fsyncDir on the thread pool (the event loop goes on meanwhile). */
async function fsyncDirAsync(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** writeFileAtomic on the thread pool: the same steps, in the same order, with the same cleanup. */
export async function writeFileAtomicAsync(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.tmp`;
  const handle = await fsp.open(tmp, 'w');
  try {
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
      if (bytesWritten <= 0)
        throw Object.assign(new Error(`ENOSPC: no space left on device, write ${tmp}`), { code: 'ENOSPC' });
      offset += bytesWritten;
    }
    await handle.sync();
  } catch (error) {
    await handle.close();
    await fsp.rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  await fsp.rename(tmp, file);
  await fsyncDirAsync(path.dirname(file));
}

/** A checkpoint's state, or why it cannot be read and at which byte offset. */
function readCheckpoint(bytes: Buffer): MutableState | { corrupt: string; offset: number } {
  if (bytes.length < 8) return { corrupt: `checkpoint of ${bytes.length} bytes is cut short`, offset: 0 };
  if (bytes.readUInt32BE(0) !== checkpointMagic) return { corrupt: 'not a checkpoint (bad magic)', offset: 0 };
  if (crc32(bytes, 8) !== bytes.readUInt32BE(4))
    return { corrupt: `CRC-32 mismatch over bytes 8..${bytes.length}`, offset: 8 };
  try {
    const value = decode(bytes.subarray(8)) as { records: [string, unknown][]; logs: [string, unknown[]][] };
    return { records: new Map(value.records), logs: new Map(value.logs) };
  } catch (error) {
    return { corrupt: `undecodable checkpoint (${(error as Error).message})`, offset: 8 };
  }
}

/** Values encoded between two pauses of encodeCheckpointYielding. */
const checkpointValuesPerSlice = 512;

/** A msgpack array header for `count` elements (array 32: valid for any count, minimal or not). */
function arrayHeader(count: number): Buffer {
  const header = Buffer.allocUnsafe(5);
  header[0] = 0xdd;
  header.writeUInt32BE(count, 1);
  return header;
}

/**
 * A checkpoint's bytes — magic, CRC-32 of the payload, payload: msgpack of `{ records, logs }` (what
 * readCheckpoint decodes) — as a generator that pauses (yields) after every checkpointValuesPerSlice
 * values: the payload is assembled from the records and log entries encoded one by one (the codec
 * writes plain msgpack, so encoded values concatenate under headers written here). The whole state in
 * one encode held the loop for tens of milliseconds at every rotation (issue 15, p99 at put c64).
 * The result owns its memory (not a slice of Node's shared pool), so it can be transferred from the
 * checkpoint thread.
 */
function* encodeCheckpointSteps(state: MutableState): Generator<void, Buffer> {
  const pieces: Buffer[] = [Buffer.from([0x82]), encode('records'), arrayHeader(state.records.size)];
  let values = 0;
  for (const record of state.records) {
    pieces.push(encode(record));
    if (++values % checkpointValuesPerSlice === 0) yield;
  }
  pieces.push(encode('logs'), arrayHeader(state.logs.size));
  for (const [name, entries] of state.logs) {
    pieces.push(arrayHeader(2), encode(name), arrayHeader(entries.length));
    for (const entry of entries) {
      pieces.push(encode(entry));
      if (++values % checkpointValuesPerSlice === 0) yield;
    }
  }
  const payload = Buffer.concat(pieces);
  const out = Buffer.allocUnsafeSlow(8 + payload.length);
  out.writeUInt32BE(checkpointMagic, 0);
  out.writeUInt32BE(crc32(payload), 4);
  payload.copy(out, 8);
  return out;
}

/** Runs a generator to its end, giving the event loop back at every pause. */
async function runYielding<T>(steps: Generator<void, T>): Promise<T> {
  for (let next = steps.next(); ; next = steps.next()) {
    if (next.done) return next.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Runs a generator to its end at once. */
function runAtOnce<T>(steps: Generator<void, T>): T {
  for (let next = steps.next(); ; next = steps.next()) if (next.done) return next.value;
}

/**
 * The bytes of the checkpoint that replaces every file before segment `uptoSeqExclusive`: the fold of
 * those files, encoded. Synchronous: the checkpoint thread (checkpoint-thread.ts) runs it, off the
 * event loop that serves requests.
 */
export function checkpointBytes(storageDir: string, uptoSeqExclusive: number): Buffer {
  const folded = fold(storageDir, false, uptoSeqExclusive);
  return runAtOnce(encodeCheckpointSteps(folded.state));
}

interface Folded {
  state: MutableState;
  /** The checkpoint used (0 = none), and the segments replayed after it. */
  checkpointSeq: number;
  segmentSeqs: number[];
  tornTail: { file: string; offset: number } | null;
  recordCount: number;
}

/** Records folded between two pauses of foldSteps: a slice of a few milliseconds. */
const foldRecordsPerSlice = 256;

/** Reads checkpoint + segments. With `repair`, cuts a torn tail off the last segment's file. */
function fold(storageDir: string, repair: boolean, uptoSeqExclusive = Infinity): Folded {
  return runAtOnce(foldSteps(storageDir, repair, uptoSeqExclusive, (file) => fs.readFileSync(file)));
}

/**
 * fold, giving the event loop back between slices of records: a checkpoint folds up to a whole
 * segment while the node serves (issue 15: a synchronous fold of 8 MiB held the loop for 0.2-1 s on a
 * loaded machine, every few seconds at put c64 — the p99).
 */
async function foldYielding(storageDir: string, uptoSeqExclusive: number): Promise<Folded> {
  // The files before `uptoSeqExclusive` no longer change: read them first, on the thread pool.
  const files = new Map<string, Buffer>();
  for (const [prefix, suffix, name] of [
    ['checkpoint-', '.bin', checkpointName],
    ['wal-', '.log', segmentName],
  ] as const)
    for (const seq of listSeqs(storageDir, prefix, suffix))
      if (seq < uptoSeqExclusive) {
        const file = path.join(storageDir, name(seq));
        files.set(file, await fsp.readFile(file));
      }
  const read = (file: string) => {
    const bytes = files.get(file);
    assert(bytes !== undefined, `${file} was read before the fold`);
    return bytes;
  };
  return runYielding(foldSteps(storageDir, false, uptoSeqExclusive, read));
}

/** fold as a generator: it pauses (yields) after every foldRecordsPerSlice records. */
function* foldSteps(
  storageDir: string,
  repair: boolean,
  uptoSeqExclusive: number,
  read: (file: string) => Buffer,
): Generator<void, Folded> {
  const checkpoints = listSeqs(storageDir, 'checkpoint-', '.bin').filter((s) => s < uptoSeqExclusive);
  let state: MutableState = { records: new Map(), logs: new Map() };
  let checkpointSeq = 0;
  const segmentsOnDisk = listSeqs(storageDir, 'wal-', '.log');
  let badNewest: { file: string; offset: number; reason: string } | null = null;
  for (let i = checkpoints.length - 1; i >= 0; i--) {
    const file = path.join(storageDir, checkpointName(checkpoints[i]!));
    const loaded = readCheckpoint(read(file));
    if (!('corrupt' in loaded)) {
      state = loaded;
      checkpointSeq = checkpoints[i]!;
      break;
    }
    badNewest ??= { file, offset: loaded.offset, reason: loaded.corrupt };
  }
  if (badNewest !== null) {
    // An older checkpoint (or none) serves only if every segment after it is still there.
    const firstNeeded = Math.max(1, checkpointSeq);
    if (!segmentsOnDisk.includes(firstNeeded))
      throw new DiskCorruptError(badNewest.file, badNewest.offset, badNewest.reason);
  }
  const segmentSeqs = listSeqs(storageDir, 'wal-', '.log').filter((s) => s >= checkpointSeq && s < uptoSeqExclusive);
  if (checkpointSeq > 0 && segmentSeqs[0] !== undefined) {
    assert(segmentSeqs[0] === checkpointSeq, `segment ${checkpointSeq} after its checkpoint is missing`);
  }
  let tornTail: Folded['tornTail'] = null;
  let recordCount = 0;
  const image = mapImage(state.records, state.logs);
  for (const [i, seq] of segmentSeqs.entries()) {
    const file = path.join(storageDir, segmentName(seq));
    const bytes = read(file);
    const last = i === segmentSeqs.length - 1 && uptoSeqExclusive === Infinity;
    let offset = 0;
    while (offset < bytes.length) {
      const parsed = parseRecord(bytes, offset);
      if (parsed.ok) {
        for (const op of parsed.ops) applyStorageOp(image, op);
        recordCount++;
        offset = parsed.next;
        if (recordCount % foldRecordsPerSlice === 0) yield;
        continue;
      }
      if (!last || validRecordAfter(bytes, offset + 1)) throw new DiskCorruptError(file, offset, parsed.reason);
      tornTail = { file, offset };
      if (repair) {
        fs.truncateSync(file, offset);
        const fd = fs.openSync(file, 'r+');
        fs.fsyncSync(fd);
        fs.closeSync(fd);
      }
      break;
    }
  }
  return { state, checkpointSeq, segmentSeqs, tornTail, recordCount };
}

function toDurable(state: MutableState, torn: boolean): DurableState {
  const logs = new Map<string, DurableLog>();
  for (const [name, entries] of state.logs) logs.set(name, { entries, tornTail: torn });
  return { records: state.records, logs };
}

// ───────────────────────────────────────── the storage ─────────────────────────────────────────

/** Opens (creating if needed) the data dir's storage, repairing a torn tail. Throws DiskCorruptError. */
export async function openDiskStorage(
  dataDir: string,
  options: DiskOptions = {},
): Promise<{ storage: Storage; report: LoadReport }> {
  const storageDir = path.join(dataDir, 'storage');
  fs.mkdirSync(storageDir, { recursive: true });
  for (const f of fs.readdirSync(storageDir)) if (f.endsWith('.tmp')) fs.rmSync(path.join(storageDir, f));
  const folded = fold(storageDir, true);
  const report: LoadReport = {
    durable: toDurable(folded.state, folded.tornTail !== null),
    tornTail: folded.tornTail,
    recordCount: folded.recordCount,
  };
  const lastSeq = folded.segmentSeqs.at(-1) ?? Math.max(1, folded.checkpointSeq);
  const storage = new DiskStorage(storageDir, lastSeq, options);
  await storage.open();
  return { storage, report };
}

class DiskStorage implements Storage {
  writtenMarker = 0;
  durableMarker = 0;
  readonly stats = {
    flushes: 0,
    recordsWritten: 0,
    bytesWritten: 0,
    syncMs: 0,
    checkpoints: 0,
    checkpointsOnThread: 0,
  };
  full: { reason: string; sinceMs: number } | null = null;
  onFullChange?: (full: { readonly reason: string; readonly sinceMs: number } | null) => void;
  private handle: fsp.FileHandle | null = null;
  private segmentBytes = 0;
  /** Records not yet durable, in order, each with its marker. */
  private pending: { record: Buffer; marker: number }[] = [];
  private flushing: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly waiters: { marker: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private failed: Error | null = null;
  private readonly segmentBytesMax: number;
  private readonly fsync: boolean;
  /** The segment is opened with O_DSYNC: a completed `writev` is durable, no `datasync` follows it. */
  private readonly writeThrough: boolean;
  private readonly segmentFlags: number;
  private readonly diskFullRetryMs: number;
  private readonly openSegment: (file: string, flags: number) => Promise<fsp.FileHandle>;
  private readonly writeCheckpoint: (file: string, bytes: Uint8Array) => Promise<void>;
  /** The checkpoint running in the background (rotate), if any; close() waits for it. */
  private checkpointing: Promise<void> | null = null;
  /** Where checkpoints are built, unless the storage builds them itself (`checkpointThread: false`). */
  private readonly thread: CheckpointThread | null;
  private closed = false;

  constructor(
    private readonly dir: string,
    private seq: number,
    options: DiskOptions,
  ) {
    this.segmentBytesMax = options.segmentBytesMax ?? segmentBytesMaxDefault;
    this.fsync = options.fsync ?? true;
    const dsync = fs.constants.O_DSYNC as number | undefined;
    this.writeThrough = this.fsync && (options.writeThrough ?? dsync !== undefined);
    assert(!this.writeThrough || dsync !== undefined, 'writeThrough needs O_DSYNC, which this platform lacks');
    const { O_WRONLY, O_APPEND, O_CREAT } = fs.constants;
    this.segmentFlags = O_WRONLY | O_APPEND | O_CREAT | (this.writeThrough ? dsync! : 0);
    this.diskFullRetryMs = options.diskFullRetryMs ?? diskFullRetryMsDefault;
    this.openSegment = options.openSegment ?? ((file, flags) => fsp.open(file, flags, 0o666));
    this.writeCheckpoint = options.writeCheckpoint ?? writeFileAtomicAsync;
    this.thread = (options.checkpointThread ?? true) ? new CheckpointThread() : null;
  }

  async open(): Promise<void> {
    const file = path.join(this.dir, segmentName(this.seq));
    this.handle = await this.openSegment(file, this.segmentFlags);
    this.segmentBytes = (await this.handle.stat()).size;
    fsyncDir(this.dir);
  }

  write(ops: readonly StorageOp[]): number {
    if (this.failed) throw this.failed;
    const record = encodeRecord(ops);
    this.pending.push({ record, marker: ++this.writtenMarker });
    return this.writtenMarker;
  }

  flush(): Promise<void> {
    const marker = this.writtenMarker;
    if (this.failed) return Promise.reject(this.failed);
    if (marker <= this.durableMarker) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ marker, resolve, reject }));
    if (!this.flushing && !this.retryTimer) this.flushing = this.flushLoop();
    return done;
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length > 0 && !this.closed) {
        const batch = this.pending;
        this.pending = [];
        const kept = await this.writeBatch(batch);
        if (kept < batch.length) {
          // Disk full: the rest waits, in order, ahead of anything queued meanwhile.
          this.pending = [...batch.slice(kept), ...this.pending];
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            if (!this.flushing && !this.closed) this.flushing = this.flushLoop();
          }, this.diskFullRetryMs);
          return;
        }
        if (this.full) {
          this.full = null;
          this.onFullChange?.(null);
        }
        if (this.segmentBytes >= this.segmentBytesMax && !this.checkpointing) await this.rotate();
      }
    } catch (error) {
      // An I/O error that is not a full disk leaves the file in an unknown state: stop accepting
      // writes (the agent exits; PostgreSQL's "fsyncgate" lesson — never retry an fsync that failed).
      this.fail(error);
    } finally {
      this.flushing = null;
    }
  }

  /**
   * Writes one batch and syncs it, by the flush rule (core/flush.ts): a record is durable only when
   * all its bytes are written and synced. Returns how many records of the batch are durable now;
   * fewer than all means the disk is full (the partial record was cut off again).
   */
  private async writeBatch(batch: readonly { record: Buffer; marker: number }[]): Promise<number> {
    const handle = this.handle!;
    const sizes = batch.map((b) => b.record.length);
    const start = this.segmentBytes;
    const t0 = performance.now();
    let written = 0;
    let failure: WriteFailure = null;
    let cause: unknown = null;
    try {
      // writev may take less than asked (a filling disk): continue until all is written or it fails.
      // Writing through, each call that returns is durable up to what it took; a sync that fails inside
      // it (a file system that finds the disk full only then) fails the call, like a failed datasync.
      const total = sizes.reduce((a, b) => a + b, 0);
      while (written < total) {
        const rest = remainder(
          batch.map((b) => b.record),
          written,
        );
        const n = (await handle.writev(rest)).bytesWritten;
        if (n <= 0) {
          failure = 'noSpace';
          break;
        }
        written += n;
      }
    } catch (error) {
      cause = error;
      failure = isNoSpace(error) ? 'noSpace' : 'other';
    }
    const verdict = settleFlush(sizes, written, failure);
    if (verdict.kind === 'fatal') throw cause ?? new Error(verdict.reason);
    const records = verdict.records;
    const keepBytes = verdict.kind === 'short' ? verdict.keepBytes : written;
    if (verdict.kind === 'short') await handle.truncate(start + keepBytes); // the partial record goes
    // Writing through, the whole records are durable already; a cut (not a write) still needs its sync.
    const syncNeeded = verdict.kind === 'short' || (records > 0 && !this.writeThrough);
    if (this.fsync && syncNeeded) {
      try {
        await handle.datasync();
      } catch (error) {
        if (!isNoSpace(error)) throw error;
        // Some file systems report a full disk only at sync: nothing of this batch is trusted. The
        // pages past `start` are dropped, so the bytes written again later are fresh, not a retried
        // fsync of pages the kernel may have marked clean.
        await handle.truncate(start);
        await handle.datasync();
        this.enterFull(`no space left on device (at sync)`);
        return 0;
      }
    }
    this.segmentBytes = start + keepBytes;
    this.stats.flushes++;
    this.stats.syncMs += performance.now() - t0;
    this.stats.recordsWritten += records;
    this.stats.bytesWritten += keepBytes;
    if (records > 0) {
      const marker = batch[records - 1]!.marker;
      this.durableMarker = marker;
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        if (this.waiters[i]!.marker <= marker) this.waiters.splice(i, 1)[0]!.resolve();
      }
    }
    if (verdict.kind === 'short') this.enterFull(verdict.reason);
    return records;
  }

  private enterFull(reason: string): void {
    const text = `${reason}: ${this.dir}`;
    if (this.full?.reason === text) return;
    this.full = { reason: text, sinceMs: Date.now() };
    this.onFullChange?.(this.full);
  }

  /**
   * Starts segment seq+1, then checkpoints everything before it and deletes what it replaces, in the
   * background: flushes go on into the new segment meanwhile (the checkpoint reads only older files),
   * the fold and encoding run on the checkpoint thread (or in slices here), and its writes and syncs
   * run on the thread pool.
   * Nothing is deleted before the checkpoint that replaces it is durable.
   */
  private async rotate(): Promise<void> {
    await this.handle!.close();
    this.seq++;
    this.handle = await this.openSegment(path.join(this.dir, segmentName(this.seq)), this.segmentFlags);
    this.segmentBytes = 0;
    await fsyncDirAsync(this.dir);
    const upto = this.seq;
    this.checkpointing = this.checkpoint(upto)
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        this.checkpointing = null;
      });
  }

  /** The checkpoint's bytes: from the thread, or folded and encoded here in slices. */
  private async checkpointBytes(upto: number): Promise<Buffer> {
    if (this.thread) {
      try {
        const bytes = await this.thread.build(this.dir, upto);
        this.stats.checkpointsOnThread++;
        return bytes;
      } catch (error) {
        if (!(error instanceof ThreadGone)) throw error;
      }
    }
    const folded = await foldYielding(this.dir, upto);
    return runYielding(encodeCheckpointSteps(folded.state));
  }

  private async checkpoint(upto: number): Promise<void> {
    // Finished even when the storage closes meanwhile (close() waits for it): the next start then
    // folds from this checkpoint, not from the segments it replaces.
    const bytes = await this.checkpointBytes(upto);
    try {
      await this.writeCheckpoint(path.join(this.dir, checkpointName(upto)), bytes);
    } catch (error) {
      if (!isNoSpace(error)) throw error;
      // No room for the checkpoint: keep every segment (nothing is deleted before a checkpoint
      // is durable); the next rotation tries again.
      return;
    }
    for (const s of listSeqs(this.dir, 'wal-', '.log')) if (s < upto) await fsp.rm(path.join(this.dir, segmentName(s)));
    for (const s of listSeqs(this.dir, 'checkpoint-', '.bin'))
      if (s < upto) await fsp.rm(path.join(this.dir, checkpointName(s)));
    await fsyncDirAsync(this.dir);
    this.stats.checkpoints++;
  }

  /** Stops accepting writes after an I/O error that is not a full disk, and fails every waiter. */
  private fail(error: unknown): void {
    this.failed ??= new Error(`storage: write to ${this.dir} failed: ${(error as Error).message}`);
    for (const w of this.waiters.splice(0)) w.reject(this.failed);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.flushing) await this.flushing.catch(() => undefined);
    if (this.checkpointing) await this.checkpointing;
    await this.thread?.close();
    await this.handle?.close();
    this.handle = null;
  }
}

/** The buffers from byte `offset` of their concatenation on (what a short writev left). */
function remainder(buffers: readonly Buffer[], offset: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = offset;
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

function isNoSpace(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** `-dev`: nothing survives the process; every write is durable at once. */
export function memoryStorage(): Storage {
  let marker = 0;
  return {
    write: () => ++marker,
    flush: () => Promise.resolve(),
    get durableMarker() {
      return marker;
    },
    get writtenMarker() {
      return marker;
    },
    stats: { flushes: 0, recordsWritten: 0, bytesWritten: 0 },
    full: null,
    close: () => Promise.resolve(),
  };
}

/** The node's UUID, created on first start (temp file + rename, so a crash never leaves half an id). */
export function readOrCreateNodeId(dataDir: string): string {
  const file = path.join(dataDir, 'node-id');
  fs.mkdirSync(dataDir, { recursive: true });
  if (fs.existsSync(file)) {
    const id = fs.readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f-]{36}$/.test(id)) return id;
    throw new Error(`${file}: not a node id (${JSON.stringify(id.slice(0, 40))})`);
  }
  const id = randomUUID();
  writeFileAtomic(file, Buffer.from(id));
  return id;
}
