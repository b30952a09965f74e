/**
 * State-store throughput: operations applied (or answered) per second by the store FSM alone, with
 * no Raft, network or encoding around it. Figures: set, CAS (a successful CAS at the key's current
 * ModifyIndex), get (single key), recurse (a prefix holding 100 keys), and a 4-op txn.
 *
 * Setup: 10,000 keys `svc/<d>/<n>` (100 prefixes × 100 keys) with 100-byte values; keys chosen by a
 * seeded prng, so runs are comparable. Each figure is the best of 3 timed rounds after a warm-up.
 * The issue names no anchor for this benchmark; the figures stand on their own.
 * Last line of output: one JSON object.
 */
import { performance } from 'node:perf_hooks';
import { Prng } from '../core/prng.js';
import { createStoreFsm, type StoreFsm } from '../core/store/store.js';
import type { KvEntry } from '../core/store/types.js';

const prefixCount = 100;
const keysPerPrefix = 100;
const valueBytes = 100;
const rounds = 3;

const keys: string[] = [];
for (let p = 0; p < prefixCount; p++)
  for (let k = 0; k < keysPerPrefix; k++) keys.push(`svc/${String(p).padStart(3, '0')}/${String(k).padStart(3, '0')}`);

function loaded(): { fsm: StoreFsm; index: { n: number } } {
  const fsm = createStoreFsm();
  const index = { n: 0 };
  const value = new Uint8Array(valueBytes).fill(7);
  for (const key of keys) fsm.apply({ type: 'kvSet', entry: { key, value } }, ++index.n);
  return { fsm, index };
}

/** Best ops/s over `rounds` rounds of `count` operations each. */
function measure(name: string, count: number, setup: () => (i: number) => void): number {
  let best = 0;
  for (let round = 0; round <= rounds; round++) {
    const op = setup();
    const started = performance.now();
    for (let i = 0; i < count; i++) op(i);
    const ms = performance.now() - started;
    if (round > 0) best = Math.max(best, (count / ms) * 1000); // round 0 warms up
  }
  console.log(`${name}: ${Math.round(best).toLocaleString('en-US')} ops/s (${count} ops per round)`);
  return Math.round(best);
}

const { fsm, index } = loaded();
const prng = new Prng(42);
const values = Array.from({ length: 64 }, (_, i) => new Uint8Array(valueBytes).fill(i));

const setOpsPerSec = measure('set', 200_000, () => (i) => {
  fsm.apply({ type: 'kvSet', entry: { key: keys[prng.below(keys.length)]!, value: values[i & 63]! } }, ++index.n);
});

const casOpsPerSec = measure('cas', 200_000, () => (i) => {
  const key = keys[prng.below(keys.length)]!;
  const current = (fsm.query({ type: 'kvGet', key }) as { value: KvEntry }).value;
  const result = fsm.apply(
    { type: 'kvCas', entry: { key, value: values[i & 63]! }, cas: current.ModifyIndex },
    ++index.n,
  );
  if (!result.ok) throw new Error('cas failed');
});

const getOpsPerSec = measure('get', 1_000_000, () => () => {
  fsm.query({ type: 'kvGet', key: keys[prng.below(keys.length)]! });
});

const recurse100OpsPerSec = measure('recurse (100 keys)', 50_000, () => () => {
  const prefix = `svc/${String(prng.below(prefixCount)).padStart(3, '0')}/`;
  const out = fsm.query({ type: 'kvList', prefix }) as { value: KvEntry[] };
  if (out.value.length !== keysPerPrefix) throw new Error('recurse saw the wrong count');
});

const txn4OpsPerSec = measure('txn (4 ops)', 100_000, () => (i) => {
  const a = keys[prng.below(keys.length)]!;
  const b = keys[prng.below(keys.length)]!;
  fsm.apply(
    {
      type: 'txn',
      nowMs: 0,
      ops: [
        { verb: 'get', key: a },
        { verb: 'set', key: b, value: values[i & 63]! },
        { verb: 'check-not-exists', key: `absent/${i}` },
        { verb: 'set', key: a, value: values[(i + 1) & 63]! },
      ],
    },
    ++index.n,
  );
});

const broken = fsm.invariants();
if (broken.length > 0) throw new Error(`store invariants broken after the benchmark: ${broken.join('; ')}`);

console.log(
  JSON.stringify({
    bench: 'kv',
    keyCount: keys.length,
    valueBytes,
    setOpsPerSec,
    casOpsPerSec,
    getOpsPerSec,
    recurse100OpsPerSec,
    txn4OpsPerSec,
  }),
);
