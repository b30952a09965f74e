/**
 * The agent's configuration: Consul's JSON config files (snake_case keys, `-config-file` and every
 * `*.json` of each `-config-dir` in lexical order) overlaid by flags, into an `AgentConfig` plus the
 * driver-level settings the core never sees (data dir, bind address, pid file, log level, record file).
 *
 * Errors name the file and the field ("/etc/conclave.d/web.json: service.port: must be an integer").
 *
 * Script checks: file-defined script checks run by default (`enable_local_script_checks` defaults to
 * true: whoever can write the config dir can already run commands as the agent, which is Consul's own
 * argument for that setting), so the seed's `web.json` and `ping.json` work as written. Script checks
 * registered over HTTP need `enable_script_checks` (flag `-enable-script-checks`), off by default as in
 * Consul ≥ 0.9. Set `"enable_local_script_checks": false` to refuse file-defined ones too.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  agentTimingLan,
  makeAgentConfig,
  type AgentConfig,
  type CheckDefinition,
  type ServiceDefinition,
} from '../../core/agent/api.js';
import { parseGoDurationMs } from '../../net/http/parse.js';
import { decodeKey, KeyringError } from '../../net/transport/keyring.js';
import type { FlagValues } from './flags.js';

/** What the process needs besides the core's AgentConfig. */
export interface AgentSettings {
  readonly config: AgentConfig;
  readonly dev: boolean;
  readonly dataDir: string | null;
  readonly bindAddr: string;
  /** Real ports, as bound (the core sees ids built on the gossip port; see assembly.ts). */
  readonly ports: AgentConfig['ports'];
  readonly pidFile: string | null;
  readonly logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'err';
  readonly record: string | null;
  readonly configFiles: readonly string[];
  readonly configDirs: readonly string[];
  readonly leaveOnTerminate: boolean;
  readonly skipLeaveOnInterrupt: boolean;
  /** `-bootstrap-expect` as given (1 is turned into bootstrap mode, with Consul's warning). */
  readonly bootstrapExpectRequested: number;
  readonly security: SecuritySettings;
  /** `addresses.http` / `.https` / `.dns`: where HTTP, HTTPS and DNS listen, when not on `-client`. */
  readonly httpAddr: string;
  readonly httpsAddr: string;
  readonly dnsAddr: string;
  /** One line per Consul key that the files set and we accept without applying; logged at start. */
  readonly warnings: readonly string[];
  /**
   * The web UI (`-ui`, `"ui": true` or `"ui_config": {"enabled": true}`): served at /ui/ on the HTTP
   * port from `dir` (`-ui-dir` / `ui_dir` / `ui_config.dir`; default: the bundle `npm ci` built,
   * dist/ui). null when off.
   */
  readonly ui: { readonly dir: string | null } | null;
}

/**
 * Gossip encryption and TLS, with Consul's keys: `encrypt`, `encrypt_verify_incoming`/`_outgoing`,
 * `ca_file`, `cert_file`, `key_file`, `verify_incoming` (+ `_rpc`, `_https`), `verify_outgoing`,
 * `verify_server_hostname`, `ports.https`, `domain`.
 */
export interface SecuritySettings {
  /** The gossip key (base64, 16/24/32 bytes) from `-encrypt` / `encrypt`; null when not given. */
  readonly encryptKey: string | null;
  /** Drop plain gossip frames (default true; false while rolling encryption out). */
  readonly encryptVerifyIncoming: boolean;
  /** Seal outgoing gossip frames (default true; false while rolling encryption out). */
  readonly encryptVerifyOutgoing: boolean;
  readonly caFile: string | null;
  readonly certFile: string | null;
  readonly keyFile: string | null;
  /** Server RPC (8300) accepts only mutual TLS with a certificate the CA signed. */
  readonly verifyIncomingRpc: boolean;
  /** HTTPS asks for and verifies a client certificate. */
  readonly verifyIncomingHttps: boolean;
  /** Outgoing RPC uses TLS and verifies the server's certificate against the CA. */
  readonly verifyOutgoing: boolean;
  /** Outgoing RPC also checks the server certificate names `server.<dc>.<domain>`. */
  readonly verifyServerHostname: boolean;
  /** HTTPS port (`ports.https`); -1 = off. */
  readonly httpsPort: number;
  /** The DNS domain (`domain`, default "consul"): server certificates carry `server.<dc>.<domain>`. */
  readonly domain: string;
}

export class ConfigError extends Error {}

type Obj = Record<string, unknown>;

/** Top-level keys understood in config files. */
const topKeys = new Set([
  'datacenter',
  'data_dir',
  'node_name',
  'node_id',
  'server',
  'bootstrap',
  'bootstrap_expect',
  'bind_addr',
  'advertise_addr',
  'client_addr',
  'ports',
  'start_join',
  'retry_join',
  'retry_interval',
  'retry_interval_wan',
  'start_join_wan',
  'retry_join_wan',
  'log_level',
  'pid_file',
  'enable_script_checks',
  'enable_local_script_checks',
  'node_meta',
  'service',
  'services',
  'check',
  'checks',
  'leave_on_terminate',
  'skip_leave_on_interrupt',
  'encrypt',
  'disable_update_check',
  'domain',
  'primary_datacenter',
  'acl',
  'acl_datacenter',
  'acl_master_token',
  'acl_token',
  'acl_default_policy',
  'acl_down_policy',
  'acl_ttl',
  'performance',
  'rejoin_after_leave',
  'sync_coordinate_interval_min',
  'encrypt_verify_incoming',
  'encrypt_verify_outgoing',
  'ca_file',
  'cert_file',
  'key_file',
  'verify_incoming',
  'verify_incoming_rpc',
  'verify_incoming_https',
  'verify_outgoing',
  'verify_server_hostname',
  'addresses',
  'ui',
  'ui_dir',
  'ui_config',
]);
/**
 * Keys Consul accepts that we do not apply (yet): accepted with one warning naming the key, so that a
 * config written for Consul starts (issue 13 §5). Their contents are not checked. A key in neither
 * list is a typo and stops the agent, naming the file and the key.
 */
const warnedKeys = new Set([
  'acl_agent_master_token',
  'acl_agent_token',
  'acl_enable_key_list_policy',
  'acl_enforce_version_8',
  'acl_replication_token',
  'acl_token',
  'advertise_addr_ipv4',
  'advertise_addr_ipv6',
  'advertise_addr_wan',
  'advertise_addr_wan_ipv4',
  'advertise_addr_wan_ipv6',
  'advertise_reconnect_timeout',
  'audit',
  'auto_config',
  'auto_reload_config',
  'autopilot',
  'cache',
  'check_output_max_size',
  'check_update_interval',
  'cloud',
  'config_entries',
  'connect',
  'default_query_time',
  'disable_anonymous_signature',
  'disable_coordinates',
  'disable_host_node_id',
  'disable_http_unprintable_char_filter',
  'disable_keyring_file',
  'disable_remote_exec',
  'discard_check_output',
  'discovery_max_stale',
  'dns_config',
  'enable_acl_replication',
  'enable_agent_tls_for_checks',
  'enable_central_service_config',
  'enable_debug',
  'enable_syslog',
  'experiments',
  'gossip_lan',
  'gossip_wan',
  'http_config',
  'leave_drain_time',
  'license_path',
  'limits',
  'locality',
  'log_file',
  'log_json',
  'log_rotate_bytes',
  'log_rotate_duration',
  'log_rotate_max_files',
  'max_query_time',
  'peering',
  'raft_protocol',
  'raft_snapshot_interval',
  'raft_snapshot_threshold',
  'raft_trailing_logs',
  'read_replica',
  'reconnect_timeout',
  'reconnect_timeout_wan',
  'recursor',
  'recursors',
  'reporting',
  'retry_max',
  'retry_max_wan',
  'rpc',
  'segment',
  'segments',
  'serf_lan',
  'serf_lan_allowed_cidrs',
  'serf_wan',
  'serf_wan_allowed_cidrs',
  'server_name',
  'session_ttl_min',
  'syslog_facility',
  'telemetry',
  'translate_wan_addrs',
  'ui_content_path',
  'unix_sockets',
  'use_streaming_backend',
  'watches',
  'xds',
]);
/** Accepted and ignored (Consul keys that do not change behaviour here). */
const ignoredKeys = new Set(['disable_update_check', 'rejoin_after_leave']);
const refusedKeys: Record<string, string> = {};

interface FileLayer {
  values: Obj;
  services: ServiceDefinition[];
  checks: CheckDefinition[];
  /** Consul keys accepted but not applied, each once ("file: key: …"). */
  warnings: string[];
}

/** The config files named by flags, in Consul's order: -config-file and -config-dir as given. */
export function configSources(files: readonly string[], dirs: readonly string[]): string[] {
  const out: string[] = [...files];
  for (const dir of dirs) {
    let entries: string[];
    try {
      entries = fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .sort();
    } catch (error) {
      throw new ConfigError(`Error reading '${dir}': ${(error as Error).message}`);
    }
    for (const f of entries) out.push(path.join(dir, f));
  }
  return out;
}

export function readConfigFiles(files: readonly string[]): FileLayer {
  const layer: FileLayer = { values: {}, services: [], checks: [], warnings: [] };
  const warned = new Set<string>();
  const warn = (key: string, where: string) => {
    if (warned.has(key)) return;
    warned.add(key);
    layer.warnings.push(`${where}: Consul key accepted but not supported here; ignored`);
  };
  for (const file of files) {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (error) {
      throw new ConfigError(`Error decoding '${file}': ${(error as Error).message}`);
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      throw new ConfigError(`${file}: the top level must be a JSON object`);
    for (const [key, value] of Object.entries(raw as Obj)) {
      const where = `${file}: ${key}`;
      if (warnedKeys.has(key) && !topKeys.has(key)) {
        warn(key, where);
        continue;
      }
      if (!topKeys.has(key)) throw new ConfigError(`${where}: unknown configuration key`);
      if (key === 'acl') {
        layer.values['acl'] = aclBlock(value, where);
        continue;
      }
      if (key in refusedKeys) throw new ConfigError(`${where}: ${refusedKeys[key]}`);
      if (ignoredKeys.has(key)) continue;
      if (key === 'service') layer.services.push(serviceDef(value, where));
      else if (key === 'services')
        layer.services.push(...list(value, where).map((v, i) => serviceDef(v, `${where}[${i}]`)));
      else if (key === 'check') layer.checks.push(checkDef(value, where));
      else if (key === 'checks') layer.checks.push(...list(value, where).map((v, i) => checkDef(v, `${where}[${i}]`)));
      else if (key === 'ports')
        layer.values['ports'] = { ...((layer.values['ports'] as Obj) ?? {}), ...portsOf(value, where, warn) };
      else if (key === 'addresses')
        layer.values['addresses'] = {
          ...((layer.values['addresses'] as Obj) ?? {}),
          ...addressesOf(value, where, warn),
        };
      else if (key === 'performance')
        layer.values['performance'] = {
          ...((layer.values['performance'] as Obj) ?? {}),
          ...performanceOf(value, where, warn),
        };
      else if (key === 'ui_config') layer.values['ui_config'] = uiConfigOf(value, where, warn);
      else if (key === 'start_join' || key === 'retry_join' || key === 'start_join_wan' || key === 'retry_join_wan')
        layer.values[key] = [...((layer.values[key] as string[]) ?? []), ...strings(value, where)];
      else layer.values[key] = scalar(key, value, where);
    }
  }
  return layer;
}

/**
 * The newer `acl` block: `enabled`, `default_policy`, `tokens.master` (or `initial_management`).
 * Tools write `"acl": {"enabled": false}` explicitly (node-consul's acceptance helper): ACLs stay off
 * and the rest is ignored, as Consul ignores it while disabled. The legacy keys (`acl_datacenter`,
 * `acl_master_token`, `acl_default_policy`) work too; setting `acl_datacenter` turns ACLs on.
 */
interface AclBlock {
  enabled: boolean;
  defaultPolicy?: 'allow' | 'deny';
  masterToken?: string;
  defaultToken?: string;
  downPolicy?: 'allow' | 'deny' | 'extend-cache';
  ttlMs?: number;
}

function aclBlock(value: unknown, where: string): AclBlock {
  const o = obj(value, where);
  const enabled = o['enabled'] === undefined ? false : bool(o['enabled'], `${where}.enabled`);
  if (!enabled) return { enabled };
  const out: AclBlock = { enabled };
  if (o['default_policy'] !== undefined) out.defaultPolicy = aclPolicy(o['default_policy'], `${where}.default_policy`);
  if (o['down_policy'] !== undefined) out.downPolicy = aclDownPolicy(o['down_policy'], `${where}.down_policy`);
  const ttl = o['token_ttl'] ?? o['policy_ttl'];
  if (ttl !== undefined) out.ttlMs = duration(ttl, `${where}.token_ttl`);
  const tokens = o['tokens'] === undefined ? {} : obj(o['tokens'], `${where}.tokens`);
  const master = tokens['master'] ?? tokens['initial_management'];
  if (master !== undefined) out.masterToken = str(master, `${where}.tokens.master`);
  if (tokens['default'] !== undefined) out.defaultToken = str(tokens['default'], `${where}.tokens.default`);
  return out;
}

/** `acl_down_policy`; Consul's async-cache is extend-cache that refreshes in the background: here, extend-cache. */
function aclDownPolicy(value: unknown, where: string): 'allow' | 'deny' | 'extend-cache' {
  if (value === 'allow' || value === 'deny' || value === 'extend-cache') return value;
  if (value === 'async-cache') return 'extend-cache';
  throw new ConfigError(`${where}: must be "allow", "deny", "extend-cache" or "async-cache"`);
}

function aclPolicy(value: unknown, where: string): 'allow' | 'deny' {
  if (value !== 'allow' && value !== 'deny') throw new ConfigError(`${where}: must be "allow" or "deny"`);
  return value;
}

function list(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new ConfigError(`${where}: must be a list`);
  return value;
}

function strings(value: unknown, where: string): string[] {
  const items = list(value, where);
  for (const item of items) if (typeof item !== 'string') throw new ConfigError(`${where}: must be a list of strings`);
  return items as string[];
}

function obj(value: unknown, where: string): Obj {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ConfigError(`${where}: must be an object`);
  return value as Obj;
}

function str(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new ConfigError(`${where}: must be a string`);
  return value;
}

function int(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new ConfigError(`${where}: must be an integer`);
  return value;
}

function bool(value: unknown, where: string): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(`${where}: must be true or false`);
  return value;
}

function duration(value: unknown, where: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value / 1e6; // Go: nanoseconds
  const ms = typeof value === 'string' ? parseGoDurationMs(value) : undefined;
  if (ms === undefined) throw new ConfigError(`${where}: '${String(value)}' is not a duration (like "10s")`);
  return ms;
}

function scalar(key: string, value: unknown, where: string): unknown {
  switch (key) {
    case 'server':
    case 'bootstrap':
    case 'enable_script_checks':
    case 'enable_local_script_checks':
    case 'leave_on_terminate':
    case 'skip_leave_on_interrupt':
    case 'encrypt_verify_incoming':
    case 'encrypt_verify_outgoing':
    case 'verify_incoming':
    case 'verify_incoming_rpc':
    case 'verify_incoming_https':
    case 'verify_outgoing':
    case 'verify_server_hostname':
    case 'ui':
      return bool(value, where);
    case 'bootstrap_expect':
      return int(value, where);
    case 'retry_interval':
    case 'retry_interval_wan':
    case 'sync_coordinate_interval_min':
      return duration(value, where);
    case 'acl_default_policy':
      return aclPolicy(value, where);
    case 'acl_down_policy':
      return aclDownPolicy(value, where);
    case 'acl_ttl':
      return duration(value, where);
    case 'node_meta': {
      const o = obj(value, where);
      for (const [k, v] of Object.entries(o)) str(v, `${where}.${k}`);
      return o;
    }
    case 'log_level':
      if (!['trace', 'debug', 'info', 'warn', 'err', 'error'].includes(String(value)))
        throw new ConfigError(`${where}: must be one of trace, debug, info, warn, err`);
      return value;
    default:
      return str(value, where);
  }
}

type Warn = (key: string, where: string) => void;

/** Ports we listen on are applied; Consul's other ports (gRPC, HTTPS, sidecars) are accepted with a warning. */
function portsOf(value: unknown, where: string, warn: Warn): Obj {
  const o = obj(value, where);
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) {
    const name = {
      http: 'http',
      dns: 'dns',
      serf_lan: 'serfLan',
      serf_wan: 'serfWan',
      server: 'server',
      rpc: null,
      https: 'https',
      grpc: null,
      grpc_tls: null,
      sidecar_min_port: null,
      sidecar_max_port: null,
      expose_min_port: null,
      expose_max_port: null,
    }[k];
    if (name === undefined) throw new ConfigError(`${where}.${k}: unknown port`);
    const port = int(v, `${where}.${k}`);
    if (port < -1 || port > 65535) throw new ConfigError(`${where}.${k}: ${port} is not a port`);
    if (name) out[name] = port;
    else if (port !== -1) warn(`ports.${k}`, `${where}.${k}`);
  }
  return out;
}

/** `addresses`: the HTTP, HTTPS and DNS bind addresses are applied; gRPC ones are accepted with a warning. */
function addressesOf(value: unknown, where: string, warn: Warn): Obj {
  const o = obj(value, where);
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) {
    if (!['http', 'dns', 'https', 'grpc', 'grpc_tls'].includes(k))
      throw new ConfigError(`${where}.${k}: unknown address (http, dns, https, grpc, grpc_tls)`);
    const address = str(v, `${where}.${k}`);
    if (k === 'http' || k === 'https' || k === 'dns') {
      if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address))
        throw new ConfigError(`${where}.${k}: '${address}' is not an IPv4 address`);
      out[k] = address;
    } else warn(`addresses.${k}`, `${where}.${k}`);
  }
  return out;
}

/**
 * `performance`: `raft_multiplier` (1..10, Consul's bounds) scales Raft's timing; `rpc_hold_timeout`
 * bounds how long a request waits for a leader; `leave_drain_time` is accepted with a warning.
 */
function performanceOf(value: unknown, where: string, warn: Warn): Obj {
  const o = obj(value, where);
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'raft_multiplier') {
      const m = int(v, `${where}.${k}`);
      if (m < 1 || m > 10) throw new ConfigError(`${where}.${k}: cannot be ${m}; must be between 1 and 10`);
      out['raftMultiplier'] = m;
    } else if (k === 'rpc_hold_timeout') out['rpcHoldTimeoutMs'] = duration(v, `${where}.${k}`);
    else if (k === 'leave_drain_time') warn(`performance.${k}`, `${where}.${k}`);
    else
      throw new ConfigError(
        `${where}.${k}: unknown performance setting (raft_multiplier, rpc_hold_timeout, leave_drain_time)`,
      );
  }
  return out;
}

const serviceKeys = new Set([
  'id',
  'name',
  'tags',
  'address',
  'port',
  'meta',
  'enable_tag_override',
  'check',
  'checks',
  'kind',
  'weights',
  'token',
]);
const checkKeys = new Set([
  'id',
  'check_id',
  'name',
  'notes',
  'service_id',
  'status',
  'ttl',
  'script',
  'args',
  'http',
  'method',
  'header',
  'body',
  'tcp',
  'interval',
  'timeout',
  'deregister_critical_service_after',
  'tls_skip_verify',
]);

export function serviceDef(value: unknown, where: string): ServiceDefinition {
  const o = obj(value, where);
  for (const k of Object.keys(o))
    if (!serviceKeys.has(k)) throw new ConfigError(`${where}.${k}: unknown service field`);
  if (o['name'] === undefined) throw new ConfigError(`${where}.name: a service needs a name`);
  const checks: CheckDefinition[] = [];
  if (o['check'] !== undefined) checks.push(checkDef(o['check'], `${where}.check`, true));
  if (o['checks'] !== undefined)
    checks.push(...list(o['checks'], `${where}.checks`).map((c, i) => checkDef(c, `${where}.checks[${i}]`, true)));
  return {
    name: str(o['name'], `${where}.name`),
    ...(o['id'] !== undefined ? { id: str(o['id'], `${where}.id`) } : {}),
    ...(o['tags'] !== undefined ? { tags: strings(o['tags'], `${where}.tags`) } : {}),
    ...(o['address'] !== undefined ? { address: str(o['address'], `${where}.address`) } : {}),
    ...(o['port'] !== undefined ? { port: int(o['port'], `${where}.port`) } : {}),
    ...(o['meta'] !== undefined ? { meta: obj(o['meta'], `${where}.meta`) as Record<string, string> } : {}),
    ...(o['enable_tag_override'] !== undefined
      ? { enableTagOverride: bool(o['enable_tag_override'], `${where}.enable_tag_override`) }
      : {}),
    ...(checks.length > 0 ? { checks } : {}),
  };
}

export function checkDef(value: unknown, where: string, inService = false): CheckDefinition {
  const o = obj(value, where);
  for (const k of Object.keys(o)) if (!checkKeys.has(k)) throw new ConfigError(`${where}.${k}: unknown check field`);
  if (!inService && o['name'] === undefined) throw new ConfigError(`${where}.name: a check needs a name`);
  const kinds = ['ttl', 'script', 'args', 'http', 'tcp'].filter((k) => o[k] !== undefined);
  if (kinds.length === 0) throw new ConfigError(`${where}: a check needs one of ttl, script, args, http, tcp`);
  if (kinds.length > 1 && !(kinds.length === 2 && kinds.includes('script') && kinds.includes('args')))
    throw new ConfigError(`${where}: only one of ${kinds.join(', ')} may be given`);
  if (o['ttl'] === undefined && o['interval'] === undefined)
    throw new ConfigError(`${where}.interval: ${kinds[0]} checks need an interval`);
  const status = o['status'];
  if (status !== undefined && !['passing', 'warning', 'critical'].includes(String(status)))
    throw new ConfigError(`${where}.status: must be passing, warning or critical`);
  const header: Record<string, string[]> = {};
  if (o['header'] !== undefined)
    for (const [k, v] of Object.entries(obj(o['header'], `${where}.header`)))
      header[k] = strings(v, `${where}.header.${k}`);
  const id = o['id'] ?? o['check_id'];
  return {
    ...(id !== undefined ? { id: str(id, `${where}.id`) } : {}),
    ...(o['name'] !== undefined ? { name: str(o['name'], `${where}.name`) } : {}),
    ...(o['notes'] !== undefined ? { notes: str(o['notes'], `${where}.notes`) } : {}),
    ...(o['service_id'] !== undefined ? { serviceId: str(o['service_id'], `${where}.service_id`) } : {}),
    ...(status !== undefined ? { status: status as 'passing' } : {}),
    ...(o['ttl'] !== undefined ? { ttlMs: duration(o['ttl'], `${where}.ttl`) } : {}),
    ...(o['script'] !== undefined ? { script: str(o['script'], `${where}.script`) } : {}),
    ...(o['args'] !== undefined ? { args: strings(o['args'], `${where}.args`) } : {}),
    ...(o['http'] !== undefined ? { http: str(o['http'], `${where}.http`) } : {}),
    ...(o['method'] !== undefined ? { method: str(o['method'], `${where}.method`) } : {}),
    ...(o['header'] !== undefined ? { header } : {}),
    ...(o['body'] !== undefined ? { body: str(o['body'], `${where}.body`) } : {}),
    ...(o['tcp'] !== undefined ? { tcp: str(o['tcp'], `${where}.tcp`) } : {}),
    ...(o['interval'] !== undefined ? { intervalMs: duration(o['interval'], `${where}.interval`) } : {}),
    ...(o['timeout'] !== undefined ? { timeoutMs: duration(o['timeout'], `${where}.timeout`) } : {}),
    ...(o['deregister_critical_service_after'] !== undefined
      ? {
          deregisterCriticalServiceAfterMs: duration(
            o['deregister_critical_service_after'],
            `${where}.deregister_critical_service_after`,
          ),
        }
      : {}),
  };
}

/** Flags over files over defaults. Throws ConfigError naming the flag, or the file and field. */
export function buildSettings(flags: FlagValues): AgentSettings {
  const configFiles = (flags['config-file'] as string[] | undefined) ?? [];
  const configDirs = (flags['config-dir'] as string[] | undefined) ?? [];
  const layer = readConfigFiles(configSources(configFiles, configDirs));
  const file = layer.values;
  const pick = <T>(flag: string, key: string): T | undefined =>
    flags[flag] !== undefined ? (flags[flag] as T) : (file[key] as T | undefined);

  const dev = flags['dev'] === true;
  const server = dev || (pick<boolean>('server', 'server') ?? false);
  const bootstrapExpect = pick<number>('bootstrap-expect', 'bootstrap_expect') ?? 0;
  let bootstrap = dev || (pick<boolean>('bootstrap', 'bootstrap') ?? false);
  if (bootstrapExpect === 1) bootstrap = true; // Consul: "BootstrapExpect Mode is specified as 1; this is the same as Bootstrap mode."
  if (bootstrapExpect < 0) throw new ConfigError('-bootstrap-expect: must be >= 0');
  if (!server && (bootstrap || bootstrapExpect > 0))
    throw new ConfigError('-bootstrap-expect: bootstrap mode is only for servers (add -server)');
  const dataDir = pick<string>('data-dir', 'data_dir') ?? null;
  if (!dev && !dataDir) throw new ConfigError('==> Must specify data directory using -data-dir');
  const bindAddr = pick<string>('bind', 'bind_addr') ?? (dev ? '127.0.0.1' : '0.0.0.0');
  let advertise = pick<string>('advertise', 'advertise_addr') ?? bindAddr;
  if (advertise === '0.0.0.0') advertise = firstPrivateIpv4();
  for (const [flag, value] of [
    ['bind', bindAddr],
    ['advertise', advertise],
  ] as const) {
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(value)) throw new ConfigError(`-${flag}: '${value}' is not an IPv4 address`);
  }
  const clientAddr = pick<string>('client', 'client_addr') ?? '127.0.0.1';
  const addresses = (file['addresses'] as { http?: string; https?: string; dns?: string } | undefined) ?? {};
  const performance = (file['performance'] as { raftMultiplier?: number; rpcHoldTimeoutMs?: number } | undefined) ?? {};
  const filePorts = (file['ports'] as Partial<AgentConfig['ports']> | undefined) ?? {};
  const ports: AgentConfig['ports'] = {
    http: (flags['http-port'] as number | undefined) ?? filePorts.http ?? 8500,
    dns: (flags['dns-port'] as number | undefined) ?? filePorts.dns ?? 8600,
    serfLan: (flags['serf-lan-port'] as number | undefined) ?? filePorts.serfLan ?? 8301,
    serfWan: (flags['serf-wan-port'] as number | undefined) ?? filePorts.serfWan ?? 8302,
    server: (flags['server-port'] as number | undefined) ?? filePorts.server ?? 8300,
  };
  for (const [name, port] of Object.entries(ports))
    if (port < -1 || port > 65535) throw new ConfigError(`-${name}-port: ${port} is not a port`);
  const retryMs =
    (flags['retry-interval'] !== undefined
      ? durationFlag(flags['retry-interval'] as string, '-retry-interval')
      : (file['retry_interval'] as number | undefined)) ?? 30_000;
  const retryWanMs =
    (flags['retry-interval-wan'] !== undefined
      ? durationFlag(flags['retry-interval-wan'] as string, '-retry-interval-wan')
      : (file['retry_interval_wan'] as number | undefined)) ?? 30_000;
  const joins = [
    ...((flags['join'] as string[] | undefined) ?? (file['start_join'] as string[] | undefined) ?? []),
    ...((flags['retry-join'] as string[] | undefined) ?? (file['retry_join'] as string[] | undefined) ?? []),
  ].map((a) => gossipAddress(a, ports.serfLan));
  // WAN joins name another DC's server by its WAN address (host, or host:serf_wan); inside the core a
  // server's id is its gossip id (host:serf_lan), the WAN SWIM's member id too (run.ts routeFor sends
  // the WAN pool's messages to host:serf_wan).
  const joinsWan = [
    ...((flags['join-wan'] as string[] | undefined) ?? (file['start_join_wan'] as string[] | undefined) ?? []),
    ...((flags['retry-join-wan'] as string[] | undefined) ?? (file['retry_join_wan'] as string[] | undefined) ?? []),
  ].map((a) => wanJoinId(a, ports.serfLan));
  const nodeName = pick<string>('node', 'node_name') ?? os.hostname();
  const logLevelRaw = pick<string>('log-level', 'log_level') ?? 'info';
  const logLevel = (logLevelRaw === 'error' ? 'err' : logLevelRaw) as AgentSettings['logLevel'];
  if (!['trace', 'debug', 'info', 'warn', 'err'].includes(logLevel))
    throw new ConfigError(`-log-level: '${logLevelRaw}' is not one of trace, debug, info, warn, err`);
  const enableScriptChecks = pick<boolean>('enable-script-checks', 'enable_script_checks') ?? dev;
  const enableLocalScriptChecks = pick<boolean>('enable-local-script-checks', 'enable_local_script_checks') ?? true;
  const gossipId = `${advertise}:${ports.serfLan}`;
  const security = securityOf(flags, file, pick<string>('datacenter', 'datacenter') ?? 'dc1');
  let config: AgentConfig;
  try {
    config = makeAgentConfig({
      nodeName,
      datacenter: pick<string>('datacenter', 'datacenter') ?? 'dc1',
      server,
      bootstrap,
      bootstrapExpect: bootstrap ? 0 : bootstrapExpect,
      advertiseAddr: advertise,
      clientAddr,
      // One id per node inside the core: the gossip address. The core derives a server's RPC id from
      // the `port` tag, so the core is told the server port is the gossip port, and the driver sends
      // Raft and RPC traffic to the real server port (assembly.ts explains why).
      ports: { ...ports, server: ports.serfLan },
      rpcId: gossipId,
      build: conclaveVersion,
      enableScriptChecks,
      enableLocalScriptChecks,
      ...(file['node_meta'] ? { nodeMeta: file['node_meta'] as Record<string, string> } : {}),
      ...aclConfigOf(file),
      services: layer.services,
      checks: layer.checks,
      startJoin: joins,
      ...(joinsWan.length > 0 ? { startJoinWan: joinsWan } : {}),
      ...(performance.raftMultiplier !== undefined ? { raftMultiplier: performance.raftMultiplier } : {}),
      // With verify_incoming on the server port only certified servers can speak there: a server joins Raft
      // once it introduced itself on it, never on gossip tags alone (core/agent/hello.ts).
      ...(server && security.verifyIncomingRpc ? { authenticateServers: true } : {}),
      timing: {
        ...agentTimingLan,
        ...(performance.rpcHoldTimeoutMs !== undefined
          ? { rpcHoldTimeoutMs: Math.max(1, performance.rpcHoldTimeoutMs) }
          : {}),
        retryJoinIntervalMs: Math.max(1, retryMs),
        retryJoinWanIntervalMs: Math.max(1, retryWanMs),
        coordinateSyncIntervalMs: Math.max(
          100,
          (file['sync_coordinate_interval_min'] as number | undefined) ?? agentTimingLan.coordinateSyncIntervalMs,
        ),
      },
    });
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  return {
    config,
    dev,
    dataDir,
    bindAddr,
    ports,
    pidFile: pick<string>('pid-file', 'pid_file') ?? null,
    logLevel,
    record: (flags['record'] as string | undefined) ?? null,
    configFiles,
    configDirs,
    leaveOnTerminate: (file['leave_on_terminate'] as boolean | undefined) ?? false,
    skipLeaveOnInterrupt: (file['skip_leave_on_interrupt'] as boolean | undefined) ?? false,
    bootstrapExpectRequested: bootstrapExpect,
    security,
    httpAddr: addresses.http ?? clientAddr,
    httpsAddr: addresses.https ?? clientAddr,
    dnsAddr: addresses.dns ?? clientAddr,
    warnings: layer.warnings,
    ui: uiSettingsOf(flags, file),
  };
}

/** `ui_config`: `enabled` and `dir` apply; Consul's other fields (metrics_provider, dashboard links…) are warned about. */
function uiConfigOf(value: unknown, where: string, warn: (key: string, where: string) => void): Obj {
  const o = obj(value, where);
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'enabled') out['enabled'] = bool(v, `${where}.enabled`);
    else if (k === 'dir') out['dir'] = str(v, `${where}.dir`);
    else warn(`ui_config.${k}`, `${where}.${k}`);
  }
  return out;
}

function uiSettingsOf(flags: FlagValues, file: Obj): AgentSettings['ui'] {
  const block = (file['ui_config'] as { enabled?: boolean; dir?: string } | undefined) ?? {};
  const dir = (flags['ui-dir'] as string | undefined) ?? (file['ui_dir'] as string | undefined) ?? block.dir ?? null;
  // Consul: setting ui_dir (or -ui-dir) turns the UI on, serving that directory.
  const enabled =
    (flags['ui'] as boolean | undefined) ?? (file['ui'] as boolean | undefined) ?? block.enabled ?? dir !== null;
  return enabled ? { dir } : null;
}

function securityOf(flags: FlagValues, file: Obj, _datacenter: string): SecuritySettings {
  const encryptKey = (flags['encrypt'] as string | undefined) ?? (file['encrypt'] as string | undefined) ?? null;
  if (encryptKey !== null) {
    try {
      decodeKey(encryptKey);
    } catch (error) {
      const name = flags['encrypt'] !== undefined ? '-encrypt' : 'encrypt';
      if (error instanceof KeyringError) throw new ConfigError(`${name}: ${error.message}`);
      throw error;
    }
  }
  const flag = (key: string, fallback: boolean) => (file[key] as boolean | undefined) ?? fallback;
  const path = (key: string) => (file[key] as string | undefined) ?? null;
  const verifyIncoming = flag('verify_incoming', false);
  const security: SecuritySettings = {
    encryptKey,
    encryptVerifyIncoming: flag('encrypt_verify_incoming', true),
    encryptVerifyOutgoing: flag('encrypt_verify_outgoing', true),
    caFile: path('ca_file'),
    certFile: path('cert_file'),
    keyFile: path('key_file'),
    verifyIncomingRpc: flag('verify_incoming_rpc', verifyIncoming),
    verifyIncomingHttps: flag('verify_incoming_https', verifyIncoming),
    // Consul ≥ 1.x: verify_server_hostname implies verify_outgoing.
    verifyOutgoing: flag('verify_outgoing', false) || flag('verify_server_hostname', false),
    verifyServerHostname: flag('verify_server_hostname', false),
    httpsPort: ((file['ports'] as Obj | undefined)?.['https'] as number | undefined) ?? -1,
    domain: ((file['domain'] as string | undefined) ?? 'consul').replace(/\.$/, ''),
  };
  const s = security;
  if ((s.certFile === null) !== (s.keyFile === null))
    throw new ConfigError('cert_file and key_file: give both or neither');
  if ((s.verifyIncomingRpc || s.verifyIncomingHttps || s.verifyOutgoing) && s.caFile === null)
    throw new ConfigError('ca_file: verify_incoming and verify_outgoing need a CA certificate to verify against');
  if (s.verifyIncomingRpc && s.certFile === null)
    throw new ConfigError('verify_incoming: the server RPC port needs cert_file and key_file to speak TLS');
  if (s.httpsPort > 0 && s.certFile === null) throw new ConfigError('ports.https: HTTPS needs cert_file and key_file');
  for (const [key, file] of [
    ['ca_file', s.caFile],
    ['cert_file', s.certFile],
    ['key_file', s.keyFile],
  ] as const)
    if (file !== null && !fs.existsSync(file)) throw new ConfigError(`${key}: ${file}: no such file`);
  return security;
}

export const conclaveVersion = '0.1.0';

function durationFlag(text: string, flag: string): number {
  const ms = parseGoDurationMs(text);
  if (ms === undefined) throw new ConfigError(`${flag}: '${text}' is not a duration (like "30s")`);
  return ms;
}

/** `host` or `host:port` → `host:port` on the gossip port. */
export function gossipAddress(address: string, serfLanPort: number): string {
  return /:\d+$/.test(address) ? address : `${address}:${serfLanPort}`;
}

/**
 * The core id of a server named by its WAN address (`host` or `host:serf_wan`): its gossip id
 * `host:serf_lan`. Every agent uses the same ports (run.ts's header), so the port given is dropped.
 */
export function wanJoinId(address: string, serfLanPort: number): string {
  const host = /^\[.*\]:\d+$|^[^:]+:\d+$/.test(address) ? address.slice(0, address.lastIndexOf(':')) : address;
  return `${host}:${serfLanPort}`;
}

function firstPrivateIpv4(): string {
  for (const list of Object.values(os.networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}

/** Re-reads the config files for SIGHUP / reload: the file-defined services and checks now. */
export function reloadDefinitions(settings: AgentSettings): {
  services: ServiceDefinition[];
  checks: CheckDefinition[];
} {
  const layer = readConfigFiles(configSources(settings.configFiles, settings.configDirs));
  return { services: layer.services, checks: layer.checks };
}

/**
 * ACL settings from the legacy keys and the `acl` block (the block wins where both speak). The ACL
 * datacenter is `acl_datacenter`, else `primary_datacenter` (Consul ≥ 1.4), else this one.
 */
function aclConfigOf(file: Obj): { acl?: NonNullable<AgentConfig['acl']> } {
  const block = file['acl'] as AclBlock | undefined;
  const enabled = block?.enabled === true || typeof file['acl_datacenter'] === 'string';
  if (!enabled) return {};
  const masterToken = block?.masterToken ?? (file['acl_master_token'] as string | undefined);
  const defaultPolicy = block?.defaultPolicy ?? (file['acl_default_policy'] as 'allow' | 'deny' | undefined) ?? 'allow';
  const defaultToken = block?.defaultToken ?? (file['acl_token'] as string | undefined);
  const datacenter = (file['acl_datacenter'] ?? file['primary_datacenter']) as string | undefined;
  const downPolicy = block?.downPolicy ?? (file['acl_down_policy'] as 'allow' | 'deny' | 'extend-cache' | undefined);
  const ttlMs = block?.ttlMs ?? (file['acl_ttl'] as number | undefined);
  return {
    acl: {
      enabled: true,
      defaultPolicy,
      ...(masterToken ? { masterToken } : {}),
      ...(defaultToken ? { defaultToken } : {}),
      ...(datacenter ? { datacenter } : {}),
      ...(downPolicy ? { downPolicy } : {}),
      ...(ttlMs !== undefined ? { ttlMs: Math.round(ttlMs) } : {}),
    },
  };
}
