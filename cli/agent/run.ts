/**
 * `conclave agent`: assembles one real node — config, data dir, sockets, the core (swim + raft +
 * agent from `mountsFor`), the driver, the HTTP and DNS servers — and runs it until a signal or
 * `conclave leave` stops it.
 *
 * Ids. Inside the core every node has one id, its gossip address `advertise:serf_lan` (127.0.0.104:8301):
 * SWIM's member id, Raft's server id and the agent's rpcId. The core's SWIM and Raft both take the
 * runtime's node id, so the id cannot be `ip:8300` for Raft and `ip:8301` for SWIM at once; the core is
 * told that the server port is the gossip port (so a member's `port` tag names its id), and the driver's
 * `route` sends Raft messages and agent RPCs to the real server port (8300) over TCP, while SWIM uses
 * UDP+TCP on 8301 and RPC replies go back to the caller's gossip port. This assumes every agent uses
 * the same server and gossip ports (Consul's defaults; the tests use one loopback IP per agent). Both
 * endpoints stamp frames with the gossip id, so `from` is always a core id.
 *
 * Signals (Consul's semantics): SIGHUP reloads config files; SIGINT leaves gracefully (peers see
 * `left`), a second SIGINT exits at once; SIGTERM exits promptly without leaving (peers see `failed`)
 * unless `leave_on_terminate` is true; SIGKILL is SIGKILL.
 */
import { admitFrame, checkEndpointCarries } from './admit.js';
import { gatedAgent } from '../../net/gate.js';
import { anonymousTokenId } from '../../core/store/acl.js';
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import { mountsFor } from '../../core/agent/mounts.js';
import type { AgentState } from '../../core/agent/state.js';
import { Prng } from '../../core/prng.js';
import { NodeRuntime, type Envelope } from '../../core/runtime.js';
import { emptyDurableState, type DurableState } from '../../core/types.js';
import {
  DiskCorruptError,
  memoryStorage,
  openDiskStorage,
  readOrCreateNodeId,
  type Storage,
} from '../../net/disk/storage.js';
import { encode } from '../../net/codec.js';
import { NodeDriver } from '../../net/driver.js';
import { Recorder } from '../../net/recorder.js';
import { splitAddress } from '../../net/transport/frame.js';
import { Keyring, keyringFileIn, KeyringError } from '../../net/transport/keyring.js';
import { listenSocketTransport, type PeerInfo, type TransportTls } from '../../net/transport/socket.js';
import type { Transport } from '../../net/transport/types.js';
import {
  buildSettings,
  ConfigError,
  gossipAddress,
  reloadDefinitions,
  wanJoinId,
  type AgentSettings,
} from './config.js';
import { flagUsage, parseFlags, type FlagSpec } from './flags.js';
import { KeyringOps } from './keyring-ops.js';
import {
  collectMembers,
  collectServers,
  InsidesRecorder,
  namer,
  type Insides,
  type RaftView,
  type SwimView,
} from './insides.js';
import { consulStyle, isMembershipEvent, makeLog, type AgentLog } from './log.js';
import type { TraceEvent } from '../../core/trace.js';

export const agentFlags: Record<string, FlagSpec> = {
  server: { kind: 'bool', usage: 'Run the agent as a server (a Raft voter).' },
  bootstrap: { kind: 'bool', usage: 'Bootstrap the cluster alone (single server).' },
  'bootstrap-expect': { kind: 'int', usage: 'Number of servers to wait for before bootstrapping.' },
  'data-dir': { kind: 'string', usage: 'Path to the data directory (required unless -dev).' },
  node: { kind: 'string', usage: 'Name of this node (default: hostname).' },
  bind: { kind: 'string', usage: 'Address to bind the cluster ports to (default 0.0.0.0).' },
  advertise: { kind: 'string', usage: 'Address to advertise to the cluster (default: -bind).' },
  client: { kind: 'string', usage: 'Address to bind HTTP and DNS to (default 127.0.0.1).' },
  'config-dir': { kind: 'list', usage: 'Directory of *.json config files; repeatable.' },
  'config-file': { kind: 'list', usage: 'A JSON config file; repeatable.' },
  datacenter: { kind: 'string', usage: 'Datacenter of the agent (default dc1).' },
  dev: { kind: 'bool', usage: 'Development mode: in-memory server that bootstraps itself.' },
  join: { kind: 'list', usage: 'Address of an agent to join at start; repeatable.' },
  'retry-join': { kind: 'list', usage: 'Address to join at start, retried until it answers; repeatable.' },
  'retry-interval': { kind: 'string', usage: 'Time between join attempts (default 30s).' },
  'retry-interval-wan': { kind: 'string', usage: 'Time between WAN join attempts (default 30s).' },
  'pid-file': { kind: 'string', usage: 'Path to store the agent PID.' },
  'log-level': { kind: 'string', usage: 'trace, debug, info, warn or err (default info).' },
  'http-port': { kind: 'int', usage: 'HTTP API port (default 8500).' },
  'dns-port': { kind: 'int', usage: 'DNS port (default 8600, -1 disables).' },
  'serf-lan-port': { kind: 'int', usage: 'Gossip port, UDP and TCP (default 8301).' },
  'serf-wan-port': { kind: 'int', usage: 'WAN gossip port among servers of every DC, UDP and TCP (default 8302).' },
  'join-wan': { kind: 'list', usage: 'WAN address of a server of another DC to join at start (servers); repeatable.' },
  'retry-join-wan': {
    kind: 'list',
    usage: 'WAN address of a server of another DC to join, retried until it answers (servers); repeatable.',
  },
  'server-port': { kind: 'int', usage: 'Server RPC and Raft port, TCP (default 8300).' },
  'enable-script-checks': {
    kind: 'bool',
    usage: 'Allow script checks registered over HTTP (file-defined ones run by default).',
  },
  'enable-local-script-checks': { kind: 'bool', usage: 'Allow script checks from config files (default true).' },
  record: { kind: 'string', usage: 'Flight recorder: write every input of the core to this file.' },
  encrypt: {
    kind: 'string',
    usage:
      'Gossip encryption key (base64, 16, 24 or 32 bytes; `conclave keygen`). Ignored once serf/local.keyring exists.',
  },
  ui: { kind: 'bool', usage: 'Serve the web UI at /ui/ on the HTTP port (`/` redirects there).' },
  'ui-dir': {
    kind: 'string',
    usage: 'Serve the web UI from this directory instead of the built-in bundle (implies -ui).',
  },
};

export async function runAgent(args: string[]): Promise<number> {
  const parsed = parseFlags(args, agentFlags);
  if (!parsed.ok) {
    if (parsed.error === 'help') {
      process.stdout.write(`Usage: conclave agent [options]\n\n${flagUsage(agentFlags)}\n`);
      return 0;
    }
    process.stderr.write(`${parsed.error}\n`);
    return 1;
  }
  if (parsed.rest.length > 0) {
    process.stderr.write(`unexpected argument: ${parsed.rest[0]}\n`);
    return 1;
  }
  let settings: AgentSettings;
  try {
    settings = buildSettings(parsed.values);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  return new AgentProcess(settings).run();
}

class AgentProcess {
  private readonly log: AgentLog;
  private driver: NodeDriver | null = null;
  private storage: Storage | null = null;
  private transports: Transport[] = [];
  private closers: (() => Promise<void>)[] = [];
  private recorder: Recorder | null = null;
  private exit: ((code: number) => void) | null = null;
  private shuttingDown = false;
  /** The gossip keyring (gossip encryption on), or null. */
  keyring: Keyring | null = null;

  constructor(private settings: AgentSettings) {
    this.log = makeLog(settings.logLevel);
  }

  async run(): Promise<number> {
    const { config } = this.settings;
    const exitCode = new Promise<number>((resolve) => (this.exit = resolve));
    try {
      await this.start();
    } catch (error) {
      const message =
        error instanceof DiskCorruptError || error instanceof ConfigError
          ? error.message
          : ((error as Error).message ?? String(error));
      process.stderr.write(`==> Error starting agent: ${message}\n`);
      await this.closeAll();
      return 1;
    }
    const code = await exitCode;
    await this.closeAll();
    return code;
  }

  private async start(): Promise<void> {
    const s = this.settings;
    if (s.bootstrapExpectRequested === 1)
      this.log.banner('WARNING: BootstrapExpect Mode is specified as 1; this is the same as Bootstrap mode.');
    if (s.config.bootstrap) this.log.banner('WARNING: Bootstrap mode enabled! Do not enable unless necessary');
    if (s.dev) this.log.banner('WARNING: Dev mode is enabled! Data is kept in memory and lost on exit.');
    this.log.banner('Starting Conclave agent...');
    for (const warning of s.warnings) this.log('warn', `agent: ${warning}`);

    // Data dir: node id, durable state (torn tail repaired, corruption refused).
    let durable: DurableState = emptyDurableState;
    let config = s.config;
    if (s.dev || !s.dataDir) this.storage = memoryStorage();
    else {
      const nodeId = readOrCreateNodeId(s.dataDir);
      config = { ...config, nodeId };
      const opened = await openDiskStorage(s.dataDir);
      this.storage = opened.storage;
      durable = opened.report.durable;
      if (opened.report.tornTail)
        this.log(
          'warn',
          `agent: repaired a torn write at the end of ${opened.report.tornTail.file} (offset ${opened.report.tornTail.offset}); it was never acknowledged`,
        );
    }

    // Gossip encryption: the keyring in the data dir wins over -encrypt (Consul's rule), so a restart
    // keeps the keys a rotation installed.
    const sec = s.security;
    const keyringFile = s.dev || !s.dataDir ? null : keyringFileIn(s.dataDir);
    try {
      const opened = Keyring.open(sec.encryptKey, {
        verifyIncoming: sec.encryptVerifyIncoming,
        verifyOutgoing: sec.encryptVerifyOutgoing,
        file: keyringFile,
      });
      this.keyring = opened.keyring;
      if (opened.fromFile && sec.encryptKey !== null)
        this.log('warn', `agent: loaded the keyring from ${keyringFile}; -encrypt / "encrypt" is ignored`);
    } catch (error) {
      if (error instanceof KeyringError) throw new ConfigError(error.message);
      throw error;
    }

    // Sockets: gossip (UDP+TCP) always, server RPC/Raft (TCP) on servers. Both stamp the gossip id,
    // both seal with the gossip key (RPC replies land on the caller's gossip port), and the server port
    // speaks TLS when configured. Identity binding (`admit`): a frame's claimed sender must be the peer.
    const gossipId = config.rpcId;
    const transportLog = (level: 'debug' | 'info' | 'warn' | 'error', text: string) => this.log(level, text);
    const tlsOptions = this.transportTls();
    const gossip = await listenSocketTransport({
      bindHost: s.bindAddr,
      port: s.ports.serfLan,
      advertise: gossipId,
      udp: true,
      log: transportLog,
      sealer: this.keyring,
      // The gossip port takes plain TCP (push-pull, RPC replies) and dials the server port with TLS.
      tls: tlsOptions ? { ...tlsOptions, verifyIncoming: false } : null,
      admit: (claimed, body, peer) => this.admit('gossip', claimed, body, peer),
    });
    this.transports.push(gossip);
    let server: Transport | undefined;
    if (config.server) {
      server = await listenSocketTransport({
        bindHost: s.bindAddr,
        port: s.ports.server,
        advertise: gossipId,
        udp: false,
        log: transportLog,
        sealer: this.keyring,
        tls: tlsOptions,
        admit: (claimed, body, peer) => this.admit('server', claimed, body, peer),
      });
      this.transports.push(server);
    }
    // The WAN pool (servers): its own UDP+TCP port, sealed with the same gossip key and speaking the
    // same TLS as the LAN gossip port — the WAN is no less exposed than the LAN (Consul's rule).
    let wan: Transport | undefined;
    if (config.server && config.wanPool !== false) {
      wan = await listenSocketTransport({
        bindHost: s.bindAddr,
        port: s.ports.serfWan,
        advertise: gossipId,
        udp: true,
        log: transportLog,
        sealer: this.keyring,
        tls: tlsOptions ? { ...tlsOptions, verifyIncoming: false } : null,
        admit: (claimed, body, peer) => this.admit('wan', claimed, body, peer),
      });
      this.transports.push(wan);
    }

    const seed = randomInt(0, 2 ** 48 - 1);
    const prng = new Prng(seed);
    const prngState = prng.save();
    const runtime = new NodeRuntime(gossipId, mountsFor(config), durable, prng);
    if (s.record) {
      this.recorder = new Recorder(s.record, {
        nodeId: gossipId,
        prng: prngState,
        assembly: { config },
        durable: Recorder.durableForHeader(durable),
        startedAtMs: Date.now(),
      });
    }
    const serverPort = s.ports.server;
    const serverAddr = `${config.advertiseAddr}:${s.ports.server}`;
    const coreLog = (level: 'debug' | 'info' | 'warn' | 'error', text: string, event?: TraceEvent) => {
      if (event !== undefined && isMembershipEvent(gossipId, event)) this.scheduleMemberEvents();
      this.observeInsides();
      if (event === undefined) return this.log(level, text); // the driver's own lines
      this.log(level, consulStyle(gossipId, serverAddr, event, s.ports.serfLan, s.ports.server));
    };
    this.driver = new NodeDriver({
      runtime,
      storage: this.storage,
      gossip,
      ...(server ? { server } : {}),
      ...(wan ? { wan } : {}),
      log: coreLog,
      ...(this.recorder ? { recorder: this.recorder } : {}),
      route: (envelope: Envelope, to: string) => routeFor(envelope, to, serverPort, s.ports.serfWan),
      onFatal: (error) => {
        process.stderr.write(`==> agent stopped: ${error.message}\n`);
        this.exit?.(1);
      },
    });

    if (process.env['CONCLAVE_PERF_LOG']) this.perfLog();

    // Keyring frames (sealed `_keyring` envelopes) are the process's, never the core's.
    const keyringOps = this.keyring
      ? new KeyringOps(
          this.keyring,
          gossip,
          gossipId,
          config.datacenter,
          () => this.liveMembers(),
          (level, text) => this.log(level, text),
        )
      : null;
    if (keyringOps) {
      for (const transport of this.transports) {
        const inner = transport.onReceive;
        transport.onReceive = (from, body, channel, info) =>
          KeyringOps.isKeyringFrame(body) ? keyringOps.onFrame(from, body, info) : inner?.(from, body, channel, info);
      }
    }

    const call = (request: AgentRequest) => this.call(request);
    const closers: (() => Promise<void>)[] = [];
    let ui: import('../../net/http/ui.js').UiAssets | undefined;
    if (s.ui) {
      const { defaultUiDir, loadUiAssets } = await import('../../net/http/ui.js');
      try {
        ui = loadUiAssets(s.ui.dir ?? defaultUiDir());
      } catch (error) {
        throw new ConfigError((error as Error).message);
      }
    }
    let httpText = '-1';
    let httpsText = '-1';
    const httpOptions = {
      call,
      datacenter: config.datacenter,
      nodeName: config.nodeName,
      ...(config.acl ? { acl: config.acl } : {}),
      reload: () => this.reload(),
      insides: () => this.insides(),
      ...(ui ? { ui } : {}),
      ...(keyringOps
        ? { keyring: (op: 'list' | 'install' | 'use' | 'remove', key: string | null) => keyringOps.run(op, key) }
        : {}),
    };
    if (s.ports.http > 0) {
      const { startHttpApi } = await import('../../net/http/index.js');
      const http = await startHttpApi({ host: s.httpAddr, port: s.ports.http, ...httpOptions });
      closers.push(() => http.close());
      httpText = String(http.port);
    }
    if (sec.httpsPort > 0 && sec.certFile && sec.keyFile) {
      const { startHttpApi } = await import('../../net/http/index.js');
      const https = await startHttpApi({
        host: s.httpsAddr,
        port: sec.httpsPort,
        ...httpOptions,
        tls: {
          cert: fs.readFileSync(sec.certFile),
          key: fs.readFileSync(sec.keyFile),
          ca: sec.caFile ? fs.readFileSync(sec.caFile) : null,
          verifyIncoming: sec.verifyIncomingHttps,
        },
      });
      closers.push(() => https.close());
      httpsText = String(https.port);
    }
    let dnsText = '-1';
    if (s.ports.dns > 0) {
      try {
        const { startDnsServer } = await import('../../net/dns/index.js');
        const dnsGate = gatedAgent(call, config.acl, { nodeName: config.nodeName }, config.datacenter);
        const dns = await startDnsServer({
          host: s.dnsAddr,
          port: s.ports.dns,
          domain: 'consul.',
          datacenter: config.datacenter,
          // DNS carries no token: it reads with the agent's default token (`acl_token`), as Consul does.
          call: (request) => dnsGate.call(request, config.acl?.defaultToken ?? anonymousTokenId),
        });
        closers.push(() => dns.close());
        dnsText = String(dns.port);
      } catch (error) {
        this.log('warn', `agent: DNS server not started: ${(error as Error).message}`);
      }
    }
    this.closers = closers;

    this.log.banner('Conclave agent running!');
    const pad = (label: string) => label.padStart(18);
    const lines = [
      `${pad('Node name')}: '${config.nodeName}'`,
      `${pad('Datacenter')}: '${config.datacenter}'`,
      `${pad('Server')}: ${config.server} (bootstrap: ${config.bootstrap})`,
      `${pad('Client Addr')}: ${config.clientAddr} (HTTP: ${httpText}, HTTPS: ${httpsText}, DNS: ${dnsText})`,
      `${pad('Cluster Addr')}: ${config.advertiseAddr} (LAN: ${s.ports.serfLan}, WAN: ${s.ports.serfWan})`,
      `${pad('Gossip encrypt')}: ${this.keyring !== null}, RPC-TLS: ${sec.verifyOutgoing}, TLS-Incoming: ${sec.verifyIncomingRpc}`,
    ];
    // The pid file is in place before the banner says the agent runs (a supervisor or test reading it on
    // that line finds it), written whole: a temp file renamed over it, so no reader sees it half written.
    if (s.pidFile) {
      const temp = `${s.pidFile}.${process.pid}.tmp`;
      fs.writeFileSync(temp, `${process.pid}\n`);
      fs.renameSync(temp, s.pidFile);
    }
    process.stdout.write(lines.join('\n') + '\n\n');
    this.log.banner('Log data will now stream in as it occurs:\n');

    this.installSignals();
    this.driver.start();
    this.scheduleMemberEvents();
  }

  private readonly insidesRecorder = new InsidesRecorder();

  private raftAndSwim(): { raft: RaftView | null; swim: SwimView | null } {
    const runtime = this.driver?.runtime;
    if (!runtime) return { raft: null, swim: null };
    return {
      raft: runtime.hasMachine('raft') ? runtime.stateOf<RaftView>('raft') : null,
      swim: runtime.hasMachine('swim') ? runtime.stateOf<SwimView>('swim') : null,
    };
  }

  /** Records leader changes and member transitions (called on every core log line: cheap comparisons). */
  private observeInsides(): void {
    const { raft, swim } = this.raftAndSwim();
    this.insidesRecorder.observe(Date.now(), raft, swim, namer(swim));
  }

  /** `GET /v1/agent/debug/insides`: this agent's view of Raft and SWIM (cli/agent/insides.ts). */
  private insides(): Insides {
    this.observeInsides();
    const { raft, swim } = this.raftAndSwim();
    const nameOf = namer(swim);
    const selfId = this.settings.config.rpcId;
    return {
      node: this.settings.config.nodeName,
      server: raft !== null,
      clock: 'wall',
      nowMs: Date.now(),
      leader: raft?.leader ? nameOf(raft.leader) : null,
      term: raft?.term ?? null,
      servers: raft ? collectServers(selfId, raft, nameOf) : [],
      members: collectMembers(swim),
      events: [...this.insidesRecorder.events],
    };
  }

  /** Alive members as (gossip id, name), for keyring operations. */
  private async liveMembers(): Promise<{ id: string; name: string }[]> {
    const response = await this.call({ type: 'agent.members' });
    if (response.status !== 200 || !Array.isArray(response.body)) return [];
    return (response.body as { Name: string; Addr: string; Port: number; Status: number }[])
      .filter((m) => m.Status === 1)
      .map((m) => ({ id: `${m.Addr}:${m.Port}`, name: m.Name }));
  }

  /** TLS for the server RPC port, from ca_file / cert_file / key_file; null without a CA. */
  private transportTls(): TransportTls | null {
    const sec = this.settings.security;
    if (sec.caFile === null && sec.certFile === null) return null;
    const read = (file: string, key: string) => {
      try {
        return fs.readFileSync(file);
      } catch (error) {
        throw new ConfigError(`${key}: ${(error as Error).message}`);
      }
    };
    return {
      ca: sec.caFile ? read(sec.caFile, 'ca_file') : Buffer.alloc(0),
      cert: sec.certFile ? read(sec.certFile, 'cert_file') : null,
      key: sec.keyFile ? read(sec.keyFile, 'key_file') : null,
      verifyIncoming: sec.verifyIncomingRpc,
      verifyOutgoing: sec.verifyOutgoing,
      // verify_server_hostname: a server of our DC must present server.<our dc>.<domain>; one of another
      // DC (a ?dc= forward over the WAN) its own DC's name, as Consul checks server.<target dc>.<domain>.
      serverName: sec.verifyServerHostname
        ? (address: string) => `server.${this.datacenterAt(address)}.${sec.domain}`
        : null,
      outgoingPort: this.settings.ports.server,
    };
  }

  /**
   * The datacenter of the server at `address` (host:port of its server port): a WAN pool member on that
   * host names its DC; anything else is ours. Agents are told apart by host (every agent uses the same
   * ports, as the driver's route assumes).
   */
  private datacenterAt(address: string): string {
    const own = this.settings.config.datacenter;
    const runtime = this.driver?.runtime;
    if (!runtime?.hasMachine('wan')) return own;
    const host = address.slice(0, address.lastIndexOf(':'));
    const agent = runtime.stateOf<AgentState>('agent');
    for (const member of agent.wanMembers.values())
      if (member.id.slice(0, member.id.lastIndexOf(':')) === host) return member.tags['dc'] ?? own;
    return own;
  }

  /** Identity binding: admitFrame (admit.ts) decides from what this agent knows now. */
  private admit(
    endpoint: 'gossip' | 'server' | 'wan',
    claimed: string,
    body: unknown,
    peer: PeerInfo,
  ): boolean | string {
    const wrongPort = checkEndpointCarries(endpoint, body);
    if (wrongPort !== null) return wrongPort;
    const s = this.settings;
    const sec = s.security;
    const runtime = this.driver?.runtime;
    type Table = { members: { get(id: string): unknown } };
    const swim = runtime ? runtime.stateOf<Table>('swim') : null;
    const wanPool = runtime?.hasMachine('wan') ? runtime.stateOf<Table>('wan') : null;
    return admitFrame({
      endpoint,
      claimed,
      body,
      peer,
      keyed: this.keyring !== null,
      verifyIncomingRpc: sec.verifyIncomingRpc,
      checkSourceIp: s.bindAddr !== '0.0.0.0' && s.bindAddr === s.config.advertiseAddr,
      isMember: swim ? (id) => (swim.members.get(id) ?? wanPool?.members.get(id)) !== undefined : null,
      self: s.config.rpcId,
      serverName: sec.verifyServerHostname ? `server.${s.config.datacenter}.${sec.domain}` : null,
    });
  }

  private readonly memberStatus = new Map<string, number>();
  private memberEventsPending = false;

  /**
   * Serf's event lines ("serf: EventMemberJoin: a2 127.0.0.103"), from the member list: SWIM's own
   * traces name ids, not node names, so after a membership line the agent asks for the members and
   * logs what changed.
   */
  private scheduleMemberEvents(): void {
    if (this.memberEventsPending || !this.driver) return;
    this.memberEventsPending = true;
    setTimeout(() => {
      this.memberEventsPending = false;
      void this.call({ type: 'agent.members' }).then((response) => {
        if (response.status !== 200 || !Array.isArray(response.body)) return;
        for (const m of response.body as { Name: string; Addr: string; Status: number }[]) {
          const before = this.memberStatus.get(m.Name);
          if (before === m.Status) continue;
          this.memberStatus.set(m.Name, m.Status);
          const event =
            m.Status === 1
              ? before === undefined || before >= 3
                ? 'EventMemberJoin'
                : null
              : m.Status === 4
                ? 'EventMemberFailed'
                : m.Status === 3
                  ? 'EventMemberLeave'
                  : null;
          if (event) this.log('info', `serf: ${event}: ${m.Name} ${m.Addr}`);
        }
      });
    }, 5);
  }

  /** Every HTTP / DNS request: join addresses become gossip ids; a successful leave stops the agent. */
  /**
   * CONCLAVE_PERF_LOG=1: every 2 s one line with the driver's and the storage's counters over the last
   * interval (steps, sends, syncs, records per sync, mean sync time, event-loop utilisation), for
   * bench:cluster's diagnosis of where a write waits.
   */
  private perfLog(): void {
    let last = { steps: 0, sends: 0, flushes: 0, records: 0, syncMs: 0 };
    let elu = performance.eventLoopUtilization();
    if (this.driver) this.driver.stats.inputs = new Map();
    const timer = setInterval(() => {
      const d = this.driver?.stats;
      const st = this.storage?.stats;
      if (!d || !st) return;
      const now = {
        steps: d.steps,
        sends: d.sends,
        flushes: st.flushes,
        records: st.recordsWritten,
        syncMs: st.syncMs ?? 0,
      };
      const flushes = now.flushes - last.flushes;
      const e = performance.eventLoopUtilization(elu);
      elu = performance.eventLoopUtilization();
      this.log(
        'info',
        `perf: ${now.steps - last.steps} steps, ${now.sends - last.sends} sends, ${flushes} syncs, ` +
          `${flushes ? ((now.records - last.records) / flushes).toFixed(1) : 0} records/sync, ` +
          `${flushes ? ((now.syncMs - last.syncMs) / flushes).toFixed(2) : 0} ms/sync, held max ${d.heldMax}, ` +
          `ELU ${e.utilization.toFixed(2)}; inputs ${[...(d.inputs ?? [])].map(([k, n]) => `${k} ${n}`).join(', ')}`,
      );
      d.heldMax = 0;
      d.inputs?.clear();
      last = now;
    }, 2000);
    timer.unref();
  }

  private async call(request: AgentRequest): Promise<AgentResponse> {
    const driver = this.driver;
    if (!driver) return { status: 500, body: null, error: 'agent is starting' };
    // A full disk: writes are refused at once (they could not be made durable); reads go on.
    if (isWriteRequest(request)) {
      const refusal = this.diskRefusal(driver, request);
      if (refusal !== null) return { status: 500, body: null, error: refusal };
    }
    let body: AgentRequest = request;
    if (request.type === 'agent.join') {
      // memberlist joins by dialling the peer's gossip port over TCP; an address that refuses is
      // reported at once in Consul's words ("dial tcp 10.0.0.3:8301: getsockopt: connection refused")
      // instead of after the core's join timeout. Reachable ones go to the core.
      const { serfLan, serfWan } = this.settings.ports;
      // A WAN join names the server by its WAN address; the core knows it by its gossip id.
      const addresses = request.addresses.map((a) => (request.wan ? wanJoinId(a, serfLan) : gossipAddress(a, serfLan)));
      const dialed = request.wan ? addresses.map((a) => `${splitAddress(a).host}:${serfWan}`) : addresses;
      const dials = await Promise.all(dialed.map((a) => dialError(a)));
      const reachable = addresses.filter((_, i) => dials[i] === null);
      if (reachable.length === 0) {
        const error = dials.find((d) => d !== null) ?? 'no address to join';
        const pool = request.wan ? 'WAN' : 'LAN';
        this.log('info', `agent: (${pool}) joining: [${dialed.join(' ')}]`);
        this.log('info', `agent: (${pool}) joined: 0 Err: ${error}`);
        return { status: 500, body: null, error };
      }
      body = { ...request, addresses: reachable };
    }
    if (request.type === 'operator.raft.removePeer') {
      // Consul names a server by its RPC address (ip:8300); the core by its gossip id (ip:8301).
      const { serfLan, server } = this.settings.ports;
      body = {
        ...request,
        peer: request.peer.endsWith(`:${server}`)
          ? `${request.peer.slice(0, -String(server).length)}${serfLan}`
          : request.peer,
      };
    }
    const answer = driver.call({ machine: 'agent', body }) as Promise<AgentResponse>;
    let response: AgentResponse;
    if (isWriteRequest(request)) {
      // A write in flight when the disk fills up cannot finish until space returns: answer now.
      let unsubscribe = () => {};
      const full = new Promise<AgentResponse>((resolve) => {
        unsubscribe = driver.onNextDiskFull((reason) =>
          resolve({
            status: 500,
            body: null,
            error: `disk full: ${reason} (outcome unknown: the write applies if it is written once space returns)`,
          }),
        );
      });
      response = await Promise.race([answer, full]);
      unsubscribe();
    } else response = await answer;
    if (request.type === 'agent.leave' && response.status === 200) setTimeout(() => void this.shutdown(0, false), 50);
    return this.toConsulAddresses(request, response);
  }

  /**
   * Why a write must be refused for lack of disk space, or null. Two checks: the storage is full now
   * (a write failed with ENOSPC or was short; it retries until space returns), or the data dir's file
   * system has less free space than this write could need (twice its encoded size, for the log entry
   * and a later snapshot, plus a reserve). The second check refuses before the disk is actually full,
   * so no record gets stuck in the queue and everything else (reads, heartbeats) keeps flowing; the
   * first catches what the estimate misses (another process filling the disk).
   */
  /** The last statfs reading of the data dir, less the bytes admitted since (diskRefusal). */
  private freeSpace: { bytes: number; atMs: number } | null = null;

  private diskRefusal(driver: NodeDriver, request: AgentRequest): string | null {
    const full = driver.diskFull;
    if (full !== null) return `disk full: ${full} (the write was not made; retry when space returns)`;
    const dataDir = this.settings.dev ? null : this.settings.dataDir;
    if (!dataDir || !diskAdmission) return null;
    const neededBytes = 2 * requestBytes(request) + diskReserveBytes;
    // statfs costs a system call per write under load; a reading up to 100 ms old serves, less what was
    // admitted since, while it leaves a wide margin (near full, every write reads it afresh).
    const nowMs = performance.now();
    const cached = this.freeSpace;
    let freeBytes: number;
    if (cached && nowMs - cached.atMs < 100 && cached.bytes >= neededBytes + freeSpaceMarginBytes) {
      freeBytes = cached.bytes;
    } else {
      try {
        const st = fs.statfsSync(dataDir);
        freeBytes = Number(st.bavail) * Number(st.bsize);
      } catch {
        return null; // no statfs here: the storage's own ENOSPC handling still holds
      }
      this.freeSpace = { bytes: freeBytes, atMs: nowMs };
    }
    if (freeBytes >= neededBytes) {
      this.freeSpace!.bytes -= neededBytes - diskReserveBytes;
      return null;
    }
    return `disk full: ${freeBytes} bytes free in ${dataDir}, this write may need ${neededBytes} (the write was not made; retry when space returns)`;
  }

  /**
   * The core names servers by gossip id (ip:8301, see the header); Consul's API names them by their
   * RPC address (ip:8300): /v1/status/leader, /v1/status/peers, /v1/operator/raft/configuration, and
   * agent/self's Ports and leader_addr.
   */
  private toConsulAddresses(request: AgentRequest, response: AgentResponse): AgentResponse {
    if (response.status !== 200) return response;
    const { serfLan, server } = this.settings.ports;
    const rpc = (id: unknown) =>
      typeof id === 'string' && id.endsWith(`:${serfLan}`) ? `${id.slice(0, -String(serfLan).length)}${server}` : id;
    switch (request.type) {
      case 'status.leader':
        return { ...response, body: rpc(response.body) };
      case 'status.peers':
        return { ...response, body: Array.isArray(response.body) ? response.body.map(rpc) : response.body };
      case 'operator.raft.configuration':
      case 'operator.autopilot.health': {
        const config = response.body as { Servers?: Record<string, unknown>[] } | null;
        if (!config || !Array.isArray(config.Servers)) return response;
        return {
          ...response,
          body: {
            ...config,
            Servers: config.Servers.map((x) => ({ ...x, ID: rpc(x['ID']), Address: rpc(x['Address']) })),
          },
        };
      }
      case 'agent.self': {
        const self = response.body as {
          Config?: { Ports?: Record<string, unknown> };
          Stats?: { consul?: Record<string, unknown> };
        } | null;
        if (!self) return response;
        const config = self.Config
          ? { ...self.Config, ...(self.Config.Ports ? { Ports: { ...self.Config.Ports, Server: server } } : {}) }
          : self.Config;
        const consul = self.Stats?.consul
          ? { ...self.Stats.consul, leader_addr: rpc(self.Stats.consul['leader_addr']) }
          : undefined;
        return {
          ...response,
          body: {
            ...self,
            Config: config,
            ...(self.Stats ? { Stats: { ...self.Stats, ...(consul ? { consul } : {}) } } : {}),
          },
        };
      }
      default:
        return response;
    }
  }

  private async reload(): Promise<AgentResponse> {
    let defs;
    try {
      defs = reloadDefinitions(this.settings);
    } catch (error) {
      this.log('error', `agent: failed to reload configs: ${(error as Error).message}`);
      return { status: 500, body: null, error: (error as Error).message };
    }
    return this.call({ type: 'agent.reload', services: defs.services, checks: defs.checks });
  }

  private installSignals(): void {
    process.on('SIGHUP', () => {
      this.log.banner('Caught signal: hangup');
      this.log.banner('Reloading configuration...');
      void this.reload();
    });
    process.on('SIGINT', () => {
      this.log.banner('Caught signal: interrupt');
      if (this.shuttingDown) return this.hardExit(1);
      void this.shutdown(0, !this.settings.skipLeaveOnInterrupt);
    });
    process.on('SIGTERM', () => {
      this.log.banner('Caught signal: terminated');
      if (this.shuttingDown) return this.hardExit(1);
      void this.shutdown(0, this.settings.leaveOnTerminate);
    });
  }

  private hardExit(code: number): void {
    process.exit(code);
  }

  private async shutdown(code: number, leave: boolean): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    if (leave && this.driver) {
      this.log.banner('Gracefully shutting down agent...');
      const left = this.driver.call(
        { machine: 'agent', body: { type: 'agent.leave' } satisfies AgentRequest },
        5000,
        () => ({ status: 500, error: 'timeout' }),
      );
      const response = (await left) as AgentResponse;
      if (response.status !== 200)
        this.log('warn', `agent: graceful leave did not finish: ${response.error ?? response.status}`);
      // Give the leave intent a moment on the wire (it rides gossip datagrams).
      await new Promise((r) => setTimeout(r, 300));
    }
    this.exit?.(code);
  }

  private async closeAll(): Promise<void> {
    for (const close of this.closers) await close().catch(() => undefined);
    await this.driver?.stop();
    for (const t of this.transports) await t.close().catch(() => undefined);
    await this.storage?.close().catch(() => undefined);
    this.recorder?.close();
    if (this.settings.pidFile) fs.rmSync(this.settings.pidFile, { force: true });
  }
}

/**
 * Free space kept back from writes (bytes): headroom for Raft's own records (votes, terms, no-ops,
 * snapshots) once client writes are refused. CONCLAVE_DISK_RESERVE_BYTES overrides it;
 * CONCLAVE_DISK_ADMISSION=off turns the free-space check off (a test reaching a real ENOSPC).
 */
/** Free space above which a cached statfs reading may admit a write (diskRefusal). */
const freeSpaceMarginBytes = 64 * 1024 * 1024;

// Read once: process.env is a lookup into the C++ environment on every access, and diskRefusal runs
// on every write (it was 0.6% of a leader's time at put c64, issue 15).
const diskReserveBytes = ((): number => {
  const fromEnv = Number(process.env['CONCLAVE_DISK_RESERVE_BYTES']);
  return Number.isSafeInteger(fromEnv) && fromEnv >= 0 ? fromEnv : 256 * 1024;
})();
const diskAdmission = process.env['CONCLAVE_DISK_ADMISSION'] !== 'off';

/**
 * An upper bound on a write request's encoded size, for the free-space admission. A request of flat
 * fields (every KV write: the hot path) is sized field by field without encoding it — a string at most 3
 * bytes per UTF-16 unit, bytes as they are, a number 9, plus 8 per field for its name's and its own
 * header (names are short identifiers); one with a nested field is encoded. Encoding each KV write once
 * more only to measure it was 2% of a leader's time at put c64 (issue 15).
 */
function requestBytes(request: AgentRequest): number {
  let bytes = 8;
  for (const [name, value] of Object.entries(request)) {
    bytes += 8 + 3 * name.length;
    if (typeof value === 'string') bytes += 3 * value.length;
    else if (value instanceof Uint8Array) bytes += value.length;
    else if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined)
      bytes += 9;
    else return encode(request).length;
  }
  return bytes;
}

/** Requests that only read (or only touch gossip): everything else writes to the disk through a persist. */
const nonWriteRequests = new Set<string>([
  'agent.self',
  'agent.members',
  'agent.join',
  'agent.leave',
  'agent.forceLeave',
  'agent.services',
  'agent.service',
  'agent.checks',
  'agent.metrics',
  'catalog.datacenters',
  'status.leader',
  'status.peers',
  'operator.raft.configuration',
  'coordinate.datacenters',
]);

/** Whether a request needs the disk to take a write (refused with `disk full` while it cannot). */
export function isWriteRequest(request: AgentRequest): boolean {
  if ((request as { read?: unknown }).read !== undefined) return false;
  return !nonWriteRequests.has(request.type);
}

/** Null when a TCP connection to `address` opens within 2 s, else Go's dial error text. */
function dialError(address: string): Promise<string | null> {
  const { host, port } = splitAddress(address);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (error: string | null) => {
      socket.destroy();
      resolve(error);
    };
    socket.setTimeout(2000, () => done(`dial tcp ${address}: i/o timeout`));
    socket.on('connect', () => done(null));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      const why =
        e.code === 'ECONNREFUSED'
          ? 'connection refused'
          : e.code === 'EHOSTUNREACH'
            ? 'no route to host'
            : e.code === 'ENETUNREACH'
              ? 'network is unreachable'
              : e.message;
      done(`dial tcp ${address}: getsockopt: ${why}`);
    });
  });
}

/**
 * Where a core message goes (see the header): SWIM on the gossip endpoint as addressed; Raft and agent
 * RPC requests to the destination's server port; agent RPC replies back to the caller's gossip port.
 */
export function routeFor(
  envelope: Envelope,
  to: string,
  serverPort: number,
  serfWanPort = 8302,
): { endpoint: 'gossip' | 'server' | 'wan'; address: string } {
  if (envelope.m === 'swim') return { endpoint: 'gossip', address: to };
  if (envelope.m === 'wan') return { endpoint: 'wan', address: `${splitAddress(to).host}:${serfWanPort}` };
  const isReply = envelope.m === 'agent' && (envelope.p as { t?: unknown } | null)?.t === 'rpcReply';
  if (isReply) return { endpoint: 'server', address: to };
  return { endpoint: 'server', address: `${splitAddress(to).host}:${serverPort}` };
}
