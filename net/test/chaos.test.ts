/**
 * A short chaos run on real processes (net/test/chaos-runner.ts): 3 servers + a client agent, load
 * through random agents, a nemesis of kill -9 / SIGSTOP+SIGCONT / restarts; the history must be
 * linearizable and the final reads must see every acknowledged write. The long run is `npm run chaos`.
 */
import { describe, expect, it } from 'vitest';
import { runChaos } from './chaos-runner.js';

describe('chaos on real processes', () => {
  it('keeps the KV linearizable through kill -9, SIGSTOP and restarts', async () => {
    const seed = Number(process.env['CHAOS_SEED'] ?? Date.now() % 100_000);
    const report = await runChaos({
      seed,
      seconds: 12,
      clients: 3,
      keys: 3,
      nemesisEveryMs: 2500,
      ipBase: '127.0.1',
      log: (l) => console.log(l),
    });
    console.log(JSON.stringify({ ...report, nemesisActions: report.nemesisActions.length }));
    expect(report.nemesisActions.length).toBeGreaterThan(0);
    expect(report.okOps).toBeGreaterThan(20);
    expect(report.linearizable, `seed ${seed}: ${report.explanation}`).toBe(true);
  });
});
