/**
 * Unit tests of the Raft mechanisms, each driven by hand with ManualCluster (core/raft/testkit.ts):
 * the test decides which messages arrive, so each rule is shown in isolation. Each test names the
 * paper section it encodes.
 */
import { describe, expect, it } from 'vitest';
import type { DurableState, Effect } from '../types.js';
import { Prng } from '../prng.js';
import { applyStorageOp, mapImage } from '../storage.js';
import { encodeSnapshotData } from './codec.js';
import { makeRaftConfig, RaftConfigError, checkRaftConfig } from './config.js';
import { RaftLoadError } from './durable.js';
import type { AppendEntries, Entry } from './messages.js';
import { raftMachine } from './raft.js';
import { ListFsm, ManualCluster, type InFlight } from './testkit.js';

const voteTraffic = (m: InFlight) => m.message.type === 'vote' || m.message.type === 'voteReply';

function settled(cluster: ManualCluster, leader: string): void {
  cluster.deliver();
  cluster.fire(leader, 'heartbeat');
  cluster.deliver();
}

describe('election (§5.2, §5.4.1, pre-vote §9.6)', () => {
  it('a single bootstrapped server elects itself and commits only after its own write is durable', () => {
    const c = new ManualCluster(1);
    c.fire('n1', 'election');
    expect(c.state('n1').role).toBe('leader');
    expect(c.traces).toContain('n1 became leader at term 2');
    // The no-op (index 2) and the entry recording n1's server id (index 3, identity.ts) are in the log
    // but not committed until the self-acknowledgement (sent after the persist) arrives.
    expect(c.state('n1').commitIndex).toBe(0);
    c.deliver();
    expect(c.state('n1').commitIndex).toBe(3);
    expect(c.state('n1').membership.ids).toEqual({ n1: c.state('n1').serverId });
    const id = c.request('n1', { type: 'propose', command: 'a' });
    expect(c.replies.has(id)).toBe(false);
    c.deliver();
    expect(c.replies.get(id)).toEqual({ ok: true, index: 4, result: 1 });
  });

  it('three servers elect one leader, replicate and apply everywhere', () => {
    const c = new ManualCluster(3);
    expect(c.elect('n1')).toBe(true);
    settled(c, 'n1');
    const id = c.request('n1', { type: 'propose', command: 'x' });
    c.deliver();
    // Index 2 is the no-op, 3 the entry recording the server ids (identity.ts).
    expect(c.replies.get(id)).toMatchObject({ ok: true, index: 4 });
    c.fire('n1', 'heartbeat');
    c.deliver();
    for (const n of c.ids) expect((c.state(n).fsm as ListFsm).items).toEqual(['x']);
    expect(c.leaders()).toEqual(['n1']);
    expect(c.invariantFailures).toEqual([]);
  });

  /** n1 led, replicated x to n2 only, and crashed: n2's log is ahead of n3's. */
  const n2AheadOfN3 = (options: { preVote?: boolean } = {}): ManualCluster => {
    const c = new ManualCluster(3, options);
    c.elect('n1');
    settled(c, 'n1');
    c.request('n1', { type: 'propose', command: 'x' });
    c.deliver((m) => m.to === 'n2' || m.from === 'n2');
    c.drop();
    c.crash('n1');
    return c;
  };

  it('a vote goes only to a log at least as up to date (§5.4.1)', () => {
    // n3 lacks x: n2 must refuse it.
    const c = n2AheadOfN3();
    c.fire('n3', 'election');
    c.deliver(voteTraffic);
    expect(c.state('n3').role).not.toBe('leader');
    expect(c.elect('n2', ['n2', 'n3'])).toBe(true);
  });

  it('a candidate that refused only because it voted for itself, to a better-placed candidate, re-draws its timeout', () => {
    const c = n2AheadOfN3({ preVote: false });
    // n3 (without x) campaigns first and nobody hears it; then n2 (with x) campaigns in the same term.
    c.fire('n3', 'election');
    c.drop((m) => m.from === 'n3');
    const term = c.state('n3').term;
    const firstReset = c.state('n3').electionResetMs;
    for (let i = 0; i < 5 && c.state('n2').term < term; i++) {
      c.drop((m) => m.from === 'n2');
      c.fire('n2', 'election');
    }
    expect(c.state('n2').term).toBe(term);
    c.deliver((m) => m.from === 'n2' && m.to === 'n3');
    // n3 keeps its own vote (safety) but backs off: its next timeout counts from n2's request, so n2's
    // next campaign tends to come first; a candidate behind it (n1 crashed, x missing) re-draws nothing.
    expect(c.state('n3').vote).toBe('n3');
    expect(c.state('n3').electionResetMs).toBeGreaterThan(firstReset);
    expect(c.state('n3').electionResetMs).toBe(c.nowMs);
  });

  it('pre-vote: a partitioned server times out again and again without raising its term (§9.6)', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    const before = c.state('n3').term;
    for (let i = 0; i < 5; i++) {
      c.fire('n3', 'election');
      c.drop((m) => m.from === 'n3');
    }
    expect(c.state('n3').term).toBe(before);
    expect(c.state('n3').role).toBe('precandidate');
  });

  it('without pre-vote the same partitioned server inflates its term', () => {
    const c = new ManualCluster(3, { preVote: false });
    c.elect('n1');
    settled(c, 'n1');
    const before = c.state('n3').term;
    for (let i = 0; i < 5; i++) {
      c.fire('n3', 'election');
      c.drop((m) => m.from === 'n3');
    }
    expect(c.state('n3').term).toBe(before + 5);
  });

  it('the disregard rule: a follower that just heard its leader ignores a higher-term RequestVote (§4.2.3)', () => {
    const c = new ManualCluster(3, { preVote: false });
    c.elect('n1');
    settled(c, 'n1');
    const term = c.state('n2').term;
    // A RequestVote at a higher term arrives right after a heartbeat: n2 keeps its term and leader.
    c.step('n2', {
      kind: 'message',
      nowMs: c.nowMs,
      from: 'n3',
      message: {
        m: 'raft',
        p: { type: 'vote', term: term + 5, lastIndex: 99, lastTerm: term, preVote: false, transfer: false },
      },
    });
    expect(c.state('n2').term).toBe(term);
    expect(c.state('n2').leader).toBe('n1');
  });

  it('check-quorum: a leader that hears from no quorum for an election timeout steps down', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    for (let i = 0; i < 6; i++) {
      c.fire('n1', 'heartbeat');
      c.drop();
    }
    expect(c.state('n1').role).toBe('follower');
    expect(c.traces.some((t) => t.startsWith('n1 stepped down at term 2: no quorum'))).toBe(true);
  });
});

describe("the leader's connection closed (linkDown: a hint for failover, never a rule)", () => {
  // Proves: a follower told that its stream to the leader closed polls after one or two heartbeat
  // intervals instead of a whole election timeout, and its peer answers the poll although it heard the
  // leader a moment ago (it was told too); but a poll from one follower whose link alone dropped is still
  // refused while the leader lives, and the leader's next message cancels the early poll.
  const linkDown = (c: ManualCluster, id: string, peer: string) =>
    c.step(id, { kind: 'linkDown', nowMs: c.nowMs, peer });

  it('a dead leader is replaced within two heartbeat intervals of the signal', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    const term = c.state('n2').term;
    const heartbeatMs = c.state('n2').config.heartbeatIntervalMs;
    c.crash('n1');
    const signalMs = c.nowMs;
    linkDown(c, 'n2', 'n1');
    linkDown(c, 'n3', 'n1');
    expect(c.traces.some((t) => t.startsWith('n2 lost its connection to leader n1'))).toBe(true);
    c.fire('n2', 'election');
    expect(c.nowMs - signalMs).toBeLessThanOrEqual(2 * heartbeatMs);
    c.deliver(voteTraffic);
    expect(c.state('n2').role).toBe('leader');
    expect(c.state('n2').term).toBe(term + 1);
    expect(c.invariantFailures).toEqual([]);
  });

  it('a dropped connection alone deposes no live leader', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    const term = c.state('n1').term;
    linkDown(c, 'n2', 'n1');
    c.fire('n2', 'election'); // n2 polls early ...
    c.deliver(voteTraffic); // ... and n3, which heard n1 and was told nothing, refuses
    expect(c.state('n2').role).not.toBe('leader');
    c.fire('n1', 'heartbeat');
    c.deliver();
    expect(c.leaders()).toEqual(['n1']);
    for (const n of c.ids) expect(c.state(n).term).toBe(term);
    expect(c.state('n2').leader).toBe('n1');
    expect(c.state('n2').leaderLinkDown).toBe(false);
  });

  it("the leader's next message cancels the early poll", () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    linkDown(c, 'n2', 'n1');
    c.fire('n1', 'heartbeat'); // n1 redials: its heartbeat reaches n2 before the early deadline
    c.deliver();
    const traces = c.traces.length;
    c.nowMs += 2 * c.state('n2').config.heartbeatIntervalMs;
    c.step('n2', { kind: 'timer', nowMs: c.nowMs, timer: 'raft:election' });
    expect(c.traces.slice(traces).some((t) => t.includes('pre-vote'))).toBe(false);
    expect(c.state('n2').role).toBe('follower');
  });

  // Both followers hear the close and poll in the same window: each grants the other's poll, both campaign at
  // the same term, each refuses the other (it voted for itself). With splitVoteBackoff (the agent's setting)
  // the next poll comes within three heartbeats; without it, after a whole new election timeout.
  const splitAfterLinkDown = (backoff: boolean) => {
    // Production's ratio (raft_multiplier 1): three heartbeats are well under one election timeout.
    const timing = { electionTimeoutMsMin: 1000, electionTimeoutMsMax: 2000, heartbeatIntervalMs: 100 };
    const c = new ManualCluster(3, { splitVoteBackoff: backoff, ...timing });
    c.elect('n1');
    settled(c, 'n1');
    const term = c.state('n2').term;
    c.crash('n1');
    linkDown(c, 'n2', 'n1');
    linkDown(c, 'n3', 'n1');
    c.nowMs += 2 * c.state('n2').config.heartbeatIntervalMs;
    c.step('n2', { kind: 'timer', nowMs: c.nowMs, timer: 'raft:election' });
    c.step('n3', { kind: 'timer', nowMs: c.nowMs, timer: 'raft:election' });
    c.deliver(voteTraffic);
    expect(c.state('n2').role).toBe('candidate');
    expect(c.state('n3').role).toBe('candidate');
    expect(c.state('n2').term).toBe(term + 1);
    const splitMs = c.nowMs;
    const next = c.state('n2').electionResetMs + c.state('n2').electionTimeoutMs;
    return {
      c,
      splitMs,
      waitMs: Math.min(next, c.state('n3').electionResetMs + c.state('n3').electionTimeoutMs) - splitMs,
    };
  };

  it('a split vote after the signal is retried within three heartbeats with splitVoteBackoff', () => {
    const { c, waitMs } = splitAfterLinkDown(true);
    const heartbeatMs = c.state('n2').config.heartbeatIntervalMs;
    expect(waitMs).toBeGreaterThanOrEqual(heartbeatMs);
    expect(waitMs).toBeLessThanOrEqual(3 * heartbeatMs);
    // The first to time out polls, the other (a candidate of the older term) grants, and it is elected.
    const first =
      c.state('n2').electionResetMs + c.state('n2').electionTimeoutMs <=
      c.state('n3').electionResetMs + c.state('n3').electionTimeoutMs
        ? 'n2'
        : 'n3';
    c.fire(first, 'election');
    c.deliver(voteTraffic);
    expect(c.leaders()).toEqual([first]);
    expect(c.invariantFailures).toEqual([]);
  });

  it('without splitVoteBackoff the split costs a whole election timeout', () => {
    const { c, waitMs } = splitAfterLinkDown(false);
    expect(waitMs).toBeGreaterThanOrEqual(c.state('n2').config.electionTimeoutMsMin);
  });

  it('a signal about a node that is not our leader changes nothing', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    const before = c.state('n2').electionResetMs;
    linkDown(c, 'n2', 'n3');
    expect(c.state('n2').electionResetMs).toBe(before);
    expect(c.state('n2').leaderLinkDown).toBe(false);
  });
});

describe('time', () => {
  it('a clock that jumps back 5 s does not stretch check-quorum: durations run on a monotonic clock', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    c.nowMs -= 5000;
    for (let i = 0; i < 6; i++) {
      c.fire('n1', 'heartbeat');
      c.drop();
    }
    expect(c.state('n1').role).toBe('follower');
  });
});

describe('persistence ordering (Figure 2; core/types.ts ORDERING RULE)', () => {
  it('the vote is persisted before the vote reply, in the same step', () => {
    const c = new ManualCluster(3, { preVote: false });
    c.fire('n1', 'election');
    const request = c.inFlight.find((m) => m.to === 'n2')!;
    c.inFlight.length = 0;
    const effects = c.step('n2', {
      kind: 'message',
      nowMs: c.nowMs + 1000,
      from: 'n1',
      message: { m: 'raft', p: request.message },
    });
    const persistAt = effects.findIndex(
      (e) =>
        e.kind === 'persist' &&
        e.ops.some(
          (op) => op.op === 'put' && op.key === 'raft/hardState' && (op.value as { vote: string }).vote === 'n1',
        ),
    );
    const replyAt = effects.findIndex((e) => e.kind === 'send');
    expect(persistAt).toBeGreaterThanOrEqual(0);
    expect(replyAt).toBeGreaterThan(persistAt);
  });

  it('entries are persisted before the append acknowledgement', () => {
    const c = new ManualCluster(2);
    c.elect('n1');
    const append = c.inFlight.find((m) => m.to === 'n2' && m.message.type === 'append')!;
    c.inFlight.length = 0;
    const effects = c.step('n2', {
      kind: 'message',
      nowMs: c.nowMs,
      from: 'n1',
      message: { m: 'raft', p: append.message },
    });
    const persistAt = effects.findIndex((e) => e.kind === 'persist' && e.ops.some((op) => op.op === 'append'));
    const ackAt = effects.findIndex((e) => e.kind === 'send');
    expect(persistAt).toBeGreaterThanOrEqual(0);
    expect(ackAt).toBeGreaterThan(persistAt);
  });

  it("the leader's appends leave early, but its own copy counts toward a commit only once durable (thesis §10.2.1)", () => {
    // Proves the leader writes in parallel with replicating, and that one follower's ack (a majority of
    // 3 with the leader's unsynced copy) commits nothing until the leader's held self-ack arrives.
    const c = new ManualCluster(3);
    c.elect('n1');
    c.deliver();
    c.nowMs += 1;
    const effects = c.step('n1', {
      kind: 'request',
      nowMs: c.nowMs,
      requestId: 99,
      request: { machine: 'raft', body: { type: 'propose', command: 'x' } },
    });
    const appends = effects.filter((e) => e.kind === 'send' && e.to !== 'n1');
    expect(appends.length).toBe(2);
    expect(appends.every((e) => e.kind === 'send' && e.early === true)).toBe(true);
    const selfAck = effects.find((e) => e.kind === 'send' && e.to === 'n1');
    expect(selfAck && selfAck.kind === 'send' && selfAck.early).toBeFalsy(); // held until the write is durable
    const commit0 = c.state('n1').commitIndex;
    // n2 acks (n3 hears nothing); with the leader's unsynced copy that would be a majority, but the
    // leader's own ack has not arrived: nothing new commits.
    c.deliver((m) => (m.from === 'n1' && m.to === 'n2') || (m.from === 'n2' && m.to === 'n1'));
    expect(c.state('n1').commitIndex).toBe(commit0);
    c.deliver();
    expect(c.state('n1').commitIndex).toBeGreaterThan(commit0);
  });
});

describe('replication (§5.3)', () => {
  it('fast backtracking skips a whole conflicting term in one round trip', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    // n1 writes 30 entries that reach nobody, then crashes; n2 leads and writes its own.
    for (let i = 0; i < 30; i++) c.request('n1', { type: 'propose', command: `old${i}` });
    c.drop();
    c.crash('n1');
    c.elect('n2', ['n2', 'n3']);
    settled(c, 'n2');
    c.restart('n1');
    let rejects = 0;
    c.deliver((m) => {
      if (m.message.type === 'appendReply' && !m.message.success) rejects++;
      return true;
    });
    c.fire('n2', 'heartbeat');
    c.deliver();
    expect(c.state('n1').log.lastIndex).toBe(c.state('n2').log.lastIndex);
    expect(c.state('n1').log.termAt(3)).toBe(c.state('n2').log.termAt(3));
    expect(rejects).toBeLessThanOrEqual(2); // one per conflicting term, not one per entry
  });

  it('pipelining stays inside the flow-control window', () => {
    const c = new ManualCluster(2, { inflightAppendsMax: 2, appendEntriesMax: 1 });
    c.elect('n1');
    settled(c, 'n1');
    for (let i = 0; i < 10; i++) c.request('n1', { type: 'propose', command: i });
    const withEntries = c.inFlight.filter(
      (m) => m.to === 'n2' && m.message.type === 'append' && (m.message as AppendEntries).entries.length > 0,
    );
    expect(withEntries).toHaveLength(2);
    c.deliver();
    expect(c.state('n2').log.lastIndex).toBe(c.state('n1').log.lastIndex);
  });

  it('batches pending entries once the window opens', () => {
    const c = new ManualCluster(2, { inflightAppendsMax: 1, appendEntriesMax: 64 });
    c.elect('n1');
    settled(c, 'n1');
    for (let i = 0; i < 10; i++) c.request('n1', { type: 'propose', command: i });
    c.deliver((m) => m.to === 'n2');
    c.deliver((m) => m.to === 'n1');
    const batch = c.inFlight.find(
      (m) => m.to === 'n2' && m.message.type === 'append' && (m.message as AppendEntries).entries.length > 1,
    );
    expect((batch?.message as AppendEntries).entries.length).toBe(9);
  });
});

describe('commit notices (hashicorp/raft CommitTimeout; config.commitNoticeDelayMs)', () => {
  const commitOnly = (m: InFlight) =>
    m.from === 'n1' && m.message.type === 'append' && (m.message as AppendEntries).entries.length === 0;
  /** The followers a commit-only AppendEntries is in flight to. */
  const commitNoticesTo = (c: ManualCluster): string[] =>
    c.inFlight
      .filter(commitOnly)
      .map((m) => m.to)
      .sort();

  it('a moved commit index alone waits: the next entries carry it to the followers', () => {
    // Proves the lever: once a write commits, no AppendEntries leaves just to say so; the follower
    // learns the commit from the next write's AppendEntries (Figure 2's leaderCommit) and applies then.
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    const first = c.request('n1', { type: 'propose', command: 'a' });
    c.deliver((m) => !commitOnly(m));
    expect(c.replies.get(first)).toMatchObject({ ok: true });
    const committed = c.state('n1').commitIndex;
    expect(c.inFlight.filter(commitOnly)).toEqual([]);
    expect(c.armed('n1', 'raft:commitNotice')).toBe(true);
    expect(c.state('n2').commitIndex).toBeLessThan(committed);
    c.request('n1', { type: 'propose', command: 'b' });
    const next = c.inFlight.find((m) => m.to === 'n2' && m.message.type === 'append')!;
    expect((next.message as AppendEntries).commit).toBe(committed);
    c.deliver((m) => m === next);
    expect(c.state('n2').commitIndex).toBe(committed);
    expect((c.state('n2').fsm as ListFsm).items).toEqual(['a']);
    expect(c.invariantFailures).toEqual([]);
  });

  it('on an idle leader the commitNotice timer tells every follower that missed the commit', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    c.request('n1', { type: 'propose', command: 'a' });
    c.deliver((m) => !commitOnly(m));
    const committed = c.state('n1').commitIndex;
    c.fireArmed('n1', 'raft:commitNotice', 10); // the sim profile's commitNoticeDelayMs
    const notices = c.inFlight.filter(commitOnly);
    expect(notices.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
    expect(notices.every((m) => (m.message as AppendEntries).commit === committed)).toBe(true);
    c.deliver();
    for (const n of c.ids) expect((c.state(n).fsm as ListFsm).items).toEqual(['a']);
    expect(c.armed('n1', 'raft:commitNotice')).toBe(false); // nothing left to tell: not re-armed
  });

  it('a steady one-client load sends no notice: the timer finds every wait younger than the delay and looks again', () => {
    // Proves the timer is per follower wait, not a period: a commit whose notice rode on the next append
    // does not make a later commit's notice leave early.
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    const noticesSent = (): number => c.inFlight.filter(commitOnly).length;
    c.request('n1', { type: 'propose', command: 'a' });
    c.deliver((m) => !commitOnly(m)); // 'a' commits at t0: both followers' waits start
    for (const command of ['b', 'c', 'd']) {
      c.nowMs += 4;
      c.request('n1', { type: 'propose', command }); // carries the last commit: the waits end
      c.deliver((m) => !commitOnly(m)); // commits: new waits start
    }
    expect(noticesSent()).toBe(0);
    c.fireArmed('n1', 'raft:commitNotice', 0); // due 10 ms after 'a' committed, but the waits are younger
    expect(noticesSent()).toBe(0);
    expect(c.armed('n1', 'raft:commitNotice')).toBe(true);
    c.fireArmed('n1', 'raft:commitNotice', 10); // now the last wait has lasted the delay
    expect(commitNoticesTo(c)).toEqual(['n2', 'n3']);
    c.deliver();
    for (const n of c.ids) expect((c.state(n).fsm as ListFsm).items).toEqual(['a', 'b', 'c', 'd']);
    expect(c.invariantFailures).toEqual([]);
  });

  it('with commitNoticeDelayMs 0 the commit index leaves at once, in an AppendEntries of its own', () => {
    const c = new ManualCluster(3, { commitNoticeDelayMs: 0 });
    c.elect('n1');
    settled(c, 'n1');
    c.request('n1', { type: 'propose', command: 'a' });
    c.deliver((m) => !commitOnly(m));
    expect(commitNoticesTo(c)).toEqual(['n2', 'n3']);
    expect(c.armed('n1', 'raft:commitNotice')).toBe(false);
  });
});

describe('client sessions (thesis §6.3)', () => {
  it('a retried command is applied once and answered with the first result', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    const session = { clientId: 'c1', seq: 1 };
    const a = c.request('n1', { type: 'propose', command: 'once', session });
    const b = c.request('n1', { type: 'propose', command: 'once', session });
    c.deliver();
    expect(c.replies.get(a)).toMatchObject({ ok: true, result: 1 });
    expect(c.replies.get(b)).toMatchObject({ ok: true, result: 1 });
    expect((c.state('n1').fsm as ListFsm).items).toEqual(['once']);
  });
});

describe('ReadIndex (thesis §6.4)', () => {
  it('answers only after a quorum confirmed leadership in a round that began after the read', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    c.request('n1', { type: 'propose', command: 'w' });
    c.deliver();
    const read = c.request('n1', { type: 'read', query: null });
    expect(c.replies.has(read)).toBe(false);
    c.deliver();
    expect(c.replies.get(read)).toMatchObject({ ok: true, result: ['w'] });
  });

  it('with readBatching, reads that arrive while a round is in flight share the next round, never the one in flight', () => {
    const c = new ManualCluster(3, { readBatching: true });
    c.elect('n1');
    settled(c, 'n1');
    c.request('n1', { type: 'propose', command: 'w' });
    c.deliver();
    const heartbeatsTo = (id: string) =>
      c.inFlight.filter((m) => m.from === 'n1' && m.to === id && m.message.type === 'append').length;
    const first = c.request('n1', { type: 'read', query: null });
    expect(heartbeatsTo('n2')).toBe(1); // round 1 leaves at once
    const batch = [1, 2, 3].map(() => c.request('n1', { type: 'read', query: null }));
    expect(heartbeatsTo('n2')).toBe(1); // no round per read while round 1 is in flight
    // One exchange with n2 (n3 stays silent): its heartbeat, then its answer.
    const exchange = () => {
      const out = c.inFlight.find((m) => m.from === 'n1' && m.to === 'n2');
      c.deliver((m) => m === out);
      const back = c.inFlight.find((m) => m.from === 'n2' && m.to === 'n1');
      c.deliver((m) => m === back);
    };
    exchange(); // n2 answers round 1: it confirms the first read, not the three that arrived after it left

    expect(c.replies.get(first)).toMatchObject({ ok: true, result: ['w'] });
    for (const read of batch) expect(c.replies.has(read)).toBe(false);
    expect(heartbeatsTo('n2')).toBe(1); // round 2 left at the confirmation, one heartbeat for the batch
    exchange();
    for (const read of batch) expect(c.replies.get(read)).toMatchObject({ ok: true, result: ['w'] });
    expect(c.invariantFailures).toEqual([]);
  });

  it('without readBatching, every read starts its own round at once', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    const heartbeatsTo = (id: string) =>
      c.inFlight.filter((m) => m.from === 'n1' && m.to === id && m.message.type === 'append').length;
    c.request('n1', { type: 'read', query: null });
    [1, 2, 3].forEach(() => c.request('n1', { type: 'read', query: null }));
    expect(heartbeatsTo('n2')).toBe(4);
  });

  it('a leader cut off from the quorum never answers; it steps down and fails the read', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    const read = c.request('n1', { type: 'read', query: null });
    for (let i = 0; i < 6; i++) {
      c.fire('n1', 'heartbeat');
      c.drop();
    }
    expect(c.replies.get(read)).toMatchObject({ ok: false, error: 'stepDown' });
  });

  it('followers redirect to the leader', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    expect(c.replies.get(c.request('n2', { type: 'read', query: null }))).toEqual({
      ok: false,
      error: 'notLeader',
      leader: 'n1',
    });
    expect(c.replies.get(c.request('n2', { type: 'readStale', query: null }))).toMatchObject({ ok: true });
  });
});

describe('lease reads (thesis §6.4.1, off by default)', () => {
  /** Three nodes with lease reads, n1 leading, settled, and a heartbeat round just acknowledged. */
  const leaseLeader = (): ManualCluster => {
    const c = new ManualCluster(3, { leaseReads: true });
    c.elect('n1');
    settled(c, 'n1');
    c.fire('n1', 'heartbeat');
    c.deliver();
    return c;
  };

  it('with leaseReads a leader answers at once while its quorum contact is recent, and goes back to rounds once it is not', () => {
    const c = leaseLeader();
    const fast = c.request('n1', { type: 'read', query: null });
    expect(c.replies.get(fast)).toMatchObject({ ok: true });
    c.nowMs += 1000; // the lease ran out without any acknowledgement
    const slow = c.request('n1', { type: 'read', query: null });
    expect(c.replies.has(slow)).toBe(false);
    c.deliver();
    expect(c.replies.get(slow)).toMatchObject({ ok: true });
  });

  it('a leader that sent TimeoutNow reads on no lease for the rest of its term, even with fresh quorum contact (kv/jepsen-cas seed 761)', () => {
    const c = leaseLeader();
    expect(c.replies.get(c.request('n1', { type: 'read', query: null }))).toMatchObject({ ok: true });
    c.request('n1', { type: 'transferLeadership', to: 'n3' }); // n3 is up to date: TimeoutNow leaves at once
    const timeoutNow = (m: { message: unknown }) => (m.message as { type: string }).type === 'timeoutNow';
    const others = (m: { message: unknown }) => !timeoutNow(m);
    expect(c.drop(timeoutNow)).toBe(1); // held back here; on a real network it may arrive late and still elect n3
    c.fire('n1', 'heartbeat');
    c.deliver(others); // a quorum acknowledged a fresh round: the lease alone would allow an answer now
    const read = c.request('n1', { type: 'read', query: null });
    expect(c.replies.has(read)).toBe(false); // waits for a round confirmed after it arrived
    c.deliver(others);
    expect(c.replies.get(read)).toMatchObject({ ok: true });
    expect(c.leaders()).toEqual(['n1']);
  });

  it('without leaseReads every read waits for a round', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    const read = c.request('n1', { type: 'read', query: null });
    expect(c.replies.has(read)).toBe(false);
  });
});

describe('sibling machines (local calls and notices)', () => {
  it('answers a local call with a local reply and tells the observer about leaders and applies', () => {
    const config = makeRaftConfig('sim', { createFsm: () => new ListFsm(), servers: ['n1'], observer: 'agent' });
    const prng = new Prng(3);
    const state = raftMachine.init('n1', config, { records: new Map(), logs: new Map() }, prng);
    let out: Effect[] = [];
    const ctx = { nodeId: 'n1', prng, emit: (e: Effect) => void out.push(e) };
    const step = (input: Parameters<typeof raftMachine.step>[1]): Effect[] => {
      out = [];
      raftMachine.step(state, input, ctx);
      // Fire timers due at once (`replicate`, as a driver does at the end of the turn), and deliver
      // messages to ourselves (the self-acknowledgement).
      const mine = [...out];
      const all = [...out];
      for (const e of mine)
        if (e.kind === 'setTimer' && e.afterMs === 0)
          all.push(...step({ kind: 'timer', nowMs: input.nowMs, timer: e.timer }));
      for (const e of mine)
        if (e.kind === 'send')
          all.push(...step({ kind: 'message', nowMs: 1, from: 'n1', message: e.message as never }));
      return all;
    };
    step({ kind: 'start', nowMs: 0, startNonce: 0 });
    // A sole voter campaigns at once (its election timeout is 1 ms).
    const election = step({ kind: 'timer', nowMs: 1, timer: 'election' });
    expect(election).toContainEqual({
      kind: 'local',
      toMachine: 'agent',
      payload: { type: 'leader', leader: 'n1', term: 2, isLeader: true },
    });
    const status = step({
      kind: 'local',
      nowMs: 1001,
      fromMachine: 'agent',
      payload: { requestId: 7, request: { type: 'status' } },
    });
    expect(status).toContainEqual({
      kind: 'local',
      toMachine: 'agent',
      payload: { type: 'reply', requestId: 7, response: expect.objectContaining({ ok: true }) },
    });
    const proposal = step({
      kind: 'local',
      nowMs: 1002,
      fromMachine: 'agent',
      payload: { requestId: 8, request: { type: 'propose', command: 'z' } },
    });
    expect(proposal).toContainEqual({
      kind: 'local',
      toMachine: 'agent',
      payload: { type: 'reply', requestId: 8, response: { ok: true, index: 4, result: 1 } },
    });
    // Index 2 is the no-op, 3 the entry recording n1's server id (identity.ts), 4 the command.
    expect(proposal).toContainEqual({ kind: 'local', toMachine: 'agent', payload: { type: 'applied', index: 4 } });
    expect(proposal).toContainEqual({ kind: 'apply', index: 4, term: 2, command: 'z' });
  });
});

describe('snapshots (§7)', () => {
  it('compacts the log and installs a chunked snapshot on a lagging follower, resuming after a lost chunk', () => {
    const c = new ManualCluster(3, {
      snapshotThresholdEntries: 10,
      snapshotTrailingEntries: 2,
      snapshotChunkBytes: 16,
      inflightAppendsMax: 2,
    });
    c.elect('n1');
    settled(c, 'n1');
    c.crash('n3');
    for (let i = 0; i < 40; i++) {
      c.request('n1', { type: 'propose', command: `value-${i}` });
      c.deliver();
    }
    expect(c.state('n1').snapshot!.lastIndex).toBeGreaterThanOrEqual(40);
    expect(c.state('n1').log.prevIndex).toBeGreaterThan(30);
    c.restart('n3');
    c.fire('n1', 'heartbeat');
    // The leader sends the first two chunks (its window); lose the second one.
    c.deliver((m) => m.message.type !== 'snapshot');
    expect(c.drop((m) => m.message.type === 'snapshot' && m.message.offset === 16)).toBe(1);
    for (let i = 0; i < 30 && c.state('n3').appliedIndex < c.state('n1').appliedIndex; i++) {
      c.deliver();
      c.fire('n1', 'heartbeat');
    }
    // The follower saw the gap (offset 32 before 16) and the transfer resumed from its offset.
    expect(c.state('n3').snapshot).not.toBeNull();
    expect(c.traces.some((t) => t.startsWith('n3 installed a snapshot'))).toBe(true);
    expect((c.state('n3').fsm as ListFsm).items).toEqual((c.state('n1').fsm as ListFsm).items);
    // A restart loads the snapshot and the log after it.
    c.crash('n3');
    c.restart('n3');
    expect(c.state('n3').snapshot!.lastIndex).toBeGreaterThan(0);
    // It applies at once what its durable commit hint covers (the bootstrap config, the no-op and the
    // entry recording the server ids are not commands).
    expect((c.state('n3').fsm as ListFsm).items.length).toBe(c.state('n3').commitIndex - 3);
    expect(c.state('n3').commitIndex).toBeGreaterThanOrEqual(c.state('n3').snapshot!.lastIndex);
    expect(c.invariantFailures).toEqual([]);
  });
});

describe('snapshot transfer to a follower that restarts mid-way', () => {
  it("resumes from the follower's own offset once, without a storm of chunks and gap replies", () => {
    const c = new ManualCluster(3, {
      snapshotThresholdEntries: 10,
      snapshotTrailingEntries: 0,
      snapshotChunkBytes: 16,
      inflightAppendsMax: 4,
    });
    c.elect('n1');
    settled(c, 'n1');
    c.crash('n3');
    for (let i = 0; i < 30; i++) {
      c.request('n1', { type: 'propose', command: `value-${i}` });
      c.deliver();
    }
    c.restart('n3');
    c.fire('n1', 'heartbeat');
    c.deliver((m) => m.message.type !== 'snapshot');
    // Two chunks reach n3, then it restarts (its partial copy is gone) while two more are in flight.
    const chunks = c.inFlight.filter((m) => m.message.type === 'snapshot');
    expect(chunks.length).toBe(4);
    c.deliver((m) => m.message.type === 'snapshot' && m.message.offset < 32);
    c.deliver((m) => m.to === 'n1'); // the leader learns n3 holds 32 characters
    c.drop();
    c.crash('n3');
    c.restart('n3');
    c.inFlight.push(...chunks.slice(2));
    // Everything is delivered: the leader rewinds to offset 0 once and the install completes.
    expect(c.deliver(() => true, 1000)).toBeLessThan(200);
    expect(c.traces.some((t) => t.startsWith('n3 installed a snapshot'))).toBe(true);
  });
});

describe('membership (thesis §4.1–§4.2)', () => {
  it('adds a learner, promotes it once caught up, and removes the leader, who hands over', () => {
    const c = new ManualCluster(4, { servers: ['n1', 'n2', 'n3'] });
    c.elect('n1', ['n1', 'n2', 'n3']);
    settled(c, 'n1');
    expect(c.state('n4').membership.voters).not.toContain('n4');
    const add = c.request('n1', { type: 'addServer', id: 'n4', voter: true });
    for (let i = 0; i < 5 && !c.replies.has(add); i++) {
      c.deliver();
      c.fire('n1', 'heartbeat');
    }
    expect(c.replies.get(add)).toMatchObject({ ok: true });
    expect(c.state('n1').membership.voters).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(c.traces).toContain('n1 added n4 as a learner at index 4'); // 2: no-op, 3: server ids
    // The promotion recorded the id n4's acknowledgements carried (identity.ts).
    expect(c.state('n1').membership.ids?.['n4']).toBe(c.state('n4').serverId);
    // One change at a time.
    const remove = c.request('n1', { type: 'removeServer', id: 'n1' });
    c.deliver();
    c.fire('n1', 'heartbeat');
    c.deliver();
    expect(c.replies.get(remove)).toMatchObject({ ok: true });
    expect(c.state('n1').role).toBe('follower');
    expect(c.leaders()).toHaveLength(1);
    expect(c.leaders()[0]).not.toBe('n1');
  });

  it('refuses a second change while one is uncommitted', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    c.request('n1', { type: 'removeServer', id: 'n3' });
    const second = c.request('n1', { type: 'removeServer', id: 'n2' });
    expect(c.replies.get(second)).toMatchObject({ ok: false, error: 'busy' });
  });

  it('transfers leadership with TimeoutNow (§3.10)', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    const t = c.request('n1', { type: 'transferLeadership', to: 'n3' });
    c.deliver();
    expect(c.leaders()).toEqual(['n3']);
    expect(c.replies.get(t)).toMatchObject({ ok: true });
  });
});

describe('bootstrap (Consul bootstrap-expect)', () => {
  it('waits for a bootstrap request listing bootstrapExpect servers', () => {
    const c = new ManualCluster(3, { servers: [], bootstrapExpect: 3 });
    c.fire('n1', 'election');
    expect(c.state('n1').role).toBe('follower');
    expect(c.replies.get(c.request('n1', { type: 'bootstrap', servers: ['n1', 'n2'] }))).toMatchObject({
      ok: false,
      error: 'badRequest',
    });
    for (const n of c.ids)
      expect(c.replies.get(c.request(n, { type: 'bootstrap', servers: ['n3', 'n2', 'n1'] }))).toMatchObject({
        ok: true,
      });
    expect(c.elect('n2')).toBe(true);
    expect(c.replies.get(c.request('n1', { type: 'bootstrap', servers: ['n1', 'n2', 'n3'] }))).toMatchObject({
      ok: true,
    });
  });
});

describe('loading durable state', () => {
  const config = makeRaftConfig('sim', { createFsm: () => new ListFsm(), servers: ['n1'] });
  const entry = (index: number, term: number): Entry => ({ index, term, type: 'command', command: index });
  const durable = (
    entries: Entry[],
    extra: Partial<{ tornTail: boolean; corrupt: { position: number; reason: string } }> = {},
  ): DurableState => ({
    records: new Map<string, unknown>([['hardState', { term: 3, vote: 'n1', commit: 2 }]]),
    logs: new Map([
      ['log', { entries, tornTail: extra.tornTail ?? false, ...(extra.corrupt ? { corrupt: extra.corrupt } : {}) }],
    ]),
  });

  it('restores term, vote, log and applies up to the commit hint', () => {
    const s = raftMachine.init('n1', config, durable([entry(1, 1), entry(2, 2), entry(3, 3)]), new Prng(1));
    expect([s.term, s.vote, s.log.lastIndex, s.commitIndex]).toEqual([3, 'n1', 3, 2]);
  });

  it('accepts a torn tail and cuts it off the durable log at start', () => {
    const s = raftMachine.init('n1', config, durable([entry(1, 1), entry(2, 2)], { tornTail: true }), new Prng(1));
    const effects: unknown[] = [];
    raftMachine.step(
      s,
      { kind: 'start', nowMs: 0, startNonce: 0 },
      { nodeId: 'n1', prng: new Prng(1), emit: (e) => effects.push(e) },
    );
    // The data dir predates server ids: one is minted and written first, marked as having data (identity.ts),
    // then the tail is cut.
    expect(effects).toContainEqual({
      kind: 'persist',
      ops: [
        { op: 'put', key: 'identity', value: { id: s.serverId, data: true } },
        { op: 'truncate', log: 'log', keepCount: 2 },
      ],
    });
  });

  it('refuses corruption before the tail with an error naming the entry', () => {
    const load = () =>
      raftMachine.init(
        'n1',
        config,
        durable([entry(1, 1), entry(2, 2), entry(3, 3)], {
          corrupt: { position: 1, reason: 'checksum mismatch in log entry 1' },
        }),
        new Prng(1),
      );
    expect(load).toThrow(RaftLoadError);
    expect(load).toThrow(/log is corrupt: entry at position 1 \(index 2\): checksum mismatch/);
  });

  it('discards an old log that ends below an installed snapshot (its truncation lost in a crash), so appends stay contiguous', () => {
    // installSnapshot writes [snapshot, truncate 0, hard state]; a crash kept the snapshot record and lost
    // the truncation, leaving entries 1..10 under a snapshot at 24. Found by raft/disk-full seed 789 (knob
    // swarm): the follower appended 25.. after 10, and its next start would have refused the log as corrupt.
    const records = new Map<string, unknown>([
      ['hardState', { term: 3, vote: null, commit: 24 }],
      [
        'snapshot',
        {
          lastIndex: 24,
          lastTerm: 2,
          membership: { voters: ['n1'], learners: [] },
          data: encodeSnapshotData({ fsm: [], sessions: [] }),
          logPrevIndex: 24,
          logPrevTerm: 2,
        },
      ],
    ]);
    const logs = new Map<string, unknown[]>([['log', Array.from({ length: 10 }, (_, i) => entry(i + 1, 1))]]);
    const disk = mapImage(records, logs);
    const boot = (): ReturnType<typeof raftMachine.init> =>
      raftMachine.init(
        'n1',
        config,
        { records, logs: new Map([...logs].map(([name, entries]) => [name, { entries, tornTail: false }])) },
        new Prng(1),
      );
    const s = boot();
    expect([s.log.lastIndex, s.commitIndex, s.durableFirstIndex]).toEqual([24, 24, 25]);
    const effects: Effect[] = [];
    raftMachine.step(
      s,
      { kind: 'start', nowMs: 0, startNonce: 0 },
      { nodeId: 'n1', prng: new Prng(1), emit: (e) => effects.push(e) },
    );
    for (const e of effects) if (e.kind === 'persist') for (const op of e.ops) applyStorageOp(disk, op);
    expect(logs.get('log')).toEqual([]);
    // The next entries land right after the snapshot, and the next start reads them back.
    applyStorageOp(disk, { op: 'append', log: 'log', entries: [entry(25, 3), entry(26, 3)] });
    expect(boot().log.lastIndex).toBe(26);
  });

  it('refuses a log with a hole in it', () => {
    expect(() => raftMachine.init('n1', config, durable([entry(1, 1), entry(3, 1)]), new Prng(1))).toThrow(
      /index 3, expected 2/,
    );
  });
});

describe('config', () => {
  it('profiles are valid and bad fields are named', () => {
    expect(checkRaftConfig(makeRaftConfig('lan', { createFsm: () => new ListFsm() }))).toEqual([]);
    expect(() =>
      makeRaftConfig('sim', { createFsm: () => new ListFsm(), electionTimeoutMsMin: 500, electionTimeoutMsMax: 100 }),
    ).toThrow(RaftConfigError);
    expect(() =>
      makeRaftConfig('sim', { createFsm: () => new ListFsm(), leaseReads: true, checkQuorum: false }),
    ).toThrow(/leaseReads needs checkQuorum/);
    expect(() => makeRaftConfig('sim', { createFsm: () => new ListFsm(), heartbeatIntervalMs: 100 })).toThrow(
      /heartbeatIntervalMs/,
    );
  });
});
