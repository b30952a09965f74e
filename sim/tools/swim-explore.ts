/**
 * The SWIM seed explorer (for the report, not for `npm test`): for each seed, draws one fault schedule
 * per property from the same fast-check arbitraries the property tests use, runs it in the simulator
 * and counts violations. A failing seed prints its schedule as scenario text, which replays with
 * `conclave sim run FILE`.
 *
 *   npm run explore:swim -- [--property NAME|all] [--seeds FROM..TO] [--shard I/N] [--fast]
 *
 * `--fast` skips the msgpackr round trip (as `sim run --fast`): the same protocol decisions on
 * objects passed by reference, about 40% less CPU; the property tests always use the codec.
 *
 * Its last line is one JSON object: runs, failures and simulated hours per property.
 */
import fc from 'fast-check';
import { arbitraries, propertyNames, runSchedule, type PropertyName, type Schedule } from './swim-schedules.js';

/** The schedule a (property, seed) pair stands for: deterministic, so any report line replays. */
export function scheduleFor(property: PropertyName, seed: number): Schedule {
  const [schedule] = fc.sample(arbitraries[property], { seed, numRuns: 1 });
  return schedule!;
}

interface Tally {
  runs: number;
  failures: number;
  simulatedHours: number;
  failingSeeds: number[];
}

function parseArgs(argv: readonly string[]): {
  properties: PropertyName[];
  from: number;
  to: number;
  shard: [number, number];
  codec: boolean;
} {
  let codec = true;
  let properties: PropertyName[] = [...propertyNames];
  let from = 1;
  let to = 100;
  let shard: [number, number] = [0, 1];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = argv[i + 1] ?? '';
    if (arg === '--property') {
      properties = value === 'all' ? [...propertyNames] : (value.split(',') as PropertyName[]);
      for (const p of properties)
        if (!propertyNames.includes(p)) throw new Error(`unknown property ${p} (${propertyNames.join(', ')})`);
      i++;
    } else if (arg === '--seeds') {
      const [a, b] = value.split('..').map(Number);
      from = a!;
      to = b ?? a!;
      i++;
    } else if (arg === '--fast') {
      codec = false;
    } else if (arg === '--shard') {
      const [a, b] = value.split('/').map(Number);
      shard = [a!, b!];
      i++;
    } else throw new Error(`unknown argument ${arg}`);
  }
  return { properties, from, to, shard, codec };
}

export function explore(
  properties: readonly PropertyName[],
  from: number,
  to: number,
  shard: [number, number] = [0, 1],
  log: (line: string) => void = () => undefined,
  codec = true,
): Record<string, Tally> {
  const tallies: Record<string, Tally> = {};
  for (const property of properties) {
    const tally: Tally = { runs: 0, failures: 0, simulatedHours: 0, failingSeeds: [] };
    tallies[property] = tally;
    for (let seed = from; seed <= to; seed++) {
      if (seed % shard[1] !== shard[0]) continue;
      const schedule = scheduleFor(property, seed);
      const result = runSchedule(schedule, undefined, codec);
      tally.runs++;
      tally.simulatedHours += result.simulatedMs / 3_600_000;
      if (result.violations.length > 0) {
        tally.failures++;
        tally.failingSeeds.push(seed);
        log(`FAIL ${property} seed ${seed}: ${result.violations.slice(0, 3).join(' | ')}\n${schedule.text}`);
      }
      if (tally.runs % 100 === 0) log(`${property}: ${tally.runs} runs, ${tally.failures} failures`);
    }
  }
  return tallies;
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const { properties, from, to, shard, codec } = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const cpu = process.cpuUsage();
  const tallies = explore(properties, from, to, shard, (line) => console.log(line), codec);
  const used = process.cpuUsage(cpu);
  for (const t of Object.values(tallies)) t.simulatedHours = Math.round(t.simulatedHours * 100) / 100;
  console.log(
    JSON.stringify({
      seeds: `${from}..${to}`,
      shard: `${shard[0]}/${shard[1]}`,
      codec,
      wallMs: Math.round(performance.now() - started),
      cpuMs: Math.round((used.user + used.system) / 1000),
      ...tallies,
    }),
  );
}
