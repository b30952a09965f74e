/**
 * A member that restarted while another was cut off (the shape of agent/stranger-authenticated seed
 * 2889): everybody held n5 failed; n5 restarts and refutes (alive at a higher incarnation) while n3 is
 * partitioned away, and the alive's few retransmissions are spent before the heal. n3 then hears from
 * n5 directly (n5 holds n3 alive, so probes it) and must push-pull with it, so that it stops holding a
 * running member failed. The periodic push-pull is off and the reconnect timer an hour here, so the
 * only way n3 can learn is the exchange on evidence (pushpull.ts `maybeReconnectHeard`): before it, n3
 * held n5 failed for ever in this test. Also: the exchange is rate-limited per member, so a flood of
 * datagrams under a failed member's id costs at most one stream per probe interval.
 */
import { describe, expect, it } from 'vitest';
import { joinedCluster } from './testing.js';

const noAntiEntropy = { pushPullIntervalMs: 0, reconnectIntervalMs: 3_600_000 };

describe('a member held failed that speaks to us is pushed-pulled with', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`seed ${seed}: n3, cut off while restarted n5's alive spread, holds n5 alive within 10 s of the heal`, () => {
      const { loop } = joinedCluster(5, noAntiEntropy, seed);
      loop.crash('n5');
      loop.runUntil(loop.nowMs + 30_000);
      for (const id of ['n1', 'n2', 'n3', 'n4']) expect(loop.statusOf(id, 'n5')).toBe('failed');
      const heldInc = loop.state('n3').members.get('n5')!.incarnation;
      loop.partition(['n3'], ['n1', 'n2', 'n4', 'n5']);
      loop.add('n5'); // a new life: joins through n1, hears it is dead, refutes at a higher incarnation
      loop.runUntil(loop.nowMs + 1_500);
      for (const id of ['n1', 'n2', 'n4']) expect(loop.statusOf(id, 'n5')).toBe('alive');
      // The alive's retransmissions are spent: nobody has news of n5 queued any more.
      for (const id of ['n1', 'n2', 'n4', 'n5'])
        expect(loop.state(id).queue.has('m:n5'), `${id} still gossips n5`).toBe(false);
      loop.heal();
      const healedMs = loop.nowMs;
      expect(loop.statusOf('n3', 'n5')).toBe('failed');
      while (loop.statusOf('n3', 'n5') === 'failed' && loop.nowMs < healedMs + 10_000) loop.runUntil(loop.nowMs + 100);
      expect(loop.statusOf('n3', 'n5')).toBe('alive');
      expect(loop.state('n3').members.get('n5')!.incarnation).toBeGreaterThan(heldInc);
      expect(loop.invariantFailures).toEqual([]);
    });
  }

  it('at most one push-pull per probe interval per failed member, however many datagrams come under its id', () => {
    const { loop } = joinedCluster(5, noAntiEntropy, 1);
    loop.crash('n5');
    loop.runUntil(loop.nowMs + 30_000);
    expect(loop.statusOf('n1', 'n5')).toBe('failed');
    let streams = 0;
    loop.onSend = (from, to, message, channel) => {
      if (from === 'n1' && to === 'n5' && channel === 'stream' && message.t === 'pushPull') streams++;
    };
    const probeIntervalMs = loop.state('n1').config.probeIntervalMs;
    const startMs = loop.nowMs;
    // 50 pings under n5's id within one probe interval (replays, or forgeries on open links): one stream.
    for (let i = 0; i < 50; i++) {
      loop.inject('n1', 'n5', { t: 'ping', seq: 1_000 + i, target: 'n1' });
      loop.runUntil(startMs + Math.floor((i * probeIntervalMs) / 60));
    }
    expect(streams).toBe(1);
    // A probe interval later, one more; n5 is down, so it stays failed and the mark stays bounded.
    loop.runUntil(startMs + probeIntervalMs);
    loop.inject('n1', 'n5', { t: 'gossip', u: [] });
    expect(streams).toBe(2);
    expect(loop.statusOf('n1', 'n5')).toBe('failed');
    expect(loop.state('n1').reconnectHeardMs.size).toBe(1);
    // A member held alive that speaks to us costs nothing extra.
    loop.inject('n1', 'n2', { t: 'gossip', u: [] });
    expect(streams).toBe(2);
    expect(loop.invariantFailures).toEqual([]);
  });
});
