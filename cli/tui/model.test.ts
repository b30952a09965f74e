import { describe, expect, it } from 'vitest';
import { classifyLine } from './model.js';

describe('classifyLine', () => {
  it('takes fault words as whole words, with their -ed forms', () => {
    expect(classifyLine('n2 crashed (lost unsynced writes)')).toBe('fault');
    expect(classifyLine('n2 restarted')).toBe('fault');
    expect(classifyLine('network healed')).toBe('fault');
    expect(classifyLine('link n1→n2 clogged until 900 ms')).toBe('fault');
    expect(classifyLine('one-way partition: n1 cannot reach n2')).toBe('fault');
    // "health" is not "heal" (the web UI's review found it labelled a fault).
    expect(classifyLine("member 'n2' joined, marking health alive")).toBe('membership');
    expect(classifyLine('paused writers resumed their loop')).toBe('fault');
  });
});
