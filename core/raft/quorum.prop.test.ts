/**
 * quorumValue (state.ts) against the naive oracle it replaced in maybeCommit and the ReadIndex check:
 * the values sorted in descending order, the one at quorumSize − 1. fast-check draws voter sets of
 * 0–12 members with values that repeat (ties are the interesting case) and calls it several times in a
 * row on different sets, since it reuses one scratch list between calls.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quorumSize, quorumValue } from './state.js';

function oracle(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => b - a);
  return sorted[quorumSize(values.length) - 1]!;
}

const valueOf = (values: ReadonlyMap<string, number>, id: string): number => values.get(id)!;

describe('quorumValue', () => {
  it('is the quorumSize-th largest value, as sorting gives it', () => {
    const sets = fc.array(fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 12 }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(sets, (lists) => {
        for (const list of lists) {
          const values = new Map(list.map((v, i) => [`n${i}`, v] as const));
          expect(quorumValue([...values.keys()], valueOf, values)).toBe(oracle(list));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('counts the leader among the voters like any other (3 of 5 reached 7)', () => {
    const values = new Map([
      ['n1', 9],
      ['n2', 7],
      ['n3', 7],
      ['n4', 2],
      ['n5', 0],
    ]);
    expect(quorumValue([...values.keys()], valueOf, values)).toBe(7);
    values.set('n3', 3);
    expect(quorumValue([...values.keys()], valueOf, values)).toBe(3);
  });
});
