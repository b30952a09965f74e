/**
 * Answers owed to a dead process do not reach its successor's calls (issue 13, the RPC call-id hazard),
 * with real processes: one server (127.0.41.11) and a client agent (127.0.41.12). Blocking reads of key
 * `a` go through the client agent and park on the server; the client agent is killed (-9) and started
 * again at once from the same data dir; blocking reads of key `b` go through the new process and park on
 * the same server. Then `a` is written: the server answers the parked reads of `a` — to the new process,
 * the only one there is. An agent whose call ids restart at 1 in every process takes those answers for
 * its own calls with the same ids (its reads of `b` answered with `a`'s entry); with ids from a per-start
 * random base (core/agent/state.ts callIdBaseOf) it drops them, and its reads of `b` answer `b`'s entry
 * when `b` is written. One server, so the old and the new calls go to the same server.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startAgent, stopAll, until, type AgentHandle } from './agent-process.js';
import { loopbackClientArgs } from '../../test/loopback-servers.js';

const server = '127.0.41.11';
const client = '127.0.41.12';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-restart-answers-'));
const agents: AgentHandle[] = [];
afterAll(async () => {
  await stopAll(agents);
  fs.rmSync(root, { recursive: true, force: true });
});

interface Answer {
  readonly status: number;
  readonly index: number;
  readonly body: string;
}

async function call(ip: string, method: string, pathAndQuery: string, body?: string, timeoutMs = 10_000) {
  const r = await fetch(`http://${ip}:8500${pathAndQuery}`, {
    method,
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: r.status, index: Number(r.headers.get('x-consul-index') ?? 0), body: await r.text() } as Answer;
}

/** `key=value` of a KV read's one entry, or the raw answer. */
function entryText(answer: Answer): string {
  try {
    const [entry] = JSON.parse(answer.body) as { Key: string; Value: string | null }[];
    return `${entry!.Key}=${Buffer.from(entry!.Value ?? '', 'base64').toString('utf8')}`;
  } catch {
    return `${answer.status} ${answer.body.slice(0, 80)}`;
  }
}

/** The server's count of parked blocking queries (consul.agent.blocking_queries). */
async function parkedOnServer(): Promise<number> {
  const metrics = JSON.parse((await call(server, 'GET', '/v1/agent/metrics')).body) as {
    Gauges: { Name: string; Value: number }[];
  };
  return metrics.Gauges.find((g) => g.Name === 'consul.agent.blocking_queries')?.Value ?? 0;
}

const clientArgs = loopbackClientArgs([server], client, 'c1', path.join(root, 'c1'));

describe('a client agent restarted at once while the server owes its old process answers (real processes)', () => {
  it('the new process does not take the old process’s answers for its own calls', async () => {
    agents.push(
      startAgent([
        '-server',
        '-bootstrap-expect',
        '1',
        '-data-dir',
        path.join(root, 's1'),
        '-node',
        's1',
        '-bind',
        server,
        '-client',
        server,
        '-dns-port',
        '-1',
      ]),
    );
    agents.push(startAgent(clientArgs));
    await until(async () => (await call(client, 'PUT', '/v1/kv/a', '1')).body === 'true', 90_000, 'a write via c1');
    expect((await call(client, 'PUT', '/v1/kv/b', '1')).body).toBe('true');
    const readers = 16;
    const waitS = 60;

    // Blocking reads of `a` through the first process: parked on the server.
    const aIndex = (await call(client, 'GET', '/v1/kv/a')).index;
    const oldReads = Array.from({ length: readers }, () =>
      call(client, 'GET', `/v1/kv/a?index=${aIndex}&wait=${waitS}s`, undefined, (waitS + 30) * 1000).catch(
        (error: Error) => error.message, // their process dies under them
      ),
    );
    await until(async () => (await parkedOnServer()) >= readers, 30_000, 'the reads of a parked on s1');

    // kill -9 and start again at once, from the same data dir.
    const old = agents.pop()!;
    old.child.kill('SIGKILL');
    await old.exited;
    agents.push(startAgent(clientArgs));
    const bIndex = await until(
      async () => {
        const answer = await call(client, 'GET', '/v1/kv/b', undefined, 5000);
        return answer.status === 200 ? answer.index : null;
      },
      60_000,
      'a read via the new c1',
    );
    // The old process's reads are still parked on the server (it answers them when `a` changes).
    expect(await parkedOnServer()).toBeGreaterThanOrEqual(readers);

    // Blocking reads of `b` through the new process, parked beside the old ones.
    const newReads = Array.from({ length: readers }, () =>
      call(client, 'GET', `/v1/kv/b?index=${bIndex}&wait=${waitS}s`, undefined, (waitS + 30) * 1000),
    );
    await until(async () => (await parkedOnServer()) >= 2 * readers, 30_000, 'the reads of b parked on s1');

    // `a` changes: the server answers the old process's reads, to the new process.
    expect((await call(server, 'PUT', '/v1/kv/a', '2')).body).toBe('true');
    await until(async () => (await parkedOnServer()) <= readers, 30_000, 'the reads of a answered by s1');
    // Give those answers time to arrive; then `b` changes, and only then may the reads of `b` answer.
    await new Promise((r) => setTimeout(r, 1000));
    expect((await call(server, 'PUT', '/v1/kv/b', '2')).body).toBe('true');
    const answers = await Promise.all(newReads);
    expect(answers.map(entryText)).toEqual(Array.from({ length: readers }, () => 'b=2'));
    await Promise.all(oldReads);
    for (const a of agents) expect(a.child.exitCode, a.output().slice(-2000)).toBeNull();
  }, 240_000);
});
