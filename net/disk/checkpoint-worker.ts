/**
 * The checkpoint thread's entry (checkpoint-thread.ts starts one per checkpoint): builds a checkpoint's
 * bytes — the fold of a storage dir's closed segments, encoded — and hands them back without a copy.
 * It only reads files; the storage writes the checkpoint and deletes what it replaces.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { checkpointBytes, DiskCorruptError } from './storage.js';
import type { CheckpointReply, CheckpointRequest } from './checkpoint-thread.js';

const request = workerData as CheckpointRequest;
let reply: CheckpointReply;
let transfer: ArrayBuffer[] = [];
try {
  const bytes = checkpointBytes(request.dir, request.upto);
  reply = { ok: true, bytes };
  transfer = [bytes.buffer as ArrayBuffer];
} catch (error) {
  const corrupt = error instanceof DiskCorruptError ? error : null;
  reply = {
    ok: false,
    message: (error as Error).message ?? String(error),
    code: (error as NodeJS.ErrnoException).code ?? null,
    corrupt: corrupt && { file: corrupt.file, offset: corrupt.offset, reason: corrupt.reason },
  };
}
parentPort!.postMessage(reply, transfer);
