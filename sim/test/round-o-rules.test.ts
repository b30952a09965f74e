/**
 * The rules round O added (docs/mutation-testing.md, Session 17, Round O) can fail: each test feeds the rule
 * the behaviour of the escaped mutant and checks that it is named, and the real behaviour passes. The SWIM
 * rules are pure functions of what the harness noted in the step and of the member's state after it.
 */
import { describe, expect, it } from 'vitest';
import { initState } from '../../core/swim/state.js';
import { lanConfig } from '../../core/swim/config.js';
import { checkNack, checkPushPullMark, checkRefuteLhm } from '../harnesses/swim.js';

describe('round O: the push-pull merge rule (memberlist mergeState: a remote dead is merged as a suspicion)', () => {
  it('a failed mark made while merging a push-pull state (O06) is caught; a suspicion there, or a death elsewhere, passes', () => {
    const merging = { pushPullTick: 'n2' };
    expect(checkPushPullMark(merging, 'n2', 'n1', 'failed')).toMatch(
      /push-pull merge: n2 marked n1 failed while merging a push-pull state/,
    );
    expect(checkPushPullMark(merging, 'n2', 'n1', 'suspect')).toBeNull();
    expect(checkPushPullMark(merging, 'n2', 'n1', 'left')).toBeNull();
    expect(checkPushPullMark({ pushPullTick: null }, 'n2', 'n1', 'failed')).toBeNull();
    expect(checkPushPullMark({ pushPullTick: 'n3' }, 'n2', 'n1', 'failed')).toBeNull();
  });
});

describe('round O: the nack rule (Lifeguard §4.3)', () => {
  const tick = (asked: boolean, sent: boolean) => ({ nackTick: { node: 'n2', requester: 'n5', asked, sent } });

  it('a timed-out ping-req that asked for a nack and got none (O07) is caught, and a nack nobody asked for', () => {
    expect(checkNack(tick(true, false), 'n2')).toMatch(
      /lifeguard nack: n2's indirect ping for n5 timed out .* none was sent/,
    );
    expect(checkNack(tick(false, true), 'n2')).toMatch(
      /lifeguard nack: n2 nacked n5's ping-req, which asked for no nack/,
    );
    expect(checkNack(tick(true, true), 'n2')).toBeNull();
    expect(checkNack(tick(false, false), 'n2')).toBeNull();
    expect(checkNack(tick(true, false), 'n3')).toBeNull(); // another node's step
  });
});

describe('round O: the refutation health rule (Lifeguard §4.1: +1 per refutation)', () => {
  const scored = (score: number) => {
    const s = initState('n1', { ...lanConfig }, 0);
    s.awareness.score = score;
    return s;
  };

  it('a refutation that leaves the score where it was (O09) is caught; +1 per refutation, clamped, passes', () => {
    const max = lanConfig.awarenessMaxMultiplier - 1;
    expect(checkRefuteLhm({ refuteTick: { node: 'n1', before: 0, refutations: 1 } }, 'n1', scored(0))).toMatch(
      /lifeguard LHM: n1 refuted 1 suspicion\(s\) of itself; its health score went 0 → 0, Lifeguard §4.1 makes it 1/,
    );
    expect(checkRefuteLhm({ refuteTick: { node: 'n1', before: 0, refutations: 1 } }, 'n1', scored(1))).toBeNull();
    expect(checkRefuteLhm({ refuteTick: { node: 'n1', before: 1, refutations: 2 } }, 'n1', scored(3))).toBeNull();
    expect(checkRefuteLhm({ refuteTick: { node: 'n1', before: max, refutations: 1 } }, 'n1', scored(max))).toBeNull();
    expect(checkRefuteLhm({ refuteTick: { node: 'n1', before: 2, refutations: 0 } }, 'n1', scored(2))).toBeNull();
  });
});
