/**
 * Property: under any fault schedule fast-check draws (partitions of every shape, one-way blocks,
 * crashes that lose unsynced writes and tear tails, pauses, clock jumps, loss, clogged links) on 3 and
 * 5 nodes, every Raft invariant holds after every step (sim/checkers/raft.ts and the node invariants),
 * every acknowledged write is applied exactly once at the index it was acknowledged with, every
 * linearizable read sees every write acknowledged before it began, and once the faults stop a leader
 * is elected and a new write commits within the liveness window (10+ election timeouts).
 *
 * All randomness comes from fast-check: the schedule, the simulator seed and the config switches. A
 * failure prints the scenario text and the seed, which replay it exactly (`conclave sim run FILE --seed N`).
 * Runs are short (1 s of faults) so that 1,000 schedules fit in `npm test`; the explorer runs long ones.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { harness } from '../harnesses/raft.js';
import { parseScenario } from '../scenario.js';
import { Simulation } from '../engine/simulation.js';

type Fault =
  | { kind: 'partition'; side: boolean[] }
  | { kind: 'crash'; node: number }
  | { kind: 'oneway'; a: number; b: number }
  | { kind: 'pause'; node: number }
  | { kind: 'loss'; percent: number }
  | { kind: 'clog'; a: number; b: number }
  | { kind: 'jump'; node: number; ms: number };

interface Step {
  atMs: number;
  durationMs: number;
  fault: Fault;
}

function faultArb(n: number): fc.Arbitrary<Fault> {
  const node = fc.integer({ min: 0, max: n - 1 });
  return fc.oneof(
    fc.record({
      kind: fc.constant('partition' as const),
      side: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
    }),
    fc.record({ kind: fc.constant('crash' as const), node }),
    fc.record({ kind: fc.constant('oneway' as const), a: node, b: node }),
    fc.record({ kind: fc.constant('pause' as const), node }),
    fc.record({ kind: fc.constant('loss' as const), percent: fc.integer({ min: 1, max: 60 }) }),
    fc.record({ kind: fc.constant('clog' as const), a: node, b: node }),
    fc.record({ kind: fc.constant('jump' as const), node, ms: fc.integer({ min: -800, max: 800 }) }),
  );
}

function scheduleArb(n: number, safetyMs: number): fc.Arbitrary<Step[]> {
  const step = fc.record({
    atMs: fc.integer({ min: 0, max: safetyMs - 50 }),
    durationMs: fc.integer({ min: 20, max: 900 }),
    fault: faultArb(n),
  });
  return fc.array(step, { minLength: 1, maxLength: 8 });
}

/** The scenario file text for a schedule: faults during the safety phase, each undone after its duration. */
export function scheduleText(
  n: number,
  steps: readonly Step[],
  options: {
    safetyMs: number;
    channel: string;
    preVote: boolean;
    snapshotThreshold: number;
    extra?: readonly string[];
  },
): string {
  const id = (i: number) => `n${i + 1}`;
  const lines = [
    `# fast-check fault schedule on ${n} nodes`,
    'protocol raft',
    `nodes ${n}`,
    `duration safety=${options.safetyMs}ms liveness=3s`,
    'nemesis none',
    'network latency=1ms..6ms',
    `set channel ${options.channel}`,
    `set preVote ${options.preVote}`,
    `set snapshotThresholdEntries ${options.snapshotThreshold}`,
    'set clients 3',
    'set opEveryMs 20',
    'set requestTimeoutMs 400',
    ...(options.extra ?? []),
  ];
  const end = (atMs: number) => Math.min(atMs, options.safetyMs - 1);
  for (const s of steps) {
    const f = s.fault;
    const at = s.atMs;
    const undo = end(at + s.durationMs);
    switch (f.kind) {
      case 'partition': {
        const left = f.side.flatMap((b, i) => (b ? [id(i)] : []));
        const right = f.side.flatMap((b, i) => (b ? [] : [id(i)]));
        if (left.length === 0 || right.length === 0) continue;
        lines.push(`at ${at}ms partition ${left.join(' ')} | ${right.join(' ')}`, `at ${undo}ms heal`);
        break;
      }
      case 'crash':
        lines.push(`at ${at}ms crash ${id(f.node)}`, `at ${undo}ms restart ${id(f.node)}`);
        break;
      case 'oneway':
        if (f.a === f.b) continue;
        lines.push(`at ${at}ms oneway ${id(f.a)} ${id(f.b)}`, `at ${undo}ms heal`);
        break;
      case 'pause':
        lines.push(`at ${at}ms pause ${id(f.node)}`, `at ${undo}ms resume ${id(f.node)}`);
        break;
      case 'loss':
        lines.push(
          `at ${at}ms network loss=${f.percent}% dup=5% reorder=20%`,
          `at ${undo}ms network loss=0% dup=0% reorder=0%`,
        );
        break;
      case 'clog':
        if (f.a === f.b) continue;
        lines.push(`at ${at}ms clog ${id(f.a)} ${id(f.b)} ${s.durationMs}ms`);
        break;
      case 'jump':
        lines.push(`at ${at}ms jump ${id(f.node)} ${f.ms}ms`);
        break;
    }
  }
  lines.push('expect liveness');
  return lines.join('\n') + '\n';
}

function runSchedule(n: number, runs: number, seedBase: number): { runs: number; acked: number } {
  const safetyMs = 1000;
  let total = 0;
  let acked = 0;
  fc.assert(
    fc.property(
      scheduleArb(n, safetyMs),
      fc.nat({ max: 1_000_000 }),
      fc.constantFrom('stream', 'datagram'),
      fc.boolean(),
      fc.constantFrom(8, 64),
      (steps, seed, channel, preVote, snapshotThreshold) => {
        const text = scheduleText(n, steps, { safetyMs, channel, preVote, snapshotThreshold });
        const scenario = parseScenario(text, `raft-prop-${n}.txt`);
        expect(harness.validate!(scenario)).toEqual([]);
        const sim = new Simulation(scenario, harness, seed, { codec: false });
        const result = sim.run();
        total++;
        acked += sim.history.ops.filter((op) => op.f === 'write' && op.outcome === 'ok').length;
        if (result.result !== 'pass') {
          throw new Error(
            `seed ${seed} failed: ${result.violations.slice(0, 3).join(' | ')}\n--- scenario (replay with --seed ${seed}) ---\n${text}`,
          );
        }
      },
    ),
    { numRuns: runs, seed: seedBase, endOnFailure: true },
  );
  return { runs: total, acked };
}

describe('Raft under fast-check fault schedules', () => {
  it('the properties can fail: votes without the §5.4.1 log check are caught within 150 schedules', () => {
    const details = fc.check(
      fc.property(scheduleArb(5, 1000), fc.nat({ max: 1_000_000 }), (steps, seed) => {
        const text = scheduleText(5, steps, {
          safetyMs: 1000,
          channel: 'stream',
          preVote: false,
          snapshotThreshold: 64,
          extra: ['set unsafeVoteWithoutLogCheck true'],
        });
        const result = new Simulation(parseScenario(text, 'raft-prop-broken.txt'), harness, seed, {
          codec: false,
        }).run();
        return result.result === 'pass';
      }),
      { numRuns: 150, seed: 808, endOnFailure: true },
    );
    expect(details.failed).toBe(true);
  }, 120_000);

  it('3 nodes: 600 schedules keep every invariant, exactly-once and liveness', () => {
    const { runs, acked } = runSchedule(3, 600, 3303);
    expect(runs).toBe(600);
    expect(acked).toBeGreaterThan(runs * 5); // the workload really ran
  }, 120_000);

  it('5 nodes: 400 schedules keep every invariant, exactly-once and liveness', () => {
    const { runs, acked } = runSchedule(5, 400, 5505);
    expect(runs).toBe(400);
    expect(acked).toBeGreaterThan(runs * 5);
  }, 120_000);
});
