/**
 * `-retry-interval` reaches the join retry (real processes): a client agent started before its server
 * (`-retry-join S -retry-interval 1s`) finds the server within a few seconds of it coming up. Before the
 * interval was wired to SWIM's join retry, every agent retried on Consul's default 30 s whatever the flag
 * said, so a client started a moment before its server answered "No known Consul servers" for ~30 s
 * (seen as a 2.5 s test taking 32 s in net/test/restart-answers.e2e.test.ts, 4 runs in 20).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startAgent, stopAll, until, type AgentHandle } from './agent-process.js';
import { loopbackClientArgs } from '../../test/loopback-servers.js';

const server = '127.0.46.11';
const client = '127.0.46.12';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-retry-join-'));
const agents: AgentHandle[] = [];
afterAll(async () => {
  await stopAll(agents);
  fs.rmSync(root, { recursive: true, force: true });
});

async function put(ip: string, key: string): Promise<string> {
  const r = await fetch(`http://${ip}:8500/v1/kv/${key}`, {
    method: 'PUT',
    body: 'v',
    signal: AbortSignal.timeout(5000),
  });
  return `${r.status} ${await r.text()}`;
}

describe('a client agent started before its server (real processes)', () => {
  it('joins within a few retry intervals of the server coming up, not after 30 s', async () => {
    const c1 = startAgent(loopbackClientArgs([server], client, 'c1', path.join(root, 'c1')));
    agents.push(c1);
    // The client is up and has tried the server, which is not there yet.
    await until(async () => (await put(client, 'early')).startsWith('500'), 20_000, 'c1 answering without a server');
    await new Promise((r) => setTimeout(r, 1500));
    const serverArgs = ['-server', '-bootstrap-expect', '1', '-data-dir', path.join(root, 's1'), '-node', 's1'];
    agents.push(startAgent([...serverArgs, '-bind', server, '-client', server, '-dns-port', '-1']));
    await until(async () => (await put(server, 'ready')) === '200 true', 30_000, 's1 leading');
    const t0 = Date.now();
    await until(async () => (await put(client, 'joined')) === '200 true', 20_000, 'a write through c1');
    // The retry interval is 1 s: a few of them, never Consul's 30 s default.
    expect(Date.now() - t0, c1.output().slice(-3000)).toBeLessThan(8000);
  }, 90_000);
});
