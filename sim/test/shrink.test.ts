/**
 * The shrinker, end to end on a planted bug (sim/shrink-planted.ts: a node acknowledges a value
 * before it is durable or sent anywhere): a failing seed of the swarm nemesis (dozens of faults)
 * shrinks to ≤ 3 faults and ≤ 20 events (faults + client operations) within 60 s; the shrunk scenario
 * file fails on its own while the correct protocol passes the same schedule (so what was kept is the
 * bug's trigger); the fault sentences of the simulator convert back into timeline actions.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeReplay } from '../tools/replay.js';
import { loadScenario, loadScenarioText, runLoaded } from '../run.js';
import { actionOfFaultLine, propertyOf, shrink } from '../tools/shrink.js';
import { Simulation, type LogLine } from '../engine/simulation.js';

const planted = 'scenarios/planted/broadcast-lost-ack.txt';

describe('shrink a planted bug', () => {
  it('cuts a swarm-nemesis failure down to ≤ 3 faults and ≤ 20 events within 60 s', async () => {
    const loaded = await loadScenario(planted);
    const text = readFileSync(planted, 'utf8');
    let failing = null;
    for (let seed = 1; seed <= 40 && !failing; seed++) {
      const result = runLoaded(loaded, seed, {});
      if (result.result === 'fail') failing = result;
    }
    expect(failing, 'some seed of the planted bug fails').not.toBeNull();
    const file = makeReplay({
      scenarioFile: planted,
      scenarioText: text,
      result: failing!,
      codec: true,
      origin: 'test',
    });
    const outcome = await shrink(file, { timeBudgetMs: 60_000 });
    expect(outcome.originalFaults).toBeGreaterThan(10);
    expect(outcome.property).toBe('liveness');
    expect(outcome.faults).toBeLessThanOrEqual(3);
    expect(outcome.faults + outcome.clientOps).toBeLessThanOrEqual(20);
    expect(outcome.wallMs).toBeLessThan(60_000);
    expect(outcome.knobsPinned).toBe(false);

    // The shrunk scenario fails by itself (no pinned knobs), with the same property.
    const shrunk = await loadScenarioText(outcome.bestText, planted);
    const again = runLoaded(shrunk, failing!.seed, {});
    expect(again.result).toBe('fail');
    expect(propertyOf(again.violations[0]!)).toBe('liveness');
    // The correct protocol survives the same schedule and workload: the kept faults trigger the bug.
    const correct = await loadScenarioText(
      outcome.bestText.replace('protocol broadcast-planted', 'protocol broadcast'),
      planted,
    );
    expect(runLoaded(correct, failing!.seed, {}).result).toBe('pass');
  }, 90_000);
});

describe('the recorded schedule', () => {
  it('turns every fault sentence of the simulator back into the timeline action that makes it', async () => {
    const text = [
      'protocol broadcast',
      'nodes 5',
      'duration safety=2s liveness=1s',
      'at 100ms partition n1 n2 | n3 n4 n5',
      'at 200ms heal',
      'at 300ms oneway n1 n2',
      'at 400ms clog n2 n3 250ms',
      'at 500ms crash n4',
      'at 600ms restart n4',
      'at 700ms pause n5',
      'at 800ms resume n5',
      'at 900ms jump n1 -300ms',
      'at 1000ms drift n2 150',
      'at 1100ms network loss=5% dup=1% reorder=10%',
      'at 1200ms bridge n3 n1 n2 | n4 n5',
      'at 1300ms ring',
    ].join('\n');
    const loaded = await loadScenarioText(text, 'inline.txt');
    const lines: LogLine[] = [];
    new Simulation(loaded.scenario, loaded.harness, 1, { onLog: (l) => lines.push(l) }).run();
    const actions = lines
      .filter((l) => l.kind === 'fault' && l.atMs < 2000)
      .map((l) => actionOfFaultLine(l.text, l.atMs));
    expect(actions).toEqual([
      'partition n1 n2 | n3 n4 n5',
      'heal',
      'oneway n1 n2',
      'clog n2 n3 250.000ms',
      'crash n4',
      'restart n4',
      'pause n5',
      'resume n5',
      'jump n1 -300ms',
      'drift n2 150',
      'network loss=5% dup=1% reorder=10%',
      'bridge n3 n1 n2 | n4 n5',
      'ring',
    ]);
  });

  it('names the property without nodes, numbers or file positions', () => {
    expect(propertyOf('liveness: no progress within 5000 ms after faults stopped')).toBe('liveness');
    expect(propertyOf('n3: raft: commit index went from 7 to 5', ['n3'])).toBe('raft');
    expect(propertyOf('scenarios/x.txt:12: unknown action')).toBe('unknown action');
    expect(propertyOf('two leaders in term 3')).toBe('two leaders in term #');
  });
});
