/**
 * Per-step Raft rule checkers (issue 12): local rules that the dangerous bugs break at their first
 * occurrence, long before an end-to-end property (State Machine Safety, linearizability) notices under
 * a rare schedule. Fed with every node's inputs, effects and post-step states by the raft and kv
 * harnesses, through RaftClusterChecker.
 *
 *  1. ORDERING RULE at effect level (core/types.ts): every send is preceded by persists — durable, or
 *     queued ahead of it, which the driver makes durable first — of every hard-state value it depends
 *     on. A shadow of what each node has written (term, vote, log index → term, snapshot) is replayed
 *     from its `persist` effects on top of what it loaded at start, and each Raft message is checked
 *     against it: its term is written; a granted vote and a candidate's RequestVote have their vote
 *     written for that term; an AppendEntries ack (and a leader's AppendEntries, which this
 *     implementation counts as its own durable copy, see replication.ts `selfMatch`) covers entries
 *     that are written with the same terms.
 *  2. A leader advances its commit index only onto an entry of its own term (Raft §5.4.2, Figure 8).
 *  3. A follower's commit index never passes the last index the accepted AppendEntries matched
 *     (Figure 2: min(leaderCommit, index of last new entry)), its ack never claims more than that, and
 *     the entry it acks holds the term the leader sent for it. A non-leader's commit moves only on an
 *     AppendEntries, an InstallSnapshot or at start.
 *  4. Log terms never decrease along the whole log: within appended entries, from the log's
 *     compaction point (prevTerm) to its first entry, and across the snapshot boundary.
 *  5. Votes (§5.2, §5.4.1): a vote (or pre-vote) is granted only to a candidate whose log is at least
 *     as up-to-date; a node grants at most one vote per term, across restarts; a node becomes leader
 *     only with granted votes of its term from a quorum of its voters, counted by the checker from the
 *     replies it saw arrive.
 *  6. Terms (§5.1): a message with a newer term (other than a pre-vote and a RequestVote the
 *     disregard rule ignores — never one that carries the transfer flag) raises the receiver's term; an AppendEntries is acknowledged and an
 *     InstallSnapshot installed only at the receiver's current term.
 *  7. A leader's commit index is backed by a quorum of its voters whose acknowledgements of this term
 *     (observed arriving, not read from the leader's own bookkeeping) reach it.
 *  9. Membership (thesis §4.1): a leader appends a configuration entry only after it committed an
 *     entry of its term and while no other configuration entry is uncommitted; after a truncation a
 *     node's membership is the latest configuration entry left in its log. A configuration entry never
 *     records a member under another server id than the configuration before it did (a server is its
 *     id: that would swap one server for another in one change). A node holds a vote (other
 *     than for itself) only for a candidate it granted it to; a node that acknowledged an AppendEntries
 *     of its term is that leader's follower.
 *     A learner — a non-voting member of the configuration it holds (thesis §4.2.1; Consul's read
 *     replicas and servers awaiting promotion, hashicorp/raft's Nonvoter) — never asks for a vote or a
 *     pre-vote: it takes no part in elections. (A server outside its own latest configuration may still
 *     campaign, thesis §4.1, without counting its own vote; this rule leaves it alone.)
 * 10. Check-quorum (thesis §6.2): a leader with check-quorum on that has heard from no quorum of its
 *     voters for 2 × W + 2 × heartbeatIntervalMs (W = the check-quorum window, electionTimeoutMsMin
 *     unless configured; its own clock; the check runs once per W at a heartbeat) does not lead past
 *     its next heartbeat. The window starts again when the node comes back from starvation (a pause, a
 *     starved host, a clock jump), where the node defers its check as core/raft's checkStarved says,
 *     and when its voter set changes.
 *     And the other way (thesis §6.2: a leader steps down when an election timeout passes "without a
 *     successful round of heartbeats to a majority"): a leader that steps down for lack of a quorum has
 *     not heard from a quorum of its voters, itself included, within the last half window — measured
 *     on a monotonic clock built from the node's inputs (the sum of their forward steps), so a clock
 *     that jumped back cannot make an old reply look recent.
 * 11. Recovery (Figure 2, "persistent state on all servers"): at the end of every step a node's term and
 *     vote are the ones it has written (durable, or queued ahead) — a restart loads what it wrote, and a
 *     node never acts on a term or vote that a crash would take back.
 * 12. Leadership transfer (thesis §3.10; `consul operator raft transfer-leader -id`): a transfer to a
 *     server that is not a voter of the configuration the leader holds when the request arrives (other
 *     than the leader itself) is refused at once — answered not ok in the step that received it. Only a
 *     voter can win an election, so accepting it could only stall the leader's writes until the
 *     transfer gives up, and then answer a timeout (or a success naming a server that cannot lead).
 *     And a transfer's TimeoutNow leaves only once the target acknowledged the leader's whole written log
 *     at its term (as the checker heard the acknowledgements): a target sent off early campaigns on a
 *     shorter log. (A removed leader's hand-over as it steps down, §4.2.2, is not a transfer.)
 *  8. A linearizable read (raft harness) is answered only by a leader whose commit index holds an entry
 *     of its term (its no-op committed), and — without lease reads — after a quorum of voters echoed a
 *     ReadIndex round that left at or after the read's arrival (an answer to an older round proves
 *     leadership only before the read); with lease reads (thesis §6.4.1), only while a quorum has echoed a
 *     heartbeat round sent less than electionTimeoutMsMin × (1 − drift bound) ago (send times and
 *     echoes as the checker saw them leave and arrive), and never after the leader sent TimeoutNow in its
 *     term (the target's RequestVotes override the disregard rule a lease rests on, §3.10).
 */
import {
  checkMessage,
  checkTermJump,
  type AppendEntries,
  type Entry,
  type Membership,
  type RaftMessage,
} from '../../core/raft/messages.js';
import { checkSenderCounts } from '../../core/raft/identity.js';
import type { RaftState } from '../../core/raft/raft.js';
import type { DurableState, Effect, Input, NodeId, StorageOp } from '../../core/types.js';

/** Reads tracked above Raft that are never answered (timed out, node crashed) are forgotten past this many per node. */
const machineReadsMax = 4096;

/** What a node has written (durable or queued), as far as the rules need it. */
interface Shadow {
  term: number;
  vote: string | null;
  snapIndex: number;
  snapTerm: number;
  /** The durable log, by position: entry index and term. */
  readonly indexes: number[];
  readonly terms: number[];
}

interface StepView {
  /** The Raft message this step handles, if any (with its sender). */
  message: RaftMessage | null;
  from: NodeId | null;
  isStart: boolean;
  /** The success AppendReply this step sent to the message's sender (its matchIndex), or -1. */
  ackIndex: number;
  /** Whether this step traced a snapshot install. */
  installed: boolean;
  /** Whether this step cut the node's log (a conflicting suffix). */
  truncated: boolean;
  /** Whether this step traced a check-quorum step-down (`raft.steppedDownNoQuorum`). */
  quorumStepDown: boolean;
}

/** What the checker saw a node receive as leader (or candidate) of one term. */
interface Heard {
  term: number;
  /** Granted (real) votes of this term, by sender. */
  readonly grants: Set<NodeId>;
  /** Highest index each follower acknowledged at this term. */
  readonly acked: Map<NodeId, number>;
  /** The checker's step count when each follower's last reply of this term arrived. */
  readonly heardAtStep: Map<NodeId, number>;
  /** When (the node's clock) each follower's last reply of this term arrived. */
  readonly heardAtMs: Map<NodeId, number>;
  /** The same on the node's monotonic clock (NodeRules.monoMs). */
  readonly heardAtMonoMs: Map<NodeId, number>;
  /** When (the node's clock) the node was first seen leading this term. */
  ledSinceMs: number | null;
  /**
   * When (the node's clock) the leader last came back from starvation (a pause, a busy host, a clock
   * jump: its previous step more than a heartbeat interval earlier). The node defers check-quorum then
   * (core/raft checkStarved), so the window starts again there.
   */
  starvedAtMs: number;
  /** The leader's voter set as last seen, and when (its clock) it last changed: the window starts again there. */
  votersKey: string;
  votersChangedAtMs: number;
  /** The voters array `votersKey` was last computed from (the same array cannot have another key). */
  votersSeen: readonly string[] | null;
  /** Highest ReadIndex round each follower echoed at this term. */
  readonly echoed: Map<NodeId, number>;
  /** When (the node's clock) each round was first sent at this term. */
  readonly roundSentMs: Map<number, number>;
  /** The rounds first sent at this term, in order, and the checker's step at which each first left. */
  readonly roundSeqs: number[];
  readonly roundSteps: number[];
  /** Whether the node sent TimeoutNow at this term (a lease is void from then on: rule 8). */
  timeoutNowSent: boolean;
}

interface Before {
  role: RaftState['role'];
  term: number;
  commit: number;
  prevIndex: number;
  token: unknown;
  /** The voters of the configuration in force when the step began. */
  voters: readonly NodeId[];
}

/**
 * What the checker keeps per node between and within steps, in one record (it was seven maps keyed by
 * node id, each read or written on every input and effect). The step view and the before-state are
 * reused objects: `stepActive` says whether `step` describes the current step, `before` is null until
 * the node's first step after a start.
 */
interface NodeRules {
  /** The node's clock at its current step (the input's nowMs); undefined before its first input. */
  nowMs: number | undefined;
  /** How long (the node's clock) since its previous step, at its current step. */
  gapMs: number;
  /** Whether the current step is its heartbeat timer. */
  heartbeat: boolean;
  /** A monotonic clock of the node's current process: the sum of the forward steps of its inputs' clocks. */
  monoMs: number;
  /** The previous input's clock of the current process (undefined at its start). */
  lastInputMs: number | undefined;
  readonly step: StepView;
  stepActive: boolean;
  before: Before | null;
}

const hardStateKeys = new Set(['raft/hardState', 'hardState']);
const snapshotKeys = new Set(['raft/snapshot', 'snapshot']);
const logNames = new Set(['raft/log', 'log']);

/** The first ReadIndex round that left at or after checker step `step` (Infinity: none yet). */
function firstRoundFrom(h: Heard, step: number): number {
  const steps = h.roundSteps;
  let lo = 0;
  let hi = steps.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (steps[mid]! < step) lo = mid + 1;
    else hi = mid;
  }
  return lo < steps.length ? h.roundSeqs[lo]! : Infinity;
}

function newHeard(term: number): Heard {
  const h: Heard = {
    term,
    grants: new Set(),
    acked: new Map(),
    heardAtStep: new Map(),
    heardAtMs: new Map(),
    heardAtMonoMs: new Map(),
    ledSinceMs: null,
    starvedAtMs: -Infinity,
    votersKey: '',
    votersChangedAtMs: -Infinity,
    votersSeen: null,
    echoed: new Map(),
    roundSentMs: new Map(),
    roundSeqs: [],
    roundSteps: [],
    timeoutNowSent: false,
  };
  return h;
}

/** `/(^|:)heartbeat$/` without a regular expression (it ran on every input). */
function isHeartbeatTimer(timer: string): boolean {
  return timer === 'heartbeat' || timer.endsWith(':heartbeat');
}

function shadowTermAt(sh: Shadow, index: number): number | undefined {
  if (index === sh.snapIndex) return sh.snapTerm;
  const n = sh.indexes.length;
  if (n === 0) return undefined;
  const k = index - sh.indexes[0]!;
  return k >= 0 && k < n && sh.indexes[k] === index ? sh.terms[k] : undefined;
}

export class RaftRuleChecker {
  private readonly shadows = new Map<NodeId, Shadow>();
  private readonly nodes = new Map<NodeId, NodeRules>();
  private readonly heard = new Map<NodeId, Heard>();
  /** node → term → how many grants to the recorded candidate left or may still leave (a crash's unsent ones not counted). */
  private readonly grantCounts = new Map<NodeId, Map<number, number>>();
  /** Reads tracked above Raft (`readArrived`): node → key → the checker step at which it arrived. */
  private readonly machineReads = new Map<NodeId, Map<string, number>>();
  /** node → term → the candidate it granted its vote to (kept across restarts: one vote per term). */
  private readonly votes = new Map<NodeId, Map<number, NodeId>>();
  /** Linearizable reads waiting on a node: request id → the checker step at which it arrived. */
  private readonly reads = new Map<NodeId, Map<number, number>>();
  /** Rule 12: a transfer to a non-voter that arrived in the node's current step: its request id and target. */
  private readonly transfersToRefuse = new Map<NodeId, { readonly requestId: number; readonly to: string }>();
  private stepCount = 0;
  /** How many rule checks ran, by rule (for the bench and the tests that show a rule is exercised). */
  readonly counts = { sends: 0, acks: 0, leaderCommits: 0, followerCommits: 0, votes: 0, elections: 0, reads: 0 };

  /** A node (re)starts from `durable`: its shadow is what it loaded. */
  onNodeStart(nodeId: NodeId, durable: DurableState): void {
    // A process that starts on an empty disk is a new server (a new server id, core/raft/identity.ts): the votes
    // "one vote per term" holds a node to were made by the server whose disk was replaced. A grant leaves only
    // after its vote is synced, so a disk that kept its data is never empty here once it granted one. Round P's
    // raft/disk-replaced-membership seed 3488: n2 voted for n3 at term 9, its disk was replaced, the new n2 was
    // added back as a learner and answered n5's request at term 9 — a different server; whether its vote may
    // count is for the identity check and Election Safety to judge.
    if (durable.records.size === 0 && durable.logs.size === 0) {
      this.votes.delete(nodeId);
      this.grantCounts.delete(nodeId);
    }
    const sh: Shadow = { term: 0, vote: null, snapIndex: 0, snapTerm: 0, indexes: [], terms: [] };
    for (const [key, value] of durable.records) {
      if (hardStateKeys.has(key)) {
        const hs = value as { term?: number; vote?: string | null } | null;
        sh.term = hs?.term ?? 0;
        sh.vote = hs?.vote ?? null;
      } else if (snapshotKeys.has(key)) {
        const snap = value as { lastIndex?: number; lastTerm?: number } | null;
        sh.snapIndex = snap?.lastIndex ?? 0;
        sh.snapTerm = snap?.lastTerm ?? 0;
      }
    }
    for (const [name, log] of durable.logs) {
      if (!logNames.has(name)) continue;
      for (const e of log.entries as Entry[]) {
        if (!e || typeof e !== 'object' || typeof e.index !== 'number') break; // a corrupt record: the node refuses it
        sh.indexes.push(e.index);
        sh.terms.push(e.term);
      }
    }
    this.shadows.set(nodeId, sh);
    this.rulesOf(nodeId).before = null;
  }

  private rulesOf(nodeId: NodeId): NodeRules {
    let n = this.nodes.get(nodeId);
    if (n === undefined) {
      n = {
        nowMs: undefined,
        gapMs: 0,
        heartbeat: false,
        monoMs: 0,
        lastInputMs: undefined,
        step: {
          message: null,
          from: null,
          isStart: false,
          ackIndex: -1,
          installed: false,
          truncated: false,
          quorumStepDown: false,
        },
        stepActive: false,
        before: null,
      };
      this.nodes.set(nodeId, n);
    }
    return n;
  }

  /** The view of the node's current step, or undefined between steps. */
  private stepOf(nodeId: NodeId): StepView | undefined {
    const n = this.nodes.get(nodeId);
    return n?.stepActive ? n.step : undefined;
  }

  /** The input a node is about to step on; `raft` is the node's state before it (for the server-id check). */
  onInput(nodeId: NodeId, input: Input<unknown, unknown>, raft?: RaftState | null): void {
    this.stepCount++;
    this.transfersToRefuse.delete(nodeId); // a step that ended without afterStep (a crash) left nothing to judge
    // The node's own clock at this step: the lease and check-quorum rules measure time with it, as the
    // node does (left unset, both rules compared 0 with 0 and could never fire).
    const n = this.rulesOf(nodeId);
    const previousMs = n.nowMs;
    n.gapMs = previousMs === undefined || input.kind === 'start' ? Infinity : input.nowMs - previousMs;
    n.nowMs = input.nowMs;
    if (input.kind === 'start' || n.lastInputMs === undefined) n.monoMs = input.nowMs;
    else if (input.nowMs > n.lastInputMs) n.monoMs += input.nowMs - n.lastInputMs;
    n.lastInputMs = input.nowMs;
    // Check-quorum is judged at the leader's heartbeat, where the node runs it (also never set before).
    n.heartbeat = input.kind === 'timer' && isHeartbeatTimer(input.timer);
    let message: RaftMessage | null = null;
    let from: NodeId | null = null;
    if (input.kind === 'message') {
      const envelope = input.message as { m?: string; p?: unknown } | null; // a stranger's garbage may be null
      // A message the node drops unread (malformed, or a forged term jump: core/raft/messages.ts; a vote
      // or an acknowledgement from a member's name under another server id: core/raft/identity.ts) is no
      // input to the rules.
      if (envelope?.m === 'raft' && checkMessage(envelope.p) && !checkFromStranger(raft, input.from, envelope.p))
        ((message = envelope.p), (from = input.from));
    } else if (input.kind === 'request') {
      const request = input.request as { machine?: string; body?: { type?: string } };
      if (request.machine === 'raft' && request.body?.type === 'read') {
        let waiting = this.reads.get(nodeId);
        if (!waiting) this.reads.set(nodeId, (waiting = new Map()));
        waiting.set(input.requestId, this.stepCount);
      } else if (request.machine === 'raft' && request.body?.type === 'transferLeadership') {
        const to = (request.body as { to?: unknown }).to;
        if (raft?.role === 'leader' && typeof to === 'string' && to !== nodeId && !raft.membership.voters.includes(to))
          this.transfersToRefuse.set(nodeId, { requestId: input.requestId, to });
      }
    }
    if (message && from !== null) this.noteHeard(nodeId, n, from, message);
    const step = n.step;
    step.message = message;
    step.from = from;
    step.isStart = input.kind === 'start';
    step.ackIndex = -1;
    step.installed = false;
    step.truncated = false;
    step.quorumStepDown = false;
    n.stepActive = true;
  }

  /** The node's record of `term`, started afresh when it held another term's. */
  private heardAt(nodeId: NodeId, term: number): Heard {
    let h = this.heard.get(nodeId);
    if (!h || h.term !== term) this.heard.set(nodeId, (h = newHeard(term)));
    return h;
  }

  /** Records the votes and acknowledgements a node receives at its current term (as of its last step). */
  private noteHeard(nodeId: NodeId, n: NodeRules, from: NodeId, m: RaftMessage): void {
    const b = n.before;
    if (!b || m.term !== b.term) return;
    const h = this.heardAt(nodeId, b.term);
    if (m.type === 'voteReply' && m.granted && !m.preVote) h.grants.add(from);
    else if (m.type === 'appendReply' || m.type === 'snapshotReply') {
      h.heardAtStep.set(from, this.stepCount);
      h.heardAtMs.set(from, n.nowMs ?? 0);
      h.heardAtMonoMs.set(from, n.monoMs);
      if (m.readSeq > (h.echoed.get(from) ?? 0)) h.echoed.set(from, m.readSeq);
      const index = m.type === 'appendReply' ? (m.success ? m.matchIndex : -1) : m.done ? m.lastIndex : -1;
      if (index > (h.acked.get(from) ?? -1)) h.acked.set(from, index);
    }
  }

  /** Checks one effect of `nodeId` against the rules (persists update the shadow first). */
  onEffect(nodeId: NodeId, effect: Effect, s: RaftState | null): string | null {
    if (effect.kind === 'reply' && this.transfersToRefuse.get(nodeId)?.requestId === effect.requestId) {
      const { to } = this.transfersToRefuse.get(nodeId)!;
      this.transfersToRefuse.delete(nodeId);
      if ((effect.response as { ok?: unknown } | null)?.ok !== false)
        return `transfer: ${nodeId} answered a leadership transfer to ${to}, not a voter of its configuration, with ${JSON.stringify(effect.response)} instead of refusing it`;
    }
    if (effect.kind === 'reply' && s) return this.checkReadReply(nodeId, effect.requestId, effect.response, s);
    if (effect.kind === 'trace' && effect.event.type === 'raft.snapshotInstalled') {
      const step = this.stepOf(nodeId);
      if (step) step.installed = true;
      return null;
    }
    if (effect.kind === 'trace' && effect.event.type === 'raft.steppedDownNoQuorum') {
      const step = this.stepOf(nodeId);
      if (step) step.quorumStepDown = true;
      return null;
    }
    const sh = this.shadows.get(nodeId);
    if (!sh) return null; // a node driven by hand without a start: nothing known about its disk
    if (effect.kind === 'persist') {
      for (const op of effect.ops) {
        const gap = checkContiguous(nodeId, sh, op);
        if (gap) return gap;
        applyOp(sh, op);
        if (op.op === 'truncate' && logNames.has(op.log)) {
          const step = this.stepOf(nodeId);
          if (step) step.truncated = true;
        } else if (op.op === 'append' && logNames.has(op.log) && s?.role === 'leader') {
          const problem = checkConfigAppend(nodeId, op.entries as Entry[], s);
          if (problem) return problem;
        }
      }
      return null;
    }
    if (effect.kind !== 'send' || !s) return null;
    const envelope = effect.message as { m?: string; p?: unknown };
    if (envelope.m !== 'raft' && envelope.m !== undefined) return null;
    const m = (envelope.m === undefined ? effect.message : envelope.p) as RaftMessage;
    this.counts.sends++;
    return this.checkSend(nodeId, effect.to, m, s, sh);
  }

  private checkSend(nodeId: NodeId, to: NodeId, m: RaftMessage, s: RaftState, sh: Shadow): string | null {
    const preVote = (m.type === 'vote' || m.type === 'voteReply') && m.preVote;
    if (!preVote && m.term > sh.term)
      return `ORDERING RULE: ${nodeId} sent ${m.type} to ${to} at term ${m.term} before persisting the term (written: ${sh.term})`;
    switch (m.type) {
      case 'vote':
        if (s.membership.learners.includes(nodeId))
          return `membership: ${nodeId}, a learner of its configuration (voters ${s.membership.voters.join(' ')}), asked ${to} for a ${m.preVote ? 'pre-vote' : 'vote'} at term ${m.term}: a non-voting member takes no part in elections (thesis §4.2.1)`;
        if (!m.preVote && (sh.term !== m.term || sh.vote !== nodeId))
          return `ORDERING RULE: ${nodeId} sent RequestVote at term ${m.term} before persisting its vote for itself (written: term ${sh.term}, vote ${sh.vote})`;
        return null;
      case 'voteReply':
        if (!m.granted) return null;
        if (!m.preVote && (sh.term !== m.term || sh.vote !== to))
          return `ORDERING RULE: ${nodeId} granted its vote to ${to} at term ${m.term} before persisting it (written: term ${sh.term}, vote ${sh.vote})`;
        return this.checkGrant(nodeId, to, m.term, m.preVote, s);
      case 'appendReply': {
        if (!m.success) return null;
        const step = this.stepOf(nodeId);
        if (step && step.from === to) step.ackIndex = Math.max(step.ackIndex, m.matchIndex);
        this.counts.acks++;
        return checkWritten(nodeId, 'acknowledged index', m.matchIndex, to, s, sh);
      }
      case 'append': {
        this.noteRoundSent(nodeId, m.term, m.readSeq);
        if (m.entries.length === 0) return null;
        const last = m.entries[m.entries.length - 1]!;
        return checkWritten(nodeId, 'sent entries up to', last.index, to, s, sh);
      }
      case 'snapshot':
        this.noteRoundSent(nodeId, m.term, m.readSeq);
        return null;
      case 'timeoutNow': {
        this.noteTimeoutNowSent(nodeId, m.term);
        // §3.10: a transfer's TimeoutNow leaves only once the target's log matches the leader's (else it
        // campaigns on a shorter log, loses, and the leader's writes stalled for nothing) — acknowledged,
        // as heard here, up to what the leader had written when it sent it. A leader that applied its own
        // removal hands over to its best voter as it steps down (§4.2.2), whatever that voter holds: not
        // a transfer (it is no longer leader after the step).
        if (s.role !== 'leader') return null;
        const h = this.heard.get(nodeId);
        const acked = h && h.term === m.term ? (h.acked.get(to) ?? -1) : -1;
        const written = sh.indexes.at(-1) ?? sh.snapIndex;
        if (acked < written)
          return `transfer: ${nodeId} sent TimeoutNow to ${to} at term ${m.term} with ${to}'s log acknowledged up to ${acked < 0 ? 'nothing' : acked} of the ${written} it had written (thesis §3.10: the target's log must match first)`;
        return null;
      }
      case 'snapshotReply':
        if (m.done && m.lastIndex > sh.snapIndex && shadowTermAt(sh, m.lastIndex) === undefined)
          return `ORDERING RULE: ${nodeId} reported the snapshot at ${m.lastIndex} installed before writing it (written: snapshot ${sh.snapIndex}, log ${sh.indexes[0] ?? '-'}..${sh.indexes.at(-1) ?? '-'})`;
        return null;
      default:
        return null;
    }
  }

  /** A leader sent TimeoutNow at `term`: its target may be elected within any lease (for the lease rule). */
  private noteTimeoutNowSent(nodeId: NodeId, term: number): void {
    const b = this.nodes.get(nodeId)?.before;
    if (b && b.term === term) this.heardAt(nodeId, term).timeoutNowSent = true;
  }

  /** The first time a leader sent ReadIndex round `readSeq` at `term` (for the lease rule). */
  private noteRoundSent(nodeId: NodeId, term: number, readSeq: number): void {
    const b = this.nodes.get(nodeId)?.before;
    if (!b || b.term !== term) return;
    // A new leader's first rounds leave before any reply of its term arrived: record them too (else a
    // lease on its first echoed round looked like one on a round never sent).
    const h = this.heardAt(nodeId, term);
    if (h.roundSentMs.has(readSeq)) return;
    h.roundSentMs.set(readSeq, this.nodes.get(nodeId)?.nowMs ?? 0);
    if (h.roundSentMs.size > 256) h.roundSentMs.delete(h.roundSentMs.keys().next().value!);
    if (readSeq > (h.roundSeqs.at(-1) ?? -1)) {
      h.roundSeqs.push(readSeq);
      h.roundSteps.push(this.stepCount);
      if (h.roundSeqs.length > 512) {
        h.roundSeqs.splice(0, 256);
        h.roundSteps.splice(0, 256);
      }
    }
  }

  /** §5.4.1 and one vote per term: the grant the node just sent. */
  /**
   * Grants the node emitted that never left: they waited behind the vote's persist when it crashed.
   * Such a grant was never given; the node may have lost the unsynced vote and vote again at that term
   * — or the vote may have survived the crash (a torn write keeps a prefix), and then it holds it. So
   * the grant stays on record but becomes tentative: a later grant to another candidate at that term
   * replaces it instead of breaking "one vote per term". A grant that left (sent at once, or released
   * after its sync) is never tentative: a count per (node, term) tells them apart.
   */
  onDropped(nodeId: NodeId, effects: readonly Effect[]): void {
    const counts = this.grantCounts.get(nodeId);
    if (!counts) return;
    for (const effect of effects) {
      if (effect.kind !== 'send') continue;
      const envelope = effect.message as { m?: string; p?: unknown };
      const m = (envelope.m === undefined ? effect.message : envelope.p) as RaftMessage | null;
      if (envelope.m !== undefined && envelope.m !== 'raft') continue;
      if (m?.type !== 'voteReply' || !m.granted || m.preVote) continue;
      counts.set(m.term, (counts.get(m.term) ?? 1) - 1);
    }
  }

  private checkGrant(nodeId: NodeId, to: NodeId, term: number, preVote: boolean, s: RaftState): string | null {
    this.counts.votes++;
    const step = this.stepOf(nodeId);
    const m = step?.message;
    if (m?.type === 'vote' && step!.from === to) {
      const myTerm = s.log.lastTerm;
      if (!(m.lastTerm > myTerm || (m.lastTerm === myTerm && m.lastIndex >= s.log.lastIndex)))
        return `§5.4.1: ${nodeId} granted its ${preVote ? 'pre-vote' : 'vote'} at term ${term} to ${to}, whose log (last ${m.lastIndex}@${m.lastTerm}) is behind its own (last ${s.log.lastIndex}@${myTerm})`;
    }
    if (preVote) return null;
    let byTerm = this.votes.get(nodeId);
    if (!byTerm) this.votes.set(nodeId, (byTerm = new Map()));
    let counts = this.grantCounts.get(nodeId);
    if (!counts) this.grantCounts.set(nodeId, (counts = new Map()));
    const earlier = byTerm.get(term);
    const earlierLeft = (counts.get(term) ?? 0) > 0; // else every earlier grant at this term died unsent
    if (earlier !== undefined && earlier !== to && earlierLeft)
      return `one vote per term: ${nodeId} granted its vote at term ${term} to ${earlier} and to ${to}`;
    if (earlier !== to) counts.set(term, 0);
    byTerm.set(term, to);
    counts.set(term, (counts.get(term) ?? 0) + 1);
    return null;
  }

  /** Rule 8: a read answered ok by a leader that committed in its term and heard from a quorum since. */
  private checkReadReply(nodeId: NodeId, requestId: number, response: unknown, s: RaftState): string | null {
    const waiting = this.reads.get(nodeId);
    const arrivedAt = waiting?.get(requestId);
    if (arrivedAt === undefined) return null;
    waiting!.delete(requestId);
    if (!(response as { ok?: boolean } | null)?.ok) return null;
    return this.checkConfirmed(nodeId, arrivedAt, s);
  }

  /**
   * Rule 8 for reads a driver above Raft tracks (the agent's consistent reads, which reach Raft as local
   * calls): `key` arrived in this node's current step; `readAnswered` judges the answer to it.
   */
  readArrived(nodeId: NodeId, key: string): void {
    let waiting = this.machineReads.get(nodeId);
    if (!waiting) this.machineReads.set(nodeId, (waiting = new Map()));
    if (waiting.size >= machineReadsMax) waiting.delete(waiting.keys().next().value!); // unanswered: forget the oldest
    waiting.set(key, this.stepCount);
  }

  readAnswered(nodeId: NodeId, key: string, s: RaftState): string | null {
    const waiting = this.machineReads.get(nodeId);
    const arrivedAt = waiting?.get(key);
    if (arrivedAt === undefined) return null;
    waiting!.delete(key);
    return this.checkConfirmed(nodeId, arrivedAt, s);
  }

  private checkConfirmed(nodeId: NodeId, arrivedAt: number, s: RaftState): string | null {
    this.counts.reads++;
    if (s.role !== 'leader' || s.log.termAt(s.commitIndex) !== s.term)
      return `read: ${nodeId} (${s.role} at term ${s.term}) answered a linearizable read with commit index ${s.commitIndex} of term ${s.log.termAt(s.commitIndex)}, before an entry of its term committed`;
    const h = this.heard.get(nodeId);
    const voters = s.membership.voters;
    // A voter confirms the read by echoing a round that first left at or after the read's arrival: an
    // answer to an older round, even one that arrives later, proves leadership only before the read.
    const round = h ? firstRoundFrom(h, arrivedAt) : Infinity;
    const confirmedBy = (members: readonly NodeId[]): number => {
      let n = members.includes(nodeId) ? 1 : 0;
      for (const id of members)
        if (id !== nodeId && (h?.heardAtStep.get(id) ?? -1) > arrivedAt && (h?.echoed.get(id) ?? 0) >= round) n++;
      return n;
    };
    const count = confirmedBy(voters);
    if (count >= Math.floor(voters.length / 2) + 1) return null; // confirmed by a round after it arrived
    // A configuration change appended in this very step (a promotion answered in the step that answered the
    // read: raft/disk-replaced-membership seed 3729) leaves the round counted by the configuration in force
    // when the step began. One change at a time, so a quorum of that configuration overlaps every quorum of the
    // new one: it confirms the leader as well.
    const earlier = this.nodes.get(nodeId)?.before?.voters;
    if (earlier !== undefined && earlier !== voters && confirmedBy(earlier) >= Math.floor(earlier.length / 2) + 1)
      return null;
    if (s.config.leaseReads) return this.checkLease(nodeId, s, h);
    return `read: ${nodeId} answered a linearizable read at term ${s.term} with ${count} of ${voters.length} voters having echoed a ReadIndex round sent since it arrived (round ${round === Infinity ? 'none sent' : round}; a quorum must confirm the leader first)`;
  }

  /** A lease read: a quorum echoed a round sent within the lease (the quorum-th highest echo's send time). */
  private checkLease(nodeId: NodeId, s: RaftState, h: Heard | undefined): string | null {
    const voters = s.membership.voters.filter((id) => id !== nodeId);
    const need = Math.floor(s.membership.voters.length / 2) + 1 - (s.membership.voters.includes(nodeId) ? 1 : 0);
    if (need <= 0) return null;
    if (!h || h.term !== s.term) return null; // answered through a round it saw echoed: the ReadIndex path
    if (h.timeoutNowSent)
      return `lease read: ${nodeId} answered a read on a lease at term ${s.term} after sending TimeoutNow in that term (the transfer's target is elected without waiting out any lease, thesis §3.10)`;
    const echoes = voters.map((id) => h.echoed.get(id) ?? 0).sort((a, b) => b - a);
    const round = echoes[need - 1] ?? 0;
    const sentMs = h.roundSentMs.get(round);
    const nowMs = this.nodes.get(nodeId)?.nowMs ?? 0;
    const leaseMs = s.config.electionTimeoutMsMin * (1 - s.config.clockDriftBoundPpm / 1e6);
    if (sentMs === undefined || nowMs - sentMs >= leaseMs)
      return `lease read: ${nodeId} answered a read at ${nowMs.toFixed(1)} ms on a lease from round ${round}${sentMs === undefined ? ' (never seen sent at this term)' : ` sent at ${sentMs.toFixed(1)} ms`}; the lease lasts ${leaseMs.toFixed(1)} ms`;
    return null;
  }

  /** After a step of `nodeId`: the commit rules and the monotonic terms. */
  afterStep(nodeId: NodeId, s: RaftState, token: unknown): string | null {
    const n = this.rulesOf(nodeId);
    const step = n.stepActive ? n.step : undefined;
    n.stepActive = false;
    const transfer = this.transfersToRefuse.get(nodeId);
    this.transfersToRefuse.delete(nodeId);
    const unrefused =
      transfer === undefined
        ? null
        : `transfer: ${nodeId} (${s.role} at term ${s.term}) accepted a leadership transfer to ${transfer.to}, not a voter of its configuration, instead of refusing it at once`;
    let b = n.before ?? undefined;
    if (b && b.token !== token) b = undefined; // a new process: nothing to compare with
    const problem =
      b && step
        ? (this.checkTerms(nodeId, s, b, step) ??
          this.checkElection(nodeId, s, b) ??
          this.checkCommit(nodeId, s, b, step) ??
          this.checkQuorumStepDown(nodeId, s, b, step))
        : null;
    if (n.before === null)
      n.before = {
        role: s.role,
        term: s.term,
        commit: s.commitIndex,
        prevIndex: s.log.prevIndex,
        token,
        voters: s.membership?.voters ?? [],
      };
    else {
      const before = n.before;
      before.role = s.role;
      before.term = s.term;
      before.commit = s.commitIndex;
      before.prevIndex = s.log.prevIndex;
      before.token = token;
      before.voters = s.membership?.voters ?? [];
    }
    return (
      unrefused ??
      problem ??
      checkTermsAtBoundary(nodeId, s) ??
      this.checkHardStateWritten(nodeId, s) ??
      this.checkHeldVote(nodeId, s) ??
      checkMembership(nodeId, s, step) ??
      this.checkQuorumContact(nodeId, s)
    );
  }

  /** Rule 11: the node's term and vote are what it wrote; a restart would load exactly these. */
  private checkHardStateWritten(nodeId: NodeId, s: RaftState): string | null {
    const sh = this.shadows.get(nodeId);
    if (!sh || (s.term === sh.term && (s.vote ?? null) === sh.vote)) return null;
    return `recovery: ${nodeId} holds term ${s.term}, vote ${s.vote ?? 'none'} at the end of a step but has written term ${sh.term}, vote ${sh.vote ?? 'none'} (a restart would not load what it acts on)`;
  }

  /** A vote held for another node is one this node granted (a pre-vote records nothing, §9.6). */
  private checkHeldVote(nodeId: NodeId, s: RaftState): string | null {
    if (!s.vote || s.vote === nodeId || !this.shadows.has(nodeId)) return null; // no start seen: grants unknown
    const granted = this.votes.get(nodeId)?.get(s.term);
    if (granted === s.vote) return null;
    return `vote: ${nodeId} holds a vote for ${s.vote} at term ${s.term} but granted ${granted === undefined ? 'none' : `its vote to ${granted}`} at that term`;
  }

  /** Rule 6: newer terms are adopted; appends are acknowledged and snapshots installed only at the current term. */
  private checkTerms(nodeId: NodeId, s: RaftState, b: Before, step: StepView): string | null {
    const m = step.message;
    if (!m) return null;
    // A RequestVote may be refused by the disregard rule without moving the term (thesis §4.2.3) — but
    // not one sent on the leader's own request (a transfer, §3.10): the rule has that exception, or a
    // leadership transfer could never win while the old leader is heard.
    const exempt =
      (m.type === 'vote' && (m.preVote || !m.transfer)) ||
      m.type === 'timeoutNow' ||
      (m.type === 'voteReply' && m.preVote) ||
      // A node's own append ack (a lone voter's durable marker) is taken only at its term; one claiming
      // our id from elsewhere (a stranger on open links) is ignored by step.ts, as it should be.
      (m.type === 'appendReply' && step.from === nodeId) ||
      !checkTermJump(m.term, b.term);
    if (!exempt && m.term > s.term)
      return `§5.1: ${nodeId} received ${m.type} of term ${m.term} from ${step.from} and stayed at term ${s.term}`;
    if (m.type === 'append' && step.ackIndex >= 0 && m.term !== s.term)
      return `§5.1: ${nodeId} at term ${s.term} acknowledged an AppendEntries of term ${m.term} from ${step.from}`;
    if (m.type === 'append' && step.ackIndex >= 0 && (s.role !== 'follower' || s.leader !== step.from))
      return `§5.2: ${nodeId} acknowledged an AppendEntries of term ${m.term} from ${step.from} but is a ${s.role} following ${s.leader ?? 'nobody'}`;
    if (m.type === 'snapshot' && step.installed && m.term !== s.term)
      return `§5.1: ${nodeId} at term ${s.term} installed a snapshot sent at term ${m.term} by ${step.from}`;
    return null;
  }

  /** Rule 10: a leader with check-quorum that heard from no quorum for too long steps down at a heartbeat. */
  private checkQuorumContact(nodeId: NodeId, s: RaftState): string | null {
    if (s.role !== 'leader' || !s.config?.checkQuorum) return null;
    const n = this.rulesOf(nodeId);
    const nowMs = n.nowMs ?? 0;
    const h = this.heardAt(nodeId, s.term);
    if (h.ledSinceMs === null) h.ledSinceMs = nowMs;
    if (n.gapMs > s.config.heartbeatIntervalMs) h.starvedAtMs = nowMs;
    // A configuration change (applied on append) can leave as the quorum voters not heard from for a
    // while; the node judges the new set at its next check, so the window starts again at the change.
    // The key is rebuilt only when the membership object changed (it is replaced, never mutated).
    if (s.membership.voters !== h.votersSeen) {
      h.votersSeen = s.membership.voters;
      const votersKey = s.membership.voters.join(',');
      if (votersKey !== h.votersKey) ((h.votersKey = votersKey), (h.votersChangedAtMs = nowMs));
    }
    if (!n.heartbeat) return null;
    // The node checks every window W with acks younger than W, so it steps down within 2W plus a
    // heartbeat of losing its quorum; one more heartbeat of slack for the timer's own lateness.
    // The window is the documented default (config.ts: `checkQuorumWindowMs`, else electionTimeoutMsMin,
    // etcd's rule), derived here rather than read through core's checkQuorumWindowMsOf: a wrong default
    // in core must not move the oracle with it (issue 12, round D: D08).
    const ownWindowMs = s.config.checkQuorumWindowMs ?? s.config.electionTimeoutMsMin;
    const windowMs = 2 * ownWindowMs + 2 * s.config.heartbeatIntervalMs;
    const voters = s.membership.voters;
    let count = voters.includes(nodeId) ? 1 : 0;
    for (const id of voters) {
      const sinceMs = Math.max(h.heardAtMs.get(id) ?? h.ledSinceMs, h.starvedAtMs, h.votersChangedAtMs);
      if (id !== nodeId && nowMs - sinceMs < windowMs) count++;
    }
    if (count < Math.floor(voters.length / 2) + 1)
      return `check-quorum: ${nodeId} still leads term ${s.term} at ${nowMs.toFixed(1)} ms having heard from only ${count} of its ${voters.length} voters in the last ${windowMs} ms`;
    return null;
  }

  /** Rule 10, the other way: a check-quorum step-down only when no quorum answered within half a window. */
  private checkQuorumStepDown(nodeId: NodeId, s: RaftState, b: Before, step: StepView): string | null {
    if (!step.quorumStepDown || b.role !== 'leader') return null;
    const n = this.rulesOf(nodeId);
    const h = this.heard.get(nodeId);
    // The documented window (as rule 10 reads it); half of it leaves the node's own timing all the room it needs.
    const recentMs = (s.config.checkQuorumWindowMs ?? s.config.electionTimeoutMsMin) / 2;
    const voters = s.membership.voters;
    let count = voters.includes(nodeId) ? 1 : 0;
    const heardFrom: NodeId[] = [];
    if (h && h.term === b.term)
      for (const id of voters) {
        const atMs = h.heardAtMonoMs.get(id);
        if (id === nodeId || atMs === undefined || n.monoMs - atMs > recentMs) continue;
        count++;
        heardFrom.push(id);
      }
    if (count < Math.floor(voters.length / 2) + 1) return null;
    return `check-quorum: ${nodeId} stepped down from leading term ${b.term} for lack of a quorum, but ${count} of its ${voters.length} voters (itself${heardFrom.map((id) => `, ${id}`).join('')}) were heard within the last ${recentMs} ms`;
  }

  /** Rule 5: a new leader holds granted votes of its term from a quorum of its voters. */
  private checkElection(nodeId: NodeId, s: RaftState, b: Before): string | null {
    if (s.role !== 'leader' || (b.role === 'leader' && b.term === s.term)) return null;
    this.counts.elections++;
    const voters = s.membership.voters;
    const h = this.heard.get(nodeId);
    let count = voters.includes(nodeId) ? 1 : 0;
    if (h && h.term === s.term) for (const id of h.grants) if (id !== nodeId && voters.includes(id)) count++;
    if (count < Math.floor(voters.length / 2) + 1)
      return `election: ${nodeId} became leader of term ${s.term} with ${count} granted votes of that term from its ${voters.length} voters (${voters.join(' ')})`;
    return null;
  }

  private checkCommit(nodeId: NodeId, s: RaftState, b: Before, step: StepView): string | null {
    if (s.commitIndex <= b.commit || step.isStart) return null;
    if (b.role === 'leader' && s.role === 'leader' && b.term === s.term) {
      this.counts.leaderCommits++;
      const term = s.log.termAt(s.commitIndex);
      if (term !== s.term)
        return `§5.4.2: leader ${nodeId} of term ${s.term} advanced its commit index ${b.commit} → ${s.commitIndex} onto an entry of term ${term} (only an own-term entry may be counted)`;
      return this.checkCommitQuorum(nodeId, s);
    }
    const m = step.message;
    if (m?.type === 'snapshot') return null; // InstallSnapshot sets commit to the snapshot's index
    if (m?.type !== 'append') {
      if (b.role === 'leader' && b.term === s.term) return null; // a leader's commit in the step it stepped down
      return `follower commit: ${nodeId} (${s.role}) advanced its commit index ${b.commit} → ${s.commitIndex} without an AppendEntries`;
    }
    this.counts.followerCommits++;
    const lastNew = m.prevIndex + m.entries.length;
    const matched = step.ackIndex >= 0 ? Math.min(m.commit, lastNew) : b.commit;
    if (s.commitIndex > Math.max(b.commit, matched))
      return `follower commit: ${nodeId} advanced its commit index ${b.commit} → ${s.commitIndex} past what the AppendEntries from ${step.from} matched (prev ${m.prevIndex}, ${m.entries.length} entries, leader commit ${m.commit}${step.ackIndex < 0 ? ', refused' : ''})`;
    return this.checkAck(nodeId, s, b, step, m);
  }

  /** Rule 7: a quorum of voters acknowledged (at this term) up to the leader's new commit index. */
  private checkCommitQuorum(nodeId: NodeId, s: RaftState): string | null {
    const voters = s.membership.voters;
    const h = this.heard.get(nodeId);
    const sh = this.shadows.get(nodeId);
    const selfWritten = !sh || s.commitIndex <= sh.snapIndex || shadowTermAt(sh, s.commitIndex) !== undefined;
    let count = voters.includes(nodeId) && selfWritten ? 1 : 0;
    for (const id of voters)
      if (id !== nodeId && h && h.term === s.term && (h.acked.get(id) ?? -1) >= s.commitIndex) count++;
    if (count < Math.floor(voters.length / 2) + 1)
      return `commit quorum: leader ${nodeId} of term ${s.term} committed index ${s.commitIndex} with only ${count} of its ${voters.length} voters (${voters.join(' ')}) known to hold it`;
    return null;
  }

  /** The success ack of an AppendEntries claims no more than the message matched, with the leader's terms. */
  private checkAck(nodeId: NodeId, s: RaftState, b: Before, step: StepView, m: AppendEntries): string | null {
    if (step.ackIndex < 0) return null;
    const lastNew = m.prevIndex + m.entries.length;
    if (step.ackIndex > Math.max(lastNew, b.prevIndex, b.commit))
      return `follower ack: ${nodeId} acknowledged index ${step.ackIndex} to ${step.from}, but the AppendEntries matched only up to ${lastNew}`;
    if (step.ackIndex <= s.log.prevIndex || step.ackIndex < m.prevIndex) return null;
    const sent = step.ackIndex === m.prevIndex ? m.prevTerm : m.entries[step.ackIndex - m.prevIndex - 1]?.term;
    const held = s.log.termAt(step.ackIndex);
    if (sent !== undefined && held !== undefined && held !== sent)
      return `follower ack: ${nodeId} acknowledged index ${step.ackIndex} to ${step.from} holding term ${held} there, the leader sent term ${sent}`;
    return null;
  }

  /** Appended entries never go below the term before them (rule 4, checked as they are written). */
  static checkAppendedTerms(nodeId: NodeId, entries: readonly Entry[], termBefore: number): string | null {
    let prev = termBefore;
    for (const e of entries) {
      if (e.term < prev)
        return `log terms: ${nodeId} appended entry ${e.index} of term ${e.term} after an entry of term ${prev}`;
      prev = e.term;
    }
    return null;
  }
}

/**
 * Rule 9 on a leader's append: a configuration entry waits for an own-term commit and for the previous
 * change. An entry that only records server ids (core/raft/identity.ts: the same voters and learners
 * as the configuration before it) changes no quorum by name and is not a membership change here.
 */
function checkConfigAppend(nodeId: NodeId, entries: readonly Entry[], s: RaftState): string | null {
  for (const e of entries) {
    if (e.type !== 'config' || e.term !== s.term) continue;
    const replaced = checkIdReplaced(s, e);
    if (replaced !== null)
      return `membership: leader ${nodeId} appended a configuration entry at ${e.index} that ${replaced}`;
    if (checkIdsOnly(s, e)) continue;
    if (s.log.termAt(s.commitIndex) !== s.term)
      return `membership: leader ${nodeId} appended a configuration entry at ${e.index} before committing an entry of its term ${s.term} (commit ${s.commitIndex} is of term ${s.log.termAt(s.commitIndex)})`;
    for (let i = Math.max(s.commitIndex, s.log.prevIndex) + 1; i < e.index; i++)
      if (s.log.entryAt(i)?.type === 'config')
        return `membership: leader ${nodeId} appended a configuration entry at ${e.index} while the one at ${i} is not committed (one change at a time)`;
  }
  return null;
}

/** Whether `node` drops message `m` from `from` as a stranger's (core/raft/step.ts checkFromMember). */
function checkFromStranger(node: RaftState | null | undefined, from: NodeId, m: RaftMessage): boolean {
  if (!node || m.type === 'append' || m.type === 'snapshot' || m.type === 'timeoutNow') return false;
  return !checkSenderCounts(node, from, m.sid);
}

/** The configuration in force just before config entry `e` (the latest config entry below it, else the snapshot's). */
function membershipBefore(s: RaftState, e: Entry): Membership {
  for (let i = e.index - 1; i > s.log.prevIndex; i--) {
    const prev = s.log.entryAt(i);
    if (prev?.type === 'config') return prev.config!;
  }
  return s.snapshotMembership;
}

/**
 * Rule 9, identity clause (round P, session 18): a configuration entry never gives a member of the
 * configuration before it another server id than the one on record there. A server is its id (core/raft/
 * identity.ts; hashicorp/raft's ServerID): a name recorded under a new id in place of the old one removes
 * one server and adds another in a single change — two changes at once, which thesis §4.1 forbids, and the
 * new one (a server that lost its disk) counted at once as if it held what the old one acknowledged.
 * Consul's leader removes the old id first and adds the new one after. Recording an id where none was
 * (identity.ts maybeRecordIds) replaces nobody. Null when the entry keeps every recorded id, else why.
 */
function checkIdReplaced(s: RaftState, e: Entry): string | null {
  const before = membershipBefore(s, e).ids;
  const after = e.config!.ids;
  if (before === undefined || after === undefined) return null;
  for (const name of [...e.config!.voters, ...e.config!.learners]) {
    const was = before[name];
    const now = after[name];
    if (was !== undefined && now !== undefined && was !== now)
      return `records ${name} under server id ${now} in place of ${was}, without removing it first (a replacement is two changes: remove, then add)`;
  }
  return null;
}

/** Whether config entry `e` has the same voters and learners as the configuration in force before it. */
function checkIdsOnly(s: RaftState, e: Entry): boolean {
  const before = membershipBefore(s, e);
  const same = (a: readonly string[], b: readonly string[]) => [...a].sort().join(' ') === [...b].sort().join(' ');
  return same(before.voters, e.config!.voters) && same(before.learners, e.config!.learners);
}

/** Rule 9 after a truncation: the membership in force is the latest configuration entry left in the log. */
function checkMembership(nodeId: NodeId, s: RaftState, step: StepView | undefined): string | null {
  if (!step?.truncated) return null;
  for (let i = s.log.lastIndex; i > s.log.prevIndex; i--) {
    const e = s.log.entryAt(i);
    if (e?.type !== 'config') continue;
    const want = [...e.config!.voters].sort().join(' ');
    const have = [...s.membership.voters].sort().join(' ');
    if (want !== have)
      return `membership: after a truncation ${nodeId} uses voters ${have}, but the latest configuration left in its log (index ${i}) has ${want}`;
    return null;
  }
  return null;
}

/** The log's compaction point, its first entry and the snapshot agree (rule 4 at the boundary). */
function checkTermsAtBoundary(nodeId: NodeId, s: RaftState): string | null {
  const log = s.log;
  const first = log.prevIndex + 1;
  if (first <= log.lastIndex) {
    const t = log.termAt(first);
    if (t !== undefined && t < log.prevTerm)
      return `log terms: ${nodeId} holds entry ${first} of term ${t} after its compaction point ${log.prevIndex} of term ${log.prevTerm}`;
  }
  const snap = s.snapshot;
  if (snap && snap.lastIndex >= log.prevIndex && snap.lastIndex <= log.lastIndex) {
    const t = log.termAt(snap.lastIndex);
    if (t !== undefined && t !== snap.lastTerm)
      return `log terms: ${nodeId} holds term ${t} at index ${snap.lastIndex}, its snapshot there has term ${snap.lastTerm}`;
  }
  return null;
}

/**
 * The entry at `index` that a send to `to` claims (`what`: 'acknowledged index', 'sent entries up to')
 * is written with the term the node holds there. The sentence is built only for a violation: this runs
 * on every acknowledgement and AppendEntries.
 */
function checkWritten(
  nodeId: NodeId,
  what: string,
  index: number,
  to: NodeId,
  s: RaftState,
  sh: Shadow,
): string | null {
  if (index <= sh.snapIndex || index === 0) return null;
  const written = shadowTermAt(sh, index);
  const held = s.log.termAt(index);
  if (written === undefined || (held !== undefined && written !== held))
    return `ORDERING RULE: ${nodeId} ${what} ${index} to ${to} before writing entry ${index}${held !== undefined ? ` of term ${held}` : ''} (written: ${written === undefined ? 'nothing' : `term ${written}`})`;
  return null;
}

/**
 * The durable log stays one run of consecutive indexes: an append continues right after the last entry
 * on disk. A gap is read back at the next start as a corrupt log (core/raft/durable.ts refuses it), so
 * the node would not come back after a crash that corrupted nothing.
 */
function checkContiguous(nodeId: NodeId, sh: Shadow, op: StorageOp): string | null {
  if (op.op !== 'append' || !logNames.has(op.log) || sh.indexes.length === 0) return null;
  const first = (op.entries as Entry[])[0];
  const last = sh.indexes[sh.indexes.length - 1]!;
  if (first === undefined || first.index === last + 1) return null;
  return `durable log: ${nodeId} appended entry ${first.index} right after entry ${last} on disk (a gap its next start reads as a corrupt log)`;
}

function applyOp(sh: Shadow, op: StorageOp): void {
  switch (op.op) {
    case 'put':
      if (hardStateKeys.has(op.key)) {
        const hs = op.value as { term: number; vote: string | null };
        sh.term = hs.term;
        sh.vote = hs.vote;
      } else if (snapshotKeys.has(op.key)) {
        const snap = op.value as { lastIndex: number; lastTerm: number };
        sh.snapIndex = snap.lastIndex;
        sh.snapTerm = snap.lastTerm;
      }
      return;
    case 'append':
      if (!logNames.has(op.log)) return;
      for (const e of op.entries as Entry[]) {
        sh.indexes.push(e.index);
        sh.terms.push(e.term);
      }
      return;
    case 'truncate':
      if (!logNames.has(op.log)) return;
      sh.indexes.length = Math.min(sh.indexes.length, op.keepCount);
      sh.terms.length = sh.indexes.length;
      return;
    case 'dropPrefix':
      if (!logNames.has(op.log)) return;
      sh.indexes.splice(0, op.dropCount);
      sh.terms.splice(0, op.dropCount);
      return;
    case 'delete':
      return;
  }
}
