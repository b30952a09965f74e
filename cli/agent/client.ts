/**
 * The HTTP client the CLI commands use to talk to the local agent: `-http-addr`, else
 * CONCLAVE_HTTP_ADDR, else CONSUL_HTTP_ADDR, else 127.0.0.1:8500 (Consul's order, with our name first).
 */
import { parseFlags, type FlagSpec, type FlagValues } from './flags.js';

export const httpAddrFlag: Record<string, FlagSpec> = {
  'http-addr': {
    kind: 'string',
    usage: 'Address of the agent HTTP API (default 127.0.0.1:8500, or $CONCLAVE_HTTP_ADDR / $CONSUL_HTTP_ADDR).',
  },
  token: { kind: 'string', usage: 'ACL token sent as X-Consul-Token (default $CONSUL_HTTP_TOKEN).' },
};

export function baseUrl(flags: FlagValues): string {
  const raw =
    (flags['http-addr'] as string | undefined) ||
    process.env['CONCLAVE_HTTP_ADDR'] ||
    process.env['CONSUL_HTTP_ADDR'] ||
    '127.0.0.1:8500';
  return /^https?:\/\//.test(raw) ? raw.replace(/\/$/, '') : `http://${raw}`;
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
