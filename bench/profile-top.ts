/**
 * Top self-time functions of a V8 .cpuprofile (node --cpu-prof): `tsx bench/profile-top.ts FILE [N] [BUSIEST_S]`
 * (BUSIEST_S: only the busiest BUSIEST_S seconds of the profile — the load phase).
 * Prints the busy share (samples not idle / GC / program), then the N functions with the most self time,
 * each with its share of the busy samples and its source location (repo-relative).
 */
import * as fs from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg, busiestArg] = process.argv.slice(2);
if (!file) throw new Error('usage: tsx bench/profile-top.ts FILE.cpuprofile [N] [BUSIEST_S]');
const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
// BUSIEST_S: only the busiest window of that many seconds (the load phase, without start-up compilation
// or the idle time while another system of an interleaved bench is measured).
let fromUs = -Infinity;
let toUs = Infinity;
if (busiestArg !== undefined) {
  const windowUs = Number(busiestArg) * 1e6;
  const atUs: number[] = [];
  const busy: number[] = [];
  let t = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    atUs.push(t);
    busy.push(byId.get(profile.samples[i]!)!.callFrame.functionName === '(idle)' ? 0 : (profile.timeDeltas[i] ?? 0));
  }
  let best = -1;
  let sum = 0;
  for (let lo = 0, hi = 0; hi < atUs.length; hi++) {
    sum += busy[hi]!;
    while (atUs[hi]! - atUs[lo]! > windowUs) sum -= busy[lo++]!;
    if (sum > best) [best, fromUs, toUs] = [sum, atUs[lo]!, atUs[hi]!];
  }
}
const selfUs = new Map<string, number>();
let totalUs = 0;
let idleUs = 0;
let atUs = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i]!)!;
  const dt = profile.timeDeltas[i] ?? 0;
  atUs += dt;
  if (atUs < fromUs || atUs > toUs) continue;
  totalUs += dt;
  const f = node.callFrame;
  if (f.functionName === '(idle)') {
    idleUs += dt;
    continue;
  }
  const where = f.url ? `${f.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : '';
  const key = `${f.functionName || '(anonymous)'} ${where}`;
  selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
}
const busyUs = totalUs - idleUs;
process.stdout.write(
  `${file}${busiestArg === undefined ? '' : ` (busiest ${busiestArg} s, from ${(fromUs / 1e6).toFixed(1)} s)`}: ${(totalUs / 1e6).toFixed(1)} s sampled, busy ${(busyUs / 1e6).toFixed(2)} s (${((100 * busyUs) / totalUs).toFixed(1)}%)\n`,
);
const top = [...selfUs.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 25));
for (const [key, us] of top)
  process.stdout.write(
    `${((100 * us) / busyUs).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}\n`,
  );
