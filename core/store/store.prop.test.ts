/**
 * Properties of the whole store under random sequences of every kind of command (fast-check):
 * sessions, locks, lock-delay, catalog registrations and deregistrations, gossip health, TTL expiry,
 * with leader stamps that mostly advance but sometimes go back (a retried proposal keeps its stamp).
 *
 *  1. The store's invariants hold after every command (locks name live sessions, derived indexes
 *     match, catalog references resolve...).
 *  2. Locks, checked against a tiny independent model of the lock key: the lock passes between
 *     sessions only through being freed; a new acquisition raises LockIndex by exactly one; after the
 *     holder is invalidated (not released) no session gets the key at a stamp earlier than the
 *     invalidation's stamp + its lock-delay.
 *  3. Blocking queries: for every read a watcher may hold (KV, sessions, catalog, health), an answer
 *     that changed comes with a higher index, and no index ever falls.
 *  4. Determinism and snapshots: a replica restored from a snapshot taken midway and fed the rest of
 *     the commands ends byte-identical to the original.
 * (1, 2, 4) run on lock-centred commands, so that hand-overs after an invalidation happen often (the
 * test asserts they did); (1, 3) on commands of every kind.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createStoreFsm } from './store.js';
import type { KvEntry, StoreCommand, StoreQuery } from './types.js';

const nodes = ['n1', 'n2', 'n3'];
const sessionIds = ['s1', 's2', 's3', 's4'];
const lock = 'lock';

/** A command with a stamp offset: mostly forward, sometimes back (a retried proposal's old stamp). */
const arbStep = fc.integer({ min: -300, max: 2000 });

// The literals are checked by the store at run time (it answers errors for malformed commands; the
// invariants would catch any it accepted wrongly); the cast only spares spelling out each literal type.
const arbCommand = fc.oneof(
  fc
    .record({
      id: fc.constantFrom(...sessionIds),
      node: fc.constantFrom(...nodes),
      ttl: fc.constantFrom(0, 10_000),
      delay: fc.constantFrom(0, 1_000, 5_000),
      behavior: fc.constantFrom('release' as const, 'delete' as const),
      serf: fc.boolean(),
    })
    .map((s) => (nowMs: number) => ({
      type: 'sessionCreate',
      session: {
        id: s.id,
        node: s.node,
        ttlMs: s.ttl,
        lockDelayMs: s.delay,
        behavior: s.behavior,
        ...(s.serf ? {} : { nodeChecks: [] }),
      },
      nowMs,
    })),
  {
    arbitrary: fc.constantFrom(...sessionIds).map((id) => (nowMs: number) => ({
      type: 'kvLock',
      entry: { key: lock, value: new TextEncoder().encode(id) },
      session: id,
      nowMs,
    })),
    weight: 4,
  },
  fc
    .constantFrom(...sessionIds)
    .map((id) => (nowMs: number) => ({ type: 'kvLock', entry: { key: 'other', value: null }, session: id, nowMs })),
  fc
    .constantFrom(...sessionIds)
    .map((id) => (_nowMs: number) => ({ type: 'kvUnlock', entry: { key: lock, value: null }, session: id })),
  fc.constantFrom(...sessionIds).map((id) => (nowMs: number) => ({ type: 'sessionDestroy', id, nowMs })),
  fc.constantFrom(...sessionIds).map((id) => (nowMs: number) => ({ type: 'sessionRenew', id, nowMs })),
  fc.constant((nowMs: number) => ({ type: 'sessionsExpire', nowMs: nowMs + 25_000 })),
  fc
    .tuple(
      fc.constantFrom(...nodes),
      fc.constantFrom('alive' as const, 'alive' as const, 'alive' as const, 'failed' as const, 'left' as const),
    )
    .map(([node, health]) => (nowMs: number) => ({
      type: 'memberHealth',
      node,
      address: `10.0.0.${node.slice(1)}`,
      health,
      nowMs,
    })),
  fc
    .tuple(
      fc.constantFrom(...nodes),
      fc.constantFrom('web', 'db'),
      fc.constantFrom('passing' as const, 'warning' as const, 'critical' as const),
      fc.constantFrom([], ['a'], ['a', 'b']),
    )
    .map(([node, service, status, tags]) => (nowMs: number) => ({
      type: 'catalogRegister',
      node: { node, address: `10.0.0.${node.slice(1)}` },
      service: { service, tags },
      checks: [{ name: `${service} check`, checkId: `service:${service}`, serviceId: service, status }],
      nowMs,
    })),
  fc
    .tuple(
      fc.constantFrom(...nodes),
      fc.constantFrom(undefined, 'web', 'db'),
      fc.constantFrom(undefined, 'serfHealth', 'service:web'),
    )
    .map(([node, serviceId, checkId]) => (nowMs: number) => ({
      type: 'catalogDeregister',
      node,
      ...(serviceId ? { serviceId } : checkId ? { checkId } : {}),
      nowMs,
    })),
  fc
    .constantFrom('web/a', 'web/b', 'x')
    .map((key) => (_nowMs: number) => ({ type: 'kvSet', entry: { key, value: new TextEncoder().encode(key) } })),
  fc.constantFrom('web/', '').map((prefix) => (_nowMs: number) => ({ type: 'kvDeleteTree', prefix })),
) as unknown as fc.Arbitrary<(nowMs: number) => StoreCommand>;

const watched: StoreQuery[] = [
  { type: 'kvGet', key: lock },
  { type: 'kvList', prefix: 'web/' },
  { type: 'sessionList' },
  { type: 'sessionNode', node: 'n1' },
  { type: 'sessionInfo', id: 's1' },
  { type: 'catalogNodes' },
  { type: 'catalogServices' },
  { type: 'catalogService', service: 'web' },
  { type: 'catalogNode', node: 'n2' },
  { type: 'healthState', state: 'any' },
  { type: 'healthState', state: 'critical' },
  { type: 'healthNode', node: 'n1' },
  { type: 'healthChecks', service: 'db' },
  { type: 'healthService', service: 'web' },
  { type: 'healthService', service: 'db', passing: true },
];

const text = (x: unknown): string => JSON.stringify(x, (_k, v) => (v instanceof Uint8Array ? [...v] : v));

/** Applies one command and checks invariants and the lock rules against a tiny model of the lock key. */
class LockModel {
  readonly fsm = createStoreFsm();
  index = 1;
  lastInvalidation: { atMs: number; delayMs: number } | null = null;
  acquisitionsAfterInvalidation = 0;

  apply(command: StoreCommand): void {
    const fsm = this.fsm;
    const was = fsm.state.kv.get(lock);
    const holder = was && was.Session !== '' ? fsm.state.sessions.get(was.Session) : undefined;
    fsm.apply(command, ++this.index);
    expect(fsm.invariants(), `after ${text(command)}`).toEqual([]);
    const now: KvEntry | undefined = fsm.state.kv.get(lock);
    const wasHeld = was?.Session ?? '';
    const nowHeld = now?.Session ?? '';
    if (wasHeld !== '' && nowHeld !== '' && wasHeld !== nowHeld)
      throw new Error(`lock passed from ${wasHeld} to ${nowHeld} unfreed`);
    if (wasHeld !== '' && nowHeld === '') {
      // Freed by the holder's invalidation: lock-delay starts (unless it is 0). By a release or a
      // delete: none (the key was held, so any earlier delay was spent by that acquisition).
      const invalidation = [
        'sessionDestroy',
        'sessionsExpire',
        'memberHealth',
        'catalogRegister',
        'catalogDeregister',
      ].includes(command.type);
      this.lastInvalidation =
        invalidation && holder!.LockDelayMs > 0
          ? { atMs: (command as { nowMs: number }).nowMs, delayMs: holder!.LockDelayMs }
          : null;
    }
    if (wasHeld === '' && nowHeld !== '') {
      expect(command.type).toBe('kvLock');
      expect(now!.LockIndex).toBe((was?.LockIndex ?? 0) + 1);
      if (this.lastInvalidation) {
        this.acquisitionsAfterInvalidation++;
        expect((command as { nowMs: number }).nowMs, 'acquired inside the lock-delay').toBeGreaterThanOrEqual(
          this.lastInvalidation.atMs + this.lastInvalidation.delayMs,
        );
      }
      this.lastInvalidation = null;
    }
  }
}

/** Lock-centred commands: sessions on registered nodes competing for one key, invalidated in every way. */
const arbLockCommand = fc.oneof(
  {
    arbitrary: fc
      .record({
        id: fc.constantFrom(...sessionIds),
        node: fc.constantFrom(...nodes),
        ttl: fc.constantFrom(0, 10_000),
        delay: fc.constantFrom(0, 1_000, 3_000),
        behavior: fc.constantFrom('release' as const, 'delete' as const),
      })
      .map((s) => (nowMs: number) => ({
        type: 'sessionCreate',
        session: { id: s.id, node: s.node, ttlMs: s.ttl, lockDelayMs: s.delay, behavior: s.behavior },
        nowMs,
      })),
    weight: 3,
  },
  {
    arbitrary: fc.constantFrom(...sessionIds).map((id) => (nowMs: number) => ({
      type: 'kvLock',
      entry: { key: lock, value: new TextEncoder().encode(id) },
      session: id,
      nowMs,
    })),
    weight: 6,
  },
  {
    arbitrary: fc
      .constantFrom(...sessionIds)
      .map((id) => (_nowMs: number) => ({ type: 'kvUnlock', entry: { key: lock, value: null }, session: id })),
    weight: 1,
  },
  {
    arbitrary: fc.constantFrom(...sessionIds).map((id) => (nowMs: number) => ({ type: 'sessionDestroy', id, nowMs })),
    weight: 2,
  },
  {
    arbitrary: fc.constantFrom(...sessionIds).map((id) => (nowMs: number) => ({ type: 'sessionRenew', id, nowMs })),
    weight: 1,
  },
  { arbitrary: fc.constant((nowMs: number) => ({ type: 'sessionsExpire', nowMs })), weight: 1 },
  {
    arbitrary: fc
      .tuple(fc.constantFrom(...nodes), fc.constantFrom('alive' as const, 'failed' as const))
      .map(([node, health]) => (nowMs: number) => ({ type: 'memberHealth', node, address: '10.0.0.9', health, nowMs })),
    weight: 2,
  },
  { arbitrary: fc.constant((_nowMs: number) => ({ type: 'kvDelete', key: lock })), weight: 1 },
) as unknown as fc.Arbitrary<(nowMs: number) => StoreCommand>;

describe('locks and sessions under random commands', () => {
  it('the lock passes only when freed, LockIndex counts acquisitions, lock-delay holds; a snapshot replays', () => {
    let handovers = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: -400, max: 1500 }), arbLockCommand), { minLength: 20, maxLength: 60 }),
        fc.nat(60),
        (steps, cut) => {
          const model = new LockModel();
          let nowMs = 1_000_000;
          for (const node of nodes)
            model.apply({ type: 'memberHealth', node, address: '10.0.0.9', health: 'alive', nowMs });
          let replica: ReturnType<typeof createStoreFsm> | null = null;
          steps.forEach(([step, make], i) => {
            nowMs = Math.max(0, nowMs + step);
            const command = make(nowMs);
            model.apply(command);
            if (i === cut) {
              replica = createStoreFsm();
              replica.restore(
                JSON.parse(
                  JSON.stringify(model.fsm.snapshot(), (_k, v) => (v instanceof Uint8Array ? { bytes: [...v] } : v)),
                  (_k, v) => (v && Array.isArray(v.bytes) ? Uint8Array.from(v.bytes) : v),
                ),
              );
            } else if (replica) replica.apply(command, model.index);
          });
          if (replica)
            expect(text((replica as ReturnType<typeof createStoreFsm>).snapshot())).toBe(text(model.fsm.snapshot()));
          handovers += model.acquisitionsAfterInvalidation;
        },
      ),
      { numRuns: 500 },
    );
    // The property must have exercised the interesting case, or it proves little. Unseeded runs vary:
    // 200 runs sometimes gave fewer than 20 (17 seen); 500 runs give 60–82, far above the floor of 20.
    console.log(`lock property: ${handovers} acquisitions after an invalidation`);
    expect(handovers).toBeGreaterThan(20);
  });
});

describe('blocking-query indexes under random commands of every kind', () => {
  it('an answer that changed has a higher index, no index falls, and indexOf agrees with the query', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(arbStep, arbCommand), { minLength: 20, maxLength: 60 }), (steps) => {
        const model = new LockModel();
        let nowMs = 1_000_000;
        let before = watched.map((q) => model.fsm.query(q) as { index: number; value: unknown });
        for (const [step, make] of steps) {
          nowMs += step;
          const command = make(nowMs);
          model.apply(command);
          const after = watched.map((q) => model.fsm.query(q) as { index: number; value: unknown });
          after.forEach((a, i) => {
            const b = before[i]!;
            expect(a.index, `${text(watched[i])} fell after ${text(command)}`).toBeGreaterThanOrEqual(b.index);
            if (text(a.value) !== text(b.value))
              expect(a.index, `${text(watched[i])} changed without a new index after ${text(command)}`).toBeGreaterThan(
                b.index,
              );
            expect(model.fsm.indexOf(watched[i]!)).toBe(a.index);
          });
          before = after;
        }
      }),
      { numRuns: 50 },
    );
  });
});
