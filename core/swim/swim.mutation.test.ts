/**
 * SWIM refutation rules that the scenario and property tests let slide (they are rescued later by
 * push-pull or by repeated suspicions), written from mutation testing (docs/mutation-testing.md):
 * each test failed on a planted bug that every other test let through. Driven on the tiny loop
 * (core/swim/testing.ts) with fixed seeds, checking only what members believe about each other.
 */
import { describe, expect, it } from 'vitest';
import type { NodeId } from '../types.js';
import type { SwimConfig } from './config.js';
import type { SwimMessage } from './messages.js';
import { joinedCluster, memberNames, SwimLoop } from './testing.js';

const names = memberNames;
const cluster = joinedCluster;

describe('refutation (SWIM §4.2)', () => {
  it('a member accused at an incarnation above its own refutes past the accusation at once', () => {
    // Plain SWIM too: Lifeguard's repeated "you are suspected" notes (maybeTellSuspect) would hide a
    // refutation that climbs one incarnation at a time.
    for (const [seed, config] of [
      [1, {}],
      [2, {}],
      [1, { lifeguard: false }],
      [2, { lifeguard: false }],
    ] as const) {
      const { loop, ids } = cluster(6, config, seed);
      const own = loop.state('n3').self.incarnation;
      const accused = own + 7; // a previous life of n3 (before a restart) reached incarnation own + 7
      loop.inject('n1', 'n5', { t: 'gossip', u: [{ k: 'suspect', id: 'n3', inc: accused, from: 'n5' }] });
      loop.runUntil(loop.nowMs + 3_000);
      // One refutation must beat the accusation; a bump by one would be ignored by every member.
      expect(loop.state('n3').self.incarnation).toBeGreaterThan(accused);
      loop.runUntil(loop.nowMs + 60_000);
      expect(loop.marks('failed', 'n3')).toEqual([]);
      for (const id of ids) expect(loop.statusOf(id, 'n3')).toBe('alive');
      expect(loop.invariantFailures).toEqual([]);
    }
  });

  it('a member declared failed at its current incarnation refutes by gossip, long before push-pull or reconnect', () => {
    for (const seed of [1, 2, 3]) {
      const { loop, ids } = cluster(6, {}, seed);
      const inc = loop.state('n3').self.incarnation;
      loop.inject('n1', 'n5', { t: 'gossip', u: [{ k: 'dead', id: 'n3', inc, from: 'n5' }] });
      expect(loop.statusOf('n1', 'n3')).toBe('failed');
      // Push-pull and reconnect run every 30 s; gossip (to the dead too) reaches n3 within a few periods.
      loop.runUntil(loop.nowMs + 8_000);
      expect(loop.state('n3').self.incarnation).toBeGreaterThan(inc);
      for (const id of ids) expect(loop.statusOf(id, 'n3')).toBe('alive');
    }
  });
});

describe('push-pull merge (memberlist mergeState)', () => {
  it('after a partition heals, nobody marks failed a member it could reach all along (a remote "dead" is merged as suspect)', () => {
    const { loop } = cluster(6, { reconnectIntervalMs: 5_000 });
    const a = ['n1', 'n2', 'n3'];
    const b = ['n4', 'n5', 'n6'];
    loop.partition(a, b);
    loop.runUntil(loop.nowMs + 60_000);
    expect(loop.statusOf('n1', 'n5')).toBe('failed');
    const healedMs = loop.nowMs;
    loop.heal();
    loop.runUntil(loop.nowMs + 60_000);
    const sameSide = (x: NodeId, y: NodeId) => a.includes(x) === a.includes(y);
    const wrong = loop
      .marks('failed')
      .filter((n) => n.atMs >= healedMs && n.notice.type === 'member' && sameSide(n.node, n.notice.member.id));
    expect(
      wrong.map((n) => `${n.node} marked ${n.notice.type === 'member' ? n.notice.member.id : ''} failed at ${n.atMs}`),
    ).toEqual([]);
    for (const x of [...a, ...b]) for (const y of [...a, ...b]) expect(loop.statusOf(x, y)).toBe('alive');
  });
});

describe('failed is not left (Serf)', () => {
  it('a member that refuted once (incarnation > 0) and then crashes is marked failed everywhere, never left', () => {
    const { loop, ids } = cluster(6);
    loop.inject('n1', 'n5', {
      t: 'gossip',
      u: [{ k: 'suspect', id: 'n3', inc: loop.state('n3').self.incarnation, from: 'n5' }],
    });
    loop.runUntil(loop.nowMs + 5_000);
    expect(loop.state('n3').self.incarnation).toBeGreaterThan(0);
    loop.crash('n3');
    loop.runUntil(loop.nowMs + 60_000);
    expect(loop.marks('left', 'n3')).toEqual([]);
    for (const id of ids) if (id !== 'n3') expect(loop.statusOf(id, 'n3')).toBe('failed');
  });
});

describe('incarnation order (SWIM §4.2)', () => {
  it('an alive at the suspected incarnation (a stale retransmission) does not clear the suspicion; only a higher one does', () => {
    const { loop, ids } = cluster(6);
    const inc = loop.state('n3').self.incarnation;
    loop.crash('n3'); // it cannot refute
    loop.inject('n1', 'n5', { t: 'gossip', u: [{ k: 'suspect', id: 'n3', inc, from: 'n5' }] });
    expect(loop.statusOf('n1', 'n3')).toBe('suspect');
    loop.inject('n1', 'n4', {
      t: 'gossip',
      u: [{ k: 'alive', id: 'n3', inc, tags: loop.state('n1').members.get('n3')!.tags }],
    });
    expect(loop.statusOf('n1', 'n3')).toBe('suspect');
    loop.runUntil(loop.nowMs + 60_000);
    for (const id of ids) if (id !== 'n3') expect(loop.statusOf(id, 'n3')).toBe('failed');
  });
});

describe('Lifeguard dynamic suspicion (§4.2)', () => {
  it('only independent accusers shorten a suspicion: one accuser repeated (relayed copies of one message) does not', () => {
    const { loop } = cluster(4);
    // n3 dies and n1 is cut off from the others: n1 hears of n3 only through what we hand it.
    loop.crash('n3');
    loop.partition(['n1'], ['n2', 'n4']);
    const suspectedAtMs = loop.nowMs;
    for (let i = 0; i < 5; i++) {
      loop.inject('n1', i % 2 === 0 ? 'n2' : 'n4', {
        t: 'gossip',
        u: [{ k: 'suspect', id: 'n3', inc: loop.state('n1').members.get('n3')!.incarnation, from: 'n2' }],
      });
      loop.runUntil(loop.nowMs + 100);
    }
    loop.runUntil(suspectedAtMs + 60_000);
    const failed = loop.marks('failed', 'n3').filter((n) => n.node === 'n1');
    expect(failed).toHaveLength(1);
    // 4 members: min 4 s, max 24 s, k = 2. Two accusers (n2, and n1's own failed probe) give
    // 24 − 20·log 2 / log 3 ≈ 11.4 s; only a third independent accuser would bring it to 4 s.
    expect(failed[0]!.atMs - suspectedAtMs).toBeGreaterThan(8_000);
  });
});

describe('a datagram keeps its own updates (state.ts sendDatagram)', () => {
  it("a note told to one member rides along with the queue's gossip, never replaced by it", () => {
    // n3 answers a stale accusation with its alive, sent to the accuser directly (updates.ts tellStale),
    // while its broadcast queue holds other news: the queue's updates may ride along, but the note must
    // stay (round O's O08 — the queue replacing a message's own updates, the bug of
    // swim/slow-member-lifeguard seed 51 — escaped the explorer, whose other paths repair the loss).
    for (const seed of [1, 2]) {
      const { loop } = cluster(6, {}, seed);
      const inc = loop.state('n3').self.incarnation;
      loop.inject('n3', 'n5', { t: 'gossip', u: [{ k: 'suspect', id: 'n3', inc, from: 'n5' }] });
      expect(loop.state('n3').self.incarnation).toBe(inc + 1);
      loop.runUntil(loop.nowMs + 60_000); // the refutation has spread and left n3's queue
      expect(loop.state('n3').queue.length).toBe(0);
      loop.inject('n3', 'n5', { t: 'gossip', u: [{ k: 'alive', id: 'n9', inc: 1, tags: {} }] });
      expect(loop.state('n3').queue.length).toBeGreaterThan(0); // news of n9 waits to be gossiped
      const told: SwimMessage[] = [];
      loop.onSend = (from, to, message) => {
        if (from === 'n3' && to === 'n5' && message.t === 'gossip') told.push(message);
      };
      loop.inject('n3', 'n5', { t: 'gossip', u: [{ k: 'suspect', id: 'n3', inc, from: 'n5' }] }); // stale now
      loop.onSend = null;
      const carried = told.flatMap((m) => (m.t === 'gossip' ? (m.u ?? []) : []));
      expect(carried.some((u) => u.k === 'alive' && u.id === 'n3' && u.inc === inc + 1)).toBe(true);
    }
  });
});
