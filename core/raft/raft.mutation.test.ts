/**
 * Raft rules that the random fault schedules of sim/test/raft.prop.test.ts reach only by luck, each
 * driven by hand with ManualCluster so that the one schedule showing the rule is always run. Written
 * from mutation testing (docs/mutation-testing.md): each test failed on a planted bug that every
 * other test let through. Each test checks behaviour at the node's boundary (messages in, replies,
 * applies and the durable state out), not the code that implements it.
 */
import { describe, expect, it } from 'vitest';
import type { AppendEntries, InstallSnapshot, RequestVote } from './messages.js';
import { ListFsm, ManualCluster, type InFlight } from './testkit.js';

const voteTraffic = (m: InFlight) => m.message.type === 'vote' || m.message.type === 'voteReply';

function settled(c: ManualCluster, leader: string): void {
  c.deliver();
  c.fire(leader, 'heartbeat');
  c.deliver();
}

/** Delivers one raft message straight to `to`; a RequestVote well after any leader contact (past the disregard rule). */
function hand(
  c: ManualCluster,
  to: string,
  from: string,
  message: RequestVote | AppendEntries | InstallSnapshot,
): void {
  c.nowMs += message.type === 'vote' ? 5_000 : 1;
  // Sent as `from` would send it: stamped with its server id (identity.ts).
  const stamped = { ...message, sid: c.state(from).serverId };
  c.step(to, { kind: 'message', nowMs: c.nowMs, from, message: { m: 'raft', p: stamped } });
}

/** The vote replies `to` sent `from` that are still in flight, answered granted or not. */
function votesFrom(c: ManualCluster, voter: string, candidate: string): boolean[] {
  return c.inFlight
    .filter((m) => m.from === voter && m.to === candidate && m.message.type === 'voteReply')
    .map((m) => (m.message as { granted: boolean }).granted);
}

const items = (c: ManualCluster, id: string): unknown[] => (c.state(id).fsm as ListFsm).items;

describe('votes (§5.2, §5.4.1, Figure 2)', () => {
  it('one vote per term survives a crash even when the term was already durable before the vote', () => {
    const c = new ManualCluster(3, { preVote: false });
    c.elect('n1');
    settled(c, 'n1');
    const term = c.state('n2').term + 1;
    const up = { lastIndex: 100, lastTerm: term - 1 };
    // n2 first learns `term` from a candidate whose log is behind (refused; the term is persisted) …
    hand(c, 'n2', 'n3', { type: 'vote', term, lastIndex: 0, lastTerm: 0, preVote: false, transfer: false });
    expect(votesFrom(c, 'n2', 'n3')).toEqual([false]);
    // … then grants n1 in the same term, and crashes right after the reply left.
    hand(c, 'n2', 'n1', { type: 'vote', term, ...up, preVote: false, transfer: false });
    expect(votesFrom(c, 'n2', 'n1')).toEqual([true]);
    c.drop();
    c.crash('n2');
    c.restart('n2');
    expect(c.state('n2').term).toBe(term);
    // A second candidate of the same term must be refused: Figure 2 persists votedFor before replying.
    hand(c, 'n2', 'n3', { type: 'vote', term, ...up, preVote: false, transfer: false });
    expect(votesFrom(c, 'n2', 'n3')).toEqual([false]);
  });

  it('up-to-date compares the last term first, the length only within one term (§5.4.1)', () => {
    const c = new ManualCluster(3, { preVote: false });
    c.elect('n1');
    settled(c, 'n1');
    for (const command of ['a', 'b']) c.request('n1', { type: 'propose', command });
    c.deliver();
    const myLastTerm = c.state('n2').log.lastTerm;
    const myLastIndex = c.state('n2').log.lastIndex;
    const term = c.state('n2').term + 1;
    // A longer log that ends in an older term is less up to date.
    hand(c, 'n2', 'n3', {
      type: 'vote',
      term,
      lastIndex: myLastIndex + 50,
      lastTerm: myLastTerm - 1,
      preVote: false,
      transfer: false,
    });
    expect(votesFrom(c, 'n2', 'n3')).toEqual([false]);
    c.drop();
    // A shorter log that ends in a newer term is more up to date.
    hand(c, 'n2', 'n3', {
      type: 'vote',
      term: term + 1,
      lastIndex: 1,
      lastTerm: myLastTerm + 1,
      preVote: false,
      transfer: false,
    });
    expect(votesFrom(c, 'n2', 'n3')).toEqual([true]);
  });

  it('a pre-vote changes nothing: a server that voted in a term still refuses the pre-vote candidate in that term (§9.6)', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    const term = c.state('n2').term + 1;
    const up = { lastIndex: 100, lastTerm: term - 1, transfer: false };
    hand(c, 'n2', 'n1', { type: 'vote', term, ...up, preVote: false });
    expect(votesFrom(c, 'n2', 'n1')).toEqual([true]);
    c.drop();
    hand(c, 'n2', 'n3', { type: 'vote', term: term + 1, ...up, preVote: true });
    expect(votesFrom(c, 'n2', 'n3')).toEqual([true]);
    c.drop();
    // n3's real RequestVote for `term` (delayed in the network) must not get a second vote.
    hand(c, 'n2', 'n3', { type: 'vote', term, ...up, preVote: false });
    expect(votesFrom(c, 'n2', 'n3')).toEqual([false]);
  });

  it('a grant from an earlier term does not count toward a later election (§5.2)', () => {
    const c = new ManualCluster(3, { preVote: false });
    c.fire('n1', 'election');
    c.deliver((m) => m.to === 'n2' && m.message.type === 'vote');
    const staleGrant = c.inFlight.filter((m) => m.from === 'n2' && m.message.type === 'voteReply');
    expect(staleGrant.map((m) => (m.message as { granted: boolean }).granted)).toEqual([true]);
    c.drop((m) => m.from !== 'n2');
    // n1 times out again (its grant from n2 is still in the network) and starts a later election.
    c.fire('n1', 'election');
    expect(c.state('n1').role).toBe('candidate');
    c.drop((m) => m.from === 'n1');
    c.deliver((m) => m.from === 'n2' && m.to === 'n1');
    expect(c.state('n1').role).toBe('candidate');
    // n2 is free to elect n3 in the later term: had n1 counted the old grant there would be two leaders.
    c.fire('n3', 'election');
    c.deliver((m) => voteTraffic(m) && m.from !== 'n1' && m.to !== 'n1');
    const leaders = c.ids.filter((id) => c.state(id).role === 'leader').map((id) => c.state(id).term);
    expect(new Set(leaders).size).toBe(leaders.length);
  });

  it('four voters need three votes: two cannot elect a leader (quorum is a strict majority)', () => {
    const c = new ManualCluster(4);
    expect(c.elect('n1', ['n1', 'n2'])).toBe(false);
    expect(c.leaders()).toEqual([]);
    expect(c.elect('n1', ['n1', 'n2', 'n3'])).toBe(true);
    settled(c, 'n1');
    // With four voters an entry stored on two of them is not committed.
    c.drop();
    const id = c.request('n1', { type: 'propose', command: 'half' });
    c.deliver((m) => (m.from === 'n1' && m.to === 'n2') || (m.from === 'n2' && m.to === 'n1'));
    expect(c.replies.has(id)).toBe(false);
    expect(items(c, 'n1')).toEqual([]);
  });
});

describe('commit on a follower (Figure 2: min(leaderCommit, index of last new entry))', () => {
  it("a follower never commits its own stale suffix past what the leader's message matched", () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    // n1 writes 'stale' that reaches nobody, then is cut off; n2 leads term 3 and commits 'good'.
    c.request('n1', { type: 'propose', command: 'stale' });
    c.drop();
    c.crash('n1');
    expect(c.elect('n2', ['n2', 'n3'])).toBe(true);
    settled(c, 'n2');
    c.request('n2', { type: 'propose', command: 'good' });
    c.deliver((m) => m.to !== 'n1');
    const n2 = c.state('n2');
    expect(n2.commitIndex).toBe(n2.log.lastIndex);
    c.restart('n1');
    c.drop();
    // An empty AppendEntries anchored where n1 and n2 agree, carrying n2's commit index (a heartbeat
    // anchored at the match point): n1's entries after the anchor are not vouched for by it.
    const anchor = c.state('n1').log.lastIndex - 1;
    expect(c.state('n1').log.termAt(anchor)).toBe(n2.log.termAt(anchor));
    hand(c, 'n1', 'n2', {
      type: 'append',
      term: n2.term,
      prevIndex: anchor,
      prevTerm: n2.log.termAt(anchor)!,
      entries: [],
      commit: n2.commitIndex,
      readSeq: 0,
    });
    expect(items(c, 'n1')).not.toContain('stale');
    expect(c.state('n1').commitIndex).toBeLessThanOrEqual(anchor);
    // And once everything is delivered every server applied the same commands.
    c.fire('n2', 'heartbeat');
    c.deliver();
    for (const id of c.ids) expect(items(c, id)).toEqual(['good']);
  });
});

describe('ReadIndex (thesis §6.4) against a newer leader', () => {
  it('a deposed leader does not answer a read on acknowledgements of a round older than the read', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    c.request('n1', { type: 'propose', command: 'w1' });
    c.deliver();
    // A heartbeat round reaches n2 and n3; their acks are still on the way back when a read arrives.
    c.fire('n1', 'heartbeat');
    c.deliver((m) => m.from === 'n1');
    const read = c.request('n1', { type: 'read', query: null });
    c.drop((m) => m.from === 'n1');
    // Meanwhile n2 and n3 elect n2, which acknowledges a write n1 does not have.
    expect(c.elect('n2', ['n2', 'n3'])).toBe(true);
    const write = c.request('n2', { type: 'propose', command: 'w2' });
    c.deliver((m) => m.from !== 'n1' && m.to !== 'n1');
    expect(c.replies.get(write)).toMatchObject({ ok: true });
    // The old acks arrive at n1: they predate the read, so they confirm nothing about it.
    c.deliver((m) => m.to === 'n1' && m.message.type === 'appendReply');
    const answer = c.replies.get(read);
    if (answer?.ok) expect(answer.result).toContain('w2');
  });

  it('a new leader answers a read only after its own no-op commits, so it sees writes the old leader acknowledged', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    // 'w' reaches n2 only; n2's ack with n1's own (its write is durable) commits it at n1 and the
    // client is answered, but n2 does not learn the new commit index before n1 crashes.
    const write = c.request('n1', { type: 'propose', command: 'w' });
    c.deliver(
      (m) =>
        (m.from === 'n1' &&
          m.to === 'n2' &&
          m.message.type === 'append' &&
          (m.message as AppendEntries).entries.length > 0) ||
        (m.from === 'n2' && m.to === 'n1') ||
        (m.from === 'n1' && m.to === 'n1'),
    );
    expect(c.replies.get(write)).toMatchObject({ ok: true });
    c.drop();
    c.crash('n1');
    expect(c.elect('n2', ['n2', 'n3'])).toBe(true);
    const read = c.request('n2', { type: 'read', query: null });
    c.deliver();
    c.fire('n2', 'heartbeat');
    c.deliver();
    expect(c.replies.get(read)).toMatchObject({ ok: true, result: ['w'] });
  });
});

describe('terms on every message (§5.1)', () => {
  it('a deposed leader steps down at the first reply that carries a newer term', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    c.drop();
    expect(c.elect('n2', ['n2', 'n3'])).toBe(true);
    c.drop((m) => m.to === 'n1');
    // n1 has not noticed yet; its next append reaches n2, whose refusal carries the newer term.
    expect(c.state('n1').role).toBe('leader');
    c.request('n1', { type: 'propose', command: 'late' });
    c.drop((m) => m.to === 'n3');
    c.deliver(
      (m) =>
        (m.from === 'n1' && m.to === 'n2') || (m.from === 'n2' && m.to === 'n1' && m.message.type === 'appendReply'),
    );
    expect(c.state('n1').role).toBe('follower');
    expect(c.state('n1').term).toBe(c.state('n2').term);
  });

  it('an InstallSnapshot from an older term changes nothing: the current leader keeps leading', () => {
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    const term = c.state('n1').term;
    hand(c, 'n1', 'n2', {
      type: 'snapshot',
      term: term - 1,
      lastIndex: 1_000,
      lastTerm: term - 1,
      membership: { voters: c.ids, learners: [] },
      offset: 0,
      data: '',
      totalChars: 0,
      readSeq: 0,
    });
    expect(c.state('n1').role).toBe('leader');
    expect(c.state('n1').leader).toBe('n1');
  });
});

describe('replies from an earlier term (§5.1)', () => {
  it('a leader re-elected later ignores an ack it got as leader of an earlier term: no entry is acknowledged before a majority stores it', () => {
    const c = new ManualCluster(5, { inflightAppendsMax: 64 });
    const among = (ids: string[]) => (m: InFlight) => ids.includes(m.from) && ids.includes(m.to);
    c.elect('n1');
    settled(c, 'n1');
    // Term A: n1 writes 3..10; only n2 stores them, and n2's acks are held up in the network.
    for (let i = 0; i < 8; i++) c.request('n1', { type: 'propose', command: `a${i}` });
    c.deliver((m) => m.from === 'n1' && m.to === 'n2' && m.message.type === 'append');
    const held = c.inFlight.filter((m) => m.from === 'n2' && m.to === 'n1' && m.message.type === 'appendReply');
    expect(held.length).toBeGreaterThan(0);
    c.drop();
    // Term B: n3 leads with n4, n5 and overwrites n2's index 3; n1 rejoins and is cut back too.
    expect(c.elect('n3', ['n3', 'n4', 'n5'])).toBe(true);
    c.deliver(among(['n2', 'n3', 'n4', 'n5']));
    c.fire('n3', 'heartbeat');
    c.deliver();
    expect(c.state('n2').log.lastIndex).toBeLessThan(10);
    expect(c.state('n1').log.lastIndex).toBe(c.state('n3').log.lastIndex);
    // Term C: n3 crashes; n1 leads with n4, n5 and writes 5..10, which reach n4 only.
    c.crash('n3');
    c.drop();
    expect(c.elect('n1', ['n1', 'n4', 'n5'])).toBe(true);
    const ids = Array.from({ length: 6 }, (_, i) => c.request('n1', { type: 'propose', command: `c${i}` }));
    c.deliver(among(['n1', 'n4']));
    c.drop();
    // The acks n2 sent in term A finally arrive: they say nothing about n1's log of term C.
    for (const m of held) c.inFlight.push(m);
    c.deliver((m) => m.from === 'n2' && m.to === 'n1' && m.message.type === 'appendReply');
    for (const id of ids) {
      const reply = c.replies.get(id);
      if (!reply?.ok) continue;
      const index = reply.index;
      const term = c.state('n1').log.termAt(index);
      const holders = c.ids.filter((n) => c.isUp(n) && c.state(n).log.termAt(index) === term).length;
      expect(holders, `entry ${index} acknowledged while stored on ${holders} of 5`).toBeGreaterThanOrEqual(3);
    }
  });
});

describe('ReadIndex rounds across a restart (explore-membership seed 37)', () => {
  it('a refusal of an older-term append echoes no round, and a leader counts no echo of a round it has not started', () => {
    // n1 leads and runs read rounds; one of its appends (round r > 0) to n2 is held in the network.
    const c = new ManualCluster(3);
    c.elect('n1');
    settled(c, 'n1');
    for (let i = 0; i < 4; i++) {
      c.request('n1', { type: 'read', query: null });
      c.deliver();
    }
    c.fire('n1', 'heartbeat');
    const held = c.inFlight.filter((m) => m.from === 'n1' && m.to === 'n2' && m.message.type === 'append');
    expect(held.length).toBeGreaterThan(0);
    const old = held[0]!.message as AppendEntries;
    expect(old.readSeq).toBeGreaterThan(2);
    c.drop();
    // n1 restarts (its rounds count from 0 again) and leads a newer term.
    c.crash('n1');
    c.restart('n1');
    expect(c.elect('n1')).toBe(true);
    c.deliver((m) => m.message.type === 'append' || m.message.type === 'appendReply');
    expect(c.state('n1').readSeq).toBeLessThan(old.readSeq);
    // The held append reaches n2 now: n2 refuses it at the new term, without echoing its round.
    hand(c, 'n2', 'n1', old);
    const refusals = c.inFlight.filter((m) => m.from === 'n2' && m.to === 'n1' && m.message.type === 'appendReply');
    expect(refusals.map((m) => (m.message as { readSeq: number }).readSeq)).toEqual([0]);
    c.deliver();
    const n1 = c.state('n1');
    for (const [, p] of n1.progress) expect(p.readSeq).toBeLessThanOrEqual(n1.readSeq);
    // And on the leader's side: an echo of a round it never started (as an older build would send) is not counted.
    c.step('n1', {
      kind: 'message',
      nowMs: ++c.nowMs,
      from: 'n2',
      message: {
        m: 'raft',
        p: { ...refusals[0]!.message, readSeq: old.readSeq } as unknown,
      },
    });
    expect(c.state('n1').progress.get('n2')!.readSeq).toBeLessThanOrEqual(c.state('n1').readSeq);
    expect(c.invariantFailures).toEqual([]);
  });
});

describe('a follower that lost entries it acknowledged (replication.ts checkLogBelowMatch)', () => {
  it('is probed from the end of its log again when it lost exactly its last acknowledged entry', () => {
    // n2 acknowledged every entry, then came back from a crash one entry short: a disk that lied about
    // the sync of its last append (outside Raft's fault model, which the simulator keeps to; round O's
    // O02 — `hintIndex <= match` → `<` — escaped the explorer for that reason).
    const c = new ManualCluster(3, { preVote: false });
    expect(c.elect('n1')).toBe(true);
    for (let i = 0; i < 3; i++) c.request('n1', { type: 'propose', command: `w${i}` });
    settled(c, 'n1');
    const last = c.state('n1').log.lastIndex;
    expect(c.state('n1').progress.get('n2')!.match).toBe(last);
    c.crash('n2');
    const disk = c.disk('n2');
    const logKey = [...disk.logs.keys()].find((key) => key.endsWith('log'))!;
    disk.logs.get(logKey)!.pop();
    c.restart('n2');
    expect(c.state('n2').log.lastIndex).toBe(last - 1);
    // The leader keeps writing; its stalled appends make it probe n2 at the match point, and n2's
    // refusal there (no entry at `match`, hint = match) must reset its progress, not read as stale.
    for (let round = 0; round < 12; round++) {
      c.request('n1', { type: 'propose', command: `x${round}` });
      c.nowMs += 100;
      settled(c, 'n1');
    }
    expect(c.traces.some((t) => t.includes('lost acknowledged entries'))).toBe(true);
    expect(c.state('n2').log.lastIndex).toBe(c.state('n1').log.lastIndex);
    expect(c.invariantFailures).toEqual([]);
  });
});
