/**
 * memberlist's TCP fallback probe (core/swim/probe.ts), explored by scenarios/swim/udp-loss-fallback.txt:
 * datagrams lost (20 %), one member's datagrams cut at a time, members crashed. With the fallback no live
 * member is declared failed; without it (`set tcpFallbackPing false`) the same seeds declare some. And
 * the bug that scenario found first: the next probe's period was scaled by the local health multiplier
 * before the previous probe changed it, and its direct timeout after, so the timeout could outlast the
 * period and the member suspected with no indirect probe and no fallback (seed 138: a 1 s period, a 2 s
 * timeout) — the same bug was behind swim/slow-member-lifeguard seed 2650.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Harness } from '../harness.js';
import { harness } from '../harnesses/swim.js';
import { parseScenario } from '../scenario.js';
import { Simulation } from '../engine/simulation.js';

const file = 'scenarios/swim/udp-loss-fallback.txt';
const text = readFileSync(file, 'utf8');
const withoutFallback = text.replace('set tcpFallbackPing true', 'set tcpFallbackPing false');

interface Outcome {
  readonly violations: string[];
  readonly saves: number;
  /** Probes whose direct timeout was set longer than the period set in the same step. */
  readonly overlong: string[];
}

function run(scenarioText: string, seed: number, scenarioFile = file): Outcome {
  let saves = 0;
  const overlong: string[] = [];
  let period: { node: string; atMs: number; afterMs: number } | null = null;
  const recording: Harness = {
    ...harness,
    onEffect(sim, nodeId, effect) {
      if (effect.kind === 'trace' && effect.event.type === 'swim.tcpFallback') saves++;
      if (effect.kind === 'setTimer' && effect.timer === 'swim:probe')
        period = { node: nodeId, atMs: sim.nowMs, afterMs: effect.afterMs };
      if (effect.kind === 'setTimer' && effect.timer.startsWith('swim:pt:')) {
        const p = period as { node: string; atMs: number; afterMs: number } | null;
        if (p !== null && p.node === nodeId && p.atMs === sim.nowMs && effect.afterMs >= p.afterMs)
          overlong.push(`${nodeId}@${sim.nowMs.toFixed(0)}: timeout ${effect.afterMs} ms, period ${p.afterMs} ms`);
      }
      harness.onEffect?.(sim, nodeId, effect);
    },
  };
  const result = new Simulation(parseScenario(scenarioText, scenarioFile), recording, seed, { logLimit: 0 }).run();
  return { violations: result.violations, saves, overlong };
}

describe('the TCP fallback probe', () => {
  it('seeds 1..30: no live member declared failed with it, and the fallback did the saving; without it some are', () => {
    let saves = 0;
    let failedWithout = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const on = run(text, seed);
      expect(on.violations, `seed ${seed}`).toEqual([]);
      saves += on.saves;
      if (run(withoutFallback, seed).violations.some((v) => v.includes('false positives'))) failedWithout++;
    }
    expect(saves).toBeGreaterThan(30); // "was able to connect … over TCP" (the warning memberlist logs)
    expect(failedWithout).toBeGreaterThanOrEqual(5);
  });

  it('a probe’s direct timeout never outlasts its period (seed 138; slow-member-lifeguard seed 2650)', () => {
    const fallback = run(text, 138);
    expect(fallback.overlong).toEqual([]);
    expect(fallback.violations).toEqual([]);
    const slowFile = 'scenarios/swim/slow-member-lifeguard.txt';
    const slow = run(readFileSync(slowFile, 'utf8'), 2650, slowFile);
    expect(slow.overlong).toEqual([]);
    expect(slow.violations).toEqual([]);
  });
});

describe('scenarios/swim/lossy-indirect.txt (the fallback off: ping-req is the only rescue)', () => {
  it('seeds 1..10 pass, and no probe was saved by the TCP fallback (it is off)', () => {
    const lossy = 'scenarios/swim/lossy-indirect.txt';
    for (let seed = 1; seed <= 10; seed++) {
      const outcome = run(readFileSync(lossy, 'utf8'), seed, lossy);
      expect(outcome.violations, `seed ${seed}`).toEqual([]);
      expect(outcome.saves, `seed ${seed}`).toBe(0);
    }
  });
});
