/**
 * `conclave sim replay-agent FILE` (routed here by cli/commands/sim.ts): replays a flight recording
 * made with `conclave agent -record FILE` into the same core and checks that every step's effects are
 * identical. Exit 0 when the run is reproduced, 1 at the first divergence.
 */
import type { AgentConfig } from '../../core/agent/api.js';
import { mountsFor } from '../../core/agent/mounts.js';
import { replayRecording } from '../../net/recorder.js';

export async function run(args: string[]): Promise<number> {
  const file = args.find((a) => !a.startsWith('-'));
  if (!file) {
    process.stderr.write('Usage: conclave sim replay-agent FILE\n');
    return 2;
  }
  const result = replayRecording(file, (assembly) => mountsFor((assembly as { config: AgentConfig }).config));
  process.stdout.write(
    `replayed ${result.stepCount} inputs from ${file}${result.truncated ? ' (the last frame was cut short by the crash and skipped)' : ''}\n`,
  );
  process.stdout.write(`trace hash: recorded ${result.traceHashRecorded}, replayed ${result.traceHashReplayed}\n`);
  if (result.divergence) {
    const d = result.divergence;
    process.stdout.write(
      `DIVERGED at input #${d.step} (${(d.input as { kind: string }).kind}): recorded effects ${d.recorded}, replayed ${d.replayed}\n`,
    );
    process.stdout.write(
      `replayed effects: ${JSON.stringify(d.effects, (_k, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v)).slice(0, 2000)}\n`,
    );
    return 1;
  }
  process.stdout.write('reproduced: every step made the same decisions\n');
  return 0;
}
