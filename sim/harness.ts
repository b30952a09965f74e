/**
 * A harness adapts one protocol to the simulator: which machines each node hosts, what the clients
 * do, and which cluster-wide properties are checked. Scenario files name a harness with `protocol X`;
 * the registry in sim/harnesses/index.ts maps the name to its module.
 *
 * The simulator owns time, the network, storage and faults; the harness never touches them except
 * through the `SimApi` handed to it.
 */
import { assert } from '../core/assert.js';
import type { Mount, NodeRequest } from '../core/runtime.js';
import type { Prng } from '../core/prng.js';
import type { CheckResult, CheckSpec, DurableState, Effect, Input, NodeId } from '../core/types.js';
import type { Envelope } from '../core/runtime.js';
import type { NodeRuntime } from '../core/runtime.js';
import type { History, Operation } from './history.js';
import type { Knobs as FaultKnobs } from './engine/nemesis.js';
import type { Scenario } from './scenario.js';
import type { CheckOptions, CheckResult as LinCheckResult } from './checkers/lin/types.js';

export interface Harness {
  readonly name: string;
  /** Protocol parameters (`set key value` lines) this harness understands, with a one-line meaning. */
  readonly params: Readonly<Record<string, string>>;
  /** Problems with a scenario's parameters, each naming the parameter. Empty when valid. */
  validate?(scenario: Scenario): string[];
  /**
   * Protocol knobs drawn per seed in swarm scenarios (preVote, channel, batch sizes...), as parameter
   * values that override nothing the scenario pins with `set`. `faults` are the seed's fault knobs, so
   * a draw can stay inside what production assumes (no lease reads under clock faults). Drawn from
   * their own random stream; logged with the fault knobs and recorded in replay files.
   */
  drawKnobs?(prng: Prng, scenario: Scenario, faults: FaultKnobs): Record<string, string>;
  /**
   * Drawn knobs whose value depends on the seed's fault knobs (Raft's lease reads: only without clock
   * faults). Coverage-guided exploration never pins them across seeds (sim/tools/guide.ts).
   */
  readonly guideSkips?: readonly string[];
  /**
   * Knobs that only make sense together (Raft's election timeout range and heartbeat: a minimum from
   * one seed and a maximum from another can leave no randomness, and elections livelock). The guide
   * takes each group whole from one parent.
   */
  readonly guideGroups?: readonly (readonly string[])[];
  /**
   * The machines node `nodeId` hosts (fresh start and every restart). `start.diskReplaced`: the node
   * runs on a disk that replaced its first one (empty, identity not kept) — an operator starts such a
   * server as a joiner, not with the initial cluster's bootstrap configuration, at every start since.
   * `start.startCount`: how many times the node's process was started before this start (0 at boot).
   */
  mounts(
    nodeId: NodeId,
    scenario: Scenario,
    start?: { readonly diskReplaced: boolean; readonly startCount?: number },
  ): Mount[];
  /**
   * Creates this simulation's own harness state (checkers, records, workload counters), once, before
   * any node starts; the hooks below read it back with `runState(sim, TheClass)`. One harness object
   * serves many simulations (worker loops, shrinking, the TUI's seek), so per-run state never lives in
   * the module. Draws nothing and schedules nothing (that is `workload`'s job).
   */
  start?(sim: SimApi, scenario: Scenario): object;
  /** Called once at simulated time 0, after every node started: schedule the workload here. */
  workload?(sim: SimApi, scenario: Scenario): void;
  /** A node (re)started from `durable` (what its disk held): per-step checkers shadow the node's writes from it. */
  onNodeStart?(sim: SimApi, nodeId: NodeId, durable: DurableState): void;
  /**
   * A node's process is about to die (a crash, a disk replaced, a storage exit): its state is still
   * readable (was it the leader?). Observation only: it must draw nothing and schedule nothing.
   */
  onNodeStop?(sim: SimApi, nodeId: NodeId): void;
  /** Sees every input a node is about to step on (per-step checkers relate the effects to it). */
  onInput?(sim: SimApi, nodeId: NodeId, input: Input<Envelope, NodeRequest>): void;
  /** Sees every effect a node emits (before the driver carries it out): record applies, roles... */
  onEffect?(sim: SimApi, nodeId: NodeId, effect: Effect): void;
  /**
   * Sends and replies the node emitted (and `onEffect` saw) that never left: they waited behind a
   * persist (the ORDERING RULE) when the node crashed. Per-step checkers take back what they
   * recorded of them (a vote granted in a reply that never left was never granted).
   */
  onDropped?(sim: SimApi, nodeId: NodeId, effects: readonly Effect[]): void;
  /** Cluster-wide safety after each step of node `nodeId` (only when invariants are on). */
  checkStep?(sim: SimApi, nodeId: NodeId): string | null;
  /** During the liveness phase, polled every `livenessPollMs`: true once the cluster made progress. */
  live?(sim: SimApi): boolean;
  /**
   * When `live` never became true: why not, in the protocol's words, most telling first ("no node
   * leads: …", "value 17 (#16 broadcast), acknowledged by n3 at 31 ms, is on no node"). The liveness
   * violation carries these sentences; an operation named as `#id` is one the report centres on.
   */
  whyNotLive?(sim: SimApi): string[];
  /** End-of-run checks on the history and final states. Each string is a violation. */
  checkEnd?(sim: SimApi): string[];
  /**
   * The client operations its linearizability check reads (e.g. register reads, writes and cas, not
   * lock or session operations). `sim run --history FILE` writes these, for `conclave check lin`.
   * Without it: every operation.
   */
  linearizable?(op: Operation): boolean;
  /**
   * Histories checked against other models than `linearizable`'s register (kv: the key groups'
   * transactions, against kvGroupModel), as they stand so far, open operations as unknown: the TUI
   * checks them while the run goes, as it checks the register history. Each `check` runs the checker
   * on the operations of that moment with the options given.
   */
  linearizableSoFar?(sim: SimApi): { name: string; check: (options: CheckOptions) => LinCheckResult }[];
  /**
   * A protocol-specific timeline action (`at 5s transfer n2`, `at 3s add-server n6`). Return null when
   * done, or an error (unknown action, bad arguments). Validation calls it with `sim` = null.
   */
  act?(sim: SimApi | null, action: string, args: readonly string[]): string | null;
  /** A scenario `expect NAME ARGS...` line. Return null when met, else why not. */
  expect?(sim: SimApi, name: string, args: readonly string[]): string | null;
  /**
   * The outcome of a `runCheck` effect in the simulator (seeded, from the harness's own stream).
   * Without it every check passes.
   */
  checkResult?(sim: SimApi, nodeId: NodeId, checkId: string, check: CheckSpec): CheckResult;
  /**
   * Every protocol transition this harness reports through `SimApi.cover` (`transition ...`): the
   * coverage report names the ones an exploration never reached. A function gives a scenario's own
   * list, leaving out what its knobs and timeline make unreachable (`transitionsOf`).
   */
  readonly transitions?: readonly string[] | ((scenario: Scenario) => readonly string[]);
  /** Extra columns for the TUI's node table and summaries, from a node's runtime views. */
  describe?(sim: SimApi, nodeId: NodeId): Record<string, string | number>;
}

/** What a harness (and the TUI, and tests) may do with a running simulation. */
export interface SimApi {
  readonly seed: number;
  readonly scenario: Scenario;
  /** What the harness's `start` returned for this simulation (undefined without one). */
  readonly harnessState: unknown;
  /** Global simulated time (ms, microsecond resolution). Nodes see their own skewed clocks. */
  readonly nowMs: number;
  readonly nodeIds: readonly NodeId[];
  readonly history: History;
  /** The node's runtime while it is up; null while crashed. */
  runtime(nodeId: NodeId): NodeRuntime | null;
  isUp(nodeId: NodeId): boolean;
  isPaused(nodeId: NodeId): boolean;
  /** A seeded generator for the harness's own decisions (workload), independent of other streams. */
  random(stream: string): Prng;
  /** Runs `fn` at `atMs` (global time), in (time, sequence) order with everything else. */
  at(atMs: number, fn: () => void): void;
  after(delayMs: number, fn: () => void): void;
  /**
   * A client request to a node: crosses the network both ways (same latency, loss and partitions as
   * the client's own link, modelled as node `client`). `onDone(undefined)` after `timeoutMs` when no
   * reply arrived (the outcome is unknown), else `onDone(response)`; exactly once either way.
   */
  request(nodeId: NodeId, request: NodeRequest, timeoutMs: number, onDone: (response: unknown) => void): void;
  /** Appends a uniform sentence to the trace ("workload: n2 acknowledged write 7"). */
  log(text: string): void;
  /** Records a safety violation: the run fails and stops. */
  violation(text: string): void;
  /** Whether the run counts coverage (`sim explore --coverage`); harnesses skip their bookkeeping when not. */
  readonly coverageOn: boolean;
  /** Counts one occurrence of `what` (`transition role follower→candidate`) when coverage is on. */
  cover(what: string, count?: number): void;
  /** The network knobs in force now (the scenario's, or a nemesis fault's while it lasts). */
  readonly networkNow: NetworkKnobs;
  /** Who can talk to whom now: partition groups (equal groups talk) and explicit one-way blocks. */
  partitionView(): { groups: NodeId[][]; blocked: [NodeId, NodeId][] };
  /** Whether faults may still be injected (safety phase) or the run is in its liveness phase. */
  readonly phase: 'safety' | 'liveness' | 'done';
  readonly faults: FaultApi;
}

/** Fault injection; the nemesis and scenario timelines use these, and so may tests. */
export interface FaultApi {
  /** Splits the cluster: messages between different groups are dropped. Unlisted nodes form one more group. */
  partition(groups: readonly (readonly NodeId[])[]): void;
  /** Drops messages from `from` to `to` only (asymmetric partition). */
  blockOneWay(from: NodeId, to: NodeId): void;
  /**
   * `datagram-cut`: the node's datagrams (gossip) are dropped both ways; its streams (Raft, RPCs) still
   * work — a firewall that blocks UDP, or a busy host's overflowing receive buffer. `cut` false (or
   * `heal`) undoes it.
   */
  cutDatagrams(nodeId: NodeId, cut: boolean): void;
  /**
   * `stream-cut`: the node's stream messages (Raft, RPCs) are dropped both ways, silently (no `linkDown`),
   * while its datagrams (gossip) still flow — the server port firewalled, gossip open. `cut` false (or
   * `heal`) undoes it.
   */
  cutStreams(nodeId: NodeId, cut: boolean): void;
  /**
   * `reset`: the stream connections between `nodeId` and `peer` (every peer when null) are reset while
   * both processes live (an RST from a middlebox, a conntrack flush): stream messages in flight on them
   * are lost both ways, and both ends hear `linkDown`. The next message opens a new connection. With
   * `oneWay`, only the connection `nodeId` dialled: what it sent is lost, and only it hears the close.
   */
  resetStreams(nodeId: NodeId, peer: NodeId | null, oneWay?: boolean): void;
  /** Removes every partition, one-way block and datagram cut, and every clog. */
  heal(): void;
  /** Holds messages on the link from→to until `untilMs` (global), then delivers them. */
  clog(from: NodeId, to: NodeId, untilMs: number): void;
  crash(nodeId: NodeId): void;
  /** The `full` fault: the node's disk takes `bytes` more bytes, then writes fail (a short write first). */
  fillDisk(nodeId: NodeId, bytes: number): void;
  /** Space returns. A node that stopped itself on a failed write is restarted, as an operator would. */
  freeDisk(nodeId: NodeId): void;
  /**
   * `disk replaced`: the node stops and restarts with empty storage (a new disk). `keepIdentity`: the
   * operator kept the node's identity (its name; in the agent, the node-id file).
   */
  replaceDisk(nodeId: NodeId, keepIdentity: boolean): void;
  restart(nodeId: NodeId): void;
  pause(nodeId: NodeId): void;
  resume(nodeId: NodeId): void;
  /**
   * The node's host is busy (sim/engine/busy.ts) or no longer: its steps are delayed by random CPU
   * starvation and GC-like pauses, no input is lost, and due timers run first when it runs again.
   */
  setBusy(nodeId: NodeId, busy: boolean): void;
  /** Moves a node's clock by `deltaMs` (a jump; negative goes backwards). */
  jumpClock(nodeId: NodeId, deltaMs: number): void;
  /** Sets a node's clock rate error in parts per million (positive runs fast). */
  setDrift(nodeId: NodeId, ppm: number): void;
  /** Network-wide message loss, duplication and extra reordering delay (percent, 0..100). */
  setNetwork(knobs: Partial<NetworkKnobs>): void;
}

export interface NetworkKnobs {
  /** Minimum one-way latency (ms). */
  latencyMsMin: number;
  /** Mean of the exponential tail added to the minimum (ms). */
  latencyMsTailMean: number;
  /** Chance (percent) that a datagram is dropped. Streams are not dropped by loss (TCP retransmits). */
  lossPercent: number;
  /** Chance (percent) that a datagram is delivered twice. */
  duplicatePercent: number;
  /** Chance (percent) that a datagram gets an extra delay of up to `reorderMsMax`, overtaking later ones. */
  reorderPercent: number;
  reorderMsMax: number;
}

export type { NodeRequest };

/**
 * This simulation's harness state, checked to be what the caller expects (the class its harness's
 * `start` returns): a helper called with another protocol's simulation fails loudly instead of
 * reading a stranger's state.
 */
export function runState<Run extends object>(sim: SimApi, kind: abstract new (...args: never[]) => Run): Run {
  const run = sim.harnessState;
  if (!(run instanceof kind))
    assert(false, `this simulation's harness state is not a ${kind.name} (harness ${sim.scenario.protocol})`);
  return run;
}

/**
 * The transitions `harness` must reach in `scenario` (its `transitions`, or the scenario's own list when
 * it depends on the knobs), with the protocol knobs `pins` (`--knob KEY=VALUE`) laid over the scenario's.
 */
export function transitionsOf(
  harness: Harness,
  scenario: Scenario,
  pins: Readonly<Record<string, string>> = {},
): readonly string[] {
  const t = harness.transitions;
  if (t === undefined) return [];
  if (typeof t !== 'function') return t;
  const params = { ...scenario.params };
  for (const [key, value] of Object.entries(pins)) if (key in harness.params) params[key] = value;
  return t({ ...scenario, params });
}
