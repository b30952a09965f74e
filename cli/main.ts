/**
 * The `conclave` command: a thin dispatcher. Each command group lives in its own module under
 * cli/commands/ and is loaded on demand, so `conclave members` does not load the simulator and
 * `conclave sim run` does not load the HTTP server.
 *
 * Exit codes, everywhere: 0 success, 1 failure (a violation, a refused request), 2 bad usage.
 */
import { didYouMean } from '../sim/suggest.js';

export interface CommandModule {
  run(args: string[]): Promise<number>;
}

/** Command name → summary; the module is cli/commands/<name>.ts. Add a line here when adding one. */
const commands: Record<string, { summary: string }> = {
  sim: { summary: 'run, explore, replay, shrink and report simulations' },
  tui: { summary: 'watch a simulated cluster in the terminal' },
  check: { summary: 'check histories (check lin FILE... --model etcd|kv)' },
  agent: { summary: 'run a conclave agent (server or client)' },
  members: { summary: 'list cluster members' },
  join: { summary: 'tell the local agent to join a cluster' },
  leave: { summary: 'gracefully leave the cluster and stop the agent' },
  'force-leave': { summary: 'force a member out of the cluster (failed → left, live → leaving)' },
  reload: { summary: 'reload the local agent configuration' },
  kv: { summary: 'get, put and delete keys' },
  lock: { summary: 'run a command while holding a lock in the KV store' },
  event: { summary: 'fire a user event across the datacenter' },
  watch: { summary: 'watch keys, services, nodes, checks or events (blocking queries)' },
  operator: { summary: 'operator raft list-peers | remove-peer' },
  snapshot: { summary: 'save, restore or inspect a snapshot of the cluster state' },
  keygen: { summary: 'generate a new gossip encryption key' },
  keyring: { summary: 'list, install, use and remove gossip encryption keys on every member' },
  tls: { summary: 'create a CA and certificates (tls ca create, tls cert create -server|-client)' },
  info: { summary: 'show debugging information about the local agent' },
  version: { summary: 'print the version' },
};

export async function main(argv: string[]): Promise<number> {
  let [name, ...rest] = argv;
  if (name === '--version' || name === '-version' || name === '-v' || name === '-V') name = 'version';
  if (name === 'help' && rest[0] !== undefined && commands[rest[0]]) [name, rest] = [rest[0], ['--help']];
  if (name === undefined || name === '-h' || name === '--help' || name === '-help' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const entry = commands[name];
  if (!entry) {
    const hint = didYouMean(name.replace(/^-+/, ''), Object.keys(commands));
    process.stderr.write(`conclave: unknown command '${name}'${hint}\n\n${usage()}`);
    return 2;
  }
  let mod: CommandModule;
  try {
    mod = (await import(`./commands/${name}.js`)) as CommandModule;
  } catch (error) {
    if (
      (error as NodeJS.ErrnoException)?.code === 'ERR_MODULE_NOT_FOUND' &&
      String((error as Error).message).includes(`commands/${name}.js`)
    ) {
      process.stderr.write(`conclave: command '${name}' is not built yet in this version\n`);
      return 2;
    }
    throw error;
  }
  return mod.run(rest);
}

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const lines = Object.entries(commands).map(([n, c]) => `    ${n.padEnd(width)}  ${c.summary}`);
  return (
    `Usage: conclave <command> [args]\n\nCommands:\n${lines.join('\n')}\n\n` +
    `conclave <command> --help describes a command; conclave --version prints the version.\n` +
    `Benchmarks are npm scripts (npm run bench:sim, bench:raft, ...; see the README).\n`
  );
}
