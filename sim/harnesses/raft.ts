/**
 * Harness for Raft (core/raft): a replicated counter, clients that write and read through random
 * nodes, and the cluster checkers of sim/checkers/raft.ts after every step.
 *
 * Workload: `clients` processes, each with one outstanding operation. A write proposes the unique
 * command { c: process, s: seq, v } with the client session (clientId c<process>, seq) so that a retry
 * is applied at most once (thesis §6.3). A client follows `notLeader` redirects, and retries with the
 * same sequence number after a timeout or a step-down (the outcome was unknown). A read is a
 * linearizable ReadIndex read. Every operation is registered in the history: ok, fail (every attempt
 * was refused before it reached a log), or unknown.
 */
import type { Fsm } from '../../core/raft/api.js';
import { makeRaftConfig, raftProfiles, raftTimingFor, type RaftConfig } from '../../core/raft/config.js';
import { raftMachine, type RaftState } from '../../core/raft/raft.js';
import { knownIdsOf, viewOf } from '../../core/raft/state.js';
import { startTransferWorkload } from './transfers.js';
import { bootstrapRetryMs, bootstrapViewOf, checkPeerForbids } from '../../core/agent/bootstrap.js';
import type { Effect, NodeId } from '../../core/types.js';
import { RaftClusterChecker } from '../checkers/raft.js';
import { raftStall } from './why-not-live.js';
import { runState, type Harness, type SimApi } from '../harness.js';
import type { Operation } from '../history.js';
import type { Scenario } from '../scenario.js';
import { checkChoiceParam, checkConfigBuilds, checkIntegerParams } from '../params.js';
import {
  coverRaftEffect,
  coverRaftStart,
  coverRaftStep,
  type RoleMarks,
  knobValues,
  raftTransitionsFor,
  type RaftReach,
} from './raft-coverage.js';
import type { Prng } from '../../core/prng.js';
import type { Knobs as FaultKnobs } from '../engine/nemesis.js';
import {
  drawRaftKnobs,
  raftGuideGroups,
  raftGuideSkips,
  raftKnobBoolean,
  raftKnobFields,
  raftKnobNumeric,
  raftKnobParams,
} from './raft-knobs.js';

/** The replicated state machine of the harness: a counter with an order-sensitive hash of the commands. */
export class CounterFsm implements Fsm {
  index = 0;
  count = 0;
  hash = 2166136261;
  apply(command: unknown, index: number): unknown {
    const text = JSON.stringify(command);
    let h = this.hash;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
    this.hash = h;
    this.count++;
    this.index = index;
    return { index, count: this.count };
  }
  query(): unknown {
    return { index: this.index, count: this.count, hash: this.hash };
  }
  snapshot(): unknown {
    return { index: this.index, count: this.count, hash: this.hash };
  }
  restore(snapshot: unknown): void {
    const s = snapshot as { index: number; count: number; hash: number };
    this.index = s.index;
    this.count = s.count;
    this.hash = s.hash;
  }
}

const params = {
  ...raftKnobParams,
  checkQuorumWindowMs: 'check-quorum window, the leader lease (ms); default electionTimeoutMsMin',
  raftMultiplier:
    "the real agent's timing (performance.raft_multiplier m: elections 1–2 s × m, heartbeat 100 ms × m, lease 500 ms × m) instead of the sim's fast one",
  voters: 'how many of the nodes start as voters (the rest wait to be added); default all',
  bootstrapExpect:
    "Consul's -bootstrap-expect N instead of configured servers: every node starts empty and, at each start, asks its Raft for its status and then to bootstrap with the first N nodes, as the agent does (core/agent/bootstrap.ts); 0 = off",
  ruleCheckers: 'the per-step Raft rule checkers of sim/checkers/raft-rules.ts (true|false; default true)',
  membershipEveryMs:
    'mean gap between membership changes of the membership workload (add, promote, remove; ms); 0 = none',
  membershipVotersMin:
    'the fewest voters the membership workload leaves (it removes a voter only while more remain); default 2. With disks replaced, at least 3: a replaced disk among 2 voters is a lost majority',
  transferEveryMs:
    'mean gap between leadership transfers an operator asks the leader for, to any node or none named (ms); 0 = none',
  unsafeCommitPreviousTerm: 'TEST ONLY: the broken Figure 8 commit rule (true|false)',
  unsafeVoteWithoutLogCheck: 'TEST ONLY: votes without the §5.4.1 log check (true|false)',
  unsafeIgnoreServerIds:
    'TEST ONLY: the rule before server ids (a server that lost its disk votes as before) (true|false)',
  clients: 'concurrent clients',
  opEveryMs: 'mean gap between one client’s operations (ms)',
  readPercent: 'share of operations that are linearizable reads (0..100)',
  requestTimeoutMs: 'client timeout per attempt (ms): after it the outcome is unknown',
  attemptsMax: 'attempts per operation (redirects and retries) before giving up',
} as const;

type Param = keyof typeof params;
const numericParams: Param[] = [
  ...raftKnobNumeric,
  'checkQuorumWindowMs',
  'raftMultiplier',
  'voters',
  'bootstrapExpect',
  'membershipEveryMs',
  'membershipVotersMin',
  'transferEveryMs',
  'clients',
  'opEveryMs',
  'readPercent',
  'requestTimeoutMs',
  'attemptsMax',
];
const booleanParams: Param[] = [
  ...raftKnobBoolean,
  'unsafeCommitPreviousTerm',
  'unsafeVoteWithoutLogCheck',
  'unsafeIgnoreServerIds',
];

function num(scenario: Scenario, key: Param, fallback: number): number {
  const raw = scenario.params[key];
  return raw === undefined ? fallback : Number(raw);
}

function bool(scenario: Scenario, key: Param, fallback: boolean): boolean {
  const raw = scenario.params[key];
  return raw === undefined ? fallback : raw === 'true';
}

export function raftConfigFor(scenario: Scenario, nodeId: NodeId): RaftConfig {
  // `set raftMultiplier M` swaps the sim's fast timing for the real agent's (core/raft/config.ts).
  const multiplier = scenario.params.raftMultiplier;
  const timing = multiplier === undefined ? {} : raftTimingFor(Number(multiplier));
  const base = { ...raftProfiles.sim, ...timing };
  const voterCount = num(scenario, 'voters', scenario.nodes.length);
  const servers = scenario.nodes.slice(0, voterCount);
  const bootstrapExpect = num(scenario, 'bootstrapExpect', 0);
  return makeRaftConfig('sim', {
    createFsm: () => new CounterFsm(),
    // With bootstrap-expect nobody starts with servers: the bootstrap request brings them (startBootstrap).
    servers: bootstrapExpect === 0 && servers.includes(nodeId) ? servers : [],
    ...(bootstrapExpect > 0 ? { bootstrapExpect } : {}),
    electionTimeoutMsMin: base.electionTimeoutMsMin,
    electionTimeoutMsMax: base.electionTimeoutMsMax,
    heartbeatIntervalMs: base.heartbeatIntervalMs,
    ...(scenario.params.checkQuorumWindowMs !== undefined || base.checkQuorumWindowMs !== undefined
      ? { checkQuorumWindowMs: num(scenario, 'checkQuorumWindowMs', base.checkQuorumWindowMs ?? 0) }
      : {}),
    ...raftKnobFields(scenario),
    unsafeCommitPreviousTerm: bool(scenario, 'unsafeCommitPreviousTerm', false),
    unsafeVoteWithoutLogCheck: bool(scenario, 'unsafeVoteWithoutLogCheck', false),
    unsafeIgnoreServerIds: bool(scenario, 'unsafeIgnoreServerIds', false),
  });
}

/** Per-simulation bookkeeping (`start` makes it; one harness object serves many simulations, e.g. in worker loops). */
export class RaftRun {
  readonly checker: RaftClusterChecker;
  livenessFromMs: number | null = null;
  readonly snapshotInstalls = new Map<NodeId, number>();
  /** Each node's last role, for the coverage of role transitions. */
  readonly roles: RoleMarks = new Map();
  /** Servers the operator is replacing (they came back with a new server id): remove, then add back. */
  readonly replacing = new Set<NodeId>();

  constructor(scenario: Scenario) {
    this.checker = new RaftClusterChecker({ rules: scenario.params.ruleCheckers !== 'false' });
  }
}

export function runStateOf(sim: SimApi): RaftRun {
  return runState(sim, RaftRun);
}

function raftOf(sim: SimApi, id: NodeId): RaftState | null {
  const runtime = sim.runtime(id);
  return runtime ? runtime.stateOf<RaftState>('raft') : null;
}

/**
 * `expect members-caught-up` (thesis §4.2.1: a leader replicates its log to every server of its
 * configuration, non-voting members included — a learner is a read replica or a server being caught up
 * for promotion): the members of the current leader's configuration that are up but whose log does not
 * reach the leader's commit index. A member that lost its data and came back under a new server id
 * waits to be added again (identity.ts) and is not counted. Also a liveness condition (the run is live
 * only once none is behind), so a member left behind after the faults stop fails the run.
 */
function membersBehind(sim: SimApi): string[] {
  const leader = currentLeader(sim);
  const l = leader ? raftOf(sim, leader) : null;
  if (!leader || !l) return ['no leader'];
  const behind: string[] = [];
  for (const id of [...l.membership.voters, ...l.membership.learners]) {
    const m = id === leader || !sim.isUp(id) ? null : raftOf(sim, id);
    if (!m || m.lostData || (l.membership.ids?.[id] !== undefined && l.membership.ids[id] !== m.serverId)) continue;
    if (m.log.lastIndex < l.commitIndex)
      behind.push(
        `${id} (${l.membership.learners.includes(id) ? 'learner' : 'voter'}) holds entries up to ${m.log.lastIndex}; ${leader} committed ${l.commitIndex}`,
      );
  }
  return behind;
}

/** The node that believes it leads at the highest term, if any. */
export function currentLeader(sim: SimApi): NodeId | null {
  let best: NodeId | null = null;
  let bestTerm = -1;
  for (const id of sim.nodeIds) {
    const s = raftOf(sim, id);
    if (s && s.role === 'leader' && s.term > bestTerm && !sim.isPaused(id)) ((best = id), (bestTerm = s.term));
  }
  return best;
}

interface RaftReply {
  ok: boolean;
  error?: string;
  leader?: string | null;
  index?: number;
  result?: unknown;
}

function startWorkload(sim: SimApi, scenario: Scenario): void {
  const prng = sim.random('workload');
  const clients = num(scenario, 'clients', 3);
  const everyMs = num(scenario, 'opEveryMs', 50);
  const readPercent = num(scenario, 'readPercent', 20);
  const timeoutMs = num(scenario, 'requestTimeoutMs', 1000);
  const attemptsMax = num(scenario, 'attemptsMax', 20);
  for (let process = 0; process < clients; process++) {
    let seq = 0;
    let hint: NodeId | null = null;
    const next = (): void => {
      if (sim.phase === 'done') return;
      const isRead = prng.below(100) < readPercent;
      const node = prng.pick(sim.nodeIds);
      if (isRead) {
        const op = sim.history.invoke(process, 'read', null, node, sim.nowMs);
        attempt(op, { type: 'read', query: null }, hint ?? node, 1, false);
      } else {
        seq += 1;
        const command = { c: process, s: seq, v: prng.below(1000) };
        const op = sim.history.invoke(process, 'write', command, node, sim.nowMs);
        attempt(op, { type: 'propose', command, session: { clientId: `c${process}`, seq } }, node, 1, false);
      }
    };
    const finish = (op: Operation, outcome: 'ok' | 'fail' | 'unknown', output: unknown): void => {
      sim.history.complete(op, outcome, output, sim.nowMs);
      sim.after(1 + prng.below(2 * everyMs), next);
    };
    const attempt = (op: Operation, body: unknown, node: NodeId, n: number, ambiguous: boolean): void => {
      sim.request(node, { machine: 'raft', body }, timeoutMs, (response) => {
        const r = response as RaftReply | undefined;
        if (r?.ok) {
          hint = node;
          const index = op.f === 'write' ? (r.result as { index: number }).index : r.index!;
          return finish(op, 'ok', { index });
        }
        // Exactly-once answers (thesis §6.3): a write is well formed and its seq is this client's latest (one
        // operation at a time), so no seq of ours can supersede it: a retry of an applied write gets the
        // cached result, never a refusal.
        if (r?.error === 'badRequest' && op.f === 'write')
          sim.violation(
            `session: ${node} refused c${process} seq ${seq}, its latest (${(r as { detail?: string }).detail ?? 'badRequest'})`,
          );
        // Timeout or step-down: the command may or may not be in a log; only a session retry is safe.
        const unknown = r === undefined || r.error === 'stepDown' || r.error === 'timeout';
        const nowAmbiguous = ambiguous || unknown;
        if (n >= attemptsMax || sim.phase === 'done')
          return finish(op, op.f === 'read' || !nowAmbiguous ? 'fail' : 'unknown', r);
        let to = prng.pick(sim.nodeIds);
        let delayMs = 10 + prng.below(50);
        // A redirect to a node the client does not know (a stranger posing as leader) is ignored.
        if (r?.error === 'notLeader' && r.leader && sim.nodeIds.includes(r.leader)) ((to = r.leader), (delayMs = 0));
        if (r?.error === 'notLeader' || r?.error === 'noLeader') hint = null;
        sim.after(delayMs, () => attempt(op, body, to, n + 1, nowAmbiguous));
      });
    };
    sim.after(prng.below(everyMs + 1), next);
  }
}

/**
 * The membership workload: one operator changes the configuration while the nemesis runs — adds a
 * node as a voter (learner first, promoted once caught up) or as a learner, promotes a learner,
 * removes a learner, a follower or the leader itself — through the current leader, one change after
 * another; a third of the time the next change goes out as soon as the previous one is answered
 * (back to back, so the one-at-a-time rule is exercised). At least two voters always remain (at least
 * `membershipVotersMin`, when set). Every
 * request and its answer are logged.
 */
function startMembershipWorkload(sim: SimApi, scenario: Scenario): void {
  const everyMs = num(scenario, 'membershipEveryMs', 0);
  if (everyMs <= 0) return;
  const prng = sim.random('membership');
  const votersMin = Math.max(2, num(scenario, 'membershipVotersMin', 2));
  const floored = scenario.params.membershipVotersMin !== undefined;
  const removesVoter = (change: { body: unknown }, voters: readonly NodeId[]): boolean => {
    const body = change.body as { type: string; id: NodeId };
    return body.type === 'removeServer' && voters.includes(body.id);
  };
  const next = (): void => {
    if (sim.phase !== 'safety') return;
    const leader = currentLeader(sim);
    const s = leader ? raftOf(sim, leader) : null;
    if (!leader || !s) return void sim.after(1 + prng.below(everyMs), next);
    const { voters, learners } = s.membership;
    const outside = sim.nodeIds.filter((id) => !voters.includes(id) && !learners.includes(id));
    const changes: { body: unknown; what: string }[] = [];
    for (const id of outside) {
      changes.push({ body: { type: 'addServer', id, voter: true }, what: `add ${id} as voter` });
      changes.push({ body: { type: 'addServer', id, voter: false }, what: `add ${id} as learner` });
    }
    for (const id of learners) {
      changes.push({ body: { type: 'addServer', id, voter: true }, what: `promote learner ${id}` });
      changes.push({ body: { type: 'removeServer', id }, what: `remove learner ${id}` });
    }
    if (voters.length > votersMin)
      for (const id of voters)
        changes.push({
          body: { type: 'removeServer', id },
          what: `remove ${id}${id === leader ? ' (the leader)' : ''}`,
        });
    if (changes.length === 0) return void sim.after(1 + prng.below(everyMs), next);
    const send = (change: { body: unknown; what: string }, then: (() => void) | null): void =>
      sim.request(leader, { machine: 'raft', body: change.body }, 2000, (response) => {
        const r = response as (RaftReply & { detail?: string }) | undefined;
        sim.log(
          `membership: ${change.what} via ${leader}: ${r === undefined ? 'no reply' : r.ok ? 'ok' : `${r.error}${r.detail ? ` (${r.detail})` : ''}`}`,
        );
        if (r?.ok) checkMembershipAnswer(sim, leader, change.body, r);
        if (then) sim.after(prng.chance(1, 3) ? 0 : 1 + prng.below(2 * everyMs), then);
      });
    const first = prng.pick(changes);
    send(first, next);
    // Back to back: a second change while the first is in flight (the leader must refuse it until the
    // first one commits: one change at a time, thesis §4.1). With a floor set, a second voter removal from
    // the same list is not sent: once the first commits, it would take the voters below the floor
    // (disk-replaced-membership seed 67: 4 → 3 → 2 voters, then a replaced disk among the two).
    if (prng.chance(1, 3))
      sim.after(prng.below(5), () => {
        const second = prng.pick(changes);
        if (floored && removesVoter(first, voters) && removesVoter(second, voters)) return;
        send(second, null);
      });
  };
  sim.after(1 + prng.below(everyMs), next);
}

/**
 * Consul's bootstrap-expect (opt-in, `set bootstrapExpect N`), driven as the agent drives it
 * (core/agent/bootstrap.ts maybeBootstrap): at every start of one of the first N nodes — the first and
 * each restart, a replaced disk included — once gossip would have found the other servers (10–50 ms),
 * the node's Raft is asked for its status; if it holds no configuration, no term and no leader, every
 * other expected server is asked for its Raft view (the agent's `status bootstrap` RPC: here read from
 * the peer's state when the network lets the two talk), and with the agent's own rule
 * (`checkPeerForbids`) the node bootstraps with the N servers, sorted, or stays unbootstrapped
 * because a peer knows it under another id or holds another cluster, or asks again after `bootstrapRetryMs` when a peer was out of reach.
 * A server that lost its data must not bootstrap again (issue 13 §2): the leader adds it back; the
 * safety checkers judge what a second founding would break.
 */
function startBootstrap(sim: SimApi, nodeId: NodeId): void {
  const expect = num(sim.scenario, 'bootstrapExpect', 0);
  const servers = [...sim.scenario.nodes.slice(0, expect)].sort();
  if (expect <= 0 || !servers.includes(nodeId)) return;
  const prng = sim.random(`bootstrap-${nodeId}`);
  const process = sim.runtime(nodeId); // this start's process: a restart begins its own attempts
  const attempt = (): void => {
    if (sim.phase === 'done' || !sim.isUp(nodeId) || sim.runtime(nodeId) !== process) return;
    sim.request(nodeId, { machine: 'raft', body: { type: 'status' } }, 2000, (status) => {
      const view = (status as RaftReply | undefined)?.ok ? (status as RaftReply).result : null;
      const v = view as { voters?: unknown[]; lastIndex?: number; leader?: unknown; serverId?: string } | null;
      if (!v || (v.voters?.length ?? 0) > 0 || (v.lastIndex ?? 0) > 0 || v.leader) return;
      const asker = { name: nodeId, serverId: v.serverId ?? '' };
      let unconfirmed: NodeId | null = null;
      for (const peer of servers) {
        if (peer === nodeId) continue;
        const peerRuntime = sim.isUp(peer) && canTalk(sim, nodeId, peer) ? sim.runtime(peer) : null;
        if (peerRuntime === null) {
          unconfirmed ??= peer;
          continue;
        }
        const peerState = peerRuntime.stateOf<RaftState>('raft');
        const peerView = bootstrapViewOf({ ...viewOf(peerState), knownIds: knownIdsOf(peerState) });
        const reason = checkPeerForbids(peerView, servers, asker);
        if (reason !== null) {
          sim.log(`agent: ${nodeId} does not bootstrap: ${peer} ${reason}`);
          return;
        }
      }
      if (unconfirmed !== null) {
        sim.log(`agent: ${nodeId} could not ask ${unconfirmed} before bootstrapping; again in ${bootstrapRetryMs} ms`);
        sim.after(bootstrapRetryMs, attempt);
        return;
      }
      const body = { type: 'bootstrap', servers };
      sim.request(nodeId, { machine: 'raft', body }, 2000, (response) => {
        const r = response as (RaftReply & { detail?: string }) | undefined;
        sim.log(
          `agent: ${nodeId} bootstrap with ${servers.join(' ')}: ${r === undefined ? 'no reply' : r.ok ? `ok ${JSON.stringify(r.result)}` : `${r.error}${r.detail ? ` (${r.detail})` : ''}`}`,
        );
      });
    });
  };
  sim.after(10 + prng.below(41), attempt);
}

/** Whether `a` and `b` can talk both ways now (same partition group, no one-way block between them). */
function canTalk(sim: SimApi, a: NodeId, b: NodeId): boolean {
  const view = sim.partitionView();
  if (view.blocked.some(([from, to]) => (from === a && to === b) || (from === b && to === a))) return false;
  if (view.groups.length <= 1) return true;
  return view.groups.some((group) => group.includes(a) && group.includes(b));
}

/** Raft's protocol knobs, plus how often this seed changes membership (unless the scenario says). */
function drawKnobs(prng: Prng, scenario: Scenario, faults: FaultKnobs): Record<string, string> {
  const knobs = drawRaftKnobs(prng, scenario, faults);
  if (scenario.params.knobs !== 'swarm') return knobs;
  const membershipEveryMs = prng.pick([0, 0, 250, 1000]);
  if (scenario.params.membershipEveryMs === undefined) knobs.membershipEveryMs = String(membershipEveryMs);
  return knobs;
}

/** What this scenario lets the cluster do, for its list of reachable transitions. */
function raftReachOf(scenario: Scenario): RaftReach {
  const actions = new Set(scenario.timeline.map((e) => e.action));
  const everyMs = scenario.params.membershipEveryMs;
  // A knob-swarm scenario draws the membership workload per seed unless it pins it (drawKnobs).
  const workload = everyMs !== undefined ? Number(everyMs) > 0 : scenario.params.knobs === 'swarm';
  const changes = workload || actions.has('add-server') || actions.has('remove-server') || actions.has('remove-leader');
  const replaced =
    actions.has('replace-disk') ||
    (scenario.nemesis.mode === 'swarm' && scenario.nemesis.kinds.includes('disk-replaced'));
  const preVote = knobValues(scenario.params, 'preVote', raftProfiles.sim.preVote);
  return {
    preVoteOn: preVote.on,
    preVoteOff: preVote.off,
    checkQuorum: knobValues(scenario.params, 'checkQuorum', raftProfiles.sim.checkQuorum).on,
    // The workload and `remove-leader` remove the leader now and then: it hands over with TimeoutNow.
    transfers:
      actions.has('transfer') ||
      actions.has('remove-leader') ||
      workload ||
      Number(scenario.params.transferEveryMs ?? 0) > 0,
    membership: changes ? 'any' : replaced ? 'replacement' : 'none',
  };
}

/** Runs an admin request against the current leader, retrying while there is none. */
function adminRequest(sim: SimApi, body: unknown, what: string, triesLeft = 40, onOk?: () => void): void {
  const leader = currentLeader(sim);
  if (!leader) {
    if (triesLeft > 0) sim.after(100, () => adminRequest(sim, body, what, triesLeft - 1, onOk));
    else sim.log(`admin: ${what}: no leader found`);
    return;
  }
  sim.request(leader, { machine: 'raft', body }, 5000, (response) => {
    const r = response as RaftReply | undefined;
    sim.log(
      `admin: ${what} via ${leader}: ${r === undefined ? 'no reply' : r.ok ? 'ok' : `${r.error}${(r as { detail?: string }).detail ? ` (${(r as { detail?: string }).detail})` : ''}`}`,
    );
    // Membership changes and transfers are idempotent: retry until one leader says ok.
    if ((r === undefined || !r.ok) && r?.error !== 'badRequest' && triesLeft > 0)
      sim.after(100, () => adminRequest(sim, body, what, triesLeft - 1, onOk));
    else if (r?.ok) {
      checkMembershipAnswer(sim, leader, body, r);
      onOk?.();
    }
  });
}

/**
 * The membership API's contract (thesis §4.1; Consul's `raft remove-peer`, `join`): a change answered
 * ok names the index of a configuration entry that made it — without the removed server, with the added
 * one among the voters or the learners as asked. Read from the answering node's log (a committed entry
 * never changes); an entry compacted since, or an answer from the configuration as it was
 * (`already`), is not checked.
 */
function checkMembershipAnswer(sim: SimApi, leader: NodeId, body: unknown, r: RaftReply): void {
  const request = body as { type?: string; id?: string; voter?: boolean };
  if ((request.type !== 'addServer' && request.type !== 'removeServer') || r.index === undefined) return;
  if ((r.result as { already?: unknown } | undefined)?.already !== undefined) return;
  const entry = raftOf(sim, leader)?.log.entryAt(r.index);
  if (!entry || entry.type !== 'config' || !entry.config) return;
  const { voters, learners } = entry.config;
  const id = request.id ?? '';
  const made =
    request.type === 'removeServer'
      ? !voters.includes(id) && !learners.includes(id)
      : request.voter
        ? voters.includes(id)
        : learners.includes(id);
  if (!made)
    sim.violation(
      `membership: ${leader} answered ${request.type} ${id}${request.type === 'addServer' ? (request.voter ? ' as voter' : ' as learner') : ''} ok at index ${r.index}, whose configuration is voters [${voters.join(' ')}] learners [${learners.join(' ')}]`,
    );
}

const actions: Record<string, { usage: string; args: (a: readonly string[]) => boolean }> = {
  transfer: { usage: 'transfer [NODE]', args: (a) => a.length <= 1 },
  'add-server': {
    usage: 'add-server NODE [voter|learner]',
    args: (a) => a.length >= 1 && a.length <= 2 && (a[1] === undefined || a[1] === 'voter' || a[1] === 'learner'),
  },
  'remove-server': { usage: 'remove-server NODE', args: (a) => a.length === 1 },
  'remove-leader': { usage: 'remove-leader', args: (a) => a.length === 0 },
  'isolate-leader': { usage: 'isolate-leader', args: (a) => a.length === 0 },
  'crash-leader': { usage: 'crash-leader', args: (a) => a.length === 0 },
  'oneway-leader': { usage: 'oneway-leader (the leader can send, cannot receive)', args: (a) => a.length === 0 },
  'leader-minority': {
    usage: 'leader-minority K (the leader plus K followers vs the rest)',
    args: (a) => a.length === 1 && /^\d+$/.test(a[0]!),
  },
  'isolate-follower': {
    usage: 'isolate-follower (a follower of the current leader, cut off)',
    args: (a) => a.length === 0,
  },
  'expect-leader': {
    usage: 'expect-leader NODE (a violation unless NODE leads at that moment)',
    args: (a) => a.length === 1,
  },
  'restart-crashed': { usage: 'restart-crashed (every node that is down)', args: (a) => a.length === 0 },
};

function actOn(sim: SimApi, action: string, args: readonly string[]): void {
  const leader = currentLeader(sim);
  switch (action) {
    case 'transfer':
      adminRequest(
        sim,
        args[0] ? { type: 'transferLeadership', to: args[0] } : { type: 'transferLeadership' },
        `transfer leadership${args[0] ? ` to ${args[0]}` : ''}`,
      );
      return;
    case 'add-server':
      adminRequest(
        sim,
        { type: 'addServer', id: args[0], voter: args[1] !== 'learner' },
        `add ${args[0]} as ${args[1] ?? 'voter'}`,
      );
      return;
    case 'remove-server':
      adminRequest(sim, { type: 'removeServer', id: args[0] }, `remove ${args[0]}`);
      return;
    case 'remove-leader':
      if (leader) adminRequest(sim, { type: 'removeServer', id: leader }, `remove the leader ${leader}`);
      else sim.log('admin: remove-leader: no leader');
      return;
    case 'isolate-leader':
      if (leader) sim.faults.partition([[leader]]);
      return;
    case 'crash-leader':
      if (leader) sim.faults.crash(leader);
      return;
    case 'oneway-leader':
      if (leader) for (const id of sim.nodeIds) if (id !== leader) sim.faults.blockOneWay(id, leader);
      return;
    case 'leader-minority': {
      if (!leader) return;
      const others = sim.nodeIds.filter((id) => id !== leader);
      const k = Number(args[0]);
      sim.faults.partition([[leader, ...others.slice(0, k)], others.slice(k)]);
      return;
    }
    case 'isolate-follower': {
      const follower = sim.nodeIds.find((id) => id !== leader && sim.isUp(id));
      if (follower) sim.faults.partition([[follower]]);
      return;
    }
    case 'expect-leader':
      if (leader !== args[0])
        sim.violation(`expected ${args[0]} to lead at ${sim.nowMs.toFixed(0)} ms, but ${leader ?? 'nobody'} does`);
      return;
    case 'restart-crashed':
      for (const id of sim.nodeIds) if (!sim.isUp(id)) sim.faults.restart(id);
      return;
  }
}

export const harness: Harness = {
  name: 'raft',
  params,

  validate(scenario) {
    const problems = [
      ...checkIntegerParams(scenario, numericParams),
      ...[...booleanParams].flatMap((key) => checkChoiceParam(scenario, key, ['true', 'false'])),
      ...checkChoiceParam(scenario, 'channel', ['stream', 'datagram']),
      ...checkChoiceParam(scenario, 'knobs', ['swarm', 'fixed']),
    ];
    return checkConfigBuilds(problems, () => raftConfigFor(scenario, scenario.nodes[0]!));
  },

  drawKnobs,
  guideSkips: raftGuideSkips,
  guideGroups: raftGuideGroups,

  mounts(nodeId, scenario, start) {
    // A server restarted on a replaced disk is started as a joiner (no initial servers to bootstrap).
    const config = raftConfigFor(scenario, nodeId);
    return [{ machine: raftMachine, config: start?.diskReplaced ? { ...config, servers: [] } : config }];
  },

  start(_sim, scenario) {
    return new RaftRun(scenario);
  },

  workload(sim, scenario) {
    startWorkload(sim, scenario);
    startMembershipWorkload(sim, scenario);
    // Any node or none: a learner, a node outside the configuration, the leader itself (rule 12 judges the refusals).
    startTransferWorkload(sim, scenario, currentLeader, (prng) => prng.pick([undefined, ...sim.nodeIds]));
  },

  onNodeStart(sim, nodeId, durable) {
    runStateOf(sim).checker.onNodeStart(nodeId, durable);
    coverRaftStart(sim, durable);
    startBootstrap(sim, nodeId);
  },

  onInput(sim, nodeId, input) {
    runStateOf(sim).checker.onInput(nodeId, input, sim.runtime(nodeId)?.stateOf<RaftState>('raft'));
  },

  onDropped(sim, nodeId, effects) {
    runStateOf(sim).checker.onDropped(nodeId, effects);
  },

  onEffect(sim, nodeId, effect: Effect) {
    const run = runStateOf(sim);
    const runtime = sim.runtime(nodeId);
    if (effect.kind === 'trace' && effect.event.type === 'raft.snapshotInstalled')
      run.snapshotInstalls.set(nodeId, (run.snapshotInstalls.get(nodeId) ?? 0) + 1);
    const stranger =
      effect.kind === 'trace' && effect.event.type === 'raft.serverIdMismatch' ? effect.event.server : null;
    if (stranger !== null && raftOf(sim, nodeId)?.role === 'leader' && !run.replacing.has(stranger)) {
      // What the agent's leader does (core/agent/leader.ts reconcile) and an operator would: a server
      // that came back under its name with a new server id (it lost its disk) is removed, then added back.
      run.replacing.add(stranger);
      const done = () => run.replacing.delete(stranger);
      adminRequest(sim, { type: 'removeServer', id: stranger }, `remove ${stranger} (it lost its data)`, 40, () =>
        adminRequest(sim, { type: 'addServer', id: stranger, voter: true }, `add ${stranger} back as voter`, 40, done),
      );
    }
    const problem = run.checker.onEffect(nodeId, effect, runtime ? runtime.stateOf<RaftState>('raft') : null, runtime);
    if (problem) sim.violation(problem);
    coverRaftEffect(sim, nodeId, effect);
  },

  checkStep(sim, nodeId) {
    const runtime = sim.runtime(nodeId);
    if (!runtime) return null;
    const s = runtime.stateOf<RaftState>('raft');
    const run = runStateOf(sim);
    coverRaftStep(sim, run.roles, nodeId, s, runtime);
    return run.checker.afterStep(nodeId, s, runtime);
  },

  // `sim explore --coverage`: the list leaves out what the scenario's knobs, workload and timeline make
  // unreachable (raft-coverage.ts raftTransitionsFor).
  transitions: (scenario: Scenario) => raftTransitionsFor(raftReachOf(scenario), true),

  live(sim) {
    const run = runStateOf(sim);
    if (run.livenessFromMs === null) run.livenessFromMs = sim.nowMs;
    const from = run.livenessFromMs;
    // A leader exists and a write invoked after the faults stopped was acknowledged; with `expect
    // members-caught-up`, every member of its configuration, learners included, holds its commit index.
    if (currentLeader(sim) === null || !sim.history.someWriteOkFrom(from)) return false;
    return !sim.scenario.expectations.some((e) => e.name === 'members-caught-up') || membersBehind(sim).length === 0;
  },

  whyNotLive(sim) {
    const from = runStateOf(sim).livenessFromMs ?? sim.scenario.safetyMs;
    const behind = sim.scenario.expectations.some((e) => e.name === 'members-caught-up') ? membersBehind(sim) : [];
    return [...behind, ...raftStall(sim, (id) => raftOf(sim, id), currentLeader(sim), from)];
  },

  checkEnd(sim) {
    return runStateOf(sim).checker.checkHistory(sim.history);
  },

  act(sim, action, args) {
    const spec = actions[action];
    if (!spec) return `unknown action '${action}' (raft knows: ${Object.keys(actions).join(', ')})`;
    if (!spec.args(args)) return `usage: at TIME ${spec.usage}`;
    if (sim === null) return null;
    actOn(sim, action, args);
    return null;
  },

  expect(sim, name, args) {
    const run = runStateOf(sim);
    switch (name) {
      case 'leader':
        return currentLeader(sim) ? null : 'no node leads';
      case 'snapshot-installed': {
        const total =
          args.length > 0
            ? (run.snapshotInstalls.get(args[0]!) ?? 0)
            : [...run.snapshotInstalls.values()].reduce((a, b) => a + b, 0);
        return total > 0 ? null : `no InstallSnapshot completed${args[0] ? ` on ${args[0]}` : ''}`;
      }
      case 'voters': {
        const leader = currentLeader(sim);
        const s = leader ? raftOf(sim, leader) : null;
        if (!s) return 'no leader to ask';
        const want = [...args].sort().join(' ');
        const have = [...s.membership.voters].sort().join(' ');
        return want === have ? null : `voters are ${have}, expected ${want}`;
      }
      case 'leader-is': {
        const leader = currentLeader(sim);
        return leader === args[0] ? null : `${leader ?? 'nobody'} leads, expected ${args[0]}`;
      }
      case 'elections-min':
        return run.checker.stats.elections >= Number(args[0])
          ? null
          : `${run.checker.stats.elections} elections, expected ≥ ${args[0]}`;
      case 'not-leader': {
        const leader = currentLeader(sim);
        return leader !== null && args.includes(leader) ? `${leader} leads` : null;
      }
      case 'acknowledged-min': {
        const acked = sim.history.ops.filter((op) => op.f === 'write' && op.outcome === 'ok').length;
        return acked >= Number(args[0]) ? null : `only ${acked} writes acknowledged, expected ≥ ${args[0]}`;
      }
      case 'elections-max':
        return run.checker.stats.elections <= Number(args[0])
          ? null
          : `${run.checker.stats.elections} elections, expected ≤ ${args[0]}`;
      case 'members-caught-up':
        return membersBehind(sim)[0] ?? null;
      default:
        return `unknown expectation '${name}' (raft knows: leader, leader-is NODE, snapshot-installed [NODE], voters IDS.., not-leader IDS.., acknowledged-min N, elections-min N, elections-max N, members-caught-up)`;
    }
  },

  describe(sim, nodeId): Record<string, string | number> {
    const s = raftOf(sim, nodeId);
    if (!s) return { role: '-', term: '-', commit: '-' };
    return { role: s.role, term: s.term, commit: s.commitIndex, applied: s.appliedIndex, last: s.log.lastIndex };
  },
};
