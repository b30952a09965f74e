/**
 * Conversion of normalised (PascalCase) Consul request bodies into the agent's typed definitions
 * (core/agent/api.ts): Go durations to milliseconds, base64 to bytes, `Check` + `Checks` merged.
 * Every function returns a value or a plain-text error for a 400; none throws.
 */
import type { CheckDefinition, ServiceDefinition, TxnKvOp } from '../../core/agent/api.js';
import { txnVerbs as storeTxnVerbs } from '../../core/store/types.js';
import { parseGoDurationMs, type Parsed } from './parse.js';

type Obj = Record<string, unknown>;

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (error: string): Parsed<never> => ({ ok: false, error });

/**
 * A Go `time.Duration` from a JSON body: a duration string ("10s") or a number of nanoseconds, as
 * Consul's `CheckType` decoder accepts. Returns ms, or an error worded like Go's.
 */
export function durationMs(value: unknown, field: string): Parsed<number | undefined> {
  if (value === undefined || value === '') return ok(undefined);
  if (typeof value === 'number') return ok(value / 1e6);
  if (typeof value === 'string') {
    const ms = parseGoDurationMs(value);
    if (ms === undefined) return fail(`Request decode failed: ${field}: time: invalid duration "${value}"`);
    return ok(ms);
  }
  return fail(`Request decode failed: ${field}: invalid duration`);
}

/**
 * Consul's `FixupLockDelay`: a string is a Go duration; a number below 1000 is seconds (a common
 * mistake Consul forgives), otherwise nanoseconds.
 */
export function lockDelayMs(value: unknown): Parsed<number | undefined> {
  if (typeof value === 'number') return ok(value < 1000 ? value * 1000 : value / 1e6);
  return durationMs(value, 'LockDelay');
}

const checkStatuses = new Set(['passing', 'warning', 'critical']);

/** `structs.CheckType` (normalised keys) → `CheckDefinition`. */
export function toCheckDefinition(raw: Obj): Parsed<CheckDefinition> {
  const ttl = durationMs(raw.TTL, 'TTL');
  if (!ttl.ok) return ttl;
  const interval = durationMs(raw.Interval, 'Interval');
  if (!interval.ok) return interval;
  const timeout = durationMs(raw.Timeout, 'Timeout');
  if (!timeout.ok) return timeout;
  const dereg = durationMs(raw.DeregisterCriticalServiceAfter, 'DeregisterCriticalServiceAfter');
  if (!dereg.ok) return dereg;
  const status = raw.Status as string | undefined;
  if (status !== undefined && status !== '' && !checkStatuses.has(status))
    return fail(`Invalid check status: "${status}"`);
  const def: Record<string, unknown> = {};
  const id = (raw.ID as string | undefined) || (raw.CheckID as string | undefined);
  if (id) def.id = id;
  if (raw.Name !== undefined) def.name = raw.Name;
  if (raw.Notes !== undefined) def.notes = raw.Notes;
  if (raw.ServiceID) def.serviceId = raw.ServiceID;
  if (status) def.status = status;
  if (ttl.value !== undefined) def.ttlMs = ttl.value;
  if (raw.Script) def.script = raw.Script;
  const args = (raw.Args as string[] | undefined) ?? (raw.ScriptArgs as string[] | undefined);
  if (args && args.length > 0) def.args = args;
  if (raw.HTTP) def.http = raw.HTTP;
  if (raw.Method) def.method = raw.Method;
  if (raw.Header) def.header = raw.Header;
  if (raw.Body !== undefined) def.body = raw.Body;
  if (raw.TCP) def.tcp = raw.TCP;
  if (interval.value !== undefined) def.intervalMs = interval.value;
  if (timeout.value !== undefined) def.timeoutMs = timeout.value;
  if (dereg.value !== undefined) def.deregisterCriticalServiceAfterMs = dereg.value;
  return ok(def as CheckDefinition);
}

function checksOf(raw: Obj): Parsed<CheckDefinition[]> {
  const list: Obj[] = [];
  if (raw.Check && typeof raw.Check === 'object') list.push(raw.Check as Obj);
  if (Array.isArray(raw.Checks)) for (const c of raw.Checks) if (c && typeof c === 'object') list.push(c as Obj);
  const out: CheckDefinition[] = [];
  for (const c of list) {
    const r = toCheckDefinition(c);
    if (!r.ok) return r;
    out.push(r.value);
  }
  return ok(out);
}

/** `structs.ServiceDefinition` (normalised keys) → `ServiceDefinition`. `nameField` is `Name` (agent) or `Service` (catalog). */
export function toServiceDefinition(raw: Obj, nameField: 'Name' | 'Service'): Parsed<ServiceDefinition> {
  const name = raw[nameField];
  if (typeof name !== 'string' || name === '') return fail('Missing service name');
  const checks = checksOf(raw);
  if (!checks.ok) return checks;
  const def: Record<string, unknown> = { name };
  if (raw.ID) def.id = raw.ID;
  if (raw.Tags) def.tags = raw.Tags;
  if (raw.Address) def.address = raw.Address;
  if (raw.Port !== undefined) def.port = raw.Port;
  if (raw.Meta) def.meta = raw.Meta;
  if (raw.EnableTagOverride !== undefined) def.enableTagOverride = raw.EnableTagOverride;
  if (checks.value.length > 0) def.checks = checks.value;
  return ok(def as unknown as ServiceDefinition);
}

/** A catalog registration's `Check`/`Checks` (`structs.HealthCheck`) → check definitions. */
export function catalogChecks(raw: Obj): Parsed<CheckDefinition[]> {
  const list: Obj[] = [];
  if (raw.Check && typeof raw.Check === 'object') list.push(raw.Check as Obj);
  if (Array.isArray(raw.Checks)) for (const c of raw.Checks) if (c && typeof c === 'object') list.push(c as Obj);
  const out: CheckDefinition[] = [];
  for (const c of list) {
    const definition = (c.Definition as Obj | undefined) ?? {};
    const merged: Obj = {
      ...c,
      ID: c.CheckID,
      HTTP: definition.HTTP,
      TCP: definition.TCP,
      Header: definition.Header,
      Method: definition.Method,
      Interval: definition.Interval ?? definition.IntervalDuration,
      Timeout: definition.Timeout ?? definition.TimeoutDuration,
    };
    const r = toCheckDefinition(merged);
    if (!r.ok) return r;
    out.push(r.value);
  }
  return ok(out);
}

const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Go's `[]byte` JSON decoding: standard base64, padded; anything else is an error. */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (!base64Pattern.test(text)) return undefined;
  return new Uint8Array(Buffer.from(text, 'base64'));
}

const txnVerbs = new Set<TxnKvOp['verb']>(storeTxnVerbs);

/** `api.TxnOps` (normalised) → KV ops. Non-KV ops (tier 3) and unknown verbs are 400s. */
export function toTxnOps(raw: unknown[]): Parsed<TxnKvOp[]> {
  const ops: TxnKvOp[] = [];
  for (const [i, item] of raw.entries()) {
    const op = (item ?? {}) as Obj;
    if (op.Node !== undefined || op.Service !== undefined || op.Check !== undefined) {
      return fail(`Transaction operation ${i}: only KV operations are supported`);
    }
    const kv = op.KV as Obj | undefined;
    if (!kv) return fail(`Transaction operation ${i}: missing KV operation`);
    const verb = kv.Verb as TxnKvOp['verb'];
    if (!txnVerbs.has(verb)) return fail(`Transaction operation ${i}: unknown KV verb "${String(kv.Verb ?? '')}"`);
    const out: Record<string, unknown> = { verb, key: (kv.Key as string | undefined) ?? '' };
    if (typeof kv.Value === 'string') {
      const bytes = decodeBase64(kv.Value);
      if (!bytes) return fail(`Request decode failed: illegal base64 data in operation ${i}`);
      out.value = bytes;
    }
    if (kv.Flags !== undefined) out.flags = kv.Flags;
    if (kv.Index !== undefined) out.index = kv.Index;
    if (kv.Session !== undefined) out.session = kv.Session;
    ops.push(out as unknown as TxnKvOp);
  }
  return ok(ops);
}
