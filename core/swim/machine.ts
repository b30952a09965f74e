/**
 * The SWIM machine (named 'swim'): membership, failure detection and user events for one node, as
 * hashicorp/memberlist and Serf do it, with Lifeguard. This file routes inputs to the mechanisms —
 * probe.ts (failure detection), updates.ts (incarnations, suspicion, refutation), broadcast.ts
 * (piggy-backed dissemination), pushpull.ts (anti-entropy, join, reconnect), awareness.ts (local
 * health), events.ts (user events) — and holds the gossip and reaper timers, leave, and requests.
 *
 * Timers (names are local to the machine): probe, gossip, pushPull, reap, reconnect, joinRetry,
 * leave are periodic or one-shot singletons; pt:SEQ / pe:SEQ end the direct / indirect phase of
 * probe SEQ; ir:SEQ ends an indirect probe we serve; sus:GEN:ID ends a suspicion; join:SEQ a join.
 * The periodic ones re-arm themselves whatever the node's status, so they are armed exactly once.
 */
import { assert } from '../assert.js';
import type { Prng } from '../prng.js';
import type { DurableState, Input, Machine, NodeId, StepContext } from '../types.js';
import type { Member, SwimLocalInput, SwimLocalOutput, SwimRequest, SwimResponse, SwimView } from './api.js';
import { checkConfig, lanConfig, pushPullIntervalScaledMs, type SwimConfig } from './config.js';
import { fireEvent, recentEvents } from './events.js';
import { isGone, isLive } from './members.js';
import { forgetPeer, isCoordinate } from './coordinate.js';
import { checkMessage, type SwimMessage } from './messages.js';
import {
  finishProbe,
  onAck,
  onIndirectTimeout,
  onNack,
  onPing,
  onPingReq,
  onProbeTimeout,
  onProbeTimer,
} from './probe.js';
import {
  finishJoin,
  maybeReconnectHeard,
  onJoinRetryTimer,
  onPushPull,
  onPushPullTimer,
  onReconnectTimer,
  startJoin,
} from './pushpull.js';
import {
  currentRetransmitLimit,
  initState,
  isActive,
  notify,
  randomMembers,
  respond,
  sendDatagram,
  toMember,
  trace,
  type Responder,
  type Step,
  type SwimState,
} from './state.js';
import {
  applyUpdate,
  cancelSuspicion,
  changeStatus,
  leaveIntent,
  maybeTellSuspect,
  onDead,
  onSuspicionTimeout,
  selfAlive,
} from './updates.js';

export type { SwimState } from './state.js';

/** Storage key of the boot count (the runtime prefixes it: `swim/boots`). */
const bootRecord = 'boots';

/** Members a restarted roster-booted member asks to rejoin through. */
const rejoinPeersCount = 3;

export const swimMachine: Machine<
  SwimState,
  Partial<SwimConfig> | undefined,
  SwimMessage,
  SwimRequest,
  SwimResponse,
  SwimLocalInput,
  { readonly toMachine: string; readonly payload: SwimLocalOutput }
> = {
  name: 'swim',

  init(nodeId: NodeId, config: Partial<SwimConfig> | undefined, durable: DurableState, _prng: Prng): SwimState {
    // Like memberlist, SWIM keeps no membership on disk: a restarted member rejoins and refutes its old
    // life. It keeps one record, its boot count (a sliver of Serf's snapshot), so that a restarted
    // member knows to rejoin even when it has no join peers configured (a roster-booted simulation).
    const full: SwimConfig = { ...lanConfig, ...(config ?? {}) };
    const problems = checkConfig(full);
    assert(problems.length === 0, `bad SWIM config: ${problems.join('; ')}`);
    const boots = durable.records.get(bootRecord);
    return initState(nodeId, full, typeof boots === 'number' && Number.isSafeInteger(boots) && boots >= 0 ? boots : 0);
  },

  step(
    s: SwimState,
    input: Input<SwimMessage, SwimRequest, SwimLocalInput>,
    ctx: StepContext<SwimMessage, SwimResponse>,
  ): void {
    // SWIM's failure detector is its probes; a closed push-pull connection is not evidence (Lifeguard).
    if (input.kind === 'linkDown') return;
    const step: Step = { s, ctx, nowMs: input.nowMs };
    switch (input.kind) {
      case 'start':
        onStart(step);
        break;
      case 'message':
        onMessage(step, input.from, input.message);
        break;
      case 'timer':
        onTimer(step, input.timer);
        break;
      case 'request':
        onRequest(step, input.request, { kind: 'reply', requestId: input.requestId });
        break;
      case 'local': {
        // Siblings are our own code, but a call is still checked as a client's request would be.
        const call = input.payload;
        if (
          call === null ||
          typeof call !== 'object' ||
          typeof call.requestId !== 'number' ||
          typeof call.request !== 'object'
        ) {
          trace(step, { type: 'swim.malformedLocal', node: s.selfId, fromMachine: input.fromMachine });
          break;
        }
        onRequest(step, call.request, { kind: 'local', machine: input.fromMachine, requestId: call.requestId });
        break;
      }
      case 'checkResult':
        break;
    }
    maybeArmGossip(step);
  },

  invariants(s: SwimState): string[] {
    return swimInvariants(s);
  },

  view(s: SwimState): Record<string, unknown> {
    return swimView(s) as unknown as Record<string, unknown>;
  },
};

// ───────────────────────────────────────────── inputs ─────────────────────────────────────────────

function onStart(step: Step): void {
  const { s, ctx } = step;
  s.started = true;
  const prng = ctx.prng;
  ctx.emit({ kind: 'persist', ops: [{ op: 'put', key: bootRecord, value: s.bootCount + 1 }] });
  if (s.bootCount > 0 && s.joinPeers.length === 0 && s.config.roster !== null) {
    s.joinPeers = randomMembers(step, rejoinPeersCount, (r) => r.status === 'alive').map((r) => r.id);
  }
  // Random first offsets spread the cluster's probes and exchanges over the period (memberlist
  // staggers push-pull the same way).
  ctx.emit({ kind: 'setTimer', timer: 'probe', afterMs: prng.below(s.config.probeIntervalMs) });
  if (s.config.pushPullIntervalMs > 0) {
    ctx.emit({
      kind: 'setTimer',
      timer: 'pushPull',
      afterMs: prng.below(pushPullIntervalScaledMs(s.config.pushPullIntervalMs, s.members.size)),
    });
  }
  ctx.emit({ kind: 'setTimer', timer: 'reap', afterMs: s.config.reapIntervalMs });
  ctx.emit({ kind: 'setTimer', timer: 'reconnect', afterMs: s.config.reconnectIntervalMs });
  s.self.changedMs = step.nowMs;
  notify(step, { type: 'member', member: toMember(s.self), previous: null });
  // Announce ourselves (tags included) to whoever we already know; a roster member needs no news.
  if (s.config.roster === null || !s.config.roster.indexOf.has(s.selfId)) s.queue.enqueue(selfAlive(step));
  if (s.joinPeers.length > 0) onJoinRetryTimer(step);
}

function onMessage(step: Step, from: NodeId, message: unknown): void {
  const { s } = step;
  if (!s.started) return;
  if (!checkMessage(message)) {
    trace(step, { type: 'swim.malformedMessage', node: s.selfId, from });
    return;
  }
  if (!isActive(s)) return; // a member that left is silent
  // Piggy-backed updates first: a buddy suspect message must be seen before the ping is answered.
  if (message.t !== 'pushPull' && message.t !== 'nack' && message.u)
    for (const u of message.u) applyUpdate(step, u, from);
  maybeTellSuspect(step, from);
  // A push-pull merges the sender's own state; any other message from a member still held failed
  // (after its piggy-backed updates) is news that it runs.
  if (message.t !== 'pushPull') maybeReconnectHeard(step, from);
  switch (message.t) {
    case 'ping':
      onPing(step, from, message);
      return;
    case 'ack':
      onAck(step, message);
      return;
    case 'pingReq':
      onPingReq(step, from, message);
      return;
    case 'nack':
      onNack(step, message);
      return;
    case 'gossip':
      return;
    case 'pushPull':
      onPushPull(step, from, message);
      return;
  }
}

function onTimer(step: Step, timer: string): void {
  const colon = timer.indexOf(':');
  const kind = colon < 0 ? timer : timer.slice(0, colon);
  const seq = colon < 0 ? NaN : Number(timer.slice(colon + 1));
  switch (kind) {
    case 'probe':
      onProbeTimer(step);
      return;
    case 'pt':
      onProbeTimeout(step, seq);
      return;
    case 'pe':
      finishProbe(step, seq);
      return;
    case 'ir':
      onIndirectTimeout(step, seq);
      return;
    case 'sus':
      onSuspicionTimeout(step, timer);
      return;
    case 'gossip':
      onGossipTimer(step);
      return;
    case 'pushPull':
      onPushPullTimer(step);
      return;
    case 'reconnect':
      onReconnectTimer(step);
      return;
    case 'joinRetry':
      onJoinRetryTimer(step);
      return;
    case 'join':
      finishJoin(step, seq);
      return;
    case 'reap':
      onReapTimer(step);
      return;
    case 'leave':
      onLeaveTimer(step);
      return;
    default:
      assert(false, `swim: unknown timer ${timer}`);
  }
}

// ───────────────────────────────────────────── gossip ─────────────────────────────────────────────

/**
 * Every gossip interval, send queued updates to `gossipNodes` random members (SWIM §4.1 as memberlist
 * does it): live ones, and failed or left ones for gossipToTheDeadMs so they can learn and refute.
 * memberlist ticks even with nothing queued and then sends nothing; here the gossip timer is armed
 * only while something is queued (`maybeArmGossip` after every step), which sends the same messages
 * without 5 idle timer events per member per second — most of a quiet 10,000-member simulation.
 */
function maybeArmGossip(step: Step): void {
  const { s } = step;
  if (s.gossipArmed || s.queue.length === 0 || !isActive(s)) return;
  s.gossipArmed = true;
  step.ctx.emit({ kind: 'setTimer', timer: 'gossip', afterMs: s.config.gossipIntervalMs });
}

function onGossipTimer(step: Step): void {
  const { s } = step;
  s.gossipArmed = false;
  if (!isActive(s) || s.queue.length === 0) return;
  const targets = randomMembers(
    step,
    s.config.gossipNodes,
    (r) => isLive(r.status) || (isGone(r.status) && step.nowMs - r.changedMs < s.config.gossipToTheDeadMs),
  );
  for (const target of targets) {
    if (s.queue.length === 0) break;
    sendDatagram(step, target.id, { t: 'gossip', u: [] });
  }
}

// ───────────────────────────────────────────── reaping ─────────────────────────────────────────────

/** Serf's reaper: forget failed members after reconnectTimeoutMs and left ones after tombstoneTimeoutMs. */
function onReapTimer(step: Step): void {
  const { s } = step;
  step.ctx.emit({ kind: 'setTimer', timer: 'reap', afterMs: s.config.reapIntervalMs });
  if (!isActive(s)) return;
  const reaped = [];
  for (const record of s.members.materialised()) {
    if (record.id === s.selfId) continue;
    const ageMs = step.nowMs - record.changedMs;
    if (
      (record.status === 'failed' && ageMs > s.config.reconnectTimeoutMs) ||
      (record.status === 'left' && ageMs > s.config.tombstoneTimeoutMs)
    )
      reaped.push(record);
  }
  for (const record of reaped) {
    s.members.remove(record.id);
    forgetPeer(s.vivaldi, record.id);
    notify(step, { type: 'reaped', member: toMember(record) });
    trace(step, { type: 'swim.reaped', node: s.selfId, about: record.id, status: record.status });
  }
}

// ───────────────────────────────────────────── leave ─────────────────────────────────────────────

/** Graceful leave: broadcast the intent, keep answering while it spreads, then go silent. */
function startLeave(step: Step, responder: Responder): void {
  const { s } = step;
  if (s.self.status !== 'alive') {
    respond(step, responder, { ok: true });
    return;
  }
  changeStatus(step, s.self, 'leaving', s.self.incarnation, true);
  s.leaveResponder = responder;
  s.queue.enqueue({ k: 'dead', id: s.selfId, inc: s.self.incarnation, from: s.selfId });
  // Push the intent out at once rather than waiting for the next gossip round.
  onGossipNow(step);
  step.ctx.emit({ kind: 'setTimer', timer: 'leave', afterMs: s.config.leavePropagateMs });
}

function onGossipNow(step: Step): void {
  const { s } = step;
  const targets = randomMembers(step, s.config.gossipNodes, (r) => isLive(r.status));
  for (const target of targets) sendDatagram(step, target.id, { t: 'gossip', u: [] });
}

function onLeaveTimer(step: Step): void {
  const { s } = step;
  if (s.self.status !== 'leaving') return;
  changeStatus(step, s.self, 'left', s.self.incarnation, true);
  // Suspicion timers keep running: the view of a member that left is private and harmless, and it
  // stays consistent (every suspect has a timer) should the member join again.
  s.probe = null;
  const responder = s.leaveResponder;
  s.leaveResponder = null;
  if (responder) respond(step, responder, { ok: true });
}

/** A member that left may join again (a new life): higher incarnation, alive, timers already armed. */
function rejoinAfterLeave(step: Step): void {
  const { s } = step;
  changeStatus(step, s.self, 'alive', s.self.incarnation + 1, true);
  s.queue.enqueue(selfAlive(step));
}

// ───────────────────────────────────────────── requests ─────────────────────────────────────────────

function onRequest(step: Step, request: SwimRequest, responder: Responder): void {
  const { s } = step;
  if (request === null || typeof request !== 'object') {
    respond(step, responder, { ok: false, error: 'bad request' });
    return;
  }
  switch (request.type) {
    case 'join':
      if (!Array.isArray(request.peers) || !request.peers.every((p) => typeof p === 'string')) {
        respond(step, responder, { ok: false, error: 'join: peers must be a list of ids' });
        return;
      }
      if (s.self.status === 'left') rejoinAfterLeave(step);
      else if (s.self.status === 'leaving') {
        respond(step, responder, { ok: false, error: 'join: this member is leaving' });
        return;
      }
      startJoin(step, request.peers, responder);
      return;
    case 'leave':
      startLeave(step, responder);
      return;
    case 'forceLeave':
      respond(step, responder, forceLeave(step, String(request.name)));
      return;
    case 'members':
      respond(step, responder, { ok: true, members: listMembers(s) });
      return;
    case 'stats':
      respond(step, responder, {
        ok: true,
        stats: {
          counters: { ...s.counters, coordinateUpdates: s.vivaldi.updates, coordinateResets: s.vivaldi.resets },
          healthScore: s.awareness.score,
        },
      });
      return;
    case 'coordinate':
      respond(step, responder, { ok: true, coordinate: s.vivaldi.coordinate });
      return;
    case 'coordinates': {
      // Sorted by id: a Map's order is insertion order, which differs between nodes.
      const peers = [...s.vivaldi.peers]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([id, coordinate]) => ({ id, coordinate }));
      respond(step, responder, { ok: true, coordinate: s.vivaldi.coordinate, peers });
      return;
    }
    case 'setTags':
      respond(step, responder, setTags(step, request.tags));
      return;
    case 'fireEvent': {
      const e = request.event;
      if (
        e === null ||
        typeof e !== 'object' ||
        typeof e.name !== 'string' ||
        typeof e.id !== 'string' ||
        (e.payload !== null && !(e.payload instanceof Uint8Array))
      ) {
        respond(step, responder, { ok: false, error: 'fireEvent: needs name, id and a payload (bytes or null)' });
        return;
      }
      if (!isActive(s)) {
        respond(step, responder, { ok: false, error: 'fireEvent: this member has left' });
        return;
      }
      respond(step, responder, { ok: true, event: fireEvent(step, e) });
      return;
    }
    case 'events':
      respond(step, responder, { ok: true, events: recentEvents(s) });
      return;
    default:
      respond(step, responder, { ok: false, error: `unknown request ${String((request as { type?: unknown }).type)}` });
  }
}

function listMembers(s: SwimState): Member[] {
  const out: Member[] = [];
  s.members.forEach((record) => out.push(toMember(record)));
  return out;
}

/**
 * Serf force-leave. A failed member is marked left (and the intent gossiped) so it stops being
 * retried. A live member is marked leaving here (Serf's handleNodeLeaveIntent on an alive member) and
 * told so directly, now and on every probe while the mark lasts: a member that lives refutes with an
 * alive at a higher incarnation (Serf refutes a leave intent about itself), which clears the mark; one
 * that is really gone is suspected and failed by the probes like any other. Unlike Serf, the intent
 * about a live member is not gossiped to the rest of the cluster: they would mark it left and the
 * leader would deregister a node that is up, only to register it again on the refutation.
 */
function forceLeave(step: Step, name: string): SwimResponse {
  const { s } = step;
  let found: { id: NodeId; status: string; inc: number } | null = null;
  s.members.forEach((record) => {
    if (found === null && (record.name === name || record.id === name))
      found = { id: record.id, status: record.status, inc: record.incarnation };
  });
  const target = found as { id: NodeId; status: string; inc: number } | null;
  if (target === null) return { ok: false, error: `forceLeave: no member ${name}` };
  if (target.status === 'left') return { ok: true };
  if (target.status === 'failed') {
    onDead(step, { k: 'dead', id: target.id, inc: target.inc, from: target.id });
    return { ok: true };
  }
  if (target.id === s.selfId) return { ok: false, error: 'forceLeave: this is the local member; use leave' };
  const record = s.members.get(target.id)!;
  if (record.status !== 'leaving') {
    const suspicion = s.suspicions.get(record.id);
    if (suspicion) cancelSuspicion(step, suspicion);
    changeStatus(step, record, 'leaving', record.incarnation, true);
  }
  sendDatagram(step, record.id, { t: 'gossip', u: [leaveIntent(record)] });
  return { ok: true };
}

function setTags(step: Step, tags: unknown): SwimResponse {
  const { s } = step;
  if (tags === null || typeof tags !== 'object' || Object.values(tags).some((v) => typeof v !== 'string'))
    return { ok: false, error: 'setTags: tags must map strings to strings' };
  if (s.self.status !== 'alive') return { ok: false, error: `setTags: this member is ${s.self.status}` };
  s.self.tags = { ...(tags as Record<string, string>) };
  // A tag change is an alive message with a higher incarnation (memberlist UpdateNode).
  changeStatus(step, s.self, 'alive', s.self.incarnation + 1, true);
  s.queue.enqueue(selfAlive(step));
  return { ok: true };
}

// ───────────────────────────────────────── invariants and view ─────────────────────────────────────────

/**
 * Local invariants. The simulator calls this after every step, so the O(n) scans of the member table
 * run on every call only for small clusters and on every 256th call for large ones (a 1,000-member
 * run has ~10⁶ steps); the O(1) checks run every time.
 */
function pushAll(into: string[], texts: readonly string[]): void {
  for (let i = 0; i < texts.length; i++) into.push(texts[i]!);
}

export function swimInvariants(s: SwimState): string[] {
  s.invariantCalls++;
  const full = s.members.size <= 64 || s.invariantCalls % 256 === 0;
  // Concatenated by hand: spreading three (mostly empty) lists cost an iterator each, every step.
  const broken: string[] = [];
  if (full) pushAll(broken, s.members.invariants());
  pushAll(broken, s.awareness.invariants());
  pushAll(broken, s.queue.invariants(currentRetransmitLimit(s)));
  const self = s.members.get(s.selfId);
  if (self !== s.self) broken.push('own record missing from the member table');
  if (s.self.status !== 'alive' && s.self.status !== 'leaving' && s.self.status !== 'left')
    broken.push(`own status is ${s.self.status}`);
  if (!isCoordinate(s.vivaldi.coordinate))
    broken.push(`own network coordinate is not finite: ${JSON.stringify(s.vivaldi.coordinate)}`);
  for (const [id, suspicion] of s.suspicions) {
    const record = s.members.get(id);
    if (!record || record.status !== 'suspect')
      broken.push(`suspicion timer for ${id}, which is ${record?.status ?? 'unknown'}`);
    else if (record.incarnation !== suspicion.incarnation)
      broken.push(`suspicion of ${id} at incarnation ${suspicion.incarnation}, member at ${record.incarnation}`);
    if (
      suspicion.deadlineMs > suspicion.startMs + suspicion.maxMs ||
      suspicion.deadlineMs < suspicion.startMs + suspicion.minMs
    ) {
      broken.push(`suspicion of ${id} expires outside [min, max]`);
    }
  }
  if (full)
    for (const record of s.members.materialised()) {
      if (record.status === 'suspect' && !s.suspicions.has(record.id))
        broken.push(`suspect ${record.id} has no suspicion timer`);
    }
  if (!s.config.lifeguard && s.awareness.score !== 0) broken.push('plain SWIM changed its health score');
  if (s.self.status === 'left' && s.probe !== null) broken.push('a member that left is still probing');
  return broken;
}

export interface SwimViewFull extends SwimView {
  readonly self: { readonly status: string; readonly incarnation: number };
  readonly queued: number;
  readonly counters: SwimState['counters'];
}

export function swimView(s: SwimState): SwimViewFull {
  const members: { id: NodeId; status: Member['status']; incarnation: number }[] = [];
  s.members.forEach((r) => members.push({ id: r.id, status: r.status, incarnation: r.incarnation }));
  return {
    members,
    healthScore: s.awareness.score,
    self: { status: s.self.status, incarnation: s.self.incarnation },
    queued: s.queue.length,
    counters: { ...s.counters },
  };
}
