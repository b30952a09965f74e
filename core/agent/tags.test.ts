import { describe, expect, it } from 'vitest';
import { agentTimingLan, makeAgentConfig } from './api.js';
import { swimConfigFor } from './tags.js';
import { wanSwimConfigFor } from './mounts.js';

describe('swimConfigFor', () => {
  it('retries the start-up joins every retry_interval (the -retry-interval flag), not SWIM’s own default', () => {
    const config = makeAgentConfig({
      nodeName: 'c1',
      startJoin: ['s1:8301'],
      timing: { ...agentTimingLan, retryJoinIntervalMs: 1_000 },
    });
    const swim = swimConfigFor(config, 'lan');
    expect(swim.joinPeers).toEqual(['s1:8301']);
    expect(swim.joinRetryMs).toBe(1_000);
    expect(swimConfigFor(makeAgentConfig({ nodeName: 'c2' }), 'lan').joinRetryMs).toBe(30_000); // Consul's default
  });
});

describe('wanSwimConfigFor', () => {
  it('retries the start-up WAN joins every retry_interval_wan (-retry-interval-wan), Consul’s 30 s by default', () => {
    const config = makeAgentConfig({
      nodeName: 's1',
      server: true,
      startJoinWan: ['a1:8302'],
      timing: { ...agentTimingLan, retryJoinWanIntervalMs: 1_000 },
    });
    const wan = wanSwimConfigFor(config, { profile: 'lan' });
    expect(wan.joinPeers).toEqual(['a1:8302']);
    expect(wan.joinRetryMs).toBe(1_000);
    expect(wanSwimConfigFor(makeAgentConfig({ nodeName: 's2' }), { profile: 'lan' }).joinRetryMs).toBe(30_000);
  });
});
