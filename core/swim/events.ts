/**
 * Serf user events: named payloads broadcast to every member, ordered by a Lamport clock (Lamport 1978;
 * Serf's eventClock) and de-duplicated by id inside a window of `eventBufferSize` Lamport times.
 * Consul's `/v1/event/fire` rides on these.
 */
import { assert } from '../assert.js';
import type { UserEvent } from './api.js';
import { notify, trace, type Step, type SwimState } from './state.js';

/**
 * How far past our event clock a Lamport time from the wire may be (2^32): every member moves the clock
 * one step per event it fires, so no legitimate peer gets this far ahead, while a forged ltime near 2^53
 * would leave the clock unable to advance (ltime + 1 no longer a safe integer). As `incarnationJumpMax`.
 */
export const ltimeJumpMax = 2 ** 32;

/** Wire hygiene for a Lamport time (an event's, or a push-pull's clock): false, with a trace, past the bound. */
export function checkLtimeJump(step: Step, ltime: number, sender: string): boolean {
  if (ltime <= step.s.eventClock + ltimeJumpMax) return true;
  trace(step, { type: 'swim.ltimeJumpDropped', node: step.s.self.id, from: sender, ltime, clock: step.s.eventClock });
  return false;
}

/** Lamport witness: our clock moves past any time we see. */
export function witness(s: SwimState, ltime: number): void {
  if (ltime >= s.eventClock) s.eventClock = ltime + 1;
}

/** Fires a new event from this node: stamps it with the clock, records and broadcasts it. */
export function fireEvent(step: Step, event: Omit<UserEvent, 'ltime'>): UserEvent {
  const { s } = step;
  const stamped: UserEvent = { ...event, ltime: s.eventClock };
  s.eventClock++;
  const fresh = handleUserEvent(step, stamped);
  assert(fresh, 'a freshly fired event is new');
  return stamped;
}

/**
 * Records an event if it is new (not seen, not older than the window), tells the observer and
 * re-broadcasts it. Returns whether it was new.
 */
export function handleUserEvent(step: Step, event: UserEvent): boolean {
  const { s } = step;
  witness(s, event.ltime);
  const size = s.config.eventBufferSize;
  if (s.eventClock > size && event.ltime < s.eventClock - size) return false; // too old to de-duplicate
  const index = event.ltime % size;
  let slot = s.eventSlots[index];
  if (slot === undefined || slot.ltime !== event.ltime) {
    if (slot !== undefined && slot.ltime > event.ltime) return false; // the slot moved on: older than the window
    slot = { ltime: event.ltime, events: [] };
    s.eventSlots[index] = slot;
  }
  if (slot.events.some((e) => e.id === event.id)) return false;
  slot.events.push(event);
  notify(step, { type: 'userEvent', event });
  s.queue.enqueue({ k: 'event', event });
  return true;
}

/** Recent events, oldest first (the `events` request and push-pull). */
export function recentEvents(s: SwimState): UserEvent[] {
  const out: UserEvent[] = [];
  for (const slot of s.eventSlots) if (slot) out.push(...slot.events);
  out.sort((a, b) => a.ltime - b.ltime || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return out;
}
