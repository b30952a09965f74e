/**
 * The report page: one self-contained HTML file (inline CSS and SVG, no scripts from anywhere, no
 * fonts, no network) that tells the story of a run: verdict, the three pictures, the faults and the
 * log lines around the violation.
 */
import { type RunRecord, violationTimeMs } from './record.js';
import { escapeXml, lamportSvg, lamportWindowMsDefault, rolesSvg, timelineSvg } from './svg.js';
import { livenessAfterMs, opText, storyOf } from './story.js';

/** Log lines shown around the violation (or at the end of a passing run). */
export const logLinesShownMax = 200;

export interface ReportPictures {
  readonly timeline: string;
  readonly lamport: string;
  readonly roles: string;
}

export interface ReportOptions {
  /** Draw routine messages (heartbeats, pings, acks) in the Lamport diagram instead of folding them into a count. */
  readonly allMessages?: boolean;
}

export function renderPictures(record: RunRecord, options: ReportOptions = {}): ReportPictures {
  return {
    timeline: timelineSvg(record),
    lamport: lamportSvg(record, lamportWindowMsDefault, options.allMessages ?? false),
    roles: rolesSvg(record),
  };
}

export function reportHtml(
  record: RunRecord,
  pictures: ReportPictures = renderPictures(record),
  replayCommand?: string,
  options: ReportOptions = {},
): string {
  const e = escapeXml;
  const vt = violationTimeMs(record);
  const centre = vt ?? record.simulatedMs;
  const nearby = record.log.filter((l) => l.atMs <= centre).slice(-logLinesShownMax);
  const counts = { ok: 0, fail: 0, unknown: 0 };
  for (const op of record.ops) counts[op.outcome]++;
  const story = storyOf(record);
  const ms = (x: number | null): string => (x === null ? '∞' : `${x.toFixed(1)} ms`);
  const storyHtml = story
    ? `<div class="story">
<p class="fail">FAIL at ${(vt ?? 0).toFixed(1)} ms: ${e(story.headline)}</p>
${story.reasons.length > 0 ? `<p>What made no progress:</p><ul class="reasons">${story.reasons.map((r) => `<li>${e(r)}</li>`).join('')}</ul>` : ''}
${
  story.causeOps.length > 0
    ? `<p>${story.liveness ? `The operations named above` : `The checker cannot linearize these ${story.causeOps.length} operations together`} (the last ${story.focusOps.length}, where the message diagram below centres, in bold):</p>
<table class="ops"><tr><th>op</th><th>what (as Jepsen writes it)</th><th>client</th><th>node</th><th>called</th><th>returned</th></tr>
${story.causeOps
  .map(
    (op) =>
      `<tr${story.focusOps.includes(op) ? ' class="focus"' : ''}><td>#${op.id}</td><td><code>${e(opText(op))}</code></td><td>${op.process}</td><td>${e(op.node === '-' ? '(not recorded)' : op.node)}</td><td>${ms(op.invokeMs)}</td><td>${ms(op.completeMs)}</td></tr>`,
  )
  .join('\n')}
</table>`
    : ''
}
<p>${story.faultsBefore.length === 0 ? 'No fault began before it.' : `Faults that began before it${story.liveness && story.causeOps.length > 0 ? ` (or up to ${livenessAfterMs} ms after)` : ''}: ${story.faultsBefore.map((f) => `<b>${e(f.label)}</b> (${f.startMs.toFixed(0)}–${f.endMs.toFixed(0)} ms)`).join('; ')}.`}</p>
</div>`
    : '';
  const verdict =
    record.result === 'pass'
      ? '<p class="pass">PASS: no violation</p>'
      : `${storyHtml}<details><summary>The checker's words in full (${record.violations.length} violation${record.violations.length === 1 ? '' : 's'})</summary><div class="fail"><ul>${record.violations.map((v) => `<li>${e(v.text)}</li>`).join('')}</ul></div></details>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>conclave report: ${e(record.scenario)} seed ${record.seed}</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 1200px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; border-bottom: 1px solid #ccc; }
.pass { color: #2e9e44; font-weight: bold; } .fail { color: #c0392b; font-weight: bold; }
.fail li { white-space: pre-wrap; font-weight: normal; font-family: monospace; font-size: 0.85em; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: left; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 0.85em; }
.picture { overflow-x: auto; }
code { background: #f0f0f0; padding: 1px 4px; }
.story { border-left: 4px solid #c0392b; padding: 2px 12px; margin: 8px 0; background: #fdf3f2; }
.story table.ops tr.focus td { font-weight: bold; color: #c0392b; }
details summary { cursor: pointer; color: #555; }
</style>
</head>
<body>
<h1>${e(record.scenario)} · seed ${record.seed}</h1>
<p>trace <code>${e(record.trace)}</code> · ${record.simulatedMs.toFixed(0)} simulated ms · ${record.nodes.length} nodes · ${record.messages.length} messages · ${record.ops.length} client operations (ok ${counts.ok}, fail ${counts.fail}, unknown ${counts.unknown}) · ${record.faults.length} faults</p>
${verdict}
${replayCommand ? `<p>Replay: <code>${e(replayCommand)}</code></p>` : ''}
<h2>Client operations and faults</h2>
<p>One lane per client process; green ok, red fail, yellow (dashed) unknown; shaded bands are faults. Hover for details.</p>
<div class="picture">${pictures.timeline}</div>
<h2>Messages around the ${story && story.focusOps.length > 0 ? `operations ${story.focusOps.map((o) => `#${o.id}`).join(' and ')}` : vt === null ? 'end of the run' : 'violation'}</h2>
<p>Time flows down; each arrow is a message from sender to receiver; a cross is a dropped message. On the left, the clients' operations (call to return), the ones that explain the failure in red; ${options.allMessages ? 'every message is drawn, routine heartbeats included (<code>--all-messages</code>).' : 'routine heartbeats are folded into a count (<code>conclave sim report … --all-messages</code> draws them).'}</p>
<div class="picture">${pictures.lamport}</div>
<h2>Role and term of each node</h2>
<div class="picture">${pictures.roles}</div>
<h2>Faults</h2>
<table><tr><th>from</th><th>to</th><th>kind</th><th>fault</th></tr>
${record.faults.map((f) => `<tr><td>${f.startMs.toFixed(1)} ms</td><td>${f.endMs.toFixed(1)} ms</td><td>${e(f.kind)}</td><td>${e(f.label)}</td></tr>`).join('\n')}
</table>
<h2>Log before ${vt === null ? 'the end' : 'the violation'} (last ${nearby.length} lines)</h2>
<pre>${nearby.map((l) => `${l.atMs.toFixed(3).padStart(12)}  ${e(l.text)}`).join('\n')}</pre>
</body>
</html>
`;
}
