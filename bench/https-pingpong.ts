/**
 * bench:https-pingpong — what HTTPS (mutual TLS, as `verify_incoming_https` asks) costs the server per
 * request, server and load generator each in its own process: `clients` keep-alive closed-loop clients
 * send a ~100-byte PUT, the server answers a 4-byte body with the headers a KV write carries. The
 * server is node:http(s) with net/http/server.ts's options and an empty handler, so the figure is the
 * transport's share of a request, not the agent's. Plain and TLS runs alternate.
 * Usage: tsx bench/https-pingpong.ts [requests=20000] [rounds=3] [clients=16].
 * Relative figures only: the machine is shared.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCa, createLeaf } from '../net/tls/issue.js';

const self = fileURLToPath(import.meta.url);

interface Role {
  readonly role: 'server' | 'client';
  /** Certificates (ca.pem, server.pem, server-key.pem, client.pem, client-key.pem); null: plain HTTP. */
  readonly dir: string | null;
  readonly requests: number;
  readonly clients: number;
}

function server(role: Role): void {
  const read = (name: string) => fs.readFileSync(path.join(role.dir!, name));
  let count = 0;
  let start = process.cpuUsage();
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      if (count === role.clients) start = process.cpuUsage(); // each client's first request warmed up
      count++;
      const bytes = Buffer.from('true');
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('X-Consul-Index', String(count));
      res.setHeader('Content-Length', bytes.length);
      res.end(bytes);
      if (count === role.requests + role.clients) {
        const d = process.cpuUsage(start);
        process.send!({ cpuUs: d.user + d.system });
      }
    });
  };
  const options = { maxHeaderSize: 64 * 1024 };
  const srv =
    role.dir === null
      ? http.createServer(options, handler)
      : https.createServer(
          {
            ...options,
            cert: read('server.pem'),
            key: read('server-key.pem'),
            ca: read('ca.pem'),
            requestCert: true,
            rejectUnauthorized: true,
          },
          handler,
        );
  srv.listen(0, '127.0.0.1', () => process.send!({ port: (srv.address() as AddressInfo).port }));
}

function client(role: Role, port: number): void {
  const read = (name: string) => fs.readFileSync(path.join(role.dir!, name));
  const url = `${role.dir === null ? 'http' : 'https'}://127.0.0.1:${port}/v1/kv/bench/k`;
  const body = 'x'.repeat(100);
  let done = 0;
  for (let c = 0; c < role.clients; c++) {
    const agent =
      role.dir === null
        ? new http.Agent({ keepAlive: true, maxSockets: 1 })
        : new https.Agent({
            keepAlive: true,
            maxSockets: 1,
            ca: read('ca.pem'),
            cert: read('client.pem'),
            key: read('client-key.pem'),
          });
    const one = () => {
      const mod = role.dir === null ? http : https;
      const req = mod.request(url, { method: 'PUT', agent, headers: { 'Content-Length': body.length } }, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => {
          done++;
          if (done < role.requests + role.clients) one();
        });
      });
      req.end(body);
    };
    one();
  }
}

const message = <T>(p: ChildProcess) => new Promise<T>((resolve) => p.once('message', (m) => resolve(m as T)));

async function run(dir: string | null, requests: number, clients: number): Promise<number> {
  const spawn = (r: Role['role']) =>
    fork(self, ['--child', JSON.stringify({ role: r, dir, requests, clients })], { execArgv: process.execArgv });
  const srv = spawn('server');
  const { port } = await message<{ port: number }>(srv);
  const result = message<{ cpuUs: number }>(srv);
  const cli = spawn('client');
  cli.send({ port });
  const { cpuUs } = await result;
  srv.kill();
  cli.kill();
  return cpuUs / requests;
}

async function main(): Promise<void> {
  const requests = Number(process.argv[2] ?? 20_000);
  const rounds = Number(process.argv[3] ?? 3);
  const clients = Number(process.argv[4] ?? 16);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'https-pingpong-'));
  const ca = await createCa({ domain: 'consul' });
  const srv = await createLeaf({ ca, kind: 'server', datacenter: 'dc1', domain: 'consul' });
  const cli = await createLeaf({ ca, kind: 'client', datacenter: 'dc1', domain: 'consul' });
  for (const [name, text] of [
    ['ca.pem', ca.certPem],
    ['server.pem', srv.certPem],
    ['server-key.pem', srv.keyPem],
    ['client.pem', cli.certPem],
    ['client-key.pem', cli.keyPem],
  ] as const)
    fs.writeFileSync(path.join(dir, name), text);
  const load = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  console.log(`https-pingpong: ${requests} requests per run, ${clients} clients, load ${load}`);
  for (let r = 1; r <= rounds; r++) {
    const out: Record<string, number> = {};
    for (const d of r % 2 === 1 ? [null, dir] : [dir, null])
      out[d === null ? 'http' : 'https'] = await run(d, requests, clients);
    const [p, t] = [out['http']!, out['https']!];
    console.log(
      `round ${r}: server CPU µs/request ${p.toFixed(1)} HTTP, ${t.toFixed(1)} HTTPS (+${(t - p).toFixed(1)})`,
    );
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

const at = process.argv.indexOf('--child');
if (at < 0) void main();
else {
  const role = JSON.parse(process.argv[at + 1]!) as Role;
  if (role.role === 'server') server(role);
  else process.once('message', (m) => client(role, (m as { port: number }).port));
}
