/**
 * SWIM's mechanisms, one by one, on the tiny test loop (core/swim/testing.ts): each test builds a few
 * members, drives them through a situation, and checks what the papers say must happen. Seeds are
 * fixed; every run is deterministic.
 */
import { describe, expect, it } from 'vitest';
import type { NodeId } from '../types.js';
import type { SwimResponse } from './api.js';
import { makeRoster, type SwimConfig } from './config.js';
import type { SwimMessage } from './messages.js';
import { messageBytes } from './size.js';
import { joinedCluster, memberNames, SwimLoop } from './testing.js';

const names = memberNames;
const cluster = joinedCluster;

describe('join and dissemination', () => {
  it('members joining through one member all learn each other (push-pull on join + gossip)', () => {
    const { loop, ids } = cluster(8);
    for (const id of ids) expect(loop.state(id).members.liveCount).toBe(8);
    expect(loop.invariantFailures).toEqual([]);
  });

  it('a join request answers with the number of peers that replied', () => {
    const ids = names(3);
    const loop = new SwimLoop(2, () => ({ profile: 'sim' }));
    for (const id of ids) loop.add(id, 0);
    loop.runUntil(10);
    let response: SwimResponse | undefined;
    loop.request('n3', { type: 'join', peers: ['n1', 'n2', 'n3'] }, (r) => (response = r));
    loop.runUntil(2000);
    expect(response).toEqual({ ok: true, joined: 2 });
    let failed: SwimResponse | undefined;
    loop.crash('n2');
    loop.request('n1', { type: 'join', peers: ['n2'] }, (r) => (failed = r));
    loop.runUntil(20_000);
    expect(failed?.ok).toBe(false);
  });

  it('tags changed on one member reach every member by gossip', () => {
    const { loop, ids } = cluster(6);
    loop.request('n4', { type: 'setTags', tags: { role: 'consul', dc: 'dc1' } });
    loop.runUntil(loop.nowMs + 3000);
    for (const id of ids) expect(loop.state(id).members.get('n4')?.tags).toEqual({ role: 'consul', dc: 'dc1' });
  });

  it('every datagram stays under packetBytesMax, estimated conservatively', () => {
    const { loop } = cluster(1, {}, 3, 10);
    let largest = 0;
    let datagrams = 0;
    loop.onSend = (_from, _to, message, channel) => {
      if (channel !== 'datagram') return;
      datagrams++;
      largest = Math.max(largest, messageBytes(message));
    };
    // A burst of 40 joiners floods every queue with alive updates (long tags make them big).
    for (const id of names(40).slice(1)) loop.add(id, loop.nowMs);
    loop.runUntil(100);
    for (const id of names(40).slice(1))
      loop.request(id, { type: 'setTags', tags: { role: 'node', build: 'x'.repeat(60), dc: 'dc1' } });
    loop.runUntil(loop.nowMs + 5000);
    expect(datagrams).toBeGreaterThan(100);
    expect(largest).toBeLessThanOrEqual(1400);
    expect(largest).toBeGreaterThan(700); // the packer fills packets
  });
});

describe('failure detection (SWIM §3.1, §4.2)', () => {
  it('a crashed member is marked failed by every live member', () => {
    const { loop, ids } = cluster(6);
    loop.crash('n3');
    const crashMs = loop.nowMs;
    loop.runUntil(crashMs + 40_000);
    for (const id of ids) if (id !== 'n3') expect(loop.statusOf(id, 'n3')).toBe('failed');
    const firstSuspect = loop.marks('suspect', 'n3')[0]!;
    expect(firstSuspect.atMs - crashMs).toBeLessThan(3 * 1000); // a few probe periods
  });

  it('a ping-req helper that gets no ack nacks the requester (Lifeguard §4.3)', () => {
    const { loop } = cluster(4);
    const nacks: SwimMessage[] = [];
    loop.onSend = (_f, _t, m) => {
      if (m.t === 'nack') nacks.push(m);
    };
    loop.crash('n4');
    loop.runUntil(loop.nowMs + 3000);
    expect(nacks.length).toBeGreaterThan(0);
  });

  it('plain SWIM sends no nacks and keeps its health score at 0', () => {
    const { loop } = cluster(4, { lifeguard: false });
    let nacks = 0;
    loop.onSend = (_f, _t, m) => void (m.t === 'nack' && nacks++);
    loop.crash('n4');
    loop.runUntil(loop.nowMs + 5000);
    expect(nacks).toBe(0);
    expect(loop.state('n1').awareness.score).toBe(0);
  });

  it('the buddy system tells a suspect of its suspicion in the probe itself (Lifeguard §4.3)', () => {
    const { loop } = cluster(4, {}, 5);
    const buddied: string[] = [];
    loop.onSend = (from, to, m) => {
      if (m.t === 'ping' && m.target === to && m.u?.[0]?.k === 'suspect' && m.u[0].id === to)
        buddied.push(`${from}>${to}`);
    };
    // Forge a suspicion of n2 at n1 and cut n2 off, so it cannot refute: each probe n1 sends to n2
    // (the loop sees sends before the cut) must carry the suspicion first.
    loop.inject('n1', 'n3', { t: 'gossip', u: [{ k: 'suspect', id: 'n2', inc: 0, from: 'n3' }] });
    loop.partition(['n2'], ['n1', 'n3', 'n4']);
    loop.runUntil(loop.nowMs + 3500);
    expect(buddied).toContain('n1>n2');
  });
});

describe('refutation (SWIM §4.2)', () => {
  it('a refutation beats a stale suspicion: the suspect raises its incarnation, nobody marks it failed', () => {
    const { loop, ids } = cluster(6);
    loop.inject('n1', 'n5', { t: 'gossip', u: [{ k: 'suspect', id: 'n3', inc: 0, from: 'n5' }] });
    loop.runUntil(loop.nowMs + 60_000);
    expect(loop.marks('failed')).toEqual([]);
    expect(loop.state('n3').self.incarnation).toBeGreaterThanOrEqual(1);
    for (const id of ids) expect(loop.statusOf(id, 'n3')).toBe('alive');
  });

  it('a suspicion of an older incarnation is ignored', () => {
    const { loop } = cluster(4);
    loop.inject('n1', 'n2', { t: 'gossip', u: [{ k: 'suspect', id: 'n3', inc: 0, from: 'n2' }] });
    loop.runUntil(loop.nowMs + 5000);
    const incarnation = loop.state('n3').self.incarnation;
    expect(incarnation).toBe(1);
    loop.inject('n4', 'n2', { t: 'gossip', u: [{ k: 'suspect', id: 'n3', inc: 0, from: 'n2' }] });
    expect(loop.statusOf('n4', 'n3')).toBe('alive');
  });

  it('a failed member that comes back refutes with a higher incarnation and is alive again', () => {
    const { loop, ids } = cluster(5, { reconnectIntervalMs: 2000 });
    loop.crash('n3');
    loop.runUntil(loop.nowMs + 40_000);
    expect(loop.statusOf('n1', 'n3')).toBe('failed');
    const oldIncarnation = loop.state('n1').members.get('n3')!.incarnation;
    loop.add('n3');
    loop.runUntil(loop.nowMs + 20_000);
    for (const id of ids) expect(loop.statusOf(id, 'n3')).toBe('alive');
    expect(loop.state('n1').members.get('n3')!.incarnation).toBeGreaterThan(oldIncarnation);
  });
});

describe('leave, reap', () => {
  it('a graceful leave makes every member mark it left, never failed, at 10% loss', () => {
    for (const seed of [1, 2, 3]) {
      const { loop, ids } = cluster(6, {}, seed);
      loop.lossRatio = 0.1;
      let answered: SwimResponse | undefined;
      loop.request('n2', { type: 'leave' }, (r) => (answered = r));
      loop.runUntil(loop.nowMs + 60_000);
      expect(answered).toEqual({ ok: true });
      expect(loop.state('n2').self.status).toBe('left');
      for (const id of ids) if (id !== 'n2') expect(loop.statusOf(id, 'n2')).toBe('left');
      expect(loop.marks('failed', 'n2')).toEqual([]);
    }
  });

  it('failed members are reaped after reconnectTimeoutMs, left ones after tombstoneTimeoutMs', () => {
    const { loop } = cluster(5, { reconnectTimeoutMs: 60_000, tombstoneTimeoutMs: 30_000, reapIntervalMs: 5000 });
    loop.crash('n5');
    loop.request('n4', { type: 'leave' });
    loop.runUntil(loop.nowMs + 50_000);
    expect(loop.statusOf('n1', 'n4')).toBeUndefined();
    expect(loop.statusOf('n1', 'n5')).toBe('failed');
    loop.runUntil(loop.nowMs + 60_000);
    expect(loop.statusOf('n1', 'n5')).toBeUndefined();
    expect(loop.notices.some((n) => n.node === 'n1' && n.notice.type === 'reaped' && n.notice.member.id === 'n5')).toBe(
      true,
    );
  });

  it('force-leave turns a failed member into left', () => {
    const { loop } = cluster(4);
    loop.crash('n4');
    loop.runUntil(loop.nowMs + 40_000);
    const answers: SwimResponse[] = [];
    loop.request('n1', { type: 'forceLeave', name: 'n4' }, (r) => answers.push(r));
    loop.request('n1', { type: 'forceLeave', name: 'nobody' }, (r) => answers.push(r));
    loop.request('n1', { type: 'forceLeave', name: 'n1' }, (r) => answers.push(r));
    loop.runUntil(loop.nowMs + 3000);
    expect(answers.map((a) => a.ok)).toEqual([true, false, false]);
    for (const id of ['n1', 'n2', 'n3']) expect(loop.statusOf(id, 'n4')).toBe('left');
  });

  it('force-leave of a live member marks it leaving here only; the member refutes and is alive again', () => {
    const { loop } = cluster(4);
    loop.runUntil(loop.nowMs + 10_000);
    const before = loop.state('n1').members.get('n2')!.incarnation;
    const answers: SwimResponse[] = [];
    loop.request('n1', { type: 'forceLeave', name: 'n2' }, (r) => answers.push(r));
    expect(answers[0]!.ok).toBe(true);
    expect(loop.statusOf('n1', 'n2')).toBe('leaving');
    loop.runUntil(loop.nowMs + 5000);
    expect(loop.statusOf('n1', 'n2')).toBe('alive');
    expect(loop.state('n1').members.get('n2')!.incarnation).toBeGreaterThan(before);
    // Nobody else ever marked it leaving, left or failed, and the refutation reached everyone.
    for (const status of ['left', 'failed']) expect(loop.marks(status, 'n2')).toEqual([]);
    expect(loop.marks('leaving', 'n2').map((n) => n.node)).toEqual(['n1']);
    for (const id of ['n3', 'n4']) expect(loop.statusOf(id, 'n2')).toBe('alive');
  });

  it('force-leave of a member that is in fact gone: leaving, then suspected and failed by the probes', () => {
    const { loop } = cluster(4);
    loop.runUntil(loop.nowMs + 10_000);
    loop.crash('n3');
    const answers: SwimResponse[] = [];
    loop.request('n1', { type: 'forceLeave', name: 'n3' }, (r) => answers.push(r));
    expect([answers[0]!.ok, loop.statusOf('n1', 'n3')]).toEqual([true, 'leaving']);
    loop.runUntil(loop.nowMs + 40_000);
    expect(loop.statusOf('n1', 'n3')).toBe('failed');
    loop.request('n1', { type: 'forceLeave', name: 'n3' });
    loop.runUntil(loop.nowMs + 3000);
    for (const id of ['n1', 'n2', 'n4']) expect(loop.statusOf(id, 'n3')).toBe('left');
  });
});

describe('compact push-pull over a shared roster', () => {
  // The compact form leaves implicit roster members (alive at incarnation 0) out of the list; the
  // receiver must end exactly where the full list would have taken it. Two identical loops (same seed)
  // receive the two forms of the same state; their member tables must agree.
  const ids = names(6);
  const roster = makeRoster(ids);
  function reapedCluster(): SwimLoop {
    const loop = new SwimLoop(7, () => ({
      profile: 'sim',
      roster,
      joinPeers: [],
      reconnectTimeoutMs: 20_000,
      reapIntervalMs: 2000,
    }));
    for (const id of ids) loop.add(id, 0);
    loop.runUntil(5000);
    loop.crash('n6');
    loop.runUntil(45_000);
    return loop;
  }
  const table = (loop: SwimLoop, id: NodeId) => {
    const rows: string[] = [];
    loop.state(id).members.forEach((r) => rows.push(`${r.id}:${r.status}@${r.incarnation}`));
    return rows;
  };
  const base = { t: 'pushPull', join: false, reply: true, ltime: 0, events: [] } as const;

  it('a member reaped here but implicit at the sender is learned again, as from the full list', () => {
    const compact = reapedCluster();
    const full = reapedCluster();
    expect(compact.state('n1').members.has('n6')).toBe(false);
    expect(table(compact, 'n1')).toEqual(table(full, 'n1'));
    // A restarted member's state: everyone implicit, nobody reaped.
    compact.deliver('n2', 'n1', { ...base, members: [], rosterReaped: [] });
    full.deliver('n2', 'n1', { ...base, members: ids.map((id) => ({ id, inc: 0, st: 'alive' as const, tags: {} })) });
    expect(table(compact, 'n1')).toEqual(table(full, 'n1'));
    expect(compact.state('n1').members.get('n6')?.status).toBe('alive');
  });

  it('a member the sender reaped too stays forgotten; explicit entries merge as usual', () => {
    const loop = reapedCluster();
    loop.deliver('n2', 'n1', { ...base, members: [{ id: 'n3', inc: 5, st: 'alive', tags: {} }], rosterReaped: ['n6'] });
    expect(loop.state('n1').members.has('n6')).toBe(false);
    expect(loop.state('n1').members.get('n3')?.incarnation).toBe(5);
  });

  it('a node with a roster sends only what it holds explicitly', () => {
    const loop = reapedCluster();
    const sent: SwimMessage[] = [];
    loop.onSend = (_from, _to, message) => {
      if (message.t === 'pushPull') sent.push(message);
    };
    loop.runUntil(loop.nowMs + 200_000);
    expect(sent.length).toBeGreaterThan(0);
    for (const message of sent) {
      if (message.t !== 'pushPull') continue;
      expect(message.rosterReaped).toBeDefined();
      expect(message.members.length).toBeLessThan(ids.length);
    }
  });
});

describe('Lifeguard local health (§4.1)', () => {
  it('a member whose inbound traffic is slow raises its health score, and recovers when it is not', () => {
    const { loop } = cluster(6);
    loop.inboundDelayMs.set('n2', 1500);
    // Sampled each second: a healthy member that probes the slow one (and misses some nacks) rises too
    // now and then, so the claim is about the whole window, not one instant.
    const slow: number[] = [];
    const healthy: number[] = [];
    for (let i = 0; i < 30; i++) {
      loop.runUntil(loop.nowMs + 1000);
      slow.push(loop.state('n2').awareness.score);
      healthy.push(loop.state('n1').awareness.score);
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    expect(Math.max(...slow)).toBeGreaterThanOrEqual(3);
    expect(median(slow)).toBeGreaterThanOrEqual(2);
    expect(median(healthy)).toBeLessThanOrEqual(1);
    loop.inboundDelayMs.delete('n2');
    loop.runUntil(loop.nowMs + 120_000);
    expect(loop.state('n2').awareness.score).toBe(0);
  });
});

describe('user events (Serf)', () => {
  it('an event reaches every member exactly once, with a Lamport time above all it witnessed', () => {
    const { loop, ids } = cluster(6);
    loop.lossRatio = 0.05;
    const fired: SwimResponse[] = [];
    loop.request(
      'n2',
      { type: 'fireEvent', event: { name: 'deploy', payload: new Uint8Array([1, 2, 3]), id: 'e1' } },
      (r) => fired.push(r),
    );
    loop.runUntil(loop.nowMs + 3000);
    loop.request('n5', { type: 'fireEvent', event: { name: 'restart', payload: null, id: 'e2' } }, (r) =>
      fired.push(r),
    );
    loop.runUntil(loop.nowMs + 5000);
    const e1 = fired[0]!.ok ? fired[0]!.event! : null;
    const e2 = fired[1]!.ok ? fired[1]!.event! : null;
    expect(e2!.ltime).toBeGreaterThan(e1!.ltime);
    for (const id of ids) {
      const seen = loop.notices
        .filter((n) => n.node === id && n.notice.type === 'userEvent')
        .map((n) => (n.notice.type === 'userEvent' ? n.notice.event.id : ''));
      expect(seen).toEqual(['e1', 'e2']);
    }
    // A duplicate (same id, e.g. replayed by push-pull) is not delivered again.
    loop.inject('n1', 'n3', { t: 'gossip', u: [{ k: 'event', event: e1! }] });
    expect(loop.notices.filter((n) => n.node === 'n1' && n.notice.type === 'userEvent')).toHaveLength(2);
  });
});

describe('malformed input', () => {
  it('a malformed message or request is dropped, never thrown', () => {
    const { loop } = cluster(3);
    for (const junk of [
      null,
      7,
      'x',
      { t: 'ping' },
      { t: 'gossip', u: [{ k: 'alive', id: '', inc: -1 }] },
      { t: 'pushPull', members: 'no' },
    ]) {
      loop.inject('n1', 'n2', junk as unknown as SwimMessage);
    }
    let answer: SwimResponse | undefined;
    loop.request('n1', { type: 'nope' } as never, (r) => (answer = r));
    expect(answer?.ok).toBe(false);
    expect(loop.invariantFailures).toEqual([]);
  });
});

describe('sibling calls, notices and the view (the agent’s contract, core/swim/api.ts)', () => {
  it('answers a local call with a local reply, tells the observer, and shows a SwimView', async () => {
    const { NodeRuntime } = await import('../runtime.js');
    const { Prng } = await import('../prng.js');
    const { emptyDurableState } = await import('../types.js');
    const { swimMachine } = await import('./machine.js');
    // The "agent": forwards node requests to swim as local calls, and keeps what swim tells it.
    const agent = {
      name: 'agent',
      init: () => ({ replies: [] as unknown[], notices: [] as unknown[] }),
      step(
        state: { replies: unknown[]; notices: unknown[] },
        input: { kind: string; payload?: unknown; request?: unknown; requestId?: number },
        ctx: { emit(e: unknown): void },
      ) {
        if (input.kind === 'request')
          ctx.emit({
            kind: 'local',
            toMachine: 'swim',
            payload: { requestId: input.requestId, request: input.request },
          });
        if (input.kind === 'local') {
          const p = input.payload as { requestId?: number };
          if (typeof p.requestId === 'number') state.replies.push(p);
          else state.notices.push(p);
        }
      },
    };
    const rt = new NodeRuntime(
      'a1',
      [
        { machine: swimMachine, config: { observer: 'agent', tags: { role: 'consul' } } },
        { machine: agent as never, config: null },
      ],
      emptyDurableState,
      new Prng(1),
    );
    rt.step({ kind: 'start', nowMs: 0, startNonce: 0 });
    rt.step({ kind: 'request', nowMs: 1, requestId: 9, request: { machine: 'agent', body: { type: 'members' } } });
    const state = rt.stateOf<{ replies: { requestId: number; response: SwimResponse }[]; notices: { type: string }[] }>(
      'agent',
    );
    expect(state.replies).toEqual([
      {
        type: 'reply',
        requestId: 9,
        response: {
          ok: true,
          members: [{ id: 'a1', name: 'a1', incarnation: 0, status: 'alive', tags: { role: 'consul' } }],
        },
      },
    ]);
    expect(state.notices[0]).toMatchObject({ type: 'member', previous: null, member: { id: 'a1', status: 'alive' } });
    expect(rt.view().swim).toMatchObject({ members: [{ id: 'a1', status: 'alive', incarnation: 0 }], healthScore: 0 });
    expect(rt.invariants()).toEqual([]);
  });
});
