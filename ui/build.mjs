// Builds the web UI into dist/ui/ (run by `npm ci` through `prepare`, and by `npm run build`):
// esbuild bundles ui/src/main.tsx with React 19 and react-dom into one minified app-<hash>.js plus
// app-<hash>.css, and index.html names them. The hash in the names lets the agent serve them as
// immutable; index.html is revalidated (net/http/ui.ts). Nothing is fetched at run time.
import * as esbuild from 'esbuild';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'ui');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await esbuild.build({
  entryPoints: [join(root, 'ui', 'src', 'main.tsx')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  entryNames: 'app-[hash]',
  outdir: out,
  metafile: true,
  legalComments: 'linked',
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((f) => basename(f));
const js = outputs.find((f) => f.endsWith('.js'));
const css = outputs.find((f) => f.endsWith('.css'));
if (!js || !css) throw new Error(`ui build: expected a .js and a .css output, got ${outputs.join(', ')}`);

writeFileSync(
  join(out, 'index.html'),
  `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Conclave</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="./${css}">
<script type="module" src="./${js}"></script>
</head>
<body>
<noscript>The Conclave UI needs JavaScript; the HTTP API is at /v1/.</noscript>
<div id="root"></div>
</body>
</html>
`,
);
const bytes = Object.values(result.metafile.outputs).reduce((s, o) => s + o.bytes, 0);
process.stdout.write(`ui: dist/ui/${js}, ${css} (${Math.round(bytes / 1024)} KiB)\n`);
