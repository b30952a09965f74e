/**
 * Runs the storage conformance suite (storage.conformance.ts) against both storages: the simulator's
 * SimStorage (with and without its msgpack codec) and net/disk's DiskStorage on a temporary data dir.
 * Each fixture fakes a fault the way its storage meets it: SimStorage through its own crash and rot
 * models (with the random choices pinned), DiskStorage by writing part of a record into the real
 * write-ahead log file, and by flipping a byte inside a record.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'vitest';
import type { Prng } from '../../core/prng.js';
import { applyStorageOp, mapImage } from '../../core/storage.js';
import type { DurableState, StorageOp } from '../../core/types.js';
import { DiskCorruptError, encodeRecord, openDiskStorage, type Storage } from '../../net/disk/storage.js';
import { SimStorage } from '../../sim/engine/storage.js';
import { storageConformance, type Loaded, type StorageFixture } from './storage.conformance.js';

/** A Prng whose choices are pinned: every `below` answers `value`, every `chance` is taken, `pick` takes the first. */
function pinned(value: number): Prng {
  return { below: () => value, chance: () => true, pick: <T>(items: readonly T[]) => items[0]! } as unknown as Prng;
}

function corruptionIn(durable: DurableState): Loaded | null {
  for (const [log, stored] of durable.logs)
    if (stored.corrupt) return { kind: 'corrupt', log, position: stored.corrupt.position, text: stored.corrupt.reason };
  return null;
}

function simFixture(codec: boolean): StorageFixture {
  const disk = new SimStorage(codec);
  return {
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

async function diskFixture(): Promise<StorageFixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-storage-conformance-'));
  let storage: Storage | null = (await openDiskStorage(dir)).storage;
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
      const opened = await openDiskStorage(dir);
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
    },
  };
}

storageConformance('SimStorage (codec)', async () => simFixture(true));
storageConformance('SimStorage (no codec)', async () => simFixture(false));
storageConformance('DiskStorage', diskFixture);
