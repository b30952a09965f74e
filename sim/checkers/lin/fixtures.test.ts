/**
 * Proves the checker's verdicts on two histories our simulator wrote (fixtures/README.md): one
 * linearizable, one not. The verdicts are held against independent procedures, not just restated:
 * the linearizable one's witness order is replayed by `checkOrder`, and the failing one's core (the
 * few operations that cannot be linearized together) is confirmed by the brute-force oracle, with
 * every other operation dropped. Runs on any clone; Porcupine's data is manifest.test.ts's business.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ORACLE_OPS_MAX,
  bruteForceLinearizable,
  checkHistory,
  checkOrder,
  parseHistory,
  partitionByKey,
  registerModel,
  UNKNOWN,
} from './index.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const load = (name: string) => parseHistory(readFileSync(join(dir, name), 'utf8'), name);

describe('simulator-generated history fixtures', () => {
  it('kv-register-nemesis.seed1.jsonl is linearizable, with a witness order per key', () => {
    const { format, ops } = load('kv-register-nemesis.seed1.jsonl');
    expect(format).toBe('jsonl');
    expect(ops.length).toBe(149);
    const result = checkHistory(ops, registerModel);
    expect(result.linearizable).toBe(true);
    const parts = partitionByKey(ops);
    expect(result.linearizations!.length).toBe(parts.length);
    for (const { partition, order } of result.linearizations!) {
      const partOps = parts.find((p) => p.label === partition)!.ops;
      expect(order.length).toBe(partOps.length);
      expect(checkOrder(partOps, order, registerModel)).toBeNull();
    }
    // Plain search (no reductions) agrees.
    expect(checkHistory(ops, registerModel, { reductions: false, explain: false }).linearizable).toBe(true);
  });

  it('kv-stale-reads.seed1.jsonl is not linearizable: a stale read, its core confirmed by brute force', () => {
    const { ops } = load('kv-stale-reads.seed1.jsonl');
    expect(ops.length).toBe(130);
    const result = checkHistory(ops, registerModel);
    expect(result.linearizable).toBe(false);
    expect(checkHistory(ops, registerModel, { reductions: false, explain: false }).linearizable).toBe(false);
    const explanation = result.explanation!;
    expect(explanation.partition).toBe('r/0');
    expect(explanation.blocking).toMatchObject({ id: 44 });
    const core = explanation.core.map((c) => c.id);
    expect(core.length).toBeLessThanOrEqual(ORACLE_OPS_MAX);
    const coreOps = ops.filter((op) => core.includes(op.id));
    expect(bruteForceLinearizable(coreOps, registerModel, true)).toBe(false);
    // …and with every other operation relaxed (any time after its call, any output, or never) the
    // search still finds no linearization: the core is a violation on its own.
    const relaxed = ops.map((op) => (core.includes(op.id) ? op : { ...op, output: UNKNOWN, returnTime: Infinity }));
    expect(checkHistory(relaxed, registerModel, { explain: false }).linearizable).toBe(false);
    expect(core).toContain(44);
  });
});
