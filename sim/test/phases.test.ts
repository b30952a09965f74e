/**
 * The run's phases and verdict: end-of-run checks and `expect` lines run on every run that did not
 * already fail — including runs that stopped early because the cluster recovered — and protocol
 * timeline actions that succeed are not mistaken for unknown ones. (Both were bugs, found by the
 * agent engineer; these tests keep them fixed.)
 */
import { describe, expect, it } from 'vitest';
import type { Harness } from '../harness.js';
import { parseScenario } from '../scenario.js';
import { Simulation } from '../engine/simulation.js';
import { tickerHarness } from './fixtures.js';

function harnessWith(extra: Partial<Harness>): Harness {
  return { ...tickerHarness, ...extra };
}

const scenario = (lines: string) =>
  parseScenario(`protocol ticker\nnodes 3\nduration safety=1s liveness=2s\n${lines}\n`, 't.txt');

describe('phases and verdicts', () => {
  it('runs checkEnd after a liveness phase that recovered early', () => {
    let liveCalls = 0;
    const h = harnessWith({ live: () => ++liveCalls > 2, checkEnd: () => ['the end check ran and objected'] });
    const r = new Simulation(scenario(''), h, 1).run();
    expect(r.recoveredMs).not.toBeNull();
    expect(r.result).toBe('fail');
    expect(r.violations).toEqual(['the end check ran and objected']);
  });

  it('evaluates expect lines through the harness, and fails unknown ones', () => {
    const seen: string[] = [];
    const h = harnessWith({
      live: () => true,
      expect: (_sim, name, args) => (seen.push(`${name} ${args.join(' ')}`), name === 'ok' ? null : 'not met'),
    });
    expect(new Simulation(scenario('expect ok 1 2'), h, 1).run().result).toBe('pass');
    expect(seen).toEqual(['ok 1 2']);
    const failed = new Simulation(scenario('expect nope'), h, 1).run();
    expect(failed.violations).toEqual(['expect nope (line 4): not met']);
    const noExpect = new Simulation(scenario('expect anything'), tickerHarness, 1).run();
    expect(noExpect.violations[0]).toContain("unknown expectation 'anything'");
  });

  it('treats a protocol action that returns null as done, and reports one that returns an error', () => {
    const acted: string[] = [];
    const h = harnessWith({
      act: (_sim, action, args) => (
        acted.push(`${action}:${args.join(',')}`),
        action === 'poke' ? null : `cannot ${action}`
      ),
    });
    const ok = new Simulation(scenario('at 100ms poke n1'), h, 1).run();
    expect(ok.violations).toEqual([]);
    expect(acted).toEqual(['poke:n1']);
    const bad = new Simulation(scenario('at 100ms shove n1'), h, 1).run();
    expect(bad.violations).toEqual(['t.txt:4: cannot shove']);
  });

  it('skips end checks when the run already failed (the state is mid-failure)', () => {
    let ended = false;
    const h = harnessWith({
      checkStep: (sim) => (sim.nowMs > 500 ? 'planted step violation' : null),
      checkEnd: () => ((ended = true), []),
    });
    const r = new Simulation(scenario(''), h, 1).run();
    expect(r.violations).toEqual(['planted step violation']);
    expect(ended).toBe(false);
    expect(r.simulatedMs).toBeLessThan(600);
  });
});
