import { harness, linOpsOf } from '../harnesses/agent.js';
import { parseScenario } from '../scenario.js';
import { Simulation } from '../simulator.js';
import { checkHistory, registerModel } from '../checkers/lin/index.js';
const stale = process.argv[2] ?? '1';
for (let seed = 1; seed <= 20; seed++) {
  const text = `protocol agent\nnodes 5\nset staleReads ${stale}\nset clients 4\nset opEveryMs 50\nset keys 2\nnetwork latency=1ms..5ms\nduration safety=10s liveness=5s\nnemesis swarm kinds=partition,pause every=1s\n`;
  const sim = new Simulation(parseScenario(text, 'x.txt'), harness, seed, {});
  const t0 = performance.now();
  const r = sim.run();
  const ops = linOpsOf(sim.history.ops);
  const lin = checkHistory(ops, registerModel, { timeoutMs: 10000, explain: false });
  console.log(seed, r.result, r.violations.slice(0,1), ops.length, lin.linearizable, Math.round(performance.now() - t0), 'ms');
}
