/**
 * The endpoint families' ACL rules on typed requests, one property of each rule that the differential
 * fuzzer (net/test/acl.differential.test.ts) finds only by chance: a catalog registration that leaves
 * the node as it is needs no node write; a script check needs node write even on a service the token
 * may write; one denied txn operation denies the whole transaction; filtered KV lists that end empty
 * answer 404. Lookups are answered by a table here, as the gate (net/gate.ts) would by reading.
 */
import { describe, expect, it } from 'vitest';
import type { AgentRequest, AgentResponse } from '../api.js';
import type { AclToken } from '../../store/acl.js';
import { authorize, authorizerFor, filterResponse, type Decision } from './index.js';

const facts = { nodeName: 'agent1' };
const token = (Rules: string): AclToken => ({
  ID: 't',
  Name: 't',
  Type: 'client',
  Rules,
  CreateIndex: 1,
  ModifyIndex: 1,
});
const read = { consistency: 'default' } as const;

/** Resolves lookups from `answers` (by request type) and returns the final verdict. */
function verdict(decision: Decision, answers: Partial<Record<AgentRequest['type'], AgentResponse>>): string {
  for (let i = 0; decision.kind === 'lookup'; i++) {
    expect(i).toBeLessThan(3);
    const answer = answers[decision.request.type];
    if (!answer) throw new Error(`unexpected lookup ${decision.request.type}`);
    decision = decision.then(answer);
  }
  return decision.kind;
}

describe('catalog.register (Consul vetRegisterWithACL)', () => {
  const authz = authorizerFor(token('service "mine" { policy = "write" }'), 'deny');
  const node = (address: string): AgentResponse => ({
    status: 200,
    body: { Node: { Node: 'n1', Address: address, ID: '', TaggedAddresses: {}, Meta: {} }, Services: {} },
  });
  const register = (address: string): AgentRequest => ({
    type: 'catalog.register',
    node: 'n1',
    address,
    service: { name: 'mine' },
  });
  it('re-posting the node unchanged with a service needs only service write', () => {
    expect(verdict(authorize(register('10.0.0.1'), authz, facts), { 'catalog.node': node('10.0.0.1') })).toBe('allow');
  });
  it('changing the address, or creating the node, needs node write', () => {
    expect(verdict(authorize(register('6.6.6.6'), authz, facts), { 'catalog.node': node('10.0.0.1') })).toBe('deny');
    expect(
      verdict(authorize(register('10.0.0.1'), authz, facts), { 'catalog.node': { status: 200, body: null } }),
    ).toBe('deny');
  });
});

describe('agent checks', () => {
  const services: AgentResponse = { status: 200, body: { web: { ID: 'web', Service: 'web' } } };
  const authz = authorizerFor(token('service "web" { policy = "write" }'), 'deny');
  it('a TTL check on a writable service is allowed; a script check there also needs node write', () => {
    const ttl: AgentRequest = { type: 'agent.check.register', check: { name: 'c', serviceId: 'web', ttlMs: 1000 } };
    const script: AgentRequest = {
      type: 'agent.check.register',
      check: { name: 'c', serviceId: 'web', args: ['id'], intervalMs: 1000 },
    };
    const noChecks: AgentResponse = { status: 200, body: {} };
    const answers = { 'agent.services': services, 'agent.checks': noChecks };
    expect(verdict(authorize(ttl, authz, facts), answers)).toBe('allow');
    expect(verdict(authorize(script, authz, facts), answers)).toBe('deny');
    const withNode = authorizerFor(
      token('service "web" { policy = "write" }\nnode "agent1" { policy = "write" }'),
      'deny',
    );
    expect(verdict(authorize(script, withNode, facts), answers)).toBe('allow');
    // Registering over the id of a node check needs the node's rule, whatever the new check's service.
    const mem: AgentResponse = { status: 200, body: { mem: { CheckID: 'mem', ServiceName: '' } } };
    const over: AgentRequest = { type: 'agent.check.register', check: { id: 'mem', name: 'x', serviceId: 'web' } };
    expect(verdict(authorize(over, authz, facts), { 'agent.services': services, 'agent.checks': mem })).toBe('deny');
  });
  it("check/fail follows the check's service, looked up by id", () => {
    const checks: AgentResponse = {
      status: 200,
      body: { 'service:web': { CheckID: 'service:web', ServiceName: 'web' }, mem: { CheckID: 'mem', ServiceName: '' } },
    };
    const fail = (id: string): AgentRequest => ({ type: 'agent.check.fail', id });
    expect(verdict(authorize(fail('service:web'), authz, facts), { 'agent.checks': checks })).toBe('allow');
    expect(verdict(authorize(fail('mem'), authz, facts), { 'agent.checks': checks })).toBe('deny');
  });
});

describe('txn and KV lists', () => {
  const authz = authorizerFor(token('key "public/" { policy = "write" }'), 'deny');
  it('one denied operation denies the transaction', () => {
    const txn = (key: string): AgentRequest => ({
      type: 'txn',
      ops: [
        { verb: 'set', key: 'public/a', value: new Uint8Array([1]) },
        { verb: 'get', key },
      ],
    });
    expect(verdict(authorize(txn('public/b'), authz, facts), {})).toBe('allow');
    expect(verdict(authorize(txn('secret'), authz, facts), {})).toBe('deny');
  });
  it('a recursive list keeps readable keys; none left is a 404', () => {
    const list: AgentRequest = { type: 'kv.list', prefix: '', read };
    const body = [{ Key: 'public/a' }, { Key: 'secret' }];
    expect(filterResponse(list, { status: 200, body, index: 3 }, authz, facts).body).toEqual([{ Key: 'public/a' }]);
    const none = filterResponse(list, { status: 200, body: [{ Key: 'secret' }], index: 3 }, authz, facts);
    expect([none.status, none.index]).toEqual([404, 3]);
  });
  it('a recursive delete needs write on the prefix and on every rule under it', () => {
    const narrower = authorizerFor(token('key "" { policy = "write" }\nkey "keep/" { policy = "read" }'), 'deny');
    expect(authorize({ type: 'kv.deleteTree', prefix: '' }, narrower, facts).kind).toBe('deny');
    expect(authorize({ type: 'kv.deleteTree', prefix: 'other/' }, narrower, facts).kind).toBe('allow');
  });
});
