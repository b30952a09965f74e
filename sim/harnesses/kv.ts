/**
 * Harness for the replicated state store (core/store) on Raft (core/raft): every node runs Raft with
 * the store FSM. Two Jepsen-style workloads run through random nodes under the scenario's faults:
 *
 * Register workload (checked for linearizability per key with sim/checkers/lin, `registerModel`):
 *   `clients` processes, each with one outstanding operation on one of `keys` keys:
 *   - write(v): propose kvSet with a value unique in the run;
 *   - read: a read of kvGet in the configured consistency mode (`reads`);
 *   - cas(from, to): read the key, and if it holds `from` (the value this client last saw there),
 *     propose kvCas at the ModifyIndex read (Jepsen's Consul client does the same). Values are never
 *     reused, so "ModifyIndex unchanged" is exactly "value unchanged".
 *   Proposals carry a Raft client session (clientId, seq; thesis §6.3), so retrying after a timeout,
 *   a step-down or a redirect applies the command at most once; a client follows `notLeader`
 *   redirects and retries until `opTimeoutMs`. A proposal that may have reached a log and was never
 *   confirmed ends `unknown`; one refused every time ends `fail`. A read that was never answered ends
 *   `fail` (it changed nothing).
 *
 * Lock workload (sessions and locks under failover): `lockClients` processes, each on a home node,
 * create a session (TTL `sessionTtlMs`, lock-delay `lockDelayMs`, no health checks), acquire the key
 * `lock` with kvLock, hold it, then release it, destroy the session, or abandon it to TTL expiry. A
 * "leader duty" process registers every node in the catalog and proposes `sessionsExpire` every
 * `expireEveryMs` (what the agent on the leader does from its timer). Each node's FSM is wrapped by a
 * checker that sees every apply: the lock never passes from one session to another without being
 * freed (at most one holder), LockIndex rises by one per new acquisition, and no session acquires a
 * key before the lock-delay started by the invalidation of its previous holder has run out (as the
 * FSM sees it: in the leader-stamped `nowMs` of the commands).
 *
 * Blocking-query workload: `watchers` hold `?index&wait` queries parked in each node's registry
 * (core/store/watch.ts), released after that node's store moves, moved to another node when theirs
 * dies; no wake-up may be missed or come early (see startWatchers).
 *
 * A "leader duty" process also reports crashed nodes failed and restarted ones alive (SWIM's job in
 * the agent), so sessions tied to serfHealth die with their node.
 *
 * Times stamped into commands (`nowMs`) are the simulator's global time: the harness plays the agent
 * on the leader, and global time is what a leader with a perfect clock would stamp.
 *
 * `reads`: `consistent` (Raft ReadIndex, the default), `default-unsafe` (the deliberately broken
 * variant: a node answers from its local state whenever it believes it is leader, with no ReadIndex
 * round — a deposed leader that has not noticed yet serves stale data), or `stale` (any node answers).
 */
import { catalogCheckId, catalogNodes, catalogService, catalogStatuses } from './agent-catalog.js';
import { makeRaftConfig, raftProfiles, type RaftConfig } from '../../core/raft/config.js';
import { raftMachine, type RaftState } from '../../core/raft/raft.js';
import type { Fsm, RaftRequest } from '../../core/raft/api.js';
import type { Prng } from '../../core/prng.js';
import { createStoreFsm, type StoreFsm } from '../../core/store/store.js';
import {
  type CommandResult,
  type KvEntry,
  type StoreCommand,
  type StoreQuery,
  type TxnKvOp,
  type TxnOutcome,
  sessionLockDelayMsDefault,
} from '../../core/store/types.js';
import { sessionLockDelayMsMax } from '../../core/store/session.js';
import { changeIndex } from '../../core/store/queries.js';
import {
  cancelReader,
  createBlockingRegistry,
  expireReaders,
  mustBlock,
  parkReader,
  releaseReady,
  type BlockingRegistry,
} from '../../core/store/watch.js';
import type { Effect, NodeId } from '../../core/types.js';
import {
  checkHistory,
  groupSlots,
  groupTreeText,
  kvGroupModel,
  parseHistoryJsonLines,
  registerModel,
  UNKNOWN,
  type GroupTxnOp,
  type GroupTxnOutput,
  type LinOp,
  type RegisterInput,
} from '../checkers/lin/index.js';
import { RaftClusterChecker } from '../checkers/raft.js';
import { raftStall } from './why-not-live.js';
import { SessionTtlChecker, sessionEndProblems, sessionsOf } from '../checkers/store.js';
import { runState, type Harness, type SimApi } from '../harness.js';
import type { Operation } from '../history.js';
import type { Scenario } from '../scenario.js';
import { checkChoiceParam, checkConfigBuilds, checkIntegerParams } from '../params.js';
import {
  coverRaftEffect,
  coverRaftStart,
  coverRaftStep,
  knobValues,
  raftTransitionsFor,
  type RoleMarks,
} from './raft-coverage.js';
import { drawRaftKnobs, raftGuideGroups, raftGuideSkips, raftKnobFields, raftKnobParams } from './raft-knobs.js';
import { storeTransitionOf, storeTransitions } from './store-coverage.js';
import { startTransferWorkload } from './transfers.js';
import { sessionChecksFor, sessionsOnCriticalChecks, startLockServiceHealth } from './kv-session-checks.js';

const params = {
  ...raftKnobParams,
  reads: 'read mode: consistent (ReadIndex) | default-unsafe (BROKEN: believed leader answers locally) | stale',
  clients: 'concurrent register clients',
  keys: 'number of keys the register clients touch',
  opEveryMs: 'mean gap between one client’s operations (ms)',
  readPercent: 'share of register operations that are reads (0..100)',
  casPercent: 'share of register operations that are CAS (0..100)',
  deletePercent: 'share of register operations that are deletes (0..100)',
  deleteCasPercent: 'share of register operations that are delete-CAS (0..100)',
  txnClients: 'concurrent clients of the key groups (multi-key txns of 2–8 ops, delete-tree, recursive reads)',
  groups: 'the key groups, comma-separated names (`1,12,2`: prefixes t/1/, t/12/, t/2/)',
  keysReadPercent:
    'share (%) of the key-group clients’ recursive reads made as a key listing with a separator instead (`GET /v1/kv/t/1/?keys&separator=/`: `consul kv get -keys`, the UI’s folder view); default 0, drawn only when set',
  groupFolders:
    'with 1, a key group’s third slot is the key `t/<group>/d/c` instead of `t/<group>/c`: a folder under the prefix, so a key listing with a separator rolls it up (`d/`, Consul KVSKeys) and recursive reads and txns reach a nested key; default 0',
  txnGetTreePercent:
    'share (%) of the key-group txns that end with a `get-tree` of the group (Consul’s txn verb: every entry under the prefix, values included), judged by the kv-group model; default 0, drawn only when set',
  requestTimeoutMs: 'client timeout per attempt (ms)',
  opTimeoutMs: 'give up on an operation after this long (ms)',
  lockClients: 'concurrent lock clients (sessions + acquire/release)',
  lockDelayMs: 'lock-delay of the lock clients’ sessions (ms)',
  lockDelayZeroPercent:
    'share (%) of lock sessions created with an explicit lock-delay of 0 (Consul: no delay) instead of lockDelayMs; default 0, drawn only when set',
  sessionTtlMs: 'TTL of the lock clients’ sessions (ms, 10000..86400000)',
  holdMsMax: 'longest a lock client holds the lock (ms)',
  renewEveryMs: 'period of a lock client’s session renewals while it keeps the session (ms)',
  abandonPercent: 'share of lock releases that abandon the session to TTL expiry instead (0..100, default 10)',
  lockPlainWritePercent:
    'share (%) of a lock holder’s value updates made with a plain PUT (no ?acquire: `consul kv put lock …`, an operator or a script writing the key) instead of a re-acquire; Consul keeps the holder (kvsSetTxn keeps Session). Default 0, drawn only when set',
  expireEveryMs: 'period of the leader-duty sessionsExpire proposal (ms)',
  transferEveryMs:
    'mean gap between an operator’s leadership transfers to a random server (ms; 0 = none, the default): `consul operator raft transfer-leader`',
  sessionChecks:
    'serf (sessions die with their node’s serfHealth, Consul’s default) | none | service (tied to a service check that an agent reports now passing, now critical: kv-session-checks.ts)',
  serviceHealthEveryMs:
    'with sessionChecks service: mean gap between the service check’s status reports (default 1500)',
  serviceWarnPercent:
    'with sessionChecks service: share (%) of the passing reports that warn instead (a warning check does not invalidate its sessions; default 0, drawn only when set)',
  plant: 'TEST ONLY: forget-lock-delay (a planted store bug the lock checker must catch) | none',
  groupReads:
    'TEST ONLY: read mode of the key-group clients’ recursive reads: consistent (the default) | default-unsafe (BROKEN, as reads=default-unsafe: the key-group check must catch it)',
  checkTimeoutMs: 'budget of the linearizability check at the end (ms); over it the verdict is unknown',
  watchers: 'blocking-query watchers (each on key r/<i mod keys>, parked in a node’s registry)',
  catalogClients:
    'catalog writers (default 0, drawn only when set): each registers external nodes e1..e3 with service `ext` and a check in a drawn status, or deregisters one; with them, every third watcher watches health/service/ext instead of a key',
  watchWaitMs: 'the watchers’ ?wait (ms)',
  watchIndex:
    'what a parked watcher waits on: answer (the answer’s X-Consul-Index, the default) | change (the store’s change index, as the agent’s blocking reads do: a missing key’s or an empty prefix’s own last change, core/store/queries.ts changeIndex)',
} as const;

type Param = keyof typeof params;

function num(scenario: Scenario, key: Param, fallback: number): number {
  const raw = scenario.params[key];
  return raw === undefined ? fallback : Number(raw);
}

type ReadMode = 'consistent' | 'default-unsafe' | 'stale';

function readModeOf(scenario: Scenario): ReadMode {
  return (scenario.params.reads ?? 'consistent') as ReadMode;
}

export const lockKey = 'lock';

/** Store transitions an FSM keeps between two drains (a step applies at most applyBatchMax commands). */
const storeTransitionsKeptMax = 4096;

// ─────────────────────────────────────── the checked FSM ───────────────────────────────────────

/**
 * The store FSM of one node, wrapped to watch the lock key across every apply. Problems are kept on
 * the object; the harness drains them after each step (checkStep) and at the end.
 */
export class CheckedStoreFsm implements Fsm {
  readonly store: StoreFsm = createStoreFsm();
  readonly problems: string[] = [];
  /** Set when the holder of `lockKey` was invalidated: the leader time and lock-delay then (stored, and as asked). */
  private lastInvalidation: { atMs: number; delayMs: number; askedDelayMs: number; session: string } | null = null;
  /** False from a snapshot restore until the lock key is next seen taken or freed: the delay then is not ours to know. */
  private lockHistoryKnown = true;
  /**
   * What each session's create command asked for, with Consul's defaults filled in (Behavior release,
   * LockDelay 15 s, at most 60 s): the store's session record must behave as asked (sessions seen created here).
   */
  private readonly asked = new Map<string, { behavior: 'release' | 'delete'; lockDelayMs: number }>();
  /** Per-step rule: a TTL session is never invalidated before TTL × multiplier after its last renewal. */
  private readonly ttl = new SessionTtlChecker();
  acquisitions = 0;
  handoversAfterInvalidation = 0;
  /** Store transitions applied since the harness last drained them (`sim explore --coverage`). */
  readonly transitions: string[] = [];

  /** `forgetLockDelay`: TEST ONLY, a planted bug (the store forgets every lock-delay) the checker must catch. */
  constructor(
    readonly nodeId: NodeId,
    private readonly forgetLockDelay = false,
  ) {}

  apply(command: unknown, index: number): unknown {
    const before = this.store.state.kv.get(lockKey);
    const holderSession = before && before.Session !== '' ? this.store.state.sessions.get(before.Session) : undefined;
    const expiring = this.ttl.before(command as StoreCommand, this.store);
    const sessions = sessionsOf(this.store);
    const result = this.store.apply(command, index);
    const transition = storeTransitionOf(command as StoreCommand, result);
    if (transition !== null && this.transitions.length < storeTransitionsKeptMax) this.transitions.push(transition);
    if (this.forgetLockDelay) this.store.state.lockDelayUntilMs.clear();
    for (const problem of this.ttl.after(command as StoreCommand, index, this.store, expiring))
      this.problems.push(`${this.nodeId}: ${problem}`);
    for (const problem of sessionEndProblems(sessions, command as StoreCommand, index, this.store))
      this.problems.push(`${this.nodeId}: ${problem}`);
    const after = this.store.state.kv.get(lockKey);
    this.noteSessionAsked(command as StoreCommand, result as CommandResult);
    this.checkLockRefused(command as StoreCommand, index, before, result as CommandResult);
    this.checkLock(command as StoreCommand, index, before, after, holderSession?.LockDelayMs ?? 0);
    const broken = this.store.invariants();
    if (broken.length > 0)
      this.problems.push(`${this.nodeId} store invariants after index ${index}: ${broken.join('; ')}`);
    for (const problem of sessionsOnCriticalChecks(this.store.state))
      this.problems.push(`${this.nodeId}: after index ${index}, ${problem}`);
    return result;
  }

  private checkLock(
    command: StoreCommand,
    index: number,
    before: KvEntry | undefined,
    after: KvEntry | undefined,
    holderDelayMs: number,
  ): void {
    const was = before?.Session ?? '';
    const now = after?.Session ?? '';
    // Consul's KV contract: ModifyIndex is the index of the last write to the key — a lock taken,
    // re-taken, released by its holder or by its session's end included (lock monitors block on it).
    if (after !== undefined && after !== before && !sameEntry(before, after) && after.ModifyIndex !== index)
      this.problems.push(
        `${this.nodeId}: ${command.type} at index ${index} changed the lock key (session '${was}' → '${now}') but left its ModifyIndex at ${after.ModifyIndex}`,
      );
    if (was === now) {
      // Re-acquired by its holder (a value update under the lock, or a retry after an unknown outcome):
      // Consul keeps LockIndex — it counts holders, not acquire calls.
      if (was !== '' && after!.LockIndex !== before!.LockIndex)
        this.problems.push(
          `${this.nodeId}: session ${was} re-acquired the lock it held at index ${index} and LockIndex moved from ${before!.LockIndex} to ${after!.LockIndex}`,
        );
      return;
    }
    const nowMs = (command as { nowMs?: number }).nowMs ?? NaN;
    // Consul's kvsSetTxn and kvsSetCASTxn: a write without ?acquire or ?release keeps an existing entry's
    // Session (and LockIndex) — a plain PUT of a held lock's key neither frees it nor takes it.
    if (command.type === 'kvSet' || command.type === 'kvCas') {
      this.problems.push(
        `${this.nodeId}: a plain ${command.type} at index ${index} changed the lock key's session from '${was}' to '${now}' (Consul keeps the holder on a write without ?acquire)`,
      );
      return;
    }
    if (was !== '' && now !== '') {
      this.problems.push(
        `${this.nodeId}: at index ${index} the lock passed from session ${was} to ${now} without being freed`,
      );
      return;
    }
    // Consul's release (`?release=<session>`, kvsUnlockTxn): only the session that holds the lock frees
    // it; another session's release changes nothing and answers false.
    if (was !== '' && command.type === 'kvUnlock' && String(command.session ?? '') !== was) {
      this.problems.push(
        `${this.nodeId}: session ${String(command.session ?? '')} released the lock held by session ${was} at index ${index}`,
      );
      return;
    }
    if (was !== '') {
      // Freed: by an explicit release (no lock-delay) or by the holder's invalidation (lock-delay).
      const asked = this.asked.get(was);
      this.lastInvalidation =
        command.type === 'kvUnlock'
          ? null
          : { atMs: nowMs, delayMs: holderDelayMs, askedDelayMs: asked?.lockDelayMs ?? holderDelayMs, session: was };
      this.lockHistoryKnown = true;
      // Consul's session Behavior: an invalidated session releases its keys (the default), or deletes them.
      if (
        command.type !== 'kvUnlock' &&
        asked &&
        !this.store.state.sessions.has(was) &&
        (after === undefined) !== (asked.behavior === 'delete')
      )
        this.problems.push(
          `${this.nodeId}: session ${was} (Behavior ${asked.behavior} as created) was invalidated at index ${index} and its lock key was ${after === undefined ? 'deleted' : 'kept'}`,
        );
      return;
    }
    this.lockHistoryKnown = true;
    this.acquisitions++;
    if (after!.LockIndex !== (before?.LockIndex ?? 0) + 1)
      this.problems.push(
        `${this.nodeId}: acquisition at index ${index} moved LockIndex from ${before?.LockIndex ?? 0} to ${after!.LockIndex}`,
      );
    const last = this.lastInvalidation;
    if (last) {
      this.handoversAfterInvalidation++;
      // A lock-delay of 0 is none (the store records nothing): stamps are not monotonic in log order.
      if (last.delayMs > 0 && !(nowMs >= last.atMs + last.delayMs)) {
        this.problems.push(
          `${this.nodeId}: session ${now} acquired the lock at ${nowMs} ms (index ${index}), inside the ${last.delayMs} ms lock-delay started at ${last.atMs} ms when ${last.session} was invalidated`,
        );
      }
    }
    this.lastInvalidation = null;
  }

  private noteSessionAsked(command: StoreCommand, result: CommandResult): void {
    if (command.type !== 'sessionCreate' || !result.ok) return;
    const spec = command.session;
    this.asked.set(spec.id, {
      behavior: spec.behavior ?? 'release',
      lockDelayMs: Math.min(spec.lockDelayMs ?? sessionLockDelayMsDefault, sessionLockDelayMsMax),
    });
  }

  /**
   * Consul's lock contract the other way round: a valid session's acquire of a free key outside the
   * lock-delay its previous holder's session asked for succeeds (a refusal there is a lock that
   * cannot be taken).
   */
  private checkLockRefused(
    command: StoreCommand,
    index: number,
    before: KvEntry | undefined,
    result: CommandResult,
  ): void {
    if (command.type !== 'kvLock' || command.entry.key !== lockKey || !result.ok || result.value !== false) return;
    if (!this.lockHistoryKnown || (before?.Session ?? '') !== '') return;
    const session = String(command.session ?? '');
    if (!this.store.state.sessions.has(session)) return;
    const last = this.lastInvalidation;
    if (last && last.askedDelayMs > 0 && !(command.nowMs >= last.atMs + last.askedDelayMs)) return;
    this.problems.push(
      `${this.nodeId}: session ${session} was refused the free lock at ${command.nowMs} ms (index ${index}), outside any lock-delay${last ? ` (${last.session}'s ${last.askedDelayMs} ms from ${last.atMs} ms)` : ''}`,
    );
  }

  query(query: unknown): unknown {
    return this.store.query(query);
  }

  snapshot(): unknown {
    return this.store.snapshot();
  }

  restore(snapshot: unknown): void {
    this.store.restore(snapshot);
    this.lastInvalidation = null; // the history before the snapshot is not ours to check
    this.lockHistoryKnown = false;
    this.ttl.reset();
  }
}

export function kvRaftConfig(scenario: Scenario, nodeId: NodeId): RaftConfig {
  return makeRaftConfig('sim', {
    createFsm: () => new CheckedStoreFsm(nodeId, scenario.params.plant === 'forget-lock-delay'),
    servers: [...scenario.nodes],
    ...raftKnobFields(scenario),
  });
}

function raftOf(sim: SimApi, id: NodeId): RaftState | null {
  const runtime = sim.runtime(id);
  return runtime ? runtime.stateOf<RaftState>('raft') : null;
}

/** The node that believes it leads at the highest term (and is not paused), if any. */
function currentLeader(sim: SimApi): NodeId | null {
  let best: NodeId | null = null;
  let bestTerm = -1;
  for (const id of sim.nodeIds) {
    const s = raftOf(sim, id);
    if (s && s.role === 'leader' && s.term > bestTerm && !sim.isPaused(id)) ((best = id), (bestTerm = s.term));
  }
  return best;
}

/** The home node of the session holding the lock, as the current leader's store sees it. */
function lockHolderNode(sim: SimApi): NodeId | null {
  const leader = currentLeader(sim);
  const store = leader ? fsmOf(sim, leader)?.store : undefined;
  const session = store?.state.kv.get(lockKey)?.Session;
  return session ? (store!.state.sessions.get(session)?.Node ?? null) : null;
}

function fsmOf(sim: SimApi, id: NodeId): CheckedStoreFsm | null {
  return (raftOf(sim, id)?.fsm as CheckedStoreFsm | undefined) ?? null;
}

// ───────────────────────────────────────── the clients ─────────────────────────────────────────

interface RaftReply {
  ok: boolean;
  error?: string;
  leader?: string | null;
  index?: number;
  result?: unknown;
  lastContactMs?: number;
}

/** How a call ended: answered, refused every time before reaching a log, or possibly applied. */
type CallOutcome =
  { kind: 'ok'; reply: RaftReply } | { kind: 'fail'; reply: RaftReply | undefined } | { kind: 'unknown' };

/** One simulation's bookkeeping (`start` makes it; one harness object serves many simulations). */
class KvRun {
  readonly checker = new RaftClusterChecker();
  livenessFromMs: number | null = null;
  endChecked = false;
  readonly stats = {
    lockAcquired: 0,
    lockReleased: 0,
    sessionsDestroyed: 0,
    sessionsAbandoned: 0,
    linMs: 0,
    linVerdict: 'not checked',
    watchWakeups: 0,
    /** Of those, wake-ups of watchers on health/service (the catalog writers' service). */
    healthWakeups: 0,
    watchTimeouts: 0,
    watchMoves: 0,
  };
  /**
   * Each node's blocking-query registry (the agent's, played by the harness), tied to the node's
   * FSM instance: a crash loses it with the process (its readers' clients time out and go elsewhere).
   * `seenIndex` is the store index the registry was last released at.
   */
  readonly registries = new Map<
    NodeId,
    { fsm: CheckedStoreFsm; registry: BlockingRegistry<StoreQuery>; seenIndex: number }
  >();
  /** Parked watchers by request id: where, and how to answer them. */
  readonly parked = new Map<
    number,
    {
      node: NodeId;
      scope: StoreQuery;
      /**
       * The answer (as JSON) the watcher holds for its minIndex (null before it has one): a node whose
       * index for the scope is that minIndex must give the same answer — one that changed without its
       * index passing minIndex missed a wake-up. Not the parked node's answer when it parked: a lagging
       * node parks a query whose minIndex it has not reached, and its answer then changes legitimately
       * up to that index (kv/blocking-failover seed 476: parked on n3 behind index 60, timed out at 60).
       */
      knownAnswer: string | null;
      /**
       * The FSM (one node's process) that gave knownAnswer at minIndex, when the watcher read it there: on
       * the same FSM a scope's change index never falls, so an answer that changed there while the index
       * stayed at or below minIndex missed a wake-up, whatever the index (`watchIndex change`).
       */
      knownFsm: CheckedStoreFsm | null;
      /** Called with the answer's index and its text (as `answerText`). */
      answer: (index: number, text: string, woken: boolean) => void;
    }
  >();
  nextWatchId = 1;
  /** Values are unique in a run (register keys and key groups alike). */
  nextValue = 1;
  /** Each node's last role, for the coverage of role transitions. */
  readonly roles: RoleMarks = new Map();
}

function runStateOf(sim: SimApi): KvRun {
  return runState(sim, KvRun);
}

/**
 * One client's calls to the cluster: picks a node, follows redirects, retries refusals and lost
 * replies until the deadline. Proposals carry the client's Raft session (thesis §6.3) so that
 * retries are applied at most once; for them a lost reply or a step-down makes the outcome unknown
 * unless a later attempt is answered.
 */
class Client {
  private seq = 0;
  /** The node whose answer this client got last ('-' when none since the caller reset it). */
  servedBy: NodeId | '-' = '-';

  constructor(
    private readonly sim: SimApi,
    private readonly prng: Prng,
    readonly clientId: string,
    private readonly requestTimeoutMs: number,
    private readonly readMode: ReadMode,
  ) {}

  propose(command: StoreCommand, deadlineMs: number, done: (outcome: CallOutcome) => void): void {
    this.seq += 1;
    // The Raft checker's exactly-once rule knows a command by its content, and two clients may send
    // the same delete; each proposal carries its client session as `nonce` (the store ignores it).
    const tagged = { ...command, nonce: `${this.clientId}.${this.seq}` } as unknown as StoreCommand;
    const body: RaftRequest = {
      type: 'propose',
      command: tagged,
      session: { clientId: this.clientId, seq: this.seq },
    };
    this.attempt(body, this.pickNode(), deadlineMs, false, done);
  }

  read(query: unknown, deadlineMs: number, done: (outcome: CallOutcome) => void): void {
    const body: RaftRequest = this.readMode === 'consistent' ? { type: 'read', query } : { type: 'readStale', query };
    this.attempt(body, this.pickNode(), deadlineMs, false, done);
  }

  /**
   * Every operation starts at a random server (Jepsen's clients spread over nodes; a Consul client
   * talks to whichever agent it has), and follows redirects from there. A sticky "last good node"
   * would hide a deposed leader from every client that once found the new one.
   */
  private pickNode(): NodeId {
    return this.prng.pick(this.sim.nodeIds);
  }

  private attempt(
    body: RaftRequest,
    node: NodeId,
    deadlineMs: number,
    ambiguous: boolean,
    done: (outcome: CallOutcome) => void,
  ): void {
    const sim = this.sim;
    const timeoutMs = Math.max(1, Math.min(this.requestTimeoutMs, deadlineMs - sim.nowMs));
    sim.request(node, { machine: 'raft', body }, timeoutMs, (response) => {
      const r = response as RaftReply | undefined;
      const stale = body.type === 'readStale';
      // Broken variant `default-unsafe`: only a node that believes it leads (last contact 0) answers.
      const refusedStale = stale && r?.ok === true && this.readMode === 'default-unsafe' && r.lastContactMs !== 0;
      if (r?.ok && !refusedStale) {
        this.servedBy = node;
        if (body.type === 'read' || body.type === 'readStale') checkQueryIndex(sim, node, body.query, r);
        return done({ kind: 'ok', reply: r });
      }
      const mayHaveApplied =
        body.type === 'propose' && (r === undefined || r.error === 'stepDown' || r.error === 'timeout');
      const nowAmbiguous = ambiguous || mayHaveApplied;
      if (r && !r.ok && r.error === 'badRequest') {
        // Exactly-once answers (thesis §6.3): the harness's proposals are well formed, so a refusal can
        // only say a later seq of this client superseded it, which is false while it is the latest sent.
        if (body.type === 'propose' && body.session?.seq === this.seq)
          sim.violation(
            `session: ${node} refused ${this.clientId} seq ${this.seq}, its latest (${(r as { detail?: string }).detail ?? 'badRequest'})`,
          );
        return done(nowAmbiguous ? { kind: 'unknown' } : { kind: 'fail', reply: r });
      }
      let to = this.prng.pick(sim.nodeIds);
      let delayMs = 5 + this.prng.below(40);
      if (r && !r.ok && r.error === 'notLeader' && r.leader) ((to = r.leader), (delayMs = 0));
      if (sim.nowMs + delayMs >= deadlineMs || sim.phase === 'done')
        return done(nowAmbiguous ? { kind: 'unknown' } : { kind: 'fail', reply: r });
      sim.after(delayMs, () => this.attempt(body, to, deadlineMs, nowAmbiguous, done));
    });
  }
}

/**
 * Per-step rule: every query answer carries an index ≥ 1 (X-Consul-Index; Consul never answers 0, and
 * a blocking client that sent ?index=0 would spin).
 */
function checkQueryIndex(sim: SimApi, node: NodeId, query: unknown, reply: RaftReply): void {
  const index = (reply.result as { index?: unknown } | undefined)?.index;
  if (typeof index !== 'number' || !(index >= 1))
    sim.violation(`query index: ${node} answered ${JSON.stringify(query)} with index ${String(index)} (must be ≥ 1)`);
}

const decoder = new TextDecoder();
/**
 * Values are sent as Node Buffers: the simulator hands a client request to the node without the wire
 * codec, while followers receive the entry msgpackr-decoded, as a Buffer; the Raft checker compares
 * log entries by their JSON text, in which a plain Uint8Array and a Buffer differ.
 */
const encoder = { encode: (text: string): Uint8Array => Buffer.from(text, 'utf8') };

function entryOf(reply: RaftReply): KvEntry | null {
  return ((reply.result as { value?: KvEntry | null } | undefined)?.value ?? null) as KvEntry | null;
}

function textOf(entry: KvEntry | null): string | null {
  return entry === null ? null : entry.Value === null ? '' : decoder.decode(entry.Value);
}

function commandResult(reply: RaftReply): CommandResult {
  return reply.result as CommandResult;
}

function startRegisterWorkload(sim: SimApi, scenario: Scenario): void {
  const prng = sim.random('workload');
  const clients = num(scenario, 'clients', 5);
  const keyCount = num(scenario, 'keys', 3);
  const everyMs = num(scenario, 'opEveryMs', 40);
  const readPercent = num(scenario, 'readPercent', 40);
  const casPercent = num(scenario, 'casPercent', 30);
  const deletePercent = num(scenario, 'deletePercent', 8);
  const deleteCasPercent = num(scenario, 'deleteCasPercent', 7);
  const requestTimeoutMs = num(scenario, 'requestTimeoutMs', 300);
  const opTimeoutMs = num(scenario, 'opTimeoutMs', 1500);
  const keys = Array.from({ length: keyCount }, (_, i) => `r/${i}`);
  const run = runStateOf(sim);
  for (let process = 0; process < clients; process++) {
    const client = new Client(sim, prng, `kv${process}`, requestTimeoutMs, readModeOf(scenario));
    const lastSeen = new Map<string, string | null>();
    closedLoop(sim, prng, everyMs, (finishOp, again) => {
      // The history names the node that answered last (the one that served a read, or took a write).
      client.servedBy = '-';
      const finish: Finish = (op, outcome, output) => finishOp(op, outcome, output, client.servedBy);
      const key = prng.pick(keys);
      const roll = prng.below(100);
      const deadlineMs = sim.nowMs + opTimeoutMs;
      if (roll < readPercent) {
        const op = sim.history.invoke(process, 'read', null, '-', sim.nowMs, key);
        client.read({ type: 'kvGet', key }, deadlineMs, (out) => {
          if (out.kind !== 'ok') return finish(op, 'fail', null);
          const value = textOf(entryOf(out.reply));
          lastSeen.set(key, value);
          finish(op, 'ok', value);
        });
      } else if (roll < readPercent + casPercent) {
        const from = lastSeen.get(key) ?? null;
        const to = `v${run.nextValue++}`;
        const op = sim.history.invoke(process, 'cas', { from, to }, '-', sim.nowMs, key);
        // A CAS recorded as `fail` tells the checker it observed another value. One that never ran
        // (its read or its proposal was refused every time) observed nothing: it is recorded
        // `unknown`, which claims nothing (it did not happen, which `unknown` allows).
        client.read({ type: 'kvGet', key }, deadlineMs, (out) => {
          if (out.kind !== 'ok') return finish(op, 'unknown', null);
          const entry = entryOf(out.reply);
          lastSeen.set(key, textOf(entry));
          if (textOf(entry) !== from) return finish(op, 'fail', false);
          const cas = entry === null ? 0 : entry.ModifyIndex;
          client.propose({ type: 'kvCas', entry: { key, value: encoder.encode(to) }, cas }, deadlineMs, (applied) => {
            if (applied.kind !== 'ok') return finish(op, 'unknown', null);
            const result = commandResult(applied.reply);
            const swapped = result.ok && result.value === true;
            if (swapped) lastSeen.set(key, to);
            finish(op, swapped ? 'ok' : 'fail', swapped);
          });
        });
      } else if (roll < readPercent + casPercent + deletePercent) {
        const op = sim.history.invoke(process, 'delete', null, '-', sim.nowMs, key);
        client.propose({ type: 'kvDelete', key }, deadlineMs, (applied) => {
          if (applied.kind !== 'ok') return finish(op, applied.kind, null);
          lastSeen.set(key, null);
          finish(op, 'ok', null);
        });
      } else if (roll < readPercent + casPercent + deletePercent + deleteCasPercent) {
        // Delete-CAS (`DELETE /v1/kv/k?cas=N`): read the entry (not recorded), then delete at its
        // ModifyIndex; by value, "delete if it still holds what I read" (index 0: only if absent).
        client.read({ type: 'kvGet', key }, deadlineMs, (out) => {
          if (out.kind !== 'ok') return again(); // nothing was proposed
          const entry = entryOf(out.reply);
          const from = textOf(entry);
          const op = sim.history.invoke(process, 'delete-cas', { from }, '-', sim.nowMs, key);
          const cas = entry === null ? 0 : entry.ModifyIndex;
          client.propose({ type: 'kvDeleteCas', key, cas }, deadlineMs, (applied) => {
            if (applied.kind !== 'ok') return finish(op, 'unknown', null);
            const result = commandResult(applied.reply);
            const deleted = result.ok && result.value === true;
            if (deleted) lastSeen.set(key, null);
            finish(op, deleted ? 'ok' : 'fail', deleted);
          });
        });
      } else {
        const value = `v${run.nextValue++}`;
        const op = sim.history.invoke(process, 'write', { value }, '-', sim.nowMs, key);
        client.propose({ type: 'kvSet', entry: { key, value: encoder.encode(value) } }, deadlineMs, (applied) => {
          if (applied.kind === 'unknown') return finish(op, 'unknown', null);
          if (applied.kind === 'fail') return finish(op, 'fail', null);
          lastSeen.set(key, value);
          finish(op, 'ok', null);
        });
      }
    });
  }
}

// ───────────────────────────────────────── key groups (txn) ─────────────────────────────────────────

export function groupPrefixes(scenario: Scenario): string[] {
  return (scenario.params.groups ?? '1,12,2').split(',').map((g) => `t/${g}/`);
}

/**
 * The key-group workload: `txnClients` processes run, on one group at a time, a multi-key txn of 2–8
 * mixed ops (set, cas, delete, delete-cas, check-index, check-not-exists, get) built from a recursive
 * read of the group just before, about a third of them made to fail (a cas or delete-cas or
 * check-index on a value the group never held, a get or check-not-exists that does not hold) so that
 * the whole txn must roll back; a recursive read; or a delete-tree of the group's prefix. Checked per
 * group by the `kv-group` model (sim/checkers/lin/models.ts). The default group names (`1`, `12`, `2`)
 * put `t/1` before `t/12/` on purpose: a delete-tree that misses its prefix's bound shows.
 */
/**
 * Where a key group's slots live under its prefix. Flat by default (`t/1/a`, `t/1/b`, `t/1/c`); with
 * `set groupFolders 1` the third slot is nested (`t/1/d/c`), so a key listing with the separator '/'
 * answers the folder `d/` for it (Consul KVSKeys), which `groupKeys` names as the slot.
 */
interface GroupLayout {
  readonly folders: boolean;
}

const folderOfSlot = 'd/';

function groupKey(layout: GroupLayout, prefix: string, slot: number): string {
  return layout.folders && slot === 2 ? `${prefix}${folderOfSlot}${groupSlots[slot]}` : `${prefix}${groupSlots[slot]}`;
}

function startGroupWorkload(sim: SimApi, scenario: Scenario): void {
  const clients = num(scenario, 'txnClients', 2);
  if (clients === 0) return;
  const layout: GroupLayout = { folders: num(scenario, 'groupFolders', 0) === 1 };
  const getTreePercent = num(scenario, 'txnGetTreePercent', 0);
  const prng = sim.random('groups');
  const run = runStateOf(sim);
  const prefixes = groupPrefixes(scenario);
  const everyMs = num(scenario, 'opEveryMs', 40);
  const requestTimeoutMs = num(scenario, 'requestTimeoutMs', 300);
  const opTimeoutMs = num(scenario, 'opTimeoutMs', 1500);
  const base = 2_000_000; // processes distinct from the register and lock clients
  const groupReads = (scenario.params.groupReads ?? 'consistent') as ReadMode;
  const keysReadPercent = num(scenario, 'keysReadPercent', 0);
  for (let p = 0; p < clients; p++) {
    const process = base + p;
    const client = new Client(sim, prng, `txn${p}`, requestTimeoutMs, groupReads);
    closedLoop(sim, prng, everyMs, (finishOp, again) => {
      client.servedBy = '-';
      const finish: Finish = (op, outcome, output) => finishOp(op, outcome, output, client.servedBy);
      const prefix = prng.pick(prefixes);
      const roll = prng.below(100);
      const deadlineMs = sim.nowMs + opTimeoutMs;
      if (roll < 25 && keysReadPercent > 0 && prng.below(100) < keysReadPercent) {
        // A folder listing: the keys under the group's prefix rolled up at the first '/' after it.
        const op = sim.history.invoke(process, 'read-keys', null, '-', sim.nowMs, prefix);
        client.read({ type: 'kvKeys', prefix, separator: '/' }, deadlineMs, (out) => {
          if (out.kind !== 'ok') return finish(op, 'fail', null);
          finish(op, 'ok', groupKeys(layout, prefix, out.reply));
        });
      } else if (roll < 25) {
        const op = sim.history.invoke(process, 'read-tree', null, '-', sim.nowMs, prefix);
        client.read({ type: 'kvList', prefix }, deadlineMs, (out) => {
          if (out.kind !== 'ok') return finish(op, 'fail', null);
          finish(op, 'ok', groupRead(layout, prefix, out.reply));
        });
      } else if (roll < 33) {
        const op = sim.history.invoke(process, 'delete-tree', null, '-', sim.nowMs, prefix);
        client.propose({ type: 'kvDeleteTree', prefix }, deadlineMs, (applied) => finish(op, applied.kind, null));
      } else {
        client.read({ type: 'kvList', prefix }, deadlineMs, (out) => {
          if (out.kind !== 'ok') return again();
          const seen = groupEntries(layout, prefix, out.reply);
          const { ops, txn } = buildTxn(prng, run, layout, prefix, seen, getTreePercent);
          const op = sim.history.invoke(process, 'txn', { ops }, '-', sim.nowMs, prefix);
          client.propose({ type: 'txn', ops: txn, nowMs: sim.nowMs }, deadlineMs, (applied) => {
            if (applied.kind !== 'ok') return finish(op, applied.kind, null);
            const result = commandResult(applied.reply);
            if (!result.ok) return finish(op, 'fail', null); // refused before running: nothing happened
            finish(op, 'ok', txnOutput(layout, prefix, ops, result.value as TxnOutcome));
          });
        });
      }
    });
  }
}

/** The group's entries by slot (null where absent), from a recursive read. */
function groupEntries(layout: GroupLayout, prefix: string, reply: RaftReply): (KvEntry | null)[] {
  const entries = ((reply.result as { value?: KvEntry[] } | undefined)?.value ?? []) as KvEntry[];
  return groupSlots.map((_, slot) => entries.find((e) => e.Key === groupKey(layout, prefix, slot)) ?? null);
}

/**
 * A key listing's answer as the kv-group model states it: each key after the prefix (a key outside it
 * as is); with folders, the folder `d/` is the third slot's name (anything else about it, such as `d`
 * without its separator, stays as answered and matches no slot).
 */
function groupKeys(layout: GroupLayout, prefix: string, reply: RaftReply): string[] {
  const keys = ((reply.result as { value?: string[] } | undefined)?.value ?? []) as string[];
  return keys.map((key) => {
    const rest = key.startsWith(prefix) ? key.slice(prefix.length) : key;
    return layout.folders && key === `${prefix}${folderOfSlot}` ? groupSlots[2] : rest;
  });
}

function groupRead(layout: GroupLayout, prefix: string, reply: RaftReply): (string | null)[] {
  return groupEntries(layout, prefix, reply).map(textOf);
}

/** A txn `get-tree`'s entries as the model's text (groupTreeText): `slot=value` per entry, in key order. */
function groupTreeOf(layout: GroupLayout, prefix: string, entries: readonly KvEntry[]): string {
  const named = entries.map((entry) => {
    const slot = groupSlots.findIndex((_, i) => groupKey(layout, prefix, i) === entry.Key);
    return `${slot < 0 ? `?${entry.Key}` : groupSlots[slot]}=${textOf(entry)}`;
  });
  return JSON.stringify(named);
}

/**
 * 2–8 ops on one group, built from what a recursive read just showed. Without interference every op
 * of the txn holds (index-based ops name the index read, and only on keys the txn has not written yet:
 * a write moves the key's ModifyIndex to the txn's own index); in about a third of txns one op is
 * made to fail (an index the key never had, a get of an absent key, a check-not-exists of a present
 * one), so the whole txn must roll back. By value for the model, by index for the store.
 */
function buildTxn(
  prng: Prng,
  run: KvRun,
  layout: GroupLayout,
  prefix: string,
  seen: readonly (KvEntry | null)[],
  getTreePercent: number,
): { ops: GroupTxnOp[]; txn: TxnKvOp[] } {
  const count = 2 + prng.below(7);
  const failing = prng.below(3) === 0 ? prng.below(count) : -1;
  const ops: GroupTxnOp[] = [];
  const txn: TxnKvOp[] = [];
  const neverIndex = 1e12; // no ModifyIndex ever reaches it: "a value the key never held"
  const present = seen.map((entry) => entry !== null);
  const written = new Set<number>();
  for (let i = 0; i < count; i++) {
    const slot = prng.below(groupSlots.length);
    const key = groupKey(layout, prefix, slot);
    const entry = seen[slot] ?? null;
    if (i === failing) {
      const kind = prng.pick(['cas', 'delete-cas', 'check-index', 'check'] as const);
      if (kind === 'check') {
        // A check that does not hold for the key as the txn left it so far.
        const verb = present[slot] ? ('check-not-exists' as const) : ('get' as const);
        ops.push({ verb, slot });
        txn.push({ verb, key });
      } else if (kind === 'delete-cas' && !present[slot]) {
        ops.push({ verb: 'check-index', slot, from: `never-${run.nextValue++}` }); // delete-cas of an absent key holds
        txn.push({ verb: 'check-index', key, index: neverIndex });
      } else {
        const value = `v${run.nextValue++}`;
        ops.push({ verb: kind, slot, from: `never-${value}`, ...(kind === 'cas' ? { value } : {}) });
        txn.push({ verb: kind, key, index: neverIndex, ...(kind === 'cas' ? { value: encoder.encode(value) } : {}) });
      }
      continue;
    }
    const byIndex = !written.has(slot);
    const verbs: GroupTxnOp['verb'][] = ['set', 'delete', present[slot] ? 'get' : 'check-not-exists'];
    if (byIndex) verbs.push('cas', 'delete-cas', ...(present[slot] ? (['check-index'] as const) : []));
    const verb = prng.pick(verbs);
    const from = textOf(entry);
    const index = entry?.ModifyIndex ?? 0;
    switch (verb) {
      case 'set':
      case 'cas': {
        const value = `v${run.nextValue++}`;
        ops.push(verb === 'set' ? { verb, slot, value } : { verb, slot, from, value });
        txn.push({ verb, key, value: encoder.encode(value), ...(verb === 'cas' ? { index } : {}) });
        written.add(slot);
        present[slot] = true;
        break;
      }
      case 'delete':
      case 'delete-cas':
        ops.push(verb === 'delete' ? { verb, slot } : { verb, slot, from });
        txn.push({ verb, key, ...(verb === 'delete-cas' ? { index } : {}) });
        written.add(slot);
        present[slot] = false;
        break;
      case 'check-not-exists':
      case 'get':
        ops.push({ verb, slot });
        txn.push({ verb, key });
        break;
      case 'check-index':
        ops.push({ verb, slot, from });
        txn.push({ verb, key, index });
        break;
    }
  }
  // Last, so that the entries it returns are the rest of the results (their number is the group's size).
  if (getTreePercent > 0 && prng.below(100) < getTreePercent) {
    ops.push({ verb: 'get-tree', slot: 0 });
    txn.push({ verb: 'get-tree', key: prefix });
  }
  return { ops, txn };
}

/** The txn's answer as the model states it: committed with its gets' values, or the failing op indexes. */
function txnOutput(
  layout: GroupLayout,
  prefix: string,
  ops: readonly GroupTxnOp[],
  outcome: TxnOutcome,
): GroupTxnOutput {
  if (outcome.Errors !== null) return { ok: false, failed: outcome.Errors.map((e) => e.OpIndex) };
  // Results hold one entry per set, cas, get and check-index (Consul's txn results), in op order, and a
  // get-tree (always the last op, buildTxn) one per entry under the prefix.
  const gets: (string | null)[] = [];
  let at = 0;
  for (const op of ops) {
    if (op.verb === 'set' || op.verb === 'cas' || op.verb === 'check-index') at++;
    else if (op.verb === 'get') gets.push(textOf(outcome.Results[at++]?.KV ?? null));
    else if (op.verb === 'get-tree') {
      gets.push(
        groupTreeOf(
          layout,
          prefix,
          outcome.Results.slice(at).map((r) => r.KV),
        ),
      );
      at = outcome.Results.length;
    }
  }
  return { ok: true, gets };
}

/** The agent-on-the-leader duties the store needs: register every node, expire sessions on time. */
/**
 * Catalog writers (opt-in, `set catalogClients N`): external nodes e1..e3 registered with service `ext`
 * and a check `ext-alive` in a drawn status, or deregistered, as consul-esm does — so that health
 * watchers (startWatchers) see the catalog move. Not in the linearizability history (the agent harness's
 * catalog workload checks catalog answers against a model); here the watchers' wake-up rules judge.
 */
function startCatalogWriters(sim: SimApi, scenario: Scenario): void {
  const count = num(scenario, 'catalogClients', 0);
  if (count === 0) return;
  const prng = sim.random('catalog');
  for (let c = 0; c < count; c++) {
    const client = new Client(sim, prng, `catalog${c}`, num(scenario, 'requestTimeoutMs', 300), 'consistent');
    const write = (): void => {
      if (sim.phase !== 'safety') return;
      const i = prng.below(catalogNodes.length);
      const node = catalogNodes[i]!;
      const command: StoreCommand =
        prng.below(4) === 0
          ? { type: 'catalogDeregister', node, nowMs: sim.nowMs }
          : {
              type: 'catalogRegister',
              node: { node, address: `10.0.9.${i + 1}` },
              service: { service: catalogService, id: catalogService, port: 8080 },
              checks: [
                {
                  checkId: catalogCheckId,
                  name: 'ext alive',
                  serviceId: catalogService,
                  status: prng.pick(catalogStatuses),
                },
              ],
              nowMs: sim.nowMs,
            };
      client.propose(command, sim.nowMs + 1500, () => sim.after(1 + prng.below(200), write));
    };
    sim.after(200 + prng.below(200), write);
  }
}

function startLeaderDuties(sim: SimApi, scenario: Scenario): void {
  const prng = sim.random('leader-duties');
  const client = new Client(sim, prng, 'duty', num(scenario, 'requestTimeoutMs', 300), 'consistent');
  const expireEveryMs = num(scenario, 'expireEveryMs', 1000);
  const register = (i: number): void => {
    if (i >= sim.nodeIds.length || sim.phase === 'done') return;
    const node = sim.nodeIds[i]!;
    client.propose(
      { type: 'memberHealth', node, address: `10.0.0.${i + 1}`, health: 'alive', serverPort: 8300, nowMs: sim.nowMs },
      sim.nowMs + 2000,
      (out) => {
        if (out.kind === 'ok' && commandResult(out.reply).ok) return register(i + 1);
        sim.after(100, () => register(i));
      },
    );
  };
  register(0);
  // Failure detection stand-in for SWIM: a crashed node is reported failed (serfHealth critical, which
  // invalidates the sessions that name it), a node back up is reported alive again.
  const reported = new Map<NodeId, boolean>(sim.nodeIds.map((id) => [id, true]));
  const health = (): void => {
    if (sim.phase === 'done') return;
    const changed = sim.nodeIds.find((id) => reported.get(id) !== sim.isUp(id));
    if (changed === undefined) return void sim.after(expireEveryMs / 4, health);
    const up = sim.isUp(changed);
    const i = sim.nodeIds.indexOf(changed);
    client.propose(
      {
        type: 'memberHealth',
        node: changed,
        address: `10.0.0.${i + 1}`,
        health: up ? 'alive' : 'failed',
        serverPort: 8300,
        nowMs: sim.nowMs,
      },
      sim.nowMs + 2000,
      (out) => {
        if (out.kind === 'ok' && commandResult(out.reply).ok) {
          reported.set(changed, up);
          sim.log(`kv: leader duty reported ${changed} ${up ? 'alive' : 'failed'}`);
        }
        sim.after(10, health);
      },
    );
  };
  sim.after(expireEveryMs, health);
  const expire = (): void => {
    if (sim.phase === 'done') return;
    client.propose({ type: 'sessionsExpire', nowMs: sim.nowMs }, sim.nowMs + expireEveryMs, () =>
      sim.after(expireEveryMs, expire),
    );
  };
  sim.after(expireEveryMs, expire);
}

/** Whether two versions of a KV entry hold the same data (value, flags, session, indexes). */
function sameEntry(a: KvEntry | undefined, b: KvEntry | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.Session !== b.Session || a.Flags !== b.Flags || a.LockIndex !== b.LockIndex) return false;
  if (a.ModifyIndex !== b.ModifyIndex || a.CreateIndex !== b.CreateIndex) return false;
  const x = a.Value;
  const y = b.Value;
  if (x === y) return true;
  if (x === null || y === null || x === undefined || y === undefined || x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function startLockWorkload(sim: SimApi, scenario: Scenario): void {
  const prng = sim.random('locks');
  const run = runStateOf(sim);
  const lockClients = num(scenario, 'lockClients', 2);
  const lockDelayMs = num(scenario, 'lockDelayMs', 1000);
  const lockDelayZeroPercent = num(scenario, 'lockDelayZeroPercent', 0);
  const ttlMs = num(scenario, 'sessionTtlMs', 10_000);
  const holdMsMax = num(scenario, 'holdMsMax', 800);
  const requestTimeoutMs = num(scenario, 'requestTimeoutMs', 300);
  const renewEveryMs = num(scenario, 'renewEveryMs', 2000);
  const abandonPercent = num(scenario, 'abandonPercent', 10);
  const lockPlainWritePercent = num(scenario, 'lockPlainWritePercent', 0);
  const base = 1_000_000;
  for (let p = 0; p < lockClients; p++) {
    const process = base + p; // distinct from register processes in the history
    const home = sim.nodeIds[p % sim.nodeIds.length]!;
    const client = new Client(sim, prng, `lock${p}`, requestTimeoutMs, 'consistent');
    let sessions = 0;
    /** The session this client keeps renewing (none once it destroyed or abandoned it). */
    let renewing: string | null = null;
    const later = (ms: number, fn: () => void): void => {
      if (sim.phase !== 'done') sim.after(ms, fn);
    };
    // Renewals (PUT /v1/session/renew), stamped with leader time like every session command; the
    // store's TTL deadline moves to nowMs + TTL × multiplier, and the FSM checker holds it to that.
    const renew = (id: string): void => {
      if (renewing !== id) return;
      client.propose({ type: 'sessionRenew', id, nowMs: sim.nowMs }, sim.nowMs + 1000, () =>
        later(renewEveryMs, () => renew(id)),
      );
    };
    const newSession = (): void => {
      const id = `s-${p}-${++sessions}`;
      const op = sim.history.invoke(process, 'session-create', { id }, home, sim.nowMs);
      const checks = sessionChecksFor(scenario.params.sessionChecks); // default: serfHealth
      // Drawn only when set, so that other scenarios draw exactly as before.
      const delayMs = lockDelayZeroPercent > 0 && prng.below(100) < lockDelayZeroPercent ? 0 : lockDelayMs;
      client.propose(
        {
          type: 'sessionCreate',
          session: { id, node: home, ...checks, ttlMs, lockDelayMs: delayMs },
          nowMs: sim.nowMs,
        },
        sim.nowMs + 2000,
        (out) => {
          const ok = out.kind === 'ok' && commandResult(out.reply).ok;
          sim.history.complete(op, ok ? 'ok' : out.kind === 'unknown' ? 'unknown' : 'fail', null, sim.nowMs);
          if (ok) {
            renewing = id;
            later(renewEveryMs, () => renew(id));
            later(1, () => acquire(id));
          } else later(200 + prng.below(200), newSession);
        },
      );
    };
    const acquire = (id: string): void => {
      const op = sim.history.invoke(process, 'lock', { session: id }, home, sim.nowMs, lockKey);
      client.propose(
        { type: 'kvLock', entry: { key: lockKey, value: encoder.encode(id) }, session: id, nowMs: sim.nowMs },
        sim.nowMs + 1500,
        (out) => {
          const result = out.kind === 'ok' ? commandResult(out.reply) : null;
          const got = result !== null && result.ok && result.value === true;
          sim.history.complete(op, got ? 'ok' : out.kind === 'unknown' ? 'unknown' : 'fail', got, sim.nowMs);
          if (got) {
            run.stats.lockAcquired++;
            // A holder rewrites its lock's value with another acquire now and then (Consul's
            // leader-election recipe: the leader updates its key under the lock with ?acquire=).
            if (prng.below(3) === 0) return later(50 + prng.below(holdMsMax), () => update(id));
            return later(50 + prng.below(holdMsMax), () => letGo(id));
          }
          if (result !== null && !result.ok) return later(100 + prng.below(200), newSession); // session gone
          later(100 + prng.below(200), () => acquire(id));
        },
      );
    };
    const update = (id: string): void => {
      // Drawn only when set, so that other scenarios draw exactly as before.
      if (lockPlainWritePercent > 0 && prng.below(100) < lockPlainWritePercent) return plainWrite(id);
      const op = sim.history.invoke(process, 'lock', { session: id, update: true }, home, sim.nowMs, lockKey);
      client.propose(
        {
          type: 'kvLock',
          entry: { key: lockKey, value: encoder.encode(`${id} still holds it at ${sim.nowMs}`) },
          session: id,
          nowMs: sim.nowMs,
        },
        sim.nowMs + 1500,
        (out) => {
          const result = out.kind === 'ok' ? commandResult(out.reply) : null;
          const got = result !== null && result.ok && result.value === true;
          sim.history.complete(op, got ? 'ok' : out.kind === 'unknown' ? 'unknown' : 'fail', got, sim.nowMs);
          if (result !== null && !result.ok) return later(100 + prng.below(200), newSession); // session gone
          later(50 + prng.below(holdMsMax), () => letGo(id));
        },
      );
    };
    /**
     * A plain PUT of the lock key's value while this client holds it (no ?acquire): Consul keeps the
     * holder (kvsSetTxn keeps an existing entry's Session and LockIndex), so the client still holds the
     * lock and lets it go as usual. The FSM checker judges the write (checkLock: a plain write never
     * changes the holder).
     */
    const plainWrite = (id: string): void => {
      client.propose(
        { type: 'kvSet', entry: { key: lockKey, value: encoder.encode(`${id} wrote it plainly at ${sim.nowMs}`) } },
        sim.nowMs + 1500,
        () => later(50 + prng.below(holdMsMax), () => letGo(id)),
      );
    };
    const letGo = (id: string): void => {
      // Unlock (and keep the session), destroy it, or abandon it: the client stops renewing and
      // forgets the session, which keeps the lock until its TTL × 2 runs out (20 s at the minimum
      // TTL) or its node fails. abandonPercent 10 (the default) gives 50 / 40 / 10 %.
      const roll = prng.below(100);
      const abandon = roll < abandonPercent;
      if (!abandon && roll < abandonPercent + ((100 - abandonPercent) * 5) / 9) {
        const op = sim.history.invoke(process, 'unlock', { session: id }, home, sim.nowMs, lockKey);
        client.propose(
          {
            type: 'kvUnlock',
            entry: { key: lockKey, value: encoder.encode(`released by ${id} at ${sim.nowMs}`) },
            session: id,
          },
          sim.nowMs + 1500,
          (out) => {
            sim.history.complete(op, out.kind, null, sim.nowMs);
            if (out.kind === 'ok') run.stats.lockReleased++;
            later(50 + prng.below(300), () => acquire(id));
          },
        );
      } else if (!abandon) {
        renewing = null;
        const op = sim.history.invoke(process, 'session-destroy', { id }, home, sim.nowMs);
        client.propose({ type: 'sessionDestroy', id, nowMs: sim.nowMs }, sim.nowMs + 1500, (out) => {
          sim.history.complete(op, out.kind, null, sim.nowMs);
          if (out.kind === 'ok') run.stats.sessionsDestroyed++;
          later(50 + prng.below(300), newSession);
        });
      } else {
        run.stats.sessionsAbandoned++; // left to TTL expiry (sessionsExpire from the leader duties)
        renewing = null;
        later(50 + prng.below(300), newSession);
      }
    };
    sim.after(200 + prng.below(300), newSession);
  }
}

// ─────────────────────────────────────── blocking queries ───────────────────────────────────────

/**
 * Watchers: blocking queries (`GET /v1/kv/r/0?index=N&wait=W`, default consistency) parked in the
 * node's registry (core/store/watch.ts) exactly as the agent parks them, released after applies on
 * that node or at their deadline. When its node crashes, a watcher's wait runs out on the client side
 * and it re-issues the same query, with the same index, to another node (a failover).
 *
 * Checked: a reader released by an apply sees an index past its minIndex; a reader released at its
 * deadline finds the key's index not past its minIndex — otherwise a wake-up was missed.
 */
function startWatchers(sim: SimApi, scenario: Scenario): void {
  const count = num(scenario, 'watchers', 0);
  if (count === 0) return;
  const prng = sim.random('watchers');
  const run = runStateOf(sim);
  const waitMs = num(scenario, 'watchWaitMs', 2000);
  for (let w = 0; w < count; w++) {
    // Odd watchers watch a key group's prefix (`?recurse`) when the group workload runs: its keys are
    // deleted one by one, by txns and by delete-tree, and a delete must wake them as a write does.
    const groups = num(scenario, 'txnClients', 2) > 0 ? groupPrefixes(scenario) : [];
    // With catalog writers, every third watcher watches the health of their service (consul-template's
    // and every service mesh's blocking query): a status change must move that query's index.
    const scope: StoreQuery =
      num(scenario, 'catalogClients', 0) > 0 && w % 3 === 2
        ? { type: 'healthService', service: catalogService }
        : w % 2 === 1 && groups.length > 0
          ? { type: 'kvList', prefix: groups[Math.floor(w / 2) % groups.length]! }
          : { type: 'kvGet', key: `r/${w % num(scenario, 'keys', 3)}` };
    let minIndex = 0;
    let knownAnswer: string | null = null; // the answer at minIndex
    let knownFsm: CheckedStoreFsm | null = null; // the FSM that gave it
    let node = prng.pick(sim.nodeIds);
    const watch = (): void => {
      if (sim.phase === 'done') return;
      const fsm = fsmOf(sim, node);
      if (!fsm || sim.isPaused(node)) {
        node = prng.pick(sim.nodeIds);
        run.stats.watchMoves++;
        return void sim.after(50, watch);
      }
      const current = fsm.store.indexOf(scope);
      if (!(current >= 1))
        return sim.violation(
          `query index: ${node} gives watcher ${w} (${JSON.stringify(scope)}) index ${current} (must be ≥ 1)`,
        );
      if (!mustBlock(minIndex, waitIndexOf(scenario, fsm, scope))) {
        minIndex = current; // first read, or this node is already past the index: take it and wait for more
        knownAnswer = answerText(fsm, scope);
        knownFsm = fsm;
        return void sim.after(1, watch);
      }
      let entry = run.registries.get(node);
      if (!entry || entry.fsm !== fsm)
        run.registries.set(
          node,
          (entry = { fsm, registry: createBlockingRegistry<StoreQuery>(), seenIndex: fsm.store.lastIndex }),
        );
      const registry = entry.registry;
      const requestId = run.nextWatchId++;
      const parked = parkReader(registry, requestId, scope, minIndex, waitMs, sim.nowMs, prng);
      if (!parked.ok) return sim.violation(`watcher ${w}: ${parked.error}`);
      const parkedOn = node;
      let answered = false;
      run.parked.set(requestId, {
        node: parkedOn,
        scope,
        knownAnswer,
        knownFsm,
        answer: (index, text, woken) => {
          answered = true;
          if (woken) {
            run.stats.watchWakeups++;
            if (scope.type === 'healthService') run.stats.healthWakeups++;
          } else run.stats.watchTimeouts++;
          if (index > minIndex) [minIndex, knownAnswer, knownFsm] = [index, text, fsmOf(sim, parkedOn)];
          sim.after(1 + prng.below(20), watch);
        },
      });
      sim.at(parked.deadlineMs, () => expireWatchers(sim, parkedOn));
      // The client's own timeout: the node died or stopped answering; cancel and go elsewhere.
      sim.at(parked.deadlineMs + 500, () => {
        if (answered) return;
        cancelReader(registry, requestId);
        run.parked.delete(requestId);
        node = prng.pick(sim.nodeIds.filter((id) => id !== parkedOn));
        run.stats.watchMoves++;
        watch();
      });
    };
    sim.after(100 + prng.below(200), watch);
  }
}

/**
 * After any step of a node whose store moved (applies, or a snapshot installed, which applies
 * nothing one by one): release the readers whose key's index passed their minIndex.
 */
function releaseWatchers(sim: SimApi, nodeId: NodeId): void {
  const entry = runStateOf(sim).registries.get(nodeId);
  const fsm = fsmOf(sim, nodeId);
  if (!entry || entry.fsm !== fsm || !fsm || entry.seenIndex === fsm.store.lastIndex) return;
  entry.seenIndex = fsm.store.lastIndex;
  const scenario = sim.scenario;
  const waitOn = (scope: StoreQuery): number => waitIndexOf(scenario, fsm, scope);
  for (const reader of releaseReady(entry.registry, fsm.store.lastIndex, waitOn)) {
    const index = waitOn(reader.scope);
    if (index <= reader.minIndex)
      sim.violation(`${nodeId}: watcher ${reader.requestId} woken at index ${index}, not past ${reader.minIndex}`);
    answerWatcher(sim, reader.requestId, fsm.store.indexOf(reader.scope), fsm, true);
  }
}

function expireWatchers(sim: SimApi, nodeId: NodeId): void {
  const entry = runStateOf(sim).registries.get(nodeId);
  const fsm = fsmOf(sim, nodeId);
  if (!entry || entry.fsm !== fsm || !fsm || sim.isPaused(nodeId)) return; // a dead, restarted or paused node answers nobody
  for (const reader of expireReaders(entry.registry, sim.nowMs)) {
    const index = waitIndexOf(sim.scenario, fsm, reader.scope);
    if (index > reader.minIndex)
      sim.violation(
        `${nodeId}: watcher ${reader.requestId} timed out at index ${index} > its minIndex ${reader.minIndex}: a wake-up was missed`,
      );
    const parked = runStateOf(sim).parked.get(reader.requestId);
    if (
      parked &&
      (index === reader.minIndex || (index < reader.minIndex && parked.knownFsm === fsm)) &&
      parked.knownAnswer !== null &&
      answerText(fsm, reader.scope) !== parked.knownAnswer
    )
      sim.violation(
        `${nodeId}: watcher ${reader.requestId} (${JSON.stringify(reader.scope)}) timed out with a changed answer at index ${index}, not past its minIndex ${reader.minIndex}: a wake-up was missed`,
      );
    answerWatcher(sim, reader.requestId, fsm.store.indexOf(reader.scope), fsm, false);
  }
}

/** The index a parked watcher waits on (`watchIndex`): its answer's, or the store's change index of the scope. */
function waitIndexOf(scenario: Scenario, fsm: CheckedStoreFsm, scope: StoreQuery): number {
  return scenario.params.watchIndex === 'change' ? changeIndex(fsm.store.state, scope) : fsm.store.indexOf(scope);
}

/** A query's answer as comparable text (values decoded). */
function answerText(fsm: CheckedStoreFsm, scope: StoreQuery): string {
  const value = (fsm.store.query(scope) as { value: unknown }).value;
  return JSON.stringify(value, (_k, v) => (v instanceof Uint8Array ? decoder.decode(v) : v));
}

function answerWatcher(sim: SimApi, requestId: number, index: number, fsm: CheckedStoreFsm, woken: boolean): void {
  const run = runStateOf(sim);
  const waiting = run.parked.get(requestId);
  if (!waiting) return;
  if (!(index >= 1))
    sim.violation(`query index: ${waiting.node} answered watcher ${requestId} with index ${index} (must be ≥ 1)`);
  run.parked.delete(requestId);
  waiting.answer(index, answerText(fsm, waiting.scope), woken);
}

// ──────────────────────────────────────── end-of-run checks ────────────────────────────────────────

/** The register workload's operations (keys `r/…`): what the linearizability check reads. */
function isRegisterOp(op: Operation): boolean {
  return op.key !== undefined && op.key.startsWith('r/');
}

function checkLinearizable(sim: SimApi, scenario: Scenario): string[] {
  const run = runStateOf(sim);
  const registerOps = sim.history.ops.filter(isRegisterOp);
  const text = registerOps.map((op) => JSON.stringify(op)).join('\n');
  const ops = parseHistoryJsonLines(text);
  const result = checkHistory(ops, registerModel, { timeoutMs: num(scenario, 'checkTimeoutMs', 20_000) });
  run.stats.linMs = Math.round(result.ms);
  run.stats.linVerdict = String(result.linearizable);
  const counts = { ok: 0, fail: 0, unknown: 0 };
  for (const op of registerOps) counts[op.outcome ?? 'unknown']++;
  sim.log(
    `kv: ${registerOps.length} register operations (${counts.ok} ok, ${counts.fail} fail, ${counts.unknown} unknown) checked in ${run.stats.linMs} ms: linearizable ${result.linearizable}`,
  );
  if (result.linearizable === false)
    return [
      `register history is not linearizable (reads=${readModeOf(scenario)}): ${result.explanation?.text ?? 'no explanation'}`,
    ];
  return [];
}

/**
 * The key groups' operations (txn, delete-tree, recursive reads) as the kv-group model reads them;
 * operations still open (a run in progress) count as unknown.
 */
function groupLinOps(sim: SimApi, scenario: Scenario): LinOp<RegisterInput, unknown>[] {
  const groups = new Set(groupPrefixes(scenario));
  const ops: LinOp<RegisterInput, unknown>[] = [];
  for (const op of sim.history.ops) {
    if (op.key === undefined || !groups.has(op.key)) continue;
    if (op.outcome === 'fail') continue; // did not happen (a rolled-back txn completes ok with its errors)
    const unknown = op.outcome === undefined || op.outcome === 'unknown';
    ops.push({
      id: op.id,
      process: op.process,
      input: { f: op.f, key: op.key, ...(op.f === 'txn' ? { value: (op.input as { ops: GroupTxnOp[] }).ops } : {}) },
      output: unknown ? UNKNOWN : op.output,
      callTime: op.invokeMs,
      returnTime: unknown ? Infinity : op.completeMs!,
    });
  }
  return ops;
}

/** The key groups' histories (txn, delete-tree, recursive reads) against the kv-group model. */
function checkGroups(sim: SimApi, scenario: Scenario): string[] {
  const ops = groupLinOps(sim, scenario);
  if (ops.length === 0) return [];
  const result = checkHistory(ops, kvGroupModel, { timeoutMs: num(scenario, 'checkTimeoutMs', 20_000) });
  const txns = ops.filter((op) => op.input.f === 'txn');
  const rolledBack = txns.filter((op) => op.output !== UNKNOWN && (op.output as GroupTxnOutput).ok === false).length;
  sim.log(
    `kv: ${ops.length} key-group operations (${txns.length} txns, ${rolledBack} rolled back) checked in ${Math.round(result.ms)} ms: linearizable ${result.linearizable}`,
  );
  if (result.linearizable === false)
    return [`key-group history is not linearizable: ${result.explanation?.text ?? 'no explanation'}`];
  return [];
}

/** Nodes that applied the same Raft index hold the same store (State Machine Safety, seen from the store). */
function checkReplicasAgree(sim: SimApi): string[] {
  const byIndex = new Map<number, { node: NodeId; text: string }>();
  const problems: string[] = [];
  for (const id of sim.nodeIds) {
    const fsm = fsmOf(sim, id);
    if (!fsm) continue;
    const text = JSON.stringify(fsm.store.snapshot(), (_k, v) => (v instanceof Uint8Array ? decoder.decode(v) : v));
    const seen = byIndex.get(fsm.store.lastIndex);
    if (!seen) byIndex.set(fsm.store.lastIndex, { node: id, text });
    else if (seen.text !== text)
      problems.push(`${seen.node} and ${id} applied up to index ${fsm.store.lastIndex} but hold different stores`);
  }
  return problems;
}

/** The end-of-run checks, once per run (from `live` or `checkEnd`, whichever comes first). */
function endChecks(sim: SimApi): string[] {
  const run = runStateOf(sim);
  if (run.endChecked) return [];
  run.endChecked = true;
  const problems: string[] = [];
  for (const id of sim.nodeIds) problems.push(...(fsmOf(sim, id)?.problems.splice(0) ?? []));
  problems.push(...checkReplicasAgree(sim));
  problems.push(...checkLinearizable(sim, sim.scenario));
  problems.push(...checkGroups(sim, sim.scenario));
  const s = run.stats;
  sim.log(
    `kv: locks acquired ${s.lockAcquired}, released ${s.lockReleased}, sessions destroyed ${s.sessionsDestroyed}, abandoned ${s.sessionsAbandoned}`,
  );
  sim.log(
    `kv: watchers woken ${s.watchWakeups} times (${s.healthWakeups} on health/service), timed out ${s.watchTimeouts}, moved to another node ${s.watchMoves}`,
  );
  return problems;
}

export const harness: Harness = {
  name: 'kv',
  params,

  validate(scenario) {
    const choices: Record<string, readonly string[]> = {
      reads: ['consistent', 'default-unsafe', 'stale'],
      plant: ['forget-lock-delay', 'none'],
      sessionChecks: ['serf', 'none', 'service'],
      preVote: ['true', 'false'],
      checkQuorum: ['true', 'false'],
      leaseReads: ['true', 'false'],
      readBatching: ['true', 'false'],
      channel: ['stream', 'datagram'],
      knobs: ['swarm', 'fixed'],
      groupReads: ['consistent', 'default-unsafe'],
      watchIndex: ['answer', 'change'],
    };
    const problems = [
      ...checkIntegerParams(
        scenario,
        (Object.keys(params) as Param[]).filter((key) => !(key in choices) && key !== 'groups'),
      ),
      ...Object.entries(choices).flatMap(([key, allowed]) => checkChoiceParam(scenario, key, allowed)),
    ];
    if (num(scenario, 'keys', 3) < 1) problems.push('set keys: at least 1');
    const shares = ['readPercent', 'casPercent', 'deletePercent', 'deleteCasPercent'] as const;
    const fallback = { readPercent: 40, casPercent: 30, deletePercent: 8, deleteCasPercent: 7 };
    if (shares.reduce((sum, key) => sum + num(scenario, key, fallback[key]), 0) > 100)
      problems.push('readPercent + casPercent + deletePercent + deleteCasPercent must be ≤ 100');
    if (num(scenario, 'abandonPercent', 10) > 100) problems.push('abandonPercent must be ≤ 100');
    if (!/^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$/.test(scenario.params.groups ?? '1'))
      problems.push('set groups: comma-separated names of letters, digits, _ and -');
    return checkConfigBuilds(problems, () => kvRaftConfig(scenario, scenario.nodes[0]!));
  },

  drawKnobs: drawRaftKnobs,
  guideSkips: raftGuideSkips,
  guideGroups: raftGuideGroups,

  mounts(nodeId, scenario) {
    return [{ machine: raftMachine, config: kvRaftConfig(scenario, nodeId) }];
  },

  start() {
    return new KvRun();
  },

  workload(sim, scenario) {
    startLeaderDuties(sim, scenario);
    startRegisterWorkload(sim, scenario);
    startGroupWorkload(sim, scenario);
    startLockWorkload(sim, scenario);
    startCatalogWriters(sim, scenario);
    if (scenario.params.sessionChecks === 'service') {
      const client = new Client(sim, sim.random('lock-service-agent'), 'lock-svc', 300, 'consistent');
      startLockServiceHealth(
        sim,
        num(scenario, 'serviceHealthEveryMs', 1500),
        (command, deadlineMs, done) =>
          client.propose(command, deadlineMs, (out) => done(out.kind === 'ok' && commandResult(out.reply).ok)),
        num(scenario, 'serviceWarnPercent', 0),
      );
    }
    startWatchers(sim, scenario);
    startTransferWorkload(sim, scenario, currentLeader, (prng, leader) =>
      prng.pick(sim.nodeIds.filter((id) => id !== leader)),
    );
  },

  onNodeStart(sim, nodeId, durable) {
    runStateOf(sim).checker.onNodeStart(nodeId, durable);
    coverRaftStart(sim, durable);
  },

  onInput(sim, nodeId, input) {
    runStateOf(sim).checker.onInput(nodeId, input, sim.runtime(nodeId)?.stateOf<RaftState>('raft'));
  },

  onDropped(sim, nodeId, effects) {
    runStateOf(sim).checker.onDropped(nodeId, effects);
  },

  onEffect(sim, nodeId, effect: Effect) {
    releaseWatchers(sim, nodeId);
    const runtime = sim.runtime(nodeId);
    const problem = runStateOf(sim).checker.onEffect(
      nodeId,
      effect,
      runtime ? runtime.stateOf<RaftState>('raft') : null,
      runtime,
    );
    if (problem) sim.violation(problem);
    coverRaftEffect(sim, nodeId, effect);
  },

  checkStep(sim, nodeId) {
    const runtime = sim.runtime(nodeId);
    if (!runtime) return null;
    const fsm = fsmOf(sim, nodeId);
    if (fsm && fsm.problems.length > 0) return fsm.problems.splice(0).join('\n');
    if (fsm && fsm.transitions.length > 0) for (const transition of fsm.transitions.splice(0)) sim.cover(transition);
    const run = runStateOf(sim);
    coverRaftStep(sim, run.roles, nodeId, runtime.stateOf<RaftState>('raft'), runtime);
    return run.checker.afterStep(nodeId, runtime.stateOf<RaftState>('raft'), runtime);
  },

  // `sim explore --coverage`: Raft's transitions this scenario can reach (raft-coverage.ts
  // raftTransitionsFor: no membership workload here; TimeoutNow from the transfer operator), and the store's.
  transitions: (scenario: Scenario) => [
    ...raftTransitionsFor(
      {
        preVoteOn: knobValues(scenario.params, 'preVote', raftProfiles.sim.preVote).on,
        preVoteOff: knobValues(scenario.params, 'preVote', raftProfiles.sim.preVote).off,
        checkQuorum: knobValues(scenario.params, 'checkQuorum', raftProfiles.sim.checkQuorum).on,
        transfers: num(scenario, 'transferEveryMs', 0) > 0,
        membership: 'none',
      },
      false,
    ),
    ...storeTransitions,
  ],

  live(sim) {
    const run = runStateOf(sim);
    if (run.livenessFromMs === null) run.livenessFromMs = sim.nowMs;
    const from = run.livenessFromMs;
    const live = sim.history.someWriteOkFrom(from);
    // The simulator ends a run as soon as it is live again and then skips checkEnd (sim/simulator.ts
    // finish(): `wasStopped`), so the end-of-run checks run here, before answering true.
    if (live) for (const problem of endChecks(sim)) sim.violation(problem);
    return live;
  },

  whyNotLive(sim) {
    const from = runStateOf(sim).livenessFromMs ?? sim.scenario.safetyMs;
    const raftOf = (id: NodeId): RaftState | null => sim.runtime(id)?.stateOf<RaftState>('raft') ?? null;
    return raftStall(sim, raftOf, currentLeader(sim), from);
  },

  linearizable: isRegisterOp,

  linearizableSoFar(sim) {
    const ops = groupLinOps(sim, sim.scenario);
    return [{ name: 'key-group', check: (options) => checkHistory(ops, kvGroupModel, options) }];
  },

  checkEnd(sim) {
    return endChecks(sim);
  },

  act(sim, action, args) {
    const known = [
      'isolate-leader',
      'crash-leader',
      'pause-leader',
      'crash-holder',
      'crash-watched',
      'restart-crashed',
    ];
    if (!known.includes(action)) return `unknown action '${action}' (kv knows: ${known.join(', ')})`;
    if (args.length !== 0) return `${action} takes no arguments`;
    if (sim === null) return null;
    if (action === 'restart-crashed') {
      for (const id of sim.nodeIds) if (!sim.isUp(id)) sim.faults.restart(id);
      return '';
    }
    if (action === 'crash-watched') {
      // The node holding the most parked watchers (the first such in node order): the failover of
      // blocking queries the scenario is about happens whatever the seed put where.
      const counts = new Map<NodeId, number>();
      for (const parked of runStateOf(sim).parked.values())
        if (sim.isUp(parked.node)) counts.set(parked.node, (counts.get(parked.node) ?? 0) + 1);
      const target = [...counts].sort(
        (a, b) => b[1] - a[1] || sim.nodeIds.indexOf(a[0]) - sim.nodeIds.indexOf(b[0]),
      )[0]?.[0];
      sim.log(`kv: crash-watched: ${target ?? 'no watcher is parked'}`);
      if (target) sim.faults.crash(target);
      return '';
    }
    if (action === 'crash-holder') {
      const holder = lockHolderNode(sim);
      sim.log(`kv: crash-holder: ${holder ?? 'nobody holds the lock'}`);
      if (holder && sim.isUp(holder)) sim.faults.crash(holder);
      return '';
    }
    const leader = currentLeader(sim);
    if (!leader) {
      sim.log(`kv: ${action}: no leader at ${sim.nowMs} ms`);
      return null;
    }
    sim.log(`kv: ${action}: ${leader}`);
    if (action === 'isolate-leader') sim.faults.partition([[leader]]);
    else if (action === 'crash-leader') sim.faults.crash(leader);
    else sim.faults.pause(leader);
    // '' rather than null: sim/simulator.ts reads `act(...) ?? 'unknown action'`, which turns null
    // into an error; '' is "no problem" to both it and the scenario loader.
    return '';
  },

  expect(sim, name, args) {
    const s = runStateOf(sim).stats;
    const fsms = sim.nodeIds.map((id) => fsmOf(sim, id)).filter((f): f is CheckedStoreFsm => f !== null);
    switch (name) {
      case 'lock-acquired-min':
        return s.lockAcquired >= Number(args[0])
          ? null
          : `lock acquired ${s.lockAcquired} times, expected ≥ ${args[0]}`;
      case 'lock-handover-after-invalidation': {
        const most = Math.max(0, ...fsms.map((f) => f.handoversAfterInvalidation));
        return most >= Number(args[0] ?? 1)
          ? null
          : `the lock passed to a new session after an invalidation ${most} times, expected ≥ ${args[0] ?? 1}`;
      }
      case 'ops-ok-min': {
        const ok = sim.history.ops.filter((op) => op.key?.startsWith('r/') && op.outcome === 'ok').length;
        return ok >= Number(args[0]) ? null : `${ok} register operations ok, expected ≥ ${args[0]}`;
      }
      case 'watch-wakeups-min':
        return s.watchWakeups >= Number(args[0])
          ? null
          : `watchers woken ${s.watchWakeups} times, expected ≥ ${args[0]}`;
      case 'watch-moves-min':
        return s.watchMoves >= Number(args[0])
          ? null
          : `watchers moved node ${s.watchMoves} times, expected ≥ ${args[0]}`;
      default:
        return `unknown expectation '${name}' (kv knows: lock-acquired-min N, lock-handover-after-invalidation [N], ops-ok-min N, watch-wakeups-min N, watch-moves-min N)`;
    }
  },

  describe(sim, nodeId): Record<string, string | number> {
    const s = raftOf(sim, nodeId);
    if (!s) return { role: '-', term: '-', keys: '-' };
    const fsm = s.fsm as CheckedStoreFsm;
    return {
      role: s.role,
      term: s.term,
      applied: s.appliedIndex,
      keys: fsm.store.state.kv.size,
      holder: fsm.store.state.kv.get(lockKey)?.Session || '-',
    };
  },
};

/** Ends a client operation: `finish` records its outcome in the history, `again` (nothing was proposed) does not. */
type Finish = (op: Operation, outcome: 'ok' | 'fail' | 'unknown', output: unknown, servedBy?: string) => void;

/**
 * One closed-loop client process: `operate` starts one operation and ends it with `finish` or `again`;
 * the next starts 1..2×everyMs later, the first within everyMs of the start. The draws from `prng`
 * are the start delay (now) and one gap per operation, in that order.
 */
function closedLoop(
  sim: SimApi,
  prng: Prng,
  everyMs: number,
  operate: (finish: Finish, again: () => void) => void,
): void {
  const again = (): void => {
    if (sim.phase !== 'done') sim.after(1 + prng.below(2 * everyMs), next);
  };
  const finish: Finish = (op, outcome, output, servedBy) => {
    sim.history.complete(op, outcome, output, sim.nowMs, servedBy);
    again();
  };
  const next = (): void => {
    if (sim.phase !== 'done') operate(finish, again);
  };
  sim.after(prng.below(everyMs + 1), next);
}
