/**
 * The flight recorder: every input a real node's core receives (start, messages, timers, client
 * requests, check results), with its `nowMs`, plus a hash of the effects the core answered with.
 * `replayRecording` feeds the same inputs into a fresh runtime built the same way (same mounts, same
 * PRNG seed, same durable state) and compares every step's effects: a production incident becomes a
 * deterministic simulation.
 *
 * File: a sequence of frames `[u32 BE length][msgpack]`; the first is the header, then one frame per
 * input `{ i: Input, h: effectsHash }`, and (version 2) one frame per send or reply as it leaves the
 * process, `{ l: [step, effect], d: durableMarker }` — which effect of which step, and the storage's
 * durable marker at that moment — after a `{ b: writtenMarker }` frame giving the storage's marker
 * when recording began. With them the replay audits the ORDERING RULE of the recorded run (every send
 * and reply left after the persists emitted before it were durable, `early` ones aside) and serves as
 * a leg of the driver conformance suite (test/conformance/driver.test.ts). Frames are written with one
 * synchronous write each, so they are in the page cache before the step's effects leave the process:
 * a kill -9 loses nothing that influenced the outside world (power loss may).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { Prng, type PrngState } from '../core/prng.js';
import { NodeRuntime, type Envelope, type Mount, type NodeRequest } from '../core/runtime.js';
import type { DurableLog, DurableState, Effect, Input } from '../core/types.js';
import { decode, encode } from './codec.js';

export const recordingVersion = 2;
/** Versions this build reads: 1 had no departure frames (its replay audits nothing). */
const readableVersions: ReadonlySet<number> = new Set([1, 2]);

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

/** A send or reply that left the process: effect `effect` of recorded step `step`, and the durable marker then. */
export interface RecordedLeave {
  readonly step: number;
  readonly effect: number;
  readonly durable: number;
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

  /** The storage's written marker as recording begins (persists from here on count up from it). */
  markerBase(writtenMarker: number): void {
    this.frame({ b: writtenMarker });
  }

  /** Effect `effect` of step `step` (0-based, as `stepCount` counted them) left; the storage was durable up to `durable`. */
  left(step: number, effect: number, durable: number): void {
    this.frame({ l: [step, effect], d: durable });
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

export interface Recording {
  readonly header: RecordingHeader;
  readonly steps: RecordedStep[];
  /** Departures in the order they happened (empty for a version-1 recording). */
  readonly leaves: RecordedLeave[];
  /** The storage's written marker when recording began. */
  readonly markerBase: number;
  readonly truncated: boolean;
}

export function readRecording(file: string): Recording {
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
  if (!readableVersions.has(header.version))
    throw new Error(
      `${file}: recording version ${header.version}, this build reads ${[...readableVersions].join(', ')}`,
    );
  const steps: RecordedStep[] = [];
  const leaves: RecordedLeave[] = [];
  let markerBase = 0;
  for (const [index, frame] of frames.slice(1).entries()) {
    const f = frame as { i?: unknown; h?: unknown; l?: unknown; d?: unknown; b?: unknown };
    if (f.i !== undefined && typeof f.h === 'string') steps.push(frame as RecordedStep);
    else if (Array.isArray(f.l) && typeof f.d === 'number')
      leaves.push({ step: Number(f.l[0]), effect: Number(f.l[1]), durable: f.d });
    else if (typeof f.b === 'number') markerBase = f.b;
    else throw new Error(`${file}: frame ${index + 1} is neither an input, a departure nor a marker base`);
  }
  return { header, steps, leaves, markerBase, truncated };
}

/** A send or reply of the replayed run that left, with what the ORDERING RULE asked of it. */
export interface ReplayedLeave {
  readonly step: number;
  readonly effect: Effect;
  /** The storage marker of the latest persist emitted before it (the marker it had to wait for). */
  readonly needed: number;
  /** The durable marker when it left, as recorded. */
  readonly durable: number;
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
  /** Every departure the recording holds, matched to its replayed effect (version 2). */
  readonly leaves: readonly ReplayedLeave[];
  /** Departures that broke the ORDERING RULE (left before a persist emitted ahead of them was durable). */
  readonly orderingViolations: readonly string[];
  /** The runtime after the last replayed step (its machines' state, for a test or an investigation). */
  readonly runtime: NodeRuntime;
}

/**
 * Replays a recording into a fresh runtime built with `mounts(assembly)`, and audits its departures:
 * each recorded send or reply is matched to the effect the replay produced at that step and position;
 * unless `early`, it must have left with the durable marker at or past the last persist emitted before
 * it (counting from the marker base, one marker per persist effect, as the driver's storage does).
 */
export function replayRecording(file: string, mounts: (assembly: unknown) => Mount[]): ReplayResult {
  const { header, steps, leaves, markerBase, truncated } = readRecording(file);
  const durable: DurableState = { records: new Map(header.durable.records), logs: new Map(header.durable.logs) };
  const runtime = new NodeRuntime(header.nodeId, mounts(header.assembly), durable, new Prng(header.prng));
  const recorded = createHash('sha256');
  const replayed = createHash('sha256');
  let divergence: ReplayResult['divergence'] = null;
  // For each step: its effects, and the persist marker each send/reply needed.
  const stepEffects: (readonly Effect[])[] = [];
  const neededAt: number[][] = [];
  let written = markerBase;
  for (const [index, step] of steps.entries()) {
    const effects = runtime.step(step.i);
    const h = effectsHash(effects);
    recorded.update(step.h);
    replayed.update(h);
    if (h !== step.h && !divergence)
      divergence = { step: index, input: step.i, recorded: step.h, replayed: h, effects };
    const needed: number[] = [];
    for (const effect of effects) {
      if (effect.kind === 'persist') written++;
      needed.push(written);
    }
    stepEffects.push(effects);
    neededAt.push(needed);
  }
  const matched: ReplayedLeave[] = [];
  const orderingViolations: string[] = [];
  for (const leave of leaves) {
    const effect = stepEffects[leave.step]?.[leave.effect];
    if (!effect || (effect.kind !== 'send' && effect.kind !== 'reply')) {
      orderingViolations.push(`departure of step ${leave.step} effect ${leave.effect}: no such send or reply`);
      continue;
    }
    const needed = neededAt[leave.step]![leave.effect]!;
    matched.push({ step: leave.step, effect, needed, durable: leave.durable });
    if (!effect.early && leave.durable < needed)
      orderingViolations.push(
        `step ${leave.step}: a ${effect.kind} left with the disk durable to marker ${leave.durable}, before marker ${needed} it depends on`,
      );
  }
  return {
    stepCount: steps.length,
    traceHashRecorded: recorded.digest('hex').slice(0, 16),
    traceHashReplayed: replayed.digest('hex').slice(0, 16),
    divergence,
    truncated,
    leaves: matched,
    orderingViolations,
    runtime,
  };
}
