import { describe, expect, it } from 'vitest';
import type { Coordinate } from '../../core/swim/coordinate.js';
import { coordinateErrors, trueRttMs } from '../harnesses/swim-coordinates.js';
import { loadScenario, runLoaded } from '../run.js';

/** A coordinate on the first axis at `xMs`, with the smallest height and no adjustment. */
const at = (xMs: number): Coordinate => ({
  Vec: [xMs / 1000, 0, 0, 0, 0, 0, 0, 0],
  Error: 0.1,
  Adjustment: 0,
  Height: 0,
});

/**
 * `expect coordinates` (sim/harnesses/swim-coordinates.ts): the true round trip from the network knobs, and the
 * median error of crafted coordinates — exact ones, and ones where a node sits far from where it should.
 */
describe('expect coordinates', () => {
  it('takes the true round trip from the one-way latency: 2·min plus the Gamma(2) median of the tail', () => {
    expect(trueRttMs(1, 1)).toBeCloseTo(3.678, 3);
    expect(trueRttMs(20, 2)).toBeCloseTo(43.357, 3);
  });

  it('is 0% off for coordinates that place every pair at its true round trip', () => {
    // Three nodes on a line 10 ms apart: truth by index difference.
    const coordinates = new Map([
      ['n1', at(0)],
      ['n2', at(10)],
      ['n3', at(20)],
    ]);
    const truth = (a: string, b: string) => 10 * Math.abs(Number(a.slice(1)) - Number(b.slice(1)));
    expect(coordinateErrors(coordinates, truth).medianPercent).toBeCloseTo(0, 6);
  });

  it('reports the median relative error and names the worst pairs when nodes are misplaced', () => {
    // Every pair's truth is 10 ms; n1–n2 are 10 apart, n3 sits 30 and 40 ms away: errors 0%, 200%, 300%.
    const coordinates = new Map([
      ['n1', at(0)],
      ['n2', at(10)],
      ['n3', at(-30)],
    ]);
    const verdict = coordinateErrors(coordinates, () => 10);
    expect(verdict.medianPercent).toBeCloseTo(200, 6);
    expect(verdict.worst[0]).toContain('n2–n3 40.00 ms for 10.00 (300% off)');
  });

  it('scenarios/swim/coordinates.txt passes at its seed', async () => {
    const loaded = await loadScenario('scenarios/swim/coordinates.txt');
    expect(runLoaded(loaded, 1, { codec: true }).result).toBe('pass');
  });
});
