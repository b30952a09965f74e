/**
 * Small load-generation helpers shared by bench/http.ts and bench/dns.ts: a closed-loop driver at a
 * fixed concurrency and latency percentiles.
 */
import { performance } from 'node:perf_hooks';

export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly latencyMsP50: number;
  readonly latencyMsP99: number;
  readonly latencyMsMax: number;
}

/** The q-quantile (0..1) of `values` by nearest rank; 0 for an empty list. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * Runs `op` from `concurrency` workers, each starting its next call when the last one finished
 * (closed loop), for `durationMs` after a `warmupMs` whose samples are discarded.
 */
export async function closedLoop(
  op: (worker: number, seq: number) => Promise<boolean>,
  concurrency: number,
  durationMs: number,
  warmupMs = 500,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let requests = 0;
  const start = performance.now();
  const measureFrom = start + warmupMs;
  const end = measureFrom + durationMs;
  let seq = 0;
  const worker = async (w: number) => {
    while (performance.now() < end) {
      const t0 = performance.now();
      let ok = false;
      try {
        ok = await op(w, seq++);
      } catch {
        ok = false;
      }
      const t1 = performance.now();
      if (t0 >= measureFrom && t1 <= end) {
        requests++;
        latencies.push(t1 - t0);
        if (!ok) errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const seconds = durationMs / 1000;
  return {
    requests,
    errors,
    seconds,
    perSecond: round(requests / seconds, 1),
    latencyMsP50: round(quantile(latencies, 0.5), 3),
    latencyMsP99: round(quantile(latencies, 0.99), 3),
    latencyMsMax: round(quantile(latencies, 1), 3),
  };
}
