/**
 * The `conclave sim run` contract (Foundation issue): the human output ends with
 * `seed=N trace=<16 hex> result=pass|fail`; --json prints one JSON object last; the same seed gives
 * the same trace and another seed another; exit codes 0 / 1 / 2; a bad scenario file names file and
 * line without a stack trace; `npm start` without a terminal prints a summary and exits 0.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
function conclave(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'conclave.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('conclave sim run', () => {
  it('is deterministic per seed and prints the contract line', () => {
    const a = conclave('sim', 'run', 'scenarios/example/broadcast.txt', '--seed', '7');
    const b = conclave('sim', 'run', 'scenarios/example/broadcast.txt', '--seed', '7');
    const c = conclave('sim', 'run', 'scenarios/example/broadcast.txt', '--seed', '8');
    const last = (s: string) => s.trim().split('\n').at(-1)!;
    expect(a.code).toBe(0);
    expect(last(a.out)).toMatch(/^seed=7 trace=[0-9a-f]{16} result=pass$/);
    expect(last(b.out)).toBe(last(a.out));
    expect(last(c.out)).toMatch(/^seed=8 trace=[0-9a-f]{16} result=pass$/);
    expect(last(c.out).split(' ')[1]).not.toBe(last(a.out).split(' ')[1]);
  });

  it('exits quietly when its reader closes the pipe (`… | head -1`)', () => {
    // A shell pipeline: the reader takes one line and exits; the writer must not die on EPIPE with a stack.
    const r = spawnSync(
      'bash',
      [
        '-c',
        `"${process.execPath}" bin/conclave.js sim run scenarios/kv/jepsen-cas.txt --seed 1 | head -1; exit \${PIPESTATUS[0]}`,
      ],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    expect(r.stdout).toMatch(/^==> scenario jepsen-cas/);
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(r.status).toBe(0);
  });

  it('prints one JSON object with the contract fields', () => {
    const r = conclave('sim', 'run', 'scenarios/example/broadcast.txt', '--seed', '3', '--json');
    const json = JSON.parse(r.out.trim().split('\n').at(-1)!);
    for (const key of ['seed', 'trace', 'result', 'simulatedMs', 'wallMs', 'events', 'messages', 'violations'])
      expect(json).toHaveProperty(key);
    expect(json.seed).toBe(3);
    expect(json.trace).toMatch(/^[0-9a-f]{16}$/);
  });

  it('exits 2 on bad usage and bad files, naming the problem', () => {
    expect(conclave('sim', 'run').code).toBe(2);
    const flag = conclave('sim', 'run', 'scenarios/example/broadcast.txt', '--sed', '3');
    expect(flag.code).toBe(2);
    expect(flag.err).toContain("unknown flag '--sed'");
    const dir = mkdtempSync(join(tmpdir(), 'conclave-'));
    const file = join(dir, 'bad.txt');
    writeFileSync(file, 'protocol broadcast\nnodes 3\nat 1s crash n7\n');
    const bad = conclave('sim', 'run', file);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(`${file}:3: crash: unknown node 'n7'`);
    expect(bad.err).not.toContain('    at ');
    const missing = conclave('sim', 'run', join(dir, 'nope.txt'));
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('nope.txt');
  });

  it('exits 1 on a violation and prints the replay command', () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-'));
    const file = join(dir, 'stuck.txt');
    // Values acknowledged by the isolated n1 can only spread by anti-entropy, which runs every 5 s:
    // one second of liveness is not enough, so the run must fail.
    writeFileSync(
      file,
      'protocol broadcast\nnodes 3\nset syncIntervalMs 5000\nduration safety=1s liveness=1s\nat 0ms partition n1 | n2 n3\n',
    );
    const replays = join(dir, 'replays');
    const r = conclave('sim', 'run', file, '--seed', '4', '--replay-dir', replays);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`replay: node bin/conclave.js sim run ${file} --seed 4`);
    expect(r.out.trim().split('\n').at(-1)).toMatch(/result=fail$/);
    // …and leaves its replay file, with the command that draws its report.
    const replayFile = join(replays, 'stuck-seed4.replay.json');
    expect(r.out).toContain(`replay file: ${replayFile}`);
    expect(r.out).toContain(`report: node bin/conclave.js sim report ${replayFile} --out reports/stuck-seed4`);
    const replayed = conclave('sim', 'replay', replayFile);
    expect(replayed.code).toBe(0); // reproduced (the run fails the same way)
    expect(replayed.out).toContain('replay reproduced the recorded run');
  });

  it('--help on every sim command, --version, and "did you mean" for commands and flags', () => {
    for (const sub of ['run', 'explore', 'merge', 'replay', 'shrink', 'report', 'replay-agent']) {
      const help = conclave('sim', sub, '--help');
      expect(help.code, sub).toBe(0);
      expect(help.out, sub).toContain(`Usage: conclave sim ${sub}`);
      expect(help.out, sub).toMatch(/Exit: 0/);
    }
    for (const args of [['tui', '--help'], ['check', 'lin', '--help'], ['--help'], ['help', 'sim']])
      expect(conclave(...args).code, args.join(' ')).toBe(0);
    const version = conclave('--version');
    expect(version.code).toBe(0);
    expect(version.out).toMatch(/^Conclave v\d+\.\d+\.\d+/);
    expect(conclave('memebrs').err).toContain("unknown command 'memebrs' (did you mean 'members'?)");
    expect(conclave('sim', 'explroe').err).toContain("(did you mean 'explore'?)");
    expect(conclave('sim', 'run', 'x.txt', '--sed', '3').err).toContain(
      "unknown flag '--sed' (did you mean '--seed'?)",
    );
    expect(conclave('tui', '--sped', '3').err).toContain("(did you mean '--speed'?)");
    expect(conclave('--help').out).not.toMatch(/^\s+bench\b/m); // npm scripts, not a command
  });

  it("--history writes the run's register operations as JSON lines that `check lin` reads", () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-'));
    const file = join(dir, 'history.jsonl');
    const scenario = 'sim/checkers/lin/fixtures/kv-stale-reads.txt';
    const r = conclave('sim', 'run', scenario, '--seed', '1', '--history', file);
    expect(r.code).toBe(1);
    const ops = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { f: string; key: string });
    expect(ops.length).toBeGreaterThan(10);
    for (const op of ops) {
      expect(op.key).toMatch(/^r\//); // the register workload only: no lock or session operations
      expect(op.f).not.toMatch(/lock|session/);
    }
    const check = conclave('check', 'lin', file);
    expect(check.code).toBe(1);
    expect(check.out).toContain(`${file}: not linearizable`);
  });
});
