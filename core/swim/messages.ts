/**
 * SWIM wire messages (the `p` of a node envelope for machine 'swim'). The message and update `t`/`k`
 * tags are append-only. Names are the papers' nouns: ping, ack, ping-req (SWIM §3.1), nack
 * (Lifeguard §4.3), and the piggy-backed membership updates alive / suspect / dead (SWIM §4.2).
 *
 * Every field a peer can send is validated by `checkMessage` before use: `step` never throws for a
 * peer's bytes.
 */
import type { NodeId } from '../types.js';
import type { UserEvent } from './api.js';
import { isCoordinate, type Coordinate } from './coordinate.js';

/** A membership update carried in gossip and piggy-backed on probes. */
export type SwimUpdate =
  /** `id` is alive at incarnation `inc` with these tags (join, refutation, tag change). */
  | {
      readonly k: 'alive';
      readonly id: NodeId;
      readonly inc: number;
      readonly tags: Readonly<Record<string, string>>;
      readonly name?: string;
    }
  /** `from` suspects `id` at incarnation `inc`. */
  | { readonly k: 'suspect'; readonly id: NodeId; readonly inc: number; readonly from: NodeId }
  /** `from` declares `id` failed at `inc`. When from === id it is a graceful leave intent. */
  | { readonly k: 'dead'; readonly id: NodeId; readonly inc: number; readonly from: NodeId }
  /** A Serf user event. */
  | { readonly k: 'event'; readonly event: UserEvent };

/** One member's state in a push-pull exchange. */
export interface MemberState {
  readonly id: NodeId;
  readonly name?: string;
  readonly inc: number;
  readonly st: 'alive' | 'suspect' | 'dead' | 'left';
  readonly tags: Readonly<Record<string, string>>;
}

export type SwimMessage =
  /**
   * Direct probe. `target` guards against a misdelivered packet (memberlist checks the node name).
   * `tcp`: the TCP fallback probe, sent on the stream channel and answered on it (probe.ts).
   */
  | {
      readonly t: 'ping';
      readonly seq: number;
      readonly target: NodeId;
      readonly tcp?: true;
      readonly u?: readonly SwimUpdate[];
    }
  /**
   * `c`: the acking member's network coordinate (optional; a direct probe's round trip uses it). `tcp`:
   * the answer to a TCP fallback ping.
   */
  | {
      readonly t: 'ack';
      readonly seq: number;
      readonly c?: Coordinate;
      readonly tcp?: true;
      readonly u?: readonly SwimUpdate[];
    }
  /** Ask the receiver to probe `target` for us and forward the ack; `nack` asks for a nack on timeout. */
  | {
      readonly t: 'pingReq';
      readonly seq: number;
      readonly target: NodeId;
      readonly nack: boolean;
      readonly u?: readonly SwimUpdate[];
    }
  /** Lifeguard §4.3: the indirect prober got no ack in time (so our own link works). */
  | { readonly t: 'nack'; readonly seq: number }
  | { readonly t: 'gossip'; readonly u: readonly SwimUpdate[] }
  /** Full-state exchange over the stream channel. `reply` = this answers a push; `join` = sent by join. */
  | {
      readonly t: 'pushPull';
      readonly join: boolean;
      readonly reply: boolean;
      readonly members: readonly MemberState[];
      /**
       * Present when sender and receiver share a boot roster (large simulations): `members` then
       * lists only the members the sender holds explicitly, and every other roster member except
       * these reaped ones is, at the sender, alive at incarnation 0 with the roster's tags. The same
       * content as the full list, without 10,000 identical entries per exchange. Real agents have no
       * roster and never send it.
       */
      readonly rosterReaped?: readonly NodeId[];
      readonly ltime: number;
      readonly events: readonly UserEvent[];
    };

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isId = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= 512;
const isInc = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

function isTags(x: unknown): x is Record<string, string> {
  if (!isObject(x)) return false;
  for (const key in x) if (typeof x[key] !== 'string') return false;
  return true;
}

export function checkUserEvent(x: unknown): x is UserEvent {
  if (!isObject(x)) return false;
  if (typeof x.name !== 'string' || typeof x.id !== 'string' || !isInc(x.ltime)) return false;
  if (x.payload !== null && !(x.payload instanceof Uint8Array)) return false;
  for (const f of ['nodeFilter', 'serviceFilter', 'tagFilter'] as const)
    if (x[f] !== undefined && typeof x[f] !== 'string') return false;
  return true;
}

export function checkUpdate(x: unknown): x is SwimUpdate {
  if (!isObject(x)) return false;
  switch (x.k) {
    case 'alive':
      return isId(x.id) && isInc(x.inc) && isTags(x.tags) && (x.name === undefined || typeof x.name === 'string');
    case 'suspect':
    case 'dead':
      return isId(x.id) && isInc(x.inc) && isId(x.from);
    case 'event':
      return checkUserEvent(x.event);
    default:
      return false;
  }
}

function checkUpdates(x: unknown): boolean {
  if (x === undefined) return true;
  return Array.isArray(x) && x.length <= 1024 && x.every(checkUpdate);
}

function checkMemberState(x: unknown): x is MemberState {
  if (!isObject(x)) return false;
  const st = x.st;
  return (
    isId(x.id) &&
    isInc(x.inc) &&
    isTags(x.tags) &&
    (x.name === undefined || typeof x.name === 'string') &&
    (st === 'alive' || st === 'suspect' || st === 'dead' || st === 'left')
  );
}

/** Bound on members in one push-pull (the scenario format allows 20,000 nodes). */
export const pushPullMembersMax = 100_000;

/** True when `x` is a well-formed SwimMessage. Malformed messages are dropped with a trace. */
export function checkMessage(x: unknown): x is SwimMessage {
  if (!isObject(x)) return false;
  switch (x.t) {
    case 'ping':
      return isInc(x.seq) && isId(x.target) && (x.tcp === undefined || x.tcp === true) && checkUpdates(x.u);
    case 'ack':
      return (
        isInc(x.seq) &&
        (x.c === undefined || isCoordinate(x.c)) &&
        (x.tcp === undefined || x.tcp === true) &&
        checkUpdates(x.u)
      );
    case 'pingReq':
      return isInc(x.seq) && isId(x.target) && typeof x.nack === 'boolean' && checkUpdates(x.u);
    case 'nack':
      return isInc(x.seq);
    case 'gossip':
      return Array.isArray(x.u) && checkUpdates(x.u);
    case 'pushPull':
      return (
        typeof x.join === 'boolean' &&
        typeof x.reply === 'boolean' &&
        isInc(x.ltime) &&
        Array.isArray(x.members) &&
        x.members.length <= pushPullMembersMax &&
        x.members.every(checkMemberState) &&
        (x.rosterReaped === undefined ||
          (Array.isArray(x.rosterReaped) &&
            x.rosterReaped.length <= pushPullMembersMax &&
            x.rosterReaped.every(isId))) &&
        Array.isArray(x.events) &&
        x.events.every(checkUserEvent)
      );
    default:
      return false;
  }
}
