import { describe, expect, it } from 'vitest';
import type { Session } from '../../core/store/types.js';
import { sessionMisses } from '../harnesses/agent-sessions.js';

const stored = (fields: Partial<Session>): Session =>
  ({
    ID: 's1',
    Name: '',
    Node: 'n4',
    LockDelayMs: 0,
    Behavior: 'release',
    TtlMs: 10_000,
    NodeChecks: ['serfHealth'],
    ServiceChecks: [],
    CreateIndex: 5,
    ModifyIndex: 5,
    ...fields,
  }) as Session;

describe('a session is stored as its creator asked (sim/harnesses/agent-sessions.ts)', () => {
  const asked = { ttlMs: 10_000, lockDelayMs: 0, via: 'n4' };

  it('holds for a session stored with the TTL, LockDelay, default Behavior and node asked', () => {
    expect(sessionMisses(stored({}), asked)).toEqual([]);
  });

  it('names an explicit LockDelay of 0 stored as the default, a lost TTL, another Behavior or node', () => {
    expect(sessionMisses(stored({ LockDelayMs: 15_000 }), asked)).toEqual(['LockDelay 15000 ms, asked 0 ms']);
    expect(sessionMisses(stored({ TtlMs: 0, Behavior: 'delete', Node: 'n1' }), asked)).toEqual([
      'TTL 0 ms, asked 10000 ms',
      'Behavior delete, asked release',
      'Node n1, created through n4',
    ]);
  });
});

describe('a session holds the node checks it named (round L, L09)', () => {
  const via = { ttlMs: 10_000, lockDelayMs: 0, via: 'n4' };

  it('holds for serfHealth when none were named, and for exactly the list named (an empty one included)', () => {
    expect(sessionMisses(stored({}), via)).toEqual([]);
    expect(sessionMisses(stored({ NodeChecks: [] }), { ...via, nodeChecks: [] })).toEqual([]);
  });

  it('names `Checks: []` stored as serfHealth (the default applied when only one of the lists was absent)', () => {
    expect(sessionMisses(stored({}), { ...via, nodeChecks: [] })).toEqual(['NodeChecks [serfHealth], asked []']);
  });
});
