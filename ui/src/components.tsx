/** Small presentational pieces shared by the views: health badges, the banner, notices. */
import type { ReactNode } from 'react';
import { useConnection, type ApiError } from './api.js';

export type HealthStatus = 'passing' | 'warning' | 'critical' | 'maintenance' | 'unknown';

const healthRank: Record<string, number> = { passing: 0, unknown: 1, warning: 2, maintenance: 3, critical: 4 };

/** The worst of some check statuses (critical over warning over passing); passing when there are none. */
export function worst(statuses: readonly string[]): HealthStatus {
  let out: HealthStatus = 'passing';
  for (const s of statuses) if ((healthRank[s] ?? 1) > (healthRank[out] ?? 0)) out = s as HealthStatus;
  return out;
}

const healthIcon: Record<string, string> = {
  passing: '✓',
  warning: '!',
  critical: '✕',
  maintenance: '⏸',
  unknown: '?',
};

/** A health status as icon + word + colour: colour is never the only signal. */
export function Health({ status, count }: { status: string; count?: number }) {
  return (
    <span className={`health health-${status}`}>
      <span aria-hidden="true" className="health-icon">
        {healthIcon[status] ?? '?'}
      </span>{' '}
      {count !== undefined ? `${count} ${status}` : status}
    </span>
  );
}

/** Passing / warning / critical counts, the non-zero ones. */
export function HealthCounts({ statuses }: { statuses: readonly string[] }) {
  const counts = new Map<string, number>();
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  if (counts.size === 0) return <span className="muted">no checks</span>;
  return (
    <span className="health-counts">
      {['critical', 'warning', 'maintenance', 'passing', 'unknown']
        .filter((s) => counts.has(s))
        .map((s) => (
          <Health key={s} status={s} count={counts.get(s)!} />
        ))}
    </span>
  );
}

export function ConnectionBanner() {
  const c = useConnection();
  if (!c.lost) return null;
  return (
    <div className="banner" role="alert">
      <strong>Live updates interrupted:</strong> {c.error}. Retrying in {(c.retryInMs / 1000).toFixed(1)} s (attempt{' '}
      {c.attempt}); what you see may be stale.
    </div>
  );
}

/** Shown in place of data the token may not read, or another refusal. */
export function Refusal({ error, what }: { error: ApiError; what: string }) {
  if (error.status === 403)
    return (
      <p className="notice" role="status">
        This token cannot read {what} (403 {error.message || 'Permission denied'}). Enter another token under{' '}
        <a href="#/acl">ACL token</a>.
      </p>
    );
  return (
    <p className="notice" role="status">
      The agent refused to list {what}: {error.status} {error.message}
    </p>
  );
}

export function Loading() {
  return (
    <p className="muted" role="status">
      Loading…
    </p>
  );
}

export function Page({ title, children }: { title: ReactNode; children: ReactNode }) {
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title" tabIndex={-1}>
        {title}
      </h1>
      {children}
    </section>
  );
}

/** Milliseconds as a short duration ("850 ms", "12.3 s", "4 min"). */
export function formatMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

export function dash(value: number | string | null | undefined): string {
  return value === null || value === undefined ? '–' : String(value);
}
