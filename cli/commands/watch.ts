/**
 * `conclave watch -type=TYPE [options] [handler]`: watch a view of the cluster with blocking queries
 * (Consul's `consul watch`). Without a handler it prints the current data as JSON and exits; with
 * one, it runs the handler through `/bin/sh -c` with the JSON on stdin now and after every change
 * (every new X-Consul-Index), until interrupted.
 *
 * Types: key (-key), keyprefix (-prefix), services, nodes, service (-service [-tag] [-passingonly]),
 * checks ([-service] or [-state]), event ([-name]).
 */
import { parseJsonExact } from '../../net/http/parse.js';
import { spawn } from 'node:child_process';
import { AgentUnreachable, commandFlags, request } from '../agent/client.js';
import type { FlagValues } from '../agent/flags.js';

const usage = `Usage: conclave watch [options] [child...]

  Watches a view of the data (blocking queries). Without a child, prints the data as JSON and exits;
  with one, runs it with the JSON on stdin now and on every change.

  -type=<type>        key, keyprefix, services, nodes, service, checks or event (required).
  -key=<key>          key: the key to watch.
  -prefix=<prefix>    keyprefix: the prefix to watch.
  -service=<name>     service (required) / checks: the service.
  -tag=<tag>          service: only instances with this tag.
  -passingonly        service: only instances whose checks all pass.
  -state=<state>      checks: any, passing, warning or critical.
  -name=<name>        event: only events with this name.
  -stale              Let any server answer (reads may be stale).
  -http-addr=<addr>   Address of the agent HTTP API.
`;

interface View {
  readonly path: string;
  readonly query: URLSearchParams;
  /** The body a watcher sees for a 404 (a missing key, an empty prefix). */
  readonly missing: unknown;
  /** What to hand the handler out of the HTTP body. */
  readonly pick?: (body: unknown) => unknown;
}

function viewOf(v: FlagValues): View | string {
  const q = new URLSearchParams();
  if (v['stale'] === true) q.set('stale', '');
  const str = (name: string) => v[name] as string | undefined;
  const key = (k: string) => k.split('/').map(encodeURIComponent).join('/');
  switch (str('type')) {
    case 'key': {
      const k = str('key');
      if (!k) return 'Must specify a single key to watch';
      return {
        path: `/v1/kv/${key(k)}`,
        query: q,
        missing: null,
        pick: (body) => (Array.isArray(body) ? (body[0] ?? null) : null),
      };
    }
    case 'keyprefix': {
      const p = str('prefix');
      if (p === undefined) return 'Must specify a key prefix to watch';
      q.set('recurse', '');
      return { path: `/v1/kv/${key(p)}`, query: q, missing: [] };
    }
    case 'services':
      return { path: '/v1/catalog/services', query: q, missing: {} };
    case 'nodes':
      return { path: '/v1/catalog/nodes', query: q, missing: [] };
    case 'service': {
      const s = str('service');
      if (!s) return 'Must specify a single service to watch';
      if (str('tag')) q.set('tag', str('tag')!);
      if (v['passingonly'] === true) q.set('passing', '');
      return { path: `/v1/health/service/${encodeURIComponent(s)}`, query: q, missing: [] };
    }
    case 'checks': {
      const s = str('service');
      const state = str('state');
      if (s && state) return 'Cannot specify service and state';
      if (s) return { path: `/v1/health/checks/${encodeURIComponent(s)}`, query: q, missing: [] };
      return { path: `/v1/health/state/${encodeURIComponent(state ?? 'any')}`, query: q, missing: [] };
    }
    case 'event':
      if (str('name')) q.set('name', str('name')!);
      return { path: '/v1/event/list', query: q, missing: [] };
    case undefined:
      return 'Must specify watch type';
    default:
      return `Unsupported watch type: ${str('type')}`;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function run(args: string[]): Promise<number> {
  const parsed = commandFlags(
    args,
    {
      type: { kind: 'string', usage: '' },
      key: { kind: 'string', usage: '' },
      prefix: { kind: 'string', usage: '' },
      service: { kind: 'string', usage: '' },
      tag: { kind: 'string', usage: '' },
      passingonly: { kind: 'bool', usage: '' },
      state: { kind: 'string', usage: '' },
      name: { kind: 'string', usage: '' },
      stale: { kind: 'bool', usage: '' },
    },
    usage,
  );
  if (!parsed) return 1;
  const view = viewOf(parsed.values);
  if (typeof view === 'string') {
    process.stderr.write(`${view}\n${usage}`);
    return 1;
  }
  const handler = parsed.rest.join(' ');
  let index = 0;
  const stop = false;
  // Interrupted while blocked in a 5-minute query: nothing to clean up, leave at once.
  const onSignal = () => process.exit(0);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (let failures = 0; !stop;) {
      const q = new URLSearchParams(view.query);
      if (index > 0) {
        q.set('index', String(index));
        q.set('wait', '5m');
      }
      let status: number;
      let text: string;
      let next: number;
      try {
        const r = await request(parsed.values, 'GET', `${view.path}?${q.toString().replace(/=(&|$)/g, '$1')}`);
        status = r.status;
        text = r.text;
        next = Number(r.headers.get('X-Consul-Index') ?? 0);
      } catch (error) {
        if (!(error instanceof AgentUnreachable)) throw error;
        if (handler === '') {
          process.stderr.write(`Error querying Consul agent: ${error.message}\n`);
          return 1;
        }
        // Consul's watch retries with backoff while the agent is away.
        await sleep(Math.min(30_000, 1000 * 2 ** Math.min(5, failures++)));
        continue;
      }
      if (status !== 200 && status !== 404) {
        process.stderr.write(`Error querying Consul agent: ${status} ${text.trim()}\n`);
        if (handler === '') return 1;
        await sleep(Math.min(30_000, 1000 * 2 ** Math.min(5, failures++)));
        continue;
      }
      failures = 0;
      if (next !== 0 && next === index) continue; // the wait ran out: nothing changed
      // Consul's index may go backwards (a restore): start over from it.
      index = next < index ? 0 : next;
      // Keep long integers (uint64 KV flags) exact in what the handler reads.
      const body = status === 404 ? view.missing : parseJsonExact(text);
      const data = status === 404 ? view.missing : view.pick ? view.pick(body) : body;
      const json = JSON.stringify(data, null, 4).replace(/("Flags": )"([0-9]{16,})"/g, '$1$2');
      if (handler === '') {
        process.stdout.write(`${json}\n`);
        return 0;
      }
      const code = await new Promise<number>((resolve) => {
        const child = spawn('/bin/sh', ['-c', handler], { stdio: ['pipe', 'inherit', 'inherit'] });
        child.on('error', () => resolve(127));
        child.on('exit', (status) => resolve(status ?? 1));
        child.stdin!.on('error', () => undefined); // a handler that does not read its input
        child.stdin!.end(`${json}\n`);
      });
      if (code !== 0) process.stderr.write(`Error executing handler: exit status ${code}\n`);
      if (index === 0) await sleep(1000); // no index to block on: poll gently
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
