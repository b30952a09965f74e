/**
 * The catalog workload's model and renderers (sim/harnesses/agent-catalog.ts): the checker must fail on
 * the histories the planted catalog bugs produce, and whole runs of the two catalog scenarios
 * (agent/catalog-health, kv/catalog-watch) must pass on today's code with the workload exercised.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkHistory, UNKNOWN, type LinOp } from '../checkers/lin/index.js';
import { catalogModel, renderHealth, renderNodes, type CatalogInput } from '../harnesses/agent-catalog.js';
import { harness } from '../harnesses/agent.js';
import { harness as kvHarness } from '../harnesses/kv.js';
import { parseScenario } from '../scenario.js';
import { Simulation } from '../engine/simulation.js';

let nextId = 0;
function op(input: CatalogInput, output: unknown, callTime: number, returnTime: number): LinOp<CatalogInput, unknown> {
  return { id: nextId++, process: nextId, input, output, callTime, returnTime };
}

describe('catalog model', () => {
  it('accepts a history where reads see the registered statuses, filtered by ?passing', () => {
    const ops = [
      op({ f: 'register', node: 'e1', status: 'passing' }, true, 0, 1),
      op({ f: 'register', node: 'e2', status: 'warning' }, true, 2, 3),
      op({ f: 'read', what: 'health' }, 'e1=passing,e2=warning', 4, 5),
      op({ f: 'read', what: 'passing' }, 'e1=passing', 6, 7),
      op({ f: 'read', what: 'nodes' }, 'e1,e2', 8, 9),
      op({ f: 'deregister', node: 'e1' }, true, 10, 11),
      op({ f: 'read', what: 'nodes' }, 'e2', 12, 13),
    ];
    expect(checkHistory(ops, catalogModel).linearizable).toBe(true);
  });

  it('rejects a ?passing read that lets a warning instance through (K29)', () => {
    const ops = [
      op({ f: 'register', node: 'e2', status: 'warning' }, true, 0, 1),
      op({ f: 'read', what: 'passing' }, 'e2=warning', 2, 3),
    ];
    expect(checkHistory(ops, catalogModel).linearizable).toBe(false);
  });

  it('rejects a status update that did not take (K30) and a node left behind by its deregistration (K31)', () => {
    const stale = [
      op({ f: 'register', node: 'e1', status: 'passing' }, true, 0, 1),
      op({ f: 'register', node: 'e1', status: 'critical' }, true, 2, 3),
      op({ f: 'read', what: 'health' }, 'e1=passing', 4, 5),
    ];
    expect(checkHistory(stale, catalogModel).linearizable).toBe(false);
    const leftover = [
      op({ f: 'register', node: 'e3', status: 'passing' }, true, 0, 1),
      op({ f: 'deregister', node: 'e3' }, true, 2, 3),
      op({ f: 'read', what: 'nodes' }, 'e3', 4, 5),
    ];
    expect(checkHistory(leftover, catalogModel).linearizable).toBe(false);
  });

  it('lets a write of unknown outcome have happened or not', () => {
    const ops = [
      op({ f: 'register', node: 'e1', status: 'passing' }, UNKNOWN, 0, Infinity),
      op({ f: 'read', what: 'nodes' }, '', 1, 2),
      op({ f: 'read', what: 'nodes' }, 'e1', 3, 4),
    ];
    expect(checkHistory(ops, catalogModel).linearizable).toBe(true);
  });

  it('with node checks: ?passing needs every check, the query skips the node check it ignores (I07, I11)', () => {
    const ops = [
      op({ f: 'register', node: 'e1', status: 'passing', nodeStatus: 'critical' }, true, 0, 1),
      op({ f: 'register', node: 'e2', status: 'passing', nodeStatus: 'passing' }, true, 2, 3),
      op({ f: 'read', what: 'health' }, 'e1=passing+critical,e2=passing+passing', 4, 5),
      op({ f: 'read', what: 'passing' }, 'e2=passing+passing', 6, 7),
      op({ f: 'read', what: 'query' }, 'e1=passing+critical,e2=passing+passing', 8, 9),
      op({ f: 'deregisterCheck', node: 'e1' }, true, 10, 11),
      op({ f: 'read', what: 'passing' }, 'e1=passing,e2=passing+passing', 12, 13),
      // A registration without a node status keeps the node check the node has.
      op({ f: 'register', node: 'e2', status: 'warning' }, true, 14, 15),
      op({ f: 'read', what: 'health' }, 'e1=passing,e2=warning+passing', 16, 17),
    ];
    expect(checkHistory(ops, catalogModel).linearizable).toBe(true);
    const unfiltered = [
      op({ f: 'register', node: 'e1', status: 'passing', nodeStatus: 'critical' }, true, 0, 1),
      op({ f: 'read', what: 'passing' }, 'e1=passing+critical', 2, 3),
    ];
    expect(checkHistory(unfiltered, catalogModel).linearizable).toBe(false);
    const notIgnored = [
      op({ f: 'register', node: 'e1', status: 'passing', nodeStatus: 'critical' }, true, 0, 1),
      op({ f: 'read', what: 'query' }, '', 2, 3),
    ];
    expect(checkHistory(notIgnored, catalogModel).linearizable).toBe(false);
    expect(
      renderHealth([
        {
          Node: { Node: 'e1' },
          Checks: [
            { CheckID: 'ext-node', Status: 'warning' },
            { CheckID: 'ext-alive', Status: 'passing' },
          ],
        },
      ]),
    ).toBe('e1=passing+warning');
  });

  it('renders answers as the model states them, and names what is malformed', () => {
    const entry = (node: string, status: string) => ({
      Node: { Node: node },
      Checks: [
        { CheckID: 'serfHealth', Status: 'passing' },
        { CheckID: 'ext-alive', Status: status },
      ],
    });
    expect(renderHealth([entry('e2', 'critical'), entry('e1', 'passing')])).toBe('e1=passing,e2=critical');
    expect(renderHealth({})).toEqual({ malformed: 'a body that is not a list' });
    expect(renderHealth([{ Node: { Node: 'e1' }, Checks: [] }])).toEqual({
      malformed: 'an instance on e1 without its ext-alive check',
    });
    expect(renderNodes([{ Node: 'n1' }, { Node: 'e3' }, { Node: 'e1' }])).toBe('e1,e3');
  });
});

describe('scenarios/agent/catalog-health.txt', () => {
  it('seeds 1-3 pass with the catalog history checked (with ?passing and node reads in it) and anti-entropy converged', () => {
    const file = 'scenarios/agent/catalog-health.txt';
    for (const seed of [1, 2, 3]) {
      const lines: string[] = [];
      const sim = new Simulation(parseScenario(readFileSync(file, 'utf8'), file), harness, seed, {
        onLog: (line) => lines.push(line.text),
      });
      expect(sim.run().violations, `seed ${seed}`).toEqual([]);
      expect(
        lines.some((l) => /^catalog: \d{2,} catalog\/health operations linearizable/.test(l)),
        `seed ${seed}`,
      ).toBe(true);
      const reads = sim.history.ops.filter((o) => o.f === 'catalog.read' && o.outcome === 'ok');
      const what = new Set(reads.map((o) => (o.input as CatalogInput).what));
      expect([...what].sort(), `seed ${seed}`).toEqual(['health', 'nodes', 'passing']);
    }
  });
});

describe('scenarios/agent/catalog-node-checks.txt', () => {
  it('seed 1 passes with node checks, node-check removals and prepared-query reads in the checked history', () => {
    const file = 'scenarios/agent/catalog-node-checks.txt';
    const sim = new Simulation(parseScenario(readFileSync(file, 'utf8'), file), harness, 1);
    expect(sim.run().violations).toEqual([]);
    const ok = sim.history.ops.filter((o) => o.key === 'catalog:ext' && o.outcome === 'ok');
    const inputs = ok.map((o) => o.input as CatalogInput);
    expect(inputs.some((i) => i.f === 'deregisterCheck')).toBe(true);
    expect(inputs.some((i) => i.f === 'read' && i.what === 'query')).toBe(true);
    expect(inputs.some((i) => i.f === 'register' && i.nodeStatus !== undefined)).toBe(true);
  });
});

describe('scenarios/kv/catalog-watch.txt', () => {
  it('seeds 1-2 pass: health watchers are parked and woken by the catalog writers, no wake-up missed', () => {
    const file = 'scenarios/kv/catalog-watch.txt';
    for (const seed of [1, 2]) {
      const lines: string[] = [];
      const sim = new Simulation(parseScenario(readFileSync(file, 'utf8'), file), kvHarness, seed, {
        onLog: (line) => lines.push(line.text),
      });
      expect(sim.run().violations, `seed ${seed}`).toEqual([]);
      const woken = /watchers woken (\d+) times \((\d+) on health\/service\)/.exec(
        lines.find((l) => l.includes('watchers woken')) ?? '',
      );
      expect(Number(woken?.[1] ?? 0), `seed ${seed}`).toBeGreaterThanOrEqual(10);
      expect(Number(woken?.[2] ?? 0), `seed ${seed}: health watchers woken`).toBeGreaterThanOrEqual(1);
    }
  });
});
