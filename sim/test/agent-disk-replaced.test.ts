/**
 * scenarios/agent/disk-replaced.txt: a server's disk replaced under an agent workload (issue 13 §2). The
 * nemesis draws the disk among the servers only (sim/engine/nemesis.ts raftHostIds: a client agent keeps
 * no Raft state, and counting it let a run replace two of three servers' disks — a lost majority, which
 * no protocol survives: seed 7 had no leader). The leader replaces the stale entry of a server that came
 * back with a new raft id, and retries a change Raft refused as busy (core/agent/leader.ts).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { harness } from '../harnesses/agent.js';
import { parseScenario } from '../scenario.js';
import { Simulation } from '../engine/simulation.js';

const file = 'scenarios/agent/disk-replaced.txt';
const text = readFileSync(file, 'utf8');

function run(seed: number): { violations: string[]; lines: string[] } {
  const lines: string[] = [];
  const sim = new Simulation(parseScenario(text, file), harness, seed, { onLog: (line) => lines.push(line.text) });
  return { violations: sim.run().violations, lines };
}

describe('a server that lost its disk, at the agent level', () => {
  it('seeds 7, 8, 10: only servers lose disks, the stale entry is replaced (and a refused change retried), nothing lost', () => {
    let disks = 0;
    let replaced = 0;
    let refused = 0;
    for (const seed of [7, 8, 10]) {
      const { violations, lines } = run(seed);
      expect(violations, `seed ${seed}`).toEqual([]);
      for (const line of lines) {
        const disk = /^(n\d) disk replaced/.exec(line);
        if (disk) expect(['n1', 'n2', 'n3'], `seed ${seed}: ${line}`).toContain(disk[1]);
        if (disk) disks++;
      }
      replaced += lines.filter((l) => /rejoined with raft id/.test(l)).length;
      refused += lines.filter((l) => /raft membership change for \S+ failed: busy/.test(l)).length;
    }
    expect(disks).toBeGreaterThan(0);
    expect(replaced).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});
