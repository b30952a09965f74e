/**
 * Runs the driver conformance suite (driver.conformance.ts) against three drivers: the simulator
 * (virtual time; fsync latency 2–5 ms, so client requests and messages meet unsynced persists), net's
 * NodeDriver (wall time, the in-memory network, a storage whose flush completes 5 ms after it is asked,
 * so held effects really wait), and the flight recorder's replay: NodeDriver runs under a recorder and
 * everything the cases look at is rebuilt from the recordings alone (what left, when, against which
 * durable marker; each node's state). The first two report what left through their `onLeave` hooks.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Prng } from '../../core/prng.js';
import { NodeRuntime } from '../../core/runtime.js';
import { emptyDurableState, type Effect } from '../../core/types.js';
import type { Storage } from '../../net/disk/storage.js';
import { NodeDriver } from '../../net/driver.js';
import { Recorder, replayRecording } from '../../net/recorder.js';
import { MemoryNetwork } from '../../net/transport/memory.js';
import { Simulation } from '../../sim/engine/simulation.js';
import type { Harness } from '../../sim/harness.js';
import { parseScenario } from '../../sim/scenario.js';
import {
  driverConformance,
  probeMachine,
  tagOf,
  type DriverFixture,
  type Left,
  type ProbeState,
} from './driver.conformance.js';

function leftEntry(effect: Effect, needed: number, durable: number): Left | null {
  if (effect.kind !== 'send' && effect.kind !== 'reply') return null;
  return { tag: tagOf(effect), kind: effect.kind, needed, durable };
}

async function simFixture(): Promise<DriverFixture> {
  const left: Left[] = [];
  const needed = new Map<string, number>();
  const triggers = new Map<string, () => void>();
  const holder: { sim: Simulation | null } = { sim: null };
  const harness: Harness = {
    name: 'probe',
    params: {},
    mounts: () => [{ machine: probeMachine, config: null }],
    onEffect(sim, nodeId, effect) {
      if (nodeId !== 'n1') return;
      const tag = tagOf(effect);
      // Called before the effect is carried out: every persist before it in its step is written.
      if (effect.kind === 'send' || effect.kind === 'reply') needed.set(tag, holder.sim!.storageMarkers('n1').written);
      const trigger = triggers.get(tag);
      if (trigger) {
        triggers.delete(tag);
        sim.after(0, trigger); // at this instant, once the step is over (before any sync: ≥ 2 ms)
      }
    },
  };
  const scenario = parseScenario('protocol probe\nnodes 2\nduration safety=60s liveness=0s\n', 'driver-probe.txt');
  const sim = new Simulation(scenario, harness, 1, {
    knobs: { syncUsMin: 2000, syncUsMax: 5000, tornWritePercent: 0, clockJumpMsMax: 0, clockDriftPpmMax: 0 },
    onLeave(nodeId, effect) {
      if (nodeId !== 'n1') return;
      const entry = leftEntry(effect, needed.get(tagOf(effect)) ?? 0, sim.storageMarkers('n1').durable);
      if (entry) left.push(entry);
    },
  });
  holder.sim = sim;
  sim.begin();
  return {
    request(script, after) {
      const go = () => sim.request('n1', { machine: 'probe', body: { script } }, 10_000, () => undefined);
      if (after === undefined) go();
      else triggers.set(after, go);
    },
    crashAfter(tag) {
      triggers.set(tag, () => sim.faults.crash('n1'));
    },
    async run(ms) {
      sim.runUntil(sim.nowMs + ms);
    },
    left,
    probe: (nodeId) => sim.runtime(nodeId)?.stateOf<ProbeState>('probe') ?? null,
    async cleanup() {},
  };
}

/** A storage whose flush completes `syncMs` after it is asked (never, once crashed). */
function slowStorage(syncMs: number): Storage & { crashed: boolean } {
  let written = 0;
  let durable = 0;
  const storage = {
    crashed: false,
    write: () => ++written,
    flush(): Promise<void> {
      const marker = written;
      if (marker <= durable) return Promise.resolve();
      return new Promise<void>((resolve) =>
        setTimeout(() => {
          if (storage.crashed) return; // the process is gone: the sync never completes
          durable = Math.max(durable, marker);
          resolve();
        }, syncMs),
      );
    },
    get durableMarker() {
      return durable;
    },
    get writtenMarker() {
      return written;
    },
    stats: { flushes: 0, recordsWritten: 0, bytesWritten: 0 },
    full: null,
    close: async () => undefined,
  };
  return storage;
}

/** The in-memory network frames carry host:port addresses, as the real sockets do. */
const addressOf = (id: string): string => `10.0.0.${id.slice(1)}:8301`;

/** With `recordDir`, each node runs under a flight recorder writing `<recordDir>/<id>.rec`. */
async function netFixture(recordDir?: string): Promise<DriverFixture> {
  const network = new MemoryNetwork();
  const left: Left[] = [];
  const needed = new Map<string, number>();
  const triggers = new Map<string, () => void>();
  const drivers = new Map<string, NodeDriver>();
  const storages = new Map<string, ReturnType<typeof slowStorage>>();
  const crashed = new Set<string>();
  const recorders: Recorder[] = [];
  for (const id of ['n1', 'n2']) {
    const storage = slowStorage(5);
    storages.set(id, storage);
    const runtime = new NodeRuntime(id, [{ machine: probeMachine, config: null }], emptyDurableState, new Prng(7));
    const recorder =
      recordDir !== undefined
        ? new Recorder(path.join(recordDir, `${id}.rec`), {
            nodeId: id,
            prng: new Prng(7).save(),
            assembly: null,
            durable: Recorder.durableForHeader(emptyDurableState),
            startedAtMs: 0,
          })
        : undefined;
    if (recorder) recorders.push(recorder);
    const driver: NodeDriver = new NodeDriver({
      runtime,
      storage,
      gossip: network.listen(addressOf(id), () => undefined),
      route: (_envelope, to) => ({ endpoint: 'gossip', address: addressOf(to) }),
      log: () => undefined,
      onFatal: (error) => {
        throw error;
      },
      ...(recorder ? { recorder } : {}),
      onEffects(effects) {
        if (id !== 'n1') return;
        let written = storage.writtenMarker;
        for (const effect of effects) {
          if (effect.kind === 'persist') written++;
          if (effect.kind === 'send' || effect.kind === 'reply') needed.set(tagOf(effect), written);
          const trigger = triggers.get(tagOf(effect));
          if (trigger) {
            triggers.delete(tagOf(effect));
            queueMicrotask(trigger); // once this step's effects are carried out, before the flush
          }
        }
      },
      onLeave(effect) {
        if (id !== 'n1') return;
        const entry = leftEntry(effect, needed.get(tagOf(effect)) ?? 0, storage.durableMarker);
        if (entry) left.push(entry);
      },
    });
    drivers.set(id, driver);
    driver.start();
  }
  const n1 = drivers.get('n1')!;
  return {
    request(script, after) {
      const go = () => void n1.call({ machine: 'probe', body: { script } }, 10_000);
      // call() steps at once; a microtask lets the test register its triggers first, as the
      // simulator's client latency does.
      if (after === undefined) queueMicrotask(go);
      else triggers.set(after, go);
    },
    crashAfter(tag) {
      triggers.set(tag, () => {
        crashed.add('n1');
        storages.get('n1')!.crashed = true;
        void n1.stop();
      });
    },
    async run(ms) {
      await new Promise((resolve) => setTimeout(resolve, ms));
    },
    left,
    probe: (nodeId) => (crashed.has(nodeId) ? null : drivers.get(nodeId)!.runtime.stateOf<ProbeState>('probe')),
    async cleanup() {
      for (const [id, driver] of drivers) {
        storages.get(id)!.crashed = true;
        await Promise.race([driver.stop(), new Promise((resolve) => setTimeout(resolve, 50))]);
      }
      for (const recorder of recorders) recorder.close();
    },
  };
}

/**
 * The flight recorder's replay as a driver: NodeDriver runs the case with both nodes recorded; what the
 * suite sees — what left n1, in which order, what it needed and how durable the disk was then, and each
 * node's probe state — is rebuilt from the recordings alone by replaying them (net/recorder.ts), so
 * every case checks that a recording holds what an investigation needs and that its replay reproduces
 * the run.
 */
async function replayFixture(): Promise<DriverFixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-driver-replay-'));
  const live = await netFixture(dir);
  const replay = (id: string) => {
    const result = replayRecording(path.join(dir, `${id}.rec`), () => [{ machine: probeMachine, config: null }]);
    if (result.divergence) throw new Error(`${id}: the replay diverged at step ${result.divergence.step}`);
    return result;
  };
  return {
    request: (script, after) => live.request(script, after),
    crashAfter: (tag) => live.crashAfter(tag),
    run: (ms) => live.run(ms),
    get left() {
      return replay('n1').leaves.flatMap((l) => leftEntry(l.effect, l.needed, l.durable) ?? []);
    },
    probe: (nodeId) => (live.probe(nodeId) === null ? null : replay(nodeId).runtime.stateOf<ProbeState>('probe')),
    async cleanup() {
      await live.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

driverConformance('simulator', simFixture);
driverConformance('NodeDriver', () => netFixture());
driverConformance('flight recorder replay', replayFixture);

describe('driver conformance: flight recorder replay', () => {
  it('a recorded probe run replays to the same effects, in the same order', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-driver-conformance-'));
    try {
      const file = path.join(dir, 'n1.rec');
      const fx = await netFixture(dir);
      fx.request([{ persist: 'a' }, { send: 's1', to: 'n2' }, { timer: 't', afterMs: 5 }, { reply: 'r1' }]);
      fx.request([{ reply: 'read' }], 'r1');
      await fx.run(100);
      expect(fx.left.map((l) => l.tag)).toEqual(['s1', 'r1', 'read']);
      await fx.cleanup();
      const replay = replayRecording(file, () => [{ machine: probeMachine, config: null }]);
      expect(replay.divergence).toBeNull();
      expect(replay.stepCount).toBeGreaterThanOrEqual(4); // start, two requests, the timer
      expect(replay.traceHashReplayed).toBe(replay.traceHashRecorded);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
