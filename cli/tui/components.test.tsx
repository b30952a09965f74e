/**
 * The presentational components draw a snapshot, and only the snapshot: the same props give the same
 * frame, every cell of the view model reaches the screen, and cuts show up in the partition matrix.
 */
import React from 'react';
import { describe, expect, it } from 'vitest';
import { render } from 'ink-testing-library';
import { Dashboard, PartitionMap, peerLetters, plainSummary } from './components.js';
import { type ClusterSnapshot, type NodeSnapshot, emptyPartition, isCut, nextSpeed, speeds } from './model.js';

function node(name: string, over: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return {
    name,
    up: true,
    paused: false,
    role: 'follower',
    term: 3,
    commitIndex: 10,
    appliedIndex: 9,
    leader: 'n1',
    peers: { n1: 'alive', n2: 'alive', n3: 'suspect' },
    health: '0',
    extra: {},
    ...over,
  };
}

const snapshot: ClusterSnapshot = {
  scenario: 'raft/leader-isolation',
  seed: 7,
  nowMs: 12_345.5,
  endMs: 30_000,
  phase: 'safety',
  events: 4321,
  nodes: [
    node('n1', { role: 'leader' }),
    node('n2', { up: false, role: null, term: null }),
    node('n3', { paused: true }),
  ],
  partition: { groups: [['n1']], oneWay: [{ from: 'n2', to: 'n3' }], clogged: [] },
  log: [
    { seq: 1, atMs: 100, kind: 'election', text: 'n1 became leader at term 3' },
    { seq: 2, atMs: 5000, kind: 'fault', text: 'fault: crash n2' },
  ],
  rates: {
    windowMs: 1000,
    sentPerSec: 120,
    deliveredPerSec: 110,
    droppedPerSec: 10,
    sentTotal: 1200,
    deliveredTotal: 1100,
    droppedTotal: 100,
  },
  ops: { ok: 5, fail: 1, unknown: 2, open: 1, byF: { put: 6, cas: 3 } },
  verdict: { status: 'running', violations: [] },
  interactiveFaults: 0,
};
const ui = { paused: true, speed: 100, selected: 1, message: null };

describe('Dashboard', () => {
  it('draws every part of a snapshot, deterministically', () => {
    const a = render(<Dashboard snapshot={snapshot} ui={ui} />);
    const frame = a.lastFrame()!;
    a.unmount();
    const b = render(<Dashboard snapshot={snapshot} ui={ui} />);
    expect(b.lastFrame()).toBe(frame);
    b.unmount();
    for (const text of [
      'raft/leader-isolation',
      'seed 7',
      't=12.345s',
      '×100',
      'paused',
      'leader',
      'down',
      'n1 became leader at term 3',
      'fault: crash n2',
      'ok 5',
      'unknown 2',
      'cas 3',
      '120/s sent',
      '1,200 sent in all',
      'one-way n2↛n3',
      '{n1} | {n2 n3}',
      'q quit',
    ]) {
      expect(frame).toContain(text);
    }
    expect(frame).toMatch(/>\s*n2\s+down/);
  });

  it('? shows what every column and key means; d shows the selected node field by field', () => {
    const help = render(<Dashboard snapshot={snapshot} ui={{ ...ui, help: true }} />).lastFrame()!;
    expect(help).toContain('help (? or esc closes)');
    expect(help).toContain('L left');
    expect(help).toContain('Lifeguard health score');
    expect(help).not.toContain('commit applied'); // the table gives way to the overlay
    const withDetails = {
      ...snapshot,
      nodes: snapshot.nodes.map((n, i) =>
        i === 1 ? { ...n, up: true, details: ['raft.term 3', 'raft.voters ["n1"]'] } : n,
      ),
    };
    const detail = render(<Dashboard snapshot={withDetails} ui={{ ...ui, detail: true }} />).lastFrame()!;
    expect(detail).toContain('detail n2');
    expect(detail).toContain('raft.term 3');
    expect(detail).toContain('raft.voters ["n1"]');
  });

  it('fits the terminal: with rows set, the header and the key line stay on screen', () => {
    const long = {
      ...snapshot,
      log: Array.from({ length: 30 }, (_, i) => ({ seq: i, atMs: i, kind: 'info' as const, text: `line ${i}` })),
    };
    const frame = render(<Dashboard snapshot={long} ui={ui} rows={20} />).lastFrame()!;
    expect(frame.split('\n').length).toBeLessThanOrEqual(20);
    expect(frame).toContain('conclave tui');
    expect(frame).toContain('q quit');
    expect(frame).toContain('line 29'); // the newest event line is kept, the oldest give way
  });

  it('shows a violation in the checker line', () => {
    const r = render(
      <Dashboard
        snapshot={{ ...snapshot, verdict: { status: 'fail', violations: ['election safety: two leaders in term 3'] } }}
        ui={ui}
      />,
    );
    expect(r.lastFrame()).toContain('FAIL: election safety: two leaders in term 3');
    r.unmount();
  });
});

describe('PartitionMap', () => {
  it('marks cut links with x and whole links with o', () => {
    const r = render(
      <PartitionMap
        partition={{ ...emptyPartition, groups: [['n1'], ['n2', 'n3']] }}
        names={['n1', 'n2', 'n3']}
        nowMs={0}
      />,
    );
    const rows = r.lastFrame()!.split('\n');
    expect(rows.find((l) => l.startsWith('  n1'))).toMatch(/n1\s+·\s+x\s+x/);
    expect(rows.find((l) => l.startsWith('  n2'))).toMatch(/n2\s+x\s+·\s+o/);
    r.unmount();
  });

  it('isCut: unlisted nodes form one more group; one-way cuts one direction', () => {
    const p = { groups: [['n1']], oneWay: [{ from: 'n2', to: 'n3' }], clogged: [] };
    expect(isCut(p, 'n1', 'n2')).toBe(true);
    expect(isCut(p, 'n2', 'n3')).toBe(true);
    expect(isCut(p, 'n3', 'n2')).toBe(false);
  });
});

describe('helpers', () => {
  it('peerLetters marks self and statuses; summarises large clusters', () => {
    expect(peerLetters(node('n2'), ['n1', 'n2', 'n3'])).toBe('A·S');
    const names = Array.from({ length: 40 }, (_, i) => `m${i}`);
    const peers = Object.fromEntries(names.map((n, i) => [n, i < 30 ? 'alive' : 'failed']));
    expect(peerLetters(node('m0', { peers }), names)).toBe('A30 F10');
  });

  it('the speed ladder runs ×1 … ×10,000 then flat out, and stops at both ends', () => {
    expect(speeds[0]).toBe(1);
    expect(speeds.at(-2)).toBe(10_000);
    expect(nextSpeed(10_000, 1)).toBe(Infinity);
    expect(nextSpeed(Infinity, 1)).toBe(Infinity);
    expect(nextSpeed(1, -1)).toBe(1);
  });

  it('plainSummary has no escape codes', () => {
    const text = plainSummary(snapshot);
    expect(text).not.toMatch(/\x1b/);
    expect(text).toContain('n1: up role=leader term=3');
  });
});
