/**
 * HTTP-layer metrics (request counts, latencies, requests in flight, parked blocking queries) and the
 * Prometheus text rendering of `/v1/agent/metrics?format=prometheus`, which merges them with whatever
 * the agent reports in Consul's JSON metrics shape (Gauges / Counters / Samples).
 */

/** Latency buckets in ms, Prometheus histogram style; the last is +Inf. */
export const latencyBucketsMs = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 30000, 600000] as const;

/** Bound on distinct (method, route, code) series, so a fuzzer cannot grow memory without limit. */
export const seriesMax = 512;

interface Series {
  readonly method: string;
  readonly route: string;
  readonly code: number;
  count: number;
  sumMs: number;
  readonly bucketCounts: number[];
}

export class HttpMetrics {
  private readonly series = new Map<string, Series>();
  inFlight = 0;
  /** Blocking reads (a `?index` > 0) waiting for the agent's answer. */
  blockingInFlight = 0;
  /** Requests that exceeded `seriesMax` distinct series and were folded into route "other". */
  private overflowCount = 0;

  record(method: string, route: string, code: number, latencyMs: number): void {
    let key = `${method} ${route} ${code}`;
    let s = this.series.get(key);
    if (!s) {
      if (this.series.size >= seriesMax) {
        this.overflowCount++;
        route = 'other';
        method = 'other';
        key = `other other ${code}`;
        s = this.series.get(key);
      }
      if (!s) {
        s = { method, route, code, count: 0, sumMs: 0, bucketCounts: latencyBucketsMs.map(() => 0) };
        this.series.set(key, s);
      }
    }
    s.count++;
    s.sumMs += latencyMs;
    for (let i = 0; i < latencyBucketsMs.length; i++) if (latencyMs <= latencyBucketsMs[i]!) s.bucketCounts[i]!++;
  }

  /** Total requests recorded (all series). */
  requestCount(): number {
    let n = 0;
    for (const s of this.series.values()) n += s.count;
    return n;
  }

  /** Consul-JSON-shaped entries, merged into `/v1/agent/metrics`. */
  toConsulJson(): { Gauges: unknown[]; Counters: unknown[]; Samples: unknown[] } {
    const counters: unknown[] = [];
    const samples: unknown[] = [];
    for (const s of this.series.values()) {
      const labels = { method: s.method, route: s.route, code: String(s.code) };
      counters.push({
        Name: 'conclave.http.requests',
        Count: s.count,
        Sum: s.count,
        Min: 1,
        Max: 1,
        Mean: 1,
        Stddev: 0,
        Labels: labels,
      });
      samples.push({
        Name: 'conclave.http.request_ms',
        Count: s.count,
        Sum: s.sumMs,
        Mean: s.count ? s.sumMs / s.count : 0,
        Labels: labels,
      });
    }
    return {
      Gauges: [
        { Name: 'conclave.http.in_flight', Value: this.inFlight, Labels: {} },
        { Name: 'conclave.http.blocking_in_flight', Value: this.blockingInFlight, Labels: {} },
      ],
      Counters: counters,
      Samples: samples,
    };
  }

  /** Prometheus text exposition (version 0.0.4) of the HTTP-layer series. */
  toPrometheus(): string {
    const lines: string[] = [];
    lines.push('# HELP conclave_http_requests_total HTTP API requests by method, route and status code.');
    lines.push('# TYPE conclave_http_requests_total counter');
    for (const s of this.series.values())
      lines.push(
        `conclave_http_requests_total${labelText({ method: s.method, route: s.route, code: String(s.code) })} ${s.count}`,
      );
    lines.push(
      '# HELP conclave_http_request_duration_ms HTTP API request latency in milliseconds (blocking reads include their wait).',
    );
    lines.push('# TYPE conclave_http_request_duration_ms histogram');
    for (const s of this.series.values()) {
      const base = { method: s.method, route: s.route, code: String(s.code) };
      for (let i = 0; i < latencyBucketsMs.length; i++) {
        lines.push(
          `conclave_http_request_duration_ms_bucket${labelText({ ...base, le: String(latencyBucketsMs[i]) })} ${s.bucketCounts[i]}`,
        );
      }
      lines.push(`conclave_http_request_duration_ms_bucket${labelText({ ...base, le: '+Inf' })} ${s.count}`);
      lines.push(`conclave_http_request_duration_ms_sum${labelText(base)} ${s.sumMs}`);
      lines.push(`conclave_http_request_duration_ms_count${labelText(base)} ${s.count}`);
    }
    lines.push('# HELP conclave_http_in_flight HTTP API requests being served.');
    lines.push('# TYPE conclave_http_in_flight gauge');
    lines.push(`conclave_http_in_flight ${this.inFlight}`);
    lines.push(
      '# HELP conclave_http_blocking_in_flight Blocking reads parked, waiting for a change or their wait to run out.',
    );
    lines.push('# TYPE conclave_http_blocking_in_flight gauge');
    lines.push(`conclave_http_blocking_in_flight ${this.blockingInFlight}`);
    lines.push('# HELP conclave_http_series_overflow_total Requests folded into route "other" past the series bound.');
    lines.push('# TYPE conclave_http_series_overflow_total counter');
    lines.push(`conclave_http_series_overflow_total ${this.overflowCount}`);
    return lines.join('\n') + '\n';
  }
}

/** A metric name in Prometheus' alphabet: `raft.commit_time` → `raft_commit_time`. */
export function promName(name: string): string {
  let n = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  if (/^[0-9]/.test(n)) n = `_${n}`;
  return n;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${promName(k)}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function labelsOf(entry: Record<string, unknown>): Record<string, string> {
  const raw = entry.Labels;
  const out: Record<string, string> = {};
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) out[k] = String(v);
  } else if (Array.isArray(raw)) {
    // go-metrics sometimes reports labels as [{Name, Value}].
    for (const l of raw)
      if (l && typeof l === 'object')
        out[String((l as Record<string, unknown>).Name)] = String((l as Record<string, unknown>).Value);
  }
  return out;
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/**
 * Renders the agent's Consul-JSON metrics (`{Gauges:[{Name,Value,Labels}], Counters:[{Name,Count,Sum,…}],
 * Samples:[{Name,Count,Sum,Mean,…}]}`) as Prometheus text. Unknown shapes are skipped, never thrown on.
 */
export function consulJsonToPrometheus(metrics: unknown): string {
  if (!metrics || typeof metrics !== 'object') return '';
  const m = metrics as Record<string, unknown>;
  const lines: string[] = [];
  const typed = new Set<string>();
  const typeLine = (name: string, type: string) => {
    if (typed.has(name)) return;
    typed.add(name);
    lines.push(`# TYPE ${name} ${type}`);
  };
  const list = (key: string): Record<string, unknown>[] =>
    Array.isArray(m[key])
      ? (m[key] as unknown[]).filter(
          (e): e is Record<string, unknown> =>
            !!e && typeof e === 'object' && typeof (e as Record<string, unknown>).Name === 'string',
        )
      : [];
  for (const g of list('Gauges')) {
    const name = promName(String(g.Name));
    typeLine(name, 'gauge');
    lines.push(`${name}${labelText(labelsOf(g))} ${num(g.Value)}`);
  }
  for (const c of list('Counters')) {
    const name = `${promName(String(c.Name))}_total`;
    typeLine(name, 'counter');
    lines.push(`${name}${labelText(labelsOf(c))} ${num(c.Sum ?? c.Count)}`);
  }
  for (const s of list('Samples')) {
    const name = promName(String(s.Name));
    typeLine(name, 'summary');
    const labels = labelsOf(s);
    lines.push(`${name}_sum${labelText(labels)} ${num(s.Sum)}`);
    lines.push(`${name}_count${labelText(labels)} ${num(s.Count)}`);
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}
