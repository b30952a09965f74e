/**
 * `conclave tls ca create` and `conclave tls cert create -server|-client` (Consul 1.x's commands and
 * file names), so TLS is two commands away:
 *
 *   conclave tls ca create                      → consul-agent-ca.pem, consul-agent-ca-key.pem
 *   conclave tls cert create -server [-dc dc1]  → dc1-server-consul-0.pem, dc1-server-consul-0-key.pem
 *   conclave tls cert create -client            → dc1-client-consul-0.pem, dc1-client-consul-0-key.pem
 *
 * Existing files are never overwritten: the next free index is used (…-1.pem), as Consul does.
 */
import * as fs from 'node:fs';
import { parseFlags, type FlagSpec } from '../agent/flags.js';

const usage = `Usage: conclave tls <subcommand> [options]

  conclave tls ca create [-domain consul] [-days 1825]
  conclave tls cert create -server|-client [-dc dc1] [-domain consul] [-days 365]
      [-ca consul-agent-ca.pem] [-key consul-agent-ca-key.pem]
      [-additional-dnsname NAME]... [-additional-ipaddress IP]...
`;

const caFlags: Record<string, FlagSpec> = {
  domain: { kind: 'string', usage: 'Domain of the cluster (default consul).' },
  days: { kind: 'int', usage: 'Days the CA is valid (default 1825).' },
};
const certFlags: Record<string, FlagSpec> = {
  server: { kind: 'bool', usage: 'A server certificate (server.<dc>.<domain>).' },
  client: { kind: 'bool', usage: 'A client certificate (client.<dc>.<domain>).' },
  dc: { kind: 'string', usage: 'Datacenter (default dc1).' },
  domain: { kind: 'string', usage: 'Domain (default consul).' },
  days: { kind: 'int', usage: 'Days the certificate is valid (default 365).' },
  ca: { kind: 'string', usage: 'CA certificate (default consul-agent-ca.pem).' },
  key: { kind: 'string', usage: 'CA key (default consul-agent-ca-key.pem).' },
  'additional-dnsname': { kind: 'list', usage: 'Another DNS name for the certificate; repeatable.' },
  'additional-ipaddress': { kind: 'list', usage: 'Another IP address for the certificate; repeatable.' },
};

export async function run(args: string[]): Promise<number> {
  const [group, action, ...rest] = args;
  if (group === 'ca' && action === 'create') return caCreate(rest);
  if (group === 'cert' && action === 'create') return certCreate(rest);
  const help = group === undefined || ['-h', '-help', '--help'].includes(group);
  (help ? process.stdout : process.stderr).write(usage);
  return help ? 0 : 1;
}

function parse(args: string[], specs: Record<string, FlagSpec>) {
  const parsed = parseFlags(args, specs);
  if (!parsed.ok) {
    (parsed.error === 'help' ? process.stdout : process.stderr).write(
      parsed.error === 'help' ? usage : `${parsed.error}\n${usage}`,
    );
    return null;
  }
  if (parsed.rest.length > 0) {
    process.stderr.write(`unexpected argument: ${parsed.rest[0]}\n${usage}`);
    return null;
  }
  return parsed.values;
}

function save(file: string, text: string, mode: number): void {
  fs.writeFileSync(file, text, { mode, flag: 'wx' });
  process.stdout.write(`==> Saved ${file}\n`);
}

async function caCreate(args: string[]): Promise<number> {
  const v = parse(args, caFlags);
  if (!v) return 1;
  const domain = (v['domain'] as string | undefined) ?? 'consul';
  const certFile = `${domain}-agent-ca.pem`;
  const keyFile = `${domain}-agent-ca-key.pem`;
  for (const f of [certFile, keyFile])
    if (fs.existsSync(f)) {
      process.stderr.write(`==> ${f} already exists.\n`);
      return 1;
    }
  const { createCa } = await import('../../net/tls/issue.js');
  const ca = await createCa({ domain, ...(v['days'] !== undefined ? { days: v['days'] as number } : {}) });
  save(certFile, ca.certPem, 0o644);
  save(keyFile, ca.keyPem, 0o600);
  return 0;
}

async function certCreate(args: string[]): Promise<number> {
  const v = parse(args, certFlags);
  if (!v) return 1;
  if (v['server'] === v['client'] || (v['server'] === undefined && v['client'] === undefined)) {
    process.stderr.write(`==> Please provide either -server or -client\n${usage}`);
    return 1;
  }
  const kind = v['server'] ? 'server' : 'client';
  const dc = (v['dc'] as string | undefined) ?? 'dc1';
  const domain = (v['domain'] as string | undefined) ?? 'consul';
  const caFile = (v['ca'] as string | undefined) ?? `${domain}-agent-ca.pem`;
  const caKeyFile = (v['key'] as string | undefined) ?? `${domain}-agent-ca-key.pem`;
  let caPem: string;
  let caKeyPem: string;
  try {
    caPem = fs.readFileSync(caFile, 'utf8');
    caKeyPem = fs.readFileSync(caKeyFile, 'utf8');
  } catch (error) {
    process.stderr.write(`==> Error reading the CA: ${(error as Error).message}\n`);
    return 1;
  }
  let index = 0;
  const name = (i: number) => `${dc}-${kind}-${domain}-${i}`;
  while (fs.existsSync(`${name(index)}.pem`) || fs.existsSync(`${name(index)}-key.pem`)) index++;
  const { createLeaf } = await import('../../net/tls/issue.js');
  const leaf = await createLeaf({
    ca: { certPem: caPem, keyPem: caKeyPem },
    kind,
    datacenter: dc,
    domain,
    ...(v['days'] !== undefined ? { days: v['days'] as number } : {}),
    additionalDnsNames: (v['additional-dnsname'] as string[] | undefined) ?? [],
    additionalIps: (v['additional-ipaddress'] as string[] | undefined) ?? [],
  });
  save(`${name(index)}.pem`, leaf.certPem, 0o644);
  save(`${name(index)}-key.pem`, leaf.keyPem, 0o600);
  return 0;
}
