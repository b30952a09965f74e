/**
 * Vivaldi network coordinates (coordinate.ts): they converge to distances that predict round trips
 * on a synthetic network with known geometry, reject unusable samples, separate coincident nodes,
 * and filter a single outlier; and SWIM nodes on the test loop place themselves from their probes.
 */
import { describe, expect, it } from 'vitest';
import { Prng } from '../prng.js';
import {
  distanceSeconds,
  initVivaldi,
  isCoordinate,
  observe,
  originCoordinate,
  vivaldiDefaults,
  type VivaldiState,
} from './coordinate.js';
import { SwimLoop } from './testing.js';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

describe('Vivaldi', () => {
  it('converges: predicted distances match true round trips on a known 2-D network with access links', () => {
    const prng = new Prng(11);
    const n = 12;
    // True positions (ms) on a plane plus an access-link height per node; rtt = distance + heights.
    const pos = Array.from({ length: n }, () => [prng.below(80), prng.below(80)] as const);
    const height = Array.from({ length: n }, () => 0.5 + prng.below(20) / 10);
    const rttMs = (i: number, j: number) =>
      Math.hypot(pos[i]![0] - pos[j]![0], pos[i]![1] - pos[j]![1]) + height[i]! + height[j]!;
    const nodes: VivaldiState[] = Array.from({ length: n }, () => initVivaldi());
    for (let round = 0; round < 400; round++) {
      for (let i = 0; i < n; i++) {
        let j = prng.below(n - 1);
        if (j >= i) j++;
        // ±5% measurement noise.
        const noisy = rttMs(i, j) * (0.95 + prng.below(100) / 1000);
        observe(nodes[i]!, `n${j}`, nodes[j]!.coordinate, noisy / 1000, prng);
      }
    }
    const errors: number[] = [];
    for (let i = 0; i < n; i++)
      for (let j = i + 1; j < n; j++)
        errors.push(
          Math.abs(distanceSeconds(nodes[i]!.coordinate, nodes[j]!.coordinate) * 1000 - rttMs(i, j)) / rttMs(i, j),
        );
    expect(median(errors)).toBeLessThan(0.15);
    for (const node of nodes) {
      expect(isCoordinate(node.coordinate)).toBe(true);
      expect(node.coordinate.Error).toBeLessThan(vivaldiDefaults.errorMax);
    }
  });

  it('rejects unusable samples and changes nothing', () => {
    const s = initVivaldi();
    const prng = new Prng(1);
    const peer = originCoordinate();
    for (const [coord, rtt] of [
      [peer, -0.001],
      [peer, 11],
      [peer, Number.NaN],
      [{ ...peer, Vec: [1, 2] }, 0.01],
      [{ ...peer, Error: Number.POSITIVE_INFINITY }, 0.01],
      [{ ...peer, Height: -1 }, 0.01],
      ['garbage', 0.01],
      [null, 0.01],
    ] as [unknown, number][]) {
      expect(observe(s, 'p', coord, rtt, prng)).toBe(false);
    }
    expect(s.coordinate).toEqual(originCoordinate());
    expect(s.updates).toBe(0);
  });

  it('two nodes at the origin push apart (a random direction), to about their round trip', () => {
    const a = initVivaldi();
    const b = initVivaldi();
    const prng = new Prng(5);
    for (let i = 0; i < 200; i++) {
      observe(a, 'b', b.coordinate, 0.01, prng);
      observe(b, 'a', a.coordinate, 0.01, prng);
    }
    expect(distanceSeconds(a.coordinate, b.coordinate)).toBeGreaterThan(0.008);
    expect(distanceSeconds(a.coordinate, b.coordinate)).toBeLessThan(0.012);
  });

  it('the median filter ignores one outlier among three samples', () => {
    const a = initVivaldi();
    const b = initVivaldi();
    const prng = new Prng(9);
    for (let i = 0; i < 100; i++) observe(a, 'b', b.coordinate, 0.01, prng);
    const before = distanceSeconds(a.coordinate, b.coordinate);
    observe(a, 'b', b.coordinate, 5, prng); // one 5-second hiccup
    expect(Math.abs(distanceSeconds(a.coordinate, b.coordinate) - before)).toBeLessThan(0.002);
  });
});

describe('SWIM places its members from probe round trips', () => {
  it('after a minute on a 1–5 ms network, coordinates predict the ~2–10 ms round trips', () => {
    const ids = Array.from({ length: 6 }, (_, i) => `n${i + 1}`);
    const loop = new SwimLoop(3, (id) => ({ profile: 'sim', joinPeers: id === 'n1' ? [] : ['n1'] }));
    for (const id of ids) loop.add(id, 0);
    loop.runUntil(60_000);
    expect(loop.invariantFailures).toEqual([]);
    for (const a of ids) {
      const s = loop.state(a).vivaldi;
      expect(s.updates).toBeGreaterThan(20);
      expect(s.coordinate.Error).toBeLessThan(vivaldiDefaults.errorMax);
      for (const b of ids) {
        if (a === b) continue;
        const ms = distanceSeconds(s.coordinate, loop.state(b).vivaldi.coordinate) * 1000;
        expect(ms).toBeGreaterThan(1);
        expect(ms).toBeLessThan(15);
      }
    }
  });
});
