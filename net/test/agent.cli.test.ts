/**
 * One real `-dev` agent (127.0.0.110) driven by the CLI commands over HTTP: version, kv put/get/delete
 * with -flags, -cas -modify-index and -recurse, members -detailed, info, reload, then bad input on its
 * sockets (garbage datagrams and streams, a frame of another protocol version) — logged and dropped, the
 * agent keeps answering — then `conclave leave` stops it, and `conclave sim replay-agent` reproduces
 * its flight recording.
 */
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../transport/frame.js';
import { conclave, startAgent, stopAll, until, type AgentHandle } from './agent-process.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-cli-'));
const agents: AgentHandle[] = [];
afterAll(async () => {
  await stopAll(agents);
  fs.rmSync(root, { recursive: true, force: true });
});

const ip = '127.0.0.110';
const env = { CONCLAVE_HTTP_ADDR: `${ip}:8500` };
const cli = (...args: string[]) => conclave(args, env);

async function sendTcp(port: number, bytes: Uint8Array): Promise<void> {
  await new Promise<void>((resolve) => {
    const s = net.connect({ host: ip, port }, () => s.end(bytes, () => resolve()));
    s.on('error', () => resolve());
  });
}

describe('the CLI against a real -dev agent', () => {
  it('runs kv, members, info, reload, survives garbage, leaves, and replays', async () => {
    const record = path.join(root, 'dev.rec');
    const pidFile = path.join(root, 'agent.pid');
    const agent = startAgent([
      '-dev',
      '-node',
      'dev1',
      '-bind',
      ip,
      '-client',
      ip,
      '-record',
      record,
      '-pid-file',
      pidFile,
      '-log-level',
      'warn',
    ]);
    agents.push(agent);
    await agent.waitFor('Log data will now stream in as it occurs');
    expect(fs.readFileSync(pidFile, 'utf8').trim()).toBe(String(agent.child.pid));
    await until(async () => (await cli('kv', 'put', 'probe', 'x')).code === 0, 20_000, 'the dev agent accepts writes');

    expect((await cli('version')).stdout).toMatch(/^Conclave v0\.1\.0\n/);
    expect(await cli('kv', 'put', '-flags', '42', 'app/a', 'hello')).toMatchObject({
      code: 0,
      stdout: 'Success! Data written to: app/a\n',
    });
    expect(await cli('kv', 'put', 'app/sub/b', 'world')).toMatchObject({ code: 0 });
    expect((await cli('kv', 'get', 'app/a')).stdout).toBe('hello\n');
    expect((await cli('kv', 'get', '-recurse', 'app')).stdout).toBe('app/a:hello\napp/sub/b:world\n');
    const detailed = (await cli('kv', 'get', '-detailed', 'app/a')).stdout;
    expect(detailed).toMatch(/Flags\s+42/);
    const modifyIndex = Number(/ModifyIndex\s+(\d+)/.exec(detailed)![1]);
    expect(await cli('kv', 'put', '-cas', '-modify-index', String(modifyIndex + 1000), 'app/a', 'no')).toMatchObject({
      code: 1,
      stderr: 'Error! Did not write to app/a: CAS failed\n',
    });
    expect(await cli('kv', 'put', '-cas', '-modify-index', String(modifyIndex), 'app/a', 'yes')).toMatchObject({
      code: 0,
    });
    expect(await cli('kv', 'delete', '-recurse', 'app/sub')).toMatchObject({
      code: 0,
      stdout: 'Success! Deleted keys with prefix: app/sub\n',
    });
    expect(await cli('kv', 'get', 'app/sub/b')).toMatchObject({
      code: 1,
      stderr: 'Error! No key exists at: app/sub/b\n',
    });
    expect((await conclave(['kv', 'get', '-http-addr', `${ip}:8500`, 'app/a'])).stdout).toBe('yes\n');

    const members = (await cli('members', '-detailed')).stdout;
    expect(members.split('\n')[0]).toMatch(/^Node\s+Address\s+Status\s+Tags$/);
    expect(members).toMatch(/dev1\s+127\.0\.0\.110:8301\s+alive\s+.*role=consul/);
    expect((await cli('info')).stdout).toMatch(/consul:\n(\t.*\n)*\tleader = true/);
    expect(await cli('reload')).toMatchObject({ code: 0, stdout: 'Configuration reload triggered\n' });
    expect(await conclave(['members'], { CONCLAVE_HTTP_ADDR: '', CONSUL_HTTP_ADDR: '127.0.0.1:1' })).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('Error retrieving members: Get http://127.0.0.1:1/v1/agent/members'),
    });

    // Garbage on the gossip port (UDP and TCP) and the server port (TCP).
    const udp = dgram.createSocket('udp4');
    for (const bytes of [Buffer.from('not a frame'), encodeFrame(`${ip}:9999`, { m: 'swim', p: 'x' }, 2)])
      await new Promise<void>((r) => udp.send(bytes, 8301, ip, () => r()));
    udp.close();
    await sendTcp(8301, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await sendTcp(8300, encodeFrame(`${ip}:9999`, { m: 'raft', p: null }, 7));
    await sendTcp(8300, Buffer.from([0, 0, 0, 4, 1, 0xc1, 0xc1, 0xc1]));
    await agent.waitFor('dropped a malformed datagram frame');
    await agent.waitFor('protocol version 7');
    expect((await cli('kv', 'get', 'app/a')).stdout).toBe('yes\n');

    expect(await cli('leave')).toMatchObject({ code: 0, stdout: 'Graceful leave complete\n' });
    expect(await agent.exited).toBe(0);
    expect(fs.existsSync(pidFile)).toBe(false);
    expect(agent.output()).not.toContain('[INFO]'); // -log-level warn

    const replay = await conclave(['sim', 'replay-agent', record]);
    expect(replay.stdout).toContain('reproduced: every step made the same decisions');
    // The real disk and sockets kept the ORDERING RULE: audited from the recording's departures.
    expect(replay.stdout).toMatch(/ordering rule held: [1-9]\d* sends and replies left after the persists/);
    expect(replay.code).toBe(0);
  });
});
