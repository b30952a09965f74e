import { harness, linOpsOf } from '../harnesses/agent.js';
import { loadScenario } from '../run.js';
import { Simulation } from '../simulator.js';
import { checkHistory, registerModel } from '../checkers/lin/index.js';
const [file, from, to] = process.argv.slice(2);
const loaded = await loadScenario(file!);
let fails = 0;
const t0 = performance.now();
for (let seed = Number(from); seed <= Number(to); seed++) {
  const sim = new Simulation(loaded.scenario, harness, seed, {});
  const r = sim.run();
  const ops = linOpsOf(sim.history.ops);
  const lin = checkHistory(ops, registerModel, { timeoutMs: 20000, explain: false });
  if (r.result !== 'pass' || lin.linearizable !== true) { fails++; console.log(seed, r.result, r.violations.slice(0, 2).join(' | ').slice(0, 400), ops.length, lin.linearizable); }
}
console.log(JSON.stringify({ seeds: Number(to) - Number(from) + 1, fails, wallMs: Math.round(performance.now() - t0) }));
