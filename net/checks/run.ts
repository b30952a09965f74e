/**
 * Runs a check for real, for a `runCheck` effect (core/types.ts CheckSpec). TTL checks never get
 * here: their deadline is a timer in the core.
 *
 *  - script: argv (`['/bin/sh', '-c', script]` or the `args` form) in its own process group; exit 0
 *    passing, 1 warning, anything else critical (Consul's rule); stdout and stderr together, cut to
 *    4 KiB; on timeout the whole group is killed (SIGKILL to -pgid), so `sh -c 'sleep 100 | cat'`
 *    leaves nothing behind.
 *  - http: GET (or `method`) with headers and body; 2xx passing, 429 warning, else critical; follows
 *    redirects (fetch does).
 *  - tcp: connect passing, else critical.
 *
 * Every path resolves (never rejects): a check that cannot even start is critical with the reason.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { checkOutputBytesMax, type CheckResult, type CheckSpec } from '../../core/types.js';

export async function runCheck(spec: CheckSpec, timeoutMs: number): Promise<CheckResult> {
  switch (spec.type) {
    case 'script':
      return runScript(spec.args, timeoutMs);
    case 'http':
      return runHttp(spec, timeoutMs);
    case 'tcp':
      return runTcp(spec.address, timeoutMs);
  }
}

export function truncateOutput(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= checkOutputBytesMax) return text;
  // Cut on a byte budget; a split multi-byte character at the end is dropped by the decoder.
  return bytes
    .subarray(0, checkOutputBytesMax)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}

export function statusOfExit(code: number | null): CheckResult['status'] {
  return code === 0 ? 'passing' : code === 1 ? 'warning' : 'critical';
}

function runScript(args: readonly string[], timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    if (args.length === 0) return resolve({ status: 'critical', output: 'script check has no command' });
    const chunks: Buffer[] = [];
    let kept = 0;
    const keep = (chunk: Buffer) => {
      // Keep a little more than the limit so truncation sees whole characters; drop the rest.
      if (kept > checkOutputBytesMax) return;
      chunks.push(chunk);
      kept += chunk.length;
    };
    let child;
    try {
      child = spawn(args[0]!, args.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      return resolve({ status: 'critical', output: `failed to start: ${(error as Error).message}` });
    }
    let timedOut = false;
    let settled = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutMs);
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const finish = (result: CheckResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    child.on('error', (error) => finish({ status: 'critical', output: `failed to start: ${error.message}` }));
    child.on('close', (code, signal) => {
      const output = truncateOutput(Buffer.concat(chunks).toString('utf8'));
      if (timedOut)
        return finish({
          status: 'critical',
          output: `Timed out (${timeoutMs}ms) running check` + (output ? `\n${output}` : ''),
        });
      if (signal) return finish({ status: 'critical', output: output || `killed by ${signal}` });
      finish({ status: statusOfExit(code), output });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

async function runHttp(spec: Extract<CheckSpec, { type: 'http' }>, timeoutMs: number): Promise<CheckResult> {
  const headers = new Headers();
  for (const [name, values] of Object.entries(spec.headers)) for (const v of values) headers.append(name, v);
  if (!headers.has('user-agent')) headers.set('user-agent', 'Conclave Health Check');
  const method = spec.method || 'GET';
  try {
    const response = await fetch(spec.url, {
      method,
      headers,
      signal: AbortSignal.timeout(timeoutMs),
      ...(spec.body && method !== 'GET' && method !== 'HEAD' ? { body: spec.body } : {}),
    });
    const text = truncateOutput(await response.text().catch(() => ''));
    const line = `HTTP ${method} ${spec.url}: ${response.status} ${response.statusText} Output: ${text}`;
    if (response.status >= 200 && response.status < 300) return { status: 'passing', output: truncateOutput(line) };
    if (response.status === 429) return { status: 'warning', output: truncateOutput(line) };
    return { status: 'critical', output: truncateOutput(line) };
  } catch (error) {
    const e = error as Error & { cause?: Error };
    const why = e.name === 'TimeoutError' ? `timeout after ${timeoutMs}ms` : (e.cause?.message ?? e.message);
    return { status: 'critical', output: `Get ${spec.url}: ${why}` };
  }
}

function runTcp(address: string, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    const colon = address.lastIndexOf(':');
    const host = address.slice(0, colon);
    const port = Number(address.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(port))
      return resolve({ status: 'critical', output: `bad TCP address ${address}` });
    const socket = net.connect({ host, port });
    const done = (result: CheckResult) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done({ status: 'critical', output: `dial tcp ${address}: i/o timeout` }));
    socket.on('connect', () => done({ status: 'passing', output: `TCP connect ${address}: Success` }));
    socket.on('error', (error) => done({ status: 'critical', output: `dial tcp ${address}: ${error.message}` }));
  });
}
