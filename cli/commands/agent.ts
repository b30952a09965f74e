/** `conclave agent [flags]`: run a server or client agent (cli/agent/run.ts). */
export async function run(args: string[]): Promise<number> {
  const { runAgent } = await import('../agent/run.js');
  return runAgent(args);
}
