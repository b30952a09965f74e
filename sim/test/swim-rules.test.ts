/**
 * The SWIM harness's rules added in session 13 (issue 12, round E), each fed a crafted case it must
 * name and a correct one it must pass: the opt-in packet-size rule (`set checkPacketBytes true`),
 * Lifeguard's probe period and timeout scaled by the local health multiplier, and user events that
 * converge (`expect events-converged`).
 */
import { describe, expect, it } from 'vitest';
import type { SwimUpdate } from '../../core/swim/messages.js';
import { eventMissesOf, oversizeDatagram, probeScalingProblem } from '../harnesses/swim.js';

describe('the packet-size rule (sim/harnesses/swim.ts, `set checkPacketBytes true`)', () => {
  const alive = (i: number, keyChars: number): SwimUpdate => ({
    k: 'alive',
    id: `n${i}`,
    inc: 1,
    tags: Object.fromEntries(Array.from({ length: 5 }, (_, k) => [`${'k'.repeat(keyChars)}${k}`, 'value'])),
  });
  it('passes a gossip datagram that fits and names one that does not', () => {
    const small = { m: 'swim', p: { t: 'gossip', u: [alive(1, 10), alive(2, 10)] } };
    expect(oversizeDatagram('n1', small, 1400)).toBeNull();
    const large = { m: 'swim', p: { t: 'gossip', u: Array.from({ length: 8 }, (_, i) => alive(i, 40)) } };
    expect(oversizeDatagram('n1', large, 1400)).toMatch(
      /packet size: n1 sent a gossip datagram of \d+ bytes \(8 updates\), above packetBytesMax 1400/,
    );
  });
});

describe('the Lifeguard probe scaling rule (sim/harnesses/swim.ts)', () => {
  const config = { probeIntervalMs: 1000, probeTimeoutMs: 500 };
  it('holds for timers scaled by LHM + 1 and names one that is not', () => {
    expect(probeScalingProblem('n2', { timer: 'swim:probe', afterMs: 4000 }, config, 3)).toBeNull();
    expect(probeScalingProblem('n2', { timer: 'swim:pt:7', afterMs: 2000 }, config, 3)).toBeNull();
    expect(probeScalingProblem('n2', { timer: 'swim:probe', afterMs: 1000 }, config, 0)).toBeNull();
    expect(probeScalingProblem('n2', { timer: 'swim:sus:x:n3', afterMs: 5 }, config, 3)).toBeNull(); // not a probe timer
    expect(probeScalingProblem('n2', { timer: 'swim:probe', afterMs: 1003 }, config, 3)).toMatch(
      /lifeguard LHM: n2 \(health multiplier 3\) armed its probe period for 1003 ms; .* = 4000 ms/,
    );
    expect(probeScalingProblem('n2', { timer: 'swim:pt:7', afterMs: 500 }, config, 1)).toMatch(
      /armed its probe timeout for 500 ms; Lifeguard scales 500 ms by LHM \+ 1 = 1000 ms/,
    );
  });
});

describe('the events-converged rule (sim/harnesses/swim.ts, `expect events-converged`)', () => {
  it('names a member missing an event another holds, events of one name kept apart by id', () => {
    const a = { id: 'deploy-n1-5000', name: 'deploy' };
    const b = { id: 'deploy-n4-5000', name: 'deploy' };
    expect(
      eventMissesOf(
        new Map([
          ['n1', [a, b]],
          ['n2', [b, a]],
        ]),
      ),
    ).toEqual([]);
    expect(
      eventMissesOf(
        new Map([
          ['n1', [a, b]],
          ['n2', [a]],
        ]),
      ),
    ).toEqual(['events: n2 never received event deploy-n4-5000 (deploy), which n1 holds']);
  });
});
