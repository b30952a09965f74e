import { describe, expect, it } from 'vitest';
import type { AgentState } from '../../core/agent/state.js';
import { checkResultApplied, checkServiceKept, checksSyncMisses } from '../harnesses/agent-checks.js';
import type { SimApi } from '../harness.js';
import { loadScenario, runLoaded } from '../run.js';

/** An agent as `checksSyncMisses` reads it: its services and checks. */
function agent(services: Record<string, number>, checks: Record<string, string>): AgentState {
  return {
    services: new Map(Object.entries(services).map(([id, port]) => [id, { id, port }])),
    checks: new Map(Object.entries(checks).map(([id, status]) => [id, { id, status, output: '' }])),
  } as unknown as AgentState;
}

const catalogOf = (
  services: Record<string, number>,
  checks: Record<string, string>,
  nodes: Record<string, { Address: string; Meta: Record<string, string> }> = {},
) => ({
  nodes: new Map(Object.entries(nodes)),
  services: new Map([['n4', new Map(Object.entries(services).map(([id, Port]) => [id, { Port }]))]]),
  checks: new Map([['n4', new Map(Object.entries(checks).map(([id, Status]) => [id, { Status }]))]]),
});

describe('expect checks-synced (sim/harnesses/agent-checks.ts)', () => {
  const never = () => false;

  it('holds when the catalog has the agent’s services and checks with their statuses', () => {
    const agents = [{ node: 'n4', agent: agent({ web: 80 }, { st0: 'warning' }) }];
    const catalog = catalogOf({ web: 80, consul: 8300 }, { st0: 'warning', serfHealth: 'passing' });
    expect(checksSyncMisses(agents, catalog, never)).toBeNull();
  });

  it('names a status the catalog lags behind, a missing or moved service, and leftovers', () => {
    const agents = [{ node: 'n4', agent: agent({ web: 81 }, { st0: 'critical' }) }];
    const catalog = catalogOf({ web: 80, hc0: 9000 }, { st0: 'passing', hb0: 'critical' });
    const misses = checksSyncMisses(agents, catalog, never) ?? '';
    expect(misses).toContain("n4's service web:81 is not in the catalog");
    expect(misses).toContain("the catalog still has n4's service hc0:9000");
    expect(misses).toContain("n4's check st0 is critical on the agent, passing in the catalog");
    expect(misses).toContain("the catalog still has n4's check hb0");
  });

  it("compares the node record with the agent's address and node_meta, where the catalog has one", () => {
    const withMeta = Object.assign(agent({}, {}), {
      nodeName: 'n4',
      config: { advertiseAddr: 'n4', datacenter: 'dc1', nodeMeta: { rack: 'r1', agent: 'n4' } },
    }) as AgentState;
    const agents = [{ node: 'n4', agent: withMeta }];
    // The leader's reconcile re-created the node with its address alone.
    const reconciled = catalogOf({}, {}, { n4: { Address: 'n4', Meta: {} } });
    expect(checksSyncMisses(agents, reconciled, never)).toContain(
      `n4's node meta is [] in the catalog, [["agent","n4"],["rack","r1"]] on the agent`,
    );
    const synced = catalogOf({}, {}, { n4: { Address: 'n4', Meta: { agent: 'n4', rack: 'r1' } } });
    expect(checksSyncMisses(agents, synced, never)).toBeNull();
    const moved = catalogOf({}, {}, { n4: { Address: '10.0.0.9', Meta: { agent: 'n4', rack: 'r1' } } });
    expect(checksSyncMisses(agents, moved, never)).toContain(
      "n4's node has address 10.0.0.9 in the catalog, n4 on the agent",
    );
    // No record (not registered yet, or deregistered): what is missing shows as its services and checks.
    expect(checksSyncMisses(agents, catalogOf({}, {}), never)).toBeNull();
  });

  it('excuses a leftover service whose deregistration a restart may have lost', () => {
    const agents = [{ node: 'n4', agent: agent({}, {}) }];
    const catalog = catalogOf({ hc0: 9000 }, {});
    expect(checksSyncMisses(agents, catalog, (node, id) => node === 'n4' && id === 'hc0')).toBeNull();
  });

  it('scenarios/agent/agent-checks.txt passes at its seed', async () => {
    const loaded = await loadScenario('scenarios/agent/agent-checks.txt');
    expect(runLoaded(loaded, 1, { codec: true }).result).toBe('pass');
  });
});

describe('services kept across restarts (sim/harnesses/agent-checks.ts checkServiceKept)', () => {
  function judge(held: boolean | null, services: Record<string, number>): string[] {
    const violations: string[] = [];
    const sim = { violation: (text: string) => violations.push(text) } as unknown as SimApi;
    checkServiceKept(sim, 'n4', 'hc0', held, agent(services, {}));
    return violations;
  }

  it('holds when the agent holds what the last answered request left, and when that is unknown', () => {
    expect(judge(true, { hc0: 9000 })).toEqual([]);
    expect(judge(false, {})).toEqual([]);
    expect(judge(null, { hc0: 9000 })).toEqual([]);
  });

  it('names a deregistered service that came back (round J, J01: a restored service not purged from disk)', () => {
    expect(judge(false, { hc0: 9000 })).toEqual([
      'agent-checks: n4 acknowledged the deregistration of service hc0 and no registration since, but holds it',
    ]);
    expect(judge(true, {})[0]).toContain('acknowledged the registration of service hc0');
  });
});

describe('a monitor check holds its last result (round L, L02: checkResultApplied)', () => {
  /** An agent holding check `service:web` at generation 7 with `status`. */
  const holding = (status: string): AgentState =>
    ({ checks: new Map([['service:web', { id: 'service:web', status, generation: 7 }]]) }) as unknown as AgentState;
  const warned = { node: 'n4', checkId: 'agent:7/service:web', status: 'warning' } as const;

  it('holds when the agent holds the status it was handed, or the result was for an older generation', () => {
    expect(checkResultApplied(warned, holding('warning'))).toBeNull();
    expect(checkResultApplied({ ...warned, checkId: 'agent:6/service:web' }, holding('critical'))).toBeNull();
  });

  it('names a warning recorded as critical (a script exiting 1 is not a failure)', () => {
    expect(checkResultApplied(warned, holding('critical'))).toBe(
      'n4: check service:web ran warning but the agent holds it critical',
    );
  });
});
