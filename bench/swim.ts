/**
 * bench:swim — SWIM's figures beside the papers' anchors. Last line: one JSON object.
 *
 *  - firstDetectionPeriods: probe periods from a crash until some member suspects it, over many
 *    crashes in a 1,000-member cluster. SWIM §3.1 gives e/(e−1) ≈ 1.58 periods for the first member
 *    to *pick* the failed one; a suspicion is raised one period after that pick (direct timeout plus
 *    indirect probes), and a crash lands mid-period, so the comparable figure is
 *    `firstPickPeriods` = firstDetectionPeriods − 1 + 0.5.
 *  - fullDisseminationMs at n = 100 and 1,000: a tag change (alive, higher incarnation) until every
 *    member holds it; infection-style spread should grow like log n (ratio ≈ log 1000 / log 100 = 1.5).
 *  - wallMsFor10kNodes60s: 10,000 members (shared boot roster) for 60 simulated seconds, with the
 *    simulator's defaults (msgpackr codec, invariants after every step) and in fast mode; peak RSS.
 *    Goal ≤ 60,000 ms. Wall time on a shared machine depends on its load: cpuMs is reported too.
 *  - falsePositivesLifeguard / falsePositivesPlain at 5% and 10% loss, 8 members of which 2 are slow
 *    (inbound messages held 1–6 s, and 3-s pauses about every 20 s), 300 simulated seconds, the same seeds for both: live members
 *    declared failed (all, and about healthy members only). Lifeguard reports > 50× fewer.
 *
 *   npm run bench:swim [-- --quick]     (--quick: fewer trials and seeds, for a smoke run)
 */
import { swimRecords } from '../sim/harnesses/swim.js';
import { harness } from '../sim/harnesses/swim.js';
import { falsePositives, type Mark } from '../sim/checkers/swim.js';
import { parseScenario } from '../sim/scenario.js';
import { Simulation } from '../sim/engine/simulation.js';
import type { SwimState } from '../core/swim/machine.js';
import { loadavg } from 'node:os';

const quick = process.argv.includes('--quick');
const probeIntervalMs = 1000;

function simulation(text: string, seed: number, codec = false, checkInvariants = false): Simulation {
  return new Simulation(parseScenario(text, 'bench-swim.txt'), harness, seed, { codec, checkInvariants, logLimit: 0 });
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

// ───────────────────────────────────────── first detection ─────────────────────────────────────────

/** Crashes members one after another in a 1,000-member cluster; periods until the first suspicion. */
function firstDetection(trials: number): { periods: number[] } {
  const n = 1000;
  const gapS = 6;
  const lines = [
    'protocol swim',
    `nodes ${n}`,
    'set bootstrap roster',
    'network latency=1ms..5ms',
    `duration safety=${10 + trials * gapS + 5}s liveness=1s`,
  ];
  const crashes: { node: string; atMs: number }[] = [];
  for (let i = 0; i < trials; i++) {
    // Spread the crash instants over the probe period (+ i·137 ms) so that no phase is favoured.
    const atMs = 10_000 + i * gapS * 1000 + ((i * 137) % probeIntervalMs);
    const node = `n${1 + ((i * 37) % n)}`;
    crashes.push({ node, atMs });
    lines.push(`at ${atMs}ms crash ${node}`);
  }
  const sim = simulation(lines.join('\n') + '\n', 1);
  sim.begin();
  sim.runUntil(10_000 + trials * gapS * 1000 + 5000);
  const { marks } = swimRecords(sim);
  const periods: number[] = [];
  for (const crash of crashes) {
    const first = marks.find((m) => m.about === crash.node && m.status === 'suspect' && m.atMs >= crash.atMs);
    if (first) periods.push((first.atMs - crash.atMs) / probeIntervalMs);
  }
  return { periods };
}

// ───────────────────────────────────────── dissemination ─────────────────────────────────────────

/** Time (ms) from a tag change on one member until every member holds it; median over trials. */
function dissemination(n: number, trials: number): number {
  const lines = [
    'protocol swim',
    `nodes ${n}`,
    'set bootstrap roster',
    'network latency=1ms..5ms',
    `duration safety=${10 + trials * 10}s liveness=1s`,
  ];
  const sim = simulation(lines.join('\n') + '\n', 7);
  sim.begin();
  const results: number[] = [];
  for (let i = 0; i < trials; i++) {
    const startMs = 5000 + i * 10_000;
    sim.runUntil(startMs);
    const who = `n${1 + ((i * 13) % n)}`;
    const value = `v${i}`;
    sim.request(who, { machine: 'swim', body: { type: 'setTags', tags: { build: value } } }, 5000, () => undefined);
    let doneMs = NaN;
    for (let t = startMs; t < startMs + 9000; t += 10) {
      sim.runUntil(t);
      const all = sim.nodeIds.every(
        (id) => sim.runtime(id)!.stateOf<SwimState>('swim').members.get(who)?.tags.build === value,
      );
      if (all) {
        doneMs = t - startMs;
        break;
      }
    }
    results.push(doneMs);
  }
  return median(results);
}

// ───────────────────────────────────────── scale ─────────────────────────────────────────

function scale(
  n: number,
  seconds: number,
  codec: boolean,
  checkInvariants: boolean,
): { wallMs: number; cpuMs: number; events: number; messages: number } {
  const text =
    [
      'protocol swim',
      `nodes ${n}`,
      'set bootstrap roster',
      'network latency=1ms..5ms',
      `duration safety=${seconds}s liveness=1s`,
    ].join('\n') + '\n';
  const cpu = process.cpuUsage();
  const started = performance.now();
  const sim = simulation(text, 3, codec, checkInvariants);
  sim.begin();
  sim.runUntil(seconds * 1000);
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const result = sim.result(wallMs);
  return {
    wallMs: Math.round(wallMs),
    cpuMs: Math.round((used.user + used.system) / 1000),
    events: result.events,
    messages: result.messages,
  };
}

// ───────────────────────────────────────── false positives ─────────────────────────────────────────

function falsePositiveCounts(
  lifeguard: boolean,
  lossPercent: number,
  seeds: readonly number[],
): { all: number; healthy: number } {
  let all = 0;
  let healthy = 0;
  for (const seed of seeds) {
    const text = [
      'protocol swim',
      'nodes 8',
      `set lifeguard ${lifeguard}`,
      'set slowNodes n2,n3',
      'set slowDelay 1s..6s',
      'set slowPause 3s',
      'set slowPauseEvery 20s',
      `network latency=1ms..5ms loss=${lossPercent}%`,
      'duration safety=300s liveness=1s',
    ].join('\n');
    const sim = simulation(text + '\n', seed);
    sim.begin();
    sim.runUntil(299_000);
    const { marks, truth, slow } = swimRecords(sim);
    const fps: Mark[] = falsePositives(marks, truth, 60_000);
    all += fps.length;
    healthy += fps.filter((m) => !slow.has(m.about)).length;
  }
  return { all, healthy };
}

// ───────────────────────────────────────── main ─────────────────────────────────────────

const anchorFirstPick = Math.E / (Math.E - 1);

log(
  `bench:swim${quick ? ' (quick)' : ''}: load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')} on this machine`,
);

const detection = firstDetection(quick ? 8 : 40);
const firstDetectionPeriods = round(median(detection.periods));
log(
  `first detection: ${detection.periods.length} crashes, median ${firstDetectionPeriods} periods, mean ${round(mean(detection.periods))}`,
);

const dissemination100 = dissemination(100, quick ? 2 : 5);
const dissemination1000 = dissemination(1000, quick ? 2 : 5);
log(`full dissemination: n=100 ${dissemination100} ms, n=1000 ${dissemination1000} ms`);

const seeds = quick ? [1] : [1, 2, 3, 4, 5];
const fp: Record<string, { lifeguard: { all: number; healthy: number }; plain: { all: number; healthy: number } }> = {};
for (const loss of [5, 10]) {
  fp[`loss${loss}`] = {
    lifeguard: falsePositiveCounts(true, loss, seeds),
    plain: falsePositiveCounts(false, loss, seeds),
  };
  log(
    `false positives at ${loss}% loss over ${seeds.length} seeds: lifeguard ${JSON.stringify(fp[`loss${loss}`]!.lifeguard)}, plain ${JSON.stringify(fp[`loss${loss}`]!.plain)}`,
  );
}

const scaleNodes = quick ? 2000 : 10_000;
const fast = scale(scaleNodes, 60, false, false);
log(`scale ${scaleNodes}×60s fast mode: ${JSON.stringify(fast)}`);
const full = scale(scaleNodes, 60, true, true);
log(`scale ${scaleNodes}×60s with codec and invariants: ${JSON.stringify(full)}`);
const peakRssMB = Math.round(process.resourceUsage().maxRSS / 1024);

const ratio = (a: number, b: number): number | null => (b === 0 ? null : round(a / b));
const figures = {
  firstDetectionPeriods,
  firstDetectionPeriodsMean: round(mean(detection.periods)),
  firstDetectionTrials: detection.periods.length,
  firstDetectionAnchor: round(anchorFirstPick, 3),
  firstDetectionRatioToAnchor: round(firstDetectionPeriods / anchorFirstPick),
  firstPickPeriods: round(firstDetectionPeriods - 0.5),
  firstPickAnchor: round(anchorFirstPick, 3),
  firstPickRatioToAnchor: round((firstDetectionPeriods - 0.5) / anchorFirstPick),
  fullDisseminationMs: {
    n100: dissemination100,
    n1000: dissemination1000,
    ratio: round(dissemination1000 / dissemination100),
    logRatioAnchor: 1.5,
  },
  scaleNodes,
  wallMsFor10kNodes60s: full.wallMs,
  cpuMsFor10kNodes60s: full.cpuMs,
  wallMsFor10kNodes60sFast: fast.wallMs,
  cpuMsFor10kNodes60sFast: fast.cpuMs,
  wallMsGoal: 60_000,
  wallRatioToGoal: round(full.wallMs / 60_000),
  eventsFor10kNodes60s: full.events,
  peakRssMB,
  falsePositivesLifeguard: { loss5: fp.loss5!.lifeguard.all, loss10: fp.loss10!.lifeguard.all },
  falsePositivesPlain: { loss5: fp.loss5!.plain.all, loss10: fp.loss10!.plain.all },
  falsePositivesHealthyLifeguard: { loss5: fp.loss5!.lifeguard.healthy, loss10: fp.loss10!.lifeguard.healthy },
  falsePositivesHealthyPlain: { loss5: fp.loss5!.plain.healthy, loss10: fp.loss10!.plain.healthy },
  plainOverLifeguard: {
    loss5: ratio(fp.loss5!.plain.all, fp.loss5!.lifeguard.all),
    loss10: ratio(fp.loss10!.plain.all, fp.loss10!.lifeguard.all),
  },
  plainOverLifeguardAnchor: 50,
  falsePositiveSeeds: seeds.length,
  loadAverage: round(loadavg()[0]!, 1),
};
console.log(JSON.stringify(figures));
