/**
 * `conclave snapshot save FILE | restore FILE | inspect FILE` (Consul's snapshot commands): save the
 * whole replicated store (GET /v1/snapshot, read through the leader) to a file, restore a file into the
 * cluster (PUT /v1/snapshot, through Raft), or print what a file holds.
 */
import * as fs from 'node:fs';
import { decodeSnapshot } from '../../net/http/snapshot.js';
import { baseUrl, commandFlags } from '../agent/client.js';

const usage = `Usage: conclave snapshot <save|restore|inspect> [options] FILE

  save FILE      Write a snapshot of the cluster's state to FILE.
  restore FILE   Replace the cluster's state with FILE's (every server, through Raft).
  inspect FILE   Print the snapshot's index and what it holds.
  -http-addr=<addr>   Address of the agent HTTP API.
`;

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const parsed = commandFlags(rest, { stale: { kind: 'bool', usage: '' } }, usage);
  if (!parsed) return 1;
  const file = parsed.rest[0];
  if ((sub !== 'save' && sub !== 'restore' && sub !== 'inspect') || file === undefined || parsed.rest.length !== 1) {
    process.stderr.write(usage);
    return 1;
  }
  const token = parsed.values['token'] as string | undefined;
  const headers: Record<string, string> = token ? { 'X-Consul-Token': token } : {};
  try {
    if (sub === 'inspect') {
      const decoded = decodeSnapshot(fs.readFileSync(file));
      if (!decoded.ok) throw new Error(decoded.error);
      const store = decoded.store as Record<string, unknown[] | undefined>;
      const rows: [string, number][] = [
        ['KV entries', store['kv']?.length ?? 0],
        ['Sessions', store['sessions']?.length ?? 0],
        ['Nodes', store['nodes']?.length ?? 0],
        ['Checks', store['checks']?.length ?? 0],
        ['Prepared queries', store['preparedQueries']?.length ?? 0],
        ['ACL tokens', store['acls']?.length ?? 0],
      ];
      process.stdout.write(`Index  ${decoded.index}\n${rows.map(([k, v]) => `${k.padEnd(17)}${v}`).join('\n')}\n`);
      return 0;
    }
    if (sub === 'save') {
      const r = await fetch(`${baseUrl(parsed.values)}/v1/snapshot${parsed.values['stale'] ? '?stale' : ''}`, {
        headers,
        signal: AbortSignal.timeout(120_000),
      });
      if (r.status !== 200) throw new Error(`${r.status} ${(await r.text()).trim()}`);
      const bytes = Buffer.from(await r.arrayBuffer());
      const decoded = decodeSnapshot(bytes);
      if (!decoded.ok) throw new Error(`the agent sent a damaged snapshot: ${decoded.error}`);
      fs.writeFileSync(`${file}.part`, bytes);
      fs.renameSync(`${file}.part`, file);
      process.stdout.write(`Saved and verified snapshot to index ${decoded.index}\n`);
      return 0;
    }
    const bytes = fs.readFileSync(file);
    const r = await fetch(`${baseUrl(parsed.values)}/v1/snapshot`, {
      method: 'PUT',
      headers,
      body: bytes,
      signal: AbortSignal.timeout(120_000),
    });
    if (r.status !== 200) throw new Error(`${r.status} ${(await r.text()).trim()}`);
    process.stdout.write('Restored snapshot\n');
    return 0;
  } catch (error) {
    process.stderr.write(
      `Error ${sub === 'save' ? 'saving' : sub === 'restore' ? 'restoring' : 'inspecting'} snapshot: ${(error as Error).message}\n`,
    );
    return 1;
  }
}
