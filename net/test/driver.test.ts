/**
 * The real driver around a small test machine ("pinger": timers, persists, sends, replies, checks,
 * PRNG jitter). Proves: sends and replies are held until the persist before them is durable and leave
 * in order (the ORDERING RULE); many steps share one flush (group commit); timers and the memory
 * network drive two nodes; durable state survives a restart from real files; runCheck results come
 * back as inputs; and the flight recorder's replay reproduces every step, while a planted
 * nondeterminism is caught at the first step it changes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Prng } from '../../core/prng.js';
import { NodeRuntime, type Mount } from '../../core/runtime.js';
import { emptyDurableState, type DurableState, type Effect, type Machine, type StorageOp } from '../../core/types.js';
import { openDiskStorage, type Storage } from '../disk/storage.js';
import { NodeDriver } from '../driver.js';
import { Recorder, replayRecording } from '../recorder.js';
import { MemoryNetwork } from '../transport/memory.js';

interface PingerState {
  peer: string | null;
  count: number;
  received: number;
  checks: string[];
}
type PingerMsg = { type: 'ping'; n: number } | { type: 'pong'; n: number };
type PingerReq = { type: 'get' } | { type: 'incr' } | { type: 'check' };

let planted = 0; // a planted nondeterminism: module state outside the machine's inputs
let plantBug = false;

const pinger: Machine<PingerState, { peer: string | null; pings: number }, PingerMsg, PingerReq, unknown> & {
  pings?: number;
} = {
  name: 'pinger',
  init(_nodeId, config, durable) {
    return {
      peer: config.peer,
      count: (durable.records.get('count') as number | undefined) ?? 0,
      received: durable.logs.get('received')?.entries.length ?? 0,
      checks: [],
    };
  },
  step(state, input, ctx) {
    switch (input.kind) {
      case 'start':
        ctx.emit({ kind: 'setTimer', timer: 'tick', afterMs: 1 + ctx.prng.below(3) });
        return;
      case 'timer':
        if (!state.peer || state.count >= 20) return;
        state.count++;
        ctx.emit({ kind: 'persist', ops: [{ op: 'put', key: 'count', value: state.count }] });
        ctx.emit({
          kind: 'send',
          to: state.peer,
          message: { type: 'ping', n: state.count + (plantBug ? planted++ : 0) },
          channel: 'stream',
        });
        ctx.emit({ kind: 'setTimer', timer: 'tick', afterMs: 1 + ctx.prng.below(3) });
        return;
      case 'message':
        if (input.message.type === 'ping') {
          state.received++;
          ctx.emit({ kind: 'persist', ops: [{ op: 'append', log: 'received', entries: [input.message.n] }] });
          ctx.emit({
            kind: 'send',
            to: input.from,
            message: { type: 'pong', n: input.message.n },
            channel: 'datagram',
          });
        }
        return;
      case 'request':
        if (input.request.type === 'get')
          ctx.emit({
            kind: 'reply',
            requestId: input.requestId,
            response: { count: state.count, received: state.received, checks: state.checks },
          });
        else if (input.request.type === 'incr') {
          state.count++;
          ctx.emit({ kind: 'persist', ops: [{ op: 'put', key: 'count', value: state.count }] });
          ctx.emit({ kind: 'reply', requestId: input.requestId, response: state.count });
        } else {
          ctx.emit({
            kind: 'runCheck',
            checkId: 'c1',
            check: { type: 'script', args: ['/bin/sh', '-c', 'echo hi; exit 1'] },
            timeoutMs: 5000,
          });
          ctx.emit({ kind: 'reply', requestId: input.requestId, response: 'started' });
        }
        return;
      case 'checkResult':
        state.checks.push(`${input.checkId}=${input.result.status}:${input.result.output.trim()}`);
        return;
      default:
        return;
    }
  },
};

const mountsFor = (assembly: unknown): Mount[] => [{ machine: pinger, config: assembly }];
const noop = () => {};
const tempDirs: string[] = [];
const tempDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-driver-'));
  tempDirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of tempDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Storage whose flushes complete only when the test says so. */
function manualStorage() {
  let written = 0;
  let durable = 0;
  const waiting: (() => void)[] = [];
  const storage: Storage & { complete(): void; ops: StorageOp[][] } = {
    ops: [],
    write(ops) {
      storage.ops.push([...ops]);
      return ++written;
    },
    flush() {
      const marker = written;
      if (marker <= durable) return Promise.resolve();
      return new Promise<void>((resolve) => waiting.push(() => ((durable = Math.max(durable, marker)), resolve())));
    },
    get durableMarker() {
      return durable;
    },
    get writtenMarker() {
      return written;
    },
    stats: { flushes: 0, recordsWritten: 0, bytesWritten: 0 },
    close: async () => {},
    complete() {
      for (const w of waiting.splice(0)) w();
    },
  };
  return storage;
}

const tick = () => new Promise((r) => setImmediate(r));

describe('node driver', () => {
  it('holds replies behind undurable persists and releases them in order after one shared flush', async () => {
    const network = new MemoryNetwork();
    const storage = manualStorage();
    const runtime = new NodeRuntime(
      '10.0.0.1:8301',
      mountsFor({ peer: null, pings: 0 }),
      emptyDurableState,
      new Prng(1),
    );
    const driver = new NodeDriver({
      runtime,
      storage,
      gossip: network.listen('10.0.0.1:8301', noop),
      log: noop,
      onFatal: (e) => {
        throw e;
      },
    });
    driver.start();
    const order: unknown[] = [];
    const calls = [1, 2, 3].map(() =>
      driver.call({ machine: 'pinger', body: { type: 'incr' } }).then((r) => order.push(r)),
    );
    // A read after the writes has no persist of its own, but must not overtake them.
    const read = driver.call({ machine: 'pinger', body: { type: 'get' } }).then((r) => order.push(r));
    for (let i = 0; i < 5; i++) await tick();
    expect(order).toEqual([]);
    expect(storage.ops.length).toBe(3);
    storage.complete();
    await Promise.all([...calls, read]);
    expect(order).toEqual([1, 2, 3, { count: 3, received: 0, checks: [] }]);
    await driver.stop();
  });

  it('drives two nodes over the memory network and reloads durable state from real files', async () => {
    const network = new MemoryNetwork();
    const dirA = tempDir();
    const dirB = tempDir();
    const open = async (dir: string, self: string, peer: string | null, durableOut?: { d?: DurableState }) => {
      const { storage, report } = await openDiskStorage(dir);
      if (durableOut) durableOut.d = report.durable;
      const runtime = new NodeRuntime(self, mountsFor({ peer, pings: 20 }), report.durable, new Prng(7));
      const driver = new NodeDriver({
        runtime,
        storage,
        gossip: network.listen(self, noop),
        log: noop,
        onFatal: (e) => {
          throw e;
        },
      });
      driver.start();
      return { driver, storage };
    };
    const a = await open(dirA, '10.0.0.1:8301', '10.0.0.2:8301');
    const b = await open(dirB, '10.0.0.2:8301', null);
    const deadline = Date.now() + 5000;
    let got = { received: 0 } as { received: number };
    while (got.received < 20 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      got = (await b.driver.call({ machine: 'pinger', body: { type: 'get' } })) as { received: number };
    }
    expect(got.received).toBe(20);
    expect(a.storage.stats.flushes).toBeLessThan(a.storage.stats.recordsWritten + 1);
    for (const n of [a, b]) {
      await n.driver.stop();
      await n.storage.close();
      await (network as unknown as { endpoints: Map<string, { close(): Promise<void> }> }).endpoints.forEach(
        (t) => void t.close(),
      );
    }
    const again = await openDiskStorage(dirB);
    expect(again.report.durable.logs.get('pinger/received')!.entries).toEqual([...Array(20).keys()].map((i) => i + 1));
    await again.storage.close();
  });

  it('turns runCheck effects into checkResult inputs', async () => {
    const network = new MemoryNetwork();
    const runtime = new NodeRuntime(
      '10.0.0.1:8301',
      mountsFor({ peer: null, pings: 0 }),
      emptyDurableState,
      new Prng(1),
    );
    const driver = new NodeDriver({
      runtime,
      storage: manualStorage(),
      gossip: network.listen('10.0.0.1:8301', noop),
      log: noop,
      onFatal: (e) => {
        throw e;
      },
    });
    driver.start();
    expect(await driver.call({ machine: 'pinger', body: { type: 'check' } })).toBe('started');
    let view = { checks: [] as string[] };
    for (let i = 0; i < 100 && view.checks.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      view = (await driver.call({ machine: 'pinger', body: { type: 'get' } })) as typeof view;
    }
    expect(view.checks).toEqual(['c1=warning:hi']);
    await driver.stop();
  });
});

describe('flight recorder', () => {
  async function recordRun(file: string): Promise<string> {
    const network = new MemoryNetwork();
    const durable = emptyDurableState;
    const make = (self: string, peer: string | null, recorder?: Recorder) => {
      const assembly = { peer, pings: 20 };
      const prngSeed = new Prng(42).save();
      const runtime = new NodeRuntime(self, mountsFor(assembly), durable, new Prng(prngSeed));
      const rec = recorder ?? undefined;
      return new NodeDriver({
        runtime,
        storage: manualAutoStorage(),
        gossip: network.listen(self, noop),
        log: noop,
        onFatal: (e) => {
          throw e;
        },
        ...(rec ? { recorder: rec } : {}),
      });
    };
    const recorder = new Recorder(file, {
      nodeId: '10.0.0.1:8301',
      prng: new Prng(42).save(),
      assembly: { peer: '10.0.0.2:8301', pings: 20 },
      durable: Recorder.durableForHeader(durable),
      startedAtMs: Date.now(),
    });
    const a = make('10.0.0.1:8301', '10.0.0.2:8301', recorder);
    const b = make('10.0.0.2:8301', null);
    b.start();
    a.start();
    await a.call({ machine: 'pinger', body: { type: 'check' } });
    for (let i = 0; i < 200; i++) {
      const v = (await a.call({ machine: 'pinger', body: { type: 'get' } })) as { count: number; checks: string[] };
      if (v.count >= 20 && v.checks.length > 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await a.stop();
    await b.stop();
    recorder.close();
    return recorder.traceHash();
  }

  function manualAutoStorage(): Storage {
    let m = 0;
    return {
      write: () => ++m,
      flush: () => new Promise((r) => setTimeout(r, 1)),
      get durableMarker() {
        return m;
      },
      get writtenMarker() {
        return m;
      },
      stats: { flushes: 0, recordsWritten: 0, bytesWritten: 0 },
      close: async () => {},
    };
  }

  it('replays a recorded run into the same core with identical effects and trace hash', async () => {
    const file = path.join(tempDir(), 'run.rec');
    const liveHash = await recordRun(file);
    const result = replayRecording(file, mountsFor);
    expect(result.stepCount).toBeGreaterThan(40);
    expect(result.divergence).toBeNull();
    expect(result.traceHashReplayed).toBe(result.traceHashRecorded);
    expect(result.traceHashRecorded).toBe(liveHash);
  });

  it('catches a planted nondeterminism at the step it changes', async () => {
    const file = path.join(tempDir(), 'run.rec');
    plantBug = true;
    planted = 0;
    try {
      await recordRun(file);
      const result = replayRecording(file, mountsFor);
      expect(result.divergence).not.toBeNull();
      expect((result.divergence!.input as { kind: string }).kind).toBe('timer');
      expect(result.traceHashReplayed).not.toBe(result.traceHashRecorded);
      expect(result.divergence!.effects.some((e: Effect) => e.kind === 'send')).toBe(true);
    } finally {
      plantBug = false;
    }
  });
});

describe('driver timers', () => {
  it('never delivers a timer before its deadline, and survives delays beyond 2^31 ms', async () => {
    const fired: { timer: string; nowMs: number }[] = [];
    const setAt = new Map<string, number>();
    const clockMachine: Machine<null, unknown, unknown, { after: number; name: string }, unknown> = {
      name: 'clock',
      init: () => null,
      step(_s, input, ctx) {
        if (input.kind === 'request') {
          setAt.set(input.request.name, input.nowMs + input.request.after);
          ctx.emit({ kind: 'setTimer', timer: input.request.name, afterMs: input.request.after });
          ctx.emit({ kind: 'reply', requestId: input.requestId, response: 'ok' });
        } else if (input.kind === 'timer') fired.push({ timer: input.timer, nowMs: input.nowMs });
      },
    };
    const runtime = new NodeRuntime(
      '10.0.0.1:8301',
      [{ machine: clockMachine, config: null }],
      emptyDurableState,
      new Prng(1),
    );
    const driver = new NodeDriver({
      runtime,
      storage: manualStorage(),
      gossip: new MemoryNetwork().listen('10.0.0.1:8301', noop),
      log: noop,
      onFatal: (e) => {
        throw e;
      },
    });
    driver.start();
    for (let i = 0; i < 30; i++) await driver.call({ machine: 'clock', body: { after: 1 + (i % 7), name: `t${i}` } });
    await driver.call({ machine: 'clock', body: { after: 72 * 3600 * 1000, name: 'reconnect' } });
    await new Promise((r) => setTimeout(r, 100));
    expect(fired.map((f) => f.timer).sort()).toEqual([...Array(30).keys()].map((i) => `t${i}`).sort());
    for (const f of fired) expect(f.nowMs).toBeGreaterThanOrEqual(setAt.get(f.timer)!);
    await driver.stop();
  });
});
