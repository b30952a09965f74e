/**
 * A real server agent on a 3 MB tmpfs (issue 13 §1). It proves that a full disk loses no acknowledged
 * write and does not stop the agent:
 *  1. with the free-space admission check off (CONCLAVE_DISK_ADMISSION=off), PUTs of 100 KB values run into
 *     a real ENOSPC / short write; every write answered `true` is read back after a kill -9 and
 *     restart; writes answered 500 say `disk full: …`; the agent never exits; once a filler file is
 *     deleted, writes succeed again without a restart;
 *  2. with the default reserve, writes are refused (`disk full: … bytes free`) before the disk is
 *     actually full, and reads keep answering meanwhile.
 * Needs root to mount a tmpfs; elsewhere it skips with one line saying so.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startAgent, stopAll, until, type AgentHandle } from './agent-process.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-diskfull-'));
const mnt = path.join(root, 'mnt');
fs.mkdirSync(mnt);
let mounted = false;
let whyNot = '';
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt], { stdio: 'pipe' });
  mounted = true;
} catch (error) {
  whyNot = ((error as { stderr?: Buffer }).stderr?.toString() ?? String(error)).trim().split('\n')[0]!;
}
if (!mounted) console.log(`disk-full test skipped: cannot mount a tmpfs here (${whyNot})`);

const agents: AgentHandle[] = [];
afterAll(async () => {
  await stopAll(agents);
  if (mounted) execFileSync('umount', ['-l', mnt]);
  fs.rmSync(root, { recursive: true, force: true });
});

let ip = '127.0.0.121';
const base = () => `http://${ip}:8500`;
const value = (i: number) => Buffer.alloc(100 * 1024, 97 + (i % 26));

async function put(key: string, body: Buffer): Promise<{ status: number; text: string; ms: number }> {
  const started = Date.now();
  const response = await fetch(`${base()}/v1/kv/${key}`, { method: 'PUT', body, signal: AbortSignal.timeout(30_000) });
  return { status: response.status, text: (await response.text()).trim(), ms: Date.now() - started };
}

async function get(key: string): Promise<Buffer | null> {
  const response = await fetch(`${base()}/v1/kv/${key}?raw`, { signal: AbortSignal.timeout(15_000) });
  return response.status === 200 ? Buffer.from(await response.arrayBuffer()) : null;
}

function startServer(dataDir: string, env: NodeJS.ProcessEnv): AgentHandle {
  const agent = startAgent(
    ['-server', '-bootstrap-expect', '1', '-node', 'full1', '-bind', ip, '-client', ip, '-data-dir', dataDir],
    env,
  );
  agents.push(agent);
  return agent;
}

describe.skipIf(!mounted)('a server on a full disk (tmpfs)', () => {
  it('keeps every acknowledged write, answers `disk full`, never exits, and recovers when space returns', async () => {
    ip = '127.0.0.121';
    const dataDir = path.join(mnt, 'data');
    const filler = path.join(mnt, 'filler');
    fs.writeFileSync(filler, Buffer.alloc(1024 * 1024, 1)); // space to give back later
    const env = { CONCLAVE_DISK_ADMISSION: 'off' };
    let agent = startServer(dataDir, env);
    await until(async () => (await put('probe', Buffer.from('x'))).status === 200, 30_000, 'a leader');

    const acknowledged: number[] = [];
    const refusals: string[] = [];
    for (let i = 0; i < 60 && refusals.length < 3; i++) {
      const r = await put(`big/${i}`, value(i));
      if (r.status === 200 && r.text === 'true') acknowledged.push(i);
      else refusals.push(`${r.status} ${r.text}`);
    }
    console.log(`disk-full: ${acknowledged.length} PUTs of 100 KB acknowledged, then: ${refusals.join(' | ')}`);
    expect(acknowledged.length).toBeGreaterThan(3);
    expect(refusals.length).toBe(3);
    for (const text of refusals) expect(text).toMatch(/^500 disk full: no space left on device/);
    expect(agent.child.exitCode).toBeNull();
    expect(agent.output()).toMatch(/disk full/);

    // kill -9 and restart: every acknowledged write is there.
    agent.child.kill('SIGKILL');
    await agent.exited;
    agent = startServer(dataDir, env);
    await until(async () => (await get('probe')) !== null, 30_000, 'the restarted server answers');
    for (const i of acknowledged) expect((await get(`big/${i}`))?.equals(value(i)), `big/${i}`).toBe(true);

    // Still full after the restart: writes are refused, the agent stays up.
    const stillFull = await put('big/after-restart', value(99));
    expect(stillFull.status).toBe(500);
    expect(stillFull.text).toMatch(/disk full/);

    // Space returns (another process deletes a file): writes succeed again, no restart.
    fs.rmSync(filler);
    const recovered = await until(
      async () => {
        const r = await put('big/recovered', value(7));
        return r.status === 200 && r.text === 'true' ? r : null;
      },
      30_000,
      'writes succeed once space returns',
    );
    expect(recovered.text).toBe('true');
    expect((await get('big/recovered'))?.equals(value(7))).toBe(true);
    expect(agent.child.exitCode).toBeNull();
    await stopAll(agents);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('with the default reserve, refuses writes before the disk is full and keeps answering reads', async () => {
    ip = '127.0.0.122';
    const dataDir = path.join(mnt, 'data2');
    const agent = startServer(dataDir, {});
    await until(async () => (await put('probe', Buffer.from('x'))).status === 200, 30_000, 'a leader');
    let refusal: { status: number; text: string; ms: number } | null = null;
    let acknowledged = 0;
    for (let i = 0; i < 60 && refusal === null; i++) {
      const r = await put(`big/${i}`, value(i));
      if (r.status === 200) acknowledged++;
      else refusal = r;
    }
    console.log(`disk-full reserve: ${acknowledged} PUTs acknowledged, then ${refusal?.status} ${refusal?.text}`);
    expect(refusal).not.toBeNull();
    expect(refusal!.text).toMatch(/^disk full: \d+ bytes free/);
    expect(refusal!.ms).toBeLessThan(2000);
    // Reads keep answering (default consistency and stale).
    const started = Date.now();
    expect((await get('big/0'))?.equals(value(0))).toBe(true);
    const stale = await fetch(`${base()}/v1/kv/big/1?raw&stale`);
    expect(stale.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(agent.child.exitCode).toBeNull();
    expect(agent.output()).not.toMatch(/no space left on device/); // refused before a real ENOSPC
  });
});
