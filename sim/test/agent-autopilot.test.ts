import { describe, expect, it } from 'vitest';
import { checkAutopilotAnswer } from '../harnesses/agent-autopilot.js';

const server = (name: string, over: Record<string, unknown> = {}) => ({
  Name: name,
  SerfStatus: 'alive',
  Leader: false,
  LastContactMs: 20,
  LastTerm: 4,
  LastIndex: 100,
  Healthy: true,
  Voter: true,
  ...over,
});

const answer = (servers: unknown[], over: Record<string, unknown> = {}) => ({
  Healthy: true,
  FailureTolerance: 1,
  LastContactThresholdMs: 100,
  Servers: servers,
  ...over,
});

describe('autopilot answers judged by Consul’s health rules (sim/harnesses/agent-autopilot.ts)', () => {
  const leader = server('n1', { Leader: true, LastContactMs: 0 });

  it('accepts a healthy three-server cluster', () => {
    expect(checkAutopilotAnswer(answer([leader, server('n2'), server('n3')]), 50)).toBeNull();
  });

  it('accepts a follower out of contact marked unhealthy, with the tolerance that leaves', () => {
    const late = server('n3', { LastContactMs: 140, Healthy: false });
    const body = answer([leader, server('n2'), late], { Healthy: false, FailureTolerance: 0 });
    expect(checkAutopilotAnswer(body, 50)).toBeNull();
  });

  it('refuses a threshold of one heartbeat, a follower within it marked unhealthy, a wrong tolerance', () => {
    expect(
      checkAutopilotAnswer(answer([leader, server('n2'), server('n3')], { LastContactThresholdMs: 50 }), 50),
    ).toMatch(/not two heartbeats/);
    const flapped = server('n3', { LastContactMs: 60, Healthy: false });
    expect(
      checkAutopilotAnswer(answer([leader, server('n2'), flapped], { Healthy: false, FailureTolerance: 0 }), 50),
    ).toMatch(/n3 unhealthy/);
    expect(checkAutopilotAnswer(answer([leader, server('n2'), server('n3')], { FailureTolerance: 2 }), 50)).toMatch(
      /failure tolerance of 2, not 1/,
    );
  });

  it('refuses a trailing follower marked healthy and two leaders', () => {
    expect(checkAutopilotAnswer(answer([leader, server('n2'), server('n3', { LastIndex: 100 - 251 })]), 50)).toMatch(
      /n3 healthy/,
    );
    expect(checkAutopilotAnswer(answer([leader, { ...leader, Name: 'n2' }, server('n3')]), 50)).toMatch(
      /2 servers marked leader/,
    );
  });
});
