/**
 * The configuration: profiles carry memberlist's values (the list), the derived formulas give
 * the numbers the papers give, and a bad config is refused naming the field.
 */
import { describe, expect, it } from 'vitest';
import {
  checkConfig,
  lanConfig,
  makeConfig,
  pushPullIntervalScaledMs,
  retransmitLimit,
  simConfig,
  suspicionTimeoutMinMs,
  suspicionTimeoutMs,
  wanConfig,
} from './config.js';

describe('profiles', () => {
  it('LAN has memberlist DefaultLANConfig values', () => {
    expect(lanConfig).toMatchObject({
      probeIntervalMs: 1000,
      probeTimeoutMs: 500,
      indirectChecks: 3,
      suspicionMult: 4,
      suspicionMaxTimeoutMult: 6,
      gossipNodes: 3,
      gossipIntervalMs: 200,
      retransmitMult: 4,
      pushPullIntervalMs: 30_000,
      awarenessMaxMultiplier: 8,
      packetBytesMax: 1400,
    });
  });

  it('WAN has memberlist DefaultWANConfig values', () => {
    expect(wanConfig).toMatchObject({
      probeIntervalMs: 5000,
      probeTimeoutMs: 3000,
      suspicionMult: 6,
      gossipNodes: 4,
      gossipIntervalMs: 500,
      pushPullIntervalMs: 60_000,
    });
  });

  it('every profile is valid', () => {
    for (const c of [lanConfig, wanConfig, simConfig]) expect(checkConfig(c)).toEqual([]);
  });

  it('a bad config is refused, naming the field', () => {
    expect(checkConfig({ ...lanConfig, probeTimeoutMs: 1500 }).join()).toMatch(/probeTimeoutMs/);
    expect(checkConfig({ ...lanConfig, gossipNodes: 0 }).join()).toMatch(/gossipNodes/);
    expect(() => makeConfig('lan', { indirectChecks: 1.5 })).toThrow(/indirectChecks/);
  });
});

describe('derived values', () => {
  it('retransmit limit is RetransmitMult · ⌈log10(n+1)⌉ (SWIM §4.1)', () => {
    expect(retransmitLimit(4, 1)).toBe(4);
    expect(retransmitLimit(4, 9)).toBe(4);
    expect(retransmitLimit(4, 10)).toBe(8);
    expect(retransmitLimit(4, 1000)).toBe(16);
  });

  it('minimum suspicion timeout is SuspicionMult · max(1, log10 n) · ProbeInterval', () => {
    expect(suspicionTimeoutMinMs(lanConfig, 5)).toBe(4000);
    expect(suspicionTimeoutMinMs(lanConfig, 100)).toBe(8000);
    expect(suspicionTimeoutMinMs(lanConfig, 1000)).toBe(12000);
  });

  it('Lifeguard §4.2: timeout falls from max to min as confirmations reach k', () => {
    expect(suspicionTimeoutMs(4000, 24000, 0, 2)).toBe(24000);
    expect(suspicionTimeoutMs(4000, 24000, 2, 2)).toBe(4000);
    const one = suspicionTimeoutMs(4000, 24000, 1, 2);
    expect(one).toBeGreaterThan(4000);
    expect(one).toBeLessThan(24000);
    expect(suspicionTimeoutMs(4000, 24000, 9, 2)).toBe(4000);
    expect(suspicionTimeoutMs(4000, 24000, 0, 0)).toBe(4000);
  });

  it('push-pull period grows with log2 n above 32 members (memberlist pushPullScale)', () => {
    expect(pushPullIntervalScaledMs(30_000, 32)).toBe(30_000);
    expect(pushPullIntervalScaledMs(30_000, 33)).toBe(60_000);
    expect(pushPullIntervalScaledMs(30_000, 1000)).toBe(30_000 * 6);
  });
});
