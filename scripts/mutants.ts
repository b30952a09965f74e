/**
 * The explorer measured as a bug finder (issue 12): plants one mutant at a time in a throw-away git
 * worktree and runs the explorer alone — no unit tests — on the exploration scenarios, with a wall-time
 * budget per mutant, on one core. Records whether a seed failed, the seconds to the first failing seed,
 * the property that broke, and the size of the shrunk schedule (faults + client operations).
 *
 *   npx tsx scripts/mutants.ts [--mutants docs/mutants/raft.json] [--ids R01,M03] [--budget-s 60]
 *       [--shrink-s 20] [--scenarios a.txt,scenarios/agent] [--exclude members-1000] [--out results.json]
 *       [--no-clean-check]
 *
 * The worktree is made from HEAD (commit your changes first), the mutant is an exact string replacement
 * (docs/mutants/*.json: `find` must occur exactly once), and the file is restored after each mutant.
 * `--scenarios` takes files and directories (a directory: its scenarios as `conclave sim explore DIR`
 * lists them, planted variants left out). The seeds of all scenarios are interleaved so that every
 * scenario gets an equal share of time — the next seed always goes to the scenario that has used the least
 * time so far — by the suite explorer's scheduler (sim/tools/suite.ts), the one `sim explore DIR` runs.
 *
 * Child mode (`--child`, run inside the worktree so the mutated sources are the ones loaded) prints one
 * JSON line with the verdict. `--table BEFORE.json AFTER.json` prints the markdown table of
 * docs/mutation-testing.md from two result files; `--sessions` and `--rounds` (several rounds at once,
 * as written and today) print the later sessions' tables.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

interface Mutant {
  readonly id: string;
  readonly file: string;
  readonly what: string;
  readonly find: string;
  readonly replace: string;
}

export interface Verdict {
  readonly id: string;
  readonly caught: boolean;
  /** Wall seconds from the first seed to the end of the first failing seed. */
  readonly seconds: number | null;
  /** CPU seconds (user + system) of the runner over the same span: the time on one core, whatever the load. */
  readonly cpuSeconds?: number;
  readonly scenario: string | null;
  readonly seed: number | null;
  readonly property: string | null;
  readonly violation: string | null;
  /** Faults + client operations of the shrunk run, when shrinking finished in its budget. */
  readonly shrunkSize: number | null;
  readonly seedsRun: number;
  readonly note?: string;
}

const defaultScenarios = [
  'scenarios/raft/explore-swarm-3.txt',
  'scenarios/raft/explore-swarm-5.txt',
  'scenarios/kv/jepsen-cas.txt',
];

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

// ───────────────────────────────────────────── child ─────────────────────────────────────────────

async function child(args: readonly string[]): Promise<void> {
  const { loadScenario, runLoaded } = await import('../sim/run.js');
  const { propertyOf, shrink } = await import('../sim/tools/shrink.js');
  const { makeReplay } = await import('../sim/tools/replay.js');
  const { runSchedule, suiteScenarios } = await import('../sim/tools/suite.js');
  const budgetMs = Number(flag(args, 'budget-s') ?? 60) * 1000;
  // `--budget-cpu-s N`: the budget (and the lanes' equal shares) in CPU seconds of this process instead
  // of wall seconds — the issue's "on one core" on a machine whose other processes take most of it.
  const budgetCpuMs = flag(args, 'budget-cpu-s') === undefined ? null : Number(flag(args, 'budget-cpu-s')) * 1000;
  const cpuMs = (): number => cpuSecondsOf(process.cpuUsage()) * 1000;
  const clock = budgetCpuMs === null ? () => performance.now() : cpuMs;
  const shrinkMs = Number(flag(args, 'shrink-s') ?? 20) * 1000;
  // Files and directories (a directory: its scenarios as `sim explore DIR` takes them, planted ones left out).
  const paths = suiteScenarios(
    (flag(args, 'scenarios') ?? defaultScenarios.join(',')).split(','),
    flag(args, 'exclude')?.split(',') ?? [],
  );
  const id = flag(args, 'id') ?? '?';
  const loaded = new Map<string, Awaited<ReturnType<typeof loadScenario>>>();
  for (const path of paths) loaded.set(path, await loadScenario(path));
  const cleanDir = flag(args, 'clean-tree');
  const clean = cleanDir ? await loadCleanRunner(cleanDir) : null;
  const baselineFailures: string[] = [];
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  let seedsRun = 0;
  let verdict: Verdict | null = null;
  const out = (v: Verdict): void => void process.stdout.write(JSON.stringify(v) + '\n');
  type Outcome = { readonly result: ReturnType<typeof runLoaded> } | { readonly crash: Error };
  // The seeds of all scenarios interleaved by the explorer's own scheduler (sim/tools/suite.ts): the next
  // seed goes to the scenario that has used the least time (CPU time with --budget-cpu-s).
  const { lanes } = await runSchedule<Outcome>({
    paths,
    seeds: { from: 1, to: Infinity },
    budgetMs: budgetCpuMs ?? budgetMs,
    clock,
    jobs: 1,
    runSeed: (path, seed) => {
      try {
        return { result: runLoaded(loaded.get(path)!, seed, { codec: true }) };
      } catch (error) {
        return { crash: error as Error };
      }
    },
    onResult: async (lane, seed, outcome) => {
      seedsRun++;
      if ('crash' in outcome) {
        // A crash of the simulator on a mutant is a catch too: the run stopped on a broken invariant.
        verdict = {
          id,
          caught: true,
          seconds: (performance.now() - started) / 1000,
          scenario: lane.path,
          seed,
          property: 'crash',
          violation: String(outcome.crash.message).slice(0, 300),
          shrunkSize: null,
          seedsRun,
        };
        return 'stop';
      }
      const { result } = outcome;
      if (result.result === 'pass') return 'continue';
      // Measured when the failing seed ends: the flake check below re-runs the seed on the unmutated tree,
      // which is not part of finding it (before session 5 its time was counted in, up to doubling these).
      const seconds = (performance.now() - started) / 1000;
      const cpuSeconds = cpuSecondsOf(process.cpuUsage(cpuStarted));
      // A seed that fails on the unmutated code too (a known flaky scenario) is not a catch.
      if (clean && (await failsOnCleanCode(clean, lane.path, seed))) {
        baselineFailures.push(`${lane.path.replace(/^.*\//, '')}:${seed}`);
        return 'continue';
      }
      const violation = result.violations[0] ?? 'violation';
      let shrunkSize: number | null = null;
      let note: string | undefined;
      try {
        const replay = makeReplay({
          scenarioFile: lane.path,
          scenarioText: readFileSync(lane.path, 'utf8'),
          result,
          codec: true,
          origin: 'mutants',
        });
        const s = await shrink(replay, { timeBudgetMs: shrinkMs });
        shrunkSize = s.faults + s.clientOps;
        note = `shrink ${s.stoppedBy} after ${s.runs} runs`;
      } catch (error) {
        note = `shrink failed: ${(error as Error).message.slice(0, 120)}`;
      }
      verdict = {
        id,
        caught: true,
        seconds,
        cpuSeconds,
        scenario: lane.path,
        seed,
        property: propertyOf(violation, loaded.get(lane.path)!.scenario.nodes),
        violation: violation.slice(0, 300),
        shrunkSize,
        seedsRun,
        ...(note || baselineFailures.length > 0
          ? { note: [note, baselineNote(baselineFailures)].filter(Boolean).join('; ') }
          : {}),
      };
      return 'stop';
    },
  });
  out(
    verdict ??
      notCaught(
        id,
        seedsRun,
        [
          lanes.map((l) => `${l.path.replace(/^scenarios\//, '')}: ${l.seedsRun} seeds`).join(', '),
          baselineNote(baselineFailures),
        ]
          .filter(Boolean)
          .join('; '),
      ),
  );
}

/** A verdict with no failing seed: the mutant escaped its budget, or did not apply (`note` says which). */
function notCaught(id: string, seedsRun: number, note: string): Verdict {
  return {
    id,
    caught: false,
    seconds: null,
    scenario: null,
    seed: null,
    property: null,
    violation: null,
    shrunkSize: null,
    seedsRun,
    note,
  };
}

const cpuSecondsOf = (usage: NodeJS.CpuUsage): number => (usage.user + usage.system) / 1e6;

/** The unmutated tree's simulator (a second worktree at the same commit), to tell flakes from catches. */
type CleanRunner = {
  loadScenario: (path: string) => Promise<unknown>;
  runLoaded: (loaded: unknown, seed: number, options: { codec: boolean }) => { result: string };
};

async function loadCleanRunner(dir: string): Promise<CleanRunner> {
  return (await import(pathToFileURL(join(dir, 'sim/run.ts')).href)) as CleanRunner;
}

async function failsOnCleanCode(clean: CleanRunner, path: string, seed: number): Promise<boolean> {
  const loaded = await clean.loadScenario(path);
  return clean.runLoaded(loaded, seed, { codec: true }).result === 'fail';
}

function baselineNote(failures: readonly string[]): string {
  return failures.length === 0 ? '' : `seeds failing on the unmutated code too, skipped: ${failures.join(' ')}`;
}

// ───────────────────────────────────────────── parent ─────────────────────────────────────────────

function parent(args: readonly string[]): void {
  const repo = resolve('.');
  const mutantsFile = flag(args, 'mutants') ?? 'docs/mutants/raft.json';
  const all = (JSON.parse(readFileSync(mutantsFile, 'utf8')) as { mutants: Mutant[] }).mutants;
  const ids = flag(args, 'ids')?.split(',');
  const mutants = ids ? all.filter((m) => ids.includes(m.id)) : all;
  const outFile = flag(args, 'out');
  const passOn = ['budget-s', 'budget-cpu-s', 'shrink-s', 'scenarios', 'exclude'].flatMap((name) => {
    const v = flag(args, name);
    return v === undefined ? [] : [`--${name}`, v];
  });
  const dir = mkdtempSync(join(tmpdir(), 'conclave-mutants-'));
  const tree = join(dir, 'tree');
  execFileSync('git', ['worktree', 'add', '--detach', tree, 'HEAD'], { cwd: repo, stdio: 'ignore' });
  symlinkSync(join(repo, 'node_modules'), join(tree, 'node_modules'));
  // A second, never-mutated worktree: a failing seed is re-run there, and one that fails there too is a
  // flake of the scenario, not a catch (`--no-clean-check` turns this off).
  const cleanTree = join(dir, 'clean');
  const cleanCheck = !args.includes('--no-clean-check');
  if (cleanCheck) {
    execFileSync('git', ['worktree', 'add', '--detach', cleanTree, 'HEAD'], { cwd: repo, stdio: 'ignore' });
    symlinkSync(join(repo, 'node_modules'), join(cleanTree, 'node_modules'));
  }
  const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo }).toString().trim();
  const verdicts: Verdict[] = [];
  const save = (): void => {
    if (outFile) writeFileSync(outFile, JSON.stringify({ head, mutantsFile, verdicts }, null, 2) + '\n');
  };
  process.stderr.write(`mutants of ${mutantsFile} on ${head} in ${tree}\n`);
  try {
    for (const m of mutants) {
      const path = join(tree, m.file);
      const original = readFileSync(path, 'utf8');
      const count = original.split(m.find).length - 1;
      if (count !== 1) {
        const v = notCaught(m.id, 0, `does not apply: the text occurs ${count} times in ${m.file}`);
        verdicts.push(v);
        save(); // a mutant that does not apply, last in the list, was left out of --out
        process.stderr.write(`${m.id}: ${v.note}\n`);
        continue;
      }
      writeFileSync(path, original.replace(m.find, m.replace));
      try {
        const run = spawnSync(
          process.execPath,
          [
            '--import',
            'tsx',
            join(tree, 'scripts/mutants.ts'),
            '--child',
            '--id',
            m.id,
            ...passOn,
            ...(cleanCheck ? ['--clean-tree', cleanTree] : []),
          ],
          { cwd: tree, encoding: 'utf8', maxBuffer: 1 << 26 },
        );
        const line = run.stdout.trim().split('\n').at(-1) ?? '';
        let v: Verdict;
        try {
          v = JSON.parse(line) as Verdict;
        } catch {
          v = {
            id: m.id,
            caught: true,
            seconds: null,
            scenario: null,
            seed: null,
            property: 'crash',
            violation: run.stderr.trim().split('\n').slice(-3).join(' ').slice(0, 300),
            shrunkSize: null,
            seedsRun: 0,
            note: 'the child crashed (typecheck-level or load-time failure)',
          };
        }
        verdicts.push(v);
        process.stderr.write(
          `${m.id}: ${v.caught ? `caught in ${v.seconds?.toFixed(1)} s (${v.scenario?.replace(/^.*\//, '')} seed ${v.seed}: ${v.property}; shrunk ${v.shrunkSize ?? '-'})` : `ESCAPED (${v.note})`}\n`,
        );
      } finally {
        writeFileSync(path, original);
      }
      save();
    }
  } finally {
    execFileSync('git', ['worktree', 'remove', '--force', tree], { cwd: repo, stdio: 'ignore' });
    if (cleanCheck) execFileSync('git', ['worktree', 'remove', '--force', cleanTree], { cwd: repo, stdio: 'ignore' });
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
  const caught = verdicts.filter((v) => v.caught);
  const secs = caught
    .map((v) => v.seconds)
    .filter((s): s is number => s !== null)
    .sort((a, b) => a - b);
  const median = secs.length > 0 ? secs[Math.floor((secs.length - 1) / 2)]! : NaN;
  process.stderr.write(
    `caught ${caught.length}/${verdicts.length} (${((100 * caught.length) / Math.max(1, verdicts.length)).toFixed(0)}%), median ${median.toFixed(1)} s to the first failing seed\n`,
  );
}

// ───────────────────────────────────────────── table ─────────────────────────────────────────────

function table(args: readonly string[]): void {
  // Later files (re-runs of some mutants on a later commit) override the after column for their ids.
  const [beforeFile, afterFile, ...rerunFiles] = args.filter((a) => !a.startsWith('--'));
  const read = (f: string | undefined): Map<string, Verdict> =>
    new Map(f ? (JSON.parse(readFileSync(f, 'utf8')) as { verdicts: Verdict[] }).verdicts.map((v) => [v.id, v]) : []);
  const before = read(beforeFile);
  const after = read(afterFile);
  const rerun = new Set<string>();
  for (const f of rerunFiles) for (const [id, v] of read(f)) (after.set(id, v), rerun.add(id));
  const property = (v: Verdict): string => {
    if (v.property === 'crash') return `assertion (${(v.violation ?? '').slice(0, 48)})`;
    if (v.property === 'raft') return 'node invariant (raft)';
    const text = (v.violation ?? v.property ?? '').replace(/^(n\d+: )+/, '');
    return text.split(':')[0]!.replace(/^n\d+ /, '');
  };
  const mutantsFile = flag(args, 'mutants') ?? 'docs/mutants/raft.json';
  const mutants = (JSON.parse(readFileSync(mutantsFile, 'utf8')) as { mutants: Mutant[] }).mutants;
  const cell = (v: Verdict | undefined): string =>
    !v
      ? '–'
      : v.caught
        ? `caught ${v.seconds === null ? '' : `${v.seconds.toFixed(1)} s`}`
        : `**escaped** (${v.seedsRun} seeds)`;
  const out = [
    '| id | mutant | before: explorer alone | after: caught? | s to first failing seed | scenario, seed | property | shrunk size |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const m of mutants) {
    const a = after.get(m.id);
    out.push(
      `| ${m.id} | ${m.file.replace('core/raft/', '')}: ${m.what} | ${cell(before.get(m.id))} | ${a ? (a.caught ? 'yes' : `**no** (${a.seedsRun} seeds)`) : '–'}${rerun.has(m.id) ? ' ¹' : ''} | ${a?.seconds?.toFixed(1) ?? '–'} | ${a?.scenario ? `${a.scenario.replace(/^.*\//, '').replace('.txt', '')} ${a.seed}` : '–'} | ${a?.caught ? property(a) : '–'} | ${a?.shrunkSize ?? '–'} |`,
    );
  }
  const summary = (vs: Map<string, Verdict>): string => {
    const all = [...vs.values()];
    const caught = all.filter((v) => v.caught);
    const secs = caught.map((v) => v.seconds ?? 0).sort((x, y) => x - y);
    const median = secs.length ? secs[Math.floor((secs.length - 1) / 2)]! : NaN;
    return `${caught.length}/${all.length} caught (${((100 * caught.length) / Math.max(1, all.length)).toFixed(0)}%), median ${median.toFixed(1)} s`;
  };
  out.push('', `before: ${summary(before)}; after: ${summary(after)}`);
  process.stdout.write(out.join('\n') + '\n');
}

// ───────────────────────────────────────────── session table ─────────────────────────────────────────────

/**
 * `--sessions --mutants FILE [--equivalent ID,..] [--previous-equivalent ID,..] PREVIOUS.json CURRENT.json`: the table of
 * docs/mutation-testing.md (mutant, previous session's verdict, this one's, seconds, scenario and seed,
 * property, shrunk size, seeds run) and its summary line; equivalent mutants (explained in the doc) are
 * listed but left out of the rate and the median.
 */
function sessions(args: readonly string[]): void {
  const [previousFile, currentFile] = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
  const read = (f: string | undefined): Map<string, Verdict> =>
    new Map(f ? (JSON.parse(readFileSync(f, 'utf8')) as { verdicts: Verdict[] }).verdicts.map((v) => [v.id, v]) : []);
  const previous = read(previousFile);
  const current = read(currentFile);
  const equivalent = new Set(flag(args, 'equivalent')?.split(',') ?? []);
  const mutantsFile = flag(args, 'mutants') ?? 'docs/mutants/raft.json';
  const mutants = (JSON.parse(readFileSync(mutantsFile, 'utf8')) as { mutants: Mutant[] }).mutants;
  const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const short = (text: string, n: number): string => (text.length > n ? `${text.slice(0, n)}…` : text);
  const previousEquivalent = new Set(flag(args, 'previous-equivalent')?.split(',') ?? []);
  const verdict = (v: Verdict | undefined, isEquivalent: boolean): string =>
    isEquivalent ? 'equivalent' : !v ? '–' : v.caught ? 'caught' : 'escaped';
  const property = (v: Verdict): string => {
    const text = (v.violation ?? v.property ?? '').replace(/^(n\d+: )+/, '');
    return short(text.split(':')[0]!.replace(/^n\d+ /, ''), 60);
  };
  const out = [
    '| id | mutant | last session | this session | s to first failing seed (wall / CPU) | scenario, seed | property | shrunk | seeds run |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const secs: number[] = [];
  const cpus: number[] = [];
  let caught = 0;
  let counted = 0;
  for (const m of mutants) {
    const v = current.get(m.id);
    if (!v) continue;
    const now = verdict(v, equivalent.has(m.id));
    if (!equivalent.has(m.id)) {
      counted++;
      if (v.caught) (caught++, secs.push(v.seconds ?? 0), cpus.push(v.cpuSeconds ?? NaN));
    }
    const where = v.caught && v.scenario ? `${v.scenario.replace(/^.*\//, '').replace('.txt', '')} ${v.seed}` : '–';
    out.push(
      `| ${m.id} | ${cell(`${m.file.replace(/^core\/[a-z]+\//, '')}: ${short(m.what, 150)}`)} | ${verdict(previous.get(m.id), previousEquivalent.has(m.id))} | ${now === 'caught' ? '**caught**' : now === 'escaped' ? '**escaped**' : now} | ${v.caught ? `${(v.seconds ?? 0).toFixed(1)} / ${v.cpuSeconds?.toFixed(1) ?? '–'}` : '–'} | ${where} | ${v.caught ? cell(property(v)) : '–'} | ${v.shrunkSize ?? '–'} | ${v.caught ? v.seedsRun : cell(v.note ?? String(v.seedsRun))} |`,
    );
  }
  const median = (xs: number[]): number => {
    xs.sort((a, b) => a - b);
    const mid = Math.floor(xs.length / 2);
    return xs.length === 0 ? NaN : xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
  };
  out.push(
    '',
    `${mutantsFile}: **${caught} of ${counted} caught** (${((100 * caught) / Math.max(1, counted)).toFixed(0)}%; ${equivalent.size} equivalent left out), median ${median(secs).toFixed(1)} s wall / ${median(cpus).toFixed(1)} s CPU to the first failing seed.`,
  );
  process.stdout.write(out.join('\n') + '\n');
}

// ───────────────────────────────────────────── rounds table ─────────────────────────────────────────────

/** The layer a mutant's file is in, which decides its scenario set (docs/mutation-testing.md, session 18). */
export function layerOf(file: string): string {
  return /^core\/(raft|store|swim|agent)\//.exec(file)?.[1] ?? 'engine';
}

/**
 * `--rounds --mutants R1.json,R2.json,.. [--written W1.json,..] CURRENT.json..`: the table of several
 * blind rounds re-run together (session 18): per mutant its round, layer, the verdict as written (the
 * round's own first measure) and today's, CPU-s to the first failing seed, scenario and seed, property,
 * shrunk size; then the totals per layer and per round. A mutant whose `find` no longer applies is
 * listed and left out of the rates.
 */
function rounds(args: readonly string[]): void {
  const list = (name: string): string[] => flag(args, name)?.split(',') ?? [];
  const valued = new Set(['--mutants', '--written']);
  const currentFiles = args.filter((a, i) => !a.startsWith('--') && !valued.has(args[i - 1] ?? ''));
  const read = (files: readonly string[]): Map<string, Verdict> =>
    new Map(
      files.flatMap((f) =>
        (JSON.parse(readFileSync(f, 'utf8')) as { verdicts: Verdict[] }).verdicts.map((v) => [v.id, v]),
      ),
    );
  const written = read(list('written'));
  const current = read(currentFiles);
  const mutants = list('mutants').flatMap((f) => {
    const round = /round-([a-z])\.json$/.exec(f)?.[1]?.toUpperCase() ?? f;
    return (JSON.parse(readFileSync(f, 'utf8')) as { mutants: Mutant[] }).mutants.map((m) => ({ ...m, round }));
  });
  const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const short = (text: string, n: number): string => (text.length > n ? `${text.slice(0, n)}…` : text);
  const applies = (v: Verdict): boolean => !(v.note ?? '').startsWith('does not apply');
  const property = (v: Verdict): string => {
    if (v.property === 'crash') return `assertion (${short(v.violation ?? '', 48)})`;
    const text = (v.violation ?? v.property ?? '').replace(/^(n\d+: )+/, '');
    return short(text.split(':')[0]!.replace(/^n\d+ /, ''), 50);
  };
  const out = [
    '| id | round | layer | mutant | as written | today | CPU-s to the first failing seed | scenario:seed | property | shrunk | seeds run |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  type Tally = { run: number; caught: number; written: number; writtenCaught: number; cpu: number[] };
  const tallies = new Map<string, Tally>();
  const tally = (key: string): Tally =>
    tallies.get(key) ??
    (tallies.set(key, { run: 0, caught: 0, written: 0, writtenCaught: 0, cpu: [] }), tallies.get(key)!);
  for (const m of mutants) {
    const v = current.get(m.id);
    if (!v) continue;
    const w = written.get(m.id);
    const layer = layerOf(m.file);
    const today = !applies(v) ? 'no longer applies' : v.caught ? '**caught**' : '**escaped**';
    for (const key of ['all', `layer ${layer}`, `round ${m.round}`]) {
      const t = tally(key);
      if (w) (t.written++, w.caught && t.writtenCaught++);
      if (!applies(v)) continue;
      t.run++;
      if (v.caught) (t.caught++, t.cpu.push(v.cpuSeconds ?? NaN));
    }
    const where =
      v.caught && v.scenario ? `${v.scenario.replace(/^scenarios\//, '').replace('.txt', '')}:${v.seed}` : '–';
    out.push(
      `| ${m.id} | ${m.round} | ${layer} | ${cell(`${m.file.replace(/^core\//, '')}: ${short(m.what.replace(/^\(round [A-Z][^)]*\)\s*/, ''), 110)}`)} | ${w ? (w.caught ? 'caught' : 'escaped') : '–'} | ${today} | ${v.caught ? (v.cpuSeconds?.toFixed(1) ?? `${v.property === 'crash' ? 'crash, ' : ''}wall ${v.seconds?.toFixed(1)}`) : '–'} | ${where} | ${v.caught ? cell(property(v)) : '–'} | ${v.shrunkSize ?? '–'} | ${v.caught ? v.seedsRun : cell(applies(v) ? String(v.seedsRun) : (v.note ?? ''))} |`,
    );
  }
  const median = (xs: number[]): number => {
    const ys = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
    const mid = Math.floor(ys.length / 2);
    return ys.length === 0 ? NaN : ys.length % 2 ? ys[mid]! : (ys[mid - 1]! + ys[mid]!) / 2;
  };
  const pct = (a: number, b: number): string => `${((100 * a) / Math.max(1, b)).toFixed(0)} %`;
  out.push(
    '',
    '| set | run today | caught today | median CPU-s | as written (its round) |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const [key, t] of [...tallies].sort(([a], [b]) => (a === 'all' ? 1 : b === 'all' ? -1 : a.localeCompare(b))))
    out.push(
      `| ${key} | ${t.run} | **${t.caught}** (${pct(t.caught, t.run)}) | ${median(t.cpu).toFixed(1)} | ${t.writtenCaught} of ${t.written} (${pct(t.writtenCaught, t.written)}) |`,
    );
  process.stdout.write(out.join('\n') + '\n');
}

const argv = process.argv.slice(2);
if (argv.includes('--child')) await child(argv);
else if (argv.includes('--table')) table(argv);
else if (argv.includes('--sessions')) sessions(argv);
else if (argv.includes('--rounds')) rounds(argv);
else parent(argv);
