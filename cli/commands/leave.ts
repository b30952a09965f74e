/** `conclave leave`: the local agent leaves gracefully and shuts down (PUT /v1/agent/leave). */
import { AgentUnreachable, commandFlags, request } from '../agent/client.js';

export async function run(args: string[]): Promise<number> {
  const parsed = commandFlags(args, {}, 'Usage: conclave leave [options]\n\n  -http-addr=<addr>\n');
  if (!parsed) return 1;
  try {
    const r = await request(parsed.values, 'PUT', '/v1/agent/leave');
    if (r.status !== 200) {
      process.stderr.write(`Error leaving: ${r.text.trim() || r.status}\n`);
      return 1;
    }
  } catch (error) {
    if (!(error instanceof AgentUnreachable)) throw error;
    process.stderr.write(`Error leaving: ${error.message}\n`);
    return 1;
  }
  process.stdout.write('Graceful leave complete\n');
  return 0;
}
