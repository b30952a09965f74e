/**
 * What a SWIM exploration reached (`sim explore --coverage`): how members' views of each other moved
 * (SWIM §4.2's alive, suspect, failed and Serf's leaving, left, reaped), the refutations, and the
 * mechanisms behind them — indirect probes answered and nacked, Lifeguard's local health raised and
 * lowered, suspicions shortened by confirmations, the buddy system, push-pull exchanges, reconnects.
 * Counted from what the swim harness already sees: the trace events of core/swim, the effects, and
 * the stepping node's state before and after its step. Message, effect and request kinds are counted
 * by the simulator itself.
 *
 * A transition no scenario can reach by construction is left out of that scenario's list
 * (`swimTransitionsFor`), so that `--require-coverage` names only real gaps.
 */
import type { MemberStatus } from '../../core/swim/api.js';
import type { SwimState } from '../../core/swim/machine.js';
import type { SwimMessage } from '../../core/swim/messages.js';
import type { Envelope } from '../../core/runtime.js';
import type { Effect, NodeId } from '../../core/types.js';
import type { SimApi } from '../harness.js';
import type { Scenario } from '../scenario.js';

/** How one member's view of another changed (the observer's member table), by cause where it matters. */
const memberTransitions = {
  suspected: 'transition member alive→suspect',
  refuted: 'transition member suspect→alive (refuted)',
  failedOwn: 'transition member suspect→failed (own suspicion ran out)',
  failedTold: 'transition member suspect→failed (told by gossip)',
  failedAlive: 'transition member alive→failed (told before any suspicion)',
  rejoinedFailed: 'transition member failed→alive (a new life, higher incarnation)',
  left: 'transition member alive→left (leave intent)',
  failedLeft: 'transition member failed→left (force-leave or a late leave intent)',
  rejoinedLeft: 'transition member left→alive (joined again)',
  leaving: 'transition member alive→leaving (force-leave of a live member)',
  leavingRefuted: 'transition member leaving→alive (force-leave refuted)',
  reaped: 'transition member reaped (tombstone or reconnect timeout)',
} as const;

/** This node's own life. */
const selfTransitions = {
  refuted: 'transition self refuted an accusation (incarnation bumped)',
  left: 'transition self alive→leaving→left (graceful leave)',
  rejoined: 'transition self left→alive (joined again)',
} as const;

/** The mechanisms (probe, Lifeguard, anti-entropy). */
const mechanisms = {
  indirectAck: 'transition probe answered through an indirect ping',
  nacked: 'transition probe nacked by a helper (Lifeguard §4.3)',
  awarenessUp: 'transition Lifeguard local health raised',
  awarenessDown: 'transition Lifeguard local health lowered',
  confirmed: 'transition suspicion shortened by an independent confirmation (Lifeguard §4.2)',
  confirmedToMin: 'transition suspicion at its minimum after k confirmations',
  buddy: 'transition suspect told directly (buddy system)',
  pushPull: 'transition push-pull exchange merged',
  reconnect: 'transition reconnect to a failed member',
} as const;

/** Every transition the swim harness can report; `swimTransitionsFor` picks a scenario's. */
export const swimTransitions: readonly string[] = [
  ...Object.values(memberTransitions),
  ...Object.values(selfTransitions),
  ...Object.values(mechanisms),
];

/**
 * The transitions a scenario can reach, given its knobs and timeline:
 *  - Lifeguard's (nacks, local health, confirmations, the buddy system) only with `lifeguard` on;
 *  - a graceful leave and a rejoin after it only with a `leave` action;
 *  - force-leave transitions only when someone force-leaves: `forceLeave` actions (a live member is
 *    marked leaving and refutes; a failed one turns left) or the `forceLeaveFailedEvery` operator (it
 *    force-leaves failed members only, so `alive→leaving` is not in its list); `failed→left` also
 *    with a graceful leave, whose intent reaches a member that had already failed the leaver (a
 *    partition: swim/nemesis reaches it in 1.3% of seeds);
 *  - reaping only when the reconnect or tombstone timeout is shorter than the run (the sim profile
 *    keeps Serf's 72 h and 24 h).
 */
export function swimTransitionsFor(scenario: Scenario, config: { lifeguard: boolean; reapBeforeMs: number }): string[] {
  const actions = new Set(scenario.timeline.map((e) => e.action));
  const forceLeaveLive = actions.has('forceLeave');
  const forceLeaveFailed = forceLeaveLive || (scenario.params.forceLeaveFailedEvery ?? '0') !== '0';
  const leaves = actions.has('leave');
  const unreachable = new Set<string>();
  if (!config.lifeguard)
    for (const t of [
      mechanisms.nacked,
      mechanisms.awarenessUp,
      mechanisms.awarenessDown,
      mechanisms.confirmed,
      mechanisms.confirmedToMin,
      mechanisms.buddy,
    ])
      unreachable.add(t);
  if (!leaves) for (const t of [selfTransitions.left, selfTransitions.rejoined]) unreachable.add(t);
  if (!forceLeaveLive)
    for (const t of [memberTransitions.leaving, memberTransitions.leavingRefuted]) unreachable.add(t);
  if (!forceLeaveFailed && !leaves) unreachable.add(memberTransitions.failedLeft);
  if (!leaves && !forceLeaveFailed)
    for (const t of [memberTransitions.left, memberTransitions.rejoinedLeft]) unreachable.add(t);
  if (config.reapBeforeMs >= scenario.safetyMs + scenario.livenessMs) unreachable.add(memberTransitions.reaped);
  return swimTransitions.filter((t) => !unreachable.has(t));
}

/** The stepping node's state before its step, for the transitions only a before/after comparison shows. */
interface Before {
  readonly nodeId: NodeId;
  readonly suspicionTimer: boolean;
  readonly awareness: number;
  readonly pushPulls: number;
  /** The running probe: its seq, whether it was in its indirect phase unanswered, its nacks. */
  readonly probeSeq: number | null;
  readonly probeIndirect: boolean;
  readonly probeNacks: number;
}

/** One run's coverage records (kept in the swim harness's per-run state; empty when coverage is off). */
export class SwimCoverage {
  /** Per observer, its view of every member it knows (from the trace: learned, marked, reaped). */
  private readonly views = new Map<NodeId, Map<NodeId, MemberStatus>>();
  private before: Before | null = null;

  /** A node (re)started: it remembers no member (SWIM keeps no membership on disk). */
  onStart(nodeId: NodeId): void {
    this.views.delete(nodeId);
  }

  onInput(sim: SimApi, nodeId: NodeId, s: SwimState, suspicionTimer: boolean): void {
    if (!sim.coverageOn) return;
    const probe = s.probe;
    this.before = {
      nodeId,
      suspicionTimer,
      awareness: s.awareness.score,
      pushPulls: s.counters.pushPulls,
      probeSeq: probe ? probe.seq : null,
      probeIndirect: probe !== null && probe.phase === 'indirect' && !probe.acked,
      probeNacks: probe ? probe.nacks : 0,
    };
  }

  onEffect(sim: SimApi, nodeId: NodeId, effect: Effect, s: SwimState | null): void {
    if (!sim.coverageOn) return;
    if (effect.kind === 'send') return this.onSend(sim, nodeId, effect.to, effect.message as Envelope, s);
    if (effect.kind === 'setTimer' && effect.timer.startsWith('swim:sus:'))
      return this.onSuspicionArmed(sim, effect.timer, s);
    if (effect.kind !== 'trace') return;
    const event = effect.event;
    switch (event.type) {
      case 'swim.learned':
        this.viewOf(nodeId).set(event.about, event.status);
        return;
      case 'swim.marked':
        return this.onMarked(sim, nodeId, event.about, event.status);
      case 'swim.reaped':
        this.viewOf(nodeId).delete(event.about);
        sim.cover(memberTransitions.reaped);
        return;
      case 'swim.refuted':
        sim.cover(selfTransitions.refuted);
        return;
      default:
        return;
    }
  }

  /** After the step: what moved in the node's own state. */
  afterStep(sim: SimApi, nodeId: NodeId, s: SwimState | null): void {
    const before = this.before;
    this.before = null;
    if (!sim.coverageOn || before === null || before.nodeId !== nodeId || s === null) return;
    if (s.awareness.score > before.awareness) sim.cover(mechanisms.awarenessUp);
    else if (s.awareness.score < before.awareness) sim.cover(mechanisms.awarenessDown);
    if (s.counters.pushPulls > before.pushPulls) sim.cover(mechanisms.pushPull);
    const probe = s.probe;
    if (probe !== null && probe.seq === before.probeSeq) {
      if (before.probeIndirect && probe.acked) sim.cover(mechanisms.indirectAck);
      if (probe.nacks > before.probeNacks) sim.cover(mechanisms.nacked);
    }
  }

  private viewOf(nodeId: NodeId): Map<NodeId, MemberStatus> {
    let view = this.views.get(nodeId);
    if (!view) {
      view = new Map();
      this.views.set(nodeId, view);
    }
    return view;
  }

  private onMarked(sim: SimApi, nodeId: NodeId, about: NodeId, status: MemberStatus): void {
    const view = this.viewOf(nodeId);
    const previous = view.get(about) ?? (about === nodeId ? 'alive' : undefined);
    view.set(about, status);
    if (about === nodeId) {
      if (status === 'left') sim.cover(selfTransitions.left);
      else if (status === 'alive' && previous === 'left') sim.cover(selfTransitions.rejoined);
      return;
    }
    const what = memberTransition(previous, status, this.before?.suspicionTimer === true);
    if (what !== null) sim.cover(what);
  }

  /** A suspicion timer armed for a suspicion that already has confirmations: Lifeguard shortened it. */
  private onSuspicionArmed(sim: SimApi, timer: string, s: SwimState | null): void {
    const id = timer.slice(timer.indexOf(':', 'swim:sus:'.length) + 1);
    const suspicion = s?.suspicions.get(id);
    if (!suspicion || suspicion.accusers.size < 2) return;
    sim.cover(mechanisms.confirmed);
    if (suspicion.expected > 0 && suspicion.accusers.size - 1 >= suspicion.expected)
      sim.cover(mechanisms.confirmedToMin);
  }

  private onSend(sim: SimApi, nodeId: NodeId, to: NodeId, envelope: Envelope, s: SwimState | null): void {
    const m = envelope?.p as SwimMessage | undefined;
    if (!m || typeof m !== 'object') return;
    if (m.t === 'pushPull') {
      if (m.join && !m.reply && s?.members.get(to)?.status === 'failed') sim.cover(mechanisms.reconnect);
      return;
    }
    if (m.t === 'gossip' && m.u.length === 1) {
      const u = m.u[0]!;
      if (u.k === 'suspect' && u.id === to && u.from === nodeId) sim.cover(mechanisms.buddy);
    }
  }
}

function memberTransition(
  previous: MemberStatus | undefined,
  status: MemberStatus,
  ownTimeout: boolean,
): string | null {
  switch (`${previous}→${status}`) {
    case 'alive→suspect':
      return memberTransitions.suspected;
    case 'suspect→alive':
      return memberTransitions.refuted;
    case 'suspect→failed':
      return ownTimeout ? memberTransitions.failedOwn : memberTransitions.failedTold;
    case 'alive→failed':
      return memberTransitions.failedAlive;
    case 'failed→alive':
      return memberTransitions.rejoinedFailed;
    case 'alive→left':
      return memberTransitions.left;
    case 'failed→left':
      return memberTransitions.failedLeft;
    case 'left→alive':
      return memberTransitions.rejoinedLeft;
    case 'alive→leaving':
      return memberTransitions.leaving;
    case 'leaving→alive':
      return memberTransitions.leavingRefuted;
    default:
      return null;
  }
}
