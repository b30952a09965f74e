/**
 * `?filter=` (Consul's go-bexpr expressions), `?near=` and `?node-meta=`: the expression language on
 * its own (net/http/filter.ts), fuzzed so that no input throws or hangs, and the router applying all
 * three to list endpoints after the agent answers (the agent is a canned double here; the real agent
 * is exercised in test/consul-client).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import { compileFilter, isFilterError, type FilterPredicate } from '../http/filter.js';
import { routeHttp } from '../http/router.js';

function compile(source: string): FilterPredicate {
  const f = compileFilter(source);
  if (isFilterError(f)) throw new Error(f.error);
  return f;
}

const web1 = {
  Node: { Node: 'n1', Address: '127.0.0.1', Meta: { rack: 'r1', env: 'prod' } },
  Service: { ID: 'web1', Service: 'web', Tags: ['rails', 'v2'], Port: 80, Meta: {}, EnableTagOverride: false },
  Checks: [
    { CheckID: 'serfHealth', Status: 'passing', ServiceName: '' },
    { CheckID: 'service:web1', Status: 'critical', ServiceName: 'web' },
  ],
};
const web2 = {
  Node: { Node: 'n2', Address: '127.0.0.2', Meta: { rack: 'r2' } },
  Service: { ID: 'web2', Service: 'web', Tags: [], Port: 8080, Meta: { version: '1.2' }, EnableTagOverride: true },
  Checks: [{ CheckID: 'serfHealth', Status: 'passing', ServiceName: '' }],
};

describe('filter expressions', () => {
  const cases: [string, boolean, boolean][] = [
    ['Node.Node == n1', true, false],
    ['Node.Node == "n1"', true, false],
    ['Node.Node != `n1`', false, true],
    ['Service.Port == 80', true, false],
    ['Service.Port == 80.0', true, false],
    ['Service.EnableTagOverride == true', false, true],
    ['rails in Service.Tags', true, false],
    ['"rails" not in Service.Tags', false, true],
    ['Service.Tags contains v2', true, false],
    ['Service.Tags not contains v2', false, true],
    ['Service.Tags is empty', false, true],
    ['Service.Tags is not empty', true, false],
    ['Service.Meta is empty', true, false],
    ['Node.Meta.rack == r2', false, true],
    ['Node.Meta["env"] == prod', true, false],
    ['Node.Meta.env is empty', false, true],
    ['env in Node.Meta', true, false],
    ['Checks.Status == critical', true, false],
    ['Checks.Status != critical', false, true],
    ['critical in Checks.Status', true, false],
    ['Node.Address matches "^127\\\\.0\\\\.0\\\\.[2-9]$"', false, true],
    ['Node.Address not matches "\\\\.1$"', false, true],
    ['Service.ID matches "web"', true, true],
    ['Node.Node == n1 and Service.Port == 8080', false, false],
    ['Node.Node == n1 or Service.Port == 8080', true, true],
    ['not Node.Node == n1', false, true],
    ['not (Node.Node == n1 or Node.Node == n2)', false, false],
    ['Node.Node == n2 or Node.Node == n1 and Service.Port == 8080', false, true],
    ['(Node.Node == n2 or Node.Node == n1) and Service.Port == 8080', false, true],
    ['Missing.Field == x', false, false],
    ['Missing.Field != x', true, true],
    ['Missing is empty', true, true],
    ['node.node == n1', true, false],
    ['Node.Node == n1 AND Service.Port == 80', true, false],
  ];
  for (const [source, one, two] of cases) {
    it(`${source} → ${one}, ${two}`, () => {
      const f = compile(source);
      expect([f(web1), f(web2)]).toEqual([one, two]);
    });
  }

  it('rejects malformed expressions with a 400-ready message that says where', () => {
    const bad: [string, RegExp][] = [
      ['', /empty filter expression/],
      ['Node.Node =', /unexpected '=' at position 11/],
      ['Node.Node == ', /expected a value at the end/],
      ['Node.Node', /expected an operator .* at the end/],
      ['Node.Node == "open', /unterminated string starting at position 14/],
      ['(Node.Node == a', /expected '\)' at the end/],
      ['Node.Node == a)', /unexpected '\)' at position 15/],
      ['Node.Node is full', /expected 'empty' at position 14/],
      ['Node.Node likes a', /expected an operator .* found 'likes'/],
      ['Node.Meta[rack] == a', /expected a quoted key after '\['/],
      ['Node.Name matches "("', /invalid regular expression/],
      ['Node.Name matches "(a)\\\\1"', /invalid regular expression/],
      ['Node.Node == a ; drop', /unexpected ';'/],
      ['9lives == a', /invalid selector '9lives'/],
      [`${'('.repeat(200)}a == b${')'.repeat(200)}`, /nested deeper than 64/],
      ['a == b '.repeat(1000), /longer than 4096/],
    ];
    for (const [source, message] of bad) {
      const f = compileFilter(source);
      expect(isFilterError(f), source).toBe(true);
      expect((f as { error: string }).error, source).toMatch(/^Failed to create boolean expression evaluator: /);
      expect((f as { error: string }).error, source).toMatch(message);
    }
  });

  it('a pattern that would backtrack exponentially runs in linear time', () => {
    const f = compile('Node.Node matches "(a+)+$"');
    const started = performance.now();
    expect(f({ Node: { Node: `${'a'.repeat(5000)}!` } })).toBe(false);
    // Not a timing assertion on a figure: a backtracking engine would not return at all.
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('fuzz: any text compiles or answers a FilterError; a compiled filter never throws on any JSON', () => {
    const atoms = fc.constantFrom(
      'Node',
      '.',
      'Node.Node',
      '==',
      '!=',
      ' ',
      'and',
      'or',
      'not',
      '(',
      ')',
      'in',
      'contains',
      'is',
      'empty',
      'matches',
      '"x"',
      '`y`',
      '[',
      ']',
      '"',
      '\\',
      'Meta["k"]',
      '1',
      'true',
      '*',
      '(a+)+',
    );
    const source = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.array(atoms, { maxLength: 14 }).map((a) => a.join(' ')),
      fc.array(atoms, { maxLength: 14 }).map((a) => a.join('')),
    );
    fc.assert(
      fc.property(source, fc.jsonValue(), (text, value) => {
        const f = compileFilter(text);
        if (isFilterError(f)) {
          expect(f.error).toMatch(/^Failed to create boolean expression evaluator: /);
          return;
        }
        expect(typeof f(value)).toBe('boolean');
        expect(typeof f(web1)).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the router applies filter, near and node-meta to list endpoints', () => {
  function agent(answer: (req: AgentRequest) => AgentResponse) {
    const seen: AgentRequest[] = [];
    const ctx = {
      datacenter: 'dc1',
      nodeName: 'n2',
      call: async (req: AgentRequest) => {
        seen.push(req);
        return answer(req);
      },
    };
    const get = async (url: string) => {
      const out = await routeHttp({ method: 'GET', url, headers: {}, body: new Uint8Array() }, ctx);
      return {
        status: out.status,
        headers: out.headers,
        text: typeof out.body === 'string' ? out.body : new TextDecoder().decode(out.body),
      };
    };
    return { seen, get };
  }
  const healthService = () =>
    agent(() => ({ status: 200, index: 42, knownLeader: true, lastContactMs: 0, body: [web1, web2] }));

  it('health/service: filter, node-meta and near; the index is the unfiltered one', async () => {
    const { get } = healthService();
    const filtered = await get(`/v1/health/service/web?filter=${encodeURIComponent('Service.Port == 8080')}`);
    expect(filtered.status).toBe(200);
    expect(filtered.headers['X-Consul-Index']).toBe('42');
    expect(JSON.parse(filtered.text).map((e: typeof web1) => e.Service.ID)).toEqual(['web2']);
    const meta = await get('/v1/health/service/web?node-meta=rack:r1');
    expect(JSON.parse(meta.text).map((e: typeof web1) => e.Service.ID)).toEqual(['web1']);
    const both = await get('/v1/health/service/web?node-meta=rack:r1&node-meta=env:prod');
    expect(JSON.parse(both.text)).toHaveLength(1);
    expect(JSON.parse((await get('/v1/health/service/web?node-meta=rack:r1&node-meta=env:test')).text)).toEqual([]);
    expect(
      JSON.parse((await get('/v1/health/service/web?near=_agent')).text).map((e: typeof web1) => e.Node.Node),
    ).toEqual(['n2', 'n1']);
    expect(JSON.parse((await get('/v1/health/service/web?near=n1')).text).map((e: typeof web1) => e.Node.Node)).toEqual(
      ['n1', 'n2'],
    );
    expect(
      JSON.parse((await get('/v1/health/service/web?near=nowhere')).text).map((e: typeof web1) => e.Node.Node),
    ).toEqual(['n1', 'n2']);
    const pretty = await get(`/v1/health/service/web?pretty&filter=${encodeURIComponent('Node.Node == n1')}`);
    expect(pretty.text).toContain('\n    ');
  });

  it('near with ?dc= sorts by the coordinates of that DC (asked there), as Consul; never by ours', async () => {
    // dc1's and dc2's coordinate tables disagree on purpose: n3 is close to n1 in dc2 only.
    const at = (ms: number) => ({ Vec: [ms / 1000, 0, 0, 0, 0, 0, 0, 0], Error: 0.2, Adjustment: 0, Height: 1e-5 });
    const tables: Record<string, { Node: string; Coord: ReturnType<typeof at> }[]> = {
      dc1: [
        { Node: 'n1', Coord: at(0) },
        { Node: 'n3', Coord: at(50) },
        { Node: 'n4', Coord: at(1) },
      ],
      dc2: [
        { Node: 'n1', Coord: at(0) },
        { Node: 'n3', Coord: at(1) },
        { Node: 'n4', Coord: at(50) },
      ],
    };
    const entries = ['n4', 'n3', 'n1'].map((n) => ({ Node: { Node: n }, Service: { ID: `web-${n}` }, Checks: [] }));
    const { get, seen } = agent((req) =>
      req.type === 'coordinate.nodes'
        ? { status: 200, index: 3, body: tables[req.dc ?? 'dc1'] }
        : { status: 200, index: 9, body: entries },
    );
    const order = async (url: string) =>
      JSON.parse((await get(url)).text).map((e: { Node: { Node: string } }) => e.Node.Node);
    expect(await order('/v1/health/service/web?near=n1')).toEqual(['n1', 'n4', 'n3']);
    expect(await order('/v1/health/service/web?near=n1&dc=dc2')).toEqual(['n1', 'n3', 'n4']);
    expect(seen.filter((r) => r.type === 'coordinate.nodes').map((r) => r.dc)).toEqual([undefined, 'dc2']);
  });

  it('a malformed filter answers 400 before the agent is asked', async () => {
    const { get, seen } = healthService();
    const r = await get(`/v1/health/service/web?filter=${encodeURIComponent('Service.Port ==')}`);
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/^Failed to create boolean expression evaluator: expected a value/);
    expect(seen).toEqual([]);
  });

  it('errors and 404s pass through untouched', async () => {
    const { get } = agent(() => ({ status: 500, error: 'No cluster leader', body: null }));
    const r = await get('/v1/catalog/nodes?filter=Node%20%3D%3D%20a');
    expect([r.status, r.text]).toEqual([500, 'No cluster leader']);
  });

  it('catalog/nodes, catalog/service, catalog/node, health checks and agent maps', async () => {
    const nodes = [
      { Node: 'n1', Address: '127.0.0.1', Meta: { rack: 'r1' } },
      { Node: 'n2', Address: '127.0.0.2', Meta: { rack: 'r2' } },
    ];
    const answers: Record<string, unknown> = {
      'catalog.nodes': nodes,
      'catalog.service': [
        { Node: 'n1', ServiceID: 'web1', ServiceTags: ['rails'], NodeMeta: { rack: 'r1' } },
        { Node: 'n2', ServiceID: 'web2', ServiceTags: [], NodeMeta: { rack: 'r2' } },
      ],
      'catalog.node': {
        Node: nodes[0],
        Services: { web1: { ID: 'web1', Tags: ['rails'] }, db: { ID: 'db', Tags: [] } },
      },
      'health.state': [
        { Node: 'n1', CheckID: 'serfHealth', Status: 'critical' },
        { Node: 'n2', CheckID: 'serfHealth', Status: 'passing' },
      ],
      'agent.services': { web1: { ID: 'web1', Service: 'web', Port: 80 }, db: { ID: 'db', Service: 'db', Port: 5432 } },
      'agent.checks': { a: { CheckID: 'a', Status: 'passing' }, b: { CheckID: 'b', Status: 'critical' } },
    };
    const { get } = agent((req) => ({ status: 200, index: 7, body: answers[req.type] }));
    const q = (s: string) => encodeURIComponent(s);
    expect(JSON.parse((await get(`/v1/catalog/nodes?filter=${q('Meta.rack == r2')}`)).text)).toEqual([nodes[1]]);
    expect(JSON.parse((await get('/v1/catalog/nodes?near=n2')).text).map((n: { Node: string }) => n.Node)).toEqual([
      'n2',
      'n1',
    ]);
    expect(
      JSON.parse((await get('/v1/catalog/service/web?node-meta=rack:r2')).text).map(
        (n: { ServiceID: string }) => n.ServiceID,
      ),
    ).toEqual(['web2']);
    expect(
      JSON.parse((await get(`/v1/catalog/service/web?filter=${q('rails in ServiceTags')}`)).text).map(
        (n: { ServiceID: string }) => n.ServiceID,
      ),
    ).toEqual(['web1']);
    expect(
      Object.keys(JSON.parse((await get(`/v1/catalog/node/n1?filter=${q('Tags is empty')}`)).text).Services),
    ).toEqual(['db']);
    expect(JSON.parse((await get(`/v1/health/state/any?filter=${q('Status == critical')}`)).text)).toHaveLength(1);
    expect(Object.keys(JSON.parse((await get(`/v1/agent/services?filter=${q('Service == db')}`)).text))).toEqual([
      'db',
    ]);
    expect(Object.keys(JSON.parse((await get(`/v1/agent/checks?filter=${q('Status != passing')}`)).text))).toEqual([
      'b',
    ]);
    expect((await get(`/v1/agent/services?filter=${q('Port > 1')}`)).status).toBe(400);
  });
});
