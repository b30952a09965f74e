/**
 * `conclave keyring -list | -install KEY | -use KEY | -remove KEY` (Consul's command, through
 * /v1/operator/keyring): the change reaches every live member over encrypted gossip; the primary key
 * cannot be removed; a key must be installed everywhere before it is used.
 */
import { AgentUnreachable, commandFlags, request } from '../agent/client.js';

const usage = `Usage: conclave keyring [options]

  Manages the gossip encryption keys of every member of the cluster.

  -list            List the keys installed on each member, with how many members hold each
  -install=<key>   Install a new key (not primary)
  -use=<key>       Make an installed key the primary key
  -remove=<key>    Remove a key (not the primary)
  -http-addr=<addr>  -token=<token>  -ca-file / -client-cert / -client-key for HTTPS
`;

export async function run(args: string[]): Promise<number> {
  const parsed = commandFlags(
    args,
    {
      list: { kind: 'bool', usage: 'List keys' },
      install: { kind: 'string', usage: 'Install a key' },
      use: { kind: 'string', usage: 'Make a key primary' },
      remove: { kind: 'string', usage: 'Remove a key' },
    },
    usage,
  );
  if (!parsed) return 1;
  const v = parsed.values;
  const chosen = (['list', 'install', 'use', 'remove'] as const).filter((k) => v[k] !== undefined && v[k] !== false);
  if (chosen.length !== 1) {
    process.stderr.write(`Exactly one of -list, -install, -use, or -remove must be provided\n${usage}`);
    return 1;
  }
  const op = chosen[0]!;
  try {
    if (op === 'list') {
      process.stdout.write('==> Gathering installed encryption keys...\n');
      const r = await request(v, 'GET', '/v1/operator/keyring');
      if (r.status !== 200) {
        process.stderr.write(`Error: ${r.text.trim()}\n`);
        return 1;
      }
      const pools = JSON.parse(r.text) as {
        Datacenter: string;
        WAN: boolean;
        Keys: Record<string, number>;
        NumNodes: number;
      }[];
      for (const pool of pools) {
        process.stdout.write(`\n${pool.Datacenter} (${pool.WAN ? 'WAN' : 'LAN'}):\n`);
        for (const [key, count] of Object.entries(pool.Keys))
          process.stdout.write(`  ${key} [${count}/${pool.NumNodes}]\n`);
      }
      return 0;
    }
    const what = { install: 'Installing new', use: 'Changing primary', remove: 'Removing' }[op];
    process.stdout.write(`==> ${what} gossip encryption key...\n`);
    const method = { install: 'POST', use: 'PUT', remove: 'DELETE' }[op];
    const r = await request(v, method, '/v1/operator/keyring', JSON.stringify({ Key: String(v[op]) }));
    if (r.status !== 200) {
      process.stderr.write(`Error: ${r.text.trim()}\n`);
      return 1;
    }
    return 0;
  } catch (error) {
    if (!(error instanceof AgentUnreachable)) throw error;
    process.stderr.write(`Error: ${error.message}\n`);
    return 1;
  }
}
