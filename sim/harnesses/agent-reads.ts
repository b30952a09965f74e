/**
 * How the agent harness's processes pick a read's consistency mode (`set readModes C/D/S`, `set staleReads
 * 1`): one draw from the caller's own random stream per read, shared by the KV workload, the watchers and
 * the catalog workload.
 */
import type { Consistency } from '../../core/agent/api.js';
import type { Prng } from '../../core/prng.js';
import type { Scenario } from '../scenario.js';

/** The consistent/default shares of `readModes` (stale gets the rest). */
export function readShares(scenario: Scenario): [number, number] {
  const [consistent, byDefault] = (scenario.params.readModes ?? '40/40/20').split('/').map(Number);
  return [consistent ?? 40, byDefault ?? 40];
}

/** A drawer of read modes from `prng`: the scenario's shares, or always `stale` with `set staleReads 1`. */
export function readModeDrawer(prng: Prng, scenario: Scenario): () => Consistency {
  const allStale = Number(scenario.params.staleReads ?? 0) === 1;
  const [consistentShare, defaultShare] = readShares(scenario);
  return () => {
    if (allStale) return 'stale';
    const roll = prng.below(100);
    return roll < consistentShare ? 'consistent' : roll < consistentShare + defaultShare ? 'default' : 'stale';
  };
}
