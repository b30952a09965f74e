/**
 * The broadcast queue (memberlist's TransmitLimitedQueue, SWIM §4.1 "infection-style dissemination").
 * Every membership update and user event waits here and rides on outgoing probes and gossip until it
 * has been sent `retransmitLimit(n)` times. A newer update about the same member replaces the older
 * one (it would only be ignored downstream). The least-sent update goes first, newest first among
 * equals, so that fresh news spreads before old news is repeated.
 */
import { assert } from '../assert.js';
import type { SwimUpdate } from './messages.js';
import { updateBytes } from './size.js';

interface Broadcast {
  /** What it invalidates: `m:<id>` for member updates, `e:<eventId>` for user events. */
  readonly key: string;
  readonly update: SwimUpdate;
  readonly bytes: number;
  /** Times sent so far; the broadcast is dropped when it reaches the retransmit limit. */
  transmits: number;
  /** Insertion order; larger is newer. */
  readonly order: number;
}

export function broadcastKey(update: SwimUpdate): string {
  return update.k === 'event' ? `e:${update.event.id}` : `m:${update.id}`;
}

export class BroadcastQueue {
  private items: Broadcast[] = [];
  private readonly byKey = new Map<string, Broadcast>();
  private nextOrder = 0;
  /** Broadcasts dropped because the queue was full (count, for the view). */
  droppedCount = 0;

  constructor(private readonly queueMax: number) {
    assert(queueMax >= 1, 'broadcast queue needs room for one item');
  }

  get length(): number {
    return this.items.length;
  }

  /** Queues `update`, replacing any queued update with the same key. */
  enqueue(update: SwimUpdate): void {
    const key = broadcastKey(update);
    const old = this.byKey.get(key);
    if (old) this.items.splice(this.items.indexOf(old), 1);
    const item: Broadcast = { key, update, bytes: updateBytes(update), transmits: 0, order: this.nextOrder++ };
    this.items.push(item);
    this.byKey.set(key, item);
    if (this.items.length > this.queueMax) this.dropMostSent();
    assert(this.items.length === this.byKey.size, 'broadcast queue index out of step');
  }

  /** True when an update with this key is queued (used by tests and the invariant checks). */
  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /**
   * Takes updates whose estimated sizes fit in `bytesFree`, counting one transmission for each and
   * dropping those that reached `limit`. Returns them in send order.
   */
  take(bytesFree: number, limit: number): SwimUpdate[] {
    if (this.items.length === 0 || bytesFree <= 0) return [];
    assert(limit >= 1, 'retransmit limit must be ≥ 1');
    // Least-sent first, then newest first. The queue is short (bounded by churn), so sorting is cheap.
    this.items.sort((a, b) => a.transmits - b.transmits || b.order - a.order);
    const out: SwimUpdate[] = [];
    let free = bytesFree;
    let removed = false;
    for (const item of this.items) {
      if (item.bytes > free) continue;
      free -= item.bytes;
      out.push(item.update);
      item.transmits++;
      if (item.transmits >= limit) {
        this.byKey.delete(item.key);
        removed = true;
      }
      if (free < 40) break; // nothing smaller than a suspect update fits any more
    }
    if (removed) this.items = this.items.filter((item) => this.byKey.get(item.key) === item);
    return out;
  }

  /** Removes a queued update by key (e.g. our own stale alive after a newer refutation). */
  drop(key: string): void {
    const item = this.byKey.get(key);
    if (!item) return;
    this.byKey.delete(key);
    this.items.splice(this.items.indexOf(item), 1);
  }

  private dropMostSent(): void {
    let worst = 0;
    for (let i = 1; i < this.items.length; i++) {
      const a = this.items[i]!;
      const w = this.items[worst]!;
      if (a.transmits > w.transmits || (a.transmits === w.transmits && a.order < w.order)) worst = i;
    }
    const [item] = this.items.splice(worst, 1);
    this.byKey.delete(item!.key);
    this.droppedCount++;
  }

  invariants(limit: number): string[] {
    const broken: string[] = [];
    if (this.items.length > this.queueMax) broken.push(`broadcast queue holds ${this.items.length} > ${this.queueMax}`);
    if (this.items.length !== this.byKey.size) broken.push('broadcast queue index out of step');
    for (const item of this.items)
      if (item.transmits >= Math.max(limit, 1) + 64) broken.push(`broadcast ${item.key} sent ${item.transmits} times`);
    return broken;
  }
}
