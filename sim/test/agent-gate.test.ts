import { describe, expect, it } from 'vitest';
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import { DcActivity, expectDc } from '../harnesses/agent-dc.js';
import { actGate } from '../harnesses/agent-gate.js';
import type { SimApi } from '../harness.js';

const token = (rules: string) => ({
  kind: 'token',
  token: { ID: 'tok', Name: 'tok', Type: 'client', Rules: rules, CreateIndex: 1, ModifyIndex: 1 },
  defaultPolicy: 'deny',
});

/** A simulation whose agents answer from `answer` at once; records what reached them. */
function fakeSim(answer: (body: AgentRequest) => AgentResponse) {
  const sent: AgentRequest[] = [];
  const sim = {
    request(_node: string, request: { body: AgentRequest }, _timeoutMs: number, onDone: (r: unknown) => void) {
      sent.push(request.body);
      onDone(answer(request.body));
    },
    log() {},
    scenario: { datacenters: [] },
  } as unknown as SimApi;
  return { sim, sent };
}

const ok = (body: unknown): AgentResponse => ({ status: 200, body, index: 1 });

function run(answer: (body: AgentRequest) => AgentResponse, args: string[]) {
  const activity = new DcActivity();
  activity.tokens.set('t', 'tok');
  const { sim, sent } = fakeSim(answer);
  expect(actGate(sim, args, activity)).toBeNull();
  return { activity, sent, verdict: expectDc(sim, 'access', [], activity, () => null) };
}

describe('acl-access (sim/harnesses/agent-gate.ts)', () => {
  it('refuses malformed actions at parse time', () => {
    expect(actGate(null, ['n4', 'check-pass', 'c', 't'], null)).toContain('acl-access takes');
    expect(actGate(null, ['n4', 'fly', 'c', 't', 'ok'], null)).toContain('acl-access takes');
    expect(actGate(null, ['n4', 'catalog-register', 'ext1', 't', 'ok'], null)).toContain('acl-access takes');
    expect(actGate(null, ['n4', 'query-update', 'a', 't', 'ok'], null)).toContain('acl-access takes');
    expect(actGate(null, ['n4', 'check-pass', 'c', 't', 'ok'], null)).toBeNull();
  });

  it('decides a check write on the service the check belongs to, and never sends a denied request', () => {
    const answer = (body: AgentRequest): AgentResponse => {
      if (body.type === 'acl.resolve') return ok(token('service "api" { policy = "read" }'));
      if (body.type === 'agent.checks') return ok({ 'api-ttl': { CheckID: 'api-ttl', ServiceName: 'api' } });
      return ok(null);
    };
    const denied = run(answer, ['n4', 'check-pass', 'api-ttl', 't', 'denied']);
    expect(denied.verdict).toBeNull();
    expect(denied.sent.map((r) => r.type)).toEqual(['acl.resolve', 'agent.checks']);
    // The crafted bad case: the scenario says a read token may pass the check; the verdict names it.
    const wrong = run(answer, ['n4', 'check-pass', 'api-ttl', 't', 'ok']);
    expect(wrong.verdict).toContain('check-pass api-ttl on n4 with t (local): wanted ok, got denied');
  });

  it('takes a read whose every entry the token may not read for a denial', () => {
    const entries = [{ Node: { Node: 'n4' }, Service: { Service: 'api' }, Checks: [] }];
    const answer = (rules: string) => (body: AgentRequest) =>
      body.type === 'acl.resolve' ? ok(token(rules)) : ok(entries);
    const hidden = run(answer('node "" { policy = "read" }'), ['n4', 'health-service', 'api', 't', 'ok']);
    expect(hidden.verdict).toContain('wanted ok, got denied');
    const shown = run(answer('node "" { policy = "read" }\nservice "api" { policy = "read" }'), [
      'n4',
      'health-service',
      'api',
      't',
      'ok',
    ]);
    expect(shown.verdict).toBeNull();
  });

  it('answers an unknown token as denied, and a token never created as such', () => {
    const unknown = run(
      () => ({ status: 403, body: null, error: 'ACL not found' }),
      ['n4', 'event-fire', 'deploy', 't', 'denied'],
    );
    expect(unknown.verdict).toBeNull();
    const never = run(() => ok(null), ['n4', 'event-fire', 'deploy', 'nobody', 'denied']);
    expect(never.verdict).toContain('got no token nobody');
  });
});
