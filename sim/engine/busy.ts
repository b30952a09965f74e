/**
 * The busy host: a node whose process is starved of CPU. Its steps are delayed, never lost: from time
 * to time the process stops running for a while — short CPU starvation (another process holds the
 * core) or a longer GC-like pause — and the inputs that arrive meanwhile wait in the kernel's buffers.
 * When it runs again, the due timers fire before the sockets are read, as in Node's event loop (libuv
 * runs the timers phase before it polls for I/O). That order is what makes a busy host dangerous: a
 * leader's check-quorum timer or a follower's election timer sees a silence that is its own.
 *
 * Each busy node runs its own stall process, drawn from the `busy` random stream (so turning the fault
 * on does not reshuffle any other subsystem's draws): a gap (uniform, mean `busyGapMsMean`), then a
 * stall of `busyStallMsMin..50` ms of starvation, or with `busyLongPercent` % chance a GC-like pause of
 * `100..busyStallMsMax` ms.
 */
import type { Prng } from '../../core/prng.js';

/** Drawn per seed from the `busy` stream; logged with the other knobs, pinned by replay files. */
export interface BusyKnobs {
  /** Shortest stall (ms): a scheduler time slice lost to another process. */
  busyStallMsMin: number;
  /** Longest stall (ms): a major GC or a swapped-out page. */
  busyStallMsMax: number;
  /** Mean gap between two stalls of one busy node (ms). */
  busyGapMsMean: number;
  /** Share of stalls (percent) that are long GC-like pauses rather than short starvation. */
  busyLongPercent: number;
}

/** Stalls shorter than this are starvation; from it up to busyStallMsMax they are GC-like pauses. */
export const busyLongStallMsMin = 100;
const busyShortStallMsMax = 50;

export function drawBusyKnobs(r: Prng): BusyKnobs {
  return {
    busyStallMsMin: 10,
    busyStallMsMax: 500,
    busyGapMsMean: r.pick([100, 300, 1000, 3000]),
    busyLongPercent: r.pick([10, 25, 50]),
  };
}

export function describeBusyKnobs(k: BusyKnobs): string {
  return `busy: stalls ${k.busyStallMsMin}..${k.busyStallMsMax}ms every ~${k.busyGapMsMean}ms, ${k.busyLongPercent}% long`;
}

/** The gap before a node's next stall (ms). */
export function nextStallGapMs(r: Prng, k: BusyKnobs): number {
  return 1 + r.below(Math.max(1, Math.round(k.busyGapMsMean * 2)));
}

/** How long the next stall lasts (ms). */
export function stallMs(r: Prng, k: BusyKnobs): number {
  const min = Math.max(1, k.busyStallMsMin);
  const max = Math.max(min, k.busyStallMsMax);
  if (r.chance(k.busyLongPercent, 100)) return r.between(Math.min(busyLongStallMsMin, max), max);
  return r.between(min, Math.max(min, Math.min(busyShortStallMsMax, max)));
}
