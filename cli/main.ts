/**
 * The `conclave` command: a thin dispatcher. Each command group lives in its own module under
 * cli/commands/ and is loaded on demand, so `conclave members` does not load the simulator and
 * `conclave sim run` does not load the HTTP server.
 *
 * Exit codes, everywhere: 0 success, 1 failure (a violation, a refused request), 2 bad usage.
 */
export interface CommandModule {
  run(args: string[]): Promise<number>;
}

type Loader = () => Promise<CommandModule>;

/** Command name → module. Add a line here when adding a command group. */
const commands: Record<string, { load: Loader; summary: string }> = {
  sim: { load: () => import('./commands/sim.js'), summary: 'run, explore, replay, shrink and report simulations' },
  tui: { load: () => import('./commands/tui.js'), summary: 'watch a simulated cluster in the terminal' },
  check: { load: () => import('./commands/check.js'), summary: 'check histories (check lin FILE... --model etcd|kv)' },
  bench: { load: () => import('./commands/bench.js'), summary: 'run a benchmark (bench sim)' },
  agent: { load: () => import('./commands/agent.js'), summary: 'run a conclave agent (server or client)' },
  members: { load: () => import('./commands/members.js'), summary: 'list cluster members' },
  join: { load: () => import('./commands/join.js'), summary: 'tell the local agent to join a cluster' },
  leave: { load: () => import('./commands/leave.js'), summary: 'gracefully leave the cluster and stop the agent' },
  'force-leave': { load: () => import('./commands/force-leave.js'), summary: 'force a member into the left state' },
  reload: { load: () => import('./commands/reload.js'), summary: 'reload the local agent configuration' },
  kv: { load: () => import('./commands/kv.js'), summary: 'get, put and delete keys' },
  info: { load: () => import('./commands/info.js'), summary: 'show debugging information about the local agent' },
  version: { load: () => import('./commands/version.js'), summary: 'print the version' },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === '-help' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const entry = commands[name];
  if (!entry) {
    process.stderr.write(`conclave: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  let mod: CommandModule;
  try {
    mod = await entry.load();
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(`commands/${name}.js`)) {
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
  return `Usage: conclave <command> [args]\n\nCommands:\n${lines.join('\n')}\n`;
}
