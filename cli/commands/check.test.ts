/**
 * `conclave check lin`: verdict lines and exit codes on histories our simulator wrote (one
 * linearizable, one not: sim/checkers/lin/fixtures), --json output, and bad usage (unknown flag,
 * unknown model, missing file named in the message). One case runs the compiled command
 * (bin/conclave.js → dist/, built by the suite's global setup) end to end. Porcupine's formats (Jepsen
 * etcd logs, EDN kv logs) are checked on its data when ../shared/linearizability is beside the clone;
 * a bare clone skips that part (the global setup prints one line saying so).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { History } from '../../sim/history.js';
import { run } from './check.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = join(repoRoot, 'sim', 'checkers', 'lin', 'fixtures');
const simOk = join(fixtures, 'kv-register-nemesis.seed1.jsonl');
const simBad = join(fixtures, 'kv-stale-reads.seed1.jsonl');
const data = join(repoRoot, '..', 'shared', 'linearizability', 'porcupine-data');
const porcupinePresent = existsSync(data);
const etcdOk = join(data, 'jepsen', 'etcd_002.log');
const etcdBad = join(data, 'jepsen', 'etcd_000.log');
const kvBad = join(data, 'kv', 'c10-bad.txt');

async function capture(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(args, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

describe('conclave check lin', () => {
  it('prints a verdict per file; exit 0 only when all are linearizable', async () => {
    const ok = await capture(['lin', simOk]);
    expect(ok).toEqual({ code: 0, out: `${simOk}: linearizable\n`, err: '' });
    const mixed = await capture(['lin', simOk, simBad, '--model', 'register']);
    expect(mixed.code).toBe(1);
    expect(mixed.out).toContain(`${simOk}: linearizable\n`);
    expect(mixed.out).toContain(`${simBad}: not linearizable\n  Longest linearizable prefix`);
  });

  it('--json: one object per file with file, linearizable, ops, ms', async () => {
    const { code, out } = await capture(['lin', '--json', simBad, '--model=register']);
    expect(code).toBe(1);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(1);
    const row = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(row).toMatchObject({ file: simBad, linearizable: false, ops: 130, model: 'register', format: 'jsonl' });
    expect(typeof row['ms']).toBe('number');
  });

  it('reads our JSON-lines history with the register model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-lin-'));
    const h = new History();
    const w = h.invoke(1, 'write', 'v1', 'n1', 0, 'k');
    h.complete(w, 'ok', undefined, 3);
    const r = h.invoke(2, 'read', null, 'n2', 5, 'k');
    h.complete(r, 'ok', null, 7);
    const file = join(dir, 'run.jsonl');
    writeFileSync(file, h.toJsonLines());
    const { code, out } = await capture(['lin', file]);
    expect(code).toBe(1);
    expect(out).toContain(`${file}: not linearizable`);
    expect(out).toContain('read["k"]() -> nil');
  });

  it('bad usage exits 2 with a clear message', async () => {
    expect(await capture(['lin', simOk, '--frobnicate'])).toMatchObject({
      code: 2,
      err: expect.stringContaining("unknown flag '--frobnicate'"),
    });
    expect(await capture(['lin', simOk, '--model', 'zookeeper'])).toMatchObject({
      code: 2,
      err: expect.stringContaining("unknown model 'zookeeper'"),
    });
    expect(await capture(['lin', '/nonexistent/history.log'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('no such file: /nonexistent/history.log'),
    });
    expect(await capture(['lin'])).toMatchObject({ code: 2, err: expect.stringContaining('no history files') });
    expect(await capture(['sequential'])).toMatchObject({ code: 2 });
  });

  it('runs as the compiled `conclave` command', () => {
    const bin = join(repoRoot, 'bin', 'conclave.js');
    const out = execFileSync(process.execPath, [bin, 'check', 'lin', simOk, '--json'], { encoding: 'utf8' });
    expect(JSON.parse(out.trim())).toMatchObject({ file: simOk, linearizable: true, ops: 149 });
    let status = 0;
    try {
      execFileSync(process.execPath, [bin, 'check', 'lin', simBad], { encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      status = (error as { status: number }).status;
    }
    expect(status).toBe(1);
  });
});

describe.skipIf(!porcupinePresent)("conclave check lin on Porcupine's formats (../shared/linearizability)", () => {
  it('Jepsen etcd logs: a verdict per file', async () => {
    const ok = await capture(['lin', etcdOk, '--model', 'etcd']);
    expect(ok).toEqual({ code: 0, out: `${etcdOk}: linearizable\n`, err: '' });
    const mixed = await capture(['lin', etcdOk, etcdBad]);
    expect(mixed.code).toBe(1);
    expect(mixed.out).toContain(`${etcdBad}: not linearizable\n  Longest linearizable prefix`);
  });

  it('EDN kv logs, --json', async () => {
    const { code, out } = await capture(['lin', '--json', kvBad, '--model=kv']);
    expect(code).toBe(1);
    const row = JSON.parse(out.trim()) as Record<string, unknown>;
    expect(row).toMatchObject({ file: kvBad, linearizable: false, ops: 405, model: 'kv', format: 'jepsen-edn-kv' });
  });

  it('a model that cannot read the operations is bad usage', async () => {
    expect(await capture(['lin', etcdOk, '--model', 'kv'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('kv model'),
    });
  });
});
