/**
 * Typed trace events: what a machine tells its observers (the log, the transcript, the TUI, checkers),
 * as a record of the event's kind and fields, in the spirit of memberlist's EventDelegate. The
 * sentence a person reads ("n2 became leader at term 3") is rendered from the record by `traceText`,
 * once, here; consumers that need a fact (who became leader, which member was marked failed) read the
 * fields and never parse the sentence.
 *
 * Each type has a fixed level and a fixed sentence, both in `traceTable`. The sentences are the ones
 * the core wrote as free text before the events were typed, byte for byte: transcripts and golden
 * files did not change. Type names are append-only (replay files and tools may name them).
 *
 * A protocol outside the core's own machines (core/example, a user's machine) may use `note`, the one
 * free-text event; the core's machines never do.
 */
/** A node's name (core/types.ts's NodeId; this file imports nothing, so types.ts can import it). */
type NodeId = string;

export type TraceLevel = 'debug' | 'info' | 'warn' | 'error';

/** A SWIM member status as the trace names it. */
type MemberStatusName = 'alive' | 'suspect' | 'failed' | 'leaving' | 'left';

/** The fields of each event type. `node` is the node whose machine emitted the event. */
export interface TraceFields {
  // ── Raft ──
  'raft.bootstrapped': { readonly node: NodeId; readonly servers: readonly NodeId[] };
  'raft.started': {
    readonly node: NodeId;
    readonly term: number;
    readonly firstIndex: number;
    readonly lastIndex: number;
    readonly commitIndex: number;
  };
  /** A note the storage loader left (a repaired torn tail, a dropped corrupt record). */
  'raft.startNote': { readonly node: NodeId; readonly note: string };
  'raft.electionDeferred': { readonly node: NodeId; readonly lateMs: number };
  'raft.leaderLinkDown': { readonly node: NodeId; readonly leader: NodeId; readonly waitMs: number };
  'raft.preVote': { readonly node: NodeId; readonly term: number };
  'raft.becameCandidate': { readonly node: NodeId; readonly term: number; readonly transfer: boolean };
  'raft.becameLeader': { readonly node: NodeId; readonly term: number };
  'raft.steppedDownNoQuorum': { readonly node: NodeId; readonly term: number; readonly windowMs: number };
  'raft.steppedDownRemoved': { readonly node: NodeId; readonly term: number };
  'raft.checkQuorumDeferred': { readonly node: NodeId; readonly lateMs: number };
  'raft.timeoutNow': { readonly node: NodeId; readonly from: NodeId; readonly term: number };
  'raft.transferStarted': { readonly node: NodeId; readonly to: NodeId; readonly term: number };
  'raft.transferAbandoned': { readonly node: NodeId; readonly to: NodeId };
  'raft.learnerAdded': { readonly node: NodeId; readonly id: NodeId; readonly index: number };
  'raft.promotionAbandoned': { readonly node: NodeId; readonly id: NodeId };
  'raft.promoted': { readonly node: NodeId; readonly id: NodeId; readonly index: number };
  'raft.serverRemoved': { readonly node: NodeId; readonly id: NodeId; readonly index: number };
  'raft.snapshotTaken': { readonly node: NodeId; readonly index: number; readonly chars: number };
  'raft.snapshotSending': { readonly node: NodeId; readonly to: NodeId; readonly index: number };
  /** The leader `node` learned that `follower` installed its snapshot. */
  'raft.snapshotInstalledBy': { readonly node: NodeId; readonly follower: NodeId; readonly index: number };
  'raft.snapshotInstalled': { readonly node: NodeId; readonly from: NodeId; readonly index: number };
  'raft.malformedMessage': { readonly node: NodeId; readonly from: NodeId };
  'raft.termJumpDropped': {
    readonly node: NodeId;
    readonly from: NodeId;
    readonly messageType: string;
    readonly messageTerm: number;
    readonly term: number;
  };
  'raft.malformedLocal': { readonly node: NodeId; readonly fromMachine: string };
  /** The leader recorded members' server ids (core/raft/identity.ts) in the configuration entry at `index`. */
  'raft.idsRecorded': { readonly node: NodeId; readonly index: number; readonly ids: Readonly<Record<NodeId, string>> };
  /** `server` answered under another server id than the one on record: it lost its data; ignored until re-added. */
  'raft.serverIdMismatch': {
    readonly node: NodeId;
    readonly server: NodeId;
    readonly seenId: string;
    readonly recordedId: string;
  };
  /** The leader found `follower`'s log ending below the match it acknowledged, and replicates again from its end. */
  'raft.followerLostEntries': {
    readonly node: NodeId;
    readonly follower: NodeId;
    readonly lastIndex: number;
    readonly match: number;
  };
  /** A server that lost its data refused the agent's bootstrap request: it waits to be added again. */
  'raft.bootstrapRefusedLostData': { readonly node: NodeId };
  // ── SWIM ──
  /** `node` changed its view of `about` (SWIM §4.2); `about` may be `node` itself. */
  'swim.marked': {
    readonly node: NodeId;
    readonly about: NodeId;
    readonly status: MemberStatusName;
    readonly incarnation: number;
    /** For a mark taken from a `dead` message: who declared it (`about` itself for a leave intent). */
    readonly by?: NodeId;
  };
  /** `node` heard of `about` for the first time. */
  'swim.learned': {
    readonly node: NodeId;
    readonly about: NodeId;
    readonly status: MemberStatusName;
    readonly incarnation: number;
  };
  'swim.refuted': { readonly node: NodeId; readonly incarnation: number };
  /** `node`'s datagram probes of `target` failed and its TCP fallback ping was answered: no suspicion. */
  'swim.tcpFallback': { readonly node: NodeId; readonly target: NodeId };
  'swim.reaped': { readonly node: NodeId; readonly about: NodeId; readonly status: MemberStatusName };
  'swim.incarnationJumpDropped': {
    readonly node: NodeId;
    readonly update: string;
    readonly about: NodeId;
    readonly from: NodeId;
    readonly incarnation: number;
    readonly known: number;
  };
  'swim.ltimeJumpDropped': {
    readonly node: NodeId;
    readonly from: NodeId;
    readonly ltime: number;
    readonly clock: number;
  };
  'swim.malformedMessage': { readonly node: NodeId; readonly from: NodeId };
  'swim.malformedLocal': { readonly node: NodeId; readonly fromMachine: string };
  // ── the node runtime ──
  'runtime.noMachine': { readonly node: NodeId; readonly from: NodeId };
  // ── the agent (Consul's own log vocabulary; the driver knows the node) ──
  /** `wan`: a server joining the WAN pool (`join -wan`); absent for the LAN pool. */
  'agent.joining': { readonly addresses: readonly string[]; readonly wan?: boolean };
  'agent.joined': { readonly count: number; readonly error: string | null; readonly wan?: boolean };
  'agent.leaving': Record<never, never>;
  'agent.syncedNode': Record<never, never>;
  'agent.synced': { readonly what: 'service' | 'check'; readonly id: string };
  'agent.deregistered': { readonly what: 'service' | 'check'; readonly id: string };
  'agent.syncFailed': { readonly error: string };
  /** The agent refuted a claim that it failed or left; a full sync follows (antiEntropy.ts). */
  'agent.refutedResync': { readonly claim: 'failed' | 'left' };
  'agent.coordinateFailed': { readonly error: string };
  'agent.droppedMessage': {
    readonly from: NodeId;
    readonly problem: 'malformed' | 'malformedRpc' | 'unknownType';
    /** What the wire check refused (core/agent/rpc.ts checkAgentMessage). */
    readonly detail?: string;
  };
  'agent.userEvent': { readonly name: string; readonly id: string };
  'agent.holding': { readonly op: string; readonly error: string };
  /** The stream connection to `server` closed with RPCs in flight to it: they fail over now. */
  'agent.linkDown': { readonly server: string; readonly rpcs: number };
  'agent.aclDown': {
    readonly datacenter: string;
    readonly policy: 'allow' | 'deny' | 'extend-cache';
    readonly error: string;
  };
  'agent.checkRegisterFailed': { readonly id: string; readonly problem: string };
  'agent.checkPassing': { readonly id: string };
  'agent.checkStatus': { readonly id: string; readonly status: 'warning' | 'critical' };
  'agent.checkTtlMissed': { readonly id: string };
  'agent.nodeMaintenance': { readonly entered: boolean };
  'agent.serviceMaintenance': { readonly service: string; readonly entered: boolean };
  'agent.definitionFailed': { readonly problem: string };
  /** A default-consistency read was answered from the leader's state (the sim's agent harness counts them). */
  'consul.defaultRead': Record<never, never>;
  /**
   * A consistent read was answered from this server's own Raft read (ReadIndex), to a client request
   * here (`requestId`) or to an agent that forwarded it (`from`, its call `id`): the sim's agent harness
   * holds the answer to "a quorum confirmed the leader after the read arrived".
   */
  'consul.consistentRead': {
    readonly requestId: number | null;
    readonly from: string | null;
    readonly id: number | null;
  };
  'consul.bootstrapping': { readonly servers: readonly string[] };
  'consul.bootstrapFailed': { readonly error: string; readonly detail: string | null };
  'consul.bootstrapDisabled': { readonly server: string; readonly reason: string };
  'consul.bootstrapUnconfirmed': { readonly server: string; readonly retryMs: number };
  'consul.newLeader': { readonly leader: string };
  'consul.leadershipAcquired': Record<never, never>;
  'consul.leadershipLost': Record<never, never>;
  /** A server member came (`adding`) or went (`removing`); `lan`: this agent is itself a server. */
  'consul.server': {
    readonly change: 'adding' | 'removing';
    readonly lan: boolean;
    readonly name: string;
    readonly addr: string;
    readonly dc: string;
  };
  /** A server of the WAN pool (any DC) came or went, as this server saw it (core/agent/wan.ts). */
  'consul.wanServer': {
    readonly change: 'adding' | 'removing';
    readonly name: string;
    readonly addr: string;
    readonly dc: string;
  };
  'consul.aclTokenCreated': { readonly name: string };
  'consul.aclTokenFailed': { readonly name: string; readonly error: string };
  'consul.memberReconciled': { readonly member: string; readonly health: 'alive' | 'failed' | 'left' };
  'consul.reconcileFailed': { readonly member: string; readonly error: string };
  'consul.raftServerChange': { readonly member: string; readonly change: 'adding' | 'removing' };
  'consul.raftServerChangeFailed': { readonly member: string; readonly error: string };
  /** A server introduced itself on the server port (core/agent/hello.ts): it may be added to Raft. */
  'consul.serverIntroduced': { readonly server: string };
  /** The leader did not add a gossip-known server: it never introduced itself on the server port. */
  'consul.raftServerUnauthenticated': { readonly member: string };
  /** A server rejoined under a new raft server id (it lost its data): the leader replaces its stale entry. */
  'consul.raftServerReplaced': { readonly member: string; readonly seenId: string; readonly recordedId: string };
  'consul.sessionsExpired': Record<never, never>;
  'consul.sessionExpiryFailed': { readonly error: string };
  /** The leader's tombstone GC reaped every tombstone up to an index (core/agent/tombstones.ts). */
  'consul.tombstonesReaped': { readonly upToIndex: number };
  'consul.tombstoneReapFailed': { readonly upToIndex: number; readonly error: string };
  // ── protocols outside the core's own (examples, users' machines) ──
  note: { readonly text: string };
}

export type TraceType = keyof TraceFields;

/** One trace event: its `type` and that type's fields. */
export type TraceEvent = { [K in TraceType]: { readonly type: K } & TraceFields[K] }[TraceType];

export type TraceEventOf<K extends TraceType> = Extract<TraceEvent, { readonly type: K }>;

type Row<K extends TraceType> = readonly [level: TraceLevel, text: (e: TraceFields[K]) => string];

const raftPreposition: Record<'adding' | 'removing', string> = { adding: 'to', removing: 'from' };

/** Level and sentence of every type. `note`'s level is the emitter's choice (this one is its default). */
const traceTable: { readonly [K in TraceType]: Row<K> } = {
  'raft.bootstrapped': [
    'info',
    (e) => `${e.node} bootstrapped a cluster of ${e.servers.length}: ${e.servers.join(' ')}`,
  ],
  'raft.started': [
    'debug',
    (e) => `${e.node} started at term ${e.term} with log ${e.firstIndex}..${e.lastIndex}, commit ${e.commitIndex}`,
  ],
  'raft.startNote': ['warn', (e) => `${e.node} ${e.note}`],
  'raft.electionDeferred': ['debug', (e) => `${e.node} election timer fired ${e.lateMs}ms late; deferred`],
  'raft.leaderLinkDown': [
    'info',
    (e) =>
      `${e.node} lost its connection to leader ${e.leader}; polling for a new leader in ${e.waitMs}ms unless it returns`,
  ],
  'raft.preVote': ['debug', (e) => `${e.node} started a pre-vote for term ${e.term}`],
  'raft.becameCandidate': [
    'info',
    (e) => `${e.node} became candidate at term ${e.term}${e.transfer ? ' (leadership transfer)' : ''}`,
  ],
  'raft.becameLeader': ['info', (e) => `${e.node} became leader at term ${e.term}`],
  'raft.steppedDownNoQuorum': [
    'info',
    (e) => `${e.node} stepped down at term ${e.term}: no quorum heard within ${e.windowMs}ms`,
  ],
  'raft.steppedDownRemoved': [
    'info',
    (e) => `${e.node} stepped down at term ${e.term}: removed from the configuration`,
  ],
  'raft.checkQuorumDeferred': [
    'debug',
    (e) => `${e.node} heartbeat timer fired ${e.lateMs}ms late; check-quorum deferred`,
  ],
  'raft.timeoutNow': ['debug', (e) => `${e.node} got TimeoutNow from ${e.from} at term ${e.term}`],
  'raft.transferStarted': ['info', (e) => `${e.node} is transferring leadership to ${e.to} at term ${e.term}`],
  'raft.transferAbandoned': ['warn', (e) => `${e.node} gave up transferring leadership to ${e.to}`],
  'raft.learnerAdded': ['info', (e) => `${e.node} added ${e.id} as a learner at index ${e.index}`],
  'raft.promotionAbandoned': ['warn', (e) => `${e.node} gave up promoting ${e.id}: it did not catch up`],
  'raft.promoted': ['info', (e) => `${e.node} promoted ${e.id} to voter at index ${e.index}`],
  'raft.serverRemoved': ['info', (e) => `${e.node} removed ${e.id} at index ${e.index}`],
  'raft.snapshotTaken': ['debug', (e) => `${e.node} took a snapshot at index ${e.index} (${e.chars} chars)`],
  'raft.snapshotSending': ['debug', (e) => `${e.node} is sending a snapshot at index ${e.index} to ${e.to}`],
  'raft.snapshotInstalledBy': [
    'debug',
    (e) => `${e.follower} installed the snapshot at index ${e.index} from ${e.node}`,
  ],
  'raft.snapshotInstalled': ['info', (e) => `${e.node} installed a snapshot at index ${e.index} from ${e.from}`],
  'raft.malformedMessage': ['warn', (e) => `${e.node} dropped a malformed raft message from ${e.from}`],
  'raft.termJumpDropped': [
    'warn',
    (e) =>
      `${e.node} dropped a raft ${e.messageType} from ${e.from}: term ${e.messageTerm} is more than 2^32 past ours (${e.term})`,
  ],
  'raft.malformedLocal': ['warn', (e) => `${e.node} ignored a malformed local call from ${e.fromMachine}`],
  'raft.idsRecorded': [
    'info',
    (e) =>
      `${e.node} recorded server ids at index ${e.index}: ${Object.entries(e.ids)
        .map(([name, id]) => `${name}=${id}`)
        .join(' ')}`,
  ],
  'raft.serverIdMismatch': [
    'warn',
    (e) =>
      `${e.node} ignores ${e.server}: it answers as server id ${e.seenId}, but the configuration has ${e.server} as ` +
      `${e.recordedId} — it lost its data and came back; it counts for nothing until it is removed and added again`,
  ],
  'raft.followerLostEntries': [
    'warn',
    (e) =>
      `${e.node} found ${e.follower}'s log ending at ${e.lastIndex}, below the ${e.match} it acknowledged: ` +
      `${e.follower} lost acknowledged entries (a lost or replaced disk, or a disk that lied about a sync); ` +
      `replicating to it again from ${e.lastIndex + 1}`,
  ],
  'raft.bootstrapRefusedLostData': [
    'warn',
    (e) => `${e.node} does not bootstrap: it lost its Raft data and waits to be added to the cluster again`,
  ],
  'swim.marked': ['info', (e) => `${e.node} marked ${e.about} ${e.status} at incarnation ${e.incarnation}`],
  'swim.learned': ['debug', (e) => `${e.node} learned of ${e.about} (${e.status}) at incarnation ${e.incarnation}`],
  'swim.refuted': ['debug', (e) => `${e.node} refuted a suspicion at incarnation ${e.incarnation}`],
  'swim.tcpFallback': [
    'warn',
    (e) =>
      `memberlist: Was able to connect to ${e.target} over TCP but UDP probes failed, network may be misconfigured`,
  ],
  'swim.reaped': ['info', (e) => `${e.node} reaped ${e.about} (${e.status})`],
  'swim.incarnationJumpDropped': [
    'warn',
    (e) =>
      `${e.node} dropped a ${e.update} about ${e.about} from ${e.from}: incarnation ${e.incarnation} is more than 2^32 past ${e.known}`,
  ],
  'swim.ltimeJumpDropped': [
    'warn',
    (e) => `${e.node} dropped an event time from ${e.from}: ltime ${e.ltime} is more than 2^32 past ${e.clock}`,
  ],
  'swim.malformedMessage': ['warn', (e) => `${e.node} dropped a malformed SWIM message from ${e.from}`],
  'swim.malformedLocal': ['warn', (e) => `${e.node} swim ignored a malformed local call from ${e.fromMachine}`],
  'runtime.noMachine': ['warn', (e) => `${e.node} dropped a message from ${e.from} for no machine`],
  'agent.joining': ['info', (e) => `agent: (${e.wan ? 'WAN' : 'LAN'}) joining: [${e.addresses.join(' ')}]`],
  'agent.joined': ['info', (e) => `agent: (${e.wan ? 'WAN' : 'LAN'}) joined: ${e.count} Err: ${e.error ?? '<nil>'}`],
  'agent.leaving': ['info', () => 'agent: requesting graceful leave'],
  'agent.syncedNode': ['info', () => 'agent: Synced node info'],
  'agent.synced': ['info', (e) => `agent: Synced ${e.what} '${e.id}'`],
  'agent.deregistered': ['info', (e) => `agent: Deregistered ${e.what} '${e.id}'`],
  'agent.syncFailed': ['error', (e) => `agent: failed to sync remote state: ${e.error}`],
  'agent.refutedResync': [
    'info',
    (e) =>
      `agent: refuted a claim that this node ${e.claim}; full sync scheduled (the leader may have deregistered it)`,
  ],
  'agent.coordinateFailed': ['debug', (e) => `agent: coordinate update failed: ${e.error}`],
  'agent.droppedMessage': [
    'warn',
    (e) =>
      e.problem === 'malformed'
        ? `agent: dropped a malformed message from ${e.from}${e.detail === undefined ? '' : `: ${e.detail}`}`
        : e.problem === 'malformedRpc'
          ? `agent: dropped a malformed rpc from ${e.from}`
          : `agent: dropped a message of unknown type from ${e.from}`,
  ],
  'agent.userEvent': ['debug', (e) => `agent: new event: ${e.name} (${e.id})`],
  'agent.holding': ['debug', (e) => `agent: holding a ${e.op} for a leader (${e.error})`],
  'agent.linkDown': [
    'info',
    (e) => `agent: connection to ${e.server} closed with ${e.rpcs} RPCs in flight: failing them over`,
  ],
  'agent.aclDown': [
    'warn',
    (e) =>
      `agent: failed to resolve an ACL token from datacenter ${e.datacenter} (${e.error}): applying acl_down_policy ${e.policy}`,
  ],
  'agent.checkRegisterFailed': ['error', (e) => `agent: failed to register check '${e.id}': ${e.problem}`],
  'agent.checkPassing': ['debug', (e) => `agent: Check '${e.id}' is passing`],
  'agent.checkStatus': ['warn', (e) => `agent: Check '${e.id}' is now ${e.status}`],
  'agent.checkTtlMissed': ['warn', (e) => `agent: Check '${e.id}' missed TTL, is now critical`],
  'agent.nodeMaintenance': ['info', (e) => `agent: Node ${e.entered ? 'entered' : 'left'} maintenance mode`],
  'agent.serviceMaintenance': [
    'info',
    (e) => `agent: Service '${e.service}' ${e.entered ? 'entered' : 'left'} maintenance mode`,
  ],
  'agent.definitionFailed': ['error', (e) => `agent: failed to load definition: ${e.problem}`],
  'consul.defaultRead': ['debug', () => 'consul: default read answered from the leader’s state'],
  'consul.consistentRead': ['debug', () => 'consul: consistent read answered after a ReadIndex round'],
  'consul.bootstrapping': [
    'info',
    (e) => `consul: Found expected number of peers, attempting bootstrap: ${e.servers.join(',')}`,
  ],
  'consul.bootstrapFailed': [
    'error',
    (e) => `consul: failed to bootstrap cluster: ${e.error}${e.detail ? ` (${e.detail})` : ''}`,
  ],
  'consul.bootstrapDisabled': [
    'info',
    (e) => `consul: Existing Raft peers reported by ${e.server} (it ${e.reason}), disabling bootstrap mode`,
  ],
  'consul.bootstrapUnconfirmed': [
    'warn',
    (e) => `consul: Failed to confirm peer status for ${e.server}, not bootstrapping; retrying in ${e.retryMs}ms`,
  ],
  'consul.newLeader': ['info', (e) => `consul: New leader elected: ${e.leader}`],
  'consul.leadershipAcquired': ['info', () => 'consul: cluster leadership acquired'],
  'consul.leadershipLost': ['info', () => 'consul: cluster leadership lost'],
  'consul.server': [
    'info',
    (e) => `consul: ${e.change} ${e.lan ? 'LAN server' : 'server'} ${e.name} (Addr: ${e.addr}) (DC: ${e.dc})`,
  ],
  'consul.wanServer': ['info', (e) => `consul: ${e.change} WAN server ${e.name} (Addr: ${e.addr}) (DC: ${e.dc})`],
  'consul.aclTokenCreated': ['info', (e) => `consul: created ACL token '${e.name}'`],
  'consul.aclTokenFailed': ['warn', (e) => `consul: failed to create ACL token '${e.name}': ${e.error}`],
  'consul.memberReconciled': [
    'info',
    (e) =>
      e.health === 'alive'
        ? `consul: member '${e.member}' joined, marking health alive`
        : e.health === 'failed'
          ? `consul: member '${e.member}' failed, marking health critical`
          : `consul: member '${e.member}' left, deregistering`,
  ],
  'consul.reconcileFailed': ['warn', (e) => `consul: failed to reconcile member '${e.member}': ${e.error}`],
  'consul.raftServerChange': [
    'info',
    (e) => `consul: ${e.change} server ${e.member} ${raftPreposition[e.change]} raft`,
  ],
  'consul.raftServerChangeFailed': ['warn', (e) => `consul: raft membership change for ${e.member} failed: ${e.error}`],
  'consul.serverIntroduced': ['info', (e) => `consul: server ${e.server} introduced itself on the server port`],
  'consul.raftServerUnauthenticated': [
    'warn',
    (e) =>
      `consul: not adding server ${e.member} to raft: it has not introduced itself on the server port ` +
      `(no certificate the CA signed?)`,
  ],
  'consul.raftServerReplaced': [
    'warn',
    (e) =>
      `consul: server ${e.member} rejoined with raft id ${e.seenId}, but the configuration has ${e.recordedId} ` +
      `(it lost its data): removing the stale entry, then adding it back under its new id`,
  ],
  'consul.sessionsExpired': ['debug', () => 'consul: expired TTL sessions'],
  'consul.sessionExpiryFailed': ['warn', (e) => `consul: session expiry failed: ${e.error}`],
  'consul.tombstonesReaped': ['debug', (e) => `consul: reaped tombstones up to index ${e.upToIndex}`],
  'consul.tombstoneReapFailed': [
    'warn',
    (e) => `consul: failed to reap tombstones up to index ${e.upToIndex}: ${e.error}`,
  ],
  note: ['info', (e) => e.text],
};

/** The sentence for an event: the log line and the transcript line. */
export function traceText(event: TraceEvent): string {
  const row = traceTable[event.type] as Row<TraceType>;
  return row[1](event as never);
}

/** The level an event of this type is logged at. */
export function traceLevelOf(type: TraceType): TraceLevel {
  return traceTable[type][0];
}

/** The node named first in an event, when the event names one (Raft and SWIM events do; the agent's do not). */
export function traceNode(event: TraceEvent): NodeId | null {
  return 'node' in event ? event.node : null;
}

/**
 * What kind of story an event tells, for colouring and filtering (the TUI, the report):
 * `election` (roles, terms, leaders), `membership` (members, servers, configuration), `snapshot`,
 * `problem` (something was dropped or failed), `routine` (everything else).
 */
export type TraceTopic = 'election' | 'membership' | 'snapshot' | 'problem' | 'routine';

const topics: Readonly<Partial<Record<TraceType, TraceTopic>>> = {
  'raft.bootstrapped': 'election',
  'raft.preVote': 'election',
  'raft.becameCandidate': 'election',
  'raft.becameLeader': 'election',
  'raft.steppedDownNoQuorum': 'election',
  'raft.steppedDownRemoved': 'election',
  'raft.timeoutNow': 'election',
  'raft.transferStarted': 'election',
  'consul.newLeader': 'election',
  'consul.leadershipAcquired': 'election',
  'consul.leadershipLost': 'election',
  'consul.bootstrapping': 'election',
  'consul.bootstrapDisabled': 'election',
  'raft.learnerAdded': 'membership',
  'raft.promoted': 'membership',
  'raft.serverRemoved': 'membership',
  'swim.marked': 'membership',
  'swim.learned': 'membership',
  'swim.refuted': 'membership',
  'swim.tcpFallback': 'membership',
  'swim.reaped': 'membership',
  'consul.server': 'membership',
  'consul.wanServer': 'membership',
  'consul.memberReconciled': 'membership',
  'consul.raftServerChange': 'membership',
  'consul.raftServerUnauthenticated': 'membership',
  'consul.raftServerReplaced': 'membership',
  'raft.idsRecorded': 'membership',
  'raft.serverIdMismatch': 'membership',
  'agent.joining': 'membership',
  'agent.joined': 'membership',
  'agent.leaving': 'membership',
  'raft.snapshotTaken': 'snapshot',
  'raft.snapshotSending': 'snapshot',
  'raft.snapshotInstalledBy': 'snapshot',
  'raft.snapshotInstalled': 'snapshot',
};

export function traceTopic(event: TraceEvent): TraceTopic {
  const topic = topics[event.type];
  if (topic !== undefined) return topic;
  return traceLevelOf(event.type) === 'warn' || traceLevelOf(event.type) === 'error' ? 'problem' : 'routine';
}

/** The trace effect for an event, at its type's level (`note` may pass another). */
export function traceEffect(event: TraceEvent, level: TraceLevel = traceLevelOf(event.type)): TraceEffect {
  return { kind: 'trace', level, event };
}

/** A trace effect: drivers log `traceText(event)` at `level`; observers read `event`. */
export interface TraceEffect {
  readonly kind: 'trace';
  readonly level: TraceLevel;
  readonly event: TraceEvent;
}
