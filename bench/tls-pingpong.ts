/**
 * bench:tls-pingpong — what TLS costs per Raft-like message on the server transport, each side in its own
 * process (as on a real cluster, where the leader and a follower do not share a CPU budget):
 *
 *   leader    sends an AppendEntries-sized frame (~300 bytes) to the follower, `window` in flight;
 *   follower  answers each with an AppendEntries-reply-sized frame (~80 bytes) on its own connection.
 *
 * Each process reports its CPU (process.cpuUsage, user + system) per message over the measured rounds.
 * Plain and TLS runs alternate, so load that rises or falls weighs on both alike.
 * Usage: tsx bench/tls-pingpong.ts [messages=20000] [rounds=3] [window=4].
 * Relative figures only: the machine is shared.
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { createCa, createLeaf } from '../net/tls/issue.js';
import { listenSocketTransport, type TransportTls } from '../net/transport/socket.js';

const self = fileURLToPath(import.meta.url);

interface Role {
  readonly role: 'leader' | 'follower';
  readonly tlsDir: string | null;
  readonly messages: number;
  readonly window: number;
}

function tlsFrom(dir: string | null): TransportTls | null {
  if (dir === null) return null;
  const read = (name: string) => fs.readFileSync(path.join(dir, name));
  return {
    ca: read('ca.pem'),
    cert: read('server.pem'),
    key: read('server-key.pem'),
    verifyIncoming: true,
    verifyOutgoing: true,
    serverName: 'server.dc1.consul',
    outgoingPort: null,
  };
}

async function child(role: Role): Promise<void> {
  // PINGPONG_CIPHERS: an OpenSSL cipher list put first (e.g. TLS_CHACHA20_POLY1305_SHA256), both ends.
  const first = process.env['PINGPONG_CIPHERS'];
  if (first) (tls as { DEFAULT_CIPHERS: string }).DEFAULT_CIPHERS = `${first}:${tls.DEFAULT_CIPHERS}`;
  const transport = await listenSocketTransport({
    bindHost: '127.0.0.1',
    port: 0,
    udp: false,
    log: () => undefined,
    tls: tlsFrom(role.tlsDir),
  });
  const send = (m: unknown) => process.send!(m);
  send({ address: transport.address });
  const peer = await new Promise<string>((resolve) =>
    process.once('message', (m: { peer: string }) => resolve(m.peer)),
  );
  const entry = {
    index: 1,
    term: 3,
    type: 'command',
    command: { type: 'kvSet', key: 'bench/k', value: 'x'.repeat(100) },
  };
  const append = { m: 'raft', p: { type: 'append', term: 3, prevIndex: 9, prevTerm: 3, entries: [entry], commit: 9 } };
  const reply = { m: 'raft', p: { type: 'appendReply', term: 3, success: true, match: 10, readSeq: 0 } };
  if (role.role === 'follower') {
    let count = 0;
    let start = process.cpuUsage();
    transport.onReceive = () => {
      if (count === 0) start = process.cpuUsage();
      transport.send(peer, reply, 'stream');
      count++;
      if (count === role.messages + 1) {
        const d = process.cpuUsage(start);
        send({ cpuUs: d.user + d.system });
      }
    };
    return;
  }
  // Leader: one warm-up round trip (the handshakes), then `messages` with `window` in flight.
  let received = 0;
  let sent = 0;
  let start = process.cpuUsage();
  await new Promise<void>((resolve) => {
    transport.onReceive = () => {
      received++;
      if (received === 1) {
        start = process.cpuUsage();
        pump();
        return;
      }
      if (received === role.messages + 1) {
        const d = process.cpuUsage(start);
        send({ cpuUs: d.user + d.system });
        resolve();
        return;
      }
      pump();
    };
    const pump = () => {
      while (sent - (received - 1) < role.window && sent < role.messages) {
        transport.send(peer, append, 'stream');
        sent++;
      }
    };
    transport.send(peer, append, 'stream'); // the warm-up
  });
}

async function run(
  tlsDir: string | null,
  messages: number,
  window: number,
): Promise<{ leader: number; follower: number }> {
  const spawn = (role: Role['role']) =>
    fork(self, ['--child', JSON.stringify({ role, tlsDir, messages, window })], {
      execArgv: process.execArgv,
      stdio: 'inherit',
    });
  const leader = spawn('leader');
  const follower = spawn('follower');
  const first = (p: ReturnType<typeof fork>) => new Promise<any>((resolve) => p.once('message', resolve)); // eslint-disable-line @typescript-eslint/no-explicit-any
  const [la, fa] = await Promise.all([first(leader), first(follower)]);
  const results = Promise.all([first(leader), first(follower)]);
  follower.send({ peer: la.address });
  leader.send({ peer: fa.address });
  const [lr, fr] = await results;
  leader.kill();
  follower.kill();
  return { leader: lr.cpuUs / messages, follower: fr.cpuUs / messages };
}

async function main(): Promise<void> {
  const messages = Number(process.argv[2] ?? 20_000);
  const rounds = Number(process.argv[3] ?? 3);
  const window = Number(process.argv[4] ?? 4);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-pingpong-'));
  const ca = await createCa({ domain: 'consul' });
  const leaf = await createLeaf({ ca, kind: 'server', datacenter: 'dc1', domain: 'consul' });
  fs.writeFileSync(path.join(dir, 'ca.pem'), ca.certPem);
  fs.writeFileSync(path.join(dir, 'server.pem'), leaf.certPem);
  fs.writeFileSync(path.join(dir, 'server-key.pem'), leaf.keyPem);
  console.log(
    `tls-pingpong: ${messages} messages per run, window ${window}, load ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const fmt = (x: number) => x.toFixed(1);
  for (let r = 1; r <= rounds; r++) {
    const order = r % 2 === 1 ? [null, dir] : [dir, null];
    const out: Record<string, { leader: number; follower: number }> = {};
    for (const d of order) out[d === null ? 'plain' : 'tls'] = await run(d, messages, window);
    const p = out['plain']!;
    const t = out['tls']!;
    console.log(
      `round ${r}: CPU µs/message leader ${fmt(p.leader)} plain, ${fmt(t.leader)} TLS (+${fmt(t.leader - p.leader)}); ` +
        `follower ${fmt(p.follower)} plain, ${fmt(t.follower)} TLS (+${fmt(t.follower - p.follower)})`,
    );
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

const at = process.argv.indexOf('--child');
if (at >= 0) void child(JSON.parse(process.argv[at + 1]!) as Role);
else void main();
