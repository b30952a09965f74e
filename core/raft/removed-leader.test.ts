/**
 * A leader that removed itself and lost leadership before the removal committed (thesis §4.2.2): it may hold
 * the only copy of that entry, the longest log, so the others need it — it must still campaign. Found by the
 * explorer (raft/disk-replaced-membership seeds 357 and 434, session 18): with one more voter down, the rest
 * had no quorum without its vote, it refused their shorter logs, and it no longer campaigned — no leader ever
 * again. Hand-run here on four voters.
 */
import { describe, expect, it } from 'vitest';
import { checkCanCampaign } from './election.js';
import { ManualCluster } from './testkit.js';

describe('a leader whose removal of itself has not committed', () => {
  it('campaigns, leads until the removal commits, then steps down and the others elect a leader', () => {
    const c = new ManualCluster(4, { preVote: false });
    expect(c.elect('n1')).toBe(true);
    c.request('n1', { type: 'propose', command: 'w0' });
    c.deliver();
    c.fire('n1', 'heartbeat');
    c.deliver();
    // n1 removes itself; the entry reaches no one (its appends are lost), and n1 loses its leadership.
    const remove = c.request('n1', { type: 'removeServer', id: 'n1' });
    c.drop();
    const n1 = c.state('n1');
    expect(n1.membership.voters).not.toContain('n1');
    expect(n1.membershipIndex).toBeGreaterThan(n1.commitIndex);
    expect(c.replies.has(remove)).toBe(false);
    c.crash('n4'); // one more voter gone: n2 and n3 (latest configuration n1..n4) need n1's vote
    c.crash('n1');
    c.restart('n1'); // a follower now, the removal still uncommitted in its log
    expect(c.state('n1').role).toBe('follower');
    expect(checkCanCampaign(c.state('n1'))).toBe(true);
    // n2 cannot win: n1 refuses its shorter log, n4 is down.
    expect(c.elect('n2', ['n1', 'n2', 'n3'])).toBe(false);
    // n1 can: it counts n2's and n3's votes in its latest configuration (n2, n3, n4), its own not among them.
    expect(c.elect('n1', ['n1', 'n2', 'n3'])).toBe(true);
    // As leader it commits its removal (n2 and n3 of n2..n4), then steps down as any removed leader does.
    for (let i = 0; i < 5 && c.state('n1').role === 'leader'; i++) (c.fire('n1', 'heartbeat'), c.deliver());
    expect(c.state('n1').role).not.toBe('leader');
    expect(c.state('n2').membership.voters).toEqual(['n2', 'n3', 'n4']);
    expect(c.state('n2').commitIndex).toBeGreaterThanOrEqual(c.state('n2').membershipIndex);
    // It no longer may campaign; n2 and n3 are a quorum of n2..n4 and elect a leader.
    expect(checkCanCampaign(c.state('n1'))).toBe(false);
    expect(c.elect('n2', ['n2', 'n3']) || c.elect('n3', ['n2', 'n3'])).toBe(true);
    expect(c.invariantFailures).toEqual([]);
  });
});
