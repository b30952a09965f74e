/**
 * The insides (cli/agent/insides.ts) from hand-built Raft and SWIM views: a leader knows its followers'
 * match index and last answer, and their term only once they answered (Raft §5.1: an answer carries
 * the sender's term); a follower knows only itself and when it last heard the leader; unknowns stay
 * null. The recorder logs each leader change and member status change once, not incarnation bumps.
 */
import { describe, expect, it } from 'vitest';
import { collectMembers, collectServers, InsidesRecorder, namer, type RaftView, type SwimView } from './insides.js';

function raft(over: Partial<RaftView>): RaftView {
  return {
    role: 'follower',
    term: 4,
    leader: 'b',
    commitIndex: 10,
    appliedIndex: 9,
    log: { lastIndex: 11 },
    membership: { voters: ['a', 'b', 'c'], learners: [] },
    progress: new Map(),
    lastLeaderContactMs: 900,
    clockMs: 1000,
    config: { electionTimeoutMsMin: 500 },
    ...over,
  };
}

function swim(members: Record<string, { status: string; incarnation: number }>): SwimView {
  const ids = Object.keys(members);
  return {
    selfId: ids[0]!,
    members: {
      positionCount: ids.length,
      idAt: (p) => ids[p]!,
      get: (id) => (members[id] ? { name: `node-${id}`, tags: {}, ...members[id]! } : undefined),
    },
  };
}

describe('insides', () => {
  it('a follower: itself exactly, the leader by name and term, the rest unknown', () => {
    const rows = collectServers('a', raft({}), (id) => id.toUpperCase());
    expect(rows[0]).toMatchObject({ name: 'A', self: true, role: 'follower', term: 4, commitIndex: 10 });
    expect(rows[0]!.lastContactMs).toBe(100);
    expect(rows[0]!.appliedIndex).toBe(9);
    expect(rows[1]).toMatchObject({ name: 'B', role: 'leader', term: 4, logIndex: null, source: 'none' });
    expect(rows[2]).toMatchObject({ name: 'C', role: null, term: null, lastContactMs: null, source: 'none' });
  });

  it('a leader: followers through its replication state; a silent one is not called a follower', () => {
    const progress = new Map([
      ['b', { match: 11, lastAckMs: 980 }],
      ['c', { match: 3, lastAckMs: 400 }],
    ]);
    const rows = collectServers('a', raft({ role: 'leader', leader: 'a', progress }), (id) => id);
    expect(rows[0]).toMatchObject({ role: 'leader', lastContactMs: 0, source: 'self' });
    expect(rows[1]).toMatchObject({ role: 'follower', term: 4, logIndex: 11, lastContactMs: 20, source: 'leader' });
    // Silent for longer than an election timeout: its role and term are not claimed.
    expect(rows[2]).toMatchObject({ role: null, term: null, logIndex: 3, lastContactMs: 600, source: 'leader' });
    expect(rows[1]!.commitIndex).toBeNull();
  });

  it('lists members with incarnations, skipping reaped ids', () => {
    const view = swim({ a: { status: 'alive', incarnation: 0 }, b: { status: 'suspect', incarnation: 3 } });
    const withReaped: SwimView = {
      ...view,
      members: { ...view.members, positionCount: 3, idAt: (p) => ['a', 'b', 'gone'][p]! },
    };
    expect(collectMembers(withReaped).map((m) => `${m.name}:${m.status}:${m.incarnation}`)).toEqual([
      'node-a:alive:0',
      'node-b:suspect:3',
    ]);
    expect(namer(view)('b')).toBe('node-b');
    expect(namer(view)('zz')).toBe('zz');
  });

  it('records each leader change and status change once', () => {
    const r = new InsidesRecorder();
    const members = { a: { status: 'alive', incarnation: 0 }, b: { status: 'alive', incarnation: 0 } };
    r.observe(1, raft({ leader: null, term: 1 }), swim(members), (id) => id);
    r.observe(2, raft({ leader: 'b', term: 2 }), swim(members), (id) => id);
    r.observe(3, raft({ leader: 'b', term: 2 }), swim(members), (id) => id);
    r.observe(
      4,
      raft({ leader: 'b', term: 2 }),
      swim({ ...members, b: { status: 'alive', incarnation: 1 } }),
      (id) => id,
    );
    r.observe(
      5,
      raft({ leader: null, term: 3 }),
      swim({ ...members, b: { status: 'failed', incarnation: 1 } }),
      (id) => id,
    );
    expect(r.events.map((e) => `${e.atMs} ${e.kind} ${e.text}`)).toEqual([
      '1 member node-b is alive (incarnation 0)',
      '2 leader b leads at term 2',
      '5 leader no known leader at term 3',
      '5 member node-b is failed (incarnation 1)',
    ]);
  });
});
