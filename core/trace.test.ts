/**
 * Proves that typed trace events render the sentences the log, the transcripts and the golden files
 * have always shown (the text is derived from the record, never parsed back), that levels come from
 * the type, and that observers can tell events apart by their fields alone.
 */
import { describe, expect, it } from 'vitest';
import { traceEffect, traceLevelOf, traceNode, traceText, traceTopic, type TraceEvent } from './trace.js';

describe('typed trace events', () => {
  it('render the sentences the core used to write as free text', () => {
    const cases: [TraceEvent, string][] = [
      [{ type: 'raft.becameLeader', node: 'n3', term: 3 }, 'n3 became leader at term 3'],
      [
        { type: 'raft.becameCandidate', node: 'n1', term: 4, transfer: true },
        'n1 became candidate at term 4 (leadership transfer)',
      ],
      [
        { type: 'raft.bootstrapped', node: 'n1', servers: ['n1', 'n2', 'n3'] },
        'n1 bootstrapped a cluster of 3: n1 n2 n3',
      ],
      [
        { type: 'swim.marked', node: 'n2', about: 'n4', status: 'suspect', incarnation: 1 },
        'n2 marked n4 suspect at incarnation 1',
      ],
      [
        { type: 'raft.snapshotInstalledBy', node: 'n1', follower: 'n4', index: 40 },
        'n4 installed the snapshot at index 40 from n1',
      ],
      [
        { type: 'consul.memberReconciled', member: 'n5', health: 'failed' },
        "consul: member 'n5' failed, marking health critical",
      ],
      [{ type: 'consul.raftServerChange', member: 'n2', change: 'removing' }, 'consul: removing server n2 from raft'],
      [{ type: 'agent.joined', count: 2, error: null }, 'agent: (LAN) joined: 2 Err: <nil>'],
      [{ type: 'agent.nodeMaintenance', entered: false }, 'agent: Node left maintenance mode'],
      [{ type: 'consul.bootstrapFailed', error: 'x', detail: null }, 'consul: failed to bootstrap cluster: x'],
    ];
    for (const [event, text] of cases) expect(traceText(event)).toBe(text);
  });

  it('take their level from the type, and note its level from the emitter', () => {
    expect(traceEffect({ type: 'raft.becameLeader', node: 'n1', term: 1 }).level).toBe('info');
    expect(traceEffect({ type: 'raft.preVote', node: 'n1', term: 1 }).level).toBe('debug');
    expect(traceLevelOf('agent.checkStatus')).toBe('warn');
    expect(traceEffect({ type: 'note', text: 'x' }, 'debug').level).toBe('debug');
  });

  it('name their node and topic without reading the sentence', () => {
    expect(traceNode({ type: 'swim.reaped', node: 'n2', about: 'n3', status: 'left' })).toBe('n2');
    expect(traceNode({ type: 'consul.leadershipLost' })).toBeNull();
    expect(traceTopic({ type: 'consul.newLeader', leader: 'n1' })).toBe('election');
    expect(traceTopic({ type: 'swim.refuted', node: 'n1', incarnation: 2 })).toBe('membership');
    expect(traceTopic({ type: 'raft.malformedMessage', node: 'n1', from: 'x' })).toBe('problem');
    expect(traceTopic({ type: 'agent.synced', what: 'check', id: 'c' })).toBe('routine');
  });
});
