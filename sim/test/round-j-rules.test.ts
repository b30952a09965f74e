/**
 * The rules and the reach added for round J's escapes (session 15), each fed a crafted bad case and its
 * correct variant: no read left in flight to a server gossip just declared failed (J04,
 * sim/harnesses/agent-rpcs.ts), and the `stream-cut` fault the failed-server-last rule needs (J03: a server
 * whose RPCs time out while gossip holds it alive). J01's rule is tested in agent-checks.test.ts, the new
 * acl-access operations (J02, J09..J12) in agent-gate.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { AgentState } from '../../core/agent/state.js';
import type { Member } from '../../core/swim/api.js';
import { checkRpcsToFailed, GossipLiveness } from '../harnesses/agent-rpcs.js';
import { Network } from '../engine/network.js';
import { parseScenario } from '../scenario.js';

const member = (id: string, status: Member['status']): Member =>
  ({ id, name: `${id}.dc2`, status, incarnation: 0, tags: { role: 'consul', dc: 'dc2' } }) as unknown as Member;

/** A server agent whose WAN pool holds n6 with `status`, and one forwarded op in flight to n6. */
function agent(status: Member['status'], op: unknown): AgentState {
  return {
    members: new Map(),
    wanMembers: new Map([['n6', member('n6', status)]]),
    pendingRpcs: new Map([[7, { to: 'n6', op, origin: { kind: 'internal' } }]]),
  } as unknown as AgentState;
}

const read = { kind: 'read', query: { type: 'kvGet', key: 'k' }, consistency: 'default', minIndex: 3, waitMs: 9000 };
const write = { kind: 'write', command: { type: 'kvSet' } };

describe('no read in flight to a server gossip declared failed (checkRpcsToFailed)', () => {
  it('reports a forwarded read still pending at the step its server stopped being live', () => {
    const memory = new GossipLiveness();
    expect(checkRpcsToFailed(memory, 'n2', agent('alive', { kind: 'dc', dc: 'dc2', crossed: true, op: read }))).toBe(
      null,
    );
    const same = memory.byNode.get('n2')!.agent;
    (same.wanMembers as Map<string, Member>).set('n6', member('n6', 'failed'));
    expect(checkRpcsToFailed(memory, 'n2', same)).toMatch(/still in flight to n6.*just stopped holding live/);
  });

  it('leaves a write pending, and a server the agent never saw live, and a restarted agent alone', () => {
    const memory = new GossipLiveness();
    const writing = agent('alive', { kind: 'dc', dc: 'dc2', crossed: true, op: write });
    expect(checkRpcsToFailed(memory, 'n2', writing)).toBeNull();
    (writing.wanMembers as Map<string, Member>).set('n6', member('n6', 'failed'));
    expect(checkRpcsToFailed(memory, 'n2', writing)).toBeNull();
    const fresh = new GossipLiveness();
    expect(checkRpcsToFailed(fresh, 'n2', agent('failed', read))).toBeNull();
    const restarted = new GossipLiveness();
    checkRpcsToFailed(restarted, 'n2', agent('alive', read));
    expect(checkRpcsToFailed(restarted, 'n2', agent('failed', read))).toBeNull();
  });
});

describe('stream-cut (the server port cut, gossip open)', () => {
  it('is a timeline fault that takes one node', () => {
    const base = 'protocol agent\nnodes 5\nset servers 3\nduration safety=10s liveness=5s\n';
    expect(() => parseScenario(`${base}at 2s stream-cut n2\nat 4s heal\n`, 'ok.txt')).not.toThrow();
    expect(() => parseScenario(`${base}at 2s stream-cut\n`, 'bad.txt')).toThrow(/stream-cut takes one node/);
  });

  it("drops the node's stream messages both ways, lets its datagrams through, and heals", () => {
    const knobs = {
      latencyMsMin: 1,
      latencyMsTailMean: 1,
      lossPercent: 0,
      duplicatePercent: 0,
      reorderPercent: 0,
      reorderMsMax: 0,
    };
    const net = new Network(knobs, 3, () => 0.5);
    net.streamCut.add(1);
    expect(net.route(0, 1, true, 0)).toBeNull();
    expect(net.route(1, 2, true, 0)).toBeNull();
    expect(net.route(0, 1, false, 0)).not.toBeNull();
    expect(net.route(0, 2, true, 0)).not.toBeNull();
    net.heal();
    expect(net.route(0, 1, true, 0)).not.toBeNull();
  });
});
