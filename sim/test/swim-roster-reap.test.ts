import { describe, expect, it } from 'vitest';
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
});
