/**
 * Each cluster checker can fail: fed hand-made states and effects that break one property at a
 * time, it names the property; fed consistent ones, it stays silent.
 */
import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../core/raft/log.js';
import type { Entry } from '../../core/raft/messages.js';
import type { RaftState } from '../../core/raft/raft.js';
import { History } from '../history.js';
import fc from 'fast-check';
import { plainTree } from '../../test/arbitraries.js';
import { RaftClusterChecker, contentText, contentTextByReplacer } from './raft.js';

function fakeState(
  role: RaftState['role'],
  term: number,
  entries: Entry[],
  commit: number,
  applied = commit,
): RaftState {
  const log = new RaftLog();
  for (const e of entries) log.append(e);
  return { role, term, log, commitIndex: commit, appliedIndex: applied } as unknown as RaftState;
}

const e = (index: number, term: number, command: unknown = `c${index}`): Entry => ({
  index,
  term,
  type: 'command',
  command,
});

describe('RaftClusterChecker', () => {
  it('Election Safety: two leaders in one term', () => {
    const c = new RaftClusterChecker();
    expect(c.afterStep('n1', fakeState('leader', 2, [e(1, 1)], 0), 'a')).toBeNull();
    expect(c.afterStep('n2', fakeState('leader', 2, [e(1, 1)], 0), 'b')).toMatch(
      /Election Safety: n2 and n1 both led term 2/,
    );
  });

  it('Log Matching: same index and term, different command', () => {
    const c = new RaftClusterChecker();
    const s = fakeState('follower', 1, [], 0);
    expect(
      c.onEffect('n1', { kind: 'persist', ops: [{ op: 'append', log: 'raft/log', entries: [e(1, 1, 'x')] }] }, s, 'a'),
    ).toBeNull();
    expect(
      c.onEffect('n2', { kind: 'persist', ops: [{ op: 'append', log: 'raft/log', entries: [e(1, 1, 'y')] }] }, s, 'b'),
    ).toMatch(/Log Matching/);
  });

  it('Log Matching compares content, not objects: copies agree, any difference is caught, later changes do not count', () => {
    // Every node holds its own copy of an entry (the wire copies it); the checker remembers the first key
    // built at a position with a private copy, and compares later copies with it field by field.
    const cmd = () => ({ type: 'kvSet', entry: { key: 'k', value: Buffer.from('v1') }, nonce: 'c.1' });
    const store = (c: RaftClusterChecker, node: string, command: unknown) =>
      c.onEffect(
        node,
        { kind: 'persist', ops: [{ op: 'append', log: 'raft/log', entries: [e(1, 1, command)] }] },
        fakeState('follower', 1, [], 0),
        node,
      );
    const c = new RaftClusterChecker();
    const first = cmd();
    expect(store(c, 'n1', first)).toBeNull();
    expect(store(c, 'n2', cmd())).toBeNull(); // another object, same data
    const asBytes = { ...cmd(), entry: { key: 'k', value: new Uint8Array(Buffer.from('v1')) } };
    expect(store(c, 'n3', asBytes)).toBeNull(); // bytes in another class read the same (sameBytes)
    first.entry.value[1] = 0x32; // n1 changes its command after storing it: 'v2'
    expect(store(c, 'n4', cmd())).toBeNull(); // compared with what n1 stored, not with its object now
    const other = { ...cmd(), entry: { key: 'k', value: Buffer.from('v2') } };
    expect(store(c, 'n5', other)).toMatch(/Log Matching: n5 stored entry 1:1/);
    const reordered = { nonce: 'c.1', type: 'kvSet', entry: { key: 'k', value: Buffer.from('v1') } };
    const c2 = new RaftClusterChecker();
    expect(store(c2, 'n1', cmd())).toBeNull();
    expect(store(c2, 'n2', reordered)).toMatch(/Log Matching/); // another field order is another text
  });

  it('State Machine Safety: different entries applied at one index', () => {
    const c = new RaftClusterChecker();
    expect(c.onEffect('n1', { kind: 'apply', index: 1, term: 1, command: 'x' }, null, 'a')).toBeNull();
    expect(c.onEffect('n2', { kind: 'apply', index: 1, term: 1, command: 'y' }, null, 'b')).toMatch(
      /State Machine Safety/,
    );
  });

  it('exactly once: one command applied at two indexes; out-of-order applies', () => {
    const c = new RaftClusterChecker();
    const cmd = { c: 1, s: 1, v: 5 };
    expect(c.onEffect('n1', { kind: 'apply', index: 1, term: 1, command: cmd }, null, 'a')).toBeNull();
    expect(c.onEffect('n1', { kind: 'apply', index: 2, term: 1, command: cmd }, null, 'a')).toMatch(/exactly once/);
    expect(c.onEffect('n1', { kind: 'apply', index: 2, term: 1, command: 'z' }, null, 'a')).toMatch(
      /applied index 2 after 2/,
    );
  });

  it('commit never decreases within a process, but may after a restart', () => {
    const c = new RaftClusterChecker();
    const entries = [e(1, 1), e(2, 1), e(3, 1)];
    expect(c.afterStep('n1', fakeState('follower', 1, entries, 3), 'a')).toBeNull();
    expect(c.afterStep('n1', fakeState('follower', 1, entries, 1), 'b')).toBeNull(); // a new process
    expect(c.afterStep('n1', fakeState('follower', 1, entries, 0), 'b')).toMatch(/commit index went back/);
  });

  it('Leader Completeness: a later leader missing a committed entry', () => {
    const c = new RaftClusterChecker();
    expect(c.afterStep('n1', fakeState('leader', 2, [e(1, 1), e(2, 2)], 2), 'a')).toBeNull();
    expect(c.afterStep('n2', fakeState('leader', 3, [e(1, 1)], 1), 'b')).toMatch(
      /Leader Completeness: n2 leads term 3 but holds nothing at index 2/,
    );
  });

  it('history: acknowledged but never applied, refused but applied, stale linearizable read', () => {
    const c = new RaftClusterChecker();
    const h = new History();
    const lost = h.invoke(0, 'write', { c: 0, s: 1 }, 'n1', 0);
    h.complete(lost, 'ok', { index: 5 }, 10);
    const refused = h.invoke(1, 'write', { c: 1, s: 1 }, 'n1', 0);
    h.complete(refused, 'fail', null, 10);
    c.onEffect('n1', { kind: 'apply', index: 6, term: 1, command: { c: 1, s: 1 } }, null, 'a');
    const read = h.invoke(2, 'read', null, 'n1', 20);
    h.complete(read, 'ok', { index: 3 }, 30);
    const problems = c.checkHistory(h);
    expect(problems.join('\n')).toMatch(/acknowledged write .* was never applied/);
    expect(problems.join('\n')).toMatch(/was refused but applied at index 6/);
    expect(problems.join('\n')).toMatch(/linearizable read .* at index 3 missed a write acknowledged at index 5/);
  });
});

describe('command content text', () => {
  // contentText (a rewritten tree serialised without a replacer) must give exactly the reference's
  // text: Log Matching and State Machine Safety compare these keys between nodes' copies.
  const tree = plainTree({
    specialKeys: ['__proto__', '0', 'type', 'data', 'toJSON'],
    extraLeaves: [fc.constant({ type: 'Buffer', data: [1, { x: new Uint8Array([2]) }] })],
  });

  it('equals JSON.stringify with the sameBytes replacer on any tree of plain data, bytes, buffers and dates', () => {
    fc.assert(
      fc.property(tree, (value) => {
        expect(contentText(value)).toBe(contentTextByReplacer(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('equals it on class instances, maps and boxed values too (the replacer path)', () => {
    class Cmd {
      constructor(readonly key: string) {}
    }
    for (const value of [new Cmd('k'), { c: new Cmd('k') }, new Map([[1, 2]]), [Object(7), Object('s')]])
      expect(contentText(value)).toBe(contentTextByReplacer(value));
  });
});
