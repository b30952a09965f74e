/**
 * The example protocol: reliable broadcast by gossip plus anti-entropy. Small on purpose — it is the
 * simulator's fixture and the proof that the node contract composes: it uses every effect a real
 * protocol uses (send on both channels, timers, persist-before-reply, replies, traces, the PRNG).
 *
 * A client asks any node to broadcast a value. The node persists it, then acknowledges (the ORDERING
 * RULE holds the reply until the write is durable), and pushes it to every peer. Receivers that learn
 * something new persist it and relay it to `fanout` random peers. Every `syncIntervalMs` each node
 * pushes its whole set to one random peer, which answers with what the pusher lacks, so values lost
 * to loss, partitions or crashes (unsynced writes) come back.
 *
 * Property (checked by sim/harnesses/broadcast.ts): once faults stop, every acknowledged value
 * reaches every node; no node ever holds a value nobody broadcast.
 */
import { assert } from '../assert.js';
import type { DurableState, Machine, NodeId, StepContext, Input } from '../types.js';
import type { Prng } from '../prng.js';
import { traceEffect } from '../trace.js';

export interface BroadcastConfig {
  /** Every other node in the cluster (static membership). */
  readonly peers: readonly NodeId[];
  /** Anti-entropy period (ms). Shorter heals faster after faults and costs a full-set message per period. */
  readonly syncIntervalMs: number;
  /** How many random peers a node relays a newly learned value to. More is faster and noisier. */
  readonly fanout: number;
  /** Largest set a node accepts (bounds memory and the size of a sync message). */
  readonly valuesMax: number;
}

export const broadcastDefaults: Omit<BroadcastConfig, 'peers'> = { syncIntervalMs: 200, fanout: 2, valuesMax: 100_000 };

/** Wire messages. The `type` strings are the wire enum: append-only. */
export type BroadcastMessage =
  | { readonly type: 'gossip'; readonly values: readonly number[] }
  /** Anti-entropy push; `reply` is false on the answer so that it is not answered again. */
  | { readonly type: 'sync'; readonly values: readonly number[]; readonly reply: boolean };

export type BroadcastRequest = { readonly type: 'broadcast'; readonly value: number } | { readonly type: 'read' };
export type BroadcastResponse =
  | { readonly ok: true }
  | { readonly ok: true; readonly values: readonly number[] }
  | { readonly ok: false; readonly error: string };

export interface BroadcastState {
  readonly config: BroadcastConfig;
  /** Invariant: every value here is a safe integer that some client broadcast. */
  readonly values: Set<number>;
}

type Ctx = StepContext<BroadcastMessage, BroadcastResponse>;

export const broadcastMachine: Machine<
  BroadcastState,
  BroadcastConfig,
  BroadcastMessage,
  BroadcastRequest,
  BroadcastResponse
> = {
  name: 'broadcast',

  init(_nodeId: NodeId, config: BroadcastConfig, durable: DurableState, _prng: Prng): BroadcastState {
    assert(config.syncIntervalMs > 0 && config.fanout >= 0 && config.valuesMax > 0, 'broadcast config out of range');
    // Values are an append-only log on disk. A torn tail is harmless: a value is acknowledged only
    // after its append is durable, so a torn one was never acknowledged (and gossip brings it back).
    const stored = durable.logs.get('values');
    assert(!stored?.corrupt, `broadcast: stored values are corrupt: ${stored?.corrupt?.reason}`);
    const values = new Set<number>((stored?.entries ?? []).filter((v): v is number => Number.isSafeInteger(v)));
    return { config, values };
  },

  step(state, input, ctx) {
    switch (input.kind) {
      case 'start':
        ctx.emit({ kind: 'setTimer', timer: 'sync', afterMs: ctx.prng.between(1, state.config.syncIntervalMs) });
        return;
      case 'timer':
        if (input.timer === 'sync') onSyncTimeout(state, ctx);
        return;
      case 'request':
        onRequest(state, input, ctx);
        return;
      case 'message':
        onMessage(state, input.from, input.message, ctx);
        return;
      default:
        return;
    }
  },

  invariants(state) {
    // Called after every step, so O(1): `learn` admits only safe integers, checked on the way in.
    return state.values.size > state.config.valuesMax ? [`holds ${state.values.size} values, more than valuesMax`] : [];
  },

  view(state) {
    return { values: state.values.size };
  },
};

function onRequest(
  state: BroadcastState,
  input: Extract<Input<BroadcastMessage, BroadcastRequest>, { kind: 'request' }>,
  ctx: Ctx,
): void {
  const request = input.request;
  if (request?.type === 'read') {
    ctx.emit({
      kind: 'reply',
      requestId: input.requestId,
      response: { ok: true, values: [...state.values].sort((a, b) => a - b) },
    });
    return;
  }
  if (request?.type !== 'broadcast' || !Number.isSafeInteger(request.value)) {
    ctx.emit({ kind: 'reply', requestId: input.requestId, response: { ok: false, error: 'bad request' } });
    return;
  }
  const fresh = learn(state, [request.value], ctx);
  ctx.emit({ kind: 'reply', requestId: input.requestId, response: { ok: true } });
  if (fresh.length > 0)
    for (const peer of state.config.peers)
      ctx.emit({ kind: 'send', to: peer, message: { type: 'gossip', values: fresh } });
}

function onMessage(state: BroadcastState, from: NodeId, message: BroadcastMessage, ctx: Ctx): void {
  if (message === null || typeof message !== 'object' || !Array.isArray(message.values)) return; // not ours: drop
  const values = message.values.filter((v) => Number.isSafeInteger(v));
  const fresh = learn(state, values, ctx);
  if (message.type === 'gossip' && fresh.length > 0) {
    for (const peer of pickPeers(state, ctx.prng, from))
      ctx.emit({ kind: 'send', to: peer, message: { type: 'gossip', values: fresh } });
  }
  if (message.type === 'sync' && message.reply) {
    const theirs = new Set(values);
    const missing = [...state.values].filter((v) => !theirs.has(v));
    if (missing.length > 0)
      ctx.emit({ kind: 'send', to: from, message: { type: 'sync', values: missing, reply: false }, channel: 'stream' });
  }
}

function onSyncTimeout(state: BroadcastState, ctx: Ctx): void {
  if (state.config.peers.length > 0) {
    const peer = ctx.prng.pick(state.config.peers);
    ctx.emit({
      kind: 'send',
      to: peer,
      message: { type: 'sync', values: [...state.values], reply: true },
      channel: 'stream',
    });
  }
  ctx.emit({ kind: 'setTimer', timer: 'sync', afterMs: state.config.syncIntervalMs });
}

/** Adds new values, persisting them first; returns the ones that were new. */
function learn(state: BroadcastState, values: readonly number[], ctx: Ctx): number[] {
  const fresh: number[] = [];
  for (const v of values) {
    if (state.values.has(v) || state.values.size >= state.config.valuesMax) continue;
    state.values.add(v);
    fresh.push(v);
  }
  if (fresh.length > 0) {
    ctx.emit({ kind: 'persist', ops: [{ op: 'append', log: 'values', entries: fresh }] });
    const text = `${ctx.nodeId} learned ${fresh.length} value(s), holds ${state.values.size}`;
    ctx.emit(traceEffect({ type: 'note', text }, 'debug'));
  }
  return fresh;
}

function pickPeers(state: BroadcastState, prng: Prng, except: NodeId): NodeId[] {
  const candidates = state.config.peers.filter((p) => p !== except);
  prng.shuffle(candidates);
  return candidates.slice(0, state.config.fanout);
}
