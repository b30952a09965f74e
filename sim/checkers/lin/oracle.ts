/**
 * Naive reference procedures the tests hold the search against: a brute-force permutation oracle
 * (no memoisation, no partitioning: keyed models run as one map of per-key states) and a checker for
 * a claimed linearization. Exponential; for histories of a handful of operations only.
 */
import { assert } from '../../../core/assert.js';
import type { LinOp, Model, RegisterInput } from './types.js';

/** Operations per history the oracle accepts (8! = 40,320 orders at most). */
export const ORACLE_OPS_MAX = 8;

/** Real-time order: `a` must precede `b` iff `a` returned strictly before `b` was called. */
export function precedes(a: LinOp<unknown, unknown>, b: LinOp<unknown, unknown>): boolean {
  return a.returnTime < b.callTime;
}

/**
 * Whether some total order of `ops` respects real time and is accepted by `model`, trying every
 * permutation. Keyed inputs (`input.key`) get an independent state per key when `keyed`.
 */
export function bruteForceLinearizable<S>(
  ops: readonly LinOp<RegisterInput, unknown>[],
  model: Model<S, RegisterInput, unknown>,
  keyed: boolean,
): boolean {
  assert(ops.length <= ORACLE_OPS_MAX, `the brute-force oracle takes at most ${ORACLE_OPS_MAX} operations`);
  const placed = new Array<boolean>(ops.length).fill(false);
  const states = new Map<string, S>();
  const stateOf = (key: string): S => (states.has(key) ? states.get(key)! : model.init());
  const search = (count: number): boolean => {
    if (count === ops.length) return true;
    for (let i = 0; i < ops.length; i++) {
      if (placed[i]) continue;
      const op = ops[i]!;
      let minimal = true;
      for (let j = 0; j < ops.length; j++) if (!placed[j] && j !== i && precedes(ops[j]!, op)) minimal = false;
      if (!minimal) continue;
      const key = keyed ? (op.input.key ?? '') : '';
      const before = stateOf(key);
      const had = states.has(key);
      const result = model.step(before, op.input, op.output);
      if (!result.ok) continue;
      placed[i] = true;
      states.set(key, result.next);
      if (search(count + 1)) return true;
      placed[i] = false;
      if (had) states.set(key, before);
      else states.delete(key);
    }
    return false;
  };
  return search(0);
}

/**
 * Why `order` (op ids) is not a valid linearization of `ops`, or null when it is: a permutation of
 * the ops, respecting real time, accepted by the model from its initial state.
 */
export function checkOrder<S, I, O>(
  ops: readonly LinOp<I, O>[],
  order: readonly number[],
  model: Model<S, I, O>,
): string | null {
  const byId = new Map(ops.map((op) => [op.id, op]));
  if (order.length !== ops.length) return `order has ${order.length} ops, history ${ops.length}`;
  const seen = new Set<number>();
  let state = model.init();
  for (let k = 0; k < order.length; k++) {
    const op = byId.get(order[k]!);
    if (!op || seen.has(op.id)) return `op ${order[k]} unknown or repeated`;
    seen.add(op.id);
    const result = model.step(state, op.input, op.output);
    if (!result.ok)
      return `op ${op.id} (${model.describeOperation(op.input, op.output)}) impossible in state ${model.describeState(state)}`;
    state = result.next;
  }
  for (let k = 0; k < order.length; k++) {
    for (let j = k + 1; j < order.length; j++) {
      if (precedes(byId.get(order[j]!)!, byId.get(order[k]!)!))
        return `op ${order[j]} returned before op ${order[k]} was called but is ordered after it`;
    }
  }
  return null;
}
