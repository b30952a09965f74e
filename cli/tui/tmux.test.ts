/**
 * The real `conclave tui` in a real terminal (tmux, on a private server): it keeps running at ×1 and
 * ×2 — the header's clock moves between two looks — after a resize, after every fault key and with
 * the ? overlay and the d pane; at 80×24 the key line stays one row, the run-until keys (f, l),
 * `.` and `v` answer, the d pane scrolls (PgDn, End, Home) and the events pane scrolls back (PgUp, End); and q, Ctrl-C and SIGTERM each end it with the terminal given back (canonical mode and echo on, as
 * `stty` sees it afterwards). Issue 16 §1: at ×1 it used to stop at t=0.187s at 100% CPU, deaf to
 * every key and to SIGTERM.
 *
 * Each case reads the screen with `tmux capture-pane`; the clock must move by a fraction of the wall
 * time that passed, which a frozen TUI cannot fake. Skipped where tmux is not installed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { helpTextShort } from './components.js';

const root = join(new URL('.', import.meta.url).pathname, '..', '..');
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const socket = `conclave-test-${process.pid}`;

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
}

const screen = (session: string): string => tmux('capture-pane', '-p', '-t', session);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls the screen until `test` holds (or `timeoutMs` passes); returns the last screen. */
async function waitFor(session: string, test: (text: string) => boolean, timeoutMs = 20_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  let text = screen(session);
  while (!test(text) && Date.now() < until) {
    await sleep(100);
    text = screen(session);
  }
  return text;
}

/** The simulated time in the header (`t=1.234s`), or null before the first frame. */
const clockOf = (text: string): number | null => {
  const m = /t=(\d+\.\d{3})s/.exec(text);
  return m ? Number(m[1]) : null;
};

/** Starts the TUI in a new tmux session; the shell prints its exit code and the tty mode afterwards. */
function start(session: string, args: string, width = 100, height = 30): void {
  const after = `echo EXITED $?; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon\\|-\\?echo' | tr '\\n' ' '; echo; sleep 600`;
  tmux(
    'new-session',
    '-d',
    '-s',
    session,
    '-x',
    String(width),
    '-y',
    String(height),
    // `env -u CI`: ink draws only the last frame when it sees CI set (as .ci/run sets it); a person's
    // terminal has no CI variable, and the test must see the live frames that person would.
    `cd ${root} && env -u CI node bin/conclave.js tui ${args}; ${after}`,
  );
}

/** The clock moves: two looks `gapMs` apart see it advance. */
async function expectRunning(session: string, gapMs = 600): Promise<number> {
  const first = clockOf(await waitFor(session, (t) => (clockOf(t) ?? 0) > 0));
  expect(first, screen(session)).not.toBeNull();
  await sleep(gapMs);
  const second = clockOf(await waitFor(session, (t) => (clockOf(t) ?? 0) > first!, 5000));
  expect(second, `the clock stayed at ${first}s:\n${screen(session)}`).toBeGreaterThan(first!);
  return second!;
}

async function expectExit(session: string, code: number): Promise<void> {
  const text = await waitFor(session, (t) => /EXITED \d+/.test(t) && /icanon/.test(t), 10_000);
  expect(text).toContain(`EXITED ${code}`);
  expect(text).toMatch(/(^|\s)icanon echo/m); // canonical mode and echo are back on
}

afterAll(() => {
  if (hasTmux) spawnSync('tmux', ['-L', socket, 'kill-server']);
});

describe.skipIf(!hasTmux)('conclave tui in tmux', () => {
  it('runs at ×1 through a resize and every fault key, and q quits', async () => {
    start('one', '--speed 1');
    await expectRunning('one');
    tmux('resize-window', '-t', 'one', '-x', '80', '-y', '24');
    await expectRunning('one');
    expect(screen('one')).toContain('conclave tui');
    tmux('send-keys', '-t', 'one', 'j');
    for (const [key, said] of [
      ['c', 'crash n2'],
      ['p', 'partition n2 |'],
      ['h', 'heal'],
      ['r', 'restart n2'],
    ] as const) {
      tmux('send-keys', '-t', 'one', key);
      await waitFor('one', (t) => t.includes(`fault: ${said}`), 10_000);
      expect(screen('one')).toContain(`fault: ${said}`);
      await expectRunning('one', 300);
    }
    tmux('send-keys', '-t', 'one', '?');
    expect(await waitFor('one', (t) => t.includes('help (? or esc closes)'), 5000)).toContain('help (? or esc');
    tmux('send-keys', '-t', 'one', '?', 'd');
    expect(await waitFor('one', (t) => t.includes('detail n2'), 5000)).toContain('detail n2');
    await expectRunning('one', 300);
    tmux('send-keys', '-t', 'one', 'q');
    await expectExit('one', 0);
  }, 90_000);

  it('at 80×24: the key line is one row; f, l, . and v tell the story; the default pace is ×1', async () => {
    start('four', '--paused', 80, 24);
    const first = await waitFor('four', (t) => t.includes('⏸ paused'));
    expect(first).toContain('×1 ·'); // the default pace: real time
    const lastLine = (t: string): string => t.trimEnd().split('\n').at(-1)!;
    expect(lastLine(first)).toBe(helpTextShort);
    expect(first.split('\n')[0]).toContain('conclave tui'); // the header is on the first row
    tmux('send-keys', '-t', 'four', 'f');
    const fault = await waitFor('four', (t) => t.includes('stopped at the next fault'), 30_000);
    expect(fault).toMatch(/stopped at the next fault: \d+\.\d{3}s /);
    tmux('send-keys', '-t', 'four', '.');
    expect(await waitFor('four', (t) => t.includes('processed '), 5000)).toMatch(
      /processed \d+\.\d{3}s (message|timer|disk sync|connection to n\d dropped|a scheduled|a check|client)/,
    );
    tmux('send-keys', '-t', 'four', 'l');
    const leader = await waitFor(
      'four',
      (t) => /stopped at the next leader change|the run ended before/.test(t),
      60_000,
    );
    expect(leader).toMatch(/stopped at the next leader change: \S+ n\d became leader at term \d+|the run ended before/);
    tmux('send-keys', '-t', 'four', 'v');
    expect(await waitFor('four', (t) => t.includes('── violations'), 5000)).toContain('(v closes)');
    expect(lastLine(screen('four'))).toBe(helpTextShort);
    // The detail pane scrolls: its title says which lines show; PgDn moves on, End shows the last
    // line, Home the first. Every row still fits 80 columns inside the frame.
    tmux('send-keys', '-t', 'four', 'd');
    const range = (t: string): [number, number, number] | null => {
      const m = /── detail n\d+ lines (\d+)–(\d+) of (\d+), PgUp\/PgDn/.exec(t);
      return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
    };
    const top = await waitFor('four', (t) => range(t)?.[0] === 1, 5000);
    expect(range(top), top).not.toBeNull();
    for (const row of top.trimEnd().split('\n')) expect(row.length, row).toBeLessThanOrEqual(80);
    expect(top).toMatch(/^╰─+╯$/m);
    tmux('send-keys', '-t', 'four', 'NPage');
    const paged = range(await waitFor('four', (t) => (range(t)?.[0] ?? 1) > 1, 5000));
    expect(paged?.[0]).toBeGreaterThan(1);
    tmux('send-keys', '-t', 'four', 'End');
    const end = range(await waitFor('four', (t) => range(t)?.[1] === range(t)?.[2], 5000));
    expect(end?.[1]).toBe(end?.[2]);
    tmux('send-keys', '-t', 'four', 'Home');
    expect(range(await waitFor('four', (t) => range(t)?.[0] === 1, 5000))?.[0]).toBe(1);
    // The events pane scrolls back too (d closes the detail pane): PgUp names the lines, End follows again.
    tmux('send-keys', '-t', 'four', 'd');
    await waitFor('four', (t) => t.includes('── events'), 5000);
    tmux('send-keys', '-t', 'four', 'PPage');
    const back = await waitFor(
      'four',
      (t) => /── events lines \d+–\d+ of \d+, PgUp\/PgDn \(End follows\)/.test(t),
      5000,
    );
    expect(back).toMatch(/── events lines \d+–\d+ of \d+/);
    tmux('send-keys', '-t', 'four', 'End');
    expect(await waitFor('four', (t) => t.includes('── events (PgUp: older lines)'), 5000)).toContain('(PgUp: older');
    tmux('send-keys', '-t', 'four', 'q');
    await expectExit('four', 0);
  }, 120_000);

  it('runs at ×2 (and ×5 after +); Ctrl-C quits', async () => {
    start('two', '--speed 2');
    await expectRunning('two');
    tmux('send-keys', '-t', 'two', '+');
    await waitFor('two', (t) => t.includes('×5'), 5000);
    await expectRunning('two', 300);
    tmux('send-keys', '-t', 'two', 'C-c');
    await expectExit('two', 0);
  }, 60_000);

  it('SIGTERM ends it (exit 143) and gives the terminal back', async () => {
    start('three', '--speed 1');
    await expectRunning('three', 300);
    const shell = tmux('list-panes', '-t', 'three', '-F', '#{pane_pid}').trim();
    const node = execFileSync('pgrep', ['-P', shell, 'node'], { encoding: 'utf8' }).trim();
    process.kill(Number(node), 'SIGTERM');
    await expectExit('three', 143);
  }, 60_000);
});
