/**
 * Anti-entropy (Consul agent/ae and local/state.go): the agent's services and checks are the truth for
 * its node; the catalog on the servers is made to match.
 *
 *  - Sync on change: any local change marks its item out of sync and arms the `sync` timer (0 ms:
 *    changes made in one step go out together, and a registered service shows up in the catalog
 *    within a round trip, which python-consul's 40 ms sleep relies on).
 *  - Periodic full sync (`antiEntropy` timer): read this node's catalog entry and health checks from
 *    the servers, mark everything that differs out of sync, queue deregistration of what the catalog
 *    has and the agent does not (except `serfHealth` and the `consul` service, which the leader
 *    owns), then push. This is what restores a service a server lost or that someone removed with
 *    `catalog.deregister`.
 *  - One push at a time, item after item ("agent: Synced node info", "agent: Synced service 'web'",
 *    "agent: Synced check 'ping'"); a failure logs "agent: failed to sync remote state: <why>" and
 *    retries after `syncRetryMs`.
 */
import type { CatalogService, HealthCheck, NodeSpec, StoreCommand } from '../store/types.js';
import type { ServerResult } from './ops.js';
import { executeServerOp } from './server.js';
import { count, trace, type AgentState, type Env, type LocalCheck, type LocalService } from './state.js';
import { callSwim } from './rpc.js';
import type { SwimResponse } from '../swim/api.js';

const serfHealthCheckId = 'serfHealth';
const consulServiceId = 'consul';

/** Something changed locally: push soon (coalesced within the step). */
export function triggerSync(s: AgentState, env: Env): void {
  if (s.left) return;
  if (s.syncing) {
    s.syncAgain = true;
    return;
  }
  // Re-setting the timer replaces a pending retry: a change (or a new leader) is worth trying now.
  s.syncArmed = true;
  env.ctx.emit({ kind: 'setTimer', timer: 'sync', afterMs: 0 });
}

export function onSyncTimer(s: AgentState, env: Env): void {
  s.syncArmed = false;
  if (s.left) return;
  if (s.syncing) {
    s.syncAgain = true;
    return;
  }
  s.syncing = true;
  syncNext(s, env);
}

/** Period of the full sync, with up to 1/8 of jitter so that agents do not sync in lockstep. */
export function armFullSync(s: AgentState, env: Env): void {
  const period = s.config.timing.antiEntropyIntervalMs;
  env.ctx.emit({
    kind: 'setTimer',
    timer: 'antiEntropy',
    afterMs: period + env.ctx.prng.below(Math.floor(period / 8) + 1),
  });
}

/**
 * This agent refuted a claim that it had failed or left. The leader may have acted on the claim first:
 * deregistered the node with its services and checks (it does on a leave), and the refutation
 * brings back only the node and its serfHealth (leader.ts reconcile). The agent's own bookkeeping still
 * says everything is in sync, so without a full sync its services stay out of the catalog until the next
 * periodic one (a minute in Consul, whose agent has this gap; scenarios/agent/leave.txt seeds 944 and 955).
 * The full sync runs `refutedResyncMs` later, once the claim and the refutation have reached the leader.
 */
export function resyncAfterRefutation(s: AgentState, env: Env, claim: 'failed' | 'left'): void {
  // Armed once: claims refuted one after another (a flapping member) must not postpone it for ever.
  if (s.left || s.refutedResyncArmed) return;
  s.refutedResyncArmed = true;
  count(s, 'refutedResyncs');
  trace(env, { type: 'agent.refutedResync', claim });
  env.ctx.emit({ kind: 'setTimer', timer: 'antiEntropy', afterMs: s.config.timing.refutedResyncMs });
}

export function onFullSyncTimer(s: AgentState, env: Env): void {
  s.refutedResyncArmed = false;
  if (s.left) return;
  armFullSync(s, env);
  if (s.syncing) {
    // The running push ends with this full sync: a push alone would not look at the catalog, and what the
    // catalog lost (a refuted claim's deregistration) would wait a whole period.
    s.fullSyncAgain = true;
    return;
  }
  startFullSync(s, env);
}

function startFullSync(s: AgentState, env: Env): void {
  s.syncing = true;
  count(s, 'fullSyncs');
  readRemote(s, env);
}

function internal(
  s: AgentState,
  env: Env,
  what: string,
  op: Parameters<typeof executeServerOp>[2],
  then: (result: ServerResult, env: Env) => void,
): void {
  executeServerOp(s, env, op, { kind: 'internal', what, then }, 0);
}

function readRemote(s: AgentState, env: Env): void {
  internal(
    s,
    env,
    'ae-read-checks',
    { kind: 'read', query: { type: 'healthNode', node: s.nodeName }, consistency: 'default', minIndex: 0, waitMs: 0 },
    (checks, env2) => {
      if (!checks.ok) return fullSyncFailed(s, env2, checks.error);
      internal(
        s,
        env2,
        'ae-read-node',
        {
          kind: 'read',
          query: { type: 'catalogNode', node: s.nodeName },
          consistency: 'default',
          minIndex: 0,
          waitMs: 0,
        },
        (node, env3) => {
          if (!node.ok) return fullSyncFailed(s, env3, node.error);
          compareRemote(
            s,
            node.value as { Node: RemoteNode; Services: Record<string, CatalogService> } | null,
            (checks.value as HealthCheck[] | null) ?? [],
          );
          syncNext(s, env3);
        },
      );
    },
  );
}

/** The node part of a `catalogNode` answer, as compareRemote reads it. */
interface RemoteNode {
  readonly Address: string;
  readonly ID?: string;
  readonly TaggedAddresses?: Readonly<Record<string, string>>;
  readonly Meta?: Readonly<Record<string, string>>;
}

/** Marks out of sync everything whose catalog copy differs (Consul updateSyncState). */
export function compareRemote(
  s: AgentState,
  node: { Node: RemoteNode; Services: Record<string, CatalogService> } | null,
  checks: readonly HealthCheck[],
): void {
  if (node === null) {
    s.nodeInSync = false;
    for (const service of s.services.values()) service.inSync = false;
    for (const check of s.checks.values()) check.inSync = false;
    return;
  }
  if (!nodeEqual(s, node.Node)) s.nodeInSync = false;
  const remoteServices = node.Services ?? {};
  for (const [id, remote] of Object.entries(remoteServices)) {
    const local = s.services.get(id);
    if (!local) {
      if (id !== consulServiceId) s.deregisterServices.add(id);
      continue;
    }
    if (!serviceEqual(local, remote)) local.inSync = false;
  }
  for (const service of s.services.values()) if (!(service.id in remoteServices)) service.inSync = false;
  const remoteChecks = new Map(checks.map((c) => [c.CheckID, c]));
  for (const [id] of remoteChecks) if (id !== serfHealthCheckId && !s.checks.has(id)) s.deregisterChecks.add(id);
  for (const check of s.checks.values()) {
    const remote = remoteChecks.get(check.id);
    if (!remote || !checkEqual(check, remote)) check.inSync = false;
  }
}

/**
 * The catalog's entry for this node is what the agent would register (Consul's updateSyncState compares the
 * node's ID, address, tagged addresses and meta). Someone else may have written it: the leader's reconcile
 * re-creates a deregistered node with its address alone, an operator may register it by hand. A push with
 * skipNodeUpdate leaves an existing node as it is, so only this comparison puts the agent's version back.
 */
function nodeEqual(s: AgentState, remote: RemoteNode): boolean {
  const spec = nodeSpec(s);
  const text = (record: Readonly<Record<string, string>> | undefined): string =>
    JSON.stringify(Object.entries(record ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return (
    remote.Address === spec.address &&
    (remote.ID === undefined || remote.ID === spec.id) &&
    (remote.TaggedAddresses === undefined || text(remote.TaggedAddresses) === text(spec.taggedAddresses)) &&
    (remote.Meta === undefined || text(remote.Meta) === text(spec.meta))
  );
}

function serviceEqual(local: LocalService, remote: CatalogService): boolean {
  return (
    local.service === remote.Service &&
    local.port === remote.Port &&
    local.address === remote.Address &&
    local.enableTagOverride === remote.EnableTagOverride &&
    JSON.stringify(local.tags) === JSON.stringify(remote.Tags ?? []) &&
    JSON.stringify(local.meta) === JSON.stringify(remote.Meta ?? {})
  );
}

function checkEqual(local: LocalCheck, remote: HealthCheck): boolean {
  return (
    local.status === remote.Status &&
    local.output === remote.Output &&
    local.name === remote.Name &&
    local.notes === remote.Notes &&
    local.serviceId === remote.ServiceID
  );
}

export function nodeSpec(s: AgentState): NodeSpec {
  const address = s.config.advertiseAddr;
  return {
    node: s.nodeName,
    address,
    id: s.nodeId,
    datacenter: s.config.datacenter,
    taggedAddresses: { lan: address, wan: address },
    meta: { ...(s.config.nodeMeta ?? {}) },
  };
}

function checkRecord(check: LocalCheck): {
  checkId: string;
  name: string;
  status: LocalCheck['status'];
  notes: string;
  output: string;
  serviceId?: string;
} {
  return {
    checkId: check.id,
    name: check.name,
    status: check.status,
    notes: check.notes,
    output: check.output,
    ...(check.serviceId !== '' ? { serviceId: check.serviceId } : {}),
  };
}

/** Pushes the next out-of-sync item, or finishes. */
function syncNext(s: AgentState, env: Env): void {
  const push = (what: string, command: StoreCommand, done: () => void): void =>
    internal(s, env, what, { kind: 'write', command }, (result, env2) => {
      if (!result.ok) return syncFailed(s, env2, result.error);
      const value = result.value as { ok?: boolean; error?: string } | null;
      if (value && typeof value === 'object' && value.ok === false)
        return syncFailed(s, env2, value.error ?? 'rejected');
      done();
      syncNext(s, env2);
    });

  // A leave stops the push chain too, not only new syncs: the item after the one in flight would register
  // the node again (a push with skipNodeUpdate re-creates a missing node) after the leader deregistered it.
  if (s.left) {
    s.syncing = false;
    s.syncAgain = false;
    s.fullSyncAgain = false;
    return flushSyncWaiters(s, env);
  }
  if (!s.nodeInSync) {
    return push('ae-node', { type: 'catalogRegister', node: nodeSpec(s), nowMs: 0 }, () => {
      s.nodeInSync = true;
      trace(env, { type: 'agent.syncedNode' });
    });
  }
  for (const id of s.deregisterServices) {
    return push(
      'ae-deregister-service',
      { type: 'catalogDeregister', node: s.nodeName, serviceId: id, nowMs: 0 },
      () => {
        s.deregisterServices.delete(id);
        trace(env, { type: 'agent.deregistered', what: 'service', id });
      },
    );
  }
  for (const id of s.deregisterChecks) {
    return push('ae-deregister-check', { type: 'catalogDeregister', node: s.nodeName, checkId: id, nowMs: 0 }, () => {
      s.deregisterChecks.delete(id);
      trace(env, { type: 'agent.deregistered', what: 'check', id });
    });
  }
  for (const service of s.services.values()) {
    if (service.inSync) continue;
    const version = service.version;
    const checks = [...s.checks.values()].filter((c) => c.serviceId === service.id);
    const versions = checks.map((c) => c.version);
    return push(
      'ae-service',
      {
        type: 'catalogRegister',
        node: nodeSpec(s),
        service: {
          id: service.id,
          service: service.service,
          tags: service.tags,
          address: service.address,
          port: service.port,
          meta: service.meta,
          enableTagOverride: service.enableTagOverride,
        },
        ...(checks.length > 0 ? { checks: checks.map(checkRecord) } : {}),
        skipNodeUpdate: true,
        nowMs: 0,
      },
      () => {
        if (s.services.get(service.id) === service && service.version === version) service.inSync = true;
        checks.forEach((c, i) => {
          if (s.checks.get(c.id) === c && c.version === versions[i]) c.inSync = true;
        });
        trace(env, { type: 'agent.synced', what: 'service', id: service.id });
      },
    );
  }
  for (const check of s.checks.values()) {
    if (check.inSync) continue;
    const version = check.version;
    return push(
      'ae-check',
      { type: 'catalogRegister', node: nodeSpec(s), checks: [checkRecord(check)], skipNodeUpdate: true, nowMs: 0 },
      () => {
        if (s.checks.get(check.id) === check && check.version === version) check.inSync = true;
        trace(env, { type: 'agent.synced', what: 'check', id: check.id });
      },
    );
  }
  s.syncing = false;
  if (s.fullSyncAgain) {
    // It reads the catalog and pushes whatever differs, which includes what syncAgain would push.
    s.fullSyncAgain = false;
    s.syncAgain = false;
    return startFullSync(s, env);
  }
  if (s.syncAgain) {
    s.syncAgain = false;
    triggerSync(s, env);
  } else flushSyncWaiters(s, env);
}

/**
 * Run `then` once the local state has been pushed to the catalog (or the push failed, or after a
 * bound): Consul's agent endpoints call syncChanges before answering, so a client that registers a
 * service and then asks the catalog sees it.
 */
export function afterSync(s: AgentState, env: Env, then: (env: Env) => void): void {
  const id = s.nextSyncWaiter++;
  s.syncWaiters.set(id, then);
  env.ctx.emit({
    kind: 'setTimer',
    timer: `syncWait:${id}`,
    afterMs: Math.min(s.config.timing.rpcTimeoutMs, syncWaitMsMax),
  });
  triggerSync(s, env);
}

export const syncWaitMsMax = 3000;

export function onSyncWaitTimer(s: AgentState, env: Env, id: number): void {
  const then = s.syncWaiters.get(id);
  if (!then) return;
  s.syncWaiters.delete(id);
  then(env);
}

function flushSyncWaiters(s: AgentState, env: Env): void {
  if (s.syncWaiters.size === 0) return;
  const waiting = [...s.syncWaiters];
  s.syncWaiters.clear();
  for (const [id, then] of waiting) {
    env.ctx.emit({ kind: 'cancelTimer', timer: `syncWait:${id}` });
    then(env);
  }
}

/**
 * The full sync's read of the catalog failed (no leader, the server died mid-call): its retry is a full sync
 * again, as Consul's syncer goes back to its full-sync state after a failure. A retry that only pushed would
 * find nothing out of sync, and what the catalog lost (a deregistration behind the agent's back) would wait a
 * whole period (scenarios/agent/leave.txt seed 3307: the refutation resync's read went to a server that crashed).
 */
function fullSyncFailed(s: AgentState, env: Env, error: string): void {
  s.fullSyncAgain = true;
  syncFailed(s, env, error);
}

function syncFailed(s: AgentState, env: Env, error: string): void {
  s.syncing = false;
  s.syncAgain = false;
  flushSyncWaiters(s, env);
  s.nodeInSync = false; // the node may be what is missing (deregistered by the leader after a leave)
  count(s, 'syncFailures');
  trace(env, { type: 'agent.syncFailed', error: String(error) });
  if (!s.syncArmed) {
    s.syncArmed = true;
    const retry = s.config.timing.syncRetryMs;
    env.ctx.emit({ kind: 'setTimer', timer: 'sync', afterMs: retry + env.ctx.prng.below(Math.floor(retry / 2) + 1) });
  }
}

/** Whether everything local is in the catalog as far as this agent knows (tests, view). */
export function inSync(s: AgentState): boolean {
  if (!s.nodeInSync || s.deregisterServices.size > 0 || s.deregisterChecks.size > 0) return false;
  for (const service of s.services.values()) if (!service.inSync) return false;
  for (const check of s.checks.values()) if (!check.inSync) return false;
  return true;
}

// ───────────────────────────────────────── coordinates ─────────────────────────────────────────────

/**
 * The next coordinate sync: Consul's interval — at least `coordinateSyncIntervalMs`, longer in big
 * clusters so that all agents together send at most 64 updates a second — plus up to as much again of
 * jitter, so agents spread out.
 */
export function armCoordinateSync(s: AgentState, env: Env, memberCount: number): void {
  const period = Math.max(
    s.config.timing.coordinateSyncIntervalMs,
    Math.ceil((memberCount / coordinateRateTarget) * 1000),
  );
  env.ctx.emit({ kind: 'setTimer', timer: 'coordinate', afterMs: period + env.ctx.prng.below(period + 1) });
}

const coordinateRateTarget = 64;

/** Send this node's coordinate (from SWIM) to the servers, once the node is in the catalog. */
export function onCoordinateTimer(s: AgentState, env: Env): void {
  if (s.left) return;
  callSwim(s, env, { type: 'members' }, (members, env2) => {
    armCoordinateSync(s, env2, members.ok ? (members.members?.length ?? 1) : 1);
    if (!s.nodeInSync || s.left) return; // not registered yet: the store would skip it anyway
    callSwim(s, env2, { type: 'coordinate' }, (response, env3) => {
      if (!response.ok || response.coordinate === undefined) return;
      internal(
        s,
        env3,
        'coordinate-sync',
        {
          kind: 'write',
          command: { type: 'coordinateBatchUpdate', updates: [{ Node: s.nodeName, Coord: response.coordinate }] },
        },
        (result, env4) => {
          if (result.ok) count(s, 'coordinateSyncs');
          else trace(env4, { type: 'agent.coordinateFailed', error: String(result.error) });
        },
      );
    });
  });
}
