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
import { type RecordedMessage, type RunRecord, violationTimeMs } from './record.js';

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
  const show = (v: unknown): string => (v === undefined ? '' : (JSON.stringify(v) ?? ''));
  return `${op.f}${op.key !== undefined ? ` ${op.key}` : ''} ${show(op.input)} → ${op.outcome}${op.outcome === 'ok' ? ` ${show(op.output)}` : ''} (process ${op.process} via ${op.node}, ${formatMs(op.invokeMs)}–${op.completeMs === null ? '∞' : formatMs(op.completeMs)})`;
}

/** Client operations over time, one lane per process, fault windows shaded. */
export function timelineSvg(record: RunRecord, widthPx = 1100): string {
  const ops = record.ops.slice(0, opsDrawnMax);
  const processes = [...new Set(ops.map((o) => o.process))].sort((a, b) => a - b);
  const laneH = 14;
  const left = 70;
  const top = 24;
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
      `<text x="${left - 6}" y="${top + i * laneH + 10}" text-anchor="end" fill="${colors.axis}">process ${p}</text>`,
    ),
  );
  const lane = new Map(processes.map((p, i) => [p, i]));
  for (const op of ops) {
    const y = top + lane.get(op.process)! * laneH + 2;
    const end = op.completeMs ?? endMs;
    const w = Math.max(1.5, x(end) - x(op.invokeMs));
    const dashed = op.outcome === 'unknown' ? ' stroke-dasharray="2,2"' : '';
    out.push(
      `<rect x="${num(x(op.invokeMs))}" y="${y}" width="${num(w)}" height="${laneH - 4}" fill="${colors[op.outcome]}" fill-opacity="${op.outcome === 'unknown' ? 0.5 : 0.85}" stroke="${colors[op.outcome]}"${dashed}><title>${escapeXml(opLabel(op))}</title></rect>`,
    );
  }
  const vt = violationTimeMs(record);
  if (vt !== null) {
    out.push(
      `<line x1="${num(x(vt))}" y1="${top - 6}" x2="${num(x(vt))}" y2="${lanesBottom}" stroke="${colors.violation}" stroke-width="2"/>`,
    );
    out.push(
      `<text x="${num(x(vt))}" y="${top - 10}" text-anchor="middle" fill="${colors.violation}" font-weight="bold">violation</text>`,
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
    out.push(
      `<text x="${num(Math.min(x(f.endMs) + 4, widthPx - 200))}" y="${legendY + i * 13}" fill="${colors.axis}">${escapeXml(f.label)}</text>`,
    );
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
): { fromMs: number; toMs: number; messages: RecordedMessage[] } {
  const centreMs = violationTimeMs(record) ?? record.simulatedMs;
  const fromMs = Math.max(0, centreMs - windowMs);
  const inWindow = record.messages.filter((m) => m.sendMs >= fromMs && m.sendMs <= centreMs);
  const messages = inWindow.slice(-messagesDrawnMax);
  const first = messages[0]?.sendMs ?? fromMs;
  const last = Math.max(centreMs, ...messages.map((m) => m.deliverMs ?? m.sendMs));
  return { fromMs: Math.min(first, centreMs), toMs: last, messages };
}

/** A Lamport diagram: nodes as vertical lines, time down, one arrow per message. */
export function lamportSvg(record: RunRecord, windowMs = lamportWindowMsDefault): string {
  const { fromMs, toMs, messages } = messagesAround(record, windowMs);
  const nodes = record.nodes;
  const colW = Math.max(90, Math.min(180, 1000 / Math.max(1, nodes.length)));
  const left = 70;
  const top = 40;
  const plotH = Math.max(300, Math.min(2400, messages.length * 8));
  const width = left + nodes.length * colW;
  const height = top + plotH + 30;
  const span = Math.max(1e-3, toMs - fromMs);
  const y = (ms: number): number => top + ((ms - fromMs) / span) * plotH;
  const xOf = new Map(nodes.map((n, i) => [n, left + i * colW + colW / 2]));
  const out: string[] = [
    svgOpen(
      width,
      height,
      `Messages around ${violationTimeMs(record) === null ? 'the end of the run' : 'the violation'}`,
    ),
  ];
  out.push(
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#333"/></marker></defs>',
  );
  for (const t of ticksMs(fromMs, toMs, 10)) {
    out.push(
      `<line x1="${left - 4}" y1="${num(y(t))}" x2="${width}" y2="${num(y(t))}" stroke="${colors.grid}" stroke-width="0.5"/>`,
    );
    out.push(
      `<text x="${left - 8}" y="${num(y(t) + 4)}" text-anchor="end" fill="${colors.axis}">${escapeXml(formatMs(t))}</text>`,
    );
  }
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
  for (const n of nodes) {
    const xn = xOf.get(n)!;
    out.push(`<text x="${num(xn)}" y="${top - 14}" text-anchor="middle" font-weight="bold">${escapeXml(n)}</text>`);
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
      out.push(
        `<g><title>${escapeXml(tip)}</title><line x1="${num(x1)}" y1="${num(y1)}" x2="${num(x2)}" y2="${num(y2)}" stroke="#333" stroke-width="0.8" marker-end="url(#arrow)"/><text x="${num((x1 + x2) / 2)}" y="${num((y1 + y2) / 2 - 2)}" text-anchor="middle" font-size="8" fill="#555">${escapeXml(m.label)}</text></g>`,
      );
    }
  }
  const vt = violationTimeMs(record);
  if (vt !== null) {
    out.push(
      `<line x1="${left}" y1="${num(y(vt))}" x2="${width}" y2="${num(y(vt))}" stroke="${colors.violation}" stroke-width="2"/>`,
    );
    out.push(
      `<text x="${width - 4}" y="${num(y(vt) - 4)}" text-anchor="end" fill="${colors.violation}" font-weight="bold">violation</text>`,
    );
  }
  if (messages.length === 0)
    out.push(`<text x="${left + 10}" y="${top + 20}" fill="${colors.axis}">no messages in this window</text>`);
  out.push('</svg>');
  return out.join('\n');
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
      if (w > 40)
        out.push(
          `<text x="${num(x(c.atMs) + 3)}" y="${yRow + 15}" font-size="10" fill="${c.role === 'down' ? '#fff' : '#111'}">${escapeXml(label)}</text>`,
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
