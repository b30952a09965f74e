/**
 * Raft messages per acknowledged client operation, counted in the simulator: deterministic and
 * independent of the machine's load, so a change to what Raft sends (batching, the commit notice delay)
 * shows here exactly, where bench:cluster's ops/s on a shared machine would bury it in noise.
 *
 *   npx tsx bench/raft-messages.ts [CLIENTS...]      (default: 1 16)
 *
 * 3 nodes, 1 ms links, no faults, 10 s of closed-loop clients (1 ms mean think time; the raft harness's
 * workload: writes and linearizable reads), seed 1. Per client count: messages by type (AppendEntries
 * split into those carrying entries and empty ones: heartbeats, ReadIndex rounds, commit notices), the
 * acknowledged operations, and messages per acknowledged operation. Last line: one JSON object.
 * To compare with another checkout, copy this file there and run it the same way.
 */
import { loadScenarioText } from '../sim/run.js';
import { Simulation } from '../sim/engine/simulation.js';

const clientCounts = (process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['1', '16']).map(Number);

interface Count {
  clients: number;
  verdict: string;
  okOps: number;
  raftMessages: number;
  messagesPerOkOp: number;
  byType: Record<string, number>;
}

async function count(clients: number): Promise<Count> {
  const text = [
    'protocol raft',
    'nodes 3',
    'duration safety=10s liveness=1s',
    'network latency=1ms..1ms',
    `set clients ${clients}`,
    'set opEveryMs 1',
    'set requestTimeoutMs 2000',
    '',
  ].join('\n');
  const loaded = await loadScenarioText(text, 'raft-messages.txt');
  const byType = new Map<string, number>();
  const sim = new Simulation(loaded.scenario, loaded.harness, 1, {
    onMessage: (hop) => {
      if (hop.machine !== 'raft') return;
      let type = hop.type;
      const entries = (hop.payload as { entries?: unknown } | undefined)?.entries;
      if (type === 'append' && Array.isArray(entries)) type = entries.length > 0 ? 'append+entries' : 'append(empty)';
      byType.set(type, (byType.get(type) ?? 0) + 1);
    },
  });
  const result = sim.run();
  const okOps = sim.history.ops.filter((op) => op.outcome === 'ok').length;
  let raftMessages = 0;
  for (const n of byType.values()) raftMessages += n;
  return {
    clients,
    verdict: result.result,
    okOps,
    raftMessages,
    messagesPerOkOp: Math.round((raftMessages / Math.max(1, okOps)) * 100) / 100,
    byType: Object.fromEntries([...byType].sort()),
  };
}

const results: Count[] = [];
for (const clients of clientCounts) {
  const c = await count(clients);
  results.push(c);
  const types = Object.entries(c.byType)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  console.log(
    `${clients} clients: ${c.okOps} ops acknowledged, ${c.raftMessages} Raft messages, ${c.messagesPerOkOp} per op (${types}); run ${c.verdict}`,
  );
}
console.log(JSON.stringify({ results }));
