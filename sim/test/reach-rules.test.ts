/**
 * The per-step rules added for the explorer's reach (issue 12, session 5), each shown able to fail:
 * the SWIM harness's Lifeguard oracle agrees with the core's suspicion timeout where the core is right
 * (so the rule is silent on correct code) and the kv harness's lock-key rules flag a store that moves
 * LockIndex on a holder's re-acquire or leaves ModifyIndex behind on a release. The Raft recovery rule
 * has its own tests in sim/checkers/raft-rules.test.ts; the agent's consistent-read and leader-time
 * rules are measured by the mutants A16 and N09 (docs/mutation-testing.md).
 */
import { describe, expect, it } from 'vitest';
import { profiles, suspicionTimeoutMinMs, suspicionTimeoutMs } from '../../core/swim/config.js';
import type { KvEntry, StoreCommand } from '../../core/store/types.js';
import { lifeguardTimeoutMs } from '../harnesses/swim.js';
import { CheckedStoreFsm, lockKey } from '../harnesses/kv.js';
import { agentStoreTransitions } from '../harnesses/store-coverage.js';
import { checkedStoreFsm } from '../checkers/store.js';
import { createStoreFsm } from '../../core/store/store.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('Lifeguard suspicion-timeout oracle (sim/harnesses/swim.ts)', () => {
  it('agrees with the core for every profile, member count and confirmation count', () => {
    for (const [name, base] of Object.entries(profiles)) {
      for (const lifeguard of [true, false]) {
        const config = { ...base, lifeguard };
        for (let n = 1; n <= 40; n++) {
          const minMs = suspicionTimeoutMinMs(config, n);
          const maxMs = lifeguard ? Math.floor(minMs * config.suspicionMaxTimeoutMult) : minMs;
          const k = config.suspicionMult - 2;
          const expected = !lifeguard || n - 2 < k ? 0 : k;
          for (let c = 0; c <= 6; c++) {
            const core = lifeguard ? suspicionTimeoutMs(minMs, maxMs, c, expected) : minMs;
            expect(lifeguardTimeoutMs(config, n, c), `${name} lifeguard=${lifeguard} n=${n} c=${c}`).toBe(core);
          }
        }
      }
    }
  });

  it('a lone accuser waits the maximum, K confirmations bring it to the minimum (Lifeguard §IV-B)', () => {
    const config = { ...profiles.sim!, lifeguard: true };
    const minMs = suspicionTimeoutMinMs(config, 8);
    expect(lifeguardTimeoutMs(config, 8, 0)).toBe(Math.floor(minMs * config.suspicionMaxTimeoutMult));
    expect(lifeguardTimeoutMs(config, 8, config.suspicionMult - 2)).toBe(minMs);
  });
});

describe('lock-key rules of the kv harness (CheckedStoreFsm)', () => {
  const lock = (id: string, value: string): StoreCommand => ({
    type: 'kvLock',
    entry: { key: lockKey, value: bytes(value) },
    session: id,
    nowMs: 0,
  });

  /** A node, a session s1 on it (no checks) and s1 holding the lock: indexes 1..3. */
  function held(): CheckedStoreFsm {
    const fsm = new CheckedStoreFsm('n1');
    fsm.apply({ type: 'catalogRegister', node: { node: 'n1', address: '10.0.0.1' }, nowMs: 0 } as StoreCommand, 1);
    fsm.apply(
      { type: 'sessionCreate', session: { id: 's1', node: 'n1', nodeChecks: [], lockDelayMs: 0 }, nowMs: 0 },
      2,
    );
    fsm.apply(lock('s1', 'a'), 3);
    expect(fsm.store.state.kv.get(lockKey)?.Session).toBe('s1');
    return fsm;
  }

  /** Plants a store bug: after every apply, `tamper` rewrites the lock entry. */
  function plant(fsm: CheckedStoreFsm, tamper: (entry: KvEntry) => KvEntry): void {
    const apply = fsm.store.apply.bind(fsm.store);
    fsm.store.apply = (command: unknown, index: number) => {
      const result = apply(command, index);
      fsm.store.state.kv.set(lockKey, tamper(fsm.store.state.kv.get(lockKey)!));
      return result;
    };
  }

  it('a holder re-acquiring its lock keeps LockIndex; a store that bumps it is flagged', () => {
    const good = held();
    good.apply(lock('s1', 'b'), 4);
    expect(good.problems).toEqual([]);
    expect(good.store.state.kv.get(lockKey)?.LockIndex).toBe(1);
    const bad = held();
    plant(bad, (entry) => ({ ...entry, LockIndex: 2 }));
    bad.apply(lock('s1', 'b'), 4);
    expect(bad.problems.join('\n')).toMatch(/re-acquired the lock it held at index 4 and LockIndex moved from 1 to 2/);
  });

  it("a release by the session's end moves ModifyIndex; a store that leaves it behind is flagged", () => {
    const good = held();
    good.apply({ type: 'sessionDestroy', id: 's1', nowMs: 0 } as StoreCommand, 4);
    expect(good.problems).toEqual([]);
    expect(good.store.state.kv.get(lockKey)?.Session).toBe('');
    const bad = held();
    plant(bad, (entry) => ({ ...entry, ModifyIndex: 3 }));
    bad.apply({ type: 'sessionDestroy', id: 's1', nowMs: 0 } as StoreCommand, 4);
    expect(bad.problems.join('\n')).toMatch(
      /sessionDestroy at index 4 changed the lock key .* left its ModifyIndex at 3/,
    );
  });
});

describe('store transitions of the agent harness (sim explore --coverage)', () => {
  it('the checked store FSM classifies what the agent workload and the leader apply', () => {
    const fsm = checkedStoreFsm(createStoreFsm(), 'n1');
    const register = (node: string, index: number): unknown =>
      fsm.apply({ type: 'catalogRegister', node: { node, address: '10.0.0.1' }, nowMs: 0 } as StoreCommand, index);
    register('n1', 1);
    fsm.apply({ type: 'memberHealth', node: 'n1', address: '10.0.0.1', health: 'alive', nowMs: 0 } as StoreCommand, 2);
    fsm.apply({ type: 'sessionCreate', session: { id: 's1', node: 'n1' }, nowMs: 0 } as StoreCommand, 3);
    fsm.apply({ type: 'kvSet', entry: { key: 'k', value: bytes('v') } } as StoreCommand, 4);
    fsm.apply({ type: 'kvCas', entry: { key: 'k', value: bytes('w') }, cas: 1 } as StoreCommand, 5);
    fsm.apply({ type: 'memberHealth', node: 'n1', address: '10.0.0.1', health: 'failed', nowMs: 0 } as StoreCommand, 6);
    expect(fsm.transitions).toEqual([
      'transition store: node registered',
      'transition store: member alive (serfHealth passing)',
      'transition store: session created',
      'transition store: key written',
      'transition store: cas refused',
      'transition store: member failed (serfHealth critical)',
      'transition store: session invalidated (its node check failed)',
    ]);
    for (const t of fsm.transitions) expect(agentStoreTransitions).toContain(t);
  });
});
