/**
 * The web UI in a real browser (issue 18): Debian's Chromium, driven by playwright-core, against real
 * agents started with `-ui` — three servers on loopback (127.0.18.1-3) and one ACL-enforcing dev agent
 * (127.0.18.9). It proves, as a user would see it:
 *  - `/` redirects to /ui/, every view opens by keyboard-reachable links, and the skip link works;
 *  - a key is created, edited and deleted; a save after the key changed underneath is refused as a
 *    check-and-set conflict (and the editor said so before the save);
 *  - a service's check going critical and back shows live (blocking queries, no reload);
 *  - the cluster view of a follower shows autopilot's health of every server (the leader's view);
 *  - kill -9 of the leader: the cluster view of a survivor names a new leader and the old one unhealthy, the page served by the
 *    killed agent shows the connection banner, and the banner goes when that agent is back;
 *  - with ACLs on (default deny), nothing is shown without a token, and the typed token (kept in
 *    localStorage across a reload) shows the data;
 *  - no page logged a console error or warning, and no request left the agent's origin.
 * Every wait is on a condition in the page or the cluster (no fixed sleeps), with generous bounds for
 * a loaded 2-core machine. Without Chromium the file says so in one line and skips.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium as playwright, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, stopAll, until, type AgentHandle } from '../net/test/agent-process.js';
import { findChromium } from '../sim/tools/report/chromium.js';
import { loopbackServerArgs } from './loopback-servers.js';

const chromiumPath = findChromium();
if (!chromiumPath)
  console.log(
    'skipped: test/ui.browser.test.ts (the web UI in a browser) needs chromium on PATH (apt-get install chromium)',
  );

const ips = ['127.0.18.1', '127.0.18.2', '127.0.18.3'];
const aclIp = '127.0.18.9';
const masterToken = 'ui-test-master-token';
/** Bound of every wait in the page (a loaded machine is slow; a wait ends as soon as its condition holds). */
const waitMs = 45_000;

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-ui-'));
const agents: AgentHandle[] = [];
const servers: AgentHandle[] = [];
let browser: Browser | null = null;
const problems: string[] = [];
const foreign: string[] = [];
/** Pages whose agent is killed on purpose: their failed requests are expected while it is down. */
const outage = new Set<Page>();

async function http(ip: string, method: string, pathAndQuery: string, body?: string, token?: string) {
  const r = await fetch(`http://${ip}:8500${pathAndQuery}`, {
    method,
    ...(body !== undefined ? { body } : {}),
    headers: token ? { 'X-Consul-Token': token } : {},
    signal: AbortSignal.timeout(10_000),
  });
  return { status: r.status, text: await r.text() };
}

async function leaderIp(ip: string): Promise<string | null> {
  const r = await http(ip, 'GET', '/v1/status/leader');
  const leader = JSON.parse(r.text) as string;
  return leader ? leader.split(':')[0]! : null;
}

/** A page on the agent at `ip` that records console problems and every request leaving that origin. */
async function openPage(context: BrowserContext, ip: string, hash: string): Promise<Page> {
  const origin = `http://${ip}:8500`;
  const page = await context.newPage();
  page.setDefaultTimeout(waitMs);
  page.on('console', (m) => {
    if (m.type() !== 'error' && m.type() !== 'warning') return;
    const at = m.location().url;
    if (
      outage.has(page) &&
      /ERR_CONNECTION_(REFUSED|RESET|CLOSED)|ERR_SOCKET_NOT_CONNECTED|ERR_EMPTY_RESPONSE|status of 50\d/.test(m.text())
    )
      return;
    // Chromium notes every 4xx answer to a fetch. Consul's API answers 404 for an absent key or an
    // empty folder and 403 for what the token may not read: the UI shows those, they are no error.
    // A 4xx for anything else (the UI's own files) still counts.
    if (/status of 40[34]/.test(m.text()) && at.startsWith(`${origin}/v1/`)) return;
    // Autopilot answers its health with 429 while a server is unhealthy (Consul's rule): data, no error.
    if (/status of 429/.test(m.text()) && at.startsWith(`${origin}/v1/operator/autopilot/health`)) return;
    problems.push(`${origin} console.${m.type()}: ${m.text()} ${at}`);
  });
  page.on('pageerror', (e) => problems.push(`${origin} exception: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith('data:') && new URL(u).origin !== origin) foreign.push(u);
  });
  await page.goto(`${origin}/${hash}`);
  return page;
}

describe.skipIf(!chromiumPath)('the web UI in Chromium (real agents)', () => {
  let context: BrowserContext;
  let leader: string;

  beforeAll(async () => {
    for (const i of ips.keys()) {
      const a = startAgent([...loopbackServerArgs(ips, i, path.join(root, `s${i}`)), '-ui']);
      servers.push(a);
      agents.push(a);
    }
    fs.writeFileSync(
      path.join(root, 'acl.json'),
      JSON.stringify({ acl_datacenter: 'dc1', acl_master_token: masterToken, acl_default_policy: 'deny' }),
    );
    agents.push(
      startAgent([
        '-dev',
        '-ui',
        '-node',
        'acl-dev',
        '-bind',
        aclIp,
        '-client',
        aclIp,
        '-dns-port',
        '-1',
        '-config-file',
        path.join(root, 'acl.json'),
      ]),
    );
    browser = await playwright.launch({
      executablePath: chromiumPath!,
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    leader = await until(
      async () => {
        const l = await leaderIp(ips[0]!);
        return l && (await http(l, 'PUT', '/v1/kv/ready', '1')).text === 'true' ? l : null;
      },
      60_000,
      'a leader that accepts writes',
    );
  });

  afterAll(async () => {
    await browser?.close();
    await stopAll(agents);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('redirects / to /ui/, opens every view from the navigation, and the skip link reaches the content', async () => {
    const page = await openPage(context, ips[0]!, '');
    expect(new URL(page.url()).pathname).toBe('/ui/');
    await page.getByRole('heading', { level: 1, name: 'Services' }).waitFor();
    // Keyboard: the first Tab reaches the skip link, Enter moves focus into the content.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement?.id')).toBe('main');
    const nav = page.getByRole('navigation', { name: 'Views' });
    for (const [link, heading] of [
      ['Nodes', 'Nodes'],
      ['Key/value', 'Key/value'],
      ['Sessions & locks', 'Sessions and locks'],
      ['Cluster insides', 'Cluster insides'],
      ['ACL token', 'ACL token'],
      ['Services', 'Services'],
    ] as const) {
      await nav.getByRole('link', { name: link }).click();
      await page.getByRole('heading', { level: 1, name: heading }).waitFor();
      expect(await nav.getByRole('link', { name: link }).getAttribute('aria-current')).toBe('page');
    }
    // Data, not just headings: the three servers are nodes, `consul` is a service.
    await page.getByRole('link', { name: 'consul', exact: true }).waitFor();
    await nav.getByRole('link', { name: 'Nodes' }).click();
    for (const name of ['s1', 's2', 's3']) await page.getByRole('link', { name, exact: true }).waitFor();
    // A link followed by keyboard moves focus to the new view's heading.
    await nav.getByRole('link', { name: 'Key/value' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Key/value' }).waitFor();
    expect(await page.evaluate('document.activeElement?.id')).toBe('page-title');
    await page.close();
  });

  it('creates, edits and deletes a key; a save after the key changed underneath is a CAS conflict', async () => {
    const ip = ips[1]!;
    const page = await openPage(context, ip, 'ui/#/kv/');
    await page.getByRole('heading', { level: 1, name: 'Key/value' }).waitFor();
    await page.getByLabel('Key name', { exact: true }).fill('ui-test/greeting');
    await page.getByLabel('Value', { exact: true }).fill('{"hello":"world"}');
    await page.getByLabel('Flags', { exact: true }).fill('7');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { level: 1, name: 'Key ui-test/greeting' }).waitFor();
    await page.getByTestId('value').filter({ hasText: '{"hello":"world"}' }).waitFor();
    expect(await page.getByTestId('flags').textContent()).toBe('7');
    await page.getByLabel('JSON').check();
    await page.getByTestId('value').filter({ hasText: '"hello": "world"' }).waitFor();
    await page.getByLabel('base64').check();
    await page
      .getByTestId('value')
      .filter({ hasText: btoa('{"hello":"world"}') })
      .waitFor();
    await page.getByLabel('raw text').check();

    // Edit and save.
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('textbox', { name: 'Value' }).fill('second');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved ui-test/greeting' }).waitFor();
    await page.getByTestId('value').filter({ hasText: 'second' }).waitFor();
    expect((await http(ip, 'GET', '/v1/kv/ui-test/greeting?raw')).text).toBe('second');

    // Another writer changes the key while this editor is open: the page says so, and Save is refused.
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('textbox', { name: 'Value' }).fill('mine');
    expect((await http(ips[2]!, 'PUT', '/v1/kv/ui-test/greeting', 'theirs')).text).toBe('true');
    await page.getByText('This key changed since you started editing').waitFor();
    await page.getByTestId('value').filter({ hasText: 'theirs' }).waitFor();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('alert').filter({ hasText: 'Not saved: conflict' }).waitFor();
    expect((await http(ip, 'GET', '/v1/kv/ui-test/greeting?raw')).text).toBe('theirs');
    await page.getByRole('button', { name: 'Cancel' }).click();

    // Delete (two steps), back in the folder, and gone from the store.
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'Confirm delete' }).click();
    await page.getByRole('heading', { level: 1, name: 'Key/value' }).waitFor();
    await page.getByRole('list', { name: 'Keys under ui-test/' }).getByText('No keys here.').waitFor();
    expect((await http(ip, 'GET', '/v1/kv/ui-test/greeting')).status).toBe(404);
    await page.close();
  });

  it('shows a service going critical and back live', async () => {
    const ip = ips[0]!;
    const reg = await http(
      ip,
      'PUT',
      '/v1/agent/service/register',
      JSON.stringify({ Name: 'web', ID: 'web1', Port: 8080, Tags: ['v1'], Check: { TTL: '10m' } }),
    );
    expect(reg.status).toBe(200);
    expect((await http(ip, 'PUT', '/v1/agent/check/pass/service:web1')).status).toBe(200);
    const page = await openPage(context, ip, 'ui/#/services/web');
    const instance = page.locator('[data-instance="web1"]');
    await instance.locator('h2').filter({ hasText: 'passing' }).waitFor();
    expect((await http(ip, 'PUT', '/v1/agent/check/fail/service:web1?note=disk%20full')).status).toBe(200);
    await instance.locator('h2').filter({ hasText: 'critical' }).waitFor();
    await instance.getByText('disk full').waitFor();
    expect((await http(ip, 'PUT', '/v1/agent/check/pass/service:web1')).status).toBe(200);
    await instance.locator('h2').filter({ hasText: 'passing' }).waitFor();
    // The list view counts it too (icon and word, not colour alone).
    await page.getByRole('link', { name: 'All services' }).click();
    await page.locator('[data-service="web"]').getByText('1 passing').waitFor();
    await page.close();
  });

  it('kill -9 of the leader: a survivor shows the new leader; the killed agent’s page shows the banner until it is back', async () => {
    const follower = ips.find((ip) => ip !== leader)!;
    const leaderName = `s${ips.indexOf(leader) + 1}`;
    const cluster = await openPage(context, follower, 'ui/#/cluster');
    await cluster.getByTestId('leader').filter({ hasText: leaderName }).waitFor();
    await cluster.locator(`[data-member="${leaderName}"]`).getByText('alive').waitFor();
    // Autopilot (the leader's view, on a follower's page): every server healthy, tolerance 1.
    for (const name of ['s1', 's2', 's3'])
      await cluster.locator(`[data-autopilot="${name}"] td.health-passing`).getByText('healthy').waitFor();
    await cluster.getByTestId('autopilot-summary').filter({ hasText: 'failure tolerance 1' }).waitFor();
    const onLeader = await openPage(context, leader, 'ui/#/services');
    await onLeader.getByRole('heading', { level: 1, name: 'Services' }).waitFor();
    await onLeader.getByRole('link', { name: 'consul', exact: true }).waitFor();
    outage.add(onLeader);

    const index = ips.indexOf(leader);
    const t0 = Date.now();
    const lap = (what: string) => console.log(`ui kill -9: ${what} after ${Date.now() - t0} ms`);
    servers[index]!.child.kill('SIGKILL');
    await servers[index]!.exited;
    // The survivor's page: another server leads, the old one is failed in SWIM, the change is in the log.
    await cluster.getByTestId('leader').filter({ hasNotText: leaderName }).waitFor();
    lap('new leader shown');
    await cluster.locator(`[data-member="${leaderName}"]`).getByText('failed').waitFor();
    lap('old leader failed in SWIM');
    // The new leader's autopilot: the killed server is unhealthy, and no more may fail.
    await cluster.locator(`[data-autopilot="${leaderName}"] td.health-critical`).getByText('unhealthy').waitFor();
    await cluster.getByTestId('autopilot-summary').filter({ hasText: 'failure tolerance 0' }).waitFor();
    lap('old leader unhealthy in autopilot');
    const newLeader = await cluster.getByTestId('leader').textContent();
    await cluster
      .locator('.event-leader')
      .filter({ hasText: `${newLeader} leads at term` })
      .first()
      .waitFor();
    // The dead agent's page: the banner, with a retry countdown.
    await onLeader.getByRole('alert').filter({ hasText: 'Live updates interrupted' }).waitFor();
    lap('banner');

    // Back with the same data dir: the banner goes (backoff ≤ 8 s) and the page is live again.
    const restarted = startAgent([...loopbackServerArgs(ips, index, path.join(root, `s${index}`)), '-ui']);
    servers[index] = restarted;
    agents.push(restarted);
    await onLeader.getByRole('alert').filter({ hasText: 'Live updates interrupted' }).waitFor({ state: 'detached' });
    lap('banner gone');
    await onLeader.getByRole('link', { name: 'consul', exact: true }).waitFor();
    await cluster.close();
    await onLeader.close();
  });

  it('with ACLs on, shows nothing without a token and the data with the token typed (kept across a reload)', async () => {
    expect((await http(aclIp, 'PUT', '/v1/kv/secret/plan', 'world domination', masterToken)).text).toBe('true');
    // Without a token: the key list is empty (the agent filters it), the cluster view is refused (403).
    const page = await openPage(context, aclIp, 'ui/#/kv/secret/');
    await page.getByRole('list', { name: 'Keys under secret/' }).getByText('No keys here.').waitFor();
    expect(await page.getByRole('link', { name: 'plan' }).count()).toBe(0);
    await page.goto(`http://${aclIp}:8500/ui/#/cluster`);
    await page.getByText('This token cannot read operator data').waitFor();
    expect(await page.getByRole('table').count()).toBe(0);
    await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'ACL token' }).click();
    await page.getByLabel('Token', { exact: true }).fill(masterToken);
    await page.getByRole('button', { name: 'Use this token' }).click();
    await page.getByText('type management').waitFor();
    await page.goto(`http://${aclIp}:8500/ui/#/kv/secret/`);
    await page.getByRole('link', { name: 'plan' }).waitFor();
    expect(await page.evaluate("localStorage.getItem('conclave.token')")).toBe(masterToken);
    // Forgetting it hides the data again.
    await page.goto(`http://${aclIp}:8500/ui/#/acl`);
    await page.getByRole('button', { name: 'Forget the token' }).click();
    await page.goto(`http://${aclIp}:8500/ui/#/kv/secret/`);
    await page.getByRole('list', { name: 'Keys under secret/' }).getByText('No keys here.').waitFor();
    await page.close();
  });

  it('logged no console error or warning, and sent no request off the agent’s origin', () => {
    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
  });
});
