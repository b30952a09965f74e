/**
 * Unit tests of the linearizability checker: the three parsers (including unknown outcomes and bad
 * input), the register/kv semantics on hand-made histories whose verdict is obvious, the explanation
 * of a violation, the timeout, and "fastest first" scheduling of partitions.
 */
import { describe, expect, it } from 'vitest';
import { History } from '../../history.js';
import {
  UNKNOWN,
  checkHistory,
  detectFormat,
  etcdModel,
  historyToLinOps,
  kvModel,
  parseEtcdLog,
  parseHistoryJsonLines,
  parseKvEdn,
  registerModel,
  syntheticRegisterHistory,
  type LinOp,
  type RegisterInput,
} from './index.js';

type Op = LinOp<RegisterInput, unknown>;
let nextId = 0;
function op(input: RegisterInput, output: unknown, callTime: number, returnTime: number): Op {
  return { id: nextId++, process: nextId, input, output, callTime, returnTime };
}

describe('parseEtcdLog', () => {
  const log = [
    'INFO  jepsen.util - 1\t:invoke\t:write\t3',
    'INFO  jepsen.util - 2\t:invoke\t:cas\t[3 0]',
    'INFO  jepsen.util - 1\t:ok\t:write\t3',
    'INFO  jepsen.util - 2\t:fail\t:cas\t[3 0]',
    'INFO  jepsen.util - 3   :invoke   :read   nil',
    'INFO  jepsen.util - 4\t:invoke\t:write\t1',
    'INFO  jepsen.util - 3   :fail   :read   :timed-out',
    'INFO  jepsen.util - 4\t:info\t:write\t:timed-out',
    'INFO  jepsen.util - 5\t:invoke\t:read\tnil',
    'INFO  jepsen.util - 5\t:ok\t:read\tnil',
    'INFO  jepsen.util - 6\t:invoke\t:cas\t[1 2]',
    '',
  ].join('\n');

  it('pairs events per process, with the line index as the clock', () => {
    const ops = parseEtcdLog(log);
    expect(ops.map((o) => [o.input, o.callTime, o.returnTime])).toEqual([
      [{ f: 'write', value: 3 }, 0, 2],
      [{ f: 'cas', from: 3, to: 0 }, 1, 3],
      [{ f: 'read' }, 4, 6],
      [{ f: 'write', value: 1 }, 5, Infinity],
      [{ f: 'read' }, 8, 9],
      [{ f: 'cas', from: 1, to: 2 }, 10, Infinity],
    ]);
    expect(ops.map((o) => o.output)).toEqual([null, false, UNKNOWN, UNKNOWN, null, UNKNOWN]);
    expect(ops.map((o) => o.id)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('names the line of a malformed event', () => {
    expect(() => parseEtcdLog('INFO  jepsen.util - 1\t:invoke\t:write\t3\nhello\n')).toThrow(/line 2/);
    expect(() => parseEtcdLog('INFO  jepsen.util - 1\t:ok\t:write\t3\n')).toThrow(/no open operation/);
  });
});

describe('parseKvEdn', () => {
  it('reads get/put/append with keys; a get of an unwritten key saw ""', () => {
    const text = [
      '{:process 9, :type :invoke, :f :append, :key "0", :value "x 9 0 y"}',
      '{:process 8, :type :invoke, :f :get, :key "0", :value nil}',
      '{:process 8, :type :ok, :f :get, :key "0", :value ""}',
      '{:process 9, :type :ok, :f :append, :key "0", :value "x 9 0 y"}',
    ].join('\n');
    const ops = parseKvEdn(text);
    expect(ops.map((o) => [o.input, o.output, o.callTime, o.returnTime])).toEqual([
      [{ f: 'append', key: '0', value: 'x 9 0 y' }, null, 0, 3],
      [{ f: 'get', key: '0' }, '', 1, 2],
    ]);
    expect(checkHistory(ops, kvModel).linearizable).toBe(true);
  });
});

describe('parseHistoryJsonLines (sim/history.ts)', () => {
  it('keeps ok and unknown ops, turns a failed cas into "observed another value", drops other failures', () => {
    const h = new History();
    const w = h.invoke(1, 'write', 'a', 'n1', 0, 'k');
    h.complete(w, 'ok', undefined, 5);
    const c = h.invoke(2, 'cas', { from: 'b', to: 'c' }, 'n2', 6, 'k');
    h.complete(c, 'fail', false, 8);
    const lost = h.invoke(3, 'write', 'z', 'n3', 7, 'k');
    h.complete(lost, 'fail', undefined, 9);
    const r = h.invoke(4, 'read', null, 'n1', 10, 'k');
    h.complete(r, 'ok', 'a', 12);
    h.invoke(5, 'write', 'q', 'n2', 13, 'j'); // never completes: unknown
    const ops = parseHistoryJsonLines(h.toJsonLines());
    expect(ops.map((o) => [o.input, o.output, o.callTime, o.returnTime])).toEqual([
      [{ f: 'write', key: 'k', value: 'a' }, null, 0, 5],
      [{ f: 'cas', key: 'k', from: 'b', to: 'c' }, false, 6, 8],
      [{ f: 'read', key: 'k' }, 'a', 10, 12],
      [{ f: 'write', key: 'j', value: 'q' }, UNKNOWN, 13, Infinity],
    ]);
    expect(ops.map((o) => o.id)).toEqual([0, 1, 3, 4]); // the History's own ids (2 did not happen)
    expect(historyToLinOps(h.ops)).toEqual(ops); // same without the JSON round trip
    expect(historyToLinOps(h.ops, (o) => o.key === 'j').map((o) => o.id)).toEqual([4]);
    expect(checkHistory(ops, registerModel).linearizable).toBe(true);
  });

  it('detects the three formats by content, and by extension when empty', () => {
    expect(detectFormat('INFO  jepsen.util - 1\t:invoke\t:read\tnil\n')).toBe('jepsen-etcd-log');
    expect(detectFormat('{:process 1, :type :invoke, :f :get, :key "1", :value nil}\n')).toBe('jepsen-edn-kv');
    expect(detectFormat('{"id":0}\n')).toBe('jsonl');
    expect(detectFormat('', 'x/etcd_095.log')).toBe('jepsen-etcd-log');
    expect(() => detectFormat('hello\n')).toThrow(/history format/);
  });
});

describe('register semantics (Herlihy & Wing 1990 §2: real-time order)', () => {
  it('a read after a completed write must see it', () => {
    const ops = [op({ f: 'write', value: 1 }, null, 0, 1), op({ f: 'read' }, null, 2, 3)];
    const result = checkHistory(ops, etcdModel);
    expect(result.linearizable).toBe(false);
    const ex = result.explanation!;
    expect(ex.blocking.id).toBe(ops[1]!.id);
    expect(ex.longestPrefix).toEqual([ops[0]!.id]);
    expect(ex.stateAfterPrefix).toBe('1');
    expect(ex.candidates).toEqual([{ id: ops[1]!.id, description: 'read() -> nil', rejected: 'model' }]);
    expect(ex.text).toMatch(/impossible in state 1/);
    expect(ex.core.map((c) => c.id)).toEqual([ops[0]!.id, ops[1]!.id]);
    expect(ex.coreMinimal).toBe(true);
  });

  it('concurrent operations may take effect in either order', () => {
    const ops = [op({ f: 'write', value: 1 }, null, 0, 10), op({ f: 'read' }, null, 2, 3), op({ f: 'read' }, 1, 4, 5)];
    expect(checkHistory(ops, etcdModel).linearizable).toBe(true);
  });

  it('equal times: a return and a call at the same instant are concurrent', () => {
    const ops = [op({ f: 'write', value: 1 }, null, 0, 5), op({ f: 'read' }, null, 5, 6)];
    expect(checkHistory(ops, etcdModel).linearizable).toBe(true);
  });

  it('an unknown write may have happened or not, but not both', () => {
    const w = op({ f: 'write', value: 1 }, UNKNOWN, 0, Infinity);
    expect(checkHistory([w, op({ f: 'read' }, 1, 5, 6)], etcdModel).linearizable).toBe(true);
    expect(checkHistory([w, op({ f: 'read' }, null, 5, 6)], etcdModel).linearizable).toBe(true);
    expect(checkHistory([w, op({ f: 'read' }, 1, 5, 6), op({ f: 'read' }, null, 7, 8)], etcdModel).linearizable).toBe(
      false,
    );
  });

  it('a failed cas observed another value', () => {
    const ops = [op({ f: 'write', value: 1 }, null, 0, 1), op({ f: 'cas', from: 1, to: 2 }, false, 2, 3)];
    expect(checkHistory(ops, etcdModel).linearizable).toBe(false);
    const ok = [
      op({ f: 'write', value: 1 }, null, 0, 1),
      op({ f: 'cas', from: 1, to: 2 }, true, 2, 3),
      op({ f: 'read' }, 2, 4, 5),
    ];
    expect(checkHistory(ok, etcdModel).linearizable).toBe(true);
  });

  it('keys are independent in the register model, and the explanation names the failing key', () => {
    const ops = [
      op({ f: 'write', key: 'a', value: 1 }, null, 0, 1),
      op({ f: 'read', key: 'b' }, null, 2, 3),
      op({ f: 'read', key: 'a' }, 2, 4, 5),
    ];
    const result = checkHistory(ops, registerModel);
    expect(result.linearizable).toBe(false);
    expect(result.partitions).toBe(2);
    expect(result.explanation!.partition).toBe('a');
    // As one register (etcd model) the read of b → nil after write 1 is the first impossibility.
    expect(checkHistory(ops, etcdModel).explanation!.blocking.id).toBe(ops[1]!.id);
  });
});

/** `count` concurrent writes of distinct values, then a read of a value: hard to refute by search. */
function manyConcurrentWrites(count: number, readOutput: unknown, key?: string): Op[] {
  const ops: Op[] = [];
  for (let i = 0; i < count; i++)
    ops.push(op({ f: 'write', value: i, ...(key !== undefined ? { key } : {}) }, null, i, 100 + i));
  ops.push(op({ f: 'read', ...(key !== undefined ? { key } : {}) }, readOutput, 200, 201));
  return ops;
}

describe('synthetic histories (the benchmark generator)', () => {
  it('are linearizable by construction, and a planted stale read is caught', () => {
    const ops = syntheticRegisterHistory({ seed: 3, opCount: 2000, keyCount: 20 });
    expect(ops.some((o) => o.output === UNKNOWN)).toBe(true);
    expect(checkHistory(ops, registerModel).linearizable).toBe(true);
    // A read of key "0" that returns a value nobody wrote.
    const planted = [...ops, op({ f: 'read', key: '0' }, 77, 50, 60)];
    expect(checkHistory(planted, registerModel).linearizable).toBe(false);
  });
});

describe('search limits and scheduling', () => {
  it('answers "unknown" when the time budget runs out, and the true verdict without one', () => {
    const ops = manyConcurrentWrites(14, 999);
    const timed = checkHistory(ops, etcdModel, { timeoutMs: 0 });
    expect(timed.linearizable).toBe('unknown');
    expect(timed.unknownReason).toBe('timeout');
    expect(timed.explanation).toBeUndefined();
    expect(checkHistory(ops, etcdModel).linearizable).toBe(false);
  });

  it('answers "unknown" rather than exhausting memory', () => {
    const ops = manyConcurrentWrites(14, 999);
    const limited = checkHistory(ops, etcdModel, { cacheBytesMax: 1 << 16 });
    expect(limited).toMatchObject({ linearizable: 'unknown', unknownReason: 'limit' });
  });

  it('interleaves partitions so an easy failing one is not held up by a hard passing one', () => {
    // Key "a": 12 concurrent writes; the read sees the one the search tries first, so every order that
    // linearizes it early must be exhausted first. Key "b": bigger (sorted after "a") but fails at once.
    const hard = manyConcurrentWrites(12, 0, 'a');
    const alone = checkHistory(hard, registerModel);
    expect(alone.linearizable).toBe(true);
    const easy: Op[] = [];
    for (let i = 0; i < 20; i++) easy.push(op({ f: 'write', key: 'b', value: i }, null, 300 + 2 * i, 301 + 2 * i));
    easy.push(op({ f: 'read', key: 'b' }, 'never written', 400, 401));
    const result = checkHistory([...hard, ...easy], registerModel);
    expect(result.linearizable).toBe(false);
    expect(result.explanation!.partition).toBe('b');
    expect(alone.steps).toBeGreaterThan(4 * 16384);
    expect(result.steps).toBeLessThan(alone.steps);
  });
});
