/**
 * SWIM's coverage (issue 12: every exploration scenario reaches every transition of its protocol):
 * the swim harness counts member-view transitions, refutations and mechanisms from what it sees, and a
 * scenario's list leaves out what its knobs and timeline make unreachable. Proven on short scripted
 * runs whose story forces each counted transition, and on the lists of the three exploration scenarios.
 */
import { describe, expect, it } from 'vitest';
import { harness } from '../harnesses/swim.js';
import { swimTransitions } from '../harnesses/swim-coverage.js';
import { transitionsOf } from '../harness.js';
import { loadScenario } from '../run.js';
import { parseScenario } from '../scenario.js';
import { Simulation } from '../engine/simulation.js';

function covered(text: string, seed = 1): Record<string, number> {
  const result = new Simulation(parseScenario(text, 'coverage.txt'), harness, seed, {
    logLimit: 0,
    coverage: true,
  }).run();
  expect(result.violations).toEqual([]);
  return result.coverage ?? {};
}

const listOf = async (file: string) => {
  const { scenario } = await loadScenario(`scenarios/swim/${file}`);
  return transitionsOf(harness, scenario);
};

describe('SWIM transitions counted by the harness', () => {
  it('a crash: suspected, failed by its own suspicion and by gossip, confirmations; a restart: a new life', () => {
    const c = covered(
      'protocol swim\nnodes 6\nduration safety=60s liveness=30s\nat 5s crash n3\nat 40s restart n3\nexpect liveness\n',
    );
    for (const t of [
      'transition member alive→suspect',
      'transition member suspect→failed (own suspicion ran out)',
      'transition suspicion shortened by an independent confirmation (Lifeguard §4.2)',
      'transition member failed→alive (a new life, higher incarnation)',
      'transition push-pull exchange merged',
    ])
      expect(c[t], t).toBeGreaterThan(0);
  });

  it('a graceful leave, a join after it, and a reap once the tombstone runs out', () => {
    const c = covered(
      'protocol swim\nnodes 4\nset tombstoneTimeoutMs 5000\nset reapIntervalMs 1000\nduration safety=40s liveness=30s\nat 5s leave n4\nat 30s join n4 n1\nexpect liveness\n',
    );
    for (const t of [
      'transition self alive→leaving→left (graceful leave)',
      'transition member alive→left (leave intent)',
      'transition member reaped (tombstone or reconnect timeout)',
      'transition self left→alive (joined again)',
    ])
      expect(c[t], t).toBeGreaterThan(0);
  });

  it('a force-leave of a live member is refuted, one of a crashed member turns it left', () => {
    const c = covered(
      'protocol swim\nnodes 5\nduration safety=50s liveness=30s\nat 5s forceLeave n1 n2\nat 10s crash n4\nat 40s forceLeave n1 n4\n',
    );
    for (const t of [
      'transition member alive→leaving (force-leave of a live member)',
      'transition member leaving→alive (force-leave refuted)',
      'transition self refuted an accusation (incarnation bumped)',
      'transition member failed→left (force-leave or a late leave intent)',
    ])
      expect(c[t], t).toBeGreaterThan(0);
  });
});

describe("a scenario's list of SWIM transitions", () => {
  it('leaves out what the knobs and timeline make unreachable', async () => {
    const crash = await listOf('explore-crash.txt');
    const nemesis = await listOf('nemesis.txt');
    const forceLeave = await listOf('force-leave-nemesis.txt');
    // Reaping needs Serf's 24 h tombstone or 72 h reconnect timeout to run out: not in a 3-minute run.
    for (const list of [crash, nemesis, forceLeave])
      expect(list).not.toContain('transition member reaped (tombstone or reconnect timeout)');
    // The operator workload force-leaves failed members only; nemesis force-leaves nobody.
    expect(crash).toContain('transition member failed→left (force-leave or a late leave intent)');
    expect(crash).not.toContain('transition member alive→leaving (force-leave of a live member)');
    expect(nemesis).toContain('transition member failed→left (force-leave or a late leave intent)'); // a late leave intent
    expect(nemesis).not.toContain('transition member alive→leaving (force-leave of a live member)');
    expect(forceLeave).toContain('transition member alive→leaving (force-leave of a live member)');
    expect(forceLeave).not.toContain('transition self alive→leaving→left (graceful leave)');
    // Plain SWIM has none of Lifeguard's mechanisms; a pin (--knob lifeguard=false) is honoured.
    const { scenario } = await loadScenario('scenarios/swim/nemesis.txt');
    const plain = transitionsOf(harness, scenario, { lifeguard: 'false' });
    expect(plain.some((t) => /Lifeguard|buddy|nacked|confirmation/.test(t))).toBe(false);
    expect(plain).toContain('transition member alive→suspect');
    for (const list of [crash, nemesis, forceLeave, plain]) for (const t of list) expect(swimTransitions).toContain(t);
  });
});
