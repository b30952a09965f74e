/**
 * Raft's contract with the rest of the node (owned by core/raft; read by the agent, the state store
 * and the simulator). Raft is a `Machine` named 'raft'. It replicates opaque commands and applies
 * them, in log order, to an `Fsm` that lives inside its state.
 *
 * Callers reach Raft two ways with the same shapes:
 *  - as a node-level client request `{ machine: 'raft', body: RaftRequest }` → `reply` RaftResponse;
 *  - from a sibling machine (the agent) as a `local` effect with payload `RaftLocalCall`; Raft answers
 *    with a `local` effect back to the caller carrying `RaftLocalReply`.
 * Raft also tells `config.observer` (a sibling machine name, optional) about progress with `local`
 * effects carrying `RaftNotice`. Both are `RaftLocalOutput`, told apart by `type`.
 *
 * NodeIds are opaque: node names in the simulator, server RPC addresses (`ip:8300`) in the agent.
 */
import type { NodeId } from '../types.js';

/** The replicated state machine. Deterministic: the same commands in the same order give the same results. */
export interface Fsm {
  /** Applies a committed command at `index` (never 0, strictly increasing) and returns its result. */
  apply(command: unknown, index: number): unknown;
  /** Answers a read-only query against the current state. Must not change the state. */
  query(query: unknown): unknown;
  /** A plain-data copy of the whole state (msgpackr-encodable), for snapshots. */
  snapshot(): unknown;
  /** Replaces the whole state with a snapshot's. */
  restore(snapshot: unknown): void;
}

export type FsmFactory = () => Fsm;

export type RaftRequest =
  /**
   * Replicate `command`. With `session`, a retried command (same clientId, seq ≤ last applied) is
   * answered with the cached result instead of applying twice (thesis §6.3).
   */
  | {
      readonly type: 'propose';
      readonly command: unknown;
      readonly session?: { readonly clientId: string; readonly seq: number };
    }
  /** Linearizable read: ReadIndex round (thesis §6.4), then `fsm.query(query)` once applied that far. */
  | { readonly type: 'read'; readonly query: unknown }
  /** Local read on any node, any role; may be stale. The response carries the last-contact age. */
  | { readonly type: 'readStale'; readonly query: unknown }
  /** One server at a time (thesis §4.1). A non-voter (learner) catches up, then may be promoted. */
  | { readonly type: 'addServer'; readonly id: NodeId; readonly voter: boolean }
  | { readonly type: 'removeServer'; readonly id: NodeId }
  /** Leadership transfer (thesis §3.10, TimeoutNow); `to` omitted = the most up-to-date follower. */
  | { readonly type: 'transferLeadership'; readonly to?: NodeId }
  /** Start the cluster with these voters (bootstrap-expect reached, or a single-server bootstrap). */
  | { readonly type: 'bootstrap'; readonly servers: readonly NodeId[] }
  /** This node's view; with `progress`, a leader adds its replication view of every member (autopilot). */
  | { readonly type: 'status'; readonly progress?: boolean; readonly ids?: boolean };

export type RaftResponse = RaftAnswer<RaftRequest['type']>;

/**
 * The answer to one request type: `result` is typed where Raft itself produces it (`status` answers
 * this node's `RaftView`); the FSM's answers (propose, read, readStale) are the FSM's business and stay
 * `unknown` here. A caller that sent a `status` request may read `result` as a view without a cast.
 */
export type RaftAnswer<T extends RaftRequest['type']> = RaftSuccess<RaftResults[T]> | RaftFailure;

export interface RaftSuccess<Result = unknown> {
  readonly ok: true;
  readonly index: number;
  readonly result: Result;
  /** readStale: ms since this server last heard from a leader (0 on the leader), −1 if it never did. */
  readonly lastContactMs?: number;
}

export interface RaftFailure {
  readonly ok: false;
  readonly error: RaftError;
  readonly leader: NodeId | null;
  readonly detail?: string;
}

/** `result` of a successful answer, by request type (see `RaftAnswer`). */
export interface RaftResults {
  readonly propose: unknown;
  readonly read: unknown;
  readonly readStale: unknown;
  readonly addServer: unknown;
  readonly removeServer: unknown;
  readonly transferLeadership: unknown;
  readonly bootstrap: unknown;
  readonly status: RaftView;
}

/** Why a request failed. `notLeader` with a known leader means: retry there. Append-only. */
export type RaftError = 'notLeader' | 'noLeader' | 'busy' | 'badRequest' | 'stepDown' | 'timeout';

export interface RaftLocalCall {
  readonly requestId: number;
  readonly request: RaftRequest;
}

/** A `local` input Raft receives: a call from any sibling (checked like a client's request). */
export interface RaftLocalInput {
  readonly fromMachine: string;
  readonly payload: RaftLocalCall;
}

export interface RaftLocalReply {
  readonly type: 'reply';
  readonly requestId: number;
  readonly response: RaftResponse;
}

/** Every payload Raft addresses to a sibling: answers to its local calls and notices to the observer. */
export type RaftLocalOutput = RaftLocalReply | RaftNotice;

export type RaftNotice =
  /** Applied index advanced; `results` would be too large to pass, so watchers re-query. */
  | { readonly type: 'applied'; readonly index: number }
  /** This node's view of the leader changed (or it became / stopped being leader). */
  | { readonly type: 'leader'; readonly leader: NodeId | null; readonly term: number; readonly isLeader: boolean }
  /** A member answered with another server id than the one on record (identity.ts): it lost its data. */
  | {
      readonly type: 'serverIdMismatch';
      readonly server: NodeId;
      readonly recordedId: string;
      readonly seenId: string;
    };

/** What `view()` returns; the TUI and summaries read these names. */
export interface RaftView {
  readonly role: 'follower' | 'candidate' | 'leader' | 'learner' | 'precandidate';
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly voters: readonly NodeId[];
  /** Non-voting members (learners) of the configuration in force. */
  readonly learners: readonly NodeId[];
  /** Log index of the configuration in force (Consul's `operator/raft/configuration` Index). */
  readonly membershipIndex: number;
  /** This server's durable id (identity.ts; Consul's raft server ID). */
  readonly serverId: string;
  /** The server id recorded for each member by name (a member missing here has none on record yet). */
  readonly ids: Readonly<Record<NodeId, string>>;
  /**
   * Members whose messages carry another id than the one on record: they lost their data and came back
   * under the old name. They count for nothing until the old entry is removed and they are added again
   * (the agent's leader does it; `operator raft remove-peer` does it by hand).
   */
  readonly idMismatches: readonly { readonly server: NodeId; readonly recordedId: string; readonly seenId: string }[];
  /**
   * Asked with `progress` on a leader: each other member of the configuration as replication knows it
   * (Consul's autopilot server health, seen from the leader).
   */
  readonly progress?: readonly MemberProgress[];
  /** With `progress`: the heartbeat interval in force (ms), what a last contact is measured against. */
  readonly heartbeatIntervalMs?: number;
  /**
   * Asked with `ids`: the id this server knows each member by — the one on record, else the first its
   * messages carried here — for a server about to bootstrap (core/agent/bootstrap.ts).
   */
  readonly knownIds?: Readonly<Record<NodeId, string>>;
}

export interface MemberProgress {
  readonly id: NodeId;
  /** Highest index known to match the leader's log. */
  readonly match: number;
  /** The term of the leader's entry at `match` (matching logs agree on it); 0 when nothing matches yet. */
  readonly matchTerm: number;
  /** When it last answered at this term (local ms); leadership start when it never has. */
  readonly lastAckMs: number;
}
