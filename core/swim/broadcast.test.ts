/**
 * The broadcast queue (SWIM §4.1 dissemination, memberlist's TransmitLimitedQueue): newer news about a
 * member replaces older, least-sent goes first, each update is sent exactly `limit` times, and a take
 * never exceeds its byte budget. Checked against a naive oracle with fast-check.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BroadcastQueue } from './broadcast.js';
import type { SwimUpdate } from './messages.js';
import { updateBytes } from './size.js';

const alive = (id: string, inc: number): SwimUpdate => ({ k: 'alive', id, inc, tags: { role: 'node' } });

describe('broadcast queue', () => {
  it('a newer update about the same member replaces the queued one', () => {
    const q = new BroadcastQueue(100);
    q.enqueue(alive('a', 1));
    q.enqueue({ k: 'suspect', id: 'a', inc: 1, from: 'b' });
    expect(q.length).toBe(1);
    expect(q.take(1400, 4)).toEqual([{ k: 'suspect', id: 'a', inc: 1, from: 'b' }]);
  });

  it('sends each update exactly `limit` times, least-sent first', () => {
    const q = new BroadcastQueue(100);
    q.enqueue(alive('a', 1));
    expect(q.take(1400, 3)).toHaveLength(1);
    q.enqueue(alive('b', 1));
    // b has been sent 0 times, a once: b goes first.
    expect(q.take(1400, 3).map((u) => (u.k === 'alive' ? u.id : ''))).toEqual(['b', 'a']);
    expect(q.take(1400, 3)).toHaveLength(2); // a's third, b's second
    expect(q.take(1400, 3)).toHaveLength(1); // b's third
    expect(q.take(1400, 3)).toHaveLength(0);
  });

  it('never exceeds the byte budget and drops the most-sent when full', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 5 })), { maxLength: 200 }),
        fc.integer({ min: 0, max: 1400 }),
        (items, budget) => {
          const q = new BroadcastQueue(50);
          for (const [id, inc] of items) q.enqueue(alive(`m${id}`, inc));
          expect(q.length).toBeLessThanOrEqual(50);
          const taken = q.take(budget, 4);
          expect(taken.reduce((sum, u) => sum + updateBytes(u), 0)).toBeLessThanOrEqual(budget);
          // Naive oracle: the distinct members enqueued, each at its last update.
          const last = new Map<string, number>();
          for (const [id, inc] of items) last.set(`m${id}`, inc);
          for (const u of taken) expect(u.k === 'alive' && last.get(u.id) === u.inc).toBe(true);
          expect(q.invariants(4)).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
