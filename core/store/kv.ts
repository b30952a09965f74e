/**
 * KV operations, following Consul's state store (agent/consul/state/kvs.go) rule by rule. Each
 * write takes the Raft `index` it is applied at; reads compute the index Consul would put in
 * X-Consul-Index for them (the checklist's "index scoping" rules, /work/shared/consul-api.md §1 KV).
 *
 * Expected outcomes (CAS mismatch, lock held) are return values; malformed input is refused by
 * `checkKvWrite` before any of these run.
 */
import { assert } from '../assert.js';
import { bumpTable, maxTableIndex, writeEntry, writeLockDelay, writeTombstone, type StoreState } from './state.js';
import { flagsMax, isKvFlags, kvValueBytesMax, type KvEntry, type KvWrite } from './types.js';

/** A problem with a KV write's fields, or null. Messages follow Consul's HTTP answers. */
export function checkKvWrite(write: KvWrite | undefined, keyRequired = true): string | null {
  if (write === null || typeof write !== 'object') return 'missing entry';
  if (typeof write.key !== 'string') return 'Missing key name';
  if (keyRequired && write.key === '') return 'Missing key name';
  if (write.value !== null && write.value !== undefined && !(write.value instanceof Uint8Array))
    return 'value must be bytes';
  if (write.value && write.value.length > kvValueBytesMax) return `Value exceeds ${kvValueBytesMax} byte limit`;
  const flags = write.flags ?? 0;
  if (!isKvFlags(flags)) return `flags must be an integer in [0, ${flagsMax}]`;
  return null;
}

/**
 * Empty → null (Consul's read-back of an empty body). A Uint8Array subclass (Node's Buffer, which
 * msgpackr decodes to, often a view into a large shared pool) is copied into a plain Uint8Array: it
 * would keep the pool alive, and its toJSON runs before any JSON replacer (the snapshot codec).
 */
export function normalValue(value: Uint8Array | null | undefined): Uint8Array | null {
  if (!value || value.length === 0) return null;
  return Object.getPrototypeOf(value) === Uint8Array.prototype ? value : new Uint8Array(value);
}

export function bytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === b) return true;
  if (a === null || b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function entriesEqual(a: KvEntry, b: KvEntry): boolean {
  return (
    a.Key === b.Key &&
    a.Flags === b.Flags &&
    a.LockIndex === b.LockIndex &&
    a.Session === b.Session &&
    bytesEqual(a.Value, b.Value)
  );
}

/**
 * Whether a KV write that changes nothing (same value, flags, session, lock index) keeps the entry's
 * ModifyIndex. true = Consul ≥ 1.7 (kvsSetTxn skips equal entries, so idempotent writes wake no
 * watcher); false = Consul 0.6.4, the seed's version, where every write moves ModifyIndex (the seed
 * rewrites 'great' with ?cas=1061 and the index moves to 1076, so the same CAS then answers false).
 * We follow the seed (false): its walk-through is the first compatibility anchor, and
 * net/test/http.seed.test.ts runs its identical-value CAS verbatim. The model-based tests pass either way.
 */
export const identicalWriteKeepsModifyIndex: boolean = false;

/**
 * Consul kvsSetTxn. CreateIndex and (unless `session` is given) Session are kept from an existing
 * entry; LockIndex too (Consul takes LockIndex from the request, which for a plain PUT is 0 — we keep
 * the existing one so a plain write never makes a held lock look never-acquired; documented
 * divergence). See `identicalWriteKeepsModifyIndex` for a write that changes nothing. Returns the
 * stored entry.
 */
export function kvSet(
  state: StoreState,
  index: number,
  write: KvWrite,
  lock?: { session: string; lockIndex: number },
): KvEntry {
  const existing = state.kv.get(write.key);
  const entry: KvEntry = {
    Key: write.key,
    Value: normalValue(write.value),
    Flags: write.flags ?? 0,
    CreateIndex: existing ? existing.CreateIndex : index,
    ModifyIndex: index,
    LockIndex: lock ? lock.lockIndex : (existing?.LockIndex ?? 0),
    Session: lock ? lock.session : (existing?.Session ?? ''),
  };
  if (identicalWriteKeepsModifyIndex && existing && entriesEqual(existing, entry)) return existing;
  writeEntry(state, write.key, entry);
  bumpTable(state, 'kvs', index);
  return entry;
}

/** Consul kvsSetCASTxn: cas 0 creates only if absent; cas N sets only if ModifyIndex is N. */
export function kvCas(state: StoreState, index: number, write: KvWrite, cas: number): KvEntry | null {
  const existing = state.kv.get(write.key);
  if (cas === 0 && existing) return null;
  if (cas !== 0 && (!existing || existing.ModifyIndex !== cas)) return null;
  return kvSet(state, index, write);
}

/** Consul kvsDeleteTxn: deleting a missing key changes nothing; else a tombstone keeps the index. */
export function kvDelete(state: StoreState, index: number, key: string): boolean {
  if (!state.kv.has(key)) return false;
  writeEntry(state, key, undefined);
  writeTombstone(state, key, index);
  bumpTable(state, 'kvs', index);
  bumpTable(state, 'tombstones', index);
  return true;
}

/** Consul kvsDeleteCASTxn: true when deleted, or when the key is absent (nothing to delete). */
export function kvDeleteCas(state: StoreState, index: number, key: string, cas: number): boolean {
  const existing = state.kv.get(key);
  if (!existing) return true;
  if (existing.ModifyIndex !== cas) return false;
  kvDelete(state, index, key);
  return true;
}

/**
 * Delete-tree: every key under the prefix deleted, each leaving its own tombstone. Consul's
 * kvsDeleteTreeTxn leaves one tombstone at the prefix (none for ''), but then a watcher of a prefix
 * inside the deleted tree that also holds older tombstones can see its index stall or fall while its
 * answer changes (found by kv.prop.test.ts: tombstone a/b@2, set a@3, delete-tree '' → the index of
 * `recurse a` went from 3 to 2). A tombstone per key keeps "answer changed ⇒ index rose" exact.
 * Returns how many keys were deleted.
 */
export function kvDeleteTree(state: StoreState, index: number, prefix: string): number {
  const keys = state.kvKeys.withPrefix(prefix);
  if (keys.length === 0) return 0;
  for (const key of keys) {
    writeEntry(state, key, undefined);
    writeTombstone(state, key, index);
  }
  bumpTable(state, 'kvs', index);
  bumpTable(state, 'tombstones', index);
  return keys.length;
}

export type LockOutcome =
  { readonly ok: true; readonly entry: KvEntry } | { readonly ok: false; readonly error: string | null };

/**
 * Consul kvsLockTxn plus the lock-delay check Consul's KVS.Apply does on the leader: the session must
 * exist (else an error); a lock held by another session, or a key in lock-delay at the leader's
 * `nowMs`, answers false. Re-acquiring one's own lock keeps LockIndex; a new acquisition adds 1.
 */
export function kvLock(state: StoreState, index: number, write: KvWrite, session: string, nowMs: number): LockOutcome {
  if (session === '') return { ok: false, error: 'missing session' };
  if (!state.sessions.has(session)) return { ok: false, error: `invalid session "${session}"` };
  if (checkLockDelay(state, write.key, nowMs) > 0) return { ok: false, error: null };
  const existing = state.kv.get(write.key);
  if (existing && existing.Session !== '' && existing.Session !== session) return { ok: false, error: null };
  const lockIndex = !existing ? 1 : existing.Session === session ? existing.LockIndex : existing.LockIndex + 1;
  // The delay is spent once the key is taken after it; dropping it here (and only here) keeps the
  // table small. It is never swept by time: stamps are not monotonic in log order (a retried
  // proposal keeps the time it was stamped with), so a sweep at a later stamp could drop a delay that
  // a command applied after it, with an earlier stamp, must still be refused by (sim/test/kv.test.ts).
  if (state.lockDelayUntilMs.has(write.key)) writeLockDelay(state, write.key, undefined);
  return { ok: true, entry: kvSet(state, index, write, { session, lockIndex }) };
}

/**
 * Lock-delay still to run for `key` at `nowMs` (0 when none). Consul: "the lock-delay is enforced
 * before commit, using only the leader's wall time" — here the leader's time is `nowMs` in the command.
 */
export function checkLockDelay(state: StoreState, key: string, nowMs: number): number {
  const until = state.lockDelayUntilMs.get(key);
  if (until === undefined) return 0;
  return Math.max(0, until - nowMs);
}

/** Consul kvsUnlockTxn: only the holder releases; the lock is cleared, LockIndex kept, the value written. */
export function kvUnlock(state: StoreState, index: number, write: KvWrite, session: string): LockOutcome {
  if (session === '') return { ok: false, error: 'missing session' };
  const existing = state.kv.get(write.key);
  if (!existing || existing.Session !== session) return { ok: false, error: null };
  return { ok: true, entry: kvSet(state, index, write, { session: '', lockIndex: existing.LockIndex }) };
}

/**
 * Releases (behavior release) or deletes (behavior delete) every key a session held, and starts
 * lock-delay on them at the leader's `nowMs` (Consul deleteSessionTxn + lockDelay.SetExpiration).
 */
export function kvReleaseSession(
  state: StoreState,
  index: number,
  sessionId: string,
  deleteKeys: boolean,
  lockDelayMs: number,
  nowMs: number,
): void {
  const held = state.locksBySession.get(sessionId);
  if (!held) return;
  for (const key of [...held].sort()) {
    const entry = state.kv.get(key);
    if (!(entry && entry.Session === sessionId)) assert(false, `lock index says ${sessionId} holds ${key}`);
    if (deleteKeys) kvDelete(state, index, key);
    else {
      writeEntry(state, key, { ...entry, Session: '', ModifyIndex: index });
      bumpTable(state, 'kvs', index);
    }
    if (lockDelayMs > 0) writeLockDelay(state, key, nowMs + lockDelayMs);
  }
  if (state.locksBySession.has(sessionId)) assert(false, `session ${sessionId} still holds locks after release`);
}

/** Consul graveyard reap: forgets tombstones at or below `upToIndex`. Returns how many. */
export function kvReapTombstones(state: StoreState, upToIndex: number): number {
  let reaped = 0;
  state.kvReapedIndex = Math.max(state.kvReapedIndex, upToIndex);
  for (const [key, index] of state.tombstones) {
    if (index > upToIndex) continue;
    writeTombstone(state, key, undefined);
    reaped++;
  }
  return reaped;
}

// ───────────────────────────────────────────── reads ──────────────────────────────────────────────

/** The KV table index as Consul's kvsMaxIndex: max of the kvs and tombstones tables. */
export function kvTableIndex(state: StoreState): number {
  return maxTableIndex(state, 'kvs', 'tombstones');
}

/** X-Consul-Index of a single-key GET: the key's ModifyIndex, else the KV table index; ≥ 1. */
export function kvGetIndex(state: StoreState, key: string): number {
  const entry = state.kv.get(key);
  return entry ? entry.ModifyIndex : Math.max(1, kvTableIndex(state));
}

/**
 * The change index of a single-key GET, which a parked blocking reader waits on: the entry's
 * ModifyIndex; for a missing key, its tombstone's index (its deletion), floored by the last reap — not
 * the KV table's index, which its answer carries (kvGetIndex) but which every write to any key moves.
 * 0 when the key never existed (as far as the store remembers): only its creation concerns it.
 */
export function kvGetChangeIndex(state: StoreState, key: string): number {
  const entry = state.kv.get(key);
  return entry ? entry.ModifyIndex : Math.max(state.tombstones.get(key) ?? 0, state.kvReapedIndex);
}

/**
 * The change index of a prefix read: as kvPrefixIndex (entries and tombstones under the prefix), but
 * for an empty, never-touched prefix the last reap instead of the table index; '' is the whole table.
 */
export function kvPrefixChangeIndex(state: StoreState, prefix: string): number {
  if (prefix === '') return kvTableIndex(state);
  let index = state.kvReapedIndex;
  state.kvKeys.forEachWithPrefix(prefix, (key) => {
    index = Math.max(index, state.kv.get(key)!.ModifyIndex);
  });
  state.tombstoneKeys.forEachWithPrefix(prefix, (key) => {
    index = Math.max(index, state.tombstones.get(key)!);
  });
  return index;
}

/**
 * X-Consul-Index of a prefix read (recurse or keys): the highest ModifyIndex under the prefix or
 * tombstone under it; the table index when the prefix is '' or nothing matched (Consul kvsListTxn).
 * Unlike Consul's, it is floored by the last reap when something matched: a reap can erase the
 * tombstone that held the index up, and in Consul the index then falls below one a reader already
 * holds, so that reader waits out its whole wait on an answer that changed (a deletion it never saw).
 */
export function kvPrefixIndex(state: StoreState, prefix: string): number {
  const table = kvTableIndex(state);
  if (prefix === '') return Math.max(1, table);
  let index = 0;
  state.kvKeys.forEachWithPrefix(prefix, (key) => {
    index = Math.max(index, state.kv.get(key)!.ModifyIndex);
  });
  state.tombstoneKeys.forEachWithPrefix(prefix, (key) => {
    index = Math.max(index, state.tombstones.get(key)!);
  });
  return Math.max(1, index === 0 ? table : Math.max(index, state.kvReapedIndex));
}

export function kvList(state: StoreState, prefix: string): KvEntry[] {
  const entries: KvEntry[] = [];
  state.kvKeys.forEachWithPrefix(prefix, (key) => entries.push(state.kv.get(key)!));
  return entries;
}

/** Consul KVSKeys: keys under the prefix; with a separator, rolled up at its first occurrence after the prefix. */
export function kvKeys(state: StoreState, prefix: string, separator: string): string[] {
  const keys: string[] = [];
  let last: string | null = null;
  state.kvKeys.forEachWithPrefix(prefix, (key) => {
    if (separator === '') {
      keys.push(key);
      return;
    }
    const at = key.indexOf(separator, prefix.length);
    const rolled = at >= 0 ? key.slice(0, at + separator.length) : key;
    if (rolled !== last) keys.push(rolled);
    last = rolled;
  });
  return keys;
}
