/**
 * Wire hygiene of agent-to-agent messages (issue 14 §3): checkAgentMessage accepts what agents send and
 * refuses every number no legitimate peer sends — a wait of −2^53 once became a timer of negative delay
 * and killed the agent (scenarios/agent/stranger-out-of-range.txt, seed 1 on the old code).
 */
import { describe, expect, it } from 'vitest';
import { checkAgentMessage, rpcHopsMax, rpcWaitMsMax } from './rpc.js';

const read = { kind: 'read', query: { type: 'kvGet', key: 'k' }, consistency: 'default', minIndex: 7, waitMs: 5000 };
const rpc = { t: 'rpc', id: 3, op: read, hops: 1, timeoutMs: 2000 };
const eventFire = (event: Record<string, unknown>) => ({ kind: 'eventFire', event });
const eventList = { kind: 'eventList', name: '', minIndex: 3, waitMs: 1000 };
const reply = {
  t: 'rpcReply',
  id: 3,
  result: { ok: true, index: 9, value: null, knownLeader: true, lastContactMs: 1.5 },
};

const auth = {
  token: 'anonymous',
  nodeName: 'n4',
  request: { type: 'kv.get', key: 'k', read: { consistency: 'default' } },
};
const token = { ID: 't', Name: '', Type: 'client', Rules: '', CreateIndex: 1, ModifyIndex: 1 };
const grant = { kind: 'token', token, defaultPolicy: 'deny' };

describe('checkAgentMessage', () => {
  it('accepts what agents send', () => {
    expect(checkAgentMessage(rpc)).toBeNull();
    expect(checkAgentMessage(reply)).toBeNull();
    expect(checkAgentMessage({ ...rpc, op: { kind: 'write', command: { type: 'kvSet' } } })).toBeNull();
    expect(checkAgentMessage({ ...rpc, op: { kind: 'status', what: 'leader' } })).toBeNull();
    expect(checkAgentMessage({ t: 'rpcReply', id: 0, result: { ok: false, status: 500, error: 'x' } })).toBeNull();
    // A stale read answered by a server that never heard from a leader (Raft's readStale says −1).
    expect(checkAgentMessage({ ...reply, result: { ...reply.result, lastContactMs: -1 } })).toBeNull();
    expect(checkAgentMessage({ ...rpc, hops: rpcHopsMax, op: { ...read, waitMs: rpcWaitMsMax } })).toBeNull();
    // ACLs across DCs (acl.ts): a forwarded request with its token, and a reply with the grant it ran under.
    expect(checkAgentMessage({ ...rpc, op: { kind: 'dc', dc: 'dc2', op: read, crossed: true, auth } })).toBeNull();
    expect(checkAgentMessage({ ...reply, result: { ...reply.result, acl: grant } })).toBeNull();
    expect(checkAgentMessage({ ...reply, result: { ...reply.result, acl: { kind: 'all', allow: false } } })).toBeNull();
    const event = { id: 'e1', name: 'deploy', payload: new Uint8Array([1]), nodeFilter: 'web' };
    expect(
      checkAgentMessage({ ...rpc, op: { kind: 'dc', dc: 'dc2', crossed: true, op: eventFire(event) } }),
    ).toBeNull();
    expect(checkAgentMessage({ ...rpc, op: { ...eventFire(event), event: { ...event, payload: null } } })).toBeNull();
    expect(checkAgentMessage({ ...rpc, op: eventList })).toBeNull();
    // A prepared query's execution carries its caller's token for a failover (failover.ts withQueryAuth).
    expect(checkAgentMessage({ ...rpc, op: { ...read, auth } })).toBeNull();
  });

  it('refuses shapes and numbers no peer sends', () => {
    const bad: unknown[] = [
      null,
      'rpc',
      { ...rpc, t: 'rpcx' },
      { ...rpc, id: -1 },
      { ...rpc, id: 19.5 },
      { ...rpc, id: 2 ** 53 },
      { ...rpc, hops: rpcHopsMax + 1 },
      { ...rpc, hops: 1e300 },
      { ...rpc, timeoutMs: -(2 ** 53) },
      { ...rpc, timeoutMs: 2000.5 },
      { ...rpc, op: { ...read, waitMs: -(2 ** 53) } },
      { ...rpc, op: { ...read, waitMs: rpcWaitMsMax + 1 } },
      { ...rpc, op: { ...read, minIndex: 2 ** 64 } },
      { ...rpc, op: { ...read, consistency: 'linear' } },
      { ...rpc, op: { kind: 'nuke' } },
      { ...rpc, op: { kind: 'write' } },
      { ...reply, result: { ...reply.result, index: -(2 ** 53) } },
      { ...reply, result: { ...reply.result, lastContactMs: Infinity } },
      { ...reply, result: { ...reply.result, lastContactMs: -2 } },
      { ...reply, result: { ...reply.result, lastContactMs: -0.5 } },
      { ...reply, result: { ok: false, status: 1e300, error: 'x' } },
      { ...reply, result: null },
      { ...rpc, op: { kind: 'dc', dc: 'dc2', op: read, crossed: true, auth: { ...auth, token: 7 } } },
      { ...rpc, op: { kind: 'dc', dc: 'dc2', op: read, crossed: true, auth: { ...auth, request: null } } },
      { ...rpc, op: { kind: 'dc', dc: 'dc2', op: read, crossed: true, auth: 'anonymous' } },
      { ...rpc, op: { ...read, auth: { ...auth, nodeName: null } } },
      { ...rpc, op: { ...read, auth: 7 } },
      { ...reply, result: { ...reply.result, acl: { kind: 'token', token: null, defaultPolicy: 'deny' } } },
      { ...reply, result: { ...reply.result, acl: { ...grant, defaultPolicy: 'maybe' } } },
      { ...reply, result: { ...reply.result, acl: { kind: 'everything' } } },
      { ...rpc, op: eventFire({ id: 'e1', name: 'x', payload: 'text' }) },
      { ...rpc, op: eventFire({ id: 7, name: 'x', payload: null }) },
      { ...rpc, op: eventFire({ id: 'e1', name: 'x', payload: null, tagFilter: 3 }) },
      { ...rpc, op: { kind: 'eventFire' } },
      { ...rpc, op: { ...eventList, waitMs: -1 } },
      { ...rpc, op: { ...eventList, minIndex: 1.5 } },
      { ...rpc, op: { ...eventList, name: null } },
    ];
    for (const message of bad) expect(checkAgentMessage(message), JSON.stringify(message)).not.toBeNull();
  });
});
