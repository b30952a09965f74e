/**
 * `conclave sim serve` in a real browser (issue 18): the real command on a Raft scenario, driven in
 * Debian's Chromium by playwright-core. It proves that the page steps one event, seeks forward and
 * back (the past is shown from kept snapshots), crashes a node (a re-run from the seed: the node is
 * down in the Raft table), plays and pauses, draws the report's three pictures up to the moment on
 * screen, and saves a replay that `conclave sim replay` reproduces — with no console error and no
 * request off the page's origin. Without Chromium it says so in one line and skips.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium as playwright, type Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { conclave, conclaveBin, repoRoot } from '../net/test/agent-process.js';
import { findChromium } from '../sim/tools/report/chromium.js';

const chromiumPath = findChromium();
if (!chromiumPath)
  console.log('skipped: test/sim-serve.browser.test.ts (sim serve in a browser) needs chromium on PATH');

const waitMs = 60_000;
const replayDir = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-serve-'));
/** Every server a test started (each is killed at the end). */
const children: ChildProcess[] = [];
let browser: Browser | null = null;
/** The origin of the server the first test started (the second test reuses it). */
let servedOrigin = '';

afterAll(async () => {
  await browser?.close();
  for (const child of children)
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  fs.rmSync(replayDir, { recursive: true, force: true });
});

/** Starts the command on a free port and resolves with the URL it prints. */
function serve(args: string[]): Promise<string> {
  const child = spawn(process.execPath, [conclaveBin, 'sim', 'serve', ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sim serve printed no URL:\n${out}`)), waitMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      const url = /at (http:\/\/\S+)/.exec(out);
      if (url) {
        clearTimeout(timer);
        resolve(url[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`sim serve exited ${code}:\n${out}`)));
  });
}

describe.skipIf(!chromiumPath)('conclave sim serve in Chromium', () => {
  it('steps, seeks back and forth, crashes a node, plays, draws the report pictures and saves a replay that reproduces', async () => {
    const scenario = 'scenarios/raft/leader-isolated-healed.txt';
    const url = await serve([
      scenario,
      '--seed',
      '3',
      '--port',
      '0',
      '--paused',
      '--speed',
      '1',
      '--replay-dir',
      replayDir,
    ]);
    const origin = new URL(url).origin;
    servedOrigin = origin;
    browser = await playwright.launch({ executablePath: chromiumPath!, args: ['--no-sandbox', '--disable-gpu'] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.setDefaultTimeout(waitMs);
    const problems: string[] = [];
    const foreign: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`exception: ${e.message}`));
    page.on('request', (r) => {
      if (new URL(r.url()).origin !== origin && !r.url().startsWith('data:')) foreign.push(r.url());
    });
    await page.goto(origin);
    const time = page.getByTestId('sim-time');
    await time.filter({ hasText: /^0\.000 s$/ }).waitFor();
    const status = page.locator('.sim-status');

    // One event.
    await page.getByRole('button', { name: 'Step one event' }).click();
    await status.filter({ hasText: '· 1 events ·' }).waitFor();
    // Forward to 2 s (+1 s twice), where the scenario has elected a leader.
    await page.getByRole('button', { name: '+1 s' }).click();
    await time.filter({ hasText: /^1\.\d{3} s$/ }).waitFor();
    await page.getByRole('button', { name: '+1 s' }).click();
    await time.filter({ hasText: /^2\.\d{3} s$/ }).waitFor();
    await page.locator('[data-server] .role-leader').first().waitFor();

    // Crash n2 at this moment: a re-run from the seed with the fault as a timeline line.
    await page.getByLabel('Node').selectOption('n2');
    await page.getByRole('button', { name: 'Crash it' }).click();
    await page.getByTestId('sim-message').filter({ hasText: 'crash n2 at' }).waitFor();
    await page.locator('[data-server="n2"] td').first().filter({ hasText: 'down' }).waitFor();

    // Play (at ×1) for a while, pause.
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await time.filter({ hasText: /^[3-9]\.\d{3} s$/ }).waitFor();
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await page.getByRole('button', { name: 'Play', exact: true }).waitFor();

    // Back one second: the past, from a kept snapshot.
    await page.getByRole('button', { name: '−1 s' }).click();
    await status.filter({ hasText: 'viewing the past' }).waitFor();

    // The report's pictures at this moment: three SVGs that loaded.
    const loaded = async () =>
      page.evaluate(
        `[...document.querySelectorAll('.picture img')].filter((i) => i.complete && i.naturalWidth > 0).length`,
      );
    for (const deadline = Date.now() + waitMs; (await loaded()) !== 3;) {
      if (Date.now() > deadline) throw new Error('the report pictures did not load');
      await new Promise((r) => setTimeout(r, 250));
    }

    // Save: the replay file reproduces the watched run, the typed crash included.
    await page.getByRole('button', { name: 'Save a replay' }).click();
    const saved = await page.getByTestId('sim-message').filter({ hasText: 'saved ' }).textContent();
    const file = /saved (\S+)/.exec(saved ?? '')![1]!;
    expect(fs.readFileSync(path.resolve(repoRoot, file), 'utf8')).toContain('crash n2');
    const replayed = await conclave(['sim', 'replay', path.resolve(repoRoot, file)]);
    expect(replayed.code, replayed.stdout + replayed.stderr).toBe(0);

    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
  });

  it('draws the first pictures without simulating the whole run, and maps the network coordinates', async () => {
    // The default scenario (agents gossiping with SWIM, so every node has a Vivaldi coordinate), paused
    // at 0 s: the pictures of the first moment come from a recording that went only as far as they
    // asked (the server says how far: recordedMs), not from the whole 60 s run simulated first.
    const url = await serve(['scenarios/default.txt', '--port', '0', '--paused', '--replay-dir', replayDir]);
    const origin = new URL(url).origin;
    servedOrigin = origin;
    browser ??= await playwright.launch({ executablePath: chromiumPath!, args: ['--no-sandbox', '--disable-gpu'] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.setDefaultTimeout(waitMs);
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
    });
    await page.goto(origin);
    await page
      .getByTestId('sim-time')
      .filter({ hasText: /^0\.000 s$/ })
      .waitFor();
    for (const deadline = Date.now() + waitMs; ;) {
      const n = await page.evaluate(
        `[...document.querySelectorAll('.picture img')].filter((i) => i.complete && i.naturalWidth > 0).length`,
      );
      if (n === 3) break;
      if (Date.now() > deadline) throw new Error('the first pictures did not load');
      await new Promise((r) => setTimeout(r, 250));
    }
    const state = (await (await fetch(`${origin}/sim/state`)).json()) as { recordedMs: number | null; endMs: number };
    expect(state.recordedMs).not.toBeNull();
    expect(state.recordedMs!).toBeLessThan(state.endMs / 2);
    // Seek on: a coordinate map of the five nodes, with round trips from the observer.
    await page.getByRole('button', { name: '+1 s' }).click();
    await page
      .getByTestId('sim-time')
      .filter({ hasText: /^1\.\d{3} s$/ })
      .waitFor();
    await page.getByRole('button', { name: '+1 s' }).click();
    await page
      .getByTestId('sim-time')
      .filter({ hasText: /^2\.\d{3} s$/ })
      .waitFor();
    await page.getByRole('heading', { name: 'Network coordinates' }).waitFor();
    await expect.poll(() => page.locator('.coords svg circle').count(), { timeout: waitMs }).toBe(5);
    await page.getByText(/Estimated round trip from n\d \(Vivaldi\)/).waitFor();
    expect(await page.locator('.coords td').filter({ hasText: / ms$/ }).count()).toBeGreaterThan(4);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('refuses a change without its header, and bad usage with exit 2', async () => {
    expect(servedOrigin).not.toBe('');
    const refused = await fetch(`${servedOrigin}/sim/play`, { method: 'POST' });
    expect(refused.status).toBe(403);
    expect(
      (await fetch(`${servedOrigin}/sim/nope`, { method: 'POST', headers: { 'X-Conclave-Sim': '1' } })).status,
    ).toBe(400);
    const bad = await conclave(['sim', 'serve', 'scenarios/raft/leader-isolated-healed.txt', '--sped', '3']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown flag '--sped' \(did you mean '--speed'\?\)/);
  });
});
