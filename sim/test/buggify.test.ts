/**
 * BUGGIFY (core/buggify.ts, sim/engine/buggify.ts): the core's rare paths fire only where the driver
 * enables them — never in a runtime built without a decider (production) and never in a scenario
 * without the `buggify` line — and a run with them is still a pure function of its seed.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buggify, buggifyPoints, type BuggifyPoint } from '../../core/buggify.js';
import { NodeRuntime } from '../../core/runtime.js';
import { Prng } from '../../core/prng.js';
import { emptyDurableState, type Machine } from '../../core/types.js';
import { enabledPoints, nodeBuggify, parseBuggify } from '../engine/buggify.js';
import { Simulation } from '../engine/simulation.js';
import { loadScenarioText } from '../run.js';
import { ScenarioError } from '../scenario.js';

const file = 'scenarios/raft/buggify-swarm.txt';
const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');

/** A machine that records, on every input, what `buggify` answered for each point. */
function probeMachine(seen: boolean[]): Machine<null> {
  return {
    name: 'probe',
    init: () => null,
    step: (_s, _input, ctx) => {
      for (const point of Object.keys(buggifyPoints) as BuggifyPoint[]) seen.push(buggify(ctx, point));
    },
  };
}

describe('BUGGIFY', () => {
  it('never fires in a runtime built without a decider (the real agent builds them so)', () => {
    const seen: boolean[] = [];
    const runtime = new NodeRuntime(
      'n1',
      [{ machine: probeMachine(seen), config: null }],
      emptyDurableState,
      new Prng([1, 2, 3, 5]),
    );
    for (let i = 0; i < 200; i++) runtime.step({ kind: 'timer', nowMs: i, timer: 'probe:t' });
    expect(seen.length).toBe(200 * Object.keys(buggifyPoints).length);
    expect(seen.every((b) => b === false)).toBe(true);
  });

  it('fires only enabled points, at about the fire rate, and the same way for the same seed', () => {
    const spec = { enablePercent: 100, firePercent: 20 };
    const enabled = new Set(enabledPoints(7, spec));
    expect(enabled.size).toBe(Object.keys(buggifyPoints).length);
    const draw = () => {
      const fired: string[] = [];
      const b = nodeBuggify(7, 'n1', 0, spec, enabled, (p) => fired.push(p));
      const answers = Array.from({ length: 2000 }, () => b('raft.append.short'));
      return { answers, fired };
    };
    const a = draw();
    expect(draw().answers).toEqual(a.answers);
    const rate = a.answers.filter(Boolean).length / a.answers.length;
    expect(rate).toBeGreaterThan(0.15);
    expect(rate).toBeLessThan(0.25);
    expect(a.fired.length).toBe(a.answers.filter(Boolean).length);
    const none = nodeBuggify(7, 'n1', 0, spec, new Set(), () => {});
    expect(Array.from({ length: 100 }, () => none('raft.append.short')).some(Boolean)).toBe(false);
  });

  it('enables a share of the points per seed, from the seed alone', () => {
    const spec = { enablePercent: 50, firePercent: 5 };
    const combos = new Set<string>();
    for (let seed = 1; seed <= 64; seed++) {
      expect(enabledPoints(seed, spec)).toEqual(enabledPoints(seed, spec));
      combos.add(enabledPoints(seed, spec).join(','));
    }
    expect(combos.size).toBeGreaterThan(4); // seeds explore different combinations
    expect(enabledPoints(3, { enablePercent: 0, firePercent: 5 })).toEqual([]);
  });

  it('parses the scenario line and names what is wrong', () => {
    const fail = (p: string): never => {
      throw new Error(p);
    };
    expect(parseBuggify([], fail)).toEqual({ enablePercent: 25, firePercent: 5 });
    expect(parseBuggify(['enable=100%', 'fire=1.5%'], fail)).toEqual({ enablePercent: 100, firePercent: 1.5 });
    expect(() => parseBuggify(['fire=120%'], fail)).toThrow(/not a percentage/);
    expect(() => parseBuggify(['often=5%'], fail)).toThrow(/unknown option 'often'/);
    expect(() => parseBuggify(['fire=5'], fail)).toThrow(/not a percentage/);
  });

  it('fires in a Raft swarm run, which stays deterministic and correct', async () => {
    const loaded = await loadScenarioText(text.replace(/^buggify .*$/m, 'buggify enable=100% fire=10%'), file);
    for (const seed of [1, 2]) {
      const a = new Simulation(loaded.scenario, loaded.harness, seed, { coverage: true }).run();
      const b = new Simulation(loaded.scenario, loaded.harness, seed, { coverage: true }).run();
      expect(b.trace).toBe(a.trace);
      expect(a.violations).toEqual([]);
      const fired = Object.keys(a.coverage ?? {}).filter((k) => k.startsWith('buggify '));
      expect(fired).toContain('buggify raft.append.short');
      expect(fired).toContain('buggify raft.snapshot.early');
    }
  });

  it('changes nothing in a scenario without the line', async () => {
    const plain = await loadScenarioText(text.replace(/^buggify .*$/m, ''), file);
    const off = await loadScenarioText(text.replace(/^buggify .*$/m, 'buggify enable=0%'), file);
    const a = new Simulation(plain.scenario, plain.harness, 4).run();
    const b = new Simulation(off.scenario, off.harness, 4).run();
    expect(b.trace).toBe(a.trace); // enabled or not, no point on: the very same run
    expect(Object.keys(a.coverage ?? {})).toEqual([]);
  });

  it('refuses a bad buggify line with its line number', async () => {
    await expect(loadScenarioText('protocol raft\nnodes 3\nbuggify fire=lots\n', 'x.txt')).rejects.toThrow(
      ScenarioError,
    );
    await expect(loadScenarioText('protocol raft\nnodes 3\nbuggify fire=lots\n', 'x.txt')).rejects.toThrow(
      /x\.txt:3: buggify/,
    );
  });
});
