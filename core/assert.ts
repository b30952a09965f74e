/**
 * Assertions for programmer errors (TigerBeetle style). An assertion that fails means the code is
 * wrong, not that the world misbehaved: expected faults (stale term, unknown peer, CAS mismatch) are
 * return values, never assertions.
 */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssertionError';
  }
}

/**
 * Throws an AssertionError saying `why` when `condition` is falsy; narrows types otherwise.
 *
 * On hot paths (every step, every entry) write `if (!(condition)) assert(false, \`...${x}\`)`: the
 * arguments of a call are built on every call, and a template with numbers in it costs a
 * number-to-string conversion each time (the simulator runs these paths millions of times a second).
 * A constant string costs nothing: `assert(condition, 'why')` stays the form everywhere else.
 */
export function assert(condition: unknown, why: string): asserts condition {
  if (!condition) throw new AssertionError(why);
}

/** Marks a branch the type system proves unreachable (exhaustive switches over tagged unions). */
export function unreachable(value: never, why = 'unreachable'): never {
  throw new AssertionError(`${why}: ${JSON.stringify(value)}`);
}
