/**
 * `npm run dev-cluster`: the README's agent walk-through as one command. Starts the seed's two agents
 * on loopback — a1, a server bootstrapping alone on 127.0.0.104, and a2, a client on 127.0.0.103 —
 * both reading examples/conclave.d (the seed's `ping` check and `web` service), joins a2 to a1, and
 * prints the commands to try. Each agent's log lines are prefixed with its name. Ctrl-C (or SIGTERM)
 * makes both leave gracefully, then removes their data directories.
 *
 *   npm run dev-cluster [-- --keep]    (--keep: leave the data directories in place)
 *
 * Loopback addresses other than 127.0.0.1 work on Linux as they are; on macOS add them first
 * (`sudo ifconfig lo0 alias 127.0.0.104 up`, and .103).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'conclave.js');
const configDir = join(root, 'examples', 'conclave.d');
const keep = process.argv.includes('--keep');
/** How long to wait for a1's HTTP API before giving up. */
const startTimeoutMs = 20_000;

const agents = [
  { name: 'a1', addr: '127.0.0.104', flags: ['-server', '-bootstrap-expect', '1'] },
  { name: 'a2', addr: '127.0.0.103', flags: [] },
] as const;

if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  process.stderr.write('dev-cluster: dist/ is missing; run `npm run build` first\n');
  process.exit(2);
}

const dataRoot = mkdtempSync(join(tmpdir(), 'conclave-dev-'));
const children: ChildProcess[] = [];

function prefixed(name: string, stream: NodeJS.ReadableStream, out: NodeJS.WriteStream): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) out.write(`[${name}] ${line}\n`);
  });
}

for (const agent of agents) {
  const args = [
    bin,
    'agent',
    ...agent.flags,
    '-data-dir',
    join(dataRoot, agent.name),
    `-node=${agent.name}`,
    `-bind=${agent.addr}`,
    '-client',
    agent.addr,
    '-config-dir',
    configDir,
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  prefixed(agent.name, child.stdout!, process.stdout);
  prefixed(agent.name, child.stderr!, process.stderr);
  child.on('exit', (code, signal) => {
    process.stdout.write(`[${agent.name}] exited (${signal ?? `code ${code}`})\n`);
    if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) cleanUp(0);
  });
  children.push(child);
}

function conclave(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  return { status: r.status, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

async function main(): Promise<void> {
  const a1 = `${agents[0].addr}:8500`;
  const until = Date.now() + startTimeoutMs;
  while (conclave('members', '-http-addr', a1).status !== 0) {
    if (Date.now() > until) {
      process.stderr.write(`dev-cluster: a1's HTTP API (${a1}) did not answer within ${startTimeoutMs} ms\n`);
      return stop();
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const joined = conclave('join', '-http-addr', a1, agents[1].addr);
  process.stdout.write(`[dev-cluster] ${joined.out.trim()}\n`);
  process.stdout.write(
    [
      '[dev-cluster] two agents up; data in ' + dataRoot + '. Try, in another terminal:',
      `    npx conclave members -http-addr ${a1}`,
      `    dig @${agents[0].addr} -p 8600 a2.node.consul`,
      `    curl -s http://${a1}/v1/catalog/service/web`,
      `    curl -s http://${a1}/v1/health/state/critical`,
      `    npx conclave kv put -http-addr ${a1} hello world && curl -s http://${a1}/v1/kv/?recurse`,
      '[dev-cluster] Ctrl-C stops both (they leave gracefully).',
      '',
    ].join('\n'),
  );
}

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGINT');
  // An agent that does not leave within 10 s is killed.
  setTimeout(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }, 10_000).unref();
}

function cleanUp(code: number): void {
  if (!keep) rmSync(dataRoot, { recursive: true, force: true });
  process.exit(code);
}

process.on('SIGINT', stop);
process.on('SIGTERM', stop);
void main();
