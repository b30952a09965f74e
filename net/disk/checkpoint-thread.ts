/**
 * Checkpoints built off the event loop (issue 15, p99 at put c64). A checkpoint folds up to a whole
 * segment (8 MiB of records) and encodes the result; on the event loop that serves requests, even
 * sliced into pieces of a few milliseconds, that was a large part of the tail latency under load. A
 * worker thread does it instead: the event loop only posts the request and receives the bytes
 * (transferred, not copied). The thread is started for a checkpoint and stopped once none is pending:
 * an idle thread allocates nothing, so V8 never collected the tens of megabytes of the fold it had
 * just finished, and a 10-minute soak saw each server's RSS step up by ~65 MB at checkpoints and
 * stay there; starting a thread costs a few milliseconds off the event loop, once per segment.
 *
 * The thread reads only files that no longer change (segments before the current one, and their
 * checkpoint). Errors come back as errors: a `DiskCorruptError` as itself, an I/O error with its code.
 * If the thread cannot run at all (it exits or fails to start), `build` rejects with `ThreadGone`, and
 * the storage folds on the event loop as before.
 */
import { Worker } from 'node:worker_threads';
import { threadEntry } from '../thread-entry.js';
import { DiskCorruptError } from './storage.js';

export interface CheckpointRequest {
  readonly id: number;
  readonly dir: string;
  readonly upto: number;
}

export type CheckpointReply =
  | { readonly id: number; readonly ok: true; readonly bytes: Uint8Array }
  | {
      readonly id: number;
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
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>();
  private gone: string | null = null;

  /** The checkpoint of every file of `dir` before segment `upto`, built on the thread. */
  build(dir: string, upto: number): Promise<Buffer> {
    if (this.gone !== null) return Promise.reject(new ThreadGone(this.gone));
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<Buffer>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      const request: CheckpointRequest = { id, dir, upto };
      worker.postMessage(request);
    });
  }

  /** Whether a thread is running (one is only while a checkpoint is pending). */
  get running(): boolean {
    return this.worker !== null;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.gone ??= 'closed';
    this.worker = null;
    if (worker) await worker.terminate();
    this.failAll('closed');
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(threadEntry(import.meta.url, 'checkpoint-worker'));
    worker.on('message', (reply: CheckpointReply) => this.answer(reply));
    worker.on('error', (error) => this.stop(`failed: ${error.message}`));
    worker.on('exit', (code) => this.stop(`exited with code ${code}`));
    this.worker = worker;
    return worker;
  }

  private answer(reply: CheckpointReply): void {
    const waiter = this.waiting.get(reply.id);
    if (!waiter) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.retire();
    if (reply.ok) {
      waiter.resolve(Buffer.from(reply.bytes.buffer, reply.bytes.byteOffset, reply.bytes.byteLength));
      return;
    }
    if (reply.corrupt) {
      waiter.reject(new DiskCorruptError(reply.corrupt.file, reply.corrupt.offset, reply.corrupt.reason));
      return;
    }
    waiter.reject(Object.assign(new Error(reply.message), reply.code === null ? {} : { code: reply.code }));
  }

  /** Stops the idle thread (its heap goes with it); the next checkpoint starts another. */
  private retire(): void {
    const worker = this.worker;
    if (!worker) return;
    this.worker = null;
    worker.removeAllListeners();
    worker.on('error', () => undefined);
    worker.unref();
    void worker.terminate();
  }

  private stop(reason: string): void {
    this.gone ??= reason;
    this.worker = null;
    this.failAll(reason);
  }

  private failAll(reason: string): void {
    for (const waiter of this.waiting.values()) waiter.reject(new ThreadGone(reason));
    this.waiting.clear();
  }
}
