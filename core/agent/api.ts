/**
 * The agent's contract (owned by core/agent; read by net/http, net/dns, the CLI and the simulator).
 *
 * The agent is a `Machine` named 'agent'. It is the glue that makes a node a Consul agent: it hosts
 * the node's own services and checks, runs anti-entropy towards the catalog, schedules checks,
 * forwards requests (client agent → a server it learned from SWIM tags; server → the Raft leader),
 * answers reads in the three consistency modes, parks blocking queries, keeps `serfHealth` from SWIM
 * (on the leader), bootstraps Raft when `bootstrapExpect` servers are known, and fires user events.
 *
 * Callers reach it as a node-level client request `{ machine: 'agent', body: AgentRequest }` and get
 * exactly one `reply` whose response is an `AgentResponse`. Everything HTTP-specific stays out of
 * core: net/http parses paths, query strings, Go durations (`5s`), case-insensitive JSON keys and
 * presence-based flags, and hands the agent a typed `AgentRequest`; it renders `AgentResponse.body`
 * as JSON (or raw bytes when the body is a `Uint8Array`), the `index` as `X-Consul-Index`,
 * `knownLeader` as `X-Consul-KnownLeader`, `lastContactMs` as `X-Consul-LastContact`, and `error` as
 * a plain-text body.
 *
 * Durations in this file are milliseconds (`...Ms`), never Go strings; byte values are `Uint8Array`,
 * never base64 (the agent base64-encodes `Value` in response bodies, as Consul does).
 *
 * The node's machines and their configs come from `mountsFor(config, { profile })` in
 * core/agent/mounts.ts: swim + raft (FSM = the state store) + agent on a server, swim + agent on a
 * client. (Not re-exported here: this file stays a leaf module of types and constants, so that
 * importing it never pulls in, or cycles through, the machines.)
 *
 * Wire enums (`type` strings, statuses) are append-only.
 */
import type { NodeId } from '../types.js';
import type { KvFlags, TxnVerb } from '../store/types.js';

// ───────────────────────────────────────────── reads ──────────────────────────────────────────────

/** Consul's read consistency modes (consul-api.md §3). `?stale` + `?consistent` together is net/http's 400. */
export type Consistency = 'default' | 'consistent' | 'stale';

/**
 * Carried by every read that Consul marks B (blocking) or C (consistency).
 *  - Blocking: when `minIndex` > 0 the read parks until the result's index exceeds `minIndex` or the
 *    wait runs out; then it answers with the current result (200, same index on timeout).
 *  - `waitMs` 0 or absent → 5 minutes; values above 10 minutes are capped to 10 minutes; the agent adds
 *    jitter of up to waitMs/16 from its PRNG (consul-api.md §2). net/http passes the parsed `?wait`.
 */
export interface ReadOptions {
  readonly minIndex?: number;
  readonly waitMs?: number;
  readonly consistency: Consistency;
}

/** Default and cap for `waitMs` (consul-api.md §2). */
export const blockingWaitMsDefault = 5 * 60_000;
export const blockingWaitMsMax = 10 * 60_000;

// ──────────────────────────────────────── definitions ─────────────────────────────────────────────

/**
 * A check definition, from a config file (`check`/`checks`, snake_case) or from
 * `PUT /v1/agent/check/register` / a service's `Check`/`Checks` (PascalCase, case-insensitive). net/http
 * and the config loader map keys and Go durations to these fields; the agent validates the
 * combination (exactly one of ttl / script|args+interval / http+interval / tcp+interval) and answers 400
 * naming what is wrong.
 */
export interface CheckDefinition {
  /** Defaults to `name`; for a service's checks to `service:<serviceId>` (`service:<id>:<n>` for several). */
  readonly id?: string;
  readonly name?: string;
  readonly notes?: string;
  /** The service this check belongs to; must be registered on this agent. */
  readonly serviceId?: string;
  /** Initial status; critical when absent (Consul's default). */
  readonly status?: 'passing' | 'warning' | 'critical';
  /** TTL check: critical unless pass/warn/fail arrives at least every `ttlMs`. */
  readonly ttlMs?: number;
  /** Script check, run through `/bin/sh -c` by the driver. Needs `enable_script_checks`. */
  readonly script?: string;
  /** Script check, argv form (Consul ≥ 1.0). Needs `enable_script_checks`. */
  readonly args?: readonly string[];
  /** HTTP check target URL; 2xx passing, 429 warning, else critical. */
  readonly http?: string;
  readonly method?: string;
  readonly header?: Readonly<Record<string, readonly string[]>>;
  readonly body?: string;
  /** TCP check target `host:port`. */
  readonly tcp?: string;
  /** Period of script/http/tcp checks. */
  readonly intervalMs?: number;
  /** Per-run timeout; defaults 30 s for scripts, 10 s for http/tcp. */
  readonly timeoutMs?: number;
  /** Accepted and reported; the reaper is tier 3 and not implemented. */
  readonly deregisterCriticalServiceAfterMs?: number;
}

/** A service definition (config file `service`/`services`, or `PUT /v1/agent/service/register`). */
export interface ServiceDefinition {
  /** Defaults to `name`. */
  readonly id?: string;
  readonly name: string;
  readonly tags?: readonly string[];
  /** Empty = the node's address. */
  readonly address?: string;
  readonly port?: number;
  readonly meta?: Readonly<Record<string, string>>;
  readonly enableTagOverride?: boolean;
  /** `Check` and `Checks` merged, in that order. */
  readonly checks?: readonly CheckDefinition[];
}

// ─────────────────────────────────────────── requests ─────────────────────────────────────────────

/** Fields every request may carry. */
export interface RequestBase {
  /**
   * `?dc=`: run the request in that datacenter. A local server forwards it to a server of that DC
   * found in the WAN pool (core/agent/wan.ts); a DC no server knows answers 500 "No path to datacenter".
   */
  readonly dc?: string;
  /**
   * The caller's ACL token (`X-Consul-Token`, `?token=`), set by the ACL gate (net/gate.ts) on requests
   * that name a datacenter. A request the agent forwards to another DC carries it over the WAN and is
   * authorized there, with that DC's view of the token (core/agent/acl.ts), as Consul's RPCs carry
   * their token. Absent: `anonymous`. Requests run in this DC ignore it (the gate authorized them).
   */
  readonly token?: string;
}

/** A transaction operation (`PUT /v1/txn`, KV ops only at tier 2), Consul's verbs. */
export interface TxnKvOp {
  readonly verb: TxnVerb;
  readonly key: string;
  readonly value?: Uint8Array;
  readonly flags?: KvFlags;
  readonly index?: number;
  readonly session?: string;
}

/** Transaction limit (consul-api.md: 64 ops at tier 2). More → 413 as Consul answers. */
export const txnOpsMax = 64;
/** Largest KV value (consul-api.md: 512 KiB → 413). */
export const kvValueBytesMax = 512 * 1024;

export type AgentRequest = RequestBase &
  // ── KV (/v1/kv) ──
  /** `GET /v1/kv/<key>` (`raw` → body is the value's bytes, 404 when absent). */
  (
    | { readonly type: 'kv.get'; readonly key: string; readonly raw?: boolean; readonly read: ReadOptions }
    /** `GET /v1/kv/<prefix>?recurse`. */
    | { readonly type: 'kv.list'; readonly prefix: string; readonly read: ReadOptions }
    /** `GET /v1/kv/<prefix>?keys[&separator=]`. */
    | { readonly type: 'kv.keys'; readonly prefix: string; readonly separator?: string; readonly read: ReadOptions }
    /** `PUT /v1/kv/<key>[?flags=]` → `true`. */
    | { readonly type: 'kv.put'; readonly key: string; readonly value: Uint8Array; readonly flags?: KvFlags }
    /** `PUT /v1/kv/<key>?cas=<index>` → `true`/`false` (index 0: create only). */
    | {
        readonly type: 'kv.cas';
        readonly key: string;
        readonly value: Uint8Array;
        readonly flags?: KvFlags;
        readonly index: number;
      }
    /** `PUT /v1/kv/<key>?acquire=<session>` → `true`/`false`; unknown session → 500. */
    | {
        readonly type: 'kv.acquire';
        readonly key: string;
        readonly value: Uint8Array;
        readonly flags?: KvFlags;
        readonly session: string;
      }
    /** `PUT /v1/kv/<key>?release=<session>` → `true`/`false`. */
    | {
        readonly type: 'kv.release';
        readonly key: string;
        readonly value: Uint8Array;
        readonly flags?: KvFlags;
        readonly session: string;
      }
    /** `DELETE /v1/kv/<key>[?cas=]` → `true`/`false` (cas must be > 0). */
    | { readonly type: 'kv.delete'; readonly key: string; readonly cas?: number }
    /** `DELETE /v1/kv/<prefix>?recurse` → `true`. */
    | { readonly type: 'kv.deleteTree'; readonly prefix: string }
    // ── txn ──
    /** `PUT /v1/txn`: 200 `{Results, Errors: null}` or 409 `{Results: null, Errors}`. */
    | { readonly type: 'txn'; readonly ops: readonly TxnKvOp[] }
    // ── sessions ──
    /** `PUT /v1/session/create` → `{ID}`. `node` defaults to this agent; `checks` to ['serfHealth']. */
    | {
        readonly type: 'session.create';
        readonly name?: string;
        readonly node?: string;
        readonly lockDelayMs?: number;
        readonly checks?: readonly string[];
        readonly serviceChecks?: readonly { readonly id: string; readonly namespace?: string }[];
        readonly behavior?: 'release' | 'delete';
        readonly ttlMs?: number;
      }
    | { readonly type: 'session.destroy'; readonly id: string }
    | { readonly type: 'session.info'; readonly id: string; readonly read: ReadOptions }
    | { readonly type: 'session.node'; readonly node: string; readonly read: ReadOptions }
    | { readonly type: 'session.list'; readonly read: ReadOptions }
    /** Unknown session → 404. */
    | { readonly type: 'session.renew'; readonly id: string }
    // ── agent (local node) ──
    | { readonly type: 'agent.self' }
    | { readonly type: 'agent.members'; readonly wan?: boolean }
    /** `PUT /v1/agent/join/<address>`: address as given (net maps host[:port] to a gossip id). */
    | { readonly type: 'agent.join'; readonly addresses: readonly NodeId[]; readonly wan?: boolean }
    | { readonly type: 'agent.leave' }
    /** `wan`: remove the member from the WAN pool (its WAN name, `node.dc`) instead of the LAN one. */
    | { readonly type: 'agent.forceLeave'; readonly node: string; readonly wan?: boolean }
    /**
     * `PUT /v1/agent/reload` and SIGHUP: the caller re-reads the config files and passes what they now
     * define. File-defined services and checks are added, changed or removed to match; API-registered
     * ones are kept.
     */
    | {
        readonly type: 'agent.reload';
        readonly services: readonly ServiceDefinition[];
        readonly checks: readonly CheckDefinition[];
      }
    | { readonly type: 'agent.maintenance'; readonly enable: boolean; readonly reason?: string }
    | { readonly type: 'agent.services' }
    /** `GET /v1/agent/service/:id`: one local service as Consul's AgentService; 404 when not registered here. */
    | { readonly type: 'agent.service'; readonly id: string }
    | { readonly type: 'agent.service.register'; readonly service: ServiceDefinition }
    | { readonly type: 'agent.service.deregister'; readonly id: string }
    | {
        readonly type: 'agent.service.maintenance';
        readonly id: string;
        readonly enable: boolean;
        readonly reason?: string;
      }
    | { readonly type: 'agent.checks' }
    | { readonly type: 'agent.check.register'; readonly check: CheckDefinition }
    /** TTL updates: `note` becomes the check's Output; resets the TTL timer. */
    | {
        readonly type: 'agent.check.pass' | 'agent.check.warn' | 'agent.check.fail';
        readonly id: string;
        readonly note?: string;
      }
    | {
        readonly type: 'agent.check.update';
        readonly id: string;
        readonly status: 'passing' | 'warning' | 'critical';
        readonly output?: string;
      }
    | { readonly type: 'agent.check.deregister'; readonly id: string }
    /** `GET /v1/agent/metrics`: Consul's JSON metrics shape; net/http renders `?format=prometheus`. */
    | { readonly type: 'agent.metrics' }
    // ── catalog ──
    | { readonly type: 'catalog.datacenters' }
    | {
        readonly type: 'catalog.nodes';
        readonly nodeMeta?: Readonly<Record<string, string>>;
        readonly read: ReadOptions;
      }
    | { readonly type: 'catalog.services'; readonly read: ReadOptions }
    /** `tag`: one, or several (repeated `?tag=`) that must all match. */
    | {
        readonly type: 'catalog.service';
        readonly service: string;
        readonly tag?: string | readonly string[];
        readonly read: ReadOptions;
      }
    /** Unknown node → 200 with body `null`. */
    | { readonly type: 'catalog.node'; readonly node: string; readonly read: ReadOptions }
    | {
        readonly type: 'catalog.register';
        readonly node: string;
        readonly address: string;
        readonly datacenter?: string;
        readonly id?: string;
        readonly taggedAddresses?: Readonly<Record<string, string>>;
        readonly nodeMeta?: Readonly<Record<string, string>>;
        readonly service?: ServiceDefinition;
        /** `Check` and `Checks` merged; `status` defaults to critical as in Consul's catalog. */
        readonly checks?: readonly CheckDefinition[];
      }
    | {
        readonly type: 'catalog.deregister';
        readonly node: string;
        readonly serviceId?: string;
        readonly checkId?: string;
      }
    // ── health ──
    | {
        readonly type: 'health.state';
        readonly state: 'any' | 'passing' | 'warning' | 'critical';
        readonly read: ReadOptions;
      }
    | { readonly type: 'health.node'; readonly node: string; readonly read: ReadOptions }
    | { readonly type: 'health.checks'; readonly service: string; readonly read: ReadOptions }
    | {
        readonly type: 'health.service';
        readonly service: string;
        readonly tag?: string | readonly string[];
        readonly passing?: boolean;
        readonly read: ReadOptions;
      }
    // ── status ──
    /** Body: the leader's server RPC address as a JSON string, `""` when none. */
    | { readonly type: 'status.leader' }
    /** Body: the Raft voters' RPC addresses. */
    | { readonly type: 'status.peers' }
    // ── operator ──
    /**
     * Body: `{Servers: [{ID, Node, Address, Leader, Voter, ProtocolVersion}], Index}`, the Raft
     * configuration in force on the server that answers (Consul's `operator/raft/configuration`).
     */
    | { readonly type: 'operator.raft.configuration' }
    /**
     * Consul's `operator/autopilot/health`, computed by the leader (core/agent/autopilot.ts): body
     * `AutopilotHealth`; the route renders durations and StableSince and answers 429 when unhealthy.
     */
    | { readonly type: 'operator.autopilot.health' }
    /** Removes a server (by `IP:port` RPC address or Raft ID) from the Raft configuration; the leader does it. */
    | { readonly type: 'operator.raft.removePeer'; readonly peer: string }
    /**
     * `/v1/operator/keyring`: the gossip keyring lives in the agent process (net/transport/keyring.ts),
     * which carries the request out; it comes here only to be authorized (keyring read / write).
     */
    | { readonly type: 'operator.keyring'; readonly op: 'list' | 'install' | 'use' | 'remove' }
    // ── legacy ACLs (every request is authorized on its type by core/agent/endpoints, through net/gate.ts) ──
    /** `definition`: Consul's body (ID optional on create, required on update; Name, Type, Rules). Body: `{ID}`. */
    | { readonly type: 'acl.create' | 'acl.update'; readonly definition: Readonly<Record<string, unknown>> }
    | { readonly type: 'acl.destroy'; readonly id: string }
    /** Body: `[token]`, or `[]` for an unknown ID. */
    | { readonly type: 'acl.info'; readonly id: string; readonly read: ReadOptions }
    | { readonly type: 'acl.list'; readonly read: ReadOptions }
    /**
     * What token `id` may do in this DC (the ACL gate asks before every request; no HTTP route): body
     * an `AclGrant` (core/agent/acl.ts), 403 "ACL not found" for an unknown token. Resolved from the
     * authoritative ACL datacenter, through a cache and `acl_down_policy`, when that is another DC.
     */
    | { readonly type: 'acl.resolve'; readonly id: string }
    // ── snapshots ──
    /** Body: the store's snapshot (plain data; net/http encodes it). Read through the leader. */
    | { readonly type: 'snapshot.save'; readonly read: ReadOptions }
    /** Replaces the whole store through Raft; a snapshot that does not restore cleanly answers 400. */
    | { readonly type: 'snapshot.restore'; readonly snapshot: unknown }
    // ── network coordinates ──
    | { readonly type: 'coordinate.datacenters' }
    | { readonly type: 'coordinate.nodes'; readonly read: ReadOptions }
    /** Body: `[{Node, Segment, Coord}]`; a node without a coordinate → 404. */
    | { readonly type: 'coordinate.node'; readonly node: string; readonly read: ReadOptions }
    /** `PUT /v1/coordinate/update`: `coord` is checked by the store (Consul's Vec/Error/Adjustment/Height). */
    | { readonly type: 'coordinate.update'; readonly node: string; readonly coord: unknown }
    // ── prepared queries ──
    /**
     * `definition`: the request body with Consul's field names (Name, Session, Token, Service{...},
     * DNS{TTL}, Template{...}); missing fields take Consul's zero values. Body: `{ID}`.
     */
    | { readonly type: 'query.create'; readonly definition: Readonly<Record<string, unknown>> }
    /** Replaces the whole query `id` (empty 200); unknown id → 500 as Consul. */
    | { readonly type: 'query.update'; readonly id: string; readonly definition: Readonly<Record<string, unknown>> }
    | { readonly type: 'query.delete'; readonly id: string }
    | { readonly type: 'query.list'; readonly read: ReadOptions }
    /** Body: `[query]`; unknown id → 404 "Query not found". */
    | { readonly type: 'query.get'; readonly id: string; readonly read: ReadOptions }
    /** Body: `{Query}` with a template rendered for the name; unknown → 404. */
    | { readonly type: 'query.explain'; readonly idOrName: string; readonly read: ReadOptions }
    /** Body: `{Service, Nodes, DNS, Datacenter, Failovers}`; `near` (`_agent` = this node) and `limit` as Consul's. */
    | {
        readonly type: 'query.execute';
        readonly idOrName: string;
        readonly near?: string;
        readonly limit?: number;
        readonly read: ReadOptions;
      }
    // ── events ──
    | {
        readonly type: 'event.fire';
        readonly name: string;
        readonly payload: Uint8Array | null;
        readonly nodeFilter?: string;
        readonly serviceFilter?: string;
        readonly tagFilter?: string;
      }
    /** Blocking index derived from event ids, as Consul does; `read.consistency` is ignored. */
    | { readonly type: 'event.list'; readonly name?: string; readonly read: ReadOptions }
  );

export type AgentRequestType = AgentRequest['type'];

// ─────────────────────────────────────────── responses ────────────────────────────────────────────

/**
 * The one reply to an `AgentRequest`.
 *
 * `body` is already in Consul's JSON shape (PascalCase keys, `Value` base64 or null, indexes as
 * numbers), ready for `JSON.stringify`; a `Uint8Array` body (`kv.get` with `raw`) is written as-is with
 * `Content-Type: text/plain`. When `status` is not 2xx (and not 409 for txn, whose body is JSON), the
 * body is null and `error` is the plain-text message ("No cluster leader", "Missing key name", ...).
 */
export interface AgentResponse {
  /** HTTP-like: 200, 400, 404, 405, 409, 413, 500. */
  readonly status: number;
  readonly body: unknown;
  /** `X-Consul-Index` for blocking-capable reads (never 0; also on 404). */
  readonly index?: number;
  /** `X-Consul-KnownLeader` for reads served through a server. */
  readonly knownLeader?: boolean;
  /** `X-Consul-LastContact`: 0 on the leader; the server's last-contact age for stale reads. */
  readonly lastContactMs?: number;
  readonly error?: string;
}

/** Error texts callers may match on (Consul's own words). */
export const agentErrors = {
  noLeader: 'No cluster leader',
  noServers: 'No known Consul servers',
  noPathToDc: 'No path to datacenter',
  missingKey: 'Missing key name',
  rpcTimeout: 'rpc error: timeout',
  tooManyBlocking: 'Too many blocking queries on this server',
} as const;

// ──────────────────────────────────────────── config ──────────────────────────────────────────────

/**
 * One agent's configuration: flags and config files, already parsed and defaulted by the CLI (or by
 * the simulator's harness). Every duration is in ms. Validated by `validateAgentConfig`.
 */
export interface AgentConfig {
  /** `-node`: this node's name in the catalog and in gossip. */
  readonly nodeName: string;
  /** Catalog node ID (a UUID in Consul); defaults to a PRNG-made UUID when empty. */
  readonly nodeId?: string;
  /** `-datacenter`, default 'dc1'. */
  readonly datacenter: string;
  /** `-server`: host Raft and the state store. */
  readonly server: boolean;
  /** `-bootstrap`: bootstrap Raft alone at once (same as bootstrapExpect 1). Server only. */
  readonly bootstrap: boolean;
  /** `-bootstrap-expect N`: wait until N servers are known through gossip tags, then bootstrap with them. 0 = off. */
  readonly bootstrapExpect: number;
  /** The address advertised in the catalog and in `members` (`-advertise`, else `-bind`). */
  readonly advertiseAddr: string;
  /** `-client`: HTTP/DNS bind address (reported in `agent.self`). */
  readonly clientAddr: string;
  readonly ports: {
    readonly http: number;
    readonly dns: number;
    readonly serfLan: number;
    readonly serfWan: number;
    /** Server RPC and Raft (8300); a server's Raft id is `advertiseAddr:server` in the real agent. */
    readonly server: number;
  };
  /**
   * This node's id for Raft, SWIM and agent-to-agent RPC; must equal the NodeRuntime's node id (init
   * asserts it). Node names in the simulator; in the real agent one address per node (e.g. the gossip
   * address `ip:8301`), the same string for SWIM, Raft and agent RPC: a server's member id is its Raft
   * id. The driver routes envelopes by machine ('swim' to the gossip port, 'raft' and 'agent' to the
   * server port). `status.leader`/`status.peers` show ids as `host:<server port tag>` (Consul's 8300).
   */
  readonly rpcId: NodeId;
  /** Reported as the `build` tag and in `agent.self` (e.g. '1.0.0'). */
  readonly build: string;
  /** Consul ≥ 0.9: script checks registered through the API run only when true. */
  readonly enableScriptChecks: boolean;
  /** Script checks from config files run when this or `enableScriptChecks` is true. */
  readonly enableLocalScriptChecks: boolean;
  readonly nodeMeta?: Readonly<Record<string, string>>;
  /**
   * Legacy ACLs: when enabled, the leader makes sure the `anonymous` token and the master token
   * (a management token with this ID) exist. Every request a front end sends is authorized on its
   * type (core/agent/endpoints, through net/gate.ts). `defaultToken` (`acl_token`, `acl.tokens.default`)
   * is the token of requests that carry none where the agent itself asks: DNS.
   */
  readonly acl?: {
    readonly enabled: boolean;
    readonly masterToken?: string;
    readonly defaultPolicy: 'allow' | 'deny';
    readonly defaultToken?: string;
    /**
     * `acl_datacenter` / `primary_datacenter`: the authoritative DC, whose store holds the tokens. An
     * agent of another DC resolves tokens from it (over the WAN), caches each for `ttlMs`, and sends ACL
     * writes there. Absent: this DC.
     */
    readonly datacenter?: string;
    /**
     * `acl_down_policy`: what a token may do while the ACL datacenter cannot be asked — `allow` (all),
     * `deny` (nothing) or `extend-cache` (the last answer for that token, however old; deny without
     * one). Consul's default, and ours: extend-cache.
     */
    readonly downPolicy?: 'allow' | 'deny' | 'extend-cache';
    /** `acl_ttl`: how long a token resolved from another DC is used before it is asked again (ms; Consul 30 s). */
    readonly ttlMs?: number;
  };
  /** Services and checks from config files (reload replaces this set). */
  readonly services: readonly ServiceDefinition[];
  readonly checks: readonly CheckDefinition[];
  /** Gossip ids to join at start (`-join`, `-retry-join`); retried every `retryJoinIntervalMs` until one answers. */
  readonly startJoin: readonly NodeId[];
  /**
   * Gossip ids of servers in other datacenters to join in the WAN pool at start (`-join-wan`,
   * `-retry-join-wan`); retried like `startJoin`. Servers only.
   */
  readonly startJoinWan?: readonly NodeId[];
  /**
   * Whether a server hosts the WAN gossip pool (a second SWIM machine named 'wan', core/agent/wan.ts).
   * Default true, as every Consul server is in the WAN pool. The simulator turns it off in scenarios
   * without datacenters, so their runs keep the machines (and the draws) they always had.
   */
  readonly wanPool?: boolean;
  readonly timing: AgentTiming;
  /**
   * `performance.raft_multiplier` (1..10): Raft's timing scaled as Consul scales it (core/raft/config.ts
   * raftTimingFor). Unset: the profile's own (the real agent's default multiplier, or the sim's fast one).
   */
  readonly raftMultiplier?: number;
  /**
   * A server enters the Raft configuration (bootstrap-expect's count, the leader's reconcile) only after
   * it introduced itself on the server port (core/agent/hello.ts), not on gossip tags alone. On when TLS
   * verify_incoming guards the server port, where only a certified server can speak; without it gossip is
   * the credential (Consul's rule) and this adds nothing. Default off.
   */
  readonly authenticateServers?: boolean;
}

/** Timers of the agent; `agentTimingLan` gives Consul's values, `agentTimingSim` faster ones for tests. */
export interface AgentTiming {
  /** Period of the full anti-entropy sync. Consul scales 1 min with cluster size; shorter finds drift sooner at more RPC cost. */
  readonly antiEntropyIntervalMs: number;
  /**
   * How long after refuting a claim that it failed or left the agent runs a full sync (antiEntropy.ts
   * resyncAfterRefutation): long enough for the claim and the refutation to reach the leader by gossip.
   * Shorter may read the catalog before the leader deregistered the node; longer leaves a deregistered
   * node's services out of the catalog longer.
   */
  readonly refutedResyncMs: number;
  /** Delay before retrying a failed sync ("failed to sync remote state"); Consul uses ~15 s + jitter. */
  readonly syncRetryMs: number;
  /** How long a forwarded request waits for its answer before replying 500 rpc timeout (non-blocking reads and writes). */
  readonly rpcTimeoutMs: number;
  /**
   * Consul's rpc_hold_timeout (7 s): how long a request that failed because the leader is gone or
   * unknown is held and retried (against the new leader) before it answers "No cluster leader".
   * Longer rides out slower elections; shorter reports an outage sooner.
   */
  readonly rpcHoldTimeoutMs: number;
  /** Leader's reconcile period: re-applies serfHealth for every member, catching missed notices. */
  readonly reconcileIntervalMs: number;
  /** Leader's session TTL sweep period (TTL expiry may take up to 2×TTL, as in Consul). */
  readonly sessionSweepMs: number;
  /** Retry period of `startJoin`. */
  readonly retryJoinIntervalMs: number;
  /** Retry period of `startJoinWan` (`-retry-interval-wan`, retry_interval_wan). */
  readonly retryJoinWanIntervalMs: number;
  /** Bound on parked blocking queries on this agent; beyond it a read answers 500. */
  readonly blockingQueriesMax: number;
  /** Bound on requests forwarded and not yet answered; beyond it a request answers 500. */
  readonly pendingRpcMax: number;
  /**
   * Period of sending this node's network coordinate to the servers (Consul's
   * sync_coordinate_interval_min, 15 s; it also caps the cluster-wide rate at 64 updates/s).
   */
  readonly coordinateSyncIntervalMs: number;
  /**
   * How long the leader keeps a deleted KV key's tombstone before it proposes reaping it (Consul's
   * TombstoneTTL, 15 min; no user-facing flag in Consul). A tombstone holds the deleted key's index up, so
   * a blocking query or an anti-entropy reader that saw the key still sees the deletion as a change: the
   * TTL is how late such a reader may come back. Longer keeps more deleted keys in every replica's memory
   * and snapshots; shorter lets a slow reader miss a delete's index (it then sees the reap's, core/store
   * kv.ts kvReapedIndex, never an index that moved backward). core/agent/tombstones.ts.
   */
  readonly tombstoneTtlMs: number;
  /**
   * The leader batches tombstone expiries to this granularity (Consul's TombstoneTTLGranularity, 30 s):
   * every delete in one window is reaped by one Raft entry, and one timer ticks at this period while any
   * window is pending. A tombstone lives between TTL and TTL + 2 × granularity (Consul's: TTL + granularity,
   * core/agent/tombstones.ts says why). Coarser means fewer reap entries and later reaps.
   */
  readonly tombstoneGranularityMs: number;
}

export const agentTimingLan: AgentTiming = {
  antiEntropyIntervalMs: 60_000,
  refutedResyncMs: 2_000,
  syncRetryMs: 15_000,
  rpcTimeoutMs: 10_000,
  rpcHoldTimeoutMs: 7_000,
  reconcileIntervalMs: 60_000,
  sessionSweepMs: 1_000,
  retryJoinIntervalMs: 30_000,
  retryJoinWanIntervalMs: 30_000,
  blockingQueriesMax: 4096,
  pendingRpcMax: 4096,
  coordinateSyncIntervalMs: 15_000,
  tombstoneTtlMs: 15 * 60_000,
  tombstoneGranularityMs: 30_000,
};

/** Faster timers for the simulator: a short run sees several syncs and reconciles. */
export const agentTimingSim: AgentTiming = {
  antiEntropyIntervalMs: 5_000,
  refutedResyncMs: 1_000,
  syncRetryMs: 1_000,
  rpcTimeoutMs: 2_000,
  rpcHoldTimeoutMs: 2_000,
  reconcileIntervalMs: 3_000,
  sessionSweepMs: 500,
  // The SWIM sim profile's join retry, which the simulator always used (this field reached no machine
  // before the retry interval was wired to SWIM): the same value keeps every simulated run as it was.
  retryJoinIntervalMs: 5_000,
  retryJoinWanIntervalMs: 5_000,
  blockingQueriesMax: 1024,
  pendingRpcMax: 1024,
  coordinateSyncIntervalMs: 10_000,
  // Consul's values: no run of a minute reaps, so a scenario that deletes keys keeps its Raft log as it was;
  // `set tombstoneTtlMs` / `set tombstoneGranularityMs` shorten them where the reap is what is explored.
  tombstoneTtlMs: 15 * 60_000,
  tombstoneGranularityMs: 30_000,
};

/**
 * Bound on the leader's pending tombstone-GC windows (core/agent/tombstones.ts): a window is pending for
 * ceil(TTL / granularity) + 1 ticks, so at most that many are; the config keeps it within this.
 */
export const tombstoneBucketsMax = 1024;

/** Problems with a config, each naming the field. Empty when valid. */
export function validateAgentConfig(config: AgentConfig): string[] {
  const problems: string[] = [];
  if (!config.nodeName) problems.push('node_name: must not be empty');
  if (!config.datacenter || !/^[a-z0-9_-]+$/i.test(config.datacenter))
    problems.push(`datacenter: '${config.datacenter}' is not a valid name`);
  if (!config.server && (config.startJoinWan ?? []).length > 0)
    problems.push('retry_join_wan: joining the WAN pool is for servers only (-server)');
  if (!Number.isInteger(config.bootstrapExpect) || config.bootstrapExpect < 0)
    problems.push('bootstrap_expect: must be a non-negative integer');
  if (!config.server && (config.bootstrap || config.bootstrapExpect > 0))
    problems.push('bootstrap_expect: bootstrap mode is for servers only (-server)');
  if (config.bootstrap && config.bootstrapExpect > 1)
    problems.push('bootstrap_expect: -bootstrap and -bootstrap-expect > 1 are exclusive');
  for (const [name, port] of Object.entries(config.ports)) {
    if (!Number.isInteger(port) || port < -1 || port > 65535) problems.push(`ports.${name}: ${port} is not a port`);
  }
  if (
    config.raftMultiplier !== undefined &&
    !(Number.isInteger(config.raftMultiplier) && config.raftMultiplier >= 1 && config.raftMultiplier <= 10)
  )
    problems.push(`performance.raft_multiplier: cannot be ${config.raftMultiplier}; must be between 1 and 10`);
  const acl = config.acl;
  if (acl?.datacenter !== undefined && !/^[A-Za-z0-9_-]+$/.test(acl.datacenter))
    problems.push(`acl_datacenter: '${acl.datacenter}' is not a valid name`);
  if (acl?.ttlMs !== undefined && !(Number.isSafeInteger(acl.ttlMs) && acl.ttlMs >= 0))
    problems.push(`acl_ttl: ${acl.ttlMs} ms must be a non-negative whole number of milliseconds`);
  const t = config.timing;
  for (const [name, value] of Object.entries(t))
    if (!(typeof value === 'number' && value > 0)) problems.push(`timing.${name}: must be > 0`);
  if (t.tombstoneTtlMs / t.tombstoneGranularityMs > tombstoneBucketsMax - 1)
    problems.push(
      `timing.tombstoneGranularityMs: ${t.tombstoneGranularityMs} ms cuts the TTL of ${t.tombstoneTtlMs} ms into more than ${tombstoneBucketsMax - 1} windows`,
    );
  return problems;
}

/**
 * A config with Consul's defaults for everything not given (dc1, ports 8500/8600/8301/8302/8300,
 * client 127.0.0.1, script checks off, LAN timing). The CLI overlays flags and files on this; the
 * simulator overlays node names and `agentTimingSim`. Throws naming every bad field.
 */
export function makeAgentConfig(fields: Partial<AgentConfig> & Pick<AgentConfig, 'nodeName'>): AgentConfig {
  const config: AgentConfig = {
    datacenter: 'dc1',
    server: false,
    bootstrap: false,
    bootstrapExpect: 0,
    advertiseAddr: '127.0.0.1',
    clientAddr: '127.0.0.1',
    ports: { http: 8500, dns: 8600, serfLan: 8301, serfWan: 8302, server: 8300 },
    rpcId: fields.nodeName,
    build: '0.1.0',
    enableScriptChecks: false,
    enableLocalScriptChecks: false,
    services: [],
    checks: [],
    startJoin: [],
    timing: agentTimingLan,
    ...fields,
  };
  const problems = validateAgentConfig(config);
  if (problems.length > 0) throw new Error(`invalid agent config: ${problems.join('; ')}`);
  return config;
}
