/** `conclave info`: debugging sections of the local agent (GET /v1/agent/self), in Consul's layout. */
import { AgentUnreachable, commandFlags, request } from '../agent/client.js';

export async function run(args: string[]): Promise<number> {
  const parsed = commandFlags(args, {}, 'Usage: conclave info [options]\n\n  -http-addr=<addr>\n');
  if (!parsed) return 1;
  let self: {
    Config?: Record<string, unknown>;
    Member?: Record<string, unknown>;
    Stats?: Record<string, Record<string, unknown>>;
  };
  try {
    const r = await request(parsed.values, 'GET', '/v1/agent/self');
    if (r.status !== 200) {
      process.stderr.write(`Error querying agent: ${r.text.trim() || r.status}\n`);
      return 1;
    }
    self = JSON.parse(r.text);
  } catch (error) {
    if (!(error instanceof AgentUnreachable)) throw error;
    process.stderr.write(`Error querying agent: ${error.message}\n`);
    return 1;
  }
  const sections: Record<string, Record<string, unknown>> = { ...(self.Stats ?? {}) };
  const config = self.Config ?? {};
  sections['agent'] = {
    ...(sections['agent'] ?? {}),
    node_name: config['NodeName'],
    datacenter: config['Datacenter'],
    server: config['Server'],
  };
  let out = '';
  for (const name of Object.keys(sections).sort()) {
    out += `${name}:\n`;
    const section = sections[name] ?? {};
    for (const key of Object.keys(section).sort()) {
      const value = section[key];
      out += `\t${key} = ${typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)}\n`;
    }
  }
  process.stdout.write(out);
  return 0;
}
