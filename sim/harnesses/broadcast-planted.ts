/**
 * A planted bug for the shrinker's acceptance test and demo (`protocol broadcast-planted`): the
 * example broadcast protocol, except that a node acknowledges a client's value without persisting
 * it and without gossiping it — the value lives only in memory until the node's next anti-entropy
 * push. A crash in that window loses an acknowledged value, and the liveness check ("every
 * acknowledged value reaches every node") fails. Under the swarm nemesis a failing seed carries
 * dozens of faults; the shrinker must cut it down to the crash that matters.
 *
 * Never used outside tests and demos; the correct machine is core/example/broadcast.ts.
 */
import { broadcastMachine, type BroadcastState } from '../../core/example/broadcast.js';
import type { Effect, Machine, StepContext } from '../../core/types.js';
import type { Harness } from '../harness.js';
import { harness as broadcastHarness } from './broadcast.js';

type BroadcastMachine = typeof broadcastMachine;

export const plantedMachine: Machine<BroadcastState> = {
  ...broadcastMachine,
  step(state, input, ctx) {
    if (input.kind !== 'request')
      return broadcastMachine.step(
        state,
        input as Parameters<BroadcastMachine['step']>[1],
        ctx as Parameters<BroadcastMachine['step']>[2],
      );
    // THE PLANTED BUG: drop the persist and the gossip of a client's value; only the reply leaves.
    const filtered: StepContext = {
      nodeId: ctx.nodeId,
      prng: ctx.prng,
      emit(effect: Effect) {
        if (effect.kind === 'persist' || effect.kind === 'send') return;
        ctx.emit(effect);
      },
    };
    broadcastMachine.step(
      state,
      input as Parameters<BroadcastMachine['step']>[1],
      filtered as Parameters<BroadcastMachine['step']>[2],
    );
  },
};

export const harness: Harness = {
  ...broadcastHarness,
  name: 'broadcast-planted',
  mounts(nodeId, scenario) {
    return broadcastHarness.mounts(nodeId, scenario).map((m) => ({ ...m, machine: plantedMachine }));
  },
};
