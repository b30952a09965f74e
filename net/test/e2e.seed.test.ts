/**
 * The seed walkthrough (../shared/seed/000_df83f11603424585.txt) with real processes on loopback,
 * every `consul` command run as `conclave`; outside hosts replaced by 127.0.0.x:
 *   a1: agent -server -bootstrap-expect 1 -data-dir … -node=a1 -bind=127.0.0.104 -client 127.0.0.104 -config-dir …  (-record FILE)
 *   a2: agent -data-dir … -node=a2 -bind=127.0.0.103 -client 127.0.0.103 -config-dir …
 * members on each shows only itself; join from a1; both show both alive with the right Type and DC;
 * the seed's ping and web check files + SIGHUP; /v1/health/state/critical lists service:web; the
 * seed's KV calls give the seed's JSON shapes (indexes aside); kill -9 of a2 → a1 shows failed;
 * restart and Ctrl-C (SIGINT) → left. Finally a1's flight recording is replayed into the same core and
 * must reproduce every step (`conclave sim replay-agent`).
 */
import { execSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import type { AgentConfig } from '../../core/agent/api.js';
import { mountsFor } from '../../core/agent/mounts.js';
import { replayRecording } from '../recorder.js';
import { conclave, startAgent, stopAll, until, type AgentHandle } from './agent-process.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-seed-'));
const agents: AgentHandle[] = [];
afterAll(async () => {
  await stopAll(agents);
  fs.rmSync(root, { recursive: true, force: true });
});

const a1Http = ['-http-addr', '127.0.0.104:8500'];
const a2Http = ['-http-addr', '127.0.0.103:8500'];
const get = async (url: string) => {
  const r = await fetch(url);
  return { status: r.status, text: await r.text() };
};
const put = async (url: string, body: string) => (await fetch(url, { method: 'PUT', body })).text();
async function dnsQuery(
  host: string,
  port: number,
  name: string,
): Promise<{ name: string; type: string; ttl: number; data: unknown }[]> {
  const socket = dgram.createSocket('udp4');
  try {
    const reply = await new Promise<Buffer>((resolve, reject) => {
      socket.once('message', (msg) => resolve(msg));
      socket.once('error', reject);
      socket.send(
        dnsPacket.encode({
          type: 'query',
          id: 7,
          flags: dnsPacket.RECURSION_DESIRED,
          questions: [{ type: 'A', name }],
        }),
        port,
        host,
      );
      setTimeout(() => reject(new Error('no DNS answer')), 3000);
    });
    return (dnsPacket.decode(reply).answers ?? []).map((a) => ({
      name: a.name,
      type: a.type,
      ttl: (a as { ttl?: number }).ttl ?? -1,
      data: (a as { data?: unknown }).data,
    }));
  } finally {
    socket.close();
  }
}

const memberRows = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(/\s+/));
const hasPing = (() => {
  try {
    execSync('command -v ping', { stdio: 'ignore', shell: '/bin/sh' });
    return true;
  } catch {
    return false;
  }
})();

describe('the seed cluster, for real', () => {
  it('runs the walkthrough end to end', async () => {
    // On failure the agents' own logs are the first thing to read.
    onTestFailed(() => {
      for (const a of agents) console.log(`--- agent ${a.child.pid}\n${a.output().slice(-4000)}`);
    });
    const dirs = {
      a1: path.join(root, 'a1'),
      a2: path.join(root, 'a2'),
      d1: path.join(root, 'consul.d-104'),
      d2: path.join(root, 'consul.d-103'),
    };
    for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
    const record = path.join(root, 'a1.rec');
    const a1 = startAgent([
      '-server',
      '-bootstrap-expect',
      '1',
      '-data-dir',
      dirs.a1,
      '-node=a1',
      '-bind=127.0.0.104',
      '-client',
      '127.0.0.104',
      '-config-dir',
      dirs.d1,
      '-record',
      record,
    ]);
    agents.push(a1);
    const a2Args = [
      '-data-dir',
      dirs.a2,
      '-node=a2',
      '-bind=127.0.0.103',
      '-client',
      '127.0.0.103',
      '-config-dir',
      dirs.d2,
    ];
    let a2 = startAgent(a2Args);
    agents.push(a2);

    await a1.waitFor('==> Log data will now stream in as it occurs:');
    for (const line of [
      '==> WARNING: BootstrapExpect Mode is specified as 1; this is the same as Bootstrap mode.',
      '==> Starting Conclave agent...',
      "Node name: 'a1'",
      "Datacenter: 'dc1'",
      'Server: true (bootstrap: true)',
      'Client Addr: 127.0.0.104 (HTTP: 8500',
      'Cluster Addr: 127.0.0.104 (LAN: 8301, WAN: 8302)',
    ]) {
      expect(a1.output()).toContain(line);
    }
    await a1.waitFor(/\[INFO\] raft: Node at 127\.0\.0\.104:8300 \[Leader\] entering Leader state/);
    await a1.waitFor('[INFO] serf: EventMemberJoin: a1 127.0.0.104');
    expect(a1.output()).toMatch(/\[INFO\] consul: adding (LAN )?server a1 \(Addr: 127\.0\.0\.104:8300\) \(DC: dc1\)/);
    expect(JSON.parse((await get('http://127.0.0.104:8500/v1/status/leader')).text)).toBe('127.0.0.104:8300');
    expect(JSON.parse((await get('http://127.0.0.104:8500/v1/status/peers')).text)).toEqual(['127.0.0.104:8300']);
    // Autopilot's view (Consul's operator/autopilot/health): the lone server is the healthy leader.
    const health = await get('http://127.0.0.104:8500/v1/operator/autopilot/health');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.text)).toMatchObject({
      Healthy: true,
      FailureTolerance: 0,
      Servers: [
        { Name: 'a1', Address: '127.0.0.104:8300', SerfStatus: 'alive', Leader: true, Voter: true, Healthy: true },
      ],
    });
    await a2.waitFor('Server: false (bootstrap: false)');
    await a2.waitFor('[INFO] serf: EventMemberJoin: a2 127.0.0.103');

    // Each agent is alone in its own cluster.
    const alone1 = await conclave(['members', ...a1Http]);
    expect(alone1.stdout.split('\n')[0]).toMatch(/^Node\s+Address\s+Status\s+Type\s+Build\s+Protocol\s+DC$/);
    expect(memberRows(alone1.stdout)).toEqual([['a1', '127.0.0.104:8301', 'alive', 'server', '0.1.0', '2', 'dc1']]);
    expect(memberRows((await conclave(['members', ...a2Http])).stdout)).toEqual([
      ['a2', '127.0.0.103:8301', 'alive', 'client', '0.1.0', '2', 'dc1'],
    ]);

    // a1 joins a2; both see both.
    const joined = await conclave(['join', ...a1Http, '127.0.0.103']);
    expect(joined).toMatchObject({ code: 0, stdout: 'Successfully joined cluster by contacting 1 nodes.\n' });
    await a1.waitFor('[INFO] serf: EventMemberJoin: a2 127.0.0.103');
    // The seed's failed join (a firewalled host there; an address nobody listens on here).
    expect(await conclave(['join', ...a1Http, '127.0.0.9'])).toMatchObject({
      code: 1,
      stderr: 'Error joining the cluster: dial tcp 127.0.0.9:8301: getsockopt: connection refused\n',
    });
    await a1.waitFor('agent: (LAN) joined: 0 Err: dial tcp 127.0.0.9:8301: getsockopt: connection refused');
    const both = [
      ['a1', '127.0.0.104:8301', 'alive', 'server', '0.1.0', '2', 'dc1'],
      ['a2', '127.0.0.103:8301', 'alive', 'client', '0.1.0', '2', 'dc1'],
    ];
    for (const http of [a1Http, a2Http])
      await until(
        async () => JSON.stringify(memberRows((await conclave(['members', ...http])).stdout)) === JSON.stringify(both),
        10_000,
        'both members alive',
      );

    // The seed's DNS queries (dig @127.0.0.1 -p 8600 a2.node.consul / a2.node.dc1.consul / a1.node.dc1.consul).
    for (const [name, address] of [
      ['a2.node.consul', '127.0.0.103'],
      ['a2.node.dc1.consul', '127.0.0.103'],
      ['a1.node.dc1.consul', '127.0.0.104'],
    ] as const) {
      const answers = await until(
        async () => {
          const got = await dnsQuery('127.0.0.104', 8600, name);
          return got.length > 0 ? got : null;
        },
        10_000,
        `DNS ${name}`,
      );
      expect(answers).toEqual([{ name, type: 'A', ttl: 0, data: address }]);
    }

    // The seed's check files (outside host → loopback), then SIGHUP.
    fs.writeFileSync(
      path.join(dirs.d2, 'ping.json'),
      '{"check": {"name": "ping","script": "ping -c1 127.0.0.1 >/dev/null", "interval": "30s"}}',
    );
    fs.writeFileSync(
      path.join(dirs.d2, 'web.json'),
      '{"service": {"name": "web", "tags": ["rails"], "port": 80,"check": {"script": "curl localhost >/dev/null 2>&1", "interval": "10s"}}}',
    );
    a2.child.kill('SIGHUP');
    await a2.waitFor('==> Caught signal: hangup\n==> Reloading configuration...');
    await a2.waitFor("agent: Synced service 'web'");
    const critical = await until(
      async () => {
        const r = await get('http://127.0.0.104:8500/v1/health/state/critical');
        const list = JSON.parse(r.text) as Record<string, unknown>[];
        return list.some((c) => c['CheckID'] === 'service:web') ? list : null;
      },
      15_000,
      'service:web critical in the catalog',
    );
    expect(critical.find((c) => c['CheckID'] === 'service:web')).toMatchObject({
      Node: 'a2',
      CheckID: 'service:web',
      Name: "Service 'web' check",
      Status: 'critical',
      Notes: '',
      ServiceID: 'web',
      ServiceName: 'web',
    });
    // The ping check is registered; its first run may wait up to its 30 s interval, so its status is
    // checked only once it has run (passing where `ping` exists, critical "not found" where it does not).
    const ping = await until(
      async () =>
        (
          JSON.parse((await get('http://127.0.0.103:8500/v1/agent/checks')).text) as Record<
            string,
            { Status: string; Output: string }
          >
        )['ping'],
      5_000,
      'ping check registered',
    );
    if (ping.Output !== '' || ping.Status === 'passing') expect(ping.Status).toBe(hasPing ? 'passing' : 'critical');
    // The seed's KV calls.
    const kv = 'http://127.0.0.104:8500/v1/kv';
    const empty = await fetch(`${kv}/?recurse`);
    expect(empty.status).toBe(404);
    expect(Number(empty.headers.get('x-consul-index'))).toBeGreaterThan(0);
    expect(await put(`${kv}/web/key1`, 'soft.dog')).toBe('true');
    expect(await put(`${kv}/web/key2?flags=42`, 'soft.dog')).toBe('true');
    expect(await put(`${kv}/web/sub/key3`, 'soft.dog')).toBe('true');
    const all = JSON.parse((await get(`${kv}/?recurse`)).text) as Record<string, unknown>[];
    expect(all.map((e) => Object.keys(e).sort())).toEqual(
      Array(3).fill(['CreateIndex', 'Flags', 'Key', 'LockIndex', 'ModifyIndex', 'Value']),
    );
    expect(all.map(({ Key, Flags, Value, LockIndex }) => ({ Key, Flags, Value, LockIndex }))).toEqual([
      { LockIndex: 0, Key: 'web/key1', Flags: 0, Value: 'c29mdC5kb2c=' },
      { LockIndex: 0, Key: 'web/key2', Flags: 42, Value: 'c29mdC5kb2c=' },
      { LockIndex: 0, Key: 'web/sub/key3', Flags: 0, Value: 'c29mdC5kb2c=' },
    ]);
    // Through the client agent too (forwarded to the server).
    expect(JSON.parse((await get('http://127.0.0.103:8500/v1/kv/web/key2')).text)).toMatchObject([
      { Key: 'web/key2', Flags: 42, Value: 'c29mdC5kb2c=' },
    ]);
    expect(await fetch(`${kv}/web/sub?recurse`, { method: 'DELETE' }).then((r) => r.text())).toBe('true');
    expect((JSON.parse((await get(`${kv}/web?recurse`)).text) as { Key: string }[]).map((e) => e.Key)).toEqual([
      'web/key1',
      'web/key2',
    ]);
    expect(await put(`${kv}/web/key1`, 'great')).toBe('true');
    const key1 = (
      JSON.parse((await get(`${kv}/web/key1`)).text) as { Value: string; ModifyIndex: number; CreateIndex: number }[]
    )[0]!;
    expect(key1.Value).toBe('Z3JlYXQ=');
    expect(key1.ModifyIndex).toBeGreaterThan(key1.CreateIndex);
    // The seed rewrites the same value ('great') with cas; core/store follows Consul >= 1.7, where a
    // write that changes nothing keeps ModifyIndex (so that second CAS would succeed), so the values
    // here differ to show the CAS rule itself.
    expect(await put(`${kv}/web/key1?cas=${key1.ModifyIndex}`, 'great!')).toBe('true');
    expect(await put(`${kv}/web/key1?cas=${key1.ModifyIndex}`, 'great?')).toBe('false');
    const key2Index = (JSON.parse((await get(`${kv}/web/key2`)).text) as { ModifyIndex: number }[])[0]!.ModifyIndex;
    const t0 = Date.now();
    expect((await get(`${kv}/web/key2?index=${key2Index - 1}&wait=5s`)).status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(1000);
    const t1 = Date.now();
    await get(`${kv}/web/key2?index=${key2Index + 100000}&wait=1s`);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(900);
    // The CLI's kv commands against the same data.
    expect((await conclave(['kv', 'get', ...a2Http, 'web/key2'])).stdout).toBe('soft.dog\n');
    expect(await conclave(['kv', 'put', ...a2Http, '-cas', '-modify-index', '1', 'web/key2', 'x'])).toMatchObject({
      code: 1,
      stderr: 'Error! Did not write to web/key2: CAS failed\n',
    });

    // An API-registered service lives in a2's data dir: it must survive the kill -9 below.
    expect(
      (
        await fetch('http://127.0.0.103:8500/v1/agent/service/register', {
          method: 'PUT',
          body: JSON.stringify({ Name: 'api-svc', Port: 9000 }),
        })
      ).status,
    ).toBe(200);

    // kill -9 of a2 → a1 sees it failed.
    a2.child.kill('SIGKILL');
    await a2.exited;
    await until(
      async () =>
        memberRows((await conclave(['members', ...a1Http])).stdout).find((r) => r[0] === 'a2')?.[2] === 'failed',
      30_000,
      'a2 failed',
    );
    await a1.waitFor('[INFO] serf: EventMemberFailed: a2 127.0.0.103');
    // force-leave moves the failed member to left.
    expect(await conclave(['force-leave', ...a1Http, 'a2'])).toMatchObject({ code: 0 });
    await until(
      async () =>
        memberRows((await conclave(['members', ...a1Http])).stdout).find((r) => r[0] === 'a2')?.[2] === 'left',
      15_000,
      'a2 force-left',
    );

    // Restart a2 (joining a1 at start), then Ctrl-C → a1 sees it left.
    a2 = startAgent([...a2Args, '-join', '127.0.0.104']);
    agents.push(a2);
    await until(
      async () =>
        memberRows((await conclave(['members', ...a1Http])).stdout).find((r) => r[0] === 'a2')?.[2] === 'alive',
      40_000,
      'a2 alive again',
    );
    const services = JSON.parse((await get('http://127.0.0.103:8500/v1/agent/services')).text) as Record<
      string,
      { Service: string; Port: number }
    >;
    expect(services['api-svc']).toMatchObject({ Service: 'api-svc', Port: 9000 });
    expect(services['web']).toMatchObject({ Service: 'web', Port: 80 });
    a2.child.kill('SIGINT');
    expect(await a2.exited).toBe(0);
    expect(a2.output()).toContain('==> Caught signal: interrupt');
    await until(
      async () =>
        memberRows((await conclave(['members', ...a1Http])).stdout).find((r) => r[0] === 'a2')?.[2] === 'left',
      15_000,
      'a2 left',
    );

    // Stop a1 and replay its flight recording into the same core.
    a1.child.kill('SIGTERM');
    expect(await a1.exited).toBe(0);
    const replay = replayRecording(record, (assembly) => mountsFor((assembly as { config: AgentConfig }).config));
    expect(replay.stepCount).toBeGreaterThan(100);
    expect(replay.divergence).toBeNull();
    expect(replay.traceHashReplayed).toBe(replay.traceHashRecorded);
    // Every send and reply of the real run left after the persists it depends on were durable on disk.
    expect(replay.leaves.length).toBeGreaterThan(50);
    expect(replay.orderingViolations).toEqual([]);
  });
});
