import { describe, expect, it } from 'vitest';
import { compareRemote } from './antiEntropy.js';
import type { AgentState } from './state.js';

/** An agent as compareRemote reads it: node n4 (ID id-4, meta rack=r1), nothing registered, node in sync. */
function agent(): AgentState {
  return {
    nodeName: 'n4',
    nodeId: 'id-4',
    nodeInSync: true,
    config: { advertiseAddr: 'n4', datacenter: 'dc1', nodeMeta: { rack: 'r1' } },
    services: new Map(),
    checks: new Map(),
    deregisterServices: new Set(),
    deregisterChecks: new Set(),
  } as unknown as AgentState;
}

const remote = (node: Record<string, unknown>) => ({ Node: { Address: 'n4', ...node }, Services: {} });

/**
 * The full sync's node comparison (Consul's updateSyncState: ID, address, tagged addresses, meta). Before,
 * only the address was compared, so a node entry the leader's reconcile had re-created with its address
 * alone (no ID, tagged addresses or meta) stayed so for good unless a push happened to fail.
 */
describe('anti-entropy: the node entry', () => {
  it('is in sync when the catalog holds what the agent registers', () => {
    const s = agent();
    compareRemote(s, remote({ ID: 'id-4', TaggedAddresses: { wan: 'n4', lan: 'n4' }, Meta: { rack: 'r1' } }), []);
    expect(s.nodeInSync).toBe(true);
  });

  it('is pushed again when the ID, tagged addresses or meta differ, not only the address', () => {
    for (const node of [
      { ID: '', TaggedAddresses: { lan: 'n4', wan: 'n4' }, Meta: { rack: 'r1' } },
      { ID: 'id-4', TaggedAddresses: {}, Meta: { rack: 'r1' } },
      { ID: 'id-4', TaggedAddresses: { lan: 'n4', wan: 'n4' }, Meta: {} },
      { Address: 'elsewhere', ID: 'id-4', TaggedAddresses: { lan: 'n4', wan: 'n4' }, Meta: { rack: 'r1' } },
    ]) {
      const s = agent();
      compareRemote(s, remote(node), []);
      expect(s.nodeInSync, JSON.stringify(node)).toBe(false);
    }
  });
});
