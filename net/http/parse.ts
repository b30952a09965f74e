/**
 * Pure parsing helpers for the Consul-compatible HTTP API: Go durations, Go booleans, presence-based
 * query flags, uint64 query parameters, and Go `encoding/json`-style case-insensitive request keys.
 *
 * Nothing here does I/O; every function is a value → value map, unit-tested in parse.test.ts.
 * The reference behaviour is Consul's `agent/http.go` (parseWait, parseConsistency, decodeBody) and
 * Go's `time.ParseDuration`, `strconv.ParseBool` and `encoding/json` field matching.
 */

/** Blocking queries wait 5 minutes when `?wait` is absent (Consul's `defaultQueryTime`). */
export const waitMsDefault = 5 * 60_000;
/** A longer `?wait` is silently capped at 10 minutes (Consul's `maxQueryTime`). */
export const waitMsMax = 10 * 60_000;

const durationUnitNs: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3, // U+00B5 micro sign
  μs: 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/**
 * Go's `time.ParseDuration`: a signed sequence of decimal numbers, each with an optional fraction and a
 * unit suffix ("300ms", "-1.5h", "2h45m"); "0" alone is allowed. Returns milliseconds (may be fractional
 * or negative), or undefined when Go would return an error.
 */
export function parseGoDurationMs(text: string): number | undefined {
  let s = text;
  if (s === '') return undefined;
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let totalNs = 0;
  while (s !== '') {
    const m = /^([0-9]*)(\.[0-9]*)?/.exec(s)!;
    const whole = m[1]!;
    const frac = m[2] ?? '';
    // Go requires at least one digit on one side of the point.
    if (whole === '' && frac.length <= 1) return undefined;
    s = s.slice(m[0].length);
    const u = /^[^0-9.]+/.exec(s);
    if (!u) return undefined; // missing unit
    const unitNs = durationUnitNs[u[0]];
    if (unitNs === undefined) return undefined;
    s = s.slice(u[0].length);
    totalNs += Number(`${whole === '' ? '0' : whole}${frac === '.' ? '' : frac}`) * unitNs;
    if (!Number.isFinite(totalNs) || totalNs > 9.223372036854775807e18) return undefined; // int64 overflow
  }
  return (sign * totalNs) / 1e6;
}

/** Go's `strconv.ParseBool`. Returns undefined for anything it rejects. */
export function parseGoBool(text: string): boolean | undefined {
  switch (text) {
    case '1':
    case 't':
    case 'T':
    case 'true':
    case 'TRUE':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'false':
    case 'FALSE':
    case 'False':
      return false;
    default:
      return undefined;
  }
}

/**
 * A presence-based boolean query flag as Consul reads `?recurse`, `?keys`, `?raw`, `?passing`, `?wan`:
 * the flag is on when the parameter is present, whatever its value (`?recurse`, `?recurse=1`,
 * `?keys=True`), except that an explicit Go-false literal (`?passing=false`, `?wan=0`) turns it off.
 */
export function queryFlag(query: URLSearchParams, name: string): boolean {
  if (!query.has(name)) return false;
  const value = query.get(name)!;
  return parseGoBool(value) !== false;
}

/** A decimal uint64 query parameter that must fit a JS safe integer (indexes never come near 2^53). */
export function parseUint(text: string): number | undefined {
  if (!/^[0-9]{1,16}$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * `?index=`: any uint64, as Consul's parseWait (strconv.ParseUint). Indexes above 2^53 − 1 cannot be
 * reached by a real store here, so they are clamped to it: the query blocks until its wait runs out.
 */
export function parseIndexParam(text: string): number | undefined {
  if (!/^[0-9]{1,20}$/.test(text)) return undefined;
  const n = BigInt(text);
  if (n > 18446744073709551615n) return undefined;
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

/** The blocking part of a read's query string, validated as Consul's `parseWait` does. */
export interface BlockingParams {
  /** Block while the result's index ≤ minIndex; 0 means do not block. */
  readonly minIndex: number;
  /** How long to block at most, before jitter; capped at `waitMsMax`. */
  readonly waitMs: number;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export function parseBlocking(query: URLSearchParams): Parsed<BlockingParams> {
  let waitMs = waitMsDefault;
  const wait = query.get('wait');
  if (wait !== null && wait !== '') {
    const ms = parseGoDurationMs(wait);
    if (ms === undefined || ms < 0) return { ok: false, error: 'Invalid wait time' };
    waitMs = Math.min(ms, waitMsMax);
  }
  let minIndex = 0;
  const index = query.get('index');
  if (index !== null && index !== '') {
    const n = parseIndexParam(index);
    if (n === undefined) return { ok: false, error: 'Invalid index' };
    minIndex = n;
  }
  return { ok: true, value: { minIndex, waitMs: Math.round(waitMs) } };
}

export type Consistency = 'default' | 'stale' | 'consistent';

/** `?stale` and `?consistent` (presence-based); both at once is a 400, as in Consul's parseConsistency. */
export function parseConsistency(query: URLSearchParams): Parsed<Consistency> {
  const stale = query.has('stale');
  const consistent = query.has('consistent');
  if (stale && consistent)
    return { ok: false, error: 'Cannot specify ?stale with ?consistent, conflicting semantics.' };
  return { ok: true, value: stale ? 'stale' : consistent ? 'consistent' : 'default' };
}

// ─────────────────────────────────── case-insensitive JSON keys ───────────────────────────────────

/**
 * The shape of a request body, enough to read it the way Consul's decoder does and no other way. A
 * struct field matches its canonical name, the same name in any case (Go's `encoding/json`: python
 * sends `name`, `serviceid`), or its snake_case form (`enable_tag_override`, Consul's
 * `lib.TranslateKeys`). Anything else is refused, never guessed: an unknown field (`K_V`, `N_ame`) is
 * an error naming it, and so are two keys that name one field (`Name` and `name`), so that no reader
 * of the body can see a different request than the one executed. Keys of map-valued fields (`Meta`,
 * `NodeMeta`, `Header`) are user data and are never rewritten. Type mismatches are errors, as in Go.
 * Config files, which carry keys for other readers, are decoded with `unknownFields: 'ignore'`.
 */
import { parseKvFlags } from '../../core/store/types.js';

export type Schema =
  | { readonly t: 'struct'; readonly fields: Readonly<Record<string, Schema>> }
  | { readonly t: 'map'; readonly value: Schema }
  | { readonly t: 'array'; readonly item: Schema }
  | { readonly t: 'string' }
  | { readonly t: 'int' }
  | { readonly t: 'bool' }
  /** A Go `time.Duration` field in a JSON body: a Go duration string or a number of nanoseconds. */
  | { readonly t: 'duration' }
  /** Anything; kept as is. */
  | { readonly t: 'any' }
  /**
   * A Go uint64 (KV flags): a JSON integer, exact even above 2^53 − 1 (decodeJsonBody keeps the digits
   * of long integers as text so that nothing is rounded), normalised to core's KvFlags.
   */
  | { readonly t: 'uint64' };

export const S = {
  string: { t: 'string' } as Schema,
  int: { t: 'int' } as Schema,
  bool: { t: 'bool' } as Schema,
  duration: { t: 'duration' } as Schema,
  any: { t: 'any' } as Schema,
  uint64: { t: 'uint64' } as Schema,
  struct: (fields: Record<string, Schema>): Schema => ({ t: 'struct', fields }),
  map: (value: Schema): Schema => ({ t: 'map', value }),
  array: (item: Schema): Schema => ({ t: 'array', item }),
};

/** `EnableTagOverride` → `enable_tag_override`, `ServiceID` → `service_id`, `TLSSkipVerify` → `tls_skip_verify`. */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

const foldedFieldsCache = new WeakMap<object, Map<string, string>>();

/** Lower-cased spelling (any-case name, or its snake_case form) → canonical field name. */
function foldedFields(fields: Readonly<Record<string, Schema>>): Map<string, string> {
  let folded = foldedFieldsCache.get(fields);
  if (!folded) {
    folded = new Map();
    for (const name of Object.keys(fields)) {
      folded.set(name.toLowerCase(), name);
      folded.set(snakeCase(name), name);
    }
    foldedFieldsCache.set(fields, folded);
  }
  return folded;
}

export interface DecodeOptions {
  /** 'refuse' (request bodies, the default): an unknown field is an error. 'ignore': config files. */
  readonly unknownFields?: 'refuse' | 'ignore';
}

function goType(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof LongInteger) return 'number';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'object' ? 'object' : typeof value;
}

/**
 * Rewrites `value`'s keys to the canonical names of `schema` and checks leaf types. Returns the
 * normalised value or a Go-flavoured decode error ("json: cannot unmarshal string into Go struct field
 * .Port of type int"). JSON null is accepted everywhere (Go leaves the zero value) and dropped.
 */
export function normalizeKeys(value: unknown, schema: Schema, path = '', options: DecodeOptions = {}): Parsed<unknown> {
  if (value === null) return { ok: true, value: undefined };
  // Only uint64 fields keep a long integer's digits; elsewhere it is the number JSON.parse gives.
  if (value instanceof LongInteger && schema.t !== 'uint64') value = Number(value.digits);
  const mismatch = (goName: string): Parsed<unknown> => ({
    ok: false,
    error: `json: cannot unmarshal ${goType(value)} into Go ${path === '' ? 'value' : `struct field ${path}`} of type ${goName}`,
  });
  switch (schema.t) {
    case 'any':
      return { ok: true, value: plainNumbers(value) };
    case 'string':
      return typeof value === 'string' ? { ok: true, value } : mismatch('string');
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) ? { ok: true, value } : mismatch('int');
    case 'uint64': {
      // Long integers arrive as their digits (LongInteger, from decodeJsonBody); a JSON string is still a string.
      const digits =
        value instanceof LongInteger
          ? value.digits
          : typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
            ? String(value)
            : undefined;
      const flags = digits === undefined ? undefined : parseKvFlags(digits);
      return flags !== undefined ? { ok: true, value: flags } : mismatch('uint64');
    }
    case 'bool':
      return typeof value === 'boolean' ? { ok: true, value } : mismatch('bool');
    case 'duration':
      return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))
        ? { ok: true, value }
        : mismatch('time.Duration');
    case 'array': {
      if (!Array.isArray(value)) return mismatch('[]');
      const out: unknown[] = [];
      for (const [i, item] of value.entries()) {
        const r = normalizeKeys(item, schema.item, `${path}[${i}]`, options);
        if (!r.ok) return r;
        out.push(r.value === undefined ? null : r.value);
      }
      return { ok: true, value: out };
    }
    case 'map': {
      if (goType(value) !== 'object') return mismatch('map');
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const r = normalizeKeys(v, schema.value, `${path}.${k}`, options);
        if (!r.ok) return r;
        if (r.value !== undefined) out[k] = r.value;
      }
      return { ok: true, value: out };
    }
    case 'struct': {
      if (goType(value) !== 'object') return mismatch('struct');
      const folded = foldedFields(schema.fields);
      const out: Record<string, unknown> = {};
      const seen = new Map<string, string>();
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const canonical = Object.hasOwn(schema.fields, k) ? k : folded.get(k.toLowerCase());
        if (canonical === undefined) {
          if (options.unknownFields === 'ignore') continue;
          return { ok: false, error: `json: unknown field ${JSON.stringify(k)}${path === '' ? '' : ` in ${path}`}` };
        }
        const earlier = seen.get(canonical);
        if (earlier !== undefined)
          return {
            ok: false,
            error: `json: duplicate field ${JSON.stringify(canonical)}${path === '' ? '' : ` in ${path}`} (as ${JSON.stringify(earlier)} and ${JSON.stringify(k)})`,
          };
        seen.set(canonical, k);
        const r = normalizeKeys(v, schema.fields[canonical]!, `${path}.${canonical}`, options);
        if (!r.ok) return r;
        if (r.value === undefined) delete out[canonical];
        else out[canonical] = r.value;
      }
      return { ok: true, value: out };
    }
  }
}

/** Parses a JSON body and normalises it; errors read as Consul's "Request decode failed: …". */
export function decodeJsonBody(
  body: Uint8Array | string,
  schema: Schema,
  options: DecodeOptions = {},
): Parsed<unknown> {
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  // Refused before parsing: JSON.parse and the recursive normalizer would overflow the stack (a 500).
  if (checkJsonTooDeep(text))
    return { ok: false, error: `Request decode failed: JSON nested deeper than ${jsonDepthMax} levels` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `Request decode failed: ${(error as Error).message}` };
  }
  // JSON.parse keeps the last of two equal keys; the body is refused instead, so nobody reads the first.
  const duplicate = text.includes('{') ? firstDuplicateKey(text) : undefined;
  if (duplicate !== undefined)
    return { ok: false, error: `Request decode failed: json: duplicate key ${JSON.stringify(duplicate)}` };
  // JSON.parse rounds integers above 2^53; where the body has one, parse again keeping their digits.
  if (longIntegerHint.test(text)) parsed = reviveLongIntegers(text, parsed);
  const r = normalizeKeys(parsed, schema, '', options);
  if (!r.ok) return { ok: false, error: `Request decode failed: ${r.error}` };
  return r;
}

/** Deepest JSON nesting scanned for duplicate keys; JSON.parse has accepted the text already. */
const jsonDepthMax = 512;

/** Whether `text` opens more than `jsonDepthMax` arrays or objects at once (strings skipped). A linear scan. */
export function checkJsonTooDeep(text: string): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > jsonDepthMax) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return false;
}

/**
 * The first key that appears twice in one object of `text` (valid JSON), or undefined. A linear scan:
 * a stack of the keys seen in each open object.
 */
export function firstDuplicateKey(text: string): string | undefined {
  const stack: (Set<string> | null)[] = []; // a Set per open object, null per open array
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      const keys = stack[stack.length - 1];
      if (expectKey && keys) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
    } else if (c === '{') {
      if (stack.length >= jsonDepthMax) return undefined;
      stack.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      if (stack.length >= jsonDepthMax) return undefined;
      stack.push(null);
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = stack[stack.length - 1] instanceof Set;
    }
  }
  return undefined;
}

// ───────────────────────────────────────── long integers ─────────────────────────────────────────

/** The digits of a JSON integer too long for a double to hold exactly (16 digits and more). */
export class LongInteger {
  constructor(readonly digits: string) {}
}

const longIntegerHint = /[0-9]{16}/;

/**
 * JSON.parse that keeps integers of 16 or more digits exact, as their digit strings (what the CLI
 * reads back: uint64 KV flags such as Go's lock flag). Throws like JSON.parse on bad text.
 */
export function parseJsonExact(text: string): unknown {
  const parsed = JSON.parse(text) as unknown;
  if (!longIntegerHint.test(text)) return parsed;
  return JSON.parse(
    JSON.stringify(reviveLongIntegers(text, parsed), (_key, v: unknown) => (v instanceof LongInteger ? v.digits : v)),
  );
}

/**
 * The same value as `JSON.parse(text)` (which already succeeded), except that every integer of 16 or
 * more digits outside strings is a LongInteger. A small scanner over the text finds those tokens in
 * order; a second JSON.parse, with each such token quoted and tagged, puts them in place.
 */
function reviveLongIntegers(text: string, parsed: unknown): unknown {
  let out = '';
  let last = 0;
  let found = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      // Skip the string, honouring escapes.
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      continue;
    }
    if ((c >= '0' && c <= '9') || c === '-') {
      let j = i + 1;
      while (j < text.length && /[0-9.eE+\-]/.test(text[j]!)) j++;
      const token = text.slice(i, j);
      if (/^[0-9]{16,}$/.test(token)) {
        out += `${text.slice(last, i)}"${longTagEscaped}${token}"`;
        last = j;
        found = true;
      }
      i = j - 1;
    }
  }
  if (!found) return parsed;
  out += text.slice(last);
  return JSON.parse(out, (_key, v: unknown) =>
    typeof v === 'string' && v.startsWith(longTag) ? new LongInteger(v.slice(longTag.length)) : v,
  );
}

const longNonce = Math.random().toString(36).slice(2, 10);
/** The tag as parsed (a NUL, then a nonce: no client string can carry it) and as written into JSON text. */
const longTag = `\u0000long${longNonce}:`;
const longTagEscaped = `\\u0000long${longNonce}:`;

/** `value` with every LongInteger turned back into a (rounded) number, as JSON.parse would give. */
function plainNumbers(value: unknown): unknown {
  if (value instanceof LongInteger) return Number(value.digits);
  if (Array.isArray(value))
    return value.some((v) => v instanceof LongInteger || (v !== null && typeof v === 'object'))
      ? value.map(plainNumbers)
      : value;
  if (value !== null && typeof value === 'object') {
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const p = plainNumbers(v);
      if (p !== v) changed = true;
      out[k] = p;
    }
    return changed ? out : value;
  }
  return value;
}
