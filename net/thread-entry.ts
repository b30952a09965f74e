/**
 * The URL to start a worker thread on, for a module `name` beside `self` (an `import.meta.url`).
 * Compiled (`dist/`, `.js`): the module itself. From TypeScript sources (vitest, tsx): a worker does not
 * inherit the TS loader on Node 20, so the entry is a tiny module that registers tsx in the worker and
 * then loads the real entry.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

export function threadEntry(self: string, name: string): URL {
  if (self.endsWith('.js')) return new URL(`./${name}.js`, self);
  const require = createRequire(self);
  const api = pathToFileURL(require.resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs')).href;
  const target = new URL(`./${name}.ts`, self).href;
  const code = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(target)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}
