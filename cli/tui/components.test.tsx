/**
 * The presentational components draw a snapshot, and only the snapshot: the same props give the same
 * frame, every cell of the view model reaches the screen, and cuts show up in the partition matrix.
 */
import React from 'react';
import { describe, expect, it } from 'vitest';
import { render } from 'ink-testing-library';
import {
  Dashboard,
  PartitionMap,
  detailLines,
  eventWindow,
  lowerPane,
  scrollEvents,
  violationLines,
  helpText,
  helpTextShort,
  peerLetters,
  plainSummary,
} from './components.js';
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
    { seq: 1, atMs: 100, kind: 'election', node: 'n1', text: 'n1 became leader at term 3' },
    { seq: 3, atMs: 101, kind: 'election', node: 'n3', text: 'consul: New leader elected: n1' },
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
      'fault: crash n2',
      'ok 5',
      'unknown 2',
      'cas 3',
      '120/s sent',
      '1,200 sent in all',
      'one-way n2↛n3',
      '{n1} | {n2 n3}',
      helpTextShort, // 100 columns: the long key line would wrap
    ]) {
      expect(frame).toContain(text);
    }
    expect(frame).toMatch(/>\s*n2\s+down/);
    // Every event line has its time and node; the node's name is not repeated in the sentence.
    expect(frame).toMatch(/0\.100s n1 became leader at term 3/);
    expect(frame).toMatch(/0\.101s n3 consul: New leader elected: n1/);
    expect(frame).toMatch(/5\.000s {4}fault: crash n2/);
    for (const title of ['── nodes ', '── cluster ', '── events ']) expect(frame).toContain(title);
  });

  it('fits 80×24: the key line is one row, every row fits 80 columns, the newest events stay', () => {
    const frame = render(<Dashboard snapshot={snapshot} ui={ui} rows={23} columns={80} />).lastFrame()!;
    const rows = frame.split('\n');
    expect(rows.length).toBeLessThanOrEqual(23);
    for (const row of rows) expect(row.length, row).toBeLessThanOrEqual(80);
    expect(rows.at(-1)).toBe(helpTextShort);
    expect(frame).toContain('fault: crash n2');
    expect(helpText.length).toBeGreaterThan(80); // the long one would have wrapped
  });

  it('v shows every violation in full; the checker line keeps the first on one row', () => {
    const long = `linearizability: ${'x'.repeat(150)} end\nNext, #152 cas`;
    const failing = { ...snapshot, verdict: { status: 'fail' as const, violations: [long, 'second one'] } };
    const closed = render(<Dashboard snapshot={failing} ui={ui} columns={80} />).lastFrame()!;
    expect(closed).toContain('FAIL (+1 more): linearizability: xxx');
    expect(closed).toContain('(v: the violations in full)');
    expect(closed).not.toContain(' end');
    expect(closed).not.toContain('Next, #152'); // the checker line stays one row
    const open = render(<Dashboard snapshot={failing} ui={{ ...ui, violations: true }} columns={80} />).lastFrame()!;
    expect(open).toContain('── violations 2 (v closes)');
    expect(open.replace(/[│\s]+/g, '')).toContain(`1.${long}`.replace(/\s+/g, '')); // wrapped inside the frame
    expect(open).toContain('Next, #152 cas');
    expect(open).toContain('2. second one');
    // At 80×24 the pane scrolls by rows of the wrapped text: the title counts them, none is cut.
    const tall = { ...failing, verdict: { ...failing.verdict, violations: [long.repeat(4), 'second one'] } };
    const rows = violationLines(tall.verdict, 78);
    for (const row of rows) expect(row.length, row).toBeLessThanOrEqual(78);
    const pane = lowerPane(tall, { ...ui, violations: true }, 23, 80);
    expect(pane.total).toBe(rows.length);
    const last = render(
      <Dashboard snapshot={tall} ui={{ ...ui, violations: true, scroll: pane.scrollMax }} rows={23} columns={80} />,
    ).lastFrame()!;
    expect(last).toContain(`lines ${pane.scrollMax + 1}–${rows.length} of ${rows.length}, PgUp/PgDn`);
    expect(last).toContain('2. second one');
  });

  it('d shows the Raft log tail, the KV contents, the members with incarnations and the last messages', () => {
    const rich = node('n2', {
      raftLog: { firstIndex: 1, lastIndex: 12, entries: [{ index: 12, term: 3, command: 'kvSet entry.key=k1' }] },
      kv: { keyCount: 1, entries: [{ key: 'k1', value: 'v3', modifyIndex: 12 }] },
      members: [{ id: 'n1', status: 'suspect', incarnation: 4 }],
      messagesIn: [{ atMs: 1234, peer: 'n1', what: 'raft.append', dropped: false }],
      messagesOut: [{ atMs: 1235, peer: 'n1', what: 'raft.appendReply', dropped: true }],
    });
    const lines = detailLines(rich);
    expect(lines[0]).toBe('role follower · term 3 · commit 10 · applied 9 · leader n1');
    expect(lines).toContain('members n1 suspect@4');
    expect(lines).toContain('kv 1 keys: k1=v3@12 (key=value@modify index)');
    expect(lines).toContain('raft log 1..12 (last 1: index term command)');
    expect(lines).toContain('     12    3  kvSet entry.key=k1');
    expect(lines).toContain('     1.234s ← n1   raft.append');
    expect(lines).toContain('     1.235s → n1   raft.appendReply (dropped)');
    const frame = render(
      <Dashboard snapshot={{ ...snapshot, nodes: [snapshot.nodes[0]!, rich] }} ui={{ ...ui, detail: true }} />,
    ).lastFrame()!;
    expect(frame).toContain('── detail n2 (d closes)');
    expect(frame).toContain('kvSet entry.key=k1');
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

  it('scrolls the detail pane: the title says which lines show, and every line can be reached', () => {
    // A node with 40 log entries: far more detail lines than fit at 80×24.
    const entries = Array.from({ length: 40 }, (_, i) => ({ index: i + 1, term: 3, command: `kvSet key=k${i}` }));
    const tall = node('n2', { raftLog: { firstIndex: 1, lastIndex: 40, entries } });
    const s = { ...snapshot, nodes: [snapshot.nodes[0]!, tall, snapshot.nodes[2]!] };
    const total = detailLines(tall).length;
    const pane = lowerPane(s, { ...ui, detail: true }, 23);
    expect(pane.total).toBe(total);
    expect(pane.scrollMax).toBe(total - pane.shown);
    const seen = new Set<string>();
    for (let scroll = 0; scroll <= pane.scrollMax + 3; scroll += Math.max(1, pane.shown - 1)) {
      const frame = render(<Dashboard snapshot={s} ui={{ ...ui, detail: true, scroll }} rows={23} columns={80} />)
        .lastFrame()!
        .split('\n');
      expect(frame.length).toBeLessThanOrEqual(23);
      for (const row of frame) expect(row.length, row).toBeLessThanOrEqual(80);
      const at = Math.min(scroll, pane.scrollMax); // past the end: the last page
      const title = frame.find((r) => r.startsWith('├── detail n2'))!;
      expect(title).toContain(`lines ${at + 1}–${Math.min(total, at + pane.shown)} of ${total}, PgUp/PgDn`);
      // The pane's rows, between its title edge and the frame's bottom edge: exactly `shown` of them,
      // the lines from `at` on (so the layout and lowerPane agree about the height).
      const body = frame.slice(
        frame.indexOf(title) + 1,
        frame.findIndex((r) => r.startsWith('╰')),
      );
      expect(body.length).toBe(pane.shown);
      body.forEach((row, i) => expect(row.slice(1, -1).trim()).toBe(detailLines(tall)[at + i]!.trim()));
      for (const row of body) seen.add(row.slice(1, -1).trim());
    }
    for (const line of detailLines(tall)) expect(seen.has(line.trim()), line).toBe(true);
  });

  it('scrolls the events pane back: PgUp, K/J, Home, End; the view stays put while lines arrive', () => {
    // 60 event lines, far more than the 80×24 pane shows: following shows the newest; scrolling back
    // by pages reaches every line, names the lines in the title, and End (or the newest) follows again.
    const log = Array.from({ length: 60 }, (_, i) => ({
      seq: 100 + i,
      atMs: i * 10,
      kind: 'info' as const,
      node: 'n1',
      text: `n1 event number ${i}`,
    }));
    const s = { ...snapshot, log };
    const { shown } = lowerPane(s, ui, 23);
    const frameOf = (endSeq: number | null, logNow = log): string[] =>
      render(<Dashboard snapshot={{ ...s, log: logNow }} ui={{ ...ui, eventsEndSeq: endSeq }} rows={23} columns={80} />)
        .lastFrame()!
        .split('\n');
    const body = (frame: string[]): string[] => {
      const title = frame.findIndex((r) => r.startsWith('├── events'));
      return frame
        .slice(
          title + 1,
          frame.findIndex((r) => r.startsWith('╰')),
        )
        .map((r) => r.slice(1, -1).trim());
    };
    const following = frameOf(null);
    expect(following.find((r) => r.startsWith('├── events'))).toContain('(PgUp: older lines)');
    expect(body(following).at(-1)).toContain('event number 59');
    expect(body(following)).toHaveLength(shown);
    const seen = new Set<string>(body(following));
    let at: number | null = null;
    for (let i = 0; i < 20 && (i === 0 || at !== scrollEvents(log, at, shown, 'pageUp')); i++) {
      at = scrollEvents(log, at, shown, 'pageUp');
      const frame = frameOf(at);
      for (const row of frame) expect(row.length, row).toBeLessThanOrEqual(80);
      const w = eventWindow(log, at, shown);
      expect(frame.find((r) => r.startsWith('├── events'))).toContain(
        `lines ${w.firstIndex + 1}–${w.endIndex + 1} of 60, PgUp/PgDn (End follows)`,
      );
      for (const row of body(frame)) seen.add(row);
    }
    for (let i = 0; i < 60; i++)
      expect(
        [...seen].some((r) => r.endsWith(`event number ${i}`)),
        `line ${i}`,
      ).toBe(true);
    expect(scrollEvents(log, at, shown, 'home')).toBe(log[shown - 1]!.seq);
    expect(scrollEvents(log, log[30]!.seq, shown, 'lineUp')).toBe(log[29]!.seq);
    expect(scrollEvents(log, log[30]!.seq, shown, 'lineDown')).toBe(log[31]!.seq);
    expect(scrollEvents(log, log[30]!.seq, shown, 'end')).toBeNull();
    expect(scrollEvents(log, log[57]!.seq, shown, 'pageDown')).toBeNull(); // reaching the newest follows
    // Scrolled back, new lines arriving do not move the view.
    const more = [...log, ...Array.from({ length: 5 }, (_, i) => ({ ...log[0]!, seq: 200 + i, text: `n1 new ${i}` }))];
    expect(body(frameOf(log[30]!.seq, more))).toEqual(body(frameOf(log[30]!.seq)).map((r) => r));
    expect(body(frameOf(log[30]!.seq)).at(-1)).toContain('event number 30');
  });

  it('fits the terminal: with rows set, the header and the key line stay on screen', () => {
    const long = {
      ...snapshot,
      log: Array.from({ length: 30 }, (_, i) => ({ seq: i, atMs: i, kind: 'info' as const, text: `line ${i}` })),
    };
    const frame = render(<Dashboard snapshot={long} ui={ui} rows={20} />).lastFrame()!;
    expect(frame.split('\n').length).toBeLessThanOrEqual(20);
    expect(frame).toContain('conclave tui');
    expect(frame).toContain(helpTextShort);
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
