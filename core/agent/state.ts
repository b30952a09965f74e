/**
 * The agent machine's state. One value per node, mutated in place by `step` (core/types.ts).
 *
 * Pending work that waits for a sibling (Raft, SWIM) or a peer (a forwarded RPC) is kept as a
 * continuation keyed by a call id: the agent is event-driven, never awaits, and a reply that arrives
 * after its timer fired finds nothing and is dropped.
 */
import type { RaftLocalCall, RaftLocalOutput, RaftResponse } from '../raft/api.js';
import type { Member, SwimLocalCall, SwimLocalOutput, SwimResponse } from '../swim/api.js';
import { traceEffect, type TraceEvent } from '../trace.js';
import { assert } from '../assert.js';
import { startNonceMax, type StepContext, type NodeId, type CheckSpec, type CheckStatus } from '../types.js';
import type { AgentConfig, AgentRequest, AgentResponse, ServiceDefinition } from './api.js';
import type { HeldRequest } from './hold.js';
import type { ServerOp, ServerResult } from './ops.js';
import type { AclToken } from '../store/acl.js';

/** What a step handler needs besides the state: the context and the node's clock. */
export interface Env {
  readonly ctx: StepContext<unknown, unknown, AgentLocalOutput>;
  readonly nowMs: number;
}

/** The local calls the agent addresses to its siblings (answered as `AgentLocalInput` replies). */
export type AgentLocalOutput =
  | { readonly toMachine: 'raft'; readonly payload: RaftLocalCall }
  | { readonly toMachine: 'swim'; readonly payload: SwimLocalCall }
  /** The WAN pool: a second SWIM on servers (core/agent/wan.ts). */
  | { readonly toMachine: 'wan'; readonly payload: SwimLocalCall };

/**
 * What the agent's siblings address to it: Raft's and SWIM's answers to its calls and their notices
 * (both are mounted with `observer: 'agent'`, mounts.ts). A client agent has no Raft, so only SWIM's.
 */
export type AgentLocalInput =
  | { readonly fromMachine: 'raft'; readonly payload: RaftLocalOutput }
  | { readonly fromMachine: 'swim'; readonly payload: SwimLocalOutput }
  | { readonly fromMachine: 'wan'; readonly payload: SwimLocalOutput };

/** Where the answer to a server op goes. */
export type Origin =
  /** A client request on this node: render and `reply`. */
  | { readonly kind: 'client'; readonly requestId: number; readonly request: AgentRequest }
  /** Another agent forwarded it: answer with an `rpcReply` on the stream channel. */
  | { readonly kind: 'remote'; readonly from: NodeId; readonly id: number }
  /** The agent's own work (anti-entropy, reconcile, sweeps): call `then`. */
  | { readonly kind: 'internal'; readonly what: string; readonly then: (result: ServerResult, env: Env) => void };

/**
 * A local call to Raft or SWIM waiting for its answer: which sibling owes it and what to do with the
 * answer. The answer is typed by the sibling's API (rpc.ts `callRaft` narrows Raft's by request type).
 */
export type LocalCall =
  | { readonly machine: 'raft'; readonly then: (response: RaftResponse, env: Env) => void }
  | { readonly machine: 'swim' | 'wan'; readonly then: (response: SwimResponse, env: Env) => void };

/** A server op forwarded to a peer and not yet answered. */
export interface PendingRpc {
  readonly origin: Origin;
  readonly to: NodeId;
  readonly op: ServerOp;
}

/** A blocking read parked until the index passes `minIndex` or `deadlineMs`. */
export interface ParkedRead {
  readonly id: number;
  readonly op: ServerOp & { readonly kind: 'read' };
  readonly origin: Origin;
  readonly deadlineMs: number;
  readonly knownLeader: boolean;
  /** A recheck is in flight (a local readStale); do not start another. */
  checking: boolean;
  /** Another applied notice arrived while checking: recheck again when it answers. */
  dirty: boolean;
}

/**
 * A parked `event.list` (woken by user events). Keyed by the client's request id when it was asked
 * here (`origin` absent: answer with `reply`); by a negative id when another agent forwarded it with
 * `?dc=` (`origin` set: answer through `deliver`).
 */
export interface ParkedEvents {
  readonly requestId: number;
  readonly request: AgentRequest & { readonly type: 'event.list' };
  readonly minIndex: number;
  readonly deadlineMs: number;
  readonly origin?: Origin;
}

export type Source = 'file' | 'api';

/** A service this agent hosts (Consul's local state). */
export interface LocalService {
  readonly id: string;
  readonly service: string;
  readonly tags: readonly string[];
  readonly address: string;
  readonly port: number;
  readonly meta: Readonly<Record<string, string>>;
  readonly enableTagOverride: boolean;
  readonly source: Source;
  /** The definition it came from (reload compares definitions). */
  readonly definition: ServiceDefinition;
  inSync: boolean;
  /** Bumped by every local change; a sync marks inSync only if the version it sent is still current. */
  version: number;
}

/** How a check gets its status. */
export type CheckRunner =
  | { readonly kind: 'ttl'; readonly ttlMs: number }
  | { readonly kind: 'monitor'; readonly spec: CheckSpec; readonly intervalMs: number; readonly timeoutMs: number }
  /** Status is set by the agent itself (maintenance) or only by the API (no runner). */
  | { readonly kind: 'none' };

export interface LocalCheck {
  readonly id: string;
  readonly name: string;
  readonly notes: string;
  readonly serviceId: string;
  readonly serviceName: string;
  status: CheckStatus;
  output: string;
  readonly runner: CheckRunner;
  readonly source: Source;
  /** Definition from a config file or the API (reload compares definitions; JSON of it). */
  readonly definitionKey: string;
  /** Distinguishes this registration from a former one with the same id (stale check results). */
  readonly generation: number;
  inSync: boolean;
  version: number;
}

/**
 * The leader's tombstone GC (tombstones.ts). Invariants: no windows and no tick armed unless `enabled`; the
 * tick is armed exactly when a window is pending; at most tombstoneBucketsMax windows.
 */
export interface TombstoneGc {
  /** This server leads and collects hints (Consul's TombstoneGC.SetEnabled). */
  enabled: boolean;
  /** Granularity ticks fired since the GC was enabled: the current window's number. */
  tick: number;
  /** The `tombstoneGc` tick timer is armed (one timer, whatever the number of windows). */
  ticking: boolean;
  /** Window (the tick number when its hints came) → the highest index hinted into it. */
  readonly windows: Map<number, number>;
}

export interface AgentState {
  readonly config: AgentConfig;
  readonly nodeName: string;
  readonly nodeId: string;
  readonly hasRaft: boolean;

  // ── calls in flight ──
  /**
   * The id of the next local call or RPC. It starts at a base drawn from the start's nonce (callIdBaseOf),
   * not at 1: a server answers an RPC to the process that sent it by its id alone, and a process that
   * restarted fast would otherwise take a late answer meant for its predecessor's call (a blocking read
   * parked on a server, a reply re-sent when the connection dropped) for the answer to its own call with
   * the same id. Invariant: a safe integer.
   */
  nextCallId: number;
  readonly localCalls: Map<number, LocalCall>;
  readonly pendingRpcs: Map<number, PendingRpc>;
  nextParkId: number;
  readonly parked: Map<number, ParkedRead>;
  readonly parkedEvents: Map<number, ParkedEvents>;
  /** Requests held for a leader (hold.ts), by id; bounded by timing.pendingRpcMax. */
  readonly held: Map<number, HeldRequest>;
  /** Client requests in flight at this edge: when they started, and when their hold gives up once one began. */
  readonly holdsByOrigin: Map<
    Origin,
    { readonly firstMs: number; readonly deadlineMs: number | null; readonly firstOp?: ServerOp }
  >;

  // ── gossip view (SWIM notices) ──
  readonly members: Map<NodeId, Member>;
  /** The server this client agent currently sends RPCs to (sticky until it fails). */
  preferredServer: NodeId | null;
  joined: boolean;
  /** The WAN pool's servers by member id (servers with a WAN pool only; core/agent/wan.ts). */
  readonly wanMembers: Map<NodeId, Member>;
  /** Servers of other DCs that let a forwarded request time out, and until when they are tried last. */
  readonly wanSlowUntilMs: Map<NodeId, number>;
  /**
   * The RPC replies this agent sent to each peer lately (rpc.ts keepReply): re-sent when its
   * connection to that peer drops, because a reply is lost with the connection it travelled on and
   * its requester, whose own connection is fine, hears nothing; `resends` counts the copies sent so far.
   * Invariant: per peer at most repliesKeptMax, oldest first; resends < replyResendsMax.
   */
  readonly recentReplies: Map<
    NodeId,
    { readonly id: number; readonly result: unknown; readonly atMs: number; readonly resends: number }[]
  >;
  /**
   * Tokens resolved from the ACL datacenter when that is another DC (core/agent/acl.ts), by id, with
   * when they were fetched; used for `acl_ttl`, and past it by `acl_down_policy` extend-cache. Bounded
   * by `aclCacheEntriesMax` (oldest out first).
   */
  readonly aclCache: Map<string, { readonly token: AclToken; readonly fetchedMs: number }>;
  /** Autopilot (leader): each server's health at the last health query and since when (autopilot.ts). */
  readonly autopilotStable: Map<string, { healthy: boolean; sinceMs: number }>;

  // ── raft view (servers; RaftNotice) ──
  leader: NodeId | null;
  isLeader: boolean;
  term: number;
  appliedIndex: number;
  bootstrapped: boolean;
  /** bootstrap requested and not answered yet. */
  bootstrapping: boolean;

  // ── leader duties ──
  /** Health this leader has written for each member during its term (reset on gaining leadership). */
  readonly reconciled: Map<string, string>;
  /** Members whose memberHealth write is in flight. */
  readonly reconciling: Set<string>;
  sessionSweepArmed: boolean;
  /** The leader's tombstone GC windows (tombstones.ts); disabled and empty on every other server. */
  readonly tombstoneGc: TombstoneGc;
  /** A raft membership change is in flight (one at a time, thesis §4.1). */
  membershipChanging: boolean;
  /**
   * Servers that introduced themselves on the server port (hello.ts), with when we last heard them;
   * insertion order is eviction order (bounded by serversHeardMax). Only these are added to Raft when
   * `authenticateServers` is on.
   */
  readonly serversHeard: Map<NodeId, number>;

  // ── local services and checks, anti-entropy ──
  readonly services: Map<string, LocalService>;
  readonly checks: Map<string, LocalCheck>;
  /** Ids removed locally and not yet removed from the catalog. */
  readonly deregisterServices: Set<string>;
  readonly deregisterChecks: Set<string>;
  nodeInSync: boolean;
  syncing: boolean;
  syncAgain: boolean;
  /** The sync timer is armed (a retry or a coalesced sync-on-change). */
  syncArmed: boolean;
  /** A full sync is armed sooner than its period because this agent refuted a claim (antiEntropy.ts). */
  refutedResyncArmed: boolean;
  /** A full sync came due during a push: it runs when the push chain ends (antiEntropy.ts). */
  fullSyncAgain: boolean;
  /** API calls answered once the local state is synced (or the sync failed, or after a bound): Consul's syncChanges. */
  readonly syncWaiters: Map<number, (env: Env) => void>;
  nextSyncWaiter: number;
  nextCheckGeneration: number;
  nodeMaintenance: boolean;
  /** This agent left the cluster gracefully: it no longer syncs (Consul's agent shuts down after a leave). */
  left: boolean;

  // ── events (Serf user events this agent saw, newest last) ──
  readonly events: UserEventRecord[];

  // ── counters (metrics) ──
  readonly counters: Record<string, number>;
}

export interface UserEventRecord {
  readonly ID: string;
  readonly Name: string;
  readonly Payload: Uint8Array | null;
  readonly NodeFilter: string;
  readonly ServiceFilter: string;
  readonly TagFilter: string;
  readonly Version: 1;
  readonly LTime: number;
}

/** Consul keeps the last 256 user events (agent/user_event.go userEventBufferSize... 256). */
export const eventsKeptMax = 256;

export function initialState(config: AgentConfig, hasRaft: boolean, nodeId: string): AgentState {
  return {
    config,
    nodeName: config.nodeName,
    nodeId,
    hasRaft,
    nextCallId: 1,
    localCalls: new Map(),
    pendingRpcs: new Map(),
    nextParkId: 1,
    parked: new Map(),
    parkedEvents: new Map(),
    held: new Map(),
    holdsByOrigin: new Map(),
    members: new Map(),
    preferredServer: null,
    joined: false,
    wanMembers: new Map(),
    wanSlowUntilMs: new Map(),
    recentReplies: new Map(),
    aclCache: new Map(),
    autopilotStable: new Map(),
    leader: null,
    isLeader: false,
    term: 0,
    appliedIndex: 0,
    bootstrapped: false,
    bootstrapping: false,
    reconciled: new Map(),
    reconciling: new Set(),
    sessionSweepArmed: false,
    tombstoneGc: { enabled: false, tick: 0, ticking: false, windows: new Map() },
    membershipChanging: false,
    serversHeard: new Map(),
    services: new Map(),
    checks: new Map(),
    deregisterServices: new Set(),
    deregisterChecks: new Set(),
    nodeInSync: false,
    syncing: false,
    syncAgain: false,
    syncArmed: false,
    refutedResyncArmed: false,
    fullSyncAgain: false,
    syncWaiters: new Map(),
    nextSyncWaiter: 1,
    nextCheckGeneration: 1,
    nodeMaintenance: false,
    left: false,
    events: [],
    counters: {},
  };
}

/**
 * The first call id of a process started with `startNonce` (core/types.ts): a random point among 2^48,
 * so two processes of one agent use overlapping ranges only when their bases fall within the calls they
 * make of each other — for two processes of a million calls each, a chance of about 2^21 / 2^48, one in
 * 2^27. Ids stay safe integers for 2^53 − 2^48 calls after it.
 */
export function callIdBaseOf(startNonce: number): number {
  assert(
    Number.isSafeInteger(startNonce) && startNonce >= 0 && startNonce < startNonceMax,
    `start nonce ${startNonce} is not an integer in [0, 2^48)`,
  );
  return 1 + startNonce;
}

export function count(s: AgentState, name: string, by = 1): void {
  s.counters[name] = (s.counters[name] ?? 0) + by;
}

/** Emits a typed trace event (core/trace.ts) at its type's level. */
export function trace(env: Env, event: TraceEvent): void {
  env.ctx.emit(traceEffect(event));
}

/** `early`: the answer carries a server's result only, so it need not wait for this node's syncs (ReplyEffect.early). */
export function reply(env: Env, requestId: number, response: AgentResponse, early = false): void {
  env.ctx.emit(early ? { kind: 'reply', requestId, response, early } : { kind: 'reply', requestId, response });
}
