/**
 * `conclave event -name=NAME [-node=RE] [-service=RE] [-tag=RE] [-datacenter=DC] [payload]`: fire a
 * user event through the local agent (PUT /v1/event/fire/NAME), delivered to every agent of the DC by
 * gossip (Consul's `consul event`; `-datacenter`: a server of that DC fires it there). Prints
 * "Event ID: <id>".
 */
import { AgentUnreachable, commandFlags, request } from '../agent/client.js';

const usage = `Usage: conclave event [options] [payload]

  Dispatches a custom user event across the datacenter.

  -name=<name>        Name of the event (required).
  -node=<regexp>      Only nodes whose name matches.
  -service=<regexp>   Only nodes running a matching service.
  -tag=<regexp>       Only nodes whose service has a matching tag (needs -service).
  -datacenter=<dc>    Fire it in that datacenter (default: the agent's).
  -http-addr=<addr>   Address of the agent HTTP API.
`;

export async function run(args: string[]): Promise<number> {
  const parsed = commandFlags(
    args,
    {
      name: { kind: 'string', usage: '' },
      node: { kind: 'string', usage: '' },
      service: { kind: 'string', usage: '' },
      tag: { kind: 'string', usage: '' },
      datacenter: { kind: 'string', usage: '' },
    },
    usage,
  );
  if (!parsed) return 1;
  const name = parsed.values['name'] as string | undefined;
  if (!name) {
    process.stderr.write(`Event name must be specified\n${usage}`);
    return 1;
  }
  if (name.startsWith('_')) {
    process.stderr.write('Event name cannot start with an underscore\n');
    return 1;
  }
  if (parsed.rest.length > 1) {
    process.stderr.write(`Too many command line arguments\n${usage}`);
    return 1;
  }
  const query = new URLSearchParams();
  for (const filter of ['node', 'service', 'tag'] as const) {
    const value = parsed.values[filter] as string | undefined;
    if (value === undefined) continue;
    try {
      new RegExp(value);
    } catch (error) {
      process.stderr.write(`Failed to compile ${filter} filter regexp: ${(error as Error).message}\n`);
      return 1;
    }
    query.set(filter, value);
  }
  const datacenter = parsed.values['datacenter'] as string | undefined;
  if (datacenter) query.set('dc', datacenter);
  if (query.has('tag') && !query.has('service')) {
    process.stderr.write('Cannot provide tag filter without service filter.\n');
    return 1;
  }
  try {
    const q = query.toString();
    const r = await request(
      parsed.values,
      'PUT',
      `/v1/event/fire/${encodeURIComponent(name)}${q ? `?${q}` : ''}`,
      parsed.rest[0] ?? '',
    );
    if (r.status !== 200) {
      process.stderr.write(`Error firing event: ${r.text.trim() || r.status}\n`);
      return 1;
    }
    const event = JSON.parse(r.text) as { ID: string };
    process.stdout.write(`Event ID: ${event.ID}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof AgentUnreachable)) throw error;
    process.stderr.write(`Error firing event: ${error.message}\n`);
    return 1;
  }
}
