/**
 * The flight recorder: every input a real node's core receives (start, messages, timers, client
 * requests, check results), with its `nowMs`, plus a hash of the effects the core answered with.
 * `replayRecording` feeds the same inputs into a fresh runtime built the same way (same mounts, same
 * PRNG seed, same durable state) and compares every step's effects: a production incident becomes a
 * deterministic simulation.
 *
 * File: a sequence of frames `[u32 BE length][msgpack]`; the first is the header, then one frame per
 * input `{ i: Input, h: effectsHash }`. Frames are written with one synchronous write each, so they
 * are in the page cache before the step's effects leave the process: a kill -9 loses nothing that
 * influenced the outside world (power loss may).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { Prng, type PrngState } from '../core/prng.js';
import { NodeRuntime, type Envelope, type Mount, type NodeRequest } from '../core/runtime.js';
import type { DurableLog, DurableState, Effect, Input } from '../core/types.js';
import { decode, encode } from './codec.js';

export const recordingVersion = 1;

export interface RecordingHeader {
  readonly kind: 'conclave-recording';
  readonly version: number;
  readonly nodeId: string;
  readonly prng: PrngState;
  /** What the replayer needs to rebuild the mounts (the agent's config); opaque here. */
  readonly assembly: unknown;
  readonly durable: { records: [string, unknown][]; logs: [string, DurableLog][] };
  readonly startedAtMs: number;
}

export interface RecordedStep {
  readonly i: Input<Envelope, NodeRequest>;
  /** First 16 hex digits of SHA-256 over the msgpack of the step's effects. */
  readonly h: string;
}

export function effectsHash(effects: readonly Effect[]): string {
  return createHash('sha256').update(encode(effects)).digest('hex').slice(0, 16);
}

export class Recorder {
  private readonly fd: number;
  private readonly trace = createHash('sha256');
  stepCount = 0;

  constructor(
    readonly file: string,
    header: Omit<RecordingHeader, 'kind' | 'version'>,
  ) {
    this.fd = fs.openSync(file, 'w');
    this.frame({ kind: 'conclave-recording', version: recordingVersion, ...header } satisfies RecordingHeader);
  }

  static durableForHeader(durable: DurableState): RecordingHeader['durable'] {
    return { records: [...durable.records], logs: [...durable.logs] };
  }

  /** Normalises a value the way the file will give it back, so the live core sees what replay sees. */
  static normalise<T>(value: T): T {
    return decode(encode(value)) as T;
  }

  /**
   * Encodes an input BEFORE the core steps on it: a machine may keep and mutate parts of a message
   * (merging a member list in place), and the file must hold what the core was given.
   */
  encodeInput(input: Input<Envelope, NodeRequest>): Buffer {
    return encode(input);
  }

  step(encodedInput: Buffer, effects: readonly Effect[]): void {
    const h = effectsHash(effects);
    this.trace.update(h);
    this.stepCount++;
    // { i: <input>, h } spelled as msgpack by hand so the input bytes are the ones taken before the step.
    const hBytes = encode(h);
    const body = Buffer.concat([Buffer.from([0x82, 0xa1, 0x69]), encodedInput, Buffer.from([0xa1, 0x68]), hBytes]);
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(body.length, 0);
    fs.writeSync(this.fd, Buffer.concat([head, body]));
  }

  traceHash(): string {
    return this.trace.copy().digest('hex').slice(0, 16);
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  private frame(value: unknown): void {
    const body = encode(value);
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(body.length, 0);
    fs.writeSync(this.fd, Buffer.concat([head, body]));
  }
}

export function readRecording(file: string): { header: RecordingHeader; steps: RecordedStep[]; truncated: boolean } {
  const bytes = fs.readFileSync(file);
  const frames: unknown[] = [];
  let at = 0;
  let truncated = false;
  while (at < bytes.length) {
    if (at + 4 > bytes.length) {
      truncated = true;
      break;
    }
    const length = bytes.readUInt32BE(at);
    if (at + 4 + length > bytes.length) {
      truncated = true; // the process died mid-write: the last input never reached the core
      break;
    }
    frames.push(decode(bytes.subarray(at + 4, at + 4 + length)));
    at += 4 + length;
  }
  const header = frames[0] as RecordingHeader | undefined;
  if (!header || header.kind !== 'conclave-recording') throw new Error(`${file}: not a conclave recording`);
  if (header.version !== recordingVersion)
    throw new Error(`${file}: recording version ${header.version}, this build reads ${recordingVersion}`);
  return { header, steps: frames.slice(1) as RecordedStep[], truncated };
}

export interface ReplayResult {
  readonly stepCount: number;
  readonly traceHashRecorded: string;
  readonly traceHashReplayed: string;
  /** The first step whose effects differ, or null when the replay reproduced every decision. */
  readonly divergence: {
    readonly step: number;
    readonly input: unknown;
    readonly recorded: string;
    readonly replayed: string;
    readonly effects: readonly Effect[];
  } | null;
  readonly truncated: boolean;
}

/** Replays a recording into a fresh runtime built with `mounts(assembly)`. */
export function replayRecording(file: string, mounts: (assembly: unknown) => Mount[]): ReplayResult {
  const { header, steps, truncated } = readRecording(file);
  const durable: DurableState = { records: new Map(header.durable.records), logs: new Map(header.durable.logs) };
  const runtime = new NodeRuntime(header.nodeId, mounts(header.assembly), durable, new Prng(header.prng));
  const recorded = createHash('sha256');
  const replayed = createHash('sha256');
  let divergence: ReplayResult['divergence'] = null;
  for (const [index, step] of steps.entries()) {
    const effects = runtime.step(step.i);
    const h = effectsHash(effects);
    recorded.update(step.h);
    replayed.update(h);
    if (h !== step.h && !divergence)
      divergence = { step: index, input: step.i, recorded: step.h, replayed: h, effects };
  }
  return {
    stepCount: steps.length,
    traceHashRecorded: recorded.digest('hex').slice(0, 16),
    traceHashReplayed: replayed.digest('hex').slice(0, 16),
    divergence,
    truncated,
  };
}
