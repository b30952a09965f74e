/**
 * `consul leave` on a server leaves the WAN pool as well as the LAN pool (Consul's Server.Leave): the other
 * datacenters mark it left at once, stop routing `?dc=` requests to it and drop its DC from
 * catalog/datacenters when it was the DC's last server. Before round N (session 17) the agent left the LAN
 * pool alone and stayed a live WAN member (scenarios/multidc/dc-retired.txt). A client agent has no WAN pool.
 *
 * How: a server and a client agent machine are driven by hand; the test answers each SWIM call itself and
 * reads which machine each `leave` went to, and when the answer to the client's request leaves (after the LAN
 * leave, as before: the WAN profile's 8 s propagation wait would outlast a graceful shutdown's 5 s budget).
 */
import { describe, expect, it } from 'vitest';
import type { Effect } from '../types.js';
import { handDrivenAgent } from './testkit.js';

function agent(server: boolean) {
  return handDrivenAgent({ name: 'a1', nodeId: '00000000-0000-4000-8000-0000000000a1', server, seed: 3, startNonce: 1 })
    .step;
}

/** The SWIM leave calls among `effects`: [machine, requestId]. */
function leaves(effects: Effect[]): [string, number][] {
  const out: [string, number][] = [];
  for (const e of effects) {
    if (e.kind !== 'local') continue;
    const payload = e.payload as { requestId: number; request: { type: string } };
    if (payload.request?.type === 'leave') out.push([e.toMachine, payload.requestId]);
  }
  return out;
}

const answered = (effects: Effect[]) => effects.filter((e) => e.kind === 'reply');

describe('agent.leave', () => {
  it('a server leaves the WAN pool and the LAN pool, and answers once the LAN leave is done', () => {
    const step = agent(true);
    const first = step({ kind: 'request', nowMs: 10, requestId: 1, request: { type: 'agent.leave' } });
    expect(leaves(first).map(([machine]) => machine)).toEqual(['wan', 'swim']);
    expect(answered(first)).toEqual([]);
    const lanReply = { type: 'reply', requestId: leaves(first)[1]![1], response: { ok: true } };
    const second = step({ kind: 'local', nowMs: 30, fromMachine: 'swim', payload: lanReply } as never);
    expect(answered(second).map((e) => (e as { response: { status: number } }).response.status)).toEqual([200]);
    // The WAN leave finishes on its own timer: its answer changes nothing.
    const wanReply = { type: 'reply', requestId: leaves(first)[0]![1], response: { ok: true } };
    expect(step({ kind: 'local', nowMs: 40, fromMachine: 'wan', payload: wanReply } as never)).toEqual([]);
  });

  it('a client agent leaves its LAN pool alone', () => {
    const step = agent(false);
    const first = step({ kind: 'request', nowMs: 10, requestId: 1, request: { type: 'agent.leave' } });
    expect(leaves(first).map(([machine]) => machine)).toEqual(['swim']);
  });
});
