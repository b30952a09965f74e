/**
 * The rules round M added (docs/mutation-testing.md, Session 16, Round M) can fail: each test feeds the rule
 * the behaviour of the escaped mutant and checks that it is named, and the real behaviour passes. The
 * Lamport-clock and rejoin rules are pure functions of a member's state or marks; the lock rule runs the
 * checked store FSM of the kv harness with the real store, then with a store whose plain write drops the
 * holder (M12).
 */
import { describe, expect, it } from 'vitest';
import { initState } from '../../core/swim/state.js';
import { lanConfig } from '../../core/swim/config.js';
import type { StoreCommand } from '../../core/store/types.js';
import { checkAccusers, checkEventClock, checkRejoinIncarnation, noteAccusers } from '../harnesses/swim.js';
import { CheckedStoreFsm, lockKey } from '../harnesses/kv.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('round M: the Lamport clock rule (Lamport 1978 IR2, Serf LamportClock.Witness)', () => {
  const holding = (clock: number, ltime: number) => {
    const s = initState('n1', { ...lanConfig }, 0);
    s.eventSlots[ltime % s.config.eventBufferSize] = {
      ltime,
      events: [{ name: 'deploy', id: 'n2-1', payload: null, ltime }],
    };
    s.eventClock = clock;
    return s;
  };

  it('a clock left at the Lamport time of an event it witnessed (M08) is caught; a clock past it passes', () => {
    expect(checkEventClock('n1', holding(5, 5))).toMatch(
      /lamport clock: n1 holds event n2-1 .* at Lamport time 5 but its event clock is 5/,
    );
    expect(checkEventClock('n1', holding(6, 5))).toBeNull();
    expect(checkEventClock('n1', initState('n1', { ...lanConfig }, 0))).toBeNull();
  });
});

describe('round M: the rejoin rule (SWIM §4.2: a new life is a higher incarnation)', () => {
  it('a member that rejoins at the incarnation it left at (M07) is caught; one incarnation more passes', () => {
    const run = { leftAtIncarnation: new Map<string, number>() };
    expect(checkRejoinIncarnation(run, 'n6', 'leaving', 3)).toBeNull();
    expect(checkRejoinIncarnation(run, 'n6', 'left', 3)).toBeNull();
    expect(checkRejoinIncarnation(run, 'n6', 'alive', 3)).toMatch(
      /rejoin: n6 left at incarnation 3 and joined again at incarnation 3/,
    );
    expect(checkRejoinIncarnation(run, 'n6', 'left', 4)).toBeNull();
    expect(checkRejoinIncarnation(run, 'n6', 'alive', 5)).toBeNull();
    // A refutation while alive (no leave before it) is not a rejoin.
    expect(checkRejoinIncarnation(run, 'n6', 'alive', 5)).toBeNull();
  });
});

describe('round M: the Lifeguard accusers rule (Lifeguard §4.2: independent confirmations)', () => {
  const suspecting = (accusers: string[]) => {
    const s = initState('n1', { ...lanConfig }, 0);
    s.suspicions.set('n8', {
      id: 'n8',
      incarnation: 0,
      startMs: 0,
      minMs: 1000,
      maxMs: 6000,
      expected: 3,
      accusers: new Set(accusers),
      timer: 'sus:1:n8',
      deadlineMs: 6000,
      toldMs: -Infinity,
    });
    return s;
  };

  it('a suspicion that names its push-pull partner as an accuser (M09) is caught; heard accusers pass', () => {
    const run = { heardAccusers: new Map<string, Set<string>>() };
    // n4's push-pull state holds n8 suspect: it names nobody, so it makes nobody an accuser.
    noteAccusers(run, 'n1', { t: 'pushPull', members: [], u: [{ k: 'suspect', id: 'n8', inc: 0, from: 'n4' }] });
    expect(checkAccusers(run, 'n1', suspecting(['n4']), ['n8'])).toMatch(
      /lifeguard accusers: n1's suspicion of n8 counts n4 as an accuser, but no suspect message about n8 from n4 reached n1/,
    );
    // n2's gossip names n2; our own failed probe names us.
    noteAccusers(run, 'n1', { t: 'gossip', u: [{ k: 'suspect', id: 'n8', inc: 0, from: 'n2' }] });
    expect(checkAccusers(run, 'n1', suspecting(['n2', 'n1']), ['n8'])).toBeNull();
    expect(checkAccusers(run, 'n1', suspecting([]), ['n8'])).toBeNull();
  });
});

describe('round M: a plain write keeps the lock holder (Consul kvsSetTxn)', () => {
  const commands: StoreCommand[] = [
    { type: 'catalogRegister', node: { node: 'n1', address: '10.0.0.1' }, nowMs: 0 },
    { type: 'sessionCreate', session: { id: 's1', node: 'n1', nodeChecks: [], ttlMs: 0, lockDelayMs: 0 }, nowMs: 0 },
    { type: 'kvLock', entry: { key: lockKey, value: bytes('s1') }, session: 's1', nowMs: 1 },
    { type: 'kvSet', entry: { key: lockKey, value: bytes('written plainly') } },
  ];
  const applyAll = (fsm: CheckedStoreFsm): string[] => {
    commands.forEach((command, i) => fsm.apply(command, i + 1));
    return fsm.problems;
  };

  it('the real store keeps the holder and passes', () => {
    const fsm = new CheckedStoreFsm('n1');
    expect(applyAll(fsm)).toEqual([]);
    expect(fsm.store.state.kv.get(lockKey)?.Session).toBe('s1');
  });

  it('a store whose plain write drops the holder (M12) is caught', () => {
    const fsm = new CheckedStoreFsm('n1');
    const store = fsm.store;
    const apply = store.apply.bind(store);
    (store as { apply: typeof apply }).apply = (command: unknown, index: number) => {
      const result = apply(command, index);
      const entry = store.state.kv.get(lockKey);
      if ((command as StoreCommand).type === 'kvSet' && entry) store.state.kv.set(lockKey, { ...entry, Session: '' });
      return result;
    };
    expect(applyAll(fsm).join('\n')).toMatch(/a plain kvSet at index 4 changed the lock key's session from 's1' to ''/);
  });
});
