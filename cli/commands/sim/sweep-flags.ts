/**
 * The flags every sweep command shares — `sim explore` (one scenario or a suite) and `sim hub`: the seeds, the
 * output, replays, the codec and knob pins. One parser, so a flag means the same in each.
 */
import { parseSeedRange } from '../../../sim/tools/explore.js';

/** The flags `sim explore` and `sim hub` share (the seeds, the output, replays, the codec, knob pins). */
export interface SweepFlags {
  file: string | null;
  seeds: string | null;
  json: boolean;
  out: string | null;
  replayDir: string | null;
  codec: boolean;
  knobs: string[];
}

/**
 * One argument of `args` at `i` for the shared sweep flags: the file, or a flag it knows. Returns the
 * index of the last argument it used, an error message, or null when the flag is not one of them.
 */
export function parseSweepFlag(args: readonly string[], i: number, flags: SweepFlags): number | string | null {
  const arg = args[i]!;
  if (!arg.startsWith('-')) {
    if (flags.file) return `unexpected argument '${arg}'`;
    flags.file = arg;
    return i;
  }
  const body = arg.replace(/^--?/, '');
  const eq = body.indexOf('=');
  const name = eq < 0 ? body : body.slice(0, eq);
  const value = (): string | undefined => (eq >= 0 ? body.slice(eq + 1) : args[++i]);
  switch (name) {
    case 'seeds': {
      const v = value();
      if (v === undefined || !parseSeedRange(v))
        return `--seeds needs A..B (inclusive, A ≤ B) or a count N, got '${v ?? ''}'`;
      flags.seeds = v;
      return i;
    }
    case 'json':
      flags.json = true;
      return i;
    case 'out': {
      const v = value();
      if (!v) return '--out needs a file name';
      flags.out = v;
      return i;
    }
    case 'replay-dir': {
      const v = value();
      if (!v) return '--replay-dir needs a directory';
      flags.replayDir = v;
      return i;
    }
    case 'no-replays':
      flags.replayDir = null;
      return i;
    case 'no-codec':
      flags.codec = false;
      return i;
    case 'knob': {
      const v = value();
      if (!v || !v.includes('=')) return `--knob needs KEY=VALUE, got '${v ?? ''}'`;
      flags.knobs.push(v);
      return i;
    }
    default:
      return null;
  }
}

/** The flag an argument names (for "unknown flag" messages). */
export function flagName(arg: string): string {
  return arg.replace(/^-+/, '').split('=')[0]!;
}

/** `--jobs N` (`-j`): worker threads, 1..256; the number, or the message naming what was wrong. */
export function parseJobs(v: string | undefined): number | string {
  if (v === undefined || !/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 256)
    return `--jobs needs an integer from 1 to 256, got '${v ?? ''}'`;
  return Number(v);
}
