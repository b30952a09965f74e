#!/usr/bin/env node
// The conclave command. It runs the compiled JavaScript in dist/ (built by `npm ci` through the
// `prepare` script, or by `npm run build`): compiled JS starts in ~75 ms, through tsx ~290 ms, and a
// CLI that people run in loops (`conclave members`, `conclave kv get`) should start fast.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write('conclave: dist/ is missing; run `npm run build` (npm ci does it through prepare)\n');
  process.exit(2);
}
// A reader that closed the pipe (`conclave sim run … | head`) ends the output, as SIGPIPE ends a C tool:
// exit quietly instead of dying on an unhandled EPIPE with a stack trace.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
const { main } = await import(entry);
process.exitCode = await main(process.argv.slice(2));
