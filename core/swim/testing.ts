/**
 * A tiny deterministic message loop for SWIM's unit tests: nodes are NodeRuntimes hosting the 'swim'
 * machine, messages get a seeded latency and loss, links can be cut and inbound traffic to a node
 * delayed (a slow member). It is deliberately much smaller than the simulator (sim/): it exists so the
 * core can be tested without it, and is used only by tests.
 */
import { assert } from '../assert.js';
import { Prng } from '../prng.js';
import { NodeRuntime, type Envelope } from '../runtime.js';
import { emptyDurableState, type Effect, type Machine, type NodeId } from '../types.js';
import type { SwimNotice, SwimRequest, SwimResponse } from './api.js';
import type { SwimConfig } from './config.js';
import { swimMachine, type SwimState } from './machine.js';
import type { SwimMessage } from './messages.js';

interface Event {
  readonly atMs: number;
  readonly order: number;
  readonly run: () => void;
}

export interface LoopNotice {
  readonly atMs: number;
  readonly node: NodeId;
  readonly notice: SwimNotice;
}

const observerName = 'swimlog';

/** A sink machine that collects SWIM notices; the loop drains it after every step. */
export const noticeSink: Machine<{ notices: { atMs: number; notice: SwimNotice }[] }> = {
  name: observerName,
  init: () => ({ notices: [] }),
  step(state, input) {
    if (input.kind === 'local' && input.fromMachine === 'swim')
      state.notices.push({ atMs: input.nowMs, notice: input.payload as SwimNotice });
  },
};

export class SwimLoop {
  nowMs = 0;
  private readonly events: Event[] = [];
  private order = 0;
  readonly runtimes = new Map<NodeId, NodeRuntime>();
  private readonly timers = new Map<string, number>();
  readonly notices: LoopNotice[] = [];
  readonly prng: Prng;
  lossRatio = 0;
  latencyMsMin = 1;
  latencyMsMax = 5;
  /** Extra delay (ms) on every message into a node: a slow member that processes input late. */
  readonly inboundDelayMs = new Map<NodeId, number>();
  private readonly cut = new Set<string>();
  private readonly replies = new Map<number, (r: SwimResponse) => void>();
  private requestId = 0;
  invariantFailures: string[] = [];
  messageCount = 0;
  /** Sees every message a node sends (before loss): tests of sizes and of the buddy system. */
  onSend: ((from: NodeId, to: NodeId, message: SwimMessage, channel: 'datagram' | 'stream') => void) | null = null;

  constructor(
    seed: number,
    private readonly configFor: (id: NodeId) => Partial<SwimConfig>,
  ) {
    this.prng = new Prng(seed);
  }

  add(id: NodeId, atMs = this.nowMs): void {
    this.at(atMs, () => {
      const rt = new NodeRuntime(
        id,
        [
          { machine: swimMachine, config: { observer: observerName, ...this.configFor(id) } },
          { machine: noticeSink, config: null },
        ],
        emptyDurableState,
        new Prng(this.prng.uint32()),
      );
      this.runtimes.set(id, rt);
      this.apply(id, rt.step({ kind: 'start', nowMs: this.nowMs, startNonce: 0 }));
    });
  }

  crash(id: NodeId): void {
    this.runtimes.delete(id);
    for (const key of [...this.timers.keys()]) if (key.startsWith(`${id}|`)) this.timers.delete(key);
  }

  state(id: NodeId): SwimState {
    const rt = this.runtimes.get(id);
    assert(rt, `node ${id} is down`);
    return rt.stateOf<SwimState>('swim');
  }

  /** Cuts (or with `on` false, restores) both directions between every a in `as` and b in `bs`. */
  partition(as: readonly NodeId[], bs: readonly NodeId[], on = true): void {
    for (const a of as)
      for (const b of bs) {
        for (const key of [`${a}>${b}`, `${b}>${a}`]) on ? this.cut.add(key) : this.cut.delete(key);
      }
  }

  heal(): void {
    this.cut.clear();
  }

  request(id: NodeId, body: SwimRequest, onDone: (r: SwimResponse) => void = () => undefined): void {
    const requestId = ++this.requestId;
    this.replies.set(requestId, onDone);
    const rt = this.runtimes.get(id);
    if (!rt) return;
    this.apply(id, rt.step({ kind: 'request', nowMs: this.nowMs, requestId, request: { machine: 'swim', body } }));
  }

  /** Delivers `message` from `from` to `to` now, as if it had just arrived (tests of one exchange). */
  deliver(from: NodeId, to: NodeId, message: SwimMessage): void {
    const rt = this.runtimes.get(to);
    assert(rt, `node ${to} is down`);
    const envelope: Envelope = { m: 'swim', p: message };
    this.apply(to, rt.step({ kind: 'message', nowMs: this.nowMs, from, message: envelope }));
  }

  at(atMs: number, run: () => void): void {
    assert(atMs >= this.nowMs, 'events are scheduled in the future');
    const event = { atMs, order: this.order++, run };
    // Binary insertion keeps the list sorted by (time, order); the loop pops from the front.
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.events[mid]!;
      if (e.atMs < atMs || (e.atMs === atMs && e.order < event.order)) lo = mid + 1;
      else hi = mid;
    }
    this.events.splice(lo, 0, event);
  }

  runUntil(untilMs: number): void {
    while (this.events.length > 0 && this.events[0]!.atMs <= untilMs) {
      const event = this.events.shift()!;
      this.nowMs = event.atMs;
      event.run();
    }
    this.nowMs = untilMs;
  }

  private apply(id: NodeId, effects: Effect[]): void {
    const rt = this.runtimes.get(id);
    if (rt) {
      const broken = rt.invariants();
      if (broken.length > 0) this.invariantFailures.push(`${id} at ${this.nowMs}: ${broken.join('; ')}`);
      const sink = rt.stateOf<{ notices: { atMs: number; notice: SwimNotice }[] }>(observerName);
      for (const n of sink.notices) this.notices.push({ atMs: n.atMs, node: id, notice: n.notice });
      sink.notices.length = 0;
    }
    for (const effect of effects) {
      switch (effect.kind) {
        case 'send':
          this.send(id, effect.to, effect.message as Envelope, effect.channel ?? 'datagram');
          break;
        case 'setTimer': {
          const key = `${id}|${effect.timer}`;
          const token = this.order;
          this.timers.set(key, token);
          this.at(this.nowMs + effect.afterMs, () => {
            if (this.timers.get(key) !== token) return;
            this.timers.delete(key);
            const target = this.runtimes.get(id);
            if (target) this.apply(id, target.step({ kind: 'timer', nowMs: this.nowMs, timer: effect.timer }));
          });
          break;
        }
        case 'cancelTimer':
          this.timers.delete(`${id}|${effect.timer}`);
          break;
        case 'reply':
          this.replies.get(effect.requestId)?.(effect.response as SwimResponse);
          this.replies.delete(effect.requestId);
          break;
        default:
          break;
      }
    }
  }

  /** Delivers `message` to `to` as if `from` had sent it (a forged or stale packet). */
  inject(to: NodeId, from: NodeId, message: SwimMessage): void {
    const rt = this.runtimes.get(to);
    if (rt) this.apply(to, rt.step({ kind: 'message', nowMs: this.nowMs, from, message: { m: 'swim', p: message } }));
  }

  private send(from: NodeId, to: NodeId, message: Envelope, channel: 'datagram' | 'stream'): void {
    this.onSend?.(from, to, message.p as SwimMessage, channel);
    if (this.cut.has(`${from}>${to}`)) return;
    if (channel === 'datagram' && this.lossRatio > 0 && this.prng.below(1_000_000) < this.lossRatio * 1_000_000) return;
    this.messageCount++;
    const delay = this.prng.between(this.latencyMsMin, this.latencyMsMax) + (this.inboundDelayMs.get(to) ?? 0);
    this.at(this.nowMs + delay, () => {
      const rt = this.runtimes.get(to);
      if (rt) this.apply(to, rt.step({ kind: 'message', nowMs: this.nowMs, from, message }));
    });
  }

  /** Notices of `node` marking `about` with `status`. */
  marks(status: string, about?: NodeId): LoopNotice[] {
    return this.notices.filter(
      (n) =>
        n.notice.type === 'member' &&
        n.notice.member.status === status &&
        n.notice.previous !== status &&
        (about === undefined || n.notice.member.id === about),
    );
  }

  statusOf(observer: NodeId, about: NodeId): string | undefined {
    return this.state(observer).members.get(about)?.status;
  }
}

/** n1, n2, … nN. */
export const memberNames = (n: number): NodeId[] => Array.from({ length: n }, (_, i) => `n${i + 1}`);

/** n members that all join through n1 at time 0 on the SWIM loop, run for `settleMs` (the unit tests' usual start). */
export function joinedCluster(
  n: number,
  config: Partial<SwimConfig> = {},
  seed = 1,
  settleMs = 10_000,
): { loop: SwimLoop; ids: NodeId[] } {
  const ids = memberNames(n);
  const loop = new SwimLoop(seed, (id) => ({ profile: 'sim', joinPeers: id === 'n1' ? [] : ['n1'], ...config }));
  for (const id of ids) loop.add(id, 0);
  loop.runUntil(settleMs);
  return { loop, ids };
}
