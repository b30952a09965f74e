/**
 * The checkpoint thread's entry (checkpoint-thread.ts starts it): builds a checkpoint's bytes — the
 * fold of a storage dir's closed segments, encoded — and hands them back without a copy. It only reads
 * files; the storage writes the checkpoint and deletes what it replaces.
 */
import { parentPort } from 'node:worker_threads';
import { checkpointBytes, DiskCorruptError } from './storage.js';
import type { CheckpointReply, CheckpointRequest } from './checkpoint-thread.js';

const port = parentPort!;
port.on('message', (request: CheckpointRequest) => {
  let reply: CheckpointReply;
  try {
    const bytes = checkpointBytes(request.dir, request.upto);
    reply = { id: request.id, ok: true, bytes };
    port.postMessage(reply, [bytes.buffer as ArrayBuffer]);
    return;
  } catch (error) {
    const corrupt = error instanceof DiskCorruptError ? error : null;
    reply = {
      id: request.id,
      ok: false,
      message: (error as Error).message ?? String(error),
      code: (error as NodeJS.ErrnoException).code ?? null,
      corrupt: corrupt && { file: corrupt.file, offset: corrupt.offset, reason: corrupt.reason },
    };
  }
  port.postMessage(reply);
});
