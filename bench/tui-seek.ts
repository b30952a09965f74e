/**
 * `npm run bench:tui-seek`: the TUI's time travel on a 60-simulated-second run. Goal: any point in
 * < 100 ms. Three costs, each at 20 points spread over the run: showing a past moment (a kept view
 * snapshot: `seekBackMs*`), continuing from it through a parked checkpoint (`resumeMs*`: runs at
 * most `checkpointEveryMs` of simulated time), and, for contrast, continuing without checkpoints
 * (re-running the seed from 0: `rerunMs*`). Also the idle time spent parking the checkpoints.
 * Last line: one JSON object.
 */
import { readFileSync } from 'node:fs';
import { TuiSession, checkpointEveryMs } from '../cli/tui/session.js';

const file = process.argv[2] ?? 'scenarios/raft/leader-isolated-healed.txt';
const text = readFileSync(file, 'utf8')
  .replace(/^duration .*$/m, 'duration safety=50s liveness=10s')
  .replace(/^expect liveness$/m, '');
const points = Array.from({ length: 20 }, (_, i) => ((i * 7) % 20) * 3000 + 1234);

async function measure(
  withCheckpoints: boolean,
): Promise<{ runMs: number; idleMs: number; back: number[]; resume: number[] }> {
  const session = await TuiSession.open(file, text, null);
  let t = performance.now();
  session.advanceToUs(60_000_000);
  const runMs = performance.now() - t;
  let idleMs = 0;
  const park = (): void => {
    const t0 = performance.now();
    while (withCheckpoints && session.idleWork(1000));
    idleMs += performance.now() - t0;
  };
  park();
  const back: number[] = [];
  const resume: number[] = [];
  for (const p of points) {
    t = performance.now();
    session.seekToUs(p * 1000);
    back.push(performance.now() - t);
    t = performance.now();
    session.advanceByUs(0);
    resume.push(performance.now() - t);
    session.advanceToUs(60_000_000);
    park();
  }
  return { runMs, idleMs, back, resume };
}

const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, max: s.at(-1)! };
};
const withCp = await measure(true);
const without = await measure(false);
const b = stat(withCp.back);
const r = stat(withCp.resume);
const rr = stat(without.resume);
process.stdout.write(
  `60 s run simulated in ${withCp.runMs.toFixed(0)} ms; show the past: median ${b.median.toFixed(2)} ms, max ${b.max.toFixed(2)} ms; ` +
    `continue from it with checkpoints every ${checkpointEveryMs / 1000} s: median ${r.median.toFixed(0)} ms, max ${r.max.toFixed(0)} ms; ` +
    `without (re-run from the seed): median ${rr.median.toFixed(0)} ms, max ${rr.max.toFixed(0)} ms\n`,
);
process.stdout.write(
  JSON.stringify({
    scenario: file,
    runMs60s: Math.round(withCp.runMs),
    seekBackMsMedian: +b.median.toFixed(3),
    seekBackMsMax: +b.max.toFixed(3),
    resumeMsMedian: Math.round(r.median),
    resumeMsMax: Math.round(r.max),
    rerunMsMedian: Math.round(rr.median),
    rerunMsMax: Math.round(rr.max),
    checkpointEveryMs,
    goalMs: 100,
  }) + '\n',
);
