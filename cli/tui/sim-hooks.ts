/**
 * What the TUI needs from a Simulation beyond SimApi, in one place. Everything here is read-only.
 *
 * `nextEventMs`: the TUI's `.` key must not step past the end of the safety phase without starting
 * the liveness phase first (exactly as `Simulation.run` does), and only the queue knows when the next
 * event is.
 */
import type { Simulation } from '../../sim/engine/simulation.js';

export function nextEventUs(sim: Simulation): number | null {
  return sim.nextEventUs();
}
