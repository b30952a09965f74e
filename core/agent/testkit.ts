/**
 * A client agent machine driven by hand, for tests that need exact schedules (call ids across restarts, a
 * full sync that comes due during a push): client `c1`, which SWIM has told about server `s1` of dc1.
 */
import { Prng } from '../prng.js';
import { emptyDurableState, type Effect, type Input, type StepContext } from '../types.js';
import { agentTimingSim, makeAgentConfig } from './api.js';
import { agentMachine, type AgentState } from './machine.js';

const clientConfig = makeAgentConfig({
  nodeName: 'c1',
  nodeId: '00000000-0000-4000-8000-000000000001',
  advertiseAddr: 'c1',
  rpcId: 'c1',
  timing: agentTimingSim,
});

/** One process of c1, started with `startNonce`: its state, and a step that returns the effects. */
export function handDrivenClient(startNonce: number): { state: AgentState; step: (input: Input) => Effect[] } {
  const prng = new Prng(7);
  const state: AgentState = agentMachine.init('c1', clientConfig, emptyDurableState, prng);
  const step = (input: Input): Effect[] => {
    const effects: Effect[] = [];
    const ctx: StepContext = { nodeId: 'c1', prng, emit: (effect) => effects.push(effect as Effect) };
    agentMachine.step(state, input as never, ctx as never);
    return effects;
  };
  step({ kind: 'start', nowMs: 0, startNonce });
  // SWIM tells the agent about server s1 (its gossip tags say it is a server of dc1).
  step({
    kind: 'local',
    nowMs: 0,
    fromMachine: 'swim',
    payload: {
      type: 'member',
      member: { id: 's1', name: 's1', incarnation: 1, status: 'alive', tags: { role: 'consul', dc: 'dc1' } },
    },
  });
  return { state, step };
}
