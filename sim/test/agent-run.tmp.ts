import { runScenarioFile } from '../run.js';
const [file, seed, verbose] = process.argv.slice(2);
const result = await runScenarioFile(file!, Number(seed ?? 1), { onLog: verbose ? (l) => console.log(`${(l.atMs / 1000).toFixed(3)} ${l.node ?? '-'} ${l.kind} ${l.text}`) : undefined });
console.log(JSON.stringify({ result: result.result, violations: result.violations, simulatedMs: result.simulatedMs, wallMs: Math.round(result.wallMs), events: result.events, recoveredMs: result.recoveredMs }));
