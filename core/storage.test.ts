/**
 * applyStorageOp (core/storage.ts), the one meaning of every StorageOp, checked against a naive model
 * (records as an object, logs rebuilt with slice/concat) on random op sequences, plus the edges: a
 * truncate past the end and a dropPrefix past the end are harmless, a negative count is refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyStorageOp, mapImage } from './storage.js';
import type { StorageOp } from './types.js';

const opArb: fc.Arbitrary<StorageOp> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key: fc.constantFrom('a', 'b'), value: fc.nat() }),
  fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom('a', 'b') }),
  fc.record({
    op: fc.constant('append' as const),
    log: fc.constantFrom('x', 'y'),
    entries: fc.array(fc.nat(), { maxLength: 5 }),
  }),
  fc.record({ op: fc.constant('truncate' as const), log: fc.constantFrom('x', 'y'), keepCount: fc.nat(12) }),
  fc.record({ op: fc.constant('dropPrefix' as const), log: fc.constantFrom('x', 'y'), dropCount: fc.nat(12) }),
);

describe('applyStorageOp', () => {
  it('agrees with a naive model on any op sequence', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const records = new Map<string, unknown>();
        const logs = new Map<string, unknown[]>();
        const image = mapImage(records, logs);
        const model: { records: Record<string, unknown>; logs: Record<string, unknown[]> } = { records: {}, logs: {} };
        for (const op of ops) {
          applyStorageOp(image, op);
          switch (op.op) {
            case 'put':
              model.records[op.key] = op.value;
              break;
            case 'delete':
              delete model.records[op.key];
              break;
            case 'append':
              model.logs[op.log] = [...(model.logs[op.log] ?? []), ...op.entries];
              break;
            case 'truncate':
              model.logs[op.log] = (model.logs[op.log] ?? []).slice(0, op.keepCount);
              break;
            case 'dropPrefix':
              model.logs[op.log] = (model.logs[op.log] ?? []).slice(op.dropCount);
              break;
          }
        }
        expect(Object.fromEntries(records)).toEqual(model.records);
        expect(Object.fromEntries(logs)).toEqual(model.logs);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a negative or fractional count', () => {
    const image = mapImage(new Map(), new Map());
    expect(() => applyStorageOp(image, { op: 'truncate', log: 'x', keepCount: -1 })).toThrow(/bad keepCount/);
    expect(() => applyStorageOp(image, { op: 'dropPrefix', log: 'x', dropCount: 0.5 })).toThrow(/bad dropCount/);
  });
});
