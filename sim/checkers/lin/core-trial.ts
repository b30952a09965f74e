/**
 * A trial of the hunt for a small core of a violation: do a few operations, kept strict, still fail
 * when every other operation of the partition is relaxed to "unknown outcome: at any time after its
 * call, or never"?
 *
 * The general search (search.ts) walks depth first, so with a hundred relaxed writes before the
 * strict ones it tries them in long chains first, and a trial that must fail runs out of steps
 * (two operations that plainly contradict each other could not be told apart from a fail of twenty).
 * This one walks breadth first and prunes by subsumption: a configuration (strict operations done,
 * state, relaxed operations used) is dropped when one with the same strict operations and state was
 * reached with a subset of its relaxed operations (they are optional, so fewer used is never worse).
 * Breadth first reaches each state with the fewest relaxed operations first, so the configurations
 * left are about one per (strict set, state). Sound: a dropped configuration's continuations are all
 * open to the one that subsumes it, which is expanded in turn (induction on the steps left to finish).
 */
import { assert } from '../../../core/assert.js';
import type { LinOp, Model, Unknown } from './types.js';
import { UNKNOWN } from './types.js';

/** Strict operations a trial may keep (their done-set is a bit mask in one 32-bit integer). */
export const TRIAL_STRICT_MAX = 30;

const UNSEEN = -2;
const REJECTED = -1;

interface Config {
  /** Bit i set: strict operation i is linearized. */
  readonly done: number;
  readonly stateId: number;
  /** Relaxed operations used, ascending partition indexes. */
  readonly used: readonly number[];
}

/**
 * 'fail' when no linearization keeps every strict operation (partition indexes in `strict`) within
 * its interval with its recorded output; 'ok' when one exists; 'steps' when `stepsMax` model steps
 * were not enough to tell.
 */
export function trialWithRelaxed<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly LinOp<I, O>[],
  strict: readonly number[],
  stepsMax: number,
): { status: 'fail' | 'ok' | 'steps'; steps: number } {
  assert(strict.length <= TRIAL_STRICT_MAX, `a trial keeps at most ${TRIAL_STRICT_MAX} operations strict`);
  assert(model.acceptsUnknown === true, 'relaxed operations need a model that accepts any outcome');
  const strictOps = strict.map((i) => ops[i]!);
  const isStrict = new Set(strict);
  // A relaxed operation that would change no state, or that is read-only, is never worth using.
  const relaxed = ops
    .map((_, i) => i)
    .filter((i) => !isStrict.has(i) && !(model.readOnly?.(ops[i]!.input, UNKNOWN as O | Unknown) ?? false))
    .sort((a, b) => ops[a]!.callTime - ops[b]!.callTime || a - b);
  const all = (1 << strict.length) - 1;
  const states: S[] = [];
  const primitive = new Map<unknown, number>();
  const byHash = new Map<number, number[]>();
  const intern = (state: S): number => {
    if (state === null || (typeof state !== 'object' && typeof state !== 'function')) {
      let id = primitive.get(state);
      if (id === undefined) primitive.set(state, (id = states.push(state) - 1));
      return id;
    }
    const h = model.hash(state) | 0;
    const list = byHash.get(h) ?? [];
    for (const id of list) if (model.equal(states[id]!, state)) return id;
    const id = states.push(state) - 1;
    byHash.set(h, [...list, id]);
    return id;
  };
  const reached = new Map<string, (readonly number[])[]>();
  /** Memoised steps of relaxed operations: state id → per index into `relaxed`, the next state id. */
  const transitions = new Map<number, Int32Array>();
  /** Records `c` unless subsumed; true when it is new. */
  const admit = (c: Config): boolean => {
    const key = `${c.done}:${c.stateId}`;
    const list = reached.get(key) ?? [];
    for (const used of list) if (used.every((u) => c.used.includes(u))) return false;
    reached.set(key, [...list.filter((used) => !c.used.every((u) => used.includes(u))), c.used]);
    return true;
  };
  let frontier: Config[] = [{ done: 0, stateId: intern(model.init()), used: [] }];
  admit(frontier[0]!);
  let steps = 0;
  while (frontier.length > 0) {
    const nextFrontier: Config[] = [];
    for (const c of frontier) {
      if (c.done === all) return { status: 'ok', steps };
      // Real time: an operation may go next only if no pending strict one returned before its call.
      let firstReturn = Infinity;
      for (let k = 0; k < strictOps.length; k++)
        if ((c.done & (1 << k)) === 0) firstReturn = Math.min(firstReturn, strictOps[k]!.returnTime);
      const state = states[c.stateId]!;
      for (let k = 0; k < strictOps.length; k++) {
        if ((c.done & (1 << k)) !== 0) continue;
        const op = strictOps[k]!;
        if (op.callTime > firstReturn) continue;
        if (++steps > stepsMax) return { status: 'steps', steps };
        const r = model.step(state, op.input, op.output);
        if (!r.ok) continue;
        const child = { done: c.done | (1 << k), stateId: intern(r.next), used: c.used };
        if (admit(child)) nextFrontier.push(child);
      }
      let row = transitions.get(c.stateId);
      if (row === undefined) transitions.set(c.stateId, (row = new Int32Array(relaxed.length).fill(UNSEEN)));
      for (let j = 0; j < relaxed.length; j++) {
        const i = relaxed[j]!;
        const op = ops[i]!;
        if (op.callTime > firstReturn) break; // `relaxed` is in call order
        if (++steps > stepsMax) return { status: 'steps', steps };
        let stateId = row[j]!;
        if (stateId === UNSEEN) {
          const r = model.step(state, op.input, UNKNOWN as O | Unknown);
          row[j] = stateId = r.ok ? intern(r.next) : REJECTED;
        }
        if (stateId === REJECTED || stateId === c.stateId || c.used.includes(i)) continue;
        const key = `${c.done}:${stateId}`;
        const list = reached.get(key);
        if (list !== undefined && list.some((u) => u.every((x) => x === i || c.used.includes(x)))) continue;
        const used = [...c.used, i].sort((a, b) => a - b);
        const child = { done: c.done, stateId, used };
        if (admit(child)) nextFrontier.push(child);
      }
    }
    frontier = nextFrontier;
  }
  return { status: 'fail', steps };
}
