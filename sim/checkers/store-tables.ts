/**
 * A per-step store rule (issue 12, round F): **a table's index moves with its content.** Consul's state
 * store writes a table's row in the `index` table in the same memdb transaction as every change to the
 * table, and that index is what X-Consul-Index answers and blocking queries wait on; a change whose table
 * index stays behind is a change no watcher of that table is ever woken for (`?index=` parks on).
 *
 * At each apply at Raft index `i`, for the tables a store command may change besides KV (nodes, services,
 * checks, sessions, prepared queries, coordinates, ACL tokens): when the table's content after the apply
 * differs from before, the table's index must be `i`. Content is compared row by row (by reference
 * first, then by value, so a row rewritten unchanged is no change). A snapshot restore is left out (it
 * replaces every table, and its indexes come from the snapshot). KV tables are left to the KV rules.
 *
 * And its twin, checked after each such change: **an answer's X-Consul-Index is never below the
 * ModifyIndex of a row in it.** Consul answers a read with the highest index of the tables it read, and
 * every row it returns was written at or below that; an answer whose index lags a row in it (a query
 * that forgot one of the tables it reads) hands its client an index at which a blocking query on that
 * answer misses the next change of that table. Judged on the catalog, health, session and prepared-query
 * reads of every node and service in the store.
 *
 * And a third (round I, session 14): **an answer that changes moves its X-Consul-Index to the change.**
 * Consul's blocking query returns "when the result changes" only because a change raises the index the
 * client waits on (consul-api.md §2): an apply that changes what a read answers while that read's index
 * stays where it was leaves every client parked on the old index asleep with the old answer. Judged on the
 * same reads plus `catalog/services`, each compared before and after every non-KV apply (a read of a node or
 * service the apply created has no "before" and is judged by the rules above).
 */
import { runQuery } from '../../core/store/queries.js';
import type { StoreState, Table } from '../../core/store/state.js';
import type { StoreQuery } from '../../core/store/types.js';

/** One table's rows, as compared: key → row (a node's services and checks are keyed `node/id`). */
type Rows = Map<string, unknown>;

const nested = (outer: ReadonlyMap<string, ReadonlyMap<string, unknown>>): Rows => {
  const rows: Rows = new Map();
  for (const [node, inner] of outer) for (const [id, row] of inner) rows.set(`${node}/${id}`, row);
  return rows;
};

const tablesRead: readonly [Table, (state: StoreState) => Rows][] = [
  ['nodes', (s) => new Map(s.nodes)],
  ['services', (s) => nested(s.services)],
  ['checks', (s) => nested(s.checks)],
  ['sessions', (s) => new Map(s.sessions)],
  ['prepared-queries', (s) => new Map(s.preparedQueries)],
  ['coordinates', (s) => new Map(s.coordinates)],
  ['acls', (s) => new Map(s.acls)],
];

export type TableRows = ReadonlyMap<Table, Rows>;

/**
 * The rows of every judged table, before `command` applies. A KV command (`kv…`, `txn`: KV operations only)
 * touches none of them, so none is read for it: the rule's cost stays off the workload's hot path.
 */
export function tableRowsOf(state: StoreState, command?: unknown): TableRows {
  const type = (command as { type?: unknown } | null)?.type;
  if (typeof type === 'string' && (type.startsWith('kv') || type === 'txn')) return new Map();
  return new Map(tablesRead.map(([table, read]) => [table, read(state)]));
}

function changed(before: Rows, after: Rows): boolean {
  if (before.size !== after.size) return true;
  for (const [key, row] of after) {
    if (!before.has(key)) return true;
    const old = before.get(key);
    if (old !== row && JSON.stringify(old) !== JSON.stringify(row)) return true;
  }
  return false;
}

/**
 * After a command applied at `index`: a sentence per table whose content changed and whose index did not move
 * to it, then (when a table changed) per answer whose index lags a row in it.
 */
export function tableIndexProblems(before: TableRows, state: StoreState, index: number, command: unknown): string[] {
  return tableChanges(before, state, index, command).problems;
}

/**
 * `tableIndexProblems`, and whether the apply left every judged table as it was, row for row in the same
 * order (`unchanged`): then a judged read can only answer differently through a table index (the checked
 * FSM compares those and otherwise keeps the answers it has). A restore is never `unchanged`.
 */
export function tableChanges(
  before: TableRows,
  state: StoreState,
  index: number,
  command: unknown,
): { problems: string[]; unchanged: boolean } {
  const tables = tableChangesOnly(before, state, index, command);
  // The answers that read those tables, after the change (a KV write changes none of them: not asked).
  return {
    problems: tables.any ? [...tables.problems, ...answerIndexProblems(state, index, command)] : tables.problems,
    unchanged: tables.unchanged,
  };
}

/**
 * `tableChanges` without the answers: the table-index sentences, `unchanged`, and whether any judged table
 * changed (`any`: then the answer-index rule is due, which the checked FSM judges on the same run of the
 * reads as the answers it keeps — `judgedReads`).
 */
export function tableChangesOnly(
  before: TableRows,
  state: StoreState,
  index: number,
  command: unknown,
): { problems: string[]; unchanged: boolean; any: boolean } {
  const type = (command as { type?: unknown } | null)?.type;
  if (type === 'snapshotRestore') return { problems: [], unchanged: false, any: false };
  const problems: string[] = [];
  let any = false;
  let unchanged = before.size > 0;
  for (const [table, read] of tablesRead) {
    const was = before.get(table);
    if (was === undefined) continue;
    const now = read(state);
    if (!changed(was, now)) {
      if (unchanged && !sameOrder(was, now)) unchanged = false;
      continue;
    }
    any = true;
    unchanged = false;
    const at = state.tableIndex.get(table) ?? 0;
    if (at !== index)
      problems.push(
        `table index: ${String(type)} at index ${index} changed table ${table}, whose index is ${at}, not ${index} (its watchers are never woken)`,
      );
  }
  return { problems, unchanged, any };
}

/** The same keys in the same order (the rows themselves already compared equal). */
function sameOrder(before: Rows, after: Rows): boolean {
  const keys = before.keys();
  for (const key of after.keys()) if (keys.next().value !== key) return false;
  return true;
}

/** The indexes a judged read's X-Consul-Index is made of: every table's, every service name's, the last restore. */
export interface ReadIndexes {
  readonly tables: ReadonlyMap<Table, number>;
  readonly services: ReadonlyMap<string, number>;
  readonly restored: number;
}

export function readIndexesOf(state: StoreState): ReadIndexes {
  return { tables: new Map(state.tableIndex), services: new Map(state.serviceIndex), restored: state.restoredIndex };
}

export function sameReadIndexes(before: ReadIndexes, state: StoreState): boolean {
  return (
    before.restored === state.restoredIndex &&
    sameNumbers(before.tables, state.tableIndex) &&
    sameNumbers(before.services, state.serviceIndex)
  );
}

function sameNumbers<K>(a: ReadonlyMap<K, number>, b: ReadonlyMap<K, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, n] of a) if (b.get(key) !== n) return false;
  return true;
}

/** The reads judged by `answerIndexProblems`, for every node and service in the store. */
function catalogReads(state: StoreState): StoreQuery[] {
  const services = new Set<string>();
  for (const inner of state.services.values()) for (const row of inner.values()) services.add(row.Service);
  return [
    { type: 'catalogNodes' },
    { type: 'catalogServices' },
    { type: 'healthState', state: 'any' },
    { type: 'sessionList' },
    { type: 'preparedQueryList' },
    ...[...state.nodes.keys()].flatMap((node): StoreQuery[] => [
      { type: 'catalogNode', node },
      { type: 'healthNode', node },
    ]),
    ...[...services].flatMap((service): StoreQuery[] => [
      { type: 'catalogService', service },
      { type: 'healthService', service },
      { type: 'healthChecks', service },
    ]),
  ];
}

/**
 * The highest `ModifyIndex` anywhere in an answer (0 when none). Answers are plain data (objects, arrays,
 * scalars), so `for…in` sees exactly the own fields `Object.entries` would, without an array per object.
 */
function rowIndexMax(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let max = 0;
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) max = Math.max(max, rowIndexMax(item));
    return max;
  }
  const fields = value as Record<string, unknown>;
  for (const key in fields) {
    const field = fields[key];
    max = Math.max(max, key === 'ModifyIndex' && typeof field === 'number' ? field : rowIndexMax(field));
  }
  return max;
}

/** A sentence per catalog, health, session or prepared-query answer whose index is below a row in it. */
export function answerIndexProblems(state: StoreState, index: number, command: unknown): string[] {
  return judgedReads(state, index, command).indexProblems;
}

/**
 * One run of the judged reads after an apply at `index`: the answer-index sentences (as
 * `answerIndexProblems`) and the answers (as `answersOf(state)`), so the checked FSM runs each read once
 * per apply instead of once per rule.
 */
export function judgedReads(
  state: StoreState,
  index: number,
  command: unknown,
): { indexProblems: string[]; answers: Answers } {
  const indexProblems: string[] = [];
  const answers = runJudgedReads(state);
  for (const [key, answer] of answers) {
    const row = rowIndexMax(answer.value);
    if (answer.index < row)
      indexProblems.push(
        `answer index: after ${String((command as { type?: unknown } | null)?.type)} at index ${index}, ${key} answers X-Consul-Index ${answer.index} below a row of it modified at ${row}`,
      );
  }
  return { indexProblems, answers };
}

/** Every judged read run once on `state`, keyed by the query as JSON (reads that answer an error left out). */
function runJudgedReads(state: StoreState): Map<string, { value: unknown; index: number }> {
  const answers = new Map<string, { value: unknown; index: number }>();
  for (const query of catalogReads(state)) {
    const result = runQuery(state, query);
    if ('error' in result) continue;
    answers.set(JSON.stringify(query), { value: result.value, index: result.index });
  }
  return answers;
}

/**
 * What each judged read answers (value and X-Consul-Index), keyed by the query, before a non-KV command applies.
 * The value is kept as the query built it: the store never changes a row in place (it replaces rows; the
 * table-index rule above relies on that too), so an answer kept from an earlier apply still shows what it
 * showed then, and comparing it with a later one (`sameJson`) stops at every row the two share.
 */
export type Answers = ReadonlyMap<string, { readonly value: unknown; readonly index: number }>;

/** Whether `command` is judged: KV and txn commands (txn is KV-only) change none of the judged reads. */
export function judgesAnswers(command: unknown): boolean {
  const type = (command as { type?: unknown } | null)?.type;
  return !(typeof type === 'string' && (type.startsWith('kv') || type === 'txn'));
}

/** The judged reads' answers in `state`; none before a KV command (it changes none of them). */
export function answersOf(state: StoreState, command?: unknown): Answers {
  if (command !== undefined && !judgesAnswers(command)) return new Map();
  return runJudgedReads(state);
}

/** A sentence per judged read whose answer `command` (applied at `index`) changed while its index stayed below `index`. */
export function answerMoveProblems(before: Answers, state: StoreState, index: number, command: unknown): string[] {
  return answerMoveProblemsAfter(before, answersOf(state), state, index, command);
}

/**
 * The same with the answers after the apply already computed (`after`: answersOf the new state; the
 * checked FSM keeps them as the next apply's `before`, so each apply runs the reads once). A read that
 * `after` lacks (its node or service is gone) is run on the new state.
 */
export function answerMoveProblemsAfter(
  before: Answers,
  after: Answers,
  state: StoreState,
  index: number,
  command: unknown,
): string[] {
  const type = (command as { type?: unknown } | null)?.type;
  if (type === 'snapshotRestore') return [];
  const problems: string[] = [];
  for (const [key, was] of before) {
    let now = after.get(key);
    if (now === undefined) {
      const result = runQuery(state, JSON.parse(key) as StoreQuery);
      if ('error' in result) continue;
      now = { value: result.value, index: result.index };
    }
    if (now.index >= index || sameJson(now.value, was.value)) continue;
    problems.push(
      `answer moved: ${String(type)} at index ${index} changed the answer of ${key}, whose X-Consul-Index stayed ${now.index} (was ${was.index}): a blocking query on it is never woken`,
    );
  }
  return problems;
}

/**
 * Whether `JSON.stringify(a) === JSON.stringify(b)`, found by a walk that returns at once where both hold
 * the same object (a row both answers share) instead of writing both answers out. It follows JSON's rules:
 * the keys JSON writes (own enumerable, not undefined, function or symbol), in their order; such an array
 * element counts as null; scalars and anything with `toJSON` compare as JSON text.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return jsonText(a) === jsonText(b);
  if (hasToJson(a) || hasToJson(b)) return JSON.stringify(a) === JSON.stringify(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(inArray(a[i]), inArray(b[i]))) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keysA = jsonKeys(x);
  const keysB = jsonKeys(y);
  if (keysA.length !== keysB.length) return false;
  for (let i = 0; i < keysA.length; i++) {
    const key = keysA[i]!;
    if (key !== keysB[i] || !sameJson(x[key], y[key])) return false;
  }
  return true;
}

const skippedByJson = (v: unknown): boolean => v === undefined || typeof v === 'function' || typeof v === 'symbol';
const inArray = (v: unknown): unknown => (skippedByJson(v) ? null : v);
const jsonText = (v: unknown): string | undefined => JSON.stringify(v);
const hasToJson = (o: object): boolean => typeof (o as { toJSON?: unknown }).toJSON === 'function';

function jsonKeys(o: Record<string, unknown>): string[] {
  const keys: string[] = [];
  for (const key of Object.keys(o)) if (!skippedByJson(o[key])) keys.push(key);
  return keys;
}
