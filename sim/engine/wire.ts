/**
 * What a message looks like after the wire, and its fingerprint for the trace hash — without encoding
 * it when it need not be encoded.
 *
 * The simulator used to pack every message with msgpackr per destination and unpack it on delivery,
 * and to fold the bytes into the trace hash: about 30% of a KV run. Most messages are plain data
 * (plain objects, arrays, strings, numbers, booleans, null, byte arrays), and for plain data the
 * decoder's output is an exact copy of the input. `wireCopy` makes that copy in one walk, folding a
 * structural digest of it on the way; at the first value that is not plain (a Map, a Set, a class
 * instance, undefined, -0, a lone surrogate, a typed array other than bytes, …) it gives up and
 * returns what msgpackr really gives (`unpack(pack(value))`), so the receiver sees exactly what the
 * wire gives — a Map arriving as a plain object breaks the receiver in the simulator as it would on
 * a real network. The digest is taken of the delivered value in every mode, so a run with the real
 * codec (`codec: 'bytes'`) has the same trace hash as the fast copy (`codec: 'copy'`): a test runs
 * both and compares (sim/test/wire.test.ts), and a property test checks copy ≡ unpack(pack(value)).
 *
 * Byte arrays arrive as Buffers (what msgpackr's decoder returns), with their own memory.
 */
import { pack, unpack } from 'msgpackr';

/** The value a receiver gets and the digest of it (two 32-bit lanes). */
export interface WireParcel {
  readonly value: unknown;
  readonly digestHi: number;
  readonly digestLo: number;
}

/** Nesting deeper than this is not walked by the copier (the codec path takes it). */
const depthMax = 64;

// The digest's two lanes, folded by the walkers below (module state: the walkers are not re-entrant,
// and nothing they call can call back into them).
let hi = 0;
let lo = 0;
const floatView = new Float64Array(1);
const floatWords = new Uint32Array(floatView.buffer);

function word(value: number): void {
  hi = Math.imul(hi ^ value, 0x01000193);
  lo = Math.imul(lo ^ (value + 0x9e3779b9), 0x5bd1e995);
  lo ^= lo >>> 15;
}

// Type tags folded before each value (append-only: they are part of every trace hash).
const tagNull = 1;
const tagFalse = 2;
const tagTrue = 3;
const tagInt = 4;
const tagFloat = 5;
const tagString = 6;
const tagArray = 7;
const tagObject = 8;
const tagBytes = 9;
const tagUndefined = 10;
const tagOther = 11; // anything else a decoder may give (Date, bigint, …): its type and text
const tagUndecodable = 12; // a stranger's bytes that do not decode

function foldNumber(n: number): void {
  if ((n | 0) === n) {
    word(tagInt);
    word(n);
  } else {
    floatView[0] = n;
    word(tagFloat);
    word(floatWords[0]!);
    word(floatWords[1]!);
  }
}

/**
 * Strings are folded as their length and a 53-bit hash of their UTF-16 units (two FNV-style lanes),
 * not unit by unit into the digest: a message is mostly the same short strings (field names, server
 * ids, node ids, message types), so the hash of a string up to `cachedLengthMax` units is remembered
 * (`stringHashes`; cleared when it holds `cachedStringsMax`). What a string folds to depends only on the
 * string, never on what the cache held, so the digest and the trace stay a pure function of the run.
 */
const cachedLengthMax = 64;
const cachedStringsMax = 16_384;
/** string → its hash (≥ 0), or −1 − hash when it holds an unpaired surrogate (UTF-8 would change it). */
const stringHashes = new Map<string, number>();
const lane2Scale = 0x100000000;

/** The signed hash of `s` as `stringHashes` keeps it. */
function stringHash(s: string): number {
  let a = 0x811c9dc5 | 0;
  let b = 0x050c5d1f | 0;
  let surrogates = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    surrogates |= (c & 0xf800) ^ 0xd800 ? 0 : 1;
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ (c + 0x9e3779b9), 0x5bd1e995);
  }
  b ^= b >>> 15;
  const hash = (a >>> 0) + (b & 0x1fffff) * lane2Scale;
  return surrogates === 0 || wellFormed(s) ? hash : -1 - hash;
}

/**
 * A direct-mapped memo in front of `stringHashes`, indexed by where the string comes in the walk of the
 * current value and its length: consecutive messages of one type fold the same field names and ids
 * in the same order, so the string at a position is most often the very string seen there last time,
 * and `===` with it (a pointer compare for the same string) is much cheaper than a Map lookup (the
 * lookups were ~9% of a warm kv/jepsen-cas run). What a string folds to still depends only on the
 * string: a slot holding another string is a miss, answered by the Map.
 */
const slotCount = 512; // a power of two
const slotStrings: string[] = new Array<string>(slotCount).fill('');
const slotHashes: number[] = new Array<number>(slotCount).fill(stringHash('')); // each slot starts as ''
/** How many strings the current walk has folded (reset with the digest). */
let stringPosition = 0;

function signedHashOf(s: string): number {
  if (s.length > cachedLengthMax) return stringHash(s); // neither memo keeps long strings
  const slot = ((stringPosition++ << 4) ^ s.length) & (slotCount - 1);
  if (slotStrings[slot] === s) return slotHashes[slot]!;
  const hash = signedHashOfMemo(s);
  slotStrings[slot] = s;
  slotHashes[slot] = hash;
  return hash;
}

function signedHashOfMemo(s: string): number {
  let hash = stringHashes.get(s);
  if (hash === undefined) {
    if (stringHashes.size >= cachedStringsMax) stringHashes.clear();
    hash = stringHash(s);
    stringHashes.set(s, hash);
  }
  return hash;
}

function foldHash(length: number, hash: number): void {
  word(tagString | (length << 4));
  word(hash >>> 0);
  word((hash / lane2Scale) | 0);
}

function foldString(s: string): void {
  const hash = signedHashOf(s);
  foldHash(s.length, hash >= 0 ? hash : -1 - hash);
}

/**
 * foldString for the copier, which must also refuse a string the UTF-8 codec would change (an
 * unpaired surrogate): false then, and the digest is abandoned with the copy.
 */
function foldStringChecked(s: string): boolean {
  const hash = signedHashOf(s);
  if (hash < 0) return false;
  foldHash(s.length, hash);
  return true;
}

function foldBytes(bytes: Uint8Array): void {
  const n = bytes.length;
  word(tagBytes);
  word(n);
  let i = 0;
  for (; i + 3 < n; i += 4) word(bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
  for (; i < n; i++) word(bytes[i]!);
}

/** Thrown inside the copier when a value is not plain: the caller takes the codec path. */
const notPlain = { notPlain: true };

const hasOwn = Object.prototype.hasOwnProperty;

/** A string the UTF-8 codec returns unchanged: no unpaired surrogate. */
function wellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff || i + 1 >= s.length) return false;
    const d = s.charCodeAt(i + 1);
    if (d < 0xdc00 || d > 0xdfff) return false;
    i++;
  }
  return true;
}

function copyValue(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'number':
      if (value === 0 && 1 / value < 0) throw notPlain; // -0 arrives as 0
      foldNumber(value);
      return value;
    case 'string':
      if (!foldStringChecked(value)) throw notPlain;
      return value;
    case 'boolean':
      word(value ? tagTrue : tagFalse);
      return value;
    case 'object': {
      if (value === null) {
        word(tagNull);
        return null;
      }
      if (depth >= depthMax) throw notPlain;
      if (Array.isArray(value)) {
        const n = value.length;
        word(tagArray | (n << 4));
        const copy = new Array(n);
        for (let i = 0; i < n; i++) copy[i] = copyValue(value[i], depth + 1);
        return copy;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto === Object.prototype) {
        const copy: Record<string, unknown> = {};
        // The key count is folded after the fields (one pass), as the decoded value's walk does.
        let count = 0;
        word(tagObject);
        for (const key in value) {
          if (!hasOwn.call(value, key)) continue;
          const field = (value as Record<string, unknown>)[key];
          if (typeof field === 'function' || typeof field === 'symbol') throw notPlain;
          if (key === '__proto__' || !foldStringChecked(key)) throw notPlain;
          copy[key] = copyValue(field, depth + 1);
          count++;
        }
        word(count);
        return copy;
      }
      if (value instanceof Uint8Array && (proto === Uint8Array.prototype || proto === Buffer.prototype)) {
        foldBytes(value);
        return Buffer.from(value);
      }
      throw notPlain;
    }
    default:
      throw notPlain; // undefined, function, symbol, bigint
  }
}

/** Folds any value a decoder may return (the codec path, and the check of the copier). */
function foldValue(value: unknown): void {
  switch (typeof value) {
    case 'number':
      foldNumber(value);
      return;
    case 'string':
      foldString(value);
      return;
    case 'boolean':
      word(value ? tagTrue : tagFalse);
      return;
    case 'undefined':
      word(tagUndefined);
      return;
    case 'object': {
      if (value === null) {
        word(tagNull);
        return;
      }
      if (Array.isArray(value)) {
        word(tagArray | (value.length << 4));
        for (let i = 0; i < value.length; i++) foldValue(value[i]);
        return;
      }
      if (value instanceof Uint8Array) {
        foldBytes(value);
        return;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto === Object.prototype || proto === null) {
        const keys = Object.keys(value);
        word(tagObject);
        for (const key of keys) {
          foldString(key);
          foldValue((value as Record<string, unknown>)[key]);
        }
        word(keys.length);
        return;
      }
      word(tagOther);
      foldString(Object.prototype.toString.call(value));
      foldString(String(value));
      return;
    }
    default:
      word(tagOther);
      foldString(typeof value);
      foldString(String(value));
  }
}

function parcel(value: unknown): WireParcel {
  return { value, digestHi: hi >>> 0, digestLo: lo >>> 0 };
}

function reset(): void {
  stringPosition = 0;
  hi = 0x811c9dc5 | 0;
  lo = 0x050c5d1f | 0;
}

/** The value after the wire (msgpackr), as its receiver decodes it. Throws if it does not encode. */
export function roundTrip(value: unknown): unknown {
  return unpack(pack(value));
}

/** What the receiver of `value` gets, and its digest: a plain copy when `value` is plain, else the codec's output. */
export function wireCopy(value: unknown): WireParcel {
  reset();
  try {
    return parcel(copyValue(value, 0));
  } catch (error) {
    if (error !== notPlain) throw error;
  }
  return delivered(roundTrip(value));
}

/** The parcel for a value that came out of the decoder (the `bytes` codec mode, the stranger's bytes). */
export function delivered(value: unknown): WireParcel {
  reset();
  foldValue(value);
  return parcel(value);
}

/** The parcel for a stranger's bytes that do not decode: the frame decoder drops them. */
export function undecodable(): WireParcel {
  reset();
  word(tagUndecodable);
  return parcel(undefined);
}

/**
 * Another copy of a parcel's value for a second delivery of the same message (network duplication):
 * each receiver gets its own objects, as each decodes its own bytes. The value is plain (it came from
 * the copier or the decoder); a decoder's value may hold types the copier refuses, then the codec copies.
 */
export function copyAgain(value: unknown): unknown {
  reset();
  try {
    return copyValue(value, 0);
  } catch (error) {
    if (error !== notPlain) throw error;
  }
  return roundTrip(value);
}
