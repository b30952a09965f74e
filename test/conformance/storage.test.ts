/**
 * Runs the storage conformance suite (storage.conformance.ts) against both storages: the simulator's
 * SimStorage (with and without its msgpack codec) and net/disk's DiskStorage on a temporary data dir.
 * Each fixture fakes a fault the way its storage meets it: SimStorage through its own crash, rot and
 * full-disk models (with the random choices pinned), DiskStorage by writing part of a record into the
 * real write-ahead log file, by flipping a byte inside a record, and — for the full-disk cases — on a
 * small tmpfs filled by a filler file (real ENOSPC and short writes; mounting needs root: elsewhere
 * those cases are skipped with one line saying why).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, expect } from 'vitest';
import type { Prng } from '../../core/prng.js';
import { applyStorageOp, mapImage } from '../../core/storage.js';
import type { DurableState, StorageOp } from '../../core/types.js';
import { DiskCorruptError, encodeRecord, openDiskStorage, type Storage } from '../../net/disk/storage.js';
import { SimStorage } from '../../sim/engine/storage.js';
import { storageConformance, type Loaded, type StorageFixture } from './storage.conformance.js';

/**
 * A Prng whose choices are pinned: every `below` answers `value`, every chance above zero is taken,
 * `pick` takes the first.
 */
function pinned(value: number): Prng {
  return {
    below: () => value,
    chance: (numerator: number) => numerator > 0,
    pick: <T>(items: readonly T[]) => items[0]!,
  } as unknown as Prng;
}

function corruptionIn(durable: DurableState): Loaded | null {
  for (const [log, stored] of durable.logs)
    if (stored.corrupt) return { kind: 'corrupt', log, position: stored.corrupt.position, text: stored.corrupt.reason };
  return null;
}

function simFixture(codec: boolean): StorageFixture {
  const disk = new SimStorage(codec);
  return {
    async fillDisk(freeBytes) {
      disk.setFreeBytes(freeBytes);
    },
    async persistIfRoom(ops) {
      const marker = disk.write(ops);
      const outcome = disk.sync(marker);
      expect(outcome.kind).not.toBe('fatal');
      return outcome.kind === 'durable' ? 'durable' : 'waiting';
    },
    markers: () => ({ written: disk.writtenMarker, durable: disk.durableMarker }),
    async persist(ops) {
      const marker = disk.write(ops);
      expect(disk.sync(marker).kind).toBe('durable');
    },
    async persistTornAndCrash(ops) {
      disk.write(ops);
      disk.crash(pinned(0), 1, 1); // no unsynced write survives whole; the next append is torn
    },
    async corruptEntry(log, position) {
      expect(disk.rot(pinned(position))).toEqual({ log, position });
    },
    async restart() {
      disk.crash(pinned(0), 0, 1); // a restart is a process exit: nothing unsynced is pending here
      const durable = disk.load();
      const corrupt = corruptionIn(durable);
      if (corrupt) return corrupt;
      disk.acknowledgeLoad();
      return { kind: 'ok', durable };
    },
    async cleanup() {},
  };
}

/** A small tmpfs for DiskStorage's full-disk cases, mounted once for this file (null where refused). */
const tmpfs = mountTmpfs();
if (!tmpfs.mnt) console.log(`storage conformance: DiskStorage's full-disk cases skipped: ${tmpfs.whyNot}`);
afterAll(() => {
  if (tmpfs.mnt) execFileSync('umount', ['-l', tmpfs.mnt]);
  fs.rmSync(tmpfs.root, { recursive: true, force: true });
});

function mountTmpfs(): { root: string; mnt: string | null; whyNot: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-storage-tmpfs-'));
  const mnt = path.join(root, 'mnt');
  fs.mkdirSync(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mnt], { stdio: 'pipe' });
    return { root, mnt, whyNot: '' };
  } catch (error) {
    const why = ((error as { stderr?: Buffer }).stderr?.toString() ?? String(error)).trim().split('\n')[0]!;
    return { root, mnt: null, whyNot: `cannot mount a tmpfs here (${why})` };
  }
}

/** Fills the file system of `dir` until about `freeBytes` are left (a filler file); Infinity deletes it. */
function fillTo(dir: string, filler: string, freeBytes: number): void {
  fs.rmSync(filler, { force: true });
  if (freeBytes === Infinity) return;
  const page = 4096;
  const stat = fs.statfsSync(dir);
  let size = Math.max(0, Math.floor((stat.bavail * stat.bsize - freeBytes) / page) * page);
  const fd = fs.openSync(filler, 'w');
  try {
    const chunk = Buffer.alloc(64 * 1024, 1);
    while (size > 0) {
      const n = fs.writeSync(fd, chunk, 0, Math.min(chunk.length, size));
      size -= n;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error; // full is what was asked
  } finally {
    fs.closeSync(fd);
  }
}

async function diskFixture(onTmpfs = false): Promise<StorageFixture> {
  const parent = onTmpfs ? tmpfs.mnt! : os.tmpdir();
  const dir = fs.mkdtempSync(path.join(parent, 'conclave-storage-conformance-'));
  const filler = path.join(parent, `${path.basename(dir)}.filler`);
  // A full disk is tried again every 20 ms here (the agent's default is slower), so cases stay short.
  const options = { diskFullRetryMs: 20 };
  let storage: Storage | null = (await openDiskStorage(dir, options)).storage;
  // Which log positions each record appended (by byte offset in its segment), to name damage by position.
  const records: { file: string; offset: number; log: string | null; position: number }[] = [];
  const logs = new Map<string, unknown[]>();
  const image = mapImage(new Map(), logs);
  const segment = (): string => {
    const storageDir = path.join(dir, 'storage');
    const last = fs
      .readdirSync(storageDir)
      .filter((f) => f.startsWith('wal-'))
      .sort()
      .at(-1)!;
    return path.join(storageDir, last);
  };
  const track = (ops: readonly StorageOp[]): void => {
    const file = segment();
    const append = ops.find((op) => op.op === 'append');
    const position = append ? image.log(append.log).length : -1;
    records.push({ file, offset: fs.statSync(file).size, log: append ? append.log : null, position });
    for (const op of ops) applyStorageOp(image, op);
  };
  const open = async (): Promise<Loaded> => {
    await storage?.close();
    storage = null;
    try {
      const opened = await openDiskStorage(dir, options);
      storage = opened.storage;
      return { kind: 'ok', durable: opened.report.durable };
    } catch (error) {
      if (!(error instanceof DiskCorruptError)) throw error;
      const record = records.find((r) => r.file === error.file && r.offset === error.offset);
      return {
        kind: 'corrupt',
        log: record?.log ?? '?',
        position: record?.position ?? -1,
        text: error.message,
      };
    }
  };
  return {
    async persist(ops) {
      track(ops);
      storage!.write(ops);
      await storage!.flush();
    },
    async persistTornAndCrash(ops) {
      // The process dies while the record is being written: part of its bytes reach the file.
      await storage!.close();
      storage = null;
      const record = encodeRecord(ops);
      fs.appendFileSync(segment(), record.subarray(0, Math.floor(record.length / 2)));
    },
    async corruptEntry(log, position) {
      const record = records.find((r) => r.log === log && r.position === position);
      expect(record).toBeDefined();
      const bytes = fs.readFileSync(record!.file);
      const at = record!.offset + 8 + 2; // a bit inside the payload: its CRC-32 no longer holds
      bytes.writeUInt8(bytes.readUInt8(at) ^ 0x10, at);
      fs.writeFileSync(record!.file, bytes);
    },
    restart: open,
    async cleanup() {
      await storage?.close();
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(filler, { force: true });
    },
    ...(onTmpfs
      ? {
          async fillDisk(freeBytes: number) {
            fillTo(parent, filler, freeBytes);
          },
          async persistIfRoom(ops: readonly StorageOp[]) {
            track(ops);
            storage!.write(ops);
            // A full disk never fails a flush: it stays pending and is tried again (net/disk/storage.ts).
            const flushed = storage!.flush().then(() => 'durable' as const);
            const waited = new Promise<'waiting'>((resolve) => setTimeout(() => resolve('waiting'), 300));
            return Promise.race([flushed, waited]);
          },
          markers: () => ({ written: storage!.writtenMarker, durable: storage!.durableMarker }),
        }
      : {}),
  };
}

storageConformance('SimStorage (codec)', async () => simFixture(true), ['fillDisk']);
storageConformance('SimStorage (no codec)', async () => simFixture(false), ['fillDisk']);
storageConformance('DiskStorage', () => diskFixture(tmpfs.mnt !== null), tmpfs.mnt ? ['fillDisk'] : []);
