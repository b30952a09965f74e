/**
 * The identity record's name and its "data written" mark (identity.ts says what they mean): a leaf, so
 * the state's persist (state.ts) and the loader (durable.ts) share them without an import cycle.
 */
import type { StorageOp } from '../types.js';

/**
 * The durable record holding `{ id }` (identity.ts): this server's id; it lives among the Raft records,
 * so it goes with them. `{ id, data: true }` once Raft data was written under the id; `{ id, lost: true }`
 * for an id minted because the server lost its data, until Raft data is written under it.
 */
export const identityRecord = 'identity';

/**
 * The op that marks the identity record "Raft data was written under this id": appended, once, last in
 * the batch of the server's first Raft writes (state.ts persist), so it is durable no later than
 * they are and before anything they allow leaves. A server whose marked identity survived without its
 * Raft data lost that data; an unmarked one never had any.
 */
export function identityMarkOp(serverId: string): StorageOp {
  return { op: 'put', key: identityRecord, value: { id: serverId, data: true } };
}

/**
 * The record of an id minted because the server lost its Raft data: `lost` keeps that knowledge across
 * a crash that comes before any Raft data is written under the new id. Without it, the bare `{ id }`
 * looked like a fresh server's after such a crash, and the server bootstrapped a configuration of its
 * own and voted in it with a term and vote it had forgotten (disk-replaced-swarm seeds 13 and 246 with
 * the mark alone: two leaders of term 2).
 */
export function identityLostOp(serverId: string): StorageOp {
  return { op: 'put', key: identityRecord, value: { id: serverId, lost: true } };
}
