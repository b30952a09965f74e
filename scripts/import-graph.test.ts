/**
 * Proves that core/raft (and the other core protocols) have no import cycle, with the same code that
 * prints the graph (`npx tsx scripts/import-graph.ts core/raft`); and that the cycle finder can fail,
 * on a small graph with a known cycle and on a known type-only import.
 */
import { describe, expect, it } from 'vitest';
import { cyclesOf, folderCycles, importsOf } from './import-graph.js';

describe('import graph', () => {
  it('finds a cycle and leaves a chain alone', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(cyclesOf(graph)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
    expect(
      cyclesOf(
        new Map([
          ['a.ts', ['b.ts']],
          ['b.ts', []],
        ]),
      ),
    ).toEqual([]);
  });

  it('reads value, type-only and multi-line imports', () => {
    const text = [
      "import type { A } from './a.js';",
      "import { type B, type C } from './b.js';",
      'import {',
      '  d,',
      '  type E,',
      "} from './d.js';",
      "export { f } from './f.js';",
      "import { x } from '../outside.js';",
    ].join('\n');
    expect(importsOf('core/raft', 'z.ts', text)).toEqual([
      { to: 'a.ts', typeOnly: true },
      { to: 'b.ts', typeOnly: true },
      { to: 'd.ts', typeOnly: false },
      { to: 'f.ts', typeOnly: false },
    ]);
  });

  it.each(['core/raft', 'core/swim'])('%s has no import cycle', (dir) => {
    expect(folderCycles(dir)).toEqual({ all: [], values: [] });
  });
});
