/**
 * Presentational components of the TUI. Each takes readonly props from the view model (model.ts) and
 * draws them; none holds state or reads a clock, so a given snapshot always gives the same frame (the
 * ink-testing-library tests depend on it).
 */
import React from 'react';
import { Box, Text } from 'ink';
import {
  type ClusterSnapshot,
  type LogLine,
  type NodeSnapshot,
  type OpCounts,
  type PartitionSnapshot,
  type RateSnapshot,
  type UiState,
  type Verdict,
  formatSimTime,
  huntLabel,
  isCut,
  speedLabel,
  statusLetter,
} from './model.js';

/** Rows of the node table beyond this are summarised in one line (a 1,000-member SWIM run). */
export const nodeRowsMax = 12;
/** Per-peer letters shown per row; more peers are summarised by counts. */
export const peerColumnsMax = 16;
/**
 * Rows the dashboard needs besides the node table and the partition matrix: header 2, the frame's
 * three titled top edges and its bottom edge 4, table heading 1, network/messages/ops/checker 4 (one
 * row each: they are truncated, not wrapped), events 3 at least, message 1 and keys 1 (the key line
 * fits the width).
 */
const rowsWithoutMatrix = 16;
/** Width of the panel rules when the terminal's width is unknown (tests, summaries). */
export const columnsDefault = 100; // ink-testing-library's width
/** Lines of the event log kept on screen. */
export const logLinesMax = 10;

const dash = (v: string | number | null | undefined): string => (v === null || v === undefined ? '-' : String(v));

export function Header(props: { readonly snapshot: ClusterSnapshot; readonly ui: UiState }): React.ReactElement {
  const { snapshot: s, ui } = props;
  const state =
    s.phase === 'done' ? '■ done' : ui.until ? `⏩ to ${huntLabel[ui.until]}` : ui.paused ? '⏸ paused' : '▶ running';
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>conclave tui</Text> · {s.scenario} · seed {s.seed}
      </Text>
      <Text>
        t={formatSimTime(s.nowMs)} of {formatSimTime(s.endMs)} · {s.phase} · {speedLabel(ui.speed)} · {state} ·{' '}
        {s.events.toLocaleString('en-US')} events
      </Text>
    </Box>
  );
}

function roleColor(node: NodeSnapshot): string | undefined {
  if (!node.up) return 'red';
  if (node.paused) return 'yellow';
  if (node.role === 'leader') return 'green';
  if (node.role === 'candidate' || node.role === 'precandidate') return 'cyan';
  return undefined;
}

/** How a node sees its peers: one letter per member (A alive, S suspect, F failed, L left), `·` for itself. */
export function peerLetters(node: NodeSnapshot, names: readonly string[]): string {
  const peers = Object.keys(node.peers);
  if (peers.length === 0) return '-';
  if (names.length <= peerColumnsMax)
    return names.map((n) => (n === node.name ? '·' : statusLetter(node.peers[n]))).join('');
  const counts = new Map<string, number>();
  for (const status of Object.values(node.peers)) counts.set(status, (counts.get(status) ?? 0) + 1);
  return [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([st, c]) => `${statusLetter(st)}${c}`)
    .join(' ');
}

export function NodeTable(props: {
  readonly nodes: readonly NodeSnapshot[];
  readonly selected: number;
}): React.ReactElement {
  const { nodes, selected } = props;
  const names = nodes.map((n) => n.name);
  const extraKeys = [...new Set(nodes.flatMap((n) => Object.keys(n.extra)))].slice(0, 3);
  const header = ['', 'node', 'state', 'role', 'term', 'commit', 'applied', 'leader', 'view', 'health', ...extraKeys];
  const start = Math.max(0, Math.min(selected - Math.floor(nodeRowsMax / 2), nodes.length - nodeRowsMax));
  const shown = nodes.slice(start, start + nodeRowsMax);
  const rows = shown.map((n, i) => [
    start + i === selected ? '>' : ' ',
    n.name,
    !n.up ? 'down' : n.paused ? 'paused' : 'up',
    dash(n.role),
    dash(n.term),
    dash(n.commitIndex),
    dash(n.appliedIndex),
    dash(n.leader),
    peerLetters(n, names),
    dash(n.health),
    ...extraKeys.map((k) => dash(n.extra[k])),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join(' ')
      .trimEnd();
  return (
    <Box flexDirection="column">
      <Text dimColor wrap="truncate-end">
        {line(header)}
      </Text>
      {shown.map((n, i) => (
        <Text key={n.name} color={roleColor(n)} inverse={start + i === selected} wrap="truncate-end">
          {line(rows[i]!)}
        </Text>
      ))}
      {nodes.length > shown.length ? (
        <Text dimColor>… {nodes.length - shown.length} more nodes (↑/↓ to scroll)</Text>
      ) : null}
    </Box>
  );
}

/** The partition map: the groups, one-way cuts and clogs, then a reachability matrix for small clusters. */
export function PartitionMap(props: {
  readonly partition: PartitionSnapshot;
  readonly names: readonly string[];
  readonly nowMs: number;
  /** False on a short terminal: the one-line summary only, without the reachability matrix. */
  readonly matrixFits?: boolean;
}): React.ReactElement {
  const { partition: p, names } = props;
  const whole = p.groups.length === 0 && p.oneWay.length === 0 && p.clogged.length === 0;
  const parts: string[] = [];
  if (p.groups.length > 0) {
    const listed = new Set(p.groups.flat());
    const rest = names.filter((n) => !listed.has(n));
    const groups = rest.length > 0 ? [...p.groups, rest] : p.groups;
    parts.push(groups.map((g) => `{${g.join(' ')}}`).join(' | '));
  }
  if (p.oneWay.length > 0) parts.push(`one-way ${p.oneWay.map((l) => `${l.from}↛${l.to}`).join(' ')}`);
  const clogs = p.clogged.filter((c) => c.untilMs > props.nowMs);
  if (clogs.length > 0)
    parts.push(`clogged ${clogs.map((c) => `${c.from}→${c.to} until ${formatSimTime(c.untilMs)}`).join(' ')}`);
  const matrix = !whole && names.length <= 9 && props.matrixFits !== false;
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>network </Text>
        {whole ? <Text color="green">whole</Text> : <Text color="yellow">{parts.join('; ')}</Text>}
      </Text>
      {matrix ? (
        <Box flexDirection="column" marginLeft={2}>
          <Text dimColor>{'from\\to '.padEnd(9) + names.map((n) => n.padEnd(4).slice(0, 4)).join('')}</Text>
          {names.map((from) => (
            <Text key={from}>
              {from.padEnd(9).slice(0, 9)}
              {names
                .map((to) =>
                  from === to
                    ? '·   '
                    : isCut(p, from, to)
                      ? 'x   '
                      : clogs.some((c) => c.from === from && c.to === to)
                        ? '~   '
                        : 'o   ',
                )
                .join('')}
            </Text>
          ))}
        </Box>
      ) : null}
    </Box>
  );
}

/**
 * A panel's titled top edge: `╭── nodes ───╮` for the first panel, `├── events ───┤` for the next
 * ones, which share the edge with the panel above (one frame around the three panels, as tmux draws
 * panes: a border costs one row per panel and two columns, not two rows and four).
 */
export function Rule(props: {
  readonly title: string;
  readonly width: number;
  readonly note?: string;
  readonly first?: boolean;
}): React.ReactElement {
  const [left, right] = props.first ? ['╭', '╮'] : ['├', '┤'];
  const head = `${left}── ${props.title} ${props.note ? `${props.note} ` : ''}`;
  const room = props.width - 1 - head.length;
  return (
    <Text dimColor wrap="truncate-end">
      {room >= 0 ? head + '─'.repeat(room) + right : head.slice(0, props.width - 1) + right}
    </Text>
  );
}

/** The frame's bottom edge. */
export function FrameBottom(props: { readonly width: number }): React.ReactElement {
  return <Text dimColor>{'╰' + '─'.repeat(Math.max(0, props.width - 2)) + '╯'}</Text>;
}

/** A panel's body between the frame's side edges (the edges stretch to the body's height). */
function PanelBody(props: {
  readonly width: number;
  readonly children: React.ReactNode;
  readonly grow?: boolean;
  readonly fit?: boolean;
  readonly bottomUp?: boolean;
}): React.ReactElement {
  return (
    <Box
      borderStyle="round"
      borderTop={false}
      borderBottom={false}
      borderDimColor
      width={props.width}
      flexDirection="column"
      flexShrink={props.grow ? 1 : 0}
      flexGrow={props.grow && props.fit ? 1 : 0}
      overflow={props.fit ? 'hidden' : undefined}
      justifyContent={props.bottomUp ? 'flex-end' : undefined}
    >
      {props.children}
    </Box>
  );
}

export function Rates(props: { readonly rates: RateSnapshot }): React.ReactElement {
  const r = props.rates;
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  return (
    <Text wrap="truncate-end">
      <Text bold>messages </Text>
      {n(r.sentPerSec)}/s sent · {n(r.deliveredPerSec)}/s delivered · {n(r.droppedPerSec)}/s dropped · {n(r.sentTotal)}{' '}
      sent in all
    </Text>
  );
}

export function OpsLine(props: { readonly ops: OpCounts }): React.ReactElement {
  const o = props.ops;
  const byF = Object.entries(o.byF)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([f, c]) => `${f} ${c}`)
    .join(' · ');
  return (
    <Text wrap="truncate-end">
      <Text bold>client ops </Text>
      <Text color="green">ok {o.ok}</Text> · <Text color="red">fail {o.fail}</Text> ·{' '}
      <Text color="yellow">unknown {o.unknown}</Text> · open {o.open}
      {byF ? ` (${byF})` : ''}
    </Text>
  );
}

/**
 * The verdict in one row: a failing run's first violation, cut to the width (the cluster panel's rule
 * then says `v` shows them all, in full).
 */
export function VerdictLine(props: { readonly verdict: Verdict }): React.ReactElement {
  const v = props.verdict;
  const color = v.status === 'fail' ? 'red' : v.status === 'pass' ? 'green' : undefined;
  const more = v.violations.length > 1 ? ` (+${v.violations.length - 1} more)` : '';
  const text =
    v.status === 'running'
      ? 'running, no violation so far'
      : v.status === 'pass'
        ? 'PASS: every expectation met'
        : `FAIL${more}: ${(v.violations[0] ?? 'violation').split('\n')[0]}`;
  return (
    <Text wrap="truncate-end">
      <Text bold>checker </Text>
      <Text color={color} bold={v.status !== 'running'}>
        {text}
      </Text>
    </Text>
  );
}

/** `text` cut into rows of at most `width` columns, at spaces where it can; later rows indented by `indent`. */
export function wrapRows(text: string, width: number, indent = ''): string[] {
  const rows: string[] = [];
  let rest = text;
  let prefix = '';
  while (prefix.length + rest.length > width) {
    const room = Math.max(1, width - prefix.length);
    const cut = rest.lastIndexOf(' ', room);
    const at = cut > 0 ? cut : room;
    rows.push(prefix + rest.slice(0, at));
    rest = rest.slice(at).replace(/^ /, '');
    prefix = indent;
  }
  rows.push(prefix + rest);
  return rows;
}

/**
 * The violations pane's rows: every violation in full, numbered, wrapped to `width` columns (so one
 * line is one row, and scrolling counts rows).
 */
export function violationLines(v: Verdict, width = Infinity): string[] {
  return v.violations.flatMap((t, i) =>
    t.split('\n').flatMap((line, j) => wrapRows(j === 0 ? `${i + 1}. ${line}` : `   ${line}`, width, '     ')),
  );
}

/** Every violation in full, wrapped to `width` (`v`), from row `scroll` on. */
export function ViolationsPane(props: {
  readonly verdict: Verdict;
  readonly scroll?: number;
  readonly width?: number;
}): React.ReactElement {
  const lines = violationLines(props.verdict, props.width).slice(props.scroll ?? 0);
  return (
    <Box flexDirection="column" flexShrink={0}>
      {props.verdict.violations.length === 0 ? <Text dimColor> (no violation so far)</Text> : null}
      {lines.map((t, i) => (
        <Box key={i} flexShrink={0}>
          <Text color="red" wrap="truncate-end">
            {t}
          </Text>
        </Box>
      ))}
    </Box>
  );
}

const kindColor: Record<LogLine['kind'], string | undefined> = {
  election: 'green',
  membership: 'cyan',
  fault: 'yellow',
  verdict: 'red',
  client: undefined,
  info: undefined,
};

/**
 * An event-log line: its time, the node it is about (blank for faults, phases and verdicts), and the
 * sentence without that node's name in front ("2.751s n3  became leader at term 3").
 */
export function eventLine(l: LogLine, nodeWidth: number): string {
  const node = l.node ?? '';
  const first = l.text.split('\n')[0]!; // one row per line: a checker's explanation goes to `v`
  const text = node && first.startsWith(`${node} `) ? first.slice(node.length + 1) : first;
  return `${formatSimTime(l.atMs).padStart(9)} ${node.padEnd(nodeWidth)} ${text}`;
}

/**
 * The lines the events pane shows: the `shown` lines ending with the newest (following), or ending with
 * the line `endSeq` names (scrolled back; the oldest kept line when it was dropped since).
 */
export function eventWindow(
  log: readonly LogLine[],
  endSeq: number | null | undefined,
  shown: number,
): { readonly firstIndex: number; readonly endIndex: number; readonly following: boolean } {
  let endIndex = log.length - 1;
  if (endSeq !== null && endSeq !== undefined) {
    const at = log.findLastIndex((l) => l.seq <= endSeq);
    endIndex = Math.max(at, Math.min(log.length - 1, shown - 1));
  }
  const following = endIndex >= log.length - 1;
  return { firstIndex: Math.max(0, endIndex - shown + 1), endIndex, following };
}

/**
 * The events pane after a scroll key: PgUp/PgDn a page less one line, K/J a line, Home the oldest
 * lines, End back to following the newest (reaching the newest by scrolling follows it too).
 */
export function scrollEvents(
  log: readonly LogLine[],
  endSeq: number | null | undefined,
  shown: number,
  key: 'pageUp' | 'pageDown' | 'lineUp' | 'lineDown' | 'home' | 'end',
): number | null {
  if (key === 'end' || log.length <= shown) return null;
  const { endIndex } = eventWindow(log, endSeq, shown);
  const page = Math.max(1, shown - 1);
  const by = { pageUp: -page, pageDown: page, lineUp: -1, lineDown: 1, home: -Infinity }[key];
  const to = Math.max(shown - 1, endIndex + by);
  return to >= log.length - 1 ? null : log[to]!.seq;
}

export function EventLog(props: {
  readonly log: readonly LogLine[];
  readonly nodeWidth?: number;
  /** The window to show (a frame that fits the terminal); absent: the last `logLinesMax` lines. */
  readonly window?: { readonly firstIndex: number; readonly endIndex: number };
}): React.ReactElement {
  const lines = props.window
    ? props.log.slice(props.window.firstIndex, props.window.endIndex + 1)
    : props.log.slice(-logLinesMax);
  const width = props.nodeWidth ?? Math.max(2, ...lines.map((l) => (l.node ?? '').length));
  // Each line keeps its one row (flexShrink 0, truncated): when the frame must fit the terminal, the
  // Dashboard clips whole old lines off the top instead of squeezing lines onto each other.
  return (
    <Box flexDirection="column" flexShrink={0}>
      {lines.length === 0 ? <Text dimColor> (none yet)</Text> : null}
      {lines.map((l) => (
        <Box key={l.seq} flexShrink={0}>
          <Text color={kindColor[l.kind]} wrap="truncate-end">
            {eventLine(l, width)}
          </Text>
        </Box>
      ))}
    </Box>
  );
}

export const helpText =
  'space pause  . step  f/l/x to next fault/leader/violation  +/- speed  [ ] seek  ↑↓ select  d detail  v violations  p c r h faults  s save  ? help  q quit';
/** The key line on terminals narrower than `helpText` (80 columns): the essentials, `?` for the rest. */
export const helpTextShort = 'space pause  . step  f l x next fault, leader, violation  d v panes  ? keys  q';

/** The `?` overlay: every column, letter and key, in the words of the protocols. */
export const helpLines: readonly string[] = [
  'columns',
  '  node     the node; > marks the selected one (↑/↓, j/k)',
  '  state    up, down (crashed: volatile state lost), paused (no processing; timers fire late)',
  '  role     Raft role: leader (green), follower, candidate/precandidate (cyan); client = agent only',
  '  term     Raft term         commit / applied   Raft commit index / last index applied',
  '  leader   the leader this node believes in',
  '  view     this node’s SWIM view of every member in order: A alive, S suspect, F failed,',
  '           L left, ? unknown, · itself (big clusters: counts per status)',
  '  health   Lifeguard health score (0 healthy; higher: this node doubts itself, probes slower)',
  '  others   harness columns (services, serf check, values…)',
  'network    groups that cannot reach each other {..} | {..}; matrix: o reaches, x cut, ~ clogged',
  'events     time, node, what happened; green elections, cyan membership, yellow faults, red violations',
  'keys       space pause/run  . one event (named below)  +/- speed  [ ] one second back/forward',
  '           f / l / x  run to the next fault / leader change / first violation (pauses there)',
  '           p partition the selected node off  c crash  r restart/resume  h heal everything',
  '           d detail pane (Raft log, KV, members, messages)  v every violation in full',
  '           PgUp/PgDn (or K/J one line, Home/End) scroll the events, detail or violations pane',
  '           s save a replay file (conclave sim replay FILE)  q or Ctrl-C quit',
  'checker    linearizability is checked while the run goes, every 0.5 s of simulated time',
  'faults typed here become timeline lines; the run is re-run from its seed, so a saved file replays it',
];

export function HelpOverlay(): React.ReactElement {
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1} flexShrink={1} overflow="hidden">
      <Box flexShrink={0}>
        <Text bold>help (? or esc closes)</Text>
      </Box>
      {helpLines.map((line, i) => (
        <Box key={i} flexShrink={0}>
          <Text wrap="truncate-end">{line}</Text>
        </Box>
      ))}
    </Box>
  );
}

/**
 * The detail pane's lines for a node, most telling first: commit/applied, the Raft log tail, the KV
 * contents, the member view with incarnations, the last messages in and out, then every other field
 * of every machine's view.
 */
export function detailLines(node: NodeSnapshot): string[] {
  const out: string[] = [];
  out.push(
    `role ${dash(node.role)} · term ${dash(node.term)} · commit ${dash(node.commitIndex)} · applied ${dash(node.appliedIndex)} · leader ${dash(node.leader)}`,
  );
  if (node.members && node.members.length > 0)
    out.push(`members ${node.members.map((m) => `${m.id} ${m.status}@${m.incarnation}`).join('  ')}`);
  if (node.kv) {
    const shown = node.kv.entries.map((e) => `${e.key}=${e.value}@${e.modifyIndex}`).join('  ');
    out.push(`kv ${node.kv.keyCount} keys${node.kv.keyCount > 0 ? `: ${shown}` : ''} (key=value@modify index)`);
  }
  if (node.raftLog) {
    const l = node.raftLog;
    out.push(`raft log ${l.firstIndex}..${l.lastIndex} (last ${l.entries.length}: index term command)`);
    for (const e of l.entries) out.push(`  ${String(e.index).padStart(5)} ${String(e.term).padStart(4)}  ${e.command}`);
  }
  const hop = (m: { atMs: number; peer: string; what: string; dropped: boolean }, dir: string): string =>
    `  ${formatSimTime(m.atMs).padStart(9)} ${dir} ${m.peer.padEnd(4)} ${m.what}${m.dropped ? ' (dropped)' : ''}`;
  if (node.messagesIn && node.messagesIn.length > 0) {
    out.push('messages in (sent at)');
    for (const m of node.messagesIn) out.push(hop(m, '←'));
  }
  if (node.messagesOut && node.messagesOut.length > 0) {
    out.push('messages out (sent at)');
    for (const m of node.messagesOut) out.push(hop(m, '→'));
  }
  if (node.details && node.details.length > 0) {
    out.push('every view field');
    for (const d of node.details) out.push(`  ${d}`);
  }
  return out;
}

/** The selected node in detail (`d`), from line `scroll` on. */
export function DetailPane(props: {
  readonly node: NodeSnapshot | undefined;
  readonly scroll?: number;
}): React.ReactElement {
  const { node } = props;
  const lines = node?.up ? detailLines(node).slice(props.scroll ?? 0) : [];
  return (
    <Box flexDirection="column" flexShrink={0}>
      {!node?.up ? <Text dimColor> (down: no state in memory)</Text> : null}
      {lines.map((line, i) => (
        <Box key={i} flexShrink={0}>
          <Text wrap="truncate-end" bold={!line.startsWith(' ')}>
            {' '}
            {line}
          </Text>
        </Box>
      ))}
    </Box>
  );
}

export function HelpLine(props: { readonly message: string | null; readonly columns?: number }): React.ReactElement {
  const columns = props.columns ?? columnsDefault;
  return (
    <Box flexDirection="column">
      {props.message ? (
        <Text color="magenta" wrap="truncate-end">
          {props.message}
        </Text>
      ) : null}
      <Text dimColor wrap="truncate-end">
        {helpText.length < columns ? helpText : helpTextShort}
      </Text>
    </Box>
  );
}

/**
 * The lower panel's scrolling (detail `d`, violations `v`): its lines, how many fit, and the furthest
 * it may scroll. `rows` is the frame's height (undefined: as tall as the content, nothing scrolls).
 */
export function lowerPane(
  s: ClusterSnapshot,
  ui: UiState,
  rows: number | undefined,
  columns: number = columnsDefault,
): { readonly total: number; readonly shown: number; readonly scrollMax: number } {
  const node = s.nodes[ui.selected];
  const total = ui.detail
    ? node?.up
      ? detailLines(node).length
      : 1
    : ui.violations
      ? Math.max(1, violationLines(s.verdict, paneWidth(columns)).length)
      : s.log.length;
  if (rows === undefined || ui.help) return { total, shown: total, scrollMax: 0 };
  const n = s.nodes.length;
  const p = s.partition;
  const whole = p.groups.length === 0 && p.oneWay.length === 0 && p.clogged.length === 0;
  const matrix = !whole && n <= 9 && rows >= rowsWithoutMatrix + Math.min(n, nodeRowsMax) + n + 1;
  const fixed =
    2 + // header
    1 +
    1 +
    Math.min(n, nodeRowsMax) +
    (n > nodeRowsMax ? 1 : 0) + // nodes: edge, heading, rows, "more"
    1 +
    1 +
    (matrix ? 1 + n : 0) +
    3 + // cluster: edge, network (+ matrix), messages, ops, checker
    1 + // the lower panel's edge
    1 + // the frame's bottom
    (ui.message ? 1 : 0) +
    1; // keys
  const shown = Math.max(1, rows - fixed);
  return { total, shown, scrollMax: Math.max(0, total - shown) };
}

/** Columns inside the frame's side edges. */
const paneWidth = (columns: number): number => columns - 2;

/** The whole screen for one snapshot. */
export function Dashboard(props: {
  readonly snapshot: ClusterSnapshot;
  readonly ui: UiState;
  /**
   * The terminal's height: the frame then takes exactly this many rows, and the event log gives up
   * its oldest lines first, so the header and the key line always stay on screen. Unset: as tall as
   * the content (tests, summaries).
   */
  readonly rows?: number;
  /** The terminal's width (the frame and the key line fit it); unset: `columnsDefault`. */
  readonly columns?: number;
}): React.ReactElement {
  const { snapshot: s, ui, rows } = props;
  const columns = props.columns ?? columnsDefault;
  // The frame takes every column: its side edges cost two, and the node table needs 78 at 80.
  const width = columns;
  const fit = rows !== undefined;
  const selected = s.nodes[ui.selected];
  const pane = lowerPane(s, ui, rows, columns);
  const scroll = Math.min(Math.max(0, ui.scroll ?? 0), pane.scrollMax);
  const where =
    pane.scrollMax > 0
      ? `lines ${scroll + 1}–${Math.min(pane.total, scroll + pane.shown)} of ${pane.total}, PgUp/PgDn `
      : '';
  const events = fit ? eventWindow(s.log, ui.eventsEndSeq, pane.shown) : undefined;
  const eventsNote =
    events === undefined || s.log.length <= pane.shown
      ? ''
      : events.following
        ? '(PgUp: older lines)'
        : `lines ${events.firstIndex + 1}–${events.endIndex + 1} of ${s.log.length}, PgUp/PgDn (End follows)`;
  const lower = ui.detail
    ? { title: `detail ${selected?.name ?? ''}`, note: `${where}(d closes)` }
    : ui.violations
      ? { title: 'violations', note: `${s.verdict.violations.length} ${where}(v closes)` }
      : { title: 'events', note: eventsNote };
  const shown = ui.help ? 'none' : 'flex';
  return (
    <Box flexDirection="column" height={rows} overflow={fit ? 'hidden' : undefined}>
      <Box flexShrink={0}>
        <Header snapshot={s} ui={ui} />
      </Box>
      {ui.help ? (
        <Box marginTop={1} flexGrow={fit ? 1 : 0} flexShrink={1} overflow={fit ? 'hidden' : undefined}>
          <HelpOverlay />
        </Box>
      ) : null}
      <Box flexShrink={0} flexDirection="column" display={shown}>
        <Rule title="nodes" width={width} first />
        <PanelBody width={width}>
          <NodeTable nodes={s.nodes} selected={ui.selected} />
        </PanelBody>
        <Rule
          title="cluster"
          note={s.verdict.status === 'fail' && !ui.violations ? '(v: the violations in full)' : ''}
          width={width}
        />
        <PanelBody width={width}>
          <PartitionMap
            partition={s.partition}
            names={s.nodes.map((n) => n.name)}
            nowMs={s.nowMs}
            matrixFits={!fit || rows >= rowsWithoutMatrix + Math.min(s.nodes.length, nodeRowsMax) + s.nodes.length + 1}
          />
          <Rates rates={s.rates} />
          <OpsLine ops={s.ops} />
          <VerdictLine verdict={s.verdict} />
        </PanelBody>
        <Rule title={lower.title} note={lower.note} width={width} />
      </Box>
      <Box flexDirection="column" flexGrow={fit ? 1 : 0} flexShrink={1} display={shown}>
        <PanelBody width={width} grow fit={fit} bottomUp={fit && !ui.detail && !ui.violations}>
          {ui.detail ? (
            <DetailPane node={selected} scroll={scroll} />
          ) : ui.violations ? (
            <ViolationsPane verdict={s.verdict} scroll={scroll} width={paneWidth(columns)} />
          ) : (
            <EventLog
              log={s.log}
              nodeWidth={Math.max(2, ...s.nodes.map((n) => n.name.length))}
              {...(events ? { window: events } : {})}
            />
          )}
        </PanelBody>
      </Box>
      <Box flexShrink={0} display={shown}>
        <FrameBottom width={width} />
      </Box>
      <Box flexShrink={0}>
        <HelpLine message={ui.message} columns={columns} />
      </Box>
    </Box>
  );
}

/** The plain summary printed without a terminal (CI, pipes): no colours, no cursor movement. */
export function plainSummary(s: ClusterSnapshot): string {
  const out: string[] = [];
  out.push(`conclave tui: no terminal, printing a summary of ${s.scenario} seed ${s.seed} instead`);
  out.push(`simulated ${formatSimTime(s.nowMs)} in ${s.events} events; phase ${s.phase}`);
  for (const n of s.nodes.slice(0, 50)) {
    const extra = Object.entries(n.extra)
      .map(([k, v]) => ` ${k}=${v}`)
      .join('');
    out.push(
      `  ${n.name}: ${!n.up ? 'down' : n.paused ? 'paused' : 'up'} role=${dash(n.role)} term=${dash(n.term)} commit=${dash(n.commitIndex)} applied=${dash(n.appliedIndex)} leader=${dash(n.leader)}${extra}`,
    );
  }
  if (s.nodes.length > 50) out.push(`  … ${s.nodes.length - 50} more nodes`);
  out.push(`messages: sent ${s.rates.sentTotal}, delivered ${s.rates.deliveredTotal}, dropped ${s.rates.droppedTotal}`);
  out.push(`client ops: ok ${s.ops.ok}, fail ${s.ops.fail}, unknown ${s.ops.unknown}, open ${s.ops.open}`);
  out.push(
    `checker: ${s.verdict.status}${s.verdict.violations.length > 0 ? ` (${s.verdict.violations.join('; ')})` : ''}`,
  );
  return out.join('\n') + '\n';
}
