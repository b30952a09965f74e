/**
 * What a Raft exploration reached (`sim explore --coverage`): role changes, snapshots, membership
 * changes, truncations, transfers and the other protocol transitions, counted from the effects and
 * post-step states the raft and kv harnesses already see. Message, effect and request kinds are
 * counted by the simulator itself.
 */
import type { RaftState } from '../../core/raft/raft.js';
import type { TraceType } from '../../core/trace.js';
import type { DurableState, Effect, NodeId } from '../../core/types.js';
import type { SimApi } from '../harness.js';

/** Every transition a Raft cluster has; the coverage report names the ones a run never reached. */
export const raftTransitions: readonly string[] = [
  'transition role follower→precandidate',
  'transition role precandidate→candidate',
  'transition role precandidate→follower',
  'transition role follower→candidate',
  'transition role candidate→candidate',
  'transition role candidate→precandidate',
  'transition role candidate→leader',
  'transition role candidate→follower',
  'transition role leader→follower',
  'transition election by TimeoutNow (leadership transfer)',
  'transition check-quorum step-down',
  'transition log truncated (conflicting suffix)',
  'transition snapshot taken',
  'transition snapshot sent',
  'transition snapshot installed',
  'transition duplicate command suppressed (client session)',
  'transition restart with a durable log',
];

/** The membership transitions (the raft harness's membership workload reaches them). */
export const raftMembershipTransitions: readonly string[] = [
  'transition membership: learner added',
  'transition membership: learner promoted to voter',
  'transition membership: server removed',
  'transition membership: leader removed itself',
  'transition membership: change refused (one at a time)',
];

/** What a scenario's knobs, workload and timeline let a Raft cluster do (`raftTransitionsFor`). */
export interface RaftReach {
  /** Some runs campaign with pre-vote (pinned on, the profile's default, or drawn per seed). */
  readonly preVoteOn: boolean;
  /** Some runs campaign without pre-vote. */
  readonly preVoteOff: boolean;
  /** Some runs' leaders check their quorum. */
  readonly checkQuorum: boolean;
  /** Leadership is handed over: transfer actions, a transfer workload, or a leader removing itself. */
  readonly transfers: boolean;
  /**
   * Configuration changes: 'any' (a membership workload or timeline actions), 'replacement' (only the
   * operator's remove-and-add-back of a server that lost its disk: the leader never removes itself),
   * 'none'.
   */
  readonly membership: 'any' | 'replacement' | 'none';
}

/**
 * The transitions a scenario can reach, given what it lets the cluster do (`RaftReach`):
 *  - with pre-vote always on, an election timeout makes a precandidate, never a candidate: a follower
 *    becomes a candidate only through TimeoutNow, and a candidate never times out into a new candidacy;
 *  - with pre-vote always off, nothing is ever a precandidate;
 *  - the check-quorum step-down only with check-quorum on;
 *  - TimeoutNow only when leadership is handed over;
 *  - membership transitions only with configuration changes (a replaced disk's operator removes and
 *    adds back a follower, never the leader).
 * Every other transition is reachable under faults, whatever the knobs.
 */
export function raftTransitionsFor(reach: RaftReach, withMembership: boolean): string[] {
  const unreachable = new Set<string>();
  if (!reach.preVoteOff) {
    unreachable.add('transition role candidate→candidate');
    if (!reach.transfers) unreachable.add('transition role follower→candidate');
  }
  if (!reach.preVoteOn) for (const t of raftTransitions) if (t.includes('precandidate')) unreachable.add(t);
  if (!reach.checkQuorum) unreachable.add('transition check-quorum step-down');
  if (!reach.transfers) unreachable.add('transition election by TimeoutNow (leadership transfer)');
  if (reach.membership === 'none') for (const t of raftMembershipTransitions) unreachable.add(t);
  if (reach.membership === 'replacement') unreachable.add('transition membership: leader removed itself');
  const all = withMembership ? [...raftTransitions, ...raftMembershipTransitions] : raftTransitions;
  return all.filter((t) => !unreachable.has(t));
}

/**
 * Whether a boolean Raft knob is on in some runs and off in others: pinned by the scenario, drawn per
 * seed by a knob-swarm scenario, or else the profile's value.
 */
export function knobValues(
  params: Readonly<Record<string, string>>,
  key: 'preVote' | 'checkQuorum',
  profile: boolean,
): { on: boolean; off: boolean } {
  const pinned = params[key];
  if (pinned !== undefined) return { on: pinned === 'true', off: pinned !== 'true' };
  if (params.knobs === 'swarm') return { on: true, off: true };
  return { on: profile, off: !profile };
}

/** Trace events of core/raft and the transition each one marks. */
const traced: Readonly<Partial<Record<TraceType, string>>> = {
  'raft.steppedDownNoQuorum': 'transition check-quorum step-down',
  'raft.snapshotTaken': 'transition snapshot taken',
  'raft.snapshotSending': 'transition snapshot sent',
  'raft.snapshotInstalled': 'transition snapshot installed',
  'raft.learnerAdded': 'transition membership: learner added',
  'raft.promoted': 'transition membership: learner promoted to voter',
  'raft.serverRemoved': 'transition membership: server removed',
  'raft.steppedDownRemoved': 'transition membership: leader removed itself',
};

/** Each node's role after its last step (the harness's per-run state keeps one). */
export type RoleMarks = Map<NodeId, { token: unknown; role: RaftState['role']; term: number }>;

/** Counts the transitions one effect of `nodeId` marks (only when the run counts coverage). */
export function coverRaftEffect(sim: SimApi, nodeId: NodeId, effect: Effect): void {
  if (!sim.coverageOn) return;
  switch (effect.kind) {
    case 'trace':
      if (effect.event.type === 'raft.becameCandidate' && effect.event.transfer)
        sim.cover('transition election by TimeoutNow (leadership transfer)');
      else if (traced[effect.event.type] !== undefined) sim.cover(traced[effect.event.type]!);
      return;
    case 'persist':
      for (const op of effect.ops)
        if (op.op === 'truncate' && op.log.endsWith('log') && op.keepCount > 0)
          sim.cover('transition log truncated (conflicting suffix)');
      return;
    case 'apply': {
      const c = effect.command as { raft?: string } | null;
      if (c && typeof c === 'object' && c.raft === 'duplicate')
        sim.cover('transition duplicate command suppressed (client session)');
      return;
    }
    case 'reply': {
      const r = effect.response as { ok?: boolean; error?: string; detail?: string } | null;
      if (r && r.ok === false && r.error === 'busy' && /membership change|has not committed yet/.test(r.detail ?? ''))
        sim.cover('transition membership: change refused (one at a time)');
      return;
    }
    default:
      return;
  }
}

/** A node (re)starts: a restart finds a log on its disk. */
export function coverRaftStart(sim: SimApi, durable: DurableState): void {
  if (!sim.coverageOn) return;
  for (const [name, log] of durable.logs)
    if (name.endsWith('log') && log.entries.length > 0) return sim.cover('transition restart with a durable log');
}

/** Counts a role change of `nodeId` in its last step. */
export function coverRaftStep(sim: SimApi, byNode: RoleMarks, nodeId: NodeId, s: RaftState, token: unknown): void {
  if (!sim.coverageOn) return;
  const last = byNode.get(nodeId);
  if (last && last.token === token) {
    if (last.role !== s.role) sim.cover(`transition role ${last.role}→${s.role}`);
    else if (s.role === 'candidate' && s.term > last.term) sim.cover('transition role candidate→candidate');
  }
  byNode.set(nodeId, { token, role: s.role, term: s.term });
}
