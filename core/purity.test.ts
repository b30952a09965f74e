/**
 * core/ is pure: no imports from sim/, net/, cli/, no Node built-in modules, no clock, no ambient
 * randomness, no timers, no process or console. This test reads every non-test source file in core/
 * and fails on the first line that breaks the rule, naming file and line.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('.', import.meta.url).pathname;
const forbidden: [RegExp, string][] = [
  [/from\s+['"](\.\.\/)+(sim|net|cli|scenarios|bench|test)\//, 'imports another folder'],
  [
    /from\s+['"]node:|require\(|from\s+['"](fs|path|os|net|dgram|http|child_process|crypto|timers|worker_threads)['"]/,
    'imports a Node module',
  ],
  [/\bDate\.now\b|\bnew Date\(|\bperformance\.now\b/, 'reads the clock'],
  [/\bMath\.random\b|crypto\.getRandomValues/, 'uses ambient randomness'],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask)\s*\(/, 'uses timers'],
  [
    /\bprocess\.(env|exit|argv|stdout|stderr|stdin|on|pid|hrtime|nextTick|cwd|memoryUsage)\b|\bconsole\.\w+\(/,
    'touches process or console',
  ],
  [/\bawait\b|\basync\s+function\b/, 'awaits (the core never waits)'],
];

function sources(dir: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...sources(path));
    else if (/\.tsx?$/.test(name) && !/\.test\.tsx?$/.test(name)) files.push(path);
  }
  return files;
}

function impurities(text: string, name: string): string[] {
  const problems: string[] = [];
  text.split('\n').forEach((line, i) => {
    const code = line
      .replace(/\/\/.*$/, '')
      .replace(/^\s*(\/\*\*?|\*).*$/, '')
      .replace(/\/\*.*?\*\//g, '');
    for (const [pattern, why] of forbidden)
      if (pattern.test(code)) problems.push(`${name}:${i + 1} ${why}: ${line.trim()}`);
  });
  return problems;
}

describe('core purity', () => {
  it('has no forbidden imports, clocks, randomness, timers or I/O', () => {
    const problems = sources(root).flatMap((file) =>
      impurities(readFileSync(file, 'utf8'), `core/${relative(root, file)}`),
    );
    expect(problems).toEqual([]);
  });

  it('would catch each kind of impurity (the check can fail)', () => {
    const bad = [
      "import { x } from '../sim/engine/simulation.js';",
      "import { readFileSync } from 'node:fs';",
      'const t = Date.now();',
      'const r = Math.random();',
      'setTimeout(() => 0, 5);',
      'console.log(1);',
      'process.exit(1);',
      'const v = await p;',
    ];
    for (const line of bad) expect(impurities(line, 'x.ts'), line).toHaveLength(1);
    expect(impurities('// Date.now() in a comment is fine\n/** a process. */', 'x.ts')).toEqual([]);
  });
});
