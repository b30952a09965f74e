/**
 * Linearizability checker benchmark (issue 5). Checking time only: files are read and parsed before
 * the clock starts. Each figure is the median of REPS timed passes after one warm-up pass (the JIT
 * has compiled the hot loop, as Go's `go test -bench` measures steady state); the first, cold pass over
 * all etcd histories is reported too.
 *
 * Anchors (shared/linearizability/README.md): Porcupine HEAD 55508eb, Go 1.19.8, 2-vCPU AMD EPYC VM,
 * `go test -bench`, checking time only. Ratio = ours / Porcupine; goal ≤ 1.0.
 *
 * The main figures use the model's reductions (read-only greedy, deferrable unknowns, kv growth
 * pruning); the `plain*` figures run Porcupine's search as is on the same engine, for comparison.
 *
 * Last line of output: one JSON object with the figures.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkHistory,
  models,
  parseHistory,
  registerModel,
  syntheticRegisterHistory,
  type LinOp,
  type Model,
} from '../sim/checkers/lin/index.js';

const REPS = Number(process.env['LIN_BENCH_REPS'] ?? 7);
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = join(repoRoot, '..', 'shared', 'linearizability');

/** Porcupine (Go) checking times in ms on this kind of machine (README "Anchors"). */
const anchorsMs = {
  etcdAll: 720,
  etcd_002: 216,
  etcd_099: 192,
  etcd_007: 128,
  etcd_057: 89,
  etcd_075: 31,
  etcd_040: 13,
  etcd_080: 11,
  etcd_085: 8.1,
  etcd_097: 6.7,
  kvC50Ok: 890,
  kvC50Bad: 113,
};

interface Loaded {
  name: string;
  model: Model<any, any, any>;
  ops: LinOp<any, any>[];
  expected: boolean;
}

const manifest = JSON.parse(readFileSync(join(dataDir, 'manifest.json'), 'utf8')) as {
  files: { path: string; model: string; expected_linearizable: boolean | null }[];
};
const loaded: Loaded[] = manifest.files
  .filter((f) => f.expected_linearizable !== null)
  .map((f) => ({
    name: f.path
      .split('/')
      .pop()!
      .replace(/\.(log|txt)$/, ''),
    model: models[f.model]!,
    ops: parseHistory(readFileSync(join(dataDir, f.path), 'utf8'), f.path).ops,
    expected: f.expected_linearizable!,
  }));
const etcd = loaded.filter((l) => l.name.startsWith('etcd_'));
const byName = new Map(loaded.map((l) => [l.name, l]));

function timeOne(l: Loaded, reductions = true): number {
  const result = checkHistory(l.ops, l.model, { explain: false, reductions });
  if (result.linearizable !== l.expected)
    throw new Error(`${l.name}: verdict ${result.linearizable}, expected ${l.expected}`);
  return result.ms;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round = (ms: number): number => Math.round(ms * 100) / 100;
const ratio = (ms: number, anchor: number): number => Math.round((ms / anchor) * 1000) / 1000;

// Cold pass (first time the code runs), then warm-up over everything.
const etcdAllColdMs = etcd.reduce((sum, l) => sum + timeOne(l), 0);
for (const l of loaded) timeOne(l);

const loadAvg1mStart = loadavg()[0]!;
const perFile = new Map<string, number[]>();
const etcdSums: number[] = [];
const etcdCpuSums: number[] = [];
for (let r = 0; r < REPS; r++) {
  let sum = 0;
  const cpuStart = process.cpuUsage();
  for (const l of etcd) sum += timeOne(l);
  const cpu = process.cpuUsage(cpuStart);
  etcdCpuSums.push((cpu.user + cpu.system) / 1000);
  etcdSums.push(sum);
  for (const l of loaded) {
    const ms = timeOne(l);
    let list = perFile.get(l.name);
    if (!list) perFile.set(l.name, (list = []));
    list.push(ms);
  }
}
const fileMs = (name: string): number => median(perFile.get(name)!);

// The same search without our reductions (Porcupine's algorithm as is), to show what they buy.
const plainFile = new Map<string, number[]>();
const plainEtcdSums: number[] = [];
const plainEtcdCpuSums: number[] = [];
for (const l of loaded) timeOne(l, false);
for (let r = 0; r < REPS; r++) {
  let sum = 0;
  const cpuStart = process.cpuUsage();
  for (const l of etcd) sum += timeOne(l, false);
  const cpu = process.cpuUsage(cpuStart);
  plainEtcdCpuSums.push((cpu.user + cpu.system) / 1000);
  plainEtcdSums.push(sum);
  for (const l of loaded) {
    const ms = timeOne(l, false);
    let list = plainFile.get(l.name);
    if (!list) plainFile.set(l.name, (list = []));
    list.push(ms);
  }
}
const plainMs = (name: string): number => median(plainFile.get(name)!);

const synthetic = syntheticRegisterHistory({ seed: 1, opCount: 10_000, keyCount: 100 });
const syntheticRuns: number[] = [];
for (let r = 0; r < REPS + 1; r++) {
  const result = checkHistory(synthetic, registerModel, { explain: false });
  if (result.linearizable !== true) throw new Error('synthetic history must be linearizable');
  if (r > 0) syntheticRuns.push(result.ms);
}

const figures: Record<string, number | string> = {
  reps: REPS,
  etcdFiles: etcd.length,
  etcdAllMs: round(median(etcdSums)),
  etcdAllRatio: ratio(median(etcdSums), anchorsMs.etcdAll),
  etcdAllCpuMs: round(median(etcdCpuSums)),
  etcdAllColdMs: round(etcdAllColdMs),
  etcdAllColdRatio: ratio(etcdAllColdMs, anchorsMs.etcdAll),
};
for (const name of [
  'etcd_002',
  'etcd_099',
  'etcd_007',
  'etcd_057',
  'etcd_075',
  'etcd_040',
  'etcd_080',
  'etcd_085',
  'etcd_097',
] as const) {
  const key = name.replace('_', '');
  figures[`${key}Ms`] = round(fileMs(name));
  figures[`${key}Ratio`] = ratio(fileMs(name), anchorsMs[name]);
}
figures['kvC50OkMs'] = round(fileMs('c50-ok'));
figures['kvC50OkRatio'] = ratio(fileMs('c50-ok'), anchorsMs.kvC50Ok);
figures['kvC50BadMs'] = round(fileMs('c50-bad'));
figures['kvC50BadRatio'] = ratio(fileMs('c50-bad'), anchorsMs.kvC50Bad);
figures['plainEtcdAllMs'] = round(median(plainEtcdSums));
figures['plainEtcdAllRatio'] = ratio(median(plainEtcdSums), anchorsMs.etcdAll);
figures['plainEtcdAllCpuMs'] = round(median(plainEtcdCpuSums));
figures['plainEtcd002Ms'] = round(plainMs('etcd_002'));
figures['plainEtcd002Ratio'] = ratio(plainMs('etcd_002'), anchorsMs.etcd_002);
figures['plainKvC50OkMs'] = round(plainMs('c50-ok'));
figures['plainKvC50OkRatio'] = ratio(plainMs('c50-ok'), anchorsMs.kvC50Ok);
figures['plainKvC50BadMs'] = round(plainMs('c50-bad'));
figures['plainKvC50BadRatio'] = ratio(plainMs('c50-bad'), anchorsMs.kvC50Bad);
figures['synthetic10kOps100KeysMs'] = round(median(syntheticRuns));
figures['synthetic10kOps100KeysGoalMs'] = 1000;
// One long partition (no P-compositionality to help): 10k ops on one key from 10 clients.
const oneKey = syntheticRegisterHistory({ seed: 1, opCount: 10_000, keyCount: 1, clientCount: 10 });
const oneKeyResult = checkHistory(oneKey, registerModel, { explain: false });
if (oneKeyResult.linearizable !== true) throw new Error('synthetic one-key history must be linearizable');
figures['synthetic10kOps1KeyMs'] = round(oneKeyResult.ms);
figures['loadAvg1mStart'] = Math.round(loadAvg1mStart * 100) / 100;
figures['loadAvg1mEnd'] = Math.round(loadavg()[0]! * 100) / 100;
figures['anchor'] = 'Porcupine 55508eb, Go 1.19.8, 2-vCPU EPYC: etcd all 720 ms, etcd_002 216 ms, kv c50-ok 890 ms';

const slowestByUs = [...perFile.keys()]
  .filter((n) => n.startsWith('etcd_'))
  .sort((a, b) => fileMs(b) - fileMs(a))
  .slice(0, 5);
figures['etcdSlowestMs'] = slowestByUs.map((n) => `${n}=${round(fileMs(n))}`).join(' ');
const slowest = [...perFile.keys()]
  .filter((n) => n.startsWith('etcd_'))
  .sort((a, b) => fileMs(b) - fileMs(a))
  .slice(0, 9);
console.log(
  `lin bench: ${REPS} reps after warm-up, median, checking time only (parse excluded); load average ${figures['loadAvg1mStart']} → ${figures['loadAvg1mEnd']} on ${cpus().length} CPUs (wall times inflate when it exceeds the CPU count)`,
);
console.log(
  `  all ${etcd.length} etcd histories: ${figures['etcdAllMs']} ms (Porcupine 720 ms, ratio ${figures['etcdAllRatio']}); CPU ${figures['etcdAllCpuMs']} ms; cold first pass ${figures['etcdAllColdMs']} ms`,
);
for (const name of slowest) {
  const anchor = (anchorsMs as Record<string, number>)[name];
  console.log(
    `  ${name}: ${round(fileMs(name))} ms${anchor !== undefined ? ` (Porcupine ${anchor} ms, ratio ${ratio(fileMs(name), anchor)})` : ''}`,
  );
}
console.log(
  `  kv c50-ok: ${figures['kvC50OkMs']} ms (Porcupine 890 ms, ratio ${figures['kvC50OkRatio']}); c50-bad: ${figures['kvC50BadMs']} ms (Porcupine 113 ms, ratio ${figures['kvC50BadRatio']})`,
);
console.log(
  `  plain WGL (Porcupine's search, no reductions): etcd all ${figures['plainEtcdAllMs']} ms (ratio ${figures['plainEtcdAllRatio']}; CPU ${figures['plainEtcdAllCpuMs']} ms), etcd_002 ${figures['plainEtcd002Ms']} ms (ratio ${figures['plainEtcd002Ratio']}), c50-ok ${figures['plainKvC50OkMs']} ms (ratio ${figures['plainKvC50OkRatio']}), c50-bad ${figures['plainKvC50BadMs']} ms (ratio ${figures['plainKvC50BadRatio']})`,
);
console.log(
  `  synthetic 10k ops / 100 keys / 50 clients: ${figures['synthetic10kOps100KeysMs']} ms (goal < 1000 ms); 10k ops / 1 key / 10 clients: ${figures['synthetic10kOps1KeyMs']} ms`,
);
console.log(JSON.stringify(figures));
