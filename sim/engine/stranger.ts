/**
 * The stranger fault: a process on the cluster's network that is not a member. It sniffs every
 * message the members exchange and, during the safety phase, injects three kinds of message at
 * members:
 *
 *   - replay:  a captured message sent again, unchanged, from its true sender to its true receiver,
 *              any time later (an old vote, an old append, an old reply);
 *   - forge:   a captured message with 1..3 distinct numbers (terms, indexes, lengths) or flags
 *              rewritten, sent to any member under any sender id it claims (a member's, or its own);
 *   - garbage: bytes that are not a message, or a message-shaped value with random fields.
 *
 * The link model decides what arrives (scenario `stranger links=...`): 'open' is plain TCP/UDP, where
 * the receiver trusts the sender id written in the frame, so everything arrives; 'authenticated' is
 * gossip encryption plus mutual TLS, where the stranger holds no key or certificate, so forgeries and
 * garbage die at the link. Replays are judged by what carries them: gossip (SWIM, datagrams and
 * push-pull streams alike) is sealed with the shared key by AES-GCM, which has no replay window
 * (memberlist's design), so a replayed gossip message arrives; RPC and Raft go over mutual TLS, whose
 * records are numbered under keys fresh to each session, so a recorded record replayed into any
 * session fails its MAC and dies at the link. On open links every replay arrives.
 *
 * `numbers=out-of-range` forges only numbers that no legitimate peer can send (above 2^53 − 1,
 * negative, fractional, or a term more than 2^32 past the sniffed one): every such message must be
 * dropped at the wire-decode boundary (core/raft/messages.ts `checkMessage`, `checkTermJump`), so with
 * that mode even open links must keep safety and liveness.
 *
 * Every draw comes from the `stranger` random stream, so turning the stranger on does not reshuffle
 * any other subsystem's draws, and a scenario without it keeps its trace hashes.
 */
import type { Prng } from '../../core/prng.js';
import type { Envelope } from '../../core/runtime.js';
import type { NodeId } from '../../core/types.js';
import type { StrangerKind, StrangerSpec } from '../scenario.js';

/** Captured messages kept for replay and forgery (a ring, with some old ones kept at random). */
export const capturedMax = 256;

/** Deepest level of a captured message the forger walks into (entries inside an append are at 3). */
const forgeDepthMax = 6;

/**
 * Keys whose values are application payloads the protocol carries without reading (a Raft entry's
 * `command`). `numbers=out-of-range` leaves them alone: no range rule can apply to opaque data, so a
 * rewritten command under a member's id is an in-range forgery, which only authenticated links stop.
 */
const opaqueKeys = new Set(['command']);

/** The id the stranger uses when it does not impersonate a member. */
export const strangerId = 'stranger';

export interface Injection {
  readonly kind: StrangerKind;
  readonly to: number;
  readonly claimedFrom: NodeId;
  /** What is put on the wire: an envelope-shaped value, or raw bytes (garbage with the codec). */
  readonly message: unknown;
  readonly bytes: Uint8Array | null;
  /** Replays of a member's own message that the link model lets through when links are authenticated. */
  readonly authentic: boolean;
  /** One line for the trace ("forged raft vote from n2 to n3: term=9007199254740992"). */
  readonly description: string;
}

interface Captured {
  readonly from: number;
  readonly to: number;
  readonly message: Envelope;
  /** Sent on the stream channel (TCP; TLS on authenticated links unless it is gossip). */
  readonly stream: boolean;
}

/**
 * Machines whose traffic is sealed by the gossip key (AES-GCM, no replay window) rather than TLS, on
 * both channels: memberlist encrypts its push-pull TCP streams with the same keyring as its UDP packets.
 */
export const gossipMachines: ReadonlySet<string> = new Set(['swim']);

export class Stranger {
  private readonly captured: Captured[] = [];
  private ringNext = 0;
  /** `rogueRefused`: members' messages to or from a rogue (rogue=) that died at the link (TLS refused them). */
  readonly counts = { replay: 0, forge: 0, garbage: 0, droppedAtLink: 0, rogueRefused: 0 };

  constructor(
    readonly spec: StrangerSpec,
    private readonly nodeIds: readonly NodeId[],
    private readonly prng: Prng,
  ) {}

  /** Sees one message a member sent (before the network decides its fate). */
  sniff(from: number, to: number, message: Envelope, stream: boolean): void {
    const item = { from, to, message, stream };
    if (this.captured.length < capturedMax) {
      this.captured.push(item);
      return;
    }
    // Mostly the newest messages, but one in four lands on a random slot, so old terms survive.
    if (this.prng.below(4) === 0) this.captured[this.prng.below(capturedMax)] = item;
    else {
      this.captured[this.ringNext] = item;
      this.ringNext = (this.ringNext + 1) % capturedMax;
    }
  }

  /** Delay before the next injection (ms): uniform in (0, 2 × every], so the mean is `every`. */
  gapMs(): number {
    const spanUs = Math.max(2, Math.round(this.spec.everyMs * 2000));
    return (1 + this.prng.below(spanUs)) / 1000;
  }

  /** One-way latency of an injected message (µs), from the stranger's own stream: 0..5 ms. */
  latencyUs(): number {
    return this.prng.below(5000);
  }

  /** The next message to inject, or null when there is nothing to work from yet. */
  next(codec: boolean): Injection | null {
    const kind = this.prng.pick(this.spec.kinds);
    if (kind === 'garbage') return this.garbage(codec);
    if (this.captured.length === 0) return null;
    const sample = this.captured[this.prng.below(this.captured.length)]!;
    if (kind === 'replay') {
      this.counts.replay++;
      return {
        kind,
        to: sample.to,
        claimedFrom: this.nodeIds[sample.from]!,
        message: sample.message,
        bytes: null,
        // A replay is the member's own message: it passes an AES-GCM gossip link, not a TLS stream.
        authentic: !sample.stream || gossipMachines.has(sample.message.m),
        description: `replayed a ${sample.message.m} ${typeName(sample.message)} from ${this.nodeIds[sample.from]} to ${this.nodeIds[sample.to]}`,
      };
    }
    return this.forge(sample);
  }

  private forge(sample: Captured): Injection {
    this.counts.forge++;
    const changes: string[] = [];
    let message = sample.message as unknown;
    const mutationCount = 1 + this.prng.below(3);
    // Distinct leaves: two rewrites of one number could cancel out (19 → 19.5 → 20 is a plain replay,
    // which `numbers=out-of-range` must never send: agent/stranger-out-of-range seed 5 re-ran a write).
    const mutated = new Set<string>();
    for (let i = 0; i < mutationCount; i++) message = this.mutateOne(message, changes, mutated);
    const to = this.prng.below(this.nodeIds.length);
    const claimedFrom = this.prng.below(8) === 0 ? strangerId : this.prng.pick(this.nodeIds);
    return {
      kind: 'forge',
      to,
      claimedFrom,
      message,
      bytes: null,
      authentic: false,
      description: `forged a ${sample.message.m} ${typeName(sample.message)} from ${claimedFrom} to ${this.nodeIds[to]}: ${changes.join(' ') || 'resent'}`,
    };
  }

  /** Rewrites one leaf (a number, or in `numbers=any` mode a flag too) of a copy of `value`. */
  private mutateOne(value: unknown, changes: string[], mutated: Set<string>): unknown {
    const all: { path: (string | number)[]; value: number | boolean }[] = [];
    const any = this.spec.numbers === 'any';
    collectLeaves(value, [], all, any, any ? null : opaqueKeys);
    const leaves = all.filter((leaf) => !mutated.has(leaf.path.join('.')));
    if (leaves.length === 0) return value;
    const leaf = this.prng.pick(leaves);
    mutated.add(leaf.path.join('.'));
    const key = String(leaf.path[leaf.path.length - 1]);
    const replacement = typeof leaf.value === 'boolean' ? !leaf.value : this.forgeNumber(leaf.value, key);
    changes.push(`${leaf.path.join('.')}=${replacement}`);
    return setAt(value, leaf.path, 0, replacement);
  }

  private forgeNumber(v: number, key: string): number {
    const termLike = /term/i.test(key);
    if (this.spec.numbers === 'out-of-range') {
      const choices = [2 ** 53, 2 ** 53 + 2, 2 ** 64, 1e300, -1, -(2 ** 53), v + 0.5];
      // A term more than 2^32 past any term the receiver can hold: legitimate peers move one at a time.
      // 2^53 − 1 itself is a safe integer, but a cluster at that term can never elect again.
      if (termLike) choices.push(v + 2 ** 33 + this.prng.below(2 ** 20), 2 ** 53 - 1);
      return this.prng.pick(choices);
    }
    return this.prng.pick([
      v + 1,
      v + 2,
      v - 1,
      0,
      this.prng.below(64),
      2 ** 53,
      2 ** 53 - 1,
      v + 2 ** 32 + 1,
      2 ** 31,
      -1,
      v + 0.5,
    ]);
  }

  private garbage(codec: boolean): Injection {
    this.counts.garbage++;
    const to = this.prng.below(this.nodeIds.length);
    const claimedFrom = this.prng.below(4) === 0 ? strangerId : this.prng.pick(this.nodeIds);
    const base = { kind: 'garbage' as const, to, claimedFrom, authentic: false };
    if (codec && this.prng.below(3) === 0) {
      const bytes = new Uint8Array(1 + this.prng.below(48));
      for (let i = 0; i < bytes.length; i++) bytes[i] = this.prng.below(256);
      return { ...base, message: null, bytes, description: `sent ${bytes.length} random bytes to ${this.nodeIds[to]}` };
    }
    const machines = [...new Set(this.captured.map((c) => c.message.m))];
    const types = [...new Set(this.captured.map((c) => typeName(c.message)))];
    const m = machines.length > 0 && this.prng.below(4) !== 0 ? this.prng.pick(machines) : this.randomValue(1, types);
    const message = { m, p: this.randomValue(0, types) };
    return { ...base, message, bytes: null, description: `sent a garbage value to ${this.nodeIds[to]}` };
  }

  /** A random plain value, message-shaped more often than not (keys and type names from the wire). */
  private randomValue(depth: number, types: readonly string[]): unknown {
    const r = this.prng;
    const pick = depth >= 3 ? r.below(6) : r.below(9);
    switch (pick) {
      case 0:
        return null;
      case 1:
        return r.below(2) === 0;
      case 2:
        return r.pick([0, 1, -1, 2 ** 53, 2 ** 31, 0.5, -(2 ** 60), 1e300, r.below(100)]);
      case 3:
        return r.pick(['', 'x', 'raft', 'append', 'vote', 'ping', ...types]);
      case 4:
        return types.length > 0 ? r.pick(types) : 'vote';
      case 5:
        return r.below(1000);
      case 6: {
        const length = r.below(4);
        return Array.from({ length }, () => this.randomValue(depth + 1, types));
      }
      default: {
        const keys = [
          'type',
          't',
          'term',
          'index',
          'prevIndex',
          'prevTerm',
          'entries',
          'commit',
          'from',
          'incarnation',
        ];
        const out: Record<string, unknown> = {};
        if (types.length > 0 && r.below(2) === 0) out[r.pick(['type', 't'])] = r.pick(types);
        const count = r.below(5);
        for (let i = 0; i < count; i++) out[r.pick(keys)] = this.randomValue(depth + 1, types);
        return out;
      }
    }
  }
}

function collectLeaves(
  value: unknown,
  path: (string | number)[],
  out: { path: (string | number)[]; value: number | boolean }[],
  flags: boolean,
  skip: ReadonlySet<string> | null,
): void {
  if (path.length > forgeDepthMax) return;
  if (typeof value === 'number') out.push({ path, value });
  else if (typeof value === 'boolean' && flags) out.push({ path, value });
  else if (Array.isArray(value)) value.forEach((v, i) => collectLeaves(v, [...path, i], out, flags, skip));
  else if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array))
    for (const [k, v] of Object.entries(value)) if (!skip?.has(k)) collectLeaves(v, [...path, k], out, flags, skip);
}

/** A copy of `value` with the leaf at `path` replaced (copies only along the path). */
function setAt(value: unknown, path: readonly (string | number)[], at: number, leaf: unknown): unknown {
  if (at === path.length) return leaf;
  const key = path[at]!;
  if (Array.isArray(value)) {
    const copy = [...value];
    copy[key as number] = setAt(value[key as number], path, at + 1, leaf);
    return copy;
  }
  const obj = value as Record<string, unknown>;
  return { ...obj, [key]: setAt(obj[key as string], path, at + 1, leaf) };
}

function typeName(message: Envelope): string {
  const p = message.p as { type?: unknown; t?: unknown } | null;
  const t = p && typeof p === 'object' ? (p.type ?? p.t) : undefined;
  return typeof t === 'string' || typeof t === 'number' ? String(t) : '?';
}
