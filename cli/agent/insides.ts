/**
 * The cluster's insides, as the web UI's "Cluster" view shows them (issue 18): what Consul's UI does
 * not show — each server's Raft role, term, commit and applied index and last contact, the SWIM member
 * table with incarnations, and recent leader changes and member events.
 *
 * `collectInsides` reads one node's Raft and SWIM state (the core's own state values, read-only) and
 * builds a plain JSON value. The agent serves it at `GET /v1/agent/debug/insides` (ACL operator:read);
 * `conclave sim serve` builds the same shape from a simulated run's snapshot (every node exactly). `InsidesRecorder` remembers the
 * changes it has seen (bounded), since the state only holds the present.
 *
 * One node sees itself exactly; other servers only as far as Raft tells it: a leader knows each
 * follower's match index and when it last answered (a follower that answered within an election
 * timeout is a follower at this term — Raft §5.1: a reply carries its sender's term, and a higher one
 * would have deposed the leader; a silent one's role and term are unknown),
 * a follower knows when it last heard from the leader. What a node cannot know is null, and the UI
 * prints "–" for it rather than a guess. `source` says whose view each row is.
 */
import type { Coordinate } from '../../core/swim/coordinate.js';

/** One server of the Raft configuration as this node sees it. */
export interface InsidesServer {
  /** Raft id (the gossip address, ip:port). */
  readonly id: string;
  readonly name: string;
  readonly self: boolean;
  readonly voter: boolean;
  /** leader, follower, candidate, precandidate (self), or what this node believes (others); null when unknown. */
  readonly role: string | null;
  readonly term: number | null;
  readonly commitIndex: number | null;
  readonly appliedIndex: number | null;
  /** Last index in the server's log (self) or the highest index known to match the leader's (others, on the leader). */
  readonly logIndex: number | null;
  /** Milliseconds since this server last heard from the leader (self, follower) or the follower last answered (on the leader). */
  readonly lastContactMs: number | null;
  /** self: its own state; leader: the leader's replication view of it; none: this node knows nothing more. */
  readonly source: 'self' | 'leader' | 'none';
}

/** One SWIM member as this node sees it. */
export interface InsidesMember {
  readonly id: string;
  readonly name: string;
  /** alive, suspect, failed, leaving, left. */
  readonly status: string;
  /** Null where the source does not keep it (a simulated run's kept snapshots). */
  readonly incarnation: number | null;
  /** Serf tags (role, dc, port…). */
  readonly tags: Readonly<Record<string, string>>;
}

export interface InsidesEvent {
  /** When it was seen: Unix ms on an agent, simulated ms in a simulation (`Insides.clock` says which). */
  readonly atMs: number;
  /** leader and member on agents; a simulated run also shows its faults and verdict lines. */
  readonly kind: 'leader' | 'member' | 'fault' | 'verdict';
  readonly text: string;
}

export interface Insides {
  /** The node that answered (its name). */
  readonly node: string;
  /**
   * Set when the agent was asked about another datacenter (`?dc=`): the servers are that DC's as its
   * leader sees them (autopilot), the members its servers in this agent's WAN pool.
   */
  readonly datacenter?: string;
  readonly server: boolean;
  /** `wall`: atMs are Unix ms; `sim`: simulated ms since the run started. */
  readonly clock: 'wall' | 'sim';
  readonly nowMs: number;
  /** The leader this node believes in (name) and its term; null when it knows none or is no server. */
  readonly leader: string | null;
  readonly term: number | null;
  readonly servers: readonly InsidesServer[];
  readonly members: readonly InsidesMember[];
  /** Network coordinates (Vivaldi) when the source knows them all (simulation); agents serve /v1/coordinate/nodes. */
  readonly coordinates?: readonly { readonly node: string; readonly coord: Coordinate }[];
  /** Recent leader changes and member events, oldest first; at most `insidesEventsMax`. */
  readonly events: readonly InsidesEvent[];
}

/** Events remembered; older ones are dropped (a UI shows the recent past, not an audit log). */
export const insidesEventsMax = 100;

/** The parts of Raft's state read here (core/raft/state.ts RaftState). */
export interface RaftView {
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly log: { readonly lastIndex: number };
  readonly membership: { readonly voters: readonly string[]; readonly learners: readonly string[] };
  readonly progress: ReadonlyMap<string, { readonly match: number; readonly lastAckMs: number }>;
  readonly lastLeaderContactMs: number;
  readonly clockMs: number;
  readonly config: { readonly electionTimeoutMsMin: number };
}

/** The parts of SWIM's state read here (core/swim/state.ts SwimState). */
export interface SwimView {
  readonly selfId: string;
  readonly members: {
    readonly positionCount: number;
    idAt(position: number): string;
    get(
      id: string,
    ): { name: string; status: string; incarnation: number; tags: Readonly<Record<string, string>> } | undefined;
  };
}

/** Members listed at most (a UI table; the simulator's big clusters stay readable). */
export const insidesMembersMax = 1000;

export function collectMembers(swim: SwimView | null): InsidesMember[] {
  if (!swim) return [];
  const out: InsidesMember[] = [];
  const count = Math.min(swim.members.positionCount, insidesMembersMax);
  for (let position = 0; position < count; position++) {
    const id = swim.members.idAt(position);
    const record = swim.members.get(id);
    if (!record) continue;
    out.push({ id, name: record.name, status: record.status, incarnation: record.incarnation, tags: record.tags });
  }
  return out;
}

/** Each server of the configuration, this one exactly, the others as far as this one knows. */
export function collectServers(selfId: string, raft: RaftView, nameOf: (id: string) => string): InsidesServer[] {
  const ids = [...raft.membership.voters, ...raft.membership.learners];
  if (!ids.includes(selfId)) ids.push(selfId);
  const now = raft.clockMs;
  const isLeader = raft.role === 'leader';
  return ids.map((id): InsidesServer => {
    const voter = raft.membership.voters.includes(id);
    if (id === selfId)
      return {
        id,
        name: nameOf(id),
        self: true,
        voter,
        role: raft.role,
        term: raft.term,
        commitIndex: raft.commitIndex,
        appliedIndex: raft.appliedIndex,
        logIndex: raft.log.lastIndex,
        lastContactMs: isLeader
          ? 0
          : Number.isFinite(raft.lastLeaderContactMs)
            ? Math.max(0, now - raft.lastLeaderContactMs)
            : null,
        source: 'self',
      };
    const progress = isLeader ? raft.progress.get(id) : undefined;
    if (progress) {
      // lastAckMs starts at the moment this leader took over, so a silent follower's age is "at least".
      // Only a recent answer proves the follower is at this term (a higher one would have deposed us).
      const silentMs = Math.max(0, now - progress.lastAckMs);
      const recent = silentMs < raft.config.electionTimeoutMsMin;
      return {
        id,
        name: nameOf(id),
        self: false,
        voter,
        role: recent ? 'follower' : null,
        term: recent ? raft.term : null,
        commitIndex: null,
        appliedIndex: null,
        logIndex: progress.match,
        lastContactMs: silentMs,
        source: 'leader',
      };
    }
    return {
      id,
      name: nameOf(id),
      self: false,
      voter,
      role: raft.leader === id ? 'leader' : null,
      term: raft.leader === id ? raft.term : null,
      commitIndex: null,
      appliedIndex: null,
      logIndex: null,
      lastContactMs: null,
      source: 'none',
    };
  });
}

/**
 * Remembers leader changes and member transitions between observations. `observe` is cheap (a few
 * comparisons and one pass over the members) so the agent calls it on every Raft or SWIM log line.
 */
export class InsidesRecorder {
  readonly events: InsidesEvent[] = [];
  private leaderKey = '';
  private readonly memberKeys = new Map<string, string>();

  observe(atMs: number, raft: RaftView | null, swim: SwimView | null, nameOf: (id: string) => string): void {
    if (raft) {
      const key = `${raft.term}/${raft.leader ?? ''}`;
      if (key !== this.leaderKey) {
        const before = this.leaderKey;
        this.leaderKey = key;
        if (raft.leader !== null)
          this.push({ atMs, kind: 'leader', text: `${nameOf(raft.leader)} leads at term ${raft.term}` });
        else if (before !== '') this.push({ atMs, kind: 'leader', text: `no known leader at term ${raft.term}` });
      }
    }
    for (const m of collectMembers(swim)) {
      const key = `${m.status}/${m.incarnation}`;
      const before = this.memberKeys.get(m.id);
      if (before === key) continue;
      this.memberKeys.set(m.id, key);
      if (before === undefined && m.id === swim?.selfId) continue;
      const status = before?.split('/')[0];
      if (status === m.status) continue; // an incarnation bump alone (refutation) is in the table, not the log
      this.push({ atMs, kind: 'member', text: `${m.name} is ${m.status} (incarnation ${m.incarnation})` });
    }
  }

  private push(event: InsidesEvent): void {
    this.events.push(event);
    if (this.events.length > insidesEventsMax) this.events.splice(0, this.events.length - insidesEventsMax);
  }
}

/** A name for a Raft / SWIM id: the member's node name when SWIM knows it, else the id. */
export function namer(swim: SwimView | null): (id: string) => string {
  return (id) => swim?.members.get(id)?.name ?? id;
}
