/**
 * Legacy ACLs against a real agent (acl_datacenter + acl_master_token, default policy allow), through
 * the npm `consul` client's legacy ACL API and its token option: management-only administration,
 * key rules (read, deny, longest prefix; recurse lists filtered), service rules on registration and
 * on health reads, unknown tokens refused. The agent with ACLs off answers 401 (consul.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Consul from 'consul';
import { startTestAgent, type TestAgent } from './agent.js';

const master = 'b1a5e2f0-0000-4000-8000-000000000001';
let agent: TestAgent;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let root: any; // the master token
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let anon: any; // no token: anonymous

beforeAll(async () => {
  agent = await startTestAgent({
    nodeName: 'acl1',
    configFiles: { 'acl.json': JSON.stringify({ acl_datacenter: 'dc1', acl_master_token: master }) },
  });
  root = new Consul({ host: '127.0.0.1', port: agent.httpPort, defaults: { token: master } });
  anon = new Consul({ host: '127.0.0.1', port: agent.httpPort });
  // The leader creates the anonymous and master tokens once elected.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ids = ((await root.acl.legacy.list().catch(() => [])) as { ID: string }[]).map((t) => t.ID);
    if (ids.includes('anonymous') && ids.includes(master)) break;
    if (Date.now() > deadline) throw new Error('ACL tokens were not created');
    await new Promise((r) => setTimeout(r, 100));
  }
}, 30_000);
afterAll(async () => {
  root?.destroy();
  anon?.destroy();
  await agent?.stop();
});

const rules =
  'key "" { policy = "read" }\nkey "private/" { policy = "deny" }\nservice "foo-" { policy = "write" }\nservice "bar-" { policy = "read" }\n';

describe('legacy ACLs', () => {
  it('administration needs a management token; info is open', async () => {
    await expect(anon.acl.legacy.list()).rejects.toThrow(/Permission denied/);
    await expect(anon.acl.legacy.create({ name: 'x' })).rejects.toThrow(/Permission denied/);
    const list = (await root.acl.legacy.list()) as { ID: string; Type: string }[];
    expect(list.map((t) => [t.ID, t.Type])).toEqual(
      [
        ['anonymous', 'client'],
        [master, 'management'],
      ].sort(),
    );
    expect((await anon.acl.legacy.info('anonymous')) as { Name: string }).toMatchObject({ Name: 'Anonymous Token' });
    await expect(anon.kv.get({ key: 'x', token: 'no-such-token' })).rejects.toThrow(/ACL not found/);
  });

  it('create, clone, update, destroy', async () => {
    const { ID: token } = (await root.acl.legacy.create({ name: 'limited', type: 'client', rules })) as { ID: string };
    expect(((await root.acl.legacy.info(token)) as { Rules: string }).Rules).toBe(rules);
    const { ID: copy } = (await root.acl.legacy.clone(token)) as { ID: string };
    expect(copy).not.toBe(token);
    await root.acl.legacy.update({ id: copy, name: 'Foo', rules });
    expect(((await root.acl.legacy.info(copy)) as { Name: string }).Name).toBe('Foo');
    await root.acl.legacy.destroy(copy);
    expect(await root.acl.legacy.info(copy)).toBeUndefined();
    const bad = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/acl/create`, {
      method: 'PUT',
      headers: { 'X-Consul-Token': master },
      body: '{"Rules":"key \\"\\" { policy = \\"sometimes\\" }"}',
    });
    expect([bad.status, await bad.text()]).toEqual([
      500,
      'ACL rule compilation failed: line 1: invalid policy "sometimes" (read, write or deny)',
    ]);
    await root.acl.legacy.destroy(token);
  });

  it('key rules: read allowed, writes and the denied prefix refused; lists filtered', async () => {
    const { ID: token } = (await root.acl.legacy.create({ rules })) as { ID: string };
    await anon.kv.set('foo', 'bar'); // anonymous: default policy allow
    await anon.kv.set('private/foo', 'secret');
    expect(((await anon.kv.get({ key: 'foo', token })) as { Value: string }).Value).toBe('bar');
    await expect(anon.kv.set({ key: 'foo', value: 'x', token })).rejects.toThrow(/Permission denied/);
    await expect(anon.kv.del({ key: 'foo', token })).rejects.toThrow(/Permission denied/);
    await expect(anon.kv.get({ key: 'private/foo', token })).rejects.toThrow(/Permission denied/);
    const all = (await anon.kv.get({ key: '', recurse: true, token })) as { Key: string }[];
    expect(all.map((e) => e.Key)).toEqual(['foo']);
    const keys = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/kv/private/?keys`, {
      headers: { 'X-Consul-Token': token },
    });
    expect(keys.status).toBe(404); // every key filtered out
    await expect(anon.kv.del({ key: 'private/', recurse: true, token })).rejects.toThrow(/Permission denied/);
    const txn = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/txn`, {
      method: 'PUT',
      headers: { 'X-Consul-Token': token },
      body: '[{"KV":{"Verb":"set","Key":"foo","Value":"eA=="}}]',
    });
    expect(txn.status).toBe(403);
    await root.acl.legacy.destroy(token);
  });

  it('service rules: registration needs write, health reads need read', async () => {
    const { ID: token } = (await root.acl.legacy.create({ rules })) as { ID: string };
    await expect(anon.agent.service.register({ name: 'bar-1', token })).rejects.toThrow(/Permission denied/);
    await anon.agent.service.register({ name: 'foo-1', token });
    // The register answers once the catalog has it (Consul's syncChanges): no wait needed.
    const entries = (await anon.health.service({ service: 'foo-1', token })) as { Service: { ID: string } }[];
    expect(entries[0]?.Service.ID).toBe('foo-1');
    const deny = `service "" { policy = "deny" }`;
    const { ID: blind } = (await root.acl.legacy.create({ rules: deny })) as { ID: string };
    expect(await anon.health.service({ service: 'foo-1', token: blind })).toEqual([]);
    expect(Object.keys((await anon.catalog.services({ token: blind })) as object)).toEqual([]);
    await anon.agent.service.deregister('foo-1');
    for (const t of [token, blind]) await root.acl.legacy.destroy(t);
  });
});
