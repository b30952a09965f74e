/**
 * The ready-made ways to run a sweep on many machines (deploy/): the Kubernetes Indexed Job and the
 * CI matrix are run here as the engines would run them — each shard's shell command with the index
 * or matrix value the engine would give it — and their results merged with the merge step's own
 * command; the merged sweep must equal a one-machine `sim explore` of the same range. The hub and
 * worker manifest is checked for the commands it runs (the hub itself is tested in sim/test/hub.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { parseHubFlags, parseWorkerFlags } from '../cli/commands/sim/hub.js';

const root = join(import.meta.dirname, '..');
const scenario = 'scenarios/planted/broadcast-lost-ack.txt'; // fast, and some seeds fail
const seeds = '1..12';
const work = mkdtempSync(join(tmpdir(), 'conclave-deploy-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const docs = (file: string): Doc[] =>
  parseAllDocuments(readFileSync(join(root, file), 'utf8')).map((d) => d.toJSON() as Doc);
const sh = (script: string, env: Record<string, string>) =>
  spawnSync('/bin/sh', ['-c', script], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
/** The image runs /conclave/bin/conclave.js; here the repository's own. */
const local = (script: string): string =>
  script.replaceAll('/conclave/bin/conclave.js', join(root, 'bin', 'conclave.js'));

const truth = (): Record<string, unknown> => {
  const r = spawnSync(
    process.execPath,
    ['bin/conclave.js', 'sim', 'explore', scenario, '--seeds', seeds, '--json', '--no-replays'],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
};

describe('deploy/k8s/explore-indexed-job.yaml', () => {
  const [pvc, job] = docs('deploy/k8s/explore-indexed-job.yaml');
  const [merge] = docs('deploy/k8s/explore-merge-job.yaml');
  it('is an Indexed Job with one pod per shard', () => {
    expect(pvc!.kind).toBe('PersistentVolumeClaim');
    expect(job!.kind).toBe('Job');
    expect(job!.spec.completionMode).toBe('Indexed');
    const env = Object.fromEntries(job!.spec.template.spec.containers[0].env.map((e: Doc) => [e.name, e.value]));
    expect(Number(env.SHARDS)).toBe(job!.spec.completions);
    expect(job!.spec.parallelism).toBe(job!.spec.completions);
    expect(job!.spec.podFailurePolicy.rules[0].onExitCodes.values).toEqual([2]);
  });
  it('its pods and the merge Job give the one-machine result', () => {
    const results = join(work, 'k8s');
    const script = local(job!.spec.template.spec.containers[0].args[0]);
    for (let index = 0; index < 3; index++) {
      const r = sh(script, {
        JOB_COMPLETION_INDEX: String(index),
        SHARDS: '3',
        SCENARIO: scenario,
        SEEDS: seeds,
        JOBS: '1',
        RESULTS: results,
      });
      expect(r.status, r.stderr).toBe(0);
    }
    const m = sh(local(merge!.spec.template.spec.containers[0].args[0]), { RESULTS: results });
    const merged = JSON.parse(readFileSync(join(results, 'merged.json'), 'utf8'));
    const one = truth();
    expect(m.status, m.stderr).toBe(1); // as `sim merge`: 1 when any seed failed
    expect(m.stdout).toMatch(/FAIL seed \d+: liveness/);
    expect(merged.seeds).toBe(12);
    expect(merged.gaps).toEqual([]);
    expect(merged.shards).toBe(3);
    expect(merged.failingSeeds).toEqual(one.failingSeeds);
    expect(merged.failed).toBeGreaterThan(0); // the planted bug: failing seeds survive the merge
    expect(merged.passed).toBe(one.passed);
  });
  it('maps a bad scenario to exit 2 (the Job fails at once)', () => {
    const script = local(job!.spec.template.spec.containers[0].args[0]);
    const r = sh(script, {
      JOB_COMPLETION_INDEX: '0',
      SHARDS: '3',
      SCENARIO: 'no/such.txt',
      SEEDS: seeds,
      JOBS: '1',
      RESULTS: join(work, 'bad'),
    });
    expect(r.status).toBe(2);
  });
});

describe('deploy/ci/github-actions-explore.yml', () => {
  const wf = parse(readFileSync(join(root, 'deploy/ci/github-actions-explore.yml'), 'utf8')) as Doc;
  it('runs every shard of its matrix and merges them', () => {
    const shards: number[] = wf.jobs.shard.strategy.matrix.shard;
    expect(shards).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const step = wf.jobs.shard.steps.find((s: Doc) => s.name === 'explore one shard');
    const results = join(work, 'ci');
    for (const shard of [1, 2, 3]) {
      // What the runner substitutes before running the script.
      const script = (step.run as string)
        .replaceAll('${{ matrix.shard }}', String(shard))
        .replaceAll('${{ strategy.job-total }}', '3')
        .replaceAll('results/', `${results}/`);
      const r = spawnSync('/bin/bash', ['-e', '-c', script], {
        cwd: root,
        env: { ...process.env, SCENARIO: scenario, SEEDS: seeds },
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
    }
    const mergeRun = wf.jobs.merge.steps.at(-1).run.replaceAll('results/', `${results}/`) + ' --json';
    const m = spawnSync('/bin/sh', ['-c', mergeRun], { cwd: root, encoding: 'utf8' });
    const merged = JSON.parse(m.stdout.trim().split('\n').at(-1)!);
    expect(merged.seeds).toBe(12);
    expect(merged.failingSeeds).toEqual(truth().failingSeeds);
  });
});

describe('deploy/k8s/hub-workers.yaml', () => {
  const all = docs('deploy/k8s/hub-workers.yaml');
  it('runs Redis, workers and a hub that point at the same queue', () => {
    expect(all.map((d) => d.kind)).toEqual(['Deployment', 'Service', 'Deployment', 'Job']);
    const worker = all[2]!.spec.template.spec.containers[0].args as string[];
    const hub = all[3]!.spec.template.spec.containers[0].args as string[];
    expect(worker.slice(0, 2)).toEqual(['sim', 'worker']);
    expect(hub.slice(0, 2)).toEqual(['sim', 'hub']);
    const redisOf = (args: string[]) => args[args.indexOf('--redis') + 1];
    expect(redisOf(worker)).toBe(`redis://${all[1]!.metadata.name}:${all[1]!.spec.ports[0].port}`);
    expect(redisOf(hub)).toBe(redisOf(worker));
    // The flags are ones the commands accept (a bad one is a string naming it).
    expect(parseWorkerFlags(worker.slice(2))).toMatchObject({ redis: redisOf(worker), jobs: 2, lockMs: 30_000 });
    expect(parseHubFlags(hub.slice(2))).toMatchObject({ file: hub[2], seeds: '1..100000', batch: 200 });
  });
});
