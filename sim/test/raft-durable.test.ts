/**
 * Loading durable state in the simulator. A crash with bit rot in a stored log entry: when the rotten
 * entry is the tail it reads as a torn write and Raft accepts the shorter log; when it is before the
 * tail Raft refuses to start with an error naming the log position and index — the node stays down,
 * loudly, and the other two keep the cluster safe and live. Torn tails under load (tornWritePercent
 * 100) never lose an acknowledged write.
 */
import { describe, expect, it } from 'vitest';
import { harness } from '../harnesses/raft.js';
import { parseScenario } from '../scenario.js';
import { Simulation } from '../engine/simulation.js';

const text = `protocol raft
nodes 3
duration safety=4s liveness=4s
nemesis none
network latency=1ms..5ms
set clients 3
set opEveryMs 10
set snapshotThresholdEntries 100000
at 2s crash n1
at 2500ms restart n1
`;

describe('Raft durable state in the simulator', () => {
  it('refuses a corrupt log entry by name, accepts a rotten tail, and the cluster stays safe and live', () => {
    const scenario = parseScenario(text, 'raft-durable.txt');
    let refused = 0;
    let accepted = 0;
    for (let seed = 1; seed <= 8; seed++) {
      const sim = new Simulation(scenario, harness, seed, {
        knobs: { bitRotPercent: 100, tornWritePercent: 0 },
        logLimit: 0,
      });
      const result = sim.run();
      expect(result.result, result.violations.join('\n')).toBe('pass');
      const reason = sim.refusedReason('n1');
      if (reason === null) accepted++;
      else {
        refused++;
        expect(reason).toMatch(
          /^raft refused to start: log is corrupt: entry at position \d+ \(index \d+\): checksum mismatch/,
        );
      }
    }
    expect(refused).toBeGreaterThan(0);
    expect(refused + accepted).toBe(8);
  });

  it('torn tails under a heavy write load lose nothing that was acknowledged', () => {
    const torn = text
      .replace('set clients 3', 'set clients 20')
      .replace('set opEveryMs 10', 'set opEveryMs 1')
      .replace('at 2s crash n1\nat 2500ms restart n1', 'at 2s crash-leader\nat 2500ms restart-crashed');
    const scenario = parseScenario(torn, 'raft-torn.txt');
    let tornTails = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const sim = new Simulation(scenario, harness, seed, {
        knobs: { tornWritePercent: 100, syncUsMin: 5000, syncUsMax: 20_000 },
        onLog: (line) => void (line.text.includes('cut a torn tail off the log') && tornTails++),
      });
      const result = sim.run();
      expect(result.result, result.violations.join('\n')).toBe('pass');
    }
    expect(tornTails).toBeGreaterThan(0);
  });
});
