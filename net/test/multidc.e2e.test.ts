/**
 * Two datacenters with real processes (issue 17): dc1 = servers a1 a2 a3 + client ac on 127.0.17.1–4,
 * dc2 = servers b1 b2 b3 + client bc on 127.0.17.11–14, default ports, gossip encryption on (one key:
 * the WAN pool is sealed like the LAN). Only b1 has -retry-join-wan; b3 joins with `conclave join
 * -wan`; the rest of each DC follows by flood join. Checked: `members -wan` lists the six servers as
 * node.dc, `catalog/datacenters` both DCs, KV and health with `?dc=` from dc1 land in and read from
 * dc2's store, `dig` of NAME.node.dc2.consul and SVC.service.dc2.consul from dc1's DNS, an unknown DC
 * answers `No path to datacenter`, a prepared query fails over to dc2 once dc1's instance is critical
 * (over HTTP and over DNS as NAME.query.consul; NAME.query.dc2.consul runs dc2's own query),
 * a user event fired with `?dc=dc2` reaches dc2 only, and cross-DC consistent reads go on after kill -9
 * of dc2's leader.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import { dig } from '../dns/client.js';
import { conclave, startAgent, stopAll, until, type AgentHandle, dcAgentArgs } from './agent-process.js';

const dc1 = ['127.0.17.1', '127.0.17.2', '127.0.17.3'];
const dc2 = ['127.0.17.11', '127.0.17.12', '127.0.17.13'];
const ac = '127.0.17.4';
const bc = '127.0.17.14';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-multidc-'));
const agents = new Map<string, AgentHandle>();
let keepLogs = false;
afterAll(async () => {
  // A failed run leaves every agent's log beside the test's tmp dir (the CI prints the path).
  if (keepLogs) {
    const file = `${root}.log`;
    fs.writeFileSync(file, [...agents].map(([name, a]) => `===== ${name}\n${a.output()}`).join('\n'));
    process.stdout.write(`multidc e2e failed: agent logs in ${file}\n`);
  }
  await stopAll([...agents.values()]);
  fs.rmSync(root, { recursive: true, force: true });
});

async function http(
  ip: string,
  method: string,
  pathAndQuery: string,
  body?: string,
): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://${ip}:8500${pathAndQuery}`, {
    method,
    ...(body !== undefined ? { body } : {}),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: r.status, text: await r.text() };
}

function start(name: string, ip: string, dc: string, key: string, extra: string[]): void {
  const args = [...dcAgentArgs(name, ip, dc, path.join(root, name), key), ...extra];
  agents.set(name, startAgent(args));
}

function servers(ips: string[], index: number, extra: string[] = []): string[] {
  return [
    '-server',
    '-bootstrap-expect',
    '3',
    '-dns-port',
    '-1',
    ...ips.filter((_, i) => i !== index).flatMap((ip) => ['-retry-join', ip]),
    ...extra,
  ];
}

async function leaderOf(ip: string): Promise<string | null> {
  const r = await http(ip, 'GET', '/v1/status/leader');
  const leader = JSON.parse(r.text) as string;
  return leader ? leader.split(':')[0]! : null;
}

describe('two datacenters over the WAN (real processes, loopback)', () => {
  it('federates, forwards ?dc= (KV, health, DNS, prepared-query failover, events), says No path for an unknown DC, survives kill -9 of dc2’s leader', async () => {
    onTestFailed(() => {
      keepLogs = true;
    });
    const key = (await conclave(['keygen'])).stdout.trim();
    dc1.forEach((ip, i) => start(`a${i + 1}`, ip, 'dc1', key, servers(dc1, i)));
    start('ac', ac, 'dc1', key, ['-retry-join', dc1[0]!, '-dns-port', '8600']);
    dc2.forEach((ip, i) =>
      start(`b${i + 1}`, ip, 'dc2', key, servers(dc2, i, i === 0 ? ['-retry-join-wan', dc1[0]!] : [])),
    );
    start('bc', bc, 'dc2', key, ['-retry-join', dc2[0]!, '-dns-port', '-1']);

    // Each DC elects its own leader and takes writes.
    for (const [ip, dc] of [
      [dc1[0]!, 'dc1'],
      [dc2[0]!, 'dc2'],
    ] as const)
      await until(
        async () => (await leaderOf(ip)) !== null && (await http(ip, 'PUT', '/v1/kv/ready', dc)).text === 'true',
        60_000,
        `${dc} has a leader that accepts writes`,
      );
    // The client agents joined their DC's servers (they forward everything to them).
    for (const ip of [ac, bc])
      await until(async () => (await http(ip, 'GET', '/v1/kv/ready')).status === 200, 60_000, `${ip} reaches a server`);
    // `conclave join -wan` from b3 (it would also arrive by flood join; joining twice is harmless).
    const joined = await conclave(['join', '-http-addr', `${dc2[2]}:8500`, '-wan', dc1[0]!]);
    expect(joined.stdout + joined.stderr).toMatch(/Successfully joined cluster by contacting 1 nodes/);

    // The WAN pool: six servers named node.dc, seen alike from both DCs.
    const wanNames = ['a1.dc1', 'a2.dc1', 'a3.dc1', 'b1.dc2', 'b2.dc2', 'b3.dc2'];
    for (const ip of [dc1[1]!, dc2[2]!])
      await until(
        async () => {
          const r = await http(ip, 'GET', '/v1/agent/members?wan=1');
          const alive = (JSON.parse(r.text) as { Name: string; Status: number; Port: number }[])
            .filter((m) => m.Status === 1 && m.Port === 8302)
            .map((m) => m.Name)
            .sort();
          return JSON.stringify(alive) === JSON.stringify(wanNames);
        },
        60_000,
        `${ip} sees the six servers alive in the WAN pool`,
      );
    const members = await conclave(['members', '-wan', '-http-addr', `${dc1[0]}:8500`]);
    expect(members.stdout).toMatch(/b2\.dc2\s+127\.0\.17\.12:8302\s+alive\s+server\s+\S+\s+2\s+dc2/);
    // A client agent is not in the WAN pool.
    expect(JSON.parse((await http(ac, 'GET', '/v1/agent/members?wan=1')).text)).toEqual([]);
    expect(JSON.parse((await http(ac, 'GET', '/v1/catalog/datacenters')).text).sort()).toEqual(['dc1', 'dc2']);
    const coords = JSON.parse((await http(bc, 'GET', '/v1/coordinate/datacenters')).text) as {
      Datacenter: string;
    }[];
    expect(coords.map((c) => c.Datacenter).sort()).toEqual(['dc1', 'dc2']);

    // KV with ?dc=: written through dc1's client into dc2's store; dc1's store does not have it.
    expect((await http(ac, 'PUT', '/v1/kv/greeting?dc=dc2', 'from-dc1')).text).toBe('true');
    expect(await http(bc, 'GET', '/v1/kv/greeting?raw')).toEqual({ status: 200, text: 'from-dc1' });
    expect((await http(ac, 'GET', '/v1/kv/greeting')).status).toBe(404);
    for (const mode of ['', '&consistent'])
      expect(await http(ac, 'GET', `/v1/kv/greeting?dc=dc2&raw${mode}`)).toEqual({ status: 200, text: 'from-dc1' });
    // A stale read is answered from the own state of the dc2 server the forward reached, which may trail
    // dc2's leader by Raft's commit notice (core/raft/config.ts commitNoticeDelayMs): awaited, not expected at once.
    await until(
      async () => (await http(ac, 'GET', '/v1/kv/greeting?dc=dc2&raw&stale')).text === 'from-dc1',
      10_000,
      'the stale read from dc2 sees the write',
    );
    expect(await http(ac, 'GET', '/v1/kv/greeting?dc=dc9')).toEqual({ status: 500, text: 'No path to datacenter' });

    // Health with ?dc=: a service registered on dc2's client, seen passing from dc1.
    const registered = await http(
      bc,
      'PUT',
      '/v1/agent/service/register',
      JSON.stringify({ Name: 'web', Port: 8080, Check: { TTL: '600s', Status: 'passing' } }),
    );
    expect(registered.status).toBe(200);
    await until(
      async () => {
        const r = await http(ac, 'GET', '/v1/health/service/web?dc=dc2&passing');
        const list = JSON.parse(r.text) as { Node: { Node: string; Datacenter: string } }[];
        return list.length === 1 && list[0]!.Node.Node === 'bc' && list[0]!.Node.Datacenter === 'dc2';
      },
      45_000, // 10 s alone; one full fresh-clone run timed out at 20 s (other real-process tests side by side)
      'web in dc2 passing, seen from dc1',
    );

    // DNS from dc1's client: NAME.node.dc2.consul and SVC.service.dc2.consul.
    const node = await dig('b2.node.dc2.consul', 'A', { host: ac, port: 8600 });
    expect(node.packet.answers?.[0]).toMatchObject({ type: 'A', data: dc2[1] });
    const srv = await dig('web.service.dc2.consul', 'SRV', { host: ac, port: 8600 });
    expect(srv.packet.answers?.[0]).toMatchObject({
      type: 'SRV',
      data: { port: 8080, target: 'bc.node.dc2.consul' },
    });
    expect((await dig('b2.node.dc9.consul', 'A', { host: ac, port: 8600 })).packet.rcode).toBe('NXDOMAIN');

    // A prepared query with Failover (NearestN 1): web also runs on dc1's client; while it passes, dc1
    // answers; once its check is critical, dc2 answers (Failovers 1), as Consul's queryFailover.
    const webHere = JSON.stringify({ Name: 'web', Port: 8081, Check: { TTL: '600s', Status: 'passing' } });
    expect((await http(ac, 'PUT', '/v1/agent/service/register', webHere)).status).toBe(200);
    const query = JSON.stringify({ Name: 'web-anywhere', Service: { Service: 'web', Failover: { NearestN: 1 } } });
    await until(async () => (await http(ac, 'POST', '/v1/query', query)).status === 200, 45_000, 'query created');
    const answeredBy = async (dc: string, failovers: number, node: string): Promise<boolean> => {
      const r = await http(ac, 'GET', '/v1/query/web-anywhere/execute');
      if (r.status !== 200) return false;
      const body = JSON.parse(r.text) as { Datacenter: string; Failovers: number; Nodes: { Node: { Node: string } }[] };
      return (
        body.Datacenter === dc && body.Failovers === failovers && body.Nodes.map((n) => n.Node.Node).join() === node
      );
    };
    await until(() => answeredBy('dc1', 0, 'ac'), 45_000, 'the query answered by dc1 (ac) while web passes there');
    // The same query over DNS (NAME.query.consul): SRV names the node in the DC that answered.
    const srvOf = async (name: string): Promise<string | null> => {
      const r = await dig(name, 'SRV', { host: ac, port: 8600 });
      const data = (r.packet.answers?.[0] as { data?: { port: number; target: string } } | undefined)?.data;
      return r.packet.rcode === 'NOERROR' && data !== undefined ? `${data.target}:${data.port}` : null;
    };
    await until(
      async () => (await srvOf('web-anywhere.query.consul')) === 'ac.node.dc1.consul:8081',
      45_000,
      'dig web-anywhere.query.consul SRV names ac in dc1',
    );
    expect((await http(ac, 'PUT', '/v1/agent/check/fail/service:web')).status).toBe(200);
    await until(
      () => answeredBy('dc2', 1, 'bc'),
      45_000,
      'the query fails over to dc2 (bc) once dc1’s web is critical',
    );
    await until(
      async () => (await srvOf('web-anywhere.query.consul')) === 'bc.node.dc2.consul:8080',
      45_000,
      'dig web-anywhere.query.consul SRV fails over to bc in dc2',
    );
    const a = await dig('web-anywhere.query.consul', 'A', { host: ac, port: 8600 });
    expect(a.packet.answers?.map((r) => (r as { data?: unknown }).data)).toEqual([bc]);
    // NAME.query.DC.consul runs a query of dc2's own store in dc2 (queries are per DC, as Consul's).
    const dc2Query = JSON.stringify({ Name: 'web-dc2', Service: { Service: 'web' } });
    await until(
      async () => (await http(ac, 'POST', '/v1/query?dc=dc2', dc2Query)).status === 200,
      45_000,
      'query created in dc2 through dc1',
    );
    await until(
      async () => (await srvOf('web-dc2.query.dc2.consul')) === 'bc.node.dc2.consul:8080',
      45_000,
      'dig web-dc2.query.dc2.consul SRV from dc1 names bc',
    );
    // dc1 does not know dc2's query: NXDOMAIN.
    expect((await dig('web-dc2.query.consul', 'A', { host: ac, port: 8600 })).packet.rcode).toBe('NXDOMAIN');

    // A user event fired with ?dc=dc2 from dc1's client reaches dc2's agents, and not dc1's.
    const fired = await http(ac, 'PUT', '/v1/event/fire/deploy?dc=dc2', 'v2');
    expect(fired.status).toBe(200);
    const eventId = (JSON.parse(fired.text) as { ID: string }).ID;
    const listed = async (ip: string, query: string): Promise<string[]> => {
      const r = await http(ip, 'GET', `/v1/event/list?name=deploy${query}`);
      return r.status === 200 ? (JSON.parse(r.text) as { ID: string }[]).map((e) => e.ID) : [];
    };
    await until(async () => (await listed(bc, '')).includes(eventId), 45_000, 'dc2’s client received the event');
    await until(async () => (await listed(ac, '&dc=dc2')).includes(eventId), 45_000, 'event/list?dc=dc2 shows it');
    expect(await listed(ac, '')).toEqual([]);
    expect(await listed(dc1[1]!, '')).toEqual([]);

    // kill -9 of dc2's leader while dc1 reads dc2 (consistent): reads go on once dc2 elects again.
    const leader = (await leaderOf(dc2[0]!))!;
    const victim = `b${dc2.indexOf(leader) + 1}`;
    const results: { status: number; text: string }[] = [];
    let reading = true;
    const reader = (async () => {
      while (reading) {
        results.push(
          await http(ac, 'GET', '/v1/kv/greeting?dc=dc2&consistent&raw').catch(() => ({ status: 0, text: '' })),
        );
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    agents.get(victim)!.child.kill('SIGKILL');
    const killedAt = results.length;
    await until(
      async () => {
        const l = await leaderOf(dc2.find((ip) => ip !== leader)!);
        return l !== null && l !== leader;
      },
      30_000,
      'dc2 elects a new leader',
    );
    // Read on until five reads after the kill were answered (a read in flight to the dead server may
    // wait out the 10 s RPC timeout; the next ones go to another dc2 server).
    await until(
      async () => results.slice(killedAt).filter((r) => r.status === 200).length >= 5,
      60_000,
      'cross-DC reads answered again after the kill',
    );
    reading = false;
    await reader;
    const after = results.slice(killedAt);
    // Every answered read returns what was written; the last ones are answered again.
    const shown = JSON.stringify(after.map((r) => `${r.status} ${r.text}`));
    expect(
      results.filter((r) => r.status === 200 && r.text !== 'from-dc1'),
      shown,
    ).toEqual([]);
    expect(
      after.slice(-5).every((r) => r.status === 200),
      shown,
    ).toBe(true);
    const failed = after.filter((r) => r.status !== 200);
    process.stdout.write(
      `multidc e2e: ${results.length} cross-DC consistent reads, ${failed.length} failed around the kill -9 of ${victim} (${failed
        .map((r) => `${r.status} ${r.text}`)
        .slice(0, 3)
        .join('; ')})\n`,
    );
  }, 240_000);
});
