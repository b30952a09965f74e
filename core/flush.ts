/**
 * The group-commit rule of a write-ahead log, written once for both storages (net/disk's DiskStorage
 * and the simulator's SimStorage): given the records of one flush, how many bytes the write system
 * call took and whether it failed, which records are durable and what happens next.
 *
 * A flush writes a batch of whole records (each a length, a CRC-32 and a payload) with one write and
 * then syncs. A disk that fills up mid-batch takes only part of it: `write(2)` returns a short count,
 * and the next call fails with ENOSPC. A record is durable only when all of its bytes were written
 * and a sync covering them completed (issue 13 §1: a short write once counted as complete, and an
 * acknowledged write was cut off as a "torn tail" after restart). Pure: the storages do the I/O.
 */

/** Why the write system call failed, if it did: out of space (ENOSPC, EDQUOT) or anything else. */
export type WriteFailure = 'noSpace' | 'other' | null;

export type FlushVerdict =
  /** Every record of the batch is written: sync, and then all of them are durable. */
  | { readonly kind: 'durable'; readonly records: number }
  /**
   * The disk is full. The first `records` records were written whole: cut the file back to
   * `keepBytes` past the batch's start (dropping the partial record), sync, and those are durable.
   * The rest stay queued, in order, and are written again when space returns; nothing that waits
   * on them may leave before then.
   */
  | { readonly kind: 'short'; readonly records: number; readonly keepBytes: number; readonly reason: string }
  /** The storage cannot continue (an I/O error that is not a full disk): stop. */
  | { readonly kind: 'fatal'; readonly reason: string };

export function settleFlush(recordBytes: readonly number[], bytesWritten: number, failure: WriteFailure): FlushVerdict {
  let totalBytes = 0;
  for (const bytes of recordBytes) totalBytes += bytes;
  if (failure === 'other') return { kind: 'fatal', reason: 'write failed' };
  if (failure === null && bytesWritten === totalBytes) return { kind: 'durable', records: recordBytes.length };
  if (!(bytesWritten >= 0 && bytesWritten <= totalBytes))
    return { kind: 'fatal', reason: `write took ${bytesWritten} of ${totalBytes} bytes` };
  let records = 0;
  let keepBytes = 0;
  while (records < recordBytes.length && keepBytes + recordBytes[records]! <= bytesWritten)
    keepBytes += recordBytes[records++]!;
  const reason =
    failure === 'noSpace'
      ? 'no space left on device'
      : `short write: ${bytesWritten} of ${totalBytes} bytes (no space left on device)`;
  return { kind: 'short', records, keepBytes, reason };
}

/** How long a storage waits before writing again after a full disk (the agent; the sim scales it down). */
export const diskFullRetryMsDefault = 1000;
