import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createStoreFsm } from '../../core/store/store.js';
import {
  answerIndexProblems,
  answerMoveProblems,
  answersOf,
  sameJson,
  tableIndexProblems,
  tableRowsOf,
} from '../checkers/store-tables.js';
import { sessionEndProblems, sessionsOf } from '../checkers/store.js';

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

  it('hold when an answer changes with its index: a node check added and removed, a service renamed away', () => {
    const fsm = createStoreFsm();
    fsm.apply(register, 1);
    const nodeCheck = { ...register, service: undefined, checks: [{ name: 'node-ok', status: 'warning' }] };
    const steps: [unknown, number][] = [
      [nodeCheck, 2],
      [{ type: 'catalogDeregister', node: 'e1', checkId: 'node-ok', nowMs: 0 }, 3],
      [{ ...register, service: { service: 'api', id: 'web', port: 80 }, checks: [] }, 4],
      [{ type: 'catalogDeregister', node: 'e1', nowMs: 0 }, 5],
    ];
    for (const [command, index] of steps) {
      const before = answersOf(fsm.state, command);
      fsm.apply(command, index);
      expect(answerMoveProblems(before, fsm.state, index, command), `index ${index}`).toEqual([]);
    }
  });

  it('name an answer that changed while its X-Consul-Index stayed (I08, I10)', () => {
    const fsm = createStoreFsm();
    fsm.apply(register, 1);
    const command = { type: 'catalogRegister' };
    const before = answersOf(fsm.state, command);
    // The crafted bad case: a second service on e1 written with the services table's index but not the service's.
    fsm.state.services.get('e1')!.set('db', { ...fsm.state.services.get('e1')!.get('web')!, ID: 'db', Service: 'db' });
    fsm.state.tableIndex.set('services', 2);
    const problems = answerMoveProblems(before, fsm.state, 2, command);
    expect(problems.some((p) => p.includes('{"type":"catalogNode","node":"e1"}'))).toBe(false);
    expect(
      problems.some((p) =>
        p.startsWith('answer moved: catalogRegister at index 2 changed the answer of {"type":"catalogServices"}'),
      ),
    ).toBe(false);
    // catalog/services and catalog/node read the services table: their index moved. catalog/nodes did not change.
    fsm.state.tableIndex.set('services', 1);
    const stale = answerMoveProblems(before, fsm.state, 2, command);
    expect(stale).toContain(
      'answer moved: catalogRegister at index 2 changed the answer of {"type":"catalogServices"}, whose X-Consul-Index stayed 1 (was 1): a blocking query on it is never woken',
    );
  });
});

describe('session end rule (sim/checkers/store.ts)', () => {
  const node = (name: string, status: 'passing' | 'critical') => ({
    type: 'memberHealth',
    node: name,
    address: name,
    health: status === 'passing' ? 'alive' : 'failed',
    nowMs: 0,
  });

  it('holds for the store as it is: a session ends when its own node fails, and is destroyed by id', () => {
    const fsm = createStoreFsm();
    fsm.apply(node('n1', 'passing'), 1);
    fsm.apply(node('n2', 'passing'), 2);
    fsm.apply({ type: 'sessionCreate', session: { id: 's1', node: 'n1' }, nowMs: 0 }, 3);
    fsm.apply({ type: 'sessionCreate', session: { id: 's2', node: 'n2' }, nowMs: 0 }, 4);
    let before = sessionsOf(fsm);
    const fail = node('n1', 'critical');
    fsm.apply(fail, 5);
    expect(fsm.state.sessions.has('s1')).toBe(false);
    expect(sessionEndProblems(before, fail as never, 5, fsm)).toEqual([]);
    before = sessionsOf(fsm);
    const destroy = { type: 'sessionDestroy', id: 's2', nowMs: 0 } as const;
    fsm.apply(destroy, 6);
    expect(sessionEndProblems(before, destroy as never, 6, fsm)).toEqual([]);
  });

  it("names a session ended by another node's check (I09)", () => {
    const fsm = createStoreFsm();
    fsm.apply(node('n1', 'passing'), 1);
    fsm.apply(node('n2', 'passing'), 2);
    fsm.apply({ type: 'sessionCreate', session: { id: 's2', node: 'n2' }, nowMs: 0 }, 3);
    const before = sessionsOf(fsm);
    const fail = node('n1', 'critical');
    fsm.apply(fail, 4);
    // The crafted bad case: n1's failure taking n2's session with it.
    fsm.state.sessions.delete('s2');
    expect(sessionEndProblems(before, fail as never, 4, fsm)).toEqual([
      'session end: memberHealth at index 4 invalidated session s2 of n2, whose node is registered and whose checks (serfHealth) are all there and not critical',
    ]);
  });
});

describe('sameJson: the answer-moved rule compares answers as JSON text would, without writing them out', () => {
  // Proves: sameJson(a, b) is exactly JSON.stringify(a) === JSON.stringify(b), on arbitrary values (undefined,
  // -0, NaN, holes, Maps, Dates, nested sharing) and on pairs where b is a's copy with one edit or none.
  const value = fc.anything({
    withMap: true,
    withSet: true,
    withDate: true,
    withNullPrototype: true,
    withSparseArray: true,
  });
  const json = (v: unknown): string | undefined => JSON.stringify(v);
  it('agrees with JSON.stringify on unrelated values', () => {
    fc.assert(
      fc.property(value, value, (a, b) => sameJson(a, b) === (json(a) === json(b))),
      { numRuns: 3000 },
    );
  });
  it('agrees on a value and its copy, edited or not, sharing the untouched parts', () => {
    // The edit: none, a new value at one key, that key renamed (same value), or the keys in another order.
    const edit = fc.constantFrom('none', 'value', 'rename', 'reorder');
    const edited = fc.tuple(fc.jsonValue(), fc.jsonValue(), fc.nat(), edit).map(([a, patch, at, how]) => {
      if (a === null || typeof a !== 'object') return [a, how === 'value' ? patch : a] as const;
      if (Array.isArray(a)) {
        const copy = [...a];
        if (how === 'value' && copy.length > 0) copy[at % copy.length] = patch;
        return [a, how === 'reorder' ? copy.reverse() : copy] as const;
      }
      const entries = Object.entries(a);
      const i = entries.length > 0 ? at % entries.length : -1;
      if (how === 'value' && i >= 0) entries[i] = [entries[i]![0], patch];
      if (how === 'rename' && i >= 0) entries[i] = [`${entries[i]![0]}_`, entries[i]![1]];
      if (how === 'reorder') entries.reverse();
      return [a, Object.fromEntries(entries)] as const;
    });
    fc.assert(
      fc.property(edited, ([a, b]) => sameJson(a, b) === (json(a) === json(b))),
      { numRuns: 3000 },
    );
  });
});
