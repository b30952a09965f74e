import { describe, expect, it } from 'vitest';
import { LeftNodes } from '../harnesses/agent-leave.js';
import { loadScenario, runLoaded } from '../run.js';

/** A push as the agent sends it: an RPC write of a catalog registration of `node`. */
const push = (node: string) => ({
  m: 'agent',
  p: {
    t: 'rpc',
    id: 1,
    op: { kind: 'write', command: { type: 'catalogRegister', node: { node, address: node }, skipNodeUpdate: true } },
  },
});
const leave = { body: { type: 'agent.leave' } };

/**
 * The left-agent rule (sim/harnesses/agent-leave.ts): crafted sends before and after a leave, and the scenario
 * seed that found the push chain running on after the leave (core/agent/antiEntropy.ts syncNext).
 */
describe('a left agent writes nothing more to the catalog', () => {
  it('passes pushes before the leave, and a resend of one of them after it', () => {
    const rule = new LeftNodes();
    const before = push('n5');
    expect(rule.checkSend('n5', 7990, before)).toBeNull();
    rule.noteInput('n5', 8000, leave);
    expect(rule.checkSend('n5', 8015, before)).toBeNull(); // the same op, resent by the RPC hold
    expect(rule.checkSend('n4', 8016, push('n4'))).toBeNull(); // another agent
  });

  it('fails a new registration of its node after the leave, until the agent is started again', () => {
    const rule = new LeftNodes();
    rule.noteInput('n5', 8000, leave);
    expect(rule.checkSend('n5', 8020, push('n5'))).toContain('n5 received a leave at 8000 ms');
    rule.noteStart('n5');
    expect(rule.checkSend('n5', 9000, push('n5'))).toBeNull();
  });

  it('scenarios/agent/leave.txt seed 241: the push after the one in flight at the leave is not sent', async () => {
    // Before the fix, syncNext went on to the next out-of-sync item once the push in flight at the leave
    // was answered: n5 sent a new registration 15 ms after its leave.
    const loaded = await loadScenario('scenarios/agent/leave.txt');
    expect(runLoaded(loaded, 241, { codec: true }).result).toBe('pass');
  });
});
