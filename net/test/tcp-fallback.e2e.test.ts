/**
 * memberlist's TCP fallback probe with real processes (core/swim/probe.ts): three servers in a network
 * namespace of their own (127.0.45.1–3 on its loopback), and then every UDP datagram to or from the third
 * one held back by the kernel — a traffic-control class of 8 bit/s on `lo`, classifying UDP by address,
 * as a firewall dropping UDP, or a receive buffer that overflows, would. Its gossip's datagrams stop;
 * its TCP (Raft, RPC, gossip's streams) flows. Without the fallback its peers' probes fail and, after
 * the suspicion timeout (4–24 s for three members), they declare a live server failed. With it: for 20
 * s no member is ever seen failed, and the probers log memberlist's warning, "Was able to connect to …
 * over TCP but UDP probes failed" — the sign that the datagram probes really failed and TCP saved them.
 *
 * Needs root, `ip netns` and the kernel's htb and u32 traffic control; elsewhere it skips with one line
 * saying why. The namespace keeps the host's own loopback untouched.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { conclaveBin, repoRoot, until } from './agent-process.js';
import { loopbackServerArgs } from '../../test/loopback-servers.js';

const ips = ['127.0.45.1', '127.0.45.2', '127.0.45.3'];
const cut = ips[2]!;
const namespace = `conclave-fb-${process.pid}`;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-tcpfallback-'));
const children: { child: ChildProcess; output: () => string }[] = [];

function inNamespace(args: readonly string[], timeoutMs = 20_000): string {
  return execFileSync('ip', ['netns', 'exec', namespace, ...args], { stdio: 'pipe', timeout: timeoutMs }).toString();
}

/** Sets up the namespace; null when it works, else why this machine cannot run the test. */
function prepare(): string | null {
  if (process.getuid?.() !== 0) return 'not root (ip netns, tc)';
  try {
    execFileSync('ip', ['netns', 'add', namespace], { stdio: 'pipe' });
  } catch {
    return '`ip netns add` failed (no iproute2, or no permission for network namespaces)';
  }
  try {
    inNamespace(['ip', 'link', 'set', 'lo', 'up']);
    inNamespace(['tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '20']);
    inNamespace(['tc', 'class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '10gbit']);
    inNamespace(['tc', 'class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '8bit']);
  } catch (error) {
    return `traffic control unavailable in a namespace (htb): ${String((error as Error).message).split('\n')[0]}`;
  }
  return null;
}

/** Holds back every UDP datagram to or from `ip` (its own htb class of 8 bit/s). */
function cutDatagrams(ip: string): void {
  for (const side of ['dst', 'src'])
    inNamespace([
      'tc', 'filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32',
      'match', 'ip', 'protocol', '17', '0xff', 'match', 'ip', side, `${ip}/32`, 'flowid', '1:10',
    ]); // prettier-ignore
}

const whyNot = prepare();
if (whyNot !== null) console.log(`tcp-fallback e2e test skipped: ${whyNot}`);

afterAll(async () => {
  for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(
    children.map(({ child }) => new Promise((resolve) => child.once('exit', resolve).once('error', resolve))),
  );
  try {
    execFileSync('ip', ['netns', 'del', namespace], { stdio: 'pipe' });
  } catch {
    // never created (skipped)
  }
  fs.rmSync(root, { recursive: true, force: true });
});

function startServer(index: number): { child: ChildProcess; output: () => string } {
  const child = spawn(
    'ip',
    ['netns', 'exec', namespace, process.execPath, conclaveBin, 'agent', ...loopbackServerArgs(ips, index, path.join(root, `d${index}`))],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  ); // prettier-ignore
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const handle = { child, output: () => out };
  children.push(handle);
  return handle;
}

/** `conclave members` through the agent at `ip`, inside the namespace: name → status. */
function members(ip: string): Map<string, string> {
  const out = inNamespace([process.execPath, conclaveBin, 'members', `-http-addr=http://${ip}:8500`]);
  const view = new Map<string, string>();
  for (const line of out.split('\n').slice(1)) {
    const [name, , status] = line.trim().split(/\s+/);
    if (name && status) view.set(name, status);
  }
  return view;
}

describe.skipIf(whyNot !== null)('TCP fallback probe (real processes, one server’s UDP held back)', () => {
  it('no member is declared failed while its TCP works, and the probers say the UDP probes failed', async () => {
    const servers = ips.map((_, i) => startServer(i));
    await until(
      async () => ips.every((ip) => [...members(ip).values()].filter((s) => s === 'alive').length === 3),
      60_000,
      'three servers, each seeing all three alive',
    );
    cutDatagrams(cut);
    const seen = new Set<string>();
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      for (const ip of ips) for (const [name, status] of members(ip)) seen.add(`${name}:${status}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect([...seen].filter((s) => !s.endsWith(':alive'))).toEqual([]);
    const warnings = servers
      .slice(0, 2)
      .map((s) => s.output())
      .join('\n')
      .match(/memberlist: Was able to connect to \S+ over TCP but UDP probes failed/g);
    expect(warnings?.length ?? 0).toBeGreaterThanOrEqual(3);
  }, 150_000);
});
