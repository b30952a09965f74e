/**
 * Builds dist/ (and the web UI's dist/ui/) once before the suite, so tests that spawn `node bin/conclave.js` run the current code.
 * Type errors do not stop the build here (tsconfig.build.json emits anyway): `npm test` type-checks
 * separately, first, and fails there with the errors in full.
 *
 * It also prints the one line saying which tests are skipped on a bare clone (no ../shared).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  spawnSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')],
    { cwd: root, stdio: 'ignore' },
  );
  if (!existsSync(join(root, 'dist', 'cli', 'main.js')))
    throw new Error('building dist/ failed: run `npm run build` to see why');
  // The web UI's bundle (dist/ui), which agents started with -ui serve.
  spawnSync(process.execPath, [join(root, 'ui', 'build.mjs')], { cwd: root, stdio: 'ignore' });
  if (!existsSync(join(root, 'dist', 'ui', 'index.html')))
    throw new Error('building dist/ui failed: run `npm run build` to see why');
  // Porcupine's histories live beside the clone, not in it; a bare clone skips the tests that need
  // them (sim/checkers/lin/manifest.test.ts, part of cli/commands/check.test.ts). Say so once.
  const shared = join(root, '..', 'shared', 'linearizability', 'manifest.json');
  if (!existsSync(shared))
    console.log(
      `skipped: the Porcupine agreement tests (109 histories; check lin on Porcupine's formats) need ${join('..', 'shared', 'linearizability')} beside the clone`,
    );
}
