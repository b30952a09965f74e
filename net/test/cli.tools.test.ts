/**
 * `conclave lock` and `conclave event` against a real -dev agent (127.0.0.111): three processes
 * contending for one lock run their children one at a time, the key carries Go's api.Lock flag while
 * held, the child's exit status comes back, a lock taken away kills the child, `-timeout` gives up;
 * an event fired by the CLI is listed by the agent; `conclave watch` prints a view once, or runs its
 * handler on every change.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { conclave, conclaveBin, startAgent, stopAll, until, type AgentHandle } from './agent-process.js';

const ip = '127.0.0.111';
const env = { CONCLAVE_HTTP_ADDR: `${ip}:8500` };
const cli = (...args: string[]) => conclave(args, env);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-lock-'));
const agents: AgentHandle[] = [];
const api = (p: string, init?: RequestInit) => fetch(`http://${ip}:8500${p}`, init);

beforeAll(async () => {
  const agent = startAgent(['-dev', '-node', 'lock1', '-bind', ip, '-client', ip, '-log-level', 'warn']);
  agents.push(agent);
  await until(async () => (await cli('kv', 'put', 'probe', 'x')).code === 0, 20_000, 'the dev agent accepts writes');
}, 30_000);
afterAll(async () => {
  await stopAll(agents);
  fs.rmSync(root, { recursive: true, force: true });
});

describe('conclave lock', () => {
  it('serializes contending children, marks the key with the api.Lock flag, returns the exit status', async () => {
    const out = path.join(root, 'out');
    const body = (name: string, code: number) =>
      `echo start-${name} >> ${out}; sleep 0.4; echo end-${name} >> ${out}; exit ${code}`;
    const held = until(
      async () => {
        const r = await api('/v1/kv/jobs/.lock');
        const text = r.status === 200 ? await r.text() : '';
        return text.includes('"Flags":3304740253564472344,') && text.includes('"Session"');
      },
      10_000,
      'the lock key is held with the api.Lock flag',
    );
    const runs = await Promise.all([
      cli('lock', 'jobs', body('a', 0)),
      cli('lock', 'jobs', body('b', 3)),
      cli('lock', 'jobs', body('c', 0)),
      held,
    ]);
    expect([runs[0], runs[1], runs[2]].map((r) => r.code).sort()).toEqual([0, 0, 3]);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(6);
    for (let i = 0; i < 6; i += 2) expect(lines[i + 1]).toBe(lines[i]!.replace('start', 'end'));
    // Released and its session destroyed: the key is free.
    const after = (await (await api('/v1/kv/jobs/.lock')).json()) as { Session?: string }[];
    expect(after[0]?.Session).toBeUndefined();
  }, 30_000);

  it('a lock taken away kills the child; -timeout gives up while another holds it', async () => {
    const running = cli('lock', 'lost', 'sleep 30');
    const session = await until(
      async () => {
        const list = (await (await api('/v1/session/list')).json()) as { ID: string; Name: string }[];
        const held = (await api('/v1/kv/lost/.lock')).status === 200;
        return held ? list.find((s) => s.Name.includes("'lost'"))?.ID : undefined;
      },
      10_000,
      'the lock is held',
    );
    const waiting = await cli('lock', '-timeout', '1s', 'lost', 'true');
    expect(waiting.code).toBe(1);
    expect(waiting.stderr).toMatch(/timed out/);
    await api(`/v1/session/destroy/${session}`, { method: 'PUT' });
    const lost = await running;
    expect(lost.code).toBe(1);
    expect(lost.stderr).toMatch(/Lock lost \(session invalidated\), killing child/);
  }, 30_000);

  it('refuses bad usage', async () => {
    expect((await cli('lock', 'only-prefix')).code).toBe(1);
    expect((await cli('lock', '-ttl', '1s', 'p', 'true')).stderr).toMatch(/-ttl/);
  });
});

describe('conclave event', () => {
  it('fires through the agent; the agent lists it', async () => {
    const fired = await cli('event', '-name', 'deploy', 'v2');
    expect(fired.code).toBe(0);
    const id = /^Event ID: ([0-9a-f-]{36})\n$/.exec(fired.stdout)?.[1];
    expect(id).toBeDefined();
    const list = (await (await api('/v1/event/list?name=deploy')).json()) as { ID: string; Payload: string }[];
    expect(list.map((e) => [e.ID, Buffer.from(e.Payload, 'base64').toString()])).toEqual([[id, 'v2']]);
    expect((await cli('event', 'payload-without-name')).code).toBe(1);
    expect((await cli('event', '-name', 'x', '-tag', 'web')).stderr).toMatch(/tag filter without service/);
  });
});

describe('conclave watch', () => {
  it('prints the view once without a handler; runs the handler with the JSON on every change', async () => {
    expect((await cli('kv', 'put', 'cfg/a', '1')).code).toBe(0);
    const once = await cli('watch', '-type', 'key', '-key', 'cfg/a');
    expect(once.code).toBe(0);
    expect(JSON.parse(once.stdout)).toMatchObject({ Key: 'cfg/a', Value: Buffer.from('1').toString('base64') });
    expect(JSON.parse((await cli('watch', '-type', 'key', '-key', 'cfg/none')).stdout)).toBeNull();
    expect((await cli('watch', '-type', 'nosuch')).code).toBe(1);
    const log = path.join(root, 'watch.log');
    const watcher = spawn(
      process.execPath,
      [conclaveBin, 'watch', '-type', 'keyprefix', '-prefix', 'cfg/', `cat >> ${log}; echo === >> ${log}`],
      { env: { ...process.env, ...env }, stdio: 'ignore' },
    );
    try {
      const runs = () =>
        fs.existsSync(log)
          ? fs
              .readFileSync(log, 'utf8')
              .split('===\n')
              .filter((x) => x.trim() !== '')
          : [];
      await until(async () => runs().length === 1, 10_000, 'the first handler run');
      expect((await cli('kv', 'put', 'cfg/b', '2')).code).toBe(0);
      await until(async () => runs().length === 2, 10_000, 'a handler run after the change');
      expect((JSON.parse(runs()[1]!) as { Key: string }[]).map((e) => e.Key)).toEqual(['cfg/a', 'cfg/b']);
    } finally {
      watcher.kill('SIGINT');
    }
  }, 30_000);
});

describe('conclave snapshot', () => {
  it('saves, inspects and restores the cluster state; refuses a damaged file', async () => {
    const file = path.join(root, 'state.snap');
    expect((await cli('kv', 'put', 'snap/a', 'one')).code).toBe(0);
    const saved = await cli('snapshot', 'save', file);
    expect(saved).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^Saved and verified snapshot to index \d+\n$/),
    });
    expect((await cli('snapshot', 'inspect', file)).stdout).toMatch(/KV entries\s+\d+/);
    expect((await cli('kv', 'put', 'snap/a', 'two')).code).toBe(0);
    expect((await cli('kv', 'put', 'snap/b', 'new')).code).toBe(0);
    expect(await cli('snapshot', 'restore', file)).toMatchObject({ code: 0, stdout: 'Restored snapshot\n' });
    expect((await cli('kv', 'get', 'snap/a')).stdout).toBe('one\n');
    expect((await cli('kv', 'get', 'snap/b')).code).toBe(1);
    const damaged = path.join(root, 'damaged.snap');
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(damaged, bytes.subarray(0, bytes.length - 10));
    expect(await cli('snapshot', 'restore', damaged)).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/Error restoring snapshot: 400 damaged snapshot/),
    });
    expect((await cli('kv', 'get', 'snap/a')).stdout).toBe('one\n');
  }, 30_000);
});
