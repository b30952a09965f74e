/**
 * One test per Consul rule the store implements, each citing the checklist
 * (/work/shared/consul-api.md, "§1 KV" etc.) or Consul's state store source it follows. The store is
 * driven directly: commands applied at increasing Raft indexes, queries read back.
 */
import { describe, expect, it } from 'vitest';
import { pack, unpack } from 'msgpackr';
import { decodeSnapshotData, encodeSnapshotData } from '../raft/codec.js';
import { createStoreFsm, type StoreFsm } from './store.js';
import type { CommandResult, KvEntry, QueryResult, StoreCommand, StoreQuery, TxnOutcome } from './types.js';
import { kvValueBytesMax, txnOpsMax } from './types.js';
import { identicalWriteKeepsModifyIndex } from './kv.js';

const enc = new TextEncoder();
const bytes = (s: string): Uint8Array => enc.encode(s);

class Harness {
  readonly fsm: StoreFsm = createStoreFsm();
  index = 0;
  nowMs = 1_000_000;
  apply(command: StoreCommand): CommandResult {
    const result = this.fsm.apply(command, ++this.index);
    expect(this.fsm.invariants()).toEqual([]);
    return result;
  }
  value(command: StoreCommand): unknown {
    const result = this.apply(command);
    if (!result.ok) throw new Error(`command failed: ${result.error}`);
    return result.value;
  }
  read(query: StoreQuery): QueryResult {
    const result = this.fsm.query(query);
    if ('error' in result) throw new Error(result.error);
    return result;
  }
  set(key: string, value = 'v', flags = 0): void {
    this.value({ type: 'kvSet', entry: { key, value: bytes(value), flags } });
  }
  get(key: string): KvEntry | null {
    return this.read({ type: 'kvGet', key }).value as KvEntry | null;
  }
  node(node: string, address = '10.0.0.1'): void {
    this.value({ type: 'memberHealth', node, address, health: 'alive', nowMs: this.nowMs });
  }
  session(id: string, node = 'n1', extra: Record<string, unknown> = {}): void {
    this.value({ type: 'sessionCreate', session: { id, node, ...extra }, nowMs: this.nowMs });
  }
}

describe('KV (checklist §1 KV)', () => {
  it('set then get returns the entry with CreateIndex = ModifyIndex = the apply index and Flags', () => {
    const h = new Harness();
    h.set('a', 'x', 42);
    expect(h.get('a')).toMatchObject({
      Key: 'a',
      Flags: 42,
      CreateIndex: 1,
      ModifyIndex: 1,
      LockIndex: 0,
      Session: '',
    });
    expect(h.read({ type: 'kvGet', key: 'a' }).index).toBe(1);
    h.set('a', 'y');
    expect(h.get('a')).toMatchObject({ CreateIndex: 1, ModifyIndex: 2, Flags: 0 });
  });

  it('an empty value is stored as null ("empty PUT body ... read back as Value: null")', () => {
    const h = new Harness();
    h.value({ type: 'kvSet', entry: { key: 'e', value: new Uint8Array(0) } });
    expect(h.get('e')!.Value).toBeNull();
  });

  it('refuses values above 512 KiB and accepts exactly 512 KiB (Max value 512 KiB -> 413)', () => {
    const h = new Harness();
    expect(h.apply({ type: 'kvSet', entry: { key: 'big', value: new Uint8Array(kvValueBytesMax + 1) } })).toMatchObject(
      { ok: false },
    );
    expect(h.get('big')).toBeNull();
    expect(h.apply({ type: 'kvSet', entry: { key: 'big', value: new Uint8Array(kvValueBytesMax) } })).toEqual({
      ok: true,
      value: true,
    });
  });

  it('refuses flags above 2^53-1 and non-integers (uint64 carried as a JS number)', () => {
    const h = new Harness();
    expect(h.apply({ type: 'kvSet', entry: { key: 'f', value: null, flags: 2 ** 53 } }).ok).toBe(false);
    expect(h.apply({ type: 'kvSet', entry: { key: 'f', value: null, flags: 1.5 } }).ok).toBe(false);
    expect(h.apply({ type: 'kvSet', entry: { key: 'f', value: null, flags: Number.MAX_SAFE_INTEGER } }).ok).toBe(true);
  });

  it('refuses an empty key for set ("Missing key name")', () => {
    const h = new Harness();
    expect(h.apply({ type: 'kvSet', entry: { key: '', value: null } })).toEqual({
      ok: false,
      error: 'Missing key name',
    });
  });

  it('cas=0 creates only if absent; cas=N only if ModifyIndex == N', () => {
    const h = new Harness();
    expect(h.value({ type: 'kvCas', entry: { key: 'k', value: bytes('1') }, cas: 0 })).toBe(true);
    expect(h.value({ type: 'kvCas', entry: { key: 'k', value: bytes('2') }, cas: 0 })).toBe(false);
    expect(h.value({ type: 'kvCas', entry: { key: 'k', value: bytes('3') }, cas: 99 })).toBe(false);
    expect(h.value({ type: 'kvCas', entry: { key: 'k', value: bytes('4') }, cas: 1 })).toBe(true);
    expect(h.get('k')).toMatchObject({ ModifyIndex: 4, Value: bytes('4') });
    expect(h.value({ type: 'kvCas', entry: { key: 'absent', value: null }, cas: 3 })).toBe(false);
  });

  it('a write that changes nothing: ModifyIndex kept (Consul ≥ 1.7) or moved (0.6.4, the seed), per identicalWriteKeepsModifyIndex', () => {
    const h = new Harness();
    h.set('a', 'same');
    h.set('a', 'same');
    const want = identicalWriteKeepsModifyIndex ? 1 : 2;
    expect(h.get('a')!.ModifyIndex).toBe(want);
    expect(h.read({ type: 'kvGet', key: 'a' }).index).toBe(want);
    // The seed's CAS pair: the second identical ?cas=N answers false only when the index moves.
    const index = h.get('a')!.ModifyIndex;
    expect(h.value({ type: 'kvCas', entry: { key: 'a', value: bytes('same') }, cas: index })).toBe(true);
    expect(h.value({ type: 'kvCas', entry: { key: 'a', value: bytes('same') }, cas: index })).toBe(
      !identicalWriteKeepsModifyIndex ? false : true,
    );
  });

  it('recurse lists by greedy string prefix, sorted (`foo` matches `food`)', () => {
    const h = new Harness();
    for (const k of ['foo/b', 'food', 'foo/a', 'fo', 'bar']) h.set(k);
    const list = h.read({ type: 'kvList', prefix: 'foo' });
    expect((list.value as KvEntry[]).map((e) => e.Key)).toEqual(['foo/a', 'foo/b', 'food']);
    expect(list.index).toBe(3); // max ModifyIndex under the prefix: foo/a at 3
    expect((h.read({ type: 'kvList', prefix: '' }).value as KvEntry[]).length).toBe(5);
  });

  it('keys with separator roll up at the first separator after the prefix (`base/` + `/`)', () => {
    const h = new Harness();
    for (const k of ['base/foo', 'base/base/a', 'base/base/b', 'other']) h.set(k);
    expect(h.read({ type: 'kvKeys', prefix: 'base/', separator: '/' }).value).toEqual(['base/base/', 'base/foo']);
    expect(h.read({ type: 'kvKeys', prefix: '', separator: '/' }).value).toEqual(['base/', 'other']);
    expect(h.read({ type: 'kvKeys', prefix: '' }).value).toEqual(['base/base/a', 'base/base/b', 'base/foo', 'other']);
  });

  it('delete of a missing key changes nothing; delete raises the index a later 404 sees (tombstones)', () => {
    const h = new Harness();
    h.set('x');
    h.set('y');
    expect(h.read({ type: 'kvGet', key: 'missing' }).index).toBe(2);
    h.value({ type: 'kvDelete', key: 'nope' });
    expect(h.read({ type: 'kvGet', key: 'missing' }).index).toBe(2);
    h.value({ type: 'kvDelete', key: 'x' }); // index 4
    expect(h.get('x')).toBeNull();
    expect(h.read({ type: 'kvGet', key: 'x' }).index).toBe(4);
    // A prefix whose only key was deleted keeps its tombstone's index, not 0 and not the old one.
    expect(h.read({ type: 'kvList', prefix: 'x' })).toEqual({ index: 4, value: [] });
  });

  it('single-key index is the key ModifyIndex, not raised by unrelated writes (index scoping)', () => {
    const h = new Harness();
    h.set('watched');
    h.set('other');
    h.node('n1');
    h.session('s1');
    expect(h.read({ type: 'kvGet', key: 'watched' }).index).toBe(1);
    expect(h.read({ type: 'kvList', prefix: 'watch' }).index).toBe(1);
  });

  it('an index is never 0, even on an empty store (floor at 1)', () => {
    const h = new Harness();
    for (const q of [
      { type: 'kvGet', key: 'a' },
      { type: 'kvList', prefix: '' },
      { type: 'kvKeys', prefix: 'p' },
      { type: 'catalogNodes' },
      { type: 'healthState', state: 'any' },
      { type: 'sessionList' },
      { type: 'healthService', service: 'web' },
    ] as StoreQuery[]) {
      expect(h.read(q).index, q.type).toBeGreaterThanOrEqual(1);
    }
  });

  it('delete-tree deletes every key with the prefix; empty prefix wipes the store', () => {
    const h = new Harness();
    for (const k of ['a/1', 'a/2', 'ab', 'b']) h.set(k);
    h.value({ type: 'kvDeleteTree', prefix: 'a/' }); // 5
    expect(h.read({ type: 'kvKeys', prefix: '' }).value).toEqual(['ab', 'b']);
    expect(h.read({ type: 'kvList', prefix: 'a/' }).index).toBe(5);
    expect(h.read({ type: 'kvList', prefix: 'a' }).index).toBe(5);
    expect(h.read({ type: 'kvGet', key: 'a/1' }).index).toBe(5);
    h.value({ type: 'kvDeleteTree', prefix: '' }); // 6
    expect(h.read({ type: 'kvKeys', prefix: '' })).toEqual({ index: 6, value: [] });
  });

  it('delete-cas deletes only at the matching ModifyIndex; 0 never deletes an existing key', () => {
    const h = new Harness();
    h.set('k');
    expect(h.value({ type: 'kvDeleteCas', key: 'k', cas: 0 })).toBe(false);
    expect(h.value({ type: 'kvDeleteCas', key: 'k', cas: 7 })).toBe(false);
    expect(h.get('k')).not.toBeNull();
    expect(h.value({ type: 'kvDeleteCas', key: 'k', cas: 1 })).toBe(true);
    expect(h.get('k')).toBeNull();
  });

  it('tombstone reap forgets deletions at or below the index', () => {
    const h = new Harness();
    h.set('t/a');
    h.set('t/b');
    h.value({ type: 'kvDelete', key: 't/a' }); // 3
    expect(h.fsm.state.tombstones.get('t/a')).toBe(3);
    expect(h.value({ type: 'tombstonesReap', upToIndex: 3 })).toBe(1);
    expect(h.fsm.state.tombstones.size).toBe(0);
    // Consul's index falls back to 2 here (the tombstone that held it up is gone); ours stays at the reap's
    // index, so a reader holding 3 from before the deletion is not parked on a changed answer.
    expect(h.read({ type: 'kvList', prefix: 't/' }).index).toBe(3);
  });
});

describe('transactions (checklist §1 Transactions, Consul txn.go)', () => {
  const setup = (): Harness => {
    const h = new Harness();
    h.set('a', '1');
    h.set('b', '2');
    return h;
  };

  it('applies every op at one index and returns results with values blanked except for get', () => {
    const h = setup();
    const out = h.value({
      type: 'txn',
      nowMs: 0,
      ops: [
        { verb: 'set', key: 'c', value: bytes('3') },
        { verb: 'get', key: 'a' },
        { verb: 'cas', key: 'b', value: bytes('22'), index: 2 },
        { verb: 'delete', key: 'a' },
        { verb: 'check-not-exists', key: 'zz' },
        { verb: 'get-tree', key: 'c' },
      ],
    }) as TxnOutcome;
    expect(out.Errors).toBeNull();
    expect(
      out.Results!.map((r) => [r.KV.Key, r.KV.Value === null ? null : new TextDecoder().decode(r.KV.Value)]),
    ).toEqual([
      ['c', null],
      ['a', '1'],
      ['b', null],
      ['c', '3'],
    ]);
    expect(h.get('c')!.ModifyIndex).toBe(3);
    expect(h.get('b')!.ModifyIndex).toBe(3);
    expect(h.get('a')).toBeNull();
  });

  it('is all-or-nothing and reports every failing op by OpIndex with Consul messages', () => {
    const h = setup();
    const before = JSON.stringify(h.fsm.snapshot(), (_k, v) => (v instanceof Uint8Array ? [...v] : v));
    const out = h.value({
      type: 'txn',
      nowMs: 0,
      ops: [
        { verb: 'set', key: 'new', value: bytes('n') },
        { verb: 'delete-tree', key: '' },
        { verb: 'cas', key: 'a', value: null, index: 99 },
        { verb: 'get', key: 'a' },
        { verb: 'check-index', key: 'b', index: 5 },
        { verb: 'check-session', key: 'b', session: 's' },
        { verb: 'delete-cas', key: 'b', index: 1 },
        { verb: 'unlock', key: 'b', session: 's' },
      ],
    }) as TxnOutcome;
    expect(out.Results).toBeNull();
    expect(out.Errors).toEqual([
      { OpIndex: 2, What: 'failed to set key "a", index is stale' },
      { OpIndex: 3, What: 'key "a" doesn\'t exist' },
      { OpIndex: 4, What: 'failed to check index, key "b" doesn\'t exist' },
      { OpIndex: 5, What: 'failed to check session, key "b" doesn\'t exist' },
      // op 6, delete-cas of a key delete-tree already removed, succeeds (Consul: a missing key is true)
      { OpIndex: 7, What: 'failed to unlock key "b", lock isn\'t held, or is held by another session' },
    ]);
    const after = JSON.stringify(h.fsm.snapshot(), (_k, v) => (v instanceof Uint8Array ? [...v] : v));
    expect(JSON.parse(after)).toEqual({ ...JSON.parse(before), lastIndex: 3 });
  });

  it('check-index and check-session compare against the current entry', () => {
    const h = setup();
    const out = h.value({ type: 'txn', nowMs: 0, ops: [{ verb: 'check-index', key: 'a', index: 3 }] }) as TxnOutcome;
    expect(out.Errors).toEqual([{ OpIndex: 0, What: 'failed index check for key "a", current modify index 1 != 3' }]);
    const ok = h.value({
      type: 'txn',
      nowMs: 0,
      ops: [
        { verb: 'check-index', key: 'a', index: 1 },
        { verb: 'check-session', key: 'a', session: '' },
      ],
    }) as TxnOutcome;
    expect(ok.Errors).toBeNull();
    expect(ok.Results!.length).toBe(2);
  });

  it(`refuses more than ${txnOpsMax} ops`, () => {
    const h = setup();
    const ops = Array.from({ length: txnOpsMax + 1 }, (_, i) => ({ verb: 'get-or-empty' as const, key: `k${i}` }));
    expect(h.apply({ type: 'txn', nowMs: 0, ops })).toEqual({
      ok: false,
      error: `Transaction contains too many operations (65 > 64)`,
    });
    expect((h.value({ type: 'txn', nowMs: 0, ops: ops.slice(0, txnOpsMax) }) as TxnOutcome).Results!.length).toBe(
      txnOpsMax,
    );
  });

  it('get-or-empty answers an empty entry for a missing key', () => {
    const h = setup();
    const out = h.value({ type: 'txn', nowMs: 0, ops: [{ verb: 'get-or-empty', key: 'nope' }] }) as TxnOutcome;
    expect(out.Results![0]!.KV).toMatchObject({ Key: 'nope', Value: null, ModifyIndex: 0 });
  });

  it('rolls back locks, lock-delay and tombstones too', () => {
    const h = new Harness();
    h.node('n1');
    h.session('s1');
    h.set('l');
    const out = h.value({
      type: 'txn',
      nowMs: h.nowMs,
      ops: [
        { verb: 'lock', key: 'l', session: 's1' },
        { verb: 'delete', key: 'l' },
        { verb: 'get', key: 'missing' },
      ],
    }) as TxnOutcome;
    expect(out.Errors).toHaveLength(1);
    expect(h.get('l')).toMatchObject({ Session: '', LockIndex: 0 });
    expect(h.fsm.state.tombstones.size).toBe(0);
    expect(h.fsm.state.locksBySession.size).toBe(0);
  });
});

describe('sessions and locks (checklist §1 Sessions and locks)', () => {
  it('create needs a registered node ("Unknown node -> 500")', () => {
    const h = new Harness();
    expect(h.apply({ type: 'sessionCreate', session: { id: 's', node: 'ghost' }, nowMs: 0 })).toEqual({
      ok: false,
      error: 'Missing node registration',
    });
  });

  it('defaults: Checks [serfHealth], Behavior release, LockDelay 15 s; TTL bounds 10 s..86400 s', () => {
    const h = new Harness();
    h.node('n1');
    h.session('s1');
    const info = h.read({ type: 'sessionInfo', id: 's1' }).value as {
      NodeChecks: string[];
      Behavior: string;
      LockDelayMs: number;
    }[];
    expect(info[0]).toMatchObject({ NodeChecks: ['serfHealth'], Behavior: 'release', LockDelayMs: 15_000, TtlMs: 0 });
    expect(h.apply({ type: 'sessionCreate', session: { id: 's2', node: 'n1', ttlMs: 5_000 }, nowMs: 0 }).ok).toBe(
      false,
    );
    expect(h.apply({ type: 'sessionCreate', session: { id: 's3', node: 'n1', ttlMs: 90_000_000 }, nowMs: 0 }).ok).toBe(
      false,
    );
    expect(h.read({ type: 'sessionInfo', id: 'nope' }).value).toEqual([]);
  });

  it('create refuses a critical or missing linked check', () => {
    const h = new Harness();
    h.node('n1');
    h.value({ type: 'memberHealth', node: 'n1', address: '10.0.0.1', health: 'failed', nowMs: 0 });
    expect(h.apply({ type: 'sessionCreate', session: { id: 's', node: 'n1' }, nowMs: 0 })).toEqual({
      ok: false,
      error: "Check 'serfHealth' is in critical state",
    });
    expect(
      h.apply({ type: 'sessionCreate', session: { id: 's', node: 'n1', nodeChecks: ['nope'] }, nowMs: 0 }),
    ).toEqual({ ok: false, error: "Missing check 'nope' registration" });
    expect(h.apply({ type: 'sessionCreate', session: { id: 's', node: 'n1', nodeChecks: [] }, nowMs: 0 }).ok).toBe(
      true,
    );
  });

  it('acquire: true if free or held by the same session; LockIndex++ only on a new acquisition', () => {
    const h = new Harness();
    h.node('n1');
    h.session('s1');
    h.session('s2');
    const lock = (session: string, value = 'v') =>
      h.value({ type: 'kvLock', entry: { key: 'L', value: bytes(value) }, session, nowMs: h.nowMs });
    expect(lock('s1')).toBe(true);
    expect(h.get('L')).toMatchObject({ LockIndex: 1, Session: 's1' });
    expect(lock('s1', 'w')).toBe(true);
    expect(h.get('L')).toMatchObject({ LockIndex: 1, Session: 's1', Value: bytes('w') });
    expect(lock('s2')).toBe(false);
    expect(h.apply({ type: 'kvLock', entry: { key: 'L', value: null }, session: 'ghost', nowMs: 0 })).toEqual({
      ok: false,
      error: 'invalid session "ghost"',
    });
  });

  it('release: true only for the holder; clears Session, keeps LockIndex; no lock-delay after a release', () => {
    const h = new Harness();
    h.node('n1');
    h.session('s1');
    h.session('s2');
    h.value({ type: 'kvLock', entry: { key: 'L', value: null }, session: 's1', nowMs: h.nowMs });
    expect(h.value({ type: 'kvUnlock', entry: { key: 'L', value: null }, session: 's2' })).toBe(false);
    expect(h.value({ type: 'kvUnlock', entry: { key: 'L', value: null }, session: 's1' })).toBe(true);
    expect(h.get('L')).toMatchObject({ Session: '', LockIndex: 1 });
    expect(h.value({ type: 'kvLock', entry: { key: 'L', value: null }, session: 's2', nowMs: h.nowMs })).toBe(true);
    expect(h.get('L')).toMatchObject({ Session: 's2', LockIndex: 2 });
  });

  it('destroy (invalidation) releases the lock and keys cannot be re-acquired for LockDelay', () => {
    const h = new Harness();
    h.node('n1');
    h.session('s1', 'n1', { lockDelayMs: 10_000 });
    h.session('s2');
    h.value({ type: 'kvLock', entry: { key: 'L', value: null }, session: 's1', nowMs: h.nowMs });
    h.value({ type: 'sessionDestroy', id: 's1', nowMs: h.nowMs });
    expect(h.get('L')).toMatchObject({ Session: '', LockIndex: 1 });
    expect(h.value({ type: 'kvLock', entry: { key: 'L', value: null }, session: 's2', nowMs: h.nowMs + 9_999 })).toBe(
      false,
    );
    expect(h.read({ type: 'kvLockDelay', key: 'L' }).value).toBe(h.nowMs + 10_000);
    expect(h.value({ type: 'kvLock', entry: { key: 'L', value: null }, session: 's2', nowMs: h.nowMs + 10_000 })).toBe(
      true,
    );
    expect(h.value({ type: 'sessionDestroy', id: 's1', nowMs: h.nowMs })).toBe(true); // idempotent
  });

  it('lock-delay is not swept by a later stamp: a lock applied after it with an earlier stamp is still refused', () => {
    // Stamps are not monotonic in log order (a retried proposal keeps its stamp); found by the
    // lock-failover simulation, where a sweep at sessionsExpire let such a lock in during its delay.
    const h = new Harness();
    h.node('n1');
    h.session('s1', 'n1', { lockDelayMs: 1_000 });
    h.session('s2');
    h.value({ type: 'kvLock', entry: { key: 'L', value: null }, session: 's1', nowMs: h.nowMs });
    h.value({ type: 'sessionDestroy', id: 's1', nowMs: h.nowMs });
    h.value({ type: 'sessionsExpire', nowMs: h.nowMs + 5_000 });
    expect(h.value({ type: 'kvLock', entry: { key: 'L', value: null }, session: 's2', nowMs: h.nowMs + 500 })).toBe(
      false,
    );
    expect(h.value({ type: 'kvLock', entry: { key: 'L', value: null }, session: 's2', nowMs: h.nowMs + 1_000 })).toBe(
      true,
    );
    expect(h.fsm.state.lockDelayUntilMs.size).toBe(0); // spent once the key is taken after it
  });

  it('behavior delete deletes the held keys on invalidation', () => {
    const h = new Harness();
    h.node('n1');
    h.session('s1', 'n1', { behavior: 'delete', lockDelayMs: 0 });
    h.value({ type: 'kvLock', entry: { key: 'L', value: null }, session: 's1', nowMs: h.nowMs });
    h.value({ type: 'sessionDestroy', id: 's1', nowMs: h.nowMs });
    expect(h.get('L')).toBeNull();
    expect(h.fsm.state.lockDelayUntilMs.size).toBe(0); // LockDelay 0 disables it
  });

  it('TTL expiry: invalidated once the leader time passes 2×TTL after the last renew', () => {
    const h = new Harness();
    h.node('n1');
    h.session('t', 'n1', { ttlMs: 10_000 });
    h.value({ type: 'kvLock', entry: { key: 'L', value: null }, session: 't', nowMs: h.nowMs });
    expect(h.read({ type: 'sessionExpiryNext' }).value).toBe(h.nowMs + 20_000);
    h.value({ type: 'sessionRenew', id: 't', nowMs: h.nowMs + 15_000 });
    expect(h.value({ type: 'sessionsExpire', nowMs: h.nowMs + 20_000 })).toEqual([]);
    expect(h.value({ type: 'sessionsExpire', nowMs: h.nowMs + 35_000 })).toEqual(['t']);
    expect(h.get('L')!.Session).toBe('');
    expect(h.apply({ type: 'sessionRenew', id: 't', nowMs: 0 })).toEqual({
      ok: false,
      error: "Session id 't' not found",
    });
  });

  it('renew does not change the session ModifyIndex (no watcher wakes)', () => {
    const h = new Harness();
    h.node('n1');
    h.session('t', 'n1', { ttlMs: 10_000 });
    const before = h.read({ type: 'sessionList' }).index;
    h.value({ type: 'sessionRenew', id: 't', nowMs: h.nowMs + 1 });
    expect(h.read({ type: 'sessionList' }).index).toBe(before);
  });

  it('a linked check going critical invalidates the session', () => {
    const h = new Harness();
    h.node('n1');
    h.session('s1');
    h.value({ type: 'kvLock', entry: { key: 'L', value: null }, session: 's1', nowMs: h.nowMs });
    h.value({ type: 'memberHealth', node: 'n1', address: '10.0.0.1', health: 'failed', nowMs: h.nowMs });
    expect(h.read({ type: 'sessionList' }).value).toEqual([]);
    expect(h.get('L')!.Session).toBe('');
  });

  it('node deregistration (gossip left) invalidates its sessions', () => {
    const h = new Harness();
    h.node('n1');
    h.node('n2', '10.0.0.2');
    h.session('s1', 'n1', { nodeChecks: [] });
    h.session('s2', 'n2');
    h.value({ type: 'memberHealth', node: 'n1', address: '10.0.0.1', health: 'left', nowMs: h.nowMs });
    expect((h.read({ type: 'sessionList' }).value as { ID: string }[]).map((s) => s.ID)).toEqual(['s2']);
    expect(h.read({ type: 'sessionNode', node: 'n2' }).value).toHaveLength(1);
    expect(h.read({ type: 'sessionNode', node: 'n1' }).value).toEqual([]);
  });

  it('a leadership change resets TTL timers (sessionTimersReset)', () => {
    const h = new Harness();
    h.node('n1');
    h.session('t', 'n1', { ttlMs: 10_000 });
    h.value({ type: 'sessionTimersReset', nowMs: h.nowMs + 100_000 });
    expect(h.read({ type: 'sessionExpiryNext' }).value).toBe(h.nowMs + 120_000);
  });
});

describe('catalog and health (checklist §1 Catalog, Health; §7 serfHealth)', () => {
  it('gossip alive registers the node with a passing serfHealth; servers get service consul', () => {
    const h = new Harness();
    h.value({ type: 'memberHealth', node: 'a1', address: '172.20.20.10', health: 'alive', serverPort: 8300, nowMs: 0 });
    const any = h.read({ type: 'healthState', state: 'any' }).value as {
      CheckID: string;
      Status: string;
      Output: string;
    }[];
    expect(any).toEqual([
      expect.objectContaining({
        Node: 'a1',
        CheckID: 'serfHealth',
        Name: 'Serf Health Status',
        Status: 'passing',
        Output: 'Agent alive and reachable',
      }),
    ]);
    expect(h.read({ type: 'catalogServices' }).value).toEqual({ consul: [] });
    expect(h.read({ type: 'catalogNode', node: 'a1' }).value).toMatchObject({
      Node: { Node: 'a1', Address: '172.20.20.10', Datacenter: 'dc1' },
      Services: { consul: { Port: 8300 } },
    });
    expect(h.read({ type: 'catalogNode', node: 'nope' }).value).toBeNull();
  });

  it('gossip failed marks serfHealth critical: health/state/critical lists it', () => {
    const h = new Harness();
    h.node('a1');
    h.node('a2', '10.0.0.2');
    h.value({ type: 'memberHealth', node: 'a2', address: '10.0.0.2', health: 'failed', nowMs: 0 });
    const critical = h.read({ type: 'healthState', state: 'critical' });
    expect(critical.value).toEqual([
      expect.objectContaining({ Node: 'a2', CheckID: 'serfHealth', Output: 'Agent not live or unreachable' }),
    ]);
    expect(critical.index).toBe(3);
  });

  it('register service + check; check default status critical; a check on a missing service is refused', () => {
    const h = new Harness();
    h.value({
      type: 'catalogRegister',
      node: { node: 'n1', address: '10.0.0.1' },
      service: { service: 'web', tags: ['rails'], port: 80 },
      checks: [{ name: 'web-alive', serviceId: 'web' }],
      nowMs: 0,
    });
    expect(h.read({ type: 'catalogServices' }).value).toEqual({ web: ['rails'] });
    expect(h.read({ type: 'healthChecks', service: 'web' }).value).toEqual([
      expect.objectContaining({ CheckID: 'web-alive', Status: 'critical', ServiceName: 'web', ServiceTags: ['rails'] }),
    ]);
    expect(
      h.apply({
        type: 'catalogRegister',
        node: { node: 'n1', address: '10.0.0.1' },
        checks: [{ name: 'x', serviceId: 'db' }],
        nowMs: 0,
      }),
    ).toEqual({ ok: false, error: 'Missing service registration' });
    expect(h.apply({ type: 'catalogRegister', node: { node: 'n1', address: '' }, nowMs: 0 }).ok).toBe(false);
  });

  it('health/service: node checks then service checks; ?passing keeps all-passing instances; ?tag filters', () => {
    const h = new Harness();
    h.node('n1');
    h.node('n2', '10.0.0.2');
    h.value({
      type: 'catalogRegister',
      node: { node: 'n1', address: '10.0.0.1' },
      service: { service: 'web', tags: ['Rails'] },
      checks: [{ name: 'svc', checkId: 'service:web', serviceId: 'web', status: 'passing' }],
      nowMs: 0,
    });
    h.value({
      type: 'catalogRegister',
      node: { node: 'n2', address: '10.0.0.2' },
      service: { service: 'web' },
      checks: [{ name: 'svc', checkId: 'service:web', serviceId: 'web', status: 'warning' }],
      nowMs: 0,
    });
    const all = h.read({ type: 'healthService', service: 'web' }).value as {
      Node: { Node: string };
      Checks: { CheckID: string }[];
    }[];
    expect(all.map((e) => [e.Node.Node, e.Checks.map((c) => c.CheckID)])).toEqual([
      ['n1', ['serfHealth', 'service:web']],
      ['n2', ['serfHealth', 'service:web']],
    ]);
    expect((h.read({ type: 'healthService', service: 'web', passing: true }).value as unknown[]).length).toBe(1);
    expect((h.read({ type: 'healthService', service: 'web', tag: 'rails' }).value as unknown[]).length).toBe(1);
    expect(
      (h.read({ type: 'catalogService', service: 'web' }).value as { ServiceID: string; Node: string }[]).map(
        (s) => s.Node,
      ),
    ).toEqual(['n1', 'n2']);
  });

  it('per-service index: a write to another service or to KV does not raise it; a node-check change does', () => {
    const h = new Harness();
    h.node('n1');
    h.value({
      type: 'catalogRegister',
      node: { node: 'n1', address: '10.0.0.1' },
      service: { service: 'web' },
      nowMs: 0,
    }); // 2
    h.value({
      type: 'catalogRegister',
      node: { node: 'n1', address: '10.0.0.1' },
      service: { service: 'db' },
      nowMs: 0,
    }); // 3
    h.set('k'); // 4
    expect(h.read({ type: 'healthService', service: 'web' }).index).toBe(2);
    expect(h.read({ type: 'catalogService', service: 'web' }).index).toBe(2);
    h.value({ type: 'memberHealth', node: 'n1', address: '10.0.0.1', health: 'failed', nowMs: 0 }); // 5
    expect(h.read({ type: 'healthService', service: 'web' }).index).toBe(5);
    expect(h.read({ type: 'healthService', service: 'db' }).index).toBe(5);
  });

  it('an identical re-registration changes no index', () => {
    const h = new Harness();
    const reg: StoreCommand = {
      type: 'catalogRegister',
      node: { node: 'n1', address: '10.0.0.1' },
      service: { service: 'web', port: 80 },
      checks: [{ name: 'c', status: 'passing' }],
      nowMs: 0,
    };
    h.value(reg);
    h.value(reg);
    expect(h.read({ type: 'catalogNodes' }).index).toBe(1);
    expect(h.read({ type: 'healthState', state: 'any' }).index).toBe(1);
  });

  it('deregister: a service removes it and its checks; only a node-level delete removes the node', () => {
    const h = new Harness();
    h.node('n1');
    h.value({
      type: 'catalogRegister',
      node: { node: 'n1', address: '10.0.0.1' },
      service: { service: 'web' },
      checks: [{ name: 'c', serviceId: 'web' }],
      nowMs: 0,
    });
    h.value({ type: 'catalogDeregister', node: 'n1', serviceId: 'web', nowMs: 0 });
    expect(h.read({ type: 'catalogServices' }).value).toEqual({});
    expect(h.read({ type: 'healthNode', node: 'n1' }).value).toHaveLength(1);
    expect(h.read({ type: 'catalogNodes' }).value).toHaveLength(1);
    h.value({ type: 'catalogDeregister', node: 'n1', checkId: 'serfHealth', nowMs: 0 });
    expect(h.read({ type: 'healthNode', node: 'n1' }).value).toEqual([]);
    h.value({ type: 'catalogDeregister', node: 'n1', nowMs: 0 });
    expect(h.read({ type: 'catalogNodes' }).value).toEqual([]);
  });
});

describe('snapshot and restore', () => {
  it('restores everything, through msgpackr, and the restored store keeps answering the same', () => {
    const h = new Harness();
    h.node('n1');
    h.session('s1', 'n1', { ttlMs: 10_000, lockDelayMs: 5_000 });
    h.set('a/1', 'x', 3);
    h.set('a/2');
    h.value({ type: 'kvLock', entry: { key: 'L', value: bytes('held') }, session: 's1', nowMs: h.nowMs });
    h.value({ type: 'kvDelete', key: 'a/2' });
    h.value({
      type: 'catalogRegister',
      node: { node: 'n1', address: '10.0.0.1' },
      service: { service: 'web' },
      nowMs: 0,
    });
    const copy = createStoreFsm();
    copy.restore(unpack(pack(h.fsm.snapshot())));
    expect(copy.invariants()).toEqual([]);
    const queries: StoreQuery[] = [
      { type: 'kvList', prefix: '' },
      { type: 'kvGet', key: 'a/2' },
      { type: 'sessionList' },
      { type: 'healthService', service: 'web' },
      { type: 'sessionExpiryNext' },
    ];
    const norm = (x: unknown) =>
      JSON.parse(
        JSON.stringify(x, (_k, v) => (v && v.type === 'Buffer' ? v.data : v instanceof Uint8Array ? [...v] : v)),
      );
    for (const q of queries) expect(norm(copy.query(q)), q.type).toEqual(norm(h.fsm.query(q)));
    // Applying the same command to both keeps them equal (lock index rebuilt on restore).
    h.value({ type: 'sessionDestroy', id: 's1', nowMs: h.nowMs });
    copy.apply({ type: 'sessionDestroy', id: 's1', nowMs: h.nowMs }, h.index);
    expect(norm(copy.snapshot())).toEqual(norm(h.fsm.snapshot()));
  });
});

describe('snapshot through the Raft snapshot codec (JSON with tags)', () => {
  it('keeps values that arrived as Node Buffers (msgpackr-decoded commands) as bytes', () => {
    const fsm = createStoreFsm();
    const decoded = unpack(pack({ type: 'kvSet', entry: { key: 'b', value: bytes('buffered') } })) as StoreCommand;
    fsm.apply(decoded, 2);
    expect(Object.getPrototypeOf(fsm.state.kv.get('b')!.Value)).toBe(Uint8Array.prototype);
    const copy = createStoreFsm();
    copy.restore(decodeSnapshotData(encodeSnapshotData(fsm.snapshot())));
    expect(copy.state.kv.get('b')!.Value).toEqual(bytes('buffered'));
    expect(copy.invariants()).toEqual([]);
  });
});

describe('malformed commands', () => {
  it('are answered with errors, never thrown, and still consume the index', () => {
    const h = new Harness();
    for (const bad of [
      null,
      7,
      { type: 'nope' },
      { type: 'kvSet' },
      { type: 'kvCas', entry: { key: 'a', value: null }, cas: -1 },
      { type: 'txn', ops: 'x', nowMs: 0 },
      { type: 'kvLock', entry: { key: 'a', value: null }, session: 's' },
    ]) {
      expect(h.apply(bad as unknown as StoreCommand).ok).toBe(false);
    }
    expect(h.fsm.lastIndex).toBe(7);
    expect(() => h.fsm.apply({ type: 'kvSet', entry: { key: 'a', value: null } }, 7)).toThrow(/apply index/);
  });
});
