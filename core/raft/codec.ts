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
  return JSON.stringify(value, function (this: unknown, _key: string, v: unknown) {
    if (v instanceof Uint8Array) return { [bytesTag]: toBase64(v) };
    if (v instanceof Map) return { [mapTag]: [...v.entries()] };
    if (v === undefined && Array.isArray(this)) return { [undefinedTag]: 1 };
    return v;
  });
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
