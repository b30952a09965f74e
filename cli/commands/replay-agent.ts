/**
 * `conclave sim replay-agent FILE` (routed here by cli/commands/sim.ts): replays a flight recording
 * made with `conclave agent -record FILE` into the same core and checks that every step's effects are
 * identical, then audits the recorded departures against the ORDERING RULE (every send and reply left
 * after the persists it depends on were durable). Exit 0 when the run is reproduced and the rule held,
 * 1 otherwise.
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
  if (result.orderingViolations.length > 0) {
    process.stdout.write(`ORDERING RULE broken by ${result.orderingViolations.length} departures:\n`);
    for (const v of result.orderingViolations.slice(0, 20)) process.stdout.write(`  ${v}\n`);
    return 1;
  }
  process.stdout.write(
    result.leaves.length > 0
      ? `ordering rule held: ${result.leaves.length} sends and replies left after the persists they depend on\n`
      : 'ordering rule: the recording has no departures to audit (recorded by an older build)\n',
  );
  return 0;
}
