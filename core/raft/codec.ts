/**
 * Snapshot encoding: the FSM's plain-data snapshot (plus the session table) as one string, so that
 * InstallSnapshot can cut it into chunks by offset (Raft §7) and a resumed transfer asks for an
 * offset. JSON, extended with tags for the two non-JSON values plain data may hold here: Uint8Array
 * (KV values) and Map. Pure TypeScript: core/ uses no Node Buffer.
 */
import { assert } from '../assert.js';

const bytesTag = '\u0000b';
const mapTag = '\u0000m';
const undefinedTag = '\u0000u';

export function encodeSnapshotData(value: unknown): string {
  // The fast path builds the tagged tree first and serialises it without a replacer (a replacer is a
  // call back into JavaScript for every value: it was the cost of a snapshot); anything it does not
  // model exactly (a class instance, a boxed primitive, a cycle) takes the replacer path. Both give
  // the same text: the tests compare them on random values.
  let tagged: unknown;
  try {
    tagged = tagValue(value, '');
  } catch (error) {
    if (error !== notPlain) throw error;
    return encodeSnapshotDataByReplacer(value);
  }
  return JSON.stringify(tagged);
}

/** The reference encoding: JSON.stringify with a replacer that tags bytes, maps and array holes. */
export function encodeSnapshotDataByReplacer(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, _key: string, v: unknown) {
    if (v instanceof Uint8Array) return { [bytesTag]: toBase64(v) };
    if (v instanceof Map) return { [mapTag]: [...v.entries()] };
    if (v === undefined && Array.isArray(this)) return { [undefinedTag]: 1 };
    return v;
  });
}

/** Thrown by tagValue on a value it does not model exactly (encodeSnapshotData then uses the replacer). */
const notPlain = new Error('not plain data');
/** Deeper than this, tagValue gives up (a cycle, or data no snapshot holds): the replacer path decides. */
const tagDepthMax = 256;

/**
 * What JSON.stringify(value, replacer above) serialises for the property `key`, as a plain tree that
 * JSON.stringify serialises to the same text without a replacer: toJSON first (as the spec does), then
 * the replacer's tagging, then plain objects and arrays copied with their values tagged. Only plain
 * objects (prototype Object.prototype or null), arrays, Maps, Uint8Arrays and primitives are handled.
 */
function tagValue(v: unknown, key: string | number, inArray = false, depth = 0): unknown {
  if (depth > tagDepthMax) throw notPlain;
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function')
    v = (v as { toJSON(key: string): unknown }).toJSON(String(key));
  if (v instanceof Uint8Array) return { [bytesTag]: toBase64(v) };
  if (v instanceof Map) {
    const entries: unknown[] = [];
    for (const entry of v.entries()) entries.push(tagArray(entry, depth + 2));
    return { [mapTag]: entries };
  }
  if (v === undefined) return inArray ? { [undefinedTag]: 1 } : undefined;
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return tagArray(v, depth + 1);
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) throw notPlain;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const tagged = tagValue((v as Record<string, unknown>)[k], k, false, depth + 1);
    if (k === '__proto__') Object.defineProperty(out, k, { value: tagged, enumerable: true, writable: true });
    else out[k] = tagged;
  }
  return out;
}

function tagArray(a: readonly unknown[], depth: number): unknown[] {
  if (Object.getPrototypeOf(a) !== Array.prototype) throw notPlain;
  const out = new Array<unknown>(a.length);
  for (let i = 0; i < a.length; i++) out[i] = tagValue(a[i], i, true, depth);
  return out;
}

export function decodeSnapshotData(text: string): unknown {
  return JSON.parse(text, (_key: string, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (bytesTag in o) return fromBase64(o[bytesTag] as string);
      if (mapTag in o) return new Map(o[mapTag] as [unknown, unknown][]);
      if (undefinedTag in o) return undefined;
    }
    return v;
  });
}

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const reverse = new Map<string, number>([...alphabet].map((c, i) => [c, i]));

export function toBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!;
    const b = i + 1 < bytes.length ? bytes[i + 1]! : 0;
    const c = i + 2 < bytes.length ? bytes[i + 2]! : 0;
    const n = (a << 16) | (b << 8) | c;
    out += alphabet[(n >> 18) & 63]! + alphabet[(n >> 12) & 63]!;
    out += i + 1 < bytes.length ? alphabet[(n >> 6) & 63]! : '=';
    out += i + 2 < bytes.length ? alphabet[n & 63]! : '=';
  }
  return out;
}

export function fromBase64(text: string): Uint8Array {
  assert(text.length % 4 === 0, 'base64 text length is a multiple of 4');
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let k = 0; k < 4; k++) {
      const ch = text[i + k]!;
      n = (n << 6) | (ch === '=' ? 0 : reverse.get(ch)!);
    }
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}
