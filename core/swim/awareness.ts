/**
 * Lifeguard's local health multiplier (LHM, arXiv:1707.00788 §4.1; memberlist awareness.go). A member
 * that misses acks or nacks, or has to refute suspicions about itself, is more likely the slow one: it
 * raises its score and stretches its own probe interval and probe timeout by (score + 1), instead of
 * accusing healthy peers. Successful probes lower the score again.
 *
 * Score deltas (memberlist): +1 on a failed probe without expected nacks, +missingNacks when nacks were
 * expected, +1 on each refutation, −1 on a successful direct probe.
 */
import { assert } from '../assert.js';

export class Awareness {
  /** In [0, max − 1]; 0 = healthy. */
  score = 0;

  constructor(private readonly max: number) {
    assert(Number.isInteger(max) && max >= 1, 'awareness max must be an integer ≥ 1');
  }

  applyDelta(delta: number): void {
    this.score = Math.min(this.max - 1, Math.max(0, this.score + delta));
  }

  /** `timeoutMs` stretched by the current health: timeoutMs · (score + 1). */
  scale(timeoutMs: number): number {
    return timeoutMs * (this.score + 1);
  }

  invariants(): string[] {
    return this.score >= 0 && this.score < this.max && Number.isInteger(this.score)
      ? []
      : [`awareness score ${this.score} outside [0, ${this.max - 1}]`];
  }
}
