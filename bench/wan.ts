/**
 * bench:wan — what a second datacenter costs, measured in the simulator (issue 17, Proof: "a cross-DC
 * read's added latency over the simulated WAN delay, and the WAN pool's convergence time after a heal,
 * beside the LAN figures").
 *
 * Two DCs as in scenarios/multidc (dc1 = n1..n3 servers + n4 n5 clients, dc2 = n6..n8 + n9), LAN links
 * 1–5 ms, WAN links 30–80 ms (and a second run with the WAN fixed at 50 ms, so the decomposition is
 * exact), no workload, no faults but the ones each phase makes. Time is the simulator's virtual time:
 * the figures are the protocol's own round trips and timers, not this machine's CPU (a real loopback
 * cluster has no WAN delay to add; net/test/multidc.e2e.test.ts proves the real path works).
 *
 * 1. Reads, one at a time from the client n4 (a client agent, as an application would ask): `kv.get`
 *    of a dc1 key (LAN: n4 → a dc1 server → its leader) and of a dc2 key with `?dc=dc2` (n4 → a dc1
 *    server → WAN → a dc2 server → its leader → back), in the modes default, consistent and stale.
 *    For each cross-DC read, the WAN delay it actually met is summed from the simulator's message hops
 *    (agent RPCs whose ends are in different DCs, sent and delivered inside the read's interval; only
 *    one read is in flight, and nothing else crosses on the agent channel), and the added latency is
 *    the read's latency minus that delay. dc2's own local read from n9 is the LAN figure it is compared to.
 * 2. WAN convergence after a heal: dc2 cut off from the WAN until every dc1 server's WAN pool marks
 *    every dc2 server failed, then healed; the time until every server sees every other alive
 *    (sim/harnesses/agent.ts `wanConverged`). LAN figure: client n5 cut off from every node until
 *    dc1's agents mark it failed, then healed; the time until every dc1 agent sees every other alive.
 *
 * Usage: npm run bench:wan [-- --seeds N --reads N]. Prints tables, then one JSON object as the last line.
 */
import type { AgentRequest, AgentResponse } from '../core/agent/api.js';
import type { NodeId } from '../core/types.js';
import { agentOf, harness, leaderOf, serfHealthOf, wanConverged } from '../sim/harnesses/agent.js';
import { parseScenario } from '../sim/scenario.js';
import { Simulation, type MessageHop } from '../sim/engine/simulation.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`);
  const value = at >= 0 ? Number(args[at + 1]) : fallback;
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`--${name} takes a positive integer`);
  return value;
};
const seedCount = flag('seeds', 5);
const readsPerMode = flag('reads', 100);

const dc1 = ['n1', 'n2', 'n3', 'n4', 'n5'];
const dcOf = (id: NodeId): string => (dc1.includes(id) ? 'dc1' : 'dc2');

interface Setup {
  sim: Simulation;
  hops: MessageHop[];
  call(node: NodeId, body: AgentRequest): { response: AgentResponse; startMs: number; endMs: number };
}

function twoDcs(seed: number, wan: string): Setup {
  const text =
    'protocol agent\nnodes dc1:3+2 dc2:3+1\nset clients 0\nnetwork latency=1ms..5ms\n' +
    `wan latency=${wan}\nduration safety=3600s liveness=0s\n`;
  const hops: MessageHop[] = [];
  const sim = new Simulation(parseScenario(text, 'bench-wan.txt'), harness, seed, {
    onMessage: (hop) => {
      if (hop.machine === 'agent' && hop.deliveredMs !== null && dcOf(hop.from) !== dcOf(hop.to)) hops.push(hop);
    },
  });
  sim.begin();
  const call = (node: NodeId, body: AgentRequest) => {
    const box: { response?: AgentResponse; endMs?: number } = {};
    const startMs = sim.nowMs;
    sim.request(node, { machine: 'agent', body }, 60_000, (r) => {
      box.response = r as AgentResponse;
      box.endMs = sim.nowMs;
    });
    const limitMs = sim.nowMs + 60_000;
    while (box.endMs === undefined && sim.nowMs < limitMs) sim.runUntil(sim.nowMs + 1);
    if (box.endMs === undefined || box.response === undefined) throw new Error(`no answer to ${body.type} on ${node}`);
    return { response: box.response, startMs, endMs: box.endMs };
  };
  const formed = (): boolean =>
    leaderOf(sim, 'dc1') !== null &&
    leaderOf(sim, 'dc2') !== null &&
    wanConverged(sim) &&
    sim.nodeIds.every((id) => serfHealthOf(sim, id) === 'passing');
  const endMs = sim.nowMs + 60_000;
  while (!formed() && sim.nowMs < endMs) sim.runUntil(sim.nowMs + 100);
  if (!formed()) throw new Error(`seed ${seed}: the two DCs did not form within 60 s`);
  sim.runUntil(sim.nowMs + 10_000); // WAN coordinates settle
  return { sim, hops, call };
}

const quantile = (sorted: readonly number[], q: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const summary = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  return { n: values.length, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), mean, max: sorted.at(-1) ?? NaN };
};
const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '-');

type Mode = 'default' | 'consistent' | 'stale';
const modes: readonly Mode[] = ['default', 'consistent', 'stale'];

interface ReadFigures {
  local: Record<Mode, number[]>;
  remoteLocal: Record<Mode, number[]>;
  cross: Record<Mode, number[]>;
  wanDelay: Record<Mode, number[]>;
  added: Record<Mode, number[]>;
  errors: number;
}

function emptyModes(): Record<Mode, number[]> {
  return { default: [], consistent: [], stale: [] };
}

function measureReads(seed: number, wan: string, into: ReadFigures): void {
  const { sim, hops, call } = twoDcs(seed, wan);
  const put = (node: NodeId, key: string): void => {
    const r = call(node, { type: 'kv.put', key, value: new TextEncoder().encode('v') }).response;
    if (r.status !== 200) throw new Error(`seed ${seed}: put ${key} on ${node} answered ${r.status}`);
  };
  put('n4', 'here');
  put('n9', 'there');
  const gap = sim.random('bench-wan');
  for (const mode of modes) {
    for (let i = 0; i < readsPerMode; i++) {
      sim.runUntil(sim.nowMs + 5 + gap.below(21)); // spread the reads over the links' draws
      const local = call('n4', { type: 'kv.get', key: 'here', read: { consistency: mode } });
      const remoteLocal = call('n9', { type: 'kv.get', key: 'there', read: { consistency: mode } });
      hops.length = 0;
      const cross = call('n4', { type: 'kv.get', key: 'there', read: { consistency: mode }, dc: 'dc2' });
      if (local.response.status !== 200 || remoteLocal.response.status !== 200 || cross.response.status !== 200) {
        into.errors++;
        continue;
      }
      const latencyMs = cross.endMs - cross.startMs;
      const wanMs = hops
        .filter((h) => h.sentMs >= cross.startMs && h.deliveredMs! <= cross.endMs)
        .reduce((sum, h) => sum + (h.deliveredMs! - h.sentMs), 0);
      into.local[mode].push(local.endMs - local.startMs);
      into.remoteLocal[mode].push(remoteLocal.endMs - remoteLocal.startMs);
      into.cross[mode].push(latencyMs);
      into.wanDelay[mode].push(wanMs);
      into.added[mode].push(latencyMs - wanMs);
    }
  }
}

/** Every live agent of `ids` sees every other one alive in its LAN pool. */
function lanConverged(sim: Simulation, ids: readonly NodeId[]): boolean {
  return ids.every((id) =>
    ids.every((other) => other === id || agentOf(sim, id)!.members.get(other)?.status === 'alive'),
  );
}

/** Runs until `done` holds (checked every 10 virtual ms), or `limitMs` passes; the virtual ms it took, or null. */
function timeUntil(sim: Simulation, done: () => boolean, limitMs: number): number | null {
  const startMs = sim.nowMs;
  while (!done()) {
    if (sim.nowMs - startMs > limitMs) return null;
    sim.runUntil(sim.nowMs + 10);
  }
  return sim.nowMs - startMs;
}

interface Convergence {
  wanFailMs: number | null;
  wanHealMs: number | null;
  lanFailMs: number | null;
  lanHealMs: number | null;
}

function measureConvergence(seed: number): Convergence {
  const { sim } = twoDcs(seed, '30ms..80ms');
  const dc1Servers = ['n1', 'n2', 'n3'];
  const dc2Servers = ['n6', 'n7', 'n8'];
  sim.isolateDatacenter('dc2');
  const wanFailMs = timeUntil(
    sim,
    () => dc1Servers.every((id) => dc2Servers.every((o) => agentOf(sim, id)!.wanMembers.get(o)?.status === 'failed')),
    300_000,
  );
  sim.faults.heal();
  const wanHealMs = timeUntil(sim, () => wanConverged(sim), 300_000);
  sim.runUntil(sim.nowMs + 5000);
  sim.faults.partition([['n5']]);
  const others = dc1.filter((id) => id !== 'n5');
  const lanFailMs = timeUntil(
    sim,
    () => others.every((id) => agentOf(sim, id)!.members.get('n5')?.status === 'failed'),
    300_000,
  );
  sim.faults.heal();
  const lanHealMs = timeUntil(sim, () => lanConverged(sim, dc1), 300_000);
  return { wanFailMs, wanHealMs, lanFailMs, lanHealMs };
}

const started = performance.now();
const seeds = Array.from({ length: seedCount }, (_, i) => i + 1);
const runs: Record<string, ReadFigures> = {};
for (const wan of ['50ms..50ms', '30ms..80ms']) {
  const figures: ReadFigures = {
    local: emptyModes(),
    remoteLocal: emptyModes(),
    cross: emptyModes(),
    wanDelay: emptyModes(),
    added: emptyModes(),
    errors: 0,
  };
  for (const seed of seeds) measureReads(seed, wan, figures);
  runs[wan] = figures;
}
const convergence = seeds.map(measureConvergence);
const wallS = (performance.now() - started) / 1000;

console.log(
  `bench:wan — simulator, virtual ms; dc1 3+2, dc2 3+1, LAN 1–5 ms; ${seedCount} seeds × ${readsPerMode} reads per mode`,
);
const json: Record<string, unknown> = { seeds: seedCount, readsPerMode, wallS: Number(wallS.toFixed(1)) };
for (const [wan, f] of Object.entries(runs)) {
  console.log(`\nWAN latency ${wan} (one way); errors ${f.errors}`);
  console.log(
    'mode        LAN read n4 p50/p99   dc2 local n9 p50/p99   ?dc=dc2 from n4 p50/p99   WAN met p50   added p50/p99',
  );
  const rows: Record<string, unknown> = {};
  for (const mode of modes) {
    const [l, r, c, w, a] = [f.local, f.remoteLocal, f.cross, f.wanDelay, f.added].map((x) => summary(x[mode]));
    console.log(
      `${mode.padEnd(11)} ${`${ms(l!.p50)} / ${ms(l!.p99)}`.padEnd(21)} ${`${ms(r!.p50)} / ${ms(r!.p99)}`.padEnd(22)} ` +
        `${`${ms(c!.p50)} / ${ms(c!.p99)}`.padEnd(25)} ${ms(w!.p50).padEnd(13)} ${ms(a!.p50)} / ${ms(a!.p99)}`,
    );
    rows[mode] = { lan: l, dc2Local: r, cross: c, wanMet: w, added: a };
  }
  json[`wan ${wan}`] = { errors: f.errors, ...rows };
}
const conv = (k: keyof Convergence) => convergence.map((c) => c[k]).filter((v): v is number => v !== null);
const unconverged = convergence.filter((c) => Object.values(c).some((v) => v === null)).length;
console.log(
  `\nconvergence after a heal (${seedCount} seeds; ${unconverged} with a phase that did not finish in 300 s)`,
);
console.log('pool  detect failed p50/max (ms)   converged after heal p50/max (ms)');
for (const [pool, fail, heal] of [
  ['WAN', 'wanFailMs', 'wanHealMs'],
  ['LAN', 'lanFailMs', 'lanHealMs'],
] as const) {
  const f = summary(conv(fail));
  const h = summary(conv(heal));
  console.log(`${pool}   ${`${ms(f.p50)} / ${ms(f.max)}`.padEnd(29)} ${ms(h.p50)} / ${ms(h.max)}`);
  json[`${pool.toLowerCase()}Convergence`] = { detectFailed: f, afterHeal: h };
}
json['unconverged'] = unconverged;
console.log(`\nwall ${wallS.toFixed(1)} s`);
console.log(JSON.stringify(json));
