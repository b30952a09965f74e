/**
 * Checks run for real: exit codes map to statuses, output is cut to 4 KiB, a timeout kills the whole
 * process group (a grandchild `sleep` does not survive), HTTP 2xx/429/500 and TCP open/closed.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCheck } from './run.js';

const sh = (script: string) => ({ type: 'script' as const, args: ['/bin/sh', '-c', script] });

describe('script checks', () => {
  it('maps exit 0/1/2 to passing/warning/critical and keeps stdout+stderr', async () => {
    expect(await runCheck(sh('echo ok; exit 0'), 5000)).toEqual({ status: 'passing', output: 'ok\n' });
    expect(await runCheck(sh('echo slow >&2; exit 1'), 5000)).toEqual({ status: 'warning', output: 'slow\n' });
    expect((await runCheck(sh('exit 2'), 5000)).status).toBe('critical');
    expect((await runCheck({ type: 'script', args: ['/nonexistent/binary'] }, 5000)).status).toBe('critical');
  });

  it('cuts output to 4 KiB', async () => {
    const result = await runCheck(sh('head -c 100000 /dev/zero | tr "\\0" x'), 5000);
    expect(result.status).toBe('passing');
    expect(Buffer.byteLength(result.output)).toBe(4096);
  });

  it('kills the process group on timeout', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-check-'));
    const marker = path.join(dir, 'survived');
    const started = Date.now();
    const result = await runCheck(sh(`(sleep 1; touch ${marker}) & sleep 30`), 200);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(result.status).toBe('critical');
    expect(result.output).toMatch(/Timed out/);
    await new Promise((r) => setTimeout(r, 1300));
    expect(fs.existsSync(marker)).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('http and tcp checks', () => {
  it('2xx passing, 429 warning, 500 critical, refused critical', async () => {
    const server = http.createServer((req, res) => {
      res.statusCode = req.url === '/ok' ? 200 : req.url === '/busy' ? 429 : 500;
      res.end('body');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const check = (p: string) =>
      runCheck({ type: 'http', url: `http://127.0.0.1:${port}${p}`, method: 'GET', headers: {}, body: '' }, 5000);
    try {
      expect((await check('/ok')).status).toBe('passing');
      expect((await check('/busy')).status).toBe('warning');
      expect((await check('/err')).status).toBe('critical');
    } finally {
      server.close();
    }
    expect(
      (await runCheck({ type: 'http', url: 'http://127.0.0.1:1/', method: 'GET', headers: {}, body: '' }, 2000)).status,
    ).toBe('critical');
  });

  it('tcp connect passing, refused critical', async () => {
    const server = net.createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    try {
      expect((await runCheck({ type: 'tcp', address: `127.0.0.1:${port}` }, 2000)).status).toBe('passing');
    } finally {
      server.close();
    }
    expect((await runCheck({ type: 'tcp', address: '127.0.0.1:1' }, 2000)).status).toBe('critical');
  });
});
