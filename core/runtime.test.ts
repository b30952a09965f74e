/**
 * The node runtime composes machines: it routes messages by envelope, timers by prefix, requests by
 * machine name, runs sibling `local` calls within the same step, prefixes storage per machine and
 * hands each machine only its own durable state back.
 */
import { describe, expect, it } from 'vitest';
import { Prng } from './prng.js';
import { NodeRuntime } from './runtime.js';
import type { Machine } from './types.js';

interface EchoState {
  got: unknown[];
  loaded: unknown;
}

const echo = (name: string, partner: string): Machine<EchoState> => ({
  name,
  init(_id, _config, durable) {
    return { got: [], loaded: durable.records.get('k') };
  },
  step(state, input, ctx) {
    switch (input.kind) {
      case 'start':
        ctx.emit({ kind: 'setTimer', timer: 't', afterMs: 5 });
        return;
      case 'message':
        state.got.push(['message', input.from, input.message]);
        ctx.emit({ kind: 'local', toMachine: partner, payload: { relay: input.message } });
        return;
      case 'local':
        state.got.push(['local', input.fromMachine, input.payload]);
        return;
      case 'timer':
        state.got.push(['timer', input.timer]);
        return;
      case 'request':
        ctx.emit({ kind: 'persist', ops: [{ op: 'put', key: 'k', value: input.request }] });
        ctx.emit({ kind: 'reply', requestId: input.requestId, response: { from: name } });
        ctx.emit({ kind: 'send', to: 'peer', message: 'hello' });
        return;
      default:
    }
  },
});

describe('NodeRuntime', () => {
  it('routes by machine and rewrites names', () => {
    const node = new NodeRuntime(
      'n1',
      [
        { machine: echo('a', 'b'), config: {} },
        { machine: echo('b', 'a'), config: {} },
      ],
      { records: new Map([['b/k', 42]]), logs: new Map() },
      new Prng(1),
    );
    expect(node.step({ kind: 'start', nowMs: 0, startNonce: 0 })).toEqual([
      { kind: 'setTimer', timer: 'a:t', afterMs: 5 },
      { kind: 'setTimer', timer: 'b:t', afterMs: 5 },
    ]);
    expect(node.stateOf<EchoState>('b').loaded).toBe(42);
    expect(node.stateOf<EchoState>('a').loaded).toBeUndefined();

    node.step({ kind: 'timer', nowMs: 5, timer: 'b:t' });
    expect(node.stateOf<EchoState>('b').got).toEqual([['timer', 't']]);

    node.step({ kind: 'message', nowMs: 6, from: 'n2', message: { m: 'a', p: 'x' } });
    expect(node.stateOf<EchoState>('a').got).toEqual([['message', 'n2', 'x']]);
    expect(node.stateOf<EchoState>('b').got[1]).toEqual(['local', 'a', { relay: 'x' }]);

    const effects = node.step({ kind: 'request', nowMs: 7, requestId: 9, request: { machine: 'b', body: 'v' } });
    expect(effects).toEqual([
      { kind: 'persist', ops: [{ op: 'put', key: 'b/k', value: 'v' }] },
      { kind: 'reply', requestId: 9, response: { from: 'b' } },
      { kind: 'send', to: 'peer', message: { m: 'b', p: 'hello' }, channel: 'datagram' },
    ]);
  });

  it('drops messages for unknown machines and answers requests for them with an error', () => {
    const node = new NodeRuntime(
      'n1',
      [{ machine: echo('a', 'a'), config: {} }],
      { records: new Map(), logs: new Map() },
      new Prng(1),
    );
    expect(node.step({ kind: 'message', nowMs: 0, from: 'x', message: { m: 'zzz', p: 1 } })[0]?.kind).toBe('trace');
    expect(node.step({ kind: 'message', nowMs: 0, from: 'x', message: 'garbage' as never })[0]?.kind).toBe('trace');
    expect(node.step({ kind: 'request', nowMs: 0, requestId: 1, request: { machine: 'zzz', body: 1 } })).toEqual([
      { kind: 'reply', requestId: 1, response: { error: 'no machine zzz' } },
    ]);
  });

  it('stops a cycle of local calls between machines with an assertion', () => {
    const loop = (name: string, other: string): Machine<null> => ({
      name,
      init: () => null,
      step(_state, input, ctx) {
        if (input.kind === 'request' || input.kind === 'local')
          ctx.emit({ kind: 'local', toMachine: other, payload: 'again' });
      },
    });
    const node = new NodeRuntime(
      'n1',
      [
        { machine: loop('a', 'b'), config: {} },
        { machine: loop('b', 'a'), config: {} },
      ],
      { records: new Map(), logs: new Map() },
      new Prng(1),
    );
    expect(() => node.step({ kind: 'request', nowMs: 0, requestId: 1, request: { machine: 'a', body: 1 } })).toThrow(
      /local hops in one step/,
    );
  });
});
