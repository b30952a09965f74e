/**
 * RaftLog against a naive oracle (a plain array of every entry ever kept, plus a compaction point):
 * fast-check drives random appends, truncations and compactions, and after each one every query —
 * termAt, entryAt, lastIndex/lastTerm, slice (count and byte bounds), the fast-backtracking scans —
 * must agree with the oracle's brute-force answer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { estimateBytes, RaftLog } from './log.js';
import type { Entry } from './messages.js';

type Op =
  | { kind: 'append'; termBump: number; size: number }
  | { kind: 'truncate'; back: number }
  | { kind: 'compact'; ahead: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      termBump: fc.integer({ min: 0, max: 1 }),
      size: fc.integer({ min: 0, max: 40 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), back: fc.integer({ min: 0, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const), ahead: fc.integer({ min: 0, max: 6 }) }) },
);

describe('RaftLog vs a naive oracle', () => {
  it('agrees on every query after any sequence of appends, truncations and compactions', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
        const log = new RaftLog();
        let all: Entry[] = []; // oracle: every entry with index > prevIndex
        let prevIndex = 0;
        let prevTerm = 0;
        let term = 1;
        const termOf = (i: number) =>
          i === prevIndex ? prevTerm : i < prevIndex ? undefined : all[i - prevIndex - 1]?.term;
        for (const op of ops) {
          if (op.kind === 'append') {
            term += op.termBump;
            const e: Entry = { index: prevIndex + all.length + 1, term, type: 'command', command: 'x'.repeat(op.size) };
            log.append(e);
            all.push(e);
          } else if (op.kind === 'truncate') {
            const keep = Math.max(prevIndex, prevIndex + all.length - op.back);
            log.truncateAfter(keep);
            all = all.slice(0, keep - prevIndex);
          } else {
            const to = Math.min(prevIndex + all.length, prevIndex + op.ahead);
            const t = termOf(to)!;
            log.compactTo(to, t);
            all = all.slice(to - prevIndex);
            prevIndex = to;
            prevTerm = t;
          }
          const last = prevIndex + all.length;
          expect(log.lastIndex).toBe(last);
          expect(log.lastTerm).toBe(all.length ? all[all.length - 1]!.term : prevTerm);
          expect(log.check()).toEqual([]);
          for (let i = Math.max(0, prevIndex - 1); i <= last + 1; i++) {
            expect(log.termAt(i)).toBe(termOf(i));
            if (i > prevIndex && i <= last) {
              expect(log.entryAt(i)).toBe(all[i - prevIndex - 1]);
              let first = i;
              while (first - 1 > prevIndex && termOf(first - 1) === termOf(i)) first--;
              expect(log.firstIndexOfTermAt(i)).toBe(first);
              const got = log.slice(i, 3, 60);
              const want: Entry[] = [];
              let bytes = 0;
              for (let k = i; k <= last && want.length < 3; k++) {
                bytes += estimateBytes(all[k - prevIndex - 1]!.command) + 32;
                if (want.length > 0 && bytes > 60) break;
                want.push(all[k - prevIndex - 1]!);
              }
              expect(got).toEqual(want);
            }
          }
          for (let t = 0; t <= term + 1; t++) {
            let want = 0;
            for (let i = last; i > prevIndex; i--) if (termOf(i) === t) ((want = i), (i = 0));
            expect(log.lastIndexOfTerm(t)).toBe(want);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
