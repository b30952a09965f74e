/**
 * A server's durable identity (issue 13 §2, a server that lost its disk). Every server has a server id,
 * minted when its Raft data is empty and stored with that data (record 'identity'), so a wiped or
 * replaced disk gives it a new id; a server whose identity record survived without its Raft data knows
 * it lost that data, says so, and mints a new id too — it never speaks under the old one again.
 *
 * Configurations record members by name and id (messages.ts Membership.ids) and every message carries
 * its sender's id: a vote, a poll or an acknowledgement counts only when the sender's id is the one on
 * record for its name. A server that came back empty under its old name is therefore a stranger until
 * the leader's agent (or the operator, `operator raft remove-peer`) removes the old entry and adds it
 * again — as Consul does with raft server ids that are node ids, and as etcd refuses a member whose
 * data dir was lost. Without this, the empty server votes like the old one and can elect a leader
 * missing writes it acknowledged (the lost-disk run of issue 13).
 *
 * "Survived without its Raft data" must not be confused with "crashed before its first Raft writes
 * synced", so the record says which of three things its id is:
 *   `{ id }`              minted on an empty dir; no Raft data yet. Kept without data after a crash:
 *                         nothing under it was acknowledged (the ORDERING RULE), and the server is new.
 *   `{ id, data: true }`  Raft data was written under it (marked last in the batch of the first Raft
 *                         writes, state.ts persist). Without data, the server lost it: mint a new id.
 *   `{ id, lost: true }`  minted because the server lost its data; none written since. Kept without
 *                         data after a crash, and the server still must not bootstrap.
 * Treating every `{ id }` without data as lost stalled clusters whose servers crashed before their first
 * sync (disk-replaced-swarm seeds 648, 9194); treating the re-minted id as a fresh one let a server that
 * lost its data bootstrap and vote after one more crash (two leaders of term 2, seeds 13, 246).
 *
 * The randomness comes from the driver (the PRNG it seeds: crypto in the agent, the seed in the
 * simulator); this file only shapes it.
 */
import type { Prng } from '../prng.js';
import type { DurableState, NodeId, StorageOp } from '../types.js';
import { RaftLoadError } from './durable.js';
import { identityLostOp, identityMarkOp, identityRecord } from './identity-record.js';
import { isServerId, type Membership } from './messages.js';
import type { RaftState } from './state.js';

export { identityLostOp, identityMarkOp, identityRecord } from './identity-record.js';

/** A random id in the UUID text form (version 4 layout), as Consul's node ids are. */
export function mintServerId(prng: Prng): string {
  const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
  const a = hex(prng.uint32());
  const b = hex(prng.uint32());
  const c = hex(prng.uint32());
  const d = hex(prng.uint32());
  const variant = ((parseInt(c[0]!, 16) & 0x3) | 0x8).toString(16);
  const id = `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-${variant}${c.slice(1, 4)}-${c.slice(4)}${d}`;
  return id;
}

/** Whether any Raft state is on disk: a hard state, a snapshot or a log entry. */
export function checkHasRaftData(durable: DurableState): boolean {
  return (
    durable.records.has('hardState') ||
    durable.records.has('snapshot') ||
    (durable.logs.get('log')?.entries.length ?? 0) > 0
  );
}

export interface SettledIdentity {
  readonly serverId: string;
  /**
   * The identity record says Raft data was written under this id (`{ id, data: true }`). Until then a
   * crash that kept the identity but none of the first Raft writes lost nothing: no vote or
   * acknowledgement can have left before those writes were durable (the ORDERING RULE).
   */
  readonly marked: boolean;
  /** Persist at start (before any message carries the id): a freshly minted id. */
  readonly ops: StorageOp[];
  /** Said at start as a warning: the server lost its data, or a data dir from before ids existed. */
  readonly note: string | null;
  /**
   * The identity survived without the Raft data: the server knows it lost its data, so it must not
   * bootstrap a configuration of its own from its initial servers (it would count itself a founding
   * voter again, with a term and vote it forgot): it starts as a joiner and waits for a leader.
   */
  readonly lostData: boolean;
}

/**
 * The id this server runs under. Kept when the identity and Raft data are both on disk; minted when the
 * data dir is empty (a new server), when the identity survived without its data (the server lost its
 * data: it must not vote or count under its old id), or when the data predates ids (an older version).
 */
export function settleIdentity(durable: DurableState, prng: Prng): SettledIdentity {
  const raw = durable.records.get(identityRecord) as { id?: unknown; data?: unknown; lost?: unknown } | undefined;
  if (raw !== undefined && (raw === null || typeof raw !== 'object' || !isServerId(raw.id)))
    throw new RaftLoadError(identityRecord, `record is malformed (expected { id: string }); restore the data dir`);
  const old = raw?.id as string | undefined;
  const hasData = checkHasRaftData(durable);
  // With its data: marked now if the mark was lost (a torn first batch keeps a prefix, the mark last) or
  // never written (a dir from before the mark). A follower's ack of entries it already holds persists
  // nothing, so without this the id could count in a quorum while its record still read as a new
  // server's, and a replaced disk that kept it would bootstrap and vote (disk-replaced-swarm seed 4173).
  if (old !== undefined && hasData) {
    const ops = raw?.data === true ? [] : [identityMarkOp(old)];
    return { serverId: old, ops, note: null, lostData: false, marked: true };
  }
  if (old !== undefined && raw?.lost === true) {
    // Minted after a lost disk, and no Raft data written under it since: nothing under this id was ever
    // acknowledged, so it is kept, but the server still lost its data and still waits to be added again.
    const note =
      `lost its Raft data before this start and has none yet: it keeps server id ${old}, does not bootstrap, ` +
      `and waits for the leader to add it under that id (or run \`conclave operator raft remove-peer\`)`;
    return { serverId: old, ops: [], note, lostData: true, marked: false };
  }
  // A server that crashed before its first Raft writes synced: nothing under this id was acknowledged.
  if (old !== undefined && raw?.data !== true)
    return { serverId: old, ops: [], note: null, lostData: false, marked: false };
  const serverId = mintServerId(prng);
  const lostData = old !== undefined;
  // Lost its data: `lost`; a dir from before ids (it has data): marked at once; an empty dir: a bare id.
  const ops: StorageOp[] = [
    lostData
      ? identityLostOp(serverId)
      : hasData
        ? identityMarkOp(serverId)
        : { op: 'put', key: identityRecord, value: { id: serverId } },
  ];
  let note: string | null = null;
  if (lostData)
    note =
      `lost its Raft data: server id ${old} is on disk but no term, log or snapshot (a wiped or replaced data dir). ` +
      `It starts as a new server, id ${serverId}, without bootstrapping, and neither votes nor counts toward a ` +
      `quorum until it is a member under that id: the leader replaces the old entry once it hears from it ` +
      `(or run \`conclave operator raft remove-peer\` for this server, then let it rejoin)`;
  else if (hasData) note = `had no server id on disk (a data dir from an older version): minted ${serverId}`;
  return { serverId, ops, note, lostData, marked: hasData && !lostData };
}

/** The id recorded for member `name`, or undefined when none is (see Membership.ids). */
export function recordedIdOf(membership: Membership, name: NodeId): string | undefined {
  return membership.ids?.[name];
}

/** Whether a message from `from` carrying `sid` may count: its id is the one on record, or none is. */
export function checkSenderCounts(s: RaftState, from: NodeId, sid: string | undefined): boolean {
  if (s.config.unsafeIgnoreServerIds) return true; // the test-only broken variant
  const recorded = recordedIdOf(s.membership, from);
  return recorded === undefined || recorded === sid;
}

/** Whether our own configuration knows us under our id (or has no id on record for our name). */
export function checkOwnIdCurrent(s: RaftState): boolean {
  return checkSenderCounts(s, s.id, s.serverId);
}

/**
 * The ids a configuration entry should carry for `members`: those already on record, and for a member
 * without one, the id we know (ours, or the one its messages carried). A member whose messages were
 * refused as a stranger's is never given its new id here: that takes removing it first.
 */
export function idsFor(s: RaftState, members: readonly NodeId[]): Record<NodeId, string> {
  const ids: Record<NodeId, string> = {};
  for (const name of members) {
    const known = recordedIdOf(s.membership, name) ?? (name === s.id ? s.serverId : s.seenIds.get(name));
    if (known !== undefined) ids[name] = known;
  }
  return ids;
}

/** Members the leader could record an id for that are not on record yet. */
export function checkIdsMissing(s: RaftState): boolean {
  // What idsFor would give a member without one on record, member by member: no arrays (a leader asks
  // on every step).
  return someIdMissing(s, s.membership.voters) || someIdMissing(s, s.membership.learners);
}

function someIdMissing(s: RaftState, members: readonly NodeId[]): boolean {
  for (let i = 0; i < members.length; i++) {
    const name = members[i]!;
    if (recordedIdOf(s.membership, name) !== undefined) continue;
    if ((name === s.id ? s.serverId : s.seenIds.get(name)) !== undefined) return true;
  }
  return false;
}
