/**
 * Failure detection (SWIM §3.1, §4.3; Lifeguard §4.1, §4.3; memberlist probeNode). Once per probe
 * period this member pings the next member of a randomized round-robin order. No ack within the probe
 * timeout: it asks k others to ping-req the target. No ack by the end of the period: it suspects.
 *
 * Randomized round-robin (SWIM §4.3): each round visits every position exactly once, in the order
 * (a·i + b) mod L with a coprime to L and a, b fresh random draws per round. This bounds the time
 * until every member is probed by each other member (≤ 2 rounds) and makes each period's target
 * uniformly random, which is what the e/(e−1) first-detection expectation needs. It stores O(1) per
 * node instead of a shuffled list of n ids, which a 10,000-node simulation cannot afford. (Unlike a
 * full shuffle, only L·φ(L) of the L! orders are reachable; the SWIM analysis needs neither.)
 */
import type { NodeId } from '../types.js';
import { isLive, type MemberRecord } from './members.js';
import type { SwimMessage, SwimUpdate } from './messages.js';
import {
  isActive,
  prngOf,
  randomMembers,
  sendDatagram,
  sendStream,
  indirectProbesMax,
  trace,
  type Step,
} from './state.js';
import { leaveIntent, onSuspect, selfAlive } from './updates.js';
import { observe } from './coordinate.js';
import { assert } from '../assert.js';

function gcd(a: number, b: number): number {
  for (let i = 0; b !== 0 && i < 64; i++) [a, b] = [b, a % b];
  return a;
}

/** The next member to probe, or null when there is nobody else alive. */
export function nextProbeTarget(step: Step): MemberRecord | null {
  const { s } = step;
  const round = s.round;
  const attemptsMax = s.members.positionCount + 2;
  for (let attempt = 0; attempt < attemptsMax; attempt++) {
    if (round.index >= round.length) {
      s.members.compact();
      round.length = s.members.positionCount;
      round.index = 0;
      if (round.length === 0) return null;
      const prng = prngOf(step);
      round.b = prng.below(round.length);
      round.a = 1;
      for (let draw = 0; draw < 16 && round.length > 2; draw++) {
        const a = prng.between(1, round.length - 1);
        if (gcd(a, round.length) === 1) {
          round.a = a;
          break;
        }
      }
    }
    const position = (round.a * round.index + round.b) % round.length;
    round.index++;
    if (position >= s.members.positionCount) continue; // compacted away (never within a round, kept for safety)
    const id = s.members.idAt(position);
    if (id === s.selfId) continue;
    const record = s.members.get(id);
    if (record && isLive(record.status)) return record;
  }
  return null;
}

/** The probe timer: finish the previous probe if its period is over, then probe the next member. */
export function onProbeTimer(step: Step): void {
  const { s } = step;
  // Finish the previous probe first: it may change our local health, and this probe's period and its
  // timeout (pt) must be scaled alike. The period was scaled before, so when the previous probe raised
  // the multiplier the new probe's timeout outlasted its period: the next tick suspected the target
  // with no indirect probe and no TCP fallback (swim/udp-loss-fallback seed 138: a 1 s period, a 2 s
  // timeout).
  if (s.probe && s.probe.phase !== 'done') finishProbe(step, s.probe.seq);
  step.ctx.emit({ kind: 'setTimer', timer: 'probe', afterMs: s.awareness.scale(s.config.probeIntervalMs) });
  if (!isActive(s) || s.self.status !== 'alive') return; // a leaving member stops accusing others
  const target = nextProbeTarget(step);
  if (target === null) return;
  const seq = ++s.seq;
  s.probe = {
    seq,
    target: target.id,
    incarnation: target.incarnation,
    phase: 'direct',
    sentMs: step.nowMs,
    acked: false,
    nacks: 0,
    expectedNacks: 0,
  };
  s.counters.probes++;
  sendDatagram(step, target.id, { t: 'ping', seq, target: target.id }, buddyUpdates(step, target));
  step.ctx.emit({ kind: 'setTimer', timer: `pt:${seq}`, afterMs: s.awareness.scale(s.config.probeTimeoutMs) });
}

/**
 * Lifeguard buddy system (§4.3): a suspect hears of its suspicion on the very probe, so it can refute.
 * A member force-left here while live hears the leave intent on every probe until it refutes.
 */
function buddyUpdates(step: Step, target: MemberRecord): SwimUpdate[] {
  if (step.s.config.lifeguard && target.status === 'suspect')
    return [{ k: 'suspect', id: target.id, inc: target.incarnation, from: step.s.selfId }];
  return target.status === 'leaving' ? [leaveIntent(target)] : [];
}

/**
 * No direct ack in time: ask k members to ping-req the target (SWIM §3.1), with nacks (Lifeguard §4.3),
 * and — memberlist's TCP fallback — ping the target over the stream channel too. Any ack, from a helper
 * or over the stream, ends the probe without suspicion (onAck).
 */
export function onProbeTimeout(step: Step, seq: number): void {
  const { s } = step;
  const probe = s.probe;
  if (!probe || probe.seq !== seq || probe.phase !== 'direct') return;
  probe.phase = 'indirect';
  const helpers = randomMembers(step, s.config.indirectChecks, (r) => r.id !== probe.target && r.status === 'alive');
  for (const helper of helpers)
    sendDatagram(step, helper.id, { t: 'pingReq', seq, target: probe.target, nack: s.config.lifeguard });
  const target = s.members.get(probe.target);
  if (s.config.tcpFallbackPing && target !== undefined) {
    // With the buddy updates, as on the datagram ping: a suspect whose datagrams are lost learns of its
    // suspicion here, refutes, and its ack (onPing) carries the refutation back.
    s.counters.tcpFallbackPings++;
    const buddy = buddyUpdates(step, target);
    sendStream(step, probe.target, {
      t: 'ping',
      seq,
      target: probe.target,
      tcp: true,
      ...(buddy.length > 0 ? { u: buddy } : {}),
    });
  }
  probe.expectedNacks = s.config.lifeguard ? helpers.length : 0;
  const restMs = s.awareness.scale(s.config.probeIntervalMs) - s.awareness.scale(s.config.probeTimeoutMs);
  step.ctx.emit({ kind: 'setTimer', timer: `pe:${seq}`, afterMs: Math.max(0, restMs) });
}

/** End of the probe period: without any ack, suspect the target (SWIM §4.2), and adjust local health. */
export function finishProbe(step: Step, seq: number): void {
  const { s } = step;
  const probe = s.probe;
  if (!probe || probe.seq !== seq || probe.phase === 'done') return;
  const wasDirect = probe.phase === 'direct';
  probe.phase = 'done';
  if (wasDirect) step.ctx.emit({ kind: 'cancelTimer', timer: `pt:${seq}` });
  if (probe.acked) return;
  if (s.config.lifeguard) {
    // Lifeguard §4.1: missing nacks mean our own links are suspect too.
    const delta = probe.expectedNacks > 0 ? probe.expectedNacks - probe.nacks : 1;
    s.awareness.applyDelta(delta);
  }
  const record = s.members.get(probe.target);
  if (!record || !isLive(record.status)) return;
  onSuspect(step, { k: 'suspect', id: probe.target, inc: probe.incarnation, from: s.selfId });
}

export function onPing(step: Step, from: NodeId, message: Extract<SwimMessage, { t: 'ping' }>): void {
  const { s } = step;
  if (message.target !== s.selfId || !isActive(s)) return; // misdelivered, or we are gone
  // The ack carries our coordinate, so the prober can place itself (Serf's ping delegate). A TCP
  // fallback ping is answered on the stream channel, as memberlist answers on the same connection.
  // (Beyond memberlist) a TCP ack carries our own alive record: the prober's datagrams are failing, so
  // our gossip — a refutation of its suspicion of us above all — may not reach it (a member whose
  // datagrams were cut held a refuted suspicion for its whole timeout and declared a live member
  // failed: swim/udp-loss-fallback seed 11).
  if (message.tcp === true)
    sendStream(step, from, { t: 'ack', seq: message.seq, c: s.vivaldi.coordinate, tcp: true, u: [selfAlive(step)] });
  else sendDatagram(step, from, { t: 'ack', seq: message.seq, c: s.vivaldi.coordinate });
}

export function onAck(step: Step, message: Extract<SwimMessage, { t: 'ack' }>): void {
  const { s } = step;
  const probe = s.probe;
  if (probe && probe.seq === message.seq) {
    if (probe.phase === 'done' || probe.acked) return;
    probe.acked = true;
    if (probe.phase === 'direct') {
      if (s.config.lifeguard) s.awareness.applyDelta(-1);
      step.ctx.emit({ kind: 'cancelTimer', timer: `pt:${message.seq}` });
      // Only a direct ack measures the round trip to the target itself.
      if (message.c !== undefined)
        observe(s.vivaldi, probe.target, message.c, (step.nowMs - probe.sentMs) / 1000, prngOf(step));
    } else {
      step.ctx.emit({ kind: 'cancelTimer', timer: `pe:${message.seq}` });
      if (message.tcp === true) {
        // memberlist: "Was able to connect to X over TCP but UDP probes failed, network may be misconfigured".
        s.counters.tcpFallbackSaves++;
        trace(step, { type: 'swim.tcpFallback', node: s.selfId, target: probe.target });
      }
    }
    probe.phase = 'done';
    return;
  }
  const indirect = s.indirect.get(message.seq);
  if (indirect) {
    s.indirect.delete(message.seq);
    step.ctx.emit({ kind: 'cancelTimer', timer: `ir:${message.seq}` });
    sendDatagram(step, indirect.requester, { t: 'ack', seq: indirect.requesterSeq });
  }
}

export function onNack(step: Step, message: Extract<SwimMessage, { t: 'nack' }>): void {
  const probe = step.s.probe;
  if (probe && probe.seq === message.seq && probe.phase === 'indirect') probe.nacks++;
}

/** Serve a ping-req: ping the target with our own seq and remember whom to tell. */
export function onPingReq(step: Step, from: NodeId, message: Extract<SwimMessage, { t: 'pingReq' }>): void {
  const { s } = step;
  if (!isActive(s) || message.target === s.selfId) return;
  if (s.indirect.size >= indirectProbesMax) return; // overload: the requester's other helpers cover it
  const seq = ++s.seq;
  s.indirect.set(seq, { requester: from, requesterSeq: message.seq, nack: message.nack });
  assert(s.indirect.size <= indirectProbesMax, 'indirect probes bounded');
  sendDatagram(step, message.target, { t: 'ping', seq, target: message.target });
  step.ctx.emit({ kind: 'setTimer', timer: `ir:${seq}`, afterMs: s.config.probeTimeoutMs });
}

/** Our indirect ping got no ack: nack the requester if asked (Lifeguard §4.3). */
export function onIndirectTimeout(step: Step, seq: number): void {
  const { s } = step;
  const indirect = s.indirect.get(seq);
  if (!indirect) return;
  s.indirect.delete(seq);
  if (indirect.nack) sendDatagram(step, indirect.requester, { t: 'nack', seq: indirect.requesterSeq });
}
