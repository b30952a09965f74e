/**
 * `npm run bench:tui-seek`: the TUI's time travel on a 60-simulated-second run. Goal: any point in
 * < 100 ms. Two costs: showing a past moment (a kept snapshot: `seekBackMs*`) and continuing from it
 * (re-running the seed up to there: `resumeMs*`), each at 20 points spread over the run. Last line:
 * one JSON object.
 */
import { readFileSync } from 'node:fs';
import { TuiSession } from '../cli/tui/session.js';

const file = process.argv[2] ?? 'scenarios/raft/leader-isolated-healed.txt';
const text = readFileSync(file, 'utf8')
  .replace(/^duration .*$/m, 'duration safety=50s liveness=10s')
  .replace(/^expect liveness$/m, '');
const session = await TuiSession.open(file, text, null);
const t0 = performance.now();
session.advanceTo(60_000);
const runMs = performance.now() - t0;
const points = Array.from({ length: 20 }, (_, i) => ((i * 7919) % 20) * 3000 + 1234);
const back: number[] = [];
const resume: number[] = [];
for (const p of points) {
  session.advanceTo(60_000);
  let t = performance.now();
  session.seekTo(p);
  back.push(performance.now() - t);
  t = performance.now();
  session.advanceBy(0);
  resume.push(performance.now() - t);
}
const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, max: s.at(-1)! };
};
const b = stat(back);
const r = stat(resume);
process.stdout.write(`60 s run simulated in ${runMs.toFixed(0)} ms; seek back median ${b.median.toFixed(2)} ms max ${b.max.toFixed(2)} ms; resume (re-run) median ${r.median.toFixed(0)} ms max ${r.max.toFixed(0)} ms\n`);
process.stdout.write(
  JSON.stringify({
    scenario: file,
    runMs60s: Math.round(runMs),
    seekBackMsMedian: +b.median.toFixed(3),
    seekBackMsMax: +b.max.toFixed(3),
    resumeMsMedian: Math.round(r.median),
    resumeMsMax: Math.round(r.max),
    goalMs: 100,
  }) + '\n',
);
