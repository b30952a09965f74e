/**
 * A server dies with RPCs in flight from a client agent (issue 13 §4, the transport's "connection
 * dropped" signal), with real processes: three servers and one client agent on loopback. Reads and
 * blocking queries go through the client, which forwards each to its one chosen server (sticky). That
 * server — a follower, so the leader and the cluster stay up — is killed with kill -9. The kernel
 * closes its connections; the client's transport reports the link down and the client fails the RPCs
 * pending on it at once, retrying them elsewhere (reads always, blocking queries with what is left of
 * their wait). Every in-flight read must answer 200 within 2 s of the kill — before the signal they
 * waited for gossip to mark the server failed or for the 10 s RPC timer — and every blocking query must
 * still be parked (a write through the client wakes it within 2 s).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loopbackServerArgs } from '../../test/loopback-servers.js';
import { startAgent, stopAll, until, type AgentHandle } from './agent-process.js';
import { httpGet as get, kvPut as put, leaderIp, type Answer } from './http-client.js';

const ips = ['127.0.9.1', '127.0.9.2', '127.0.9.3'];
const clientIp = '127.0.9.4';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-linkdown-'));
const agents: AgentHandle[] = [];
afterAll(async () => {
  await stopAll(agents);
  fs.rmSync(root, { recursive: true, force: true });
});

/** The server the client agent's RPC connection goes to (its established TCP connection to a :8300). */
function clientServer(): string | null {
  const lines = execFileSync('ss', ['-tnH', 'state', 'established'], { encoding: 'utf8' }).split('\n');
  for (const line of lines) {
    const [local, peer] = line.trim().split(/\s+/).slice(-2);
    if (local?.startsWith(`${clientIp}:`) && peer?.endsWith(':8300') && ips.includes(peer.split(':')[0]!))
      return peer.split(':')[0]!;
  }
  return null;
}

function startClient(attempt: number): AgentHandle {
  const args = [
    '-data-dir',
    path.join(root, `client${attempt}`),
    '-node',
    'c1',
    '-bind',
    clientIp,
    '-client',
    clientIp,
  ];
  const agent = startAgent([...args, '-dns-port', '-1', ...ips.flatMap((ip) => ['-retry-join', ip])]);
  agents.push(agent);
  return agent;
}

describe('kill -9 of the server a client agent talks to, RPCs in flight (real processes)', () => {
  it('in-flight reads answer within 2 s of the kill; blocking queries stay parked and wake', async () => {
    for (const i of ips.keys()) agents.push(startAgent(loopbackServerArgs(ips, i, path.join(root, `d${i}`))));
    const leader = await until(
      async () => {
        const l = await leaderIp(ips[0]!).catch(() => null);
        return l && (await put(l, 'ready', '1')) ? l : null;
      },
      60_000,
      'a leader that accepts writes',
    );
    // The client picks its server at random; until it picked a follower, start it again.
    let server: string | null = null;
    for (let attempt = 0; server === null || server === leader; attempt++) {
      expect(attempt, 'a client agent that talks to a follower').toBeLessThan(8);
      if (attempt > 0) {
        const previous = agents.pop()!;
        previous.child.kill('SIGKILL');
        await previous.exited;
      }
      startClient(attempt);
      await until(async () => (await put(clientIp, 'k', 'v1').catch(() => false)) || null, 30_000, 'client writes');
      server = await until(async () => clientServer(), 5000, 'the client agent connected to a server');
    }
    const index = (await get(clientIp, '/v1/kv/k')).index;
    const waitS = 30;
    const startedAt = performance.now();
    const blocking = [0, 1, 2, 3].map(() => get(clientIp, `/v1/kv/k?index=${index}&wait=${waitS}s`, 60_000));
    await new Promise((r) => setTimeout(r, 500));
    const reads: Promise<Answer>[] = [];
    let stopReads = false;
    const reader = (async () => {
      for (let i = 0; !stopReads; i++) {
        reads.push(get(clientIp, `/v1/kv/k${i % 2 === 0 ? '?consistent' : ''}`, 20_000));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const killedAt = performance.now();
    agents[ips.indexOf(server)]!.child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1000));
    stopReads = true;
    await reader;
    const answers = await Promise.all(reads);
    const inFlight = answers.filter((a) => a.atMs >= killedAt);
    const late = answers.filter((a) => a.status !== 200 || a.atMs - killedAt > 2000);
    process.stdout.write(
      `linkdown: killed ${server} (client's server; leader ${leader}); ${answers.length} reads, ` +
        `${inFlight.length} answered after the kill, slowest +${Math.round(Math.max(...answers.map((a) => a.atMs - killedAt)))} ms\n`,
    );
    expect(
      late.map((a) => `${a.status} ${a.body.slice(0, 60)} +${Math.round(a.atMs - killedAt)}ms`),
      `${answers.length} reads`,
    ).toEqual([]);
    const wroteAt = performance.now();
    expect(await put(clientIp, 'k', 'v2')).toBe(true);
    const woke = await Promise.all(blocking);
    for (const b of woke) {
      expect(b.status).toBe(200);
      expect(b.index).toBeGreaterThan(index);
      expect(b.atMs - wroteAt).toBeLessThan(2000);
      expect(b.atMs - startedAt).toBeLessThan((waitS + 2) * 1000);
    }
    const log = agents.at(-1)!.output();
    expect(log).toMatch(/connection to s\d closed with \d+ RPCs in flight: failing them over/);
  }, 180_000);
});
