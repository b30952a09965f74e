/**
 * Built-in sequential specifications for the linearizability checker.
 *
 * - `etcdModel`: one register with check-and-set, initially nil (absent). The Jepsen etcd histories
 *   (Porcupine's test_data/jepsen). A failed cas is a completed cas that observed another value.
 * - `registerModel`: the same register semantics per key (P-compositional), for our simulator's
 *   histories of reads, writes, cas and deletes against the Consul-style KV store.
 * - `kvModel`: get/put/append on strings, per key, a missing key reads as "" (Porcupine's kv model).
 * - `kvGroupModel`: groups of keys under one prefix, changed by multi-key transactions (rolled back
 *   when any op fails) and delete-tree, read by a recursive get.
 *
 * All three read the common `RegisterInput` shape that every parser in parse.ts produces.
 */
import type { LinOp, Model, RegisterInput, StepResult, Unknown } from './types.js';
import { UNKNOWN } from './types.js';

type Op = LinOp<RegisterInput, unknown>;

/** Register values are JSON scalars; `undefined` and `null` both mean "absent". */
export type RegisterValue = string | number | boolean | null;

function normalize(value: unknown): RegisterValue {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}

/** FNV-1a over a string, 32 bits. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

function hashValue(value: RegisterValue): number {
  if (value === null) return 0x2545f491;
  if (typeof value === 'number') return hashString(`n${value}`);
  if (typeof value === 'boolean') return value ? 0x1b873593 : 0x5bd1e995;
  return hashString(value);
}

function show(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 18)}…${value.slice(-18)}` : value);
  return String(value);
}

function showOutput(output: unknown): string {
  return output === UNKNOWN ? '?' : show(output);
}

function isRead(f: string): boolean {
  return f === 'read' || f === 'get';
}

function isWrite(f: string): boolean {
  return f === 'write' || f === 'put' || f === 'set';
}

/** Register semantics shared by `etcd` and `register` (README "etcd model"). */
function stepRegister(state: RegisterValue, input: RegisterInput, output: unknown): StepResult<RegisterValue> {
  const f = input.f;
  if (isRead(f)) return { ok: output === UNKNOWN || normalize(output) === state, next: state };
  if (isWrite(f)) return { ok: true, next: normalize(input.value) };
  if (f === 'cas') {
    const matches = normalize(input.from) === state;
    const next = matches ? normalize(input.to) : state;
    if (output === UNKNOWN) return { ok: true, next };
    return { ok: (output === true) === matches, next };
  }
  if (f === 'delete') return { ok: true, next: null };
  if (f === 'delete-cas') {
    // Consul's delete-cas: deletes when the key still holds `from`; succeeds doing nothing when the
    // key is already absent; fails when it holds another value.
    const matches = state === null || normalize(input.from) === state;
    if (output === UNKNOWN) return { ok: true, next: matches ? null : state };
    return { ok: (output === true) === matches, next: matches ? null : state };
  }
  throw new Error(`register model: unknown operation '${f}'`);
}

function describeRegisterOp(input: RegisterInput, output: unknown): string {
  const key = input.key !== undefined ? `[${show(input.key)}]` : '';
  const f = input.f;
  if (isRead(f)) return `read${key}() -> ${showOutput(output)}`;
  if (isWrite(f)) return `write${key}(${show(input.value)})${output === UNKNOWN ? ' -> ?' : ''}`;
  if (f === 'cas')
    return `cas${key}(${show(input.from)}, ${show(input.to)}) -> ${output === UNKNOWN ? '?' : output === true ? 'ok' : 'fail'}`;
  if (f === 'delete-cas')
    return `delete-cas${key}(${show(input.from)}) -> ${output === UNKNOWN ? '?' : output === true ? 'ok' : 'fail'}`;
  return `${f}${key}() -> ${showOutput(output)}`;
}

/** Groups operations by `input.key` (P-compositionality); order of first appearance. */
export function partitionByKey(ops: readonly Op[]): { label: string; ops: Op[] }[] {
  const byKey = new Map<string, Op[]>();
  for (const op of ops) {
    const key = op.input.key ?? '';
    let list = byKey.get(key);
    if (!list) byKey.set(key, (list = []));
    list.push(op);
  }
  return [...byKey].map(([label, list]) => ({ label, ops: list }));
}

export const etcdModel: Model<RegisterValue, RegisterInput, unknown> = {
  name: 'etcd',
  init: () => null,
  step: stepRegister,
  hash: hashValue,
  equal: (a, b) => a === b,
  describeOperation: describeRegisterOp,
  describeState: show,
  readOnly: (input, output) => isRead(input.f) || ((input.f === 'cas' || input.f === 'delete-cas') && output === false),
  acceptsUnknown: true,
  mentions: mentionsRegister,
};

/** The register values an operation reads, writes or compares (nil as null). */
function mentionsRegister(input: RegisterInput, output: unknown): RegisterValue[] {
  const f = input.f;
  if (isRead(f)) return output === UNKNOWN ? [] : [normalize(output)];
  if (isWrite(f)) return [normalize(input.value)];
  if (f === 'cas') return [normalize(input.from), normalize(input.to)];
  if (f === 'delete-cas') return [normalize(input.from), null];
  if (f === 'delete') return [null];
  return [];
}

export const registerModel: Model<RegisterValue, RegisterInput, unknown> = {
  ...etcdModel,
  name: 'register',
  partition: partitionByKey,
};

export const kvModel: Model<string, RegisterInput, unknown> = {
  name: 'kv',
  init: () => '',
  step(state: string, input: RegisterInput, output: unknown | Unknown): StepResult<string> {
    const f = input.f;
    if (isRead(f)) return { ok: output === UNKNOWN || String(output ?? '') === state, next: state };
    if (isWrite(f)) return { ok: true, next: String(input.value ?? '') };
    if (f === 'append') return { ok: true, next: state + String(input.value ?? '') };
    if (f === 'delete') return { ok: true, next: '' };
    throw new Error(`kv model: unknown operation '${f}'`);
  },
  partition: partitionByKey,
  hash: hashString,
  equal: (a, b) => a === b,
  describeOperation(input, output) {
    const key = input.key !== undefined ? `[${show(input.key)}]` : '';
    if (isRead(input.f)) return `get${key}() -> ${showOutput(output)}`;
    return `${isWrite(input.f) ? 'put' : input.f}${key}(${show(input.value)})${output === UNKNOWN ? ' -> ?' : ''}`;
  },
  describeState: show,
  readOnly: (input) => isRead(input.f),
  acceptsUnknown: true,
  growth: {
    // Only append keeps the old value as a prefix; put and delete replace it.
    isReset: (input) => input.f !== 'append' && !isRead(input.f),
    mayGrowInto: (state, _input, output) => output === UNKNOWN || String(output ?? '').startsWith(state),
  },
};

// ───────────────────────────────────────── key groups (txn) ─────────────────────────────────────────

/**
 * One sub-operation of a KV transaction on a key group, by value (values are unique in a run, so a
 * ModifyIndex the client read stands for the value it read). `slot` names a key of the group.
 *   set(v) · cas(from → v) (from null: only if absent) · delete · delete-cas(from) (absent: succeeds,
 *   does nothing) · check-index(from) (the key exists and holds from) · check-not-exists · get ·
 *   get-tree (`slot` unused: the whole group, Consul's txn `get-tree` verb, which returns each entry
 *   with its value; its output is `groupTreeText`).
 */
/** The names of a group's keys by slot (`t/<group>/a`…): the kv harness builds keys from them, the report prints them. */
export const groupSlots = ['a', 'b', 'c'] as const;

export interface GroupTxnOp {
  readonly verb: 'set' | 'cas' | 'delete' | 'delete-cas' | 'check-index' | 'check-not-exists' | 'get' | 'get-tree';
  readonly slot: number;
  readonly value?: string;
  readonly from?: string | null;
}

/** What a txn answered: committed with the values of its gets, or rolled back with the failing ops. */
export type GroupTxnOutput =
  | { readonly ok: true; readonly gets: readonly (string | null)[] }
  | { readonly ok: false; readonly failed: readonly number[] };

/** Group state: the values by slot, as JSON (trailing nulls trimmed), so states intern as strings. */
function groupValues(state: string): (string | null)[] {
  return JSON.parse(state) as (string | null)[];
}

function groupState(values: readonly (string | null)[]): string {
  let end = values.length;
  while (end > 0 && (values[end - 1] ?? null) === null) end--;
  return JSON.stringify(values.slice(0, end).map((v) => v ?? null));
}

/** The names of the slots present in a group state, in key order, as JSON (what a key listing answers). */
function groupKeysOf(state: string): string {
  const values = groupValues(state);
  return JSON.stringify(groupSlots.filter((_, slot) => (values[slot] ?? null) !== null));
}

/**
 * A txn `get-tree`'s answer as one text: `slot=value` for each present slot, in slot (= key) order, as
 * JSON. The kv harness builds the same text from the entries the txn returned (their Values included).
 */
export function groupTreeText(values: readonly (string | null)[]): string {
  return JSON.stringify(
    groupSlots.flatMap((name, slot) => ((values[slot] ?? null) === null ? [] : [`${name}=${values[slot]}`])),
  );
}

/** Runs a txn on a group's values: Consul's txnKVS (every op runs; any failure rolls all back). */
export function runGroupTxn(state: string, ops: readonly GroupTxnOp[]): { next: string; output: GroupTxnOutput } {
  const values = groupValues(state);
  const failed: number[] = [];
  const gets: (string | null)[] = [];
  ops.forEach((op, i) => {
    const current = values[op.slot] ?? null;
    switch (op.verb) {
      case 'set':
        values[op.slot] = op.value!;
        return;
      case 'cas':
        if (current === (op.from ?? null)) values[op.slot] = op.value!;
        else failed.push(i);
        return;
      case 'delete':
        values[op.slot] = null;
        return;
      case 'delete-cas':
        if (current === null) return;
        if (current === op.from) values[op.slot] = null;
        else failed.push(i);
        return;
      case 'check-index':
        if (current === null || current !== op.from) failed.push(i);
        return;
      case 'check-not-exists':
        if (current !== null) failed.push(i);
        return;
      case 'get':
        if (current === null) failed.push(i);
        else gets.push(current);
        return;
      case 'get-tree':
        gets.push(groupTreeText(values));
        return;
    }
  });
  if (failed.length > 0) return { next: state, output: { ok: false, failed } };
  return { next: groupState(values), output: { ok: true, gets } };
}

/**
 * A group of keys under one prefix (`t/1/`, `t/12/`…), changed by multi-key transactions and
 * delete-tree and read with a recursive get: P-compositional by group (a txn touches one group).
 *   - f 'txn': value = GroupTxnOp[]; output = GroupTxnOutput (or UNKNOWN).
 *   - f 'read-tree': output = the values by slot (null where absent).
 *   - f 'read-keys': output = the keys listed under the prefix with the separator '/', prefix cut off
 *     (Consul's `?keys&separator=/`: the group's slots hold no '/', so exactly the present slots' names).
 *   - f 'delete-tree': every key of the group deleted.
 */
export const kvGroupModel: Model<string, RegisterInput, unknown> = {
  name: 'kv-group',
  init: () => '[]',
  step(state, input, output) {
    if (input.f === 'read-tree')
      return { ok: output === UNKNOWN || groupState(output as (string | null)[]) === state, next: state };
    if (input.f === 'read-keys')
      return { ok: output === UNKNOWN || groupKeysOf(state) === JSON.stringify(output), next: state };
    if (input.f === 'delete-tree') return { ok: true, next: '[]' };
    if (input.f === 'txn') {
      const { next, output: expected } = runGroupTxn(state, input.value as GroupTxnOp[]);
      if (output === UNKNOWN) return { ok: true, next };
      return { ok: JSON.stringify(expected) === JSON.stringify(output), next };
    }
    throw new Error(`kv-group model: unknown operation '${input.f}'`);
  },
  partition: partitionByKey,
  hash: hashString,
  equal: (a, b) => a === b,
  describeOperation(input, output) {
    const key = input.key !== undefined ? `[${show(input.key)}]` : '';
    const out = output === UNKNOWN ? '?' : JSON.stringify(output);
    if (input.f === 'txn') {
      const ops = (input.value as GroupTxnOp[])
        .map(
          (op) =>
            `${op.verb}#${op.slot}${op.from !== undefined ? ` ${show(op.from)}` : ''}${op.value !== undefined ? `→${show(op.value)}` : ''}`,
        )
        .join(', ');
      return `txn${key}(${ops}) -> ${out}`;
    }
    return `${input.f}${key}() -> ${out}`;
  },
  describeState: (state) => state,
  readOnly: (input, output) =>
    input.f === 'read-tree' ||
    input.f === 'read-keys' ||
    (input.f === 'txn' && output !== UNKNOWN && (output as GroupTxnOutput).ok === false),
  acceptsUnknown: true,
};

export const models: Record<string, Model<any, RegisterInput, unknown>> = {
  etcd: etcdModel,
  register: registerModel,
  kv: kvModel,
  'kv-group': kvGroupModel,
};
