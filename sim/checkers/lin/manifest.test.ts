/**
 * Proves the checker agrees with every verdict Porcupine's Go tests assert on its own test data
 * (../shared/linearizability/manifest.json: 102 etcd + 6 kv histories, plus the empty etcd_095, which
 * is trivially linearizable), both with our reductions and with Porcupine's plain search. Each file is
 * also checked for integrity (sha256, operation count), every
 * "linearizable" answer comes with a witness order that an independent checker accepts, and every
 * "not linearizable" answer comes with an explanation whose prefix is itself a valid linearization and
 * whose core of operations is a violation on its own.
 *
 * The data lives beside the repository (../shared from the repo root). A bare clone has no ../shared:
 * then this suite is skipped, and the test run's global setup (test/global-setup.ts) prints one line
 * saying so. The checker is still tested anywhere on histories our simulator wrote (fixtures.test.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { UNKNOWN, checkHistory, checkOrder, models, parseHistory } from './index.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const dataDir = join(repoRoot, '..', 'shared', 'linearizability');
const manifestPath = join(dataDir, 'manifest.json');
const present = existsSync(manifestPath);

interface ManifestFile {
  path: string;
  model: 'etcd' | 'kv';
  expected_linearizable: boolean | null;
  ops: number;
  sha256: string;
}

const files: ManifestFile[] = present
  ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as { files: ManifestFile[] }).files
  : [];

describe.skipIf(!present)('Porcupine test data (../shared/linearizability)', () => {
  it('lists 109 files, 108 with an asserted verdict', () => {
    expect(files.length).toBe(109);
    expect(files.filter((f) => f.expected_linearizable !== null).length).toBe(108);
    expect(files.filter((f) => f.expected_linearizable === true).length).toBe(26);
  });

  for (const file of files) {
    const expected = file.expected_linearizable ?? true; // etcd_095 is empty: trivially linearizable
    it(`${file.path} is ${expected ? 'linearizable' : 'not linearizable'}`, () => {
      const bytes = readFileSync(join(dataDir, file.path));
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(file.sha256);
      const { ops } = parseHistory(bytes.toString('utf8'), file.path);
      expect(ops.length).toBe(file.ops);
      const model = models[file.model]!;
      const result = checkHistory(ops, model, { explainBudgetSteps: 300_000 });
      expect(result.linearizable).toBe(expected);
      // Porcupine's plain search (no read-only/unknown/growth reductions) must agree, here with the
      // hash-compacted cache (a failure is then confirmed by an exact search).
      expect(checkHistory(ops, model, { reductions: false, explain: false, cache: 'compact' }).linearizable).toBe(
        expected,
      );
      if (result.linearizable === true) {
        expect(result.linearizations).toBeDefined();
        for (const { partition, order } of result.linearizations!) {
          const partOps = model.partition ? model.partition(ops).find((p) => p.label === partition)!.ops : ops;
          expect(checkOrder(partOps, order, model)).toBeNull();
        }
      } else {
        const explanation = result.explanation!;
        expect(explanation).toBeDefined();
        expect(explanation.candidates.map((c) => c.id)).toContain(explanation.blocking.id);
        expect(explanation.text).toContain('Longest linearizable prefix');
        // The prefix is a real partial linearization: a valid sequential order of its ops, and closed
        // under real-time precedence within the failing partition (whatever returned before one of
        // its ops was called is in it too).
        const byId = new Map(ops.map((op) => [op.id, op]));
        const prefixOps = explanation.longestPrefix.map((id) => byId.get(id)!);
        const partOps = model.partition
          ? model.partition(ops).find((p) => p.label === explanation.partition)!.ops
          : ops;
        const inPrefix = new Set(explanation.longestPrefix);
        for (const op of prefixOps)
          for (const other of partOps) if (other.returnTime < op.callTime) expect(inPrefix.has(other.id)).toBe(true);
        // The core is a violation on its own: with every other operation relaxed (any time after its
        // call, any output, or never) the history is still not linearizable.
        const core = new Set(explanation.core.map((c) => c.id));
        const relaxed = ops.map((op) => (core.has(op.id) ? op : { ...op, output: UNKNOWN, returnTime: Infinity }));
        expect(checkHistory(relaxed, model, { explain: false }).linearizable).toBe(false);
        expect(checkOrder(prefixOps, explanation.longestPrefix, model)).toBeNull();
      }
    });
  }
});
