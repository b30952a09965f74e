/**
 * Fault schedules for SWIM's properties, as fast-check arbitraries that produce scenario text (the
 * same format as scenarios/swim/*.txt, so any failing schedule pastes into a file and replays with
 * `conclave sim run`). Used by sim/test/swim.prop.test.ts (a few runs inside `npm test`) and by
 * sim/checkers/swim-explore.ts (thousands of seeds, for the report).
 *
 * Each property is run under the conditions it promises something for:
 *  - completeness: crashes (some restarting), loss ≤ 5%, duplication, reordering, short pauses;
 *  - accuracy: one simulated hour, no crashes, loss ≤ 10% (+ duplication and reordering), Lifeguard on;
 *  - convergence: partitions of every shape (two or three sides, one-way blocks) that heal;
 *  - leave: graceful leaves at random times, loss ≤ 10%, a crash elsewhere, no partition;
 *  - refutation: a member cut off for less than a suspicion timeout, repeatedly, loss ≤ 5%.
 */
import fc from 'fast-check';
import { harness } from '../harnesses/swim.js';
import type { Harness } from '../harness.js';
import { parseScenario } from '../scenario.js';
import { Simulation } from '../engine/simulation.js';

export interface Schedule {
  readonly property: PropertyName;
  readonly seed: number;
  readonly text: string;
}

export const propertyNames = ['completeness', 'accuracy', 'convergence', 'leave', 'refutation'] as const;
export type PropertyName = (typeof propertyNames)[number];

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${i + 1}`);
const pct = (x: number): string => `${x}%`;

function header(
  property: PropertyName,
  n: number,
  seed: number,
  network: string,
  safetyS: number,
  livenessS: number,
  extra: string[] = [],
): string[] {
  return [
    `# generated ${property} schedule`,
    'protocol swim',
    `nodes ${n}`,
    `seed ${seed}`,
    ...extra,
    `network latency=1ms..8ms ${network}`,
    `duration safety=${safetyS}s liveness=${livenessS}s`,
  ];
}

const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });

/** Crashes (and maybe restarts) with loss, duplication, reordering and short pauses elsewhere. */
export const completenessArb: fc.Arbitrary<Schedule> = fc
  .record({
    n: fc.integer({ min: 4, max: 8 }),
    seed: seedArb,
    loss: fc.integer({ min: 0, max: 5 }),
    dup: fc.integer({ min: 0, max: 5 }),
    reorder: fc.integer({ min: 0, max: 10 }),
    crashes: fc.array(
      fc.record({
        node: fc.nat(),
        atS: fc.integer({ min: 2, max: 20 }),
        restartAfterS: fc.option(fc.integer({ min: 5, max: 80 })),
      }),
      { minLength: 1, maxLength: 2 },
    ),
    pauses: fc.array(
      fc.record({ node: fc.nat(), atS: fc.integer({ min: 1, max: 60 }), ms: fc.integer({ min: 50, max: 800 }) }),
      { maxLength: 3 },
    ),
  })
  .map(({ n, seed, loss, dup, reorder, crashes, pauses }) => {
    const nodes = ids(n);
    const lines = header('completeness', n, seed, `loss=${pct(loss)} dup=${pct(dup)} reorder=${pct(reorder)}`, 100, 60);
    const crashed = new Set<string>();
    for (const c of crashes) {
      const node = nodes[c.node % n]!;
      if (crashed.has(node)) continue;
      crashed.add(node);
      lines.push(`at ${c.atS}s crash ${node}`);
      if (c.restartAfterS !== null) lines.push(`at ${c.atS + c.restartAfterS}s restart ${node}`);
    }
    for (const p of pauses) {
      const node = nodes[p.node % n]!;
      if (crashed.has(node)) continue;
      lines.push(
        `at ${p.atS}s pause ${node}`,
        `at ${p.atS}s resume ${node}`.replace(`${p.atS}s resume`, `${p.atS * 1000 + p.ms}ms resume`),
      );
    }
    lines.push('expect liveness');
    return { property: 'completeness' as const, seed, text: lines.join('\n') + '\n' };
  });

/** One simulated hour of a healthy cluster on a bad network: nobody may be declared failed. */
export const accuracyArb: fc.Arbitrary<Schedule> = fc
  .record({
    n: fc.integer({ min: 3, max: 6 }),
    seed: seedArb,
    loss: fc.integer({ min: 0, max: 10 }),
    dup: fc.integer({ min: 0, max: 5 }),
    reorder: fc.integer({ min: 0, max: 10 }),
  })
  .map(({ n, seed, loss, dup, reorder }) => {
    const lines = header('accuracy', n, seed, `loss=${pct(loss)} dup=${pct(dup)} reorder=${pct(reorder)}`, 3600, 10, [
      'set lifeguard true',
      'set falsePositivesMax 0',
    ]);
    return { property: 'accuracy' as const, seed, text: lines.join('\n') + '\n' };
  });

/** Partitions of any shape, for any length, then healed: every member must converge to all alive. */
export const convergenceArb: fc.Arbitrary<Schedule> = fc
  .record({
    n: fc.integer({ min: 4, max: 8 }),
    seed: seedArb,
    loss: fc.integer({ min: 0, max: 5 }),
    splits: fc.array(
      fc.record({
        kind: fc.constantFrom('two', 'three', 'oneway'),
        groupOf: fc.array(fc.nat(2), { minLength: 8, maxLength: 8 }),
        atS: fc.integer({ min: 2, max: 60 }),
        forS: fc.integer({ min: 1, max: 60 }),
      }),
      { minLength: 1, maxLength: 2 },
    ),
  })
  .map(({ n, seed, loss, splits }) => {
    const nodes = ids(n);
    const lines = header('convergence', n, seed, `loss=${pct(loss)}`, 130, 120);
    let endS = 0;
    for (const split of splits) {
      const atS = Math.max(split.atS, endS + 1);
      const sides = split.kind === 'two' ? 2 : 3;
      const groups: string[][] = Array.from({ length: sides }, () => []);
      nodes.forEach((node, i) => groups[split.groupOf[i]! % sides]!.push(node));
      const nonEmpty = groups.filter((g) => g.length > 0);
      if (nonEmpty.length < 2) nonEmpty.push(nonEmpty[0]!.splice(0, 1));
      if (split.kind === 'oneway') lines.push(`at ${atS}s oneway ${nonEmpty[0]![0]} ${nonEmpty[1]![0]}`);
      else lines.push(`at ${atS}s partition ${nonEmpty.map((g) => g.join(' ')).join(' | ')}`);
      endS = atS + split.forS;
      lines.push(`at ${endS}s heal`);
    }
    lines.push('expect liveness');
    return { property: 'convergence' as const, seed, text: lines.join('\n') + '\n' };
  });

/** Graceful leaves under loss (and a crash elsewhere): a member that left is never marked failed. */
export const leaveArb: fc.Arbitrary<Schedule> = fc
  .record({
    n: fc.integer({ min: 4, max: 8 }),
    seed: seedArb,
    loss: fc.integer({ min: 0, max: 10 }),
    leaves: fc.array(fc.record({ node: fc.nat(), atS: fc.integer({ min: 3, max: 30 }) }), {
      minLength: 1,
      maxLength: 2,
    }),
    crash: fc.option(fc.record({ node: fc.nat(), atS: fc.integer({ min: 3, max: 30 }) })),
  })
  .map(({ n, seed, loss, leaves, crash }) => {
    const nodes = ids(n);
    const lines = header('leave', n, seed, `loss=${pct(loss)}`, 80, 30);
    const used = new Set<string>();
    const left: string[] = [];
    for (const l of leaves) {
      const node = nodes[l.node % n]!;
      if (used.has(node)) continue;
      used.add(node);
      left.push(node);
      lines.push(`at ${l.atS}s leave ${node}`);
    }
    if (crash) {
      const node = nodes[crash.node % n]!;
      if (!used.has(node)) lines.push(`at ${crash.atS}s crash ${node}`);
    }
    for (const node of left) lines.push(`expect left ${node}`);
    return { property: 'leave' as const, seed, text: lines.join('\n') + '\n' };
  });

/** A member cut off (both ways) for under two seconds, a few times: it must refute every suspicion. */
export const refutationArb: fc.Arbitrary<Schedule> = fc
  .record({
    n: fc.integer({ min: 4, max: 8 }),
    seed: seedArb,
    loss: fc.integer({ min: 0, max: 5 }),
    cuts: fc.array(
      fc.record({ node: fc.nat(), gapS: fc.integer({ min: 10, max: 30 }), ms: fc.integer({ min: 300, max: 2000 }) }),
      { minLength: 1, maxLength: 3 },
    ),
  })
  .map(({ n, seed, loss, cuts }) => {
    const nodes = ids(n);
    const lines = header('refutation', n, seed, `loss=${pct(loss)}`, 100, 30, ['set falsePositivesMax 0']);
    let atMs = 0;
    for (const cut of cuts) {
      atMs += cut.gapS * 1000;
      const node = nodes[cut.node % n]!;
      lines.push(
        `at ${atMs}ms partition ${node} | ${nodes.filter((x) => x !== node).join(' ')}`,
        `at ${atMs + cut.ms}ms heal`,
      );
      atMs += cut.ms;
    }
    // No `expect converged` at the end of the safety phase: under loss a fresh, transient suspicion may
    // be in flight at any instant. Convergence is judged once faults stop (`expect liveness`).
    lines.push('expect liveness');
    return { property: 'refutation' as const, seed, text: lines.join('\n') + '\n' };
  });

export const arbitraries: Readonly<Record<PropertyName, fc.Arbitrary<Schedule>>> = {
  completeness: completenessArb,
  accuracy: accuracyArb,
  convergence: convergenceArb,
  leave: leaveArb,
  refutation: refutationArb,
};

export interface ScheduleResult {
  readonly violations: readonly string[];
  readonly simulatedMs: number;
  readonly events: number;
}

/** Runs one schedule in the simulator (msgpackr codec on) and returns its violations. */
export function runSchedule(schedule: Schedule, h: Harness = harness, codec = true): ScheduleResult {
  const scenario = parseScenario(schedule.text, `${schedule.property}-${schedule.seed}.txt`);
  const result = new Simulation(scenario, h, schedule.seed, { logLimit: 0, codec }).run();
  return { violations: result.violations, simulatedMs: result.simulatedMs, events: result.events };
}
