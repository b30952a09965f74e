/**
 * Anti-entropy's full sync is never dropped (core/agent/antiEntropy.ts): when its timer comes due while a
 * push chain is running, the chain ends with the full sync — a read of this node's catalog entry and health
 * checks, then a push of whatever differs. Before, the timer only asked the running chain to go round once
 * more, which pushes what the agent knows to be out of sync but never looks at the catalog: a deregistration
 * the agent did not make (the leader's, after a stale leave claim it refuted) then waited a whole period.
 *
 * How: a client agent machine driven by hand, server s1 known by gossip. A service registration starts a
 * push; while its RPC is in flight the full-sync timer fires (and a refuted leave claim asks for one too);
 * s1 answers the pushes; the agent must then send the full sync's catalog read.
 */
import { describe, expect, it } from 'vitest';
import type { Effect } from '../types.js';
import type { AgentRequest } from './api.js';
import { handDrivenClient } from './testkit.js';
import type { AgentMessage } from './rpc.js';
import type { ServerResult } from './ops.js';

const done: ServerResult = { ok: true, index: 9, value: null, knownLeader: true, lastContactMs: 0 };

function client() {
  const { state, step } = handDrivenClient(1);
  let nowMs = 0;
  const rpcs = (effects: Effect[]) =>
    effects.flatMap((e) =>
      e.kind === 'send' && (e.message as AgentMessage).t === 'rpc'
        ? [e.message as Extract<AgentMessage, { t: 'rpc' }>]
        : [],
    );
  return {
    state,
    request: (request: AgentRequest) => step({ kind: 'request', nowMs: ++nowMs, requestId: nowMs, request }),
    timer: (timer: string) => rpcs(step({ kind: 'timer', nowMs: ++nowMs, timer })),
    refuted: () =>
      step({
        kind: 'local',
        nowMs: ++nowMs,
        fromMachine: 'swim',
        payload: { type: 'refuted', claim: 'left', incarnation: 1 },
      }),
    answer: (id: number) =>
      rpcs(step({ kind: 'message', nowMs: ++nowMs, from: 's1', message: { t: 'rpcReply', id, result: done } })),
  };
}

/** What an RPC asks: a read's query type or a write's command type. */
const what = (rpc: Extract<AgentMessage, { t: 'rpc' }>): string => {
  const op = rpc.op as { kind: string; query?: { type: string }; command?: { type: string } };
  return op.kind === 'read' ? `read ${op.query!.type}` : `write ${op.command!.type}`;
};

describe('anti-entropy: a full sync that comes due during a push', () => {
  it('runs when the push chain ends: the agent reads its catalog entry after the last push', () => {
    const c = client();
    c.request({ type: 'agent.service.register', service: { name: 'web', port: 80 } });
    let inFlight = c.timer('sync');
    expect(inFlight.map(what)).toEqual(['write catalogRegister']); // the node first
    // The full sync comes due (its period, or a refuted claim) while the push is in flight.
    expect(c.timer('antiEntropy')).toEqual([]);
    c.refuted();
    const sent: string[] = [];
    for (let hops = 0; inFlight.length > 0 && hops < 10; hops++) {
      inFlight = c.answer(inFlight[0]!.id);
      sent.push(...inFlight.map(what));
    }
    // The service's push, then the full sync's first read (healthNode, then catalogNode).
    expect(sent.slice(0, 2)).toEqual(['write catalogRegister', 'read healthNode']);
  });
});
