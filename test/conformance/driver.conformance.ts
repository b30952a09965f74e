/**
 * The shared driver conformance suite: every driver of a NodeRuntime (the simulator's event loop,
 * net's NodeDriver) runs these same cases through a fixture, so the ORDERING RULE of core/types.ts is
 * checked once against each: a reply waits for its persist; a read does not overtake earlier writes;
 * a crash before the sync drops held sends; a timer never fires early; held effects leave in order.
 *
 * Both nodes of a fixture host the `probe` machine below. A client request carries a script; the probe
 * carries it out as effects, each tagged, so a fixture can report, for every tagged send or reply of
 * node n1, the storage marker it needed (the latest persist before it) and the durable marker at the
 * moment it left.
 */
import { describe, expect, it } from 'vitest';
import type { Effect, Machine } from '../../core/types.js';

export type ProbeStep =
  | { readonly persist: string }
  | { readonly send: string; readonly to: string }
  | { readonly reply: string }
  | { readonly timer: string; readonly afterMs: number };

export interface ProbeState {
  /** Tags of messages received, in arrival order. */
  received: string[];
  /** Timers set by scripts: local time set, delay, and local time fired (null until it fires). */
  timers: { name: string; setAtMs: number; afterMs: number; firedAtMs: number | null }[];
}

export const probeMachine: Machine<ProbeState, null, { tag: string }, { script: ProbeStep[] }, { tag: string }> = {
  name: 'probe',
  init: () => ({ received: [], timers: [] }),
  step(state, input, ctx) {
    switch (input.kind) {
      case 'request': {
        let replied = false;
        for (const step of input.request.script) {
          if ('persist' in step)
            ctx.emit({ kind: 'persist', ops: [{ op: 'put', key: step.persist, value: step.persist }] });
          else if ('send' in step)
            ctx.emit({ kind: 'send', to: step.to, message: { tag: step.send }, channel: 'stream' });
          else if ('reply' in step) {
            ctx.emit({ kind: 'reply', requestId: input.requestId, response: { tag: step.reply } });
            replied = true;
          } else {
            state.timers.push({ name: step.timer, setAtMs: input.nowMs, afterMs: step.afterMs, firedAtMs: null });
            ctx.emit({ kind: 'setTimer', timer: step.timer, afterMs: step.afterMs });
          }
        }
        if (!replied) ctx.emit({ kind: 'reply', requestId: input.requestId, response: { tag: '' } });
        return;
      }
      case 'message':
        state.received.push(input.message.tag);
        return;
      case 'timer': {
        const timer = state.timers.find((t) => t.name === input.timer && t.firedAtMs === null);
        if (timer) timer.firedAtMs = input.nowMs;
        return;
      }
      default:
        return;
    }
  },
};

/** The tag of a node-level send, reply or persist effect of the probe ('' when untagged). */
export function tagOf(effect: Effect): string {
  switch (effect.kind) {
    case 'send':
      return ((effect.message as { p?: { tag?: string } }).p?.tag ?? '') as string;
    case 'reply':
      return ((effect.response as { tag?: string } | undefined)?.tag ?? '') as string;
    case 'persist': {
      const op = effect.ops[0];
      return op && op.op === 'put' ? String(op.value) : '';
    }
    default:
      return '';
  }
}

export interface Left {
  readonly tag: string;
  readonly kind: 'send' | 'reply';
  /** The storage marker of the latest persist emitted before it (it must be durable first). */
  readonly needed: number;
  /** The node's durable marker when it left. */
  readonly durable: number;
}

export interface DriverFixture {
  /**
   * A client request to n1 running `script`. With `after`, it is issued right after n1 carried out the
   * step that emitted the effect tagged `after` (before that step's persists can be durable).
   */
  request(script: ProbeStep[], after?: string): void;
  /** n1 crashes right after carrying out the step that emits the effect tagged `tag`, before any sync. */
  crashAfter(tag: string): void;
  /** Lets the driver run for `ms` (virtual or wall time): syncs complete, messages arrive, timers fire. */
  run(ms: number): Promise<void>;
  /** Every tagged send and reply that left n1, in the order they left. */
  readonly left: readonly Left[];
  /** The probe state of a node ('n1' or 'n2'), or null while it is down. */
  probe(nodeId: string): ProbeState | null;
  cleanup(): Promise<void>;
}

const leftTags = (fx: DriverFixture) => fx.left.filter((l) => l.tag !== '').map((l) => l.tag);

export function driverConformance(name: string, makeFixture: () => Promise<DriverFixture>): void {
  describe(`driver conformance: ${name}`, () => {
    const withFixture = (fn: (fx: DriverFixture) => Promise<void>) => async () => {
      const fx = await makeFixture();
      try {
        await fn(fx);
      } finally {
        await fx.cleanup();
      }
    };

    it(
      'a reply waits for its persist',
      withFixture(async (fx) => {
        fx.request([{ persist: 'w1' }, { reply: 'r1' }]);
        await fx.run(100);
        const reply = fx.left.find((l) => l.tag === 'r1');
        expect(reply).toBeDefined();
        expect(reply!.needed).toBeGreaterThan(0);
        expect(reply!.durable).toBeGreaterThanOrEqual(reply!.needed);
      }),
    );

    it(
      'a read does not overtake earlier writes',
      withFixture(async (fx) => {
        // The read (no persist of its own) arrives while the write's persist is not yet durable: its
        // answer may not leave before the write's, or a client could read what may still be lost.
        fx.request([{ persist: 'w' }, { reply: 'w' }]);
        fx.request([{ reply: 'read' }], 'w');
        await fx.run(100);
        expect(leftTags(fx)).toEqual(['w', 'read']);
        const read = fx.left.find((l) => l.tag === 'read')!;
        const write = fx.left.find((l) => l.tag === 'w')!;
        expect(read.durable).toBeGreaterThanOrEqual(write.needed);
      }),
    );

    it(
      'a crash before the sync drops held sends',
      withFixture(async (fx) => {
        fx.request([{ persist: 'p' }, { send: 'lost', to: 'n2' }, { reply: 'lost-reply' }]);
        fx.crashAfter('lost');
        await fx.run(100);
        expect(leftTags(fx)).toEqual([]);
        expect(fx.probe('n2')!.received).toEqual([]);
      }),
    );

    it(
      'a timer never fires early',
      withFixture(async (fx) => {
        fx.request([
          { timer: 't30', afterMs: 30 },
          { timer: 't5', afterMs: 5 },
          { timer: 't0', afterMs: 0 },
        ]);
        await fx.run(200);
        const timers = fx.probe('n1')!.timers;
        expect(timers.map((t) => t.name)).toEqual(['t30', 't5', 't0']);
        for (const t of timers) {
          expect(t.firedAtMs, `${t.name} fired`).not.toBeNull();
          expect(t.firedAtMs! - t.setAtMs, `${t.name} waited`).toBeGreaterThanOrEqual(t.afterMs);
        }
      }),
    );

    it(
      'held effects leave in order, each after its persist',
      withFixture(async (fx) => {
        fx.request([
          { persist: 'a' },
          { send: 's1', to: 'n2' },
          { persist: 'b' },
          { send: 's2', to: 'n2' },
          { reply: 'r1' },
        ]);
        fx.request([{ send: 's3', to: 'n2' }, { persist: 'c' }, { send: 's4', to: 'n2' }, { reply: 'r2' }], 'r1');
        await fx.run(200);
        expect(leftTags(fx)).toEqual(['s1', 's2', 'r1', 's3', 's4', 'r2']);
        for (const l of fx.left) expect(l.durable, `${l.tag} left early`).toBeGreaterThanOrEqual(l.needed);
        expect(fx.probe('n2')!.received).toEqual(['s1', 's2', 's3', 's4']);
      }),
    );
  });
}
