/**
 * Harness registry: the protocol name a scenario gives with `protocol X` → the module that adapts it.
 * Loaded on demand so that a run of one protocol does not load the others. Each module exports
 * `harness: Harness`. Add a line here when adding a harness.
 */
import type { Harness } from '../harness.js';

const registry: Record<string, () => Promise<{ harness: Harness }>> = {
  broadcast: () => import('./broadcast.js'),
  // The shrinker's planted bug (sim/shrink-planted.ts): tests and demos only.
  'broadcast-planted': () => import('./broadcast-planted.js'),
  // The example of docs/write-your-own-protocol.md.
  register: () => import('./register.js'),
  raft: () => import(`./${'raft'}.js`),
  swim: () => import(`./${'swim'}.js`),
  kv: () => import(`./${'kv'}.js`),
  agent: () => import(`./${'agent'}.js`),
};

export const harnessNames = Object.keys(registry);

export async function loadHarness(name: string): Promise<Harness | null> {
  const load = registry[name];
  if (!load) return null;
  return (await load()).harness;
}
