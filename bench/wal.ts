/**
 * bench:wal — the latency of one WAL flush through the real DiskStorage (net/disk/storage.ts), as three
 * servers on one disk see it: three child processes, each a closed loop of `write` (one ~300-byte Raft
 * append record, a put c1's size) then `flush`, at the same time, on data dirs under one directory of the
 * same file system. The variants alternate in rounds (A B A B …), so load that rises or falls during the
 * run weighs on each alike:
 *
 *   writeThrough   the segment opened O_DSYNC: a flush is one `writev` (one thread-pool round trip)
 *   writeThenSync  a `writev`, then an `fdatasync` (two round trips; the code before issue 15's change)
 *
 *   npx tsx bench/wal.ts            WAL_DIR=dir (default: the OS temp dir; put it on the servers' disk)
 *                                   WAL_ROUND_MS=1500 WAL_ROUNDS=6 WAL_PROCS=3 WAL_RECORD_BYTES=300
 *                                   WAL_VARIANTS=writeThrough,writeThenSync (which, in that order per round)
 *
 * Per variant: flushes per second (all processes), p10/p50/p90/p99 of one flush (ms), and the
 * processes' voluntary context switches per flush (a load-independent count of wake-ups). Last line: one
 * JSON object. Not a test: on a shared machine run it at `nice -n 10` and compare variants within a run.
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDiskStorage } from '../net/disk/storage.js';

const variants = { writeThrough: true, writeThenSync: false } as const;
type Variant = keyof typeof variants;
const roundMs = Number(process.env['WAL_ROUND_MS'] ?? 1500);
const rounds = Number(process.env['WAL_ROUNDS'] ?? 6);
const procs = Number(process.env['WAL_PROCS'] ?? 3);
const recordBytes = Number(process.env['WAL_RECORD_BYTES'] ?? 300);
/** WAL_VARIANTS=writeThenSync,writeThrough: which run, in that order within each round. */
const order = (process.env['WAL_VARIANTS'] ?? Object.keys(variants).join(',')).split(',') as Variant[];

interface ChildResult {
  readonly latenciesMs: number[];
  readonly voluntarySwitches: number;
}

async function child(variant: Variant, dir: string): Promise<void> {
  const { storage } = await openDiskStorage(dir, { writeThrough: variants[variant] });
  // One Raft append of a put: an entry whose command carries a key and a value of about recordBytes.
  const ops = [
    { op: 'append' as const, log: 'raft/log', entries: [{ term: 2, index: 1, command: 'x'.repeat(recordBytes - 60) }] },
  ];
  for (let i = 0; i < 50; i++) {
    storage.write(ops);
    await storage.flush(); // warm-up: the file exists, the JIT has seen the path
  }
  process.send!('ready');
  await new Promise((resolve) => process.once('message', resolve));
  const latenciesMs: number[] = [];
  const switches0 = process.resourceUsage().voluntaryContextSwitches;
  const endMs = performance.now() + roundMs;
  while (performance.now() < endMs) {
    const t0 = performance.now();
    storage.write(ops);
    await storage.flush();
    latenciesMs.push(performance.now() - t0);
  }
  const voluntarySwitches = process.resourceUsage().voluntaryContextSwitches - switches0;
  await storage.close();
  process.send!({ latenciesMs, voluntarySwitches } satisfies ChildResult, () => process.exit(0));
}

async function round(variant: Variant, root: string, n: number): Promise<ChildResult[]> {
  const self = fileURLToPath(import.meta.url);
  const kids = Array.from({ length: procs }, (_, i) => {
    const dir = path.join(root, `${variant}-${n}-${i}`);
    fs.mkdirSync(dir);
    return fork(self, ['child', variant, dir], { execArgv: process.execArgv });
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
  const all = new Map<Variant, { latenciesMs: number[]; switches: number }>();
  console.log(
    `bench:wal: ${procs} processes, ${rounds} rounds of ${roundMs} ms per variant, ${recordBytes}-byte records, ` +
      `in ${root}, load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} at start, ${new Date().toISOString()}`,
  );
  try {
    for (let n = 0; n < rounds; n++)
      for (const variant of order) {
        const entry = all.get(variant) ?? { latenciesMs: [], switches: 0 };
        all.set(variant, entry);
        for (const r of await round(variant, root, n)) {
          entry.latenciesMs.push(...r.latenciesMs);
          entry.switches += r.voluntarySwitches;
        }
      }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  const json: Record<string, Record<string, number>> = {};
  for (const [variant, { latenciesMs, switches }] of all) {
    const sorted = [...latenciesMs].sort((a, b) => a - b);
    const figures = {
      flushesPerSec: Math.round(sorted.length / ((rounds * roundMs) / 1000)),
      p10Ms: quantile(sorted, 0.1),
      p50Ms: quantile(sorted, 0.5),
      p90Ms: quantile(sorted, 0.9),
      p99Ms: quantile(sorted, 0.99),
      sleepsPerFlush: switches / sorted.length,
    };
    json[variant] = Object.fromEntries(
      Object.entries(figures).map(([k, v]) => [k, Number(v.toFixed(k === 'flushesPerSec' ? 0 : 3))]),
    );
    console.log(
      `${variant.padEnd(14)} ${String(figures.flushesPerSec).padStart(6)} flushes/s  p10 ${figures.p10Ms.toFixed(3)} ` +
        `p50 ${figures.p50Ms.toFixed(3)} p90 ${figures.p90Ms.toFixed(3)} p99 ${figures.p99Ms.toFixed(3)} ms  ` +
        `${figures.sleepsPerFlush.toFixed(2)} sleeps/flush`,
    );
  }
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at the end`,
  );
  console.log(JSON.stringify(json));
}

if (process.argv[2] === 'child') await child(process.argv[3] as Variant, process.argv[4]!);
else await main();
