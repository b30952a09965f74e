/**
 * `conclave lock [options] PREFIX CHILD...`: run a command while holding a lock in the KV store
 * (Consul's `consul lock`, the seed's "leader election via KV" as a tool). The lock is the key
 * `PREFIX/.lock`, taken with a session (`?acquire=`) and marked with Go's api.Lock flag
 * (3304740253564472344), so Go programs using api.Lock on the same prefix contend with it.
 *
 *  - A session with a TTL (`-ttl`, default 15s, renewed every half TTL) and the agent's serfHealth:
 *    if this agent dies, the lock is freed.
 *  - Waits with blocking queries until the key is free, then acquires; `-timeout` bounds the wait.
 *  - Runs the child through `/bin/sh -c` with the terminal's stdin/stdout/stderr, in its own process
 *    group. If the lock is lost (the session invalidated, the key taken away), the group gets SIGTERM:
 *    "Lock lost, killing child". SIGINT and SIGTERM to this process are passed on to it.
 *  - On exit (the child's or Ctrl-C), releases the key and destroys the session. Exits with the
 *    child's status, 1 on error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { parseGoDurationMs, parseJsonExact } from '../../net/http/parse.js';
import { AgentUnreachable, commandFlags, request, type HttpResult } from '../agent/client.js';
import type { FlagValues } from '../agent/flags.js';

const usage = `Usage: conclave lock [options] prefix child...

  Acquires the lock prefix/.lock in the KV store, runs child through /bin/sh -c while it holds it,
  and releases it when the child exits.

  -name=<name>        Name of the lock session (default "Consul lock for <child> at <prefix>").
  -ttl=<duration>     Session TTL, renewed every half TTL (default 15s).
  -timeout=<duration> Give up when the lock is not acquired within this time (default: wait forever).
  -http-addr=<addr>   Address of the agent HTTP API.
`;

/** Go's api.LockFlagValue: marks a key as a lock held through api.Lock. */
export const lockFlagValue = '3304740253564472344';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class LockError extends Error {}

async function ok(r: HttpResult, what: string): Promise<string> {
  if (r.status !== 200) throw new LockError(`${what}: ${r.status} ${r.text.trim()}`);
  return r.text;
}

export async function run(args: string[]): Promise<number> {
  const parsed = commandFlags(
    args,
    { name: { kind: 'string', usage: '' }, ttl: { kind: 'string', usage: '' }, timeout: { kind: 'string', usage: '' } },
    usage,
  );
  if (!parsed) return 1;
  const [prefixArg, ...childArgs] = parsed.rest;
  if (prefixArg === undefined || childArgs.length === 0) {
    process.stderr.write(`Key prefix and child command must be specified\n${usage}`);
    return 1;
  }
  const prefix = prefixArg.replace(/^\/+/, '').replace(/\/+$/, '');
  const child = childArgs.join(' ');
  const ttlMs = parseGoDurationMs(String(parsed.values['ttl'] ?? '15s'));
  if (ttlMs === undefined || ttlMs < 10_000 || ttlMs > 86_400_000) {
    process.stderr.write(`invalid value for -ttl: must be a duration between 10s and 24h\n`);
    return 1;
  }
  const timeoutText = parsed.values['timeout'] as string | undefined;
  const timeoutMs = timeoutText === undefined ? undefined : parseGoDurationMs(timeoutText);
  if (timeoutText !== undefined && timeoutMs === undefined) {
    process.stderr.write(`invalid value "${timeoutText}" for flag -timeout\n`);
    return 1;
  }
  const name = (parsed.values['name'] as string | undefined) ?? `Consul lock for '${child}' at '${prefix}'`;
  try {
    return await holdAndRun(parsed.values, prefix, child, name, ttlMs, timeoutMs);
  } catch (error) {
    if (error instanceof LockError || error instanceof AgentUnreachable) {
      process.stderr.write(`Lock acquisition failed: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

async function holdAndRun(
  flags: FlagValues,
  prefix: string,
  child: string,
  name: string,
  ttlMs: number,
  timeoutMs: number | undefined,
): Promise<number> {
  const key = `${prefix}/.lock`.split('/').map(encodeURIComponent).join('/');
  const created = JSON.parse(
    await ok(
      await request(
        flags,
        'PUT',
        '/v1/session/create',
        JSON.stringify({ Name: name, TTL: `${Math.round(ttlMs / 1000)}s`, Behavior: 'release', LockDelay: '15s' }),
      ),
      'session create',
    ),
  ) as { ID: string };
  const session = created.ID;
  let stopped = false;
  let lost = false;
  let childProcess: ChildProcess | null = null;
  const cleanup = async (): Promise<void> => {
    stopped = true;
    try {
      await request(flags, 'PUT', `/v1/kv/${key}?release=${session}`);
      await request(flags, 'PUT', `/v1/session/destroy/${session}`);
    } catch {
      // The agent is gone: the session's TTL frees the lock.
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (childProcess && childProcess.exitCode === null) killGroup(childProcess, signal);
    else void cleanup().then(() => process.exit(1));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Renew every half TTL; a failed renewal means the session (and the lock) is gone.
  const renewer = setInterval(() => {
    void request(flags, 'PUT', `/v1/session/renew/${session}`)
      .then((r) => {
        if (r.status !== 200 && !stopped) loseLock('session invalidated');
      })
      .catch(() => undefined);
  }, ttlMs / 2);
  const loseLock = (why: string) => {
    if (lost || stopped) return;
    lost = true;
    process.stderr.write(`Lock lost (${why}), killing child\n`);
    killGroup(childProcess, 'SIGTERM');
  };
  try {
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    let index = 0;
    for (;;) {
      if (Date.now() > deadline) throw new LockError(`timed out after ${timeoutMs} ms`);
      const r = await request(flags, 'PUT', `/v1/kv/${key}?acquire=${session}&flags=${lockFlagValue}`, '');
      if ((await ok(r, 'acquire')).trim() === 'true') break;
      // Held (or in lock-delay): wait for the key to change, then try again.
      const wait = Math.max(1, Math.min(deadline - Date.now(), 15_000));
      const got = await request(flags, 'GET', `/v1/kv/${key}?index=${index}&wait=${Math.round(wait)}ms`);
      index = Number(got.headers.get('X-Consul-Index') ?? 0);
      if (got.status === 200) {
        const entry = (parseJsonExact(got.text) as { Flags: number | string; Session?: string }[])[0];
        if (entry && String(entry.Flags) !== lockFlagValue && entry.Flags !== 0)
          throw new LockError(`existing key does not match lock use (flags ${entry.Flags})`);
        if (entry && !entry.Session) await sleep(250); // free, perhaps in lock-delay: retry soon
      } else await sleep(100);
    }
    // Held: watch the key so that a lost lock kills the child.
    void watchLock(flags, key, session, () => stopped, loseLock);
    // Its own process group, so that a lost lock or a signal stops the whole child, not only the shell.
    childProcess = spawn('/bin/sh', ['-c', child], { stdio: 'inherit', detached: true });
    const code = await new Promise<number>((resolve) => {
      childProcess!.on('exit', (status, signal) =>
        resolve(status ?? (signal ? 128 + (signalNumbers[signal] ?? 15) : 1)),
      );
      childProcess!.on('error', () => resolve(127));
    });
    return lost ? 1 : code;
  } finally {
    clearInterval(renewer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

function killGroup(child: ChildProcess | null, signal: NodeJS.Signals): void {
  if (!child || child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

const signalNumbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

async function watchLock(
  flags: FlagValues,
  key: string,
  session: string,
  stopped: () => boolean,
  lose: (why: string) => void,
): Promise<void> {
  let index = 0;
  while (!stopped()) {
    let r: HttpResult;
    try {
      r = await request(flags, 'GET', `/v1/kv/${key}?index=${index}&wait=15s`);
    } catch {
      await sleep(1000);
      continue;
    }
    if (stopped()) return;
    index = Number(r.headers.get('X-Consul-Index') ?? 0);
    const entry = r.status === 200 ? (parseJsonExact(r.text) as { Session?: string }[])[0] : undefined;
    if (!entry || entry.Session !== session)
      return lose(!entry ? 'key deleted' : entry.Session ? 'held by another session' : 'session invalidated');
  }
}
