/**
 * An operator who moves leadership now and then (`consul operator raft transfer-leader`, a rolling
 * upgrade) while the clients and the nemesis run (opt-in, `set transferEveryMs N`): the leader replicates
 * to the target, sends it TimeoutNow, and the target campaigns at once (Raft thesis §3.10). `pickTarget`
 * names the target (or undefined: the most up-to-date voter); each request and its answer are logged, a
 * refused or lost one is not retried (the next comes later). It draws from its own random stream, so a
 * scenario without it draws what it drew before. Used by the Raft and KV harnesses.
 */
import type { Prng } from '../../core/prng.js';
import type { NodeId } from '../../core/types.js';
import type { SimApi } from '../harness.js';
import type { Scenario } from '../scenario.js';

export function startTransferWorkload(
  sim: SimApi,
  scenario: Scenario,
  leaderOf: (sim: SimApi) => NodeId | null,
  pickTarget: (prng: Prng, leader: NodeId) => NodeId | undefined,
): void {
  const everyMs = Number(scenario.params['transferEveryMs'] ?? 0);
  if (!(everyMs > 0)) return;
  const prng = sim.random('transfers');
  const next = (): void => {
    if (sim.phase !== 'safety') return;
    const leader = leaderOf(sim);
    if (leader !== null) {
      const to = pickTarget(prng, leader);
      const body = to === undefined ? { type: 'transferLeadership' } : { type: 'transferLeadership', to };
      sim.request(leader, { machine: 'raft', body }, 2000, (response) => {
        const r = response as { ok?: boolean; error?: string; detail?: string } | undefined;
        const outcome = r === undefined ? 'no reply' : r.ok ? 'ok' : `${r.error}${r.detail ? ` (${r.detail})` : ''}`;
        sim.log(`operator: transfer leadership ${leader} → ${to ?? '(any)'}: ${outcome}`);
      });
    }
    sim.after(1 + prng.below(2 * everyMs), next);
  };
  sim.after(1 + prng.below(2 * everyMs), next);
}
