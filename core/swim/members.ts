/**
 * The member table: what this node believes about every member (memberlist's nodeMap + nodes, Serf's
 * member list). A member's status follows a small table of transitions (SWIM §4.2, Serf):
 *
 *   from \ update   alive(inc' > inc)   suspect(inc' ≥ inc)   dead(inc' ≥ inc)   leave(inc' ≥ inc)
 *   alive           alive (new tags)    suspect               failed             left
 *   suspect         alive               (confirm)             failed             left
 *   failed          alive (rejoin)      —                     —                  left
 *   left            alive (rejoin)      —                     —                  —
 *
 * 'leaving' is this node's own status while its leave intent spreads, or, for another member, the
 * mark a force-leave of a live member leaves on the forcing node (Serf's StatusLeaving): the member is
 * told and refutes if it lives (alive at a higher incarnation), or is probed, suspected and failed
 * like any live member if it does not. To the protocol it is live.
 *
 * Scale: a simulation of 10,000 nodes cannot afford 10⁸ member records, so members listed in a
 * shared `Roster` are implicit (alive, incarnation 0, roster tags) until something about them
 * changes; only then is a record materialised. The real agent has no roster and materialises all.
 */
import { assert } from '../assert.js';
import type { NodeId } from '../types.js';
import type { MemberStatus } from './api.js';
import type { Roster } from './config.js';

export class MemberRecord {
  constructor(
    readonly id: NodeId,
    public name: string,
    public incarnation: number,
    public status: MemberStatus,
    public tags: Readonly<Record<string, string>>,
    /** Local time (ms) of the last status change; drives gossip-to-the-dead and reaping. */
    public changedMs: number,
  ) {}
}

/** Status classes used by probing and gossip. */
export const isLive = (status: MemberStatus): boolean =>
  status === 'alive' || status === 'suspect' || status === 'leaving';
export const isGone = (status: MemberStatus): boolean => status === 'failed' || status === 'left';

/**
 * Can this status transition happen? The table above, as code; the machine asserts it on every
 * change. Same-status updates (tags, incarnation) are always allowed.
 */
export function checkTransition(from: MemberStatus | null, to: MemberStatus): boolean {
  if (from === null || from === to) return true;
  switch (to) {
    case 'alive':
      return true; // refutation, or a rejoin with a higher incarnation
    case 'suspect':
      return from === 'alive' || from === 'leaving';
    case 'failed':
      return from === 'alive' || from === 'suspect' || from === 'leaving';
    case 'leaving':
      return from === 'alive' || from === 'suspect';
    case 'left':
      return true;
  }
}

export class MemberTable {
  /** Materialised records, including changed roster members. */
  private readonly records = new Map<NodeId, MemberRecord>();
  /** Members not in the roster, in arrival order (positions after the roster's). May hold reaped ids until `compact`. */
  private extras: NodeId[] = [];
  /** Roster members that were reaped (forgotten). */
  private readonly reapedRoster = new Set<NodeId>();
  /** Count of members (any status, this node included) currently known. */
  private known = 0;
  /** Count of members (this node included) whose status is alive or suspect. */
  private live = 0;
  /** Ids of members whose status is 'failed' (for reconnect attempts without scanning the table). */
  readonly failedIds = new Set<NodeId>();

  constructor(
    readonly selfId: NodeId,
    private readonly roster: Roster | null,
  ) {
    this.known = roster ? roster.ids.length : 0;
    this.live = this.known;
  }

  /** Members known (any status), this node included: memberlist's estNumNodes, used for n in formulas. */
  get size(): number {
    return this.known;
  }

  get liveCount(): number {
    return this.live;
  }

  /** Positions for probing: roster slots then extras (some may be empty or reaped). */
  get positionCount(): number {
    return (this.roster ? this.roster.ids.length : 0) + this.extras.length;
  }

  idAt(position: number): NodeId {
    const rosterLength = this.roster ? this.roster.ids.length : 0;
    const id = position < rosterLength ? this.roster!.ids[position] : this.extras[position - rosterLength];
    assert(id !== undefined, `member position ${position} out of range`);
    return id;
  }

  /**
   * The record for `id`, or undefined when unknown. An implicit roster member gets a fresh transient
   * record that is not stored: change it through `put`.
   */
  get(id: NodeId): MemberRecord | undefined {
    const record = this.records.get(id);
    if (record) return record;
    if (this.roster && this.roster.indexOf.has(id) && !this.reapedRoster.has(id))
      return new MemberRecord(id, id, 0, 'alive', this.roster.tags, 0);
    return undefined;
  }

  /** The incarnation we hold for `id` without materialising anything; undefined when unknown. */
  incarnationOf(id: NodeId): number | undefined {
    const record = this.records.get(id);
    if (record) return record.incarnation;
    return this.roster && this.roster.indexOf.has(id) && !this.reapedRoster.has(id) ? 0 : undefined;
  }

  has(id: NodeId): boolean {
    return this.records.has(id) || (this.roster !== null && this.roster.indexOf.has(id) && !this.reapedRoster.has(id));
  }

  /** Stores (materialises) `record`, keeping the counters in step with the status it had before. */
  put(record: MemberRecord, previous: MemberStatus | null): void {
    const inRoster = this.roster !== null && this.roster.indexOf.has(record.id);
    if (previous === null) {
      assert(!this.has(record.id), `member ${record.id} added twice`);
      this.known++;
      if (inRoster) this.reapedRoster.delete(record.id);
      else this.extras.push(record.id); // duplicates (a reaped id come back) are skipped by compact/forEach
    } else if (isLive(previous)) this.live--;
    if (isLive(record.status)) this.live++;
    if (record.status === 'failed') this.failedIds.add(record.id);
    else this.failedIds.delete(record.id);
    this.records.set(record.id, record);
  }

  /** Forgets a member (reaping). Its probe position is compacted away at the next round. */
  remove(id: NodeId): void {
    const record = this.get(id);
    assert(record !== undefined, `reaping unknown member ${id}`);
    assert(id !== this.selfId, 'a member never reaps itself');
    this.records.delete(id);
    this.failedIds.delete(id);
    if (this.roster && this.roster.indexOf.has(id)) this.reapedRoster.add(id);
    this.known--;
    if (isLive(record.status)) this.live--;
  }

  /** Drops reaped ids from the extras list (at a probe round boundary, so positions stay stable within a round). */
  compact(): void {
    if (this.extras.length === 0) return;
    const seen = new Set<NodeId>();
    this.extras = this.extras.filter((id) => {
      if (seen.has(id) || !this.records.has(id)) return false;
      seen.add(id);
      return true;
    });
  }

  /**
   * Calls `fn` for every known member in a deterministic order (roster order, then arrival order).
   * For implicit roster members one scratch record is reused between calls: read it, never keep it.
   */
  forEach(fn: (record: MemberRecord) => void): void {
    if (this.roster) {
      const scratch = new MemberRecord('', '', 0, 'alive', this.roster.tags, 0);
      for (const id of this.roster.ids) {
        const record = this.records.get(id);
        if (record) {
          fn(record);
          continue;
        }
        if (this.reapedRoster.has(id)) continue;
        (scratch as { id: NodeId }).id = id;
        scratch.name = id;
        scratch.incarnation = 0;
        scratch.status = 'alive';
        scratch.tags = this.roster.tags;
        scratch.changedMs = 0;
        fn(scratch);
      }
    }
    const seen = new Set<NodeId>();
    for (const id of this.extras) {
      const record = this.records.get(id);
      if (!record || seen.has(id)) continue;
      seen.add(id);
      fn(record);
    }
  }

  /** The shared boot roster, when the table has one (simulations of thousands of members). */
  get rosterOf(): Roster | null {
    return this.roster;
  }

  /** Roster members this node has forgotten (reaped), in a deterministic order. */
  reapedRosterIds(): NodeId[] {
    return [...this.reapedRoster];
  }

  /** Materialised records only (cheap; for invariants and the reaper over a roster-backed table). */
  materialised(): IterableIterator<MemberRecord> {
    return this.records.values();
  }

  invariants(): string[] {
    const broken: string[] = [];
    let known = this.roster ? this.roster.ids.length - this.reapedRoster.size : 0;
    let live = known;
    let failed = 0;
    for (const record of this.records.values()) {
      if (record.status === 'failed') {
        failed++;
        if (!this.failedIds.has(record.id)) broken.push(`failed member ${record.id} missing from the failed set`);
      }
      const inRoster = this.roster !== null && this.roster.indexOf.has(record.id);
      if (!inRoster) known++;
      if (inRoster && !isLive(record.status)) live--;
      if (!inRoster && isLive(record.status)) live++;
      if (!Number.isSafeInteger(record.incarnation) || record.incarnation < 0)
        broken.push(`member ${record.id} has incarnation ${record.incarnation}`);
    }
    if (known !== this.known) broken.push(`member count ${this.known} but ${known} members are known`);
    if (live !== this.live) broken.push(`live count ${this.live} but ${live} members are live`);
    if (failed !== this.failedIds.size)
      broken.push(`failed set holds ${this.failedIds.size} but ${failed} members are failed`);
    return broken;
  }
}
