/**
 * Unit tests of the pure HTTP parsing helpers: Go durations (time.ParseDuration), Go booleans
 * (strconv.ParseBool), presence-based flags, ?index/?wait, ?stale/?consistent, and the Go
 * encoding/json case-insensitive key matching. Each expectation is what Consul/Go does.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodeJsonBody,
  normalizeKeys,
  parseBlocking,
  parseConsistency,
  parseGoBool,
  parseGoDurationMs,
  parseUint,
  queryFlag,
  S,
  waitMsDefault,
  waitMsMax,
  firstDuplicateKey,
  snakeCase,
} from '../http/parse.js';
import { serviceRegisterSchema, txnSchema } from '../http/schemas.js';
import { parseKvFlags } from '../../core/store/types.js';

describe('parseGoDurationMs (Go time.ParseDuration)', () => {
  it('accepts what Go accepts', () => {
    expect(parseGoDurationMs('5s')).toBe(5000);
    expect(parseGoDurationMs('10s')).toBe(10_000);
    expect(parseGoDurationMs('5m')).toBe(300_000);
    expect(parseGoDurationMs('1ms')).toBe(1);
    expect(parseGoDurationMs('20ms')).toBe(20);
    expect(parseGoDurationMs('1.5h')).toBe(5_400_000);
    expect(parseGoDurationMs('2h45m')).toBe(9_900_000);
    expect(parseGoDurationMs('1h2m3s4ms')).toBe(3_723_004);
    expect(parseGoDurationMs('0')).toBe(0);
    expect(parseGoDurationMs('-0')).toBe(0);
    expect(parseGoDurationMs('+3s')).toBe(3000);
    expect(parseGoDurationMs('-1.5s')).toBe(-1500);
    expect(parseGoDurationMs('.5s')).toBe(500);
    expect(parseGoDurationMs('1.s')).toBe(1000);
    expect(parseGoDurationMs('1000us')).toBe(1);
    expect(parseGoDurationMs('1000µs')).toBe(1);
    expect(parseGoDurationMs('1000μs')).toBe(1);
    expect(parseGoDurationMs('1000000ns')).toBe(1);
  });
  it('rejects what Go rejects', () => {
    for (const bad of [
      '',
      '5',
      '10',
      's',
      '.s',
      '-',
      '+',
      '1.5.5s',
      '5x',
      '5 s',
      ' 5s',
      '5S',
      '1d',
      '0s5',
      'ms',
      '99999999999999999999h',
    ]) {
      expect(parseGoDurationMs(bad), bad).toBeUndefined();
    }
  });
  it('round-trips integers with every unit (property)', () => {
    const units: [string, number][] = [
      ['ms', 1],
      ['s', 1000],
      ['m', 60_000],
      ['h', 3_600_000],
    ];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.constantFrom(...units), (n, [unit, ms]) => {
        expect(parseGoDurationMs(`${n}${unit}`)).toBe(n * ms);
      }),
    );
  });
});

describe('parseGoBool and queryFlag', () => {
  it('parses exactly strconv.ParseBool literals', () => {
    for (const t of ['1', 't', 'T', 'true', 'TRUE', 'True']) expect(parseGoBool(t)).toBe(true);
    for (const f of ['0', 'f', 'F', 'false', 'FALSE', 'False']) expect(parseGoBool(f)).toBe(false);
    for (const x of ['', 'yes', 'tRue', '2', 'on']) expect(parseGoBool(x)).toBeUndefined();
  });
  it('treats flags as presence-based, with explicit false turning them off', () => {
    const q = (s: string) => new URLSearchParams(s);
    expect(queryFlag(q('recurse'), 'recurse')).toBe(true);
    expect(queryFlag(q('recurse='), 'recurse')).toBe(true);
    expect(queryFlag(q('recurse=1'), 'recurse')).toBe(true);
    expect(queryFlag(q('recurse=true'), 'recurse')).toBe(true);
    expect(queryFlag(q('keys=True'), 'keys')).toBe(true);
    expect(queryFlag(q('passing=false'), 'passing')).toBe(false);
    expect(queryFlag(q('wan=0'), 'wan')).toBe(false);
    expect(queryFlag(q('other=1'), 'recurse')).toBe(false);
    expect(queryFlag(q(''), 'recurse')).toBe(false);
  });
});

describe('parseUint, parseBlocking, parseConsistency', () => {
  it('parses uint query values', () => {
    expect(parseUint('0')).toBe(0);
    expect(parseUint('1061')).toBe(1061);
    expect(parseUint('-1')).toBeUndefined();
    expect(parseUint('1e3')).toBeUndefined();
    expect(parseUint('')).toBeUndefined();
    expect(parseUint('99999999999999999')).toBeUndefined();
  });
  it('defaults wait to 5m, caps it at 10m, passes index through', () => {
    const b = (s: string) => parseBlocking(new URLSearchParams(s));
    expect(b('')).toEqual({ ok: true, value: { minIndex: 0, waitMs: waitMsDefault } });
    expect(b('index=10001&wait=5s')).toEqual({ ok: true, value: { minIndex: 10001, waitMs: 5000 } });
    expect(b('index=3&wait=1h')).toEqual({ ok: true, value: { minIndex: 3, waitMs: waitMsMax } });
    expect(b('wait=20ms')).toEqual({ ok: true, value: { minIndex: 0, waitMs: 20 } });
    expect(b('wait=5')).toEqual({ ok: false, error: 'Invalid wait time' });
    expect(b('wait=-1s')).toEqual({ ok: false, error: 'Invalid wait time' });
    expect(b('index=abc')).toEqual({ ok: false, error: 'Invalid index' });
  });
  it('rejects ?stale with ?consistent', () => {
    const c = (s: string) => parseConsistency(new URLSearchParams(s));
    expect(c('')).toEqual({ ok: true, value: 'default' });
    expect(c('stale')).toEqual({ ok: true, value: 'stale' });
    expect(c('consistent=1')).toEqual({ ok: true, value: 'consistent' });
    expect(c('stale&consistent').ok).toBe(false);
  });
});

describe('normalizeKeys (Go encoding/json field matching)', () => {
  it('maps python-style lowercase and snake_case keys to canonical names, leaving map keys alone', () => {
    const body = {
      name: 'web',
      id: 'web1',
      TAGS: ['rails'],
      port: 80,
      meta: { MyKey: 'v', lower: 'x' },
      enable_tag_override: true,
      check: { script: 'true', interval: '10s', deregister_critical_service_after: '1m' },
    };
    const r = normalizeKeys(body, serviceRegisterSchema);
    expect(r).toEqual({
      ok: true,
      value: {
        Name: 'web',
        ID: 'web1',
        Tags: ['rails'],
        Port: 80,
        Meta: { MyKey: 'v', lower: 'x' },
        EnableTagOverride: true,
        Check: { Script: 'true', Interval: '10s', DeregisterCriticalServiceAfter: '1m' },
      },
    });
  });
  it('refuses an unknown field, naming it, and two spellings of one field (issue 14: K_V, N_ame, Name/name)', () => {
    expect(normalizeKeys({ Name: 'a', name: 'b' }, serviceRegisterSchema)).toEqual({
      ok: false,
      error: 'json: duplicate field "Name" (as "Name" and "name")',
    });
    expect(normalizeKeys({ Name: 'mine', N_ame: 'web' }, serviceRegisterSchema)).toEqual({
      ok: false,
      error: 'json: unknown field "N_ame"',
    });
    expect(normalizeKeys([{ K_V: { Verb: 'get', Key: 'k' } }], txnSchema)).toEqual({
      ok: false,
      error: 'json: unknown field "K_V" in [0]',
    });
    expect(normalizeKeys({ Name: 'a', Check: { TTL: '1s', http_ignored_unknown: 1 } }, serviceRegisterSchema).ok).toBe(
      false,
    );
    // Config files carry keys for other readers: they may ignore what is unknown.
    expect(normalizeKeys({ Name: 'a', other: 1 }, serviceRegisterSchema, '', { unknownFields: 'ignore' })).toEqual({
      ok: true,
      value: { Name: 'a' },
    });
  });
  it('refuses a body with a key twice in one object (JSON.parse would keep the last)', () => {
    const dup = decodeJsonBody('[{"KV":{"Verb":"get","Key":"a"},"KV":{"Verb":"set","Key":"b"}}]', txnSchema);
    expect(dup).toEqual({ ok: false, error: 'Request decode failed: json: duplicate key "KV"' });
    expect(firstDuplicateKey('{"a":{"b":1,"c":[{"b":2}]},"d":"\\"a\\"","e":{"a":1}}')).toBeUndefined();
    expect(firstDuplicateKey('{"a":1,"\\u0061":2}')).toBe('a');
    expect(firstDuplicateKey('[{"x":[1,{"y":1,"y":2}]}]')).toBe('y');
  });
  it('matches snake_case forms of canonical names (Consul TranslateKeys)', () => {
    expect(snakeCase('EnableTagOverride')).toBe('enable_tag_override');
    expect(snakeCase('ServiceID')).toBe('service_id');
    expect(snakeCase('TLSSkipVerify')).toBe('tls_skip_verify');
    expect(snakeCase('DeregisterCriticalServiceAfter')).toBe('deregister_critical_service_after');
  });
  it('reports Go-style type errors', () => {
    const r = normalizeKeys({ Name: 'web', Port: '80' }, serviceRegisterSchema);
    expect(r).toEqual({ ok: false, error: 'json: cannot unmarshal string into Go struct field .Port of type int' });
    expect(normalizeKeys([{ kv: { verb: 'get', key: 1 } }], txnSchema).ok).toBe(false);
  });
  it('drops nulls (Go zero values)', () => {
    expect(normalizeKeys({ Name: 'x', Tags: null }, serviceRegisterSchema)).toEqual({ ok: true, value: { Name: 'x' } });
  });
  it('normalises txn ops', () => {
    expect(normalizeKeys([{ kv: { verb: 'set', key: 'k', value: 'dg==' } }], txnSchema)).toEqual({
      ok: true,
      value: [{ KV: { Verb: 'set', Key: 'k', Value: 'dg==' } }],
    });
  });
  it('never throws on arbitrary JSON (property)', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        decodeJsonBody(text, serviceRegisterSchema);
        decodeJsonBody(text, txnSchema);
        decodeJsonBody(text, S.any);
      }),
      { numRuns: 300 },
    );
  });
  it('returns the JSON parse error text for bad JSON', () => {
    const r = decodeJsonBody('{"Name": ', serviceRegisterSchema);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.startsWith('Request decode failed: ')).toBe(true);
  });
});

describe('uint64 KV flags in JSON bodies (exact above 2^53)', () => {
  it("keeps Go's lock flag digit for digit; rounds nothing else it should not; refuses > 2^64 − 1", () => {
    const body =
      '[{"KV":{"Verb":"set","Key":"k","Flags":3304740253564472344,"Index":12}},{"kv":{"verb":"set","key":"j","flags":7}},{"KV":{"Verb":"set","Key":"\\"Flags\\":1234567890123456789","Flags":18446744073709551615}}]';
    const parsed = decodeJsonBody(body, txnSchema);
    if (!parsed.ok) throw new Error(parsed.error);
    const ops = parsed.value as { KV: { Flags?: unknown; Index?: unknown; Key?: string } }[];
    expect(ops.map((o) => o.KV.Flags)).toEqual(['3304740253564472344', 7, '18446744073709551615']);
    expect(ops[0]!.KV.Index).toBe(12);
    expect(ops[2]!.KV.Key).toBe('"Flags":1234567890123456789');
    const tooBig = decodeJsonBody('[{"KV":{"Verb":"set","Key":"k","Flags":18446744073709551616}}]', txnSchema);
    expect(tooBig.ok).toBe(false);
    expect(decodeJsonBody('[{"KV":{"Verb":"set","Key":"k","Flags":-1}}]', txnSchema).ok).toBe(false);
    expect(decodeJsonBody('[{"KV":{"Verb":"set","Key":"k","Flags":"12"}}]', txnSchema).ok).toBe(false);
    // A long integer where the schema wants an int or anything is the number JSON.parse gives.
    const svc = decodeJsonBody('{"Name":"web","Port":12345678901234567,"Meta":{"a":"b"}}', serviceRegisterSchema);
    expect(svc.ok && (svc.value as { Port: number }).Port).toBe(12345678901234567);
  });

  it('parseKvFlags: canonical forms, bounds', () => {
    expect([
      parseKvFlags('0'),
      parseKvFlags('007'),
      parseKvFlags('9007199254740991'),
      parseKvFlags('9007199254740992'),
    ]).toEqual([0, 7, 9007199254740991, '9007199254740992']);
    expect([
      parseKvFlags('18446744073709551615'),
      parseKvFlags('18446744073709551616'),
      parseKvFlags('-1'),
      parseKvFlags('1e3'),
      parseKvFlags(''),
    ]).toEqual(['18446744073709551615', undefined, undefined, undefined, undefined]);
  });
});
