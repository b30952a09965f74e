/**
 * Every scenario with a golden transcript (sim/tools/golden.ts) still tells the same story at its own
 * seed: the same faults, leader changes, verdict and trace hash. A failure prints both transcripts;
 * after a deliberate change, `npx tsx sim/tools/golden.ts --rewrite FILE` updates the file, and the
 * diff is reviewed like code. A missing golden file fails too: a new scenario gets one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { goldenPathOf, goldenScenarios, transcriptOf } from '../tools/golden.js';

describe('golden transcripts', () => {
  for (const file of goldenScenarios()) {
    it(`${file} matches ${goldenPathOf(file)}`, async () => {
      const golden = goldenPathOf(file);
      expect(existsSync(golden), `${golden} is missing: npx tsx sim/tools/golden.ts --rewrite ${file}`).toBe(true);
      expect(
        await transcriptOf(file),
        `rewrite after a deliberate change: npx tsx sim/tools/golden.ts --rewrite ${file}`,
      ).toBe(readFileSync(golden, 'utf8'));
    }, 120_000);
  }
});
