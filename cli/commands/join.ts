/** `conclave join ADDR...`: ask the local agent to join these agents (PUT /v1/agent/join/ADDR). */
import { AgentUnreachable, commandFlags, request } from '../agent/client.js';

const usage = 'Usage: conclave join [options] address ...\n\n  -http-addr=<addr>\n';

export async function run(args: string[]): Promise<number> {
  const parsed = commandFlags(args, { wan: { kind: 'bool', usage: 'Join over the WAN pool' } }, usage);
  if (!parsed) return 1;
  if (parsed.rest.length === 0) {
    process.stderr.write(`At least one address to join must be specified.\n${usage}`);
    return 1;
  }
  let joined = 0;
  let lastError = '';
  for (const address of parsed.rest) {
    try {
      const r = await request(
        parsed.values,
        'PUT',
        `/v1/agent/join/${encodeURIComponent(address)}${parsed.values['wan'] ? '?wan=1' : ''}`,
      );
      if (r.status === 200) joined++;
      else lastError = r.text.trim() || `Unexpected response code: ${r.status}`;
    } catch (error) {
      if (!(error instanceof AgentUnreachable)) throw error;
      lastError = error.message;
    }
  }
  if (joined === 0) {
    process.stderr.write(`Error joining the cluster: ${lastError}\n`);
    return 1;
  }
  process.stdout.write(`Successfully joined cluster by contacting ${joined} nodes.\n`);
  return 0;
}
