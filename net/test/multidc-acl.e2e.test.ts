/**
 * ACLs across two datacenters with real processes (issue 14: a request forwarded with ?dc= is
 * re-authorized in the target DC; issue 17: acl_datacenter is authoritative). dc1 = server a1 +
 * client ac on 127.0.19.1–2, dc2 = server b1 on 127.0.19.11, gossip encryption on, one server per DC
 * (bootstrap-expect 1) to keep the load small. Both DCs name dc1 as `acl_datacenter`; dc1 holds the
 * master token and allows by default, dc2 denies by default and has no token of its own.
 *
 * Checked: dc2 resolves dc1's master token from dc1 (a write in dc2 with it succeeds); an anonymous
 * caller of dc1 is refused dc2's key through `?dc=dc2` (it got 200 before: dc1's laxer gate decided),
 * reads and writes alike; the master token passes; a client token created in dc1 and limited to
 * `pub/` reads only `pub/` of dc2 through dc1 (dc2's rules filter the recursive read); an ACL created
 * through dc2 is written in dc1; a prepared query of dc1 that fails over to dc2 is run and filtered
 * there with the caller's token, and `event/fire?dc=dc2` is authorized there with it (both were refused
 * with every token before: the ops crossed without one); `session/destroy?dc=dc2` and `renew` are decided
 * in dc2 after it reads the session's node (refused with every token before: no lookup ran there). Every wait is a condition polled with a
 * generous deadline.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dig } from '../dns/client.js';
import { conclave, startAgent, stopAll, until, type AgentHandle, dcAgentArgs } from './agent-process.js';

const a1 = '127.0.19.1';
const ac = '127.0.19.2';
const b1 = '127.0.19.11';
const master = 'root-dc1-master';
const dnsToken = 'dns-reader-token';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-multidc-acl-'));
const agents = new Map<string, AgentHandle>();
afterAll(async () => {
  await stopAll([...agents.values()]);
  fs.rmSync(root, { recursive: true, force: true });
});

async function http(
  ip: string,
  method: string,
  pathAndQuery: string,
  options: { body?: string; token?: string } = {},
): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://${ip}:8500${pathAndQuery}`, {
    method,
    ...(options.body !== undefined ? { body: options.body } : {}),
    headers: options.token !== undefined ? { 'X-Consul-Token': options.token } : {},
    signal: AbortSignal.timeout(30_000),
  });
  return { status: r.status, text: await r.text() };
}

/**
 * An answer that is not a server error: a cross-DC request on a loaded machine may meet a transient 500
 * (an RPC timeout, "No path to datacenter" while the WAN pool settles), which is asked again. A wrong
 * verdict (200 where 403 is due) is an answer, returned at once, so the check after it still fails.
 */
async function answer(
  ip: string,
  method: string,
  pathAndQuery: string,
  options: { body?: string; token?: string } = {},
): Promise<{ status: number; text: string }> {
  return until(
    async () => {
      const r = await http(ip, method, pathAndQuery, options);
      return r.status >= 500 ? null : r;
    },
    90_000,
    `${method} ${pathAndQuery} answered without a server error`,
  );
}

function start(name: string, ip: string, dc: string, key: string, acl: object, extra: string[], dnsPort = -1): void {
  const dataDir = path.join(root, name);
  fs.mkdirSync(dataDir, { recursive: true });
  const configFile = path.join(root, `${name}.json`);
  fs.writeFileSync(configFile, JSON.stringify(acl));
  const args = [...dcAgentArgs(name, ip, dc, dataDir, key), '-dns-port', String(dnsPort), '-config-file', configFile];
  args.push(...extra);
  agents.set(name, startAgent(args));
}

const value = (text: string): string =>
  Buffer.from((JSON.parse(text) as { Value: string }[])[0]!.Value, 'base64').toString();

describe('ACLs across two datacenters (real processes, loopback)', () => {
  it('re-authorizes ?dc= requests in the target DC and resolves tokens from acl_datacenter', async () => {
    const key = (await conclave(['keygen'])).stdout.trim();
    const dc1Acl = { acl_datacenter: 'dc1', acl_master_token: master, acl_default_policy: 'allow' };
    const dc2Acl = { acl_datacenter: 'dc1', acl_default_policy: 'deny', acl_down_policy: 'extend-cache' };
    start('a1', a1, 'dc1', key, dc1Acl, ['-server', '-bootstrap-expect', '1']);
    // ac's DNS reads with its acl_token, as Consul's (a token the test creates later, in dc1).
    start('ac', ac, 'dc1', key, { ...dc1Acl, acl_token: dnsToken }, ['-retry-join', a1], 8600);
    start('b1', b1, 'dc2', key, dc2Acl, [
      '-server',
      '-bootstrap-expect',
      '1',
      '-retry-join-wan',
      a1,
      '-retry-interval-wan',
      '1s',
    ]);

    // dc1 elects a1 and takes a write (its default policy allows the anonymous caller).
    await until(
      async () => (await http(a1, 'PUT', '/v1/kv/ready', { body: 'dc1' })).text === 'true',
      90_000,
      'dc1 has a leader that accepts writes',
    );
    await until(async () => (await http(ac, 'GET', '/v1/kv/ready')).status === 200, 90_000, 'ac reaches a1');
    // dc2 knows no token of its own: its writes with dc1's master token succeed only once b1 leads and
    // resolves that token from dc1 over the WAN.
    await until(
      async () => (await http(b1, 'PUT', '/v1/kv/secret', { body: 's', token: master })).text === 'true',
      120_000,
      'dc2 accepts a write with dc1’s master token (resolved from the ACL datacenter)',
    );
    expect((await answer(b1, 'PUT', '/v1/kv/pub/a', { body: 'a', token: master })).text).toBe('true');
    // Locally in dc2, the anonymous caller is refused (dc2's default policy is deny).
    expect((await answer(b1, 'GET', '/v1/kv/secret')).status).toBe(403);

    // Through dc1 with ?dc=dc2: dc2 decides. dc1's own policy (allow) would have let it through.
    await until(
      async () => (await answer(ac, 'GET', '/v1/kv/secret?dc=dc2', { token: master })).status === 200,
      60_000,
      'dc1 reaches dc2 over the WAN',
    );
    const anonymousRead = await answer(ac, 'GET', '/v1/kv/secret?dc=dc2');
    expect(anonymousRead.status).toBe(403);
    expect(anonymousRead.text).toMatch(/Permission denied/);
    expect((await answer(a1, 'GET', '/v1/kv/secret?dc=dc2&consistent')).status).toBe(403);
    expect((await answer(ac, 'PUT', '/v1/kv/secret?dc=dc2', { body: 'evil' })).status).toBe(403);
    expect((await answer(ac, 'DELETE', '/v1/kv/?recurse&dc=dc2')).status).toBe(403);
    const kept = await answer(ac, 'GET', '/v1/kv/secret?dc=dc2', { token: master });
    expect(kept.status).toBe(200);
    expect(value(kept.text)).toBe('s');
    // An unknown token: "ACL not found", from dc2 (which asked dc1).
    expect((await answer(ac, 'GET', '/v1/kv/secret?dc=dc2', { token: 'no-such-token' })).text).toMatch(/ACL not found/);

    // A client token created in dc1, limited to pub/: dc2's rules filter the recursive read at dc1's edge.
    const created = await answer(ac, 'PUT', '/v1/acl/create', {
      token: master,
      body: JSON.stringify({ Name: 'pub', Type: 'client', Rules: 'key "pub/" { policy = "read" }' }),
    });
    expect(created.status).toBe(200);
    const pub = (JSON.parse(created.text) as { ID: string }).ID;
    const listed = await answer(ac, 'GET', '/v1/kv/?recurse&dc=dc2', { token: pub });
    expect(listed.status).toBe(200);
    expect((JSON.parse(listed.text) as { Key: string }[]).map((e) => e.Key)).toEqual(['pub/a']);
    expect((await answer(ac, 'GET', '/v1/kv/secret?dc=dc2', { token: pub })).status).toBe(403);

    // An ACL created through dc2 is written in dc1, the ACL datacenter.
    const viaDc2 = await answer(b1, 'PUT', '/v1/acl/create', {
      token: master,
      body: JSON.stringify({ Name: 'from-dc2', Type: 'client', Rules: '' }),
    });
    expect(viaDc2.status).toBe(200);
    const id = (JSON.parse(viaDc2.text) as { ID: string }).ID;
    const info = await answer(a1, 'GET', `/v1/acl/info/${id}`, { token: master });
    expect((JSON.parse(info.text) as { Name: string }[]).map((t) => t.Name)).toEqual(['from-dc2']);

    // Issue 17: a prepared query of dc1 failing over to dc2, and events fired into dc2, carry the
    // caller's token; dc2 authorizes and filters with it. `api` runs only in dc2 (on b1, no checks).
    const service = JSON.stringify({ Name: 'api', Port: 80 });
    expect((await answer(b1, 'PUT', '/v1/agent/service/register', { body: service, token: master })).status).toBe(200);
    await until(
      async () => (await answer(a1, 'GET', '/v1/catalog/service/api?dc=dc2', { token: master })).text.includes('"b1"'),
      90_000,
      'b1 synced api to dc2’s catalog',
    );
    const query = JSON.stringify({ Name: 'api', Service: { Service: 'api', Failover: { NearestN: 1 } } });
    expect((await answer(ac, 'POST', '/v1/query', { body: query })).status).toBe(200);
    type Execute = { Nodes: { Node: { Node: string } }[]; Datacenter: string; Failovers: number };
    const execute = async (token?: string, via = ac): Promise<[string, number, string[]]> => {
      const r = await answer(via, 'GET', '/v1/query/api/execute', token !== undefined ? { token } : {});
      expect(r.status).toBe(200);
      const e = JSON.parse(r.text) as Execute;
      return [e.Datacenter, e.Failovers, e.Nodes.map((n) => n.Node.Node)];
    };
    // dc1's master token: dc2 runs the query and answers b1. A failover whose DC failed answers empty
    // (200) too, so this waits for the answer with b1; before the fix it never came (dc2 refused the
    // tokenless op with 403 and the failover answered nothing, every time).
    await until(
      async () => (await execute(master))[2].length > 0,
      90_000,
      'a failover to dc2 with the master token answers b1',
    );
    expect(await execute(master)).toEqual(['dc2', 1, ['b1']]);
    const token = async (name: string, rules: string): Promise<string> => {
      const r = await answer(ac, 'PUT', '/v1/acl/create', {
        token: master,
        body: JSON.stringify({ Name: name, Type: 'client', Rules: rules }),
      });
      expect(r.status).toBe(200);
      return (JSON.parse(r.text) as { ID: string }).ID;
    };
    const reader = await token('api-reader', 'service "api" { policy = "read" }\nnode "" { policy = "read" }');
    const other = await token('db-reader', 'service "db" { policy = "read" }\nnode "" { policy = "read" }');
    // A positive answer is unambiguous (a failed DC answers empty), so it may be waited for.
    await until(async () => (await execute(reader))[2].length > 0, 90_000, 'the api reader token sees b1 in dc2');
    expect(await execute(reader)).toEqual(['dc2', 1, ['b1']]);
    // dc1's default policy would show b1 to these callers; dc2's rules (deny by default) hide it. The
    // anonymous caller asks a1, whose config has no acl_token (Consul sends ac's acl_token for a request
    // without a token).
    expect(await execute(undefined, a1)).toEqual(['dc2', 1, []]);
    expect(await execute(other)).toEqual(['dc2', 1, []]);

    // DNS: api.query.consul on ac fails over to dc2 with ac's acl_token, which dc2 resolves from dc1 and
    // filters with. Before that token exists, the lookup is refused (ACL not found: SERVFAIL); once it
    // may read api and the nodes, b1's address is the answer (before the fix: NXDOMAIN, dc2 refused).
    const dig1 = async (name: string, type: 'A' | 'SRV') => (await dig(name, type, { host: ac, port: 8600 })).packet;
    expect((await dig1('api.query.consul', 'A')).rcode).toBe('SERVFAIL');
    const update = await answer(ac, 'PUT', '/v1/acl/update', {
      token: master,
      body: JSON.stringify({
        ID: dnsToken,
        Name: 'dns',
        Type: 'client',
        Rules: 'service "api" { policy = "read" }\nnode "" { policy = "read" }',
      }),
    });
    expect(update.status).toBe(200);
    const viaDns = await until(
      async () => {
        const p = await dig1('api.query.consul', 'A');
        return p.rcode === 'NOERROR' && (p.answers ?? []).length > 0 ? p : null;
      },
      90_000,
      'dig api.query.consul on ac answers b1 through the failover to dc2',
    );
    expect(viaDns.answers?.map((r) => (r as { data?: unknown }).data)).toEqual([b1]);
    const srv = await dig1('api.query.consul', 'SRV');
    expect(srv.answers?.map((r) => (r as { data?: unknown }).data)).toEqual([
      { priority: 1, weight: 1, port: 80, target: 'b1.node.dc2.consul' },
    ]);

    // event/fire?dc=dc2: dc2 decides with the caller's token (event write on the name), not dc1's gate.
    const deployer = await token('deployer', 'event "deploy" { policy = "write" }');
    expect((await answer(ac, 'PUT', '/v1/event/fire/deploy?dc=dc2')).status).toBe(403);
    expect((await answer(ac, 'PUT', '/v1/event/fire/other?dc=dc2', { token: deployer })).status).toBe(403);
    const fired = await answer(ac, 'PUT', '/v1/event/fire/deploy?dc=dc2', { token: deployer, body: 'v2' });
    expect(fired.status).toBe(200);
    const eventId = (JSON.parse(fired.text) as { ID: string }).ID;
    expect((await answer(ac, 'PUT', '/v1/event/fire/other?dc=dc2', { token: master })).status).toBe(200);
    await until(
      async () => (await answer(b1, 'GET', '/v1/event/list?name=deploy', { token: master })).text.includes(eventId),
      60_000,
      'the event fired through dc1 reached dc2’s agent',
    );
    // The list through dc1 is filtered by dc2's grant: a token that may read only deploy sees only it.
    const deployReader = await token('deploy-reader', 'event "deploy" { policy = "read" }');
    const events = await answer(ac, 'GET', '/v1/event/list?dc=dc2', { token: deployReader });
    expect(events.status).toBe(200);
    expect((JSON.parse(events.text) as { Name: string }[]).map((e) => e.Name)).toEqual(['deploy']);

    // session/destroy?dc=dc2: its rule must first read whose node the session is on. dc2 runs that read
    // and decides (session write on b1); before, a lookup could not run in the target DC and every such
    // request was refused with 403, whatever the token (round F, session 13).
    const sessionWriter = await token('b1-sessions', 'session "b1" { policy = "write" }');
    const sessionReader = await token('b1-session-reader', 'session "b1" { policy = "read" }');
    const create = async () => {
      const r = await answer(ac, 'PUT', '/v1/session/create?dc=dc2', { token: master, body: '{"Node":"b1"}' });
      expect(r.status).toBe(200);
      return (JSON.parse(r.text) as { ID: string }).ID;
    };
    const first = await create();
    expect((await answer(ac, 'PUT', `/v1/session/destroy/${first}?dc=dc2`, { token: sessionReader })).status).toBe(403);
    const destroyed = await answer(ac, 'PUT', `/v1/session/destroy/${first}?dc=dc2`, { token: sessionWriter });
    expect([destroyed.status, destroyed.text]).toEqual([200, 'true']);
    const second = await create();
    const renewed = await answer(ac, 'PUT', `/v1/session/renew/${second}?dc=dc2`, { token: sessionWriter });
    expect(renewed.status).toBe(200);
  }, 600_000);
});
