/**
 * Raft Figure 8, replayed message by message with a hand-driven cluster (core/raft/testkit.ts), and
 * checked by the cluster checkers of sim/checkers/raft.ts.
 *
 * The schedule (paper §5.4.2, Figure 8 (a)–(e), with our indexes: 1 = bootstrap config, 2 = S1's no-op):
 *   (a) S1 leads term 2 and replicates X at index 3 to S2 only;
 *   (b) S1 crashes; S5 is elected for term 3 by S3, S4, S5 and writes its no-op at index 3, which
 *       reaches nobody;
 *   (c) S5 crashes; S1 restarts and is elected for term 4; it replicates X (term 2) to S3, so X is on
 *       a majority (S1, S2, S3) — but its own term-4 no-op has not reached a majority;
 *   (d) S1 crashes; S5 restarts and is elected for term 5 (its last term 3 beats the others' 2) and
 *       overwrites index 3 everywhere with its term-3 entry.
 * With the §5.4.2 rule (only current-term entries commit by counting replicas) S1 never commits X in
 * (c), and every checker stays silent. With the deliberately broken variant (`unsafeCommitPreviousTerm`)
 * S1 commits and applies X at index 3 in (c), and the checkers report State Machine Safety when S5
 * later commits and applies a different entry at index 3. This proves the checkers can fail.
 */
import { describe, expect, it } from 'vitest';
import { ManualCluster, type InFlight } from '../../core/raft/testkit.js';
import { RaftClusterChecker } from '../checkers/raft.js';

function figure8(unsafe: boolean): { checker: RaftClusterChecker; cluster: ManualCluster } {
  const checker = new RaftClusterChecker();
  const cluster = new ManualCluster(
    5,
    { appendEntriesMax: 1, inflightAppendsMax: 1, unsafeCommitPreviousTerm: unsafe },
    (id, effect, state, token) => {
      checker.onEffect(id, effect, state, token);
    },
    (id, state, token) => {
      checker.afterStep(id, state, token);
    },
  );
  const [s1, s2, s3, s4, s5] = cluster.ids as [string, string, string, string, string];
  const between = (group: string[]) => (m: InFlight) => group.includes(m.from) && group.includes(m.to);
  // An append that would make its receiver store an entry of `term` (a probe it rejects does not).
  const storesTerm = (term: number) => (m: InFlight) =>
    m.message.type === 'append' &&
    m.message.entries.some((e) => e.term === term) &&
    cluster.state(m.to).log.termAt(m.message.prevIndex) === m.message.prevTerm;

  // (a) S1 leads term 2; its no-op (index 2) and the entry recording the server ids (index 3, issue 13
  // §2) commit everywhere; X (index 4) reaches S2 only. (Before server ids, X was at index 3.)
  expect(cluster.elect(s1)).toBe(true);
  expect(cluster.state(s1).term).toBe(2);
  cluster.deliver();
  cluster.fire(s1, 'heartbeat');
  cluster.deliver();
  expect(cluster.state(s3).commitIndex).toBe(3);
  cluster.request(s1, { type: 'propose', command: 'X' });
  cluster.deliver(between([s1, s2]));
  cluster.drop();
  expect(cluster.state(s2).log.termAt(4)).toBe(2);
  expect(cluster.state(s1).commitIndex).toBe(3);

  // (b) S1 crashes; S5 wins term 3 with S3 and S4; its no-op at index 4 goes nowhere.
  cluster.crash(s1);
  expect(cluster.elect(s5, [s3, s4, s5])).toBe(true);
  expect(cluster.state(s5).term).toBe(3);
  expect(cluster.state(s5).log.termAt(4)).toBe(3);
  cluster.drop();

  // (c) S5 crashes; S1 restarts and wins term 4 (S2, S3); X (term 2) reaches S3, the term-4 no-op does not.
  cluster.crash(s5);
  cluster.restart(s1);
  expect(cluster.elect(s1, [s1, s2, s3])).toBe(true);
  expect(cluster.state(s1).term).toBe(4);
  // S2 may take everything (S1 + S2 are no majority for the no-op); S3 gets X but not the no-op; S4 nothing.
  const phaseC = (m: InFlight) => between([s1, s2])(m) || (between([s1, s3])(m) && !storesTerm(4)(m));
  cluster.drop((m) => m.to === s4);
  cluster.deliver(phaseC);
  cluster.fire(s1, 'heartbeat');
  cluster.deliver(phaseC);
  cluster.drop();
  expect(cluster.state(s3).log.termAt(4)).toBe(2);
  expect(cluster.state(s3).log.lastIndex).toBe(4);
  const committedX = cluster.state(s1).commitIndex >= 4;
  expect(committedX).toBe(unsafe); // §5.4.2: a correct leader does not commit X by counting replicas

  // (d) S1 crashes; S5 restarts and wins term 5 with S3 and S4, then overwrites index 4.
  cluster.crash(s1);
  cluster.restart(s5);
  expect(cluster.elect(s5, [s3, s4, s5])).toBe(true);
  cluster.deliver(between([s3, s4, s5]));
  cluster.fire(s5, 'heartbeat');
  cluster.deliver(between([s3, s4, s5]));
  expect(cluster.state(s5).commitIndex).toBeGreaterThanOrEqual(5);
  expect(cluster.state(s3).log.termAt(4)).toBe(3);
  void s4;
  return { checker, cluster };
}

describe('Raft Figure 8 (§5.4.2)', () => {
  it('the correct commit rule keeps every property through the Figure 8 schedule', () => {
    const { checker, cluster } = figure8(false);
    expect(checker.violations).toEqual([]);
    expect(cluster.invariantFailures).toEqual([]);
  });

  it('the broken variant (counting replicas of a previous-term entry) is caught by the checkers', () => {
    const { checker } = figure8(true);
    expect(checker.violations.length, checker.violations.join('\n')).toBeGreaterThan(0);
    expect(checker.violations.join('\n')).toMatch(/State Machine Safety/);
  });
});
