import { harness } from '../harnesses/agent.js';
import { parseScenario } from '../scenario.js';
import { Simulation } from '../simulator.js';
const seed = Number(process.argv[2] ?? 13);
const text = `protocol agent\nnodes 5\nset clients 4\nset opEveryMs 50\nset keys 2\nnetwork latency=1ms..5ms\nduration safety=10s liveness=5s\nnemesis swarm kinds=partition,pause every=1s\n`;
const sim = new Simulation(parseScenario(text, 'x.txt'), harness, seed, { onLog: (l) => { if (l.kind !== 'trace' || /leader|No cluster|timeout|rpc/.test(l.text)) console.log((l.atMs/1000).toFixed(3), l.node ?? '-', l.kind, l.text); } });
sim.run();
for (const op of sim.history.ops) console.log(op.id, op.process, op.f, op.key, op.node, op.invokeMs.toFixed(0), op.completeMs?.toFixed(0), op.outcome, JSON.stringify(op.output));
