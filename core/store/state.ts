/**
 * The store's state and its only mutators for the KV tables. Every KV mutation goes through
 * `writeEntry`, `writeTombstone`, `writeLockDelay` or `bumpTable`, which keep the derived indexes
 * (sorted keys, locks per session) in step and, while a transaction is open, record what they
 * overwrote so that `rollback` can undo a failed transaction exactly (all-or-nothing, as Consul's
 * memdb write transaction aborts).
 */
import { assert } from '../assert.js';
import { SortedKeys } from './sorted.js';
import type { Coordinate } from '../swim/coordinate.js';
import type { AclToken } from './acl.js';
import type { CatalogNode, CatalogService, HealthCheck, KvEntry, PreparedQuery, Session } from './types.js';

/** Consul's memdb tables whose indexes blocking queries read. Append-only. */
export type Table =
  'kvs' | 'tombstones' | 'sessions' | 'nodes' | 'services' | 'checks' | 'prepared-queries' | 'coordinates' | 'acls';
export const tables: readonly Table[] = [
  'kvs',
  'tombstones',
  'sessions',
  'nodes',
  'services',
  'checks',
  'prepared-queries',
  'coordinates',
  'acls',
];

/** One undone write, newest last. Only KV tables are journaled: a txn touches nothing else. */
type Undo =
  | { readonly kind: 'entry'; readonly key: string; readonly previous: KvEntry | undefined }
  | { readonly kind: 'tombstone'; readonly key: string; readonly previous: number | undefined }
  | { readonly kind: 'lockDelay'; readonly key: string; readonly previous: number | undefined }
  | { readonly kind: 'table'; readonly table: Table; readonly previous: number };

export interface StoreState {
  readonly kv: Map<string, KvEntry>;
  /** Invariant: exactly the keys of `kv`, sorted. */
  readonly kvKeys: SortedKeys;
  /** Deleted key → index of its deletion (Consul's graveyard), until reaped. */
  readonly tombstones: Map<string, number>;
  /** Invariant: exactly the keys of `tombstones`, sorted. */
  readonly tombstoneKeys: SortedKeys;
  /** Key → leader time (ms) before which it cannot be locked (set when a holding session is invalidated). */
  readonly lockDelayUntilMs: Map<string, number>;
  readonly sessions: Map<string, Session>;
  /** TTL sessions only: leader time (ms) at which the session expires. */
  readonly sessionDeadlineMs: Map<string, number>;
  /** Derived: session id → keys it holds. Invariant: matches `kv` entries' `Session`. */
  readonly locksBySession: Map<string, Set<string>>;
  readonly nodes: Map<string, CatalogNode>;
  /** Node → service id → service. Invariant: every key is a registered node. */
  readonly services: Map<string, Map<string, CatalogService>>;
  /** Node → check id → check. Invariant: every key is a registered node. */
  readonly checks: Map<string, Map<string, HealthCheck>>;
  /** Prepared query ID → query. Invariant: a query's Session names a live session. */
  readonly preparedQueries: Map<string, PreparedQuery>;
  /** Node → its latest network coordinate. Invariant: every key is a registered node. */
  readonly coordinates: Map<string, Coordinate>;
  /** Legacy ACL tokens by ID (core/store/acl.ts). */
  readonly acls: Map<string, AclToken>;
  /** Per-table index: the last Raft index that changed the table (0 = never). */
  readonly tableIndex: Map<Table, number>;
  /** Per-service-name index (Consul ≥ 1.2 `service.<name>`): its instances, their checks or nodes changed. */
  readonly serviceIndex: Map<string, number>;
  /** Raft index of the last applied command. */
  lastIndex: number;
  /** Raft index of the last snapshot restore (0 = none): a floor for every query's index. */
  restoredIndex: number;
  /**
   * The highest `upToIndex` of a tombstone reap (0 = none). A reaped tombstone no longer says when its
   * key was deleted, so this is the floor of a missing key's change index (queries.ts changeIndex): a
   * reader that saw the key before the reap must not wait for ever on a deletion it cannot see.
   */
  kvReapedIndex: number;
  /** Open transaction's undo log, or null outside a transaction. */
  journal: Undo[] | null;
}

export function emptyState(): StoreState {
  return {
    kv: new Map(),
    kvKeys: new SortedKeys(),
    tombstones: new Map(),
    tombstoneKeys: new SortedKeys(),
    lockDelayUntilMs: new Map(),
    sessions: new Map(),
    sessionDeadlineMs: new Map(),
    locksBySession: new Map(),
    nodes: new Map(),
    services: new Map(),
    checks: new Map(),
    preparedQueries: new Map(),
    coordinates: new Map(),
    acls: new Map(),
    tableIndex: new Map(tables.map((t) => [t, 0])),
    serviceIndex: new Map(),
    lastIndex: 0,
    restoredIndex: 0,
    kvReapedIndex: 0,
    journal: null,
  };
}

export function tableIndexOf(state: StoreState, table: Table): number {
  return state.tableIndex.get(table) ?? 0;
}

/** Max of several tables' indexes (Consul maxIndexTxn). */
export function maxTableIndex(state: StoreState, ...names: Table[]): number {
  let max = 0;
  for (const name of names) max = Math.max(max, tableIndexOf(state, name));
  return max;
}

export function bumpTable(state: StoreState, table: Table, index: number): void {
  const previous = tableIndexOf(state, table);
  if (!(index >= previous)) assert(false, `table ${table} index would go back from ${previous} to ${index}`);
  if (previous === index) return;
  state.journal?.push({ kind: 'table', table, previous });
  state.tableIndex.set(table, index);
}

/** Sets (or with `entry` undefined, removes) a KV entry, keeping derived indexes in step. */
export function writeEntry(state: StoreState, key: string, entry: KvEntry | undefined): void {
  const previous = state.kv.get(key);
  state.journal?.push({ kind: 'entry', key, previous });
  setEntryRaw(state, key, previous, entry);
}

function setEntryRaw(state: StoreState, key: string, previous: KvEntry | undefined, entry: KvEntry | undefined): void {
  if (previous && previous.Session !== '') {
    const held = state.locksBySession.get(previous.Session);
    held?.delete(key);
    if (held && held.size === 0) state.locksBySession.delete(previous.Session);
  }
  if (entry === undefined) {
    if (previous) {
      state.kv.delete(key);
      state.kvKeys.remove(key);
    }
    return;
  }
  assert(entry.Key === key, 'an entry is stored under its own key');
  if (!(entry.CreateIndex >= 1 && entry.ModifyIndex >= entry.CreateIndex))
    assert(false, `entry ${key}: indexes ${entry.CreateIndex}/${entry.ModifyIndex}`);
  if (!previous) state.kvKeys.insert(key);
  state.kv.set(key, entry);
  if (entry.Session !== '') {
    let held = state.locksBySession.get(entry.Session);
    if (!held) state.locksBySession.set(entry.Session, (held = new Set()));
    held.add(key);
  }
}

export function writeTombstone(state: StoreState, key: string, index: number | undefined): void {
  const previous = state.tombstones.get(key);
  state.journal?.push({ kind: 'tombstone', key, previous });
  setTombstoneRaw(state, key, index);
}

function setTombstoneRaw(state: StoreState, key: string, index: number | undefined): void {
  if (index === undefined) {
    if (state.tombstones.delete(key)) state.tombstoneKeys.remove(key);
    return;
  }
  if (!state.tombstones.has(key)) state.tombstoneKeys.insert(key);
  state.tombstones.set(key, index);
}

export function writeLockDelay(state: StoreState, key: string, untilMs: number | undefined): void {
  const previous = state.lockDelayUntilMs.get(key);
  state.journal?.push({ kind: 'lockDelay', key, previous });
  if (untilMs === undefined) state.lockDelayUntilMs.delete(key);
  else state.lockDelayUntilMs.set(key, untilMs);
}

export function beginTxn(state: StoreState): void {
  assert(state.journal === null, 'transactions do not nest');
  state.journal = [];
}

export function commitTxn(state: StoreState): void {
  assert(state.journal !== null, 'commit without a transaction');
  state.journal = null;
}

/** Undoes every write of the open transaction, newest first. */
export function rollbackTxn(state: StoreState): void {
  const journal = state.journal;
  assert(journal !== null, 'rollback without a transaction');
  state.journal = null;
  for (let i = journal.length - 1; i >= 0; i--) {
    const undo = journal[i]!;
    switch (undo.kind) {
      case 'entry':
        setEntryRaw(state, undo.key, state.kv.get(undo.key), undo.previous);
        break;
      case 'tombstone':
        setTombstoneRaw(state, undo.key, undo.previous);
        break;
      case 'lockDelay':
        if (undo.previous === undefined) state.lockDelayUntilMs.delete(undo.key);
        else state.lockDelayUntilMs.set(undo.key, undo.previous);
        break;
      case 'table':
        state.tableIndex.set(undo.table, undo.previous);
        break;
    }
  }
}

/** Rebuilds the derived lock index from the entries (after restore). */
export function rebuildLocks(state: StoreState): void {
  state.locksBySession.clear();
  for (const entry of state.kv.values()) {
    if (entry.Session === '') continue;
    let held = state.locksBySession.get(entry.Session);
    if (!held) state.locksBySession.set(entry.Session, (held = new Set()));
    held.add(entry.Key);
  }
}
