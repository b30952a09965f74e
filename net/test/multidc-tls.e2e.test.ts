/**
 * `verify_server_hostname` across datacenters (issue 17), real processes on 127.0.21.x: one server per
 * DC (bootstrap-expect 1), one CA, TLS on the server port with verify_incoming, verify_outgoing and
 * verify_server_hostname, gossip encryption on. a1 (dc1) holds `server.dc1.consul`, b1 (dc2)
 * `server.dc2.consul`, and c1 (dc3) a certificate from the same CA that names `server.dc9.consul`.
 * A `?dc=dc2` write from dc1 is dialled to b1 expecting `server.dc2.consul` (as Consul checks the
 * target DC's name) and lands in dc2's store; a `?dc=dc3` request never runs, because c1's certificate
 * does not name dc3's servers. Before the dialler named the target DC, the dc2 write failed too (it
 * expected `server.dc1.consul` of every server).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createCa, createLeaf } from '../tls/issue.js';
import { conclave, startAgent, stopAll, until, type AgentHandle, dcAgentArgs } from './agent-process.js';

const a1 = '127.0.21.1';
const b1 = '127.0.21.11';
const c1 = '127.0.21.21';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-multidc-tls-'));
const agents = new Map<string, AgentHandle>();
const configs = new Map<string, string>();
let keepLogs = false;

beforeAll(async () => {
  const ca = await createCa({ domain: 'consul' });
  const write = (name: string, text: string) => {
    fs.writeFileSync(path.join(root, name), text);
    return path.join(root, name);
  };
  const caFile = write('ca.pem', ca.certPem);
  for (const [name, certDc] of [
    ['a1', 'dc1'],
    ['b1', 'dc2'],
    ['c1', 'dc9'],
  ] as const) {
    const leaf = await createLeaf({ ca, kind: 'server', datacenter: certDc, domain: 'consul' });
    const tls = {
      ca_file: caFile,
      cert_file: write(`${name}.pem`, leaf.certPem),
      key_file: write(`${name}-key.pem`, leaf.keyPem),
      verify_incoming: true,
      verify_outgoing: true,
      verify_server_hostname: true,
    };
    configs.set(name, write(`${name}.json`, JSON.stringify(tls)));
  }
});

afterAll(async () => {
  if (keepLogs) {
    const file = `${root}.log`;
    fs.writeFileSync(file, [...agents].map(([name, a]) => `===== ${name}\n${a.output()}`).join('\n'));
    process.stdout.write(`multidc-tls e2e failed: agent logs in ${file}\n`);
  }
  await stopAll([...agents.values()]);
  fs.rmSync(root, { recursive: true, force: true });
});

async function http(ip: string, method: string, pathAndQuery: string, body?: string) {
  const r = await fetch(`http://${ip}:8500${pathAndQuery}`, {
    method,
    ...(body !== undefined ? { body } : {}),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: r.status, text: await r.text() };
}

function start(name: string, ip: string, dc: string, key: string, extra: string[] = []): void {
  const args = [
    '-server',
    '-bootstrap-expect',
    '1',
    ...dcAgentArgs(name, ip, dc, path.join(root, name), key),
    '-dns-port',
    '-1',
    '-config-file',
    configs.get(name)!,
    ...extra,
  ];
  agents.set(name, startAgent(args));
}

describe('verify_server_hostname across datacenters (real processes, TLS)', () => {
  it('a ?dc= forward checks the target DC’s server name: dc2’s certificate passes, a wrong one is refused', async () => {
    onTestFailed(() => {
      keepLogs = true;
    });
    const key = (await conclave(['keygen'])).stdout.trim();
    start('a1', a1, 'dc1', key);
    start('b1', b1, 'dc2', key, ['-retry-join-wan', a1, '-retry-interval-wan', '1s']);
    start('c1', c1, 'dc3', key, ['-retry-join-wan', a1, '-retry-interval-wan', '1s']);
    for (const ip of [a1, b1, c1])
      await until(
        async () => (await http(ip, 'PUT', '/v1/kv/ready', 'yes')).text === 'true',
        60_000,
        `${ip} has a leader that accepts writes`,
      );
    await until(
      async () => {
        const r = await http(a1, 'GET', '/v1/agent/members?wan=1');
        const alive = (JSON.parse(r.text) as { Name: string; Status: number }[]).filter((m) => m.Status === 1);
        return alive.length === 3;
      },
      60_000,
      'a1 sees the three servers alive in the WAN pool',
    );
    // dc2: the forward over TLS succeeds (b1 presents server.dc2.consul, which a1 now expects of dc2).
    await until(
      async () => (await http(a1, 'PUT', '/v1/kv/greeting?dc=dc2', 'from-dc1')).text === 'true',
      45_000,
      'a ?dc=dc2 write from dc1 is answered',
    );
    expect(await http(b1, 'GET', '/v1/kv/greeting?raw')).toEqual({ status: 200, text: 'from-dc1' });
    // dc3: c1's certificate names server.dc9.consul; the handshake fails, the write never runs there.
    const refused = await http(a1, 'PUT', '/v1/kv/greeting?dc=dc3', 'from-dc1');
    expect(refused.status).toBe(500);
    expect((await http(c1, 'GET', '/v1/kv/greeting')).status).toBe(404);
  }, 200_000);
});
