/**
 * bench:sim — raw simulator speed on the example protocol: 5 broadcast nodes under a steady client
 * load (5 clients, one op every ~5 ms each; each value fans out to every peer), no faults, for 30
 * simulated seconds; once with the msgpackr codec round-trip on every message and stored value (the
 * real wire) and once without (speed runs). Invariants are checked after every step in both.
 * Prints a table, then one JSON object as the last line.
 */
import { loadScenarioText } from '../sim/run.js';
import { Simulation } from '../sim/engine/simulation.js';

const scenarioText = `protocol broadcast
nodes 5
set clients 5
set opEveryMs 5
set syncIntervalMs 1000
network latency=1ms..5ms
duration safety=30s liveness=0s
`;

async function measure(codec: boolean, repeats: number) {
  const loaded = await loadScenarioText(scenarioText, 'bench-sim.txt');
  let best = { wallMs: Infinity, events: 0, deliveries: 0, simulatedMs: 0 };
  for (let i = 0; i < repeats; i++) {
    const sim = new Simulation(loaded.scenario, loaded.harness, 1 + i, { codec });
    const start = performance.now();
    const r = sim.run();
    const wallMs = performance.now() - start;
    if (wallMs < best.wallMs) best = { wallMs, events: r.events, deliveries: r.deliveries, simulatedMs: r.simulatedMs };
  }
  return {
    eventsPerSec: Math.round(best.events / (best.wallMs / 1000)),
    deliveriesPerSec: Math.round(best.deliveries / (best.wallMs / 1000)),
    simSpeedup: Math.round(best.simulatedMs / best.wallMs),
    wallMs: Math.round(best.wallMs),
    events: best.events,
  };
}

await measure(false, 1); // warm up the JIT
const withCodec = await measure(true, 3);
const withoutCodec = await measure(false, 3);
const codecCostPercent = Math.round((withoutCodec.deliveriesPerSec / withCodec.deliveriesPerSec - 1) * 100);

console.log('bench:sim — 5 broadcast nodes, 30 simulated s, best of 3');
console.log('codec  events/s    deliveries/s  sim-ms per wall-ms');
console.log(
  `on     ${String(withCodec.eventsPerSec).padEnd(11)} ${String(withCodec.deliveriesPerSec).padEnd(13)} ${withCodec.simSpeedup}`,
);
console.log(
  `off    ${String(withoutCodec.eventsPerSec).padEnd(11)} ${String(withoutCodec.deliveriesPerSec).padEnd(13)} ${withoutCodec.simSpeedup}`,
);
console.log(
  `the codec round-trip costs ${codecCostPercent}% of delivery throughput; VOPR's ~700x real time is the reference for full-stack speed`,
);
console.log(
  JSON.stringify({
    eventsPerSecCodec: withCodec.eventsPerSec,
    deliveriesPerSecCodec: withCodec.deliveriesPerSec,
    simSpeedupCodec: withCodec.simSpeedup,
    eventsPerSecNoCodec: withoutCodec.eventsPerSec,
    deliveriesPerSecNoCodec: withoutCodec.deliveriesPerSec,
    simSpeedupNoCodec: withoutCodec.simSpeedup,
    codecCostPercent,
    simSpeedupVsVopr700: +(withCodec.simSpeedup / 700).toFixed(2),
  }),
);
