/**
 * SWIM's properties over fault schedules drawn by fast-check (sim/checkers/swim-schedules.ts): each
 * run is a full simulation with the msgpackr codec, judged by the checkers in sim/checkers/swim.ts.
 * A failure prints fast-check's seed and path plus the schedule as scenario text (paste it into a
 * file and `conclave sim run` it). Inside `npm test` the run counts are small and the fast-check seed
 * is fixed (SWIM_PROP_SEED overrides it); `npm run explore:swim` runs thousands of seeds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbitraries, runSchedule, type PropertyName } from '../tools/swim-schedules.js';

const seed = Number(process.env.SWIM_PROP_SEED ?? 20261127);

function holds(property: PropertyName, numRuns: number): void {
  fc.assert(
    fc.property(arbitraries[property], (schedule) => {
      const result = runSchedule(schedule);
      if (result.violations.length > 0)
        throw new Error(
          `${result.violations.slice(0, 3).join('\n')}\n--- schedule (seed ${schedule.seed}) ---\n${schedule.text}`,
        );
      expect(result.events).toBeGreaterThan(0);
    }),
    { numRuns, seed, endOnFailure: true },
  );
}

describe('SWIM properties over fault schedules', () => {
  it(
    'completeness: every crash is marked failed by every live member within the derived bound (SWIM §5)',
    () => holds('completeness', 6),
    120_000,
  );
  it(
    'accuracy: one simulated hour at ≤ 10% loss, no crash, Lifeguard on: nobody is declared failed',
    () => holds('accuracy', 2),
    120_000,
  );
  it(
    'convergence: after any partition heals, every member sees every member alive',
    () => holds('convergence', 6),
    120_000,
  );
  it('leave: a member that left is marked left everywhere, never failed', () => holds('leave', 6), 120_000);
  it(
    'refutation: a member cut off for less than a suspicion timeout refutes in time (SWIM §4.2)',
    () => holds('refutation', 6),
    120_000,
  );
});
