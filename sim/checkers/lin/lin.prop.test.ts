/**
 * Properties of the linearizability checker, all randomness from fast-check:
 *
 * 1. Soundness on linearizable input: run a sequential model (register with cas, or kv with append) to
 *    get the outputs, give each operation a linearization point, then widen every operation's interval
 *    around its point by random amounts (concurrency) and make some outcomes unknown (some of which
 *    never took effect). Such a history is linearizable by construction; the checker must say so and
 *    return a witness order that an independent checker accepts.
 * 2. Planted violations: add a completed read of a value nobody wrote, or a read that returns a value
 *    before the (unique) write of that value was even invoked. The checker must say "not linearizable".
 * 3. Agreement with a brute-force permutation oracle (no memoisation, no partitioning) on small random
 *    histories, for the etcd, register and kv models, which exercises memoisation, unknown outcomes,
 *    equal timestamps and P-compositionality against the definition itself.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  PartitionSearch,
  UNKNOWN,
  bruteForceLinearizable,
  checkHistory,
  checkOrder,
  etcdModel,
  kvModel,
  registerModel,
  type LinOp,
  type Model,
  type RegisterInput,
} from './index.js';
import { trialWithRelaxed } from './core-trial.js';

type Op = LinOp<RegisterInput, unknown>;

const stepSpec = fc.record({
  f: fc.constantFrom('read', 'write', 'cas', 'append'),
  key: fc.integer({ min: 0, max: 2 }),
  value: fc.integer({ min: 0, max: 3 }),
  from: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }),
  before: fc.integer({ min: 0, max: 40 }),
  after: fc.integer({ min: 0, max: 40 }),
  fate: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'unknown-happened', 'unknown-never'),
});
type StepSpec = typeof stepSpec extends fc.Arbitrary<infer T> ? T : never;

/** A history linearizable by construction (see 1. above). `kv` switches to get/put/append on strings. */
function linearizableHistory(specs: StepSpec[], kv: boolean, keyed: boolean): Op[] {
  const model = (kv ? kvModel : etcdModel) as Model<unknown, RegisterInput, unknown>;
  const states = new Map<string, unknown>();
  const ops: Op[] = [];
  specs.forEach((s, i) => {
    const key = keyed ? String(s.key) : undefined;
    const k = key ?? '';
    let input: RegisterInput;
    if (kv)
      input =
        s.f === 'read'
          ? { f: 'get' }
          : s.f === 'append'
            ? { f: 'append', value: `x${i}y` }
            : { f: 'put', value: `v${s.value}` };
    else
      input =
        s.f === 'read'
          ? { f: 'read' }
          : s.f === 'cas'
            ? { f: 'cas', from: s.from, to: s.value }
            : { f: 'write', value: s.value };
    if (key !== undefined) input = { ...input, key };
    const point = 100 * (i + 1);
    const state = states.has(k) ? states.get(k) : model.init();
    let output: unknown = UNKNOWN;
    if (s.fate !== 'unknown-never') {
      // Output as the sequential model produces it at the linearization point.
      if (input.f === 'read' || input.f === 'get') output = state;
      else if (input.f === 'cas') output = state === input.from;
      else output = null;
      const result = model.step(state, input, output);
      expect(result.ok).toBe(true);
      states.set(k, result.next);
    }
    if (s.fate !== 'ok') output = UNKNOWN;
    const returnTime = s.fate === 'ok' ? point + s.after : Infinity;
    ops.push({ id: i, process: i, input, output, callTime: point - s.before, returnTime });
  });
  return ops;
}

function expectWitness(ops: Op[], model: Model<any, RegisterInput, unknown>): void {
  expect(checkHistory(ops, model, { reductions: false, explain: false }).linearizable).toBe(true);
  const result = checkHistory(ops, model);
  expect(result.linearizable).toBe(true);
  for (const { partition, order } of result.linearizations!) {
    const partOps = model.partition ? model.partition(ops).find((p) => p.label === partition)!.ops : ops;
    expect(checkOrder(partOps, order, model)).toBeNull();
  }
}

describe('linearizable by construction', () => {
  it('etcd register with cas and unknown outcomes (one key)', () => {
    fc.assert(
      fc.property(fc.array(stepSpec, { minLength: 0, maxLength: 60 }), (specs) =>
        expectWitness(linearizableHistory(specs, false, false), etcdModel),
      ),
      { numRuns: 150 },
    );
  });
  it('register model, three keys (P-compositionality)', () => {
    fc.assert(
      fc.property(fc.array(stepSpec, { minLength: 0, maxLength: 80 }), (specs) =>
        expectWitness(linearizableHistory(specs, false, true), registerModel),
      ),
      { numRuns: 150 },
    );
  });
  it('kv model with appends, three keys', () => {
    fc.assert(
      fc.property(fc.array(stepSpec, { minLength: 0, maxLength: 80 }), (specs) =>
        expectWitness(linearizableHistory(specs, true, true), kvModel),
      ),
      { numRuns: 150 },
    );
  });
});

describe('planted violations are caught', () => {
  it('a completed read of a value never written', () => {
    fc.assert(
      fc.property(
        fc.array(stepSpec, { minLength: 1, maxLength: 50 }),
        fc.nat(),
        fc.integer({ min: 0, max: 30 }),
        (specs, where, width) => {
          const ops = linearizableHistory(specs, false, false);
          const at = 100 * ((where % specs.length) + 1);
          ops.push({
            id: ops.length,
            process: -1,
            input: { f: 'read' },
            output: 99,
            callTime: at - width,
            returnTime: at + width,
          });
          const result = checkHistory(ops, etcdModel);
          expect(result.linearizable).toBe(false);
          expect(result.explanation!.candidates.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a read that returns a unique value before its write was invoked', () => {
    fc.assert(
      fc.property(fc.array(stepSpec, { minLength: 2, maxLength: 50 }), fc.nat(), (specs, pick) => {
        // Only reads and writes, each write of a fresh value, all completed.
        const unique = specs.map((s, i) => ({
          ...s,
          f: s.f === 'read' ? ('read' as const) : ('write' as const),
          value: 1000 + i,
          fate: 'ok' as const,
        }));
        const ops = linearizableHistory(unique, false, false);
        const writes = ops.filter((o) => o.input.f === 'write');
        fc.pre(writes.length > 0);
        const w = writes[pick % writes.length]!;
        ops.push({
          id: ops.length,
          process: -1,
          input: { f: 'read' },
          output: w.input.value,
          callTime: w.callTime - 3,
          returnTime: w.callTime - 1,
        });
        expect(checkHistory(ops, etcdModel).linearizable).toBe(false);
      }),
      { numRuns: 150 },
    );
  });
});

/** Small random histories, not linearizable in general: outputs are drawn, not computed. */
const smallHistory = (kv: boolean) =>
  fc
    .array(
      fc.record({
        f: fc.constantFrom('read', 'write', 'cas', 'append'),
        key: fc.constantFrom('a', 'b'),
        value: fc.integer({ min: 0, max: 2 }),
        from: fc.option(fc.integer({ min: 0, max: 2 }), { nil: null }),
        readOut: fc.option(fc.integer({ min: 0, max: 2 }), { nil: null }),
        casOut: fc.boolean(),
        call: fc.integer({ min: 0, max: 12 }),
        length: fc.integer({ min: 0, max: 8 }),
        unknownChance: fc.integer({ min: 0, max: 5 }),
      }),
      { minLength: 0, maxLength: 7 },
    )
    .map((rows) =>
      rows.map((r, id): Op => {
        const unknown = r.unknownChance === 0;
        let input: RegisterInput;
        let output: unknown;
        if (kv) {
          // Few short strings, so that reads often match and puts (resets) interleave with appends.
          if (r.f === 'read')
            [input, output] = [{ f: 'get', key: r.key }, r.readOut === null ? '' : ['x', 'xy', 'yx'][r.readOut]];
          else if (r.f === 'append')
            [input, output] = [{ f: 'append', key: r.key, value: ['x', 'y', 'x'][r.value] }, null];
          else [input, output] = [{ f: 'put', key: r.key, value: ['', 'x', 'y'][r.value] }, null];
        } else if (r.f === 'read') [input, output] = [{ f: 'read', key: r.key }, r.readOut];
        else if (r.f === 'cas') [input, output] = [{ f: 'cas', key: r.key, from: r.from, to: r.value }, r.casOut];
        else [input, output] = [{ f: 'write', key: r.key, value: r.value }, null];
        return {
          id,
          process: id,
          input,
          output: unknown ? UNKNOWN : output,
          callTime: r.call,
          returnTime: unknown ? Infinity : r.call + r.length,
        };
      }),
    );

describe('the explanation core', () => {
  it('is a violation on its own, and 1-minimal when it says so (checked by the oracle)', () => {
    let explained = 0;
    fc.assert(
      fc.property(smallHistory(false), (ops) => {
        const result = checkHistory(ops, registerModel);
        if (result.linearizable !== false) return;
        explained++;
        const core = new Set(result.explanation!.core.map((c) => c.id));
        expect(core.size).toBeGreaterThan(0);
        const relaxExcept = (keep: Set<number>): Op[] =>
          ops.map((op) => (keep.has(op.id) ? op : { ...op, output: UNKNOWN, returnTime: Infinity }));
        expect(bruteForceLinearizable(relaxExcept(core), registerModel, true)).toBe(false);
        if (result.explanation!.coreMinimal) {
          for (const id of core) {
            const smaller = new Set(core);
            smaller.delete(id);
            expect(bruteForceLinearizable(relaxExcept(smaller), registerModel, true)).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
    expect(explained).toBeGreaterThan(30);
  });
});

describe('trials of the small-core hunt', () => {
  it('agree with the oracle: breadth first (core-trial.ts) and depth first with subsumption (search.ts)', () => {
    // Random histories (keys ignored: one register), a random subset kept strict, the rest relaxed to
    // "unknown outcome, at any time after its call, or never": both trials must give the oracle's verdict.
    let failing = 0;
    fc.assert(
      fc.property(smallHistory(false), fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }), (ops, keepFlags) => {
        const strict = ops.map((_, i) => i).filter((i) => keepFlags[i]);
        const relaxed = ops.map((op, i) =>
          strict.includes(i) ? op : { ...op, output: UNKNOWN, returnTime: Infinity },
        );
        const expected = bruteForceLinearizable(relaxed, etcdModel, false);
        if (!expected) failing++;
        const bfs = trialWithRelaxed(etcdModel, ops, strict, Infinity);
        expect(bfs.status).toBe(expected ? 'ok' : 'fail');
        const dfs = new PartitionSearch(etcdModel, relaxed, false, {
          statesMax: Infinity,
          cacheBytesMax: Infinity,
          cache: 'exact',
          dominance: true,
        });
        expect(dfs.run(Infinity)).toBe(expected ? 'ok' : 'fail');
      }),
      { numRuns: 1000 },
    );
    expect(failing).toBeGreaterThan(50);
  });
});

describe('agrees with a brute-force permutation oracle', () => {
  const cases: [string, Model<any, RegisterInput, unknown>, boolean, boolean][] = [
    ['etcd (keys ignored: one register)', etcdModel, false, false],
    ['register (per key)', registerModel, true, false],
    ['kv (per key, appends)', kvModel, true, true],
  ];
  for (const [name, model, keyed, kv] of cases) {
    it(name, () => {
      let linearizable = 0;
      fc.assert(
        fc.property(smallHistory(kv), (ops) => {
          const expected = bruteForceLinearizable(ops, model, keyed);
          if (expected) linearizable++;
          expect(checkHistory(ops, model).linearizable).toBe(expected);
          expect(checkHistory(ops, model, { reductions: false }).linearizable).toBe(expected);
          expect(checkHistory(ops, model, { cache: 'compact', explain: false }).linearizable).toBe(expected);
          const compactOnly = new PartitionSearch(model, ops, false, {
            statesMax: Infinity,
            cacheBytesMax: Infinity,
            cache: 'compact',
          });
          if (!keyed) expect(compactOnly.run(Infinity) === 'ok').toBe(expected); // without exact confirmation
        }),
        { numRuns: 600 },
      );
      // Both verdicts must be exercised for the comparison to mean anything.
      expect(linearizable).toBeGreaterThan(60);
      expect(linearizable).toBeLessThan(540);
    });
  }
});
