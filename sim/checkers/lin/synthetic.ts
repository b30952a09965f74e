/**
 * Synthetic register histories that are linearizable by construction, for benchmarks and tests: each
 * client issues one operation at a time; every operation gets a linearization point inside its
 * interval, and outputs are computed by applying the operations in linearization-point order to one
 * register per key. Some outcomes are made unknown (half of those never took effect).
 */
import { Prng } from '../../../core/prng.js';
import { UNKNOWN, type LinOp, type RegisterInput } from './types.js';

export interface SyntheticConfig {
  readonly seed: number;
  readonly opCount: number;
  readonly keyCount: number;
  readonly clientCount: number;
  /** Values written are 0..valueCount-1 (few values → states repeat, cas succeeds often). */
  readonly valueCount: number;
  /** Per mille of operations with an unknown outcome. */
  readonly unknownPerMille: number;
  /** Latency before and after the linearization point, each uniform in 0..latencyMsMax. */
  readonly latencyMsMax: number;
}

export const syntheticDefaults: SyntheticConfig = {
  seed: 1,
  opCount: 10_000,
  keyCount: 100,
  clientCount: 50,
  valueCount: 5,
  unknownPerMille: 20,
  latencyMsMax: 20,
};

export function syntheticRegisterHistory(config: Partial<SyntheticConfig> = {}): LinOp<RegisterInput, unknown>[] {
  const c = { ...syntheticDefaults, ...config };
  const prng = new Prng(c.seed);
  interface Draft {
    input: RegisterInput;
    call: number;
    point: number;
    ret: number;
    process: number;
    fate: 'ok' | 'unknown-happened' | 'unknown-never';
  }
  const drafts: Draft[] = [];
  const clock = new Array<number>(c.clientCount).fill(0);
  let process = 0;
  const processOf = Array.from({ length: c.clientCount }, () => process++);
  for (let i = 0; i < c.opCount; i++) {
    const client = prng.below(c.clientCount);
    const key = String(prng.below(c.keyCount));
    const kind = prng.below(10);
    const input: RegisterInput =
      kind < 5
        ? { f: 'read', key }
        : kind < 8
          ? { f: 'write', key, value: prng.below(c.valueCount) }
          : { f: 'cas', key, from: prng.below(c.valueCount), to: prng.below(c.valueCount) };
    const call = clock[client]! + prng.below(5);
    const point = call + prng.below(c.latencyMsMax + 1);
    const ret = point + prng.below(c.latencyMsMax + 1);
    const unknown = prng.below(1000) < c.unknownPerMille;
    const fate = !unknown ? 'ok' : prng.chance(1, 2) ? 'unknown-happened' : 'unknown-never';
    drafts.push({ input, call, point, ret, process: processOf[client]!, fate });
    if (unknown) processOf[client] = process++; // Jepsen: a crashed worker comes back as a new process
    clock[client] = unknown ? call + 1 : ret + 1;
  }
  const byPoint = drafts.map((d, i) => ({ d, i })).sort((a, b) => a.d.point - b.d.point || a.i - b.i);
  const state = new Map<string, number | null>();
  const outputs = new Array<unknown>(drafts.length);
  for (const { d, i } of byPoint) {
    const key = d.input.key!;
    const current = state.get(key) ?? null;
    if (d.fate === 'unknown-never') {
      outputs[i] = UNKNOWN;
      continue;
    }
    let output: unknown = null;
    if (d.input.f === 'read') output = current;
    else if (d.input.f === 'write') state.set(key, d.input.value as number);
    else {
      output = current === d.input.from;
      if (output) state.set(key, d.input.to as number);
    }
    outputs[i] = d.fate === 'ok' ? output : UNKNOWN;
  }
  return drafts.map((d, i) => ({
    id: i,
    process: d.process,
    input: d.input,
    output: outputs[i],
    callTime: d.call,
    returnTime: d.fate === 'ok' ? d.ret : Infinity,
  }));
}
