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
  isCut,
  speedLabel,
  statusLetter,
} from './model.js';

/** Rows of the node table beyond this are summarised in one line (a 1,000-member SWIM run). */
export const nodeRowsMax = 12;
/** Per-peer letters shown per row; more peers are summarised by counts. */
export const peerColumnsMax = 16;
/**
 * Rows the dashboard needs besides the node table and the partition matrix: header 2, table heading
 * 1, network 1, rates/ops/verdict 4 (ops may wrap), events 3 at least, message and keys 3 (the keys
 * wrap below 110 columns), and 4 blank separators.
 */
const rowsWithoutMatrix = 20;
/** Lines of the event log kept on screen. */
export const logLinesMax = 10;

const dash = (v: string | number | null | undefined): string => (v === null || v === undefined ? '-' : String(v));

export function Header(props: { readonly snapshot: ClusterSnapshot; readonly ui: UiState }): React.ReactElement {
  const { snapshot: s, ui } = props;
  const state = s.phase === 'done' ? '■ done' : ui.paused ? '⏸ paused' : '▶ running';
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
      <Text dimColor>{line(header)}</Text>
      {shown.map((n, i) => (
        <Text key={n.name} color={roleColor(n)} inverse={start + i === selected}>
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

export function Rates(props: { readonly rates: RateSnapshot }): React.ReactElement {
  const r = props.rates;
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  return (
    <Text>
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
    <Text>
      <Text bold>client ops </Text>
      <Text color="green">ok {o.ok}</Text> · <Text color="red">fail {o.fail}</Text> ·{' '}
      <Text color="yellow">unknown {o.unknown}</Text> · open {o.open}
      {byF ? ` (${byF})` : ''}
    </Text>
  );
}

export function VerdictLine(props: { readonly verdict: Verdict }): React.ReactElement {
  const v = props.verdict;
  const color = v.status === 'fail' ? 'red' : v.status === 'pass' ? 'green' : undefined;
  const text =
    v.status === 'running'
      ? 'running, no violation so far'
      : v.status === 'pass'
        ? 'PASS: every expectation met'
        : `FAIL: ${v.violations[0] ?? 'violation'}`;
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>checker </Text>
        <Text color={color} bold={v.status !== 'running'}>
          {text}
        </Text>
      </Text>
      {v.violations.slice(1, 4).map((t, i) => (
        <Text key={i} color="red">
          {'        '}
          {t}
        </Text>
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

export function EventLog(props: { readonly log: readonly LogLine[] }): React.ReactElement {
  const lines = props.log.slice(-logLinesMax);
  // Each line keeps its one row (flexShrink 0, truncated): when the frame must fit the terminal, the
  // Dashboard clips whole old lines off the top instead of squeezing lines onto each other.
  return (
    <Box flexDirection="column" flexShrink={0}>
      <Text bold>events</Text>
      {lines.length === 0 ? <Text dimColor> (none yet)</Text> : null}
      {lines.map((l) => (
        <Box key={l.seq} flexShrink={0}>
          <Text color={kindColor[l.kind]} wrap="truncate-end">
            {' '}
            {formatSimTime(l.atMs).padStart(9)} {l.text}
          </Text>
        </Box>
      ))}
    </Box>
  );
}

export const helpText =
  'space pause  . step  +/- speed  [ ] seek  ↑↓ select  d detail  p partition  c crash  r restart  h heal  s save  ? help  q quit';

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
  'events     green elections, cyan membership, yellow faults, red violations',
  'keys       space pause/run  . one event  +/- speed  [ ] one second back/forward in time',
  '           p partition the selected node off  c crash  r restart/resume  h heal everything',
  '           d detail pane  s save a replay file (conclave sim replay FILE)  q or Ctrl-C quit',
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

/** The selected node's machines, field by field (`d`). */
export function DetailPane(props: { readonly node: NodeSnapshot | undefined }): React.ReactElement {
  const { node } = props;
  const lines = node?.details ?? [];
  return (
    <Box flexDirection="column" flexShrink={0}>
      <Text bold>detail {node?.name ?? ''}</Text>
      {!node?.up ? <Text dimColor> (down: no state in memory)</Text> : null}
      {node?.up && lines.length === 0 ? <Text dimColor> (no details for clusters this big)</Text> : null}
      {lines.map((line, i) => (
        <Box key={i} flexShrink={0}>
          <Text wrap="truncate-end"> {line}</Text>
        </Box>
      ))}
    </Box>
  );
}

export function HelpLine(props: { readonly message: string | null }): React.ReactElement {
  return (
    <Box flexDirection="column">
      {props.message ? <Text color="magenta">{props.message}</Text> : null}
      <Text dimColor>{helpText}</Text>
    </Box>
  );
}

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
}): React.ReactElement {
  const { snapshot: s, ui, rows } = props;
  const fit = rows !== undefined;
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
      <Box marginTop={1} flexShrink={0} display={ui.help ? 'none' : 'flex'}>
        <NodeTable nodes={s.nodes} selected={ui.selected} />
      </Box>
      <Box marginTop={1} flexDirection="column" flexShrink={0} display={ui.help ? 'none' : 'flex'}>
        <PartitionMap
          partition={s.partition}
          names={s.nodes.map((n) => n.name)}
          nowMs={s.nowMs}
          matrixFits={!fit || rows >= rowsWithoutMatrix + Math.min(s.nodes.length, nodeRowsMax) + s.nodes.length + 1}
        />
        <Rates rates={s.rates} />
        <OpsLine ops={s.ops} />
        <VerdictLine verdict={s.verdict} />
      </Box>
      <Box
        marginTop={1}
        flexDirection="column"
        flexGrow={fit ? 1 : 0}
        flexShrink={1}
        overflow={fit ? 'hidden' : undefined}
        justifyContent={fit && !ui.detail ? 'flex-end' : undefined}
        display={ui.help ? 'none' : 'flex'}
      >
        {ui.detail ? <DetailPane node={s.nodes[ui.selected]} /> : <EventLog log={s.log} />}
      </Box>
      <Box marginTop={1} flexShrink={0}>
        <HelpLine message={ui.message} />
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
