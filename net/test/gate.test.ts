/**
 * net/gate.ts puts the core gate (core/agent/gate.ts) over promises: the agent's answer resolves the
 * request's promise, and a call that fails rejects it — with ACLs off and on, at any step of the gate
 * (the token's resolution, a rule's lookup, the request itself) — never leaving it pending.
 */
import { describe, expect, it } from 'vitest';
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import { gatedAgent } from '../gate.js';

const grant = { kind: 'all', allow: true };
const facts = { nodeName: 'n1' };

describe('gatedAgent', () => {
  it('resolves with the answer, and rejects when a call of the gate fails, ACLs off or on', async () => {
    const ok: AgentResponse = { status: 200, body: 'v', index: 1 };
    const off = gatedAgent(async () => ok, undefined, facts, 'dc1');
    await expect(off.call({ type: 'status.leader' }, '')).resolves.toEqual(ok);
    const broken = gatedAgent(async () => Promise.reject(new Error('agent gone')), undefined, facts, 'dc1');
    await expect(broken.call({ type: 'status.leader' }, '')).rejects.toThrow('agent gone');

    const acl = { enabled: true, defaultPolicy: 'deny' } as const;
    const failAt = (type: string) => async (request: AgentRequest) => {
      if (request.type === type) throw new Error(`${type} failed`);
      return request.type === 'acl.resolve' ? { status: 200, body: grant, index: 1 } : ok;
    };
    await expect(
      gatedAgent(failAt('acl.resolve'), acl, facts, 'dc1').call({ type: 'status.leader' }, 't'),
    ).rejects.toThrow('acl.resolve failed');
    await expect(
      gatedAgent(failAt('status.leader'), acl, facts, 'dc1').call({ type: 'status.leader' }, 't'),
    ).rejects.toThrow('status.leader failed');
    await expect(
      gatedAgent(failAt('none'), acl, facts, 'dc1').check({ type: 'status.leader' }, 't'),
    ).resolves.toBeNull();
  });
});
