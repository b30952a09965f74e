/**
 * A hand-driven Raft cluster for tests: the test decides which messages are delivered, which are
 * dropped, when an election timeout fires and when a node crashes. Persists are durable at once (so
 * the ORDERING RULE holds trivially), timers are recorded but fire only when the test says so. Used
 * to reproduce exact schedules (Raft Figure 8) that a random simulator reaches only by luck, and for
 * unit tests of single mechanisms. Pure: no clock, no I/O.
 */
import { assert } from '../assert.js';
import { Prng } from '../prng.js';
import { NodeRuntime, type Envelope } from '../runtime.js';
import { applyStorageOp, mapImage } from '../storage.js';
import { traceText } from '../trace.js';
import type { DurableLog, Effect, NodeId } from '../types.js';
import type { Fsm, RaftResponse } from './api.js';
import { makeRaftConfig, type RaftConfig } from './config.js';
import type { RaftMessage } from './messages.js';
import { raftMachine, type RaftState } from './raft.js';

/** A tiny FSM: appends every command to a list. */
export class ListFsm implements Fsm {
  items: unknown[] = [];
  apply(command: unknown): unknown {
    this.items.push(command);
    return this.items.length;
  }
  query(): unknown {
    return [...this.items];
  }
  snapshot(): unknown {
    return [...this.items];
  }
  restore(snapshot: unknown): void {
    this.items = [...(snapshot as unknown[])];
  }
}

export interface InFlight {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: RaftMessage;
}

interface Disk {
  records: Map<string, unknown>;
  logs: Map<string, unknown[]>;
}

export class ManualCluster {
  readonly ids: NodeId[];
  nowMs = 0;
  readonly inFlight: InFlight[] = [];
  readonly replies = new Map<number, RaftResponse>();
  readonly traces: string[] = [];
  /** Node invariants that failed after some step (tests assert this stays empty). */
  readonly invariantFailures: string[] = [];
  private readonly runtimes = new Map<NodeId, NodeRuntime | null>();
  private readonly disks = new Map<NodeId, Disk>();
  private readonly timers = new Map<NodeId, Set<string>>();
  private nextRequestId = 1;
  private incarnation = 0;

  constructor(
    count: number,
    private readonly overrides: Partial<RaftConfig> = {},
    /** Sees every effect after it was carried out (checkers); `state` is the node's raft state. */
    private readonly observe?: (id: NodeId, effect: Effect, state: RaftState, token: unknown) => void,
    /** Runs after every step. */
    private readonly afterStep?: (id: NodeId, state: RaftState, token: unknown) => void,
  ) {
    this.ids = Array.from({ length: count }, (_, i) => `n${i + 1}`);
    for (const id of this.ids) {
      this.disks.set(id, { records: new Map(), logs: new Map() });
      this.start(id);
    }
  }

  config(id: NodeId): RaftConfig {
    void id;
    return makeRaftConfig('sim', { createFsm: () => new ListFsm(), servers: this.ids, ...this.overrides });
  }

  private start(id: NodeId): void {
    const disk = this.disks.get(id)!;
    const logs = new Map<string, DurableLog>();
    for (const [name, entries] of disk.logs) logs.set(name, { entries: [...entries], tornTail: false });
    const runtime = new NodeRuntime(
      id,
      [{ machine: raftMachine, config: this.config(id) }],
      { records: new Map(disk.records), logs },
      new Prng(1000 + this.incarnation++),
    );
    this.runtimes.set(id, runtime);
    this.timers.set(id, new Set());
    this.step(id, { kind: 'start', nowMs: this.nowMs, startNonce: 0 });
  }

  state(id: NodeId): RaftState {
    const runtime = this.runtimes.get(id);
    assert(runtime, `${id} is down`);
    return runtime.stateOf<RaftState>('raft');
  }

  isUp(id: NodeId): boolean {
    return !!this.runtimes.get(id);
  }

  crash(id: NodeId): void {
    this.runtimes.set(id, null);
    for (let i = this.inFlight.length - 1; i >= 0; i--)
      if (this.inFlight[i]!.to === id || this.inFlight[i]!.from === id) this.inFlight.splice(i, 1);
  }

  restart(id: NodeId): void {
    assert(!this.isUp(id), `${id} is up`);
    this.start(id);
  }

  /** Direct access to a node's disk (tests that tear or corrupt it). */
  disk(id: NodeId): Disk {
    return this.disks.get(id)!;
  }

  /**
   * Steps a node. A timer armed with no delay (Raft's `replicate`) fires right after, as a driver fires
   * it at the end of the turn; the effects returned include that timer's.
   */
  step(id: NodeId, input: Parameters<NodeRuntime['step']>[0]): Effect[] {
    const runtime = this.runtimes.get(id);
    assert(runtime, `${id} is down`);
    const effects = runtime.step(input);
    const state = runtime.stateOf<RaftState>('raft');
    for (const effect of effects) {
      this.carryOut(id, effect);
      this.observe?.(id, effect, state, runtime);
    }
    for (const text of runtime.invariants()) this.invariantFailures.push(`${id}: ${text}`);
    this.afterStep?.(id, state, runtime);
    const due = effects.filter((e) => e.kind === 'setTimer' && e.afterMs === 0);
    for (const timer of due) {
      if (timer.kind !== 'setTimer' || !this.timers.get(id)!.has(timer.timer)) continue;
      this.timers.get(id)!.delete(timer.timer);
      effects.push(...this.step(id, { kind: 'timer', nowMs: this.nowMs, timer: timer.timer }));
    }
    return effects;
  }

  private carryOut(id: NodeId, effect: Effect): void {
    switch (effect.kind) {
      case 'send': {
        const env = effect.message as Envelope;
        this.inFlight.push({ from: id, to: effect.to, message: env.p as RaftMessage });
        return;
      }
      case 'persist':
        for (const op of effect.ops) {
          const disk = this.disks.get(id)!;
          applyStorageOp(mapImage(disk.records, disk.logs), op);
        }
        return;
      case 'setTimer':
        this.timers.get(id)!.add(effect.timer);
        return;
      case 'cancelTimer':
        this.timers.get(id)!.delete(effect.timer);
        return;
      case 'reply':
        this.replies.set(effect.requestId, effect.response as RaftResponse);
        return;
      case 'trace':
        this.traces.push(traceText(effect.event));
        return;
      default:
        return;
    }
  }

  /** Delivers in-flight messages matching `keep` (others stay); repeats until none match. Returns how many. */
  deliver(keep: (m: InFlight) => boolean = () => true, rounds = 1000): number {
    let delivered = 0;
    for (let round = 0; round < rounds; round++) {
      const index = this.inFlight.findIndex((m) => keep(m));
      if (index < 0) return delivered;
      const [m] = this.inFlight.splice(index, 1);
      this.nowMs += 1;
      if (!this.isUp(m!.to)) continue;
      this.step(m!.to, { kind: 'message', nowMs: this.nowMs, from: m!.from, message: { m: 'raft', p: m!.message } });
      delivered++;
    }
    assert(false, 'deliver did not settle');
  }

  /** Drops in-flight messages matching `which`. */
  drop(which: (m: InFlight) => boolean = () => true): number {
    let dropped = 0;
    for (let i = this.inFlight.length - 1; i >= 0; i--)
      if (which(this.inFlight[i]!)) (this.inFlight.splice(i, 1), dropped++);
    return dropped;
  }

  /** Whether a node's timer (full name, e.g. `raft:commitNotice`) is armed and has not fired. */
  armed(id: NodeId, timer: string): boolean {
    return this.timers.get(id)?.has(timer) ?? false;
  }

  /** Fires an armed timer of a node that has no deadline of its own in the state (e.g. `commitNotice`), `afterMs` on. */
  fireArmed(id: NodeId, timer: string, afterMs = 1): void {
    assert(this.armed(id, timer), `${id}'s ${timer} timer is not armed`);
    this.timers.get(id)!.delete(timer);
    this.nowMs += afterMs;
    this.step(id, { kind: 'timer', nowMs: this.nowMs, timer });
  }

  /**
   * Fires a timer on time: at its deadline (at least 1 ms on). A timer fired long after its deadline
   * would read as a starved process (state.ts checkStarved) and be deferred.
   */
  fire(id: NodeId, timer: 'election' | 'heartbeat'): void {
    const s = this.state(id);
    const dueMs = timer === 'election' ? s.electionResetMs + s.electionTimeoutMs : s.heartbeatDueMs;
    this.nowMs = Math.max(this.nowMs + 1, dueMs);
    this.step(id, { kind: 'timer', nowMs: this.nowMs, timer: `raft:${timer}` });
  }

  /** Fires election timeouts on `id`, delivering only vote traffic among `among`, until it leads (or gives up). */
  elect(id: NodeId, among: readonly NodeId[] = this.ids): boolean {
    for (let attempt = 0; attempt < 5; attempt++) {
      this.fire(id, 'election');
      this.deliver(
        (m) =>
          (m.message.type === 'vote' || m.message.type === 'voteReply') &&
          among.includes(m.from) &&
          among.includes(m.to),
      );
      if (this.state(id).role === 'leader') return true;
    }
    return false;
  }

  request(id: NodeId, body: unknown): number {
    const requestId = this.nextRequestId++;
    this.nowMs += 1;
    this.step(id, { kind: 'request', nowMs: this.nowMs, requestId, request: { machine: 'raft', body } });
    return requestId;
  }

  leaders(): NodeId[] {
    return this.ids.filter((id) => this.isUp(id) && this.state(id).role === 'leader');
  }
}
