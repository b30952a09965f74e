/** `conclave force-leave NODE`: a failed member goes to left, a live one is marked leaving here and refutes (PUT /v1/agent/force-leave/NODE). */
import { AgentUnreachable, commandFlags, request } from '../agent/client.js';

const usage =
  'Usage: conclave force-leave [options] name\n\n  -http-addr=<addr>\n  -wan   remove the member (node.dc) from the WAN pool\n';

export async function run(args: string[]): Promise<number> {
  const parsed = commandFlags(args, { wan: { kind: 'bool', usage: 'Force-leave from the WAN pool' } }, usage);
  if (!parsed) return 1;
  if (parsed.rest.length !== 1) {
    process.stderr.write(`A single node name must be specified to force leave.\n${usage}`);
    return 1;
  }
  try {
    const wan = parsed.values['wan'] ? '?wan=1' : '';
    const r = await request(parsed.values, 'PUT', `/v1/agent/force-leave/${encodeURIComponent(parsed.rest[0]!)}${wan}`);
    if (r.status !== 200) {
      process.stderr.write(`Error force leaving: ${r.text.trim() || r.status}\n`);
      return 1;
    }
  } catch (error) {
    if (!(error instanceof AgentUnreachable)) throw error;
    process.stderr.write(`Error force leaving: ${error.message}\n`);
    return 1;
  }
  return 0;
}
