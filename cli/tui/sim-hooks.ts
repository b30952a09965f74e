/**
 * What the TUI needs from a Simulation beyond SimApi, in one place. Everything here is read-only.
 *
 * `nextEventMs` reads the simulator's private event queue: the TUI's `.` key must not step past the
 * end of the safety phase without starting the liveness phase first (exactly as `Simulation.run`
 * does), and only the queue knows when the next event is. TODO(lead): a public
 * `Simulation.nextEventMs(): number | null` would replace the cast below.
 */
import type { Simulation } from '../../sim/simulator.js';

interface QueueView {
  peek(): { atUs: number } | undefined;
}

export function nextEventMs(sim: Simulation): number | null {
  const own = (sim as unknown as { nextEventMs?: () => number | null }).nextEventMs;
  if (typeof own === 'function') return own.call(sim);
  const queue = (sim as unknown as { queue?: QueueView }).queue;
  const next = queue?.peek();
  return next === undefined ? null : next.atUs / 1000;
}
