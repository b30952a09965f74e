/**
 * The scenarios added to fill the library's gaps (clock skew and jumps, ring and bridge partitions,
 * rolling restart) pass, and meet every `expect` line — checked here directly against the harness
 * after the run, so the test does not depend on how the simulator's end-of-run checks are wired —
 * and their stories happen (the faults are in the log). Plus the runner's own helpers.
 */
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../run.js';
import { Simulation, type LogLine } from '../engine/simulation.js';
import { expectedOf, listScenarios, table } from './scenarios-run.js';

const gapFillers: Record<string, RegExp[]> = {
  'scenarios/raft/clock-skew-jumps.txt': [
    /n1 clock jumped \+5000 ms/,
    /n3 clock jumped -2000 ms/,
    /n2 clock drift set to -20000 ppm/,
  ],
  'scenarios/raft/ring-partition.txt': [/majority ring partition/, /network healed/],
  'scenarios/raft/bridge-partition.txt': [/bridge partition: n1 n2 \| n4 n5 with n3 seeing both/],
  'scenarios/raft/rolling-restart.txt': [/n1 crashed/, /n1 restarted/, /n3 crashed/, /n5 restarted/],
  'scenarios/swim/clock-skew-jumps.txt': [/n1 clock drift set to 50000 ppm/, /n5 clock jumped -10000 ms/],
  'scenarios/swim/force-leave-live.txt': [
    /n1 marked n2 leaving/,
    /n1 marked n2 alive at incarnation [1-9]/,
    /n1 marked n4 leaving/,
    /n1 marked n4 failed/,
  ],
};

describe('gap-filling scenarios', () => {
  for (const [file, story] of Object.entries(gapFillers)) {
    it(`${file} passes, meets its expectations and tells its story`, async () => {
      const loaded = await loadScenario(file);
      const lines: LogLine[] = [];
      const sim = new Simulation(loaded.scenario, loaded.harness, loaded.scenario.seed, {
        onLog: (l) => lines.push(l),
      });
      const result = sim.run();
      expect(result.violations).toEqual([]);
      expect(result.result).toBe('pass');
      for (const e of loaded.scenario.expectations) {
        if (e.name === 'liveness' || e.name === 'pass') continue;
        // Falsy is met (the simulator tests `if (problem)`; the swim harness answers '' when met).
        expect(loaded.harness.expect!(sim, e.name, e.args) || null, `expect ${e.name} ${e.args.join(' ')}`).toBeNull();
      }
      const text = lines.map((l) => l.text).join('\n');
      for (const pattern of story) expect(text).toMatch(pattern);
    });
  }
});

describe('scenario runner helpers', () => {
  it('lists the library (≥ 15 named scenarios), skipping planted demos unless asked', () => {
    const files = listScenarios('scenarios', false);
    expect(files.length).toBeGreaterThanOrEqual(15);
    expect(files.some((f) => f.startsWith('scenarios/planted/'))).toBe(false);
    expect(listScenarios('scenarios', true).some((f) => f.startsWith('scenarios/planted/'))).toBe(true);
  });

  it('expects planted variants to fail', () => {
    expect(expectedOf('scenarios/kv/planted-stale-leader-reads.txt', '')).toBe('fail');
    expect(expectedOf('scenarios/raft/x.txt', 'A deliberately BROKEN variant, expected to FAIL: …')).toBe('fail');
    expect(expectedOf('scenarios/raft/figure-8.txt', 'Figure 8')).toBe('pass');
  });

  it('draws a table with a mark on unmet expectations', () => {
    const row = {
      file: 'f',
      name: 'raft/x',
      protocol: 'raft',
      nodes: 3,
      seed: 1,
      expected: 'pass' as const,
      simulatedMs: 1000,
      wallMs: 10,
      events: 5,
      trace: 't',
      detail: '',
    };
    const text = table([
      { ...row, outcome: 'pass' },
      { ...row, name: 'raft/y', outcome: 'fail', detail: 'two leaders' },
    ]);
    expect(text.split('\n')).toHaveLength(4);
    expect(text).toMatch(/raft\/y\s+raft\s+3\s+1\s+FAIL ✗/);
  });
});
