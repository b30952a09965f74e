/**
 * BUGGIFY (FoundationDB's name): named points in the core where a run may take a legal but rare
 * path — a lease treated as expired, a shorter append batch, an early snapshot — so that seeds reach
 * the corners the common path hides. Every point must keep the protocol correct; it only changes
 * which correct behaviour happens. A bug the explorer finds with a point enabled is a real bug.
 *
 * The core only asks (`buggify(ctx, point)`); the driver decides. The real agent never supplies a
 * decider, so every point is off in production by construction. The simulator supplies one when the
 * scenario says `buggify` (sim/engine/buggify.ts): per run each point is enabled or not from the seed,
 * and an enabled point fires on a share of the calls that reach it.
 */
import type { StepContext } from './types.js';

/** Every point, with what firing it does. Adding a point: add it here, then ask for it where it acts. */
export const buggifyPoints = {
  'raft.lease.expire':
    'a leader with lease reads on treats its lease as expired and confirms the read with a heartbeat round (ReadIndex)',
  'raft.append.short':
    'a leader sends one entry instead of a full AppendEntries batch (more round trips, more partial logs)',
  'raft.snapshot.early':
    'a server snapshots and compacts its log at the next applied entry instead of at the threshold',
} as const;

export type BuggifyPoint = keyof typeof buggifyPoints;

/** A driver's decision for one call of a point. */
export type Buggify = (point: BuggifyPoint) => boolean;

/** Production's decider: no point ever fires. */
export const buggifyNever: Buggify = () => false;

/** Whether this call of `point` takes its rare path (never without a driver that enables it). */
export function buggify(ctx: Pick<StepContext, 'buggify'>, point: BuggifyPoint): boolean {
  return ctx.buggify !== undefined && ctx.buggify(point);
}
