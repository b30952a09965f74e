/** `conclave version`. */
import { conclaveVersion } from '../agent/config.js';

export async function run(_args: string[]): Promise<number> {
  process.stdout.write(
    `Conclave v${conclaveVersion}\nProtocol 2 spoken by default, understands 2 to 3 (agent will automatically use protocol >2 when speaking to compatible agents)\n`,
  );
  return 0;
}
