/**
 * Replay files rerun a simulation bit for bit: a run written to a file and replayed gives the same
 * trace hash (over several seeds of the example broadcast scenario, under the full swarm nemesis); a file
 * from other code is flagged; broken files are refused with the field named; the CLI's exit codes
 * follow the contract.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  codeVersion,
  makeReplay,
  readReplay,
  replay,
  ReplayFileError,
  writeReplay,
  writeRunReplay,
} from '../tools/replay.js';
import { runReplay } from '../../cli/commands/sim/replay.js';
import { loadScenario, runLoaded } from '../run.js';

const scenarioPath = 'scenarios/example/broadcast.txt';
const dir = mkdtempSync(join(tmpdir(), 'conclave-replay-'));

async function recorded(seed: number, codec = true): Promise<string> {
  const loaded = await loadScenario(scenarioPath);
  const result = runLoaded(loaded, seed, { codec });
  return writeReplay(
    makeReplay({
      scenarioFile: scenarioPath,
      scenarioText: readFileSync(scenarioPath, 'utf8'),
      result,
      codec,
      origin: 'test',
    }),
    join(dir, `s${seed}-${codec}.replay.json`),
  );
}

function captureStdout(): { text: () => string } {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  return { text: () => out };
}

afterEach(() => vi.restoreAllMocks());

describe('replay files', () => {
  it('replay to the same trace hash, with and without the codec', async () => {
    for (const [seed, codec] of [
      [3, true],
      [4, true],
      [5, false],
    ] as const) {
      const file = readReplay(await recorded(seed, codec));
      const run = await replay(file);
      expect(run.result.trace, `seed ${seed}`).toBe(file.trace);
      expect(run.sameTrace).toBe(true);
      expect(run.sameCode).toBe(true);
      expect(file.knobs.faultWeights).toBeDefined();
    }
  });

  it('writeRunReplay (for sim run) writes a file that replays', async () => {
    const result = runLoaded(await loadScenario(scenarioPath), 9, {});
    const path = writeRunReplay(scenarioPath, result, true, dir);
    expect(path).toMatch(/broadcast-seed9\.replay\.json$/);
    const run = await replay(readReplay(path));
    expect(run.sameTrace).toBe(true);
  });

  it('a changed scenario text changes the trace (the check can fail)', async () => {
    const file = readReplay(await recorded(3));
    const run = await replay({ ...file, scenarioText: `${file.scenarioText}\nat 1ms heal\n` });
    expect(run.sameTrace).toBe(false);
  });

  it('refuses broken files, naming the field', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        format: 'conclave-replay',
        version: 1,
        scenarioFile: 'x',
        scenarioText: 'protocol broadcast',
        seed: -1,
      }),
    );
    expect(() => readReplay(bad)).toThrow(ReplayFileError);
    expect(() => readReplay(bad)).toThrow(/field 'codec'/);
    writeFileSync(bad, '{ nope');
    expect(() => readReplay(bad)).toThrow(/not JSON/);
    expect(() => readReplay(join(dir, 'missing.json'))).toThrow(/cannot read the file: ENOENT/);
  });

  it('conclave sim replay: 0 when reproduced, 1 when not, 2 on a bad file; warns when the code changed', async () => {
    const path = await recorded(6);
    let out = captureStdout();
    expect(await runReplay([path])).toBe(0);
    expect(out.text()).toMatch(/replay reproduced the recorded run: trace [0-9a-f]{16}, result pass/);
    expect(out.text()).toMatch(/seed=6 trace=[0-9a-f]{16} result=pass\n$/);
    vi.restoreAllMocks();

    const file = readReplay(path);
    const other = join(dir, 'other-code.replay.json');
    writeReplay({ ...file, codeVersion: '000000000000', trace: 'ffffffffffffffff' }, other);
    out = captureStdout();
    expect(await runReplay([other])).toBe(1);
    expect(out.text()).toContain('warning: the code changed since this replay was recorded');
    expect(out.text()).toContain('replay DIFFERS');
    vi.restoreAllMocks();

    out = captureStdout();
    expect(await runReplay([join(dir, 'nope.json')])).toBe(2);
    expect(await runReplay([])).toBe(2);
    expect(codeVersion()).toMatch(/^[0-9a-f]{12}$/);
  });
});
