/**
 * `conclave tui [SCENARIO] [--seed N] [--speed X] [--paused] [--no-codec]`: watch a simulated cluster.
 *
 * Without a terminal (CI, pipes, `npm start </dev/null`) it runs the scenario to the end and prints a
 * plain summary, and exits 0 whatever the run's verdict: it is a viewer, not a test.
 * Exit 2 on bad usage or a bad scenario file.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import React from 'react';
import { ScenarioError } from '../../sim/scenario.js';
import { plainSummary } from '../tui/components.js';
import { TuiSession } from '../tui/session.js';
import { didYouMean } from '../../sim/suggest.js';

const usage =
  'Usage: conclave tui [SCENARIO] [--seed N] [--speed X] [--paused] [--no-codec]\n  (SCENARIO defaults to scenarios/default.*; --speed defaults to 1, real time; max = flat out)\n';
export const replayDirDefault = '.conclave/replays';

export function defaultScenario(): string | null {
  if (!existsSync('scenarios')) return null;
  // Scenario files only: a golden transcript (default.golden) sits beside its scenario.
  const found = readdirSync('scenarios')
    .filter((f) => /^default\.[A-Za-z0-9]+$/.test(f) && !/\.(golden|json|md)$/.test(f))
    .sort();
  return found.length > 0 ? join('scenarios', found[0]!) : null;
}

export async function run(args: string[]): Promise<number> {
  let file: string | null = null;
  let seed: number | null = null;
  let speed = 1; // app.tsx's defaultSpeed: real time, slow enough to watch (app.tsx is loaded lazily)
  let paused = false;
  let codec = true;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string | undefined => (a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[++i]);
    if (a === '-h' || a === '--help') {
      process.stdout.write(usage);
      return 0;
    } else if (a === '--seed' || a.startsWith('--seed=')) {
      const v = value();
      if (v === undefined || !/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)))
        return bad(`--seed needs a non-negative integer, got '${v ?? ''}'`);
      seed = Number(v);
    } else if (a === '--speed' || a.startsWith('--speed=')) {
      const v = value();
      const x = v === 'max' ? Infinity : Number(v);
      if (!(x > 0)) return bad(`--speed needs a positive number or 'max', got '${v ?? ''}'`);
      speed = x;
    } else if (a === '--paused') paused = true;
    else if (a === '--no-codec') codec = false;
    else if (a.startsWith('-'))
      return bad(
        `unknown flag '${a}'${didYouMean(a.replace(/^-+/, '').split('=')[0]!, ['seed', 'speed', 'paused', 'no-codec', 'help'], '--')}`,
      );
    else if (file !== null) return bad(`unexpected argument '${a}'`);
    else file = a;
  }
  file ??= defaultScenario();
  if (file === null) return bad('no SCENARIO given and no scenarios/default.* here');
  let session: TuiSession;
  try {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ScenarioError(
        file,
        0,
        `cannot read the file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
    session = await TuiSession.open(file, text, seed, { codec });
  } catch (error) {
    if (error instanceof ScenarioError) {
      process.stderr.write(`conclave tui: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (!process.stdout.isTTY || !process.stdin.isTTY) {
    session.runToEnd();
    const s = session.current();
    process.stdout.write(plainSummary(s));
    process.stdout.write(
      `seed=${session.seed} trace=${session.simulation.traceHash} result=${s.verdict.status === 'fail' ? 'fail' : 'pass'}\n`,
    );
    return 0;
  }
  const { render } = await import('ink');
  const { App } = await import('../tui/app.js');
  const instance = render(
    React.createElement(App, { session, startPaused: paused, speed, replayDir: replayDirDefault }),
    { exitOnCtrlC: true },
  );
  // When the terminal goes away (window closed: SIGHUP, then EIO on every write) or the process is
  // asked to stop, leave for sure: unmounting may itself fail on a dead terminal, and a TUI that
  // outlives its terminal spins a core forever. These handlers run because the simulation never holds
  // the event loop for long (every call from the TUI has a wall-clock deadline: cli/tui/session.ts).
  // In raw mode Ctrl-C arrives as a key (ink's exitOnCtrlC); SIGINT covers `kill -INT`.
  const leave = (code: number) => (): void => {
    restoreTerminal(() => instance.unmount());
    process.exit(code);
  };
  const onSignal: [NodeJS.Signals, () => void][] = [
    ['SIGHUP', leave(129)],
    ['SIGINT', leave(130)],
    ['SIGTERM', leave(143)],
  ];
  for (const [signal, handler] of onSignal) process.on(signal, handler);
  process.stdout.on('error', leave(1));
  // A bug outside the frame loop's guard: give the terminal back before the error is printed.
  const onCrash = (error: unknown): void => {
    restoreTerminal(() => instance.unmount());
    process.stderr.write(`conclave tui: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  };
  process.on('uncaughtException', onCrash);
  await instance.waitUntilExit();
  for (const [signal, handler] of onSignal) process.off(signal, handler);
  process.off('uncaughtException', onCrash);
  return 0;
}

/** Unmounts ink (raw mode off, cursor back), and makes sure of the cursor even if that fails. */
function restoreTerminal(unmount: () => void): void {
  try {
    unmount();
  } catch {
    // the terminal is gone, or ink is in a bad state; the raw-mode reset below still applies
  }
  try {
    if (process.stdin.isTTY) process.stdin.setRawMode(false);
    process.stdout.write('\x1b[?25h'); // show the cursor
  } catch {
    // nothing left to restore
  }
}

function bad(problem: string): number {
  process.stderr.write(`conclave tui: ${problem}\n\n${usage}`);
  return 2;
}
