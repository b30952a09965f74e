/**
 * The swarm's Raft knobs stay within what a deployment can have (issue 12 §1: drawn "within what
 * production allows"): an election timeout range as wide as hashicorp/raft's and etcd's (max ≥ 2 × min),
 * and a heartbeat the core accepts (≤ min / 2).
 */
import { describe, expect, it } from 'vitest';
import { checkRaftConfig, makeRaftConfig } from '../../core/raft/config.js';
import { electionTimings } from '../harnesses/raft-knobs.js';

describe('the swarm election timings', () => {
  it('are ranges production uses: max ≥ 2 × min, heartbeat ≤ min / 2, accepted by checkRaftConfig', () => {
    expect(electionTimings.length).toBeGreaterThan(1);
    for (const [min, max, heartbeat] of electionTimings) {
      expect(max, `${min}..${max}`).toBeGreaterThanOrEqual(2 * min);
      expect(heartbeat, `${min}..${max} heartbeat ${heartbeat}`).toBeLessThanOrEqual(min / 2);
      const config = makeRaftConfig('sim', {
        createFsm: () => ({ apply: () => null, snapshot: () => null, restore: () => undefined }) as never,
        electionTimeoutMsMin: min,
        electionTimeoutMsMax: max,
        heartbeatIntervalMs: heartbeat,
      });
      expect(checkRaftConfig(config)).toEqual([]);
    }
  });
});
