/**
 * Wire hygiene (issue 14 §3): `checkMessage` accepts every message shape Raft sends and drops any
 * message in which one number that becomes a term, index, offset or length is out of range (above
 * 2^53 − 1, negative, fractional, not a number), an inner term exceeds the message's term, or entries
 * are not numbered consecutively after prevIndex. Shown per field on a valid message of each type, then
 * as a property: any single number of any valid message replaced by an out-of-range value is dropped.
 * `checkTermJump` refuses a term more than 2^32 past ours.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkMessage, checkTermJump, termJumpMax, wireEntriesMax } from './messages.js';

const membership = { voters: ['n1', 'n2', 'n3'], learners: [] };
const valid: Record<string, Record<string, unknown>> = {
  vote: { type: 'vote', term: 5, lastIndex: 9, lastTerm: 4, preVote: false, transfer: false },
  voteReply: { type: 'voteReply', term: 5, granted: true, preVote: false },
  append: {
    type: 'append',
    term: 5,
    prevIndex: 9,
    prevTerm: 4,
    entries: [
      { term: 4, index: 10, type: 'command', command: { v: 1 }, session: { clientId: 'c1', seq: 3 } },
      { term: 5, index: 11, type: 'noop' },
      { term: 5, index: 12, type: 'config', config: membership },
    ],
    commit: 9,
    readSeq: 2,
  },
  appendReply: {
    type: 'appendReply',
    term: 5,
    success: false,
    matchIndex: 0,
    rejectIndex: 9,
    hintIndex: 7,
    hintTerm: 3,
    readSeq: 2,
  },
  snapshot: {
    type: 'snapshot',
    term: 5,
    lastIndex: 40,
    lastTerm: 5,
    membership,
    offset: 4,
    data: 'abcd',
    totalChars: 8,
    readSeq: 0,
  },
  snapshotReply: { type: 'snapshotReply', term: 5, lastIndex: 40, nextOffset: 8, gap: false, done: true, readSeq: 0 },
  timeoutNow: { type: 'timeoutNow', term: 5 },
};

const outOfRange = [2 ** 53, 2 ** 64, -1, -(2 ** 53), 0.5, 1e300, Infinity, NaN, '5', null, undefined];

/** Every path to a number inside a message, except opaque command payloads. */
function numberPaths(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (typeof value === 'number') return [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => numberPaths(v, [...path, i]));
  if (value !== null && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => (k === 'command' ? [] : numberPaths(v, [...path, k])));
  return [];
}

function withAt(value: unknown, path: readonly (string | number)[], leaf: unknown): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let at: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  at[path[path.length - 1]!] = leaf;
  return copy;
}

describe('checkMessage (wire hygiene)', () => {
  it('accepts a valid message of every type', () => {
    for (const [type, message] of Object.entries(valid)) expect(checkMessage(message), type).toBe(true);
  });

  it('drops a message when any one of its numbers is out of range', () => {
    for (const [type, message] of Object.entries(valid))
      for (const path of numberPaths(message))
        for (const bad of outOfRange)
          expect(checkMessage(withAt(message, path, bad)), `${type} ${path.join('.')}=${String(bad)}`).toBe(false);
  });

  it('property: any valid message with one number replaced by an out-of-range value is dropped', () => {
    const messages = Object.values(valid);
    fc.assert(
      fc.property(
        fc.constantFrom(...messages),
        fc.nat(),
        fc.oneof(
          fc.double({ min: 2 ** 53, noNaN: true }),
          fc.integer({ max: -1 }),
          fc.double({ noInteger: true }),
          fc.constant(2 ** 53),
        ),
        (message, pick, bad) => {
          const paths = numberPaths(message);
          const path = paths[pick % paths.length]!;
          expect(checkMessage(withAt(message, path, bad))).toBe(false);
        },
      ),
    );
  });

  it('drops inner terms above the message term, and entries out of order', () => {
    const append = valid.append!;
    const entries = append.entries as Record<string, unknown>[];
    expect(checkMessage({ ...append, prevTerm: 6 })).toBe(false);
    expect(checkMessage({ ...append, entries: [{ ...entries[0], term: 6 }] })).toBe(false);
    expect(checkMessage({ ...append, entries: [{ ...entries[0], index: 11 }] })).toBe(false);
    expect(checkMessage({ ...append, entries: [entries[1], { ...entries[0], index: 11 }] })).toBe(false);
    expect(checkMessage({ ...append, entries: [{ ...entries[0], term: 3 }] })).toBe(false);
    expect(checkMessage({ ...append, entries: [{ ...entries[0], type: 'evil' }] })).toBe(false);
    expect(checkMessage({ ...append, entries: [null] })).toBe(false);
    expect(checkMessage({ ...append, entries: [{ ...entries[2], config: { voters: [1] } }] })).toBe(false);
    expect(checkMessage({ ...append, entries: { length: 1 } })).toBe(false);
    expect(checkMessage({ ...valid.vote, lastTerm: 6 })).toBe(false);
    expect(checkMessage({ ...valid.appendReply, hintTerm: 6 })).toBe(false);
    expect(checkMessage({ ...valid.snapshot, lastTerm: 6 })).toBe(false);
    expect(checkMessage({ ...valid.snapshot, totalChars: 7 })).toBe(false);
    expect(checkMessage({ ...valid.voteReply, granted: 1 })).toBe(false);
  });

  it('bounds the entries one append may carry', () => {
    const entries = Array.from({ length: wireEntriesMax + 1 }, (_, i) => ({ term: 1, index: i + 1, type: 'noop' }));
    expect(checkMessage({ ...valid.append, prevIndex: 0, prevTerm: 0, entries })).toBe(false);
    expect(checkMessage({ ...valid.append, prevIndex: 0, prevTerm: 0, entries: entries.slice(1, 2) })).toBe(false);
    expect(checkMessage({ ...valid.append, prevIndex: 0, prevTerm: 0, entries: entries.slice(0, 2) })).toBe(true);
  });

  it('refuses a term more than 2^32 past ours (checkTermJump), at any current term', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 2 ** 32 }), (ours, ahead) => {
        expect(checkTermJump(ours + ahead, ours)).toBe(true);
        expect(checkTermJump(ours + termJumpMax + 1 + ahead, ours)).toBe(false);
      }),
    );
    expect(checkTermJump(2 ** 53 - 1, 3)).toBe(false);
  });
});
