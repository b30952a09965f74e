/**
 * The UI's only way to the agent: same-origin fetches of the Consul HTTP API with the token the user
 * typed (kept in localStorage, sent as X-Consul-Token), and `useBlocking`, which keeps one view live
 * with Consul's blocking queries (`?index=N&wait=…`): each answer's X-Consul-Index is the next
 * request's index, so a change shows as soon as the agent sees it, without polling.
 *
 * A lost connection (fetch fails, 5xx) is reported to the connection store, which draws the banner,
 * and retried with exponential backoff (0.5 s doubling to 8 s, with jitter); the first success clears it.
 */
import { useEffect, useState, useSyncExternalStore } from 'react';

const tokenKey = 'conclave.token';
const listeners = new Set<() => void>();

function readToken(): string {
  try {
    return localStorage.getItem(tokenKey) ?? '';
  } catch {
    return '';
  }
}

let token = readToken();

export function getToken(): string {
  return token;
}

/** Stores the token (empty clears it) and restarts every live view with it. */
export function setToken(next: string): void {
  token = next.trim();
  try {
    if (token === '') localStorage.removeItem(tokenKey);
    else localStorage.setItem(tokenKey, token);
  } catch {
    // Storage can be refused (private mode): the token then lives until the page is closed.
  }
  for (const l of listeners) l();
}

export function useToken(): string {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => token,
  );
}

// ── datacenter (the picker; ?dc= on catalog, health, KV… reads and writes) ──

/**
 * The datacenter lives in the page's URL (`/ui/?dc=dc2#/services`), so a reload, a bookmark or a link
 * shared keeps it, as Consul's UI keeps it in its paths; the view itself stays in the hash.
 */
function datacenterOfUrl(): string {
  try {
    return new URLSearchParams(location.search).get('dc') ?? '';
  } catch {
    return '';
  }
}

let datacenter = typeof location === 'undefined' ? '' : datacenterOfUrl();
const dcListeners = new Set<() => void>();

/** The datacenter the views ask about ('' = the agent's own). Restarts every live view. */
export function setDatacenter(next: string): void {
  datacenter = next;
  const url = new URL(location.href);
  if (next === '') url.searchParams.delete('dc');
  else url.searchParams.set('dc', next);
  history.replaceState(history.state, '', url);
  for (const l of dcListeners) l();
}

export function useDatacenter(): string {
  return useSyncExternalStore(
    (l) => {
      dcListeners.add(l);
      return () => dcListeners.delete(l);
    },
    () => datacenter,
  );
}

/**
 * `path` with `dc=` for another datacenter. Agent endpoints (/v1/agent/…) are about this agent, and the
 * datacenter list itself is global, so they never carry it (Consul ignores it there too) — except the
 * cluster's insides, which answer for another DC's servers when asked (net/http/routes/agent.ts).
 */
export function withDatacenter(path: string): string {
  if (
    datacenter === '' ||
    !path.startsWith('/v1/') ||
    (path.startsWith('/v1/agent/') && !path.startsWith('/v1/agent/debug/insides')) ||
    path === '/v1/catalog/datacenters'
  )
    return path;
  return `${path}${path.includes('?') ? '&' : '?'}dc=${encodeURIComponent(datacenter)}`;
}

// ── connection state (the banner) ──

interface ConnectionState {
  readonly lost: boolean;
  readonly retryInMs: number;
  readonly attempt: number;
  readonly error: string;
}
let connection: ConnectionState = { lost: false, retryInMs: 0, attempt: 0, error: '' };
const failing = new Map<number, ConnectionState>();
const connectionListeners = new Set<() => void>();

function publishConnection(): void {
  let worst: ConnectionState = { lost: false, retryInMs: 0, attempt: 0, error: '' };
  for (const s of failing.values()) if (s.attempt > worst.attempt || !worst.lost) worst = s;
  connection = worst;
  for (const l of connectionListeners) l();
}

export function reportFailure(loop: number, state: ConnectionState | null): void {
  if (state === null) {
    if (!failing.delete(loop)) return;
  } else failing.set(loop, state);
  publishConnection();
}

export function useConnection(): ConnectionState {
  return useSyncExternalStore(
    (l) => {
      connectionListeners.add(l);
      return () => connectionListeners.delete(l);
    },
    () => connection,
  );
}

// ── requests ──

export interface ApiAnswer<T = unknown> {
  readonly status: number;
  readonly index: number;
  /** Parsed JSON for JSON answers (2xx, and autopilot's 429), else null. */
  readonly body: T | null;
  /** The raw text (error messages are plain text). */
  readonly text: string;
}

/** A request the agent refused or could not answer; `status` 0 means the connection failed. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T = unknown>(
  method: string,
  path: string,
  body?: string | null,
  signal?: AbortSignal,
): Promise<ApiAnswer<T>> {
  const headers: Record<string, string> = {};
  if (token !== '') headers['X-Consul-Token'] = token;
  let res: Response;
  try {
    res = await fetch(withDatacenter(path), {
      method,
      headers,
      ...(body != null ? { body } : {}),
      ...(signal ? { signal } : {}),
      cache: 'no-store',
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, `cannot reach the agent (${(error as Error).message})`);
  }
  const text = await res.text();
  const index = Number(res.headers.get('X-Consul-Index') ?? '0') || 0;
  let parsed: T | null = null;
  // JSON whatever the status: an error's text is plain, but autopilot answers its health with 429.
  if ((res.headers.get('Content-Type') ?? '').includes('json')) {
    try {
      parsed = JSON.parse(text) as T;
    } catch {
      parsed = null;
    }
  }
  return { status: res.status, index, body: parsed, text };
}

/** Retry delay after `attempt` consecutive failures: 0.5 s doubling to 8 s, ±25 % jitter. */
export function backoffMs(attempt: number): number {
  const base = Math.min(8000, 500 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/** How long one blocking query parks on the agent. */
const waitText = '30s';

export interface Live<T> {
  /** The latest answer's body; null when the agent answered 404 (a key that does not exist). */
  readonly data: T | null | undefined;
  /** 403 and other refusals, shown in the view (connection failures go to the banner instead). */
  readonly error: ApiError | null;
  readonly index: number;
}

let nextLoop = 1;

/**
 * Keeps `path` live: the first request answers at once, each next one blocks until the index moves.
 * `null` path = nothing to watch. `pollMs` polls instead (for endpoints that do not block).
 */
export function useBlocking<T>(path: string | null, pollMs = 0): Live<T> {
  const tok = useToken();
  const dc = useDatacenter();
  const [state, setState] = useState<Live<T>>({ data: undefined, error: null, index: 0 });
  useEffect(() => {
    setState({ data: undefined, error: null, index: 0 });
    if (path === null) return;
    const loop = nextLoop++;
    const abort = new AbortController();
    let index = 0;
    let failures = 0;
    let stopped = false;
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        abort.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    (async () => {
      while (!stopped) {
        const sep = path.includes('?') ? '&' : '?';
        const url = pollMs > 0 || index === 0 ? path : `${path}${sep}index=${index}&wait=${waitText}`;
        try {
          const answer = await api<T>('GET', url, null, abort.signal);
          if (answer.status >= 500) throw new ApiError(answer.status, answer.text.trim() || `HTTP ${answer.status}`);
          failures = 0;
          reportFailure(loop, null);
          // 429 with a JSON body: autopilot's health answer for an unhealthy cluster (data, not a refusal).
          if (answer.status === 200 || answer.status === 404 || (answer.status === 429 && answer.body !== null)) {
            // An index that went backwards (a restored snapshot, another server) starts over.
            index = answer.index < index ? 0 : answer.index;
            setState({ data: answer.status === 404 ? null : answer.body, error: null, index });
            if (pollMs > 0) await sleep(pollMs);
          } else {
            setState({ data: undefined, error: new ApiError(answer.status, answer.text.trim()), index: 0 });
            await sleep(5000);
          }
        } catch (error) {
          if (stopped || (error as Error).name === 'AbortError') return;
          failures++;
          // The retry asks without an index: it answers at once, so the banner goes as soon as the
          // agent is back (a blocking retry would park up to `wait` on an unchanged index).
          index = 0;
          const retryInMs = backoffMs(failures);
          reportFailure(loop, { lost: true, retryInMs, attempt: failures, error: (error as Error).message });
          await sleep(retryInMs);
        }
      }
    })();
    return () => {
      stopped = true;
      abort.abort();
      reportFailure(loop, null);
    };
  }, [path, tok, dc, pollMs]);
  return state;
}

/** `a/b/c` → URL path segments, each escaped ('/' kept as the separator). */
export function keyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}
