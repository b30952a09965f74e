/**
 * A real conclave agent for integration tests and benchmarks: a single server that bootstraps itself,
 * on loopback, serving the HTTP API and DNS.
 *
 * Two ways to run it (CONCLAVE_TEST_AGENT=process|inproc; default: process when the `conclave agent`
 * command exists in this tree, else inproc):
 *  - process: spawns `conclave agent -dev -server -bootstrap ...` as a child process (through tsx, so
 *    no build is needed) and talks to it only over HTTP/DNS — the "real agent process";
 *  - inproc: the same core composed the same way (`mountsFor`: SWIM + Raft with the state store +
 *    the agent) in one NodeRuntime, stepped by net/driver.ts (the real driver: event-loop timers,
 *    socket transports for gossip and RPC, in-memory storage as `-dev` uses), behind the real
 *    `startHttpApi` and `startDnsServer`. Only the process boundary is missing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  makeAgentConfig,
  type AgentRequest,
  type AgentResponse,
  type CheckDefinition,
  type ServiceDefinition,
} from '../../core/agent/api.js';
import { mountsFor } from '../../core/agent/mounts.js';
import { Prng } from '../../core/prng.js';
import { NodeRuntime } from '../../core/runtime.js';
import { emptyDurableState } from '../../core/types.js';
import { memoryStorage } from '../../net/disk/storage.js';
import { NodeDriver } from '../../net/driver.js';
import { startDnsServer } from '../../net/dns/server.js';
import { decodeJsonBody, S } from '../../net/http/parse.js';
import { checkTypeSchema, serviceRegisterSchema } from '../../net/http/schemas.js';
import { toCheckDefinition, toServiceDefinition } from '../../net/http/convert.js';
import { startHttpApi } from '../../net/http/server.js';
import { listenSocketTransport } from '../../net/transport/socket.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface TestAgentOptions {
  readonly nodeName: string;
  /** Config files (name → JSON text, snake_case keys as Consul's), e.g. the seed's web.json. */
  readonly configFiles?: Readonly<Record<string, string>>;
  /** Ask for these ports (e.g. the seed's 8500/8600); a port in use falls back to a free one. */
  readonly httpPort?: number;
  readonly dnsPort?: number;
  readonly mode?: 'process' | 'inproc';
  /** A server that bootstraps itself (default), or a client agent that must be joined to one. */
  readonly server?: boolean;
  /**
   * Cluster bind address (default 127.0.0.1). Agents reach a peer's server RPC at the peer's host and
   * their own `-server-port` (as Consul does: every host uses 8300), so several agents on one machine
   * need distinct loopback addresses and one shared `serverPort`.
   */
  readonly bind?: string;
  readonly serverPort?: number;
  /** A server that waits for this many servers before electing (no leader until then); implies server. */
  readonly bootstrapExpect?: number;
  /** A token that may read the catalog, for the start-up wait when ACLs deny anonymous reads. */
  readonly token?: string;
}

export interface TestAgent {
  readonly mode: 'process' | 'inproc';
  readonly nodeName: string;
  readonly httpPort: number;
  readonly dnsPort: number;
  /** The gossip (Serf LAN) address, `bind:port`, for `agent/join`. */
  readonly gossipAddress: string;
  /** The server RPC port (servers listen on it; agents reach servers at `host:serverPort`). */
  readonly serverPort: number;
  /** In-process only: the agent's request entry point, bypassing HTTP (benchmarks compare the two). */
  readonly call?: (request: AgentRequest) => Promise<AgentResponse>;
  /** Lines the agent logged (process: stdout+stderr; inproc: traces). */
  readonly logs: string[];
  stop(): Promise<void>;
}

export async function startTestAgent(options: TestAgentOptions): Promise<TestAgent> {
  const mode =
    options.mode ??
    (process.env.CONCLAVE_TEST_AGENT as 'process' | 'inproc' | undefined) ??
    (existsSync(join(root, 'cli', 'commands', 'agent.ts')) ? 'process' : 'inproc');
  if (mode !== 'process') return startInProcessAgent(options);
  // A port `freePort` found free can be taken before the agent binds it (another test's outgoing
  // connection gets it as its ephemeral port): the agent exits with EADDRINUSE. Start it again on fresh
  // ports then — a test's own fault, not the agent's (seen once in a fresh-clone CI run).
  for (let attempt = 1; ; attempt++) {
    try {
      return await startProcessAgent(options);
    } catch (error) {
      if (attempt >= 3 || !/EADDRINUSE/.test(String(error))) throw error;
    }
  }
}

/** A free TCP+UDP port on 127.0.0.1, preferring `wanted` when it is free. */
export async function freePort(wanted?: number, host = '127.0.0.1'): Promise<number> {
  if (wanted !== undefined && (await portIsFree(wanted, host))) return wanted;
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, host, () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    if (await portIsFree(port, host)) return port;
  }
  throw new Error('no free port');
}

export async function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  const tcpFree = await new Promise<boolean>((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
  if (!tcpFree) return false;
  const dgram = await import('node:dgram');
  return new Promise<boolean>((resolve) => {
    const u = dgram.createSocket('udp4');
    u.once('error', () => resolve(false));
    u.bind(port, host, () => u.close(() => resolve(true)));
  });
}

/** Config files in Consul's format → definitions (the in-process stand-in for the CLI's loader). */
const configFileSchema = S.struct({
  Service: serviceRegisterSchema,
  Services: S.array(serviceRegisterSchema),
  Check: checkTypeSchema,
  Checks: S.array(checkTypeSchema),
});

export function definitionsOf(files: Readonly<Record<string, string>>): {
  services: ServiceDefinition[];
  checks: CheckDefinition[];
} {
  const services: ServiceDefinition[] = [];
  const checks: CheckDefinition[] = [];
  for (const name of Object.keys(files).sort()) {
    const parsed = decodeJsonBody(files[name]!, configFileSchema, { unknownFields: 'ignore' });
    if (!parsed.ok) throw new Error(`${name}: ${parsed.error}`);
    const body = parsed.value as Record<string, unknown>;
    for (const raw of [body.Service, ...((body.Services as unknown[]) ?? [])]) {
      if (!raw) continue;
      const s = toServiceDefinition(raw as Record<string, unknown>, 'Name');
      if (!s.ok) throw new Error(`${name}: ${s.error}`);
      services.push(s.value);
    }
    for (const raw of [body.Check, ...((body.Checks as unknown[]) ?? [])]) {
      if (!raw) continue;
      const c = toCheckDefinition(raw as Record<string, unknown>);
      if (!c.ok) throw new Error(`${name}: ${c.error}`);
      checks.push(c.value);
    }
  }
  return { services, checks };
}

async function startInProcessAgent(options: TestAgentOptions): Promise<TestAgent> {
  const logs: string[] = [];
  const log = (level: string, text: string) => {
    logs.push(`[${level.toUpperCase()}] ${text}`);
    if (logs.length > 5000) logs.splice(0, 1000);
  };
  const bind = options.bind ?? '127.0.0.1';
  const gossip = await listenSocketTransport({ bindHost: bind, port: 0, udp: true, log });
  const server = await listenSocketTransport({ bindHost: bind, port: options.serverPort ?? 0, udp: false, log });
  const httpPort = await freePort(options.httpPort);
  const dnsPort = await freePort(options.dnsPort);
  const files = options.configFiles ?? {};
  const defs = definitionsOf(files);
  const isServer = options.server ?? true;
  const expect = options.bootstrapExpect ?? 0;
  const config = makeAgentConfig({
    nodeName: options.nodeName,
    server: isServer,
    bootstrap: isServer && expect === 0,
    bootstrapExpect: expect,
    advertiseAddr: bind,
    clientAddr: '127.0.0.1',
    rpcId: server.address,
    ports: {
      http: httpPort,
      dns: dnsPort,
      serfLan: Number(gossip.address.split(':')[1]),
      serfWan: -1,
      server: Number(server.address.split(':')[1]),
    },
    enableScriptChecks: true,
    enableLocalScriptChecks: true,
    services: defs.services,
    checks: defs.checks,
  });
  const runtime = new NodeRuntime(
    server.address,
    mountsFor(config, { profile: 'lan' }),
    emptyDurableState,
    new Prng(Date.now() % 2 ** 31),
  );
  let fatal: Error | undefined;
  const driver = new NodeDriver({
    runtime,
    storage: memoryStorage(),
    gossip,
    server,
    log,
    onFatal: (error) => {
      fatal = error;
      log('error', `fatal: ${error.message}`);
    },
  });
  driver.start();
  const call = async (request: AgentRequest): Promise<AgentResponse> => {
    if (fatal) return { status: 500, body: null, error: `agent stopped: ${fatal.message}` };
    return (await driver.call({ machine: 'agent', body: request })) as AgentResponse;
  };
  const http = await startHttpApi({
    host: '127.0.0.1',
    port: httpPort,
    datacenter: config.datacenter,
    call,
    reload: () => call({ type: 'agent.reload', ...definitionsOf(files) }),
  });
  const dns = await startDnsServer({
    host: '127.0.0.1',
    port: dnsPort,
    domain: 'consul.',
    datacenter: config.datacenter,
    call,
  });
  await (isServer && expect === 0 ? waitForLeader(httpPort, logs) : waitForHttp(httpPort, logs));
  return {
    mode: 'inproc',
    nodeName: options.nodeName,
    gossipAddress: gossip.address,
    serverPort: Number(server.address.split(':')[1]),
    call,
    httpPort: http.port,
    dnsPort: dns.port,
    logs,
    stop: async () => {
      await http.close();
      await dns.close();
      await driver.stop();
      await gossip.close();
      await server.close();
    },
  };
}

async function startProcessAgent(options: TestAgentOptions): Promise<TestAgent> {
  const logs: string[] = [];
  const httpPort = await freePort(options.httpPort);
  const dnsPort = await freePort(options.dnsPort);
  const bind = options.bind ?? '127.0.0.1';
  const serfPort = await freePort(undefined, bind);
  // Servers also bind the WAN gossip port (8302 by default): several agents on one host need their own.
  const serfWanPort = await freePort(undefined, bind);
  const serverPort = options.serverPort ?? (await freePort(undefined, bind));
  const configDir = mkdtempSync(join(tmpdir(), 'conclave-test-'));
  for (const [name, text] of Object.entries(options.configFiles ?? {})) writeFileSync(join(configDir, name), text);
  const isServer = options.server ?? true;
  const expect = options.bootstrapExpect ?? 0;
  const args = [
    'agent',
    ...(isServer && expect === 0
      ? ['-dev', '-server', '-bootstrap']
      : isServer
        ? ['-server', '-bootstrap-expect', String(expect), '-data-dir', join(configDir, 'data')]
        : ['-data-dir', join(configDir, 'data')]),
    '-node',
    options.nodeName,
    '-bind',
    bind,
    '-client',
    '127.0.0.1',
    '-http-port',
    String(httpPort),
    '-dns-port',
    String(dnsPort),
    '-serf-lan-port',
    String(serfPort),
    '-serf-wan-port',
    String(serfWanPort),
    '-server-port',
    String(serverPort),
    '-config-dir',
    configDir,
  ];
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'test', 'consul-client', 'run-cli.ts'), ...args],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line) logs.push(line);
    if (logs.length > 5000) logs.splice(0, 1000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? -1));
  try {
    await (isServer && expect === 0
      ? waitForLeader(httpPort, logs, () => exited, options.token)
      : waitForHttp(httpPort, logs, () => exited));
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(configDir, { recursive: true, force: true });
    throw error;
  }
  return {
    mode: 'process',
    nodeName: options.nodeName,
    gossipAddress: `${bind}:${serfPort}`,
    serverPort,
    httpPort,
    dnsPort,
    logs,
    stop: async () => {
      if (exited === null) {
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(timer);
      }
      rmSync(configDir, { recursive: true, force: true });
    },
  };
}

/** Waits until the HTTP API answers (a client agent has no leader until it is joined). */
async function waitForHttp(
  httpPort: number,
  logs: string[],
  exitedCode: () => number | null = () => null,
): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const code = exitedCode();
    if (code !== null) throw new Error(`agent exited with ${code}:\n${logs.slice(-30).join('\n')}`);
    const ok = await fetch(`http://127.0.0.1:${httpPort}/v1/agent/self`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`agent HTTP did not answer within 20 s:\n${logs.slice(-30).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until `GET /v1/status/leader` names a leader (the agent bootstrapped and can write). */
async function waitForLeader(
  httpPort: number,
  logs: string[],
  exitedCode: () => number | null = () => null,
  token?: string,
): Promise<void> {
  const deadline = Date.now() + 20_000;
  const headers: Record<string, string> = token ? { 'X-Consul-Token': token } : {};
  for (;;) {
    const code = exitedCode();
    if (code !== null) throw new Error(`agent exited with ${code}:\n${logs.slice(-30).join('\n')}`);
    const leader = await fetch(`http://127.0.0.1:${httpPort}/v1/status/leader`)
      .then((r) => (r.ok ? r.json() : ''))
      .catch(() => '');
    if (typeof leader === 'string' && leader !== '') {
      // Anti-entropy registers the node itself shortly after; wait for the catalog to show it.
      const nodes = await fetch(`http://127.0.0.1:${httpPort}/v1/catalog/nodes`, { headers })
        .then((r) => (r.ok ? r.json() : []))
        .catch(() => []);
      if (Array.isArray(nodes) && nodes.length > 0) return;
    }
    if (Date.now() > deadline)
      throw new Error(`agent did not elect itself within 20 s:\n${logs.slice(-30).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
