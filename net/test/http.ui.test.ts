/**
 * The web UI's static files (net/http/ui.ts) and the insides endpoint, on a real HTTP server with a
 * stub agent behind it: content types, caching (hashed names immutable, index.html revalidated with
 * an ETag → 304), the security headers, `/` → 301 /ui/, paths outside the bundle (and `..`) → 404,
 * the API untouched, no UI without `-ui`; `/v1/agent/debug/insides` asks for operator read.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import { startHttpApi, type HttpApi } from '../http/index.js';
import { answerUi, loadUiAssets } from '../http/ui.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-ui-assets-'));
fs.writeFileSync(path.join(dir, 'index.html'), '<!DOCTYPE html><title>x</title>');
fs.writeFileSync(path.join(dir, 'app-ABCDEFGH.js'), 'console.log(1)');
fs.writeFileSync(path.join(dir, 'app-ABCDEFGH.css'), 'body{}');
fs.writeFileSync(path.join(dir, 'notes.bin'), 'not served: unknown type');
const servers: HttpApi[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A stub agent: two ACL tokens (`m` management, anonymous client) and `{ok: true}` for the rest. */
const stubCall = async (request: AgentRequest): Promise<AgentResponse> => {
  if (request.type === 'acl.resolve') {
    const token = { ID: request.id, Name: request.id, Rules: '', CreateIndex: 1, ModifyIndex: 1 };
    const Type = request.id === 'm' ? 'management' : 'client';
    return { status: 200, body: { kind: 'token', token: { ...token, Type }, defaultPolicy: 'deny' } };
  }
  return { status: 200, body: { ok: true } };
};

describe('web UI static files', () => {
  it('answers only /, /ui and /ui/…, with types, caching and security headers', () => {
    const assets = loadUiAssets(dir);
    expect([...assets.files.keys()].sort()).toEqual(['app-ABCDEFGH.css', 'app-ABCDEFGH.js', 'index.html']);
    expect(answerUi(assets, 'GET', '/v1/kv/x', {})).toBeNull();
    expect(answerUi(assets, 'GET', '/uix', {})).toBeNull();
    expect(answerUi(assets, 'GET', '/', {})).toMatchObject({ status: 301, headers: { Location: '/ui/' } });
    expect(answerUi(assets, 'GET', '/ui?x=1', {})).toMatchObject({ status: 301, headers: { Location: '/ui/' } });
    const index = answerUi(assets, 'GET', '/ui/', {})!;
    expect(index.status).toBe(200);
    expect(index.headers['Content-Type']).toBe('text/html; charset=utf-8');
    expect(index.headers['Cache-Control']).toBe('no-cache');
    expect(index.headers['X-Content-Type-Options']).toBe('nosniff');
    expect(index.headers['Content-Security-Policy']).toMatch(/default-src 'self'/);
    const js = answerUi(assets, 'GET', '/ui/app-ABCDEFGH.js', {})!;
    expect(js.headers['Content-Type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['Cache-Control']).toBe('public, max-age=31536000, immutable');
    expect(answerUi(assets, 'GET', '/ui/app-ABCDEFGH.css', {})!.headers['Content-Type']).toBe(
      'text/css; charset=utf-8',
    );
    expect(answerUi(assets, 'GET', '/ui/', { 'if-none-match': index.headers['ETag'] })!.status).toBe(304);
    expect(answerUi(assets, 'GET', '/ui/', { 'if-none-match': '"other"' })!.status).toBe(200);
    expect(answerUi(assets, 'GET', '/ui/notes.bin', {})!.status).toBe(404);
    expect(answerUi(assets, 'GET', '/ui/../package.json', {})!.status).toBe(404);
    expect(answerUi(assets, 'GET', '/ui/%2e%2e/index.html', {})!.status).toBe(404);
    expect(answerUi(assets, 'GET', '/ui/%zz', {})!.status).toBe(400);
    expect(answerUi(assets, 'POST', '/ui/', {})!.status).toBe(405);
  });

  it('refuses a directory without index.html, naming it', () => {
    expect(() => loadUiAssets(os.tmpdir() + '/conclave-no-such-ui')).toThrow(
      /conclave-no-such-ui\/index\.html not found/,
    );
  });

  it('serves them on the HTTP port beside the API; without -ui, / is the API root and /ui/ is 404', async () => {
    const withUi = await startHttpApi({
      host: '127.0.0.1',
      port: 0,
      call: stubCall,
      datacenter: 'dc1',
      ui: loadUiAssets(dir),
    });
    const without = await startHttpApi({ host: '127.0.0.1', port: 0, call: stubCall, datacenter: 'dc1' });
    servers.push(withUi, without);
    const root = await fetch(`http://${withUi.address}/`, { redirect: 'manual' });
    expect(root.status).toBe(301);
    expect(root.headers.get('location')).toBe('/ui/');
    const page = await fetch(`http://${withUi.address}/ui/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>x</title>');
    const head = await fetch(`http://${withUi.address}/ui/app-ABCDEFGH.js`, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe(String('console.log(1)'.length));
    expect((await fetch(`http://${withUi.address}/v1/status/leader`)).status).toBe(200);
    expect(await (await fetch(`http://${without.address}/`)).text()).toMatch(/Conclave Agent/);
    expect((await fetch(`http://${without.address}/ui/`)).status).toBe(404);
  });

  it('GET /v1/agent/debug/insides: operator read, then the process’s answer; 404 without one', async () => {
    const insides = await startHttpApi({
      host: '127.0.0.1',
      port: 0,
      call: stubCall,
      datacenter: 'dc1',
      insides: () => ({ node: 'n1', servers: [] }),
      acl: { enabled: true, defaultPolicy: 'deny' },
    });
    const bare = await startHttpApi({ host: '127.0.0.1', port: 0, call: stubCall, datacenter: 'dc1' });
    servers.push(insides, bare);
    const denied = await fetch(`http://${insides.address}/v1/agent/debug/insides`);
    expect(denied.status).toBe(403);
    const allowed = await fetch(`http://${insides.address}/v1/agent/debug/insides`, {
      headers: { 'X-Consul-Token': 'm' },
    });
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toEqual({ node: 'n1', servers: [] });
    expect((await fetch(`http://${bare.address}/v1/agent/debug/insides`)).status).toBe(404);
  });
});
