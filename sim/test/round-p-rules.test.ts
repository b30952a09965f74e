/**
 * Round P's sync-before-answer rule (sim/harnesses/agent-sync-answer.ts), fed the answers P02 gives (a
 * deregistration answered before its sync) and the ones the unmutated agent gives.
 */
import { describe, expect, it } from 'vitest';
import type { AgentRequest } from '../../core/agent/api.js';
import { SyncAnswers, type SyncAnswerView } from '../harnesses/agent-sync-answer.js';

const deregister: AgentRequest = { type: 'agent.service.deregister', id: 'loc0' };
const register: AgentRequest = { type: 'agent.service.register', service: { name: 'loc0', port: 7000 } };
const ok = { status: 200, body: null };
const view =
  (holds: (boolean | null)[], left = false, startedMs: number[] = holds.map(() => 0)): (() => SyncAnswerView) =>
  () => ({
    left,
    syncWaitMs: 2000,
    holds,
    startedMs,
  });

describe('sync before answer (round P)', () => {
  it('a deregistration answered while every server still holds the service is caught (P02)', () => {
    const rule = new SyncAnswers();
    const token = rule.begin('n4', deregister, 100)!;
    expect(rule.end(token, ok, 101.7, view([true, true, true]))).toMatch(
      /sync before answer: n4's agent answered 200 to the deregistration of service loc0 .* every server's catalog still holds it/,
    );
  });

  it('a deregistration answered once some server dropped the service passes', () => {
    const rule = new SyncAnswers();
    const token = rule.begin('n4', deregister, 100)!;
    expect(rule.end(token, ok, 130, view([true, false, true]))).toBeNull();
  });

  it('a registration answered while no server holds the service is caught, one that some server holds passes', () => {
    const rule = new SyncAnswers();
    const a = rule.begin('n4', register, 100)!;
    expect(rule.end(a, ok, 101, view([false, false, false]))).toMatch(/no server's catalog holds the service on n4/);
    const b = rule.begin('n4', register, 200)!;
    expect(rule.end(b, ok, 230, view([false, true, false]))).toBeNull();
  });

  it('excused: a failed sync since the call, the wait bound, an agent that left, a server down or restarted, an overlapping call', () => {
    const rule = new SyncAnswers();
    const failed = rule.begin('n4', deregister, 100)!;
    rule.noteSyncFailed('n4', 150);
    expect(rule.end(failed, ok, 160, view([true, true, true]))).toBeNull();
    const slow = rule.begin('n5', deregister, 100)!;
    expect(rule.end(slow, ok, 2100, view([true, true, true]))).toBeNull();
    const left = rule.begin('n5', deregister, 3000)!;
    expect(rule.end(left, ok, 3001, view([true, true, true], true))).toBeNull();
    const down = rule.begin('n5', deregister, 4000)!;
    expect(rule.end(down, ok, 4001, view([true, null, true]))).toBeNull();
    // A server restarted during the call (agent/autopilot-catch-up seeds 8, 45: the leader applied the push,
    // answered and lost its disk): its catalog may lack what the others have not applied yet.
    const restarted = rule.begin('n5', register, 4500)!;
    expect(rule.end(restarted, ok, 4509, view([false, false, false], false, [0, 4500.5, 0]))).toBeNull();
    const before = rule.begin('n5', register, 4600)!;
    expect(rule.end(before, ok, 4609, view([false, false, false], false, [0, 4500.5, 0]))).toMatch(/no server's/);
    const first = rule.begin('n5', deregister, 5000)!;
    const second = rule.begin('n6', register, 5000.5)!;
    expect(rule.end(first, ok, 5001, view([true, true, true]))).toBeNull();
    expect(rule.end(second, ok, 5002, view([false, false, false]))).toBeNull();
  });
});

/**
 * raft/disk-replaced-membership (round P's scenario), seeds that found something on the unmutated code:
 * 357 and 434 — a leader that removed itself and stepped down before the removal committed never campaigned
 * again (core/raft/election.ts checkCanCampaign); 55 — the first version of that fix let a demoted learner
 * campaign (rule 9); 3488 — a replaced disk's new server voted at a term its predecessor had voted in (the
 * one-vote rule now starts a new server afresh); 3729 — a read confirmed by a quorum of the configuration in
 * force when the step began, answered in the step that appended a promotion (rule 8 counts either).
 */
describe('raft/disk-replaced-membership seeds found in session 18', () => {
  it('357, 434, 55, 3488 and 3729 pass', async () => {
    const { loadScenario, runLoaded } = await import('../run.js');
    const loaded = await loadScenario('scenarios/raft/disk-replaced-membership.txt');
    for (const seed of [357, 434, 55, 3488, 3729])
      expect({ seed, violations: runLoaded(loaded, seed).violations }).toEqual({ seed, violations: [] });
  });
});
