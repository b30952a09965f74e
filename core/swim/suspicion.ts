/**
 * One suspicion (SWIM §4.2 with Lifeguard §4.2's dynamic timeout; memberlist suspicion.go). When a
 * member is suspected, a timer starts; if it runs out before the member refutes (alive with a higher
 * incarnation), the member is declared failed. Lifeguard starts the timer at the maximum and shortens
 * it with every independent confirmation (a suspect message from another member), down to the minimum
 * after `expected` confirmations. Plain SWIM uses the minimum and ignores confirmations.
 */
import type { NodeId } from '../types.js';
import { suspicionTimeoutMs } from './config.js';

export interface Suspicion {
  readonly id: NodeId;
  /** The incarnation that was suspected; a refutation must exceed it. */
  readonly incarnation: number;
  /** Local time the suspicion began here (ms). */
  readonly startMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** Confirmations that bring the timeout down to the minimum (memberlist: suspicionMult − 2). */
  readonly expected: number;
  /** Members whose suspicions counted: the first accuser and every confirmer (each counts once). */
  readonly accusers: Set<NodeId>;
  /** Name of the armed timer; a firing with another name is stale and ignored. */
  timer: string;
  /** When the timer fires (local ms). */
  deadlineMs: number;
  /** Last time (local ms) we told the suspect itself, outside a probe (see `maybeTellSuspect`). */
  toldMs: number;
}

/** Confirmations so far (accusers beyond the first). */
export const confirmations = (s: Suspicion): number => Math.max(0, s.accusers.size - 1);

/** The local time at which this suspicion expires, given its confirmations. */
export function suspicionDeadlineMs(s: Suspicion, lifeguard: boolean): number {
  if (!lifeguard) return s.startMs + s.minMs;
  return s.startMs + suspicionTimeoutMs(s.minMs, s.maxMs, confirmations(s), s.expected);
}
