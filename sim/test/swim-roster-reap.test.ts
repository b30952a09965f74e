import { describe, expect, it } from 'vitest';
import { checkLeftNeverFailed, type Life, type Mark, type Truth } from '../checkers/swim.js';
import { loadScenario, loadScenarioText, runLoaded } from '../run.js';

/** The first draft of scenarios/swim/roster-reap.txt: n6 leaves at 20 s and never rejoins on purpose. */
const draft = `protocol swim
nodes 6
seed 1
set bootstrap roster
set reconnectTimeoutMs 8000
set tombstoneTimeoutMs 8000
network latency=1ms..8ms
duration safety=60s liveness=120s
nemesis swarm kinds=crash,clock every=10s
at 20s leave n6
expect liveness
`;

/**
 * Roster-booted runs that reap (issue 12, D12): the shipped scenario passes at its seed; and on the draft, a
 * member that crashed during its leave and was restarted by the nemesis rejoins by itself, so the harness no
 * longer holds it departed (seed 5 failed convergence, "n1 sees n6 (down or left) as alive", before
 * onNodeStart cleared `departed`).
 */
describe('swim roster runs that reap', () => {
  it('a left member restarted by the nemesis is a member again (draft seed 5)', async () => {
    const loaded = await loadScenarioText(draft, 'roster-reap-draft.txt');
    expect(runLoaded(loaded, 5, { codec: true }).result).toBe('pass');
  });

  it('scenarios/swim/roster-reap.txt passes at its seed', async () => {
    const loaded = await loadScenario('scenarios/swim/roster-reap.txt');
    expect(runLoaded(loaded, 1, { codec: true }).result).toBe('pass');
  });

  it('seeds 654 and 1060: a leaver failed again after its tombstone may be reaped is outside the leave rule', async () => {
    const loaded = await loadScenario('scenarios/swim/roster-reap.txt');
    for (const seed of [654, 1060])
      expect(runLoaded(loaded, seed, { codec: true }).result, `seed ${seed}`).toBe('pass');
    // The rule itself: n6 leaves at 20 s; n5 marks it failed at 38.5 s. Judged with Serf's 24 h tombstone, a
    // violation; with 8 s tombstones and a 2 s reap interval, the leave may be forgotten from 30 s on.
    const life = (leaving: Life['leaving']): Life => ({ down: [], paused: [], leaving, silent: [] });
    const truth: Truth = {
      lives: new Map([
        ['n6', life([{ fromMs: 20_000, toMs: 40_000 }])],
        ['n5', life([])],
      ]),
      split: [],
      lossy: [],
      endMs: 60_000,
    };
    const marks: Mark[] = [
      { atMs: 20_300, observer: 'n5', about: 'n6', status: 'left', incarnation: 0 },
      { atMs: 38_542, observer: 'n5', about: 'n6', status: 'failed', incarnation: 0 },
    ];
    expect(checkLeftNeverFailed(marks, truth)).toHaveLength(1);
    expect(checkLeftNeverFailed(marks, truth, 10_000)).toEqual([]);
    expect(checkLeftNeverFailed(marks, truth, 20_000)).toHaveLength(1);
  });
});
