/**
 * A register served by one fixed primary: the protocol of docs/write-your-own-protocol.md, small on
 * purpose. Clients read, write and compare-and-set one value. Only the primary answers; it persists
 * a write before acknowledging it (the ORDERING RULE in core/types.ts holds the reply until the
 * write is durable), then copies the value to the backups, which store it and never answer reads.
 *
 * Linearizable while clients talk to the primary only: there is one copy that answers, and nothing
 * is acknowledged before it is durable. Reading from a backup (the harness's `readFrom any`) is not:
 * a backup's copy lags, and the history checker shows the stale read.
 */
import { assert } from '../assert.js';
import type { DurableState, Machine, NodeId, StepContext } from '../types.js';

export interface RegisterConfig {
  /** The one node that answers clients. Fixed: there is no failover in this example. */
  readonly primary: NodeId;
  /** Every other node (they receive copies). */
  readonly backups: readonly NodeId[];
}

/** Wire messages. The `type` strings are the wire enum: append-only. */
export type RegisterMessage = { readonly type: 'copy'; readonly value: string | null; readonly version: number };

export type RegisterRequest =
  | { readonly type: 'read' }
  | { readonly type: 'write'; readonly value: string }
  | { readonly type: 'cas'; readonly from: string | null; readonly to: string };

export type RegisterResponse =
  | { readonly ok: true; readonly value?: string | null }
  | { readonly ok: false; readonly error: 'not primary' | 'mismatch' | 'bad request' };

export interface RegisterState {
  readonly config: RegisterConfig;
  value: string | null;
  /** Invariant: counts the writes this value went through; a copy with a lower version is stale. */
  version: number;
}

type Ctx = StepContext<RegisterMessage, RegisterResponse>;

export const registerMachine: Machine<
  RegisterState,
  RegisterConfig,
  RegisterMessage,
  RegisterRequest,
  RegisterResponse
> = {
  name: 'register',

  init(_nodeId: NodeId, config: RegisterConfig, durable: DurableState): RegisterState {
    const stored = durable.records.get('register') as { value: string | null; version: number } | undefined;
    return { config, value: stored?.value ?? null, version: stored?.version ?? 0 };
  },

  step(state, input, ctx) {
    if (input.kind === 'request') onRequest(state, input.requestId, input.request, ctx);
    else if (input.kind === 'message') onCopy(state, input.message);
  },

  invariants(state) {
    return Number.isSafeInteger(state.version) && state.version >= 0 ? [] : [`bad version ${state.version}`];
  },

  view(state) {
    return { value: state.value, version: state.version };
  },
};

function onRequest(state: RegisterState, requestId: number, request: RegisterRequest, ctx: Ctx): void {
  const reply = (response: RegisterResponse): void => ctx.emit({ kind: 'reply', requestId, response });
  if (ctx.nodeId !== state.config.primary && request?.type !== 'read')
    return reply({ ok: false, error: 'not primary' });
  switch (request?.type) {
    case 'read':
      return reply({ ok: true, value: state.value });
    case 'write':
      return commit(state, request.value, requestId, ctx);
    case 'cas':
      if (state.value !== request.from) return reply({ ok: false, error: 'mismatch' });
      return commit(state, request.to, requestId, ctx);
    default:
      return reply({ ok: false, error: 'bad request' });
  }
}

/** Persist, then acknowledge (held until durable), then copy to the backups. */
function commit(state: RegisterState, value: string, requestId: number, ctx: Ctx): void {
  state.value = value;
  state.version++;
  ctx.emit({ kind: 'persist', ops: [{ op: 'put', key: 'register', value: { value, version: state.version } }] });
  ctx.emit({ kind: 'reply', requestId, response: { ok: true } });
  for (const backup of state.config.backups)
    ctx.emit({ kind: 'send', to: backup, message: { type: 'copy', value, version: state.version } });
}

/** A backup keeps the newest copy it has seen (copies may arrive out of order, or twice). */
function onCopy(state: RegisterState, message: RegisterMessage): void {
  if (message?.type !== 'copy' || !Number.isSafeInteger(message.version)) return; // not ours: drop
  assert(state.config.primary !== undefined, 'register: no primary configured');
  if (message.version > state.version) {
    state.value = message.value;
    state.version = message.version;
  }
}
