/**
 * SVG pictures of a run, as strings (no DOM, no dependencies), so the report is one self-contained
 * file that opens offline:
 *
 *  - timelineSvg: client operations per process over time, coloured ok / fail / unknown, with the fault
 *    windows shaded behind them (after Jepsen's timeline.html);
 *  - lamportSvg: one vertical line per node, time flowing down, an arrow per message around the
 *    violation (after Maelstrom's Lamport diagrams), dropped messages ending in a cross;
 *  - rolesSvg: each node's role and term over time, crashes and pauses included.
 *
 * Every SVG is standalone XML (namespace declared, text escaped), valid both inline in HTML and as a
 * `.svg` file.
 */
import { type RecordedMessage, type RecordedOp, type RunRecord, violationTimeMs } from './record.js';
import { opText, storyOf } from './story.js';
import { charWidthEm, LabelLayout, textBox, textWidth, type Box } from './labels.js';

/**
 * Characters of an operation's label beside its bar in the Lamport diagram's client column (the full
 * text is in the bar's tooltip and in the operations table): at 10 px bold this stays inside the column.
 */
export const opLabelCharsMax = 42;

/** `text` cut to `max` characters, an ellipsis marking the cut. */
export function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Message labels the Lamport diagram folds into a count unless asked for (routine traffic). */
export const routineLabels: ReadonlySet<string> = new Set(['heartbeat', 'ping', 'ack']);

/** Bounds that keep a picture readable and its file small. */
export const opsDrawnMax = 5000;
export const messagesDrawnMax = 300;
export const lamportWindowMsDefault = 500;

const colors = {
  ok: '#2e9e44',
  fail: '#d6455d',
  unknown: '#e8b32a',
  fault: '#f4a26133',
  faultEdge: '#e07b39',
  violation: '#c0392b',
  axis: '#555',
  grid: '#ddd',
  leader: '#2e9e44',
  candidate: '#3a86c8',
  precandidate: '#8ab6e0',
  follower: '#cfd8dc',
  learner: '#b39ddb',
  down: '#666',
  paused: '#e8b32a',
} as const;

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const num = (x: number): string => (Math.round(x * 10) / 10).toString();

function svgOpen(width: number, height: number, title: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${num(width)}" height="${num(height)}" viewBox="0 0 ${num(width)} ${num(height)}" font-family="sans-serif" font-size="11" role="img"><title>${escapeXml(title)}</title>`;
}

/** Tick positions for an axis of `spanMs`, about `count` of them, on round values. */
export function ticksMs(fromMs: number, toMs: number, count: number): number[] {
  const span = Math.max(1e-3, toMs - fromMs);
  const raw = span / Math.max(1, count);
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let t = Math.ceil(fromMs / step) * step; t <= toMs + 1e-9; t += step) out.push(Math.round(t * 1000) / 1000);
  return out;
}

function formatMs(ms: number): string {
  return Math.abs(ms) >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 2)}s` : `${num(ms)}ms`;
}

function opLabel(op: RunRecord['ops'][number]): string {
  const via = op.node === '-' ? '' : ` via ${op.node}`;
  return `#${op.id} ${opText(op)} (client ${op.process}${via}, ${formatMs(op.invokeMs)}–${op.completeMs === null ? '∞' : formatMs(op.completeMs)})`;
}

/** Client operations over time, one lane per process, fault windows shaded. */
export function timelineSvg(record: RunRecord, widthPx = 1100): string {
  const ops = record.ops.slice(0, opsDrawnMax);
  const processes = [...new Set(ops.map((o) => o.process))].sort((a, b) => a - b);
  const laneH = 14;
  const left = 110;
  const top = 24;
  const cause = new Set(storyOf(record)?.causeOps.map((o) => o.id) ?? []);
  const plotW = widthPx - left - 20;
  const faultRows = Math.min(record.faults.length, 30);
  const height = top + Math.max(1, processes.length) * laneH + 30 + faultRows * 13 + 10;
  const endMs = Math.max(record.simulatedMs, 1);
  const x = (ms: number): number => left + (Math.min(ms, endMs) / endMs) * plotW;
  const lanesBottom = top + Math.max(1, processes.length) * laneH;
  const out: string[] = [svgOpen(widthPx, height, `Client operations of ${record.scenario} seed ${record.seed}`)];
  for (const f of record.faults) {
    out.push(
      `<rect x="${num(x(f.startMs))}" y="${top}" width="${num(Math.max(1, x(f.endMs) - x(f.startMs)))}" height="${lanesBottom - top}" fill="${colors.fault}" stroke="${colors.faultEdge}" stroke-width="0.5"><title>${escapeXml(`${f.label} (${formatMs(f.startMs)}–${formatMs(f.endMs)})`)}</title></rect>`,
    );
  }
  for (const t of ticksMs(0, endMs, 10)) {
    out.push(
      `<line x1="${num(x(t))}" y1="${top}" x2="${num(x(t))}" y2="${lanesBottom}" stroke="${colors.grid}" stroke-width="0.5"/>`,
    );
    out.push(
      `<text x="${num(x(t))}" y="${lanesBottom + 12}" text-anchor="middle" fill="${colors.axis}">${escapeXml(formatMs(t))}</text>`,
    );
  }
  processes.forEach((p, i) =>
    out.push(
      `<text x="${left - 6}" y="${top + i * laneH + 10}" text-anchor="end" fill="${colors.axis}">client ${p}</text>`,
    ),
  );
  const lane = new Map(processes.map((p, i) => [p, i]));
  for (const op of ops) {
    const y = top + lane.get(op.process)! * laneH + 2;
    const end = op.completeMs ?? endMs;
    const w = Math.max(1.5, x(end) - x(op.invokeMs));
    const dashed = op.outcome === 'unknown' ? ' stroke-dasharray="2,2"' : '';
    const stroke = cause.has(op.id) ? `${colors.violation}" stroke-width="2` : colors[op.outcome];
    out.push(
      `<rect x="${num(x(op.invokeMs))}" y="${y}" width="${num(w)}" height="${laneH - 4}" fill="${colors[op.outcome]}" fill-opacity="${op.outcome === 'unknown' ? 0.5 : 0.85}" stroke="${stroke}"${dashed}${cause.has(op.id) ? ' class="cause"' : ''}><title>${escapeXml(opLabel(op))}</title></rect>`,
    );
  }
  const vt = violationTimeMs(record);
  if (vt !== null) {
    out.push(
      `<line x1="${num(x(vt))}" y1="${top - 6}" x2="${num(x(vt))}" y2="${lanesBottom}" stroke="${colors.violation}" stroke-width="2"/>`,
    );
    // Anchored so that the word stays inside the picture near either edge.
    const anchor = x(vt) < left + 40 ? 'start' : x(vt) > widthPx - 60 ? 'end' : 'middle';
    out.push(
      `<text x="${num(x(vt))}" y="${top - 10}" text-anchor="${anchor}" fill="${colors.violation}" font-weight="bold">violation</text>`,
    );
  }
  const legendY = lanesBottom + 30;
  record.faults.slice(0, faultRows).forEach((f, i) => {
    out.push(
      `<rect x="${num(x(f.startMs))}" y="${legendY + i * 13 - 8}" width="${num(Math.max(2, x(f.endMs) - x(f.startMs)))}" height="9" fill="${colors.faultEdge}" fill-opacity="0.6"/>`,
    );
    out.push(
      `<text x="${left - 6}" y="${legendY + i * 13}" text-anchor="end" fill="${colors.axis}">${escapeXml(f.kind)}</text>`,
    );
    // Right of its bar, or pulled left so that it ends inside the picture (cut if even that is too long).
    const text = shorten(f.label, Math.floor((widthPx - left - 4) / (11 * charWidthEm)));
    const w = textWidth(text, 11);
    const lx = Math.max(left, Math.min(x(f.endMs) + 4, widthPx - 4 - w));
    out.push(`<text x="${num(lx)}" y="${legendY + i * 13}" fill="${colors.axis}">${escapeXml(text)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/**
 * The messages around a moment (the first violation, else the end of the run): those sent in the
 * `windowMs` before it, at most `messagesDrawnMax`, the latest kept.
 */
export function messagesAround(
  record: RunRecord,
  windowMs = lamportWindowMsDefault,
  showRoutine = false,
): { fromMs: number; toMs: number; messages: RecordedMessage[]; folded: Map<string, number> } {
  // Centred on the cause when the violation names operations (their calls and returns), else the
  // `windowMs` before the violation (or the end of a passing run).
  const story = storyOf(record);
  const centreMs = violationTimeMs(record) ?? record.simulatedMs;
  const fromMs = story && story.focusOps.length > 0 ? story.fromMs : Math.max(0, centreMs - windowMs);
  const toMs = story && story.focusOps.length > 0 ? story.toMs : centreMs;
  const folded = new Map<string, number>();
  const inWindow = record.messages.filter((m) => {
    if (m.sendMs < fromMs || m.sendMs > toMs) return false;
    if (showRoutine || !routineLabels.has(m.label)) return true;
    folded.set(m.label, (folded.get(m.label) ?? 0) + 1);
    return false;
  });
  const messages = inWindow.slice(-messagesDrawnMax);
  const first = messages[0]?.sendMs ?? fromMs;
  const last = Math.max(toMs, ...messages.map((m) => m.deliverMs ?? m.sendMs));
  return { fromMs: Math.min(first, fromMs), toMs: last, messages, folded };
}

/** A Lamport diagram: nodes as vertical lines, time down, one arrow per message. */
export function lamportSvg(record: RunRecord, windowMs = lamportWindowMsDefault, showRoutine = false): string {
  const clientW = 300;
  const { fromMs, toMs, messages, folded } = messagesAround(record, windowMs, showRoutine);
  const nodes = record.nodes;
  // Node columns share what the page's 1,150 px leave beside the clients' column (90 px at least).
  const colW = Math.max(90, Math.min(180, (1150 - 70 - clientW - 20) / Math.max(1, nodes.length)));
  // A column for the clients on the left: each operation in the window is a bar from its call to its
  // return, labelled as Jepsen writes it; the ones that explain the violation are red.
  const cause = new Set(storyOf(record)?.causeOps.map((o) => o.id) ?? []);
  const clientOps = record.ops.filter(
    (op) => op.invokeMs <= toMs && (op.completeMs ?? Infinity) >= fromMs && (cause.has(op.id) || op.key !== undefined),
  );
  const left = 70 + clientW;
  const top = 56;
  const plotH = Math.max(300, Math.min(2400, Math.max(messages.length * 8, clientOps.length * 14)));
  const width = left + nodes.length * colW + 20;
  const height = top + plotH + 30;
  const span = Math.max(1e-3, toMs - fromMs);
  const y = (ms: number): number => top + ((ms - fromMs) / span) * plotH;
  const xOf = new Map(nodes.map((n, i) => [n, left + i * colW + colW / 2]));
  // Every label goes through one layout, most important first, so none overlaps another or leaves the
  // picture: headers, then the operations that explain the failure, the violation, the time axis, the
  // other operations and last the message names (each message keeps its tooltip).
  const labels = new LabelLayout(width, height);
  const texts: string[] = [];
  const out: string[] = [
    svgOpen(
      width,
      height,
      `Messages around ${violationTimeMs(record) === null ? 'the end of the run' : 'the violation'}`,
    ),
  ];
  out.push(
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#333"/></marker><marker id="clientArrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#777"/></marker></defs>',
  );
  for (const n of nodes) {
    const xn = xOf.get(n)!;
    labels.take(textBox(xn, top - 14, n, 11, 'middle', true));
    texts.push(`<text x="${num(xn)}" y="${top - 14}" text-anchor="middle" font-weight="bold">${escapeXml(n)}</text>`);
  }
  labels.take(textBox(70 + clientW / 2, top - 14, 'clients', 11, 'middle', true));
  texts.push(
    `<text x="${num(70 + clientW / 2)}" y="${top - 14}" text-anchor="middle" font-weight="bold">clients</text>`,
  );
  if (folded.size > 0) {
    const text = shorten(
      `folded: ${[...folded].map(([label, count]) => `${count} ${label}${count === 1 ? '' : 's'}`).join(', ')} (routine, not drawn; see --all-messages)`,
      Math.floor((width - 80) / (11 * charWidthEm)),
    );
    labels.take(textBox(70, 14, text, 11, 'start'));
    texts.push(`<text x="70" y="14" fill="${colors.axis}">${escapeXml(text)}</text>`);
  }
  const ticks = ticksMs(fromMs, toMs, 10);
  for (const t of ticks)
    out.push(
      `<line x1="${left - 4}" y1="${num(y(t))}" x2="${width}" y2="${num(y(t))}" stroke="${colors.grid}" stroke-width="0.5"/>`,
    );
  for (const f of record.faults) {
    if (f.endMs < fromMs || f.startMs > toMs) continue;
    const y0 = y(Math.max(f.startMs, fromMs));
    const y1 = y(Math.min(f.endMs, toMs));
    for (const n of f.nodes) {
      const xn = xOf.get(n);
      if (xn === undefined) continue;
      out.push(
        `<rect x="${num(xn - 6)}" y="${num(y0)}" width="12" height="${num(Math.max(1, y1 - y0))}" fill="${colors.fault}" stroke="${colors.faultEdge}" stroke-width="0.5"><title>${escapeXml(f.label)}</title></rect>`,
      );
    }
  }
  const clients = clientColumn(clientOps, cause, 70, clientW, y, top, plotH, xOf, toMs, labels);
  out.push(clients.shapes);
  texts.push(...clients.causeLabels);
  const vt = violationTimeMs(record);
  if (vt !== null && vt >= fromMs && vt <= toMs) {
    out.push(
      `<line x1="${left}" y1="${num(y(vt))}" x2="${width}" y2="${num(y(vt))}" stroke="${colors.violation}" stroke-width="2"/>`,
    );
    // Above the line, else below it.
    const vy = [Math.max(top + 10, y(vt) - 4), y(vt) + 14].find((at) =>
      labels.maybeTake(textBox(width - 4, at, 'violation', 11, 'end', true)),
    );
    if (vy !== undefined)
      texts.push(
        `<text x="${width - 4}" y="${num(vy)}" text-anchor="end" fill="${colors.violation}" font-weight="bold">violation</text>`,
      );
  }
  // Time labels just right of the axis line, above their grid line (the clients' labels end at the axis).
  for (const t of ticks) {
    const ty = y(t) - 3;
    if (labels.maybeTake(textBox(left + 4, ty, formatMs(t), 11, 'start')))
      texts.push(`<text x="${left + 4}" y="${num(ty)}" fill="${colors.axis}">${escapeXml(formatMs(t))}</text>`);
  }
  texts.push(...clients.placeLabels());
  for (const n of nodes) {
    const xn = xOf.get(n)!;
    out.push(
      `<line x1="${num(xn)}" y1="${top - 6}" x2="${num(xn)}" y2="${top + plotH}" stroke="#333" stroke-width="1"/>`,
    );
  }
  for (const m of messages) {
    const x1 = xOf.get(m.from);
    const x2 = xOf.get(m.to);
    if (x1 === undefined || x2 === undefined) continue;
    const y1 = y(m.sendMs);
    const tip = `${m.label} ${m.from}→${m.to} sent ${formatMs(m.sendMs)}, ${m.deliverMs === null ? 'dropped' : `delivered ${formatMs(m.deliverMs)}`}`;
    if (m.deliverMs === null) {
      const xm = (x1 + x2) / 2;
      const ym = y1 + 10;
      out.push(
        `<g><title>${escapeXml(tip)}</title><line x1="${num(x1)}" y1="${num(y1)}" x2="${num(xm)}" y2="${num(ym)}" stroke="${colors.fail}" stroke-dasharray="3,2"/><path d="M ${num(xm - 4)} ${num(ym - 4)} L ${num(xm + 4)} ${num(ym + 4)} M ${num(xm - 4)} ${num(ym + 4)} L ${num(xm + 4)} ${num(ym - 4)}" stroke="${colors.fail}" stroke-width="1.5"/></g>`,
      );
    } else {
      const y2 = y(m.deliverMs);
      const lx = (x1 + x2) / 2;
      const ly = (y1 + y2) / 2 - 2;
      const named = labels.maybeTake(textBox(lx, ly, m.label, 8, 'middle'));
      out.push(
        `<g><title>${escapeXml(tip)}</title><line x1="${num(x1)}" y1="${num(y1)}" x2="${num(x2)}" y2="${num(y2)}" stroke="#333" stroke-width="0.8" marker-end="url(#arrow)"/>${named ? `<text x="${num(lx)}" y="${num(ly)}" text-anchor="middle" font-size="8" fill="#555">${escapeXml(m.label)}</text>` : ''}</g>`,
      );
    }
  }
  if (messages.length === 0)
    texts.push(`<text x="${left + 10}" y="${top + 20}" fill="${colors.axis}">no messages in this window</text>`);
  out.push(...texts);
  out.push('</svg>');
  return out.join('\n');
}

/**
 * The clients' column of the Lamport diagram: one bar per operation from call to return, its Jepsen
 * text beside it, and, when the history knows the node it was sent to, a request arrow to that node's
 * line and a reply arrow back. The labels of the operations that explain the failure are placed at
 * once (pushed down below one another, never dropped); the others only later, where there is room.
 */
function clientColumn(
  ops: readonly RecordedOp[],
  cause: ReadonlySet<number>,
  x0: number,
  w: number,
  y: (ms: number) => number,
  top: number,
  plotH: number,
  xOf: ReadonlyMap<string, number>,
  toMs: number,
  labels: LabelLayout,
): { shapes: string; causeLabels: string[]; placeLabels: () => string[] } {
  const out: string[] = [];
  const lanes = Math.min(6, Math.max(1, new Set(ops.map((o) => o.process)).size));
  const laneOf = new Map<number, number>();
  for (const op of ops) if (!laneOf.has(op.process)) laneOf.set(op.process, laneOf.size % lanes);
  const labelX = x0 + 8 + lanes * 6;
  const label = (op: RecordedOp, at: number, red: boolean): string =>
    `<text class="oplabel" x="${num(labelX)}" y="${num(at)}" font-size="10" fill="${red ? colors.violation : '#333'}"${red ? ' font-weight="bold"' : ''}>${escapeXml(shorten(`#${op.id} ${opText(op)}`, opLabelCharsMax))}</text>`;
  const boxAt = (op: RecordedOp, at: number, red: boolean): Box =>
    textBox(labelX, at, shorten(`#${op.id} ${opText(op)}`, opLabelCharsMax), 10, 'start', red);
  const causeLabels: string[] = [];
  const others: { op: RecordedOp; at: number }[] = [];
  for (const op of [...ops].sort((a, b) => a.invokeMs - b.invokeMs)) {
    const xb = x0 + 4 + laneOf.get(op.process)! * 6;
    const y0 = Math.max(top, y(op.invokeMs));
    const y1 = Math.min(top + plotH, y(op.completeMs ?? toMs));
    const red = cause.has(op.id);
    const color = red ? colors.violation : ((colors as Record<string, string>)[op.outcome] ?? colors.axis);
    const title = `#${op.id} ${opText(op)} (client ${op.process}${op.node === '-' ? '' : ` via ${op.node}`})`;
    out.push(
      `<g${red ? ' class="cause"' : ''}><title>${escapeXml(title)}</title><rect x="${num(xb)}" y="${num(y0)}" width="4" height="${num(Math.max(2, y1 - y0))}" fill="${color}"/>`,
    );
    if (red) {
      // Pushed down below the labels placed before it, never off the picture (then drawn above).
      let at = y0 + 9;
      for (let tries = 0; tries < 200 && !labels.free(boxAt(op, at, true)); tries++) at += 4;
      if (!labels.free(boxAt(op, at, true))) at = y0 + 9;
      labels.take(boxAt(op, at, true));
      causeLabels.push(label(op, at, true));
    } else others.push({ op, at: y0 + 9 });
    const xn = xOf.get(op.node);
    if (xn !== undefined) {
      out.push(
        `<line x1="${num(xb + 4)}" y1="${num(y0)}" x2="${num(xn)}" y2="${num(y0 + 4)}" stroke="${color}" stroke-width="0.8" stroke-dasharray="4,2" marker-end="url(#clientArrow)"/>`,
      );
      if (op.completeMs !== null)
        out.push(
          `<line x1="${num(xn)}" y1="${num(y1 - 4)}" x2="${num(xb + 4)}" y2="${num(y1)}" stroke="${color}" stroke-width="0.8" stroke-dasharray="4,2" marker-end="url(#clientArrow)"/>`,
        );
    }
    out.push('</g>');
  }
  const placeLabels = (): string[] =>
    others.filter(({ op, at }) => labels.maybeTake(boxAt(op, at, false))).map(({ op, at }) => label(op, at, false));
  return {
    shapes: [`<g class="clients">`, ...out, '</g>'].join('\n'),
    causeLabels,
    placeLabels,
  };
}

/** Each node's role (colour) and term (label) over time. */
export function rolesSvg(record: RunRecord, widthPx = 1100): string {
  const nodes = record.nodes;
  const rowH = 22;
  const left = 70;
  const top = 10;
  const plotW = widthPx - left - 20;
  const height = top + nodes.length * rowH + 40;
  const endMs = Math.max(record.simulatedMs, 1);
  const x = (ms: number): number => left + (Math.min(ms, endMs) / endMs) * plotW;
  const out: string[] = [svgOpen(widthPx, height, 'Role and term of each node over time')];
  nodes.forEach((n, i) => {
    const yRow = top + i * rowH;
    out.push(`<text x="${left - 6}" y="${yRow + 14}" text-anchor="end" font-weight="bold">${escapeXml(n)}</text>`);
    const changes = record.roles.filter((r) => r.node === n).sort((a, b) => a.atMs - b.atMs);
    changes.forEach((c, k) => {
      const end = changes[k + 1]?.atMs ?? endMs;
      const w = x(end) - x(c.atMs);
      if (w <= 0) return;
      const fill = (colors as Record<string, string>)[c.role] ?? colors.follower;
      const label =
        c.role === 'down' || c.role === 'paused' ? c.role : `${c.role}${c.term === null ? '' : ` t${c.term}`}`;
      out.push(
        `<rect x="${num(x(c.atMs))}" y="${yRow + 2}" width="${num(w)}" height="${rowH - 4}" fill="${fill}" stroke="#fff" stroke-width="0.5"><title>${escapeXml(`${n}: ${label} from ${formatMs(c.atMs)} to ${formatMs(end)}`)}</title></rect>`,
      );
      // The label inside its bar only when it fits (else the bar's tooltip says it): `leader t3`, else `leader`.
      const fits = [label, c.role].find((t) => textWidth(t, 10) <= w - 5);
      if (fits !== undefined)
        out.push(
          `<text x="${num(x(c.atMs) + 3)}" y="${yRow + 15}" font-size="10" fill="${c.role === 'down' ? '#fff' : '#111'}">${escapeXml(fits)}</text>`,
        );
    });
  });
  const axisY = top + nodes.length * rowH + 14;
  for (const t of ticksMs(0, endMs, 10))
    out.push(
      `<text x="${num(x(t))}" y="${axisY}" text-anchor="middle" fill="${colors.axis}">${escapeXml(formatMs(t))}</text>`,
    );
  const vt = violationTimeMs(record);
  if (vt !== null)
    out.push(
      `<line x1="${num(x(vt))}" y1="${top}" x2="${num(x(vt))}" y2="${axisY - 10}" stroke="${colors.violation}" stroke-width="2"/>`,
    );
  out.push('</svg>');
  return out.join('\n');
}
