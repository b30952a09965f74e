/** `conclave members [-detailed]`: the cluster as the local agent's gossip sees it (GET /v1/agent/members). */
import { AgentUnreachable, columnize, commandFlags, request } from '../agent/client.js';

const usage = 'Usage: conclave members [options]\n\n  -detailed  Show tags\n  -http-addr=<addr>\n';
const statusNames = ['none', 'alive', 'leaving', 'left', 'failed'];

interface MemberJson {
  Name: string;
  Addr: string;
  Port: number;
  Tags: Record<string, string>;
  Status: number;
}

export async function run(args: string[]): Promise<number> {
  const parsed = commandFlags(
    args,
    {
      detailed: { kind: 'bool', usage: 'Show tags' },
      wan: { kind: 'bool', usage: 'WAN members' },
      status: { kind: 'string', usage: 'Filter by status (regexp)' },
    },
    usage,
  );
  if (!parsed) return 1;
  let members: MemberJson[];
  try {
    const r = await request(parsed.values, 'GET', `/v1/agent/members${parsed.values['wan'] ? '?wan=1' : ''}`);
    if (r.status !== 200) {
      process.stderr.write(`Error retrieving members: Unexpected response code: ${r.status} (${r.text})\n`);
      return 1;
    }
    members = JSON.parse(r.text) as MemberJson[];
  } catch (error) {
    if (!(error instanceof AgentUnreachable)) throw error;
    process.stderr.write(`Error retrieving members: ${error.message}\n`);
    return 1;
  }
  const statusFilter = parsed.values['status'] ? new RegExp(String(parsed.values['status'])) : null;
  members = members
    .filter((m) => !statusFilter || statusFilter.test(statusNames[m.Status] ?? 'unknown'))
    .sort((a, b) => a.Name.localeCompare(b.Name));
  if (members.length === 0 && statusFilter) return 2;
  const rows: string[][] = [];
  if (parsed.values['detailed']) {
    rows.push(['Node', 'Address', 'Status', 'Tags']);
    for (const m of members) {
      const tags = Object.entries(m.Tags)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      rows.push([m.Name, `${m.Addr}:${m.Port}`, statusNames[m.Status] ?? 'unknown', tags]);
    }
  } else {
    rows.push(['Node', 'Address', 'Status', 'Type', 'Build', 'Protocol', 'DC']);
    for (const m of members) {
      const type = m.Tags['role'] === 'consul' ? 'server' : 'client';
      rows.push([
        m.Name,
        `${m.Addr}:${m.Port}`,
        statusNames[m.Status] ?? 'unknown',
        type,
        m.Tags['build'] ?? '',
        m.Tags['vsn'] ?? '',
        m.Tags['dc'] ?? '',
      ]);
    }
  }
  process.stdout.write(columnize(rows));
  return 0;
}
