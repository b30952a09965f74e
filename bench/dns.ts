/**
 * bench:dns — DNS queries per second over UDP against one agent (a single-server cluster on loopback):
 * `n1.node.consul` A and `web.service.consul` SRV (3 instances, A records in additional), from 16
 * outstanding queries on one UDP socket (closed loop, ids matched), p50/p99 per query.
 *
 * The issue names no anchors, so no ratios. Last line one JSON object. Knob: BENCH_SECONDS (5).
 */
import dgram from 'node:dgram';
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import dnsPacket from 'dns-packet';
import { encodeQuery } from '../net/dns/client.js';
import { startTestAgent } from '../test/consul-client/agent.js';
import { closedLoop, round } from './load.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = 16;

function put(port: number, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One UDP socket, many outstanding queries, answers matched by id. Lost answers time out after 1 s. */
class UdpResolver {
  private readonly socket = dgram.createSocket('udp4');
  private readonly pending = new Map<number, (answer: Buffer | undefined) => void>();
  private nextId = 1;
  constructor(private readonly port: number) {
    this.socket.on('message', (msg) => {
      if (msg.length < 2) return;
      const done = this.pending.get(msg.readUInt16BE(0));
      if (done) {
        this.pending.delete(msg.readUInt16BE(0));
        done(msg);
      }
    });
  }
  query(name: string, type: dnsPacket.RecordType): Promise<Buffer | undefined> {
    const id = this.nextId;
    this.nextId = (this.nextId % 65535) + 1;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, 1000);
      this.pending.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.socket.send(encodeQuery(name, type, {}, id), this.port, '127.0.0.1');
    });
  }
  close(): void {
    this.socket.close();
  }
}

function answerCount(msg: Buffer | undefined): number {
  if (!msg) return -1;
  return msg.readUInt16BE(6);
}

async function main(): Promise<void> {
  const loadAtStart = os.loadavg()[0]!;
  const agent = await startTestAgent({ nodeName: 'n1' });
  try {
    process.stdout.write(`agent: ${agent.mode}, DNS on 127.0.0.1:${agent.dnsPort}\n`);
    for (const [i, node] of ['web-a', 'web-b', 'web-c'].entries()) {
      const status = await put(
        agent.httpPort,
        '/v1/catalog/register',
        JSON.stringify({ Node: node, Address: `10.0.0.${i + 1}`, Service: { Service: 'web', Port: 80 + i } }),
      );
      if (status !== 200) throw new Error(`catalog register ${node}: ${status}`);
    }
    const resolver = new UdpResolver(agent.dnsPort);
    // Wait until the service resolves (the catalog write is applied).
    const start = performance.now();
    while (answerCount(await resolver.query('web.service.consul', 'SRV')) !== 3) {
      if (performance.now() - start > 10_000) throw new Error('web.service.consul never resolved to 3 instances');
      await new Promise((r) => setTimeout(r, 50));
    }
    // Warm up both query kinds (JIT, socket buffers) before measuring either.
    await closedLoop(
      async (w) =>
        answerCount(
          await resolver.query(w % 2 ? 'web.service.consul' : `${agent.nodeName}.node.consul`, w % 2 ? 'SRV' : 'A'),
        ) > 0,
      concurrency,
      1500,
      0,
    );
    const a = await closedLoop(
      async () => answerCount(await resolver.query(`${agent.nodeName}.node.consul`, 'A')) === 1,
      concurrency,
      seconds * 1000,
    );
    process.stdout.write(
      `A ${agent.nodeName}.node.consul: ${a.perSecond} q/s, p50 ${a.latencyMsP50} ms, p99 ${a.latencyMsP99} ms, errors ${a.errors}\n`,
    );
    const srv = await closedLoop(
      async () => answerCount(await resolver.query('web.service.consul', 'SRV')) === 3,
      concurrency,
      seconds * 1000,
    );
    process.stdout.write(
      `SRV web.service.consul: ${srv.perSecond} q/s, p50 ${srv.latencyMsP50} ms, p99 ${srv.latencyMsP99} ms, errors ${srv.errors}\n`,
    );
    resolver.close();
    const result = {
      bench: 'dns',
      // The machine is shared: figures are only comparable at similar load.
      loadAverage1mStart: round(loadAtStart, 2),
      loadAverage1mEnd: round(os.loadavg()[0]!, 2),
      cpus: os.cpus().length,
      agentMode: agent.mode,
      transport: 'udp',
      concurrency,
      seconds,
      aPerSecond: a.perSecond,
      aLatencyMsP50: a.latencyMsP50,
      aLatencyMsP99: a.latencyMsP99,
      aErrors: a.errors,
      srvPerSecond: srv.perSecond,
      srvLatencyMsP50: srv.latencyMsP50,
      srvLatencyMsP99: srv.latencyMsP99,
      srvErrors: srv.errors,
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    await agent.stop();
  }
}

await main();
