/**
 * The real driver of a NodeRuntime: the event loop's timers feed `timer` inputs, sockets feed
 * `message` inputs, `call` feeds `request` inputs, finished checks feed `checkResult` inputs, and the
 * effects are carried out by the ORDERING RULE of core/types.ts:
 *
 *  - effects in list order;
 *  - `send` and `reply` are held while any persist emitted before them is not yet durable, and leave
 *    in their original order once the flush covering them completes;
 *  - persists of many steps share one flush (group commit): the flush is scheduled with setImmediate,
 *    so every input handled in the same turn of the event loop rides the same fsync;
 *  - timers, traces, applies and checks are never held.
 *
 * The sim driver (sim/engine/simulation.ts) follows the same rule with virtual time, through the same
 * queue (core/held.ts); the core cannot tell them
 * apart, which is what makes `conclave sim replay-agent` possible (net/recorder.ts).
 */
import { randomInt } from 'node:crypto';
import { assert } from '../core/assert.js';
import { HeldEffects } from '../core/held.js';
import type { Envelope, NodeRequest, NodeRuntime } from '../core/runtime.js';
import { traceText } from '../core/trace.js';
import {
  startNonceMax,
  type CheckResult,
  type CheckSpec,
  type Effect,
  type Input,
  type NodeId,
} from '../core/types.js';
import { runCheck as runCheckForReal } from './checks/run.js';
import { roundTrip } from './codec.js';
import type { Storage } from './disk/storage.js';
import { Recorder } from './recorder.js';
import type { Channel, LogFn, Transport } from './transport/types.js';

export interface DriverOptions {
  readonly runtime: NodeRuntime;
  readonly storage: Storage;
  /** The gossip endpoint (UDP+TCP, 8301); every node has one. */
  readonly gossip: Transport;
  /** The server RPC/Raft endpoint (TCP, 8300); servers only. */
  readonly server?: Transport;
  /** The WAN gossip endpoint (UDP+TCP, 8302); servers only (core/agent/wan.ts). */
  readonly wan?: Transport;
  /**
   * Which endpoint a message leaves from and the address it goes to. Default: SWIM from the gossip
   * endpoint, everything else from the server endpoint when there is one; the address unchanged.
   */
  readonly route?: (
    envelope: Envelope,
    to: string,
  ) => { readonly endpoint: 'gossip' | 'server' | 'wan'; readonly address: string };
  readonly log: LogFn;
  readonly recorder?: Recorder;
  /** Wall-clock ms, monotonic within the process. */
  readonly clock?: () => number;
  readonly runCheck?: (spec: CheckSpec, timeoutMs: number) => Promise<CheckResult>;
  /** Called with every step's effects before they are carried out (tests, log lines). */
  readonly onEffects?: (effects: readonly Effect[], input: Input<Envelope, NodeRequest>) => void;
  /** Called as each send or reply leaves, after the ORDERING RULE let it go (the driver conformance suite). */
  readonly onLeave?: (effect: Effect) => void;
  /** A step threw or storage failed: the node must stop (the agent exits 1). */
  readonly onFatal: (error: Error) => void;
  /** Run the machines' invariants after every step (tests). */
  readonly checkInvariants?: boolean;
}

/** The longest delay Node's setTimeout accepts (2^31 − 1 ms). */
export const timerDelayMsMax = 2 ** 31 - 1;

/**
 * Held sends and replies beyond which the driver warns that the disk is not keeping up. Not a hard
 * limit: dropping a held effect would break the ordering promise, and the core bounds its own output
 * (Raft's in-flight window, pending proposals), so growth past this means a stalled fsync.
 */
export const heldEffectsWarn = 100_000;

/** Bound on client requests waiting for their reply. */
export const pendingCallsMax = 65_536;

export class NodeDriver {
  private readonly timers = new Map<string, NodeJS.Timeout | NodeJS.Immediate>();
  private readonly calls = new Map<number, { resolve: (response: unknown) => void; timer: NodeJS.Timeout | null }>();
  private nextRequestId = 1;
  /** Sends and replies waiting for their persists (the ORDERING RULE's queue, core/held.ts). */
  private readonly held = new HeldEffects<Effect>();
  /** With a recorder: each recorded send and reply's (step, position), for its departure frame. */
  private readonly recordedIds = new WeakMap<Effect, readonly [number, number]>();
  private lastPersistMarker = 0;
  /** This step persisted something: its flush is scheduled once the step's effects are carried out. */
  private flushWanted = false;
  private flushScheduled = false;
  private stopped = false;
  private started = false;
  private readonly clock: () => number;
  private readonly checks: (spec: CheckSpec, timeoutMs: number) => Promise<CheckResult>;
  /**
   * Counters for CONCLAVE_PERF_LOG (cli/agent/run.ts): steps, sends, the most effects held at once,
   * checks run; `inputs` (steps by input kind, timers by name without a numeric id) once a caller sets
   * it to a map, which it then empties as it reads it (the names are bounded only between readings).
   */
  readonly stats = {
    steps: 0,
    sends: 0,
    heldMax: 0,
    checksRun: 0,
    inputs: null as Map<string, number> | null,
  };

  constructor(private readonly options: DriverOptions) {
    const origin = performance.timeOrigin;
    this.clock = options.clock ?? (() => origin + performance.now());
    this.checks = options.runCheck ?? runCheckForReal;
    const receive = (from: string, body: unknown, _channel: Channel) => {
      if (this.stopped || !this.started) return;
      this.input({ kind: 'message', nowMs: this.clock(), from, message: body as Envelope });
    };
    options.gossip.onReceive = receive;
    if (options.server) options.server.onReceive = receive;
    const linkDown = (address: string) => {
      if (this.stopped || !this.started) return;
      const peer = this.streamPeers.get(address);
      if (peer !== undefined) this.input({ kind: 'linkDown', nowMs: this.clock(), peer });
    };
    options.gossip.onLinkDown = linkDown;
    if (options.server) options.server.onLinkDown = linkDown;
    if (options.wan) options.wan.onReceive = receive;
    if (options.wan) options.wan.onLinkDown = linkDown;
    options.storage.onFullChange = (full) => this.onDiskFull(full);
  }

  /**
   * The disk filled up: the storage keeps the records that did not fit and writes them again until
   * space returns (net/disk/storage.ts), so everything held behind them stays held — nothing that
   * depends on an unwritten record is acknowledged. Callers whose reply is among the held effects
   * get `500 disk full: …` now instead of waiting: the outcome of their request is unknown (it
   * applies if its records are written once space returns), which a 500 already means.
   */
  private onDiskFull(full: { readonly reason: string } | null): void {
    if (this.stopped) return;
    if (full !== null) for (const listener of [...this.diskFullListeners]) listener(full.reason);
    if (full === null) {
      this.options.log('info', `driver: disk has space again; ${this.held.size} held messages leave`);
      return;
    }
    let failed = 0;
    for (const effect of this.held.waiting()) {
      if (effect.kind !== 'reply') continue;
      const call = this.calls.get(effect.requestId);
      if (!call) continue;
      this.calls.delete(effect.requestId);
      if (call.timer) clearTimeout(call.timer);
      call.resolve({ status: 500, body: null, error: `disk full: ${full.reason}` });
      failed++;
    }
    this.options.log(
      'error',
      `driver: disk full: ${full.reason}; writes answer 500 until space returns (retrying), ${failed} waiting requests answered 500`,
    );
  }

  private readonly diskFullListeners = new Set<(reason: string) => void>();

  /**
   * Which node each stream address belongs to (learned as stream sends leave), so a closed connection
   * reaches the machines as `linkDown` of that node. Bounded by the peers we ever streamed to.
   */
  private readonly streamPeers = new Map<string, NodeId>();

  /**
   * Calls `fn` when the disk next becomes full (a write in flight then cannot finish until space
   * returns). Returns the function that unsubscribes; call it when the request is answered.
   */
  onNextDiskFull(fn: (reason: string) => void): () => void {
    const once = (reason: string) => {
      this.diskFullListeners.delete(once);
      fn(reason);
    };
    this.diskFullListeners.add(once);
    return () => this.diskFullListeners.delete(once);
  }

  /** Why writes cannot be made durable right now (the disk is full), or null. */
  get diskFull(): string | null {
    return this.options.storage.full?.reason ?? null;
  }

  get runtime(): NodeRuntime {
    return this.options.runtime;
  }

  start(): void {
    assert(!this.started, 'driver started twice');
    this.started = true;
    this.options.recorder?.markerBase(this.options.storage.writtenMarker);
    // Entropy for the core that must differ from one start of this node to the next (core/types.ts
    // startNonce: the agent's call ids), drawn here: the core has no randomness of its own.
    this.input({ kind: 'start', nowMs: this.clock(), startNonce: randomInt(0, startNonceMax - 1) });
  }

  /**
   * A client request (HTTP, CLI, signals). Resolves with the machine's reply, or with `onTimeout()`'s
   * value if `timeoutMs` passes first (the request may still take effect: outcome unknown).
   */
  call(request: NodeRequest, timeoutMs?: number, onTimeout?: () => unknown): Promise<unknown> {
    if (this.stopped)
      return Promise.resolve(onTimeout ? onTimeout() : { status: 500, body: null, error: 'agent is shutting down' });
    if (this.calls.size >= pendingCallsMax)
      return Promise.resolve({ status: 500, body: null, error: 'too many pending requests' });
    const requestId = this.nextRequestId++;
    return new Promise((resolve) => {
      const timer =
        timeoutMs === undefined
          ? null
          : setTimeout(() => {
              this.calls.delete(requestId);
              resolve(onTimeout ? onTimeout() : { status: 500, body: null, error: 'rpc error: timeout' });
            }, timeoutMs);
      this.calls.set(requestId, { resolve, timer });
      const body = this.options.recorder ? Recorder.normalise(request) : request;
      this.input({ kind: 'request', nowMs: this.clock(), requestId, request: body });
    });
  }

  /** Stops timers and drops inputs; waits for the last flush. Held effects never leave (as in a crash). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers.values()) clearTimer(t);
    this.timers.clear();
    for (const c of this.calls.values()) if (c.timer) clearTimeout(c.timer);
    this.calls.clear();
    // A full disk may never take the queued records: do not wait for them (as in a crash).
    if (!this.options.storage.full) await this.options.storage.flush().catch(() => undefined);
  }

  /** Resolves once every persist so far is durable and every held effect has left (tests, graceful leave). */
  async drain(): Promise<void> {
    await this.options.storage.flush();
    this.release();
  }

  // ───────────────────────────────────────── stepping ─────────────────────────────────────────

  private input(input: Input<Envelope, NodeRequest>): void {
    if (this.stopped) return;
    let effects: Effect[];
    const recorded = this.options.recorder?.encodeInput(input);
    try {
      effects = this.options.runtime.step(input);
      this.stats.steps++;
      const inputs = this.stats.inputs;
      if (inputs) {
        const kind =
          input.kind === 'timer'
            ? input.timer.replace(/:\d+$/, '')
            : input.kind === 'message'
              ? `${input.message?.m}.${messageType(input.message?.p)}`
              : input.kind;
        inputs.set(kind, (inputs.get(kind) ?? 0) + 1);
      }
      if (this.options.checkInvariants) {
        const broken = this.options.runtime.invariants();
        assert(broken.length === 0, `invariants broken after ${input.kind}: ${broken.join('; ')}`);
      }
    } catch (error) {
      // Record the input that made the core throw: replaying the file reproduces the failure.
      if (recorded) this.options.recorder?.step(recorded, []);
      this.fatal(error as Error);
      return;
    }
    if (recorded) {
      const recorder = this.options.recorder!;
      recorder.step(recorded, effects);
      // Name each send and reply by (step, position), so its departure can be recorded when it leaves.
      for (const [i, effect] of effects.entries())
        if (effect.kind === 'send' || effect.kind === 'reply')
          this.recordedIds.set(effect, [recorder.stepCount - 1, i]);
    }
    this.options.onEffects?.(effects, input);
    for (const effect of effects) this.carryOut(effect);
    // The flush is queued after whatever the step armed for this turn (Raft's `replicate` timer, which
    // sends the new entries): the leader's appends leave before its own write goes to the disk thread,
    // and the two proceed in parallel (Raft thesis §10.2.1) — submitting the write first put ~0.1–0.15 ms
    // (the flush's first turn: gathering the batch and handing it to the thread pool) in front of every
    // follower's copy.
    if (this.flushWanted) {
      this.flushWanted = false;
      this.scheduleFlush();
    }
  }

  private carryOut(effect: Effect): void {
    switch (effect.kind) {
      case 'persist':
        try {
          this.lastPersistMarker = this.options.storage.write(effect.ops);
        } catch (error) {
          this.fatal(error as Error);
          return;
        }
        this.flushWanted = true;
        return;
      case 'send':
      case 'reply':
        if (effect.early) this.leave(effect);
        else if (this.held.mustHold(this.lastPersistMarker, this.options.storage.durableMarker)) {
          this.held.hold(effect, this.lastPersistMarker);
          if (this.held.size > this.stats.heldMax) this.stats.heldMax = this.held.size;
          if (this.held.size === heldEffectsWarn)
            this.options.log(
              'warn',
              `driver: ${heldEffectsWarn} messages wait for a disk sync; the disk is not keeping up`,
            );
        } else this.leave(effect);
        return;
      case 'setTimer': {
        const old = this.timers.get(effect.timer);
        if (old) clearTimer(old);
        if (effect.afterMs <= 0) this.armImmediate(effect.timer);
        else this.armTimer(effect.timer, this.clock() + effect.afterMs);
        return;
      }
      case 'cancelTimer': {
        const old = this.timers.get(effect.timer);
        if (old) clearTimer(old);
        this.timers.delete(effect.timer);
        return;
      }
      case 'runCheck': {
        this.stats.checksRun++;
        const checkId = effect.checkId;
        void this.checks(effect.check, effect.timeoutMs).then((result) => {
          if (!this.stopped) this.input({ kind: 'checkResult', nowMs: this.clock(), checkId, result });
        });
        return;
      }
      case 'trace':
        this.options.log(effect.level, traceText(effect.event), effect.event);
        return;
      case 'apply':
        return;
      case 'local':
        assert(false, 'local effects never leave the runtime');
    }
  }

  /**
   * Node's setTimeout holds at most 2^31−1 ms (~24.8 days) and fires a longer delay after 1 ms; SWIM's
   * 72-hour reconnect timeout would then fire at once. Long timers are re-armed until their deadline,
   * and so is a timer that wakes before its deadline (the core is promised "late, never early").
   */
  private armTimer(name: string, deadlineMs: number): void {
    const delayMs = Math.min(timerDelayMsMax, Math.max(0, Math.ceil(deadlineMs - this.clock())));
    this.timers.set(
      name,
      setTimeout(() => {
        // libuv rounds to whole milliseconds, so a timer can wake a fraction early: never deliver early.
        if (this.clock() < deadlineMs) return this.armTimer(name, deadlineMs);
        this.timers.delete(name);
        this.input({ kind: 'timer', nowMs: this.clock(), timer: name });
      }, delayMs),
    );
  }

  /**
   * A timer due at once (Raft's `replicate`, armed by the first proposal of a batch) fires at the end
   * of this turn of the event loop, after the inputs already read in it (setImmediate runs after the
   * poll phase), instead of setTimeout's next-turn millisecond: the batch is what one turn brought.
   */
  private armImmediate(name: string): void {
    this.timers.set(
      name,
      setImmediate(() => {
        this.timers.delete(name);
        this.input({ kind: 'timer', nowMs: this.clock(), timer: name });
      }),
    );
  }

  private leave(effect: Effect): void {
    this.options.onLeave?.(effect);
    const recorder = this.options.recorder;
    const recordedId = recorder ? this.recordedIds.get(effect) : undefined;
    if (recordedId) recorder!.left(recordedId[0], recordedId[1], this.options.storage.durableMarker);
    if (effect.kind === 'send') {
      if (effect.to === this.options.runtime.nodeId) {
        // A message to ourselves (Raft's leader acknowledging its own durable append) skips the
        // sockets: a copy, as the wire would make, delivered on a later turn of the event loop.
        const message = roundTrip(effect.message) as Envelope;
        const from = effect.to;
        this.stats.sends++;
        setImmediate(() => {
          if (!this.stopped) this.input({ kind: 'message', nowMs: this.clock(), from, message });
        });
        return;
      }
      const envelope = effect.message as Envelope;
      const route = this.options.route
        ? this.options.route(envelope, effect.to)
        : { endpoint: envelope.m === 'swim' ? 'gossip' : 'server', address: effect.to };
      const transport =
        route.endpoint === 'server' && this.options.server
          ? this.options.server
          : route.endpoint === 'wan' && this.options.wan
            ? this.options.wan
            : this.options.gossip;
      this.stats.sends++;
      if (effect.channel === 'stream' && !this.streamPeers.has(route.address))
        this.streamPeers.set(route.address, effect.to);
      transport.send(route.address, effect.message, effect.channel ?? 'datagram');
    } else if (effect.kind === 'reply') {
      const call = this.calls.get(effect.requestId);
      if (!call) return; // timed out already
      this.calls.delete(effect.requestId);
      if (call.timer) clearTimeout(call.timer);
      call.resolve(effect.response);
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.stopped) return;
      this.options.storage.flush().then(
        () => this.release(),
        (error: Error) => this.fatal(error),
      );
    });
  }

  private release(): void {
    if (this.stopped) return;
    this.held.release(this.options.storage.durableMarker, (effect) => this.leave(effect));
  }

  private fatal(error: Error): void {
    if (this.stopped) return;
    this.options.log('error', `driver: ${error.stack ?? error.message}`);
    void this.stop();
    this.options.onFatal(error);
  }
}

/** A machine message's type for the perf counters (Raft's `type`, the agent's `t`), or '?'. */
function messageType(p: unknown): string {
  if (p === null || typeof p !== 'object') return '?';
  const o = p as { type?: unknown; t?: unknown };
  return String(o.type ?? o.t ?? '?');
}

function clearTimer(handle: NodeJS.Timeout | NodeJS.Immediate): void {
  if ('hasRef' in handle && 'refresh' in handle) clearTimeout(handle);
  else clearImmediate(handle as NodeJS.Immediate);
}
