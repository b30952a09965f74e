/**
 * Executing a `ServerOp`: where it runs (forwarding), how a read is answered in each consistency mode,
 * and blocking queries.
 *
 *  - A client agent has no Raft: every op goes to a server it learned from gossip tags (Consul's
 *    client RPC; "No known Consul servers" when none).
 *  - Writes: proposed to the local Raft; a follower's Raft answers notLeader with the leader, and the op
 *    is forwarded there (Consul's forward-to-leader). Commands that carry `nowMs` are stamped by the
 *    server that proposes them: the leader's clock is the only clock the store trusts (sessions).
 *  - Reads (consul-api.md §3): 'default' — the leader answers from its own state while it believes it
 *    leads, without a quorum round; 'consistent' — a ReadIndex round first (Raft thesis §6.4);
 *    'stale' — any server answers from its state, with its last-contact age. Without a leader,
 *    default and consistent reads answer 500 "No cluster leader"; stale reads still answer.
 *  - Blocking: a read whose result index is ≤ `minIndex` parks on the server that ran it until an
 *    applied index makes the result pass `minIndex`, or its wait runs out (then it answers the
 *    current result, 200). Re-checks run on Raft's `applied` notices; the query's own (per key /
 *    per table) change index decides, so unrelated writes re-check but do not wake — not even the
 *    watcher of a missing key, whose answer carries the KV table's index (answerOrPark).
 */
import type { RaftRequest, RaftResponse, RaftSuccess, RaftView } from '../raft/api.js';
import type { QueryError, QueryResult } from '../store/types.js';
import { agentErrors } from './api.js';
import type { ServerOp, ServerResult } from './ops.js';
import { holdRetryMs as holdRetryMsOf, maybeHold, noteStart, retryOp, takeHeld } from './hold.js';
import { callRaft, deliver, nameOfServer, pickServer, rpcAddressOf, rpcHopsMax, sendRpc } from './rpc.js';
import { count, trace, type AgentState, type Env, type Origin, type ParkedRead } from './state.js';
import { forwardToDc, hasWan, runWanInfo } from './wan.js';
import { aclEnabled, runForwarded } from './acl.js';
import { autopilotHealth } from './autopilot.js';
import { bootstrapViewOf } from './bootstrap.js';
import { maybeFailover } from './failover.js';
import { fireEventForDc, listEventsForDc } from './events.js';
import { takeTombstoneHint } from './tombstones.js';

const noLeader: ServerResult = { ok: false, status: 500, error: agentErrors.noLeader };

/** How long the caller of a forwarded op waits: its own blocking wait plus the RPC timeout. */
function rpcTimeoutFor(s: AgentState, op: ServerOp): number {
  const inner = op.kind === 'dc' ? op.op : op;
  return s.config.timing.rpcTimeoutMs + (inner.kind === 'read' || inner.kind === 'eventList' ? inner.waitMs : 0);
}

/** Runs `op` here if this node can, else forwards it; the result goes to `origin`. */
export function executeServerOp(s: AgentState, env: Env, op: ServerOp, origin: Origin, hops: number): void {
  count(s, `op.${op.kind}`);
  noteStart(s, origin, env.nowMs);
  if (op.kind === 'dc' && op.dc === s.config.datacenter) {
    // Arrived from another DC. With ACLs on, this DC authorizes it with the caller's token (acl.ts).
    if (!aclEnabled(s)) return executeServerOp(s, env, op.op, origin, hops);
    return runForwarded(s, env, op, hops, executeServerOp, (result, env2) => deliver(s, env2, origin, result));
  }
  if (!s.hasRaft) {
    const server = pickServer(s, env);
    if (server === null) return deliver(s, env, origin, { ok: false, status: 500, error: agentErrors.noServers });
    return sendRpc(s, env, server, op, origin, hops + 1, rpcTimeoutFor(s, op));
  }
  switch (op.kind) {
    case 'write':
      return proposeWrite(s, env, op, origin, hops);
    case 'read':
      return runRead(s, env, op, origin, hops);
    case 'status':
      if (op.what === 'autopilotHealth') return runAutopilotHealth(s, env, op, origin, hops);
      return runStatus(s, env, op, origin);
    case 'raftRemovePeer':
      return runRemovePeer(s, env, op, origin, hops);
    case 'dc':
      return forwardToDc(s, env, op, origin, rpcTimeoutFor(s, op));
    case 'eventFire':
      return fireEventForDc(s, env, op, origin);
    case 'eventList':
      return listEventsForDc(s, env, op, origin);
    case 'wan':
      if (hasWan(s)) return runWanInfo(s, env, op, origin);
      // No WAN pool (the simulator's single-DC scenarios): one DC, and its servers' LAN coordinates.
      if (op.what === 'datacenters')
        return deliver(s, env, origin, {
          ok: true,
          index: 1,
          value: [s.config.datacenter],
          knownLeader: s.leader !== null,
          lastContactMs: 0,
        });
      return runRead(
        s,
        env,
        {
          kind: 'read',
          query: { type: 'coordinateDatacenters', datacenter: s.config.datacenter },
          consistency: 'stale',
          minIndex: 0,
          waitMs: 0,
        },
        origin,
        hops,
      );
  }
}

/** Consul's operator/raft/peer DELETE: the leader removes the server from the configuration. */
function runRemovePeer(
  s: AgentState,
  env: Env,
  op: ServerOp & { kind: 'raftRemovePeer' },
  origin: Origin,
  hops: number,
): void {
  if (!s.isLeader) return forwardToLeader(s, env, op, origin, hops, s.leader);
  callRaft(s, env, { type: 'status' }, (response, env2) => {
    const view = response.ok ? response.result : null;
    const ids = [...(view?.voters ?? []), ...(view?.learners ?? [])];
    // By RPC address (-address) or by the server id list-peers shows (-id), as Consul's remove-peer.
    const id = ids.find(
      (candidate) =>
        candidate === op.peer || rpcAddressOf(s, candidate) === op.peer || view?.ids?.[candidate] === op.peer,
    );
    if (id === undefined)
      return deliver(s, env2, origin, {
        ok: false,
        status: 500,
        error: `address "${op.peer}" was not found in the Raft configuration`,
      });
    if (id === s.config.rpcId)
      return deliver(s, env2, origin, {
        ok: false,
        status: 500,
        error: 'cannot remove the leader itself: transfer leadership first',
      });
    callRaft(s, env2, { type: 'removeServer', id }, (removed, env3) => {
      if (!removed.ok) return deliver(s, env3, origin, raftFailure(removed));
      deliver(s, env3, origin, { ok: true, index: 1, value: null, knownLeader: true, lastContactMs: 0 });
    });
  });
}

function forwardToLeader(
  s: AgentState,
  env: Env,
  op: ServerOp,
  origin: Origin,
  hops: number,
  leader: string | null,
): void {
  if (leader === null || leader === s.config.rpcId || hops >= rpcHopsMax) return failOp(s, env, op, origin, noLeader);
  sendRpc(s, env, leader, op, origin, hops + 1, rpcTimeoutFor(s, op));
}

function raftFailure(response: RaftResponse & { ok: false }): ServerResult {
  switch (response.error) {
    case 'noLeader':
    case 'notLeader':
      return noLeader;
    case 'stepDown':
      return { ok: false, status: 500, error: 'leadership lost while committing log' };
    case 'timeout':
      return { ok: false, status: 500, error: 'timed out enqueuing operation' };
    case 'busy':
      return { ok: false, status: 500, error: 'raft: too many pending operations' };
    default:
      return {
        ok: false,
        status: 500,
        error: `raft: ${response.error}${response.detail ? `: ${response.detail}` : ''}`,
      };
  }
}

function stamp(command: ServerOp & { kind: 'write' }, nowMs: number): unknown {
  return 'nowMs' in command.command ? { ...command.command, nowMs } : command.command;
}

function proposeWrite(s: AgentState, env: Env, op: ServerOp & { kind: 'write' }, origin: Origin, hops: number): void {
  const proposedAtMs = env.nowMs;
  callRaft(s, env, { type: 'propose', command: stamp(op, env.nowMs) }, (response, env2) => {
    if (response.ok) {
      recordCommitTime(s, Math.max(0, env2.nowMs - proposedAtMs));
      // The store's tombstone hint is the leader's alone (tombstones.ts): taken off before the answer leaves.
      const value = takeTombstoneHint(s, env2, response.index, response.result);
      return deliver(s, env2, origin, {
        ok: true,
        index: response.index,
        value,
        knownLeader: true,
        lastContactMs: 0,
      });
    }
    if (response.error === 'notLeader' && response.leader !== null)
      return forwardToLeader(s, env2, op, origin, hops, response.leader);
    failOp(s, env2, op, origin, raftFailure(response));
  });
}

/** An op failed: held for a retry when that is safe (hold.ts), else answered. */
function failOp(s: AgentState, env: Env, op: ServerOp, origin: Origin, result: ServerResult): void {
  if (!maybeHold(s, env, op, origin, result)) deliver(s, env, origin, result);
}

/** A leader is known (a Raft notice): every held request runs again now. */
export function retryHeld(s: AgentState, env: Env): void {
  for (const held of takeHeld(s, env, [...s.held.keys()]))
    executeServerOp(s, env, retryOp(held, env.nowMs), held.origin, 0);
}

/**
 * A held request's timer: past its deadline it answers its last error; otherwise it runs again when
 * a retry can help (a client agent asks a server again; a server once it knows a leader), or waits on.
 */
export function onHoldTimer(s: AgentState, env: Env, id: number): void {
  const held = s.held.get(id);
  if (!held) return;
  if (env.nowMs >= held.deadlineMs) {
    takeHeld(s, env, [id]);
    count(s, 'rpcHoldTimedOut');
    return deliver(s, env, held.origin, held.lastError);
  }
  if (s.hasRaft && (s.leader === null || s.leader === s.config.rpcId) && !s.isLeader) {
    const afterMs = Math.min(holdRetryMsOf(s), held.deadlineMs - env.nowMs);
    env.ctx.emit({ kind: 'setTimer', timer: `hold:${id}`, afterMs });
    return;
  }
  takeHeld(s, env, [id]);
  executeServerOp(s, env, retryOp(held, env.nowMs), held.origin, 0);
}

/** Commit-time figures for /v1/agent/metrics (count, sum, min, max in ms), kept with the counters. */
function recordCommitTime(s: AgentState, ms: number): void {
  count(s, 'raftCommits');
  count(s, 'raftCommitMsSum', ms);
  s.counters.raftCommitMsMax = Math.max(s.counters.raftCommitMsMax ?? 0, ms);
  s.counters.raftCommitMsMin = Math.min(s.counters.raftCommitMsMin ?? Infinity, ms);
}

/**
 * The store's answer inside Raft's answer to a read: on a server, Raft's FSM is the state store
 * (mounts.ts `createStoreFsm`), whose `query` answers a QueryResult or a QueryError. `T` is the value
 * type of the query asked (the store's queries.ts). The one place the agent reads an FSM result.
 */
export function storeAnswerOf<T = unknown>(response: RaftSuccess): QueryResult<T> | QueryError | undefined {
  return response.result as QueryResult<T> | QueryError | undefined;
}

/** A store query result (or error) from a raft read response. */
function queryOutcome(response: RaftSuccess, knownLeader: boolean): ServerResult {
  const result = storeAnswerOf(response);
  if (result === undefined || result === null || typeof result !== 'object')
    return { ok: false, status: 500, error: 'store answered no result' };
  if ('error' in result) return { ok: false, status: 500, error: result.error };
  return {
    ok: true,
    index: Math.max(1, result.index),
    value: result.value,
    knownLeader,
    lastContactMs: Math.round(response.lastContactMs ?? 0),
  };
}

function runRead(s: AgentState, env: Env, op: ServerOp & { kind: 'read' }, origin: Origin, hops: number): void {
  const then = (response: RaftResponse, env2: Env): void => {
    if (!response.ok) {
      if (response.error === 'notLeader' && response.leader !== null && op.consistency !== 'stale')
        return forwardToLeader(s, env2, op, origin, hops, response.leader);
      return failOp(s, env2, op, origin, raftFailure(response));
    }
    const knownLeader = op.consistency === 'stale' ? s.leader !== null : true;
    const result = queryOutcome(op.consistency === 'stale' ? response : { ...response, lastContactMs: 0 }, knownLeader);
    if (op.consistency === 'consistent' && result.ok) {
      const requestId = origin.kind === 'client' ? origin.requestId : null;
      const [from, id] = origin.kind === 'remote' ? [origin.from, origin.id] : [null, null];
      trace(env2, { type: 'consul.consistentRead', requestId, from, id });
    }
    answerOrPark(s, env2, op, origin, result, changeIndexOf(response));
  };
  switch (op.consistency) {
    case 'stale':
      return callRaft(s, env, { type: 'readStale', query: op.query }, then);
    case 'consistent':
      return callRaft(s, env, { type: 'read', query: op.query }, then);
    case 'default':
      if (s.isLeader) return callRaft(s, env, { type: 'readStale', query: op.query }, then);
      return forwardToLeader(s, env, op, origin, hops, s.leader);
  }
}

/** Autopilot's server health: the leader's to compute (followers forward, as Consul's RPC does). */
function runAutopilotHealth(
  s: AgentState,
  env: Env,
  op: ServerOp & { kind: 'status' },
  origin: Origin,
  hops: number,
): void {
  if (!s.isLeader) return forwardToLeader(s, env, op, origin, hops, s.leader);
  callRaft(s, env, { type: 'status', progress: true }, (response, env2) => {
    if (!response.ok || response.result.role !== 'leader') return failOp(s, env2, op, origin, noLeader);
    const view = response.result;
    const value = autopilotHealth(s, view, env2.nowMs, view.heartbeatIntervalMs ?? 100);
    deliver(s, env2, origin, { ok: true, index: 1, value, knownLeader: true, lastContactMs: 0 });
  });
}

function runStatus(s: AgentState, env: Env, op: ServerOp & { kind: 'status' }, origin: Origin): void {
  const request = op.what === 'bootstrap' ? ({ type: 'status', ids: true } as const) : ({ type: 'status' } as const);
  callRaft(s, env, request, (response, env2) => {
    const view = response.ok ? response.result : null;
    const leader = view?.leader ?? s.leader;
    const value =
      op.what === 'leader'
        ? leader
          ? rpcAddressOf(s, leader)
          : ''
        : op.what === 'peers'
          ? [...(view?.voters ?? [])].map((id) => rpcAddressOf(s, id))
          : op.what === 'bootstrap'
            ? bootstrapViewOf(view)
            : raftConfiguration(s, view, leader);
    deliver(s, env2, origin, { ok: true, index: 1, value, knownLeader: s.leader !== null, lastContactMs: 0 });
  });
}

/**
 * Consul's `operator/raft/configuration` from this server's Raft view: voters, then learners (Voter
 * false). ID is the server id the configuration records for the server (core/raft/identity.ts, a UUID
 * minted with its Raft data, as Consul's Raft protocol 3 uses node ids); a server whose id is not on
 * record yet shows its address there, as in Raft protocol 2.
 */
function raftConfiguration(
  s: AgentState,
  view: RaftView | null,
  leader: string | null,
): { Servers: Record<string, unknown>[]; Index: number } {
  const server = (id: string, voter: boolean): Record<string, unknown> => {
    const address = rpcAddressOf(s, id);
    const serverId = view?.ids?.[id];
    return {
      ID: serverId ?? address,
      Node: nameOfServer(s, id),
      Address: address,
      Leader: id === leader,
      ProtocolVersion: serverId !== undefined ? '3' : '2',
      Voter: voter,
    };
  };
  return {
    Servers: [
      ...(view?.voters ?? []).map((id) => server(id, true)),
      ...(view?.learners ?? []).map((id) => server(id, false)),
    ],
    Index: view?.membershipIndex ?? 0,
  };
}

// ───────────────────────────────────────── blocking queries ───────────────────────────────────────

/** The store's change index of a read's answer, when below its index (an absent KV answer), else undefined. */
function changeIndexOf(response: RaftSuccess): number | undefined {
  const answer = storeAnswerOf(response);
  return answer !== undefined && answer !== null && typeof answer === 'object' && 'changeIndex' in answer
    ? answer.changeIndex
    : undefined;
}

/**
 * Answers a read now, or parks it (a blocking read whose answer has not changed since `minIndex`). It
 * waits on the store's change index (core/store/queries.ts changeIndex), which for a missing key or an
 * empty prefix is the index of the last change to that key or prefix, not the KV table's index that
 * its answer carries: a watcher of a key that does not exist yet is woken by that key's creation, not
 * by every write to any other key (the soak's start-up storm, issue 13). Its answer, at the key's
 * creation or at the end of its wait, carries the index it always did.
 */
function answerOrPark(
  s: AgentState,
  env: Env,
  op: ServerOp & { kind: 'read' },
  origin: Origin,
  result: ServerResult,
  changeIndex?: number,
): void {
  if (!result.ok || op.minIndex <= 0 || op.waitMs <= 0 || (changeIndex ?? result.index) > op.minIndex)
    return deliverRead(s, env, op, origin, result);
  if (s.parked.size >= s.config.timing.blockingQueriesMax) {
    count(s, 'blockingRefused');
    return deliver(s, env, origin, { ok: false, status: 500, error: agentErrors.tooManyBlocking });
  }
  const id = s.nextParkId++;
  s.parked.set(id, {
    id,
    op,
    origin,
    deadlineMs: env.nowMs + op.waitMs,
    knownLeader: result.knownLeader,
    checking: false,
    dirty: false,
  });
  count(s, 'blockingParked');
  env.ctx.emit({ kind: 'setTimer', timer: `block:${id}`, afterMs: op.waitMs });
}

/**
 * Raft applied more entries: every parked read whose minIndex is below the applied index asks the
 * local store for its query's own index (cheap: `{ type: 'index' }`), and only a read whose index
 * passed runs its query again and answers. A read with minIndex ≥ the applied index cannot have
 * passed (no scope index exceeds the applied index), so it is not even asked.
 */
export function onApplied(s: AgentState, env: Env): void {
  for (const parked of s.parked.values()) if (parked.op.minIndex < s.appliedIndex) recheck(s, env, parked);
}

function recheck(s: AgentState, env: Env, parked: ParkedRead): void {
  if (parked.checking) {
    parked.dirty = true;
    return;
  }
  parked.checking = true;
  callRaft(s, env, { type: 'readStale', query: { type: 'index', of: parked.op.query } }, (response, env2) => {
    if (s.parked.get(parked.id) !== parked) return; // answered meanwhile
    const index = response.ok ? (storeAnswerOf(response)?.index ?? 0) : Infinity;
    if (index > parked.op.minIndex) return answerParked(s, env2, parked, false);
    parked.checking = false;
    if (parked.dirty) {
      parked.dirty = false;
      recheck(s, env2, parked);
    }
  });
}

/**
 * Runs the parked read's query once more and answers it (woken, or its wait ran out). A consistent
 * read re-verifies leadership with a ReadIndex round first, as Consul re-runs a consistent blocking
 * query: a leader deposed while the read was parked must not answer it from its own, possibly older
 * state (it answers with the Raft error instead, and the client retries).
 */
function answerParked(s: AgentState, env: Env, parked: ParkedRead, timedOut: boolean, steppedDown = false): void {
  // After a step-down a default read is no longer this server's to answer from its own state either:
  // it goes through Raft's read, which a follower refuses, so the read is held for a leader (hold.ts).
  const request: RaftRequest =
    parked.op.consistency === 'consistent' || (steppedDown && parked.op.consistency === 'default')
      ? { type: 'read', query: parked.op.query }
      : { type: 'readStale', query: parked.op.query };
  callRaft(s, env, request, (response, env2) => {
    if (s.parked.get(parked.id) !== parked) return;
    const result: ServerResult = response.ok
      ? queryOutcome(
          parked.op.consistency === 'stale' ? response : { ...response, lastContactMs: 0 },
          parked.op.consistency === 'stale' ? s.leader !== null : parked.knownLeader,
        )
      : raftFailure(response);
    s.parked.delete(parked.id);
    env2.ctx.emit({ kind: 'cancelTimer', timer: `block:${parked.id}` });
    count(s, timedOut ? 'blockingTimedOut' : 'blockingWoken');
    if (result.ok) deliverRead(s, env2, parked.op, parked.origin, result);
    else failOp(s, env2, parked.op, parked.origin, result);
  });
}

/**
 * A read's answer goes out, unless it is a prepared query that fails over to other DCs first (failover.ts).
 * Every answer this server computed from its own store leaves through here — at once (runRead), or after
 * parking (answerParked: a wake-up, the wait's end, a step-down) — so here the simulator's per-step checker
 * holds a successful default read to "answered by a server that leads when it answers"
 * (sim/harnesses/agent.ts; the trace's words are part of that contract). It was emitted in runRead alone,
 * so a parked default read answered from a deposed leader's state went unchecked.
 */
function deliverRead(s: AgentState, env: Env, op: ServerOp & { kind: 'read' }, origin: Origin, result: ServerResult) {
  if (op.consistency === 'default' && result.ok) trace(env, { type: 'consul.defaultRead' });
  if (!maybeFailover(s, env, op, origin, result, executeServerOp, deliver)) deliver(s, env, origin, result);
}

/** The wait of a parked read ran out: answer with the current result (same index, 200). */
export function onBlockTimeout(s: AgentState, env: Env, id: number): void {
  const parked = s.parked.get(id);
  if (!parked) return;
  answerParked(s, env, parked, true);
}

/**
 * Leadership lost: parked default/consistent reads can no longer be answered here. Each runs Raft's read,
 * which a server that is not the leader refuses, so it is held for a leader (and answers "No cluster
 * leader" if none comes in time). A default read used to be answered from the deposed leader's own state
 * at this moment — a value older than a write the new leader had already acknowledged
 * (sim/test/mutation-agent.test.ts seed 2: 'old' 3 ms after 'new' was acknowledged).
 */
export function releaseParkedOnStepDown(s: AgentState, env: Env): void {
  for (const parked of [...s.parked.values()])
    if (parked.op.consistency !== 'stale') answerParked(s, env, parked, true, true);
}
