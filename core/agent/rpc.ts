/**
 * Plumbing: local calls to the sibling machines (Raft, SWIM) and agent-to-agent RPCs over the stream
 * channel (a client agent to a server it learned from gossip tags; a server to the Raft leader).
 *
 * Both are request/answer pairs matched by a call id, with a continuation kept in the state. An RPC has
 * a timer; when it fires first, the caller gets 500 "rpc error: timeout" and a late answer is dropped.
 */
import { assert } from '../assert.js';
import type { RaftAnswer, RaftLocalReply, RaftRequest, RaftResponse } from '../raft/api.js';
import type { Member, SwimLocalReply, SwimRequest, SwimResponse } from '../swim/api.js';
import type { NodeId } from '../types.js';
import { agentErrors, blockingWaitMsMax } from './api.js';
import { checkRetrySafe, forgetHold, leaderChangedError, maybeHold } from './hold.js';
import { render, type ServerOp, type ServerResult } from './ops.js';
import { authorizerOfGrant, checkForwardedAuth, checkGrant } from './acl.js';
import { filterResponse } from './endpoints/index.js';
import { count, reply, trace, type AgentState, type Env, type Origin } from './state.js';

/** Agent-to-agent messages (stream channel). `t` values are a wire enum: append-only. */
export type AgentMessage =
  | { readonly t: 'rpc'; readonly id: number; readonly op: ServerOp; readonly hops: number; readonly timeoutMs: number }
  | { readonly t: 'rpcReply'; readonly id: number; readonly result: ServerResult }
  /** A server outside the Raft configuration introduces itself on the server port (hello.ts). */
  | { readonly t: 'hello' };

/**
 * How long a server of another DC that let a forwarded request time out goes to the end of the
 * forwarding order (Consul's router moves a failed server to the end of its list). A dead process
 * says nothing on the wire; until the WAN pool marks it failed, this keeps new requests off it.
 */
export const wanSlowMs = 30_000;

/** A forwarded op may hop client → server → leader, and once more if leadership moved meanwhile. */
export const rpcHopsMax = 3;

/**
 * The longest wait a legitimate peer puts in a forwarded blocking read (ms): the 10-minute cap plus the
 * largest jitter (wait / 16), rounded up to twice the cap so a change of the jitter rule stays legal.
 */
export const rpcWaitMsMax = 2 * blockingWaitMsMax;

const serverOpKinds: ReadonlySet<string> = new Set([
  'write',
  'read',
  'status',
  'raftRemovePeer',
  'dc',
  'wan',
  'eventFire',
  'eventList',
]);
const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';
const consistencies: ReadonlySet<string> = new Set(['default', 'consistent', 'stale']);
const statusWhats: ReadonlySet<string> = new Set([
  'leader',
  'peers',
  'raftConfiguration',
  'autopilotHealth',
  'bootstrap', // appended: a server about to bootstrap asks its peers (bootstrap.ts)
]);

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
/** A whole number of milliseconds (what every peer sends: timeouts and waits are integers; retryOp rounds). */
const isDurationMs = (v: unknown, maxMs: number): v is number => isCount(v) && v <= maxMs;
/** A measured duration (lastContactMs: differences of clock readings, fractional in the simulator). */
const isElapsedMs = (v: unknown): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER;
/**
 * A stale read's time since the answering server last heard from a leader: a measured duration, or −1 when
 * it never did (core/raft/step.ts readStale: a server just restarted, before any leader reached it). The
 * −1 was refused here once, so such a server's answers were dropped and its requester waited out its RPC
 * timer ("rpc error: timeout"; agent/failover-latency seed 65, on f225dd5 too).
 */
const isLastContactMs = (v: unknown): v is number => v === -1 || isElapsedMs(v);
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';

/**
 * Wire hygiene for agent-to-agent messages (issue 14 §3, as Raft's `checkMessage`): the shape, and every
 * number that becomes an id, an index, a hop count or a timer's delay, range-checked before anything
 * acts on it. A peer (or anyone on plain links) that sends a wait of −2^53 or a hop count of 1e300 gets a
 * dropped message, never a thrown step (a dead agent). Null when the message is well formed, else why not.
 * The store command inside a write is checked where it is applied (core/store), not here.
 */
export function checkAgentMessage(message: unknown): string | null {
  if (!isObject(message)) return 'not an object';
  if (message['t'] === 'hello') return null;
  if (!isCount(message['id'])) return 'call id is not a safe non-negative integer';
  if (message['t'] === 'rpcReply') {
    const result = message['result'];
    if (!isObject(result) || typeof result['ok'] !== 'boolean') return 'rpcReply without a result';
    if (result['ok']) {
      if (!isCount(result['index']) || !isLastContactMs(result['lastContactMs']))
        return 'rpcReply with an index or lastContactMs out of range';
      return result['acl'] === undefined ? null : checkGrant(result['acl']);
    }
    const status = result['status'];
    return typeof status === 'number' && Number.isInteger(status) && status >= 100 && status <= 599
      ? typeof result['error'] === 'string'
        ? null
        : 'rpcReply without an error text'
      : 'rpcReply with a status out of range';
  }
  if (message['t'] !== 'rpc') return 'unknown message type';
  const hops = message['hops'];
  if (!isCount(hops) || hops > rpcHopsMax) return 'rpc hop count out of range';
  if (!isDurationMs(message['timeoutMs'], Number.MAX_SAFE_INTEGER)) return 'rpc timeout out of range';
  return checkServerOp(message['op'], 0);
}

/** An op as agents send it: a known kind with well-formed fields; a `dc` op wraps one op, once. */
function checkServerOp(op: unknown, depth: number): string | null {
  if (!isObject(op) || typeof op['kind'] !== 'string' || !serverOpKinds.has(op['kind']))
    return 'rpc op of unknown kind';
  switch (op['kind']) {
    case 'write':
      return isObject(op['command']) ? null : 'write without a command';
    case 'read':
      if (!isObject(op['query'])) return 'read without a query';
      if (typeof op['consistency'] !== 'string' || !consistencies.has(op['consistency']))
        return 'read of unknown consistency';
      if (!isCount(op['minIndex'])) return 'read minIndex out of range';
      if (op['auth'] !== undefined) {
        const problem = checkForwardedAuth(op['auth']);
        if (problem !== null) return problem;
      }
      return isDurationMs(op['waitMs'], rpcWaitMsMax) ? null : 'read wait out of range';
    case 'status':
      return typeof op['what'] === 'string' && statusWhats.has(op['what']) ? null : 'status of nothing we know';
    case 'raftRemovePeer':
      return typeof op['peer'] === 'string' ? null : 'raftRemovePeer without a peer';
    case 'dc':
      if (depth > 0) return 'a dc op inside a dc op';
      if (typeof op['dc'] !== 'string' || typeof op['crossed'] !== 'boolean') return 'dc op without a datacenter';
      if (op['auth'] !== undefined) {
        const problem = checkForwardedAuth(op['auth']);
        if (problem !== null) return problem;
      }
      return checkServerOp(op['op'], depth + 1);
    case 'eventFire': {
      const event = op['event'];
      if (!isObject(event) || typeof event['id'] !== 'string' || typeof event['name'] !== 'string')
        return 'eventFire without an id and a name';
      if (!(event['payload'] === null || event['payload'] instanceof Uint8Array)) return 'eventFire payload not bytes';
      return optionalString(event['nodeFilter']) &&
        optionalString(event['serviceFilter']) &&
        optionalString(event['tagFilter'])
        ? null
        : 'eventFire filter not a string';
    }
    case 'eventList':
      if (typeof op['name'] !== 'string' || !isCount(op['minIndex'])) return 'eventList without a name or index';
      return isDurationMs(op['waitMs'], rpcWaitMsMax) ? null : 'eventList wait out of range';
    default:
      return typeof op['what'] === 'string' ? null : 'wan op of nothing';
  }
}

// ───────────────────────────────────────── local calls ────────────────────────────────────────────

/**
 * Asks Raft; `then` gets Raft's answer to this request type (a `status` request is answered with the
 * node's `RaftView`, raft/api.ts `RaftAnswer`).
 */
export function callRaft<T extends RaftRequest['type']>(
  s: AgentState,
  env: Env,
  request: RaftRequest & { readonly type: T },
  then: (response: RaftAnswer<T>, env: Env) => void,
): void {
  assert(s.hasRaft, 'only servers host raft');
  const requestId = s.nextCallId++;
  // Raft answers a request of type T with a RaftAnswer<T> (its API's promise), so the continuation may
  // be kept as one that takes any RaftResponse: the only answer it will be given is the one for T.
  s.localCalls.set(requestId, { machine: 'raft', then: then as (response: RaftResponse, env: Env) => void });
  env.ctx.emit({ kind: 'local', toMachine: 'raft', payload: { requestId, request } });
}

export function callSwim(
  s: AgentState,
  env: Env,
  request: SwimRequest,
  then: (response: SwimResponse, env: Env) => void,
): void {
  const requestId = s.nextCallId++;
  s.localCalls.set(requestId, { machine: 'swim', then });
  env.ctx.emit({ kind: 'local', toMachine: 'swim', payload: { requestId, request } });
}

/** Runs the continuation of Raft's answer to a local call (none if it was already forgotten). */
export function onRaftReply(s: AgentState, env: Env, answer: RaftLocalReply): void {
  const call = s.localCalls.get(answer.requestId);
  if (!call) return;
  assert(call.machine === 'raft', `local call ${answer.requestId} went to ${call.machine}, Raft answered it`);
  s.localCalls.delete(answer.requestId);
  call.then(answer.response, env);
}

/**
 * Runs the continuation of SWIM's answer to a local call (none if it was already forgotten); `machine`
 * is the SWIM that answered: the LAN pool, or the WAN pool of a server (core/agent/wan.ts).
 */
export function onSwimReply(s: AgentState, env: Env, answer: SwimLocalReply, machine: 'swim' | 'wan' = 'swim'): void {
  const call = s.localCalls.get(answer.requestId);
  if (!call) return;
  assert(call.machine === machine, `local call ${answer.requestId} went to ${call.machine}, ${machine} answered it`);
  s.localCalls.delete(answer.requestId);
  call.then(answer.response, env);
}

// ───────────────────────────────────────── servers we know ────────────────────────────────────────

/**
 * A server's Raft/RPC id from its gossip entry: the member id itself. Every machine of a node shares
 * the runtime's node id (SWIM's member id, Raft's server id, the agent's rpcId — init asserts the
 * last), so the id a server gossips under is the id its Raft answers to; the driver routes envelopes
 * to the right socket by machine name.
 */
export function serverIdOf(member: Member): NodeId {
  return member.id;
}

/**
 * How Consul shows a server in `status/leader` and `status/peers`: `host:<server port>` (8300). The
 * host is the id's host part; the port is the server's `port` tag (ours when it is us). Ids without a
 * port (the simulator's node names) are shown as they are.
 */
export function rpcAddressOf(s: AgentState, id: NodeId): string {
  const colon = id.lastIndexOf(':');
  if (colon < 0) return id;
  let port = id === s.config.rpcId ? String(s.config.ports.server) : undefined;
  for (const member of s.members.values())
    if (member.id === id && member.tags['port'] !== undefined) port = member.tags['port'];
  return port === undefined ? id : `${id.slice(0, colon)}:${port}`;
}

export function isServerMember(s: AgentState, member: Member): boolean {
  return member.tags['role'] === 'consul' && (member.tags['dc'] ?? s.config.datacenter) === s.config.datacenter;
}

export function isLive(member: Member): boolean {
  return member.status === 'alive' || member.status === 'suspect';
}

/** Live servers of our datacenter known through gossip, by RPC id (sorted: deterministic). */
export function knownServers(s: AgentState): { id: NodeId; name: string }[] {
  const out: { id: NodeId; name: string }[] = [];
  for (const member of s.members.values())
    if (isServerMember(s, member) && isLive(member)) out.push({ id: serverIdOf(member), name: member.name });
  out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return out;
}

/** The name of the member whose RPC id is `id` (leader ids → node names for log lines). */
export function nameOfServer(s: AgentState, id: NodeId): string {
  if (id === s.config.rpcId) return s.nodeName;
  for (const member of s.members.values()) if (serverIdOf(member) === id) return member.name;
  return id;
}

/** The server this client sends to: the sticky choice while it is live, else a random live one. */
export function pickServer(s: AgentState, env: Env): NodeId | null {
  const servers = knownServers(s);
  if (servers.length === 0) return null;
  if (s.preferredServer !== null && servers.some((x) => x.id === s.preferredServer)) return s.preferredServer;
  s.preferredServer = env.ctx.prng.pick(servers).id;
  return s.preferredServer;
}

// ───────────────────────────────────────── RPC ────────────────────────────────────────────────────

/** Sends `op` to `to`; the answer (or a timeout after `timeoutMs`) goes to `origin`. */
export function sendRpc(
  s: AgentState,
  env: Env,
  to: NodeId,
  op: ServerOp,
  origin: Origin,
  hops: number,
  timeoutMs: number,
): void {
  if (s.pendingRpcs.size >= s.config.timing.pendingRpcMax) {
    deliver(s, env, origin, { ok: false, status: 500, error: 'rpc error: too many requests in flight' });
    return;
  }
  const id = s.nextCallId++;
  s.pendingRpcs.set(id, { origin, to, op });
  count(s, 'rpcSent');
  env.ctx.emit({
    kind: 'send',
    to,
    channel: 'stream',
    message: { t: 'rpc', id, op, hops, timeoutMs } satisfies AgentMessage,
  });
  env.ctx.emit({ kind: 'setTimer', timer: `rpc:${id}`, afterMs: timeoutMs });
}

export function onRpcReply(s: AgentState, env: Env, from: NodeId, id: number, result: ServerResult): void {
  const pending = s.pendingRpcs.get(id);
  if (!pending) return; // timed out already
  // Only the server we asked answers this call: a reply from anyone else is not ours to take.
  if (from !== pending.to) return;
  s.pendingRpcs.delete(id);
  env.ctx.emit({ kind: 'cancelTimer', timer: `rpc:${id}` });
  if (maybeHold(s, env, pending.op, pending.origin, result)) return;
  deliver(s, env, pending.origin, result);
}

/**
 * The server these RPCs went to stopped being the leader, or left the live members: its answer may
 * never come (a kill -9 leaves no one to say so). Each fails now with `leaderChangedError`; the edge
 * retries what is safe (hold.ts) and answers the rest, instead of waiting out the RPC timer.
 */
export function failRpcsTo(
  s: AgentState,
  env: Env,
  to: NodeId,
  counter: 'rpcFailedOnLeaderChange' | 'rpcFailedOnLinkDown' | 'rpcFailedOnMemberFailed' = 'rpcFailedOnLeaderChange',
  which: (op: ServerOp) => boolean = () => true,
): void {
  for (const [id, pending] of [...s.pendingRpcs]) {
    if (pending.to !== to || !which(pending.op)) continue;
    s.pendingRpcs.delete(id);
    env.ctx.emit({ kind: 'cancelTimer', timer: `rpc:${id}` });
    count(s, counter);
    const result: ServerResult = { ok: false, status: 500, error: leaderChangedError };
    if (maybeHold(s, env, pending.op, pending.origin, result)) continue;
    deliver(s, env, pending.origin, result);
  }
}

/**
 * Gossip says server `to` stopped being a live member (SWIM declared it failed). That may be a false
 * positive: a busy host's late acks, or UDP dropped while TCP works, and the process, its connection
 * and its answers are alive (the real soak: the Raft leader marked failed for 2 s, no election;
 * scenarios/agent/gossip-loss.txt). So only the RPCs that are safe to send again fail now — reads,
 * held and retried (hold.ts) — and a write stays pending: its answer, the connection's close
 * (onLinkDown), a leader change or its RPC timer decides it. Failing it here answered "may have been
 * applied" for writes that were about to succeed. Consul cancels no RPC on a serf failure.
 */
export function failRetryableRpcsTo(s: AgentState, env: Env, to: NodeId): void {
  failRpcsTo(s, env, to, 'rpcFailedOnMemberFailed', (op) => checkRetrySafe(op, 'unknown'));
}

/**
 * How long a reply is kept for a re-send (ms). A reply is lost when the connection it went out on is
 * reset while it is in flight or unread, and the reset comes back within about one round trip of the
 * segment that met it (the reply itself, or the next one): a second covers a loaded host.
 */
export const repliesKeptMs = 1000;
/** Replies kept per peer at most (the oldest go first): bounds the memory a busy peer can hold. */
export const repliesKeptMax = 64;

/**
 * How often one reply is sent again at most. A re-sent reply travels on a new connection, which a second
 * reset can take too (issue 13 §5's double-reset window): it is kept for another re-send, up to this
 * many, so that a peer whose connection keeps being refused (a dead one) cannot bring it back for ever.
 */
export const replyResendsMax = 3;

/** Remembers a reply sent to `peer`, for a re-send if the connection it went out on drops. */
function keepReply(s: AgentState, env: Env, peer: NodeId, id: number, result: ServerResult, resends = 0): void {
  let kept = s.recentReplies.get(peer);
  if (!kept) s.recentReplies.set(peer, (kept = []));
  kept.push({ id, result, atMs: env.nowMs, resends });
  while (kept.length > repliesKeptMax || kept[0]!.atMs < env.nowMs - repliesKeptMs) kept.shift();
  assert(kept.length <= repliesKeptMax, 'replies kept per peer are bounded');
}

/**
 * Our connection to `peer` dropped: the replies we sent on it lately may be lost with it. Each direction
 * is its own connection (net/transport/socket.ts: a reply goes out on the replier's connection), so a
 * reset of ours is not heard by the requester, whose connection to us is fine: it would wait out its RPC
 * timer and answer "rpc error: timeout" (found by the explorer with `reset-oneway`, issue 13 §5). So
 * the replies of the last repliesKeptMs go out again on the next connection (each at most replyResendsMax
 * times: that connection can be reset too); a requester takes a
 * reply only for a call it still waits for, from the server it asked (onRpcReply), so a copy of one that
 * arrived is dropped. Consul has no such path: a request and its reply share one multiplexed connection.
 */
function resendReplies(s: AgentState, env: Env, peer: NodeId): void {
  const kept = s.recentReplies.get(peer);
  if (!kept) return;
  s.recentReplies.delete(peer);
  let resent = 0;
  for (const { id, result, atMs, resends } of kept) {
    if (atMs < env.nowMs - repliesKeptMs) continue;
    env.ctx.emit({
      kind: 'send',
      to: peer,
      channel: 'stream',
      message: { t: 'rpcReply', id, result: result as ServerResult } satisfies AgentMessage,
      early: true,
    });
    resent++;
    // Kept again, from now: the connection this copy travels on can be reset too.
    assert(resends < replyResendsMax, 'a reply is re-sent at most replyResendsMax times');
    if (resends + 1 < replyResendsMax) keepReply(s, env, peer, id, result as ServerResult, resends + 1);
  }
  if (resent > 0) count(s, 'rpcRepliesResent', resent);
}

/**
 * The stream connection to `peer` closed (its process died, or it reset the connection): RPCs in
 * flight to it will not be answered on it. They fail now and are retried where safe (hold.ts: reads
 * always; a write whose outcome is unknown answers the error), instead of waiting out the RPC timer or
 * a leader change; a client agent also stops preferring that server.
 */
export function onLinkDown(s: AgentState, env: Env, peer: NodeId): void {
  resendReplies(s, env, peer);
  let rpcs = 0;
  for (const pending of s.pendingRpcs.values()) if (pending.to === peer) rpcs++;
  if (rpcs === 0) return;
  trace(env, { type: 'agent.linkDown', server: nameOfServer(s, peer), rpcs });
  if (s.preferredServer === peer) s.preferredServer = null;
  failRpcsTo(s, env, peer, 'rpcFailedOnLinkDown');
}

export function onRpcTimeout(s: AgentState, env: Env, id: number): void {
  const pending = s.pendingRpcs.get(id);
  if (!pending) return;
  s.pendingRpcs.delete(id);
  count(s, 'rpcTimeouts');
  // The server may be gone: a client tries another one next time; a server forwarding to another DC
  // tries that DC's other servers first for a while (core/agent/wan.ts).
  if (s.preferredServer === pending.to) s.preferredServer = null;
  if (pending.op.kind === 'dc' && pending.op.crossed) s.wanSlowUntilMs.set(pending.to, env.nowMs + wanSlowMs);
  deliver(s, env, pending.origin, { ok: false, status: 500, error: agentErrors.rpcTimeout });
}

/**
 * Hands a result to whoever asked. Early (core/types.ts ReplyEffect.early): a server's result is
 * committed Raft state or a read of it, durable without this node's pending syncs, so the answer does
 * not queue behind the log writes of other clients' proposals.
 */
export function deliver(s: AgentState, env: Env, origin: Origin, result: ServerResult): void {
  switch (origin.kind) {
    case 'client': {
      forgetHold(s, origin);
      const response = render(origin.request, result);
      // Another DC authorized it (acl.ts): what its grant may not read is removed here, at the edge.
      const filtered =
        result.ok && result.acl !== undefined
          ? filterResponse(origin.request, response, authorizerOfGrant(result.acl), { nodeName: s.nodeName })
          : response;
      reply(env, origin.requestId, filtered, true);
      return;
    }
    case 'remote':
      env.ctx.emit({
        kind: 'send',
        to: origin.from,
        channel: 'stream',
        message: { t: 'rpcReply', id: origin.id, result } satisfies AgentMessage,
        early: true,
      });
      keepReply(s, env, origin.from, origin.id, result);
      return;
    case 'internal':
      origin.then(result, env);
      return;
  }
}
