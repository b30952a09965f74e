/**
 * A liveness violation says what made no progress, in the protocol's words (Harness.whyNotLive):
 * proven on two runs known to fail liveness for different reasons — the planted broadcast that
 * acknowledges a value before it is durable (a crash loses it: the text names the value, the
 * operation and the node that acknowledged it), and disk-replaced-swarm seed 648 (issue 13: two of
 * three servers lost their data and wait to be added again, so no node can lead).
 */
import { describe, expect, it } from 'vitest';
import { Simulation } from '../engine/simulation.js';
import { loadScenario, runLoaded } from '../run.js';

describe('liveness violations explain themselves', () => {
  it('names the acknowledged value no node kept, its operation and the node that acknowledged it', async () => {
    const loaded = await loadScenario('scenarios/planted/broadcast-lost-ack.txt');
    const sim = new Simulation(loaded.scenario, loaded.harness, 8, {});
    const result = sim.run();
    const liveness = result.violations.find((v) => v.startsWith('liveness:'));
    expect(liveness).toBeDefined();
    expect(liveness!.split('\n')[0]).toMatch(
      /^liveness: no progress within 5000 ms after faults stopped: value \d+ \(#\d+ broadcast\), acknowledged by n\d at \d+ ms, is on no (live )?node/,
    );
    // The operation it names is in the history, acknowledged by that node.
    const [, id, node] = /\(#(\d+) broadcast\), acknowledged by (n\d)/.exec(liveness!)!;
    const op = sim.history.ops[Number(id)];
    expect(op?.outcome).toBe('ok');
    expect(op?.node).toBe(node);
  }, 120_000);

  it('says why no node leads: the servers that lost their data wait to be added again', async () => {
    const loaded = await loadScenario('scenarios/raft/disk-replaced-swarm.txt');
    const result = runLoaded(loaded, 648, {});
    const liveness = result.violations.find((v) => v.startsWith('liveness:'));
    // Seed 648 is an open liveness bug (issue 13); when it is fixed this run passes and there is
    // nothing to explain: the test then only checks that no liveness violation is left unexplained.
    if (liveness === undefined) return;
    expect(liveness).toContain('no node leads (a leader needs 2 of 3 voters)');
    expect(liveness).toContain('lost its data and waits to be added again');
    expect(liveness).toMatch(/of \d+ writes invoked after the faults stopped at \d+ ms, none was acknowledged/);
  }, 120_000);

  it('the register example names its primary when it is down, the last acknowledged write and every copy', async () => {
    // The example's liveness is "the primary answers" and the end of the safety phase restarts every
    // node, so no run of it fails liveness today: the sentences are checked on a run stopped while
    // the primary is down (and once it is back, they no longer blame it).
    const loaded = await loadScenario('scenarios/example/register.txt');
    const text = 'protocol register\nnodes 3\nseed 1\nset clients 3\nduration safety=2s liveness=1s\nat 1s crash n1\n';
    const { loadScenarioText } = await import('../run.js');
    const scenario = await loadScenarioText(text, 'register-primary-down.txt');
    const sim = new Simulation(scenario.scenario, loaded.harness, 1, {});
    sim.begin();
    sim.runUntil(1500);
    const why = loaded.harness.whyNotLive!(sim);
    expect(why[0]).toBe(
      'the primary n1 is down: it is the only node that answers clients (this example has no failover)',
    );
    expect(why.join('\n')).toMatch(/the last acknowledged write, v\d+ \(#\d+ (write|cas)\), at \d+ ms/);
    expect(why.at(-1)).toMatch(/^copies: n1 down, n2 v\d+ \(version \d+\), n3 v\d+ \(version \d+\)$/);
    sim.beginLiveness();
    sim.runUntil(2500);
    expect(loaded.harness.whyNotLive!(sim)[0]).not.toContain('is down');
  });
});
