/**
 * Built-in sequential specifications for the linearizability checker.
 *
 * - `etcdModel`: one register with check-and-set, initially nil (absent). The Jepsen etcd histories
 *   (Porcupine's test_data/jepsen). A failed cas is a completed cas that observed another value.
 * - `registerModel`: the same register semantics per key (P-compositional), for our simulator's
 *   histories of reads, writes, cas and deletes against the Consul-style KV store.
 * - `kvModel`: get/put/append on strings, per key, a missing key reads as "" (Porcupine's kv model).
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
  throw new Error(`register model: unknown operation '${f}'`);
}

function describeRegisterOp(input: RegisterInput, output: unknown): string {
  const key = input.key !== undefined ? `[${show(input.key)}]` : '';
  const f = input.f;
  if (isRead(f)) return `read${key}() -> ${showOutput(output)}`;
  if (isWrite(f)) return `write${key}(${show(input.value)})${output === UNKNOWN ? ' -> ?' : ''}`;
  if (f === 'cas')
    return `cas${key}(${show(input.from)}, ${show(input.to)}) -> ${output === UNKNOWN ? '?' : output === true ? 'ok' : 'fail'}`;
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
  readOnly: (input, output) => isRead(input.f) || (input.f === 'cas' && output === false),
  acceptsUnknown: true,
};

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

export const models: Record<string, Model<any, RegisterInput, unknown>> = {
  etcd: etcdModel,
  register: registerModel,
  kv: kvModel,
};
