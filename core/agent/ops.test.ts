/**
 * Pure pieces of the agent: base64 against Node's encoder (a naive oracle), the blocking wait rule
 * (default 5 min, cap 10 min, jitter < wait/16), request validation that never reaches a server, and
 * rendering of store results into Consul's shapes and statuses.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Prng } from '../prng.js';
import {
  blockingWaitMsDefault,
  blockingWaitMsMax,
  makeAgentConfig,
  validateAgentConfig,
  type AgentRequest,
} from './api.js';
import { base64Encode } from './base64.js';
import { eventIndex } from './events.js';
import { blockingWaitMs, render, translate, uuid } from './ops.js';
import { rpcAddressOf, serverIdOf } from './rpc.js';
import { initialState } from './state.js';

const read = { consistency: 'default' as const };

describe('base64', () => {
  it('matches Node’s Buffer encoding for any bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        (bytes) => base64Encode(bytes) === Buffer.from(bytes).toString('base64'),
      ),
    );
  });
});

describe('blocking wait', () => {
  it('is 0 without a minimum index, else the wait (0 or absent → 5 min, cap 10 min) plus jitter below wait/16', () => {
    expect(blockingWaitMs({ consistency: 'default', minIndex: 3, waitMs: 0 }, new Prng(1))).toBeGreaterThanOrEqual(
      blockingWaitMsDefault,
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.option(fc.integer({ min: 1, max: 30 * 60_000 }), { nil: undefined }),
        fc.integer(),
        (minIndex, waitMs, seed) => {
          const got = blockingWaitMs(
            { consistency: 'default', minIndex, ...(waitMs !== undefined ? { waitMs } : {}) },
            new Prng(seed),
          );
          if (minIndex === 0) return got === 0;
          const wait = Math.min(waitMs ?? blockingWaitMsDefault, blockingWaitMsMax);
          return got >= wait && got < wait + Math.max(1, Math.floor(wait / 16));
        },
      ),
    );
  });
});

describe('translate', () => {
  const prng = new Prng(1);
  it('refuses empty keys, oversized values and transactions before any server sees them', () => {
    expect(translate({ type: 'kv.get', key: '', read }, 'a1', prng)).toMatchObject({
      kind: 'error',
      response: { status: 400, error: 'Missing key name' },
    });
    expect(translate({ type: 'kv.put', key: '', value: new Uint8Array(1) }, 'a1', prng)).toMatchObject({
      kind: 'error',
      response: { status: 400 },
    });
    expect(translate({ type: 'kv.put', key: 'k', value: new Uint8Array(512 * 1024 + 1) }, 'a1', prng)).toMatchObject({
      kind: 'error',
      response: { status: 413 },
    });
    const ops = Array.from({ length: 65 }, () => ({ verb: 'get' as const, key: 'k' }));
    expect(translate({ type: 'txn', ops }, 'a1', prng)).toMatchObject({ kind: 'error', response: { status: 413 } });
  });

  it('maps KV writes to store commands; an empty body stores an empty value', () => {
    expect(translate({ type: 'kv.put', key: 'k', value: new Uint8Array(0), flags: 42 }, 'a1', prng)).toEqual({
      kind: 'server',
      op: { kind: 'write', command: { type: 'kvSet', entry: { key: 'k', value: null, flags: 42 } } },
    });
    expect(translate({ type: 'kv.delete', key: 'k', cas: 7 }, 'a1', prng)).toMatchObject({
      op: { command: { type: 'kvDeleteCas', key: 'k', cas: 7 } },
    });
    expect(translate({ type: 'session.create' }, 'a1', prng)).toMatchObject({
      op: { command: { type: 'sessionCreate', session: { node: 'a1' } } },
    });
  });

  it('leaves agent-local requests to the agent', () => {
    for (const type of ['agent.self', 'agent.services', 'event.list'] as const) {
      expect(translate({ type, read } as AgentRequest, 'a1', prng).kind).toBe('agent');
    }
  });

  it('asks a server for what the WAN pool knows (client agents are not in it)', () => {
    expect(translate({ type: 'catalog.datacenters' }, 'a1', prng)).toEqual({
      kind: 'server',
      op: { kind: 'wan', what: 'datacenters' },
    });
    expect(translate({ type: 'coordinate.datacenters' }, 'a1', prng)).toEqual({
      kind: 'server',
      op: { kind: 'wan', what: 'coordinates' },
    });
  });
});

describe('render', () => {
  const meta = { ok: true as const, knownLeader: true, lastContactMs: 0 };
  it('renders a missing key as 404 with an index that is never 0', () => {
    expect(render({ type: 'kv.get', key: 'k', read }, { ...meta, index: 0, value: null })).toEqual({
      status: 404,
      body: null,
      index: 1,
      knownLeader: true,
      lastContactMs: 0,
    });
  });
  it('renders a failed transaction as 409 with its errors', () => {
    const errors = [{ OpIndex: 0, What: 'failed' }];
    expect(
      render(
        { type: 'txn', ops: [] },
        { ...meta, index: 5, value: { ok: true, value: { Results: null, Errors: errors } } },
      ),
    ).toMatchObject({ status: 409, body: { Results: null, Errors: errors } });
  });
  it('turns a store error into a plain-text 500 and a CAS mismatch into false', () => {
    expect(
      render(
        { type: 'kv.acquire', key: 'k', value: new Uint8Array(0), session: 's' },
        { ...meta, index: 3, value: { ok: false, error: 'invalid session "s"' } },
      ),
    ).toMatchObject({
      status: 500,
      error: 'invalid session "s"',
    });
    expect(
      render(
        { type: 'kv.cas', key: 'k', value: new Uint8Array(0), index: 1 },
        { ...meta, index: 3, value: { ok: true, value: false } },
      ).body,
    ).toBe(false);
  });
  it('renders a session in Consul’s shape (LockDelay in ns, TTL as a duration)', () => {
    const session = {
      ID: 'x',
      Name: '',
      Node: 'a1',
      LockDelayMs: 15_000,
      Behavior: 'release',
      TtlMs: 10_000,
      NodeChecks: ['serfHealth'],
      ServiceChecks: [],
      CreateIndex: 4,
      ModifyIndex: 4,
    };
    expect(render({ type: 'session.info', id: 'x', read }, { ...meta, index: 4, value: [session] }).body).toEqual([
      expect.objectContaining({
        ID: 'x',
        LockDelay: 15_000_000_000,
        TTL: '10s',
        NodeChecks: ['serfHealth'],
        Behavior: 'release',
      }),
    ]);
  });
});

describe('small helpers', () => {
  it('addresses a server by its member id (one id per node) and shows it as host:<server port>', () => {
    const member = {
      id: '10.0.0.4:8301',
      name: 'a1',
      incarnation: 0,
      status: 'alive' as const,
      tags: { role: 'consul', port: '8300' },
    };
    expect(serverIdOf(member)).toBe('10.0.0.4:8301');
    const s = initialState(makeAgentConfig({ nodeName: 'a2', rpcId: '10.0.0.5:8301' }), false, 'x');
    s.members.set(member.id, member);
    expect(rpcAddressOf(s, '10.0.0.4:8301')).toBe('10.0.0.4:8300');
    expect(rpcAddressOf(s, '10.0.0.5:8301')).toBe('10.0.0.5:8300');
    expect(rpcAddressOf(s, 'n1')).toBe('n1');
  });
  it('makes distinct v4-layout UUIDs and event indexes that are never 0', () => {
    const prng = new Prng(9);
    const ids = new Set(Array.from({ length: 1000 }, () => uuid(prng)));
    expect(ids.size).toBe(1000);
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(eventIndex(id)).toBeGreaterThan(0);
    }
  });
  it('validates configs and names the field', () => {
    expect(() => makeAgentConfig({ nodeName: 'a1', bootstrapExpect: 3 })).toThrow(/bootstrap_expect/);
    expect(validateAgentConfig(makeAgentConfig({ nodeName: 'a1', server: true, bootstrapExpect: 3 }))).toEqual([]);
  });
});
