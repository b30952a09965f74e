/**
 * Check-and-set against a model, written from mutation testing (docs/mutation-testing.md): the KV
 * property tests never issued a delete-CAS, so a delete-CAS that compared CreateIndex instead of
 * ModifyIndex passed the whole suite. Consul's rule (checklist §1 KV, kvsSetCASTxn /
 * kvsDeleteCASTxn): `?cas=N` acts only if the key's ModifyIndex is exactly N; `cas=0` only if the key
 * is absent; a delete-CAS of an absent key succeeds and changes nothing.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createStoreFsm } from './store.js';
import type { KvEntry, Session, StoreCommand, TxnOutcome } from './types.js';
import { sessionTtlMultiplier } from './types.js';

const enc = new TextEncoder();

type Op =
  | { readonly kind: 'set' | 'delete'; readonly key: string; readonly value: string }
  | {
      readonly kind: 'cas' | 'deleteCas' | 'txnCas' | 'txnDeleteCas';
      readonly key: string;
      readonly value: string;
      readonly pick: number;
      readonly create: boolean;
    };

const keyArb = fc.constantFrom('a', 'b');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('set' as const, 'delete' as const),
    key: keyArb,
    value: fc.constantFrom('x', 'y', 'z'),
  }),
  fc.record({
    kind: fc.constantFrom('cas' as const, 'deleteCas' as const, 'txnCas' as const, 'txnDeleteCas' as const),
    key: keyArb,
    value: fc.constantFrom('x', 'y', 'z'),
    pick: fc.nat(8),
    create: fc.boolean(),
  }),
);

interface ModelEntry {
  value: string;
  createIndex: number;
  modifyIndex: number;
}

describe('check-and-set (checklist §1 KV) against a model', () => {
  it('cas and delete-cas, plain or in a transaction, act exactly when ModifyIndex equals the cas index', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 30 }), (ops) => {
        const fsm = createStoreFsm();
        const model = new Map<string, ModelEntry>();
        let index = 0;
        for (const op of ops) {
          index++;
          const existing = model.get(op.key);
          // The cas index: the key's ModifyIndex, its CreateIndex, 0, or some other index seen so far.
          const cas =
            'pick' in op
              ? op.create
                ? 0
                : [existing?.modifyIndex ?? 0, existing?.createIndex ?? 0, Math.max(1, index - 1 - op.pick)][
                    op.pick % 3
                  ]!
              : 0;
          let command: StoreCommand;
          let expected: boolean | null = null;
          switch (op.kind) {
            case 'set':
              command = { type: 'kvSet', entry: { key: op.key, value: enc.encode(op.value), flags: 0 } };
              break;
            case 'delete':
              command = { type: 'kvDelete', key: op.key };
              break;
            case 'cas':
            case 'txnCas':
              expected = cas === 0 ? !existing : existing?.modifyIndex === cas;
              command =
                op.kind === 'cas'
                  ? { type: 'kvCas', entry: { key: op.key, value: enc.encode(op.value), flags: 0 }, cas }
                  : {
                      type: 'txn',
                      ops: [{ verb: 'cas', key: op.key, value: enc.encode(op.value), index: cas }],
                      nowMs: 0,
                    };
              break;
            case 'deleteCas':
            case 'txnDeleteCas':
              expected = !existing || existing.modifyIndex === cas;
              command =
                op.kind === 'deleteCas'
                  ? { type: 'kvDeleteCas', key: op.key, cas }
                  : { type: 'txn', ops: [{ verb: 'delete-cas', key: op.key, index: cas }], nowMs: 0 };
              break;
          }
          const result = fsm.apply(command, index);
          expect(result.ok).toBe(true);
          const value = result.ok ? result.value : undefined;
          const succeeded = op.kind.startsWith('txn')
            ? (value as TxnOutcome).Errors === null
            : op.kind === 'cas' || op.kind === 'deleteCas'
              ? value === true
              : true;
          if (expected !== null) expect(succeeded, `${op.kind} ${op.key} cas=${cas} at ${index}`).toBe(expected);
          // Update the model.
          const writes = op.kind === 'set' || ((op.kind === 'cas' || op.kind === 'txnCas') && expected);
          const deletes = op.kind === 'delete' || ((op.kind === 'deleteCas' || op.kind === 'txnDeleteCas') && expected);
          if (writes)
            model.set(op.key, {
              value: op.value,
              createIndex: existing?.createIndex ?? index,
              modifyIndex: existing?.value === op.value ? existing.modifyIndex : index,
            });
          if (deletes) model.delete(op.key);
          for (const key of ['a', 'b']) {
            const got = fsm.query({ type: 'kvGet', key });
            const entry = 'error' in got ? undefined : (got.value as KvEntry | null);
            const want = model.get(key);
            expect(
              entry === null
                ? null
                : { create: entry!.CreateIndex, value: new TextDecoder().decode(entry!.Value ?? new Uint8Array()) },
            ).toEqual(want ? { create: want.createIndex, value: want.value } : null);
            if (want && entry) want.modifyIndex = entry.ModifyIndex; // identical rewrites may keep ModifyIndex (kv.ts)
          }
          expect(fsm.invariants()).toEqual([]);
        }
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});

describe('boundaries (Consul graveyard reap, session TTL)', () => {
  it('reaping tombstones up to index N keeps the tombstone written at N + 1, so the prefix index does not fall', () => {
    const fsm = createStoreFsm();
    let index = 0;
    const apply = (command: StoreCommand) => {
      const result = fsm.apply(command, ++index);
      expect(result.ok).toBe(true);
      return result;
    };
    apply({ type: 'kvSet', entry: { key: 'p/a', value: enc.encode('1'), flags: 0 } });
    apply({ type: 'kvSet', entry: { key: 'p/b', value: enc.encode('1'), flags: 0 } });
    apply({ type: 'kvDelete', key: 'p/a' }); // tombstone at 3
    apply({ type: 'kvDelete', key: 'p/b' }); // tombstone at 4
    const before = fsm.query({ type: 'kvList', prefix: 'p/' }).index;
    expect(before).toBe(4);
    expect(apply({ type: 'tombstonesReap', upToIndex: 3 })).toEqual({ ok: true, value: 1 });
    expect(fsm.query({ type: 'kvList', prefix: 'p/' }).index).toBe(4);
    expect(fsm.query({ type: 'kvList', prefix: 'p/b' }).index).toBe(4);
    expect(fsm.invariants()).toEqual([]);
  });

  it('a TTL session lives until exactly TTL × multiplier after its last renew, then the next expiry sweep invalidates it', () => {
    const ttlMs = 10_000;
    const startMs = 1_000_000;
    const fsm = createStoreFsm();
    let index = 0;
    const apply = (command: StoreCommand) => fsm.apply(command, ++index);
    apply({ type: 'memberHealth', node: 'n1', address: '10.0.0.1', health: 'alive', nowMs: startMs });
    expect(apply({ type: 'sessionCreate', session: { id: 's1', node: 'n1', ttlMs }, nowMs: startMs }).ok).toBe(true);
    const renewMs = startMs + 7_000;
    expect(apply({ type: 'sessionRenew', id: 's1', nowMs: renewMs }).ok).toBe(true);
    const deadlineMs = renewMs + ttlMs * sessionTtlMultiplier;
    const alive = () =>
      ((fsm.query({ type: 'sessionInfo', id: 's1' }) as { value?: unknown }).value as Session[] | null)?.length === 1;
    for (const nowMs of [renewMs + ttlMs, deadlineMs - 1_000, deadlineMs - 1]) {
      apply({ type: 'sessionsExpire', nowMs });
      expect(alive(), `expired at ${nowMs - renewMs} ms after the renew`).toBe(true);
    }
    apply({ type: 'sessionsExpire', nowMs: deadlineMs });
    expect(alive()).toBe(false);
  });
});
