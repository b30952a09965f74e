/**
 * Where issue 12's "every shipped scenario passes 10,000 seeds" stands, from the ledger (docs/sweeps.md):
 * for each scenario, the seeds its rows cover **on today's traces**, the failing seeds those rows name, and
 * what is left to 10,000.
 *
 *   npx tsx scripts/sweep-ledger.ts [--all] [--ledger docs/sweeps.md]
 *
 * A row (`| scenario | seeds | passed / total | failing seeds | explorer s | commit |`) counts when the
 * scenario behaves at HEAD as it did at the row's commit, judged the way the ledger does: the scenario's
 * lines (comments aside) and its golden transcript — faults, phases, leader changes, verdict and trace hash
 * at its seed — are the same at both commits. A golden is one seed, so this is a necessary condition made
 * cheap, not a proof; a change that moves some seeds but not the golden's is named in the ledger by hand.
 * Planted demos (`planted` in the path or name) must fail and are listed apart. `--all` also lists the
 * scenarios already at 10,000.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const target = 10_000;

interface Row {
  readonly seeds: readonly [number, number][];
  readonly failing: string;
  readonly commit: string;
}

function git(...args: string[]): string | null {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 26 });
  } catch {
    return null;
  }
}

/** The scenario's meaningful lines (comments and blank lines aside). */
const lines = (text: string | null): string =>
  (text ?? '')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'))
    .join('\n');

const memo = new Map<string, boolean>();
/** Whether the scenario and its golden are the same at `commit` as at HEAD. */
function sameAsHead(scenario: string, commit: string): boolean {
  const key = `${scenario}@${commit}`;
  const known = memo.get(key);
  if (known !== undefined) return known;
  const then = git('show', `${commit}:${scenario}`);
  const golden = git('show', `${commit}:${scenario}.golden`);
  const same =
    then !== null &&
    lines(then) === lines(git('show', `HEAD:${scenario}`)) &&
    golden === git('show', `HEAD:${scenario}.golden`);
  memo.set(key, same);
  return same;
}

function parseRanges(text: string): [number, number][] | null {
  const out: [number, number][] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)\.\.(\d+)\s*$/.exec(part);
    if (!m) return null;
    out.push([Number(m[1]), Number(m[2])]);
  }
  return out;
}

function ledgerRows(ledger: string): Map<string, Row[]> {
  const rows = new Map<string, Row[]>();
  for (const line of readFileSync(ledger, 'utf8').split('\n')) {
    if (!line.startsWith('| ')) continue;
    const cells = line.split('|').map((c) => c.trim());
    const name = cells[1] ?? '';
    if (!name.endsWith('.txt')) continue;
    const seeds = parseRanges(cells[2] ?? '');
    const commit = (cells[6] ?? '').split(/\s/)[0] ?? '';
    if (seeds === null || !/^[0-9a-f]{7,40}$/.test(commit)) continue;
    const scenario = name.startsWith('scenarios/') ? name : `scenarios/${name}`;
    const list = rows.get(scenario) ?? [];
    list.push({ seeds, failing: cells[4] ?? '', commit });
    rows.set(scenario, list);
  }
  return rows;
}

function scenarioFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...scenarioFiles(path));
    else if (name.endsWith('.txt')) out.push(path);
  }
  return out;
}

function main(argv: string[]): number {
  const all = argv.includes('--all');
  const at = argv.indexOf('--ledger');
  const ledger = at >= 0 ? argv[at + 1]! : 'docs/sweeps.md';
  const rows = ledgerRows(ledger);
  const head = (git('rev-parse', '--short', 'HEAD') ?? '?').trim();
  const report: string[] = [];
  let done = 0;
  let shipped = 0;
  let missing = 0;
  const planted: string[] = [];
  for (const path of scenarioFiles('scenarios')) {
    const scenario = relative('.', path);
    if (scenario.includes('planted')) {
      planted.push(scenario);
      continue;
    }
    shipped++;
    const covered = new Set<number>();
    const failing: string[] = [];
    const counted: string[] = [];
    for (const row of rows.get(scenario) ?? []) {
      if (!sameAsHead(scenario, row.commit)) continue;
      for (const [a, b] of row.seeds) for (let s = a; s <= b; s++) covered.add(s);
      counted.push(`${row.seeds.map(([a, b]) => `${a}..${b}`).join(',')}@${row.commit.slice(0, 7)}`);
      if (!/^[–-]?$/.test(row.failing)) failing.push(row.failing);
    }
    const n = [...covered].filter((s) => s >= 1 && s <= target).length;
    if (n >= target) done++;
    else missing += target - n;
    if (n < target || all)
      report.push(
        `| ${scenario} | ${n.toLocaleString('en-US')} | ${counted.join('; ') || '–'} | ${failing.join('; ') || '–'} |`,
      );
  }
  console.log(
    `Sweep ledger at ${head} (${ledger}): ${done} of ${shipped} shipped scenarios at ${target.toLocaleString('en-US')} seeds on today's traces; ${missing.toLocaleString('en-US')} seeds to go.`,
  );
  console.log(`Planted demos (must fail, not counted): ${planted.join(', ')}\n`);
  console.log("| scenario | seeds on today's traces | rows counted | failing seeds named |");
  console.log('|---|---|---|---|');
  for (const line of report) console.log(line);
  return 0;
}

process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0); // `npm run sweeps | head`: the reader has what it wanted
  throw error;
});
process.exitCode = main(process.argv.slice(2));
