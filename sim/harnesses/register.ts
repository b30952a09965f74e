/**
 * Harness for the example register (core/example/register.ts), the protocol of
 * docs/write-your-own-protocol.md. Clients read, write and compare-and-set key `r/0` through the
 * primary (or, with `set readFrom any`, read from any node: the planted mistake); the history of
 * their operations must be linearizable (checked at the end, and written by `sim run --history`).
 */
import { registerMachine, type RegisterResponse, type RegisterState } from '../../core/example/register.js';
import { checkHistory, historyToLinOps, registerModel } from '../checkers/lin/index.js';
import type { Harness } from '../harness.js';
import { checkChoiceParam, checkIntegerParams } from '../params.js';
import type { Scenario } from '../scenario.js';

const params = {
  clients: 'number of concurrent clients',
  opEveryMs: 'mean gap between one client’s operations (ms)',
  readFrom: 'primary (linearizable) or any (reads from a random node: stale reads)',
} as const;

const num = (scenario: Scenario, key: string, fallback: number): number =>
  scenario.params[key] === undefined ? fallback : Number(scenario.params[key]);

export const harness: Harness = {
  name: 'register',
  params,

  validate(scenario) {
    return [
      ...checkIntegerParams(scenario, ['clients', 'opEveryMs']),
      ...checkChoiceParam(scenario, 'readFrom', ['primary', 'any']),
    ];
  },

  mounts(nodeId, scenario) {
    const [primary, ...backups] = scenario.nodes;
    return [{ machine: registerMachine, config: { primary: primary!, backups } }];
  },

  workload(sim, scenario) {
    const prng = sim.random('workload');
    const everyMs = num(scenario, 'opEveryMs', 50);
    const anyReads = scenario.params['readFrom'] === 'any';
    let written = 0;
    for (let process = 0; process < num(scenario, 'clients', 3); process++) {
      const issue = (): void => {
        if (sim.phase !== 'safety') return;
        const kind = prng.pick(['read', 'write', 'cas'] as const);
        const node = kind === 'read' && anyReads ? prng.pick(sim.nodeIds) : sim.nodeIds[0]!;
        const value = `v${++written}`;
        const input =
          kind === 'write' ? { value } : kind === 'cas' ? { from: `v${prng.below(written)}`, to: value } : null;
        const op = sim.history.invoke(process, kind, input, node, sim.nowMs, 'r/0');
        const body =
          kind === 'read' ? { type: 'read' } : kind === 'write' ? { type: 'write', value } : { type: 'cas', ...input };
        sim.request(node, { machine: 'register', body }, 500, (response) => {
          const r = response as RegisterResponse | undefined;
          const outcome = r === undefined ? 'unknown' : r.ok ? 'ok' : 'fail';
          sim.history.complete(op, outcome, r?.ok ? (r.value ?? null) : undefined, sim.nowMs);
          sim.after(1 + prng.below(2 * everyMs), issue);
        });
      };
      sim.after(prng.below(everyMs + 1), issue);
    }
  },

  live(sim) {
    return sim.isUp(sim.nodeIds[0]!);
  },

  whyNotLive(sim) {
    // Liveness here is "the primary answers": with no failover, a primary that is down or paused is
    // the whole story; the copies say how far each backup got (what a failover would have to start from).
    const primary = sim.nodeIds[0]!;
    const out: string[] = [];
    if (!sim.isUp(primary) || sim.isPaused(primary))
      out.push(
        `the primary ${primary} is ${sim.isUp(primary) ? 'paused' : 'down'}: it is the only node that answers clients (this example has no failover)`,
      );
    const acked = sim.history.ops.filter((op) => op.outcome === 'ok' && (op.f === 'write' || op.f === 'cas'));
    const last = acked.at(-1);
    const copies = sim.nodeIds.map((id) => {
      const state = sim.runtime(id)?.stateOf<RegisterState>('register');
      const where = !sim.isUp(id) ? ', down' : sim.isPaused(id) ? ', paused' : '';
      // A crashed node has no state in memory (its copy waits on its disk).
      return state
        ? `${id} ${state.value ?? 'nil'} (version ${state.version}${where})`
        : `${id} ${where ? where.slice(2) : '(no state)'}`;
    });
    if (last) {
      const value = (last.input as { value?: string; to?: string }).value ?? (last.input as { to?: string }).to;
      out.push(`the last acknowledged write, ${value} (#${last.id} ${last.f}), at ${Math.round(last.completeMs!)} ms`);
    }
    out.push(`copies: ${copies.join(', ')}`);
    return out;
  },

  linearizable: (op) => op.key === 'r/0',

  checkEnd(sim) {
    const result = checkHistory(historyToLinOps(sim.history.ops), registerModel, { timeoutMs: 10_000 });
    return result.linearizable === false ? [`register history is not linearizable: ${result.explanation!.text}`] : [];
  },
};
