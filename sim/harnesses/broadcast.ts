/**
 * Harness for the example broadcast protocol (core/example/broadcast.ts): the simulator's own
 * fixture. Clients broadcast unique values through random nodes; a value is acknowledged only once
 * durable on the node that took it.
 *
 * Safety (end of run): no node holds a value no client broadcast.
 * Liveness: once faults stop, every acknowledged value is on every node.
 */
import { broadcastDefaults, broadcastMachine, type BroadcastState } from '../../core/example/broadcast.js';
import type { Harness, SimApi } from '../harness.js';
import type { Scenario } from '../scenario.js';
import { checkIntegerParams } from '../params.js';
import { missingAcknowledged } from './why-not-live.js';

const params = {
  syncIntervalMs: 'anti-entropy period (ms)',
  fanout: 'peers a new value is relayed to',
  clients: 'number of concurrent clients',
  opEveryMs: 'mean gap between one client’s operations (ms)',
  requestTimeoutMs: 'client timeout (ms): after it the outcome is unknown',
} as const;

function num(scenario: Scenario, key: keyof typeof params, fallback: number): number {
  const raw = scenario.params[key];
  return raw === undefined ? fallback : Number(raw);
}

function acknowledged(sim: SimApi): number[] {
  return sim.history.ops.filter((op) => op.outcome === 'ok').map((op) => op.input as number);
}

export const harness: Harness = {
  name: 'broadcast',
  params,

  validate(scenario) {
    return checkIntegerParams(scenario, Object.keys(params));
  },

  mounts(nodeId, scenario) {
    const config = {
      ...broadcastDefaults,
      peers: scenario.nodes.filter((n) => n !== nodeId),
      syncIntervalMs: num(scenario, 'syncIntervalMs', broadcastDefaults.syncIntervalMs),
      fanout: num(scenario, 'fanout', broadcastDefaults.fanout),
    };
    return [{ machine: broadcastMachine, config }];
  },

  workload(sim, scenario) {
    const prng = sim.random('workload');
    const clients = num(scenario, 'clients', 3);
    const everyMs = num(scenario, 'opEveryMs', 100);
    const timeoutMs = num(scenario, 'requestTimeoutMs', 1000);
    let nextValue = 1;
    for (let process = 0; process < clients; process++) {
      const issue = () => {
        if (sim.phase !== 'safety') return;
        const node = prng.pick(sim.nodeIds);
        const value = nextValue++;
        const op = sim.history.invoke(process, 'broadcast', value, node, sim.nowMs);
        sim.request(node, { machine: 'broadcast', body: { type: 'broadcast', value } }, timeoutMs, (response) => {
          const ok = (response as { ok?: boolean } | undefined)?.ok === true;
          sim.history.complete(op, response === undefined ? 'unknown' : ok ? 'ok' : 'fail', response, sim.nowMs);
          sim.after(1 + prng.below(2 * everyMs), issue);
        });
      };
      sim.after(prng.below(everyMs + 1), issue);
    }
  },

  live(sim) {
    const wanted = acknowledged(sim);
    return sim.nodeIds.every((id) => {
      const runtime = sim.runtime(id);
      if (!runtime) return false;
      const values = runtime.stateOf<BroadcastState>('broadcast').values;
      return wanted.every((v) => values.has(v));
    });
  },

  whyNotLive(sim) {
    const acked = sim.history.ops.filter((op) => op.outcome === 'ok');
    return missingAcknowledged(
      sim,
      acked,
      (op) => op.input as number,
      (id, value) => sim.runtime(id)?.stateOf<BroadcastState>('broadcast').values.has(value) ?? null,
    );
  },

  checkEnd(sim) {
    const invoked = new Set(sim.history.ops.map((op) => op.input as number));
    const problems: string[] = [];
    for (const id of sim.nodeIds) {
      const runtime = sim.runtime(id);
      if (!runtime) continue;
      for (const v of runtime.stateOf<BroadcastState>('broadcast').values) {
        if (!invoked.has(v)) problems.push(`${id} holds value ${v}, which no client broadcast`);
      }
    }
    return problems;
  },

  expect(sim, name) {
    if (name === 'converged') return harness.live!(sim) ? null : 'some acknowledged value is missing on some node';
    return `unknown expectation '${name}' (broadcast knows: converged)`;
  },

  describe(sim, nodeId) {
    const runtime = sim.runtime(nodeId);
    return { values: runtime ? runtime.stateOf<BroadcastState>('broadcast').values.size : '-' };
  },
};
