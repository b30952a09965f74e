/**
 * The core contract. A node is a state value plus a step: state + one input → effects.
 *
 * Everything in core/ is a pure, deterministic function of its inputs: time arrives only as `nowMs` on
 * inputs, randomness only from the injected `Prng`. The two drivers — the simulator (sim/) and the real
 * agent (net/) — feed inputs and carry out effects. Nothing here imports a Node module, reads a clock,
 * or performs I/O (a test enforces this: core/purity.test.ts).
 *
 * State is owned by the machine and mutated in place by `step` (as etcd-io/raft does), because a
 * simulator that copies every node's state on every event cannot reach millions of events per second.
 * Drivers never read or write a machine's state except through `invariants` and `view`.
 */
import type { Prng } from './prng.js';
import type { BuggifyPoint } from './buggify.js';
import type { TraceEffect, TraceLevel } from './trace.js';

export type { TraceLevel };

/** A node's name in the cluster ("n1", "a1"). Unique; the address is the driver's business. */
export type NodeId = string;

// ───────────────────────────────────────────── inputs ─────────────────────────────────────────────

/**
 * One input to a machine. Every input carries `nowMs`, the node's local clock (which the simulator
 * may skew, drift and jump). Wire enums and `kind` strings are append-only.
 */
export type Input<Msg = unknown, Req = unknown, Local extends LocalIn = LocalIn> =
  /**
   * First input after `init` (a fresh start or a restart from durable state). Arm timers here.
   * `startNonce` is a number the driver draws afresh for every start of the process — the simulator from
   * its seeded generator, the real agent from node:crypto — an integer in [0, startNonceMax): what tells
   * this process's ids (RPC call ids) from those of an earlier process of the same node, which peers may
   * still answer (core/agent/state.ts callIdBaseOf). The core has no other entropy that differs between
   * two starts from the same disk.
   */
  | { readonly kind: 'start'; readonly nowMs: number; readonly startNonce: number }
  /** A message from a peer, already decoded. The sender's id is the driver's claim, not proven. */
  | { readonly kind: 'message'; readonly nowMs: number; readonly from: NodeId; readonly message: Msg }
  /** A timer set with `setTimer` fired. Fires at most once per `setTimer`; may fire late, never early. */
  | { readonly kind: 'timer'; readonly nowMs: number; readonly timer: string }
  /** A client request (HTTP call, CLI command, simulated client). Answer with exactly one `reply`. */
  | { readonly kind: 'request'; readonly nowMs: number; readonly requestId: number; readonly request: Req }
  /**
   * The driver's stream connection to `peer` closed (the peer's process exited or reset it, or a dial
   * failed): stream messages sent to it may never have arrived, and no answer will come on it. Only a
   * hint — a partition gives none — so protocols keep their own timeouts; it lets them fail fast.
   */
  | { readonly kind: 'linkDown'; readonly nowMs: number; readonly peer: NodeId }
  /** A check started by a `runCheck` effect finished (real process / socket, or seeded in the sim). */
  | { readonly kind: 'checkResult'; readonly nowMs: number; readonly checkId: string; readonly result: CheckResult }
  /** A sibling machine on the same node addressed this one with a `local` effect (see `LocalIn`). */
  | ({ readonly kind: 'local'; readonly nowMs: number } & Local);

/**
 * What a machine may receive from its siblings: the sender's name and its payload. A machine that knows
 * its siblings narrows this to a union keyed by `fromMachine` (the agent: Raft's answers and notices,
 * SWIM's), so its handlers read typed payloads without casts. The runtime itself is type-erased: the
 * mounting code (core/agent/mounts.ts) is what makes the declared union true.
 */
export interface LocalIn {
  readonly fromMachine: string;
  readonly payload: unknown;
}

/** What a machine may address to a sibling; narrowed like `LocalIn` by machines that declare their calls. */
export interface LocalOut {
  readonly toMachine: string;
  readonly payload: unknown;
}

export type InputKind = Input['kind'];

/** `startNonce` is below this (2^48): call ids built on it stay safe integers for 2^52 calls. */
export const startNonceMax = 2 ** 48;

export interface CheckResult {
  readonly status: CheckStatus;
  /** Output of the check, truncated by the driver to `checkOutputBytesMax`. */
  readonly output: string;
}

export type CheckStatus = 'passing' | 'warning' | 'critical';

/** Consul keeps 4 KiB of check output; drivers truncate before delivering a result. */
export const checkOutputBytesMax = 4096;

// ───────────────────────────────────────────── effects ────────────────────────────────────────────

/**
 * What a step asks its driver to do.
 *
 * ORDERING RULE (the one place it is written; every driver follows it):
 *   A driver carries out the effects of a step in list order, with one exception: an effect that
 *   leaves the node (`send`, `reply`) is held back until every `persist` emitted before it on this
 *   node — earlier in the same step or in an earlier step — is durable (its sync has completed).
 *   Held effects leave in their original order. Timers, traces, `apply`, `local` and `runCheck`
 *   effects are never held. A driver may batch the persists of many steps into one sync (group
 *   commit) as long as no held effect leaves before the sync that covers it.
 *   Consequence for protocols: emit the `persist` first, then the messages that promise its content
 *   (Raft: persist term and vote before the vote reply; persist entries before the append ack).
 *   If the node crashes before the sync completes, the held effects are never carried out, and the
 *   unsynced writes may or may not survive (any prefix of them may; the last may be torn).
 *   The one exception: a `send` or `reply` marked `early` leaves at once, held by nothing (see
 *   SendEffect.early).
 */
export type Effect<Msg = unknown, Resp = unknown, Local extends LocalOut = LocalOut> =
  | SendEffect<Msg>
  | { readonly kind: 'setTimer'; readonly timer: string; readonly afterMs: number }
  | { readonly kind: 'cancelTimer'; readonly timer: string }
  | PersistEffect
  | ReplyEffect<Resp>
  /** A replicated command was applied at `index`; observed by checkers (State Machine Safety). */
  | { readonly kind: 'apply'; readonly index: number; readonly term: number; readonly command: unknown }
  | { readonly kind: 'runCheck'; readonly checkId: string; readonly check: CheckSpec; readonly timeoutMs: number }
  | ({ readonly kind: 'local' } & Local)
  /**
   * A typed event for the log, the transcript and observers (core/trace.ts); its sentence ("n2 became
   * leader at term 3") is `traceText(event)`.
   */
  | TraceEffect;

export interface SendEffect<Msg = unknown> {
  readonly kind: 'send';
  readonly to: NodeId;
  readonly message: Msg;
  /**
   * 'datagram' may be lost, duplicated or reordered (UDP: gossip probes). 'stream' is delivered in
   * order per (sender, receiver) pair while the connection lives, but is lost across partitions and
   * crashes (TCP: Raft RPC, push-pull). Neither is retried by the driver.
   */
  readonly channel?: 'datagram' | 'stream';
  /**
   * Leave at once, even while a persist emitted before it is not durable and while earlier effects are
   * held (the ORDERING RULE's one exception). For a message that promises nothing about this node's
   * disk: Raft's leader marks its AppendEntries so, writing its log in parallel with replicating it
   * (thesis §10.2.1), because it counts its own copy toward a commit only once its own held
   * acknowledgement says the write is durable (raft/replication.ts, `selfMatch`).
   */
  readonly early?: boolean;
}

export interface ReplyEffect<Resp = unknown> {
  readonly kind: 'reply';
  readonly requestId: number;
  readonly response: Resp;
  /**
   * Leave at once (the ORDERING RULE's exception, as SendEffect.early): for an answer that promises
   * nothing about this node's unsynced writes — the agent's answers carrying a server's result, which
   * is committed Raft state (durable on a quorum that includes the leader's own synced copy) or a read
   * of it, so it need not wait behind the log writes of other clients' proposals.
   */
  readonly early?: boolean;
}

export interface PersistEffect {
  readonly kind: 'persist';
  readonly ops: readonly StorageOp[];
}

/**
 * Durable storage is a set of named records (small values replaced whole: hard state, snapshot, node
 * id) and named append-only logs (the Raft log). Positions in a log count from 0 after the last
 * `dropPrefix`; the protocol keeps its own mapping to its indexes.
 */
export type StorageOp =
  | { readonly op: 'put'; readonly key: string; readonly value: unknown }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'append'; readonly log: string; readonly entries: readonly unknown[] }
  /** Keep the first `keepCount` entries of the log, drop the rest (conflicting suffix). */
  | { readonly op: 'truncate'; readonly log: string; readonly keepCount: number }
  /** Drop the first `dropCount` entries (log compaction after a snapshot). */
  | { readonly op: 'dropPrefix'; readonly log: string; readonly dropCount: number };

/**
 * What a restarted node finds on disk. The storage layer (sim or disk) frames every record with a
 * length and a CRC-32; on load it reports what it could not trust instead of hiding it:
 *  - a torn final record of a log (a crash during the write) is cut off and `tornTail` is set — the
 *    protocol accepts this, because nothing in a torn write was acknowledged;
 *  - a checksum mismatch before the tail is `corrupt` — the protocol must refuse to start and name it.
 */
export interface DurableState {
  readonly records: ReadonlyMap<string, unknown>;
  readonly logs: ReadonlyMap<string, DurableLog>;
}

export interface DurableLog {
  readonly entries: readonly unknown[];
  readonly tornTail: boolean;
  readonly corrupt?: { readonly position: number; readonly reason: string };
}

export const emptyDurableState: DurableState = { records: new Map(), logs: new Map() };

// ───────────────────────────────────────────── checks ─────────────────────────────────────────────

/** What a driver must run for a `runCheck` effect. Shapes follow Consul's check definitions. */
export type CheckSpec =
  | { readonly type: 'script'; readonly args: readonly string[] } // ['/bin/sh', '-c', script] or args
  | {
      readonly type: 'http';
      readonly url: string;
      readonly method: string;
      readonly headers: Readonly<Record<string, readonly string[]>>;
      readonly body: string;
    }
  | { readonly type: 'tcp'; readonly address: string };

// ───────────────────────────────────────────── machines ───────────────────────────────────────────

/** What a machine may use while stepping, besides its state. */
export interface StepContext<Msg = unknown, Resp = unknown, Local extends LocalOut = LocalOut> {
  readonly nodeId: NodeId;
  readonly prng: Prng;
  /** Appends one effect to this step's output. */
  emit(effect: Effect<Msg, Resp, Local>): void;
  /**
   * The driver's BUGGIFY decision for a named point (core/buggify.ts; ask through `buggify(ctx, point)`).
   * Absent, or always false, in production.
   */
  readonly buggify?: (point: BuggifyPoint) => boolean;
}

/**
 * A protocol machine: Raft, SWIM, the agent, the example broadcast. `init` builds the state for a
 * node (fresh, or from durable state after a crash); `step` consumes one input.
 *
 * `step` must not throw for any input a peer or client can produce (decoders and validators return
 * errors as values); it throws only through `assert`, for programmer errors.
 */
export interface Machine<
  State,
  Config = unknown,
  Msg = unknown,
  Req = unknown,
  Resp = unknown,
  LocalInput extends LocalIn = LocalIn,
  LocalOutput extends LocalOut = LocalOut,
> {
  /** Routing name: messages, timers and requests for this machine are tagged with it. */
  readonly name: string;
  init(nodeId: NodeId, config: Config, durable: DurableState, prng: Prng): State;
  step(state: State, input: Input<Msg, Req, LocalInput>, ctx: StepContext<Msg, Resp, LocalOutput>): void;
  /** Local invariants of one node's state; the simulator calls this after every step in tests. */
  invariants?(state: State): string[];
  /**
   * The node's role in this protocol right now (`leader`, `follower`…), cheap: the simulator counts
   * (role, input) pairs for coverage-guided exploration. Machines without roles leave it out.
   */
  role?(state: State): string;
  /** A small plain-data summary for the TUI and transcripts (role, term, members...). */
  view?(state: State): Record<string, unknown>;
}

/** Type-erased machine, as the node runtime holds it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyMachine = Machine<any, any, any, any, any, any, any>;
