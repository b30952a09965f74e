import { describe, expect, it } from 'vitest';
import { createStoreFsm } from '../../core/store/store.js';
import { answerIndexProblems, tableIndexProblems, tableRowsOf } from '../checkers/store-tables.js';

const register = {
  type: 'catalogRegister',
  node: { node: 'e1', address: '10.0.0.1' },
  service: { service: 'web', port: 80 },
  checks: [{ name: 'web-alive', serviceId: 'web', status: 'passing' }],
  nowMs: 0,
} as const;

const coordinate = { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 1e-5 };

describe('table index rules (sim/checkers/store-tables.ts)', () => {
  it('hold for the store as it is: a registration, a coordinate update, an unchanged re-registration', () => {
    const fsm = createStoreFsm();
    let before = tableRowsOf(fsm.state);
    fsm.apply(register, 1);
    expect(tableIndexProblems(before, fsm.state, 1, register)).toEqual([]);
    const update = { type: 'coordinateBatchUpdate', updates: [{ Node: 'e1', Coord: coordinate }] };
    before = tableRowsOf(fsm.state);
    fsm.apply(update, 2);
    expect(tableIndexProblems(before, fsm.state, 2, update)).toEqual([]);
    before = tableRowsOf(fsm.state);
    fsm.apply(register, 3);
    expect(tableIndexProblems(before, fsm.state, 3, register)).toEqual([]);
  });

  it('name a table changed at an index its table index did not move to', () => {
    const fsm = createStoreFsm();
    fsm.apply(register, 1);
    const before = tableRowsOf(fsm.state);
    // The crafted bad case: a coordinate written without its table's index (as a store that forgot it would).
    fsm.state.coordinates.set('e1', coordinate);
    const problems = tableIndexProblems(before, fsm.state, 2, { type: 'coordinateBatchUpdate' });
    expect(problems).toEqual([
      'table index: coordinateBatchUpdate at index 2 changed table coordinates, whose index is 0, not 2 (its watchers are never woken)',
    ]);
  });

  it('name an answer whose X-Consul-Index lags a row in it', () => {
    const fsm = createStoreFsm();
    fsm.apply(register, 1);
    fsm.apply({ ...register, service: { service: 'web', port: 81 } }, 2);
    expect(answerIndexProblems(fsm.state, 2, register)).toEqual([]);
    // The crafted bad case: the tables read by catalog/node held back below the service row written at 2.
    fsm.state.tableIndex.set('services', 1);
    fsm.state.serviceIndex.set('web', 2);
    const problems = answerIndexProblems(fsm.state, 2, register);
    expect(problems).toContain(
      'answer index: after catalogRegister at index 2, {"type":"catalogNode","node":"e1"} answers X-Consul-Index 1 below a row of it modified at 2',
    );
  });
});
