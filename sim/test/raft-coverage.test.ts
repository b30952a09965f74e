/**
 * Raft's coverage lists per scenario (issue 12: every exploration scenario reaches every transition of
 * its protocol): `sim explore --coverage` and `--require-coverage` ask each scenario for the
 * transitions its knobs, workload and timeline make reachable (raft-coverage.ts raftTransitionsFor).
 * A knob-swarm scenario must reach all of them; a scenario that pins pre-vote on, or has no membership
 * changes, is not asked for what it cannot do.
 */
import { describe, expect, it } from 'vitest';
import { harness as kvHarness } from '../harnesses/kv.js';
import { harness as raftHarness } from '../harnesses/raft.js';
import { raftMembershipTransitions, raftTransitions } from '../harnesses/raft-coverage.js';
import { storeTransitions } from '../harnesses/store-coverage.js';
import { transitionsOf } from '../harness.js';
import { loadScenario } from '../run.js';

const raftList = async (file: string, pins: Record<string, string> = {}) => {
  const { scenario } = await loadScenario(`scenarios/raft/${file}`);
  return transitionsOf(raftHarness, scenario, pins);
};

const precandidate = raftTransitions.filter((t) => t.includes('precandidate'));
const candidateAgain = 'transition role candidate→candidate';
const followerCandidate = 'transition role follower→candidate';
const timeoutNow = 'transition election by TimeoutNow (leadership transfer)';
const stepDown = 'transition check-quorum step-down';
const leaderRemoved = 'transition membership: leader removed itself';

describe('Raft transitions a scenario can reach', () => {
  it('a knob-swarm scenario is asked for every transition, membership included', async () => {
    expect(await raftList('explore-swarm-3.txt')).toEqual([...raftTransitions, ...raftMembershipTransitions]);
    expect(await raftList('explore-membership.txt')).toEqual([...raftTransitions, ...raftMembershipTransitions]);
  });

  it('pre-vote pinned on: no candidate times out into a new candidacy; a follower campaigns only on TimeoutNow', async () => {
    const pinned = await raftList('explore-swarm-3.txt', { preVote: 'true' });
    expect(pinned).not.toContain(candidateAgain);
    expect(pinned).toContain(followerCandidate); // the drawn membership workload removes leaders: TimeoutNow
    const still = await raftList('explore-swarm-3.txt', { preVote: 'true', membershipEveryMs: '0' });
    expect(still).not.toContain(followerCandidate);
    expect(still).not.toContain(timeoutNow);
    for (const t of raftMembershipTransitions) expect(still).not.toContain(t);
    for (const t of precandidate) expect(still).toContain(t);
  });

  it('pre-vote pinned off: nothing is ever a precandidate', async () => {
    const off = await raftList('explore-swarm-3.txt', { preVote: 'false' });
    for (const t of precandidate) expect(off).not.toContain(t);
    expect(off).toContain(candidateAgain);
    expect(off).toContain(followerCandidate);
  });

  it('a scripted scenario with the profile knobs: transfers and membership only where its timeline has them', async () => {
    const figure8 = await raftList('figure-8.txt');
    for (const t of [candidateAgain, followerCandidate, timeoutNow, ...raftMembershipTransitions])
      expect(figure8).not.toContain(t);
    expect(figure8).toContain(stepDown);
    const transfer = await raftList('leadership-transfer.txt');
    expect(transfer).toContain(timeoutNow);
    expect(transfer).toContain(followerCandidate);
    const membership = await raftList('membership-during-partition.txt');
    expect(membership).toContain('transition membership: learner added');
  });

  it('a replaced disk brings the operator’s remove-and-add-back, never a leader removing itself', async () => {
    const { scenario } = await loadScenario('scenarios/raft/disk-replaced-swarm.txt');
    const list = transitionsOf(raftHarness, { ...scenario, params: { ...scenario.params, knobs: 'fixed' } });
    expect(list).toContain('transition membership: learner added');
    expect(list).toContain('transition membership: server removed');
    expect(list).not.toContain(leaderRemoved);
  });

  it('kv: Raft without membership, TimeoutNow from the transfer operator, check-quorum as pinned, and the store', async () => {
    const { scenario: cas } = await loadScenario('scenarios/kv/jepsen-cas.txt');
    expect(transitionsOf(kvHarness, cas)).toEqual([...raftTransitions, ...storeTransitions]);
    const { scenario: stale } = await loadScenario('scenarios/kv/planted-stale-leader-reads.txt');
    const list = transitionsOf(kvHarness, stale);
    expect(list).not.toContain(stepDown); // set checkQuorum false
    expect(list).not.toContain(timeoutNow); // no transferEveryMs
    for (const t of storeTransitions) expect(list).toContain(t);
  });
});
