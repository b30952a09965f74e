/**
 * The web UI's datacenter picker against two real datacenters (issues 17, 18): one server per DC
 * (127.0.23.1 in dc1, 127.0.23.11 in dc2, joined over the WAN) and a dc1 client agent (127.0.23.4)
 * whose UI is opened in Debian's Chromium. It proves: the picker appears once the agent knows two DCs
 * and shows the agent's own DC; choosing dc2 shows dc2's services, nodes and keys (requests carry
 * `?dc=dc2`) and not dc1's; the choice survives a reload (it is in the URL); the cluster insides then
 * show dc2's servers; choosing dc1 again shows dc1's. Before, the picker was never rendered.
 * Every wait is on a condition (no fixed sleeps). Without Chromium the file says so in one line and skips.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium as playwright, type Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { startAgent, stopAll, until, type AgentHandle } from '../net/test/agent-process.js';
import { findChromium } from '../sim/tools/report/chromium.js';

const chromiumPath = findChromium();
if (!chromiumPath)
  console.log('skipped: test/ui-multidc.browser.test.ts (the datacenter picker) needs chromium on PATH');

const a1 = '127.0.23.1';
const b1 = '127.0.23.11';
const ac = '127.0.23.4';
const waitMs = 45_000;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-ui-multidc-'));
const agents: AgentHandle[] = [];
let browser: Browser | undefined;

afterAll(async () => {
  await browser?.close();
  await stopAll(agents);
  fs.rmSync(root, { recursive: true, force: true });
});

async function http(ip: string, method: string, pathAndQuery: string, body?: string) {
  try {
    const r = await fetch(`http://${ip}:8500${pathAndQuery}`, {
      method,
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(20_000),
    });
    return { status: r.status, text: await r.text() };
  } catch {
    return { status: 0, text: '' };
  }
}

function start(name: string, ip: string, dc: string, extra: string[]): void {
  const args = ['-node', name, '-bind', ip, '-client', ip, '-datacenter', dc, '-data-dir', path.join(root, name)];
  agents.push(startAgent([...args, '-retry-interval', '1s', '-dns-port', '-1', '-ui', ...extra]));
}

describe.skipIf(!chromiumPath)('the datacenter picker against two real datacenters', () => {
  it('shows the own DC, then dc2’s services, nodes and keys once dc2 is picked, and dc1’s again', async () => {
    start('a1', a1, 'dc1', ['-server', '-bootstrap-expect', '1']);
    start('b1', b1, 'dc2', ['-server', '-bootstrap-expect', '1', '-retry-join-wan', a1]);
    start('ac', ac, 'dc1', ['-retry-join', a1]);
    for (const [ip, key] of [
      [a1, 'only-dc1'],
      [b1, 'only-dc2'],
    ] as const)
      await until(async () => (await http(ip, 'PUT', `/v1/kv/${key}`, 'x')).text === 'true', 60_000, `${ip} writes`);
    expect((await http(b1, 'PUT', '/v1/agent/service/register', '{"Name":"billing","Port":9000}')).status).toBe(200);
    await until(
      async () => (await http(ac, 'GET', '/v1/catalog/datacenters')).text === '["dc1","dc2"]',
      60_000,
      'the dc1 client knows both DCs',
    );
    await until(
      async () => (await http(ac, 'GET', '/v1/catalog/services?dc=dc2')).text.includes('billing'),
      waitMs,
      'dc2’s billing service reachable from dc1',
    );

    browser = await playwright.launch({
      executablePath: chromiumPath!,
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const dcRequests: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('dc=')) dcRequests.push(r.url());
    });
    await page.goto(`http://${ac}:8500/ui/#/services`);
    const picker = page.getByLabel('Datacenter');
    await picker.waitFor({ state: 'visible', timeout: waitMs });
    expect(await picker.inputValue()).toBe('dc1');
    const main = page.locator('main');
    await main.getByRole('link', { name: 'consul' }).waitFor({ timeout: waitMs });
    expect(await main.getByRole('link', { name: 'billing' }).count()).toBe(0);

    await picker.selectOption('dc2');
    await main.getByRole('link', { name: 'billing' }).waitFor({ timeout: waitMs });
    expect(dcRequests.some((u) => u.includes('/v1/catalog/services') && u.includes('dc=dc2'))).toBe(true);
    await page.getByRole('link', { name: 'Nodes' }).click();
    await main.getByText('b1', { exact: true }).waitFor({ timeout: waitMs });
    expect(await main.getByText('a1', { exact: true }).count()).toBe(0);
    await page.getByRole('link', { name: 'Key/value' }).click();
    await main.getByText('only-dc2').first().waitFor({ timeout: waitMs });
    expect(await main.getByText('only-dc1').count()).toBe(0);

    // The choice is in the page's URL, so a reload keeps it (and a shared link carries it).
    expect(new URL(page.url()).searchParams.get('dc')).toBe('dc2');
    await page.reload();
    await picker.waitFor({ state: 'visible', timeout: waitMs });
    expect(await picker.inputValue()).toBe('dc2');
    await main.getByText('only-dc2').first().waitFor({ timeout: waitMs });
    expect(await main.getByText('only-dc1').count()).toBe(0);
    // The cluster's insides follow the picked DC: dc2's servers as dc2's leader sees them.
    await page.getByRole('link', { name: 'Cluster insides' }).click();
    await main.getByText('Datacenter dc2: each server as its leader b1 sees it').waitFor({ timeout: waitMs });
    await main.locator('[data-server="b1"] .role-leader').waitFor({ timeout: waitMs });
    expect(await main.locator('[data-server="a1"]').count()).toBe(0);
    expect(dcRequests.some((u) => u.includes('/v1/agent/debug/insides') && u.includes('dc=dc2'))).toBe(true);
    await page.getByRole('link', { name: 'Key/value' }).click();

    await picker.selectOption('dc1');
    await main.getByText('only-dc1').first().waitFor({ timeout: waitMs });
    expect(await main.getByText('only-dc2').count()).toBe(0);
  }, 240_000);
});
