/**
 * Anti-entropy (memberlist pushPull, Serf join/reconnect): a full-state exchange over the stream
 * channel. Used three ways:
 *  - periodically with one random live member, so that anything gossip missed converges;
 *  - on `join`, with each given peer (the joiner learns everybody, everybody learns the joiner);
 *  - on reconnect (Serf), with a random failed member, so that the two sides of a healed partition
 *    find each other again.
 *
 * Unlike memberlist, the answering side merges the push before replying, so a member told it is
 * failed replies with its refutation already in place; the two sides of a healed partition then
 * learn each other's new incarnations in one exchange.
 */
import type { NodeId } from '../types.js';
import type { UserEvent } from './api.js';
import { pushPullIntervalScaledMs } from './config.js';
import { checkLtimeJump, handleUserEvent, recentEvents, witness } from './events.js';
import type { MemberRecord } from './members.js';
import type { MemberState, SwimMessage } from './messages.js';
import {
  isActive,
  pendingJoinsMax,
  prngOf,
  randomMembers,
  respond,
  sendStream,
  type Responder,
  type Step,
  type SwimState,
} from './state.js';
import { checkIncarnationJump, onAlive, onDead, onMergedSuspect } from './updates.js';
import { assert } from '../assert.js';

function memberState(s: SwimState, record: MemberRecord): MemberState {
  // Another member marked leaving by a force-leave here is, as far as anyone else should hear, alive.
  const leavingSelf = record.status === 'leaving' && record.id === s.selfId;
  const st =
    record.status === 'alive' || (record.status === 'leaving' && !leavingSelf)
      ? 'alive'
      : record.status === 'suspect'
        ? 'suspect'
        : record.status === 'failed'
          ? 'dead'
          : 'left';
  return record.name === record.id
    ? { id: record.id, inc: record.incarnation, st, tags: record.tags }
    : { id: record.id, name: record.name, inc: record.incarnation, st, tags: record.tags };
}

export function localState(s: SwimState, join: boolean, reply: boolean): Extract<SwimMessage, { t: 'pushPull' }> {
  const members: MemberState[] = [];
  const events: UserEvent[] = recentEvents(s);
  if (s.members.rosterOf !== null) {
    // Implicit roster members (alive, incarnation 0, roster tags) go without saying: see `rosterReaped`.
    for (const record of s.members.materialised()) members.push(memberState(s, record));
    return {
      t: 'pushPull',
      join,
      reply,
      members,
      rosterReaped: s.members.reapedRosterIds(),
      ltime: s.eventClock,
      events,
    };
  }
  s.members.forEach((record) => members.push(memberState(s, record)));
  return { t: 'pushPull', join, reply, members, ltime: s.eventClock, events };
}

/** memberlist mergeState: alive → alive; suspect or dead → suspect (we prefer to suspect); left → leave. */
function mergeRemoteState(step: Step, from: NodeId, message: Extract<SwimMessage, { t: 'pushPull' }>): void {
  for (const m of message.members) {
    // The same wire hygiene as a gossiped update (updates.ts): a member state whose incarnation jumps
    // more than 2^32 past the one we hold is dropped, the rest of the exchange still merged.
    if (!checkIncarnationJump(step, m.id, m.inc, `push-pull ${m.st}`, from)) continue;
    switch (m.st) {
      case 'alive':
        onAlive(
          step,
          m.name === undefined
            ? { k: 'alive', id: m.id, inc: m.inc, tags: m.tags }
            : { k: 'alive', id: m.id, inc: m.inc, tags: m.tags, name: m.name },
        );
        break;
      case 'suspect':
      case 'dead':
        onMergedSuspect(step, m.id, m.inc, from);
        break;
      case 'left':
        onDead(step, { k: 'dead', id: m.id, inc: m.inc, from: m.id });
        break;
    }
  }
  if (message.rosterReaped !== undefined) mergeImplicitRoster(step, message);
  if (checkLtimeJump(step, message.ltime, from)) witness(step.s, message.ltime);
  for (const event of message.events) if (checkLtimeJump(step, event.ltime, from)) handleUserEvent(step, event);
}

/**
 * The roster members a compact push-pull leaves implicit (alive at incarnation 0 at the sender).
 * Merging `alive@0` is a no-op for every member we know (our incarnation is at least 0), so only two
 * cases can change anything, exactly as the full list would: a roster member we reaped (we learn it
 * again) and ourselves (an alive claim about us is checked against our own incarnation and tags).
 */
function mergeImplicitRoster(step: Step, message: Extract<SwimMessage, { t: 'pushPull' }>): void {
  const { s } = step;
  const roster = s.members.rosterOf;
  if (roster === null) return; // only nodes sharing a roster send the compact form
  const explicit = new Set<NodeId>(message.members.map((m) => m.id));
  const senderReaped = new Set<NodeId>(message.rosterReaped);
  const implicitAtSender = (id: NodeId): boolean =>
    roster.indexOf.has(id) && !explicit.has(id) && !senderReaped.has(id);
  for (const id of s.members.reapedRosterIds())
    if (implicitAtSender(id)) onAlive(step, { k: 'alive', id, inc: 0, tags: roster.tags });
  if (implicitAtSender(s.selfId)) onAlive(step, { k: 'alive', id: s.selfId, inc: 0, tags: roster.tags });
}

export function onPushPull(step: Step, from: NodeId, message: Extract<SwimMessage, { t: 'pushPull' }>): void {
  const { s } = step;
  if (!isActive(s)) return;
  mergeRemoteState(step, from, message);
  if (!message.reply) {
    sendStream(step, from, localState(s, false, true));
    return;
  }
  s.joined = true;
  if (s.joinPeers.includes(from)) s.joinPeerAnswered = true;
  s.counters.pushPulls++;
  for (const [id, join] of s.joins) {
    if (!join.waiting.delete(from)) continue;
    join.okCount++;
    if (join.waiting.size === 0) finishJoin(step, id);
  }
}

/** Starts a join: push our state to every peer; answer when all replied or at the join timeout. */
export function startJoin(step: Step, peers: readonly NodeId[], responder: Responder): void {
  const { s } = step;
  const targets = [...new Set(peers)].filter((peer) => peer !== s.selfId);
  if (targets.length === 0) {
    respond(step, responder, { ok: false, error: 'join: no peers other than this node' });
    return;
  }
  if (s.joins.size >= pendingJoinsMax) {
    respond(step, responder, { ok: false, error: 'join: too many joins in progress' });
    return;
  }
  const id = ++s.seq;
  s.joins.set(id, { responder, waiting: new Set(targets), okCount: 0 });
  assert(s.joins.size <= pendingJoinsMax, 'pending joins bounded');
  const state = localState(s, true, false);
  for (const peer of targets) sendStream(step, peer, state);
  step.ctx.emit({ kind: 'setTimer', timer: `join:${id}`, afterMs: s.config.joinTimeoutMs });
}

export function finishJoin(step: Step, id: number): void {
  const { s } = step;
  const join = s.joins.get(id);
  if (!join) return;
  s.joins.delete(id);
  step.ctx.emit({ kind: 'cancelTimer', timer: `join:${id}` });
  if (join.okCount > 0) respond(step, join.responder, { ok: true, joined: join.okCount });
  else
    respond(step, join.responder, { ok: false, error: `join: no peer answered within ${s.config.joinTimeoutMs} ms` });
}

/** Periodic push-pull with one random live member. */
export function onPushPullTimer(step: Step): void {
  const { s } = step;
  step.ctx.emit({
    kind: 'setTimer',
    timer: 'pushPull',
    afterMs: pushPullIntervalScaledMs(s.config.pushPullIntervalMs, s.members.size),
  });
  if (!isActive(s) || s.self.status !== 'alive') return;
  const [peer] = randomMembers(step, 1, (r) => r.status === 'alive');
  if (peer) sendStream(step, peer.id, localState(s, false, false));
}

/**
 * Serf reconnect: with probability failed/live, push-pull with one random failed member. And a member
 * pushes its state to each of its join peers that it holds left or does not know (to all of them when
 * it holds no other member live), as Consul's retry_join does before the first join.
 *
 * Why the second part: a member's peers may crash, be force-left by an operator (so it no longer tries
 * them: reconnect is for failed members only) and restart without memory, finding each other through
 * their own join peers. Nobody among them then knows the members that force-left them, and those know
 * none of them live: two clusters that never merge — one member alone (swim/explore-crash seed 232) or
 * several that know only each other (seed 1614: n5 and n6). Serf escapes through its snapshot — a
 * restarted member rejoins the members it knew alive — which this core, keeping no membership on disk,
 * lacks. The join peers are the members every restarted one reaches first, so pushing to them merges
 * the two sides; the push makes a join peer held left refute that (a higher incarnation).
 * Cost: nothing while every join peer is held live or failed; one push-pull per interval to a join
 * peer that left for good (as retry_join would keep dialling an address that is gone).
 */
export function onReconnectTimer(step: Step): void {
  const { s } = step;
  step.ctx.emit({ kind: 'setTimer', timer: 'reconnect', afterMs: s.config.reconnectIntervalMs });
  if (!isActive(s) || s.self.status !== 'alive') return;
  if (s.joined) {
    const alone = s.members.liveCount <= 1;
    const lost = s.joinPeers.filter((peer) => {
      if (peer === s.selfId) return false;
      const status = s.members.get(peer)?.status;
      return alone || status === undefined || status === 'left';
    });
    if (lost.length > 0) {
      const state = localState(s, true, false);
      for (const peer of lost) sendStream(step, peer, state);
    }
  }
  const failed = s.members.failedIds;
  if (failed.size === 0) return;
  const prng = prngOf(step);
  const live = Math.max(1, s.members.liveCount);
  if (failed.size < live && !prng.chance(failed.size, live)) return;
  const skip = prng.below(failed.size);
  let i = 0;
  for (const id of failed) {
    if (i++ !== skip) continue;
    sendStream(step, id, localState(s, true, false));
    return;
  }
}

/**
 * Serf reconnect, on evidence: a member we hold failed has just sent us a datagram — it probes us or
 * gossips to us because it holds us alive — so it runs, most likely in a new life whose `alive` we
 * missed. An alive is retransmitted only retransmitMult·⌈log10(n+1)⌉ times, so a member cut off
 * while it spread never hears it; memberlist leaves that to the periodic exchanges (the reconnect
 * timer's coin, failed/live every reconnectInterval, and the push-pull with a random member every
 * pushPullInterval: 30 s each on a LAN), so the member stays failed here, and `critical` in the
 * catalog when we lead, for up to half a minute while it serves. Push-pull with it now: its reply
 * carries its current incarnation. At most once per probe interval per member, so a flood of
 * datagrams under its id (replayed, or forged on open links) costs at most one stream per failed
 * member per probe interval. Found by the explorer: agent/stranger-authenticated seed 2889 (n5
 * restarted while n3 was cut off; n3 still held it failed 20 s after the heal).
 */
export function maybeReconnectHeard(step: Step, from: NodeId): void {
  const { s } = step;
  if (!s.members.failedIds.has(from)) return;
  const askedMs = s.reconnectHeardMs.get(from);
  // A clock stepped back (askedMs in the future) does not silence the member for the jump's length.
  if (askedMs !== undefined && step.nowMs >= askedMs && step.nowMs - askedMs < s.config.probeIntervalMs) return;
  for (const id of s.reconnectHeardMs.keys()) if (!s.members.failedIds.has(id)) s.reconnectHeardMs.delete(id);
  s.reconnectHeardMs.set(from, step.nowMs);
  assert(s.reconnectHeardMs.size <= s.members.failedIds.size, 'reconnect marks only for failed members');
  sendStream(step, from, localState(s, true, false));
}

/**
 * Retry `joinPeers` (Consul's retry_join) until one of them has answered a push-pull. Not until anyone
 * has: the servers of a DC flood-join each other into the WAN pool, and a server whose own WAN join
 * failed (its DC cut off from the WAN at start) was then counted joined, stopped retrying, and the two
 * DCs formed two WAN pools for ever (multidc/explore seeds 421 and 436 of 1..1000).
 */
export function onJoinRetryTimer(step: Step): void {
  const { s } = step;
  if (s.joinPeerAnswered || !isActive(s) || s.joinPeers.length === 0) return;
  step.ctx.emit({ kind: 'setTimer', timer: 'joinRetry', afterMs: s.config.joinRetryMs });
  const state = localState(s, true, false);
  for (const peer of s.joinPeers) if (peer !== s.selfId) sendStream(step, peer, state);
}
