/**
 * checkMembership (messages.ts) against the reference it replaced (every() over the name lists and
 * Object.values(ids).every(isServerId)): the verdict on a received membership decides whether a
 * snapshot chunk or a config entry is dropped, so it must not move. fast-check draws memberships that
 * are right, almost right and wrong (holes, non-strings, null prototypes, inherited fields).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkMembership, isServerId } from './messages.js';

function reference(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const m = value as Record<string, unknown>;
  const names = (list: unknown) => Array.isArray(list) && list.every((id) => typeof id === 'string');
  if (!names(m.voters) || !names(m.learners)) return false;
  if (m.ids === undefined) return true;
  if (m.ids === null || typeof m.ids !== 'object' || Array.isArray(m.ids)) return false;
  return Object.values(m.ids as Record<string, unknown>).every(isServerId);
}

describe('checkMembership', () => {
  it('gives the reference verdict', () => {
    const name = fc.oneof(fc.constantFrom('n1', 'n2', 'n3'), fc.anything());
    const list = fc.oneof(
      fc.array(fc.constantFrom('n1', 'n2', 'n3')),
      fc.array(name, { maxLength: 4 }),
      fc.sparseArray(fc.constantFrom('n1', 'n2'), { maxLength: 4 }),
      fc.anything(),
    );
    const id = fc.oneof(fc.uuid(), fc.constantFrom('0123456789abcdef', ''), fc.anything());
    const ids = fc.oneof(
      fc.constant(undefined),
      fc.dictionary(fc.constantFrom('n1', 'n2', '__proto__', 'toString'), id),
      fc.anything({ withNullPrototype: true }),
    );
    const membership = fc.oneof(
      fc.record({ voters: list, learners: list, ids }, { requiredKeys: ['voters', 'learners'] }),
      fc.anything(),
    );
    fc.assert(
      fc.property(membership, (m) => {
        expect(checkMembership(m)).toBe(reference(m));
      }),
      { numRuns: 3000 },
    );
  });
});
