/**
 * The argument list of one server in a 3-server cluster on loopback addresses, as the real-process
 * tests and the cluster benchmarks start it: bootstrap-expect 3, HTTP on its own IP, no DNS, and
 * retry-join to the others. One place, so a flag the agent renames is renamed once.
 */
export function loopbackServerArgs(ips: readonly string[], index: number, dataDir: string): string[] {
  const ip = ips[index]!;
  const others = ips.filter((x) => x !== ip);
  return [
    '-server',
    '-bootstrap-expect',
    String(ips.length),
    ...loopbackClientArgs(others, ip, `s${index + 1}`, dataDir),
  ];
}

/**
 * The argument list of a client agent (no -server) on loopback address `ip`, named `node`, that joins
 * `servers`: HTTP on its own IP, no DNS, and retry-join to each server.
 */
export function loopbackClientArgs(servers: readonly string[], ip: string, node: string, dataDir: string): string[] {
  return [
    '-data-dir',
    dataDir,
    '-node',
    node,
    '-bind',
    ip,
    '-client',
    ip,
    '-dns-port',
    '-1',
    ...servers.flatMap((x) => ['-retry-join', x]),
    '-retry-interval',
    '1s',
  ];
}
