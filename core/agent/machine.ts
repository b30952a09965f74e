/**
 * The agent machine: routes each input to its mechanism (one file each) and answers the requests the
 * agent handles alone (its own services and checks, membership through SWIM, events).
 *
 *   ops.ts         request → server op, result → Consul's response shape
 *   rpc.ts         local calls to Raft/SWIM; agent-to-agent RPC (client → server, server → leader)
 *   server.ts      writes, reads by consistency mode, blocking queries
 *   local.ts       local services and checks, check scheduling, maintenance, config reload
 *   antiEntropy.ts sync on change and periodic full sync to the catalog
 *   leader.ts      serfHealth from SWIM, Raft membership, session TTL sweeps, notices
 *   bootstrap.ts   -bootstrap / -bootstrap-expect
 *   events.ts      user events through SWIM
 */
import { assert } from '../assert.js';
import type { Prng } from '../prng.js';
import type { Member } from '../swim/api.js';
import type { DurableState, Input, Machine, NodeId, StepContext } from '../types.js';
import {
  agentErrors,
  validateAgentConfig,
  type AgentConfig,
  type AgentRequest,
  type AgentResponse,
  type CheckDefinition,
  type ServiceDefinition,
} from './api.js';
import {
  afterSync,
  armCoordinateSync,
  armFullSync,
  inSync,
  onCoordinateTimer,
  onFullSyncTimer,
  onSyncTimer,
  onSyncWaitTimer,
  resyncAfterRefutation,
  triggerSync,
} from './antiEntropy.js';
import { maybeBootstrap, onBootstrapTimer } from './bootstrap.js';
import { withQueryAuth } from './failover.js';
import { eventOf, fireEvent, listEvents, onEventsTimer, recordEvent } from './events.js';
import {
  addressOf,
  maybeReconcileRaftMembership,
  onMemberNotice,
  onRaftNotice,
  onReconcileTimer,
  onSessionSweepTimer,
  onTombstoneGcTick,
} from './leader.js';
import { armHello, onHello, onHelloTimer } from './hello.js';
import { tombstoneGcInvariants } from './tombstones.js';
import {
  addCheck,
  addService,
  applyFileDefinitions,
  onCheckResult,
  onCheckTimer,
  onTtlTimer,
  removeCheck,
  removeService,
  setNodeMaintenance,
  setServiceMaintenance,
  updateCheckFromApi,
} from './local.js';
import { blockingWaitMs, errorResponse, translate, uuid, type ServerOp } from './ops.js';
import {
  callSwim,
  checkAgentMessage,
  knownServers,
  onRaftReply,
  onRpcReply,
  onSwimReply,
  onLinkDown,
  onRpcTimeout,
  type AgentMessage,
} from './rpc.js';
import { executeServerOp, onBlockTimeout, onHoldTimer } from './server.js';
import {
  callIdBaseOf,
  initialState,
  reply,
  trace,
  eventsKeptMax,
  type AgentLocalInput,
  type AgentLocalOutput,
  type AgentState,
  type Env,
} from './state.js';
import { callWan, hasWan, leaveWan, maybeFloodJoin, onWanNotice } from './wan.js';
import { aclDatacenterOf, aclEnabled, aclNotFound, forwardedAuthOf, resolveToken, targetDatacenterOf } from './acl.js';

export type { AgentState } from './state.js';

/** API-registered definitions found on disk at init, registered again at start. */
interface Restored {
  services: ServiceDefinition[];
  checks: CheckDefinition[];
}
const restoredOf = new WeakMap<AgentState, Restored>();

export const agentMachine: Machine<
  AgentState,
  AgentConfig,
  AgentMessage,
  AgentRequest,
  AgentResponse,
  AgentLocalInput,
  AgentLocalOutput
> = {
  name: 'agent',

  init(nodeId: NodeId, config: AgentConfig, durable: DurableState, prng: Prng): AgentState {
    const problems = validateAgentConfig(config);
    assert(problems.length === 0, `bad agent config: ${problems.join('; ')}`);
    // Raft's id and SWIM's member id are the runtime's node id; the agent addresses servers by
    // `config.rpcId` and finds them at `host:<port tag>`, so the two must be the same string.
    assert(config.rpcId === nodeId, `agent config rpcId ${config.rpcId} must equal the runtime's node id ${nodeId}`);
    const s = initialState(config, config.server, config.nodeId || uuid(prng));
    const restored: Restored = { services: [], checks: [] };
    for (const [key, value] of durable.records) {
      if (key.startsWith('service/')) restored.services.push(value as ServiceDefinition);
      else if (key.startsWith('check/')) restored.checks.push(value as CheckDefinition);
    }
    restoredOf.set(s, restored);
    return s;
  },

  step(
    s: AgentState,
    input: Input<AgentMessage, AgentRequest, AgentLocalInput>,
    ctx: StepContext<AgentMessage, AgentResponse, AgentLocalOutput>,
  ): void {
    const env: Env = { ctx, nowMs: input.nowMs };
    switch (input.kind) {
      case 'start':
        return onStart(s, env, input.startNonce);
      case 'message':
        return onMessage(s, env, input.from, input.message);
      case 'timer':
        return onTimer(s, env, input.timer);
      case 'request':
        return onRequest(s, env, input.requestId, input.request);
      case 'checkResult':
        return onCheckResult(s, env, input.checkId, input.result);
      case 'linkDown':
        return onLinkDown(s, env, input.peer);
      case 'local':
        return onLocal(s, env, input);
    }
  },

  invariants: agentInvariants,
  view: agentView,
};

// ───────────────────────────────────────── inputs ─────────────────────────────────────────────────

function onStart(s: AgentState, env: Env, startNonce: number): void {
  // This process's call ids (state.ts nextCallId): none was used before the start.
  assert(s.localCalls.size === 0 && s.pendingRpcs.size === 0, 'no call is made before the start');
  s.nextCallId = callIdBaseOf(startNonce);
  const restored = restoredOf.get(s);
  applyFileDefinitions(s, env, s.config.services, s.config.checks);
  if (restored) {
    for (const def of restored.services) addService(s, env, def, 'api');
    for (const def of restored.checks) addCheck(s, env, def, 'api');
    restoredOf.delete(s);
  }
  triggerSync(s, env);
  armFullSync(s, env);
  armCoordinateSync(s, env, 1);
  armHello(s, env);
  if (s.hasRaft) maybeBootstrap(s, env);
}

function onMessage(s: AgentState, env: Env, from: NodeId, message: AgentMessage): void {
  const problem = checkAgentMessage(message);
  if (problem !== null)
    return trace(env, { type: 'agent.droppedMessage', from, problem: 'malformed', detail: problem });
  switch (message.t) {
    case 'rpc':
      if (!s.hasRaft) {
        // Only servers answer RPCs; a client that got one answers so the caller need not time out.
        env.ctx.emit({
          kind: 'send',
          to: from,
          channel: 'stream',
          message: {
            t: 'rpcReply',
            id: message.id,
            result: { ok: false, status: 500, error: 'rpc error: not a server' },
          },
        });
        return;
      }
      return executeServerOp(s, env, message.op, { kind: 'remote', from, id: message.id }, message.hops);
    case 'rpcReply':
      return onRpcReply(s, env, from, message.id, message.result);
    case 'hello':
      if (!onHello(s, env, from)) return;
      // A server now counts: bootstrap-expect may be reached, the leader may add it.
      maybeBootstrap(s, env);
      return maybeReconcileRaftMembership(s, env);
  }
}

function onTimer(s: AgentState, env: Env, timer: string): void {
  const colon = timer.indexOf(':');
  const name = colon < 0 ? timer : timer.slice(0, colon);
  const arg = colon < 0 ? '' : timer.slice(colon + 1);
  switch (name) {
    case 'sync':
      return onSyncTimer(s, env);
    case 'syncWait':
      return onSyncWaitTimer(s, env, Number(arg));
    case 'antiEntropy':
      return onFullSyncTimer(s, env);
    case 'coordinate':
      return onCoordinateTimer(s, env);
    case 'reconcile':
      return onReconcileTimer(s, env);
    case 'raftChangeRetry':
      return maybeReconcileRaftMembership(s, env);
    case 'hello':
      return onHelloTimer(s, env);
    case 'bootstrap':
      return onBootstrapTimer(s, env);
    case 'sessionSweep':
      return onSessionSweepTimer(s, env);
    case 'tombstoneGc':
      return onTombstoneGcTick(s, env);
    case 'rpc':
      return onRpcTimeout(s, env, Number(arg));
    case 'block':
      return onBlockTimeout(s, env, Number(arg));
    case 'hold':
      return onHoldTimer(s, env, Number(arg));
    case 'events':
      return onEventsTimer(s, env, Number(arg));
    case 'check':
      return onCheckTimer(s, env, arg);
    case 'ttl':
      return onTtlTimer(s, env, arg);
    default:
      assert(false, `agent: unknown timer ${timer}`);
  }
}

function onLocal(s: AgentState, env: Env, input: AgentLocalInput): void {
  switch (input.fromMachine) {
    case 'raft': {
      const output = input.payload;
      if (output.type === 'reply') return onRaftReply(s, env, output);
      return onRaftNotice(s, env, output);
    }
    case 'swim': {
      const output = input.payload;
      switch (output.type) {
        case 'reply':
          return onSwimReply(s, env, output);
        case 'member':
          maybeFloodJoin(s, env, output.member);
          return onMemberNotice(s, env, output.member);
        case 'userEvent':
          return recordEvent(s, env, output.event);
        case 'reaped':
          return; // the agent acted on the member's failed/left notice; SWIM forgetting it changes nothing here
        case 'refuted':
          return resyncAfterRefutation(s, env, output.claim);
      }
    }
    case 'wan': {
      const output = input.payload;
      if (output.type === 'reply') return onSwimReply(s, env, output, 'wan');
      return onWanNotice(s, env, output);
    }
  }
}

// ───────────────────────────────────────── requests ───────────────────────────────────────────────

function onRequest(s: AgentState, env: Env, requestId: number, request: AgentRequest): void {
  if (request === null || typeof request !== 'object' || typeof request.type !== 'string')
    return reply(env, requestId, errorResponse(400, 'malformed request'));
  // `?dc=` of another DC; ACL administration goes to the ACL datacenter (acl.ts).
  const dc = targetDatacenterOf(request, s.config.datacenter, aclEnabled(s) ? aclDatacenterOf(s) : undefined);
  const translation = translate(request, s.nodeName, env.ctx.prng, dc ?? s.config.datacenter);
  switch (translation.kind) {
    case 'error':
      return reply(env, requestId, translation.response);
    case 'server': {
      // `?dc=` of another DC: the servers forward it over the WAN (core/agent/wan.ts). The DC list and
      // WAN coordinates are the same from every DC (Consul ignores ?dc there).
      const auth = forwardedAuthOf(request, s.nodeName);
      const op = withQueryAuth(translation.op, auth);
      const remote = dc !== null && op.kind !== 'wan';
      return executeServerOp(
        s,
        env,
        remote ? { kind: 'dc', dc, op, crossed: false, auth } : op,
        { kind: 'client', requestId, request },
        0,
      );
    }
    case 'agent':
      // The agent's own endpoints are about this agent (Consul ignores ?dc there), except events,
      // which are per DC: another DC's are fired and listed by a server of that DC (events.ts).
      if (dc !== null && (request.type === 'event.fire' || request.type === 'event.list'))
        return eventsOfDc(s, env, requestId, request, dc);
      return onAgentRequest(s, env, requestId, request);
  }
}

/**
 * `event/fire?dc=X`, `event/list?dc=X`: sent as a `dc` op (a client agent's server forwards it over the
 * WAN); a server of X fires the event into X's LAN pool, or answers the events it received. Consul's
 * list ignores `?dc` and answers the local agent's events; answering X's instead is this agent's choice:
 * a user who names a DC asks about that DC.
 */
function eventsOfDc(
  s: AgentState,
  env: Env,
  requestId: number,
  request: AgentRequest & { type: 'event.fire' | 'event.list' },
  dc: string,
): void {
  if (request.type === 'event.fire' && !request.name) return reply(env, requestId, errorResponse(400, 'Missing name'));
  const op: ServerOp =
    request.type === 'event.fire'
      ? { kind: 'eventFire', event: eventOf(request, uuid(env.ctx.prng)) }
      : {
          kind: 'eventList',
          name: request.name ?? '',
          minIndex: Math.max(0, request.read.minIndex ?? 0),
          waitMs: blockingWaitMs(request.read, env.ctx.prng),
        };
  // The caller's token goes with it: the target DC authorizes the event with it (acl.ts).
  const auth = forwardedAuthOf(request, s.nodeName);
  executeServerOp(s, env, { kind: 'dc', dc, op, crossed: false, auth }, { kind: 'client', requestId, request }, 0);
}

const ok = (body: unknown = null): AgentResponse => ({ status: 200, body });

/** Consul's member status numbers (serf.MemberStatus): none 0, alive 1, leaving 2, left 3, failed 4. */
function statusNumber(member: Member): number {
  switch (member.status) {
    case 'alive':
    case 'suspect':
      return 1;
    case 'leaving':
      return 2;
    case 'left':
      return 3;
    case 'failed':
      return 4;
  }
}

function renderMember(s: AgentState, member: Member): Record<string, unknown> {
  // Member ids are RPC addresses (`ip:8300`) or bare hosts; `members` shows the gossip port, which
  // every agent of a cluster shares (Consul's 8301 unless -serf-lan-port says otherwise).
  return {
    Name: member.name,
    Addr: addressOf(member.id),
    Port: s.config.ports.serfLan,
    Tags: { ...member.tags },
    Status: statusNumber(member),
    ProtocolMin: 1,
    ProtocolMax: 5,
    ProtocolCur: 2,
    DelegateMin: 2,
    DelegateMax: 5,
    DelegateCur: 4,
  };
}

function renderLocalService(
  service: AgentState['services'] extends Map<string, infer V> ? V : never,
): Record<string, unknown> {
  return {
    ID: service.id,
    Service: service.service,
    Tags: [...service.tags],
    Address: service.address,
    Port: service.port,
    Meta: { ...service.meta },
    EnableTagOverride: service.enableTagOverride,
    Weights: { Passing: 1, Warning: 1 },
  };
}

function onAgentRequest(s: AgentState, env: Env, requestId: number, request: AgentRequest): void {
  const answer = (response: AgentResponse): void => reply(env, requestId, response);
  switch (request.type) {
    case 'agent.self':
    case 'agent.members':
      if (request.type === 'agent.members' && request.wan) return wanMembers(s, env, requestId);
      return callSwim(s, env, { type: 'members' }, (response, env2) => {
        if (!response.ok) return reply(env2, requestId, errorResponse(500, response.error));
        const members = (response.members ?? []).map((m) => renderMember(s, m));
        if (request.type === 'agent.members') return reply(env2, requestId, ok(members));
        const self = members.find((m) => m['Name'] === s.nodeName) ?? null;
        callSwim(s, env2, { type: 'coordinate' }, (coordinate, env3) => {
          reply(env3, requestId, ok(selfBody(s, self, coordinate.ok ? (coordinate.coordinate ?? null) : null)));
        });
      });
    case 'agent.join': {
      if (request.wan && !hasWan(s)) return answer(errorResponse(500, 'Must be a server to join WAN cluster'));
      const wan = request.wan === true;
      const call = wan ? callWan : callSwim;
      trace(env, { type: 'agent.joining', addresses: request.addresses, ...(wan ? { wan } : {}) });
      return call(s, env, { type: 'join', peers: request.addresses }, (response, env2) => {
        // Joining one's own address succeeds in Consul (memberlist contacts itself); SWIM does not
        // count it, so count it here.
        const self = request.addresses.filter((a) => a === s.config.rpcId).length;
        const joined = (response.ok ? (response.joined ?? 0) : 0) + self;
        const error =
          joined > 0 ? null : response.ok ? `no node answered at ${request.addresses.join(', ')}` : response.error;
        trace(env2, { type: 'agent.joined', count: joined, error: error ?? null, ...(wan ? { wan } : {}) });
        if (error !== null) return reply(env2, requestId, errorResponse(500, error));
        if (!request.wan) s.joined = true;
        reply(env2, requestId, ok(null));
      });
    }
    case 'agent.leave':
      trace(env, { type: 'agent.leaving' });
      // Stop pushing to the catalog now: the leader deregisters a node that left, and a sync racing
      // that would register it again.
      s.left = true;
      // A server leaves the WAN pool too (Consul's Server.Leave). Without it the other DCs kept a server that
      // left as a live member — routing `?dc=` requests to it until gossip found it gone, then showing it
      // failed, not left, and its DC in catalog/datacenters (round N, scenarios/multidc/dc-retired.txt).
      leaveWan(s, env);
      return callSwim(s, env, { type: 'leave' }, (response, env2) => {
        reply(env2, requestId, response.ok ? ok(null) : errorResponse(500, response.error));
      });
    case 'agent.forceLeave':
      if (request.wan && !hasWan(s)) return answer(errorResponse(500, 'Must be a server to force-leave a WAN member'));
      return (request.wan ? callWan : callSwim)(
        s,
        env,
        { type: 'forceLeave', name: request.node },
        (response, env2) => {
          reply(env2, requestId, response.ok ? ok(null) : errorResponse(500, response.error));
        },
      );
    case 'acl.resolve':
      if (!aclEnabled(s)) return answer(ok({ kind: 'all', allow: true }));
      return resolveToken(s, env, request.id, executeServerOp, (resolution, env2) => {
        if (resolution.kind === 'notFound') return reply(env2, requestId, errorResponse(403, aclNotFound));
        if (resolution.kind === 'error')
          return reply(env2, requestId, errorResponse(resolution.status, resolution.error));
        reply(env2, requestId, ok(resolution.grant));
      });
    case 'agent.reload': {
      const problems = applyFileDefinitions(s, env, request.services, request.checks);
      return answer(problems.length === 0 ? ok(null) : errorResponse(500, problems.join('; ')));
    }
    case 'agent.maintenance':
      setNodeMaintenance(s, env, request.enable, request.reason);
      return answer(ok(null));
    case 'agent.services': {
      const body: Record<string, unknown> = {};
      for (const service of s.services.values()) body[service.id] = renderLocalService(service);
      return answer(ok(body));
    }
    case 'agent.service': {
      const service = s.services.get(request.id);
      if (!service) return answer(errorResponse(404, `unknown service ID: ${request.id}`));
      return answer(ok({ ...renderLocalService(service), Datacenter: s.config.datacenter }));
    }
    case 'agent.service.register': {
      const problem = addService(s, env, request.service, 'api');
      if (problem !== null) return answer(errorResponse(400, problem));
      return afterSync(s, env, (env2) => reply(env2, requestId, ok(null)));
    }
    case 'agent.service.deregister':
      if (!removeService(s, env, request.id)) return answer(errorResponse(404, `Unknown service ID "${request.id}"`));
      return afterSync(s, env, (env2) => reply(env2, requestId, ok(null)));
    case 'agent.service.maintenance': {
      const problem = setServiceMaintenance(s, env, request.id, request.enable, request.reason);
      return answer(problem === null ? ok(null) : errorResponse(404, problem));
    }
    case 'agent.checks': {
      const body: Record<string, unknown> = {};
      for (const check of s.checks.values()) {
        body[check.id] = {
          Node: s.nodeName,
          CheckID: check.id,
          Name: check.name,
          Status: check.status,
          Notes: check.notes,
          Output: check.output,
          ServiceID: check.serviceId,
          ServiceName: check.serviceName,
          ServiceTags: [...(s.services.get(check.serviceId)?.tags ?? [])],
          Definition: {},
          CreateIndex: 0,
          ModifyIndex: 0,
        };
      }
      return answer(ok(body));
    }
    case 'agent.check.register': {
      const problem = addCheck(s, env, request.check, 'api');
      if (problem !== null) return answer(errorResponse(400, problem));
      return afterSync(s, env, (env2) => reply(env2, requestId, ok(null)));
    }
    case 'agent.check.pass':
    case 'agent.check.warn':
    case 'agent.check.fail': {
      const status =
        request.type === 'agent.check.pass' ? 'passing' : request.type === 'agent.check.warn' ? 'warning' : 'critical';
      const problem = updateCheckFromApi(s, env, request.id, status, request.note ?? '');
      return answer(problem === null ? ok(null) : errorResponse(404, problem));
    }
    case 'agent.check.update': {
      const problem = updateCheckFromApi(s, env, request.id, request.status, request.output ?? '');
      return answer(problem === null ? ok(null) : errorResponse(404, problem));
    }
    case 'agent.check.deregister':
      if (!removeCheck(s, env, request.id)) return answer(errorResponse(404, `Unknown check ID "${request.id}"`));
      return afterSync(s, env, (env2) => reply(env2, requestId, ok(null)));
    case 'agent.metrics':
      // Gossip figures live in SWIM's state: ask it, then answer with everything.
      return callSwim(s, env, { type: 'stats' }, (response, env2) => {
        reply(env2, requestId, ok(metricsBody(s, env2, response.ok ? (response.stats ?? null) : null)));
      });
    case 'event.fire':
      return fireEvent(s, env, requestId, request);
    case 'event.list':
      return listEvents(s, env, requestId, request);
    default:
      return answer(errorResponse(400, `unsupported request type '${request.type}'`));
  }
}

/**
 * `members -wan`: the WAN pool as this server sees it (`node.dc` names, the WAN port). Client agents
 * are not in the WAN pool and answer an empty list, as Consul's do.
 */
function wanMembers(s: AgentState, env: Env, requestId: number): void {
  if (!hasWan(s)) return reply(env, requestId, ok([]));
  callWan(s, env, { type: 'members' }, (response, env2) => {
    if (!response.ok) return reply(env2, requestId, errorResponse(500, response.error));
    const members = (response.members ?? []).map((m) => ({ ...renderMember(s, m), Port: s.config.ports.serfWan }));
    reply(env2, requestId, ok(members));
  });
}

function selfBody(s: AgentState, member: Record<string, unknown> | null, coord: unknown): Record<string, unknown> {
  const c = s.config;
  return {
    Config: {
      Datacenter: c.datacenter,
      NodeName: c.nodeName,
      NodeID: s.nodeId,
      Server: c.server,
      Bootstrap: c.bootstrap,
      BootstrapExpect: c.bootstrapExpect,
      AdvertiseAddr: c.advertiseAddr,
      ClientAddr: c.clientAddr,
      Ports: {
        HTTP: c.ports.http,
        DNS: c.ports.dns,
        SerfLan: c.ports.serfLan,
        SerfWan: c.ports.serfWan,
        Server: c.ports.server,
      },
      Version: c.build,
      EnableScriptChecks: c.enableScriptChecks,
    },
    DebugConfig: {
      Datacenter: c.datacenter,
      NodeName: c.nodeName,
      ServerMode: c.server,
      BootstrapExpect: c.bootstrapExpect,
    },
    Coord: coord,
    Member: member,
    Stats: {
      agent: { checks: String(s.checks.size), services: String(s.services.size) },
      consul: {
        server: String(c.server),
        leader: String(s.isLeader),
        leader_addr: s.leader ?? '',
        known_servers: String(knownServers(s).length),
        bootstrap: String(c.bootstrap),
      },
      raft: c.server ? { term: String(s.term), applied_index: String(s.appliedIndex) } : {},
    },
    Meta: { ...(c.nodeMeta ?? {}) },
  };
}

function metricsBody(
  s: AgentState,
  env: Env,
  swim: { counters: Readonly<Record<string, number>>; healthScore: number } | null,
): Record<string, unknown> {
  const gauge = (Name: string, Value: number): Record<string, unknown> => ({ Name, Value, Labels: {} });
  const commits = s.counters.raftCommits ?? 0;
  const commitMsSum = s.counters.raftCommitMsSum ?? 0;
  const statuses = { passing: 0, warning: 0, critical: 0 };
  for (const check of s.checks.values()) statuses[check.status]++;
  return {
    // The core has no wall clock: the node's clock in ms; net/http may render it as a date.
    TimestampMs: Math.floor(env.nowMs),
    Gauges: [
      gauge('consul.raft.term', s.term),
      gauge('consul.raft.applied_index', s.appliedIndex),
      gauge('consul.raft.leader', s.isLeader ? 1 : 0),
      gauge('consul.serf.members', s.members.size),
      gauge('consul.agent.blocking_queries', s.parked.size + s.parkedEvents.size),
      gauge('consul.agent.pending_rpcs', s.pendingRpcs.size),
      gauge('consul.agent.checks.passing', statuses.passing),
      gauge('consul.agent.checks.warning', statuses.warning),
      gauge('consul.agent.checks.critical', statuses.critical),
      gauge('consul.agent.services', s.services.size),
      ...(swim ? [gauge('consul.memberlist.health.score', swim.healthScore)] : []),
    ],
    Counters: [
      ...Object.entries(s.counters)
        .filter(([name]) => !name.startsWith('raftCommitMs'))
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([Name, Count]) => ({ Name: `consul.agent.${Name}`, Count, Sum: Count, Labels: {} })),
      ...Object.entries(swim?.counters ?? {})
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([Name, Count]) => ({ Name: `consul.memberlist.${Name}`, Count, Sum: Count, Labels: {} })),
    ],
    // Commit time as this server sees it: from proposing a write to Raft until it is committed and
    // applied here (Consul's consul.raft.commitTime and consul.raft.apply are both close to this).
    Samples:
      commits === 0
        ? []
        : [
            {
              Name: 'consul.raft.commitTime',
              Count: commits,
              Sum: commitMsSum,
              Min: s.counters.raftCommitMsMin ?? 0,
              Max: s.counters.raftCommitMsMax ?? 0,
              Mean: commitMsSum / commits,
              Labels: {},
            },
          ],
    Points: [],
  };
}

// ───────────────────────────────────────── invariants and view ────────────────────────────────────

export function agentInvariants(s: AgentState): string[] {
  const broken: string[] = [];
  const t = s.config.timing;
  if (s.parked.size > t.blockingQueriesMax)
    broken.push(`${s.parked.size} parked reads exceed blockingQueriesMax ${t.blockingQueriesMax}`);
  if (s.parkedEvents.size > t.blockingQueriesMax)
    broken.push(`${s.parkedEvents.size} parked event lists exceed blockingQueriesMax`);
  if (s.held.size > t.pendingRpcMax)
    broken.push(`${s.held.size} held requests exceed pendingRpcMax ${t.pendingRpcMax}`);
  if (!Number.isSafeInteger(s.nextCallId)) broken.push(`next call id ${s.nextCallId} is not a safe integer`);
  if (s.pendingRpcs.size > t.pendingRpcMax)
    broken.push(`${s.pendingRpcs.size} pending RPCs exceed pendingRpcMax ${t.pendingRpcMax}`);
  // Raft and SWIM answer every local call (Raft fails pending ones on step-down), so calls in flight stay
  // few; a growing map is a lost continuation (a leak, and a client that never gets its reply).
  const localCallsMax = 2 * (t.blockingQueriesMax + t.pendingRpcMax) + 1024;
  if (s.localCalls.size > localCallsMax)
    broken.push(`${s.localCalls.size} local calls in flight exceed ${localCallsMax}: a sibling does not answer`);
  if (!s.hasRaft && (s.isLeader || s.parked.size > 0))
    broken.push('a client agent leads or parks reads (only servers do)');
  if (s.isLeader && s.leader !== null && s.leader !== s.config.rpcId)
    broken.push(`leader flag set but the leader is ${s.leader}`);
  if (s.events.length > eventsKeptMax) broken.push(`${s.events.length} events kept, bound ${eventsKeptMax}`);
  broken.push(...tombstoneGcInvariants(s));
  for (const check of s.checks.values()) {
    if (check.serviceId !== '' && !s.services.has(check.serviceId))
      broken.push(`check ${check.id} belongs to unknown service ${check.serviceId}`);
    if (s.deregisterChecks.has(check.id))
      broken.push(`check ${check.id} is both registered and queued for deregistration`);
  }
  for (const id of s.services.keys())
    if (s.deregisterServices.has(id)) broken.push(`service ${id} is both registered and queued for deregistration`);
  return broken;
}

export function agentView(s: AgentState): Record<string, unknown> {
  const statuses = { passing: 0, warning: 0, critical: 0 };
  for (const check of s.checks.values()) statuses[check.status]++;
  return {
    role: s.hasRaft ? 'server' : 'client',
    leader: s.leader,
    isLeader: s.isLeader,
    knownServers: knownServers(s).length,
    services: [...s.services.keys()],
    checks: statuses,
    inSync: inSync(s),
    parked: s.parked.size,
    pendingRpcs: s.pendingRpcs.size,
    localCalls: s.localCalls.size,
    events: s.events.length,
  };
}
