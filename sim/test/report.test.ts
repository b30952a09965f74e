/**
 * The report is one self-contained page: it opens in headless Chromium with no console error, no
 * exception and no network request, and its three pictures are there; each picture is also valid
 * standalone SVG (XML). Skips — loudly — only when no Chromium is installed
 * (`apt-get install -y chromium`).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkPage, findChromium } from '../tools/report/chromium.js';
import type { RunRecord } from '../tools/report/record.js';
import { lamportSvg, messagesAround, rolesSvg, ticksMs, timelineSvg } from '../tools/report/svg.js';
import { opText, storyOf } from '../tools/report/story.js';
import { hopLabel } from '../tools/report/collect.js';
import { reportHtml } from '../tools/report/html.js';
import { writeReport } from '../tools/report/write.js';
import { layoutProbe } from '../tools/report/layout.js';

const chromium = findChromium();
if (!chromium) {
  // eslint-disable-next-line no-console
  console.warn(
    '\n\n!!!!!!!! sim/test/report.test.ts: NO CHROMIUM ON PATH — the headless-browser check of the report is SKIPPED. Install it: apt-get install -y chromium !!!!!!!!\n\n',
  );
}

/** A small hand-made record: 3 nodes, a partition, a crash, ops of every outcome, a violation. */
export function sampleRecord(): RunRecord {
  const nodes = ['n1', 'n2', 'n3'];
  const messages = [];
  for (let i = 0; i < 60; i++) {
    const from = nodes[i % 3]!;
    const to = nodes[(i + 1) % 3]!;
    messages.push({
      from,
      to,
      sendMs: 100 + i * 15,
      deliverMs: i % 7 === 0 ? null : 100 + i * 15 + 4,
      label: i % 2 ? 'AppendEntries' : 'RequestVote <&>',
    });
  }
  return {
    scenario: 'raft/sample <script>',
    seed: 42,
    trace: '0123456789abcdef',
    result: 'fail',
    simulatedMs: 2000,
    nodes,
    violations: [{ atMs: 900, text: 'election safety: n1 and n2 are leaders in term 3 & "more"' }],
    ops: [
      {
        id: 0,
        process: 0,
        f: 'put',
        key: 'k',
        node: 'n1',
        input: 1,
        output: null,
        invokeMs: 50,
        completeMs: 70,
        outcome: 'ok',
      },
      {
        id: 1,
        process: 1,
        f: 'cas',
        key: 'k',
        node: 'n2',
        input: [1, 2],
        output: null,
        invokeMs: 60,
        completeMs: 300,
        outcome: 'fail',
      },
      {
        id: 2,
        process: 0,
        f: 'get',
        key: 'k',
        node: 'n3',
        input: null,
        invokeMs: 400,
        completeMs: null,
        outcome: 'unknown',
      },
    ],
    faults: [
      { kind: 'partition', label: 'partition n1 | n2 n3', startMs: 200, endMs: 800, nodes },
      { kind: 'crash', label: 'crash n3', startMs: 850, endMs: 2000, nodes: ['n3'] },
    ],
    messages,
    roles: [
      { node: 'n1', atMs: 0, role: 'follower', term: 0 },
      { node: 'n1', atMs: 120, role: 'leader', term: 1 },
      { node: 'n2', atMs: 0, role: 'follower', term: 0 },
      { node: 'n2', atMs: 500, role: 'candidate', term: 2 },
      { node: 'n2', atMs: 700, role: 'leader', term: 3 },
      { node: 'n3', atMs: 0, role: 'follower', term: 0 },
      { node: 'n3', atMs: 850, role: 'down', term: null },
    ],
    log: [
      { atMs: 120, text: 'n1 became leader at term 1' },
      { atMs: 700, text: 'n2 became leader at term 3 <b>' },
    ],
  };
}

describe('report pictures', () => {
  it('draw every op, fault, message and role change, with text escaped', () => {
    const record = sampleRecord();
    const timeline = timelineSvg(record);
    expect(timeline.match(/<rect [^>]*fill="#(2e9e44|d6455d|e8b32a)"/g)?.length).toBe(3);
    expect(timeline).toContain('partition n1 | n2 n3');
    expect(timeline).toContain('violation');
    const lamport = lamportSvg(record);
    const around = messagesAround(record);
    expect(around.messages.every((m) => m.sendMs >= 400 && m.sendMs <= 900)).toBe(true);
    expect((lamport.match(/url\(#arrow\)/g) ?? []).length).toBe(
      around.messages.filter((m) => m.deliverMs !== null).length,
    );
    expect(lamport).toContain('RequestVote &lt;&amp;&gt;');
    expect(lamport).not.toContain('<&>');
    const roles = rolesSvg(record);
    expect(roles).toContain('leader t3');
    expect(roles).toContain('down');
  });

  it('put the cause first: the operations the checker names, as Jepsen writes them, and the faults before', () => {
    const base = sampleRecord();
    const text = [
      'register history is not linearizable: Longest linearizable prefix (key "k"): 1 of 3 operations.',
      'Next, #1 cas["k"]("a", "b") -> fail must take effect before its response, but …',
      'A minimal set of 2 operations that cannot be linearized together, whatever the other 1 did:',
      '  #0 put["k"]("a")  [300, 320]',
      '  #1 cas["k"]("a", "b") -> fail  [330, 360]',
    ].join('\n');
    const record = { ...base, violations: [{ atMs: 360, text }] };
    const story = storyOf(record)!;
    expect(story.headline).toBe('register history is not linearizable');
    expect(story.causeOps.map((o) => o.id)).toEqual([0, 1]);
    expect(story.focusOps.map((o) => o.id)).toEqual([0, 1]);
    expect(story.faultsBefore.map((f) => f.label)).toEqual(['partition n1 | n2 n3']);
    expect(story.fromMs).toBeLessThan(record.ops[0]!.invokeMs);
    const around = messagesAround(record);
    expect(around.fromMs).toBeLessThanOrEqual(story.fromMs);
    expect(around.messages.every((m) => m.sendMs >= story.fromMs && m.sendMs <= story.toMs)).toBe(true);
    const lamport = lamportSvg(record);
    expect(lamport).toContain('clients');
    expect(lamport).toMatch(/class="cause"/);
    expect(timelineSvg(record)).toMatch(/class="cause"/);
    const html = reportHtml(record);
    expect(html).toContain('The checker cannot linearize these 2 operations together');
    expect(html).toContain('Faults that began before it: <b>partition n1 | n2 n3</b>');
  });

  it('tell a liveness failure by what made no progress and the operation it names', () => {
    const base = sampleRecord();
    const text = [
      'liveness: no progress within 5000 ms after faults stopped: value 1 (#0 put), acknowledged by n1 at 70 ms, is on no node',
      '  of 3 writes invoked after the faults stopped at 1500 ms, none was acknowledged (0 failed, 0 unknown, 3 still open)',
    ].join('\n');
    const record = { ...base, violations: [{ atMs: 2000, text }] };
    const story = storyOf(record)!;
    expect(story.liveness).toBe(true);
    expect(story.headline).toBe('liveness: no progress within 5000 ms after faults stopped');
    expect(story.reasons).toEqual([
      'value 1 (#0 put), acknowledged by n1 at 70 ms, is on no node',
      'of 3 writes invoked after the faults stopped at 1500 ms, none was acknowledged (0 failed, 0 unknown, 3 still open)',
    ]);
    expect(story.causeOps.map((o) => o.id)).toEqual([0]);
    // The diagram centres on the acknowledged operation, not on the deadline at 2000 ms.
    expect(story.toMs).toBeLessThan(200);
    const html = reportHtml(record);
    expect(html).toContain('What made no progress:');
    expect(html).toContain('<li>value 1 (#0 put), acknowledged by n1 at 70 ms, is on no node</li>');
    expect(html).toContain('The operations named above');
  });

  it('write operations as Jepsen does and fold routine heartbeats', () => {
    const op = (f: string, input: unknown, output: unknown, outcome: 'ok' | 'fail' | 'unknown' = 'ok') => ({
      id: 1,
      process: 0,
      f,
      key: 'r/2',
      node: '-',
      input,
      output,
      invokeMs: 0,
      completeMs: 1,
      outcome,
    });
    expect(opText(op('read', null, null))).toBe('read r/2 → nil');
    expect(opText(op('read', null, 'v10'))).toBe('read r/2 → v10');
    expect(opText(op('cas', { from: 'v2', to: 'v3' }, true))).toBe('cas r/2 v2→v3 ok');
    expect(opText(op('cas', { from: null, to: 'v3' }, false, 'fail'))).toBe('cas r/2 nil→v3 fail');
    expect(opText(op('write', { value: 'v34' }, null, 'unknown'))).toBe('write r/2 v34 ?');
    expect(opText(op('delete-cas', { from: 'v14' }, true))).toBe('delete-cas r/2 v14 ok');
    expect(opText({ ...op('broadcast', 12, { ok: true }), key: undefined })).toBe('broadcast 12 ok');
    // Key-group transactions (kv harness): sub-operations by key name, the failing ones marked, gets' values.
    const txn = (output: unknown, outcome: 'ok' | 'fail' | 'unknown' = 'ok') => ({
      ...op(
        'txn',
        {
          ops: [
            { verb: 'set', slot: 0, value: 'v3' },
            { verb: 'cas', slot: 1, from: 'v2', value: 'v4' },
            { verb: 'get', slot: 2 },
          ],
        },
        output,
        outcome,
      ),
      key: 't/1/',
    });
    expect(opText(txn({ ok: true, gets: ['v7'] }))).toBe('txn t/1/ [set a=v3, cas b v2→v4, get c → v7] ok');
    expect(opText(txn({ ok: false, failed: [1] }))).toBe('txn t/1/ [set a=v3, cas b v2→v4 ✗, get c] rolled back');
    expect(opText(txn(null, 'unknown'))).toBe('txn t/1/ [set a=v3, cas b v2→v4, get c] ?');
    expect(opText({ ...op('read-tree', null, ['v3', null, 'v7']), key: 't/1/' })).toBe('read-tree t/1/ → {a=v3, c=v7}');
    expect(opText({ ...op('delete-tree', null, null), key: 't/1/' })).toBe('delete-tree t/1/ ok');
    const hop = (entries: unknown[]) => ({
      from: 'n1',
      to: 'n2',
      sentMs: 0,
      deliveredMs: 1,
      machine: 'raft',
      type: 'append',
      payload: { entries },
    });
    expect(hopLabel(hop([]))).toBe('heartbeat');
    expect(hopLabel(hop([{}, {}]))).toBe('append[2]');
    const record = sampleRecord();
    const beats = record.messages.map((m, i) => (i % 3 === 0 ? { ...m, label: 'heartbeat' } : m));
    const around = messagesAround({ ...record, messages: beats });
    expect(around.messages.some((m) => m.label === 'heartbeat')).toBe(false);
    expect(around.folded.get('heartbeat')).toBeGreaterThan(0);
    expect(lamportSvg({ ...record, messages: beats })).toMatch(/folded: \d+ heartbeats/);
    expect(messagesAround({ ...record, messages: beats }, undefined, true).folded.size).toBe(0);
  });

  it('ticks fall on round values inside the range', () => {
    expect(ticksMs(0, 1000, 10)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(ticksMs(3, 47, 4).every((t) => t >= 3 && t <= 47)).toBe(true);
  });
});

describe.skipIf(!chromium)('report in headless Chromium', () => {
  it('opens without console errors or network requests, and shows its three pictures', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-report-'));
    const { html, files } = writeReport(sampleRecord(), dir, 'conclave sim replay x.replay.json');
    expect(readFileSync(html, 'utf8')).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    // One page load checks the page and, with the browser's XML parser, each standalone .svg file.
    const svgTexts = files.filter((f) => f.endsWith('.svg')).map((f) => readFileSync(f, 'utf8'));
    expect(svgTexts).toHaveLength(3);
    const probe = `[document.querySelectorAll('svg').length, document.title, document.body.innerText.includes('FAIL'),
      ${JSON.stringify(svgTexts)}.map((t) => { const d = new DOMParser().parseFromString(t, 'image/svg+xml'); return d.getElementsByTagName('parsererror').length === 0 && d.documentElement.localName === 'svg'; })]`;
    const page = await checkPage(chromium!, html, probe);
    expect(page.problems).toEqual([]);
    expect(page.requests).toEqual([]);
    expect(page.probe).toEqual([3, 'conclave report: raft/sample <script> seed 42', true, [true, true, true]]);
  }, 60_000);

  it('lays out without clipping or overlap: every label inside its picture, no two labels meeting', async () => {
    // The layout check (sim/tools/report/layout.ts) at a fixed window size, by the browser's own
    // geometry of each label rather than by pixels (a pixel comparison breaks with every Chromium and
    // font update, and does not say what broke): a label that passes its SVG's edge is clipped on
    // screen, and two labels whose boxes intersect are unreadable.
    const dir = mkdtempSync(join(tmpdir(), 'conclave-report-'));
    const base = sampleRecord();
    const text = 'not linearizable\nA minimal set of 2 operations:\n  #0 x  [300, 320]\n  #1 y  [330, 360]';
    const { html } = writeReport({ ...base, violations: [{ atMs: 2, text }] }, dir);
    const page = await checkPage(chromium!, html, layoutProbe);
    expect(page.problems).toEqual([]);
    expect(page.probe).toEqual([]);
    // The same probe fails on a label pushed outside its picture, and on two labels drawn over each
    // other, whatever their kind (the check can fail).
    const bad = join(dir, 'bad.html');
    writeFileSync(
      bad,
      '<!DOCTYPE html><html><head><title>x</title></head><body><svg xmlns="http://www.w3.org/2000/svg" width="300" height="50"><text x="290" y="20">violation clipped</text><text x="10" y="30">append[1]</text><text x="30" y="33" font-size="8">appendReply</text></svg></body></html>',
    );
    expect((await checkPage(chromium!, bad, layoutProbe)).probe).toEqual([
      'clipped: violation clipped',
      'overlap: append[1] / appendReply',
    ]);
  }, 60_000);

  it('explains kv/planted-stale-leader-reads seed 1 on the first screen, with a clean layout', async () => {
    // Issue 16's test of the report: the two operations that cannot be linearized together and the
    // partition that explains them are inside the first 1280×900 window; the page's pictures (a real
    // run: 800 operations, thousands of messages) pass the layout check.
    const { readFileSync: read } = await import('node:fs');
    const { loadScenario, runLoaded } = await import('../run.js');
    const { makeReplay } = await import('../tools/replay.js');
    const { collectRecord } = await import('../tools/report/collect.js');
    const path = 'scenarios/kv/planted-stale-leader-reads.txt';
    const result = runLoaded(await loadScenario(path), 1, {});
    expect(result.result).toBe('fail');
    const file = makeReplay({
      scenarioFile: path,
      scenarioText: read(path, 'utf8'),
      result,
      codec: true,
      origin: 'test',
    });
    const { record } = await collectRecord(file);
    const story = storyOf(record)!;
    expect(story.causeOps.length).toBeGreaterThanOrEqual(2);
    expect(story.faultsBefore.map((f) => f.label)).toContain('partition n5');
    const dir = mkdtempSync(join(tmpdir(), 'conclave-report-'));
    const { html } = writeReport(record, dir);
    const firstScreen = `(() => {
      const seen = [...document.querySelectorAll('.story td, .story b, .story p')]
        .filter((e) => e.getBoundingClientRect().bottom <= window.innerHeight)
        .map((e) => e.textContent);
      return seen.join('\\n');
    })()`;
    const page = await checkPage(chromium!, html, `[${firstScreen}, ${layoutProbe}]`);
    expect(page.problems).toEqual([]);
    const [seen, layout] = page.probe as [string, string[]];
    for (const op of story.causeOps) expect(seen).toContain(opText(op));
    expect(seen).toContain('partition n5');
    expect(layout).toEqual([]);
  }, 120_000);

  it('catches a broken page (the check can fail)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-report-'));
    const { writeFileSync } = await import('node:fs');
    const bad = join(dir, 'bad.html');
    writeFileSync(
      bad,
      '<!DOCTYPE html><html><body><script>console.error("planted")</script><img src="missing.png"></body></html>',
    );
    const page = await checkPage(chromium!, bad, '1');
    expect(page.problems.some((p) => p.includes('planted'))).toBe(true);
    expect(page.problems.some((p) => p.includes('missing.png') || p.includes('ERR_FILE_NOT_FOUND'))).toBe(true);
  }, 60_000);
});

describe('report of a real run', () => {
  it('collects a record from a replay without changing its trace, and pairs faults into windows', async () => {
    const { readFileSync: read } = await import('node:fs');
    const { loadScenario, runLoaded } = await import('../run.js');
    const { makeReplay } = await import('../tools/replay.js');
    const { collectRecord, faultWindows } = await import('../tools/report/collect.js');
    const path = 'scenarios/planted/broadcast-lost-ack.txt';
    const loaded = await loadScenario(path);
    let failing = null;
    for (let seed = 1; seed <= 40 && !failing; seed++) {
      const r = runLoaded(loaded, seed, {});
      if (r.result === 'fail') failing = r;
    }
    expect(failing).not.toBeNull();
    const file = makeReplay({
      scenarioFile: path,
      scenarioText: read(path, 'utf8'),
      result: failing!,
      codec: true,
      origin: 'test',
    });
    const { record, sameTrace } = await collectRecord(file);
    expect(sameTrace).toBe(true);
    expect(record.result).toBe('fail');
    expect(record.violations[0]!.text).toMatch(/^liveness/);
    expect(record.ops.length).toBeGreaterThan(10);
    expect(record.messages.length).toBeGreaterThan(10);
    expect(record.faults.length).toBeGreaterThan(3);
    expect(record.faults.every((f) => f.endMs >= f.startMs && f.endMs <= record.simulatedMs)).toBe(true);
    expect(new Set(record.roles.map((r) => r.node))).toEqual(new Set(record.nodes));

    const { focusMs } = await import('../tools/report/collect.js');
    expect(
      focusMs(
        'register history is not linearizable: …\n  #3 cas ok  [716.216, 1087.174]\n  #4 read  [1155.174, 1201.051]',
        12_000,
      ),
    ).toBe(1201.051);
    expect(focusMs('liveness: no progress', 15_000)).toBe(15_000);

    const windows = faultWindows(
      [
        { atMs: 10, text: 'partition n1 | n2 n3' },
        { atMs: 20, text: 'n2 crashed (0 unsynced writes, 0 survived)' },
        { atMs: 30, text: 'network healed' },
        { atMs: 40, text: 'n3 paused' },
        { atMs: 50, text: 'n2 restarted' },
        { atMs: 60, text: 'safety phase over: faults healed, liveness phase begins' },
      ],
      100,
      ['n1', 'n2', 'n3'],
    );
    expect(windows.map((w) => [w.kind, w.startMs, w.endMs])).toEqual([
      ['partition', 10, 30],
      ['crash', 20, 50],
      ['pause', 40, 60],
    ]);
    if (chromium) {
      const dir = mkdtempSync(join(tmpdir(), 'conclave-report-'));
      const { html } = writeReport(record, dir);
      const page = await checkPage(chromium, html, `[document.querySelectorAll('svg').length, ${layoutProbe}]`);
      expect(page.problems).toEqual([]);
      expect(page.requests).toEqual([]);
      expect(page.probe).toEqual([3, []]);
    }
  }, 60_000);
});
