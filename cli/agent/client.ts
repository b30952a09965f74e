/**
 * The HTTP client the CLI commands use to talk to the local agent: `-http-addr`, else
 * CONCLAVE_HTTP_ADDR, else CONSUL_HTTP_ADDR, else 127.0.0.1:8500 (Consul's order, with our name first).
 *
 * HTTPS: an `https://` address, or CONSUL_HTTP_SSL=true; the CA from `-ca-file` / CONSUL_CACERT, a
 * client certificate from `-client-cert` + `-client-key` / CONSUL_CLIENT_CERT + CONSUL_CLIENT_KEY
 * (each also as CONCLAVE_*), and CONSUL_HTTP_SSL_VERIFY=false to skip verification (Consul's names).
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import { parseFlags, type FlagSpec, type FlagValues } from './flags.js';

export const httpAddrFlag: Record<string, FlagSpec> = {
  'http-addr': {
    kind: 'string',
    usage: 'Address of the agent HTTP API (default 127.0.0.1:8500, or $CONCLAVE_HTTP_ADDR / $CONSUL_HTTP_ADDR).',
  },
  token: { kind: 'string', usage: 'ACL token sent as X-Consul-Token (default $CONSUL_HTTP_TOKEN).' },
  'ca-file': { kind: 'string', usage: 'CA certificate to verify the agent over HTTPS ($CONSUL_CACERT).' },
  'client-cert': { kind: 'string', usage: 'Client certificate for HTTPS ($CONSUL_CLIENT_CERT).' },
  'client-key': { kind: 'string', usage: 'Client key for HTTPS ($CONSUL_CLIENT_KEY).' },
};

function env(name: string): string | undefined {
  return process.env[`CONCLAVE_${name}`] || process.env[`CONSUL_${name}`] || undefined;
}

export function baseUrl(flags: FlagValues): string {
  const raw =
    (flags['http-addr'] as string | undefined) ||
    process.env['CONCLAVE_HTTP_ADDR'] ||
    process.env['CONSUL_HTTP_ADDR'] ||
    '127.0.0.1:8500';
  if (/^https?:\/\//.test(raw)) return raw.replace(/\/$/, '');
  const ssl = /^(1|true)$/i.test(env('HTTP_SSL') ?? '');
  return `${ssl ? 'https' : 'http'}://${raw}`;
}

/** The TLS material for an https:// agent address, from flags or the environment. */
function tlsOptions(flags: FlagValues): https.RequestOptions {
  const file = (flag: string, name: string) => {
    const path = (flags[flag] as string | undefined) || env(name);
    return path ? fs.readFileSync(path) : undefined;
  };
  const ca = file('ca-file', 'CACERT');
  const cert = file('client-cert', 'CLIENT_CERT');
  const key = file('client-key', 'CLIENT_KEY');
  const verify = !/^(0|false)$/i.test(env('HTTP_SSL_VERIFY') ?? '');
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), rejectUnauthorized: verify };
}

function httpsRequest(url: string, method: string, options: https.RequestOptions, body?: Uint8Array | string) {
  return new Promise<HttpResult>((resolve, reject) => {
    const req = https.request(url, { method, ...options, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers))
          if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export interface HttpResult {
  readonly status: number;
  readonly text: string;
  readonly headers: Headers;
}

export class AgentUnreachable extends Error {}

export async function request(
  flags: FlagValues,
  method: string,
  path: string,
  body?: Uint8Array | string,
): Promise<HttpResult> {
  const url = `${baseUrl(flags)}${path}`;
  const token = (flags['token'] as string | undefined) || process.env['CONSUL_HTTP_TOKEN'];
  if (url.startsWith('https://')) {
    try {
      return await httpsRequest(
        url,
        method,
        { ...tlsOptions(flags), ...(token ? { headers: { 'X-Consul-Token': token } } : {}) },
        body,
      );
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      throw new AgentUnreachable(`${method === 'GET' ? 'Get' : method} ${url}: ${e.code ?? ''} ${e.message}`.trim());
    }
  }
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      ...(token ? { headers: { 'X-Consul-Token': token } } : {}),
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (error) {
    const e = error as Error & { cause?: { code?: string; message?: string } };
    const why =
      e.cause?.code === 'ECONNREFUSED'
        ? `dial tcp ${url.replace(/^https?:\/\//, '').split('/')[0]}: connect: connection refused`
        : (e.cause?.message ?? e.message);
    throw new AgentUnreachable(`${method === 'GET' ? 'Get' : method} ${url}: ${why}`);
  }
  return { status: response.status, text: await response.text(), headers: response.headers };
}

/** Parses a command's flags (plus -http-addr); prints the error and returns null on bad usage. */
export function commandFlags(
  args: readonly string[],
  specs: Readonly<Record<string, FlagSpec>>,
  usage: string,
): { values: FlagValues; rest: string[] } | null {
  const parsed = parseFlags(args, { ...httpAddrFlag, ...specs });
  if (!parsed.ok) {
    if (parsed.error === 'help') process.stdout.write(usage);
    else process.stderr.write(`${parsed.error}\n${usage}`);
    return null;
  }
  return { values: parsed.values, rest: parsed.rest };
}

/** Go's text/tabwriter as Consul's columnize uses it: columns separated by two spaces. */
export function columnize(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return (
    rows
      .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '))
      .join('\n') + '\n'
  );
}
