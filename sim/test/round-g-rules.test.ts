/**
 * The checker rules added for round G's escapes (session 13), each fed a crafted bad case and its
 * correct variant: SWIM's "left only after a leave" (G14), the kv harness's "no session outlives a
 * critical check" (G09) and "only the holder releases a lock" (G10). Raft's check-quorum step-down rule (G03) is tested with the other per-step
 * rules in sim/checkers/raft-rules.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createStoreFsm } from '../../core/store/store.js';
import { checkLeftOnlyAfterLeave, type ForceLeave, type Life, type Mark, type Truth } from '../checkers/swim.js';
import { lockServiceCheckId, sessionsOnCriticalChecks } from '../harnesses/kv-session-checks.js';
import { CheckedStoreFsm, lockKey } from '../harnesses/kv.js';

const life = (leaving: Life['leaving'] = []): Life => ({ down: [], paused: [], leaving, silent: [] });
const truth = (lives: [string, Life][]): Truth => ({ lives: new Map(lives), split: [], lossy: [], endMs: 60_000 });
const left = (observer: string, about: string, atMs: number): Mark => ({
  atMs,
  observer,
  about,
  status: 'left',
  incarnation: 1,
});

describe('swim: left only after a leave (checkLeftOnlyAfterLeave)', () => {
  const lives = (leaving: Life['leaving'] = []) =>
    truth([
      ['n1', life()],
      ['n2', life()],
      ['n3', life(leaving)],
    ]);

  it('a live member that never left, marked left by another, is reported', () => {
    expect(checkLeftOnlyAfterLeave([left('n2', 'n3', 12_000)], lives(), [])).toEqual([
      expect.stringMatching(/left without a leave: n2 marked n3 left at 12000 ms/),
    ]);
  });

  it('a force-leave through a member that held it alive (leaving there only) does not excuse it', () => {
    const force: ForceLeave = { atMs: 10_000, node: 'n1', about: 'n3', before: 'alive' };
    expect(checkLeftOnlyAfterLeave([left('n2', 'n3', 12_000)], lives(), [force])).toHaveLength(1);
  });

  it('a graceful leave begun before the mark, or a force-leave of a member held failed, excuses it', () => {
    expect(
      checkLeftOnlyAfterLeave([left('n2', 'n3', 12_000)], lives([{ fromMs: 11_000, toMs: Infinity }]), []),
    ).toEqual([]);
    const force: ForceLeave = { atMs: 10_000, node: 'n1', about: 'n3', before: 'failed' };
    expect(checkLeftOnlyAfterLeave([left('n2', 'n3', 12_000)], lives(), [force])).toEqual([]);
    // ... but not one that came after the mark.
    expect(checkLeftOnlyAfterLeave([left('n2', 'n3', 9_000)], lives(), [force])).toHaveLength(1);
  });
});

describe('kv: no session outlives a critical check (sessionsOnCriticalChecks)', () => {
  it('a session tied to a service check that went critical is reported; invalidated, it is not', () => {
    const fsm = createStoreFsm();
    let index = 0;
    const apply = (command: unknown) => fsm.apply(command, ++index);
    const register = (status: 'passing' | 'critical') =>
      apply({
        type: 'catalogRegister',
        node: { node: 'n1', address: '10.0.0.1' },
        service: { service: 'lock-svc', id: 'lock-svc', port: 9000 },
        checks: [{ checkId: lockServiceCheckId, name: 'alive', serviceId: 'lock-svc', status }],
        nowMs: 0,
      });
    register('passing');
    const created = apply({
      type: 'sessionCreate',
      session: { id: 's1', node: 'n1', nodeChecks: [], serviceChecks: [lockServiceCheckId] },
      nowMs: 0,
    }) as { ok: boolean };
    expect(created.ok).toBe(true);
    expect(sessionsOnCriticalChecks(fsm.state)).toEqual([]);
    register('critical'); // the store invalidates s1
    expect(fsm.state.sessions.has('s1')).toBe(false);
    expect(sessionsOnCriticalChecks(fsm.state)).toEqual([]);
    // A crafted bad state: the check critical and the session still there.
    fsm.state.sessions.set('s1', {
      ID: 's1',
      Name: '',
      Node: 'n1',
      LockDelayMs: 0,
      Behavior: 'release',
      TtlMs: 0,
      NodeChecks: [],
      ServiceChecks: [lockServiceCheckId],
      CreateIndex: 2,
      ModifyIndex: 2,
    });
    expect(sessionsOnCriticalChecks(fsm.state)).toEqual([
      expect.stringMatching(/session s1 outlives its check n1\/lock-svc-alive going critical/),
    ]);
  });
});

describe('kv: only the session that holds the lock releases it (CheckedStoreFsm)', () => {
  it('a release by another session that frees the lock is reported; refused, it is not', () => {
    for (const broken of [false, true]) {
      const checked = new CheckedStoreFsm('n1');
      let index = 0;
      const apply = (command: unknown) => checked.apply(command, ++index);
      apply({ type: 'memberHealth', node: 'n1', address: '10.0.0.1', health: 'alive', serverPort: 8300, nowMs: 0 });
      for (const id of ['s1', 's2'])
        apply({ type: 'sessionCreate', session: { id, node: 'n1', lockDelayMs: 0 }, nowMs: 0 });
      apply({ type: 'kvLock', entry: { key: lockKey, value: null }, session: 's1', nowMs: 0 });
      expect(checked.store.state.kv.get(lockKey)?.Session).toBe('s1');
      if (broken) {
        // A store that releases whatever session asks (round G's G10): s2's release frees s1's lock.
        const real = checked.store.apply.bind(checked.store);
        checked.store.apply = (command: unknown, i: number) =>
          real(
            (command as { type?: string }).type === 'kvUnlock' ? { ...(command as object), session: 's1' } : command,
            i,
          );
      }
      apply({ type: 'kvUnlock', entry: { key: lockKey, value: null }, session: 's2' });
      if (broken)
        expect(checked.problems).toEqual([expect.stringMatching(/session s2 released the lock held by session s1/)]);
      else expect(checked.problems).toEqual([]);
    }
  });
});
