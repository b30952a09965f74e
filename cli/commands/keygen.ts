/** `conclave keygen`: a new 32-byte gossip encryption key, base64 (for `-encrypt` / `"encrypt"`). */
import { generateKey } from '../../net/transport/keyring.js';

export async function run(args: string[]): Promise<number> {
  if (args.length > 0 && !['-h', '-help', '--help'].includes(args[0]!)) {
    process.stderr.write(`unexpected argument: ${args[0]}\nUsage: conclave keygen\n`);
    return 1;
  }
  if (args.length > 0) {
    process.stdout.write('Usage: conclave keygen\n\n  Generates a new encryption key for gossip (-encrypt).\n');
    return 0;
  }
  process.stdout.write(`${generateKey()}\n`);
  return 0;
}
