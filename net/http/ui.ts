/**
 * The web UI's static files (issue 18), served at /ui/ on the HTTP port when the agent runs with
 * `-ui`. The bundle is built by `npm ci` (ui/build.mjs → dist/ui/: index.html plus content-hashed
 * app-<hash>.js / .css), read into memory once at start (it is small: a few hundred KiB), and answered
 * from there — no file system access per request, and nothing of this runs for /v1/ paths (server.ts
 * tests the path's second byte before anything else).
 *
 * Caching: hashed assets are `immutable` for a year (a new build has new names); index.html and other
 * unhashed files are `no-cache` with an ETag, so a reload after an upgrade picks the new bundle. Every
 * answer carries `X-Content-Type-Options: nosniff` and a Content-Security-Policy that allows this
 * origin only: the page can load nothing and call nothing elsewhere (no CDN, no fonts, no telemetry).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface UiFile {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
  readonly cacheControl: string;
}

/** The UI's files by URL path below /ui/ ("index.html", "app-3f9c….js"). */
export interface UiAssets {
  readonly dir: string;
  readonly files: ReadonlyMap<string, UiFile>;
}

export interface UiAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer | string;
}

/** Files read at most (a bundle is a handful; a misconfigured ui_dir pointing at / is refused). */
export const uiFilesMax = 200;
/** Bytes read at most over all files. */
export const uiBytesMax = 16 * 1024 * 1024;

const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};

export const uiSecurityHeaders: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'Referrer-Policy': 'no-referrer',
};

/** A content hash in the name (app-ABCD1234.js, as esbuild names them): the file never changes. */
const hashedName = /-[A-Z0-9]{8,}\.[a-z]+$/;

/** The bundle `npm ci` builds: <package root>/dist/ui, found from this file's place (source or dist/). */
export function defaultUiDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 6; up++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'dist', 'ui');
    dir = path.dirname(dir);
  }
  return path.join(process.cwd(), 'dist', 'ui');
}

/** Reads the UI's files. Throws an Error naming the directory when it is missing or has no index.html. */
export function loadUiAssets(dir: string): UiAssets {
  if (!fs.existsSync(path.join(dir, 'index.html')))
    throw new Error(`web UI: ${dir}/index.html not found (the bundle is built by \`npm ci\` or \`npm run build\`)`);
  const files = new Map<string, UiFile>();
  let bytes = 0;
  const walk = (sub: string) => {
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub === '' ? entry.name : `${sub}/${entry.name}`;
      if (entry.isDirectory()) {
        walk(rel);
        continue;
      }
      if (!entry.isFile()) continue;
      const type = contentTypes[path.extname(entry.name)];
      if (!type) continue;
      if (files.size >= uiFilesMax) throw new Error(`web UI: ${dir} holds more than ${uiFilesMax} files`);
      const body = fs.readFileSync(path.join(dir, rel));
      bytes += body.length;
      if (bytes > uiBytesMax) throw new Error(`web UI: ${dir} holds more than ${uiBytesMax} bytes`);
      files.set(rel, {
        body,
        contentType: type,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        cacheControl: hashedName.test(entry.name) ? 'public, max-age=31536000, immutable' : 'no-cache',
      });
    }
  };
  walk('');
  return { dir, files };
}

/**
 * Answers GET/HEAD for `/` (a redirect to /ui/, as Consul does with its UI on), `/ui` and `/ui/…`;
 * null for any other path (the API router takes it).
 */
export function answerUi(
  assets: UiAssets,
  method: string,
  url: string,
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
): UiAnswer | null {
  const question = url.indexOf('?');
  const pathname = question < 0 ? url : url.slice(0, question);
  if (pathname !== '/' && pathname !== '/ui' && !pathname.startsWith('/ui/')) return null;
  if (method !== 'GET' && method !== 'HEAD')
    return { status: 405, headers: { 'Content-Type': 'text/plain; charset=utf-8', Allow: 'GET, HEAD' }, body: '' };
  if (pathname === '/' || pathname === '/ui')
    return { status: 301, headers: { Location: '/ui/', 'Content-Type': 'text/plain; charset=utf-8' }, body: '' };
  let rel: string;
  try {
    rel = decodeURIComponent(pathname.slice('/ui/'.length));
  } catch {
    return { status: 400, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'invalid URL escape' };
  }
  // Only names from the map are served, so `..` cannot escape the directory; the index for the root.
  const file = assets.files.get(rel === '' ? 'index.html' : rel);
  if (!file)
    return { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: '404 page not found\n' };
  const common = { ...uiSecurityHeaders, ETag: file.etag, 'Cache-Control': file.cacheControl };
  const inm = headers['if-none-match'];
  if (typeof inm === 'string' && inm.split(/\s*,\s*/).includes(file.etag))
    return { status: 304, headers: common, body: '' };
  return { status: 200, headers: { ...common, 'Content-Type': file.contentType }, body: file.body };
}
