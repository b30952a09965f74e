/** `conclave reload`: the local agent re-reads its config files, as on SIGHUP (PUT /v1/agent/reload). */
import { AgentUnreachable, commandFlags, request } from '../agent/client.js';

export async function run(args: string[]): Promise<number> {
  const parsed = commandFlags(args, {}, 'Usage: conclave reload [options]\n\n  -http-addr=<addr>\n');
  if (!parsed) return 1;
  try {
    const r = await request(parsed.values, 'PUT', '/v1/agent/reload');
    if (r.status !== 200) {
      process.stderr.write(`Error reloading: ${r.text.trim() || r.status}\n`);
      return 1;
    }
  } catch (error) {
    if (!(error instanceof AgentUnreachable)) throw error;
    process.stderr.write(`Error reloading: ${error.message}\n`);
    return 1;
  }
  process.stdout.write('Configuration reload triggered\n');
  return 0;
}
