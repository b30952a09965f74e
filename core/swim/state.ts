/**
 * SWIM's per-node state and the small helpers every mechanism shares: sending a datagram with
 * piggy-backed updates packed under the packet limit, telling the observer, answering callers.
 */
import { assert } from '../assert.js';
import type { Prng } from '../prng.js';
import { traceEffect, type TraceEvent } from '../trace.js';
import type { NodeId, StepContext } from '../types.js';
import type { Member, SwimLocalOutput, SwimNotice, SwimResponse, UserEvent } from './api.js';
import { Awareness } from './awareness.js';
import { BroadcastQueue } from './broadcast.js';
import { retransmitLimit, type SwimConfig } from './config.js';
import { MemberRecord, MemberTable } from './members.js';
import type { SwimMessage, SwimUpdate } from './messages.js';
import { messageBaseBytes, updateBytes as updateBytesOf } from './size.js';
import type { Suspicion } from './suspicion.js';
import { initVivaldi, type VivaldiState } from './coordinate.js';

/** Who is waiting for an answer: a node-level request, a sibling's local call, or nobody (internal). */
export type Responder =
  | { readonly kind: 'reply'; readonly requestId: number }
  | { readonly kind: 'local'; readonly machine: string; readonly requestId: number }
  | { readonly kind: 'none' };

/** The probe in flight (one at a time, SWIM §3.1). */
export interface Probe {
  readonly seq: number;
  readonly target: NodeId;
  /** Target's incarnation when probed; a failed probe suspects exactly this incarnation. */
  readonly incarnation: number;
  phase: 'direct' | 'indirect' | 'done';
  /** Local time the direct ping left: its ack's round trip feeds the network coordinate. */
  readonly sentMs: number;
  acked: boolean;
  nacks: number;
  expectedNacks: number;
}

/** A ping-req we are serving: our own ping's seq → whom to tell. */
export interface IndirectProbe {
  readonly requester: NodeId;
  readonly requesterSeq: number;
  readonly nack: boolean;
}

/** A randomized round-robin probe round: positions visited in the order (a·i + b) mod length. */
export interface ProbeRound {
  length: number;
  a: number;
  b: number;
  index: number;
}

export interface PendingJoin {
  readonly responder: Responder;
  readonly waiting: Set<NodeId>;
  okCount: number;
}

/** Counters for the view, the checkers and the benchmarks. */
export interface SwimCounters {
  probes: number;
  suspicionsRaised: number;
  failuresDeclared: number;
  refutations: number;
  pushPulls: number;
  datagramsSent: number;
  /** TCP fallback pings sent (config.tcpFallbackPing), and probes only their ack saved from suspicion. */
  tcpFallbackPings: number;
  tcpFallbackSaves: number;
}

export interface SwimState {
  readonly config: SwimConfig;
  readonly selfId: NodeId;
  readonly members: MemberTable;
  /** This node's own record (also in `members`); status alive, leaving or left. */
  readonly self: MemberRecord;
  readonly queue: BroadcastQueue;
  readonly awareness: Awareness;
  readonly suspicions: Map<NodeId, Suspicion>;
  readonly indirect: Map<number, IndirectProbe>;
  readonly joins: Map<number, PendingJoin>;
  /** Sequence numbers for probes and joins; strictly increasing. */
  seq: number;
  /** Generation counter for suspicion timer names. */
  timerGeneration: number;
  probe: Probe | null;
  round: ProbeRound;
  /** Serf's event clock: the Lamport time the next fired event gets. */
  eventClock: number;
  /** Ring of recent events indexed by ltime % eventBufferSize. */
  readonly eventSlots: ({ ltime: number; events: UserEvent[] } | undefined)[];
  /**
   * Local time (ms) of the last push-pull with each failed member that sent us a datagram
   * (`maybeReconnectHeard`). Keys are failed members only: pruned there, so size ≤ failed members.
   */
  readonly reconnectHeardMs: Map<NodeId, number>;
  /** True once some push-pull (join, periodic, reconnect) got a reply. */
  joined: boolean;
  /**
   * True once one of `joinPeers` answered a push-pull: Consul's retry_join stops then, and only then —
   * a reply from anyone else (a server of our own DC flood-joining us into the WAN pool) does not join
   * us to the peers we were told to join.
   */
  joinPeerAnswered: boolean;
  /** How many times this node started before (from its boot record); > 0 means a restart. */
  readonly bootCount: number;
  /** Peers to (re)join until one answers: config.joinPeers, or roster members after a restart. */
  joinPeers: readonly NodeId[];
  /** Who waits for the leave to finish. */
  leaveResponder: Responder | null;
  started: boolean;
  /** The gossip timer is armed (it runs only while the broadcast queue holds something). */
  gossipArmed: boolean;
  readonly counters: SwimCounters;
  /** This node's network coordinate (Vivaldi), fed by direct probes' round trips. */
  readonly vivaldi: VivaldiState;
  /** Calls of `invariants` so far (the expensive scans run on a fraction of them in large clusters). */
  invariantCalls: number;
}

/** Bounds (TigerBeetle style): each asserted where it is used. */
export const indirectProbesMax = 4096;
export const pendingJoinsMax = 64;

export function initState(selfId: NodeId, config: SwimConfig, bootCount = 0): SwimState {
  const members = new MemberTable(selfId, config.roster);
  const previous = members.get(selfId)?.status ?? null;
  const self = new MemberRecord(selfId, config.name === '' ? selfId : config.name, 0, 'alive', config.tags, 0);
  members.put(self, previous);
  return {
    config,
    selfId,
    members,
    self,
    queue: new BroadcastQueue(config.broadcastQueueMax),
    awareness: new Awareness(config.awarenessMaxMultiplier),
    suspicions: new Map(),
    indirect: new Map(),
    joins: new Map(),
    reconnectHeardMs: new Map(),
    seq: 0,
    timerGeneration: 0,
    probe: null,
    round: { length: 0, a: 1, b: 0, index: 0 },
    eventClock: 0,
    eventSlots: new Array(config.eventBufferSize).fill(undefined),
    joined: false,
    joinPeerAnswered: false,
    bootCount,
    joinPeers: config.joinPeers,
    leaveResponder: null,
    started: false,
    gossipArmed: false,
    invariantCalls: 0,
    counters: {
      probes: 0,
      suspicionsRaised: 0,
      failuresDeclared: 0,
      refutations: 0,
      pushPulls: 0,
      datagramsSent: 0,
      tcpFallbackPings: 0,
      tcpFallbackSaves: 0,
    },
    vivaldi: initVivaldi(),
  };
}

/** One step's working set: the state, the effect sink and the time. */
export interface Step {
  readonly s: SwimState;
  readonly ctx: StepContext<SwimMessage, SwimResponse>;
  readonly nowMs: number;
}

export const prngOf = (step: Step): Prng => step.ctx.prng;

export function toMember(record: MemberRecord): Member {
  return {
    id: record.id,
    name: record.name,
    incarnation: record.incarnation,
    status: record.status,
    tags: record.tags,
  };
}

/** The retransmit limit for the current cluster size (SWIM §4.1). */
export function currentRetransmitLimit(s: SwimState): number {
  return retransmitLimit(s.config.retransmitMult, s.members.size);
}

/**
 * Sends a datagram, filling the room left under packetBytesMax with queued updates. `first` are
 * updates that must ride along (the buddy system's suspect message) and go before the queue's; so do
 * the updates the message itself carries (`u`: a note told to one member — its refutation, a counter
 * to a stale accusation, a leave intent). Before 2026-12 the queue's updates replaced the message's
 * own whenever the queue held anything, so those notes were lost exactly when gossip was busy
 * (swim/slow-member-lifeguard seed 51: n4 told n1 it suspected it, n1 never heard, n4 marked the
 * healthy n1 failed 11 s later).
 */
export function sendDatagram(step: Step, to: NodeId, message: SwimMessage, first: readonly SwimUpdate[] = []): void {
  const { s } = step;
  assert(message.t !== 'pushPull', 'push-pull goes over the stream channel');
  let free = s.config.packetBytesMax - messageBaseBytes(message);
  const own = 'u' in message && message.u !== undefined ? message.u : [];
  const updates: SwimUpdate[] = [...first, ...own];
  for (const u of updates) free -= updateBytesOf(u);
  assert(free >= 0, `the updates a ${message.t} must carry exceed packetBytesMax`);
  for (const u of s.queue.take(free, currentRetransmitLimit(s))) updates.push(u);
  const out = updates.length > 0 ? ({ ...message, u: updates } as SwimMessage) : message;
  s.counters.datagramsSent++;
  step.ctx.emit({ kind: 'send', to, message: out, channel: 'datagram' });
}

export function sendStream(step: Step, to: NodeId, message: SwimMessage): void {
  step.s.counters.datagramsSent++;
  step.ctx.emit({ kind: 'send', to, message, channel: 'stream' });
}

export function notify(step: Step, notice: SwimNotice): void {
  const observer = step.s.config.observer;
  const payload: SwimLocalOutput = notice;
  if (observer !== null) step.ctx.emit({ kind: 'local', toMachine: observer, payload });
}

export function respond(step: Step, responder: Responder, response: SwimResponse): void {
  switch (responder.kind) {
    case 'reply':
      step.ctx.emit({ kind: 'reply', requestId: responder.requestId, response });
      return;
    case 'local': {
      const payload: SwimLocalOutput = { type: 'reply', requestId: responder.requestId, response };
      step.ctx.emit({ kind: 'local', toMachine: responder.machine, payload });
      return;
    }
    case 'none':
      return;
  }
}

/** Emits a typed trace event (core/trace.ts) at its type's level. */
export function trace(step: Step, event: TraceEvent): void {
  step.ctx.emit(traceEffect(event));
}

/** This node takes part in the protocol (probes, gossips, answers) — false once it has left. */
export const isActive = (s: SwimState): boolean => s.started && s.self.status !== 'left';

/**
 * Up to `k` distinct members chosen uniformly at random that pass `eligible`, excluding this node
 * (memberlist kRandomNodes: at most 3·n draws, so a few may be missed in tiny clusters).
 */
export function randomMembers(step: Step, k: number, eligible: (record: MemberRecord) => boolean): MemberRecord[] {
  const { s } = step;
  const positions = s.members.positionCount;
  const chosen: MemberRecord[] = [];
  if (positions === 0 || k <= 0) return chosen;
  const seen = new Set<NodeId>();
  const prng = prngOf(step);
  const drawsMax = 3 * positions + 3 * k;
  for (let draw = 0; draw < drawsMax && chosen.length < k; draw++) {
    const id = s.members.idAt(prng.below(positions));
    if (id === s.selfId || seen.has(id)) continue;
    seen.add(id);
    const record = s.members.get(id);
    if (record && eligible(record)) chosen.push(record);
  }
  return chosen;
}
