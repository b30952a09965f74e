/**
 * `conclave agent` input handling: Go flag syntax (`-f v`, `-f=v`, `--f`, bare booleans, repeatable
 * lists), refused flags (-ui) with a clear message, gossip and TLS keys (a bad key or a missing file named), config files and dirs (snake_case,
 * lexical order, errors naming file and field), defaults and the script-check setting; and, as a real
 * process, exit status 1 naming the flag or the file and field.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSettings, ConfigError } from '../../cli/agent/config.js';
import { parseFlags } from '../../cli/agent/flags.js';
import { openDiskStorage } from '../disk/storage.js';
import { consulStyle, isMembershipEvent } from '../../cli/agent/log.js';
import { agentFlags, routeFor } from '../../cli/agent/run.js';
import { conclave } from './agent-process.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-config-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function settingsFor(args: string[]) {
  const parsed = parseFlags(args, agentFlags);
  if (!parsed.ok) throw new Error(parsed.error);
  return buildSettings(parsed.values);
}

function dirWith(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(root, 'd-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

describe('agent flags', () => {
  it('accepts every Go flag spelling', () => {
    const parsed = parseFlags(
      [
        '-server',
        '--bootstrap-expect=3',
        '-node',
        'a1',
        '--bind',
        '127.0.0.5',
        '-join=127.0.0.6',
        '-join',
        '127.0.0.7',
        '-dev=false',
      ],
      agentFlags,
    );
    expect(parsed).toEqual({
      ok: true,
      rest: [],
      values: {
        server: true,
        'bootstrap-expect': 3,
        node: 'a1',
        bind: '127.0.0.5',
        join: ['127.0.0.6', '127.0.0.7'],
        dev: false,
      },
    });
  });

  it('names unknown, malformed and refused flags', () => {
    expect(parseFlags(['-nope'], agentFlags)).toEqual({ ok: false, error: 'flag provided but not defined: -nope' });
    expect(parseFlags(['-bootstrap-expect', 'x'], agentFlags)).toMatchObject({
      ok: false,
      error: expect.stringContaining('-bootstrap-expect'),
    });
    expect(parseFlags(['-node'], agentFlags)).toEqual({ ok: false, error: 'flag needs an argument: -node' });
    expect(parseFlags(['-encrypt', 'abc'], agentFlags)).toMatchObject({ ok: true });
    expect(parseFlags(['-ui=maybe'], agentFlags)).toEqual({
      ok: false,
      error: 'invalid boolean value "maybe" for -ui',
    });
  });
});

describe('agent config', () => {
  it('builds the seed a1 config: bootstrap-expect 1 means bootstrap, ids on the gossip port', () => {
    const s = settingsFor([
      '-server',
      '-bootstrap-expect',
      '1',
      '-data-dir',
      '/tmp/x',
      '-node=a1',
      '-bind=127.0.0.104',
      '-client',
      '127.0.0.104',
    ]);
    expect(s.config).toMatchObject({
      nodeName: 'a1',
      server: true,
      bootstrap: true,
      datacenter: 'dc1',
      advertiseAddr: '127.0.0.104',
      clientAddr: '127.0.0.104',
      rpcId: '127.0.0.104:8301',
    });
    expect(s.ports).toEqual({ http: 8500, dns: 8600, serfLan: 8301, serfWan: 8302, server: 8300 });
    expect(s.bootstrapExpectRequested).toBe(1);
    expect(s.config.enableLocalScriptChecks).toBe(true);
    expect(s.config.enableScriptChecks).toBe(false);
  });

  it('reads config dirs in lexical order, with the seed files as service and check definitions', () => {
    const dir = dirWith({
      'ping.json': '{"check": {"name": "ping","script": "ping -c1 soft.dog >/dev/null", "interval": "30s"}}',
      'web.json':
        '{"service": {"name": "web", "tags": ["rails"], "port": 80,"check": {"script": "curl localhost >/dev/null 2>&1", "interval": "10s"}}}',
      'a.json': '{"datacenter": "east", "ports": {"http": 18500}, "retry_join": ["127.0.0.9"]}',
      'notes.txt': 'ignored',
    });
    const s = settingsFor(['-data-dir', '/tmp/x', '-bind', '127.0.0.1', '-config-dir', dir, '-http-port', '18600']);
    expect(s.config.datacenter).toBe('east');
    expect(s.ports.http).toBe(18600); // flags win over files
    expect(s.config.startJoin).toEqual(['127.0.0.9:8301']);
    expect(s.config.checks).toEqual([{ name: 'ping', script: 'ping -c1 soft.dog >/dev/null', intervalMs: 30_000 }]);
    expect(s.config.services).toEqual([
      {
        name: 'web',
        tags: ['rails'],
        port: 80,
        checks: [{ script: 'curl localhost >/dev/null 2>&1', intervalMs: 10_000 }],
      },
    ]);
  });

  it('names the file and the field of a bad config', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'x.json': '{"service": {"name": "web", "port": "80"}}' }, /x\.json: service\.port: must be an integer/],
      [
        { 'y.json': '{"check": {"name": "c", "script": "true", "interval": "often"}}' },
        /y\.json: check\.interval: 'often' is not a duration/,
      ],
      [{ 'z.json': '{"bogus_key": 1}' }, /z\.json: bogus_key: unknown configuration key/],
      [{ 'e.json': '{"encrypt": "abc"}' }, /encrypt: key must be base64-encoded/],
      [
        { 'e.json': '{"encrypt": "AAAAAAAAAAAAAAAAAAAAAA=="}', 'f.json': '{"encrypt": "AAAA"}' },
        /key size must be 16, 24 or 32/,
      ],
      [{ 't.json': '{"cert_file": "/x.pem"}' }, /cert_file and key_file: give both or neither/],
      [{ 't.json': '{"verify_outgoing": true}' }, /ca_file: verify_incoming and verify_outgoing need a CA/],
      [{ 't.json': '{"ca_file": "/nonexistent/ca.pem"}' }, /ca_file: \/nonexistent\/ca\.pem: no such file/],
      [{ 't.json': '{"verify_incoming": "yes"}' }, /t\.json: verify_incoming: must be true or false/],
      [{ 'j.json': '{"datacenter": ' }, /Error decoding '.*j\.json'/],
    ];
    for (const [files, pattern] of cases) {
      const dir = dirWith(files);
      expect(() => settingsFor(['-data-dir', '/tmp/x', '-bind', '127.0.0.1', '-config-dir', dir])).toThrow(pattern);
    }
    expect(() => settingsFor(['-bind', '127.0.0.1'])).toThrow(ConfigError);
    expect(() => settingsFor(['-data-dir', '/tmp/x', '-bootstrap-expect', '2'])).toThrow(/-server/);
  });

  it('ACL settings: a disabled block is accepted and ignored; the block and the legacy keys turn ACLs on', () => {
    const args = (dir: string) => ['-data-dir', '/tmp/x', '-bind', '127.0.0.1', '-config-dir', dir];
    const off = dirWith({
      'acl.json': '{"primary_datacenter": "dc1", "acl": {"enabled": false, "default_policy": "deny"}}',
      'empty.json': '{"acl": {}}',
    });
    expect(settingsFor(args(off)).config.datacenter).toBe('dc1');
    expect(settingsFor(args(off)).config.acl).toBeUndefined();
    const on = dirWith({
      'acl.json': '{"acl": {"enabled": true, "default_policy": "deny", "tokens": {"master": "root"}}}',
    });
    expect(settingsFor(args(on)).config.acl).toEqual({ enabled: true, defaultPolicy: 'deny', masterToken: 'root' });
    const legacy = dirWith({ 'acl.json': '{"acl_datacenter": "dc1", "acl_master_token": "m1"}' });
    expect(settingsFor(args(legacy)).config.acl).toEqual({
      enabled: true,
      defaultPolicy: 'allow',
      masterToken: 'm1',
      datacenter: 'dc1',
    });
    // ACLs across DCs: the authoritative DC, acl_down_policy and acl_ttl (legacy keys and the block).
    const remote = dirWith({
      'acl.json': '{"acl_datacenter": "dc1", "acl_down_policy": "deny", "acl_ttl": "45s", "datacenter": "dc2"}',
    });
    expect(settingsFor(args(remote)).config.acl).toEqual({
      enabled: true,
      defaultPolicy: 'allow',
      datacenter: 'dc1',
      downPolicy: 'deny',
      ttlMs: 45_000,
    });
    const block = dirWith({
      'acl.json':
        '{"primary_datacenter": "dc1", "acl": {"enabled": true, "down_policy": "async-cache", "token_ttl": "5s"}}',
    });
    expect(settingsFor(args(block)).config.acl).toEqual({
      enabled: true,
      defaultPolicy: 'allow',
      datacenter: 'dc1',
      downPolicy: 'extend-cache',
      ttlMs: 5000,
    });
    const down = dirWith({ 'acl.json': '{"acl_datacenter": "dc1", "acl_down_policy": "maybe"}' });
    expect(() => settingsFor(args(down))).toThrow(/acl\.json: acl_down_policy: must be "allow", "deny"/);
    const policy = dirWith({ 'acl.json': '{"acl_datacenter": "dc1", "acl_default_policy": "maybe"}' });
    expect(() => settingsFor(args(policy))).toThrow(/acl\.json: acl_default_policy: must be "allow" or "deny"/);
    const bad = dirWith({ 'acl.json': '{"acl": {"enabled": "no"}}' });
    expect(() => settingsFor(['-data-dir', '/tmp/x', '-bind', '127.0.0.1', '-config-dir', bad])).toThrow(
      /acl\.json: acl\.enabled: must be true or false/,
    );
  });

  it('exits 1 naming the flag or the file and field, as a real process', async () => {
    const bad = await conclave(['agent', '-bogus']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('flag provided but not defined: -bogus');
    const enc = await conclave(['agent', '-dev', '-encrypt', 'abc']);
    expect(enc.code).toBe(1);
    expect(enc.stderr).toContain('-encrypt: key must be base64-encoded');
    const dir = dirWith({ 'web.json': '{"service": {"name": "web", "port": "80"}}' });
    const file = await conclave([
      'agent',
      '-data-dir',
      path.join(root, 'data'),
      '-bind',
      '127.0.0.1',
      '-config-dir',
      dir,
    ]);
    expect(file.code).toBe(1);
    expect(file.stderr).toContain(`${path.join(dir, 'web.json')}: service.port: must be an integer`);
  });

  it('refuses to start on a data dir corrupted before its tail, naming the file and offset', async () => {
    const dataDir = path.join(root, 'corrupt');
    const { storage } = await openDiskStorage(dataDir);
    for (let i = 0; i < 3; i++) storage.write([{ op: 'put', key: `raft/hard`, value: { term: i } }]);
    await storage.flush();
    await storage.close();
    const wal = path.join(dataDir, 'storage', 'wal-0000000001.log');
    const bytes = fs.readFileSync(wal);
    bytes[12]! ^= 0xff; // inside the first record's payload
    fs.writeFileSync(wal, bytes);
    const run = await conclave(['agent', '-data-dir', dataDir, '-bind', '127.0.0.1', '-node', 'x']);
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).toContain(`corrupt data in ${wal} at offset 0: CRC-32 mismatch`);
  });
});

describe('agent id routing and log vocabulary', () => {
  it('routes SWIM to the gossip port, Raft and RPC requests to the server port, RPC replies back to gossip', () => {
    expect(routeFor({ m: 'swim', p: {} }, '127.0.0.3:8301', 8300)).toEqual({
      endpoint: 'gossip',
      address: '127.0.0.3:8301',
    });
    expect(routeFor({ m: 'raft', p: {} }, '127.0.0.3:8301', 8300)).toEqual({
      endpoint: 'server',
      address: '127.0.0.3:8300',
    });
    expect(routeFor({ m: 'agent', p: { t: 'rpc' } }, '127.0.0.3:8301', 8300)).toEqual({
      endpoint: 'server',
      address: '127.0.0.3:8300',
    });
    expect(routeFor({ m: 'agent', p: { t: 'rpcReply' } }, '127.0.0.3:8301', 8300)).toEqual({
      endpoint: 'server',
      address: '127.0.0.3:8301',
    });
  });

  it("renders the core's typed trace events as Consul's log lines", () => {
    const self = '127.0.0.104:8301';
    const addr = '127.0.0.104:8300';
    expect(consulStyle(self, addr, { type: 'raft.becameLeader', node: self, term: 2 })).toBe(
      'raft: Node at 127.0.0.104:8300 [Leader] entering Leader state (term 2)',
    );
    expect(consulStyle(self, addr, { type: 'raft.becameCandidate', node: self, term: 3, transfer: true })).toBe(
      'raft: Node at 127.0.0.104:8300 [Candidate] entering Candidate state (term 3)',
    );
    // Another node's event is its own sentence (a test harness may log several nodes).
    expect(consulStyle(self, addr, { type: 'raft.becameLeader', node: '127.0.0.105:8301', term: 2 })).toBe(
      '127.0.0.105:8301 became leader at term 2',
    );
    const failed = {
      type: 'swim.marked',
      node: self,
      about: '127.0.0.103:8301',
      status: 'failed',
      incarnation: 0,
    } as const;
    expect(consulStyle(self, addr, failed)).toBe('memberlist: marked 127.0.0.103:8301 failed at incarnation 0');
    expect(isMembershipEvent(self, failed)).toBe(true);
    expect(isMembershipEvent(self, { type: 'swim.refuted', node: self, incarnation: 1 })).toBe(false);
    expect(consulStyle(self, addr, { type: 'raft.promoted', node: self, id: 'x', index: 4 })).toBe(
      'raft: promoted x to voter at index 4',
    );
    const server = { type: 'consul.server', change: 'adding', name: 'a1', addr: self, dc: 'dc1' } as const;
    expect(consulStyle(self, addr, { ...server, lan: false })).toBe(
      'consul: adding server a1 (Addr: 127.0.0.104:8300) (DC: dc1)',
    );
    expect(consulStyle(self, addr, { ...server, lan: true })).toBe(
      'consul: adding LAN server a1 (Addr: 127.0.0.104:8300) (DC: dc1)',
    );
    expect(consulStyle(self, addr, { type: 'agent.synced', what: 'service', id: 'web' })).toBe(
      "agent: Synced service 'web'",
    );
  });
});

describe('Consul config keys (issue 13 §3, §5)', () => {
  const build = (files: Record<string, string>) =>
    settingsFor(['-data-dir', '/tmp/x', '-bind', '127.0.0.1', '-config-dir', dirWith(files)]);

  it('accepts keys Consul accepts: applied where supported, else one warning naming the key', () => {
    const s = build({
      'a.json': JSON.stringify({
        addresses: { http: '127.0.0.9', dns: '127.0.0.8', grpc: '127.0.0.1' },
        ports: { grpc: 8502, grpc_tls: 8503, https: -1 },
        connect: { enabled: true },
        segments: [],
        peering: { enabled: false },
        telemetry: { prometheus_retention_time: '24h' },
        ui_config: { enabled: true, metrics_provider: 'prometheus' },
        performance: { raft_multiplier: 3, rpc_hold_timeout: '9s', leave_drain_time: '5s' },
      }),
      'b.json': JSON.stringify({ connect: { enabled: false } }),
    });
    expect(s.httpAddr).toBe('127.0.0.9');
    expect(s.dnsAddr).toBe('127.0.0.8');
    expect(s.config.raftMultiplier).toBe(3);
    expect(s.config.timing.rpcHoldTimeoutMs).toBe(9000);
    const named = (key: string) => s.warnings.filter((w) => w.includes(`: ${key}:`) || w.includes(`: ${key}.`));
    for (const key of ['connect', 'segments', 'peering', 'telemetry']) expect(named(key)).toHaveLength(1);
    // ui_config.enabled applies (the web UI); its other fields are warned about, each by name.
    expect(s.ui).toEqual({ dir: null });
    expect(s.warnings.filter((w) => w.includes('ui_config.metrics_provider:'))).toHaveLength(1);
    expect(s.warnings.some((w) => w.includes('ports.grpc:'))).toBe(true);
    expect(s.warnings.some((w) => w.includes('ports.grpc_tls:'))).toBe(true);
    expect(s.warnings.some((w) => w.includes('addresses.grpc:'))).toBe(true);
    expect(s.warnings.some((w) => w.includes('performance.leave_drain_time:'))).toBe(true);
    expect(s.warnings.some((w) => w.includes('ports.https'))).toBe(false); // -1: disabled, nothing to warn about
    // Without the block: the profile's own timing, Consul's 7 s hold.
    const plain = build({ 'c.json': '{}' });
    expect(plain.config.raftMultiplier).toBeUndefined();
    expect(plain.config.timing.rpcHoldTimeoutMs).toBe(7000);
  });

  it('turns the web UI on with -ui, "ui": true, ui_config.enabled or a ui_dir; a wrong type names the field', () => {
    expect(build({ 'a.json': '{}' }).ui).toBeNull();
    expect(build({ 'a.json': '{"ui": true}' }).ui).toEqual({ dir: null });
    expect(build({ 'a.json': '{"ui_dir": "/srv/ui"}' }).ui).toEqual({ dir: '/srv/ui' });
    expect(build({ 'a.json': '{"ui_config": {"enabled": true, "dir": "/srv/ui2"}}' }).ui).toEqual({ dir: '/srv/ui2' });
    expect(build({ 'a.json': '{"ui": true, "ui_config": {"enabled": false}}' }).ui).toEqual({ dir: null });
    expect(settingsFor(['-dev', '-ui']).ui).toEqual({ dir: null });
    expect(settingsFor(['-dev', '-ui-dir', '/srv/x']).ui).toEqual({ dir: '/srv/x' });
    expect(settingsFor(['-dev', '-ui=false', '-ui-dir', '/srv/x']).ui).toBeNull();
    expect(() => build({ 'u.json': '{"ui": "yes"}' })).toThrow(/u\.json: ui: must be true or false/);
    expect(() => build({ 'u.json': '{"ui_config": {"enabled": 1}}' })).toThrow(
      /u\.json: ui_config\.enabled: must be true or false/,
    );
  });

  it('a typo that matches no Consul key still fails, naming the file and the field', () => {
    expect(() => build({ 't.json': '{"conect": {}}' })).toThrow(/t\.json: conect: unknown configuration key/);
    expect(() => build({ 'p.json': '{"ports": {"grcp": 1}}' })).toThrow(/p\.json: ports\.grcp: unknown port/);
    expect(() => build({ 'q.json': '{"performance": {"raft_multipler": 1}}' })).toThrow(
      /q\.json: performance\.raft_multipler: unknown performance setting/,
    );
    expect(() => build({ 'r.json': '{"performance": {"raft_multiplier": 11}}' })).toThrow(
      /performance\.raft_multiplier: cannot be 11; must be between 1 and 10/,
    );
    expect(() => build({ 's.json': '{"addresses": {"htp": "127.0.0.1"}}' })).toThrow(/addresses\.htp: unknown address/);
  });

  it('raft_multiplier scales Raft timing as Consul does (core/raft/config.ts raftTimingFor)', async () => {
    const { raftConfigFor } = await import('../../core/agent/mounts.js');
    const s = build({ 'm.json': '{"performance": {"raft_multiplier": 2}}' });
    const raft = raftConfigFor(s.config, { profile: 'lan' });
    expect(raft).toMatchObject({
      electionTimeoutMsMin: 2000,
      electionTimeoutMsMax: 4000,
      heartbeatIntervalMs: 200,
      checkQuorumWindowMs: 1000,
    });
  });

  it('as a real process: a typo exits 1 naming the file and the key', async () => {
    const typo = await conclave([
      'agent',
      '-data-dir',
      path.join(root, 'data2'),
      '-bind',
      '127.0.0.1',
      '-config-dir',
      dirWith({ 'x.json': '{"segmentz": []}' }),
    ]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('x.json: segmentz: unknown configuration key');
  });
});
