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
import { pack, unpack } from 'msgpackr';
import seedrandom from 'seedrandom';
import { assert } from '../core/assert.js';
import { Prng } from '../core/prng.js';
import { NodeRuntime, type Envelope, type NodeRequest } from '../core/runtime.js';
import type { Effect, Input, NodeId } from '../core/types.js';
import type { FaultApi, Harness, NetworkKnobs, SimApi } from './harness.js';
import { EventHeap } from './heap.js';
import { History } from './history.js';
import type { FaultKind, Scenario, TimelineEvent } from './scenario.js';
import { networkFromArgs, parseDurationMs } from './scenario.js';
import { SimStorage } from './storage.js';
import { TraceHash, hashString } from './trace-hash.js';

// ───────────────────────────────────────────── options ────────────────────────────────────────────

export interface SimOptions {
  /** Encode and decode every message and stored value with msgpackr (the real wire). Default true. */
  readonly codec?: boolean;
  /** Call node invariants and the harness's cluster checks after every step. Default true. */
  readonly checkInvariants?: boolean;
  /** Keep the last N log lines in `result.log` (0 keeps none; the hash covers everything anyway). */
  readonly logLimit?: number;
  /** Sees every log line as it happens (the TUI, `sim run --verbose`). */
  readonly onLog?: (line: LogLine) => void;
  /** Sees every message hop (the report's Lamport diagram). Off by default: it costs. */
  readonly onMessage?: (hop: MessageHop) => void;
  /** Overrides for drawn knobs (replay files pin them; tests force a fault). */
  readonly knobs?: Partial<Knobs>;
  /** Stop at the first violation (default true). */
  readonly stopOnViolation?: boolean;
}

export interface LogLine {
  readonly atMs: number;
  readonly node: NodeId | null;
  readonly kind: 'fault' | 'trace' | 'client' | 'violation' | 'phase' | 'harness';
  readonly text: string;
}

export interface MessageHop {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly sentMs: number;
  readonly deliveredMs: number | null; // null: dropped
  readonly machine: string;
  readonly type: string;
}

/**
 * The knobs drawn from the seed at the start of a run (swarm testing: each seed gets its own mix of
 * fault kinds and intensities, as TigerBeetle's VOPR does). All are logged first thing in a run.
 */
export interface Knobs {
  /** Fault kinds this seed uses, with a relative weight each (0 = off). */
  faultWeights: Record<FaultKind, number>;
  /** Mean gap between nemesis actions (ms). */
  faultEveryMs: number;
  /** How long a fault lasts before it is undone, at most (ms). */
  faultDurationMsMax: number;
  /** Network knobs while a loss/dup/reorder fault is active. */
  faultLossRatio: number;
  faultDuplicateRatio: number;
  faultReorderRatio: number;
  /** Probability (as a percentage) that a crash tears the first unsynced append. */
  tornWritePercent: number;
  /** Probability (as a percentage) that a crash also rots a stored log entry (off unless asked). */
  bitRotPercent: number;
  /** fsync latency range (µs). */
  syncUsMin: number;
  syncUsMax: number;
  /** Largest clock jump (ms) and drift (ppm) the clock fault draws. */
  clockJumpMsMax: number;
  clockDriftPpmMax: number;
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
}

// ───────────────────────────────────────────── events ─────────────────────────────────────────────

const enum Ev {
  Deliver = 0,
  Timer = 1,
  Sync = 2,
  Callback = 3,
  Request = 4,
}

interface SimEvent {
  atUs: number;
  seq: number;
  kind: Ev;
  node: number;
  // Deliver
  from?: number;
  payload?: unknown; // Uint8Array with the codec, else the envelope
  stream?: boolean;
  incarnation?: number; // receiver's incarnation at send time (stream) / owner's (timers, syncs)
  sentUs?: number;
  // Timer
  timer?: string;
  generation?: number;
  // Sync
  marker?: number;
  // Callback
  fn?: () => void;
  // Request
  requestId?: number;
  request?: NodeRequest;
}

interface SimNode {
  readonly id: NodeId;
  readonly index: number;
  runtime: NodeRuntime | null;
  incarnation: number;
  paused: boolean;
  pausedQueue: SimEvent[];
  readonly timers: Map<string, number>;
  timerGeneration: number;
  readonly storage: SimStorage;
  /** Sends and replies waiting for a persist to become durable: [marker, effect]. */
  held: { marker: number; effect: Effect }[];
  clockOffsetUs: number;
  driftPpm: number;
  driftBaseUs: number;
  refusedReason: string | null;
}

interface PendingRequest {
  readonly node: number;
  readonly onDone: (response: unknown) => void;
  done: boolean;
}

const usPerMs = 1000;
const clientLatencyUsMin = 200;

// ───────────────────────────────────────────── simulation ─────────────────────────────────────────

export class Simulation implements SimApi {
  readonly seed: number;
  readonly scenario: Scenario;
  readonly harness: Harness;
  readonly history = new History();
  readonly knobs: Knobs;
  readonly faults: FaultApi;
  readonly nodeIds: readonly NodeId[];

  private readonly nodes: SimNode[] = [];
  private readonly byId = new Map<NodeId, SimNode>();
  private readonly queue = new EventHeap<SimEvent>();
  private seq = 0;
  private nowUs = 0;
  private readonly hash = new TraceHash();
  private readonly codec: boolean;
  private readonly checkInvariants: boolean;
  private readonly stopOnViolation: boolean;
  private readonly logLimit: number;
  private readonly onLog: ((line: LogLine) => void) | undefined;
  private readonly onMessage: ((hop: MessageHop) => void) | undefined;
  private readonly logLines: LogLine[] = [];
  readonly violations: string[] = [];

  // Independent random streams, one per subsystem: seedrandom derives each stream's seed from the
  // run's seed and the stream's name; the draws come from sfc32 (core/prng.ts), which is faster.
  private readonly netRng: () => number;
  private readonly storageRng: Prng;
  private readonly nemesisRng: Prng;
  private readonly clientRng: () => number;
  private readonly streams = new Map<string, Prng>();

  // Network state.
  private baseNetwork: NetworkKnobs;
  private network: NetworkKnobs;
  private groupOf: Int32Array;
  private partitioned = false;
  private readonly blockedPairs = new Set<number>();
  private readonly clogUntilUs = new Map<number, number>();
  private readonly lastStreamUs = new Map<number, number>();

  private readonly pendingRequests = new Map<number, PendingRequest>();
  private nextRequestId = 1;

  private phaseNow: 'safety' | 'liveness' | 'done' = 'safety';
  private stopped = false;
  private recoveredUs: number | null = null;
  counters = { events: 0, messages: 0, deliveries: 0, drops: 0, steps: 0 };

  constructor(scenario: Scenario, harness: Harness, seed: number, options: SimOptions = {}) {
    assert(Number.isSafeInteger(seed) && seed >= 0, `seed must be a non-negative integer, got ${seed}`);
    this.seed = seed;
    this.scenario = scenario;
    this.harness = harness;
    this.codec = options.codec ?? true;
    this.checkInvariants = options.checkInvariants ?? true;
    this.stopOnViolation = options.stopOnViolation ?? true;
    this.logLimit = options.logLimit ?? 0;
    this.onLog = options.onLog;
    this.onMessage = options.onMessage;
    this.nodeIds = scenario.nodes;
    this.netRng = unitFloats(this.random('network'));
    this.clientRng = unitFloats(this.random('clients'));
    this.storageRng = this.random('storage');
    this.nemesisRng = this.random('nemesis');
    this.knobs = { ...drawKnobs(this.nemesisRng, scenario), ...options.knobs };
    this.baseNetwork = { ...scenario.network };
    this.network = { ...scenario.network };
    this.groupOf = new Int32Array(scenario.nodes.length);
    this.faults = this.makeFaultApi();

    for (const [index, id] of scenario.nodes.entries()) {
      const node: SimNode = {
        id,
        index,
        runtime: null,
        incarnation: 0,
        paused: false,
        pausedQueue: [],
        timers: new Map(),
        timerGeneration: 0,
        storage: new SimStorage(this.codec),
        held: [],
        clockOffsetUs: 0,
        driftPpm: 0,
        driftBaseUs: 0,
        refusedReason: null,
      };
      this.nodes.push(node);
      this.byId.set(id, node);
    }
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
    this.schedule({ atUs: Math.max(this.nowUs, Math.round(atMs * usPerMs)), seq: 0, kind: Ev.Callback, node: -1, fn });
  }

  after(delayMs: number, fn: () => void): void {
    this.at(this.nowMs + delayMs, fn);
  }

  request(nodeId: NodeId, request: NodeRequest, timeoutMs: number, onDone: (response: unknown) => void): void {
    const node = this.nodeOf(nodeId);
    const requestId = this.nextRequestId++;
    const pending: PendingRequest = { node: node.index, onDone, done: false };
    this.pendingRequests.set(requestId, pending);
    this.schedule({ atUs: this.nowUs + this.clientLatencyUs(), seq: 0, kind: Ev.Request, node: node.index, requestId, request });
    this.after(timeoutMs, () => this.finishRequest(requestId, undefined));
  }

  log(text: string): void {
    this.emitLog({ atMs: this.nowMs, node: null, kind: 'harness', text });
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
    for (const node of this.nodes) this.startNode(node);
    for (const event of this.scenario.timeline) this.at(event.atMs, () => this.runTimelineEvent(event));
    if (this.scenario.nemesis.mode === 'swarm') this.scheduleNemesis();
    this.harness.start?.(this, this.scenario);
  }

  /** Processes events up to (and including) global time `untilMs`, unless stopped. */
  runUntil(untilMs: number): void {
    const untilUs = Math.round(untilMs * usPerMs);
    for (;;) {
      if (this.stopped) return;
      const next = this.queue.peek();
      if (!next || next.atUs > untilUs) break;
      this.queue.pop();
      this.nowUs = next.atUs;
      this.process(next);
    }
    if (!this.stopped) this.nowUs = Math.max(this.nowUs, untilUs);
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
    this.emitLog({ atMs: this.nowMs, node: null, kind: 'phase', text: 'safety phase over: faults healed, liveness phase begins' });
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
      if (this.harness.live && this.recoveredUs === null) this.violation(`liveness: no progress within ${this.scenario.livenessMs} ms after faults stopped`);
      for (const text of this.harness.checkEnd?.(this) ?? []) this.violation(text);
      for (const expectation of this.scenario.expectations) {
        if (expectation.name === 'liveness' || expectation.name === 'pass') continue;
        const problem = this.harness.expect ? this.harness.expect(this, expectation.name, expectation.args) : `unknown expectation '${expectation.name}'`;
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
    };
  }

  /** Global time (ms) of the next event in the queue, or null when nothing is scheduled. */
  nextEventMs(): number | null {
    const next = this.queue.peek();
    return next ? next.atUs / usPerMs : null;
  }

  get networkNow(): NetworkKnobs {
    return { ...this.network };
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
    const groups = new Map<number, NodeId[]>();
    for (const node of this.nodes) {
      const g = this.partitioned ? this.groupOf[node.index]! : 0;
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g)!.push(node.id);
    }
    const n = this.nodes.length;
    const blocked = [...this.blockedPairs].map((key) => [this.nodes[Math.floor(key / n)]!.id, this.nodes[key % n]!.id] as [NodeId, NodeId]);
    return { groups: [...groups.values()], blocked };
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
      case Ev.Request: {
        const node = this.nodes[event.node]!;
        this.hash.word(event.node);
        if (node.runtime === null) {
          if (event.kind === Ev.Deliver) this.counters.drops++;
          return;
        }
        if (node.paused) {
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
        if (this.isBlocked(event.from!, node.index)) {
          this.counters.drops++;
          this.reportHop(event, null);
          return;
        }
        let message: Envelope;
        if (this.codec) {
          this.hash.bytes(event.payload as Uint8Array);
          message = unpack(event.payload as Uint8Array) as Envelope;
        } else message = event.payload as Envelope;
        this.counters.deliveries++;
        this.reportHop(event, this.nowUs);
        this.stepNode(node, { kind: 'message', nowMs, from: this.nodes[event.from!]!.id, message });
        return;
      }
      case Ev.Timer: {
        if (event.incarnation !== node.incarnation || node.timers.get(event.timer!) !== event.generation) return;
        node.timers.delete(event.timer!);
        this.hash.word(hashString(event.timer!));
        this.stepNode(node, { kind: 'timer', nowMs, timer: event.timer! });
        return;
      }
      case Ev.Request:
        this.stepNode(node, { kind: 'request', nowMs, requestId: event.requestId!, request: event.request! });
        return;
      default:
        assert(false, `event kind ${event.kind} is not for a node`);
    }
  }

  private stepNode(node: SimNode, input: Input<Envelope, NodeRequest>): void {
    const runtime = node.runtime!;
    this.counters.steps++;
    const effects = runtime.step(input);
    this.hash.word(effects.length);
    for (const effect of effects) {
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

  private carryOut(node: SimNode, effect: Effect): void {
    switch (effect.kind) {
      case 'send':
      case 'reply':
        if (node.storage.unsynced || node.held.length > 0) node.held.push({ marker: node.storage.writtenMarker, effect });
        else this.leave(node, effect);
        return;
      case 'setTimer': {
        const generation = ++node.timerGeneration;
        node.timers.set(effect.timer, generation);
        const rate = 1 + node.driftPpm / 1e6;
        const delayUs = Math.max(1, Math.round((effect.afterMs * usPerMs) / rate));
        this.schedule({ atUs: this.nowUs + delayUs, seq: 0, kind: Ev.Timer, node: node.index, timer: effect.timer, generation, incarnation: node.incarnation });
        return;
      }
      case 'cancelTimer':
        node.timers.delete(effect.timer);
        return;
      case 'persist': {
        const marker = node.storage.write(effect.ops);
        const syncUs = this.knobs.syncUsMin + this.storageRng.below(this.knobs.syncUsMax - this.knobs.syncUsMin + 1);
        this.schedule({ atUs: this.nowUs + syncUs, seq: 0, kind: Ev.Sync, node: node.index, marker, incarnation: node.incarnation });
        return;
      }
      case 'runCheck': {
        const result = this.harness.checkResult?.(this, node.id, effect.checkId, effect.check) ?? { status: 'passing' as const, output: '' };
        const delayUs = 1000 + this.storageRng.below(Math.max(1, Math.min(effect.timeoutMs, 50)) * usPerMs);
        const incarnation = node.incarnation;
        this.schedule({
          atUs: this.nowUs + delayUs,
          seq: 0,
          kind: Ev.Callback,
          node: node.index,
          fn: () => {
            if (node.runtime === null || node.incarnation !== incarnation) return;
            if (node.paused) return; // a paused agent does not see its check finish; the next run will
            this.stepNode(node, { kind: 'checkResult', nowMs: this.localUs(node) / usPerMs, checkId: effect.checkId, result });
          },
        });
        return;
      }
      case 'trace':
        if (effect.level !== 'debug') this.emitLog({ atMs: this.nowMs, node: node.id, kind: 'trace', text: effect.text });
        return;
      case 'apply':
      case 'local':
        return; // apply is observed by the harness; local never leaves the runtime
    }
  }

  private onSync(event: SimEvent): void {
    const node = this.nodes[event.node]!;
    if (event.incarnation !== node.incarnation) return; // the process that asked for it is gone
    node.storage.sync(event.marker!);
    // The disk finishes while the process is paused, but a paused process sends nothing: what the
    // sync released leaves when the node resumes.
    if (!node.paused) this.releaseHeld(node);
  }

  /** Sends and replies whose persists are now durable leave, in their original order. */
  private releaseHeld(node: SimNode): void {
    while (node.held.length > 0 && node.held[0]!.marker <= node.storage.durableMarker) {
      const { effect } = node.held.shift()!;
      this.leave(node, effect);
    }
  }

  /** A send or reply leaves the node. */
  private leave(node: SimNode, effect: Effect): void {
    if (effect.kind === 'reply') {
      const pending = this.pendingRequests.get(effect.requestId);
      if (!pending) return;
      const response = this.codec ? unpack(pack(effect.response)) : effect.response;
      this.schedule({ atUs: this.nowUs + this.clientLatencyUs(), seq: 0, kind: Ev.Callback, node: -1, fn: () => this.finishRequest(effect.requestId, response) });
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
    const payload = this.codec ? pack(message) : message;
    if (this.isBlocked(sender.index, receiver.index) || (!stream && this.netRng() < this.network.lossRatio)) {
      this.counters.drops++;
      if (this.onMessage) this.onMessage({ from: sender.id, to, sentMs: this.nowMs, deliveredMs: null, machine: message.m, type: typeOf(message) });
      return;
    }
    const copies = !stream && this.netRng() < this.network.duplicateRatio ? 2 : 1;
    for (let copy = 0; copy < copies; copy++) {
      let atUs = this.nowUs + this.latencyUs();
      if (!stream && this.netRng() < this.network.reorderRatio) atUs += Math.round(this.netRng() * this.network.reorderMsMax * usPerMs);
      const link = sender.index * this.nodes.length + receiver.index;
      const clog = this.clogUntilUs.get(link);
      if (clog !== undefined && clog > atUs) atUs = clog;
      if (stream) {
        const last = this.lastStreamUs.get(link) ?? 0;
        if (atUs <= last) atUs = last + 1;
        this.lastStreamUs.set(link, atUs);
      }
      this.schedule({ atUs, seq: 0, kind: Ev.Deliver, node: receiver.index, from: sender.index, payload, stream, incarnation: receiver.incarnation, sentUs: this.nowUs });
    }
  }

  private reportHop(event: SimEvent, deliveredUs: number | null): void {
    if (!this.onMessage) return;
    const message = (this.codec ? unpack(event.payload as Uint8Array) : event.payload) as Envelope;
    this.onMessage({
      from: this.nodes[event.from!]!.id,
      to: this.nodes[event.node]!.id,
      sentMs: event.sentUs! / usPerMs,
      deliveredMs: deliveredUs === null ? null : deliveredUs / usPerMs,
      machine: message.m,
      type: typeOf(message),
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
      node.runtime = new NodeRuntime(node.id, this.harness.mounts(node.id, this.scenario), node.storage.load(), prng);
      node.refusedReason = null;
    } catch (error) {
      // A node that refuses its durable state (a corrupt record) stays down, loudly: that is the
      // correct behaviour, and the operator's problem, not a crash of the simulator.
      node.runtime = null;
      node.refusedReason = (error as Error).message;
      this.emitLog({ atMs: this.nowMs, node: node.id, kind: 'fault', text: `${node.id} refused to start: ${node.refusedReason}` });
      if ((error as Error).name === 'AssertionError') this.violation(`${node.id} failed an assertion while starting: ${(error as Error).message}`);
      return;
    }
    node.storage.acknowledgeLoad();
    this.stepNode(node, { kind: 'start', nowMs: this.localUs(node) / usPerMs });
  }

  private localUs(node: SimNode): number {
    return this.nowUs + node.clockOffsetUs + ((this.nowUs - node.driftBaseUs) * node.driftPpm) / 1e6;
  }

  private nodeOf(nodeId: NodeId): SimNode {
    const node = this.byId.get(nodeId);
    assert(node !== undefined, `unknown node ${nodeId}`);
    return node;
  }

  private latencyUs(): number {
    const tail = -Math.log(1 - this.netRng()) * this.network.latencyMsTailMean;
    return Math.max(1, Math.round((this.network.latencyMsMin + tail) * usPerMs));
  }

  private clientLatencyUs(): number {
    return clientLatencyUsMin + Math.round(this.clientRng() * 800);
  }

  private isBlocked(from: number, to: number): boolean {
    if (this.partitioned && this.groupOf[from] !== this.groupOf[to]) return true;
    return this.blockedPairs.size > 0 && this.blockedPairs.has(from * this.nodes.length + to);
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
        sim.groupOf.fill(groups.length); // unlisted nodes form one more group
        groups.forEach((group, g) => group.forEach((id) => (sim.groupOf[indexOf(id)] = g)));
        sim.partitioned = true;
        sim.fault(`partition ${groups.map((g) => g.join(' ')).join(' | ')}`);
      },
      blockOneWay(from, to) {
        sim.blockedPairs.add(indexOf(from) * sim.nodes.length + indexOf(to));
        sim.fault(`one-way partition: ${from} cannot reach ${to}`);
      },
      heal() {
        sim.partitioned = false;
        sim.blockedPairs.clear();
        sim.clogUntilUs.clear();
        sim.fault('network healed');
      },
      clog(from, to, untilMs) {
        sim.clogUntilUs.set(indexOf(from) * sim.nodes.length + indexOf(to), Math.round(untilMs * usPerMs));
        sim.fault(`link ${from}→${to} clogged until ${untilMs.toFixed(0)} ms`);
      },
      crash(id) {
        const node = sim.nodeOf(id);
        if (node.runtime === null) return;
        node.runtime = null;
        node.incarnation++;
        node.paused = false;
        node.pausedQueue = [];
        node.timers.clear();
        node.held = [];
        const outcome = node.storage.crash(sim.storageRng, sim.knobs.tornWritePercent, 100);
        let rot = '';
        if (sim.knobs.bitRotPercent > 0 && sim.storageRng.chance(sim.knobs.bitRotPercent, 100)) {
          const where = node.storage.rot(sim.storageRng);
          if (where) rot = `, bit rot in ${where.log} entry ${where.position}`;
        }
        sim.fault(`${id} crashed (${outcome.unsyncedOps} unsynced writes, ${outcome.survivedOps} survived${outcome.torn ? ', next one torn' : ''}${rot})`);
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
        sim.releaseHeld(node); // writes that became durable during the pause let their sends go first
        const waiting = node.pausedQueue;
        node.pausedQueue = [];
        for (let i = 0; i < waiting.length; i++) {
          if (node.runtime === null) break; // crashed while catching up: the rest died with it
          if (node.paused) {
            node.pausedQueue.push(...waiting.slice(i)); // paused again: keep the rest for next time
            break;
          }
          sim.deliverToNode(node, waiting[i]!);
        }
      },
      jumpClock(id, deltaMs) {
        sim.nodeOf(id).clockOffsetUs += Math.round(deltaMs * usPerMs);
        sim.fault(`${id} clock jumped ${deltaMs >= 0 ? '+' : ''}${deltaMs} ms`);
      },
      setDrift(id, ppm) {
        const node = sim.nodeOf(id);
        node.clockOffsetUs = sim.localUs(node) - sim.nowUs; // fold the drift so far into the offset
        node.driftBaseUs = sim.nowUs;
        node.driftPpm = ppm;
        sim.fault(`${id} clock drift set to ${ppm} ppm`);
      },
      setNetwork(knobs) {
        sim.network = { ...sim.network, ...knobs };
        sim.fault(`network loss=${pct(sim.network.lossRatio)} dup=${pct(sim.network.duplicateRatio)} reorder=${pct(sim.network.reorderRatio)}`);
      },
    };
  }

  private runTimelineEvent(event: TimelineEvent): void {
    if (this.phaseNow !== 'safety' && this.scenario.timeline.length > 0 && event.atMs >= this.scenario.safetyMs) {
      // Timeline events after the safety phase still run: scenarios may script the recovery.
    }
    const f = this.faults;
    const a = event.args;
    const groups = () => splitGroups(a);
    switch (event.action) {
      case 'partition':
        f.partition(groups());
        return;
      case 'oneway':
        f.blockOneWay(a[0]!, a[1]!);
        return;
      case 'bridge':
        this.bridge(a[0]!, groups().map((g) => g.filter((id) => id !== a[0])));
        return;
      case 'ring':
        this.ring();
        return;
      case 'heal':
        f.heal();
        return;
      case 'crash':
        f.crash(a[0]!);
        return;
      case 'restart':
        f.restart(a[0]!);
        return;
      case 'pause':
        f.pause(a[0]!);
        return;
      case 'resume':
        f.resume(a[0]!);
        return;
      case 'jump':
        f.jumpClock(a[0]!, parseDurationMs(a[1]!)!);
        return;
      case 'drift':
        f.setDrift(a[0]!, Number(a[1]));
        return;
      case 'clog':
        f.clog(a[0]!, a[1]!, this.nowMs + parseDurationMs(a[2]!)!);
        return;
      case 'network':
        this.faults.setNetwork(networkFromArgs(this.network, a));
        return;
      default: {
        const problem = this.harness.act ? this.harness.act(this, event.action, event.args) : `unknown action '${event.action}'`;
        if (problem) this.violation(`${this.scenario.file}:${event.line}: ${problem}`);
      }
    }
  }

  /** `bridge B A.. | C..`: A and C cannot talk, B talks to both. */
  private bridge(bridgeNode: NodeId, sides: NodeId[][]): void {
    const n = this.nodes.length;
    for (let i = 0; i < sides.length; i++)
      for (let j = 0; j < sides.length; j++) {
        if (i === j) continue;
        for (const a of sides[i]!) for (const b of sides[j]!) this.blockedPairs.add(this.nodeOf(a).index * n + this.nodeOf(b).index);
      }
    this.fault(`bridge partition: ${sides.map((s) => s.join(' ')).join(' | ')} with ${bridgeNode} seeing both`);
  }

  /** Majority ring: each node talks only to its ⌊n/2⌋ nearest neighbours on a ring (so each sees a majority, none the same one). */
  private ring(): void {
    const n = this.nodes.length;
    const reach = Math.floor(n / 2) / 2;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        if (i === j) continue;
        const d = Math.min((i - j + n) % n, (j - i + n) % n);
        if (d > Math.ceil(reach)) this.blockedPairs.add(i * n + j);
      }
    this.fault('majority ring partition');
  }

  private healEverything(): void {
    const f = this.faults;
    f.heal();
    this.network = { ...this.baseNetwork };
    for (const node of this.nodes) {
      if (node.paused) f.resume(node.id);
      if (node.runtime === null && node.refusedReason === null) f.restart(node.id);
      if (node.driftPpm !== 0) f.setDrift(node.id, 0);
    }
  }

  private pollLiveness(): void {
    const pollMs = 50;
    const check = () => {
      if (this.stopped || this.phaseNow !== 'liveness') return;
      if (this.harness.live!(this)) {
        this.recoveredUs = this.nowUs - Math.round(this.scenario.safetyMs * usPerMs);
        this.emitLog({ atMs: this.nowMs, node: null, kind: 'phase', text: `cluster live again ${(this.recoveredUs / usPerMs).toFixed(1)} ms after faults stopped` });
        this.stopped = true;
        return;
      }
      this.after(pollMs, check);
    };
    this.after(0, check);
  }

  // ─────────────────────────────────────────── nemesis ──────────────────────────────────────────

  private scheduleNemesis(): void {
    const tick = () => {
      if (this.phaseNow !== 'safety') return;
      this.nemesisAction();
      const gap = 1 + this.nemesisRng.below(Math.max(1, Math.round(this.knobs.faultEveryMs * 2)));
      if (this.nowMs + gap < this.scenario.safetyMs) this.after(gap, tick);
    };
    this.after(this.nemesisRng.below(Math.max(1, Math.round(this.knobs.faultEveryMs))), tick);
  }

  private nemesisAction(): void {
    const weights = this.knobs.faultWeights;
    const kinds = (Object.keys(weights) as FaultKind[]).filter((k) => weights[k] > 0);
    if (kinds.length === 0) return;
    const total = kinds.reduce((sum, k) => sum + weights[k], 0);
    let draw = this.nemesisRng.below(total);
    let kind = kinds[0]!;
    for (const k of kinds) {
      if (draw < weights[k]) {
        kind = k;
        break;
      }
      draw -= weights[k];
    }
    const r = this.nemesisRng;
    const ids = this.nodeIds;
    const duration = 1 + r.below(Math.max(1, this.knobs.faultDurationMsMax));
    const undo = (fn: () => void) => this.after(duration, () => this.phaseNow === 'safety' && fn());
    const f = this.faults;
    switch (kind) {
      case 'partition': {
        const groupCount = 2 + r.below(2);
        const groups: NodeId[][] = Array.from({ length: groupCount }, () => []);
        for (const id of r.shuffle([...ids])) groups[r.below(groupCount)]!.push(id);
        f.partition(groups.filter((g) => g.length > 0));
        undo(() => f.heal());
        return;
      }
      case 'oneway': {
        if (ids.length < 2) return;
        const [a, b] = r.shuffle([...ids]);
        f.blockOneWay(a!, b!);
        undo(() => f.heal());
        return;
      }
      case 'bridge': {
        if (ids.length < 3) return;
        const shuffled = r.shuffle([...ids]);
        const bridgeNode = shuffled.pop()!;
        const half = Math.ceil(shuffled.length / 2);
        this.bridge(bridgeNode, [shuffled.slice(0, half), shuffled.slice(half)]);
        undo(() => f.heal());
        return;
      }
      case 'ring':
        if (ids.length < 4) return;
        this.ring();
        undo(() => f.heal());
        return;
      case 'crash': {
        const up = ids.filter((id) => this.isUp(id));
        if (up.length === 0) return;
        const victim = r.pick(up);
        f.crash(victim);
        undo(() => f.restart(victim));
        return;
      }
      case 'pause': {
        const up = ids.filter((id) => this.isUp(id) && !this.isPaused(id));
        if (up.length === 0) return;
        const victim = r.pick(up);
        f.pause(victim);
        undo(() => f.resume(victim));
        return;
      }
      case 'clock': {
        const victim = r.pick(ids);
        if (r.chance(1, 2)) f.jumpClock(victim, r.between(-this.knobs.clockJumpMsMax, this.knobs.clockJumpMsMax));
        else f.setDrift(victim, r.between(-this.knobs.clockDriftPpmMax, this.knobs.clockDriftPpmMax));
        return;
      }
      case 'loss':
      case 'dup':
      case 'reorder': {
        const knobs: Partial<NetworkKnobs> =
          kind === 'loss' ? { lossRatio: this.knobs.faultLossRatio } : kind === 'dup' ? { duplicateRatio: this.knobs.faultDuplicateRatio } : { reorderRatio: this.knobs.faultReorderRatio };
        f.setNetwork(knobs);
        undo(() => f.setNetwork(this.baseNetwork));
        return;
      }
      case 'clog': {
        if (ids.length < 2) return;
        const [a, b] = r.shuffle([...ids]);
        f.clog(a!, b!, this.nowMs + duration);
        return;
      }
    }
  }

  private logKnobs(): void {
    const k = this.knobs;
    const weights = Object.entries(k.faultWeights)
      .filter(([kind]) => this.scenario.nemesis.mode === 'swarm' && this.scenario.nemesis.kinds.includes(kind as FaultKind))
      .map(([kind, w]) => `${kind}=${w}`)
      .join(' ');
    this.emitLog({
      atMs: 0,
      node: null,
      kind: 'phase',
      text:
        `seed ${this.seed} knobs: nemesis=${this.scenario.nemesis.mode}${weights ? ` weights[${weights}]` : ''} every=${k.faultEveryMs}ms ` +
        `durationMax=${k.faultDurationMsMax}ms loss=${pct(k.faultLossRatio)} dup=${pct(k.faultDuplicateRatio)} reorder=${pct(k.faultReorderRatio)} ` +
        `torn=${k.tornWritePercent}% rot=${k.bitRotPercent}% sync=${k.syncUsMin}..${k.syncUsMax}us clockJump=${k.clockJumpMsMax}ms drift=${k.clockDriftPpmMax}ppm`,
    });
  }
}

// ───────────────────────────────────────────── helpers ────────────────────────────────────────────

/** Draws the per-seed knobs (swarm testing): fault mix and intensities. */
export function drawKnobs(r: Prng, scenario: Scenario): Knobs {
  const enabled = new Set(scenario.nemesis.mode === 'swarm' ? scenario.nemesis.kinds : []);
  const weight = (kind: FaultKind) => (enabled.has(kind) ? r.pick([0, 1, 2, 4]) : 0);
  const faultWeights = {} as Record<FaultKind, number>;
  for (const kind of ['partition', 'oneway', 'bridge', 'ring', 'crash', 'pause', 'clock', 'loss', 'dup', 'clog', 'reorder'] as FaultKind[]) faultWeights[kind] = weight(kind);
  // Swarm testing turns some kinds off per seed, but never all of the enabled ones.
  if (enabled.size > 0 && Object.values(faultWeights).every((w) => w === 0)) faultWeights[r.pick([...enabled])] = 1;
  const every = scenario.nemesis.everyMs;
  return {
    faultWeights,
    faultEveryMs: Math.max(1, Math.round(every * r.pick([1, 2, 4]) / 2)),
    faultDurationMsMax: Math.max(1, Math.round(every * r.pick([1, 2, 4, 8]))),
    faultLossRatio: r.pick([0.01, 0.05, 0.2, 0.5]),
    faultDuplicateRatio: r.pick([0.01, 0.1, 0.3]),
    faultReorderRatio: r.pick([0.05, 0.3, 0.8]),
    tornWritePercent: r.pick([0, 50, 100]),
    bitRotPercent: 0,
    syncUsMin: 100,
    syncUsMax: r.pick([500, 2000, 10_000]),
    clockJumpMsMax: r.pick([100, 1000, 5000]),
    clockDriftPpmMax: r.pick([100, 1000, 20_000]),
  };
}

/** Floats in [0, 1) from a Prng (2^-32 resolution is plenty for latencies and ratios). */
function unitFloats(prng: Prng): () => number {
  return () => prng.uint32() / 0x100000000;
}

function splitGroups(args: readonly string[]): NodeId[][] {
  const groups: NodeId[][] = [[]];
  for (const a of args) {
    if (a === '|') groups.push([]);
    else groups[groups.length - 1]!.push(a);
  }
  return groups.filter((g) => g.length > 0);
}

function typeOf(message: Envelope): string {
  const p = message.p as { type?: unknown; t?: unknown } | null;
  const t = p && typeof p === 'object' ? (p.type ?? p.t) : undefined;
  return typeof t === 'string' || typeof t === 'number' ? String(t) : '?';
}

function pct(ratio: number): string {
  return `${+(ratio * 100).toFixed(2)}%`;
}
