/**
 * The example of docs/write-your-own-protocol.md runs as the guide says: the register served by its
 * primary keeps a linearizable history under crashes, pauses and partitions (seeds 1..20), and the
 * planted mistake (`set readFrom any`: reads from backups) fails seed 1 with the stale read named.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadScenarioText, runLoaded } from '../run.js';

const path = 'scenarios/example/register.txt';
const text = readFileSync(new URL('../../scenarios/example/register.txt', import.meta.url), 'utf8');

describe('the example register (docs/write-your-own-protocol.md)', () => {
  it('is linearizable through its primary under the nemesis', async () => {
    const loaded = await loadScenarioText(text, path);
    for (let seed = 1; seed <= 20; seed++) {
      const result = runLoaded(loaded, seed);
      expect(result.violations, `seed ${seed}`).toEqual([]);
      expect(result.result).toBe('pass');
    }
  });

  it('is not linearizable when reads go to any node', async () => {
    const loaded = await loadScenarioText(text.replace('set clients 3', 'set clients 3\nset readFrom any'), path);
    const result = runLoaded(loaded, 1);
    expect(result.result).toBe('fail');
    expect(result.violations[0]).toMatch(/^register history is not linearizable: Longest linearizable prefix/);
  });
});
