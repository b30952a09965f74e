/**
 * Server ids (identity.ts, issue 13 §2): a server that lost its disk comes back under a new id, and
 * neither its votes nor its acknowledgements count until it is removed and added again. Each test drives
 * a hand-run cluster (testkit.ts) through one rule: the id minted or kept at start, the ids the leader
 * records, a wiped server's vote and ack ignored, no campaign under a stale id, the re-add under the new
 * id, and the leader's reset of a follower whose log ends below its acknowledged match.
 */
import { describe, expect, it } from 'vitest';
import { Prng } from '../prng.js';
import type { DurableState } from '../types.js';
import { checkCanCampaign } from './election.js';
import { RaftLoadError } from './durable.js';
import { identityRecord, settleIdentity } from './identity.js';
import { ManualCluster } from './testkit.js';

const empty = (): DurableState => ({ records: new Map(), logs: new Map() });

/** Replaces `id`'s disk while it is down: everything goes, but the records named in `keep`. */
function wipe(c: ManualCluster, id: string, keep: readonly string[] = []): void {
  const disk = c.disk(id);
  for (const key of [...disk.records.keys()]) if (!keep.some((k) => key.endsWith(k))) disk.records.delete(key);
  disk.logs.clear();
}

/** A settled 3-server cluster led by n1, with `writes` commands committed everywhere. */
function cluster(writes: number): ManualCluster {
  const c = new ManualCluster(3, { preVote: false });
  expect(c.elect('n1')).toBe(true);
  for (let i = 0; i < writes; i++) c.request('n1', { type: 'propose', command: `w${i}` });
  c.deliver();
  c.fire('n1', 'heartbeat');
  c.deliver();
  return c;
}

describe('the server id at start (identity.ts settleIdentity)', () => {
  it('mints an id on an empty data dir, keeps it with the data, and mints again when the data is gone', () => {
    const fresh = settleIdentity(empty(), new Prng(1));
    expect(fresh.serverId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(fresh.ops).toEqual([{ op: 'put', key: identityRecord, value: { id: fresh.serverId } }]);
    expect(fresh.note).toBeNull();
    expect(fresh.lostData).toBe(false);

    const withData: DurableState = {
      records: new Map<string, unknown>([
        [identityRecord, { id: fresh.serverId }],
        ['hardState', { term: 3, vote: null, commit: 0 }],
      ]),
      logs: new Map(),
    };
    // Kept with its data; marked at start when the record is not (the mark, last in the first batch, was
    // torn off, or the dir predates it): an ack of entries already held persists nothing, so the id could
    // count in a quorum with a record that reads as a new server's (disk-replaced-swarm seed 4173).
    expect(settleIdentity(withData, new Prng(2))).toMatchObject({
      serverId: fresh.serverId,
      ops: [{ op: 'put', key: identityRecord, value: { id: fresh.serverId, data: true } }],
      note: null,
      marked: true,
    });
    const markedWithData: DurableState = {
      records: new Map<string, unknown>([...withData.records, [identityRecord, { id: fresh.serverId, data: true }]]),
      logs: new Map(),
    };
    expect(settleIdentity(markedWithData, new Prng(2))).toMatchObject({ serverId: fresh.serverId, ops: [] });

    // The identity survived without any Raft data, and was never marked as having some: the server
    // crashed before its first Raft writes synced, so nothing under this id was acknowledged: keep it
    // (it used to mint a new id and skip bootstrapping: disk-replaced-swarm seeds 648 and 9194 stalled).
    const torn = settleIdentity(
      { records: new Map([[identityRecord, { id: fresh.serverId }]]), logs: new Map() },
      new Prng(6),
    );
    expect(torn).toMatchObject({ serverId: fresh.serverId, ops: [], note: null, lostData: false, marked: false });

    // The marked identity survived, the Raft data did not: the server knows it lost its data.
    const lost = settleIdentity(
      { records: new Map([[identityRecord, { id: fresh.serverId, data: true }]]), logs: new Map() },
      new Prng(3),
    );
    expect(lost.serverId).not.toBe(fresh.serverId);
    expect(lost.lostData).toBe(true);
    expect(lost.note).toMatch(/lost its Raft data: server id \S+ is on disk but no term, log or snapshot/);
    expect(lost.note).toMatch(/operator raft remove-peer/);
    expect(lost.note).not.toMatch(/delete/);
    expect(lost.ops).toEqual([{ op: 'put', key: identityRecord, value: { id: lost.serverId, lost: true } }]);

    // That new id survived a crash before any Raft data was written under it: kept, and still lost.
    const stillLost = settleIdentity(
      { records: new Map([[identityRecord, { id: lost.serverId, lost: true }]]), logs: new Map() },
      new Prng(7),
    );
    expect(stillLost).toMatchObject({ serverId: lost.serverId, ops: [], lostData: true, marked: false });
    expect(stillLost.note).toMatch(/lost its Raft data before this start and has none yet/);
  });

  it('gives a data dir from before ids an id, and refuses a malformed identity record by name', () => {
    const old: DurableState = { records: new Map([['hardState', { term: 2, vote: 'n1' }]]), logs: new Map() };
    const migrated = settleIdentity(old, new Prng(4));
    expect(migrated.lostData).toBe(false);
    expect(migrated.note).toMatch(/no server id on disk \(a data dir from an older version\)/);
    expect(migrated.ops).toEqual([{ op: 'put', key: identityRecord, value: { id: migrated.serverId, data: true } }]);
    const bad: DurableState = { records: new Map([[identityRecord, { id: 7 }]]), logs: new Map() };
    expect(() => settleIdentity(bad, new Prng(5))).toThrow(RaftLoadError);
    expect(() => settleIdentity(bad, new Prng(5))).toThrow(/identity is corrupt: record is malformed/);
  });
});

/**
 * What a crash before the first sync leaves on disk (the sim's torn write keeps a prefix of the first
 * batch: the identity record): `id`'s identity record as it was put at start, nothing else.
 */
function keepOnlyIdentity(c: ManualCluster, id: string, value: unknown): void {
  const disk = c.disk(id);
  const key = [...disk.records.keys()].find((k) => k.endsWith(identityRecord))!;
  disk.records.clear();
  disk.logs.clear();
  disk.records.set(key, value);
}

describe('a crash before any Raft data was written under an id (identity.ts: the record says which)', () => {
  it('a new server that crashed before its first Raft writes synced keeps its id and bootstraps (seeds 648, 9194)', () => {
    // Two of three servers crash before their first sync; before the mark they were taken for servers that
    // lost their data, minted new ids, skipped bootstrapping and granted no vote: no leader, ever.
    const c = new ManualCluster(3, { preVote: false });
    for (const id of ['n2', 'n3']) {
      const serverId = c.state(id).serverId;
      c.crash(id);
      keepOnlyIdentity(c, id, { id: serverId });
      c.restart(id);
      expect(c.state(id)).toMatchObject({ serverId, lostData: false });
      expect(c.state(id).log.lastIndex).toBe(1); // the bootstrap configuration again
      expect(c.traces.some((t) => t.startsWith(`${id} lost its Raft data`))).toBe(false);
    }
    expect(c.elect('n1')).toBe(true);
    expect(c.invariantFailures).toEqual([]);
  });

  it('a server that lost its data and crashed again before any was written under its new id still must not vote (seeds 13, 246)', () => {
    // n3 crashes before its first sync; n1 leads term 2 with n2; n1 loses its disk (identity kept), comes
    // back under a new id and crashes again before the leader ever wrote to it; n2, holding its term-2
    // vote, goes down. With a bare `{ id }` for the new id, n1 came back as a new server: it bootstrapped,
    // granted n3 its vote at term 2, and n3 led term 2 as n1 had.
    const c = new ManualCluster(3, { preVote: false });
    const n3 = c.state('n3').serverId;
    c.crash('n3');
    keepOnlyIdentity(c, 'n3', { id: n3 });
    expect(c.elect('n1', ['n1', 'n2'])).toBe(true);
    const term = c.state('n1').term;
    c.crash('n1');
    wipe(c, 'n1', [identityRecord]);
    c.restart('n1');
    const fresh = c.state('n1').serverId;
    expect(c.state('n1').lostData).toBe(true);
    c.crash('n1');
    c.restart('n1');
    expect(c.state('n1')).toMatchObject({ serverId: fresh, lostData: true });
    expect(c.state('n1').log.lastIndex).toBe(0);
    c.crash('n2');
    c.restart('n3');
    expect(c.state('n3').term).toBeLessThan(term);
    expect(c.elect('n3', ['n1', 'n3'])).toBe(false);
    expect(c.leaders()).toEqual([]);
    expect(c.invariantFailures).toEqual([]);
  });
});

describe('server ids in the configuration', () => {
  it('a new leader records the ids of its members behind its no-op', () => {
    const c = cluster(0);
    const ids = Object.fromEntries(c.ids.map((id) => [id, c.state(id).serverId]));
    for (const id of c.ids) expect(c.state(id).membership.ids).toEqual(ids);
    expect(c.traces.some((t) => t.startsWith('n1 recorded server ids at index 3:'))).toBe(true);
    expect(c.invariantFailures).toEqual([]);
  });

  it("a wiped server's vote does not count: the leader without the acknowledged writes cannot win (§5.4.1 kept)", () => {
    // n1 is down while n2 and n3 acknowledge writes; then n3 loses its disk and n2 is down.
    const c = cluster(0);
    c.crash('n1');
    expect(c.elect('n2', ['n2', 'n3'])).toBe(true);
    for (let i = 0; i < 5; i++) c.request('n2', { type: 'propose', command: `acked${i}` });
    c.deliver((m) => m.to !== 'n1');
    expect(c.state('n2').commitIndex).toBeGreaterThanOrEqual(c.state('n2').log.lastIndex - 1);
    const oldN3 = c.state('n3').serverId;
    c.crash('n2');
    c.crash('n3');
    wipe(c, 'n3');
    c.restart('n1');
    c.restart('n3');
    expect(c.state('n3').serverId).not.toBe(oldN3);
    // n1 asks; the empty n3 grants (its log is behind n1's), but n1 counts no vote from a stranger.
    expect(c.elect('n1', ['n1', 'n3'])).toBe(false);
    expect(
      c.traces.some((t) => /^n1 ignores n3: it answers as server id \S+, but the configuration has n3 as/.test(t)),
    ).toBe(true);
    // n3 itself may not win either: n1 refuses a candidate whose id is not the one on record.
    c.fire('n3', 'election');
    c.deliver((m) => m.from !== 'n2' && m.to !== 'n2');
    expect(c.leaders()).toEqual([]);
    expect(c.invariantFailures).toEqual([]);
  });

  it("a wiped server's acknowledgements do not commit anything; it is replaced under its new id", () => {
    const c = cluster(2);
    const oldN3 = c.state('n3').serverId;
    c.crash('n3');
    wipe(c, 'n3');
    c.restart('n3');
    c.crash('n2'); // only n1 and the empty n3 are up: nothing may commit
    const commit = c.state('n1').commitIndex;
    const id = c.request('n1', { type: 'propose', command: 'not-yet' });
    for (let i = 0; i < 3; i++) {
      c.fire('n1', 'heartbeat');
      c.deliver();
    }
    expect(c.state('n1').commitIndex).toBe(commit);
    expect(c.replies.has(id)).toBe(false);
    expect(c.state('n1').progress.get('n3')!.match).toBeLessThanOrEqual(commit);
    // The view names the stranger (the agent's leader reconcile reads it) …
    const mismatch = c.state('n1').seenIds.get('n3');
    expect(mismatch).toBe(c.state('n3').serverId);
    expect(mismatch).not.toBe(oldN3);
    // … and removing the stale entry, then adding n3 back, records its new id; n3 catches up.
    c.restart('n2');
    c.fire('n1', 'heartbeat');
    c.deliver();
    const remove = c.request('n1', { type: 'removeServer', id: 'n3' });
    for (let i = 0; i < 5 && !c.replies.has(remove); i++) (c.deliver(), c.fire('n1', 'heartbeat'));
    expect(c.replies.get(remove)).toMatchObject({ ok: true });
    const add = c.request('n1', { type: 'addServer', id: 'n3', voter: true });
    for (let i = 0; i < 10 && !c.replies.has(add); i++) (c.deliver(), c.fire('n1', 'heartbeat'));
    expect(c.replies.get(add)).toMatchObject({ ok: true });
    expect(c.state('n1').membership.voters).toContain('n3');
    expect(c.state('n1').membership.ids?.['n3']).toBe(c.state('n3').serverId);
    c.deliver();
    expect(c.state('n3').log.lastIndex).toBe(c.state('n1').log.lastIndex);
    expect(c.invariantFailures).toEqual([]);
  });

  it('a server whose name is on record with another id never campaigns; one that kept its identity file does not bootstrap', () => {
    const c = cluster(1);
    c.crash('n3');
    wipe(c, 'n3', [identityRecord]); // the identity survived, the Raft data did not
    c.restart('n3');
    const n3 = c.state('n3');
    expect(n3.lostData).toBe(true);
    expect(n3.log.lastIndex).toBe(0); // no bootstrap configuration of its own
    expect(c.traces.some((t) => t.startsWith('n3 lost its Raft data'))).toBe(true);
    expect(checkCanCampaign(n3)).toBe(false);
    // The leader ignores n3's answers (a stranger), so it never backs up to n3's empty log; hand n3 the
    // whole log as if it had: its own name is then on record under its old id, and it still never campaigns.
    const n1 = c.state('n1');
    c.nowMs += 1;
    c.step('n3', {
      kind: 'message',
      nowMs: c.nowMs,
      from: 'n1',
      message: {
        m: 'raft',
        p: {
          type: 'append',
          term: n1.term,
          prevIndex: 0,
          prevTerm: 0,
          entries: [...n1.log.entriesAfter(0)],
          commit: n1.commitIndex,
          readSeq: 0,
          sid: n1.serverId,
        },
      },
    });
    expect(c.state('n3').membership.voters).toContain('n3');
    expect(c.state('n3').membership.ids?.['n3']).not.toBe(c.state('n3').serverId);
    c.drop();
    c.fire('n3', 'election');
    expect(c.inFlight.filter((m) => m.from === 'n3' && m.message.type === 'vote')).toEqual([]);
    expect(checkCanCampaign(c.state('n3'))).toBe(false);
  });

  it('an empty server grants no vote (it has nothing to protect)', () => {
    const c = new ManualCluster(3, { preVote: false, servers: [] });
    const effects = c.step('n2', {
      kind: 'message',
      nowMs: 1,
      from: 'n1',
      message: {
        m: 'raft',
        p: { type: 'vote', term: 5, lastIndex: 0, lastTerm: 0, preVote: false, transfer: false, sid: 'x' },
      },
    });
    const replies = c.inFlight.filter((m) => m.from === 'n2' && m.message.type === 'voteReply');
    expect(effects.length).toBeGreaterThan(0);
    expect(replies.map((m) => (m.message as { granted: boolean }).granted)).toEqual([false]);
  });
});

describe('a follower whose log ends below its acknowledged match', () => {
  it('the leader resets its progress and reports it, instead of ignoring the refusal as stale', () => {
    const c = cluster(4);
    const p = c.state('n1').progress.get('n2')!;
    const match = p.match;
    expect(match).toBeGreaterThan(3);
    // The heartbeat stalls the stream into a probe at the match point; n2 answers for a log ending at 1.
    p.state = 'probe';
    p.next = match + 1;
    c.nowMs += 1;
    c.step('n1', {
      kind: 'message',
      nowMs: c.nowMs,
      from: 'n2',
      message: {
        m: 'raft',
        p: {
          type: 'appendReply',
          term: c.state('n1').term,
          success: false,
          matchIndex: 0,
          rejectIndex: match,
          hintIndex: 2,
          hintTerm: 0,
          readSeq: 0,
          sid: c.state('n2').serverId,
        },
      },
    });
    const after = c.state('n1').progress.get('n2')!;
    expect(after.match).toBe(0);
    expect(after.state).toBe('probe');
    expect(
      c.traces.some((t) => t.startsWith(`n1 found n2's log ending at 1, below the ${match} it acknowledged`)),
    ).toBe(true);
    // The next append probes from n2's end.
    expect(
      c.inFlight.some(
        (m) => m.from === 'n1' && m.to === 'n2' && m.message.type === 'append' && m.message.prevIndex === 1,
      ),
    ).toBe(true);
  });
});
