/**
 * Each per-step Raft rule can fail: fed a hand-made node (a durable state at start, an input, the
 * effects of one step and the state after it) that breaks one rule, the checker names the rule; fed
 * the correct variant of the same step, it stays silent. The mutation table of
 * docs/mutation-testing.md shows the same rules catching planted bugs in whole simulations.
 */
import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../core/raft/log.js';
import type { Entry, RaftMessage } from '../../core/raft/messages.js';
import type { RaftState } from '../../core/raft/raft.js';
import type { DurableState, Effect, Input } from '../../core/types.js';
import { RaftClusterChecker } from './raft.js';

const e = (index: number, term: number): Entry => ({ index, term, type: 'command', command: `c${index}` });

function node(
  role: RaftState['role'],
  term: number,
  entries: Entry[],
  commit: number,
  voters = ['n1', 'n2', 'n3'],
  vote: string | null = role === 'leader' || role === 'candidate' ? 'n1' : null,
) {
  const log = new RaftLog();
  for (const entry of entries) log.append(entry);
  return {
    role,
    term,
    leader: role === 'leader' ? 'n1' : 'n2',
    vote,
    log,
    commitIndex: commit,
    appliedIndex: commit,
    snapshot: null,
    membership: { voters, learners: [] },
    config: { leaseReads: false },
  } as unknown as RaftState;
}

function disk(term: number, vote: string | null, entries: Entry[]): DurableState {
  return {
    records: new Map([['raft/hardState', { term, vote }]]),
    logs: new Map([['raft/log', { entries, tornTail: false }]]),
  };
}

const message = (from: string, p: RaftMessage): Input<unknown, unknown> => ({
  kind: 'message',
  nowMs: 0,
  from,
  message: { m: 'raft', p },
});
const send = (to: string, p: RaftMessage): Effect => ({ kind: 'send', to, message: { m: 'raft', p } });
const hardState = (term: number, vote: string | null): Effect => ({
  kind: 'persist',
  ops: [{ op: 'put', key: 'raft/hardState', value: { term, vote, commit: 0 } }],
});
const request = { type: 'vote', term: 3, lastIndex: 1, lastTerm: 1, preVote: false, transfer: false } as const;
const grant = { type: 'voteReply', term: 3, granted: true, preVote: false } as const;

/** One step of n1: start (if given), then the input, the effects, and the state after it. */
function step(c: RaftClusterChecker, s: RaftState, input: Input<unknown, unknown>, effects: Effect[]): string | null {
  c.onInput('n1', input);
  for (const effect of effects) {
    const problem = c.onEffect('n1', effect, s, 'p1');
    if (problem) return problem;
  }
  return c.afterStep('n1', s, 'p1');
}

/** A follower's acknowledgement of entry 1 at `term`. */
const appendAck = (term: number) =>
  ({
    type: 'appendReply',
    term,
    success: true,
    matchIndex: 1,
    rejectIndex: 0,
    hintIndex: 0,
    hintTerm: 0,
    readSeq: 0,
  }) as const;

describe('Raft rule checkers (sim/checkers/raft-rules.ts)', () => {
  it('ORDERING RULE: a vote granted before it is persisted', () => {
    for (const persisted of [true, false]) {
      const c = new RaftClusterChecker();
      c.onNodeStart('n1', disk(2, null, [e(1, 1)]));
      const effects = persisted ? [hardState(3, 'n2'), send('n2', grant)] : [send('n2', grant)];
      const problem = step(c, node('follower', 3, [e(1, 1)], 0, undefined, 'n2'), message('n2', request), effects);
      if (persisted) expect(problem).toBeNull();
      else expect(problem).toMatch(/ORDERING RULE: n1 sent voteReply to n2 at term 3 before persisting the term/);
    }
  });

  it('membership: a learner asks for a pre-vote (thesis §4.2.1: non-voting members take no part in elections)', () => {
    // n1 times out and polls n2 for term 3. As a voter it may; as a learner of its configuration it may not.
    const poll = { ...request, preVote: true } as const;
    const timeout: Input<unknown, unknown> = { kind: 'timer', nowMs: 0, timer: 'raft:election' };
    for (const learner of [false, true]) {
      const c = new RaftClusterChecker();
      c.onNodeStart('n1', disk(2, null, [e(1, 1)]));
      const s = node('precandidate', 2, [e(1, 1)], 0, learner ? ['n2', 'n3'] : ['n1', 'n2', 'n3']);
      if (learner) (s as { membership: unknown }).membership = { voters: ['n2', 'n3'], learners: ['n1'] };
      const problem = step(c, s, timeout, [send('n2', { ...poll })]);
      if (learner) expect(problem).toMatch(/membership: n1, a learner of its configuration .* asked n2 for a pre-vote/);
      else expect(problem).toBeNull();
    }
  });

  it('ORDERING RULE: an AppendEntries acknowledged before its entries are written', () => {
    const c = new RaftClusterChecker();
    c.onNodeStart('n1', disk(2, null, [e(1, 1)]));
    const append = { type: 'append', term: 2, prevIndex: 1, prevTerm: 1, entries: [e(2, 2)], commit: 0, readSeq: 0 };
    const ack = {
      type: 'appendReply',
      term: 2,
      success: true,
      matchIndex: 2,
      rejectIndex: 0,
      hintIndex: 0,
      hintTerm: 0,
      readSeq: 0,
    } as const;
    expect(
      step(c, node('follower', 2, [e(1, 1), e(2, 2)], 0), message('n2', append as RaftMessage), [send('n2', ack)]),
    ).toMatch(/ORDERING RULE: n1 acknowledged index 2 to n2 before writing entry 2/);
  });

  it('§5.4.1: a vote granted to a candidate whose log is behind', () => {
    const c = new RaftClusterChecker();
    c.onNodeStart('n1', disk(2, null, [e(1, 1), e(2, 2)]));
    const problem = step(c, node('follower', 3, [e(1, 1), e(2, 2)], 0), message('n2', request), [
      hardState(3, 'n2'),
      send('n2', grant),
    ]);
    expect(problem).toMatch(/§5\.4\.1: n1 granted its vote at term 3 to n2/);
  });

  it('one vote per term, across a restart that lost the vote', () => {
    const c = new RaftClusterChecker();
    c.onNodeStart('n1', disk(2, null, [e(1, 1)]));
    expect(
      step(c, node('follower', 3, [e(1, 1)], 0, undefined, 'n2'), message('n2', request), [
        hardState(3, 'n2'),
        send('n2', grant),
      ]),
    ).toBeNull();
    c.onNodeStart('n1', disk(3, null, [e(1, 1)])); // the restarted process forgot its vote
    c.onInput('n1', message('n3', request));
    expect(c.onEffect('n1', hardState(3, 'n3'), node('follower', 3, [e(1, 1)], 0), 'p2')).toBeNull();
    expect(c.onEffect('n1', send('n3', grant), node('follower', 3, [e(1, 1)], 0), 'p2')).toMatch(
      /one vote per term: n1 granted its vote at term 3 to n2 and to n3/,
    );
  });

  it('a process started on an empty (replaced) disk is a new server: its votes are its own', () => {
    const c = new RaftClusterChecker();
    c.onNodeStart('n1', disk(2, null, [e(1, 1)]));
    expect(
      step(c, node('follower', 3, [e(1, 1)], 0, undefined, 'n2'), message('n2', request), [
        hardState(3, 'n2'),
        send('n2', grant),
      ]),
    ).toBeNull();
    c.onNodeStart('n1', { records: new Map(), logs: new Map() }); // the disk was replaced
    c.onInput('n1', message('n3', request));
    expect(c.onEffect('n1', hardState(3, 'n3'), node('follower', 3, [e(1, 1)], 0), 'p2')).toBeNull();
    expect(c.onEffect('n1', send('n3', grant), node('follower', 3, [e(1, 1)], 0), 'p2')).toBeNull();
  });

  it('§5.4.2: a leader commits by counting replicas of an earlier-term entry', () => {
    const c = new RaftClusterChecker();
    c.onNodeStart('n1', disk(4, 'n1', [e(1, 1), e(2, 2), e(3, 4)]));
    const tick: Input<unknown, unknown> = { kind: 'timer', nowMs: 0, timer: 'raft:heartbeat' };
    expect(step(c, node('leader', 4, [e(1, 1), e(2, 2), e(3, 4)], 1), tick, [])).toBeNull();
    expect(step(c, node('leader', 4, [e(1, 1), e(2, 2), e(3, 4)], 2), tick, [])).toMatch(
      /§5\.4\.2: leader n1 of term 4 advanced its commit index 1 → 2 onto an entry of term 2/,
    );
  });

  it('a follower commit past what the AppendEntries matched', () => {
    const c = new RaftClusterChecker();
    const entries = [e(1, 1), e(2, 1), e(3, 1)];
    c.onNodeStart('n1', disk(2, null, entries));
    const tick: Input<unknown, unknown> = { kind: 'timer', nowMs: 0, timer: 'raft:election' };
    expect(step(c, node('follower', 2, entries, 0), tick, [])).toBeNull();
    const heartbeat = { type: 'append', term: 2, prevIndex: 1, prevTerm: 1, entries: [], commit: 3, readSeq: 0 };
    const ack = appendAck(2);
    expect(
      step(c, node('follower', 2, entries, 3), message('n2', heartbeat as RaftMessage), [send('n2', ack)]),
    ).toMatch(/follower commit: n1 advanced its commit index 0 → 3 past what the AppendEntries from n2 matched/);
  });

  it('log terms disagree with the snapshot at its boundary', () => {
    const c = new RaftClusterChecker();
    const s = node('follower', 3, [e(1, 1), e(2, 2), e(3, 2)], 2);
    (s as { snapshot: unknown }).snapshot = { lastIndex: 2, lastTerm: 3, membership: null, data: '' };
    c.onNodeStart('n1', disk(3, null, []));
    expect(step(c, s, { kind: 'timer', nowMs: 0, timer: 'raft:election' }, [])).toMatch(
      /log terms: n1 holds term 2 at index 2, its snapshot there has term 3/,
    );
  });

  it('a leader elected without a quorum of granted votes of its term', () => {
    const c = new RaftClusterChecker();
    c.onNodeStart('n1', disk(3, 'n1', [e(1, 1)]));
    const tick: Input<unknown, unknown> = { kind: 'timer', nowMs: 0, timer: 'raft:election' };
    expect(step(c, node('candidate', 3, [e(1, 1)], 0), tick, [])).toBeNull();
    const stale = { type: 'voteReply', term: 2, granted: true, preVote: false } as const; // a grant of an earlier term
    expect(step(c, node('leader', 3, [e(1, 1)], 0), message('n2', stale), [])).toMatch(
      /election: n1 became leader of term 3 with 1 granted votes/,
    );
  });

  it('check-quorum: a leader that heard from no quorum for 2 × window + 2 heartbeats leads on (the rule was dead until its clock was read)', () => {
    // n1 leads term 3 with check-quorum on (window = electionTimeoutMsMin = 100 ms, heartbeat 10 ms):
    // the bound is 2 × 100 + 2 × 10 = 220 ms. Heartbeats every 10 ms; in the correct variant n2 answers
    // every 50 ms; in the starved variant the node stalls 300 ms and the window starts again there.
    for (const variant of ['alone', 'answered', 'starved'] as const) {
      const c = new RaftClusterChecker();
      c.onNodeStart('n1', disk(3, 'n1', [e(1, 3)]));
      const s = node('leader', 3, [e(1, 3)], 1);
      (s as { config: unknown }).config = {
        leaseReads: false,
        checkQuorum: true,
        electionTimeoutMsMin: 100,
        heartbeatIntervalMs: 10,
      };
      const ack = appendAck(3);
      let problem: string | null = null;
      for (let nowMs = 10; nowMs <= 400 && !problem; nowMs += 10) {
        if (variant === 'starved' && nowMs > 10 && nowMs < 300) continue;
        if (variant === 'answered' && nowMs % 50 === 0)
          problem = step(c, s, { kind: 'message', nowMs, from: 'n2', message: { m: 'raft', p: ack } }, []);
        problem ||= step(c, s, { kind: 'timer', nowMs, timer: 'raft:heartbeat' }, []);
      }
      if (variant === 'alone')
        expect(problem).toMatch(
          /check-quorum: n1 still leads term 3 at 2[2-3]0\.0 ms having heard from only 1 of its 3 voters/,
        );
      else if (variant === 'answered') expect(problem ?? null).toBeNull();
      // Starved from 10 to 300 ms: the window restarts at 300, so the first verdict is at 530 ms, past the run.
      else expect(problem ?? null).toBeNull();
    }
  });
});

describe('rule 6 and the disregard rule', () => {
  it('a RequestVote of a newer term carrying the transfer flag must raise the term; without the flag the disregard rule may refuse it (round G: G06)', () => {
    for (const transfer of [false, true]) {
      const c = new RaftClusterChecker();
      c.onNodeStart('n1', disk(3, null, [e(1, 3)]));
      const vote = { type: 'vote', term: 4, lastIndex: 1, lastTerm: 3, preVote: false, transfer } as const;
      // n1 heard from its leader n2 a moment ago and refuses at its own term 3 (the disregard rule).
      const refusal = { type: 'voteReply', term: 3, granted: false, preVote: false } as const;
      const follower = node('follower', 3, [e(1, 3)], 1);
      expect(step(c, follower, { kind: 'timer', nowMs: 0, timer: 'raft:election' }, [])).toBeNull();
      const problem = step(c, follower, message('n3', vote), [send('n3', refusal)]);
      if (transfer) expect(problem).toMatch(/§5\.1: n1 received vote of term 4 from n3 and stayed at term 3/);
      else expect(problem).toBeNull();
    }
  });
});

describe('rule 10 the other way: a check-quorum step-down', () => {
  it('a leader that steps down for lack of a quorum while a quorum answered within half a window is caught (round G: G03)', () => {
    // n1 leads term 3 of n1, n2, n3 with check-quorum on (window 100 ms); n2 answers at 100 ms, and at
    // 120 ms n1's heartbeat steps it down (traced raft.steppedDownNoQuorum). With n2 heard 20 ms
    // before, n1 and n2 are a quorum: the step-down is wrong. Heard 80 ms before (past half the window),
    // the checker leaves the verdict to the node.
    for (const heardAtMs of [100, 40]) {
      const c = new RaftClusterChecker();
      c.onNodeStart('n1', disk(3, 'n1', [e(1, 3)]));
      const config = { leaseReads: false, checkQuorum: true, electionTimeoutMsMin: 100, heartbeatIntervalMs: 10 };
      const leader = node('leader', 3, [e(1, 3)], 1);
      (leader as { config: unknown }).config = config;
      const ack = appendAck(3);
      let problem: string | null = null;
      for (let nowMs = 10; nowMs <= 110; nowMs += 10) {
        if (nowMs === heardAtMs)
          problem ||= step(c, leader, { kind: 'message', nowMs, from: 'n2', message: { m: 'raft', p: ack } }, []);
        problem ||= step(c, leader, { kind: 'timer', nowMs, timer: 'raft:heartbeat' }, []);
      }
      expect(problem).toBeNull();
      const follower = node('follower', 3, [e(1, 3)], 1, undefined, 'n1');
      (follower as { config: unknown }).config = config;
      const stepDown: Effect = {
        kind: 'trace',
        event: { type: 'raft.steppedDownNoQuorum', node: 'n1', term: 3, windowMs: 100 },
      } as unknown as Effect;
      problem = step(c, follower, { kind: 'timer', nowMs: 120, timer: 'raft:heartbeat' }, [stepDown]);
      if (heardAtMs === 100)
        expect(problem).toMatch(
          /check-quorum: n1 stepped down from leading term 3 for lack of a quorum, but 2 of its 3 voters \(itself, n2\)/,
        );
      else expect(problem).toBeNull();
    }
  });
});

describe('rule 11, recovery', () => {
  it('a restarted node that does not hold the vote it wrote is caught at its start step (R12: vote dropped on load)', () => {
    // n1 voted for itself at term 3 (a candidate that crashed); the restarted process must hold that vote.
    for (const loadedVote of ['n1', null]) {
      const c = new RaftClusterChecker();
      c.onNodeStart('n1', disk(3, 'n1', [e(1, 1)]));
      const problem = step(
        c,
        node('follower', 3, [e(1, 1)], 0, undefined, loadedVote),
        { kind: 'start', nowMs: 0, startNonce: 0 },
        [],
      );
      if (loadedVote === 'n1') expect(problem).toBeNull();
      else expect(problem).toMatch(/recovery: n1 holds term 3, vote none .* has written term 3, vote n1/);
    }
  });

  it('a term raised in memory and never written is caught at the end of the step', () => {
    const c = new RaftClusterChecker();
    c.onNodeStart('n1', disk(2, null, [e(1, 1)]));
    const tick: Input<unknown, unknown> = { kind: 'timer', nowMs: 0, timer: 'raft:election' };
    expect(step(c, node('follower', 3, [e(1, 1)], 0), tick, [])).toMatch(/recovery: n1 holds term 3, vote none/);
    expect(step(c, node('follower', 3, [e(1, 1)], 0), tick, [hardState(3, null)])).toBeNull();
  });
});

describe('grants that never left', () => {
  it('a vote reply held behind its persist and dropped by a crash is no grant (disk-replaced-swarm seed 6824)', async () => {
    // n3 granted its term-2 vote to n1, crashed before the vote synced (the reply waited for it and
    // died with the process), restarted without the vote and granted term 2 to n2: correct Raft, which
    // the rule once called "one vote per term: n3 granted its vote at term 2 to n1 and to n2".
    const { loadScenario, runLoaded } = await import('../run.js');
    const loaded = await loadScenario(
      new URL('../../scenarios/raft/disk-replaced-swarm.txt', import.meta.url).pathname,
    );
    const r = runLoaded(loaded, 6824);
    expect(r.violations.filter((v) => /one vote per term|holds a vote for/.test(v))).toEqual([]);
  });
  it('rule 12: a leadership transfer to a non-voter is refused at once', () => {
    const transfer = (to: string): Input<unknown, unknown> => ({
      kind: 'request',
      nowMs: 0,
      requestId: 7,
      request: { machine: 'raft', body: { type: 'transferLeadership', to } },
    });
    const answer = (response: unknown): Effect => ({ kind: 'reply', requestId: 7, response });
    const refused = { ok: false, error: 'badRequest', leader: null, detail: 'n4 is not a voter' };
    const accepted = { ok: true, index: 3, result: { transferredTo: 'n4' } };
    const run = (to: string, effects: Effect[]): string | null => {
      const c = new RaftClusterChecker();
      c.onNodeStart('n1', disk(2, 'n1', [e(1, 2)]));
      const s = node('leader', 2, [e(1, 2)], 1);
      c.onInput('n1', transfer(to), s);
      for (const effect of effects) {
        const problem = c.onEffect('n1', effect, s, 'p1');
        if (problem) return problem;
      }
      return c.afterStep('n1', s, 'p1');
    };
    expect(run('n4', [answer(refused)])).toBeNull();
    expect(run('n4', [answer(accepted)])).toMatch(/transfer: n1 answered a leadership transfer to n4, not a voter/);
    // Accepted and left waiting (it would time out two election timeouts later).
    expect(run('n4', [])).toMatch(/transfer: n1 \(leader at term 2\) accepted a leadership transfer to n4/);
    // A voter: accepted without an answer yet (the target campaigns once caught up).
    expect(run('n2', [])).toBeNull();
    // The leader itself: a no-op, answered ok.
    expect(run('n1', [answer({ ok: true, index: 1, result: { transferredTo: 'n1' } })])).toBeNull();
  });
});

describe('rule 9, identity clause (round P)', () => {
  it('a configuration entry that records a member under a new server id in place of the one on record (P06)', () => {
    // n1 leads at term 2 with n2 on record as `b`; n2 came back with an empty disk as `z`. The leader adds
    // learner n4: the new entry must keep n2's recorded id (a swap is a removal and an addition, two changes).
    const ids = { n1: 'a', n2: 'b', n3: 'c' };
    const first: Entry = {
      index: 1,
      term: 1,
      type: 'config',
      config: { voters: ['n1', 'n2', 'n3'], learners: [], ids },
    };
    for (const n2 of ['b', 'z']) {
      const change: Entry = {
        index: 3,
        term: 2,
        type: 'config',
        config: { voters: ['n1', 'n2', 'n3'], learners: ['n4'], ids: { ...ids, n2, n4: 'd' } },
      };
      const c = new RaftClusterChecker();
      c.onNodeStart('n1', disk(2, 'n1', [first, e(2, 2)]));
      const s = node('leader', 2, [first, e(2, 2), change], 2);
      const timer: Input<unknown, unknown> = { kind: 'timer', nowMs: 0, timer: 'raft:heartbeat' };
      const problem = step(c, s, timer, [
        { kind: 'persist', ops: [{ op: 'append', log: 'raft/log', entries: [change] }] },
      ]);
      if (n2 === 'b') expect(problem).toBeNull();
      else
        expect(problem).toMatch(
          /membership: leader n1 appended a configuration entry at 3 that records n2 under server id z in place of b/,
        );
    }
  });
});
