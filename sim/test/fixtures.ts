/**
 * Test fixtures for the simulator: a "ticker" machine that records when its timers fire and what it
 * hears, so that tests can see faults act on time and on the network.
 */
import type { AnyMachine, Machine } from '../../core/types.js';
import type { Harness } from '../harness.js';
import { parseScenario, type Scenario } from '../scenario.js';

export interface TickerState {
  peers: string[];
  periodMs: number;
  /** Local times at which the tick timer fired. */
  fired: number[];
  /** (from, local time) of every ping heard. */
  heard: { from: string; atMs: number; n: number }[];
  sent: number;
}

/** Every `periodMs` a ticker pings every peer over the datagram channel. */
export const tickerMachine: Machine<TickerState, { peers: string[]; periodMs: number }> = {
  name: 'ticker',
  init(_id, config) {
    return { peers: config.peers, periodMs: config.periodMs, fired: [], heard: [], sent: 0 };
  },
  step(state, input, ctx) {
    if (input.kind === 'start') ctx.emit({ kind: 'setTimer', timer: 'tick', afterMs: state.periodMs });
    if (input.kind === 'timer') {
      state.fired.push(input.nowMs);
      for (const peer of state.peers) ctx.emit({ kind: 'send', to: peer, message: { type: 'ping', n: ++state.sent } });
      ctx.emit({ kind: 'setTimer', timer: 'tick', afterMs: state.periodMs });
    }
    if (input.kind === 'message')
      state.heard.push({ from: input.from, atMs: input.nowMs, n: (input.message as { n: number }).n });
  },
};

export const tickerHarness: Harness = {
  name: 'ticker',
  params: { periodMs: 'tick period (ms)' },
  mounts(nodeId, scenario) {
    return [
      {
        machine: tickerMachine,
        config: {
          peers: scenario.nodes.filter((n) => n !== nodeId),
          periodMs: Number(scenario.params.periodMs ?? 100),
        },
      },
    ];
  },
};

export function tickerScenario(lines: string): Scenario {
  return parseScenario(`protocol ticker\nnodes 3\nduration safety=2s liveness=0s\n${lines}\n`, 'test.txt');
}

/** Like the ticker, but every tick persists before it pings (so each ping waits for a sync). */
export const durableTickerMachine: Machine<TickerState, { peers: string[]; periodMs: number }> = {
  ...tickerMachine,
  name: 'ticker',
  step(state, input, ctx) {
    if (input.kind === 'timer')
      ctx.emit({ kind: 'persist', ops: [{ op: 'append', log: 'ticks', entries: [input.nowMs] }] });
    tickerMachine.step(state, input, ctx);
  },
};

export const durableTickerHarness: Harness = {
  ...tickerHarness,
  mounts(nodeId, scenario) {
    return [
      {
        machine: durableTickerMachine,
        config: {
          peers: scenario.nodes.filter((n) => n !== nodeId),
          periodMs: Number(scenario.params.periodMs ?? 100),
        },
      },
    ];
  },
};

/**
 * `base` with the step of machine `name` replaced on the nodes `nodes` picks (all by default): a planted
 * regression for a test that shows a rule catches it. `step` gets the original step to call.
 */
export function withPlantedStep(
  base: Harness,
  name: string,
  step: (original: AnyMachine['step'], ...args: Parameters<AnyMachine['step']>) => void,
  nodes: (nodeId: string) => boolean = () => true,
): Harness {
  return {
    ...base,
    mounts(nodeId, scenario, start) {
      return base.mounts(nodeId, scenario, start).map((mount) => {
        if (mount.machine.name !== name || !nodes(nodeId)) return mount;
        const machine = mount.machine as AnyMachine;
        const planted: AnyMachine = { ...machine, step: (...args) => step(machine.step, ...args) };
        return { ...mount, machine: planted };
      });
    },
  };
}
