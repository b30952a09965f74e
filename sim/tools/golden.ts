/**
 * Golden transcripts (etcd's testdata with -rewrite): beside each scenario file `X.txt` lies
 * `X.txt.golden`, what a run of it at its own seed must say — the knobs, every fault, every leader change,
 * the checker's verdict with its violations, and the trace hash. sim/test/golden.test.ts runs each
 * scenario once and compares; a change of behaviour shows up as a reviewable diff of that file.
 *
 *   npx tsx sim/tools/golden.ts                  compare every scenario that has a golden file
 *   npx tsx sim/tools/golden.ts --rewrite [FILE]  write the golden files (all listed ones, or FILE...)
 *
 * Review the diff of a rewrite like code: a changed trace hash with no other change is a change of
 * timing; a new fault or leader line is a change of story.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogLine } from '../engine/simulation.js';
import { loadScenario, runLoaded } from '../run.js';

/** The scenario folders with golden transcripts (swim's larger runs are left out of `npm test` time). */
export const goldenDirs = ['scenarios/raft', 'scenarios/kv', 'scenarios/agent', 'scenarios/multidc'];
export const goldenExtraFiles = ['scenarios/default.txt', 'scenarios/example/broadcast.txt'];

/** Every scenario file that has (or, with --rewrite, gets) a golden transcript. */
export function goldenScenarios(): string[] {
  const files = [...goldenExtraFiles];
  for (const dir of goldenDirs)
    for (const f of readdirSync(dir).sort()) if (f.endsWith('.txt')) files.push(join(dir, f));
  return files;
}

/**
 * `X.txt` → `X.txt.golden`: never `*.txt` (every scenario glob would pick it up) nor `default.<ext>` (the
 * TUI's default-scenario lookup would).
 */
export function goldenPathOf(scenarioFile: string): string {
  return `${scenarioFile}.golden`;
}

/** Is this log line part of the story (faults, phases, leader changes, violations)? */
function inTranscript(line: LogLine): boolean {
  if (line.kind === 'fault' || line.kind === 'phase' || line.kind === 'violation') return true;
  return line.event?.type === 'raft.becameLeader';
}

/** Runs `scenarioFile` at its own seed and renders its transcript. */
export async function transcriptOf(scenarioFile: string): Promise<string> {
  const loaded = await loadScenario(scenarioFile);
  const seed = loaded.scenario.seed;
  const lines: string[] = [];
  const result = runLoaded(loaded, seed, {
    onLog: (line) => {
      if (inTranscript(line))
        lines.push(`${line.atMs.toFixed(3).padStart(10)} ${line.kind.padEnd(9)} ${line.node ?? '-'} ${line.text}`);
    },
  });
  return [
    `# Golden transcript of ${scenarioFile} at its seed: faults, phases, leader changes, the verdict and`,
    `# the trace hash. Replay: node bin/conclave.js sim run ${scenarioFile} --seed ${seed}`,
    `# Update after a deliberate change: npx tsx sim/tools/golden.ts --rewrite ${scenarioFile}`,
    `seed ${seed}`,
    ...lines,
    `verdict ${result.result}${result.violations.length > 0 ? `: ${result.violations.join(' | ')}` : ''}`,
    `trace ${result.trace}`,
    '',
  ].join('\n');
}

async function main(args: string[]): Promise<number> {
  const rewrite = args.includes('--rewrite');
  const named = args.filter((a) => !a.startsWith('--'));
  const files = named.length > 0 ? named : goldenScenarios();
  let differ = 0;
  for (const file of files) {
    const golden = goldenPathOf(file);
    const now = await transcriptOf(file);
    const before = existsSync(golden) ? readFileSync(golden, 'utf8') : null;
    if (before === now) continue;
    if (rewrite) {
      writeFileSync(golden, now);
      console.log(`${before === null ? 'wrote' : 'rewrote'} ${golden}`);
    } else {
      differ++;
      console.log(
        `${golden}: ${before === null ? 'missing' : 'differs'} (npx tsx sim/tools/golden.ts --rewrite ${file})`,
      );
    }
  }
  if (!rewrite) console.log(`${files.length - differ} of ${files.length} transcripts match`);
  return differ === 0 ? 0 : 1;
}

if (process.argv[1]?.endsWith('golden.ts')) process.exitCode = await main(process.argv.slice(2));
