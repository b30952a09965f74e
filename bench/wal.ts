/**
 * bench:wal — the latency of one WAL flush through the real DiskStorage (net/disk/storage.ts), as three
 * servers on one disk see it: three child processes, each a closed loop of `write` (one ~300-byte Raft
 * append record, a put c1's size) then `flush`, at the same time, on data dirs under one directory of the
 * same file system. Each process holds one storage per variant and alternates between them flush by flush
 * (A B A B …), so the load of a shared machine, which moves by the second, weighs on both alike:
 *
 *   writeThrough   the segment opened O_DSYNC: a flush is one `writev` (one thread-pool round trip)
 *   writeThenSync  a `writev`, then an `fdatasync` (two round trips; the code before issue 15's change)
 *
 *   npx tsx bench/wal.ts            WAL_DIR=dir (default: the OS temp dir; put it on the servers' disk)
 *                                   WAL_MS=10000 WAL_PROCS=3 WAL_RECORD_BYTES=300
 *
 * Per variant: the flushes timed (all processes; the variants alternate, so the counts are equal), and
 * p10/p50/p90/p99 and mean of one flush (ms): the mean is what a closed-loop client's rate follows. Last line: one JSON object. Not a test: on a shared machine run it at
 * `nice -n 10`; compare the variants within one run, not across runs.
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDiskStorage } from '../net/disk/storage.js';

const variants = { writeThrough: true, writeThenSync: false } as const;
type Variant = keyof typeof variants;
const names = Object.keys(variants) as Variant[];
const runMs = Number(process.env['WAL_MS'] ?? 10_000);
const procs = Number(process.env['WAL_PROCS'] ?? 3);
const recordBytes = Number(process.env['WAL_RECORD_BYTES'] ?? 300);

type ChildResult = Record<Variant, number[]>;

async function child(dir: string): Promise<void> {
  const storages = await Promise.all(
    names.map(async (name) => {
      fs.mkdirSync(path.join(dir, name));
      return (await openDiskStorage(path.join(dir, name), { writeThrough: variants[name] })).storage;
    }),
  );
  // One Raft append of a put: an entry whose command carries a key and a value of about recordBytes.
  const ops = [
    { op: 'append' as const, log: 'raft/log', entries: [{ term: 2, index: 1, command: 'x'.repeat(recordBytes - 60) }] },
  ];
  for (let i = 0; i < 100; i++) {
    const storage = storages[i % storages.length]!;
    storage.write(ops);
    await storage.flush(); // warm-up: the files exist, the JIT has seen the path
  }
  process.send!('ready');
  await new Promise((resolve) => process.once('message', resolve));
  const latencies = names.map(() => [] as number[]);
  const endMs = performance.now() + runMs;
  for (let i = 0; performance.now() < endMs; i++) {
    const v = i % storages.length;
    const t0 = performance.now();
    storages[v]!.write(ops);
    await storages[v]!.flush();
    latencies[v]!.push(performance.now() - t0);
  }
  for (const storage of storages) await storage.close();
  const result = Object.fromEntries(names.map((name, v) => [name, latencies[v]!])) as ChildResult;
  process.send!(result, () => process.exit(0));
}

async function run(root: string): Promise<ChildResult[]> {
  const self = fileURLToPath(import.meta.url);
  const kids = Array.from({ length: procs }, (_, i) => {
    const dir = path.join(root, `p${i}`);
    fs.mkdirSync(dir);
    return fork(self, ['child', dir], { execArgv: process.execArgv });
  });
  await Promise.all(kids.map((k) => new Promise((resolve) => k.once('message', resolve))));
  const results = kids.map((k) => new Promise<ChildResult>((resolve) => k.once('message', resolve)));
  for (const k of kids) k.send('go');
  return Promise.all(results);
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(process.env['WAL_DIR'] ?? os.tmpdir(), 'conclave-bench-wal-'));
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(
    `bench:wal: ${procs} processes for ${runMs} ms, variants alternating flush by flush, ${recordBytes}-byte ` +
      `records, in ${root}, load average ${load()} at start, ${new Date().toISOString()}`,
  );
  let results: ChildResult[];
  try {
    results = await run(root);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  const json: Record<string, Record<string, number>> = {};
  for (const name of names) {
    const sorted = results.flatMap((r) => r[name]).sort((a, b) => a - b);
    const meanMs = sorted.reduce((a, b) => a + b, 0) / sorted.length;
    const figures = {
      flushes: sorted.length,
      p10Ms: quantile(sorted, 0.1),
      p50Ms: quantile(sorted, 0.5),
      p90Ms: quantile(sorted, 0.9),
      p99Ms: quantile(sorted, 0.99),
      meanMs,
    };
    json[name] = Object.fromEntries(
      Object.entries(figures).map(([k, v]) => [k, Number(v.toFixed(k === 'flushes' ? 0 : 3))]),
    );
    console.log(
      `${name.padEnd(14)} ${figures.flushes.toString().padStart(6)} flushes  p10 ` +
        `${figures.p10Ms.toFixed(3)} p50 ${figures.p50Ms.toFixed(3)} p90 ${figures.p90Ms.toFixed(3)} p99 ` +
        `${figures.p99Ms.toFixed(3)} mean ${meanMs.toFixed(3)} ms`,
    );
  }
  console.log(`load average ${load()} at the end`);
  console.log(JSON.stringify(json));
}

if (process.argv[2] === 'child') await child(process.argv[3]!);
else await main();
