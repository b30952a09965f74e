/**
 * `conclave operator raft list-peers` and `conclave operator raft remove-peer -address=IP:port`
 * (Consul's operator commands): the Raft configuration as a table, and removing a server that is gone
 * for good (a failed server; a live one is added back by the leader, as Consul's autopilot would).
 */
import { AgentUnreachable, columnize, commandFlags, request } from '../agent/client.js';

const usage = `Usage: conclave operator raft <list-peers|remove-peer> [options]

  list-peers               Show the servers in the Raft configuration.
  remove-peer -address=IP:port | -id=ID
                           Remove a server from the Raft configuration.
  -http-addr=<addr>        Address of the agent HTTP API.
`;

interface Server {
  ID: string;
  Node: string;
  Address: string;
  Leader: boolean;
  Voter: boolean;
  ProtocolVersion: string;
}

export async function run(args: string[]): Promise<number> {
  const [group, sub, ...rest] = args;
  if (group !== 'raft' || (sub !== 'list-peers' && sub !== 'remove-peer')) {
    process.stderr.write(usage);
    return 1;
  }
  const parsed = commandFlags(
    rest,
    sub === 'remove-peer' ? { address: { kind: 'string', usage: '' }, id: { kind: 'string', usage: '' } } : {},
    usage,
  );
  if (!parsed) return 1;
  try {
    if (sub === 'list-peers') {
      const r = await request(parsed.values, 'GET', '/v1/operator/raft/configuration');
      if (r.status !== 200) {
        process.stderr.write(`Error getting peers: ${r.text.trim() || r.status}\n`);
        return 1;
      }
      const config = JSON.parse(r.text) as { Servers: Server[] };
      const rows = [
        ['Node', 'ID', 'Address', 'State', 'Voter', 'RaftProtocol'],
        ...config.Servers.map((s) => [
          s.Node,
          s.ID,
          s.Address,
          s.Leader ? 'leader' : 'follower',
          String(s.Voter),
          s.ProtocolVersion,
        ]),
      ];
      process.stdout.write(columnize(rows));
      return 0;
    }
    const address = parsed.values['address'] as string | undefined;
    const id = parsed.values['id'] as string | undefined;
    if ((address === undefined) === (id === undefined)) {
      process.stderr.write('Must specify either -address or -id, but not both\n');
      return 1;
    }
    const q = address !== undefined ? `address=${encodeURIComponent(address)}` : `id=${encodeURIComponent(id!)}`;
    const r = await request(parsed.values, 'DELETE', `/v1/operator/raft/peer?${q}`);
    if (r.status !== 200) {
      process.stderr.write(`Error removing peer: ${r.text.trim() || r.status}\n`);
      return 1;
    }
    process.stdout.write(`Removed peer with ${address !== undefined ? `address "${address}"` : `id "${id}"`}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof AgentUnreachable)) throw error;
    process.stderr.write(`Error connecting to the agent: ${error.message}\n`);
    return 1;
  }
}
