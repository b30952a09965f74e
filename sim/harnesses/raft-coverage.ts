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
