/**
 * The coordinates table: updates for registered nodes only, invalid coordinates refused whole, the
 * table index moves only when something changed, a deregistered node takes its coordinate along, and
 * snapshots carry the table.
 */
import { describe, expect, it } from 'vitest';
import { createStoreFsm } from './store.js';
import type { StoreCommand } from './types.js';

const coord = (x: number) => ({ Vec: [x, 0, 0, 0, 0, 0, 0, 0], Error: 0.5, Adjustment: 0, Height: 0.00001 });

describe('coordinates', () => {
  it('keeps the latest per registered node, refuses bad ones, follows the node out', () => {
    const fsm = createStoreFsm();
    let index = 0;
    const apply = (command: StoreCommand) => {
      const r = fsm.apply(command, ++index);
      expect(fsm.invariants()).toEqual([]);
      return r;
    };
    for (const node of ['a', 'b']) apply({ type: 'catalogRegister', node: { node, address: '10.0.0.1' }, nowMs: 0 });
    expect(apply({ type: 'coordinateBatchUpdate', updates: [{ Node: 'a', Coord: coord(0.001) }, { Node: 'ghost', Coord: coord(0.002) }] })).toEqual({ ok: true, value: 1 });
    const after = fsm.query({ type: 'coordinateNodes' });
    expect(after).toMatchObject({ index: 3, value: [{ Node: 'a', Segment: '', Coord: coord(0.001) }] });
    // Nothing applied: the index stays.
    expect(apply({ type: 'coordinateBatchUpdate', updates: [{ Node: 'ghost', Coord: coord(0) }] })).toEqual({ ok: true, value: 0 });
    expect(fsm.query({ type: 'coordinateNodes' })).toMatchObject({ index: 3 });
    for (const bad of [{ ...coord(0), Vec: [1] }, { ...coord(0), Error: Number.NaN }, null, 'x']) {
      expect(apply({ type: 'coordinateBatchUpdate', updates: [{ Node: 'b', Coord: bad }] }).ok).toBe(false);
    }
    apply({ type: 'coordinateBatchUpdate', updates: [{ Node: 'b', Coord: coord(0.003) }] });
    expect(fsm.query({ type: 'coordinateNodes', node: 'b' })).toMatchObject({ value: [{ Node: 'b' }] });
    const copy = createStoreFsm();
    copy.restore(fsm.snapshot());
    expect(copy.query({ type: 'coordinateNodes' })).toEqual(fsm.query({ type: 'coordinateNodes' }));
    apply({ type: 'catalogDeregister', node: 'a', nowMs: 0 });
    expect((fsm.query({ type: 'coordinateNodes' }) as { value: { Node: string }[] }).value.map((e) => e.Node)).toEqual(['b']);
  });
});
