/**
 * The coordinates table: updates for registered nodes only, invalid coordinates refused whole, the
 * table index moves only when something changed, a deregistered node takes its coordinate along, and
 * snapshots carry the table.
 */
import { describe, expect, it } from 'vitest';
import { createStoreFsm } from './store.js';
import type { StoreCommand } from './types.js';

/** A fresh store whose every apply (at the next index) is followed by its invariants. */
function store() {
  const fsm = createStoreFsm();
  let index = 0;
  const apply = (command: unknown) => {
    const r = fsm.apply(command, ++index);
    expect(fsm.invariants()).toEqual([]);
    return r;
  };
  return { fsm, apply, index: () => index };
}

const coord = (x: number) => ({ Vec: [x, 0, 0, 0, 0, 0, 0, 0], Error: 0.5, Adjustment: 0, Height: 0.00001 });

describe('coordinates', () => {
  it('keeps the latest per registered node, refuses bad ones, follows the node out', () => {
    const { fsm, apply } = store();
    for (const node of ['a', 'b']) apply({ type: 'catalogRegister', node: { node, address: '10.0.0.1' }, nowMs: 0 });
    expect(
      apply({
        type: 'coordinateBatchUpdate',
        updates: [
          { Node: 'a', Coord: coord(0.001) },
          { Node: 'ghost', Coord: coord(0.002) },
        ],
      }),
    ).toEqual({ ok: true, value: 1 });
    const after = fsm.query({ type: 'coordinateNodes' });
    expect(after).toMatchObject({ index: 3, value: [{ Node: 'a', Segment: '', Coord: coord(0.001) }] });
    // Nothing applied: the index stays.
    expect(apply({ type: 'coordinateBatchUpdate', updates: [{ Node: 'ghost', Coord: coord(0) }] })).toEqual({
      ok: true,
      value: 0,
    });
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
    expect((fsm.query({ type: 'coordinateNodes' }) as { value: { Node: string }[] }).value.map((e) => e.Node)).toEqual([
      'b',
    ]);
  });
});

describe('snapshot restore as a command', () => {
  it('replaces the store, moves every table index to the command index, refuses a bad snapshot without change', () => {
    const { fsm, apply, index: now } = store();
    const put = (key: string, value: string): StoreCommand => ({
      type: 'kvSet',
      entry: { key, value: new TextEncoder().encode(value) },
    });
    apply(put('a', '1'));
    apply(put('b', '2'));
    const saved = (fsm.query({ type: 'snapshot' }) as { value: unknown }).value;
    apply(put('a', 'changed'));
    apply({ type: 'kvDelete', key: 'b' });
    expect(apply({ type: 'snapshotRestore', snapshot: { version: 1, junk: true }, nowMs: 0 }).ok).toBe(false);
    expect((fsm.query({ type: 'kvGet', key: 'a' }) as { value: { Value: Uint8Array } }).value.Value).toEqual(
      new TextEncoder().encode('changed'),
    );
    expect(apply({ type: 'snapshotRestore', snapshot: saved, nowMs: 1000 })).toEqual({ ok: true, value: true });
    const index = now();
    const a = fsm.query({ type: 'kvGet', key: 'a' }) as {
      index: number;
      value: { Value: Uint8Array; ModifyIndex: number };
    };
    expect(new TextDecoder().decode(a.value.Value)).toBe('1');
    // The entry keeps its own ModifyIndex; the index a watcher of it sees is the restore's.
    expect([a.value.ModifyIndex, a.index]).toEqual([1, index]);
    expect(fsm.query({ type: 'kvGet', key: 'b' })).toMatchObject({ value: { Key: 'b' } });
    // A watcher of any table sees the restore's index.
    expect(fsm.query({ type: 'kvList', prefix: '' })).toMatchObject({ index });
    expect(fsm.query({ type: 'catalogNodes' })).toMatchObject({ index });
    expect(fsm.lastIndex).toBe(index);
    apply(put('c', '3'));
  });
});
