/**
 * The replicated KV store in the simulator (sim/harnesses/kv.ts): Raft with the store FSM on five
 * nodes, Jepsen-style register clients and lock clients, faults. What each test proves:
 *
 *  - Under the full swarm nemesis, every key's history is linearizable (Wing–Gong/Lowe checker with
 *    P-compositionality), replicas that applied the same index hold the same store, and the lock
 *    never passes between sessions unfreed or inside a lock-delay.
 *  - The checker can fail: the deliberately broken read path (Consul "default" reads answered from
 *    local state by any node that believes it leads, no ReadIndex, no check-quorum) is reported not
 *    linearizable on every one of the first 3 seeds of its scenario, while the same scenario with
 *    ReadIndex reads passes. A planted store bug (lock-delay forgotten) is caught by the lock checker.
 *  - A lock changes hands across a holder crash and a leader crash, only after the lock-delay.
 *  - Blocking queries parked in the nodes' registries are woken by applies and survive failovers
 *    without a missed wake-up (a planted bug, no release after applies, fails seed 1 of that scenario:
 *    checked by hand, see the report).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadScenarioText } from '../run.js';
import { Simulation, type RunResult } from '../engine/simulation.js';

interface Run {
  result: RunResult;
  harnessLines: string[];
}

async function run(file: string, seed: number, edit: (text: string) => string = (t) => t): Promise<Run> {
  const text = edit(readFileSync(file, 'utf8'));
  const loaded = await loadScenarioText(text, file);
  const harnessLines: string[] = [];
  const sim = new Simulation(loaded.scenario, loaded.harness, seed, {
    onLog: (line) => line.kind === 'harness' && harnessLines.push(line.text),
  });
  return { result: sim.run(), harnessLines };
}

const setParam = (name: string, value: string) => (text: string) =>
  text.replace(/^protocol kv$/m, `protocol kv\nset ${name} ${value}`);
const replaceParam = (name: string, value: string) => (text: string) =>
  text.replace(new RegExp(`^set ${name} .*$`, 'm'), `set ${name} ${value}`);

describe('kv store on Raft in the simulator', () => {
  it('Jepsen register + lock workload under the full nemesis: linearizable, replicas agree (seeds 1..2)', async () => {
    for (const seed of [1, 2]) {
      const { result, harnessLines } = await run('scenarios/kv/jepsen-cas.txt', seed);
      expect(result.violations, `seed ${seed}`).toEqual([]);
      const summary = harnessLines.find((l) => l.includes('register operations'));
      expect(summary, `seed ${seed}: the linearizability check ran`).toMatch(/linearizable true/);
      const ok = Number(/\((\d+) ok/.exec(summary!)![1]);
      expect(ok, `seed ${seed}: enough acknowledged operations to mean something`).toBeGreaterThan(500);
    }
  }, 120_000);

  it('a leader that sent TimeoutNow reads on no lease: seed 761 (lease reads drawn on, a transfer, the old leader cut off) stays linearizable', async () => {
    // Before the fix (core/raft/transfer.ts leaseVoidTerm) the old leader answered reads on its lease for
    // 0.5 s after its target won: the register history was not linearizable, and the lease rule of
    // sim/checkers/raft-rules.ts (rule 8) fails the first such read.
    const { result, harnessLines } = await run('scenarios/kv/jepsen-cas.txt', 761);
    expect(result.violations).toEqual([]);
    expect(harnessLines.find((l) => l.includes('register operations'))).toMatch(/linearizable true/);
  }, 120_000);

  it('catches the broken default-read variant on every one of seeds 1..3; ReadIndex reads pass the same timeline (seed 1)', async () => {
    for (const seed of [1, 2, 3]) {
      const broken = await run('scenarios/kv/planted-stale-leader-reads.txt', seed);
      expect(broken.result.result, `seed ${seed}`).toBe('fail');
      expect(broken.result.violations.join('\n')).toMatch(/not linearizable \(reads=default-unsafe\)/);
    }
    for (const seed of [1]) {
      const control = await run(
        'scenarios/kv/planted-stale-leader-reads.txt',
        seed,
        replaceParam('reads', 'consistent'),
      );
      expect(control.result.violations, `control seed ${seed}`).toEqual([]);
    }
  }, 120_000);

  it('catches the broken variant under the full swarm nemesis too (seed 2; 33 of seeds 1..40 in a sweep)', async () => {
    // Raft's knobs as the scenario fixed them before they were drawn per seed. Sweep: the leader
    // replicating once per turn (seed 1 no longer caught; before it, 23 of 1..40).
    const broken = await run('scenarios/kv/jepsen-cas.txt', 2, (t) =>
      setParam('checkQuorum', 'false')(setParam('reads', 'default-unsafe')(t.replace('set knobs swarm\n', ''))),
    );
    expect(broken.result.violations.join('\n')).toMatch(/not linearizable \(reads=default-unsafe\)/);
  }, 60_000);

  it('blocking queries across failovers: woken by applies, moved off dead nodes, no missed wake-up (seeds 1, 2, 476)', async () => {
    // Seed 476: a watcher moved to a node still behind its minIndex, whose answer then changed up to that
    // index — legitimately; the checker compared it with the lagging node's answer at parking time.
    for (const seed of [1, 2, 476]) {
      const { result, harnessLines } = await run('scenarios/kv/blocking-failover.txt', seed);
      expect(result.violations, `seed ${seed}`).toEqual([]);
      expect(harnessLines.some((l) => /watchers woken \d+ times/.test(l))).toBe(true);
    }
  }, 60_000);

  it('a lock changes hands across a holder crash and a leader crash, never inside the lock-delay (seeds 2..3)', async () => {
    // Seeds whose crash-holder actions find a holder (on seed 1 nobody holds the lock at 3 s or 9 s
    // since the leader replicates once per turn: a timing change, the run still passes).
    for (const seed of [2, 3]) {
      const { result, harnessLines } = await run('scenarios/kv/lock-failover.txt', seed);
      expect(result.violations, `seed ${seed}`).toEqual([]);
      expect(harnessLines.some((l) => /crash-holder: n\d/.test(l))).toBe(true);
    }
  }, 120_000);

  it('the lock checker catches a planted store bug that forgets lock-delays (seed 2)', async () => {
    const { result } = await run('scenarios/kv/lock-failover.txt', 2, setParam('plant', 'forget-lock-delay'));
    expect(result.result).toBe('fail');
    expect(result.violations.join('\n')).toMatch(/inside the 1500 ms lock-delay/);
  }, 60_000);
});
