/**
 * The WAN gossip pool and cross-datacenter forwarding (Consul's multi-DC model).
 *
 *  - Every server hosts a second SWIM machine named 'wan' (core/agent/mounts.ts) with the WAN profile:
 *    servers of every datacenter, named `node.dc`, tagged role=consul, dc and the server port. Client
 *    agents are never in it.
 *  - A request with `?dc=X` becomes a `dc` op (ops.ts). A client agent sends it to a server of its own
 *    DC like any op; that server picks a server of X from the WAN pool — alive before suspect, then
 *    nearest by WAN network coordinate (Serf's coordinate cache), then by id — and forwards the op to
 *    it. The server of X runs it as if a local client had asked: same consistency modes, same blocking
 *    (the RPC's timeout carries the wait), same forward to its leader. No live server of X known:
 *    500 "No path to datacenter", as Consul.
 *  - `/v1/catalog/datacenters` lists the DCs by the median estimated round trip from this server to
 *    each DC's servers (Consul's GetDatacentersByDistance), and `/v1/coordinate/datacenters` gives the
 *    WAN coordinates behind that ranking.
 *
 * A server whose remote peer fails in the WAN pool fails the reads in flight to it at once (the edge
 * holds and retries them, and they then go to another server of that DC) instead of waiting out the
 * RPC timer; a write stays pending, as on the LAN (rpc.ts failRetryableRpcsTo): gossip may be wrong
 * about a live server, and failing the write would report an unknown outcome for one about to succeed.
 */
import { assert } from '../assert.js';
import type { Member, SwimNotice, SwimRequest, SwimResponse } from '../swim/api.js';
import { distanceSeconds, type Coordinate } from '../swim/coordinate.js';
import type { NodeId } from '../types.js';
import { agentErrors } from './api.js';
import type { ServerOp, ServerResult } from './ops.js';
import { deliver, failRetryableRpcsTo, isLive, rpcAddressOf, sendRpc } from './rpc.js';
import { count, trace, type AgentState, type Env, type Origin } from './state.js';

/** The WAN pool's machine name (a second SWIM mounted beside 'swim'). */
export const wanMachine = 'wan' as const;

/** Whether this agent hosts the WAN pool: servers, unless the config turned it off. */
export function hasWan(s: AgentState): boolean {
  return s.hasRaft && s.config.wanPool !== false;
}

/** A server's name in the WAN pool: `node.dc` (Consul's). */
export function wanName(nodeName: string, datacenter: string): string {
  return `${nodeName}.${datacenter}`;
}

export function callWan(
  s: AgentState,
  env: Env,
  request: SwimRequest,
  then: (response: SwimResponse, env: Env) => void,
): void {
  assert(hasWan(s), 'only servers with a WAN pool call it');
  const requestId = s.nextCallId++;
  s.localCalls.set(requestId, { machine: wanMachine, then });
  env.ctx.emit({ kind: 'local', toMachine: wanMachine, payload: { requestId, request } });
}

function isWanServer(member: Member): boolean {
  return member.tags['role'] === 'consul' && typeof member.tags['dc'] === 'string' && member.tags['dc'] !== '';
}

/** A WAN membership notice: keep the table, log as Consul does, fail RPCs to a server that failed. */
export function onWanNotice(s: AgentState, env: Env, notice: SwimNotice): void {
  if (notice.type === 'reaped') {
    s.wanMembers.delete(notice.member.id);
    return;
  }
  if (notice.type !== 'member') return;
  const member = notice.member;
  if (!isWanServer(member)) return;
  const before = s.wanMembers.get(member.id);
  s.wanMembers.set(member.id, member);
  const server = { name: member.name, addr: rpcAddressOf(s, member.id), dc: member.tags['dc'] ?? '' };
  const wasLive = before !== undefined && isLive(before);
  if (isLive(member) && !wasLive) trace(env, { type: 'consul.wanServer', change: 'adding', ...server });
  else if (!isLive(member) && wasLive) {
    trace(env, { type: 'consul.wanServer', change: 'removing', ...server });
    failRetryableRpcsTo(s, env, member.id);
  }
}

/**
 * Consul's flood join: a server of our DC that the LAN pool shows alive and the WAN pool does not is
 * joined into the WAN pool by us (at its WAN address, which the driver derives from its id). So only
 * one server per DC needs `-join-wan`; the others follow through the LAN. The SWIM join's answer needs
 * no handling: a failure is retried on the member's next LAN notice.
 */
export function maybeFloodJoin(s: AgentState, env: Env, member: Member): void {
  if (!hasWan(s) || !isLive(member) || member.id === s.config.rpcId) return;
  if (member.tags['role'] !== 'consul' || member.tags['dc'] !== s.config.datacenter) return;
  const known = s.wanMembers.get(member.id);
  if (known !== undefined && isLive(known)) return;
  count(s, 'wanFloodJoins');
  callWan(s, env, { type: 'join', peers: [member.id] }, () => undefined);
}

/**
 * `consul leave` on a server leaves the WAN pool too (Consul's Server.Leave leaves serfWAN, then serfLAN), so the
 * other DCs mark it left and route no more `?dc=` requests to it. Started before the LAN leave, in the same step:
 * its intent is on the wire at once (SWIM gossips a leave straight away), and the WAN machine finishes on its own
 * timer. The agent's answer waits for the LAN leave alone, as before: the WAN profile's propagation wait (8 s)
 * would take a server's graceful shutdown past its 5 s budget (cli/agent/run.ts) and skip the LAN leave. A client
 * agent, or a server without a WAN pool, has nothing to leave here.
 */
export function leaveWan(s: AgentState, env: Env): void {
  if (hasWan(s)) callWan(s, env, { type: 'leave' }, () => undefined);
}

/** Live servers of `dc` in the WAN pool (never this node). */
export function wanServersOf(s: AgentState, dc: string): Member[] {
  const out: Member[] = [];
  for (const member of s.wanMembers.values())
    if (member.tags['dc'] === dc && isLive(member) && member.id !== s.config.rpcId) out.push(member);
  return out;
}

/** Every datacenter the WAN pool names (a server not yet reaped keeps its DC known), and ours. */
export function knownDatacenters(s: AgentState): string[] {
  const dcs = new Set<string>([s.config.datacenter]);
  for (const member of s.wanMembers.values())
    if (member.status !== 'left' && member.tags['dc'] !== undefined) dcs.add(member.tags['dc']);
  return [...dcs].sort();
}

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The order to try servers of a DC in: one that let a request time out lately last, alive before suspect, then by estimated round trip from
 * `own` (a server whose coordinate we never saw goes after those we did), then by id.
 */
export function rankServers(
  servers: readonly Member[],
  own: Coordinate | null,
  coordinates: ReadonlyMap<NodeId, Coordinate>,
  slow: ReadonlySet<NodeId> = new Set(),
): Member[] {
  const rtt = (m: Member): number => {
    const theirs = coordinates.get(m.id);
    return own === null || theirs === undefined ? Infinity : distanceSeconds(own, theirs);
  };
  return [...servers].sort((a, b) => {
    const timedOut = (slow.has(a.id) ? 1 : 0) - (slow.has(b.id) ? 1 : 0);
    if (timedOut !== 0) return timedOut;
    const alive = (a.status === 'alive' ? 0 : 1) - (b.status === 'alive' ? 0 : 1);
    if (alive !== 0) return alive;
    const ra = rtt(a);
    const rb = rtt(b);
    if (ra !== rb) return ra < rb ? -1 : 1;
    return byId(a.id, b.id);
  });
}

export interface WanCoordinates {
  readonly own: Coordinate | null;
  readonly peers: ReadonlyMap<NodeId, Coordinate>;
}

export function withCoordinates(s: AgentState, env: Env, then: (coords: WanCoordinates, env: Env) => void): void {
  callWan(s, env, { type: 'coordinates' }, (response, env2) => {
    if (!response.ok) return then({ own: null, peers: new Map() }, env2);
    const peers = new Map<NodeId, Coordinate>();
    for (const peer of response.peers ?? []) peers.set(peer.id, peer.coordinate);
    then({ own: response.coordinate ?? null, peers }, env2);
  });
}

/**
 * Runs a `dc` op on a server of this DC: forwards it over the WAN to the best server of the target DC.
 * The remote server counts hops from 1 again: the WAN hop cannot loop (a crossed op never crosses again).
 */
export function forwardToDc(
  s: AgentState,
  env: Env,
  op: ServerOp & { kind: 'dc' },
  origin: Origin,
  timeoutMs: number,
): void {
  assert(op.dc !== s.config.datacenter, 'a dc op for our own DC runs here');
  if (op.crossed || !hasWan(s) || wanServersOf(s, op.dc).length === 0) {
    count(s, 'wanNoPath');
    return deliver(s, env, origin, noPath);
  }
  withCoordinates(s, env, (coords, env2) => {
    const slow = new Set<NodeId>();
    for (const [id, untilMs] of [...s.wanSlowUntilMs]) {
      if (untilMs > env2.nowMs) slow.add(id);
      else s.wanSlowUntilMs.delete(id); // bounded: entries expire, one per server that timed out
    }
    const ranked = rankServers(wanServersOf(s, op.dc), coords.own, coords.peers, slow);
    if (ranked.length === 0) return deliver(s, env2, origin, noPath);
    count(s, 'wanForwarded');
    sendRpc(s, env2, ranked[0]!.id, { ...op, crossed: true }, origin, 1, timeoutMs);
  });
}

const noPath: ServerResult = { ok: false, status: 500, error: agentErrors.noPathToDc };

function median(values: readonly number[]): number {
  if (values.length === 0) return Infinity;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/**
 * DCs ranked by the median estimated round trip from this server to their servers (ours counts this
 * server at distance 0), DCs without any coordinate last; ties and the rest by name.
 */
export function datacentersByDistance(s: AgentState, coords: WanCoordinates): string[] {
  const rttOf = new Map<string, number>();
  for (const dc of knownDatacenters(s)) {
    const rtts: number[] = dc === s.config.datacenter && coords.own !== null ? [0] : [];
    for (const member of s.wanMembers.values()) {
      if (member.tags['dc'] !== dc || member.status === 'left' || member.id === s.config.rpcId) continue;
      const theirs = coords.peers.get(member.id);
      if (coords.own !== null && theirs !== undefined) rtts.push(distanceSeconds(coords.own, theirs));
    }
    rttOf.set(dc, median(rtts));
  }
  return [...rttOf.keys()].sort((a, b) => {
    const ra = rttOf.get(a)!;
    const rb = rttOf.get(b)!;
    return ra !== rb ? (ra < rb ? -1 : 1) : byId(a, b);
  });
}

/** `/v1/coordinate/datacenters`: each DC's servers with their WAN coordinates, DCs in distance order. */
function coordinatesByDatacenter(s: AgentState, coords: WanCoordinates): unknown[] {
  return datacentersByDistance(s, coords).map((dc) => {
    const entries: { Node: string; Coord: Coordinate }[] = [];
    if (dc === s.config.datacenter && coords.own !== null)
      entries.push({ Node: wanName(s.nodeName, dc), Coord: coords.own });
    for (const member of s.wanMembers.values()) {
      if (member.tags['dc'] !== dc || member.status === 'left' || member.id === s.config.rpcId) continue;
      const theirs = coords.peers.get(member.id);
      if (theirs !== undefined) entries.push({ Node: member.name, Coord: theirs });
    }
    entries.sort((a, b) => byId(a.Node, b.Node));
    return { Datacenter: dc, AreaID: 'wan', Coordinates: entries };
  });
}

/** Answers a `wan` op on a server with a WAN pool. */
export function runWanInfo(s: AgentState, env: Env, op: ServerOp & { kind: 'wan' }, origin: Origin): void {
  withCoordinates(s, env, (coords, env2) => {
    const value = op.what === 'datacenters' ? datacentersByDistance(s, coords) : coordinatesByDatacenter(s, coords);
    deliver(s, env2, origin, { ok: true, index: 1, value, knownLeader: s.leader !== null, lastContactMs: 0 });
  });
}
