/**
 * The ACL bypasses of issue 14 §4, each replayed against a real agent process with
 * `acl_default_policy: deny` (and script checks on, as `-dev` has them): anonymous callers and a token
 * limited to service `mine` and keys under `public/` try to read or change what their rules deny. Each
 * test states the attack and checks both the answer and, through the master token, that nothing
 * changed. On the pre-session code (/work/base) every one of these failed: the HTTP layer guessed
 * the resource from the path and the raw body while the agent acted on its own parse.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from './agent.js';
import { dig } from '../../net/dns/client.js';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const master = 'b1a5e2f0-0000-4000-8000-0000000000aa';
let agent: TestAgent;
let base: string;
let mine: string; // service "mine" write, keys under public/ write
let queryId: string;
let sessionId: string;

async function req(method: string, path: string, body?: unknown, token?: string) {
  const res = await fetch(base + path, {
    method,
    headers: token ? { 'X-Consul-Token': token } : {},
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text };
}
const asMaster = async (method: string, path: string, body?: unknown) => {
  const r = await req(method, path, body, master);
  expect(r.status, `${method} ${path}: ${r.text}`).toBe(200);
  return r.text === '' ? null : (JSON.parse(r.text) as unknown);
};
const b64 = (s: string) => Buffer.from(s).toString('base64');
const secretValue = async () =>
  ((await asMaster('GET', '/v1/kv/secret/a')) as { Value: string }[])[0]!.Value === b64('s3cret');

beforeAll(async () => {
  agent = await startTestAgent({
    nodeName: 'deny1',
    token: master,
    configFiles: {
      'acl.json': JSON.stringify({ acl_datacenter: 'dc1', acl_master_token: master, acl_default_policy: 'deny' }),
    },
  });
  base = `http://127.0.0.1:${agent.httpPort}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await req('GET', '/v1/acl/list', undefined, master);
    if (r.status === 200 && r.text.includes('anonymous') && r.text.includes(master)) break;
    if (Date.now() > deadline) throw new Error(`ACL tokens were not created: ${r.status} ${r.text}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  await asMaster('PUT', '/v1/kv/secret/a', 's3cret');
  await asMaster('PUT', '/v1/kv/public/b', 'p');
  await asMaster('PUT', '/v1/agent/service/register', { Name: 'web', Port: 80, Check: { TTL: '60s' } });
  await asMaster('PUT', '/v1/agent/check/pass/service:web');
  await asMaster('PUT', '/v1/catalog/register', { Node: 'other', Address: '10.0.0.9', Service: { Service: 'db' } });
  sessionId = ((await asMaster('PUT', '/v1/session/create', { Name: 'm' })) as { ID: string }).ID;
  await asMaster('PUT', '/v1/event/fire/deploy', 'x');
  queryId = ((await asMaster('POST', '/v1/query', { Name: 'webq', Service: { Service: 'web' } })) as { ID: string }).ID;
  const rules = 'service "mine" { policy = "write" }\nkey "public/" { policy = "write" }\n';
  mine = ((await asMaster('PUT', '/v1/acl/create', { Name: 'mine', Type: 'client', Rules: rules })) as { ID: string })
    .ID;
}, 60_000);
afterAll(async () => agent?.stop());

describe('ACL bypasses are refused (acl_default_policy deny)', () => {
  it('GET /v1/kv?recurse without the trailing slash shows no key', async () => {
    const r = await req('GET', '/v1/kv?recurse');
    expect([403, 404], r.text).toContain(r.status);
    expect(r.text).not.toContain('secret');
    const keys = await req('GET', '/v1/kv?keys');
    expect(keys.text).not.toContain('secret');
  });

  it('DELETE /v1/kv?recurse does not wipe the store', async () => {
    const r = await req('DELETE', '/v1/kv?recurse');
    expect(r.status).toBe(403);
    expect(await secretValue()).toBe(true);
  });

  it('an anonymous script check is refused (it would run as the agent user)', async () => {
    for (const body of [
      { Name: 'pwn', Script: 'id', Interval: '10s' },
      { Name: 'pwn2', Args: ['id'], Interval: '10s' },
    ]) {
      const r = await req('PUT', '/v1/agent/check/register', body);
      expect(r.status, JSON.stringify(body)).toBe(403);
    }
    const checks = (await asMaster('GET', '/v1/agent/checks')) as Record<string, unknown>;
    expect(Object.keys(checks)).not.toContain('pwn');
    expect(Object.keys(checks)).not.toContain('pwn2');
  });

  it('anonymous register + check/fail cannot take a protected service out of passing', async () => {
    const reg = await req('PUT', '/v1/agent/check/register', { Name: 'evil', ServiceID: 'web', TTL: '10s' });
    expect(reg.status).toBe(403);
    for (const verb of ['fail', 'warn', 'pass']) {
      const r = await req('PUT', `/v1/agent/check/${verb}/service:web`);
      expect(r.status, verb).toBe(403);
    }
    const upd = await req('PUT', '/v1/agent/check/update/service:web', { Status: 'critical' });
    expect(upd.status).toBe(403);
    const checks = (await asMaster('GET', '/v1/health/checks/web')) as { CheckID: string; Status: string }[];
    expect(checks.map((c) => [c.CheckID, c.Status])).toEqual([['service:web', 'passing']]);
  });

  it('txn with K_V or a duplicate KV/kv pair neither reads nor writes a denied key', async () => {
    const read = await req('PUT', '/v1/txn', [{ K_V: { Verb: 'get', Key: 'secret/a' } }], mine);
    expect(read.status).toBe(400);
    expect(read.text).toContain('K_V');
    expect(read.text).not.toContain(b64('s3cret'));
    const write = await req('PUT', '/v1/txn', [{ K_V: { Verb: 'set', Key: 'secret/a', Value: b64('pwn') } }], mine);
    expect(write.status).toBe(400);
    const dup =
      '[{"KV":{"Verb":"set","Key":"public/x","Value":"eA=="},"kv":{"Verb":"set","Key":"secret/a","Value":"cHdu"}}]';
    const r = await req('PUT', '/v1/txn', dup, mine);
    expect(r.status).toBe(400);
    expect(await secretValue()).toBe(true);
    // The same token may still write its own keys through txn.
    const ok = await req('PUT', '/v1/txn', [{ KV: { Verb: 'set', Key: 'public/y', Value: 'eQ==' } }], mine);
    expect(ok.status, ok.text).toBe(200);
  });

  it("a token for service 'mine' cannot register 'web' through N_ame or a duplicate Name/name", async () => {
    for (const body of ['{"Name":"mine","N_ame":"web","Port":6666}', '{"Name":"mine","name":"web","Port":6666}']) {
      const r = await req('PUT', '/v1/agent/service/register', body, mine);
      expect(r.status, body).toBe(400);
    }
    const services = (await asMaster('GET', '/v1/agent/services')) as Record<string, { Port: number }>;
    expect(services['web']?.Port).toBe(80);
    const own = await req('PUT', '/v1/agent/service/register', { Name: 'mine', Port: 1 }, mine);
    expect(own.status, own.text).toBe(200);
  });

  it("a token for service 'mine' cannot change another node's address through catalog/register", async () => {
    const r = await req(
      'PUT',
      '/v1/catalog/register',
      { Node: 'other', Address: '6.6.6.6', Service: { Service: 'mine' } },
      mine,
    );
    expect(r.status).toBe(403);
    const node = (await asMaster('GET', '/v1/catalog/node/other')) as { Node: { Address: string } };
    expect(node.Node.Address).toBe('10.0.0.9');
  });

  it("a token for service 'mine' cannot deregister another node", async () => {
    for (const body of [{ Node: 'other' }, { Node: 'other', Service: { Service: 'mine' } }]) {
      const r = await req('PUT', '/v1/catalog/deregister', body, mine);
      expect([400, 403], JSON.stringify(body)).toContain(r.status);
    }
    const node = (await asMaster('GET', '/v1/catalog/node/other')) as { Node: { Address: string } } | null;
    expect(node?.Node.Address).toBe('10.0.0.9');
  });

  it('prepared queries: anonymous create is refused and execute returns no protected service', async () => {
    const create = await req('POST', '/v1/query', { Name: 'evil', Service: { Service: 'web' } });
    expect(create.status).toBe(403);
    const run = await req('GET', `/v1/query/${queryId}/execute`);
    if (run.status === 200) expect((JSON.parse(run.text) as { Nodes: unknown[] }).Nodes).toEqual([]);
    else expect(run.status).toBe(403);
    const list = await req('GET', '/v1/query');
    expect(list.text).not.toContain(queryId);
  });

  it('anonymous coordinate updates are refused', async () => {
    const coord = { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 1e-5 };
    const r = await req('PUT', '/v1/coordinate/update', { Node: 'other', Coord: coord });
    expect(r.status).toBe(403);
  });

  it('anonymous session list and event list show nothing', async () => {
    const sessions = await req('GET', '/v1/session/list');
    expect(sessions.text).not.toContain(sessionId);
    const info = await req('GET', `/v1/session/info/${sessionId}`);
    expect(info.text).not.toContain(sessionId);
    const events = await req('GET', '/v1/event/list');
    expect(events.text).not.toContain('deploy');
  });

  it("DNS answers with the agent's default token (anonymous here): a protected service is not resolved", async () => {
    // Restore what an earlier attack may have changed on a vulnerable agent, so this test stands alone.
    await asMaster('PUT', '/v1/agent/check/pass/service:web');
    await asMaster('PUT', '/v1/catalog/register', { Node: 'other', Address: '10.0.0.9' });
    expect(((await asMaster('GET', '/v1/health/service/web?passing')) as unknown[]).length).toBe(1);
    const { packet } = await dig('web.service.consul', 'A', { host: '127.0.0.1', port: agent.dnsPort });
    expect(packet.answers ?? []).toEqual([]);
    const node = await dig('other.node.consul', 'A', { host: '127.0.0.1', port: agent.dnsPort });
    expect(node.packet.answers ?? []).toEqual([]);
  });

  it('the CLI sends -token or $CONSUL_HTTP_TOKEN (and without one reads nothing)', async () => {
    const cli = join(dirname(fileURLToPath(import.meta.url)), 'run-cli.ts');
    const run = (args: string[], env: Record<string, string> = {}) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', cli, 'kv', 'get', '-http-addr', base, ...args], {
        env: { ...process.env, ...env },
      }).then(
        (r) => ({ code: 0, out: r.stdout }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
      );
    expect(await run(['-token', master, 'secret/a'])).toEqual({ code: 0, out: 's3cret\n' });
    expect(await run(['secret/a'], { CONSUL_HTTP_TOKEN: master })).toEqual({ code: 0, out: 's3cret\n' });
    const anonymous = await run(['secret/a'], { CONSUL_HTTP_TOKEN: '' });
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.out).not.toContain('s3cret');
  }, 30_000);
});
