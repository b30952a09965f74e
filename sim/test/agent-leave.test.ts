import { describe, expect, it } from 'vitest';
import { LeftNodes } from '../harnesses/agent-leave.js';
import fs from 'node:fs';
import { loadScenario, loadScenarioText, runLoaded } from '../run.js';

/** A push as the agent sends it: an RPC write of a catalog registration of `node`. */
const push = (node: string) => ({
  m: 'agent',
  p: {
    t: 'rpc',
    id: 1,
    op: { kind: 'write', command: { type: 'catalogRegister', node: { node, address: node }, skipNodeUpdate: true } },
  },
});
const leave = { body: { type: 'agent.leave' } };

/**
 * The left-agent rule (sim/harnesses/agent-leave.ts): crafted sends before and after a leave, and the scenario
 * seed that found the push chain running on after the leave (core/agent/antiEntropy.ts syncNext).
 */
describe('a left agent writes nothing more to the catalog', () => {
  it('passes pushes before the leave, and a resend of one of them after it', () => {
    const rule = new LeftNodes();
    const before = push('n5');
    expect(rule.checkSend('n5', 7990, before)).toBeNull();
    rule.noteInput('n5', 8000, leave);
    expect(rule.checkSend('n5', 8015, before)).toBeNull(); // the same op, resent by the RPC hold
    expect(rule.checkSend('n4', 8016, push('n4'))).toBeNull(); // another agent
  });

  it('fails a new registration of its node after the leave, until the agent is started again', () => {
    const rule = new LeftNodes();
    rule.noteInput('n5', 8000, leave);
    expect(rule.checkSend('n5', 8020, push('n5'))).toContain('n5 received a leave at 8000 ms');
    rule.noteStart('n5');
    expect(rule.checkSend('n5', 9000, push('n5'))).toBeNull();
  });

  it('scenarios/agent/leave.txt seed 241: the push after the one in flight at the leave is not sent', async () => {
    // Before the fix, syncNext went on to the next out-of-sync item once the push in flight at the leave
    // was answered: n5 sent a new registration 15 ms after its leave.
    const loaded = await loadScenario('scenarios/agent/leave.txt');
    expect(runLoaded(loaded, 241, { codec: true }).result).toBe('pass');
  });
});

/**
 * scenarios/agent/leave.txt seeds 944 and 955: the restarted n5 synced its services, then a stale leave
 * intent at its new life's incarnation (0) reached the leader, which deregistered the node with its
 * services; n5 refuted and the leader registered the node again, but not its services. n5's anti-entropy
 * believed them synced, and the scenario's full sync (a minute, as Consul's) came after the run: the
 * catalog lacked n5's services 20 s after the faults. The agent now runs a full sync soon after it refutes
 * a claim that it failed or left (core/agent/antiEntropy.ts resyncAfterRefutation).
 */
describe('an agent that refutes a claim that it left brings its services back', () => {
  for (const seed of [944, 955]) {
    it(`seed ${seed}: passes with the resync, fails checks-synced without it (Consul's gap)`, async () => {
      const loaded = await loadScenario('scenarios/agent/leave.txt');
      let resynced = false;
      const run = runLoaded(loaded, seed, {
        onLog: (line) => (resynced ||= line.event?.type === 'agent.refutedResync' && line.node === 'n5'),
      });
      expect(run.result).toBe('pass');
      expect(resynced).toBe(true);
      const without = await loadScenarioText(
        `${fs.readFileSync('scenarios/agent/leave.txt', 'utf8')}\nset refutedResyncMs 3600000\n`,
        'scenarios/agent/leave.txt',
      );
      const failed = runLoaded(without, seed);
      expect(failed.result).toBe('fail');
      expect(failed.violations.join('\n')).toMatch(/n5's service .* is not in the catalog/);
    });
  }

  it("seed 3307: the resync's catalog read fails (its server crashed mid-call) and is retried as a full sync", async () => {
    // A new leader, still holding n5 left, deregistered it after n5 refuted; the resync's read went to n1, which
    // crashed. The retry only pushed (nothing was marked out of sync), so n5's services stayed out (fails without
    // core/agent/antiEntropy.ts fullSyncFailed).
    expect(runLoaded(await loadScenario('scenarios/agent/leave.txt'), 3307).result).toBe('pass');
  });
});

/**
 * scenarios/agent/leave.txt seed 2674: a member restarted after its leave, known to nobody but itself (the one
 * member that learned of it crashed, the rest restarted without memory), comes back only at its own next
 * push-pull (SWIM's 30 s period): the leader registers it 40.08 s into the run. The scenario's liveness window is
 * 35 s for that reason; with the 20 s it had, the seed fails on that bound, not on a lost member.
 */
describe('a member known to nobody but itself returns at its next push-pull', () => {
  it('seed 2674: n5 is registered after the 20 s window and within the 35 s one', async () => {
    const text = fs.readFileSync('scenarios/agent/leave.txt', 'utf8');
    expect(text).toMatch(/liveness=35s/);
    let joinedMs: number | null = null;
    const run = runLoaded(await loadScenario('scenarios/agent/leave.txt'), 2674, {
      onLog: (line) => {
        if (joinedMs === null && line.atMs > 20_000 && /member 'n5' joined/.test(line.text)) joinedMs = line.atMs;
      },
    });
    expect(run.result).toBe('pass');
    expect(joinedMs).not.toBeNull();
    expect(joinedMs!).toBeGreaterThan(40_000);
    const short = await loadScenarioText(text.replace('liveness=35s', 'liveness=20s'), 'scenarios/agent/leave.txt');
    const failed = runLoaded(short, 2674);
    expect(failed.result).toBe('fail');
    expect(failed.violations.join('\n')).toMatch(/serfHealth check: n5 absent/);
  });
});
