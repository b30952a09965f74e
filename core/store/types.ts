/**
 * The replicated state store's data model, commands, queries and results (Consul's state store:
 * KV, transactions, sessions and locks, catalog and health).
 *
 * Records use Consul's own JSON field names (PascalCase) so the HTTP layer can encode them almost
 * directly; it only has to turn `Value` bytes into base64, `LockDelayMs`/`TtlMs` into Consul's
 * duration forms, and leave out nothing else. Commands and queries are plain data with a `type`
 * discriminator (msgpackr-encodable; no classes, no functions, no Maps). Command and query `type`
 * strings are wire enums: append-only.
 *
 * Time: the store never reads a clock. Anything that depends on time (session TTL deadlines,
 * lock-delay) uses a `nowMs` stamped into the command by the leader that proposed it, so every
 * replica computes the same state (Consul enforces lock-delay before commit on the leader for the
 * same reason: kvs_endpoint.go, "lock-delay must be enforced before commit").
 *
 * Flags are Consul uint64s (`KvFlags`): a number up to 2^53 − 1, and above that the exact decimal
 * digits as a string (Go's api.Lock marks its keys with 3304740253564472344, semaphores with
 * 16210313421097356768), so every value a Go client stores comes back to it digit for digit.
 */
import type { CheckStatus } from '../types.js';

// ───────────────────────────────────────────── limits ─────────────────────────────────────────────

/** Consul refuses KV values above 512 KiB (HTTP 413, `kv_max_value_size` default). */
export const kvValueBytesMax = 512 * 1024;
/** Consul's transaction limit in the 0.x/1.x docs we follow (newer docs say 128). */
export const txnOpsMax = 64;
/** Largest flags value (uint64). */
export const flagsMax = 18446744073709551615n;

/**
 * A KV entry's flags: a safe integer, or — above Number.MAX_SAFE_INTEGER only — the canonical
 * decimal digits of a uint64 (no sign, no leading zero). One value has one form, so `===` compares.
 */
export type KvFlags = number | string;

/** Is `x` a KvFlags in canonical form? */
export function isKvFlags(x: unknown): x is KvFlags {
  if (typeof x === 'number') return Number.isSafeInteger(x) && x >= 0;
  if (typeof x !== 'string' || !/^[1-9][0-9]{15,19}$/.test(x)) return false;
  const n = BigInt(x);
  return n > BigInt(Number.MAX_SAFE_INTEGER) && n <= flagsMax;
}

/** Flags from decimal text (a query string, a CLI flag, a JSON number kept as text); undefined if not a uint64. */
export function parseKvFlags(text: string): KvFlags | undefined {
  if (!/^[0-9]{1,20}$/.test(text)) return undefined;
  const n = BigInt(text);
  if (n > flagsMax) return undefined;
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
}
/** Consul's bounds on a session TTL (session_endpoint.go: 10 s .. 86400 s). */
export const sessionTtlMsMin = 10_000;
export const sessionTtlMsMax = 86_400_000;
/**
 * Consul lets a TTL session live up to twice its TTL before invalidating it (SessionTTLMultiplier),
 * so that a client renewing at TTL/2 survives a leader change and clock skew.
 */
export const sessionTtlMultiplier = 2;
/** Consul's default lock-delay for a session created without one. */
export const sessionLockDelayMsDefault = 15_000;
/** The check every node has, kept by the leader from gossip (Consul's `serfHealth`). */
export const serfCheckId = 'serfHealth';
export const serfCheckName = 'Serf Health Status';
export const serfOutputAlive = 'Agent alive and reachable';
export const serfOutputFailed = 'Agent not live or unreachable';
export const datacenterDefault = 'dc1';

// ───────────────────────────────────────────── records ────────────────────────────────────────────

/** One KV entry (Consul's DirEntry). Invariant: 1 ≤ CreateIndex ≤ ModifyIndex. */
export interface KvEntry {
  readonly Key: string;
  /** null for an empty value: Consul reads back an empty PUT body as `"Value": null`. */
  readonly Value: Uint8Array | null;
  readonly Flags: KvFlags;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
  /** How many times a lock on this key was newly acquired. Kept across release. */
  readonly LockIndex: number;
  /** The session holding the lock, '' when none. Invariant: names a live session. */
  readonly Session: string;
}

export type SessionBehavior = 'release' | 'delete';

export interface Session {
  readonly ID: string;
  readonly Name: string;
  readonly Node: string;
  /** Lock-delay in ms (Consul's JSON has nanoseconds: multiply by 1e6). 0 disables it. */
  readonly LockDelayMs: number;
  readonly Behavior: SessionBehavior;
  /** TTL in ms, 0 for none (Consul's JSON has a duration string such as "10s", "" when none). */
  readonly TtlMs: number;
  /** Node-level checks (check ids on `Node`) whose going critical invalidates the session. */
  readonly NodeChecks: readonly string[];
  /** Service checks (check ids on `Node`) whose going critical invalidates the session. */
  readonly ServiceChecks: readonly string[];
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

export interface CatalogNode {
  readonly ID: string;
  readonly Node: string;
  readonly Address: string;
  readonly Datacenter: string;
  readonly TaggedAddresses: Readonly<Record<string, string>>;
  readonly Meta: Readonly<Record<string, string>>;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

export interface CatalogService {
  readonly ID: string;
  readonly Service: string;
  readonly Tags: readonly string[];
  readonly Address: string;
  readonly Port: number;
  readonly Meta: Readonly<Record<string, string>>;
  readonly EnableTagOverride: boolean;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

export interface HealthCheck {
  readonly Node: string;
  readonly CheckID: string;
  readonly Name: string;
  readonly Status: CheckStatus;
  readonly Notes: string;
  readonly Output: string;
  /** '' for a node-level check. Invariant: names a service registered on `Node`. */
  readonly ServiceID: string;
  readonly ServiceName: string;
  readonly ServiceTags: readonly string[];
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

/** `GET /v1/catalog/service/<svc>` rows: the node's fields plus the service's, prefixed. */
export interface ServiceNode {
  readonly ID: string;
  readonly Node: string;
  readonly Address: string;
  readonly Datacenter: string;
  readonly TaggedAddresses: Readonly<Record<string, string>>;
  readonly NodeMeta: Readonly<Record<string, string>>;
  readonly ServiceID: string;
  readonly ServiceName: string;
  readonly ServiceTags: readonly string[];
  readonly ServiceAddress: string;
  readonly ServicePort: number;
  readonly ServiceMeta: Readonly<Record<string, string>>;
  readonly ServiceEnableTagOverride: boolean;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

/**
 * A prepared query (Consul's structs.PreparedQuery, `/v1/query`): a stored health query on a
 * service, run by ID or name. With a `Template` of type `name_prefix_match`, it answers every name
 * that starts with its `Name`, its `Service` strings interpolated from that name. Lives as long as
 * `Session` when one is given. Stored in Consul's JSON shape, every field present.
 */
export interface PreparedQueryDefinition {
  readonly ID: string;
  readonly Name: string;
  readonly Session: string;
  readonly Token: string;
  readonly Template: { readonly Type: string; readonly Regexp: string; readonly RemoveEmptyTags: boolean };
  readonly Service: {
    readonly Service: string;
    readonly Failover: { readonly NearestN: number; readonly Datacenters: readonly string[] | null };
    readonly OnlyPassing: boolean;
    readonly IgnoreCheckIDs: readonly string[] | null;
    readonly Near: string;
    readonly Tags: readonly string[] | null;
    readonly NodeMeta: Readonly<Record<string, string>> | null;
    readonly ServiceMeta: Readonly<Record<string, string>> | null;
  };
  readonly DNS: { readonly TTL: string };
}

export interface PreparedQuery extends PreparedQueryDefinition {
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

/** `GET /v1/health/service/<svc>` rows. `Checks` = the node's checks (serfHealth...) then the service's. */
export interface CheckServiceNode {
  readonly Node: CatalogNode;
  readonly Service: CatalogService;
  readonly Checks: readonly HealthCheck[];
}

// ───────────────────────────────────────────── commands ───────────────────────────────────────────

/** The writable fields of a KV entry in a command. `value` null or empty stores an empty value. */
export interface KvWrite {
  readonly key: string;
  readonly value: Uint8Array | null;
  /** 0 when omitted. A uint64 (see KvFlags). */
  readonly flags?: KvFlags;
}

/** Transaction verbs (Consul's api.KVOp strings; append-only). */
export type TxnVerb =
  | 'set'
  | 'cas'
  | 'lock'
  | 'unlock'
  | 'get'
  | 'get-tree'
  | 'check-index'
  | 'check-session'
  | 'check-not-exists'
  | 'delete'
  | 'delete-tree'
  | 'delete-cas'
  | 'get-or-empty';

export const txnVerbs: readonly TxnVerb[] = [
  'set',
  'cas',
  'lock',
  'unlock',
  'get',
  'get-tree',
  'check-index',
  'check-session',
  'check-not-exists',
  'delete',
  'delete-tree',
  'delete-cas',
  'get-or-empty',
];

/** One `{"KV": {...}}` operation of `PUT /v1/txn`; fields as Consul's TxnKVOp, camelCased. */
export interface TxnKvOp {
  readonly verb: TxnVerb;
  readonly key: string;
  readonly value?: Uint8Array | null;
  readonly flags?: KvFlags;
  /** ModifyIndex for cas, check-index and delete-cas. */
  readonly index?: number;
  /** Session for lock, unlock and check-session. */
  readonly session?: string;
}

export interface SessionSpec {
  /** Chosen by the proposer (a UUID drawn from its prng); the store refuses a duplicate. */
  readonly id: string;
  readonly name?: string;
  readonly node: string;
  /** Node checks; Consul defaults to ['serfHealth'] when neither list is given. */
  readonly nodeChecks?: readonly string[];
  readonly serviceChecks?: readonly string[];
  /** ms; default `sessionLockDelayMsDefault`; 0 disables. */
  readonly lockDelayMs?: number;
  readonly behavior?: SessionBehavior;
  /** ms; 0 or absent for none; else in [sessionTtlMsMin, sessionTtlMsMax]. */
  readonly ttlMs?: number;
}

export interface NodeSpec {
  readonly node: string;
  readonly address: string;
  readonly id?: string;
  readonly datacenter?: string;
  readonly taggedAddresses?: Readonly<Record<string, string>>;
  readonly meta?: Readonly<Record<string, string>>;
}

export interface ServiceSpec {
  readonly id?: string; // defaults to `service`
  readonly service: string;
  readonly tags?: readonly string[];
  readonly address?: string;
  readonly port?: number;
  readonly meta?: Readonly<Record<string, string>>;
  readonly enableTagOverride?: boolean;
}

export interface CheckSpecRecord {
  readonly checkId?: string; // defaults to `name`
  readonly name: string;
  readonly status?: CheckStatus; // default critical, as Consul's catalog does
  readonly notes?: string;
  readonly output?: string;
  readonly serviceId?: string;
}

/** Gossip status the leader reports for a member (Consul leader.go: handleAlive/Failed/LeftMember). */
export type MemberHealth = 'alive' | 'failed' | 'left';

/**
 * A command applied through Raft. `nowMs` is the proposing leader's clock at proposal time; it is
 * required wherever a session may be invalidated (lock-delay starts then) or a deadline is set.
 */
export type StoreCommand =
  | { readonly type: 'kvSet'; readonly entry: KvWrite }
  /** `cas` 0: create only if absent; N: only if the entry's ModifyIndex is N. */
  | { readonly type: 'kvCas'; readonly entry: KvWrite; readonly cas: number }
  | { readonly type: 'kvDelete'; readonly key: string }
  /** Deletes only if ModifyIndex == cas. A missing key answers true (Consul kvsDeleteCASTxn). */
  | { readonly type: 'kvDeleteCas'; readonly key: string; readonly cas: number }
  /** Deletes every key starting with `prefix`; '' wipes the store. */
  | { readonly type: 'kvDeleteTree'; readonly prefix: string }
  | { readonly type: 'kvLock'; readonly entry: KvWrite; readonly session: string; readonly nowMs: number }
  | { readonly type: 'kvUnlock'; readonly entry: KvWrite; readonly session: string }
  | { readonly type: 'txn'; readonly ops: readonly TxnKvOp[]; readonly nowMs: number }
  | { readonly type: 'sessionCreate'; readonly session: SessionSpec; readonly nowMs: number }
  /** Pushes a TTL session's deadline to nowMs + ttl × multiplier. Does not change ModifyIndex. */
  | { readonly type: 'sessionRenew'; readonly id: string; readonly nowMs: number }
  | { readonly type: 'sessionDestroy'; readonly id: string; readonly nowMs: number }
  /** Leader-issued: invalidates every TTL session whose deadline ≤ nowMs. */
  | { readonly type: 'sessionsExpire'; readonly nowMs: number }
  /**
   * Leader-issued on gaining leadership (Consul initializeSessionTimers): every TTL deadline becomes
   * nowMs + ttl × multiplier, so a new leader whose clock runs ahead does not expire sessions early.
   */
  | { readonly type: 'sessionTimersReset'; readonly nowMs: number }
  | {
      readonly type: 'catalogRegister';
      readonly node: NodeSpec;
      readonly service?: ServiceSpec;
      readonly checks?: readonly CheckSpecRecord[];
      /** Consul's SkipNodeUpdate: register a service/check without touching the node record. */
      readonly skipNodeUpdate?: boolean;
      readonly nowMs: number;
    }
  /** Only node; node + serviceId; or node + checkId (Consul: only a node-level delete removes the node). */
  | {
      readonly type: 'catalogDeregister';
      readonly node: string;
      readonly serviceId?: string;
      readonly checkId?: string;
      readonly nowMs: number;
    }
  /** Leader-issued from SWIM: alive → serfHealth passing, failed → critical, left → deregister node. */
  | {
      readonly type: 'memberHealth';
      readonly node: string;
      readonly address: string;
      readonly health: MemberHealth;
      /** Servers also register service `consul` on this port (Consul: 8300). */
      readonly serverPort?: number;
      readonly nowMs: number;
    }
  /** Leader-issued tombstone GC (Consul's TombstoneRequest reap): drops tombstones with index ≤ upToIndex. */
  | { readonly type: 'tombstonesReap'; readonly upToIndex: number }
  /**
   * Creates (`create`, the ID drawn by the proposer) or replaces a prepared query. The proposer has
   * validated what needs a regexp engine (the template); the store checks names and the session.
   */
  | { readonly type: 'preparedQuerySet'; readonly query: PreparedQueryDefinition; readonly create: boolean }
  | { readonly type: 'preparedQueryDelete'; readonly id: string }
  /** Replace the whole store with a snapshot (`PUT /v1/snapshot`); applied by the Fsm itself. */
  | { readonly type: 'snapshotRestore'; readonly snapshot: unknown; readonly nowMs: number }
  /** Legacy ACL tokens (core/store/acl.ts): `create` refuses an existing ID. */
  | {
      readonly type: 'aclSet';
      readonly acl: {
        readonly ID: string;
        readonly Name: string;
        readonly Type: 'client' | 'management';
        readonly Rules: string;
      };
      readonly create: boolean;
    }
  | { readonly type: 'aclDelete'; readonly id: string }
  /** Agents' network coordinates (Consul's Coordinate.Update, batched); unknown nodes are skipped. */
  | {
      readonly type: 'coordinateBatchUpdate';
      readonly updates: readonly { readonly Node: string; readonly Coord: unknown }[];
    };

export type StoreCommandType = StoreCommand['type'];

/** What `apply` returns. `error` texts are Consul's messages, for the HTTP layer to pass on. */
export type CommandResult<T = unknown> =
  | {
      readonly ok: true;
      readonly value: T;
      /**
       * Set (only) by the FSM's `apply` when the leader's tombstone GC should hear of this index
       * (core/agent/tombstones.ts): the apply left tombstones — Consul's state store hints its TombstoneGC
       * at every graveyard insert — or it is a new leader's `sessionTimersReset` while tombstones are kept
       * (Consul's leader hints its last index on gaining leadership). Tombstones are reaped only up to a
       * hinted index. The proposer takes it off before the result goes anywhere else.
       */
      readonly tombstoneHint?: true;
    }
  | { readonly ok: false; readonly error: string };

export interface TxnError {
  readonly OpIndex: number;
  readonly What: string;
}

/** `PUT /v1/txn` outcome: results (200) or errors (409), never both. Result values are blanked except for get verbs. */
export type TxnOutcome =
  | { readonly Results: readonly { readonly KV: KvEntry }[]; readonly Errors: null }
  | { readonly Results: null; readonly Errors: readonly TxnError[] };

// ───────────────────────────────────────────── queries ────────────────────────────────────────────

export type HealthStateFilter = 'any' | CheckStatus;

export type StoreQuery =
  | { readonly type: 'kvGet'; readonly key: string }
  | { readonly type: 'kvList'; readonly prefix: string }
  | { readonly type: 'kvKeys'; readonly prefix: string; readonly separator?: string }
  /** Value: epoch ms until which `key` cannot be locked (0 = none). Index: the key's. */
  | { readonly type: 'kvLockDelay'; readonly key: string }
  | { readonly type: 'sessionInfo'; readonly id: string }
  | { readonly type: 'sessionList' }
  | { readonly type: 'sessionNode'; readonly node: string }
  /** Value: the earliest TTL deadline (ms) or null; the leader arms its expiry timer from it. */
  | { readonly type: 'sessionExpiryNext' }
  | { readonly type: 'catalogNodes' }
  | { readonly type: 'catalogServices' }
  /** `tag`: one tag, or several that must all match (repeated `?tag=`); case-insensitive, as Consul. */
  | { readonly type: 'catalogService'; readonly service: string; readonly tag?: string | readonly string[] }
  | { readonly type: 'catalogNode'; readonly node: string }
  | { readonly type: 'healthState'; readonly state: HealthStateFilter }
  | { readonly type: 'healthNode'; readonly node: string }
  | { readonly type: 'healthChecks'; readonly service: string }
  | {
      readonly type: 'healthService';
      readonly service: string;
      readonly tag?: string | readonly string[];
      readonly passing?: boolean;
    }
  /** The change index of the query named (queries.ts changeIndex): what a parked blocking reader waits on. */
  | { readonly type: 'index'; readonly of: StoreQuery }
  | { readonly type: 'preparedQueryList' }
  /** Value: the whole store as a snapshot (`GET /v1/snapshot`); answered by the Fsm itself. */
  | { readonly type: 'snapshot' }
  /** Value: the ACL token with that ID, or null. */
  | { readonly type: 'aclGet'; readonly id: string }
  /** Value: every ACL token, sorted by ID. */
  | { readonly type: 'aclList' }
  /** `[{Node, Segment, Coord}]` sorted by node; with `node`, that node's only (or none). */
  | { readonly type: 'coordinateNodes'; readonly node?: string }
  /**
   * `/v1/coordinate/datacenters`: `[{Datacenter, AreaID: "wan", Coordinates: [{Node: "<server>.<dc>",
   * Coord}]}]`. There is no WAN pool here: the coordinates are the servers' LAN ones.
   */
  | { readonly type: 'coordinateDatacenters'; readonly datacenter: string }
  /** Value: the query with that ID, or null. */
  | { readonly type: 'preparedQueryGet'; readonly id: string }
  /** Value: the query an ID or name resolves to, templates rendered for that name; null when none. */
  | { readonly type: 'preparedQueryExplain'; readonly idOrName: string }
  /**
   * Resolves like explain, then runs the query (Consul's PreparedQuery.Execute in one datacenter):
   * healthy instances, shuffled with `seed`, the `near` node (or the query's Near; `_agent` is
   * `agentNode`) moved first, cut to `limit`. Value: `{ Query, Nodes }` or null.
   */
  | {
      readonly type: 'preparedQueryExecute';
      readonly idOrName: string;
      readonly near?: string;
      readonly limit?: number;
      readonly agentNode: string;
      readonly seed: number;
      /** The asking agent's datacenter, echoed in the answer's `Datacenter`. */
      readonly datacenter: string;
    }
  /**
   * A query another datacenter resolved, run here for its failover (Consul's
   * PreparedQuery.ExecuteRemote): healthy instances filtered as the query says, shuffled with `seed`
   * and cut to `limit`. No `near` sort: the asking DC's coordinates do not compare with ours. Value:
   * `{ Query, Nodes, Datacenter }` with `datacenter` (this DC) echoed.
   */
  | {
      readonly type: 'preparedQueryExecuteRemote';
      readonly query: PreparedQueryDefinition;
      readonly limit?: number;
      readonly seed: number;
      readonly datacenter: string;
    };

/** Every read answers its data and the index Consul would put in X-Consul-Index (≥ 1). */
export interface QueryResult<T = unknown> {
  readonly index: number;
  readonly value: T;
  /**
   * Present when lower than `index`: an absent KV answer (a missing key, an empty prefix), whose index
   * is the KV table's. A blocking reader parks on this instead (queries.ts changeIndex): unrelated
   * writes move the table's index but not this. Never sent to a client.
   */
  readonly changeIndex?: number;
}

/** What `query` returns for a malformed query (never thrown). */
export interface QueryError {
  readonly index: number;
  readonly error: string;
}
