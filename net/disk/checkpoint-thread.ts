/**
 * Checkpoints built off the event loop (issue 15, p99 at put c64). A checkpoint folds up to a whole
 * segment (8 MiB of records) and encodes the result; on the event loop that serves requests, even
 * sliced into pieces of a few milliseconds, that was a large part of the tail latency under load. A
 * worker thread does it instead: the event loop only starts it and receives the bytes (transferred,
 * not copied). One thread per checkpoint, gone when it answers: a kept idle thread allocates nothing,
 * so V8 never collected the tens of megabytes of the fold it had just finished (a 10-minute soak saw
 * each server's RSS step up by ~65 MB at checkpoints and stay there); starting a thread costs a few
 * milliseconds off the event loop, once per segment. The storage runs one checkpoint at a time.
 *
 * The thread reads only files that no longer change (segments before the current one, and their
 * checkpoint). Errors come back as errors: a `DiskCorruptError` as itself, an I/O error with its code.
 * If the thread cannot run (it fails to start or exits without answering), `build` rejects with
 * `ThreadGone`, and the storage folds on the event loop as before.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { threadEntry } from '../thread-entry.js';
import { DiskCorruptError } from './storage.js';

/** What the thread is given (its `workerData`). */
export interface CheckpointRequest {
  readonly dir: string;
  readonly upto: number;
}

/** Its one message back. */
export type CheckpointReply =
  | { readonly ok: true; readonly bytes: Uint8Array }
  | {
      readonly ok: false;
      readonly message: string;
      readonly code: string | null;
      readonly corrupt: { readonly file: string; readonly offset: number; readonly reason: string } | null;
    };

/** The thread stopped or never started: the caller does the work itself. */
export class ThreadGone extends Error {
  constructor(reason: string) {
    super(`checkpoint thread unavailable: ${reason}`);
    this.name = 'ThreadGone';
  }
}

export class CheckpointThread {
  private worker: Worker | null = null;
  private closed = false;

  /** The checkpoint of every file of `dir` before segment `upto`, built on a thread of its own. */
  async build(dir: string, upto: number): Promise<Buffer> {
    if (this.closed) throw new ThreadGone('closed');
    const workerData: CheckpointRequest = { dir, upto };
    const worker = new Worker(threadEntry(import.meta.url, 'checkpoint-worker'), { workerData });
    this.worker = worker;
    try {
      // The reply, or why there is none: a thread that fails to start emits 'error' (once() rejects),
      // one that dies exits without a message.
      const reply = await Promise.race([
        once(worker, 'message').then(([message]) => message as CheckpointReply),
        once(worker, 'exit').then(([code]) => `exited with code ${code as number} before answering`),
      ]).catch((error: unknown) => `failed: ${(error as Error).message}`);
      if (typeof reply === 'string') throw new ThreadGone(reply);
      return unpackReply(reply);
    } finally {
      this.worker = null;
      void worker.terminate();
    }
  }

  /** Whether a thread is running (one is only while a checkpoint is being built). */
  get running(): boolean {
    return this.worker !== null;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker?.terminate();
  }
}

function unpackReply(reply: CheckpointReply): Buffer {
  if (reply.ok) return Buffer.from(reply.bytes.buffer, reply.bytes.byteOffset, reply.bytes.byteLength);
  if (reply.corrupt) throw new DiskCorruptError(reply.corrupt.file, reply.corrupt.offset, reply.corrupt.reason);
  throw Object.assign(new Error(reply.message), reply.code === null ? {} : { code: reply.code });
}
