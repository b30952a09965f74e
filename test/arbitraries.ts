/**
 * Shared fast-check arbitraries for the tests that compare a fast serialiser with its reference: trees
 * of plain data, bytes (Uint8Array and Buffer), dates and, where the encoder supports them, Maps. One
 * place, so a leaf kind added for one encoder's test is tried on the other's too.
 */
import fc from 'fast-check';

export interface PlainTreeOptions {
  /** Object keys tried besides random strings: the names an encoder treats specially. */
  readonly specialKeys: readonly string[];
  /** Leaves tried besides the common ones (e.g. a value shaped like Buffer's toJSON). */
  readonly extraLeaves?: readonly fc.Arbitrary<unknown>[];
  /** Whether Map nodes (string or integer keys) appear in the tree. */
  readonly maps?: boolean;
}

/** Any tree of plain values, bytes, buffers and dates (and Maps when asked), small enough to run 2,000 times. */
export function plainTree(options: PlainTreeOptions): fc.Arbitrary<unknown> {
  const leaf = fc.oneof(
    fc.integer(),
    fc.double(),
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.uint8Array({ maxLength: 8 }),
    fc.uint8Array({ maxLength: 8 }).map((bytes) => Buffer.from(bytes)),
    fc.date({ noInvalidDate: true }),
    ...(options.extraLeaves ?? []),
  );
  const tree = fc.letrec((tie) => ({
    value: options.maps
      ? fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object'), tie('map'))
      : fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
    array: fc.array(tie('value'), { maxLength: 4 }),
    object: fc.dictionary(fc.oneof(fc.string(), fc.constantFrom(...options.specialKeys)), tie('value'), {
      maxKeys: 4,
    }),
    map: fc.array(fc.tuple(fc.oneof(fc.string(), fc.integer()), tie('value')), { maxLength: 3 }).map((e) => new Map(e)),
  }));
  return tree.value;
}
