/**
 * swim/slow-member-lifeguard's floor (`expect healthyFalsePositivesAtMost 0`) and the declarations it
 * does not count (issue 12 §5). A slow member whose suspicion expected no confirmation (it knew fewer
 * than suspicionMult members) runs the minimum timeout at once, and the suspect's refutation reaches it
 * only after its inbound delay: its `failed` mark is not counted. Seeds 765 and 3034 of 10,000 failed
 * because a member that took up that declaration — the other slow member, which had not processed the
 * refutation yet either — was counted: a `dead` message names its declarer (`from`), and the mark now
 * carries it (`swim.marked` … `by`), so the echo is attributed to the exempt declaration. Seed 2650, the
 * third failure, was a SWIM bug (swim-tcp-fallback.test.ts). That the floor still counts a slow member's
 * declarations is shown by scenarios/swim/slow-member-plain.txt (plain SWIM: at least one is counted).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Harness } from '../harness.js';
import { harness } from '../harnesses/swim.js';
import { parseScenario } from '../scenario.js';
import { Simulation } from '../engine/simulation.js';

const file = 'scenarios/swim/slow-member-lifeguard.txt';
const text = readFileSync(file, 'utf8');

interface Echo {
  readonly node: string;
  readonly about: string;
  readonly by: string;
}

function run(seed: number): { violations: string[]; echoes: Echo[] } {
  const echoes: Echo[] = [];
  const recording: Harness = {
    ...harness,
    onEffect(sim, nodeId, effect) {
      if (effect.kind === 'trace' && effect.event.type === 'swim.marked' && effect.event.status === 'failed') {
        const { node, about, by } = effect.event;
        if (by !== undefined && by !== node) echoes.push({ node, about, by });
      }
      harness.onEffect?.(sim, nodeId, effect);
    },
  };
  const result = new Simulation(parseScenario(text, file), recording, seed, { logLimit: 0 }).run();
  return { violations: result.violations, echoes };
}

describe('swim/slow-member-lifeguard: whose declaration a failed mark is', () => {
  it('seeds 765 and 3034: a slow member echoing the other slow member’s uncountable declaration is not counted', () => {
    for (const [seed, echo] of [
      [765, { node: 'n2', about: 'n8', by: 'n3' }],
      [3034, { node: 'n3', about: 'n7', by: 'n2' }],
    ] as const) {
      const outcome = run(seed);
      expect(outcome.echoes, `seed ${seed}`).toContainEqual(echo); // the mark names its declarer
      expect(outcome.violations, `seed ${seed}`).toEqual([]);
    }
  });

  it('seed 2650 passes since a probe period and its timeout are scaled with the same health score', () => {
    // It failed (slow n3 declared healthy n5 failed, confirmed by n2 and n7) while the next probe's period
    // was scaled before the previous probe raised the local health multiplier and its timeout after: the
    // timeout outlasted the period and the slow member suspected with no indirect probe (core/swim/probe.ts).
    expect(run(2650).violations).toEqual([]);
  });
});
