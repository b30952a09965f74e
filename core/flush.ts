/**
 * The group-commit rule of a write-ahead log, written once for both storages (net/disk's DiskStorage
 * and the simulator's SimStorage): given the records of one flush, how many bytes the write system
 * call took and whether it failed, which records are durable and what happens next.
 *
 * A flush writes a batch of whole records (each a length, a CRC-32 and a payload) with one write and
 * then syncs. A disk that fills up mid-batch takes only part of it: `write(2)` returns a short count,
 * and the next call fails with ENOSPC. Pure: no I/O here; the storages carry the verdict out.
 */

/** Why the write system call failed, if it did: out of space (ENOSPC, EDQUOT) or anything else. */
export type WriteFailure = 'noSpace' | 'other' | null;

export type FlushVerdict =
  /** The first `records` records are durable once the sync completes; the flush is done. */
  | { readonly kind: 'durable'; readonly records: number }
  /** The storage cannot continue: stop, and let nothing that waits on the batch leave. */
  | { readonly kind: 'fatal'; readonly reason: string };

/**
 * Today's rule: a write that throws is fatal; a write that returns is taken as complete, however
 * many bytes it wrote, and the sync after it makes the whole batch durable.
 */
export function settleFlush(recordBytes: readonly number[], bytesWritten: number, failure: WriteFailure): FlushVerdict {
  if (failure !== null)
    return { kind: 'fatal', reason: failure === 'noSpace' ? 'no space left on device' : 'write failed' };
  void bytesWritten;
  return { kind: 'durable', records: recordBytes.length };
}
