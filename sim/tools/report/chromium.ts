/**
 * Opens a page in headless Chromium and reports what went wrong in it: console errors and warnings,
 * uncaught exceptions, log entries of level error (failed loads, blocked requests), and network
 * requests that left the machine. Used by the report test (and `conclave sim report --check`) to prove
 * the report is self-contained and clean.
 *
 * It talks the Chrome DevTools Protocol over `--remote-debugging-pipe` (file descriptors 3 and 4,
 * NUL-terminated JSON), so it needs no WebSocket client and no npm package — only Debian's `chromium`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export interface PageCheck {
  /** Console messages of level error or warning, exceptions, error log entries. Empty when clean. */
  readonly problems: string[];
  /** URLs requested other than the page itself and data: URLs. */
  readonly requests: string[];
  /** The value of `probe` evaluated in the loaded page. */
  readonly probe: unknown;
}

/** The Chromium binary on PATH, or null (the caller decides whether that is a skip or a failure). */
export function findChromium(): string | null {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  }
  return null;
}

/** The window the page is laid out in: fixed, so a layout check sees the same page on every machine. */
export const pageViewport = { width: 1280, height: 900 } as const;

export interface PageOptions {
  readonly timeoutMs?: number;
  /** Write a PNG of the whole page here (for a person to look at; no test compares its pixels). */
  readonly screenshotPath?: string;
}

export async function checkPage(
  binary: string,
  file: string,
  probe: string,
  options: PageOptions | number = {},
): Promise<PageCheck> {
  const { timeoutMs = 30_000, screenshotPath } = typeof options === 'number' ? { timeoutMs: options } : options;
  const url = pathToFileURL(file).href;
  const child = spawn(
    binary,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--remote-debugging-pipe',
      'about:blank',
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    },
  );
  const toBrowser = child.stdio[3] as NodeJS.WritableStream;
  const fromBrowser = child.stdio[4] as NodeJS.ReadableStream;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const problems: string[] = [];
  const requests: string[] = [];
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  const waiters: { method: string; resolve: () => void }[] = [];
  let buffer = '';
  fromBrowser.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let end: number;
    while ((end = buffer.indexOf('\0')) >= 0) {
      const text = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      const msg = JSON.parse(text);
      if (msg.id !== undefined) {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`${JSON.stringify(msg.error)}`));
        else p?.resolve(msg.result);
        continue;
      }
      onEvent(msg.method, msg.params ?? {});
    }
  });
  function onEvent(method: string, params: any): void {
    if (
      method === 'Runtime.consoleAPICalled' &&
      (params.type === 'error' || params.type === 'warning' || params.type === 'assert')
    ) {
      problems.push(
        `console.${params.type}: ${(params.args ?? []).map((a: any) => a.value ?? a.description ?? '').join(' ')}`,
      );
    } else if (method === 'Runtime.exceptionThrown') {
      problems.push(`exception: ${params.exceptionDetails?.exception?.description ?? params.exceptionDetails?.text}`);
    } else if (method === 'Log.entryAdded' && (params.entry?.level === 'error' || params.entry?.level === 'warning')) {
      problems.push(
        `log ${params.entry.level} (${params.entry.source}): ${params.entry.text} ${params.entry.url ?? ''}`.trim(),
      );
    } else if (method === 'Network.requestWillBeSent') {
      const u: string = params.request?.url ?? '';
      if (u !== url && !u.startsWith('data:')) requests.push(u);
    } else if (method === 'Network.loadingFailed') {
      problems.push(`load failed: ${params.errorText}`);
    }
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.method === method) {
        waiters[i]!.resolve();
        waiters.splice(i, 1);
      }
    }
  }
  const send = (method: string, params: object = {}, sessionId?: string): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      toBrowser.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    });
  const waitFor = (method: string): Promise<void> => new Promise((resolve) => waiters.push({ method, resolve }));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  try {
    const failed = exited.then(() => {
      throw new Error(`chromium exited early: ${stderr.slice(-2000)}`);
    });
    const run = async (): Promise<unknown> => {
      const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
      const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
      await send('Runtime.enable', {}, sessionId);
      await send('Log.enable', {}, sessionId);
      await send('Network.enable', {}, sessionId);
      await send('Page.enable', {}, sessionId);
      await send(
        'Emulation.setDeviceMetricsOverride',
        { ...pageViewport, deviceScaleFactor: 1, mobile: false },
        sessionId,
      );
      const loaded = waitFor('Page.loadEventFired');
      await send('Page.navigate', { url }, sessionId);
      await loaded;
      // Let late console messages arrive before reading the page.
      await new Promise((r) => setTimeout(r, 200));
      const evaluated = await send('Runtime.evaluate', { expression: probe, returnByValue: true }, sessionId);
      if (evaluated.exceptionDetails) problems.push(`probe threw: ${evaluated.exceptionDetails.text}`);
      if (screenshotPath) {
        const { cssContentSize } = await send('Page.getLayoutMetrics', {}, sessionId);
        const clip = { x: 0, y: 0, width: cssContentSize.width, height: cssContentSize.height, scale: 1 };
        const shot = await send(
          'Page.captureScreenshot',
          { format: 'png', captureBeyondViewport: true, clip },
          sessionId,
        );
        writeFileSync(screenshotPath, Buffer.from(shot.data as string, 'base64'));
      }
      await send('Browser.close').catch(() => undefined);
      return evaluated.result?.value;
    };
    const probeValue = await Promise.race([run(), failed]);
    return { problems, requests, probe: probeValue };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  }
}
