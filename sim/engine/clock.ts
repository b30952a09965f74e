/**
 * A node's local clock: global simulated time plus an offset (clock jumps) and a drift rate (ppm).
 * Nodes read only their local clock (`nowMs` in every input), so skew, jumps and drift reach the
 * protocols exactly as a bad NTP day would. Timers run on the local clock: a node whose clock runs
 * fast fires its timers early in global time.
 */
const usPerMs = 1000;

export class NodeClock {
  /** Local minus global time at `driftBaseUs` (µs): the jumps so far plus the drift folded in. */
  offsetUs = 0;
  /** Rate error: the local clock gains `driftPpm` µs per global second. */
  driftPpm = 0;
  /** Global time (µs) from which the current drift accumulates. */
  driftBaseUs = 0;

  localUs(nowUs: number): number {
    return nowUs + this.offsetUs + ((nowUs - this.driftBaseUs) * this.driftPpm) / 1e6;
  }

  jump(deltaMs: number): void {
    this.offsetUs += Math.round(deltaMs * usPerMs);
  }

  setDrift(nowUs: number, ppm: number): void {
    this.offsetUs = this.localUs(nowUs) - nowUs; // fold the drift so far into the offset
    this.driftBaseUs = nowUs;
    this.driftPpm = ppm;
  }

  /** Global delay (µs, ≥ 1) after which a timer of `afterMs` local time fires. */
  timerDelayUs(afterMs: number): number {
    const rate = 1 + this.driftPpm / 1e6;
    return Math.max(1, Math.round((afterMs * usPerMs) / rate));
  }
}
