/**
 * bench:tls-micro — what TLS costs per message on the two paths a KV write takes, in one process, as
 * CPU microseconds per message (process.cpuUsage, user + system), plain against TLS side by side:
 *
 *   transport   SocketTransport → SocketTransport on loopback (Raft/RPC frames of ~200 bytes), one frame
 *               per event-loop turn in `window` parallel lanes (the leader's AppendEntries pattern)
 *   http        node:http(s) server with an empty handler, `clients` keep-alive closed-loop clients
 *               (each request: a ~100-byte PUT, a 4-byte answer)
 *
 * Both ends run here, so a figure is the whole cost of a message (send + receive), not one side's.
 * Usage: tsx bench/tls-micro.ts [messages=20000] [rounds=3]. Relative figures only: the machine is shared.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCa, createLeaf, type Pem } from '../net/tls/issue.js';
import { listenSocketTransport, type TransportTls } from '../net/transport/socket.js';
import type { Transport } from '../net/transport/types.js';

const messages = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 3);

function cpuUs(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return d.user + d.system;
}

async function transportPair(tls: (TransportTls & {}) | null): Promise<[Transport, Transport]> {
  const make = () => listenSocketTransport({ bindHost: '127.0.0.1', port: 0, udp: false, log: () => undefined, tls });
  return [await make(), await make()];
}

async function transportRun(
  a: Transport,
  b: Transport,
  count: number,
  window = Number(process.env['MICRO_WINDOW'] ?? 4),
): Promise<number> {
  const body = { type: 'append', term: 3, entries: [{ index: 1, term: 3, data: 'x'.repeat(120) }], commit: 9 };
  let received = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  b.onReceive = () => {
    received++;
    if (received === count) done();
  };
  // Warm the connection up (handshake) before measuring.
  a.send(b.address, body, 'stream');
  await new Promise<void>((resolve) => {
    const wait = () => (received >= 1 ? resolve() : setTimeout(wait, 5));
    wait();
  });
  received = 0;
  const start = process.cpuUsage();
  let sent = 0;
  const pump = () => {
    // One frame per lane per turn, never more than `window` ahead of the receiver.
    for (let i = 0; i < window && sent < count && sent - received < window; i++) {
      a.send(b.address, body, 'stream');
      sent++;
    }
    if (sent < count) setImmediate(pump);
  };
  pump();
  await finished;
  return cpuUs(start) / count;
}

async function httpRun(pem: { ca: Pem; leaf: Pem } | null, count: number, clients = 16): Promise<number> {
  const handler: http.RequestListener = (req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('true');
    });
  };
  const server = pem
    ? https.createServer({ cert: pem.leaf.certPem, key: pem.leaf.keyPem, ca: pem.ca.certPem }, handler)
    : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const agent = pem
    ? new https.Agent({ keepAlive: true, maxSockets: clients, ca: pem.ca.certPem, servername: 'server.dc1.consul' })
    : new http.Agent({ keepAlive: true, maxSockets: clients });
  const mod = pem ? https : http;
  const url = `${pem ? 'https' : 'http'}://127.0.0.1:${port}/v1/kv/k`;
  const body = 'v'.repeat(100);
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = mod.request(
        url,
        { method: 'PUT', agent, headers: { 'Content-Length': body.length }, checkServerIdentity: () => undefined },
        (res) => {
          res.on('data', () => undefined);
          res.on('end', () => resolve());
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  await Promise.all(Array.from({ length: clients }, () => one())); // handshakes
  const start = process.cpuUsage();
  const wallStart = performance.now();
  let issued = 0;
  const lane = async () => {
    while (issued < count) {
      issued++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: clients }, () => lane()));
  const us = cpuUs(start) / count;
  console.log(
    `  http ${pem ? 'TLS' : 'plain'}: ${Math.round(count / ((performance.now() - wallStart) / 1000))} requests/s`,
  );
  agent.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return us;
}

async function main(): Promise<void> {
  const ca = await createCa({ domain: 'consul' });
  const leaf = await createLeaf({
    ca,
    kind: 'server',
    datacenter: 'dc1',
    domain: 'consul',
    additionalIps: ['127.0.0.1'],
  });
  const tls: TransportTls = {
    ca: Buffer.from(ca.certPem),
    cert: Buffer.from(leaf.certPem),
    key: Buffer.from(leaf.keyPem),
    verifyIncoming: true,
    verifyOutgoing: true,
    serverName: 'server.dc1.consul',
    outgoingPort: null,
  };
  console.log(
    `tls-micro: ${messages} messages per run, ${rounds} rounds, load average ${(await import('node:os'))
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  for (let r = 0; r < rounds; r++) {
    const [pa, pb] = await transportPair(null);
    const plainT = await transportRun(pa, pb, messages);
    await pa.close();
    await pb.close();
    const [ta, tb] = await transportPair(tls);
    const tlsT = await transportRun(ta, tb, messages);
    await ta.close();
    await tb.close();
    const plainH = await httpRun(null, messages / 4);
    const tlsH = await httpRun({ ca, leaf }, messages / 4);
    console.log(
      `round ${r + 1}: transport ${plainT.toFixed(1)} µs/frame plain, ${tlsT.toFixed(1)} TLS (×${(tlsT / plainT).toFixed(2)}); ` +
        `http ${plainH.toFixed(1)} µs/request plain, ${tlsH.toFixed(1)} TLS (×${(tlsH / plainH).toFixed(2)})`,
    );
  }
}

await main();
