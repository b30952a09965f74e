/**
 * Cluster-wide SWIM properties, checked outside the nodes over what the harness recorded: every status
 * change a node made ("marks"), and the ground truth of each node's life (up, down, paused, leaving)
 * and of the network (connected or split), sampled by the harness.
 *
 *  - Completeness (SWIM §3.1, §5): a crashed member is marked failed by every live member within a
 *    bound derived from the configuration (`completenessBoundMs`).
 *  - Accuracy: a member that never crashed is never marked failed (counted as false positives; an
 *    expectation decides how many are acceptable).
 *  - Leave: a member that left gracefully is never marked failed while the network is connected.
 *  - Left only after a leave: a member is marked left only once it began a graceful leave, or after an
 *    operator force-left it from a member that held it failed (Serf: a leave intent about a member that
 *    is alive only makes it `leaving`; `left` needs the member gone from the failure detector's view).
 *  - Convergence: once faults stop, every up member sees every up member alive and no down member alive.
 */
import type { NodeId } from '../../core/types.js';
import type { MemberStatus } from '../../core/swim/api.js';
import { retransmitLimit, suspicionTimeoutMinMs, type SwimConfig } from '../../core/swim/config.js';

/** One status change made by `observer` about `about`, at global time `atMs`. */
export interface Mark {
  readonly atMs: number;
  readonly observer: NodeId;
  readonly about: NodeId;
  readonly status: MemberStatus;
  readonly incarnation: number;
  /**
   * For `suspect` and `failed` marks: the observer's suspicion expected no confirmation (Lifeguard's
   * k = 0: it knew fewer than suspicionMult members, so memberlist runs the minimum timeout at once).
   */
  readonly unconfirmable?: boolean;
  /** For a `failed` mark taken from another member's `dead` message: that member, who declared it. */
  readonly by?: NodeId;
}

/** A closed-open interval of global time. */
export interface Span {
  readonly fromMs: number;
  toMs: number;
}

/** Ground truth about one node over the run. */
export interface Life {
  /** When the node was down (crashed and not yet restarted). */
  readonly down: Span[];
  /** When the node was paused. */
  readonly paused: Span[];
  /** When a graceful leave was requested (ends at a restart or a new join). */
  readonly leaving: Span[];
  /**
   * When the node had left and was silent: from the step it held itself `left` (its leave's intent has
   * had its propagation window) to a restart or a new join.
   */
  readonly silent: Span[];
}

export interface Truth {
  readonly lives: ReadonlyMap<NodeId, Life>;
  /** When the network was split (partition, one-way block) — completeness and leave do not apply. */
  readonly split: readonly Span[];
  /** When the datagram loss ratio was above the accuracy limit (10%). */
  readonly lossy: readonly Span[];
  readonly endMs: number;
}

const overlaps = (spans: readonly Span[], fromMs: number, toMs: number): boolean =>
  spans.some((s) => s.fromMs < toMs && s.toMs > fromMs);
const inside = (spans: readonly Span[], atMs: number): boolean => spans.some((s) => s.fromMs <= atMs && atMs < s.toMs);

/**
 * The completeness bound (ms) for n members, derived from the configuration, for one live member M:
 *   T = 2 · n · P · m                  — M probes the crashed member at least once in any 2 rounds of
 *                                        its randomized round-robin (a round is ≤ n probe periods; the
 *                                        crashed one may be first in one round and last in the next);
 *                                        m = the awareness multiplier allowed (1 without loss)
 *     + P · m                          — that probe's own period (timeout, then indirect probes)
 *     + S_max                          — M's suspicion timeout (Lifeguard's maximum: no confirmations)
 *     + R · G                          — slack for the dead message's dissemination rounds.
 * M reaches `failed` by then through its own probe even if no gossip reached it, so the bound holds
 * deterministically for every member that stays up, unpaused and connected; gossip usually makes it
 * far shorter (bench:swim measures the typical case).
 */
export function completenessBoundMs(config: SwimConfig, memberCount: number, awarenessAllowed = 1): number {
  const periodMs = config.probeIntervalMs * awarenessAllowed;
  const minMs = suspicionTimeoutMinMs(config, memberCount);
  const maxMs = config.lifeguard ? minMs * config.suspicionMaxTimeoutMult : minMs;
  const disseminationMs = retransmitLimit(config.retransmitMult, memberCount) * config.gossipIntervalMs;
  return 2 * memberCount * periodMs + periodMs + maxMs + disseminationMs;
}

/** Completeness: each crash lasting ≥ bound is marked failed (or left) by every member up throughout. */
export function checkCompleteness(marks: readonly Mark[], truth: Truth, boundMs: number): string[] {
  const problems: string[] = [];
  for (const [crashed, life] of truth.lives) {
    for (const down of life.down) {
      const deadlineMs = down.fromMs + boundMs;
      if (down.toMs < deadlineMs || deadlineMs > truth.endMs) continue;
      if (overlaps(truth.split, down.fromMs, deadlineMs) || overlaps(truth.lossy, down.fromMs, deadlineMs)) continue;
      if (overlaps(life.leaving, down.fromMs - 1, down.fromMs + 1) || inside(life.leaving, down.fromMs)) continue;
      for (const [observer, olife] of truth.lives) {
        if (observer === crashed) continue;
        if (
          overlaps(olife.down, down.fromMs - boundMs, deadlineMs) ||
          overlaps(olife.paused, down.fromMs - boundMs, deadlineMs) ||
          overlaps(olife.leaving, 0, deadlineMs)
        )
          continue;
        const marked = marks.some(
          (m) =>
            m.observer === observer &&
            m.about === crashed &&
            (m.status === 'failed' || m.status === 'left') &&
            m.atMs <= deadlineMs &&
            m.atMs >= down.fromMs - boundMs,
        );
        if (!marked)
          problems.push(
            `completeness: ${observer} did not mark ${crashed} failed within ${boundMs} ms of its crash at ${down.fromMs.toFixed(0)} ms`,
          );
      }
    }
  }
  return problems;
}

/**
 * False positives: `failed` marks about members that were up (not crashed, not leaving) at that time.
 * A mark within `graceMs` after a member's restart is about its previous life and is not counted, nor
 * is one made by a member that had left: it is silent (core/swim sends nothing once left, and a real
 * agent has exited), so a suspicion still running when it went silent, which it could no longer hear
 * refuted, ends in a view nobody sees (swim/graceful-leave seed 1172: n3, silent from 13 s, marked n1
 * failed at 36.9 s when that suspicion's timer ran out).
 */
export function falsePositives(marks: readonly Mark[], truth: Truth, graceMs: number): Mark[] {
  return marks.filter((m) => {
    if (m.status !== 'failed') return false;
    const life = truth.lives.get(m.about);
    if (!life) return false;
    if (life.down.some((d) => d.fromMs <= m.atMs && m.atMs < d.toMs + graceMs)) return false;
    if (life.leaving.some((l) => l.fromMs <= m.atMs)) return false;
    const observer = truth.lives.get(m.observer);
    if (observer && inside(observer.silent, m.atMs)) return false;
    return true;
  });
}

/**
 * A member that left gracefully is never marked failed while the network stayed whole. Not counted:
 * a leaver that was paused or down before it could send its intent (it had not left yet), and an
 * observer whose suspicion of the leaver was already running when the leave began (failure detection
 * that started first may finish first; the intent then turns failed into left). Nor a mark once the leave
 * may have been forgotten (`rememberedMs`: Serf's tombstone timeout plus a reap interval after it
 * began): the tombstone is reaped, and a view that missed the leave — a member restarted from a roster —
 * hands the leaver back as a member nobody knows left (swim/roster-reap seeds 654 and 1060: n6 left at
 * 20 s, tombstones reaped by ~30 s, failed again at 36.7–38.5 s). Serf keeps tombstones 24 h for that.
 */
export function checkLeftNeverFailed(marks: readonly Mark[], truth: Truth, rememberedMs = Infinity): string[] {
  const problems: string[] = [];
  for (const m of marks) {
    if (m.status !== 'failed') continue;
    const life = truth.lives.get(m.about);
    if (!life) continue;
    for (const leave of life.leaving) {
      if (m.atMs < leave.fromMs || m.atMs >= leave.toMs || m.atMs >= leave.fromMs + rememberedMs) continue;
      if (overlaps(truth.split, leave.fromMs, m.atMs + 1) || overlaps(truth.lossy, leave.fromMs, m.atMs + 1)) continue;
      if (overlaps(life.down, leave.fromMs - 1, m.atMs + 1) || overlaps(life.paused, leave.fromMs - 1, m.atMs + 1))
        continue;
      // Its view just before this mark (which may share the leave's millisecond: swim/restart-leave seed 8980,
      // a suspicion of the previous life timing out as the new life began leaving).
      const before = marks.filter(
        (x) => x !== m && x.observer === m.observer && x.about === m.about && x.atMs <= leave.fromMs,
      );
      if (before.length > 0 && before[before.length - 1]!.status === 'suspect') continue;
      problems.push(
        `leave: ${m.observer} marked ${m.about} failed at ${m.atMs.toFixed(0)} ms after it began leaving at ${leave.fromMs.toFixed(0)} ms`,
      );
    }
  }
  return problems;
}

/** An operator's force-leave, as the harness saw it arrive: who handled it, whom it named, and how it held that member. */
export interface ForceLeave {
  readonly atMs: number;
  readonly node: NodeId;
  readonly about: NodeId;
  readonly before: MemberStatus | undefined;
}

/**
 * Left only after a leave (Serf's member states; Consul's `force-leave` "is useful for nodes that
 * failed and will not return"): a `left` mark about a member that never began a graceful leave is
 * wrong unless an operator force-left it, no later than the mark, through a member that held it failed
 * or left (that turns it left at once, and the intent spreads). A force-leave of a member held alive,
 * suspect or leaving makes it `leaving` where it was asked and nowhere else — were it marked left
 * around the cluster, Consul's leader would deregister a node that is up. Network faults change
 * nothing here: a leave intent is the only source of `left`.
 */
export function checkLeftOnlyAfterLeave(
  marks: readonly Mark[],
  truth: Truth,
  forceLeaves: readonly ForceLeave[],
): string[] {
  const problems: string[] = [];
  for (const m of marks) {
    if (m.status !== 'left' || m.observer === m.about) continue;
    const life = truth.lives.get(m.about);
    if (!life || life.leaving.some((l) => l.fromMs <= m.atMs)) continue;
    const forced = forceLeaves.some(
      (f) => f.about === m.about && f.atMs <= m.atMs && (f.before === 'failed' || f.before === 'left'),
    );
    if (forced) continue;
    problems.push(
      `left without a leave: ${m.observer} marked ${m.about} left at ${m.atMs.toFixed(0)} ms (incarnation ${m.incarnation}); it never began leaving, and nobody force-left it while holding it failed`,
    );
  }
  return problems;
}

/** What each up member sees now: id → status. */
export type Views = ReadonlyMap<NodeId, ReadonlyMap<NodeId, MemberStatus>>;

/**
 * Converged: every up member sees every other up (not left) member alive, and sees no down or left
 * member alive or suspect.
 */
export function checkConverged(views: Views, up: ReadonlySet<NodeId>, departed: ReadonlySet<NodeId>): string[] {
  const problems: string[] = [];
  for (const [observer, view] of views) {
    if (departed.has(observer)) continue;
    for (const other of up) {
      if (other === observer || departed.has(other)) continue;
      const status = view.get(other);
      if (status !== 'alive') problems.push(`convergence: ${observer} sees ${other} as ${status ?? 'unknown'}`);
    }
    for (const [about, status] of view) {
      if ((up.has(about) && !departed.has(about)) || about === observer) continue;
      if (status === 'alive' || status === 'suspect')
        problems.push(`convergence: ${observer} sees ${about} (down or left) as ${status}`);
    }
  }
  return problems;
}
