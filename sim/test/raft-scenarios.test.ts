/**
 * The named Raft scenarios (scenarios/raft/*.txt) pass on their own seed and two more: every
 * invariant after every step, exactly-once at the end, liveness after the faults, and each file's
 * own expectations (who leads, the final voters, a snapshot installed, elections happened...).
 * Messages and stored values go through msgpackr here (codec on), as on the real wire.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadScenario, runLoaded, replayCommand } from '../run.js';

const dir = 'scenarios/raft';
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.txt') && !f.startsWith('planted-'))
  .sort();
const planted = readdirSync(dir)
  .filter((f) => f.startsWith('planted-') && f.endsWith('.txt'))
  .sort();

describe('named Raft scenarios', () => {
  it('covers the scenarios the issue lists', () => {
    for (const name of [
      'figure-8',
      'leader-isolated-healed',
      'partition-leader-minority',
      'partition-leader-majority',
      'oneway-leader',
      'flapping-link',
      'crash-lost-writes',
      'membership-during-partition',
      'leadership-transfer',
      'snapshot-lagging-follower',
    ]) {
      expect(files).toContain(`${name}.txt`);
    }
  });

  for (const file of files) {
    it(`${file} passes on 3 seeds`, async () => {
      const loaded = await loadScenario(`${dir}/${file}`);
      for (let k = 0; k < 3; k++) {
        const seed = loaded.scenario.seed + k * 1000;
        const result = runLoaded(loaded, seed, { logLimit: 30 });
        const detail = `${replayCommand(`${dir}/${file}`, seed)}\n${result.violations.join('\n')}\n${result.log.map((l) => `${l.atMs.toFixed(1)} ${l.node ?? '-'} ${l.text}`).join('\n')}`;
        expect(result.result, detail).toBe('pass');
      }
    }, 60_000);
  }

  // Deliberately broken variants (scenarios/README.md): each must fail on its own seed.
  for (const file of planted) {
    it(`${file} fails on its own seed`, async () => {
      const loaded = await loadScenario(`${dir}/${file}`);
      expect(runLoaded(loaded, loaded.scenario.seed).result).toBe('fail');
    }, 60_000);
  }
});
