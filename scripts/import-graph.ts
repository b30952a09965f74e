/**
 * Prints the import graph of one folder (file → the files of that folder it imports) and the cycles in
 * it: `npx tsx scripts/import-graph.ts core/raft`. Test files are left out (they sit on top of the
 * code they test). A type-only import is marked `(type)`; cycles are reported twice, over every import
 * and over value imports only, because a type-only cycle costs nothing at run time but still means the
 * files cannot be read one after the other.
 *
 * Exit status 1 when the folder has a cycle, so a script or a test can gate on it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Edge {
  readonly to: string;
  readonly typeOnly: boolean;
}

/** The relative imports and re-exports of one source file, resolved to file names inside `dir`. */
export function importsOf(dir: string, file: string, text: string): Edge[] {
  const edges = new Map<string, boolean>();
  // `import ... from '...'`, `import type ...`, `export ... from '...'`, across line breaks.
  const statement = /(?:^|\n)\s*(import|export)\s+(type\s+)?([^;]*?)\s+from\s+'([^']+)'/g;
  for (let match = statement.exec(text); match !== null; match = statement.exec(text)) {
    const spec = match[4]!;
    if (!spec.startsWith('.')) continue;
    const target = resolve(dirname(join(dir, file)), spec.replace(/\.js$/, '.ts'));
    if (dirname(target) !== resolve(dir)) continue; // only edges inside the folder
    const to = basename(target);
    const clause = match[3]!;
    // `import { type A, type B }` is type-only too.
    const names = clause.replace(/^\{|\}$/g, '').split(',');
    const typeOnly =
      match[2] !== undefined || (clause.startsWith('{') && names.every((n) => /^\s*type\s/.test(n) || !n.trim()));
    edges.set(to, (edges.get(to) ?? true) && typeOnly);
  }
  return [...edges].map(([to, typeOnly]) => ({ to, typeOnly })).sort((a, b) => (a.to < b.to ? -1 : 1));
}

/** Strongly connected components with more than one file (or a file importing itself): Tarjan's algorithm. */
export function cyclesOf(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      for (;;) {
        const w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
        if (w === v) break;
      }
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

/** The graph of one folder's non-test sources: file → the files of that folder it imports. */
export function graphOf(dir: string): { files: string[]; edges: Map<string, Edge[]> } {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
    .sort();
  const edges = new Map<string, Edge[]>();
  for (const file of files)
    edges.set(
      file,
      importsOf(dir, file, readFileSync(join(dir, file), 'utf8')).filter((e) => files.includes(e.to)),
    );
  return { files, edges };
}

/** Cycles over every import, and over value imports only. */
export function folderCycles(dir: string): { all: string[][]; values: string[][] } {
  const { edges } = graphOf(dir);
  const all = new Map([...edges].map(([file, list]) => [file, list.map((e) => e.to)]));
  const values = new Map([...edges].map(([file, list]) => [file, list.filter((e) => !e.typeOnly).map((e) => e.to)]));
  return { all: cyclesOf(all), values: cyclesOf(values) };
}

function main(dir: string): number {
  const { files, edges } = graphOf(dir);
  console.log(
    `import graph of ${relative(process.cwd(), resolve(dir)) || '.'} (${files.length} files, tests left out)`,
  );
  for (const file of files) {
    const shown = edges.get(file)!.map((e) => e.to.replace(/\.ts$/, '') + (e.typeOnly ? ' (type)' : ''));
    console.log(`  ${file.replace(/\.ts$/, '')} → ${shown.length > 0 ? shown.join(', ') : '(nothing)'}`);
  }
  const cycles = folderCycles(dir);
  const show = (list: string[][]): string =>
    list.length === 0 ? 'none' : list.map((c) => `{${c.map((f) => f.replace(/\.ts$/, '')).join(', ')}}`).join(' ');
  console.log(`cycles over all imports: ${show(cycles.all)}`);
  console.log(`cycles over value imports: ${show(cycles.values)}`);
  return cycles.all.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dirArg = process.argv[2];
  if (dirArg === undefined) {
    console.error('usage: npx tsx scripts/import-graph.ts FOLDER');
    process.exitCode = 2;
  } else process.exitCode = main(dirArg);
}
