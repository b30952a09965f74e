/**
 * The replicated state store as a Raft `Fsm` (core/raft/api.ts): `createStoreFsm()` gives a fresh
 * store; Raft applies committed `StoreCommand`s in log order and answers `StoreQuery`s against it.
 *
 * `apply` never throws for a malformed command (a committed entry must not crash every replica):
 * it answers `{ ok: false, error }` and the index is consumed. It throws only through `assert`, for
 * programmer errors (an index that does not increase).
 */
import { assert } from '../assert.js';
import type { Fsm } from '../raft/api.js';
import { catalogDeregister, catalogRegister, memberHealth } from './catalog.js';
import {
  checkKvWrite,
  normalValue,
  kvCas,
  kvDelete,
  kvDeleteCas,
  kvDeleteTree,
  kvLock,
  kvReapTombstones,
  kvSet,
  kvUnlock,
  type LockOutcome,
} from './kv.js';
import { preparedQueryDelete, preparedQuerySet } from './preparedQuery.js';
import { coordinateBatchUpdate } from './coordinates.js';
import { aclDelete, aclSet, type AclToken } from './acl.js';
import type { Coordinate } from '../swim/coordinate.js';
import { queryIndex, runQuery } from './queries.js';
import { sessionCreate, sessionInvalidate, sessionRenew, sessionsExpire, sessionTimersReset } from './session.js';
import { SortedKeys } from './sorted.js';
import { emptyState, rebuildLocks, tables, tableIndexOf, type StoreState, type Table } from './state.js';
import { checkTxnOps, applyTxn } from './txn.js';
import type {
  CatalogNode,
  CatalogService,
  CommandResult,
  HealthCheck,
  KvEntry,
  PreparedQuery,
  QueryError,
  QueryResult,
  Session,
  StoreCommand,
  StoreQuery,
} from './types.js';

/** The plain-data form of the whole store (msgpackr-encodable). */
export interface StoreSnapshot {
  readonly version: 1;
  readonly lastIndex: number;
  readonly kv: readonly KvEntry[];
  readonly tombstones: readonly (readonly [string, number])[];
  readonly lockDelays: readonly (readonly [string, number])[];
  readonly sessions: readonly Session[];
  readonly sessionDeadlines: readonly (readonly [string, number])[];
  readonly nodes: readonly CatalogNode[];
  readonly services: readonly (readonly [string, readonly CatalogService[]])[];
  readonly checks: readonly HealthCheck[];
  readonly tableIndex: readonly (readonly [Table, number])[];
  readonly serviceIndex: readonly (readonly [string, number])[];
  /** Absent in snapshots taken before prepared queries existed. */
  readonly preparedQueries?: readonly PreparedQuery[];
  /** Absent in snapshots taken before coordinates existed. */
  readonly coordinates?: readonly (readonly [string, Coordinate])[];
  /** Absent in snapshots taken before ACLs existed. */
  readonly acls?: readonly AclToken[];
  /** Absent in snapshots taken before snapshot restore existed. */
  readonly restoredIndex?: number;
  /** Absent when no tombstone was ever reaped (and in snapshots taken before the field existed). */
  readonly kvReapedIndex?: number;
}

/** The store's Fsm, with typed read access for the agent (which may hold it directly on its own node). */
export interface StoreFsm extends Fsm {
  apply(command: unknown, index: number): CommandResult;
  query(query: unknown): QueryResult | QueryError;
  /** Only the index `query` would answer with: cheap, for the blocking-query registry. */
  indexOf(query: StoreQuery): number;
  /** Raft index of the last applied command (0 before any). */
  readonly lastIndex: number;
  snapshot(): StoreSnapshot;
  restore(snapshot: unknown): void;
  /** Local invariants, each broken one as a sentence; empty when all hold. O(size of the store). */
  invariants(): string[];
  /** Direct state access for tests and checkers in the simulator. */
  readonly state: StoreState;
}

export interface StoreFsmOptions {
  /**
   * Mark results with `tombstoneHint` (CommandResult) for a leader's tombstone GC: the agent's servers
   * (core/agent/mounts.ts). Off elsewhere, so a harness that drives the store through Raft alone (sim/harnesses
   * kv.ts, whose Raft client sessions keep results in snapshots) gets the results it always got.
   */
  readonly tombstoneHints?: boolean;
}

export function createStoreFsm(options: StoreFsmOptions = {}): StoreFsm {
  const hints = options.tombstoneHints === true;
  let state = emptyState();
  return {
    apply(command: unknown, index: number): CommandResult {
      if (!(Number.isSafeInteger(index) && index > state.lastIndex))
        assert(false, `apply index ${index} after ${state.lastIndex}`);
      if (
        command !== null &&
        typeof command === 'object' &&
        (command as { type?: unknown }).type === 'snapshotRestore'
      ) {
        const { snapshot, nowMs } = command as { snapshot: unknown; nowMs?: unknown };
        const restored = restoreAt(snapshot, index, typeof nowMs === 'number' && Number.isFinite(nowMs) ? nowMs : 0);
        if ('error' in restored) {
          state.lastIndex = index;
          return { ok: false, error: restored.error };
        }
        state = restored.state;
        // The snapshot's tombstones were deleted at unknown times: the leader keeps them a whole TTL from now.
        return hints && state.tombstones.size > 0
          ? { ok: true, value: true, tombstoneHint: true }
          : { ok: true, value: true };
      }
      state.lastIndex = index;
      const graveyardIndex = tableIndexOf(state, 'tombstones');
      const result = applyCommand(state, command as StoreCommand, index);
      return hints && result.ok && wantsTombstoneHint(state, command as StoreCommand, graveyardIndex)
        ? { ...result, tombstoneHint: true }
        : result;
    },
    query: (query: unknown) =>
      (query as { type?: unknown } | null)?.type === 'snapshot'
        ? { index: Math.max(1, state.lastIndex), value: snapshotOf(state) }
        : runQuery(state, query as StoreQuery),
    indexOf: (query: StoreQuery) => queryIndex(state, query),
    get lastIndex() {
      return state.lastIndex;
    },
    snapshot: () => snapshotOf(state),
    restore(snapshot: unknown): void {
      state = restoreFrom(snapshot as StoreSnapshot);
    },
    invariants: () => storeInvariants(state),
    get state() {
      return state;
    },
  };
}

/**
 * Whether an apply's result carries `tombstoneHint` (CommandResult): it wrote tombstones (the graveyard's
 * table index moved to this apply), or it is the new leader's `sessionTimersReset` while tombstones are kept.
 */
function wantsTombstoneHint(state: StoreState, command: StoreCommand, graveyardIndexBefore: number): boolean {
  if (tableIndexOf(state, 'tombstones') > graveyardIndexBefore) return true;
  return command.type === 'sessionTimersReset' && state.tombstones.size > 0;
}

function badTime(nowMs: unknown): boolean {
  return typeof nowMs !== 'number' || !Number.isFinite(nowMs);
}

function badIndex(value: unknown): boolean {
  return typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0;
}

function lockResult(outcome: LockOutcome): CommandResult<boolean> {
  if (outcome.ok) return { ok: true, value: true };
  return outcome.error === null ? { ok: true, value: false } : { ok: false, error: outcome.error };
}

/** The parent branches; kv.ts, txn.ts, session.ts and catalog.ts compute. */
export function applyCommand(state: StoreState, command: StoreCommand, index: number): CommandResult {
  if (command === null || typeof command !== 'object') return { ok: false, error: 'command must be an object' };
  const fail = (error: string): CommandResult => ({ ok: false, error });
  const ok = (value: unknown): CommandResult => ({ ok: true, value });
  switch (command.type) {
    case 'kvSet': {
      const problem = checkKvWrite(command.entry);
      if (problem) return fail(problem);
      kvSet(state, index, command.entry);
      return ok(true);
    }
    case 'kvCas': {
      const problem =
        checkKvWrite(command.entry) ?? (badIndex(command.cas) ? 'cas must be a non-negative integer' : null);
      return problem ? fail(problem) : ok(kvCas(state, index, command.entry, command.cas) !== null);
    }
    case 'kvDelete':
      if (typeof command.key !== 'string' || command.key === '') return fail('Missing key name');
      kvDelete(state, index, command.key);
      return ok(true);
    case 'kvDeleteCas':
      if (typeof command.key !== 'string' || command.key === '') return fail('Missing key name');
      if (badIndex(command.cas)) return fail('cas must be a non-negative integer');
      return ok(kvDeleteCas(state, index, command.key, command.cas));
    case 'kvDeleteTree':
      if (typeof command.prefix !== 'string') return fail('prefix must be a string');
      kvDeleteTree(state, index, command.prefix);
      return ok(true);
    case 'kvLock': {
      const problem = checkKvWrite(command.entry) ?? (badTime(command.nowMs) ? 'nowMs missing' : null);
      return problem
        ? fail(problem)
        : lockResult(kvLock(state, index, command.entry, String(command.session ?? ''), command.nowMs));
    }
    case 'kvUnlock': {
      const problem = checkKvWrite(command.entry);
      return problem ? fail(problem) : lockResult(kvUnlock(state, index, command.entry, String(command.session ?? '')));
    }
    case 'txn': {
      const problem = checkTxnOps(command.ops) ?? (badTime(command.nowMs) ? 'nowMs missing' : null);
      return problem ? fail(problem) : ok(applyTxn(state, index, command.ops, command.nowMs));
    }
    default:
      return applyNonKv(state, command, index);
  }
}

function applyNonKv(state: StoreState, command: StoreCommand, index: number): CommandResult {
  const fail = (error: string): CommandResult => ({ ok: false, error });
  if ('nowMs' in command && badTime(command.nowMs)) return fail('nowMs missing');
  switch (command.type) {
    case 'sessionCreate':
      return sessionCreate(state, index, command.session, command.nowMs);
    case 'sessionRenew':
      return sessionRenew(state, String(command.id), command.nowMs);
    case 'sessionDestroy':
      sessionInvalidate(state, index, String(command.id), command.nowMs);
      return { ok: true, value: true };
    case 'sessionsExpire':
      return { ok: true, value: sessionsExpire(state, index, command.nowMs) };
    case 'sessionTimersReset':
      sessionTimersReset(state, command.nowMs);
      return { ok: true, value: true };
    case 'catalogRegister':
      return catalogRegister(
        state,
        index,
        command.node,
        command.service,
        command.checks ?? [],
        command.skipNodeUpdate ?? false,
        command.nowMs,
      );
    case 'catalogDeregister':
      return catalogDeregister(state, index, command.node, command.serviceId, command.checkId, command.nowMs);
    case 'memberHealth':
      return memberHealth(
        state,
        index,
        command.node,
        command.address,
        command.health,
        command.serverPort,
        command.nowMs,
      );
    case 'tombstonesReap':
      if (badIndex(command.upToIndex)) return fail('upToIndex must be a non-negative integer');
      return { ok: true, value: kvReapTombstones(state, command.upToIndex) };
    case 'preparedQuerySet':
      return preparedQuerySet(state, index, command.query, command.create === true);
    case 'preparedQueryDelete':
      return preparedQueryDelete(state, index, String(command.id));
    case 'coordinateBatchUpdate':
      return coordinateBatchUpdate(state, index, command.updates);
    case 'aclSet':
      return aclSet(state, index, command.acl, command.create === true);
    case 'aclDelete':
      return aclDelete(state, index, String(command.id));
    default:
      return fail(`unknown command type '${String((command as { type?: unknown }).type)}'`);
  }
}

// ─────────────────────────────────────────── snapshots ────────────────────────────────────────────

/** Records are never mutated in place (every write stores a new object), so sharing them is safe. */
function snapshotOf(state: StoreState): StoreSnapshot {
  assert(state.journal === null, 'no snapshot in the middle of a transaction');
  return {
    version: 1,
    lastIndex: state.lastIndex,
    kv: state.kvKeys.all().map((key) => state.kv.get(key)!),
    tombstones: [...state.tombstones],
    lockDelays: [...state.lockDelayUntilMs],
    sessions: [...state.sessions.values()],
    sessionDeadlines: [...state.sessionDeadlineMs],
    nodes: [...state.nodes.values()],
    services: [...state.services].map(([node, services]) => [node, [...services.values()]] as const),
    checks: [...state.checks.values()].flatMap((checks) => [...checks.values()]),
    tableIndex: [...state.tableIndex],
    serviceIndex: [...state.serviceIndex],
    preparedQueries: [...state.preparedQueries.values()],
    coordinates: [...state.coordinates],
    acls: [...state.acls.values()],
    restoredIndex: state.restoredIndex,
    // Only when set: a snapshot's bytes stay what they were for every store that never reaped.
    ...(state.kvReapedIndex > 0 ? { kvReapedIndex: state.kvReapedIndex } : {}),
  };
}

/**
 * `PUT /v1/snapshot` (Consul's snapshot restore), applied at Raft index `index`: the whole store
 * becomes the snapshot's, every table index moves up to `index` so that every blocking query wakes,
 * and TTL deadlines restart. A snapshot that does not restore cleanly (bad shape, broken invariants)
 * changes nothing and is refused: it was checked by the proposer too, but a replica never crashes on it.
 */
export function restoreAt(snapshot: unknown, index: number, nowMs: number): { state: StoreState } | { error: string } {
  let restored: StoreState;
  try {
    restored = restoreFrom(snapshot as StoreSnapshot);
  } catch (error) {
    return { error: `invalid snapshot: ${(error as Error).message}` };
  }
  const broken = storeInvariants(restored);
  if (broken.length > 0) return { error: `invalid snapshot: ${broken[0]}` };
  restored.lastIndex = index;
  for (const table of tables) restored.tableIndex.set(table, index);
  for (const name of [...restored.serviceIndex.keys()]) restored.serviceIndex.set(name, index);
  sessionTimersReset(restored, nowMs);
  restored.restoredIndex = index;
  return { state: restored };
}

/** A value as a snapshot codec may hand it back: bytes, Node's Buffer JSON form, or a byte array. */
function snapshotBytes(value: unknown): Uint8Array | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) return normalValue(value);
  const data = Array.isArray(value)
    ? value
    : (value as { type?: unknown; data?: unknown }).type === 'Buffer'
      ? (value as { data: unknown }).data
      : undefined;
  assert(Array.isArray(data), 'a snapshot KV value is bytes');
  return normalValue(Uint8Array.from(data as number[]));
}

function restoreFrom(snapshot: StoreSnapshot): StoreState {
  assert(snapshot !== null && typeof snapshot === 'object' && snapshot.version === 1, 'store snapshot version 1');
  const state = emptyState();
  state.lastIndex = snapshot.lastIndex;
  for (const entry of snapshot.kv) state.kv.set(entry.Key, { ...entry, Value: snapshotBytes(entry.Value) });
  const kvKeys = SortedKeys.from(state.kv.keys());
  const tombstoneKeys = SortedKeys.from(snapshot.tombstones.map(([key]) => key));
  for (const [key, index] of snapshot.tombstones) state.tombstones.set(key, index);
  for (const [key, until] of snapshot.lockDelays) state.lockDelayUntilMs.set(key, until);
  for (const session of snapshot.sessions) state.sessions.set(session.ID, session);
  for (const [id, deadline] of snapshot.sessionDeadlines) state.sessionDeadlineMs.set(id, deadline);
  for (const node of snapshot.nodes) {
    state.nodes.set(node.Node, node);
    state.services.set(node.Node, new Map());
    state.checks.set(node.Node, new Map());
  }
  for (const [node, services] of snapshot.services)
    for (const service of services) state.services.get(node)!.set(service.ID, service);
  for (const check of snapshot.checks) state.checks.get(check.Node)!.set(check.CheckID, check);
  for (const [table, index] of snapshot.tableIndex) state.tableIndex.set(table, index);
  for (const [name, index] of snapshot.serviceIndex) state.serviceIndex.set(name, index);
  for (const query of snapshot.preparedQueries ?? []) state.preparedQueries.set(query.ID, query);
  for (const [node, coord] of snapshot.coordinates ?? []) state.coordinates.set(node, coord);
  for (const acl of snapshot.acls ?? []) state.acls.set(acl.ID, acl);
  state.restoredIndex = snapshot.restoredIndex ?? 0;
  state.kvReapedIndex = snapshot.kvReapedIndex ?? 0;
  const restored: StoreState = { ...state, kvKeys, tombstoneKeys };
  rebuildLocks(restored);
  return restored;
}

// ─────────────────────────────────────────── invariants ───────────────────────────────────────────

export function storeInvariants(state: StoreState): string[] {
  const broken: string[] = [];
  const kvIndex = tableIndexOf(state, 'kvs');
  if (state.journal !== null) broken.push('a transaction is open between commands');
  if (state.kvKeys.size !== state.kv.size || !state.kvKeys.checkSorted())
    broken.push('sorted KV keys do not match the KV map');
  if (state.tombstoneKeys.size !== state.tombstones.size || !state.tombstoneKeys.checkSorted())
    broken.push('sorted tombstones do not match the graveyard');
  for (const table of tables)
    if (tableIndexOf(state, table) > state.lastIndex)
      broken.push(`table ${table} index is past the last applied index`);
  let lockCount = 0;
  for (const key of state.kvKeys.all()) {
    const e = state.kv.get(key);
    if (!e) {
      broken.push(`sorted key ${key} has no entry`);
      continue;
    }
    if (!(e.CreateIndex >= 1 && e.CreateIndex <= e.ModifyIndex && e.ModifyIndex <= kvIndex))
      broken.push(`entry ${key} has indexes ${e.CreateIndex}/${e.ModifyIndex} (table ${kvIndex})`);
    if (e.Session !== '') {
      lockCount++;
      if (!state.sessions.has(e.Session)) broken.push(`entry ${key} is held by missing session ${e.Session}`);
      if (e.LockIndex < 1) broken.push(`entry ${key} is held with LockIndex ${e.LockIndex}`);
      if (!state.locksBySession.get(e.Session)?.has(key)) broken.push(`lock index misses ${key} held by ${e.Session}`);
    }
  }
  let indexed = 0;
  for (const keys of state.locksBySession.values()) indexed += keys.size;
  if (indexed !== lockCount) broken.push(`lock index has ${indexed} keys, entries hold ${lockCount}`);
  for (const s of state.sessions.values()) {
    if (!state.nodes.has(s.Node)) broken.push(`session ${s.ID} belongs to missing node ${s.Node}`);
    if (s.TtlMs > 0 !== state.sessionDeadlineMs.has(s.ID))
      broken.push(`session ${s.ID} TTL ${s.TtlMs} and deadline disagree`);
  }
  for (const id of state.sessionDeadlineMs.keys())
    if (!state.sessions.has(id)) broken.push(`deadline for missing session ${id}`);
  for (const name of state.nodes.keys())
    if (!state.services.has(name) || !state.checks.has(name))
      broken.push(`node ${name} lacks its service or check table`);
  for (const node of state.coordinates.keys())
    if (!state.nodes.has(node)) broken.push(`coordinate of missing node ${node}`);
  for (const q of state.preparedQueries.values())
    if (q.Session !== '' && !state.sessions.has(q.Session))
      broken.push(`prepared query ${q.ID} outlives its session ${q.Session}`);
  for (const [node, services] of state.services)
    if (!state.nodes.has(node)) broken.push(`services of missing node ${node} (${services.size})`);
  for (const [node, checks] of state.checks) {
    if (!state.nodes.has(node)) broken.push(`checks of missing node ${node}`);
    for (const c of checks.values())
      if (c.ServiceID !== '' && !state.services.get(node)?.has(c.ServiceID))
        broken.push(`check ${node}/${c.CheckID} names missing service ${c.ServiceID}`);
  }
  return broken;
}
