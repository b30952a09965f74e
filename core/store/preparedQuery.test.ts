/**
 * Prepared queries in the store (Consul's state/prepared_query.go, prepared_query_endpoint.go and
 * prepared_query/template.go): writes, name rules, session lifetime, resolution order, template
 * rendering and execution filters. The store is driven directly, as in store.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { pack, unpack } from 'msgpackr';
import { createStoreFsm, type StoreFsm } from './store.js';
import { checkPreparedQuery, interpolate, preparedQueryFromInput } from './preparedQuery.js';
import type {
  CommandResult,
  PreparedQuery,
  PreparedQueryDefinition,
  QueryResult,
  StoreCommand,
  StoreQuery,
} from './types.js';

const id = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

class Harness {
  readonly fsm: StoreFsm = createStoreFsm();
  index = 0;
  apply(command: StoreCommand): CommandResult {
    const result = this.fsm.apply(command, ++this.index);
    expect(this.fsm.invariants()).toEqual([]);
    return result;
  }
  read(query: StoreQuery): QueryResult {
    const result = this.fsm.query(query);
    if ('error' in result) throw new Error(result.error);
    return result;
  }
  define(n: number, input: Record<string, unknown>, create = true): CommandResult {
    return this.apply({ type: 'preparedQuerySet', query: preparedQueryFromInput(input, id(n)), create });
  }
  /** An instance of `service` on `node` with one service check in `status`. */
  instance(
    node: string,
    service: string,
    status: 'passing' | 'warning' | 'critical',
    tags: string[] = [],
    meta: Record<string, string> = {},
  ): void {
    const result = this.apply({
      type: 'catalogRegister',
      node: { node, address: `10.0.0.${node.slice(1)}`, meta },
      service: { id: `${service}-${node}`, service, tags },
      checks: [{ name: 'alive', checkId: `service:${service}-${node}`, serviceId: `${service}-${node}`, status }],
      nowMs: 0,
    });
    expect(result.ok).toBe(true);
  }
  execute(
    idOrName: string,
    extra: { near?: string; limit?: number; seed?: number } = {},
  ): { Nodes: { Node: { Node: string } }[]; Query: PreparedQuery } | null {
    const value = this.read({
      type: 'preparedQueryExecute',
      idOrName,
      agentNode: 'n9',
      seed: extra.seed ?? 1,
      datacenter: 'dc1',
      ...extra,
    }).value;
    return value as { Nodes: { Node: { Node: string } }[]; Query: PreparedQuery } | null;
  }
  nodesOf(idOrName: string, extra: { near?: string; limit?: number; seed?: number } = {}): string[] {
    return (this.execute(idOrName, extra)?.Nodes ?? []).map((e) => e.Node.Node).sort();
  }
}

describe('prepared query writes', () => {
  it('create stores every field with Consul zero values; update replaces, keeping CreateIndex; both bump the table index', () => {
    const h = new Harness();
    expect(h.define(1, { Name: 'web', Service: { Service: 'web', Tags: ['prod'] }, DNS: { TTL: '10s' } })).toEqual({
      ok: true,
      value: { ID: id(1) },
    });
    const list = h.read({ type: 'preparedQueryList' });
    expect(list.index).toBe(1);
    expect(list.value).toEqual([
      {
        ID: id(1),
        Name: 'web',
        Session: '',
        Token: '',
        Template: { Type: '', Regexp: '', RemoveEmptyTags: false },
        Service: {
          Service: 'web',
          Failover: { NearestN: 0, Datacenters: null },
          OnlyPassing: false,
          IgnoreCheckIDs: null,
          Near: '',
          Tags: ['prod'],
          NodeMeta: null,
          ServiceMeta: null,
        },
        DNS: { TTL: '10s' },
        CreateIndex: 1,
        ModifyIndex: 1,
      },
    ]);
    expect(h.define(1, { Name: 'web2', Service: { Service: 'db' } }, false).ok).toBe(true);
    expect(h.read({ type: 'preparedQueryGet', id: id(1) })).toMatchObject({
      index: 2,
      value: { Name: 'web2', Service: { Service: 'db', Tags: null }, DNS: { TTL: '' }, CreateIndex: 1, ModifyIndex: 2 },
    });
    expect(h.apply({ type: 'preparedQueryDelete', id: id(1) })).toEqual({ ok: true, value: true });
    expect(h.read({ type: 'preparedQueryGet', id: id(1) })).toEqual({ index: 3, value: null });
  });

  it('update or delete of an unknown ID, a duplicate create, or a missing service name fail', () => {
    const h = new Harness();
    expect(h.define(1, { Service: { Service: 'web' } }, false)).toEqual({
      ok: false,
      error: `Cannot modify non-existent prepared query: '${id(1)}'`,
    });
    expect(h.apply({ type: 'preparedQueryDelete', id: id(1) })).toEqual({
      ok: false,
      error: `Cannot modify non-existent prepared query: '${id(1)}'`,
    });
    expect(h.define(1, { Service: { Service: 'web' } }).ok).toBe(true);
    expect(h.define(1, { Service: { Service: 'web' } }).ok).toBe(false);
    expect(h.define(2, { Name: 'x' })).toEqual({ ok: false, error: 'Must provide a Service name to query' });
  });

  it('a name may alias no other query name (case-insensitively) or ID, and only one template has the empty name', () => {
    const h = new Harness();
    expect(h.define(1, { Name: 'Web', Service: { Service: 'web' } }).ok).toBe(true);
    expect(h.define(2, { Name: 'web', Service: { Service: 'web' } })).toEqual({
      ok: false,
      error: "name 'web' aliases an existing query name",
    });
    expect(h.define(1, { Name: 'web', Service: { Service: 'web' } }, false).ok).toBe(true); // the same query may keep its name
    expect(h.define(3, { Name: id(1), Service: { Service: 'web' } })).toEqual({
      ok: false,
      error: `name '${id(1)}' aliases an existing query ID`,
    });
    const template = { Type: 'name_prefix_match' };
    expect(h.define(4, { Template: template, Service: { Service: 'any' } }).ok).toBe(true);
    expect(h.define(5, { Template: template, Service: { Service: 'other' } })).toEqual({
      ok: false,
      error: 'a query template with an empty name already exists',
    });
    expect(h.define(6, { Service: { Service: 'unnamed' } }).ok).toBe(true); // unnamed plain queries do not collide
    expect(h.define(7, { Service: { Service: 'unnamed' } }).ok).toBe(true);
  });

  it('a query tied to a session needs a live session and is deleted when the session is invalidated', () => {
    const h = new Harness();
    h.apply({ type: 'memberHealth', node: 'n1', address: '10.0.0.1', health: 'alive', nowMs: 0 });
    expect(h.define(1, { Name: 'q', Session: 's1', Service: { Service: 'web' } })).toEqual({
      ok: false,
      error: 'invalid session "s1"',
    });
    h.apply({ type: 'sessionCreate', session: { id: 's1', node: 'n1' }, nowMs: 0 });
    expect(h.define(1, { Name: 'q', Session: 's1', Service: { Service: 'web' } }).ok).toBe(true);
    expect(h.define(2, { Name: 'free', Service: { Service: 'web' } }).ok).toBe(true);
    h.apply({ type: 'sessionDestroy', id: 's1', nowMs: 0 });
    expect((h.read({ type: 'preparedQueryList' }).value as PreparedQuery[]).map((q) => q.Name)).toEqual(['free']);
    expect(h.read({ type: 'preparedQueryList' }).index).toBe(h.index);
  });

  it('survives a snapshot and restore', () => {
    const h = new Harness();
    h.define(1, {
      Name: 'geo-',
      Template: { Type: 'name_prefix_match', Regexp: '^geo-(.*)$' },
      Service: { Service: 'web-${match(1)}' },
    });
    const copy = createStoreFsm();
    copy.restore(unpack(pack(h.fsm.snapshot())));
    expect(copy.query({ type: 'preparedQueryList' })).toEqual(h.read({ type: 'preparedQueryList' }));
    expect(copy.invariants()).toEqual([]);
  });
});

describe('prepared query checks before proposing (parseQuery, template Compile)', () => {
  const q = (input: Record<string, unknown>): PreparedQueryDefinition => preparedQueryFromInput(input, id(1));
  it('accepts a plain query and a template; refuses what Consul refuses', () => {
    expect(checkPreparedQuery(q({ Service: { Service: 'web' }, DNS: { TTL: '1m30s' } }))).toBeNull();
    expect(
      checkPreparedQuery(
        q({
          Name: 'geo-',
          Template: { Type: 'name_prefix_match', Regexp: '^geo-(?P<dc>.*)$' },
          Service: { Service: '${match(1)}', Tags: ['${name.suffix}'] },
        }),
      ),
    ).toBeNull();
    expect(checkPreparedQuery(q({ Service: {} }))).toBe('Must provide a Service name to query');
    expect(checkPreparedQuery(q({ Service: { Service: 'web' }, DNS: { TTL: '-5s' } }))).toMatch(/^Bad DNS TTL '-5s'/);
    expect(checkPreparedQuery(q({ Service: { Service: 'web', Failover: { NearestN: -1 } } }))).toBe(
      "Bad NearestN '-1', must be >= 0",
    );
    expect(checkPreparedQuery(q({ Template: { Type: 'exact' }, Service: { Service: 'web' } }))).toBe(
      "Bad Template.Type 'exact'",
    );
    expect(
      checkPreparedQuery(q({ Template: { Type: 'name_prefix_match', Regexp: '(' }, Service: { Service: 'web' } })),
    ).toMatch(/^Bad Regexp/);
    expect(
      checkPreparedQuery(q({ Template: { Type: 'name_prefix_match' }, Service: { Service: '${agent.name}' } })),
    ).toMatch(/unknown variable or function "agent.name"/);
    expect(
      checkPreparedQuery(q({ Template: { Type: 'name_prefix_match' }, Service: { Service: '${name.full' } })),
    ).toMatch(/unterminated/);
  });

  it('interpolates HIL variables, match groups and the $${ escape', () => {
    const scope = { full: 'geo-db-eu', prefix: 'geo-', suffix: 'db-eu', matches: ['geo-db-eu', 'db', 'eu'] };
    expect(
      interpolate(
        '${name.full}|${ name.prefix }|${name.suffix}|${match(1)}-${match(2)}|${match(7)}|$${x}|${agent.segment}',
        scope,
      ),
    ).toBe('geo-db-eu|geo-|db-eu|db-eu||${x}|');
  });
});

describe('prepared query resolution (PreparedQueryResolve)', () => {
  it('by ID, then exact name, then the longest template prefix; templates render for the name; templates cannot run by ID', () => {
    const h = new Harness();
    h.define(1, { Name: 'web', Service: { Service: 'web-static' } });
    h.define(2, {
      Name: 'geo-',
      Template: { Type: 'name_prefix_match', Regexp: '^geo-([a-z]+)-(.*)$', RemoveEmptyTags: true },
      Service: { Service: '${match(1)}', Tags: ['${match(2)}', '${match(5)}'] },
    });
    h.define(3, {
      Name: 'geo-db-',
      Template: { Type: 'name_prefix_match' },
      Service: { Service: 'db-${name.suffix}' },
    });
    h.define(4, { Name: '', Template: { Type: 'name_prefix_match' }, Service: { Service: '${name.full}' } });
    const explain = (name: string): unknown => h.read({ type: 'preparedQueryExplain', idOrName: name }).value;
    expect(explain(id(1))).toMatchObject({ ID: id(1), Service: { Service: 'web-static' } });
    expect(explain('WEB')).toMatchObject({ ID: id(1) });
    expect(explain('geo-cache-eu')).toMatchObject({ ID: id(2), Service: { Service: 'cache', Tags: ['eu'] } });
    expect(explain('geo-db-us')).toMatchObject({ ID: id(3), Service: { Service: 'db-us' } });
    expect(explain('anything')).toMatchObject({ ID: id(4), Service: { Service: 'anything' } });
    expect(explain(id(2))).toEqual({ error: 'prepared query templates can only be resolved up by name, not by ID' });
    expect(explain('')).toBeNull();
    // The stored template keeps its interpolations.
    expect(h.read({ type: 'preparedQueryGet', id: id(2) }).value).toMatchObject({
      Service: { Service: '${match(1)}' },
    });
  });

  it('an unknown name resolves to nothing when no template matches', () => {
    const h = new Harness();
    h.define(1, { Name: 'web', Service: { Service: 'web' } });
    expect(h.read({ type: 'preparedQueryExplain', idOrName: 'db' }).value).toBeNull();
    expect(h.execute('db')).toBeNull();
  });
});

describe('prepared query execution (PreparedQuery.Execute in one datacenter)', () => {
  it('drops critical instances always and warning ones with OnlyPassing; IgnoreCheckIDs do not count', () => {
    const h = new Harness();
    h.instance('n1', 'web', 'passing');
    h.instance('n2', 'web', 'warning');
    h.instance('n3', 'web', 'critical');
    h.define(1, { Name: 'any', Service: { Service: 'web' } });
    h.define(2, { Name: 'strict', Service: { Service: 'web', OnlyPassing: true } });
    h.define(3, { Name: 'lenient', Service: { Service: 'web', IgnoreCheckIDs: ['service:web-n3'] } });
    expect(h.nodesOf('any')).toEqual(['n1', 'n2']);
    expect(h.nodesOf('strict')).toEqual(['n1']);
    expect(h.nodesOf('lenient')).toEqual(['n1', 'n2', 'n3']);
  });

  it('filters by tags (case-insensitive, "!tag" excludes), node meta and service meta', () => {
    const h = new Harness();
    h.instance('n1', 'web', 'passing', ['Prod'], { zone: 'a' });
    h.instance('n2', 'web', 'passing', ['prod', 'canary'], { zone: 'b' });
    h.instance('n3', 'web', 'passing', [], { zone: 'a' });
    h.define(1, { Name: 'prod', Service: { Service: 'web', Tags: ['prod', '!canary'] } });
    h.define(2, { Name: 'zone-a', Service: { Service: 'web', NodeMeta: { zone: 'a' } } });
    expect(h.nodesOf('prod')).toEqual(['n1']);
    expect(h.nodesOf('zone-a')).toEqual(['n1', 'n3']);
  });

  it('shuffles by the seed, moves the near node (or the agent for _agent) first, and applies the limit', () => {
    const h = new Harness();
    for (const n of ['n1', 'n2', 'n3', 'n4', 'n5', 'n9']) h.instance(n, 'web', 'passing');
    h.define(1, { Name: 'web', Service: { Service: 'web' } });
    h.define(2, { Name: 'near-me', Service: { Service: 'web', Near: '_agent' } });
    const order = (extra: { near?: string; limit?: number; seed?: number }): string[] =>
      (h.execute('web', extra)?.Nodes ?? []).map((e) => e.Node.Node);
    const orders = new Set([1, 2, 3, 4, 5, 6, 7, 8].map((seed) => order({ seed }).join()));
    expect(orders.size).toBeGreaterThan(1);
    expect(order({ seed: 3 })).toEqual(order({ seed: 3 }));
    for (const seed of [1, 2, 3]) expect(order({ seed, near: 'n4' })[0]).toBe('n4');
    for (const seed of [1, 2, 3]) expect(h.execute('near-me', { seed })!.Nodes[0]!.Node.Node).toBe('n9');
    expect(order({ seed: 2, limit: 2 })).toEqual(order({ seed: 2 }).slice(0, 2));
    expect(
      h.read({ type: 'preparedQueryExecute', idOrName: 'web', agentNode: 'n9', seed: 1, datacenter: 'dc7' }).value,
    ).toMatchObject({ Datacenter: 'dc7' });
  });

  it('with network coordinates, near sorts by estimated round trip; nodes without one go last', () => {
    const h = new Harness();
    for (const n of ['n1', 'n2', 'n3', 'n4', 'n5']) h.instance(n, 'web', 'passing');
    h.define(1, { Name: 'web', Service: { Service: 'web' } });
    // On a line: n1 at 0 ms, n2 at 2 ms, n3 at 5 ms, n4 at 9 ms; n5 has no coordinate.
    const at = (ms: number) => ({ Vec: [ms / 1000, 0, 0, 0, 0, 0, 0, 0], Error: 0.2, Adjustment: 0, Height: 0.00001 });
    const updates = [
      ['n1', 0],
      ['n2', 2],
      ['n3', 5],
      ['n4', 9],
    ].map(([Node, ms]) => ({ Node: Node as string, Coord: at(ms as number) }));
    expect(h.apply({ type: 'coordinateBatchUpdate', updates })).toEqual({ ok: true, value: 4 });
    for (const seed of [1, 2, 3, 4]) {
      expect(h.execute('web', { seed, near: 'n3' })!.Nodes.map((e) => e.Node.Node)).toEqual([
        'n3',
        'n2',
        'n4',
        'n1',
        'n5',
      ]);
      expect(h.execute('web', { seed, near: 'n1' })!.Nodes.map((e) => e.Node.Node)).toEqual([
        'n1',
        'n2',
        'n3',
        'n4',
        'n5',
      ]);
    }
  });
});

describe('prepared query run for another DC (PreparedQuery.ExecuteRemote, failover)', () => {
  it('runs the given query (no lookup, no near sort), applies the limit, echoes this DC; a malformed query cannot throw', () => {
    const h = new Harness();
    for (const n of ['n1', 'n2', 'n3']) h.instance(n, 'web', 'passing');
    h.instance('n4', 'web', 'critical');
    // Not stored here: the asking DC resolved it, and sends it whole.
    const query = { ...preparedQueryFromInput({ Name: 'web', Service: { Service: 'web', Near: 'n2' } }, id(7)) };
    const run = (extra: Record<string, unknown>) =>
      h.read({ type: 'preparedQueryExecuteRemote', query, seed: 1, datacenter: 'dc2', ...extra } as StoreQuery)
        .value as { Nodes: { Node: { Node: string } }[]; Datacenter: string; Query: PreparedQuery };
    const answer = run({});
    expect(answer.Datacenter).toBe('dc2');
    expect(answer.Nodes.map((e) => e.Node.Node).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(run({ limit: 2 }).Nodes).toHaveLength(2);
    // The near node is not moved first: seeds whose shuffle leaves n2 elsewhere keep it there.
    const firsts = new Set([1, 2, 3, 4, 5, 6, 7, 8].map((seed) => run({ seed }).Nodes[0]!.Node.Node));
    expect(firsts.size).toBeGreaterThan(1);
    for (const bad of [{ Service: 'web' }, { Service: { Service: 'web', Tags: 'prod', IgnoreCheckIDs: 3 } }, 7]) {
      const result = h.fsm.query({
        type: 'preparedQueryExecuteRemote',
        query: bad,
        seed: 1,
        datacenter: 'dc2',
      } as unknown as StoreQuery);
      expect(result).toBeDefined();
    }
  });
});
