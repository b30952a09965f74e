/**
 * Applying membership updates (SWIM §4.2; memberlist aliveNode / suspectNode / deadNode): the
 * incarnation rules, refutation, suspicion timers, and re-broadcasting whatever was news. Every
 * status change goes through `changeStatus`, which checks the transition table in members.ts, keeps
 * the table's counters right, and tells the observer.
 */
import { assert } from '../assert.js';
import type { NodeId } from '../types.js';
import type { MemberStatus } from './api.js';
import { suspicionTimeoutMinMs } from './config.js';
import { checkTransition, MemberRecord } from './members.js';
import type { SwimUpdate } from './messages.js';
import { checkLtimeJump, handleUserEvent } from './events.js';
import { suspicionDeadlineMs, type Suspicion } from './suspicion.js';
import { notify, sendDatagram, toMember, trace, type Step } from './state.js';

/**
 * How far past the incarnation we hold for a member an update may be (2^32). A member's incarnation
 * moves one step per refutation, so a legitimate update never jumps this far; a forged one near 2^53
 * would leave the member unable to refute (inc + 1 no longer a safe integer). Wire hygiene, as Raft's
 * `termJumpMax`; a member we do not know yet has no bound.
 */
export const incarnationJumpMax = 2 ** 32;

/**
 * Wire hygiene: whether an update about `id` at incarnation `inc` is within `incarnationJumpMax` of the
 * incarnation we hold for it (or for us); traces and returns false when it is not. Gossip updates and
 * push-pull merges both pass through here, so neither path can push a member to an incarnation it could
 * never refute past.
 */
export function checkIncarnationJump(step: Step, id: string, inc: number, what: string, sender: string): boolean {
  const s = step.s;
  const known = id === s.self.id ? s.self.incarnation : s.members.get(id)?.incarnation;
  if (known === undefined || inc <= known + incarnationJumpMax) return true;
  trace(step, {
    type: 'swim.incarnationJumpDropped',
    node: s.self.id,
    update: what,
    about: id,
    from: sender,
    incarnation: inc,
    known,
  });
  return false;
}

/** Applies one piggy-backed or gossiped update that `sender` passed on to us. */
export function applyUpdate(step: Step, update: SwimUpdate, sender: string): void {
  if (update.k !== 'event' && !checkIncarnationJump(step, update.id, update.inc, update.k, sender)) return;
  if (update.k === 'event' && !checkLtimeJump(step, update.event.ltime, sender)) return;
  switch (update.k) {
    case 'alive':
      onAlive(step, update);
      return;
    case 'suspect':
      onSuspect(step, update, sender);
      return;
    case 'dead':
      onDead(step, update, sender);
      return;
    case 'event':
      handleUserEvent(step, update.event);
      return;
  }
}

function tagsEqual(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const key of ka) if (a[key] !== b[key]) return false;
  return true;
}

/** Sets a member's status (and incarnation), stores it and tells the observer. */
export function changeStatus(
  step: Step,
  record: MemberRecord,
  status: MemberStatus,
  incarnation: number,
  known: boolean,
  by: NodeId | null = null,
): void {
  const previous = known ? record.status : null;
  if (!checkTransition(previous, status))
    assert(false, `member ${record.id}: ${previous} → ${status} is not a SWIM transition`);
  assert(
    incarnation >= record.incarnation || !known,
    `member ${record.id}: incarnation went back ${record.incarnation} → ${incarnation}`,
  );
  const statusChanged = previous !== status;
  record.incarnation = incarnation;
  record.status = status;
  if (statusChanged) record.changedMs = step.nowMs;
  step.s.members.put(record, previous);
  notify(step, { type: 'member', member: toMember(record), previous });
  if (statusChanged && previous !== null)
    trace(step, {
      type: 'swim.marked',
      node: step.s.selfId,
      about: record.id,
      status,
      incarnation,
      ...(by !== null ? { by } : {}),
    });
  else if (previous === null && record.id !== step.s.selfId)
    trace(step, { type: 'swim.learned', node: step.s.selfId, about: record.id, status, incarnation });
}

/** alive(id, inc): a join, a refutation or a tag change (SWIM §4.2: alive overrides lower incarnations). */
export function onAlive(step: Step, a: Extract<SwimUpdate, { k: 'alive' }>): void {
  const { s } = step;
  if (a.id === s.selfId) {
    // Our own echo is ignored. A claim about us with a newer incarnation or other tags (a previous
    // life of this node, before a restart) must be overridden: refute — or, when we are leaving, repeat
    // the leave intent at that incarnation, which members that hold the old life take (an intent at our
    // new life's lower incarnation is old news to them: swim/restart-leave seed 1).
    if (a.inc < s.self.incarnation || (a.inc === s.self.incarnation && tagsEqual(a.tags, s.self.tags))) return;
    if (s.self.status === 'alive') refute(step, a.inc);
    else reassertLeave(step, a.inc);
    return;
  }
  // Fast path for the common stale case (push-pull repeats what we know) without building a record.
  const known = s.members.incarnationOf(a.id);
  if (known !== undefined && a.inc < known) return;
  if (known !== undefined && a.inc === known) {
    tellConflict(step, a);
    return;
  }
  const record = s.members.get(a.id);
  if (record === undefined) {
    const created = makeRecord(step, a);
    changeStatus(step, created, 'alive', a.inc, false);
    s.queue.enqueue(a);
    return;
  }
  if (a.inc <= record.incarnation) return;
  const suspicion = s.suspicions.get(a.id);
  if (suspicion) cancelSuspicion(step, suspicion);
  record.tags = a.tags;
  if (a.name !== undefined) record.name = a.name;
  changeStatus(step, record, 'alive', a.inc, true);
  s.queue.enqueue(a);
}

function makeRecord(step: Step, a: Extract<SwimUpdate, { k: 'alive' }>): MemberRecord {
  return new MemberRecord(a.id, a.name ?? a.id, a.inc, 'alive', a.tags, step.nowMs);
}

/** suspect(id, inc, from): start or confirm a suspicion (SWIM §4.2, Lifeguard §4.2). */
export function onSuspect(step: Step, u: Extract<SwimUpdate, { k: 'suspect' }>, sender: string | null = null): void {
  const { s } = step;
  if (u.id === s.selfId) {
    if (u.inc < s.self.incarnation) {
      tellStale(step, sender);
      return;
    }
    if (s.self.status === 'alive') refute(step, u.inc);
    else reassertLeave(step, u.inc);
    return;
  }
  const record = s.members.get(u.id);
  if (record === undefined || u.inc < record.incarnation) return;
  const existing = s.suspicions.get(u.id);
  if (existing) {
    confirmSuspicion(step, existing, u.from, u);
    return;
  }
  if (record.status === 'left') {
    counterLeave(step, record, u.from);
    return;
  }
  if (record.status !== 'alive' && record.status !== 'leaving') return;
  startSuspicion(step, record, u.inc, u.from);
  changeStatus(step, record, 'suspect', u.inc, true);
  s.queue.enqueue(u);
}

/**
 * A push-pull state that holds `id` suspect or dead (memberlist mergeState: we prefer to suspect). The
 * exchange names no accuser, and the partner may only echo a suspicion that began with us, or with a
 * member whose own word will reach us too, so it is no independent Lifeguard confirmation
 * (swim/slow-member-lifeguard seed 511: n2's own accusation of n8 came back inside n4's and n1's
 * push-pull states, was counted as two confirmations and expired n2's suspicion of the healthy n8
 * before n8's refutation reached it). An existing suspicion is left as it is; a new one starts with no
 * accuser counted — the maximum timeout, shortened only by accusers heard afterwards beyond the first —
 * and is not gossiped in anyone's name (the suspect hears of it from us directly when it next speaks to
 * us: maybeTellSuspect). memberlist names the local member as the accuser instead, which counts the
 * first real accuser's gossip as a confirmation of its own word.
 */
export function onMergedSuspect(step: Step, id: NodeId, inc: number, sender: NodeId): void {
  const { s } = step;
  if (id === s.selfId) {
    onSuspect(step, { k: 'suspect', id, inc, from: sender }, sender);
    return;
  }
  const record = s.members.get(id);
  if (record === undefined || inc < record.incarnation || s.suspicions.has(id)) return;
  if (record.status === 'left') {
    counterLeave(step, record, sender);
    return;
  }
  if (record.status !== 'alive' && record.status !== 'leaving') return;
  startSuspicion(step, record, inc, null);
  changeStatus(step, record, 'suspect', inc, true);
}

/** dead(id, inc, from): declared failed by `from`, or a leave intent when from === id. */
export function onDead(step: Step, u: Extract<SwimUpdate, { k: 'dead' }>, sender: string | null = null): void {
  const { s } = step;
  const leave = u.from === u.id;
  if (u.id === s.selfId) {
    if (s.self.status === 'alive' && u.inc < s.self.incarnation) tellStale(step, sender);
    else if (s.self.status === 'alive') {
      refute(step, u.inc);
      notify(step, { type: 'refuted', claim: leave ? 'left' : 'failed', incarnation: s.self.incarnation });
    } else if (!leave) reassertLeave(step, u.inc);
    return;
  }
  const record = s.members.get(u.id);
  if (record === undefined || u.inc < record.incarnation) return;
  if (record.status === 'left') {
    if (!leave) counterLeave(step, record, u.from);
    return;
  }
  // Serf: a leave intent also turns a member we already hold failed into left.
  if (record.status === 'failed' && !leave) return;
  const suspicion = s.suspicions.get(u.id);
  if (suspicion) cancelSuspicion(step, suspicion);
  changeStatus(step, record, leave ? 'left' : 'failed', u.inc, true, u.from);
  s.queue.enqueue(u);
}

/**
 * We are accused (or a stale life of ours is claimed): bump our incarnation past the accusation and
 * broadcast alive (SWIM §4.2 refutation). Lifeguard: having to refute hints that we are the slow one.
 */
export function refute(step: Step, accusedIncarnation: number): void {
  const { s } = step;
  assert(s.self.status === 'alive', 'only an alive member refutes');
  const incarnation = Math.max(s.self.incarnation, accusedIncarnation) + 1;
  s.self.incarnation = incarnation;
  s.counters.refutations++;
  if (s.config.lifeguard) s.awareness.applyDelta(1);
  s.queue.enqueue(selfAlive(step));
  trace(step, { type: 'swim.refuted', node: s.selfId, incarnation });
}

export function selfAlive(step: Step): Extract<SwimUpdate, { k: 'alive' }> {
  const { self } = step.s;
  return self.name === self.id
    ? { k: 'alive', id: self.id, inc: self.incarnation, tags: self.tags }
    : { k: 'alive', id: self.id, inc: self.incarnation, tags: self.tags, name: self.name };
}

/**
 * Someone passed us an accusation older than our incarnation: we refuted it already, but the sender
 * evidently missed the refutation (loss). Send it our alive directly; the sender re-gossips it. (An
 * addition to memberlist, which ignores stale accusations and leaves the sender to time out.)
 */
function tellStale(step: Step, sender: string | null): void {
  const { s } = step;
  if (sender === null || sender === s.selfId || s.self.status !== 'alive' || !s.members.has(sender)) return;
  sendDatagram(step, sender, { t: 'gossip', u: [selfAlive(step)] });
}

/**
 * Two claims about a live member at one incarnation that disagree on its tags: one is of a previous life (a
 * member restarted with other tags and refuted at an incarnation that one of its old lives had already
 * reached, unheard by members that held that life). No incarnation rule can pick between them, and only the
 * member knows which is its own; memberlist leaves it to that member hearing the stale claim itself, which
 * only a push-pull between the two brings (swim/tags-large seed 856: n5 held n7's old tags 60 s after the
 * faults). So tell the member both claims at once: it refutes the one that is not its own (onAlive's
 * same-incarnation rule) and the new incarnation settles it everywhere. Sent at most once per conflicting
 * claim received; a lost datagram is repeated by the next push-pull that meets the conflict.
 */
function tellConflict(step: Step, a: Extract<SwimUpdate, { k: 'alive' }>): void {
  const { s } = step;
  const record = s.members.get(a.id);
  if (record === undefined || record.status !== 'alive' || tagsEqual(record.tags, a.tags)) return;
  const held: Extract<SwimUpdate, { k: 'alive' }> =
    record.name === record.id
      ? { k: 'alive', id: record.id, inc: record.incarnation, tags: record.tags }
      : { k: 'alive', id: record.id, inc: record.incarnation, tags: record.tags, name: record.name };
  sendDatagram(step, a.id, { t: 'gossip', u: [held, a] });
}

/** A leave intent about `record` (dead from itself), as a force-leave tells the member it marked leaving. */
export function leaveIntent(record: MemberRecord): Extract<SwimUpdate, { k: 'dead' }> {
  return { k: 'dead', id: record.id, inc: record.incarnation, from: record.id };
}

/** We are leaving or left and someone suspects us: repeat the leave intent at their incarnation. */
function reassertLeave(step: Step, accusedIncarnation: number): void {
  const { s } = step;
  if (accusedIncarnation > s.self.incarnation) s.self.incarnation = accusedIncarnation;
  if (s.self.status === 'leaving')
    s.queue.enqueue({ k: 'dead', id: s.selfId, inc: s.self.incarnation, from: s.selfId });
}

/**
 * Someone accuses a member we know has left: tell the accuser directly, so that a leave that was
 * missed by one member (loss) does not end as `failed` there. (An addition to memberlist, which relies
 * on retransmission alone; it keeps "left is never marked failed" true under loss.)
 */
function counterLeave(step: Step, record: MemberRecord, accuser: string): void {
  if (accuser === step.s.selfId || !step.s.members.has(accuser)) return;
  sendDatagram(step, accuser, {
    t: 'gossip',
    u: [{ k: 'dead', id: record.id, inc: record.incarnation, from: record.id }],
  });
}

// ───────────────────────────────────────── suspicion timers ─────────────────────────────────────────

/** `accuser` null: a suspicion taken from a push-pull state, which names none (onMergedSuspect). */
function startSuspicion(step: Step, record: MemberRecord, incarnation: number, accuser: NodeId | null): void {
  const { s } = step;
  const n = s.members.size;
  const minMs = suspicionTimeoutMinMs(s.config, n);
  const maxMs = s.config.lifeguard ? Math.floor(minMs * s.config.suspicionMaxTimeoutMult) : minMs;
  // memberlist: k = suspicionMult − 2 expected confirmations, or none when too few members could confirm.
  const k = s.config.suspicionMult - 2;
  const expected = !s.config.lifeguard || n - 2 < k ? 0 : k;
  const suspicion: Suspicion = {
    id: record.id,
    incarnation,
    startMs: step.nowMs,
    minMs,
    maxMs,
    expected,
    accusers: accuser === null ? new Set() : new Set([accuser]),
    timer: '',
    deadlineMs: 0,
    toldMs: -Infinity,
  };
  s.suspicions.set(record.id, suspicion);
  if (accuser === s.selfId) s.counters.suspicionsRaised++;
  armSuspicion(step, suspicion);
}

function armSuspicion(step: Step, suspicion: Suspicion): void {
  const { s } = step;
  if (suspicion.timer !== '') step.ctx.emit({ kind: 'cancelTimer', timer: suspicion.timer });
  suspicion.timer = `sus:${++s.timerGeneration}:${suspicion.id}`;
  suspicion.deadlineMs = suspicionDeadlineMs(suspicion, s.config.lifeguard);
  step.ctx.emit({ kind: 'setTimer', timer: suspicion.timer, afterMs: Math.max(0, suspicion.deadlineMs - step.nowMs) });
}

/** Lifeguard §4.2: an independent accuser shortens the timeout, and the confirmation is re-gossiped. */
function confirmSuspicion(
  step: Step,
  suspicion: Suspicion,
  accuser: string,
  u: Extract<SwimUpdate, { k: 'suspect' }>,
): void {
  if (!step.s.config.lifeguard || suspicion.accusers.has(accuser)) return;
  suspicion.accusers.add(accuser);
  armSuspicion(step, suspicion);
  step.s.queue.enqueue(u);
}

/**
 * The buddy system, widened (Lifeguard §4.3 tells a suspect in the probe itself): whenever a member we
 * suspect sends us anything, it is evidently up — tell it directly, at most once per probe interval,
 * so that it refutes. This closes a gap memberlist leaves open: a member that was cut off suspects
 * others, spends its retransmissions into the partition, and after the heal probes slowly (its health
 * score is high), so its suspicion would otherwise expire before the suspect ever hears of it.
 */
export function maybeTellSuspect(step: Step, from: string): void {
  const { s } = step;
  if (!s.config.lifeguard) return;
  const suspicion = s.suspicions.get(from);
  if (!suspicion || step.nowMs - suspicion.toldMs < s.config.probeIntervalMs) return;
  suspicion.toldMs = step.nowMs;
  sendDatagram(step, from, {
    t: 'gossip',
    u: [{ k: 'suspect', id: from, inc: suspicion.incarnation, from: s.selfId }],
  });
}

export function cancelSuspicion(step: Step, suspicion: Suspicion): void {
  step.s.suspicions.delete(suspicion.id);
  if (suspicion.timer !== '') step.ctx.emit({ kind: 'cancelTimer', timer: suspicion.timer });
}

/** The suspicion timer ran out without a refutation: declare the member failed (SWIM §4.2). */
export function onSuspicionTimeout(step: Step, timer: string): void {
  const { s } = step;
  const rest = timer.slice('sus:'.length);
  const id = rest.slice(rest.indexOf(':') + 1);
  const suspicion = s.suspicions.get(id);
  if (!suspicion || suspicion.timer !== timer) return; // stale: refuted, confirmed (re-armed) or replaced
  const record = s.members.get(id);
  assert(record !== undefined && record.status === 'suspect', `suspicion of ${id} without a suspect member`);
  s.suspicions.delete(id);
  const dead = { k: 'dead', id, inc: suspicion.incarnation, from: s.selfId } as const;
  changeStatus(step, record, 'failed', suspicion.incarnation, true);
  s.counters.failuresDeclared++;
  s.queue.enqueue(dead);
}
