/**
 * The node runtime: one node hosts several machines (an agent hosts Raft, SWIM, the state store and
 * check scheduling). The runtime routes each node-level input to the machine it belongs to, runs
 * `local` effects between siblings, and merges every machine's effects into one ordered list, with
 * names rewritten so the machines never collide:
 *
 *   - messages travel as `{ m: machineName, p: payload }` envelopes;
 *   - timers are named `machineName:timerName`;
 *   - storage keys and log names are `machineName/key`; each machine loads only its own;
 *   - requests are `{ machine, body }`; replies carry the machine's response unchanged.
 *
 * Drivers talk only to `NodeRuntime`; a single-machine node is a runtime with one mount.
 */
import { assert } from './assert.js';
import { Prng, type PrngState } from './prng.js';
import { buggifyNever, type Buggify } from './buggify.js';
import { traceEffect } from './trace.js';
import type { AnyMachine, DurableLog, DurableState, Effect, Input, NodeId, StepContext, StorageOp } from './types.js';

/** A node-level wire message: which machine it is for, and the machine's own message. */
export interface Envelope {
  readonly m: string;
  readonly p: unknown;
}

/** A node-level client request: which machine should answer it, and the machine's request. */
export interface NodeRequest {
  readonly machine: string;
  readonly body: unknown;
}

export interface Mount {
  readonly machine: AnyMachine;
  readonly config: unknown;
}

/**
 * Bound on sibling-to-sibling hops triggered by one input; a cycle between machines is a bug. Sized
 * for the largest legitimate fan-out: one Raft commit wakes every parked blocking read of an agent
 * (blockingQueriesMax = 4,096), and each recheck is a call to Raft and a reply (and, for a read that
 * passed, one more of each) — about 16,000 hops.
 */
export const localHopsMax = 65_536;

/** Timer names a runtime remembers per direction (most machines arm fewer than ten distinct timers). */
const timerNamesMax = 1024;

export class NodeRuntime {
  readonly nodeId: NodeId;
  readonly prng: Prng;
  private readonly machines: AnyMachine[] = [];
  private readonly states: unknown[] = [];
  private readonly byName = new Map<string, number>();
  private out: Effect[] = [];
  private current = 0;
  private readonly contexts: StepContext[] = [];
  /** Per machine: its storage key or log name → `machine/name` (remembered: the same few names every persist). */
  private readonly storageNamers: ((local: string) => string)[] = [];
  /** The driver's BUGGIFY decider (core/buggify.ts): the simulator's when a scenario enables it, else never. */
  private readonly buggify: Buggify;

  constructor(
    nodeId: NodeId,
    mounts: readonly Mount[],
    durable: DurableState,
    prng: Prng,
    options: { readonly buggify?: Buggify } = {},
  ) {
    assert(mounts.length > 0, 'a node hosts at least one machine');
    this.nodeId = nodeId;
    this.prng = prng;
    this.buggify = options.buggify ?? buggifyNever;
    for (const [i, mount] of mounts.entries()) {
      const name = mount.machine.name;
      assert(!this.byName.has(name), `machine ${name} mounted twice`);
      assert(!name.includes(':') && !name.includes('/'), `machine name ${name} must not contain ':' or '/'`);
      this.byName.set(name, i);
      this.machines.push(mount.machine);
      this.contexts.push(this.contextFor(i));
      this.storageNamers.push(storageNamer(name));
      this.states.push(mount.machine.init(nodeId, mount.config, sliceDurable(durable, name), prng));
    }
  }

  /** Feeds one node-level input; returns the node-level effects in the order the driver must follow. */
  step(input: Input<Envelope, NodeRequest>): Effect[] {
    this.out = [];
    switch (input.kind) {
      case 'start':
        for (let i = 0; i < this.machines.length; i++) this.stepMachine(i, input);
        break;
      case 'message': {
        const index = this.routeMessage(input.message);
        if (index === undefined) {
          this.out.push(traceEffect({ type: 'runtime.noMachine', node: this.nodeId, from: input.from }));
          break;
        }
        this.stepMachine(index, { kind: 'message', nowMs: input.nowMs, from: input.from, message: input.message.p });
        break;
      }
      case 'timer': {
        const route = this.timerRoute(input.timer);
        this.stepMachine(route.index, { kind: 'timer', nowMs: input.nowMs, timer: route.local });
        break;
      }
      case 'request': {
        const index = this.byName.get(input.request?.machine);
        if (index === undefined) {
          this.out.push({
            kind: 'reply',
            requestId: input.requestId,
            response: { error: `no machine ${String(input.request?.machine)}` },
          });
          break;
        }
        this.stepMachine(index, {
          kind: 'request',
          nowMs: input.nowMs,
          requestId: input.requestId,
          request: input.request.body,
        });
        break;
      }
      case 'checkResult': {
        // Check ids are owned by the machine that ran them: `machine:checkId`.
        const colon = input.checkId.indexOf(':');
        const index = colon > 0 ? this.byName.get(input.checkId.slice(0, colon)) : undefined;
        if (index === undefined) assert(false, `check result ${input.checkId} names no machine`);
        this.stepMachine(index, { ...input, checkId: input.checkId.slice(colon + 1) });
        break;
      }
      case 'linkDown':
        // Every machine hears it; those that keep no per-peer requests ignore it.
        for (let i = 0; i < this.machines.length; i++) this.stepMachine(i, input);
        break;
      case 'local':
        assert(false, 'local inputs are internal to the runtime');
    }
    this.runLocals(input.nowMs);
    return this.out;
  }

  /** Each machine's local invariants, prefixed with its name. Empty when all hold. */
  invariants(): string[] {
    let broken: string[] | null = null; // most steps break nothing: no array for them
    for (let i = 0; i < this.machines.length; i++) {
      const check = this.machines[i]!.invariants;
      if (!check) continue;
      const texts = check.call(this.machines[i], this.states[i]);
      for (let k = 0; k < texts.length; k++) (broken ??= []).push(`${this.machines[i]!.name}: ${texts[k]}`);
    }
    return broken ?? [];
  }

  /** The role of machine `name` (`Machine.role`), or null when it has none or is not mounted here. */
  roleOf(name: string): string | null {
    const i = this.byName.get(name);
    if (i === undefined) return null;
    const m = this.machines[i]!;
    return m.role ? m.role(this.states[i]) : null;
  }

  /** The plain-data views of every machine, keyed by machine name. */
  view(): Record<string, Record<string, unknown>> {
    const views: Record<string, Record<string, unknown>> = {};
    for (let i = 0; i < this.machines.length; i++) {
      const m = this.machines[i]!;
      if (m.view) views[m.name] = m.view(this.states[i]);
    }
    return views;
  }

  /** Direct access for checkers and tests in the simulator. Never used by the real agent. */
  stateOf<S = unknown>(machineName: string): S {
    const index = this.byName.get(machineName);
    if (index === undefined) assert(false, `no machine ${machineName}`);
    return this.states[index] as S;
  }

  hasMachine(machineName: string): boolean {
    return this.byName.has(machineName);
  }

  savePrng(): PrngState {
    return this.prng.save();
  }

  // ───────────────────────────────────────── internals ─────────────────────────────────────────

  private pendingLocals: { to: number; fromMachine: string; payload: unknown }[] = [];

  /**
   * Node-level timer names, remembered both ways (`machine:timer`): a machine arms the same few timers
   * over and over, and building and splitting the name on every arm and every firing cost a string
   * each time. Bounded: a cache that reaches `timerNamesMax` starts again (names are then rebuilt).
   */
  private readonly timerNames: Map<string, string>[] = [];
  private readonly timerRoutes = new Map<string, { readonly index: number; readonly local: string }>();

  private timerName(index: number, local: string): string {
    const names = (this.timerNames[index] ??= new Map());
    let name = names.get(local);
    if (name === undefined) {
      if (names.size >= timerNamesMax) names.clear();
      name = `${this.machines[index]!.name}:${local}`;
      names.set(local, name);
    }
    return name;
  }

  private timerRoute(timer: string): { readonly index: number; readonly local: string } {
    let route = this.timerRoutes.get(timer);
    if (route === undefined) {
      const colon = timer.indexOf(':');
      if (!(colon > 0)) assert(false, `timer ${timer} has no machine prefix`);
      const index = this.byName.get(timer.slice(0, colon));
      if (index === undefined) assert(false, `timer ${timer} names no machine`);
      if (this.timerRoutes.size >= timerNamesMax) this.timerRoutes.clear();
      route = { index, local: timer.slice(colon + 1) };
      this.timerRoutes.set(timer, route);
    }
    return route;
  }

  private routeMessage(message: Envelope): number | undefined {
    if (message === null || typeof message !== 'object' || typeof message.m !== 'string') return undefined;
    return this.byName.get(message.m);
  }

  private stepMachine(index: number, input: Input): void {
    this.current = index;
    this.machines[index]!.step(this.states[index], input, this.contexts[index]!);
  }

  private runLocals(nowMs: number): void {
    // A FIFO walked by index (shift() would make a fan-out of n hops cost n²).
    const queue = this.pendingLocals;
    for (let head = 0; head < queue.length; head++) {
      if (!(head < localHopsMax))
        assert(false, `more than ${localHopsMax} local hops in one step: a cycle between machines`);
      const next = queue[head]!;
      this.stepMachine(next.to, { kind: 'local', nowMs, fromMachine: next.fromMachine, payload: next.payload });
    }
    queue.length = 0;
  }

  private contextFor(index: number): StepContext {
    const runtime = this;
    return {
      get nodeId() {
        return runtime.nodeId;
      },
      get prng() {
        return runtime.prng;
      },
      emit(effect: Effect): void {
        runtime.wrap(index, effect);
      },
      buggify: runtime.buggify,
    };
  }

  private wrap(index: number, effect: Effect): void {
    assert(index === this.current, 'a machine emitted outside its own step');
    const name = this.machines[index]!.name;
    switch (effect.kind) {
      case 'send': {
        const message: Envelope = { m: name, p: effect.message };
        const channel = effect.channel ?? 'datagram';
        this.out.push(
          effect.early
            ? { kind: 'send', to: effect.to, message, channel, early: true }
            : { kind: 'send', to: effect.to, message, channel },
        );
        return;
      }
      case 'setTimer':
        if (!(effect.afterMs >= 0 && Number.isFinite(effect.afterMs)))
          assert(false, `timer ${effect.timer}: bad delay ${effect.afterMs}`);
        this.out.push({ kind: 'setTimer', timer: this.timerName(index, effect.timer), afterMs: effect.afterMs });
        return;
      case 'cancelTimer':
        this.out.push({ kind: 'cancelTimer', timer: this.timerName(index, effect.timer) });
        return;
      case 'persist': {
        const ops = new Array<StorageOp>(effect.ops.length);
        const prefixed = this.storageNamers[index]!;
        for (let i = 0; i < ops.length; i++) ops[i] = prefixOp(effect.ops[i]!, prefixed);
        this.out.push({ kind: 'persist', ops });
        return;
      }
      case 'runCheck':
        this.out.push({ ...effect, checkId: `${name}:${effect.checkId}` });
        return;
      case 'local': {
        const to = this.byName.get(effect.toMachine);
        if (to === undefined) assert(false, `${name} addressed unknown machine ${effect.toMachine}`);
        this.pendingLocals.push({ to, fromMachine: name, payload: effect.payload });
        return;
      }
      case 'reply':
      case 'apply':
      case 'trace':
        this.out.push(effect);
        return;
    }
  }
}

/**
 * The op with its key or log name under the machine's prefix (`prefixed` gives `name/key`). Built field
 * by field rather than spread: a spread over five op shapes was a slow generic copy on every persist.
 */
function prefixOp(op: StorageOp, prefixed: (local: string) => string): StorageOp {
  switch (op.op) {
    case 'put':
      return { op: 'put', key: prefixed(op.key), value: op.value };
    case 'delete':
      return { op: 'delete', key: prefixed(op.key) };
    case 'append':
      return { op: 'append', log: prefixed(op.log), entries: op.entries };
    case 'truncate':
      return { op: 'truncate', log: prefixed(op.log), keepCount: op.keepCount };
    case 'dropPrefix':
      return { op: 'dropPrefix', log: prefixed(op.log), dropCount: op.dropCount };
  }
}

/** Storage names a runtime remembers per machine (a machine writes a handful of keys and logs). */
const storageNamesMax = 1024;

/** `local` → `${machine}/${local}`, remembered (bounded: a full cache starts again). */
function storageNamer(machine: string): (local: string) => string {
  const names = new Map<string, string>();
  return (local) => {
    let name = names.get(local);
    if (name === undefined) {
      if (names.size >= storageNamesMax) names.clear();
      name = `${machine}/${local}`;
      names.set(local, name);
    }
    return name;
  };
}

/** The part of a node's durable state that belongs to one machine, with the prefix removed. */
export function sliceDurable(durable: DurableState, name: string): DurableState {
  const prefix = `${name}/`;
  const records = new Map<string, unknown>();
  const logs = new Map<string, DurableLog>();
  for (const [key, value] of durable.records) if (key.startsWith(prefix)) records.set(key.slice(prefix.length), value);
  for (const [key, log] of durable.logs) if (key.startsWith(prefix)) logs.set(key.slice(prefix.length), log);
  return { records, logs };
}
