/**
 * Network coordinates in the catalog (Consul's coordinates table, `/v1/coordinate/*`): each agent
 * sends its own Vivaldi coordinate (core/swim/coordinate.ts) to the servers now and then; the store
 * keeps the latest per registered node. Updates for nodes the catalog does not hold are skipped, as
 * Consul's state store does, and a node's coordinate goes with the node.
 */
import { isCoordinate, type Coordinate } from '../swim/coordinate.js';
import { bumpTable, type StoreState } from './state.js';
import type { CommandResult } from './types.js';

export interface CoordinateUpdate {
  readonly Node: string;
  readonly Coord: Coordinate;
}

/** `/v1/coordinate/nodes` rows. Segments are a Consul Enterprise feature: always "". */
export interface CoordinateEntry {
  readonly Node: string;
  readonly Segment: string;
  readonly Coord: Coordinate;
}

/** Largest batch one command may carry. */
export const coordinateBatchMax = 1024;

export function coordinateBatchUpdate(state: StoreState, index: number, updates: unknown): CommandResult<number> {
  if (!Array.isArray(updates) || updates.length > coordinateBatchMax)
    return { ok: false, error: `coordinate updates must be a list of at most ${coordinateBatchMax}` };
  for (const [i, u] of updates.entries()) {
    const update = u as Partial<CoordinateUpdate> | null;
    if (update === null || typeof update !== 'object' || typeof update.Node !== 'string' || update.Node === '')
      return { ok: false, error: `coordinate update ${i}: missing Node` };
    if (!isCoordinate(update.Coord))
      return { ok: false, error: `coordinate update ${i} (${update.Node}): invalid coordinate` };
  }
  let applied = 0;
  for (const update of updates as CoordinateUpdate[]) {
    if (!state.nodes.has(update.Node)) continue;
    state.coordinates.set(update.Node, update.Coord);
    applied++;
  }
  if (applied > 0) bumpTable(state, 'coordinates', index);
  return { ok: true, value: applied };
}

/** Forget a deregistered node's coordinate. */
export function coordinateDelete(state: StoreState, index: number, node: string): void {
  if (state.coordinates.delete(node)) bumpTable(state, 'coordinates', index);
}

export function coordinateEntries(state: StoreState, node?: string): CoordinateEntry[] {
  const names = node === undefined ? [...state.coordinates.keys()].sort() : state.coordinates.has(node) ? [node] : [];
  return names.map((name) => ({ Node: name, Segment: '', Coord: state.coordinates.get(name)! }));
}
