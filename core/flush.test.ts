/**
 * The flush rule (core/flush.ts): a record is durable only when all its bytes were written; a short
 * write keeps the whole records before it and queues the rest; only a non-space error is fatal.
 */
import { describe, expect, it } from 'vitest';
import { settleFlush } from './flush.js';

describe('settleFlush', () => {
  it('makes a fully written batch durable', () => {
    expect(settleFlush([10, 20, 30], 60, null)).toEqual({ kind: 'durable', records: 3 });
  });

  it('never counts a short-written record: keeps the whole ones before it, cut back to their end', () => {
    const verdict = settleFlush([10, 20, 30], 45, null);
    expect(verdict).toMatchObject({ kind: 'short', records: 2, keepBytes: 30 });
    expect(settleFlush([10, 20, 30], 9, null)).toMatchObject({ kind: 'short', records: 0, keepBytes: 0 });
  });

  it('treats ENOSPC as a full disk to retry, any other error as fatal', () => {
    expect(settleFlush([10], 0, 'noSpace')).toMatchObject({ kind: 'short', records: 0, keepBytes: 0 });
    expect(settleFlush([10], 0, 'other').kind).toBe('fatal');
  });

  it('refuses an impossible byte count', () => {
    expect(settleFlush([10], 11, null).kind).toBe('fatal');
  });
});
