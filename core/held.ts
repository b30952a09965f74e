/**
 * The queue of the ORDERING RULE (core/types.ts), written once for both drivers (sim/engine's
 * simulation and net's NodeDriver): a `send` or `reply` waits while a persist emitted before it is not
 * durable, or while an earlier one waits; waiting effects leave in their original order once the sync
 * covering their persists completes; a crash drops them.
 *
 * A FIFO read by a head index (shift() in a loop makes releasing n effects cost n²; see runtime.ts's
 * runLocals). There is no hard limit: dropping a held effect would break the ordering promise, and the
 * core bounds its own output (Raft's in-flight window, pending proposals), so growth means a stalled
 * sync, which the drivers report.
 */
import { assert } from './assert.js';

export class HeldEffects<E> {
  private effects: E[] = [];
  private markers: number[] = [];
  private head = 0;

  /** The effects that wait, oldest first (a copy: what a crash now would drop unsent). */
  pending(): E[] {
    return this.effects.slice(this.head);
  }

  /** How many effects wait. */
  get size(): number {
    return this.effects.length - this.head;
  }

  /**
   * Whether an effect that leaves the node, emitted now, must wait: an earlier one waits (order), or
   * a persist emitted before it (the latest is `writtenMarker`) is not yet durable.
   */
  mustHold(writtenMarker: number, durableMarker: number): boolean {
    return this.size > 0 || writtenMarker > durableMarker;
  }

  /** Holds `effect` until every persist up to `marker` is durable. Markers never decrease. */
  hold(effect: E, marker: number): void {
    const last = this.markers.length > this.head ? this.markers[this.markers.length - 1]! : -Infinity;
    if (!(marker >= last)) assert(false, `held effect marker ${marker} below the previous ${last}`);
    this.effects.push(effect);
    this.markers.push(marker);
  }

  /**
   * Hands every held effect whose persists are durable (marker ≤ `durableMarker`) to `leave`, oldest
   * first, and stops at the first that must still wait. Returns how many left.
   */
  release(durableMarker: number, leave: (effect: E) => void): number {
    const from = this.head;
    while (this.head < this.effects.length && this.markers[this.head]! <= durableMarker) {
      const effect = this.effects[this.head]!;
      this.head++;
      leave(effect);
    }
    const released = this.head - from;
    if (this.head === this.effects.length) this.clear();
    else if (this.head > 1024 && this.head * 2 > this.effects.length) {
      this.effects = this.effects.slice(this.head);
      this.markers = this.markers.slice(this.head);
      this.head = 0;
    }
    return released;
  }

  /** The node crashed or stopped: held effects never leave. */
  clear(): void {
    this.effects = [];
    this.markers = [];
    this.head = 0;
  }

  /** The waiting effects, oldest first (read only: a driver answering waiting callers early). */
  *waiting(): IterableIterator<E> {
    for (let i = this.head; i < this.effects.length; i++) yield this.effects[i]!;
  }
}
