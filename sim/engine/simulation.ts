/**
 * The deterministic simulator: many nodes in one process, driven by a discrete-event loop over a
 * virtual clock. Every decision — latency, loss, which node crashes, how much of an unsynced write
 * survives — is drawn from one seed through separate streams per subsystem (network, storage,
 * nemesis, clients, nodes, workload), so that adding a draw to one subsystem does not reshuffle the
 * others. A run is a pure function of (scenario, seed, code): it replays bit for bit, and its trace
 * hash is the fingerprint that proves it.
 *
 * The simulator is the driver of the core contract (core/types.ts) and follows its ORDERING RULE:
 * sends and replies wait for every earlier persist of their node to be durable.
 *
 * Phases: during the safety phase faults are injected (scenario timeline and/or swarm nemesis) and
 * invariants are checked after every step; then every fault is healed and the liveness phase gives
 * the cluster `livenessMs` to show progress (the harness's `live`).
 */
import { HeldEffects } from '../../core/held.js';
import { pack, unpack } from 'msgpackr';
import { copyAgain, delivered, roundTrip, undecodable, wireCopy, type WireParcel } from './wire.js';
import seedrandom from 'seedrandom';
import { assert } from '../../core/assert.js';
import { Prng } from '../../core/prng.js';
import { NodeRuntime, type Envelope, type NodeRequest } from '../../core/runtime.js';
import { traceText, type TraceEvent } from '../../core/trace.js';
import type { Effect, Input, NodeId } from '../../core/types.js';
import type { FaultApi, Harness, NetworkKnobs, SimApi } from '../harness.js';
import { EventHeap } from './heap.js';
import { History } from '../history.js';
import type { Scenario, TimelineEvent } from '../scenario.js';
import { NodeClock } from './clock.js';
import { StreamLinks } from './links.js';
import { Network } from './network.js';
import { Nemesis, describeKnobs, drawKnobs, numericFaultKnobs, pct, type Knobs } from './nemesis.js';
import { runTimelineEvent } from './timeline.js';
import { describeBusyKnobs, drawBusyKnobs, nextStallGapMs, stallMs, type BusyKnobs } from './busy.js';
import { SimStorage } from './storage.js';
import { gossipMachines, Stranger, type Injection } from './stranger.js';
import { enabledPoints, nodeBuggify } from './buggify.js';
import type { BuggifyPoint } from '../../core/buggify.js';

export type { Knobs } from './nemesis.js';
export { drawKnobs } from './nemesis.js';
import { TraceHash, hashString } from './trace-hash.js';

// ───────────────────────────────────────────── options ────────────────────────────────────────────

export interface SimOptions {
  /**
   * What happens to a message between two nodes (sim/engine/wire.ts). `'copy'` (the default, also
   * `true`): each receiver gets the value msgpackr would decode, made by a plain copy when the message
   * is plain data and by msgpackr itself otherwise; the trace hash folds a digest of it. `'bytes'`:
   * every message is packed and unpacked by msgpackr (the real wire, slower); same trace hash as
   * `'copy'`. `'off'` (also `false`, `--no-codec`): messages are passed by reference and not hashed
   * (speed runs; another trace). Stored values are msgpackr bytes unless `'off'`.
   */
  readonly codec?: boolean | CodecMode;
  /** Call node invariants and the harness's cluster checks after every step. Default true. */
  readonly checkInvariants?: boolean;
  /** Keep the last N log lines in `result.log` (0 keeps none; the hash covers everything anyway). */
  readonly logLimit?: number;
  /** Sees every log line as it happens (the TUI, `sim run --verbose`). */
  readonly onLog?: (line: LogLine) => void;
  /** Sees every message hop (the report's Lamport diagram). Off by default: it costs. */
  readonly onMessage?: (hop: MessageHop) => void;
  /** Called as each send or reply leaves its node, after the ORDERING RULE let it go (the driver conformance suite). */
  readonly onLeave?: (nodeId: NodeId, effect: Effect) => void;
  /** Overrides for drawn knobs (replay files pin them; tests force a fault). */
  readonly knobs?: Partial<Knobs>;
  /**
   * `--knob KEY=VALUE` pins, applied last: a fault knob's name (`tornWritePercent`) sets that number,
   * any other key is a protocol knob (a scenario parameter such as `preVote`). Recorded in `knobs`.
   */
  readonly pins?: Readonly<Record<string, string>>;
  /** Stop at the first violation (default true). */
  readonly stopOnViolation?: boolean;
  /**
   * Count what the run reached (`sim explore --coverage`): message, effect and request kinds, and the
   * harness's protocol transitions (`SimApi.cover`). Off by default; the counts land in `result.coverage`.
   */
  readonly coverage?: boolean;
}

/** See `SimOptions.codec`. */
export type CodecMode = 'copy' | 'bytes' | 'off';

/** `SimOptions.codec` as a mode (`true` is `'copy'`, `false` is `'off'`). */
export function codecMode(codec: boolean | CodecMode | undefined): CodecMode {
  return codec === undefined || codec === true ? 'copy' : codec === false ? 'off' : codec;
}

export interface LogLine {
  readonly atMs: number;
  readonly node: NodeId | null;
  readonly kind: 'fault' | 'trace' | 'client' | 'violation' | 'phase' | 'harness';
  readonly text: string;
  /** The typed event a `trace` line renders (core/trace.ts); read it rather than parse `text`. */
  readonly event?: TraceEvent;
}

export interface MessageHop {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly sentMs: number;
  readonly deliveredMs: number | null; // null: dropped
  readonly machine: string;
  readonly type: string;
  /** The decoded message body (the envelope's payload), for observers that look inside (the report). */
  readonly payload?: unknown;
}

export interface RunResult {
  readonly scenario: string;
  readonly seed: number;
  readonly trace: string;
  readonly result: 'pass' | 'fail';
  readonly simulatedMs: number;
  readonly wallMs: number;
  readonly events: number;
  readonly messages: number;
  readonly deliveries: number;
  readonly violations: string[];
  readonly knobs: Knobs;
  readonly recoveredMs: number | null;
  readonly log: LogLine[];
  /** What the run reached, `kind name` → count (only with `SimOptions.coverage`). */
  readonly coverage?: Record<string, number>;
}

// ───────────────────────────────────────────── events ─────────────────────────────────────────────

const enum Ev {
  Deliver = 0,
  Timer = 1,
  Sync = 2,
  Callback = 3,
  Request = 4,
  /** The transport's "connection dropped" signal reaches a node (links.ts). */
  LinkDown = 5,
}

/**
 * One scheduled event. Every event has every field (a class, not literals with optional fields), so
 * the event loop's property reads see one object shape: a literal per kind made them megamorphic.
 */
class SimEvent {
  seq = 0;
  // Deliver
  from = -1; // -1: the stranger (see claimedFrom)
  claimedFrom: NodeId = ''; // the sender id the stranger wrote in its frame
  payload: unknown = undefined; // a WireParcel (codec 'copy'), a Uint8Array ('bytes'), else the envelope
  stream = false;
  linkEpoch = 0; // the connection's generation at send time (stream; links.ts reset)
  incarnation = 0; // receiver's incarnation at send time (stream) / owner's (timers, syncs)
  sentUs = 0;
  // Timer
  timer = '';
  generation = 0;
  // Sync
  marker = 0;
  // Callback
  fn: (() => void) | null = null;
  // Request
  requestId = 0;
  request: NodeRequest | null = null;

  constructor(
    public atUs: number,
    public kind: Ev,
    public node: number,
  ) {}
}

interface SimNode {
  readonly id: NodeId;
  readonly index: number;
  runtime: NodeRuntime | null;
  incarnation: number;
  paused: boolean;
  /** Inputs that arrived while the node was paused or stalled, in arrival order. */
  pausedQueue: SimEvent[];
  /** On a busy host (busy.ts): the stall process runs while this is set. */
  busy: boolean;
  /** Bumped when busy is turned off, so that an old stall process stops. */
  busyGeneration: number;
  /** Inside a stall of the busy host: inputs wait, as while paused. */
  stalled: boolean;
  readonly timers: Map<string, number>;
  timerGeneration: number;
  readonly storage: SimStorage;
  /** Sends and replies waiting for a persist to become durable (the ORDERING RULE's queue, core/held.ts). */
  readonly held: HeldEffects<Effect>;
  readonly clock: NodeClock;
  refusedReason: string | null;
  /** The node stopped itself (storage failed), as opposed to a crash fault. */
  exited: boolean;
  /**
   * The node's disk was replaced (empty, identity not kept) at some point: the operator starts it as a
   * joiner from then on, at every restart. Only on the first start after the replacement, it was once:
   * a joiner that crashed before its first Raft write synced then came back with the initial
   * servers, bootstrapped as a new server and voted at a term its old self had voted in already
   * (disk-replaced-swarm seeds 203, 396, 646, 1189, one vote per term).
   */
  diskReplaced: boolean;
  /** A Sync retry is scheduled (the disk was full). */
  syncRetry: boolean;
  /** It has run a Raft machine (a server): the disk a `disk-replaced` fault may take. */
  raftHost: boolean;
}

/** How often a node whose disk is full retries its write (the real agent: net/disk's retry). */
const diskFullRetryMs = 100;

interface PendingRequest {
  readonly node: number;
  readonly onDone: (response: unknown) => void;
  done: boolean;
}

const usPerMs = 1000;
/** Timer names whose hash a run remembers (`timerHash`); past it the cache starts again. */
const timerHashesMax = 4096;
const clientLatencyUsMin = 200;

// ───────────────────────────────────────────── simulation ─────────────────────────────────────────

export class Simulation implements SimApi {
  readonly seed: number;
  readonly scenario: Scenario;
  readonly harness: Harness;
  /** The harness's own state for this simulation (`Harness.start`), or undefined. */
  readonly harnessState: object | undefined;
  readonly history = new History();
  readonly knobs: Knobs;
  readonly faults: FaultApi;
  readonly nodeIds: readonly NodeId[];

  private readonly nodes: SimNode[] = [];
  private readonly byId = new Map<NodeId, SimNode>();
  private readonly queue = new EventHeap<SimEvent>();
  private seq = 0;
  /**
   * Global simulated time in whole microseconds: the unit of the event queue, and of every caller
   * that must land exactly on a time (the TUI). Only the event loop moves it; read it, never write.
   */
  nowUs = 0;
  private readonly hash = new TraceHash();
  /** Messages and stored values go through a codec (any mode but 'off'). */
  private readonly codec: boolean;
  private readonly codecMode: CodecMode;
  private readonly checkInvariants: boolean;
  private readonly stopOnViolation: boolean;
  private readonly logLimit: number;
  private readonly onLog: ((line: LogLine) => void) | undefined;
  private readonly onMessage: ((hop: MessageHop) => void) | undefined;
  private readonly onLeave: ((nodeId: NodeId, effect: Effect) => void) | undefined;
  private readonly logLines: LogLine[] = [];
  readonly violations: string[] = [];

  // Independent random streams, one per subsystem: seedrandom derives each stream's seed from the
  // run's seed and the stream's name; the draws come from sfc32 (core/prng.ts), which is faster.
  private readonly netRng: () => number;
  private readonly storageRng: Prng;
  private readonly nemesisRng: Prng;
  private readonly busyRng: Prng;
  private readonly clientRng: () => number;
  private readonly streams = new Map<string, Prng>();

  private readonly network: Network;
  /** Open stream connections, for the `linkDown` signal (links.ts). */
  private readonly links: StreamLinks;
  private readonly linksRng: () => number;
  /** The stranger fault (scenario `stranger`), or null. */
  readonly stranger: Stranger | null;
  /** By node index: a rogue of the stranger's (`stranger ... rogue=`), whose non-gossip traffic dies at the link; null: none. */
  private readonly rogue: readonly boolean[] | null;
  /** The BUGGIFY points this run enabled (scenario `buggify`), or null when it is off. */
  readonly buggifyEnabled: ReadonlySet<BuggifyPoint> | null;

  private readonly timerHashes = new Map<string, number>();
  private readonly pendingRequests = new Map<number, PendingRequest>();
  private nextRequestId = 1;

  private phaseNow: 'safety' | 'liveness' | 'done' = 'safety';
  private stopped = false;
  private recoveredUs: number | null = null;
  counters = { events: 0, messages: 0, deliveries: 0, drops: 0, steps: 0 };
  private readonly coverageCounts: Map<string, number> | null;

  constructor(scenario: Scenario, harness: Harness, seed: number, options: SimOptions = {}) {
    assert(Number.isSafeInteger(seed) && seed >= 0, `seed must be a non-negative integer, got ${seed}`);
    this.seed = seed;
    this.scenario = scenario;
    this.harness = harness;
    this.codecMode = codecMode(options.codec);
    this.codec = this.codecMode !== 'off';
    this.checkInvariants = options.checkInvariants ?? true;
    this.stopOnViolation = options.stopOnViolation ?? true;
    this.logLimit = options.logLimit ?? 0;
    this.onLog = options.onLog;
    this.onMessage = options.onMessage;
    this.onLeave = options.onLeave;
    this.coverageCounts = options.coverage ? new Map() : null;
    this.nodeIds = scenario.nodes;
    this.netRng = unitFloats(this.random('network'));
    this.clientRng = unitFloats(this.random('clients'));
    this.storageRng = this.random('storage');
    this.nemesisRng = this.random('nemesis');
    // The busy host's knobs come from their own stream: drawing them reshuffles no other subsystem.
    this.busyRng = this.random('busy');
    this.knobs = drawAllKnobs(this, scenario, harness, options, drawBusyKnobs(this.busyRng));
    // The scenario every node and the workload see: the file's, with this seed's protocol knobs laid
    // over its parameters (the harness never drew a key the file pins; a `--knob` pin wins over both).
    if (Object.keys(this.knobs.protocol).length > 0) {
      this.scenario = { ...scenario, params: { ...scenario.params, ...this.knobs.protocol } };
      const problems = harness.validate?.(this.scenario) ?? [];
      assert(problems.length === 0, `protocol knobs ${JSON.stringify(this.knobs.protocol)}: ${problems.join('; ')}`);
    }
    this.network = new Network(
      scenario.network,
      scenario.nodes.length,
      this.netRng,
      scenario.datacenters.length < 2
        ? null
        : {
            dcOf: scenario.nodes.map((id) => scenario.datacenters.findIndex((dc) => dc.nodes.includes(id))),
            wan: scenario.wan ?? scenario.network,
          },
    );
    this.links = new StreamLinks(scenario.nodes.length);
    this.linksRng = unitFloats(this.random('links'));
    this.faults = this.makeFaultApi();
    this.stranger = scenario.stranger ? new Stranger(scenario.stranger, scenario.nodes, this.random('stranger')) : null;
    const rogues = scenario.stranger?.rogues ?? [];
    this.rogue = rogues.length > 0 ? scenario.nodes.map((id) => rogues.includes(id)) : null;
    this.buggifyEnabled = scenario.buggify ? new Set(enabledPoints(seed, scenario.buggify)) : null;

    for (const [index, id] of scenario.nodes.entries()) {
      const node: SimNode = {
        id,
        index,
        runtime: null,
        incarnation: 0,
        paused: false,
        pausedQueue: [],
        busy: false,
        busyGeneration: 0,
        stalled: false,
        timers: new Map(),
        timerGeneration: 0,
        storage: new SimStorage(this.codec),
        held: new HeldEffects<Effect>(),
        clock: new NodeClock(),
        refusedReason: null,
        syncRetry: false,
        exited: false,
        diskReplaced: false,
        raftHost: false,
      };
      this.nodes.push(node);
      this.byId.set(id, node);
    }
    // Last: the harness may read everything above (nodes, the scenario with this seed's knobs).
    this.harnessState = harness.start?.(this, this.scenario);
  }

  // ─────────────────────────────────────────── SimApi ───────────────────────────────────────────

  get nowMs(): number {
    return this.nowUs / usPerMs;
  }

  get phase(): 'safety' | 'liveness' | 'done' {
    return this.phaseNow;
  }

  runtime(nodeId: NodeId): NodeRuntime | null {
    return this.nodeOf(nodeId).runtime;
  }

  isUp(nodeId: NodeId): boolean {
    return this.nodeOf(nodeId).runtime !== null;
  }

  isPaused(nodeId: NodeId): boolean {
    return this.nodeOf(nodeId).paused;
  }

  /** The nodes that have run a Raft machine (servers; every node of a Raft scenario): nemesis `disk-replaced`. */
  raftHostIds(): NodeId[] {
    return this.nodes.filter((node) => node.raftHost).map((node) => node.id);
  }

  /** The running, unpaused node whose Raft machine leads at the highest term, or null (nemesis `isolate`). */
  leader(): NodeId | null {
    let best: NodeId | null = null;
    let bestTerm = -1;
    for (const node of this.nodes) {
      const runtime = node.runtime;
      if (runtime === null || node.paused || !runtime.hasMachine('raft')) continue;
      const raft = runtime.stateOf<{ role?: unknown; term?: unknown }>('raft');
      if (raft.role === 'leader' && typeof raft.term === 'number' && raft.term > bestTerm)
        ((best = node.id), (bestTerm = raft.term));
    }
    return best;
  }

  /** The node's storage markers: the latest write, and the latest write that is durable (tests). */
  storageMarkers(nodeId: NodeId): { readonly written: number; readonly durable: number } {
    const storage = this.nodeOf(nodeId).storage;
    return { written: storage.writtenMarker, durable: storage.durableMarker };
  }

  /** Why a node refused to start from its durable state (corruption), or null. */
  refusedReason(nodeId: NodeId): string | null {
    return this.nodeOf(nodeId).refusedReason;
  }

  random(stream: string): Prng {
    let prng = this.streams.get(stream);
    if (!prng) {
      const rng = seedrandom(`${this.seed}:${stream}`);
      prng = new Prng([rng.int32() >>> 0, rng.int32() >>> 0, rng.int32() >>> 0, (rng.int32() | 1) >>> 0]);
      this.streams.set(stream, prng);
    }
    return prng;
  }

  at(atMs: number, fn: () => void): void {
    const event = new SimEvent(Math.max(this.nowUs, Math.round(atMs * usPerMs)), Ev.Callback, -1);
    event.fn = fn;
    this.schedule(event);
  }

  after(delayMs: number, fn: () => void): void {
    this.at(this.nowMs + delayMs, fn);
  }

  request(nodeId: NodeId, request: NodeRequest, timeoutMs: number, onDone: (response: unknown) => void): void {
    const node = this.nodeOf(nodeId);
    const requestId = this.nextRequestId++;
    const pending: PendingRequest = { node: node.index, onDone, done: false };
    this.pendingRequests.set(requestId, pending);
    const event = new SimEvent(this.nowUs + this.clientLatencyUs(), Ev.Request, node.index);
    event.requestId = requestId;
    event.request = request;
    this.schedule(event);
    this.after(timeoutMs, () => this.finishRequest(requestId, undefined));
  }

  log(text: string): void {
    this.emitLog({ atMs: this.nowMs, node: null, kind: 'harness', text });
  }

  get coverageOn(): boolean {
    return this.coverageCounts !== null;
  }

  cover(what: string, count = 1): void {
    if (this.coverageCounts) this.coverageCounts.set(what, (this.coverageCounts.get(what) ?? 0) + count);
  }

  violation(text: string): void {
    this.violations.push(text);
    this.emitLog({ atMs: this.nowMs, node: null, kind: 'violation', text });
    if (this.stopOnViolation) this.stopped = true;
  }

  // ─────────────────────────────────────────── running ──────────────────────────────────────────

  /** Runs the whole scenario (safety phase, then liveness phase) and returns the verdict. */
  run(): RunResult {
    const wallStart = performance.now();
    this.begin();
    this.runUntil(this.scenario.safetyMs);
    if (!this.stopped) this.beginLiveness();
    this.runUntil(this.scenario.safetyMs + this.scenario.livenessMs);
    this.finish();
    return this.result(performance.now() - wallStart);
  }

  /** Starts every node and schedules the timeline, the nemesis and the workload (time 0). */
  begin(): void {
    this.logKnobs();
    if (this.buggifyEnabled)
      this.emitLog({
        atMs: 0,
        node: null,
        kind: 'harness',
        text: `buggify: ${this.buggifyEnabled.size > 0 ? [...this.buggifyEnabled].join(', ') : 'no point'} enabled`,
      });
    for (const node of this.nodes) this.startNode(node);
    for (const event of this.scenario.timeline) this.at(event.atMs, () => this.runTimelineEvent(event));
    if (this.scenario.nemesis.mode === 'swarm')
      new Nemesis(this, this.nemesisRng, this.knobs, this.scenario.safetyMs).start();
    if (this.stranger) this.startStranger(this.stranger);
    this.harness.workload?.(this, this.scenario);
  }

  /** Processes events up to (and including) global time `untilMs`, unless stopped. */
  runUntil(untilMs: number): void {
    this.runUntilUs(Math.round(untilMs * usPerMs));
  }

  /**
   * Processes events up to (and including) global time `untilUs` (whole µs), unless stopped, and at
   * most `eventsMax` of them. Returns true when it got there (the clock then reads at least
   * `untilUs`) or the run stopped; false when the budget ran out first (call again to go on). A caller
   * that loops until `nowUs >= untilUs` therefore always ends: the target is never rounded.
   */
  runUntilUs(untilUs: number, eventsMax = Infinity): boolean {
    if (!Number.isSafeInteger(untilUs)) assert(false, `runUntilUs needs whole microseconds, got ${untilUs}`);
    for (let processed = 0; ; processed++) {
      if (this.stopped) return true;
      const next = this.queue.peek();
      if (!next || next.atUs > untilUs) break;
      if (processed >= eventsMax) return false;
      this.queue.pop();
      this.nowUs = next.atUs;
      this.process(next);
    }
    if (!this.stopped) this.nowUs = Math.max(this.nowUs, untilUs);
    return true;
  }

  /** Processes exactly one event (the TUI's `.` key). Returns false when nothing is left. */
  stepOne(): boolean {
    if (this.stopped) return false;
    const next = this.queue.pop();
    if (!next) return false;
    this.nowUs = next.atUs;
    this.process(next);
    return true;
  }

  /** Heals everything and starts polling the harness's liveness predicate. */
  beginLiveness(): void {
    this.phaseNow = 'liveness';
    this.emitLog({
      atMs: this.nowMs,
      node: null,
      kind: 'phase',
      text: 'safety phase over: faults healed, liveness phase begins',
    });
    this.healEverything();
    if (this.harness.live) this.pollLiveness();
  }

  /** End-of-run checks: expectations, the harness's history checks. */
  finish(): void {
    if (this.phaseNow === 'done') return;
    // A run that stopped on a violation skips the end checks (the state is mid-failure); a run that
    // stopped because the cluster recovered (liveness met) or ran to the end gets all of them.
    const stoppedOnViolation = this.violations.length > 0;
    this.stopped = false; // end checks may record violations even after a stop
    if (!stoppedOnViolation) {
      if (this.harness.live && this.recoveredUs === null) {
        const why = this.harness.whyNotLive?.(this) ?? [];
        const first = why.length > 0 ? `: ${why[0]}` : '';
        const rest = why.slice(1).map((line) => `\n  ${line}`);
        this.violation(
          `liveness: no progress within ${this.scenario.livenessMs} ms after faults stopped${first}${rest.join('')}`,
        );
      }
      for (const text of this.harness.checkEnd?.(this) ?? []) this.violation(text);
      for (const expectation of this.scenario.expectations) {
        if (expectation.name === 'liveness' || expectation.name === 'pass') continue;
        const problem = this.harness.expect
          ? this.harness.expect(this, expectation.name, expectation.args)
          : `unknown expectation '${expectation.name}'`;
        if (problem) this.violation(`expect ${expectation.name} (line ${expectation.line}): ${problem}`);
      }
    }
    this.phaseNow = 'done';
    this.stopped = true;
  }

  result(wallMs: number): RunResult {
    return {
      scenario: this.scenario.name,
      seed: this.seed,
      trace: this.hash.hex(),
      result: this.violations.length === 0 ? 'pass' : 'fail',
      simulatedMs: this.nowMs,
      wallMs,
      events: this.counters.events,
      messages: this.counters.messages,
      deliveries: this.counters.deliveries,
      violations: [...this.violations],
      knobs: this.knobs,
      recoveredMs: this.recoveredUs === null ? null : this.recoveredUs / usPerMs,
      log: [...this.logLines],
      ...(this.coverageCounts ? { coverage: Object.fromEntries(this.coverageCounts) } : {}),
    };
  }

  /** Global time (ms) of the next event in the queue, or null when nothing is scheduled. */
  nextEventMs(): number | null {
    const next = this.queue.peek();
    return next ? next.atUs / usPerMs : null;
  }

  /** Global time (whole µs) of the next event in the queue, or null when nothing is scheduled. */
  nextEventUs(): number | null {
    return this.queue.peek()?.atUs ?? null;
  }

  /**
   * The next event in the queue, in words ("message n3→n1 raft.append", "timer n2 raft:election"),
   * or null when nothing is scheduled. Read-only: it decodes a copy of a message's bytes and changes
   * neither the queue nor the trace hash (the TUI's `.` key names the event it is about to process).
   */
  describeNextEvent(): string | null {
    const next = this.queue.peek();
    if (!next) return null;
    const node = next.node >= 0 ? this.nodes[next.node]!.id : null;
    switch (next.kind) {
      case Ev.Deliver: {
        const from = next.from >= 0 ? this.nodes[next.from]!.id : `${next.claimedFrom} (stranger)`;
        const message = this.messageOf(next.payload, next.from < 0);
        const what = message === undefined ? 'undecodable bytes' : describeEnvelope(message as Envelope);
        return `message ${from}→${node} ${what}`;
      }
      case Ev.Timer:
        return `timer ${node} ${next.timer}`;
      case Ev.Sync:
        return `disk sync on ${node}`;
      case Ev.LinkDown:
        return `connection to ${this.nodes[next.from]!.id} dropped, seen by ${node}`;
      case Ev.Request: {
        const body = next.request?.body as { type?: unknown; op?: { kind?: unknown } } | undefined;
        const kind =
          typeof body?.type === 'string' ? body.type : typeof body?.op?.kind === 'string' ? body.op.kind : '';
        return `client request to ${node} (${next.request?.machine ?? '?'}${kind ? ` ${kind}` : ''})`;
      }
      case Ev.Callback:
        return node === null
          ? 'a scheduled action (timeline, nemesis, workload or client reply)'
          : `a check result on ${node}`;
    }
  }

  get networkNow(): NetworkKnobs {
    return { ...this.network.current };
  }

  /** The scenario's own network knobs (what a healed network returns to). */
  get baseNetwork(): NetworkKnobs {
    return this.network.base;
  }

  get traceHash(): string {
    return this.hash.hex();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** The node's local clock (ms), as the node sees it. */
  localNowMs(nodeId: NodeId): number {
    return this.localUs(this.nodeOf(nodeId)) / usPerMs;
  }

  /** Which group each node is in while partitioned (equal numbers talk), and explicit blocks. */
  partitionView(): { groups: NodeId[][]; blocked: [NodeId, NodeId][] } {
    const view = this.network.view();
    const id = (index: number) => this.nodes[index]!.id;
    return {
      groups: view.groups.map((g) => g.map(id)),
      blocked: view.blocked.map(([a, b]) => [id(a), id(b)] as [NodeId, NodeId]),
    };
  }

  // ─────────────────────────────────────────── event processing ─────────────────────────────────

  private schedule(event: SimEvent): void {
    event.seq = this.seq++;
    this.queue.push(event);
  }

  private process(event: SimEvent): void {
    this.counters.events++;
    this.hash.word(event.kind);
    this.hash.number(event.atUs);
    switch (event.kind) {
      case Ev.Callback:
        event.fn!();
        return;
      case Ev.Sync:
        this.onSync(event);
        return;
      case Ev.Deliver:
      case Ev.Timer:
      case Ev.Request:
      case Ev.LinkDown: {
        const node = this.nodes[event.node]!;
        this.hash.word(event.node);
        if (node.runtime === null) {
          if (event.kind === Ev.Deliver) {
            this.counters.drops++;
            // A refused dial: the sender's transport drops the frame and says the link is down.
            if (event.stream && event.from >= 0) this.signalLinkDown(node, this.nodes[event.from]!);
          }
          return;
        }
        if (event.kind === Ev.Deliver && event.stream && event.from >= 0) {
          if (this.checkResetLost(event)) return;
          this.onStreamArrival(node, event);
        }
        if (node.paused || node.stalled) {
          node.pausedQueue.push(event);
          return;
        }
        this.deliverToNode(node, event);
        return;
      }
    }
  }

  private deliverToNode(node: SimNode, event: SimEvent): void {
    const nowMs = this.localUs(node) / usPerMs;
    switch (event.kind) {
      case Ev.Deliver: {
        if (event.stream && event.incarnation !== node.incarnation) return; // the connection died with the old process
        if (event.stream && event.from >= 0 && this.checkResetLost(event)) return; // reset while it waited unread
        if (event.from >= 0 && this.network.isBlocked(event.from, node.index)) {
          this.counters.drops++;
          if (this.onMessage) this.reportHop(event, null, this.messageOf(event.payload, false) as Envelope);
          return;
        }
        let message: Envelope;
        if (this.codec) {
          const parcel =
            this.codecMode === 'copy'
              ? (event.payload as WireParcel)
              : decodeParcel(event.payload as Uint8Array, event.from < 0);
          this.hash.word(parcel.digestHi);
          this.hash.word(parcel.digestLo);
          if (parcel.value === undefined) {
            this.counters.drops++; // the stranger's garbage: the frame decoder drops it (net/transport/frame.ts)
            return;
          }
          message = parcel.value as Envelope;
        } else message = event.payload as Envelope;
        this.counters.deliveries++;
        this.reportHop(event, this.nowUs, message);
        const from = event.from >= 0 ? this.nodes[event.from]!.id : event.claimedFrom;
        this.stepNode(node, { kind: 'message', nowMs, from, message });
        return;
      }
      case Ev.Timer: {
        if (event.incarnation !== node.incarnation || node.timers.get(event.timer) !== event.generation) return;
        node.timers.delete(event.timer);
        this.hash.word(this.timerHash(event.timer));
        this.stepNode(node, { kind: 'timer', nowMs, timer: event.timer });
        return;
      }
      case Ev.Request:
        this.stepNode(node, { kind: 'request', nowMs, requestId: event.requestId, request: event.request! });
        return;
      case Ev.LinkDown:
        if (event.incarnation !== node.incarnation) return; // the connection died with the old process
        this.stepNode(node, { kind: 'linkDown', nowMs, peer: this.nodes[event.from]!.id });
        return;
      default:
        assert(false, `event kind ${event.kind} is not for a node`);
    }
  }

  /** hashString of a timer name, remembered (a run fires the same few timer names thousands of times). */
  private timerHash(timer: string): number {
    let hash = this.timerHashes.get(timer);
    if (hash === undefined) {
      if (this.timerHashes.size >= timerHashesMax) this.timerHashes.clear();
      hash = hashString(timer);
      this.timerHashes.set(timer, hash);
    }
    return hash;
  }

  private stepNode(node: SimNode, input: Input<Envelope, NodeRequest>): void {
    const runtime = node.runtime!;
    this.counters.steps++;
    this.harness.onInput?.(this, node.id, input);
    let effects: Effect[];
    // The (role, input) pair is taken before the step: the state the input met.
    const pair = this.coverageCounts ? rolePair(runtime, input) : null;
    try {
      effects = runtime.step(input);
    } catch (error) {
      // A step that throws would kill a real agent (the driver's onFatal): a violation, never a crash
      // of the simulator, so that the explorer reports the seed (a stranger's message must not do it).
      this.violation(`${node.id} threw while handling a ${input.kind}: ${(error as Error).message}`);
      return;
    }
    this.hash.word(effects.length);
    if (this.coverageCounts) {
      this.coverInput(input);
      if (pair) this.cover(pair);
    }
    for (const effect of effects) {
      if (this.coverageCounts) this.coverEffect(effect);
      this.harness.onEffect?.(this, node.id, effect);
      this.carryOut(node, effect);
      if (node.runtime !== runtime) return; // the harness crashed it mid-step
    }
    if (this.checkInvariants) {
      for (const text of runtime.invariants()) this.violation(`${node.id}: ${text}`);
      const problem = this.harness.checkStep?.(this, node.id);
      if (problem) this.violation(problem);
    }
  }

  private coverInput(input: Input<Envelope, NodeRequest>): void {
    if (input.kind === 'message') this.cover(`received ${input.message.m}.${typeOf(input.message)}`);
    else if (input.kind === 'request') {
      const body = input.request.body as { type?: unknown; op?: unknown } | null;
      const type = body && typeof body === 'object' ? (body.type ?? body.op ?? '?') : '?';
      this.cover(`request ${input.request.machine}.${String(type)}`);
    } else this.cover(`input ${input.kind}`);
  }

  private coverEffect(effect: Effect): void {
    this.cover(`effect ${effect.kind}`);
    if (effect.kind === 'send')
      this.cover(`message ${(effect.message as Envelope).m}.${typeOf(effect.message as Envelope)}`);
    else if (effect.kind === 'persist') for (const op of effect.ops) this.cover(`storage ${op.op}`);
  }

  private carryOut(node: SimNode, effect: Effect): void {
    switch (effect.kind) {
      case 'send':
      case 'reply':
        if (effect.early) this.leave(node, effect);
        else if (node.held.mustHold(node.storage.writtenMarker, node.storage.durableMarker))
          node.held.hold(effect, node.storage.writtenMarker);
        else this.leave(node, effect);
        return;
      case 'setTimer': {
        const generation = ++node.timerGeneration;
        node.timers.set(effect.timer, generation);
        const delayUs = node.clock.timerDelayUs(effect.afterMs);
        const event = new SimEvent(this.nowUs + delayUs, Ev.Timer, node.index);
        event.timer = effect.timer;
        event.generation = generation;
        event.incarnation = node.incarnation;
        this.schedule(event);
        return;
      }
      case 'cancelTimer':
        node.timers.delete(effect.timer);
        return;
      case 'persist': {
        const marker = node.storage.write(effect.ops);
        const syncUs = this.knobs.syncUsMin + this.storageRng.below(this.knobs.syncUsMax - this.knobs.syncUsMin + 1);
        const event = new SimEvent(this.nowUs + syncUs, Ev.Sync, node.index);
        event.marker = marker;
        event.incarnation = node.incarnation;
        this.schedule(event);
        return;
      }
      case 'runCheck': {
        const result = this.harness.checkResult?.(this, node.id, effect.checkId, effect.check) ?? {
          status: 'passing' as const,
          output: '',
        };
        const delayUs = 1000 + this.storageRng.below(Math.max(1, Math.min(effect.timeoutMs, 50)) * usPerMs);
        const incarnation = node.incarnation;
        const event = new SimEvent(this.nowUs + delayUs, Ev.Callback, node.index);
        event.fn = () => {
          if (node.runtime === null || node.incarnation !== incarnation) return;
          if (node.paused) return; // a paused agent does not see its check finish; the next run will
          this.stepNode(node, {
            kind: 'checkResult',
            nowMs: this.localUs(node) / usPerMs,
            checkId: effect.checkId,
            result,
          });
        };
        this.schedule(event);
        return;
      }
      case 'trace':
        if (effect.level !== 'debug')
          this.emitLog({
            atMs: this.nowMs,
            node: node.id,
            kind: 'trace',
            text: traceText(effect.event),
            event: effect.event,
          });
        return;
      case 'apply':
      case 'local':
        return; // apply is observed by the harness; local never leaves the runtime
    }
  }

  private onSync(event: SimEvent): void {
    const node = this.nodes[event.node]!;
    if (event.incarnation !== node.incarnation) return; // the process that asked for it is gone
    const retry = event.marker === -1;
    if (retry) node.syncRetry = false;
    const outcome = node.storage.sync(retry ? node.storage.writtenMarker : event.marker);
    if (outcome.kind === 'fatal') {
      // The driver stops the node when storage fails (the agent exits 1); an operator restarts it.
      this.crashNode(node, `${node.id} exited: storage failed (${outcome.reason})`);
      return;
    }
    if (outcome.kind === 'retry' && !node.syncRetry) {
      if (!retry) this.fault(`${node.id} write short: ${outcome.reason}; its records wait for space`);
      node.syncRetry = true;
      const event = new SimEvent(this.nowUs + diskFullRetryMs * usPerMs, Ev.Sync, node.index);
      event.marker = -1;
      event.incarnation = node.incarnation;
      this.schedule(event);
    }
    // The disk finishes while the process is paused, but a paused process sends nothing: what the
    // sync released leaves when the node resumes.
    if (!node.paused && !node.stalled) this.releaseHeld(node);
  }

  /** Sends and replies whose persists are now durable leave, in their original order. */
  private releaseHeld(node: SimNode): void {
    node.held.release(node.storage.durableMarker, (effect) => this.leave(node, effect));
  }

  /** A send or reply leaves the node. */
  private leave(node: SimNode, effect: Effect): void {
    this.onLeave?.(node.id, effect);
    if (effect.kind === 'reply') {
      const pending = this.pendingRequests.get(effect.requestId);
      if (!pending) return;
      const response =
        this.codecMode === 'copy'
          ? wireCopy(effect.response).value
          : this.codecMode === 'bytes'
            ? roundTrip(effect.response)
            : effect.response;
      const event = new SimEvent(this.nowUs + this.clientLatencyUs(), Ev.Callback, -1);
      event.fn = () => this.finishRequest(effect.requestId, response);
      this.schedule(event);
      return;
    }
    assert(effect.kind === 'send', 'only sends and replies leave a node');
    this.transmit(node, effect.to, effect.message as Envelope, effect.channel === 'stream');
  }

  private transmit(sender: SimNode, to: NodeId, message: Envelope, stream: boolean): void {
    this.counters.messages++;
    const receiver = this.byId.get(to);
    if (!receiver) {
      this.counters.drops++;
      return;
    }
    // A rogue holds the gossip key but no certificate: Raft and agent RPC (mutual TLS) to or from it fail at the
    // handshake, so they never reach the wire as messages.
    const refused =
      this.rogue !== null &&
      (this.rogue[sender.index] === true || this.rogue[receiver.index] === true) &&
      sender !== receiver &&
      !gossipMachines.has(message.m);
    if (refused) this.stranger!.counts.rogueRefused++;
    // A message to itself (Raft's self-ack) never reaches a wire the stranger could sniff (net/driver.ts).
    else if (sender !== receiver) this.stranger?.sniff(sender.index, receiver.index, message, stream);
    const times = refused ? null : this.network.route(sender.index, receiver.index, stream, this.nowUs);
    if (times === null) {
      this.counters.drops++;
      if (this.onMessage)
        this.onMessage({
          from: sender.id,
          to,
          sentMs: this.nowMs,
          deliveredMs: null,
          machine: message.m,
          type: typeOf(message),
        });
      return;
    }
    // Encoded (or copied) once per destination, when it leaves: later changes by the sender do not travel.
    const payload =
      this.codecMode === 'copy' ? wireCopy(message) : this.codecMode === 'bytes' ? pack(message) : message;
    for (let i = 0; i < times.length; i++) {
      const event = new SimEvent(times[i]!, Ev.Deliver, receiver.index);
      event.from = sender.index;
      // A duplicate is another decoding of the same bytes: its receiver gets objects of its own.
      event.payload = i > 0 && this.codecMode === 'copy' ? copyParcel(payload as WireParcel) : payload;
      event.stream = stream;
      if (stream) event.linkEpoch = this.links.epochOf(sender.index, receiver.index);
      event.incarnation = receiver.incarnation;
      event.sentUs = this.nowUs;
      this.schedule(event);
    }
  }

  /** A message event's payload as its receiver would decode it (undefined: undecodable), without hashing it. */
  private messageOf(payload: unknown, fromStranger: boolean): unknown {
    if (this.codecMode === 'copy') return (payload as WireParcel).value;
    if (this.codecMode === 'bytes') return decodeOrNull(payload as Uint8Array, fromStranger);
    return payload;
  }

  private reportHop(event: SimEvent, deliveredUs: number | null, message: Envelope): void {
    if (!this.onMessage) return;
    this.onMessage({
      from: event.from >= 0 ? this.nodes[event.from]!.id : event.claimedFrom,
      to: this.nodes[event.node]!.id,
      sentMs: event.sentUs / usPerMs,
      deliveredMs: deliveredUs === null ? null : deliveredUs / usPerMs,
      machine: message.m,
      type: typeOf(message),
      payload: message.p,
    });
  }

  private finishRequest(requestId: number, response: unknown): void {
    const pending = this.pendingRequests.get(requestId);
    if (!pending || pending.done) return;
    pending.done = true;
    this.pendingRequests.delete(requestId);
    pending.onDone(response);
  }

  // ─────────────────────────────────────────── nodes ────────────────────────────────────────────

  private startNode(node: SimNode): void {
    const rng = seedrandom(`${this.seed}:node:${node.id}:${node.incarnation}`);
    const prng = new Prng([rng.int32() >>> 0, rng.int32() >>> 0, rng.int32() >>> 0, (rng.int32() | 1) >>> 0]);
    try {
      const durable = node.storage.load();
      const spec = this.scenario.buggify;
      const buggify =
        spec && this.buggifyEnabled && this.buggifyEnabled.size > 0
          ? nodeBuggify(this.seed, node.id, node.incarnation, spec, this.buggifyEnabled, (point) =>
              this.cover(`buggify ${point}`),
            )
          : undefined;
      node.runtime = new NodeRuntime(
        node.id,
        this.harness.mounts(node.id, this.scenario, { diskReplaced: node.diskReplaced, startCount: node.incarnation }),
        durable,
        prng,
        buggify ? { buggify } : {},
      );
      node.refusedReason = null;
      if (node.runtime.hasMachine('raft')) node.raftHost = true;
      this.harness.onNodeStart?.(this, node.id, durable);
    } catch (error) {
      // A node that refuses its durable state (a corrupt record) stays down, loudly: that is the
      // correct behaviour, and the operator's problem, not a crash of the simulator.
      node.runtime = null;
      node.refusedReason = (error as Error).message;
      this.emitLog({
        atMs: this.nowMs,
        node: node.id,
        kind: 'fault',
        text: `${node.id} refused to start: ${node.refusedReason}`,
      });
      if ((error as Error).name === 'AssertionError')
        this.violation(`${node.id} failed an assertion while starting: ${(error as Error).message}`);
      return;
    }
    node.storage.acknowledgeLoad();
    node.exited = false;
    // The start's nonce (core/types.ts): from this start's own seeded generator, drawn after the node's
    // PRNG seed so that nothing else this start draws changes.
    const startNonce = (rng.int32() >>> 0) * 2 ** 16 + (rng.int32() >>> 16);
    this.stepNode(node, { kind: 'start', nowMs: this.localUs(node) / usPerMs, startNonce });
  }

  /** The process dies: unsynced writes may survive in part (the last torn), held effects never leave. */
  private crashNode(node: SimNode, exitReason: string | null): void {
    this.harness.onNodeStop?.(this, node.id);
    node.runtime = null;
    node.incarnation++;
    node.paused = false;
    node.stalled = false;
    node.pausedQueue = [];
    node.timers.clear();
    if (node.held.size > 0) this.harness.onDropped?.(this, node.id, node.held.pending());
    node.held.clear();
    node.syncRetry = false;
    node.exited = exitReason !== null;
    // Its kernel closes every connection opened to it: each peer holding one hears of it (links.ts).
    for (const peer of this.links.closeAll(node.index)) this.signalLinkDown(node, this.nodes[peer]!);
    const outcome = node.storage.crash(this.storageRng, this.knobs.tornWritePercent, 100);
    let rot = '';
    if (this.knobs.bitRotPercent > 0 && this.storageRng.chance(this.knobs.bitRotPercent, 100)) {
      const where = node.storage.rot(this.storageRng);
      if (where) rot = `, bit rot in ${where.log} entry ${where.position}`;
    }
    const what = exitReason ?? `${node.id} crashed`;
    this.fault(
      `${what} (${outcome.unsyncedOps} unsynced writes, ${outcome.survivedOps} survived${outcome.torn ? ', next one torn' : ''}${rot})`,
    );
  }

  /**
   * A stream message reached `node`'s host (the process may be paused): the connection it came on is
   * up — unless it was opened to an earlier process of `node`, which died with it and closed it.
   */
  private onStreamArrival(node: SimNode, event: SimEvent): void {
    const sender = this.nodes[event.from]!;
    if (event.incarnation !== node.incarnation) this.signalLinkDown(node, sender);
    else if (!this.network.isBlocked(sender.index, node.index)) this.links.opened(sender.index, node.index);
  }

  /**
   * A stream message sent on a connection that was reset since (links.ts): lost with it, counted as a
   * drop. True when lost.
   */
  private checkResetLost(event: SimEvent): boolean {
    if (event.linkEpoch === this.links.epochOf(event.from, event.node)) return false;
    this.counters.drops++;
    if (this.onMessage) this.reportHop(event, null, this.messageOf(event.payload, false) as Envelope);
    return true;
  }

  /**
   * The stream connections between the live processes `a` and `b` are reset: what is in flight on them
   * both ways is lost, and each end that is up hears `linkDown` one latency later (unless the link is cut).
   */
  private resetStreams(a: SimNode, b: SimNode, oneWay: boolean): void {
    // Each end that dialled a reset connection hears its close (links.ts resetOneWay).
    this.links.resetOneWay(a.index, b.index);
    this.signalLinkDown(b, a);
    if (oneWay) return;
    this.links.resetOneWay(b.index, a.index);
    this.signalLinkDown(a, b);
  }

  /**
   * `down`'s end of a connection closed, or refused a dial: `peer`, if its process is up, hears
   * `linkDown` one latency later — unless the link back is cut (links.ts).
   */
  private signalLinkDown(down: SimNode, peer: SimNode): void {
    if (peer.runtime === null || peer === down) return;
    const atUs = this.network.signalUs(down.index, peer.index, this.nowUs, this.linksRng);
    if (atUs === null) return;
    const event = new SimEvent(atUs, Ev.LinkDown, peer.index);
    event.from = down.index;
    event.incarnation = peer.incarnation;
    this.schedule(event);
  }

  private localUs(node: SimNode): number {
    return node.clock.localUs(this.nowUs);
  }

  private nodeOf(nodeId: NodeId): SimNode {
    const node = this.byId.get(nodeId);
    if (node === undefined) assert(false, `unknown node ${nodeId}`);
    return node;
  }

  private clientLatencyUs(): number {
    return clientLatencyUsMin + Math.round(this.clientRng() * 800);
  }

  private emitLog(line: LogLine): void {
    if (this.logLimit > 0) {
      this.logLines.push(line);
      if (this.logLines.length > this.logLimit) this.logLines.splice(0, this.logLines.length - this.logLimit);
    }
    this.onLog?.(line);
  }

  private fault(text: string): void {
    this.hash.string(text);
    this.emitLog({ atMs: this.nowMs, node: null, kind: 'fault', text });
  }

  // ─────────────────────────────────────────── faults ───────────────────────────────────────────

  private makeFaultApi(): FaultApi {
    const sim = this;
    const indexOf = (id: NodeId) => sim.nodeOf(id).index;
    return {
      partition(groups) {
        sim.network.partition(groups.map((group) => group.map(indexOf))); // unlisted nodes form one more group
        sim.fault(`partition ${groups.map((g) => g.join(' ')).join(' | ')}`);
      },
      blockOneWay(from, to) {
        sim.network.blockOneWay(indexOf(from), indexOf(to));
        sim.fault(`one-way partition: ${from} cannot reach ${to}`);
      },
      cutDatagrams(id, cut) {
        if (!cut) {
          if (sim.network.datagramCut.delete(indexOf(id))) sim.fault(`${id}'s datagrams flow again`);
          return;
        }
        sim.network.datagramCut.add(indexOf(id));
        sim.fault(`${id}'s datagrams are dropped both ways (gossip cut; streams still work)`);
      },
      cutStreams(id, cut) {
        if (!cut) {
          if (sim.network.streamCut.delete(indexOf(id))) sim.fault(`${id}'s streams flow again`);
          return;
        }
        sim.network.streamCut.add(indexOf(id));
        sim.fault(`${id}'s stream messages are dropped both ways (RPC and Raft cut; gossip still works)`);
      },
      resetStreams(id, peer, oneWay = false) {
        const node = sim.nodeOf(id);
        const peers = peer === null ? sim.nodes.filter((other) => other !== node) : [sim.nodeOf(peer)];
        for (const other of peers) sim.resetStreams(node, other, oneWay);
        const what = oneWay ? `connection${peer === null ? 's' : ''} ${id} dialled` : `connections`;
        sim.fault(
          `${id}'s ${what} ${peer === null ? 'to every peer' : `to ${peer}`} reset (in-flight stream messages lost)`,
        );
      },
      heal() {
        sim.network.heal();
        sim.fault('network healed');
      },
      clog(from, to, untilMs) {
        sim.network.clog(indexOf(from), indexOf(to), Math.round(untilMs * usPerMs));
        sim.fault(`link ${from}→${to} clogged until ${untilMs.toFixed(0)} ms`);
      },
      crash(id) {
        const node = sim.nodeOf(id);
        if (node.runtime === null) return;
        sim.crashNode(node, null);
      },
      fillDisk(id, bytes) {
        sim.nodeOf(id).storage.setFreeBytes(bytes);
        sim.fault(`${id} disk full after ${bytes} more bytes`);
      },
      freeDisk(id) {
        const node = sim.nodeOf(id);
        if (node.storage.freeBytes === Infinity) return;
        node.storage.setFreeBytes(Infinity);
        sim.fault(`${id} disk has space again`);
        if (node.runtime === null && node.refusedReason === null && node.exited) {
          sim.fault(`${id} restarted by the operator`);
          sim.startNode(node);
        }
      },
      replaceDisk(id, keepIdentity) {
        const node = sim.nodeOf(id);
        if (node.runtime !== null) sim.crashNode(node, null);
        node.storage.wipe(keepIdentity ? ['identity'] : []);
        node.storage.setFreeBytes(Infinity);
        node.diskReplaced ||= !keepIdentity;
        node.refusedReason = null;
        sim.fault(`${id} disk replaced (empty${keepIdentity ? ', old identity kept' : ''}); ${id} restarted`);
        sim.startNode(node);
      },
      restart(id) {
        const node = sim.nodeOf(id);
        if (node.runtime !== null) return;
        sim.fault(`${id} restarted`);
        sim.startNode(node);
      },
      pause(id) {
        const node = sim.nodeOf(id);
        if (node.runtime === null || node.paused) return;
        node.paused = true;
        sim.fault(`${id} paused`);
      },
      resume(id) {
        const node = sim.nodeOf(id);
        if (!node.paused) return;
        node.paused = false;
        sim.fault(`${id} resumed (${node.pausedQueue.length} inputs waited)`);
        if (!node.stalled) sim.drainWaiting(node, false);
      },
      setBusy(id, busy) {
        const node = sim.nodeOf(id);
        if (node.busy === busy) return;
        node.busy = busy;
        node.busyGeneration++;
        sim.fault(busy ? `${id} host busy (${describeBusyKnobs(sim.knobs)})` : `${id} host no longer busy`);
        if (busy) sim.scheduleStall(node, node.busyGeneration);
        else if (node.stalled) sim.endStall(node);
      },
      jumpClock(id, deltaMs) {
        sim.nodeOf(id).clock.jump(deltaMs);
        sim.fault(`${id} clock jumped ${deltaMs >= 0 ? '+' : ''}${deltaMs} ms`);
      },
      setDrift(id, ppm) {
        sim.nodeOf(id).clock.setDrift(sim.nowUs, ppm);
        sim.fault(`${id} clock drift set to ${ppm} ppm`);
      },
      setNetwork(knobs) {
        sim.network.set(knobs);
        const now = sim.network.current;
        sim.fault(
          `network loss=${pct(now.lossPercent)} dup=${pct(now.duplicatePercent)} reorder=${pct(now.reorderPercent)}`,
        );
      },
    };
  }

  /**
   * Delivers the inputs that waited while the node was paused or stalled. Writes that became durable
   * meanwhile let their sends go first. After a stall the due timers run before the rest (busy.ts: an
   * event loop runs its timers before it reads the sockets); after a pause, arrival order (unchanged).
   */
  private drainWaiting(node: SimNode, timersFirst: boolean): void {
    this.releaseHeld(node);
    let waiting = node.pausedQueue;
    node.pausedQueue = [];
    if (timersFirst)
      waiting = [...waiting.filter((e) => e.kind === Ev.Timer), ...waiting.filter((e) => e.kind !== Ev.Timer)];
    for (let i = 0; i < waiting.length; i++) {
      if (node.runtime === null) break; // crashed while catching up: the rest died with it
      if (node.paused || node.stalled) {
        node.pausedQueue.push(...waiting.slice(i)); // stopped again: keep the rest for next time
        break;
      }
      this.deliverToNode(node, waiting[i]!);
    }
  }

  /** The busy host's stall process for one node (busy.ts): a gap, a stall, and again while busy. */
  private scheduleStall(node: SimNode, generation: number): void {
    this.after(nextStallGapMs(this.busyRng, this.knobs), () => {
      if (!node.busy || node.busyGeneration !== generation) return;
      const durationMs = stallMs(this.busyRng, this.knobs);
      this.hash.word(durationMs);
      if (node.runtime !== null && !node.stalled) {
        node.stalled = true;
        this.after(durationMs, () => {
          if (node.busyGeneration === generation) this.endStall(node);
        });
      }
      this.after(durationMs, () => {
        if (node.busy && node.busyGeneration === generation) this.scheduleStall(node, generation);
      });
    });
  }

  private endStall(node: SimNode): void {
    if (!node.stalled) return;
    node.stalled = false;
    if (!node.paused && node.runtime !== null) this.drainWaiting(node, true);
  }

  private runTimelineEvent(event: TimelineEvent): void {
    // Timeline events after the safety phase still run: scenarios may script the recovery.
    const problem = runTimelineEvent(this, event);
    if (problem) this.violation(`${this.scenario.file}:${event.line}: ${problem}`);
  }

  /** The harness's own timeline actions (TimelineHost). */
  harnessAction(action: string, args: readonly string[]): string | null {
    return this.harness.act ? this.harness.act(this, action, args) : `unknown action '${action}'`;
  }

  /** `bridge B A.. | C..`: A and C cannot talk, B talks to both. */
  bridge(bridgeNode: NodeId, sides: NodeId[][]): void {
    this.network.bridge(sides.map((side) => side.map((id) => this.nodeOf(id).index)));
    this.fault(`bridge partition: ${sides.map((s) => s.join(' ')).join(' | ')} with ${bridgeNode} seeing both`);
  }

  /** The scenario's datacenter names (empty for a one-DC scenario): the WAN faults pick among them. */
  get datacenterNames(): readonly string[] {
    return this.scenario.datacenters.map((dc) => dc.name);
  }

  /** `wan-oneway A B`: nothing from datacenter A reaches datacenter B (healed by `heal`). */
  cutWan(fromDc: string, toDc: string): void {
    const names = this.datacenterNames;
    assert(names.includes(fromDc) && names.includes(toDc), `cutWan: unknown datacenter ${fromDc} or ${toDc}`);
    this.network.cutWan(names.indexOf(fromDc), names.indexOf(toDc));
    this.fault(`WAN one-way cut: ${fromDc} cannot reach ${toDc}`);
  }

  /** `isolate-dc D`: datacenter D is cut off from the WAN both ways; its LAN still works. */
  isolateDatacenter(dc: string): void {
    const names = this.datacenterNames;
    assert(names.includes(dc), `isolateDatacenter: unknown datacenter ${dc}`);
    for (const other of names) {
      if (other === dc) continue;
      this.network.cutWan(names.indexOf(dc), names.indexOf(other));
      this.network.cutWan(names.indexOf(other), names.indexOf(dc));
    }
    this.fault(`datacenter ${dc} cut off from the WAN`);
  }

  /** Majority ring: each node talks only to its ⌊n/2⌋ nearest neighbours on a ring (so each sees a majority, none the same one). */
  ring(): void {
    this.network.ring();
    this.fault('majority ring partition');
  }

  /**
   * The stranger injects one message every `every` on average while the safety phase lasts. On
   * authenticated links only its replays of members' own messages get past the link (see
   * sim/engine/stranger.ts); the rest is dropped there and counted.
   */
  private startStranger(stranger: Stranger): void {
    const spec = stranger.spec;
    this.emitLog({
      atMs: 0,
      node: null,
      kind: 'phase',
      text:
        `stranger: links=${spec.links} every=${spec.everyMs}ms kinds=${spec.kinds.join(',')} numbers=${spec.numbers}` +
        (spec.rogues.length > 0 ? ` rogue=${spec.rogues.join(',')}` : ''),
    });
    const act = () => {
      if (this.phaseNow !== 'safety') return;
      const injection = stranger.next(this.codec);
      if (injection) this.inject(stranger, injection);
      const gapMs = stranger.gapMs();
      if (this.nowMs + gapMs < this.scenario.safetyMs) this.after(gapMs, act);
    };
    this.after(stranger.gapMs(), act);
  }

  private inject(stranger: Stranger, injection: Injection): void {
    this.counters.messages++;
    if (stranger.spec.links === 'authenticated' && !injection.authentic) {
      stranger.counts.droppedAtLink++;
      this.counters.drops++;
      return;
    }
    const receiver = this.nodes[injection.to]!;
    this.hash.string(injection.description);
    this.emitLog({ atMs: this.nowMs, node: null, kind: 'fault', text: `stranger ${injection.description}` });
    const bytes = this.codec ? (injection.bytes ?? pack(injection.message)) : null;
    // The stranger's frames are decoded as they arrive in 'copy' mode too (rare; its garbage needs real bytes).
    const payload = bytes === null ? injection.message : this.codecMode === 'copy' ? decodeParcel(bytes, true) : bytes;
    // Like a datagram: the stranger's frames are not part of any member's stream.
    const event = new SimEvent(this.nowUs + 1 + stranger.latencyUs(), Ev.Deliver, receiver.index);
    event.from = -1;
    event.claimedFrom = injection.claimedFrom;
    event.payload = payload;
    event.stream = false;
    event.incarnation = receiver.incarnation;
    event.sentUs = this.nowUs;
    this.schedule(event);
  }

  private healEverything(): void {
    const f = this.faults;
    f.heal();
    this.network.reset();
    for (const node of this.nodes) {
      f.freeDisk(node.id);
      if (node.paused) f.resume(node.id);
      if (node.busy) f.setBusy(node.id, false);
      if (node.runtime === null && node.refusedReason === null) f.restart(node.id);
      if (node.clock.driftPpm !== 0) f.setDrift(node.id, 0);
    }
  }

  private pollLiveness(): void {
    const pollMs = 50;
    const check = () => {
      if (this.stopped || this.phaseNow !== 'liveness') return;
      if (this.harness.live!(this)) {
        this.recoveredUs = this.nowUs - Math.round(this.scenario.safetyMs * usPerMs);
        this.emitLog({
          atMs: this.nowMs,
          node: null,
          kind: 'phase',
          text: `cluster live again ${(this.recoveredUs / usPerMs).toFixed(1)} ms after faults stopped`,
        });
        this.stopped = true;
        return;
      }
      this.after(pollMs, check);
    };
    this.after(0, check);
  }

  private logKnobs(): void {
    this.emitLog({ atMs: 0, node: null, kind: 'phase', text: describeKnobs(this.seed, this.scenario, this.knobs) });
  }
}

// ───────────────────────────────────────────── helpers ────────────────────────────────────────────

/**
 * Fault knobs from the `nemesis` stream, protocol knobs from the `protocol` stream (swarm scenarios
 * only, so scripted scenarios keep the exact configuration their file states), then the overrides
 * (a replay file's recorded knobs), then the `--knob` pins.
 */
function drawAllKnobs(
  sim: Simulation,
  scenario: Scenario,
  harness: Harness,
  options: SimOptions,
  busy: BusyKnobs,
): Knobs {
  const faults = { ...drawKnobs(sim.random('nemesis'), scenario), ...busy };
  // The harness draws around the `--knob` protocol pins as around the file's own parameters, so a
  // knob that depends on a pinned one follows it (`--knob checkQuorum=false` draws no lease reads).
  const pinnedParams: Record<string, string> = { ...scenario.params };
  for (const [key, value] of Object.entries(options.pins ?? {}))
    if (!(numericFaultKnobs as readonly string[]).includes(key)) pinnedParams[key] = value;
  const drawn =
    scenario.nemesis.mode === 'swarm' && harness.drawKnobs
      ? harness.drawKnobs(sim.random('protocol'), { ...scenario, params: pinnedParams }, faults)
      : {};
  const knobs: Knobs = { ...faults, ...options.knobs, protocol: options.knobs?.protocol ?? drawn };
  const protocol: Record<string, string> = { ...knobs.protocol };
  const numeric = knobs as unknown as Record<string, number>;
  for (const [key, value] of Object.entries(options.pins ?? {})) {
    if ((numericFaultKnobs as readonly string[]).includes(key)) {
      assert(Number.isFinite(Number(value)), `--knob ${key}=${value}: not a number`);
      numeric[key] = Number(value);
    } else protocol[key] = value;
  }
  return { ...knobs, protocol };
}

/** Floats in [0, 1) from a Prng (2^-32 resolution is plenty for latencies and ratios). */
function unitFloats(prng: Prng): () => number {
  return () => prng.uint32() / 0x100000000;
}

/** Decodes a payload; a stranger's undecodable bytes give undefined, a member's must decode. */
function decodeOrNull(bytes: Uint8Array, fromStranger: boolean): unknown {
  if (!fromStranger) return unpack(bytes);
  try {
    const value = unpack(bytes);
    return value === undefined ? null : value;
  } catch {
    return undefined;
  }
}

/** The parcel a received frame gives: its decoded value and digest, or the undecodable marker. */
function decodeParcel(bytes: Uint8Array, fromStranger: boolean): WireParcel {
  const value = decodeOrNull(bytes, fromStranger);
  return value === undefined ? undecodable() : delivered(value);
}

function copyParcel(parcel: WireParcel): WireParcel {
  return { value: copyAgain(parcel.value), digestHi: parcel.digestHi, digestLo: parcel.digestLo };
}

function describeEnvelope(message: Envelope): string {
  return `${message.m}.${typeOf(message)}`;
}

function typeOf(message: Envelope): string {
  const p = message.p as { type?: unknown; t?: unknown } | null;
  const t = p && typeof p === 'object' ? (p.type ?? p.t) : undefined;
  return typeof t === 'string' || typeof t === 'number' ? String(t) : '?';
}

/**
 * `state raft:leader × appendReply`: the role of the machine an input is for, met by that input
 * (coverage of protocol states × events), or null when the machine has no role.
 */
function rolePair(runtime: NodeRuntime, input: Input<Envelope, NodeRequest>): string | null {
  let machine: string;
  let what: string;
  if (input.kind === 'message') {
    machine = input.message.m;
    what = typeOf(input.message);
  } else if (input.kind === 'timer') {
    const colon = input.timer.indexOf(':');
    machine = input.timer.slice(0, colon);
    what = `timer ${input.timer.slice(colon + 1)}`;
  } else if (input.kind === 'request') {
    machine = input.request.machine;
    const body = input.request.body as { type?: unknown; op?: unknown } | null;
    what = `request ${String(body && typeof body === 'object' ? (body.type ?? body.op ?? '?') : '?')}`;
  } else return null;
  const role = runtime.roleOf(machine);
  return role === null ? null : `state ${machine}:${role} × ${what}`;
}
