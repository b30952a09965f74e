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

  it('decides a service deregistration on the service’s name, not its ID (round J, J09)', () => {
    const answer = (rules: string) => (body: AgentRequest) => {
      if (body.type === 'acl.resolve') return ok(token(rules));
      if (body.type === 'agent.services')
        return ok({ x1: { ID: 'x1', Service: 'api' }, x2: { ID: 'x2', Service: 'db' } });
      return ok(null);
    };
    expect(
      run(answer('service "api" { policy = "write" }'), ['n4', 'service-deregister', 'x1/api', 't', 'ok']).verdict,
    ).toBeNull();
    const byId = run(answer('service "x" { policy = "write" }'), ['n4', 'service-deregister', 'x2/db', 't', 'denied']);
    expect(byId.verdict).toBeNull();
    expect(byId.sent.map((r) => r.type)).not.toContain('agent.service.deregister');
  });

  it('decides a session on the node it is for, and a txn delete-tree as a recursive delete (J10, J11)', () => {
    const answer = (rules: string) => (body: AgentRequest) =>
      body.type === 'acl.resolve' ? ok(token(rules)) : ok({ ID: 's1' });
    const sessions = answer('session "n4" { policy = "write" }');
    expect(run(sessions, ['n5', 'session-create', 'n4', 't', 'ok']).verdict).toBeNull();
    expect(run(sessions, ['n4', 'session-create', 'n5', 't', 'denied']).verdict).toBeNull();
    const secret = answer('key "app/" { policy = "write" }\nkey "app/secret/" { policy = "deny" }');
    const tree = run(secret, ['n4', 'txn-delete-tree', 'app/', 't', 'denied']);
    expect(tree.verdict).toBeNull();
    expect(tree.sent.map((r) => r.type)).toEqual(['acl.resolve']);
  });

  it('hides a catalog node without node read, and tells a 413 from a denial (J12, J02)', () => {
    const node = { Node: { Node: 'n4', Address: 'n4' }, Services: {} };
    const answer = (rules: string) => (body: AgentRequest) =>
      body.type === 'acl.resolve' ? ok(token(rules)) : ok(node);
    expect(
      run(answer('service "api" { policy = "read" }'), ['n4', 'catalog-node', 'n4', 't', 'denied']).verdict,
    ).toBeNull();
    expect(run(answer('node "" { policy = "read" }'), ['n4', 'catalog-node', 'n4', 't', 'ok']).verdict).toBeNull();
    const large = (body: AgentRequest): AgentResponse =>
      body.type === 'acl.resolve'
        ? ok(token('key "" { policy = "write" }'))
        : { status: 413, body: null, error: 'Request body too large' };
    expect(run(large, ['n4', 'kv-put', '524289', 't', 'too-large']).verdict).toBeNull();
    expect(run(large, ['n4', 'kv-put', '524288', 't', 'ok']).verdict).toContain('wanted ok, got too-large');
  });

  it("judges a node's services by their names and a query's Token by its redaction (round N, N01 and N02)", () => {
    const node = {
      Node: { Node: 'x1', Address: '10.0.0.1' },
      Services: { 'web-main': { ID: 'web-main', Service: 'api' }, 'api-blue': { ID: 'api-blue', Service: 'web' } },
    };
    const answer = (rules: string) => (body: AgentRequest) => {
      if (body.type === 'acl.resolve') return ok(token(rules));
      if (body.type === 'catalog.node') return ok(node);
      if (body.type === 'query.create') return ok({ ID: 'q-id' });
      if (body.type === 'query.get') return ok([{ ID: 'q-id', Name: 'q1', Token: 'query-token-secret' }]);
      return ok(true);
    };
    const api = answer('node "" { policy = "read" }\nservice "api" { policy = "read" }');
    expect(run(api, ['n4', 'node-service', 'x1/web-main/api', 't', 'ok']).verdict).toBeNull();
    expect(run(api, ['n4', 'node-service', 'x1/api-blue/web', 't', 'denied']).verdict).toBeNull();
    const reader = answer('query "" { policy = "read" }');
    expect(run(reader, ['n4', 'query-get', 'q1', 't', 'hidden']).verdict).toBeNull();
    expect(run(reader, ['n4', 'query-get', 'q1', 't', 'shown']).verdict).toContain('wanted shown, got hidden');
    expect(actGate(null, ['n4', 'query-get', 'q1', 't', 'ok'], null)).toContain('acl-access takes');
    expect(actGate(null, ['n4', 'node-service', 'x1/api', 't', 'ok'], null)).toContain('acl-access takes');
  });
});
