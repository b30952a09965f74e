/**
 * `npm run chaos [-- --seconds N --seed S --clients C]`: the long chaos run on real processes
 * (net/test/chaos-runner.ts). Prints the nemesis log and, last, one JSON line with the verdict.
 */
import { runChaos } from '../net/test/chaos-runner.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const seed = arg('seed', Date.now() % 1_000_000);
const report = await runChaos({
  seed,
  seconds: arg('seconds', 120),
  clients: arg('clients', 5),
  keys: arg('keys', 4),
  nemesisEveryMs: arg('every', 3000),
  ipBase: '127.0.2',
  log: (l) => console.log(l),
  ...(process.env['CHAOS_READS'] === 'stale' ? { readMode: 'stale' as const } : {}),
});
console.log(JSON.stringify(report));
process.exitCode = report.linearizable === true ? 0 : 1;
