/**
 * The few HTTP calls the real-process tests make against an agent's API on port 8500 of a loopback
 * address: a GET that keeps the status, `X-Consul-Index` and the time of the answer, a KV put, and the
 * leader a server names.
 */

export interface Answer {
  readonly status: number;
  /** `X-Consul-Index`, 0 when absent. */
  readonly index: number;
  /** performance.now() when the body had arrived. */
  readonly atMs: number;
  readonly body: string;
}

export async function httpGet(ip: string, pathAndQuery: string, timeoutMs = 60_000): Promise<Answer> {
  const r = await fetch(`http://${ip}:8500${pathAndQuery}`, { signal: AbortSignal.timeout(timeoutMs) });
  return {
    status: r.status,
    index: Number(r.headers.get('x-consul-index') ?? 0),
    body: await r.text(),
    atMs: performance.now(),
  };
}

/** PUT /v1/kv/KEY: whether the agent answered 200 `true`. */
export async function kvPut(ip: string, key: string, value: string, timeoutMs = 10_000): Promise<boolean> {
  const r = await fetch(`http://${ip}:8500/v1/kv/${key}`, {
    method: 'PUT',
    body: value,
    signal: AbortSignal.timeout(timeoutMs),
  });
  return r.status === 200 && (await r.text()) === 'true';
}

/** The IP of the leader the agent at `ip` names, or null while it knows none. */
export async function leaderIp(ip: string): Promise<string | null> {
  const leader = JSON.parse((await httpGet(ip, '/v1/status/leader', 2000)).body) as string;
  return leader ? leader.split(':')[0]! : null;
}
