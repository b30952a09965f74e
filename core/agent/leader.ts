/**
 * What a server does because of the leader's role (Consul agent/consul/leader.go), plus the gossip and
 * Raft notices every node follows.
 *
 *  - serfHealth: the leader turns SWIM membership into catalog writes (`memberHealth` commands):
 *    alive/suspect → node registered with `serfHealth` passing (and service `consul` for servers),
 *    failed → `serfHealth` critical, left → node deregistered. On gaining leadership and every
 *    `reconcileIntervalMs` it re-applies every member it has not written in its term (a notice missed
 *    during an election is caught up; Consul's reconcile loop).
 *  - Raft membership: alive servers of our datacenter that are not voters are added, servers that left
 *    are removed (one change at a time, thesis §4.1). With `authenticateServers`, only servers that
 *    introduced themselves on the server port are added (hello.ts).
 *  - Sessions: on gaining leadership the leader resets TTL deadlines to its own clock
 *    (`sessionTimersReset`); then every `sessionSweepMs` it asks the store for the next deadline and
 *    proposes `sessionsExpire` stamped with its `nowMs` when one has passed. Only the leader's clock is
 *    ever written into commands, so every replica agrees on when a session died.
 */
import type { RaftNotice, RaftResponse, RaftView } from '../raft/api.js';
import type { Member } from '../swim/api.js';
import type { StoreCommand } from '../store/types.js';
import { triggerSync, inSync } from './antiEntropy.js';
import { maybeBootstrap } from './bootstrap.js';
import {
  callRaft,
  failRetryableRpcsTo,
  failRpcsTo,
  isLive,
  isServerMember,
  nameOfServer,
  rpcAddressOf,
  serverIdOf,
} from './rpc.js';
import { checkServerAuthenticated, forgetServerHeard, maybeSayHello } from './hello.js';
import { executeServerOp, onApplied, releaseParkedOnStepDown, retryHeld, storeAnswerOf } from './server.js';
import { count, trace, type AgentState, type Env } from './state.js';
import { disableTombstoneGc, enableTombstoneGc, onTombstoneGcTimer } from './tombstones.js';

type MemberHealth = 'alive' | 'failed' | 'left';

function healthOf(member: Member): MemberHealth | null {
  switch (member.status) {
    case 'alive':
    case 'suspect':
      return 'alive';
    case 'failed':
      return 'failed';
    case 'left':
      return 'left';
    case 'leaving':
      return null;
  }
}

/** The member's address: the host part of `ip:port` ids; the id itself in the simulator. */
export function addressOf(id: string): string {
  const colon = id.lastIndexOf(':');
  return colon < 0 ? id : id.slice(0, colon);
}

// ───────────────────────────────────────── notices ────────────────────────────────────────────────

export function onRaftNotice(s: AgentState, env: Env, notice: RaftNotice): void {
  if (notice.type === 'applied') {
    if (notice.index > s.appliedIndex) s.appliedIndex = notice.index;
    onApplied(s, env);
    return;
  }
  if (notice.type === 'serverIdMismatch') {
    if (s.isLeader) reconcileRaftMembership(s, env);
    return;
  }
  const wasLeader = s.isLeader;
  const leaderChanged = notice.leader !== s.leader;
  const previousLeader = s.leader;
  s.leader = notice.leader;
  s.isLeader = notice.isLeader;
  s.term = Math.max(s.term, notice.term);
  if (notice.leader !== null) s.bootstrapped = true;
  if (leaderChanged && notice.leader !== null) {
    trace(env, { type: 'consul.newLeader', leader: nameOfServer(s, notice.leader) });
    if (!inSync(s)) triggerSync(s, env);
  }
  if (notice.isLeader && !wasLeader) establishLeadership(s, env);
  if (!notice.isLeader && wasLeader) {
    trace(env, { type: 'consul.leadershipLost' });
    s.reconciled.clear();
    s.reconciling.clear();
    disableTombstoneGc(s, env);
    releaseParkedOnStepDown(s, env);
  }
  // Requests in flight to a leader that is no longer one fail now (and are retried where safe);
  // requests held for a leader run again as soon as there is one (hold.ts).
  if (leaderChanged && previousLeader !== null && previousLeader !== s.config.rpcId) failRpcsTo(s, env, previousLeader);
  if (notice.leader !== null && s.held.size > 0) retryHeld(s, env);
}

export function onMemberNotice(s: AgentState, env: Env, member: Member): void {
  const previous = s.members.get(member.id);
  s.members.set(member.id, member);
  if (isServerMember(s, member)) {
    const wasLive = previous !== undefined && isLive(previous);
    // The seed's wording: servers say "adding LAN server", clients "adding server".
    const what = {
      type: 'consul.server',
      lan: s.hasRaft,
      name: member.name,
      addr: rpcAddressOf(s, member.id),
      dc: member.tags['dc'] ?? s.config.datacenter,
    } as const;
    if (isLive(member) && !wasLive) trace(env, { ...what, change: 'adding' });
    if (!isLive(member) && wasLive) {
      trace(env, { ...what, change: 'removing' });
      if (s.preferredServer === serverIdOf(member)) s.preferredServer = null;
      // Gossip may be wrong about a live server: reads retry, writes wait for a surer sign (rpc.ts).
      failRetryableRpcsTo(s, env, serverIdOf(member));
    }
    // A server outside the configuration introduces itself to a server it just learned of (hello.ts).
    if (isLive(member) && !wasLive) maybeSayHello(s, env, serverIdOf(member));
    if (member.status === 'left') forgetServerHeard(s, serverIdOf(member));
    if (s.hasRaft) maybeBootstrap(s, env);
    // A client that just learned its first server pushes what it could not push before.
    if (!s.hasRaft && isLive(member) && !wasLive && !inSync(s)) triggerSync(s, env);
  }
  if (s.isLeader) {
    reconcileMember(s, env, member);
    if (isServerMember(s, member)) reconcileRaftMembership(s, env);
  }
}

// ───────────────────────────────────────── leadership ─────────────────────────────────────────────

function establishLeadership(s: AgentState, env: Env): void {
  trace(env, { type: 'consul.leadershipAcquired' });
  count(s, 'leadershipsAcquired');
  s.reconciled.clear();
  s.reconciling.clear();
  s.membershipChanging = false;
  // Before the first command: its result hints the tombstones an earlier leader left (tombstones.ts).
  enableTombstoneGc(s);
  propose(s, env, 'session-timers-reset', { type: 'sessionTimersReset', nowMs: 0 }, () => undefined);
  reconcileAll(s, env);
  ensureAclTokens(s, env);
  env.ctx.emit({ kind: 'setTimer', timer: 'reconcile', afterMs: s.config.timing.reconcileIntervalMs });
  env.ctx.emit({ kind: 'setTimer', timer: 'sessionSweep', afterMs: s.config.timing.sessionSweepMs });
}

/** Consul's initializeACL: the anonymous token, and the master token when configured, exist. */
function ensureAclTokens(s: AgentState, env: Env): void {
  const acl = s.config.acl;
  if (!acl?.enabled) return;
  const wanted: { ID: string; Name: string; Type: 'client' | 'management'; Rules: string }[] = [
    { ID: 'anonymous', Name: 'Anonymous Token', Type: 'client', Rules: '' },
  ];
  if (acl.masterToken) wanted.push({ ID: acl.masterToken, Name: 'Master Token', Type: 'management', Rules: '' });
  for (const token of wanted) {
    executeServerOp(
      s,
      env,
      { kind: 'read', query: { type: 'aclGet', id: token.ID }, consistency: 'default', minIndex: 0, waitMs: 0 },
      {
        kind: 'internal',
        what: 'acl-read',
        then: (result, env2) => {
          if (!result.ok || result.value !== null) return;
          propose(s, env2, 'acl-init', { type: 'aclSet', acl: token, create: true }, (ok, env3, error) => {
            if (ok) trace(env3, { type: 'consul.aclTokenCreated', name: token.Name });
            else trace(env3, { type: 'consul.aclTokenFailed', name: token.Name, error: String(error) });
          });
        },
      },
      0,
    );
  }
}

function propose(
  s: AgentState,
  env: Env,
  what: string,
  command: StoreCommand,
  then: (ok: boolean, env: Env, error: string) => void,
): void {
  executeServerOp(
    s,
    env,
    { kind: 'write', command },
    {
      kind: 'internal',
      what,
      then: (result, env2) => {
        if (!result.ok) return then(false, env2, result.error);
        const value = result.value as { ok?: boolean; error?: string } | null;
        if (value && typeof value === 'object' && value.ok === false)
          return then(false, env2, value.error ?? 'rejected');
        then(true, env2, '');
      },
    },
    0,
  );
}

export function onReconcileTimer(s: AgentState, env: Env): void {
  if (!s.isLeader) return;
  reconcileAll(s, env);
  ensureAclTokens(s, env);
  env.ctx.emit({ kind: 'setTimer', timer: 'reconcile', afterMs: s.config.timing.reconcileIntervalMs });
}

function reconcileAll(s: AgentState, env: Env): void {
  // This node is a member too, even before SWIM told us about ourselves.
  if (![...s.members.values()].some((m) => m.name === s.nodeName)) {
    reconcileMember(s, env, {
      id: s.config.rpcId,
      name: s.nodeName,
      incarnation: 0,
      status: 'alive',
      tags: { role: 'consul', dc: s.config.datacenter, port: String(s.config.ports.server) },
    });
  }
  for (const member of s.members.values()) reconcileMember(s, env, member);
  reconcileRaftMembership(s, env);
}

/** Writes the member's gossip health into the catalog unless this leader already did. */
export function reconcileMember(s: AgentState, env: Env, member: Member): void {
  if (!s.isLeader) return;
  if ((member.tags['dc'] ?? s.config.datacenter) !== s.config.datacenter) return;
  const health = healthOf(member);
  if (health === null || s.reconciled.get(member.name) === health || s.reconciling.has(member.name)) return;
  s.reconciling.add(member.name);
  const serverPort = isServerMember(s, member) ? Number(member.tags['port'] ?? s.config.ports.server) : undefined;
  const command: StoreCommand = {
    type: 'memberHealth',
    node: member.name,
    address: addressOf(member.id),
    health,
    ...(serverPort !== undefined && Number.isFinite(serverPort) ? { serverPort } : {}),
    nowMs: 0,
  };
  propose(s, env, 'member-health', command, (ok, env2, error) => {
    s.reconciling.delete(member.name);
    if (!ok) {
      trace(env2, { type: 'consul.reconcileFailed', member: member.name, error: String(error) });
      return;
    }
    s.reconciled.set(member.name, health);
    count(s, 'membersReconciled');
    trace(env2, { type: 'consul.memberReconciled', member: member.name, health });
    // The member may have changed again while the write was in flight.
    const latest = [...s.members.values()].find((m) => m.name === member.name);
    if (latest && healthOf(latest) !== health) reconcileMember(s, env2, latest);
  });
}

/** The leader reconciles Raft membership now (a server just introduced itself); others do nothing. */
export function maybeReconcileRaftMembership(s: AgentState, env: Env): void {
  if (s.isLeader) reconcileRaftMembership(s, env);
}

/**
 * How soon a Raft membership change refused as "busy" is tried again (ms): Raft refuses a change while
 * another is in flight, or before a new leader committed an entry of its term; Consul's raft queues such
 * a change instead. (Other refusals wait for the next full reconcile.) Without a retry it waited for the next full reconcile (60 s): a wiped server that
 * rejoined right after an election stayed out of the configuration for a minute (the real-process
 * wiped-server test: "raft membership change for s3 failed: busy", then 60 s).
 */
export const raftChangeRetryMs = 250;

function retryRaftMembershipSoon(env: Env): void {
  env.ctx.emit({ kind: 'setTimer', timer: 'raftChangeRetry', afterMs: raftChangeRetryMs });
}

/**
 * Adds live servers that are not voters (with `authenticateServers`, only those that introduced
 * themselves, or learners already in the configuration, hello.ts); removes servers that left; replaces a server that came back
 * with a new raft server id (it lost its data, core/raft/identity.ts): the stale entry is removed, then
 * the server is added again under its new id once it is alive (Consul's leader reconcile does the
 * same when a server's node id changed). One change at a time.
 */
function reconcileRaftMembership(s: AgentState, env: Env): void {
  if (!s.isLeader || s.membershipChanging) return;
  s.membershipChanging = true;
  callRaft(s, env, { type: 'status' }, (response, env2) => {
    const view = response.ok ? response.result : null;
    const voters = new Set(view?.voters ?? []);
    const learners = new Set(view?.learners ?? []);
    if (!s.isLeader || voters.size === 0) {
      s.membershipChanging = false;
      return;
    }
    const stale = (view?.idMismatches ?? []).find((x) => x.server !== s.config.rpcId);
    if (stale !== undefined) {
      const name = nameOfServer(s, stale.server);
      trace(env2, {
        type: 'consul.raftServerReplaced',
        member: name,
        seenId: stale.seenId,
        recordedId: stale.recordedId,
      });
      callRaft(s, env2, { type: 'removeServer', id: stale.server }, (result, env3) => {
        s.membershipChanging = false;
        if (result.ok) return reconcileRaftMembership(s, env3);
        trace(env3, { type: 'consul.raftServerChangeFailed', member: name, error: result.error });
        if (result.error === 'busy') retryRaftMembershipSoon(env3);
      });
      return;
    }
    for (const member of s.members.values()) {
      if (!isServerMember(s, member)) continue;
      const id = serverIdOf(member);
      if (member.status === 'alive' && !voters.has(id) && !learners.has(id) && !checkServerAuthenticated(s, id)) {
        trace(env2, { type: 'consul.raftServerUnauthenticated', member: member.name });
        continue;
      }
      const change =
        member.status === 'alive' && !voters.has(id)
          ? ({ type: 'addServer', id, voter: true } as const)
          : member.status === 'left' && voters.has(id) && id !== s.config.rpcId
            ? ({ type: 'removeServer', id } as const)
            : null;
      if (change === null) continue;
      trace(env2, {
        type: 'consul.raftServerChange',
        member: member.name,
        change: change.type === 'addServer' ? 'adding' : 'removing',
      });
      callRaft(s, env2, change, (result, env3) => {
        s.membershipChanging = false;
        if (result.ok) return reconcileRaftMembership(s, env3);
        trace(env3, { type: 'consul.raftServerChangeFailed', member: member.name, error: String(result.error) });
        if (result.error === 'busy') retryRaftMembershipSoon(env3);
      });
      return;
    }
    s.membershipChanging = false;
  });
}

// ───────────────────────────────────────── sessions ───────────────────────────────────────────────

export function onSessionSweepTimer(s: AgentState, env: Env): void {
  if (!s.isLeader) return;
  env.ctx.emit({ kind: 'setTimer', timer: 'sessionSweep', afterMs: s.config.timing.sessionSweepMs });
  callRaft(s, env, { type: 'readStale', query: { type: 'sessionExpiryNext' } }, (response, env2) => {
    if (!response.ok || !s.isLeader) return;
    const answer = storeAnswerOf<number | null>(response);
    const next = answer && 'value' in answer ? (answer.value ?? null) : null;
    if (next === null || next > env2.nowMs) return;
    propose(s, env2, 'sessions-expire', { type: 'sessionsExpire', nowMs: 0 }, (ok, env3, error) => {
      if (ok) trace(env3, { type: 'consul.sessionsExpired' });
      else trace(env3, { type: 'consul.sessionExpiryFailed', error: String(error) });
    });
  });
}

// ───────────────────────────────────────── tombstones ─────────────────────────────────────────────

/** The tombstone GC's tick (tombstones.ts): the leader proposes the reap of the windows a TTL old. */
export function onTombstoneGcTick(s: AgentState, env: Env): void {
  onTombstoneGcTimer(s, env, (command, then) => propose(s, env, 'tombstones-reap', command, then));
}
