/**
 * The rules round N (session 17) added, fed crafted inputs and answers: what the mutants it closed would have
 * produced is reported, what the correct code produces is not.
 *
 *  - stale reads (sim/harnesses/agent-lastcontact.ts): a follower's answer with X-Consul-LastContact 0 while its
 *    last leader message is 40 ms old (N11: every stale answer reported 0) is reported; the real age, a leader's
 *    0, an unknown −1, a reply to anything but a stale read, and a second send of one reply are not;
 *  - blocking reads (sim/harnesses/agent-blocking.ts): an "rpc error: timeout" 2 s into a 10 s wait (N12: a `?dc=`
 *    read's RPC timer set without its wait) is reported; one after the wait ran out is not.
 */
import { describe, expect, it } from 'vitest';
import { agentErrors, type AgentResponse } from '../../core/agent/api.js';
import { checkBlockingAnswer } from '../harnesses/agent-blocking.js';
import { StaleReadContact } from '../harnesses/agent-lastcontact.js';
import { parseScenario } from '../scenario.js';

const append = (nowMs: number) => ({
  kind: 'message',
  nowMs,
  from: 'n1',
  message: { m: 'raft', p: { type: 'append', term: 2 } },
});
const staleRequest = (requestId: number, nowMs: number, consistency = 'stale') => ({
  kind: 'request',
  nowMs,
  requestId,
  request: { machine: 'agent', body: { type: 'kv.get', key: 'k', read: { consistency } } },
});
const staleRpc = (from: string, id: number, nowMs: number) => ({
  kind: 'message',
  nowMs,
  from,
  message: { m: 'agent', p: { t: 'rpc', id, op: { kind: 'read', consistency: 'stale' } } },
});

describe('stale read LastContact (StaleReadContact)', () => {
  it('reports an answer that understates the time since the server last heard from a leader', () => {
    const rule = new StaleReadContact();
    rule.noteInput('n2', 100, append(100));
    rule.noteInput('n2', 140, staleRequest(7, 140));
    expect(rule.checkAnswer('n2', 140, 'c7', 0, false)).toMatch(/X-Consul-LastContact 0 ms, but it last heard/);
    rule.noteInput('n2', 150, staleRpc('n4', 9, 150));
    expect(rule.checkAnswer('n2', 150, 'rn4:9', 0, false)).toMatch(/stale read: n2 answered/);
  });

  it('takes the real age, a leader, an unknown age, other reads and re-sent replies', () => {
    const rule = new StaleReadContact();
    rule.noteInput('n2', 100, append(100));
    rule.noteInput('n2', 140, staleRequest(1, 140));
    expect(rule.checkAnswer('n2', 140, 'c1', 40, false)).toBeNull();
    expect(rule.checkAnswer('n2', 140, 'c1', 0, false)).toBeNull(); // the same reply sent again
    rule.noteInput('n2', 141, staleRequest(2, 141));
    expect(rule.checkAnswer('n2', 141, 'c2', 0, true)).toBeNull();
    rule.noteInput('n2', 142, staleRequest(3, 142));
    expect(rule.checkAnswer('n2', 142, 'c3', -1, false)).toBeNull();
    rule.noteInput('n2', 143, staleRequest(4, 143, 'default'));
    expect(rule.checkAnswer('n2', 143, 'c4', 0, false)).toBeNull();
    rule.noteRole('n3', 200, true);
    rule.noteInput('n3', 200, staleRequest(5, 200));
    expect(rule.checkAnswer('n3', 200.5, 'c5', 0, false)).toBeNull(); // it led half a millisecond ago
  });
});

describe('no early RPC timeout (checkBlockingAnswer)', () => {
  const plain = parseScenario(`protocol agent\nnodes 5\nset servers 3\nduration safety=10s liveness=5s\n`, 'test.txt');
  const timeout: AgentResponse = { status: 500, body: null, error: agentErrors.rpcTimeout };
  it('reports an RPC timeout before the wait ran out, not after', () => {
    expect(checkBlockingAnswer(plain, 'read', 49, 10_000, 1000, 3000, timeout)).toMatch(/before its wait ran out/);
    expect(checkBlockingAnswer(plain, 'read', 49, 10_000, 1000, 11_001, timeout)).toBeNull();
    expect(checkBlockingAnswer(plain, 'read', 0, 0, 1000, 3000, timeout)).toBeNull();
  });
});
