/**
 * Why a run made no progress after its faults stopped, in the protocol's own words: the sentences a
 * liveness violation carries after "liveness: no progress within N ms" (Harness.whyNotLive), so a
 * person reading a failing seed learns what is stuck (no leader, and why not; a leader that cannot
 * commit, and which followers lag; the acknowledged write that nobody else has) without replaying it.
 */
import type { NodeId } from '../../core/types.js';
import type { RaftState } from '../../core/raft/state.js';
import type { SimApi } from '../harness.js';
import type { Operation } from '../history.js';

const ms = (t: number): string => `${Math.round(t)} ms`;

/** One node in Raft's terms: down, paused, or its role, term, commit index and last log index. */
export function raftNodeText(sim: SimApi, id: NodeId, s: RaftState | null): string {
  if (!sim.isUp(id) || s === null) return `${id} down`;
  const paused = sim.isPaused(id) ? ' (paused)' : '';
  const lost = s.lostData ? ', lost its data and waits to be added again' : '';
  const votes =
    s.role === 'candidate' || s.role === 'precandidate' ? `, ${s.votes.size} vote${s.votes.size === 1 ? '' : 's'}` : '';
  return `${id} ${s.role} term ${s.term}${votes}, commit ${s.commitIndex} of ${s.log.lastIndex}${lost}${paused}`;
}

/**
 * For a Raft cluster whose liveness test is "a leader exists and a write invoked since `fromMs` was
 * acknowledged": who leads (or every node's role and term when nobody does), the writes since then
 * by outcome, and what holds the leader's commit index back.
 */
export function raftStall(
  sim: SimApi,
  raftOf: (id: NodeId) => RaftState | null,
  leader: NodeId | null,
  fromMs: number,
  isWrite: (op: Operation) => boolean = (op) => op.f === 'write',
): string[] {
  const out: string[] = [];
  const states = new Map(sim.nodeIds.map((id) => [id, sim.isUp(id) ? raftOf(id) : null]));
  if (leader === null) {
    const voters = [...states.values()].find((s) => s !== null)?.membership.voters ?? [];
    const quorum = Math.floor(voters.length / 2) + 1;
    out.push(
      `no node leads (a leader needs ${quorum} of ${voters.length} voters): ${sim.nodeIds.map((id) => raftNodeText(sim, id, states.get(id) ?? null)).join('; ')}`,
    );
  }
  const writes = sim.history.ops.filter((op) => isWrite(op) && op.invokeMs >= fromMs);
  const count = (o: string): number => writes.filter((op) => (op.outcome ?? 'open') === o).length;
  out.push(
    writes.length === 0
      ? `no write was invoked after the faults stopped at ${ms(fromMs)}`
      : `of ${writes.length} writes invoked after the faults stopped at ${ms(fromMs)}, none was acknowledged (${count('fail')} failed, ${count('unknown')} unknown, ${count('open')} still open)`,
  );
  const s = leader !== null ? (states.get(leader) ?? null) : null;
  if (leader !== null && s !== null) {
    const lagging = s.membership.voters
      .filter((id) => id !== leader)
      .map((id) => {
        const p = s.progress.get(id);
        return !sim.isUp(id)
          ? `${id} down`
          : `${id} matches up to ${p?.match ?? 0}${p && p.match < s.log.lastIndex ? ` (${p.state})` : ''}`;
      });
    out.push(
      `${leader} leads at term ${s.term} with commit ${s.commitIndex} of ${s.log.lastIndex}${s.commitIndex < s.log.lastIndex ? ` (entries ${s.commitIndex + 1}–${s.log.lastIndex} wait for a majority)` : ''}; ${lagging.join(', ')}`,
    );
  }
  return out;
}

/** The acknowledged operations whose value some live node lacks, with the nodes that lack it. */
export function missingAcknowledged<V>(
  sim: SimApi,
  acknowledged: readonly Operation[],
  valueOf: (op: Operation) => V,
  has: (id: NodeId, value: V) => boolean | null,
  shownMax = 3,
): string[] {
  const out: string[] = [];
  const live = sim.nodeIds.filter((id) => sim.isUp(id));
  let missing = 0;
  for (const op of acknowledged) {
    const value = valueOf(op);
    const holders = live.filter((id) => has(id, value) === true);
    const lacking = live.filter((id) => has(id, value) === false);
    if (lacking.length === 0) continue;
    missing++;
    if (out.length >= shownMax) continue;
    const down = sim.nodeIds.filter((id) => !sim.isUp(id));
    const where =
      holders.length === 0
        ? down.length === 0
          ? 'is on no node'
          : `is on no live node (down: ${down.join(', ')})`
        : `is on ${holders.join(', ')} only (missing on ${lacking.join(', ')})`;
    out.push(
      `value ${String(value)} (#${op.id} ${op.f}), acknowledged by ${op.node} at ${ms(op.completeMs ?? op.invokeMs)}, ${where}`,
    );
  }
  if (missing > out.length) out.push(`… and ${missing - out.length} more acknowledged values missing somewhere`);
  return out;
}
