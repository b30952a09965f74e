/**
 * Worker-thread entry of the explorer (sim/explore.ts): loads the seed runner once, then runs the
 * batches of seeds the main thread hands it, posting one result per seed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { withPins, type FromWorker, type SeedRunnerModule, type ToWorker, type WorkerData } from './explore.js';

const port = parentPort;
if (!port) throw new Error('sim/explore-worker runs only as a worker thread');
const data = workerData as WorkerData;
const runner = (await import(data.runnerUrl)) as SeedRunnerModule;
const post = (msg: FromWorker): void => port.postMessage(msg);

port.on('message', async (msg: ToWorker) => {
  if (msg.type === 'stop') {
    port.close();
    return;
  }
  for (const [i, seed] of msg.seeds.entries()) {
    const pins = msg.pins?.[i];
    try {
      post({
        type: 'result',
        result: await runner.runSeed(
          msg.scenarioPath ?? data.scenarioPath,
          seed,
          pins ? withPins(data.runner, pins) : data.runner,
        ),
      });
    } catch (error) {
      post({ type: 'error', seed, message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      return;
    }
  }
  post({ type: 'batchDone' });
});
post({ type: 'ready' });
