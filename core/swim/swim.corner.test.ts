/**
 * SWIM corner cases that no test pinned down (issue 12 §6), driven on the tiny loop
 * (core/swim/testing.ts) by injecting gossip into one member and reading what it then believes:
 *  - an old `alive` at the same incarnation, delivered to a member that holds the sender `failed` or
 *    `left`, changes nothing (SWIM §4.2: alive overrides only a lower incarnation); a higher one is a
 *    new life and does;
 *  - Lifeguard §4.2's dynamic suspicion, as the machine arms it: a single accuser waits the maximum
 *    timeout (suspicionMaxTimeoutMult × the minimum), each independent confirmation shortens it by
 *    (max − min) · log(c + 1) / log(k + 1), k confirmations bring it to the minimum, and a repeated
 *    accuser or plain SWIM changes nothing;
 *  - a datagram's own updates (a note told to one member) survive a busy broadcast queue;
 *  - wire hygiene: an incarnation or Lamport time more than 2^32 past the one held is dropped, by gossip
 *    and in a push-pull merge alike.
 */
import { describe, expect, it } from 'vitest';
import { suspicionTimeoutMinMs } from './config.js';
import { joinedCluster, SwimLoop } from './testing.js';

/** n1 holds n3 `failed` (n3 crashed, n5 declared it) or `left` (n3's leave intent), n3 at incarnation `inc`. */
function holding(status: 'failed' | 'left', seed: number) {
  const { loop, ids } = joinedCluster(6, {}, seed);
  const inc = loop.state('n3').self.incarnation;
  const tags = loop.state('n1').members.get('n3')!.tags;
  loop.crash('n3');
  const from = status === 'failed' ? 'n5' : 'n3';
  loop.inject('n1', 'n5', { t: 'gossip', u: [{ k: 'dead', id: 'n3', inc, from }] });
  expect(loop.statusOf('n1', 'n3')).toBe(status);
  return { loop, ids, inc, tags };
}

describe('an old alive at the same incarnation (SWIM §4.2)', () => {
  for (const status of ['failed', 'left'] as const) {
    it(`does not resurrect a member held ${status}; an alive at a higher incarnation does`, () => {
      for (const seed of [1, 2, 3]) {
        const { loop, inc, tags } = holding(status, seed);
        // A retransmission from before the crash (or the leave), by gossip and by a ping's piggy-back.
        loop.inject('n1', 'n4', { t: 'gossip', u: [{ k: 'alive', id: 'n3', inc, tags }] });
        expect(loop.statusOf('n1', 'n3')).toBe(status);
        loop.inject('n1', 'n2', { t: 'ping', seq: 999, target: 'n1', u: [{ k: 'alive', id: 'n3', inc, tags }] });
        expect(loop.statusOf('n1', 'n3')).toBe(status);
        expect(loop.state('n1').members.get('n3')!.incarnation).toBe(inc);
        // A restarted n3 announces a higher incarnation: that is news, and n1 takes it.
        loop.inject('n1', 'n4', { t: 'gossip', u: [{ k: 'alive', id: 'n3', inc: inc + 1, tags }] });
        expect(loop.statusOf('n1', 'n3')).toBe('alive');
        expect(loop.invariantFailures).toEqual([]);
      }
    });
  }
});

describe('Lifeguard dynamic suspicion (§4.2), as the machine arms it', () => {
  /** n3 crashed and n1 cut off from everyone: n1 learns of accusations only from what we inject. */
  function isolated(lifeguard = true) {
    const { loop } = joinedCluster(6, { lifeguard }, 1);
    loop.crash('n3');
    loop.partition(['n1'], ['n2', 'n4', 'n5', 'n6']);
    const inc = loop.state('n1').members.get('n3')!.incarnation;
    const accuse = (from: string) =>
      loop.inject('n1', from, { t: 'gossip', u: [{ k: 'suspect', id: 'n3', inc, from }] });
    const timeoutMs = () => {
      const s = loop.state('n1').suspicions.get('n3')!;
      return s.deadlineMs - s.startMs;
    };
    return { loop, accuse, timeoutMs };
  }

  // 6 members: min = floor(suspicionMult 4 × max(1, log10 6) × probeInterval 1 s) = 4 s; max = 6 × min.
  const minMs = 4_000;
  const maxMs = 24_000;
  const k = 2; // suspicionMult − 2 expected confirmations
  const afterConfirmations = (c: number) =>
    Math.max(minMs, Math.floor(maxMs - ((maxMs - minMs) * Math.log(c + 1)) / Math.log(k + 1)));

  it('a single accuser waits the maximum timeout, 6 × the minimum', () => {
    const { loop, accuse, timeoutMs } = isolated();
    expect(suspicionTimeoutMinMs(loop.state('n1').config, 6)).toBe(minMs);
    accuse('n2');
    expect(loop.statusOf('n1', 'n3')).toBe('suspect');
    expect(timeoutMs()).toBe(maxMs);
    // The same accuser again (a relayed copy) is no confirmation.
    accuse('n2');
    expect(timeoutMs()).toBe(maxMs);
  });

  it('k independent confirmations shorten it by (max − min)·log(c + 1)/log(k + 1) each, down to the minimum', () => {
    const { loop, accuse, timeoutMs } = isolated();
    const startMs = loop.nowMs;
    accuse('n2');
    loop.runUntil(startMs + 500);
    accuse('n4'); // one confirmation: 24 − 20·log 2 / log 3 = 11.381 s
    expect(timeoutMs()).toBe(afterConfirmations(1));
    expect(afterConfirmations(1)).toBe(11_381);
    expect(maxMs - timeoutMs()).toBe(12_619); // what the first confirmation takes off
    loop.runUntil(startMs + 1_000);
    accuse('n5'); // k = 2 confirmations: the minimum
    expect(timeoutMs()).toBe(minMs);
    accuse('n6'); // more than k: still the minimum
    expect(timeoutMs()).toBe(minMs);
    // The re-armed timer fires at start + min, not later and not at the first deadline.
    loop.runUntil(startMs + minMs - 1);
    expect(loop.statusOf('n1', 'n3')).toBe('suspect');
    loop.runUntil(startMs + minMs + 1);
    expect(loop.statusOf('n1', 'n3')).toBe('failed');
  });

  it('a push-pull that holds the member suspect is no confirmation: the exchange names no accuser', () => {
    // swim/slow-member-lifeguard seed 511: n2's own accusation of n8 came back to it inside n4's and
    // n1's push-pull states (late: n2 was slow); counted as two confirmations, it cut n2's timeout to
    // the minimum, and n2 declared the healthy n8 failed before n8's refutation reached it.
    const { loop, accuse, timeoutMs } = isolated();
    const { incarnation, tags } = loop.state('n1').members.get('n3')!;
    const merge = (partner: string) =>
      loop.inject('n1', partner, {
        t: 'pushPull',
        join: false,
        reply: false,
        members: [{ id: 'n3', inc: incarnation, st: 'suspect', tags }],
        ltime: 0,
        events: [],
      } as never);
    // A suspicion learned from a push-pull: suspect, at the maximum timeout, no accuser counted.
    merge('n4');
    expect(loop.statusOf('n1', 'n3')).toBe('suspect');
    expect(timeoutMs()).toBe(maxMs);
    merge('n5');
    expect(timeoutMs()).toBe(maxMs);
    // The first accuser heard may be the one the partners echoed: still no confirmation.
    accuse('n2');
    expect(timeoutMs()).toBe(maxMs);
    merge('n6');
    expect(timeoutMs()).toBe(maxMs);
    // A second, independent accuser is one.
    accuse('n4');
    expect(timeoutMs()).toBe(afterConfirmations(1));
    expect(loop.invariantFailures).toEqual([]);
  });

  it('plain SWIM: the minimum timeout from the first accuser, confirmations change nothing', () => {
    const { accuse, timeoutMs } = isolated(false);
    accuse('n2');
    expect(timeoutMs()).toBe(minMs);
    accuse('n4');
    accuse('n5');
    expect(timeoutMs()).toBe(minMs);
  });
});

describe('a note told to one member (tellStale, counterLeave, maybeTellSuspect)', () => {
  it('rides its datagram even when the broadcast queue has updates to piggy-back', () => {
    // swim/slow-member-lifeguard seed 51, before the fix: n4 told n1 "I suspect you", the queue's
    // updates replaced the note, n1 never refuted to n4, and n4 marked the healthy n1 failed.
    const { loop } = joinedCluster(6, {}, 1);
    const inc = loop.state('n1').members.get('n3')!.incarnation;
    const sent: string[] = [];
    loop.onSend = (from, to, message) => {
      if (from === 'n1' && to === 'n3' && message.t === 'gossip')
        for (const u of message.u) if (u.k === 'suspect' && u.id === 'n3' && u.from === 'n1') sent.push(u.k);
    };
    // n1 suspects n3 (from n5's word) and has news queued (a member it just learned of).
    loop.inject('n1', 'n5', {
      t: 'gossip',
      u: [
        { k: 'suspect', id: 'n3', inc, from: 'n5' },
        { k: 'alive', id: 'n9', inc: 0, tags: {} },
      ],
    });
    expect(loop.state('n1').queue.length).toBeGreaterThan(0);
    // n3 sends n1 anything: n1 tells n3 directly that it is suspected, the queued news riding along.
    loop.inject('n1', 'n3', { t: 'gossip', u: [] });
    expect(sent).toEqual(['suspect']);
  });
});

describe('wire hygiene: an incarnation more than 2^32 past the one held is dropped', () => {
  it('a forged alive or suspect near 2^53 changes nothing, about another member or about us', () => {
    const { loop } = joinedCluster(4, {}, 1);
    const inc = loop.state('n1').members.get('n3')!.incarnation;
    const tags = loop.state('n1').members.get('n3')!.tags;
    const selfInc = loop.state('n1').self.incarnation;
    loop.inject('n1', 'n4', { t: 'gossip', u: [{ k: 'alive', id: 'n3', inc: 2 ** 53 - 1, tags }] });
    loop.inject('n1', 'n4', { t: 'gossip', u: [{ k: 'suspect', id: 'n1', inc: selfInc + 2 ** 32 + 1, from: 'n4' }] });
    expect(loop.state('n1').members.get('n3')!.incarnation).toBe(inc);
    expect(loop.state('n1').self.incarnation).toBe(selfInc);
    expect(loop.statusOf('n1', 'n1')).toBe('alive');
    // Within the bound it is news, as before.
    loop.inject('n1', 'n4', { t: 'gossip', u: [{ k: 'alive', id: 'n3', inc: inc + 2 ** 32, tags }] });
    expect(loop.state('n1').members.get('n3')!.incarnation).toBe(inc + 2 ** 32);
    expect(loop.invariantFailures).toEqual([]);
  });
});

describe('wire hygiene in push-pull merges (the same bound as gossip updates)', () => {
  it('a push-pull member state or clock more than 2^32 past what we hold is dropped, the rest merged', () => {
    const { loop } = joinedCluster(4, {}, 2);
    const inc = loop.state('n1').members.get('n3')!.incarnation;
    const tags3 = loop.state('n1').members.get('n3')!.tags;
    const tags4 = loop.state('n1').members.get('n4')!.tags;
    const inc4 = loop.state('n1').members.get('n4')!.incarnation;
    const selfInc = loop.state('n1').self.incarnation;
    const clock = loop.state('n1').eventClock;
    loop.inject('n1', 'n2', {
      t: 'pushPull',
      join: false,
      reply: true,
      members: [
        { id: 'n3', inc: 2 ** 53 - 1, st: 'alive', tags: tags3 },
        { id: 'n1', inc: selfInc + 2 ** 32 + 1, st: 'suspect', tags: loop.state('n1').self.tags },
        // Within the bound: news, merged as before.
        { id: 'n4', inc: inc4 + 1, st: 'alive', tags: tags4 },
      ],
      ltime: 2 ** 53 - 1,
      events: [{ id: 'forged', name: 'x', payload: null, ltime: 2 ** 53 - 2 }],
    } as never);
    expect(loop.state('n1').members.get('n3')!.incarnation).toBe(inc);
    expect(loop.state('n1').self.incarnation).toBe(selfInc);
    expect(loop.statusOf('n1', 'n1')).toBe('alive');
    expect(loop.state('n1').members.get('n4')!.incarnation).toBe(inc4 + 1);
    expect(loop.state('n1').eventClock).toBeLessThanOrEqual(clock + 1);
    expect(loop.invariantFailures).toEqual([]);
  });
});

describe('a member left alone rejoins through its join peers', () => {
  /**
   * swim/explore-crash seed 232, reduced to three members. n3 joined through n1 and n2 (its join peers,
   * Consul's retry_join). Both crash; n3 declares them failed and an operator force-leaves them from
   * n3 (`consul force-leave` of a dead node), so n3 holds them left. Both restart without memory (SWIM
   * keeps no membership on disk) and find each other through their own join peers, but neither
   * remembers n3, and n3 tries no member it holds left: two clusters that never merge, though n3's
   * join peers are up. Serf avoids this with its snapshot (a restarted member rejoins the members it
   * knew alive); our core, which keeps none, has the member that holds no other member live retry its
   * join peers at every reconnect interval. Proven by the merged views (n3 learns the restarted
   * members at a higher incarnation: their refutation of the left it held).
   */
  it('after its peers crashed, were force-left and restarted without memory', () => {
    const config = (id: string) => ({
      profile: 'sim' as const,
      joinPeers: id === 'n1' ? [] : id === 'n2' ? ['n1'] : ['n1', 'n2'],
    });
    const loop = new SwimLoop(5, config);
    for (const id of ['n1', 'n2', 'n3']) loop.add(id, 0);
    loop.runUntil(10_000);
    expect(loop.state('n3').members.liveCount).toBe(3);
    loop.crash('n1');
    loop.crash('n2');
    loop.runUntil(loop.nowMs + 40_000);
    for (const id of ['n1', 'n2']) {
      expect(loop.statusOf('n3', id)).toBe('failed');
      loop.request('n3', { type: 'forceLeave', name: id });
      expect(loop.statusOf('n3', id)).toBe('left');
    }
    loop.add('n1');
    loop.add('n2');
    loop.runUntil(loop.nowMs + 60_000);
    for (const id of ['n1', 'n2']) expect(loop.statusOf(id, 'n3')).toBe('alive');
    for (const id of ['n1', 'n2']) expect(loop.statusOf('n3', id)).toBe('alive');
    expect(loop.state('n3').members.liveCount).toBe(3);
    expect(loop.invariantFailures).toEqual([]);
  });

  it('two members that know only each other (seed 1614): they push to the join peers they hold left', () => {
    // n3 and n4 join through n1 and n2; n1 and n2 crash, are failed and force-left by n3 (n4 hears the
    // leave intents), and restart knowing only each other. n3 and n4 are not alone, but every join peer
    // they have is one they hold left.
    const config = (id: string) => ({
      profile: 'sim' as const,
      joinPeers: id === 'n1' ? [] : id === 'n2' ? ['n1'] : ['n1', 'n2'],
    });
    const loop = new SwimLoop(6, config);
    for (const id of ['n1', 'n2', 'n3', 'n4']) loop.add(id, 0);
    loop.runUntil(10_000);
    loop.crash('n1');
    loop.crash('n2');
    loop.runUntil(loop.nowMs + 40_000);
    for (const id of ['n1', 'n2']) loop.request('n3', { type: 'forceLeave', name: id });
    loop.runUntil(loop.nowMs + 5_000);
    for (const id of ['n1', 'n2']) expect(loop.statusOf('n4', id)).toBe('left');
    loop.add('n1');
    loop.add('n2');
    loop.runUntil(loop.nowMs + 60_000);
    for (const a of ['n1', 'n2', 'n3', 'n4'])
      for (const b of ['n1', 'n2', 'n3', 'n4']) expect(loop.statusOf(a, b), `${a} sees ${b}`).toBe('alive');
    expect(loop.invariantFailures).toEqual([]);
  });

  it('a member whose join peers are all live sends them nothing more', () => {
    const { loop } = joinedCluster(4, {}, 3);
    const joinPushes: string[] = [];
    loop.onSend = (from, to, message) => {
      if (message.t === 'pushPull' && message.join) joinPushes.push(`${from}>${to}`);
    };
    loop.runUntil(loop.nowMs + 60_000);
    expect(joinPushes).toEqual([]);
  });
});

describe('a restarted member that leaves before it refuted its old life', () => {
  /**
   * swim/restart-leave seed 1, on the tiny loop: n3 changed its tags twice (incarnation 2), crashed and
   * was started again at once — a new life at incarnation 0 that knows nobody — and was told to leave
   * before anyone noticed the crash. Its leave intent (dead from itself at incarnation 0) is old news to
   * members that hold it alive at 2, and the join's push-pull tells it about its old life only as an
   * `alive` at 2, which a leaving member must not refute. It must repeat its intent at that incarnation
   * (as it does when it is accused: reassertLeave), or it goes silent still alive in everyone's view and
   * ends failed instead of left.
   */
  it('repeats its leave intent at the incarnation its old life had, and every member marks it left', () => {
    for (const seed of [1, 2, 3]) {
      const { loop, ids } = joinedCluster(6, {}, seed);
      loop.request('n3', { type: 'setTags', tags: { v: '1' } });
      loop.request('n3', { type: 'setTags', tags: { v: '2' } });
      loop.runUntil(loop.nowMs + 5_000);
      expect(loop.state('n1').members.get('n3')!.incarnation).toBe(2);
      loop.crash('n3');
      loop.add('n3');
      loop.runUntil(loop.nowMs);
      expect(loop.state('n3').self.incarnation).toBe(0);
      loop.request('n3', { type: 'leave' });
      loop.runUntil(loop.nowMs + 60_000);
      for (const id of ids)
        if (id !== 'n3') expect(loop.statusOf(id, 'n3'), `${id} sees n3 (seed ${seed})`).toBe('left');
      expect(loop.marks('failed', 'n3')).toEqual([]);
      expect(loop.invariantFailures).toEqual([]);
    }
  });
});

describe('two claims about a live member at one incarnation with other tags (a previous life, restarted)', () => {
  it('the member holding one is told both, and the member refutes the one that is not its own', () => {
    const { loop } = joinedCluster(6, {}, 1);
    const inc = loop.state('n3').self.incarnation;
    const own = loop.state('n3').self.tags;
    const stale = { ...own, build: 'old' };
    const told: { to: string; u: unknown }[] = [];
    loop.onSend = (from, to, message) => {
      if (from === 'n1' && message.t === 'gossip') told.push({ to, u: message.u });
    };
    // n1 holds n3's real claim; n4 pushes a same-incarnation claim with the old life's tags.
    loop.inject('n1', 'n4', { t: 'gossip', u: [{ k: 'alive', id: 'n3', inc, tags: stale }] });
    expect(told).toEqual([
      {
        to: 'n3',
        u: [
          { k: 'alive', id: 'n3', inc, tags: own },
          { k: 'alive', id: 'n3', inc, tags: stale },
        ],
      },
    ]);
    expect(loop.state('n1').members.get('n3')!.tags).toEqual(own); // nothing taken from a claim it cannot order
    loop.runUntil(loop.nowMs + 5_000);
    expect(loop.state('n3').self.incarnation).toBeGreaterThan(inc); // n3 heard the stale claim and refuted it
    for (const id of ['n1', 'n2', 'n4', 'n5', 'n6']) expect(loop.state(id).members.get('n3')!.tags).toEqual(own);
    expect(loop.invariantFailures).toEqual([]);
  });

  it('a same-incarnation claim with the same tags (push-pull repeating what is known) tells nobody', () => {
    const { loop } = joinedCluster(6, {}, 1);
    const inc = loop.state('n3').self.incarnation;
    const tags = loop.state('n1').members.get('n3')!.tags;
    let sent = 0;
    loop.onSend = (from, _to, message) => {
      if (from === 'n1' && message.t === 'gossip') sent++;
    };
    loop.inject('n1', 'n4', { t: 'gossip', u: [{ k: 'alive', id: 'n3', inc, tags: { ...tags } }] });
    expect(sent).toBe(0);
  });
});

describe('a member that refutes a claim that it failed or left tells its observer (the agent resyncs)', () => {
  for (const claim of ['failed', 'left'] as const) {
    it(`a ${claim} claim at its own incarnation: refuted above it, one 'refuted' notice; a suspicion: none`, () => {
      const { loop } = joinedCluster(4, {}, 1);
      const inc = loop.state('n2').self.incarnation;
      loop.notices.length = 0;
      // A stale claim about n2, as a restarted member's previous life may leave in flight (agent/leave seed 944).
      const from = claim === 'left' ? 'n2' : 'n3';
      loop.inject('n2', 'n4', { t: 'gossip', u: [{ k: 'dead', id: 'n2', inc, from }] });
      expect(loop.state('n2').self.incarnation).toBe(inc + 1);
      const refuted = loop.notices.filter((n) => n.node === 'n2' && n.notice.type === 'refuted');
      expect(refuted.map((n) => n.notice)).toEqual([{ type: 'refuted', claim, incarnation: inc + 1 }]);
      // A suspicion is refuted too, but no member acted on it beyond suspecting: nothing to resync.
      loop.inject('n2', 'n4', { t: 'gossip', u: [{ k: 'suspect', id: 'n2', inc: inc + 1, from: 'n3' }] });
      expect(loop.state('n2').self.incarnation).toBe(inc + 2);
      expect(loop.notices.filter((n) => n.notice.type === 'refuted')).toHaveLength(1);
      expect(loop.invariantFailures).toEqual([]);
    });
  }
});
