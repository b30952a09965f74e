/**
 * Parsers from three history formats to `LinOp<RegisterInput>`:
 *
 * - Jepsen etcd logs (`INFO  jepsen.util - 3\t:invoke\t:cas\t[1 2]`), Porcupine's test_data/jepsen;
 * - Jepsen EDN kv logs (`{:process 9, :type :invoke, :f :append, :key "0", :value "x 9 0 y"}`),
 *   Porcupine's test_data/kv;
 * - our own History (sim/history.ts): one JSON object per line with id, process, f, key, input, node,
 *   invokeMs, completeMs, outcome ok|fail|unknown, output.
 *
 * Semantics (shared/linearizability/README.md): in the Jepsen logs the line index is the clock. An
 * `:info` completion, or no completion at all, is an unknown outcome: response time +∞ and an output
 * the model accepts whatever it is. A failed cas is a completed cas that observed another value. A
 * failed read, write, put or append did not happen (Jepsen's `:fail`) and is dropped; a failed read is
 * kept as a read with unknown output only in the etcd logs, where that is what Porcupine does (a read
 * never changes the state, so both give the same verdict).
 */
import type { Operation } from '../../history.js';
import type { LinOp, RegisterInput } from './types.js';
import { UNKNOWN } from './types.js';

export type HistoryFormat = 'jepsen-etcd-log' | 'jepsen-edn-kv' | 'jsonl';
export type ParsedOp = LinOp<RegisterInput, unknown>;

interface Pending {
  process: number;
  input: RegisterInput;
  callTime: number;
}

class Builder {
  private readonly done: { pending: Pending; output: unknown; returnTime: number }[] = [];
  private readonly open = new Map<number, Pending>();

  invoke(process: number, input: RegisterInput, time: number, where: string): void {
    if (this.open.has(process))
      throw new Error(`${where}: process ${process} invoked while its previous operation is still open`);
    this.open.set(process, { process, input, callTime: time });
  }

  /** Completes the open operation of `process`; `output === null` with `drop` removes it. */
  complete(process: number, f: string, output: unknown, time: number, where: string, drop = false): void {
    const pending = this.open.get(process);
    if (!pending) throw new Error(`${where}: completion for process ${process}, which has no open operation`);
    if (pending.input.f !== f)
      throw new Error(`${where}: completion :${f} does not match the open :${pending.input.f}`);
    this.open.delete(process);
    if (!drop) this.done.push({ pending, output, returnTime: time });
  }

  /** An unknown outcome: the operation stays in the history with response time +∞. */
  abandon(process: number, f: string, where: string): void {
    this.complete(process, f, UNKNOWN, Infinity, where);
  }

  finish(): ParsedOp[] {
    for (const pending of this.open.values()) this.done.push({ pending, output: UNKNOWN, returnTime: Infinity });
    this.open.clear();
    this.done.sort((a, b) => a.pending.callTime - b.pending.callTime);
    return this.done.map((d, id) => ({
      id,
      process: d.pending.process,
      input: d.pending.input,
      output: d.output,
      callTime: d.pending.callTime,
      returnTime: d.returnTime,
    }));
  }
}

const ETCD_LINE =
  /^INFO\s+jepsen\.util\s+-\s+(\d+)\s+(:invoke|:ok|:fail|:info)\s+(:read|:write|:cas)\s+(nil|-?\d+|\[-?\d+\s+-?\d+\]|:timed-out)\s*$/;

function etcdValue(text: string): number | null {
  return text === 'nil' ? null : Number(text);
}

/** Jepsen etcd log → register operations (no key: one register). */
export function parseEtcdLog(text: string): ParsedOp[] {
  const builder = new Builder();
  const lines = text.split('\n');
  let time = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const where = `line ${i + 1}`;
    const m = ETCD_LINE.exec(line);
    if (!m) throw new Error(`${where}: not a Jepsen etcd log line: ${JSON.stringify(line.slice(0, 80))}`);
    const process = Number(m[1]);
    const type = m[2]!;
    const f = m[3]!.slice(1);
    const raw = m[4]!;
    if (type === ':invoke') {
      let input: RegisterInput;
      if (f === 'read') input = { f };
      else if (f === 'write') input = { f, value: etcdValue(raw) };
      else {
        const pair = /^\[(-?\d+)\s+(-?\d+)\]$/.exec(raw);
        if (!pair) throw new Error(`${where}: cas needs [from to], got ${raw}`);
        input = { f, from: Number(pair[1]), to: Number(pair[2]) };
      }
      builder.invoke(process, input, time, where);
    } else if (type === ':info') {
      builder.abandon(process, f, where);
    } else if (type === ':ok') {
      builder.complete(process, f, f === 'read' ? etcdValue(raw) : f === 'cas' ? true : null, time, where);
    } else if (f === 'cas') {
      builder.complete(process, f, false, time, where);
    } else if (f === 'read') {
      builder.complete(process, f, UNKNOWN, time, where);
    } else {
      builder.complete(process, f, null, time, where, true);
    }
    time++;
  }
  return builder.finish();
}

const KV_LINE =
  /^\{:process (\d+), :type :(invoke|ok|fail|info), :f :(get|put|append), :key "([^"]*)", :value (nil|"[^"]*")\}\s*$/;

/** Jepsen EDN kv log → get/put/append operations with keys. */
export function parseKvEdn(text: string): ParsedOp[] {
  const builder = new Builder();
  const lines = text.split('\n');
  let time = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const where = `line ${i + 1}`;
    const m = KV_LINE.exec(line);
    if (!m) throw new Error(`${where}: not a Jepsen kv line: ${JSON.stringify(line.slice(0, 80))}`);
    const process = Number(m[1]);
    const type = m[2]!;
    const f = m[3]!;
    const key = m[4]!;
    const value = m[5] === 'nil' ? null : m[5]!.slice(1, -1);
    if (type === 'invoke') builder.invoke(process, f === 'get' ? { f, key } : { f, key, value }, time, where);
    else if (type === 'ok') builder.complete(process, f, f === 'get' ? (value ?? '') : null, time, where);
    else if (type === 'info') builder.abandon(process, f, where);
    else builder.complete(process, f, null, time, where, true);
    time++;
  }
  return builder.finish();
}

function pick(input: unknown, names: string[]): unknown {
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
    const record = input as Record<string, unknown>;
    for (const name of names) if (name in record) return record[name];
  }
  return undefined;
}

/** A read's output may be the value itself or an object carrying it (`{value, index}`). */
function readValue(output: unknown): unknown {
  if (output !== null && typeof output === 'object' && !Array.isArray(output) && 'value' in output)
    return (output as { value: unknown }).value;
  return output ?? null;
}

/** The input of our History ops → RegisterInput. */
function historyInput(f: string, key: string | undefined, input: unknown): RegisterInput {
  const base = key !== undefined ? { f, key } : { f };
  if (f === 'cas') {
    let from: unknown, to: unknown;
    if (Array.isArray(input)) [from, to] = input as unknown[];
    else {
      from = pick(input, ['from', 'expected', 'old']);
      to = pick(input, ['to', 'value', 'new']);
    }
    return { ...base, from: from ?? null, to: to ?? null };
  }
  if (f === 'delete-cas') return { ...base, from: pick(input, ['from', 'expected', 'old']) ?? null };
  if (f === 'read' || f === 'get' || f === 'delete') return base;
  const value = input !== null && typeof input === 'object' && !Array.isArray(input) ? pick(input, ['value']) : input;
  return { ...base, value: value ?? null };
}

/**
 * One record of our History (an `Operation`, or its JSON) → a LinOp, or null when it did not happen
 * (a failed operation other than cas). `where` prefixes error messages.
 */
function historyRecordToOp(r: Record<string, unknown>, where: string): ParsedOp | null {
  const f = r['f'];
  const invokeMs = r['invokeMs'];
  if (typeof f !== 'string' || typeof invokeMs !== 'number')
    throw new Error(`${where}: a history record needs f (string) and invokeMs (number)`);
  const key = r['key'] === undefined || r['key'] === null ? undefined : String(r['key']);
  const input = historyInput(f, key, r['input']);
  const outcome = r['outcome'];
  const completeMs = r['completeMs'];
  let output: unknown;
  let returnTime: number;
  if (outcome === 'ok' || outcome === 'fail') {
    if (typeof completeMs !== 'number' || completeMs < invokeMs)
      throw new Error(`${where}: a completed operation needs completeMs >= invokeMs`);
    returnTime = completeMs;
    if (outcome === 'fail') {
      if (f !== 'cas' && f !== 'delete-cas') return null; // did not happen
      output = false;
    } else if (f === 'cas' || f === 'delete-cas') output = typeof r['output'] === 'boolean' ? r['output'] : true;
    else if (f === 'read' || f === 'get') output = readValue(r['output']);
    else output = null;
  } else if (outcome === undefined || outcome === null || outcome === 'unknown') {
    output = UNKNOWN;
    returnTime = Infinity;
  } else throw new Error(`${where}: unknown outcome ${JSON.stringify(outcome)}`);
  const process = typeof r['process'] === 'number' ? r['process'] : -1;
  const id = typeof r['id'] === 'number' ? r['id'] : -1;
  return { id, process, input, output, callTime: invokeMs, returnTime };
}

/**
 * Orders by call time and keeps the History's own ids (explanations then name the operations the run
 * report shows), unless they are missing or repeated; then numbers the operations by call order.
 */
function finishHistory(records: { op: ParsedOp; line: number }[]): ParsedOp[] {
  records.sort((a, b) => a.op.callTime - b.op.callTime || a.line - b.line);
  const ids = new Set(records.map((r) => r.op.id));
  const ownIds = ids.size === records.length && !ids.has(-1);
  return records.map((r, position) => (ownIds ? r.op : { ...r.op, id: position }));
}

/** Our History JSON lines (sim/history.ts `toJsonLines`). Blank lines are ignored. */
export function parseHistoryJsonLines(text: string): ParsedOp[] {
  const records: { op: ParsedOp; line: number }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const where = `line ${i + 1}`;
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`${where}: not JSON: ${JSON.stringify(line.slice(0, 80))}`);
    }
    const op = historyRecordToOp(r, where);
    if (op) records.push({ op, line: i });
  }
  return finishHistory(records);
}

/**
 * A simulator History's operations (sim/history.ts) → LinOps for the register or kv model, without
 * the JSON round trip; the same semantics as parseHistoryJsonLines. `include` picks the operations
 * to check (e.g. only KV reads/writes/cas, not lock or session operations).
 */
export function historyToLinOps(
  ops: readonly Operation[],
  include: (op: Operation) => boolean = () => true,
): ParsedOp[] {
  const records: { op: ParsedOp; line: number }[] = [];
  for (let i = 0; i < ops.length; i++) {
    const source = ops[i]!;
    if (!include(source)) continue;
    const op = historyRecordToOp(source as unknown as Record<string, unknown>, `operation ${source.id}`);
    if (op) records.push({ op, line: i });
  }
  return finishHistory(records);
}

/** Guesses the format from the first non-blank line, falling back to the file extension. */
export function detectFormat(text: string, fileName = ''): HistoryFormat {
  const first = text
    .split('\n')
    .find((line) => line.trim() !== '')
    ?.trim();
  if (first !== undefined) {
    if (first.startsWith('INFO')) return 'jepsen-etcd-log';
    if (first.startsWith('{:')) return 'jepsen-edn-kv';
    if (first.startsWith('{"') || first.startsWith('{ "')) return 'jsonl';
    throw new Error(`cannot tell the history format from its first line: ${JSON.stringify(first.slice(0, 80))}`);
  }
  if (fileName.endsWith('.log')) return 'jepsen-etcd-log';
  if (fileName.endsWith('.txt') || fileName.endsWith('.edn')) return 'jepsen-edn-kv';
  return 'jsonl';
}

export function parseHistory(text: string, fileName = ''): { format: HistoryFormat; ops: ParsedOp[] } {
  const format = detectFormat(text, fileName);
  const ops =
    format === 'jepsen-etcd-log'
      ? parseEtcdLog(text)
      : format === 'jepsen-edn-kv'
        ? parseKvEdn(text)
        : parseHistoryJsonLines(text);
  return { format, ops };
}
