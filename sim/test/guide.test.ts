/**
 * Coverage-guided exploration (sim/tools/guide.ts): what the guide breeds, that it never pins what
 * the harness says not to or what the harness refuses, that a guided exploration on one job is a
 * function of its seed range, and that a guided failure replays from its seed and pins alone.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Guide, bucketOf } from '../tools/guide.js';
import { explore, type SeedResult } from '../tools/explore.js';
import { addKnobPin, loadScenario, runLoaded } from '../run.js';

const root = join(import.meta.dirname, '..', '..');
const result = (seed: number, coverage: Record<string, number>, knobs: Record<string, string>): SeedResult => ({
  seed,
  trace: '0',
  result: 'pass',
  simulatedMs: 0,
  wallMs: 0,
  events: 0,
  messages: 0,
  violations: [],
  coverage,
  knobs,
});

describe('the guide', () => {
  it('buckets hit counts as AFL does', () => {
    expect([1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 127, 128, 9999].map(bucketOf)).toEqual([
      '1',
      '2',
      '3',
      '4-7',
      '4-7',
      '8-15',
      '8-15',
      '16-31',
      '16-31',
      '32-127',
      '32-127',
      '128+',
      '128+',
    ]);
  });

  it('keeps seeds that reach a new feature, and breeds about half the later seeds from them', () => {
    const g = new Guide({ seed: 1, skip: ['leaseReads'], valid: () => true, active: true, curveEvery: 2 });
    expect(g.pinsFor(1)).toBeNull(); // nothing learnt yet
    g.observe(result(1, { a: 1 }, { x: '1', y: '1', leaseReads: 'true' }));
    g.observe(result(2, { a: 1 }, { x: '2', y: '2', leaseReads: 'false' })); // nothing new
    g.observe(result(3, { a: 5 }, { x: '3', y: '3', leaseReads: 'true' })); // a new hit-count bucket
    expect(g.corpusSize).toBe(2);
    const bred = Array.from({ length: 400 }, (_, i) => g.pinsFor(10 + i));
    const pinned = bred.filter((p) => p !== null);
    expect(pinned.length).toBeGreaterThan(150);
    expect(pinned.length).toBeLessThan(250);
    for (const p of pinned) {
      expect(Object.keys(p!).sort()).toEqual(['x', 'y']); // every knob but the skipped one
      expect(['1', '3']).toContain(p!.x); // values only from the corpus (seed 2 found nothing)
    }
    expect(g.finalCurve()).toEqual([
      { seeds: 2, items: 1, features: 1 },
      { seeds: 3, items: 1, features: 2 },
    ]);
  });

  it('falls back to one parent when a cross is refused, and to no pins when that is too', () => {
    const valid = (p: Readonly<Record<string, string>>) => p.x === p.y; // only matching pairs stand
    const g = new Guide({ seed: 2, skip: [], valid, active: true });
    g.observe(result(1, { a: 1 }, { x: '1', y: '1' }));
    g.observe(result(2, { b: 1 }, { x: '2', y: '2' }));
    for (let i = 0; i < 200; i++) {
      const p = g.pinsFor(100 + i);
      if (p) expect(p.x).toBe(p.y);
    }
    const never = new Guide({ seed: 3, skip: [], valid: () => false, active: true });
    never.observe(result(1, { a: 1 }, { x: '1' }));
    expect(Array.from({ length: 50 }, (_, i) => never.pinsFor(i)).every((p) => p === null)).toBe(true);
  });

  it('crosses a group of knobs whole from one parent', () => {
    // Raft's timeout range: a minimum from one seed and a maximum from another once left no randomness
    // (300..300 ms) and elections livelocked — six false liveness failures in 2,000 guided seeds.
    const g = new Guide({ seed: 4, skip: [], groups: [['min', 'max']], valid: () => true, active: true });
    g.observe(result(1, { a: 1 }, { min: '150', max: '300', z: '1' }));
    g.observe(result(2, { b: 1 }, { min: '300', max: '600', z: '2' }));
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const p = g.pinsFor(10 + i);
      if (!p) continue;
      expect([`150..300`, `300..600`]).toContain(`${p.min}..${p.max}`);
      seen.add(`${p.min}..${p.max} z=${p.z}`);
    }
    expect(seen.size).toBe(4); // the group and the other knob still cross independently
  });

  it('only measures when inactive', () => {
    const g = new Guide({ seed: 1, skip: [], valid: () => true, active: false });
    g.observe(result(1, { a: 1 }, { x: '1' }));
    expect(Array.from({ length: 50 }, (_, i) => g.pinsFor(i)).every((p) => p === null)).toBe(true);
  });
});

describe('sim explore --guided', () => {
  const file = join(root, 'scenarios/planted/broadcast-lost-ack.txt');
  const guided = async () => {
    const loaded = await loadScenario(file);
    return explore({
      scenarioPath: file,
      range: { from: 1, to: 24 },
      jobs: 1,
      runner: { replayDir: null, coverage: true },
      guide: {
        seed: 1,
        skip: loaded.harness.guideSkips ?? [],
        active: true,
        valid: (p) => Object.entries(p).every(([k, v]) => addKnobPin(loaded, {}, `${k}=${v}`) === null),
      },
    });
  };

  it('is a function of its seed range on one job, and its failures replay from seed and pins', async () => {
    const a = await guided();
    const b = await guided();
    expect(b.failingSeeds).toEqual(a.failingSeeds);
    expect(b.coverageCurve).toEqual(a.coverageCurve);
    expect(a.guided!.bred).toBeGreaterThan(0);
    expect(a.failed).toBeGreaterThan(0); // the planted bug
    const loaded = await loadScenario(file);
    const withPins = a.failures.filter((f) => f.pins);
    expect(withPins.length).toBeGreaterThan(0); // some failures ran bred knobs
    for (const f of withPins.slice(0, 3)) {
      const again = runLoaded(loaded, f.seed, { pins: f.pins! });
      expect(again.trace).toBe(f.trace);
      expect(again.result).toBe('fail');
    }
  });
});

describe('--knob pins and the knobs drawn around them', () => {
  it('draws no lease reads when checkQuorum is pinned off (it used to crash on an assertion)', async () => {
    const loaded = await loadScenario(join(root, 'scenarios/raft/explore-swarm-3.txt'));
    for (let seed = 1; seed <= 8; seed++) {
      const r = runLoaded(loaded, seed, { pins: { checkQuorum: 'false' } });
      expect(r.knobs.protocol.checkQuorum).toBe('false');
      expect(r.knobs.protocol.leaseReads).toBe('false');
    }
  });
});
