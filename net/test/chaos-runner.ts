/**
 * Chaos on real processes (Jepsen-style): 3 servers and a client agent on loopback (127.0.1.1-4), a
 * read / write / CAS load from several client processes through random agents, and a nemesis that
 * kill -9s, SIGSTOPs / SIGCONTs and restarts servers. Afterwards the nemesis stops, every process
 * runs, and a final read of every key through every agent goes into the history; the whole history
 * must pass the linearizability checker (register model, partitioned by key). A write acknowledged
 * before a kill -9 and lost on restart would show up as a stale final read.
 *
 * CAS maps Consul's index-CAS onto the model's value-CAS: read (value, ModifyIndex), then
 * PUT ?cas=ModifyIndex with a fresh unique value, recorded as cas(from = value read, to = new). Every
 * write is unique, so "the index did not move" ⇔ "the value did not change".
 *
 * Outcomes: 200 → ok; a refused connection → the op never happened (dropped); a timeout, a reset or
 * a 5xx on a write → unknown; a 5xx on a read → dropped (nothing observed).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Prng } from '../../core/prng.js';
import { checkHistory, registerModel, UNKNOWN, type LinOp, type RegisterInput } from '../../sim/checkers/lin/index.js';
import { startAgent, stopAll, until, type AgentHandle } from './agent-process.js';

export interface ChaosOptions {
  readonly seed: number;
  readonly seconds: number;
  readonly clients: number;
  readonly keys: number;
  /** Mean ms between nemesis actions. */
  readonly nemesisEveryMs: number;
  readonly log: (line: string) => void;
  /** Base of the loopback IPs: servers at .1-.3, the client agent at .4. */
  readonly ipBase: string;
  /** 'consistent' (default) or 'stale': a planted bug — stale reads are not linearizable. */
  readonly readMode?: 'consistent' | 'stale';
}

export interface ChaosReport {
  readonly seed: number;
  readonly ops: number;
  readonly okOps: number;
  readonly unknownOps: number;
  readonly nemesisActions: string[];
  readonly linearizable: boolean | 'unknown';
  readonly explanation: string;
  readonly checkMs: number;
}

interface Node {
  name: string;
  ip: string;
  server: boolean;
  dataDir: string;
  handle: AgentHandle;
  stopped: boolean;
}

const requestTimeoutMs = 3000;

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const prng = new Prng(options.seed);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-chaos-'));
  const ips = [1, 2, 3, 4].map((i) => `${options.ipBase}.${i}`);
  const nodes: Node[] = [];
  const handles: AgentHandle[] = [];
  const argsFor = (n: { name: string; ip: string; server: boolean; dataDir: string }) => [
    ...(n.server ? ['-server', '-bootstrap-expect', '3'] : []),
    '-data-dir',
    n.dataDir,
    '-node',
    n.name,
    '-bind',
    n.ip,
    '-client',
    n.ip,
    '-dns-port',
    '-1',
    ...ips.filter((ip) => ip !== n.ip).flatMap((ip) => ['-retry-join', ip]),
    '-retry-interval',
    '1s',
  ];
  const start = (n: Omit<Node, 'handle' | 'stopped'>) => {
    const handle = startAgent(argsFor(n));
    handles.push(handle);
    return handle;
  };
  try {
    for (const [i, ip] of ips.entries()) {
      const spec = { name: i < 3 ? `s${i + 1}` : 'c1', ip, server: i < 3, dataDir: path.join(root, `n${i + 1}`) };
      nodes.push({ ...spec, handle: start(spec), stopped: false });
    }
    options.log(
      `chaos: seed ${options.seed}, ${options.seconds}s, ${options.clients} clients, ${options.keys} keys, nemesis every ~${options.nemesisEveryMs}ms`,
    );
    // Wait for a leader and a working write path.
    await until(
      async () => (await http(`http://${ips[3]}:8500/v1/kv/chaos-probe`, 'PUT', 'x')).text === 'true',
      60_000,
      'the cluster accepts writes',
    );

    const ops: LinOp<RegisterInput, unknown>[] = [];
    const epoch = performance.now();
    const now = () => performance.now() - epoch;
    let unique = 0;
    let running = true;
    const record =
      (
        process: number,
        input: RegisterInput,
        call: () => Promise<{ outcome: 'ok' | 'unknown' | 'drop'; output?: unknown }>,
      ) =>
      async () => {
        const callTime = now();
        const { outcome, output } = await call();
        if (outcome === 'drop') return;
        ops.push({
          id: ops.length,
          process,
          input,
          output: outcome === 'unknown' ? UNKNOWN : output,
          callTime,
          returnTime: outcome === 'unknown' ? Infinity : now(),
        });
      };

    const client = async (process: number) => {
      const rng = new Prng(options.seed * 31 + process);
      while (running) {
        const ip = rng.pick(ips);
        const key = `k${rng.below(options.keys)}`;
        const url = `http://${ip}:8500/v1/kv/chaos/${key}`;
        const dice = rng.below(10);
        if (dice < 4) {
          await record(process, { f: 'read', key }, async () => {
            const r = await http(`${url}?${options.readMode ?? 'consistent'}`, 'GET');
            if (r.status === 404) return { outcome: 'ok', output: null };
            if (r.status !== 200) return { outcome: 'drop' };
            return {
              outcome: 'ok',
              output: Buffer.from((JSON.parse(r.text) as { Value: string }[])[0]!.Value ?? '', 'base64').toString(),
            };
          })();
        } else if (dice < 7) {
          const value = `v${process}-${unique++}`;
          await record(process, { f: 'write', key, value }, async () => writeOutcome(await http(url, 'PUT', value)))();
        } else {
          // cas = a recorded read of (value, index), then an index-CAS with a fresh value.
          const read = await http(`${url}?consistent`, 'GET');
          if (read.status !== 200 && read.status !== 404) continue;
          const entry =
            read.status === 200 ? (JSON.parse(read.text) as { Value: string; ModifyIndex: number }[])[0]! : null;
          const from = entry ? Buffer.from(entry.Value ?? '', 'base64').toString() : null;
          const to = `v${process}-${unique++}`;
          await record(process, { f: 'cas', key, from, to }, async () =>
            writeOutcome(await http(`${url}?cas=${entry ? entry.ModifyIndex : 0}`, 'PUT', to)),
          )();
        }
      }
    };

    const nemesisActions: string[] = [];
    const nemesis = async () => {
      const end = Date.now() + options.seconds * 1000;
      while (Date.now() < end) {
        await sleep(options.nemesisEveryMs / 2 + prng.below(options.nemesisEveryMs));
        if (Date.now() >= end) break;
        const victim = nodes[prng.below(3)]!;
        const action = prng.pick(['kill', 'stop', 'restart'] as const);
        const at = `${(now() / 1000).toFixed(1)}s`;
        if (action === 'stop') {
          victim.handle.child.kill('SIGSTOP');
          const pauseMs = 500 + prng.below(2500);
          nemesisActions.push(`${at} SIGSTOP ${victim.name} for ${pauseMs}ms`);
          await sleep(pauseMs);
          victim.handle.child.kill('SIGCONT');
        } else {
          // kill -9, or a graceful-less restart via SIGTERM (servers do not leave on SIGTERM).
          victim.handle.child.kill(action === 'kill' ? 'SIGKILL' : 'SIGTERM');
          await victim.handle.exited;
          const downMs = 200 + prng.below(2000);
          nemesisActions.push(
            `${at} ${action === 'kill' ? 'kill -9' : 'SIGTERM'} ${victim.name}, restart after ${downMs}ms`,
          );
          await sleep(downMs);
          victim.handle = start(victim);
        }
        options.log(`chaos: ${nemesisActions.at(-1)}`);
      }
    };

    const clients = [...Array(options.clients).keys()].map((p) => client(p));
    await nemesis();
    // Heal: everything runs; let the cluster settle, keep the load a little longer, then final reads.
    for (const n of nodes) n.handle.child.kill('SIGCONT');
    await sleep(2000);
    running = false;
    await Promise.all(clients);
    await until(
      async () => (await http(`http://${ips[0]}:8500/v1/kv/chaos-probe?consistent`, 'GET')).status === 200,
      30_000,
      'the healed cluster answers',
    );
    for (const [i, ip] of ips.entries()) {
      for (let k = 0; k < options.keys; k++) {
        await record(1000 + i, { f: 'read', key: `k${k}` }, async () => {
          const r = await http(`http://${ip}:8500/v1/kv/chaos/k${k}?consistent`, 'GET');
          if (r.status === 404) return { outcome: 'ok', output: null };
          if (r.status !== 200) return { outcome: 'drop' };
          return {
            outcome: 'ok',
            output: Buffer.from((JSON.parse(r.text) as { Value: string }[])[0]!.Value ?? '', 'base64').toString(),
          };
        })();
      }
    }
    const result = checkHistory(ops, registerModel, { timeoutMs: 60_000 });
    const unknownOps = ops.filter((o) => o.output === UNKNOWN).length;
    return {
      seed: options.seed,
      ops: ops.length,
      okOps: ops.length - unknownOps,
      unknownOps,
      nemesisActions,
      linearizable: result.linearizable,
      explanation: result.explanation?.text ?? '',
      checkMs: Math.round(result.ms),
    };
  } finally {
    for (const n of nodes) n.handle.child.kill('SIGCONT');
    await stopAll(handles);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

function writeOutcome(r: { status: number; text: string; error?: 'refused' | 'other' }): {
  outcome: 'ok' | 'unknown' | 'drop';
  output?: unknown;
} {
  if (r.error === 'refused') return { outcome: 'drop' };
  if (r.status === 200) return { outcome: 'ok', output: r.text.trim() === 'true' };
  return { outcome: 'unknown' };
}

async function http(
  url: string,
  method: string,
  body?: string,
): Promise<{ status: number; text: string; error?: 'refused' | 'other' }> {
  try {
    const r = await fetch(url, {
      method,
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
    return { status: r.status, text: await r.text() };
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code;
    return { status: 0, text: '', error: code === 'ECONNREFUSED' ? 'refused' : 'other' };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
