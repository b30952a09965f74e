/**
 * `npm run ui:screenshots [-- OUT_DIR]`: pictures of the web UI as a user sees it, at a fixed size
 * (1280×800; the cluster view 1280×1900), in Debian's Chromium (playwright-core). Starts three servers with `-ui` on loopback
 * (127.0.19.11-13), gives them something to show — services with passing, warning and critical checks,
 * a key tree, a session holding a lock — kills one server with SIGKILL so the insides show a failed
 * member and a leader change, takes one PNG per view, and stops everything it started. Default
 * OUT_DIR: reports/ui (ignored by git).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { findChromium } from '../sim/tools/report/chromium.js';
import { loopbackServerArgs } from '../test/loopback-servers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = process.argv[2] ?? join(root, 'reports', 'ui');
const ips = ['127.0.19.11', '127.0.19.12', '127.0.19.13'];
const data = mkdtempSync(join(tmpdir(), 'conclave-shots-'));
const children: ChildProcess[] = [];

async function http(ip: string, method: string, path: string, body?: string): Promise<string> {
  const r = await fetch(`http://${ip}:8500${path}`, {
    method,
    ...(body !== undefined ? { body } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  return r.text();
}

async function until<T>(what: string, fn: () => Promise<T | null>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main(): Promise<void> {
  const chromiumPath = findChromium();
  if (!chromiumPath) throw new Error('chromium is not on PATH (apt-get install chromium)');
  mkdirSync(out, { recursive: true });
  for (const i of ips.keys())
    children.push(
      spawn(
        process.execPath,
        [join(root, 'bin', 'conclave.js'), 'agent', ...loopbackServerArgs(ips, i, join(data, `s${i}`)), '-ui'],
        {
          stdio: 'ignore',
        },
      ),
    );
  const leader = await until('a leader', async () => {
    const l = JSON.parse(await http(ips[0]!, 'GET', '/v1/status/leader')) as string;
    return l && (await http(l.split(':')[0]!, 'PUT', '/v1/kv/ready', '1')) === 'true' ? l.split(':')[0]! : null;
  });
  const a = ips.find((ip) => ip !== leader)!;
  const b = ips.find((ip) => ip !== leader && ip !== a)!;
  for (const [ip, svc] of [
    [a, { Name: 'web', ID: 'web-1', Port: 8080, Tags: ['rails', 'v2'], Check: { TTL: '10m' } }],
    [b, { Name: 'web', ID: 'web-2', Port: 8080, Tags: ['rails', 'v2'], Check: { TTL: '10m' } }],
    [a, { Name: 'db', ID: 'db-1', Port: 5432, Tags: ['primary'], Check: { TTL: '10m' } }],
    [b, { Name: 'cache', ID: 'cache-1', Port: 6379, Check: { TTL: '10m' } }],
  ] as const)
    await http(ip, 'PUT', '/v1/agent/service/register', JSON.stringify(svc));
  await http(a, 'PUT', '/v1/agent/check/pass/service:web-1?note=200%20OK');
  await http(b, 'PUT', '/v1/agent/check/fail/service:web-2?note=connection%20refused');
  await http(a, 'PUT', '/v1/agent/check/pass/service:db-1');
  await http(b, 'PUT', '/v1/agent/check/warn/service:cache-1?note=memory%2091%25');
  await http(a, 'PUT', '/v1/kv/config/web/db', JSON.stringify({ url: 'postgres://db.service.consul/app', pool: 8 }));
  await http(a, 'PUT', '/v1/kv/config/web/feature-flags?flags=3', 'checkout-v2=on');
  await http(a, 'PUT', '/v1/kv/config/cache/ttl', '300');
  const session = JSON.parse(
    await http(a, 'PUT', '/v1/session/create', JSON.stringify({ Name: 'web-leader-election', TTL: '60s' })),
  ) as { ID: string };
  await http(a, 'PUT', `/v1/kv/service/web/leader?acquire=${session.ID}`, 'web-1');

  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const shoot = async (hash: string, file: string, ready: () => Promise<unknown>) => {
      await page.goto(`http://${a}:8500/ui/#/${hash}`);
      await ready();
      await page.screenshot({ path: join(out, file) });
      process.stdout.write(`ui-screenshots: ${join(out, file)}\n`);
    };
    await shoot('services', 'services.png', () => page.getByText('1 critical').waitFor());
    await shoot('services/web', 'service-web.png', () => page.getByText('connection refused').waitFor());
    await shoot('nodes', 'nodes.png', () => page.getByRole('link', { name: 's3' }).waitFor());
    await shoot('kv/config/web/db', 'kv-key.png', async () => {
      await page.getByTestId('value').waitFor();
      await page.getByLabel('JSON').check();
    });
    await shoot('sessions', 'sessions.png', () => page.getByText('web-leader-election on').waitFor());
    // The insides with every coordinate synced (every 15 s), then after kill -9 of the leader: a new
    // leader, the old one failed, the change in the log.
    await until('three coordinates', async () => {
      const list = JSON.parse(await http(a, 'GET', '/v1/coordinate/nodes')) as unknown[];
      return list.length >= 3 ? list : null;
    });
    await page.setViewportSize({ width: 1280, height: 1900 });
    await shoot('cluster', 'cluster.png', async () => {
      await page.locator('.map-node').nth(2).waitFor();
      await page.getByTestId('autopilot-summary').filter({ hasText: 'failure tolerance 1' }).waitFor();
    });
    children[ips.indexOf(leader)]!.kill('SIGKILL');
    const leaderName = `s${ips.indexOf(leader) + 1}`;
    await shoot('cluster', 'cluster-after-kill.png', async () => {
      await page.getByTestId('leader').filter({ hasNotText: leaderName }).waitFor({ timeout: 60_000 });
      await page.locator(`[data-member="${leaderName}"]`).getByText('failed').waitFor({ timeout: 60_000 });
      await page
        .getByTestId('autopilot-summary')
        .filter({ hasText: 'failure tolerance 0' })
        .waitFor({ timeout: 60_000 });
    });
  } finally {
    await browser.close();
  }
}

try {
  await main();
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(data, { recursive: true, force: true });
}
