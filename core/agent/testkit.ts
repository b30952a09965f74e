/**
 * Agent machines driven by hand, for tests that need exact schedules (call ids across restarts, a full sync
 * that comes due during a push, which pools a leave leaves): no runtime, no SWIM or Raft beside them — the
 * test plays their part through `local` inputs.
 */
import { Prng } from '../prng.js';
import { emptyDurableState, type Effect, type Input, type StepContext } from '../types.js';
import { agentTimingSim, makeAgentConfig } from './api.js';
import { agentMachine, type AgentState } from './machine.js';

export interface HandDriven {
  readonly state: AgentState;
  /** Runs one input; returns the effects it emitted. */
  readonly step: (input: Input) => Effect[];
}

/** Agent `name` (a server or a client, the simulator's timing), started with `startNonce`. */
export function handDrivenAgent(options: {
  name: string;
  nodeId: string;
  server: boolean;
  seed: number;
  startNonce: number;
}): HandDriven {
  const { name } = options;
  const config = makeAgentConfig({
    nodeName: name,
    nodeId: options.nodeId,
    advertiseAddr: name,
    rpcId: name,
    server: options.server,
    timing: agentTimingSim,
  });
  const prng = new Prng(options.seed);
  const state: AgentState = agentMachine.init(name, config, emptyDurableState, prng);
  const step = (input: Input): Effect[] => {
    const effects: Effect[] = [];
    const ctx: StepContext = { nodeId: name, prng, emit: (effect) => effects.push(effect as Effect) };
    agentMachine.step(state, input as never, ctx as never);
    return effects;
  };
  step({ kind: 'start', nowMs: 0, startNonce: options.startNonce });
  return { state, step };
}

/** Client agent c1, which SWIM has told about server s1 of dc1, started with `startNonce`. */
export function handDrivenClient(startNonce: number): HandDriven {
  const agent = handDrivenAgent({
    name: 'c1',
    nodeId: '00000000-0000-4000-8000-000000000001',
    server: false,
    seed: 7,
    startNonce,
  });
  // SWIM tells the agent about server s1 (its gossip tags say it is a server of dc1).
  agent.step({
    kind: 'local',
    nowMs: 0,
    fromMachine: 'swim',
    payload: {
      type: 'member',
      member: { id: 's1', name: 's1', incarnation: 1, status: 'alive', tags: { role: 'consul', dc: 'dc1' } },
    },
  });
  return agent;
}
