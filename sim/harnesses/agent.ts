/**
 * Harness for the full agent stack: every node hosts swim + agent, the first `servers` nodes also host
 * raft whose FSM is the state store (core/agent/mounts.ts), exactly as the real agent composes them.
 * Servers find each other through gossip tags and bootstrap with bootstrap-expect = `servers`;
 * clients join the servers and forward through them.
 *
 * Workload: `clients` processes send KV writes, consistent reads and check-and-sets (read the entry,
 * then `cas` on its ModifyIndex) on a few keys through random agents — servers and clients alike, so
 * forwarding is on the path of every client-agent operation — and record them in the history with
 * their keys. Write values are unique, so an index-based CAS is a value-based cas(from, to) and the
 * history can be checked against the register model. Each client agent also hosts the seed's `web`
 * service with a script check; the simulator runs checks with seeded results (`checkFailPercent`).
 *
 * With `set catalogClients N`, catalog processes register, deregister and read external services and
 * move agent-hosted ones (sim/harnesses/agent-catalog.ts).
 *
 * Safety (end of run): the KV history is linearizable (sim/checkers/lin, register model per key), and
 * the catalog history against a map model when catalog processes ran.
 * Liveness: after the faults stop there is a leader, every live node's serfHealth is passing in the
 * leader's catalog, and a KV write issued in the liveness phase commits.
 */
import { Buffer } from 'node:buffer';
import { assert } from '../../core/assert.js';
import {
  agentTimingSim,
  makeAgentConfig,
  type AgentRequest,
  type AgentResponse,
  type Consistency,
  type AgentConfig,
  agentErrors,
} from '../../core/agent/api.js';
import { isLive, knownServers, wanSlowMs } from '../../core/agent/rpc.js';
import type { AgentState } from '../../core/agent/machine.js';
import { mountsFor } from '../../core/agent/mounts.js';
import type { NodeRuntime } from '../../core/runtime.js';
import type { RaftState } from '../../core/raft/state.js';
import { createStoreFsm, type StoreFsm } from '../../core/store/store.js';
import { checkedStoreFsm } from '../checkers/store.js';
import { TombstoneAgeChecker, type TombstoneEvent } from '../checkers/tombstones.js';
import type { HealthCheck, StoreCommand } from '../../core/store/types.js';
import type { NodeId } from '../../core/types.js';
import { checkHistory, registerModel, UNKNOWN, type LinOp, type RegisterInput } from '../checkers/lin/index.js';
import { runState, type Harness, type SimApi } from '../harness.js';
import type { Operation } from '../history.js';
import { parseDurationMs, type Scenario } from '../scenario.js';
import { checkIntegerParams } from '../params.js';
import { RaftClusterChecker } from '../checkers/raft.js';
import { actDc, DcActivity, dcActions, expectDc } from './agent-dc.js';
import { actGate, gateActions } from './agent-gate.js';
import { checkSessionAsAsked } from './agent-sessions.js';
import {
  catalogAddressOf,
  catalogNodes,
  catalogQueryName,
  catalogService,
  checkCatalog,
  startCatalog,
} from './agent-catalog.js';
import { startDnsClients } from './agent-dns.js';
import { SyncAnswers, type SyncAnswerView } from './agent-sync-answer.js';
import { syncWaitMsMax } from '../../core/agent/antiEntropy.js';
import { startAutopilotProbes } from './agent-autopilot.js';
import type { AgentsHost, LocalStateHost } from './agent-host.js';
import { EventsActivity, noteEvent, startEvents } from './agent-events.js';
import {
  catalogMisses,
  ChecksActivity,
  checkTtlMiss,
  checkResultApplied,
  checksSyncMisses,
  notePass,
  type CheckResultInput,
  startChecks,
} from './agent-checks.js';
import { readModeDrawer } from './agent-reads.js';
import { StaleReadContact } from './agent-lastcontact.js';
import type { Effect, StorageOp } from '../../core/types.js';
import type { Entry } from '../../core/raft/messages.js';
import { raftNodeText } from './why-not-live.js';
import { coverRaftEffect, coverRaftStart, coverRaftStep, type RoleMarks } from './raft-coverage.js';
import { agentStoreTransitionsOf } from './store-coverage.js';
import { LeftNodes } from './agent-leave.js';
import { checkBlockingAnswer, checkParkedReads } from './agent-blocking.js';
import { checkRpcsToFailed, GossipLiveness } from './agent-rpcs.js';

const params = {
  servers: 'how many of the nodes are servers (the first N; bootstrap-expect N)',
  clients: 'workload processes (each has one operation outstanding)',
  opEveryMs: 'mean gap between one process’s operations (ms)',
  keys: 'number of KV keys the workload touches',
  requestTimeoutMs: 'client timeout (ms): after it the outcome is unknown',
  checkFailPercent: 'chance (%) that a seeded check run reports critical',
  checkWarnPercent:
    "chance (%) that a seeded check run that did not fail reports warning (a script exiting 1, an HTTP 429: Consul's CheckMonitor); default 0, drawn only when set",
  linTimeoutMs: 'time budget of the end-of-run linearizability check (ms)',
  clientsJoin: '1 = client agents join the servers at start (-retry-join); 0 = they wait for an agent.join',
  staleReads:
    '1 = every read is ?stale, and checked as if linearizable (not: proves the checker can fail); 0 = the three modes mixed',
  readModes: 'shares of consistent/default/stale reads, e.g. 40/40/20 (the default)',
  sessionClients:
    'processes that create TTL sessions (10 s), renew them a few times, then destroy or abandon them (default 2; 0 with clients 0)',
  serverAuth:
    "1 = a server joins Raft only after it introduced itself on the server port, as the agent does with TLS verify_incoming (core/agent/hello.ts); 0 = on gossip alone (default, Consul's rule)",
  watchers:
    'watch processes (consul-template, `consul watch`): each long-polls its own key `w<N>` through random agents (`?wait=` 5–20 s) and now and then writes it; default 0, drawn only when set',
  remoteWatchers:
    'multi-DC only: 1 = each watcher long-polls and writes its key in a datacenter other than its agent’s (`?dc=`), as consul-template watches a key of another DC: the blocking read is forwarded over the WAN and parked there for its whole wait (default 0, drawn only when set)',
  catalogClients:
    'catalog processes (consul-esm, external services): each registers and deregisters external nodes e1..e3 with service `ext` and a check in a drawn status, and reads health/service/ext (half with ?passing) in a drawn mode; consistent reads and every write checked against a map model (default 0, drawn only when set)',
  catalogNodeChecks:
    "1 = with catalogClients, external nodes also carry a node-level check `ext-node` in a drawn status (some deregistrations remove only it), a prepared query `ext-q` (OnlyPassing, IgnoreCheckIDs ext-node) is executed among the reads, and half of the removals behind an agent's back take its `service:web` check (sim/harnesses/agent-catalog.ts; default 0, drawn only when set)",
  deletePercent:
    'share (%) of the CAS operations that are delete-cas instead (`DELETE /v1/kv/<key>?cas=<index read>`, 0 when the key was absent); default 0, drawn only when set',
  deleteWritePercent:
    'share (%) of the plain writes that are deletes instead: half `DELETE /v1/kv/<key>`, half `DELETE /v1/kv/k?recurse` (delete-tree of every workload key), each recorded as a delete of its keys; default 0, drawn only when set',
  listPercent:
    'share (%) of the reads that are listings of the workload prefix `k` instead (`?recurse` or `?keys`, blocking like the reads when blockingPercent draws so), judged by the blocking rules, not recorded; default 0, drawn only when set',
  quietEveryMs:
    'with quietMs: the period (ms) of the KV workload’s busy/quiet cycle — every client issues nothing during the last quietMs of each period, as an application’s traffic goes quiet (a night, a deploy freeze), so the tombstone GC reaps while no key under the prefix is rewritten; default 0 (always busy), no draw either way',
  quietMs: 'with quietEveryMs: how long (ms) each quiet spell lasts, at the end of each period; default 0',
  tombstoneTtlMs:
    "the servers' tombstone TTL (ms; default Consul's 15 min, core/agent/api.ts): how long the leader keeps a deleted key's tombstone before it proposes the reap",
  tombstoneGranularityMs:
    "the servers' tombstone GC granularity (ms; default Consul's 30 s): the leader reaps the tombstones of one such window with one Raft entry",
  blockingPercent:
    'share (%) of reads that are blocking (`?index=` the last index the process saw for the key, `?wait=` 1–3 s); default 0, drawn only when set',
  tcpFallbackPing:
    "true (default) or false: memberlist's TCP fallback probe in every agent's gossip (false: a member whose datagrams are cut is declared failed although its TCP works)",
  checkClients:
    'agent-check processes (health reporters): each owns TTL checks on one agent, sets their status and output and heartbeats one, and registers a service now and then; acknowledged updates, TTL expiries and `expect checks-synced` are checked (sim/harnesses/agent-checks.ts; default 0, drawn only when set)',
  sessionNodeChecks:
    '1 = the session processes name their node checks: a third none (serfHealth), a third `Checks: []`, a third `Checks: ["serfHealth"]`; each created session must hold what it named (sim/harnesses/agent-sessions.ts); default 0, drawn only when set',
  checkServiceChecks:
    "1 = with checkClients, each process's service `hc<p>` carries a TTL check, set to passing or warning in the same instant the registration is sent (it meets the service's push in flight; sim/harnesses/agent-checks.ts); default 0, drawn only when set",
  eventClients:
    'user-event processes: half fire events with a few repeated names through random agents, half watch one agent each with blocking event lists; a fire must leave its event on the agent that acknowledged it, and a blocking list must return when its agent receives an event (sim/harnesses/agent-events.ts; default 0, drawn only when set)',
  autopilotProbes:
    "processes that ask `operator/autopilot/health` through random agents every 0.2–0.6 s; each answer is judged against Consul's health rules (sim/harnesses/agent-autopilot.ts; default 0, drawn only when set)",
  antiEntropyMs:
    "the agents' full-sync period (ms; default the simulator's 5000): longer than the run leaves only the sync on change to bring the catalog up to date",
  dnsClients:
    "DNS clients (`dig @agent -p 8600`): service, tag, RFC 2782, node, prepared-query, PTR and `.addr` lookups through random agents, run by the agent's own DNS lookup (core/agent/endpoints/dns.ts) and judged against Consul's DNS rules applied to the reads it made (sim/harnesses/agent-dns.ts); default 0, drawn only when set",
  nodeMeta:
    "1 = every agent runs with node_meta (`rack` r0..r2 by its index, and `agent` its name), which its anti-entropy keeps in the catalog's node record and `expect catalog-synced` / `checks-synced` compare — a node the leader re-creates (its reconcile writes the address alone) must get its meta back; default 0 (no meta)",
  refutedResyncMs:
    "how long after refuting a claim that it failed or left an agent runs a full sync (ms; default the simulator's 1000; core/agent/antiEntropy.ts resyncAfterRefutation). A value longer than the run turns the resync off, as in Consul, whose agent waits for its next periodic full sync",
  acl: 'legacy ACLs per DC, DC:POLICY[/ACL_DC[/DOWN_POLICY]] comma-separated (e.g. dc2:deny/dc2,dc1:allow/dc2/deny); master token `root`. The simulator has no front-end gate: only what crosses a WAN is authorized (core/agent/acl.ts), and what an `acl-access` action sends through the gate of core/agent/gate.ts, which net/gate.ts runs too (sim/harnesses/agent-gate.ts)',
  aclTtlMs:
    "with `set acl`: every ACL-enabled agent's `acl_ttl` (ms; default Consul's 30000), how long a DC whose `acl_datacenter` is another keeps a token it resolved from there",
  raftMultiplier:
    "the servers' `performance.raft_multiplier` (1..10): Raft's production timing (election timeout 1–2 s × m, heartbeat 100 ms × m, core/raft/config.ts raftTimingFor) instead of the simulator's 150–300 ms; default unset",
} as const;

/** The master token of `set acl` scenarios. */
export const simAclMasterToken = 'root';

/** `set acl`'s settings for `dc`, or undefined when its ACLs are off; throws naming what is malformed. */
export function aclOf(scenario: Scenario, dc: string): AgentConfig['acl'] {
  const raw = scenario.params['acl'];
  if (raw === undefined) return undefined;
  for (const part of raw.split(',')) {
    const [name, spec] = part.split(':');
    if (name !== dc) continue;
    const [policy, aclDc, down] = (spec ?? '').split('/');
    if (policy !== 'allow' && policy !== 'deny') throw new Error(`set acl: '${part}': policy must be allow or deny`);
    if (down !== undefined && down !== 'allow' && down !== 'deny' && down !== 'extend-cache')
      throw new Error(`set acl: '${part}': down policy must be allow, deny or extend-cache`);
    return {
      enabled: true,
      defaultPolicy: policy,
      masterToken: simAclMasterToken,
      ...(aclDc ? { datacenter: aclDc } : {}),
      ...(down ? { downPolicy: down } : {}),
      ...(scenario.params['aclTtlMs'] !== undefined ? { ttlMs: Number(scenario.params['aclTtlMs']) } : {}),
    };
  }
  return undefined;
}

function num(scenario: Scenario, key: keyof typeof params, fallback: number): number {
  const raw = scenario.params[key];
  return raw === undefined ? fallback : Number(raw);
}

/** The stranger's rogues (`stranger ... rogue=n6`): servers with the gossip key and no certificate. */
export function roguesOf(scenario: Scenario): readonly NodeId[] {
  return scenario.stranger?.rogues ?? [];
}

/**
 * The agents the workload talks to: every node but the rogues (the attacker's processes). The same array
 * when there is none, so a scenario without rogues draws what it always drew.
 */
function agentsOf(sim: SimApi): readonly NodeId[] {
  const rogues = roguesOf(sim.scenario);
  return rogues.length === 0 ? sim.nodeIds : sim.nodeIds.filter((id) => !rogues.includes(id));
}

export function serversOf(scenario: Scenario): NodeId[] {
  if (scenario.datacenters.length > 0) return scenario.datacenters.flatMap((dc) => dc.nodes.slice(0, dc.servers));
  return scenario.nodes.slice(0, Math.min(scenario.nodes.length, num(scenario, 'servers', 3)));
}

// ───────────────────────────────────────── datacenters ────────────────────────────────────────────
// `nodes dc1:3+2 dc2:3+1`: each DC its own servers (bootstrap-expect = its server count), Raft and
// store; the servers of every DC join one WAN pool; KV keys live per DC, and the workload reads and
// writes another DC's keys with `?dc=` (forwarded over the WAN by core/agent/wan.ts). The history
// names a key `dc/key`, so each DC's register history is checked on its own: a cross-DC read is
// judged against the target DC's writes. Without datacenters everything is one DC, `dc1`, as before.

const multiDc = (scenario: Scenario): boolean => scenario.datacenters.length > 0;

/** The datacenter of `nodeId` ('dc1' in a one-DC scenario). */
export function dcOf(scenario: Scenario, nodeId: NodeId): string {
  return scenario.datacenters.find((dc) => dc.nodes.includes(nodeId))?.name ?? 'dc1';
}

/** The nodes of datacenter `dc` (every node in a one-DC scenario). */
export function nodesOfDc(scenario: Scenario, dc: string): readonly NodeId[] {
  return multiDc(scenario) ? (scenario.datacenters.find((d) => d.name === dc)?.nodes ?? []) : scenario.nodes;
}

function serversOfDc(scenario: Scenario, dc: string): NodeId[] {
  const found = scenario.datacenters.find((d) => d.name === dc);
  return found ? found.nodes.slice(0, found.servers) : serversOf(scenario);
}

/** The history's key of `key` in datacenter `dc`: `dc/key` in multi-DC scenarios, `key` otherwise. */
function historyKey(scenario: Scenario, dc: string, key: string): string {
  return multiDc(scenario) ? `${dc}/${key}` : key;
}

/** The seed's web service with its script check, hosted by every client agent. */
const webService = {
  name: 'web',
  tags: ['rails'],
  port: 80,
  checks: [{ script: 'curl localhost >/dev/null 2>&1', intervalMs: 10_000 }],
};

// ───────────────────────────────────────── state per run ──────────────────────────────────────────

/** One simulation's bookkeeping (`start` makes it; one harness object serves many simulations). */
class AgentRun {
  /** The sync-before-answer rule's calls in flight (agent-sync-answer.ts). */
  readonly syncAnswers = new SyncAnswers();
  /** A KV write issued in the liveness phase committed (one-DC scenarios). */
  livenessWriteOk = false;
  /** Multi-DC: DCs where a liveness write committed, and where a cross-DC read from it was answered. */
  readonly livenessDcs = new Set<string>();
  readonly livenessCrossDcs = new Set<string>();
  /** Multi-DC: one Raft cluster checker per DC (Raft safety and the per-step rules, per DC). */
  readonly raftCheckers = new Map<string, RaftClusterChecker>();
  /** node → its DC's checker, or null for a client agent (raftCheckerOf ran on every input and effect). */
  readonly raftCheckerByNode = new Map<NodeId, RaftClusterChecker | null>();
  livenessProbing = false;
  /** Each server's last role, for the coverage of role transitions. */
  readonly roles: RoleMarks = new Map();
  /** The stepping node's own clock in its current step (the input's nowMs). */
  stepNowMs = 0;
  /** A check result the stepping node is handed (onInput), judged after its step (checkResultApplied). */
  checkResultIn: CheckResultInput | null = null;
  nextValue = 1;
  defaultReadsAnswered = 0;
  /** Why a workload operation did not succeed, by history id (the history keeps no output for an unknown outcome). */
  readonly errorOf = new Map<number, string>();
  /** What the prepared-query and event actions saw (agent-dc.ts). */
  readonly dc = new DcActivity();
  /** Workload operations that got no answer within their client timeout (for `expect failover-within`). */
  readonly unanswered = new Set<number>();
  /** A blocking read's wait (ms), by history id. */
  readonly blockingWaitMs = new Map<number, number>();
  /** Process stops (crash, disk replaced, exit): who, when, and whether its Raft led then (at which term). */
  readonly stops: { readonly node: NodeId; readonly atMs: number; readonly ledTerm: number | null }[] = [];
  /** The tombstone age rule, one per datacenter (sim/checkers/tombstones.ts). */
  readonly tombstoneAge = new Map<string, TombstoneAgeChecker>();
  /** Process starts after time 0. */
  readonly starts: { readonly node: NodeId; readonly atMs: number }[] = [];
  /** Node names some server's gossip view has held `failed` so far (the serfHealth rule, checkSerfHealth). */
  readonly heldFailed = new Set<string>();
  /** Agents that received a leave request, for the left-agent rule (sim/harnesses/agent-leave.ts). */
  readonly leftNodes = new LeftNodes();
  /** The stale-read LastContact rule (sim/harnesses/agent-lastcontact.ts, round N). */
  readonly staleContact = new StaleReadContact();
  /** Every `raft.becameLeader`: who, at which term, when. */
  readonly elections: { readonly node: NodeId; readonly term: number; readonly atMs: number }[] = [];
  /**
   * The KV writes the servers applied, per datacenter, by log index (drained from each server's store
   * after every step: kvWritesOf): what an acknowledged write's index must name (checkWriteAcks).
   */
  readonly appliedKvWrites = new Map<string, Map<number, AppliedKvWrite>>();
  /** The servers' applied KV writes were drained (the per-step checks run: not with invariants off). */
  appliedKvWritesRecorded = false;
  /** A server recorded more KV writes in one step than kvWritesKeptMax: the write-ack check has no verdict. */
  appliedKvWritesLost = false;
  /** Writes and CAS answered with a boolean, to judge against `appliedKvWrites` at the end. */
  readonly writeAcks: WriteAck[] = [];
  /** Answers the per-call check looked at (reads and their entries, write acknowledgements). */
  answersChecked = 0;
  /**
   * When each client agent first knew a live server (its join answered), from the per-step checks; and
   * whether those ran (not with invariants off), for `expect read-errors`.
   */
  readonly clientJoinedAtMs = new Map<NodeId, number>();
  clientJoinsTracked = false;
  /** The agent-check workload's bookkeeping (agent-checks.ts). */
  readonly checks = new ChecksActivity();
  /** The user-event workload's bookkeeping (agent-events.ts). */
  readonly events = new EventsActivity();
  /** Each agent's gossip view of which members are live, for the RPCs-to-failed rule (agent-rpcs.ts). */
  readonly gossipLive = new GossipLiveness();
  /**
   * Per forwarding server (this process of it): the servers of other DCs one of its forwarded requests timed
   * out on, and when (the server's own clock), for the failed-server-last rule (checkWanForward).
   */
  readonly wanTimedOut = new Map<NodeId, Map<NodeId, number>>();
}

/** A KV write a server applied: its key and value (the workload's values are unique strings). */
interface AppliedKvWrite {
  readonly key: string;
  readonly value: string | null;
}

/** A write or CAS answered 200 with a boolean: which request, and the log index the answer named. */
interface WriteAck {
  readonly what: string;
  readonly dc: string;
  readonly key: string;
  readonly value: string;
  readonly index: number;
}

function runOf(sim: SimApi): AgentRun {
  return runState(sim, AgentRun);
}

// ───────────────────────────────────────── helpers for tests and checks ───────────────────────────

export function agentOf(sim: SimApi, nodeId: NodeId): AgentState | null {
  const runtime = sim.runtime(nodeId);
  return runtime ? runtime.stateOf<AgentState>('agent') : null;
}

/** The node whose agent believes it leads (and whose raft agrees), if exactly one does; else null. */
export function leaderOf(sim: SimApi, dc?: string): NodeId | null {
  const candidates = dc === undefined ? sim.nodeIds : nodesOfDc(sim.scenario, dc);
  const leaders = candidates.filter((id) => {
    const runtime = sim.runtime(id);
    return (
      runtime !== null &&
      runtime.hasMachine('raft') &&
      runtime.stateOf<RaftState>('raft').role === 'leader' &&
      runtime.stateOf<AgentState>('agent').isLeader
    );
  });
  if (leaders.length === 0) return null;
  // Two nodes may both think they lead during a partition; the one with the higher term is current.
  leaders.sort(
    (a, b) => sim.runtime(b)!.stateOf<RaftState>('raft').term - sim.runtime(a)!.stateOf<RaftState>('raft').term,
  );
  return leaders[0]!;
}

export function storeOf(runtime: NodeRuntime): StoreFsm {
  return runtime.stateOf<RaftState>('raft').fsm as StoreFsm;
}

/**
 * `expect catalog-synced` (one DC; part of liveness, so the liveness phase waits for it, and checked again
 * when the run ends): anti-entropy converged — for every live agent that
 * has not left, the leader's catalog holds exactly the services (id and port) and checks (id) the agent
 * hosts (what the leader itself writes for the node aside: serfHealth and a server's `consul` service).
 * Check statuses are not compared: checks keep running after the faults, and the last result may be on
 * its way.
 */
function catalogSyncMisses(sim: SimApi): string | null {
  assert(!multiDc(sim.scenario), 'catalog-synced is a one-DC expectation');
  const leader = leaderOf(sim);
  if (leader === null) return 'no leader to ask';
  return catalogMisses(liveAgents(sim), storeOf(sim.runtime(leader)!).state, {
    statuses: false,
    lostQueue: () => false,
    prefix: 'anti-entropy has not converged',
  });
}

/** The agents that are up, running and have not left: those whose state the catalog must mirror. */
function liveAgents(sim: SimApi): { node: NodeId; agent: AgentState }[] {
  const agents: { node: NodeId; agent: AgentState }[] = [];
  for (const id of sim.nodeIds) {
    if (!sim.isUp(id) || sim.isPaused(id)) continue;
    const agent = agentOf(sim, id);
    if (agent !== null && !agent.left) agents.push({ node: id, agent });
  }
  return agents;
}

/**
 * Per-step rule (Consul's WAN forwarding, core/agent/wan.ts): a server forwards a request to another DC
 * only to a server of that DC its WAN pool holds live (alive or suspect); with none, it answers "No path to
 * datacenter" at once. A forward to a server it holds failed or left waits out the RPC timer instead.
 */
function checkWanForward(sim: SimApi, nodeId: NodeId, to: NodeId, message: unknown): void {
  const p = (message as { m?: string; p?: { t?: string; op?: { kind?: string; crossed?: boolean; dc?: string } } })?.p;
  if ((message as { m?: string })?.m !== 'agent' || p?.t !== 'rpc' || p.op?.kind !== 'dc' || p.op.crossed !== true)
    return;
  const agent = agentOf(sim, nodeId);
  const member = agent?.wanMembers.get(to);
  if (member !== undefined && member.status !== 'alive' && member.status !== 'suspect')
    return sim.violation(
      `wan forward: ${nodeId} forwarded a request for ${p.op.dc ?? '?'} to ${to}, which its WAN pool holds ${member.status}`,
    );
  // Failed server last (round J; Consul's router: a server an RPC failed on goes to the end of the list,
  // agent/router/manager.go NotifyFailedServer): a server of another DC that let one of this server's forwarded
  // requests time out within wanSlowMs (on this server's clock) is not chosen while another live server of that
  // DC has let none time out.
  const timedOut = runOf(sim).wanTimedOut.get(nodeId);
  const nowMs = runOf(sim).stepNowMs;
  const recent = (id: NodeId): boolean => {
    const atMs = timedOut?.get(id);
    return atMs !== undefined && nowMs - atMs < wanSlowMs;
  };
  if (agent === null || !recent(to)) return;
  const other = [...agent.wanMembers.values()].find(
    (m) => m.id !== to && m.id !== nodeId && m.tags['dc'] === p.op!.dc && isLive(m) && !recent(m.id),
  );
  if (other !== undefined)
    sim.violation(
      `wan forward: ${nodeId} forwarded a request for ${p.op.dc ?? '?'} to ${to}, on which one timed out ${Math.round(nowMs - timedOut!.get(to)!)} ms before, while ${other.id} of that DC was live and had let none time out (a failed server goes last)`,
    );
}

/**
 * Whether a read arriving at server `nodeId` is an ACL read its DC sends to another DC, its `acl_datacenter`
 * (Consul forwards ACL reads there): the answer carries that DC's server's age, not this server's to judge by
 * the stale-read LastContact rule (sim/test/multidc-acl.test.ts's acl_datacenter test failed on it).
 */
function answeredByAclDc(
  scenario: Scenario,
  nodeId: NodeId,
  input: { kind: string; request?: unknown; message?: unknown },
): boolean {
  // The read's kind first: it runs on every input of every server, and most are not ACL reads.
  let type: unknown;
  if (input.kind === 'request') type = (input.request as { body?: { type?: unknown } } | null)?.body?.type;
  else if (input.kind === 'message')
    type = (input.message as { p?: { op?: { query?: { type?: unknown } } } } | null)?.p?.op?.query?.type;
  if (typeof type !== 'string' || !type.startsWith('acl')) return false;
  const dc = dcOf(scenario, nodeId);
  const aclDc = aclOf(scenario, dc)?.datacenter;
  return aclDc !== undefined && aclDc !== dc;
}

/** `set nodeMeta 1`: the node_meta agent `nodeId` runs with (Consul's `-node-meta rack:r1`). */
function nodeMetaOf(scenario: Scenario, nodeId: NodeId): Readonly<Record<string, string>> {
  return { rack: `r${scenario.nodes.indexOf(nodeId) % 3}`, agent: nodeId };
}

/** The stale-read LastContact rule at an answer leaving server `nodeId` (sim/harnesses/agent-lastcontact.ts). */
function checkStaleContact(sim: SimApi, nodeId: NodeId, effect: Effect): void {
  const runtime = sim.runtime(nodeId);
  if (!runtime?.hasMachine('raft')) return;
  let key: string;
  let lastContactMs: unknown;
  /** The answer's `Datacenter` (a prepared query's: the DC that served it after a failover). */
  let servedBy: unknown;
  if (effect.kind === 'reply') {
    key = `c${effect.requestId}`;
    const response = effect.response as { lastContactMs?: unknown; body?: { Datacenter?: unknown } } | null;
    lastContactMs = response?.lastContactMs;
    servedBy = response?.body?.Datacenter;
  } else if (effect.kind === 'send') {
    const envelope = effect.message as {
      m?: string;
      p?: {
        t?: string;
        id?: number;
        result?: { ok?: boolean; lastContactMs?: unknown; value?: { Datacenter?: unknown } | null };
      };
    };
    if (envelope?.m !== 'agent' || envelope.p?.t !== 'rpcReply') return;
    key = `r${effect.to}:${envelope.p.id}`;
    lastContactMs = envelope.p.result?.ok === true ? envelope.p.result.lastContactMs : undefined;
    servedBy = envelope.p.result?.ok === true ? envelope.p.result.value?.Datacenter : undefined;
  } else return;
  // A prepared query that failed over was answered by another DC's server, with that server's age (Consul's
  // failover returns the remote reply's QueryMeta): not this server's contact to judge.
  if (typeof servedBy === 'string' && servedBy !== dcOf(sim.scenario, nodeId)) lastContactMs = undefined;
  const leads = runtime.stateOf<RaftState>('raft').role === 'leader';
  const problem = runOf(sim).staleContact.checkAnswer(nodeId, runOf(sim).stepNowMs, key, lastContactMs, leads);
  if (problem !== null) sim.violation(problem);
}

/** The input hook of the failed-server-last rule: a forwarded request to another DC whose RPC timer fires now. */
function noteWanTimeout(sim: SimApi, nodeId: NodeId, input: { kind: string; timer?: string; nowMs: number }): void {
  // The node's timer names are the machine's, prefixed with its name (core/runtime.ts timerName).
  if (input.kind !== 'timer' || !input.timer?.startsWith('agent:rpc:')) return;
  const pending = agentOf(sim, nodeId)?.pendingRpcs.get(Number(input.timer.slice('agent:rpc:'.length)));
  if (pending === undefined || pending.op.kind !== 'dc' || !pending.op.crossed) return;
  const run = runOf(sim);
  let timedOut = run.wanTimedOut.get(nodeId);
  if (timedOut === undefined) run.wanTimedOut.set(nodeId, (timedOut = new Map()));
  timedOut.set(pending.to, input.nowMs);
}

/**
 * Per-step rule (round I, session 14; Consul's serfHealth: the leader marks a node's "Serf Health Status"
 * critical on Serf's member-failed event, and a suspect member is still alive — Lifeguard's whole point is
 * that suspicion is not failure): a node's serfHealth is critical in a server's catalog only if some
 * server's gossip view has held that node `failed` by then. Each server's view is noted at each of its
 * steps, before its store is judged; the leader's view held the node failed in the step it proposed the
 * write, so no replica applies it earlier. (Weak on purpose: once a node has failed, a later false failure
 * of it is not told apart.)
 */
function checkSerfHealth(run: AgentRun, agent: AgentState, fsm: StoreFsm): string | null {
  for (const member of agent.members.values()) if (member.status === 'failed') run.heldFailed.add(member.name);
  for (const [node, checks] of fsm.state.checks) {
    const serf = checks.get('serfHealth');
    if (serf?.Status === 'critical' && !run.heldFailed.has(node))
      return `serfHealth: the catalog holds ${node}'s serfHealth critical (modified at index ${serf.ModifyIndex}), but no server's gossip has held ${node} failed yet`;
  }
  return null;
}

function expectsCatalogSync(scenario: Scenario): boolean {
  return scenario.expectations.some((e) => e.name === 'catalog-synced');
}

/**
 * `expect checks-synced` (one DC; part of liveness, as catalog-synced): every live agent that has not left
 * has its services and its checks, with their statuses, in the leader's catalog (sim/harnesses/agent-checks.ts).
 */
function checksSyncMissesOf(sim: SimApi): string | null {
  assert(!multiDc(sim.scenario), 'checks-synced is a one-DC expectation');
  const leader = leaderOf(sim);
  if (leader === null) return 'no leader to ask';
  const run = runOf(sim);
  // A deregistration asked for before the agent restarted may be lost with its in-memory queue.
  const lostQueue = (node: NodeId, serviceId: string): boolean => {
    const askedMs = run.checks.deregisteredMs.get(`${node}/${serviceId}`);
    return askedMs !== undefined && run.starts.some((s) => s.node === node && s.atMs >= askedMs);
  };
  return checksSyncMisses(liveAgents(sim), storeOf(sim.runtime(leader)!).state, lostQueue);
}

function expectsChecksSync(scenario: Scenario): boolean {
  return scenario.expectations.some((e) => e.name === 'checks-synced');
}

/** serfHealth of `node` in the leader's catalog: 'passing' | 'critical' | 'absent' (node deregistered) | null (no leader). */
export function serfHealthOf(sim: SimApi, node: NodeId): string | null {
  const leader = leaderOf(sim, multiDc(sim.scenario) ? dcOf(sim.scenario, node) : undefined);
  if (leader === null) return null;
  const store = storeOf(sim.runtime(leader)!).state;
  if (!store.nodes.has(node)) return 'absent';
  const check: HealthCheck | undefined = store.checks.get(node)?.get('serfHealth');
  return check ? check.Status : 'absent';
}

/**
 * End-of-run rule: every live server that the leader of its DC shows alive (serfHealth passing) is in that
 * leader's catalog with the `consul` service. Consul's leader registers it for each alive server
 * (leader.go handleAliveMember, in the same write as serfHealth here: memberHealth) and owns it: an agent's
 * anti-entropy leaves it alone (local/state.go updateSyncState skips structs.ConsulServiceID), so
 * `consul.service.consul` in DNS and `catalog/service/consul` list every alive server.
 */
function checkServersRegistered(sim: SimApi): string[] {
  const problems: string[] = [];
  for (const node of serversOf(sim.scenario)) {
    if (!sim.isUp(node) || sim.isPaused(node) || agentOf(sim, node)?.left !== false) continue;
    const leader = leaderOf(sim, multiDc(sim.scenario) ? dcOf(sim.scenario, node) : undefined);
    if (leader === null) continue;
    const store = storeOf(sim.runtime(leader)!).state;
    if (store.checks.get(node)?.get('serfHealth')?.Status !== 'passing') continue;
    if (!store.services.get(node)?.has('consul'))
      problems.push(`server ${node} is alive (serfHealth passing) in ${leader}'s catalog without its consul service`);
  }
  return problems;
}

/** Sends one agent request; `onDone(undefined)` on timeout. */
export function agentRequest(
  sim: SimApi,
  nodeId: NodeId,
  body: AgentRequest,
  timeoutMs: number,
  onDone: (response: AgentResponse | undefined) => void,
): void {
  // The sync-before-answer rule (agent-sync-answer.ts) on service (de)registrations.
  const syncAnswers = runOf(sim).syncAnswers;
  const token = syncAnswers.begin(nodeId, body, sim.nowMs);
  sim.request(nodeId, { machine: 'agent', body }, timeoutMs, (response) => {
    if (token !== null) {
      const problem = syncAnswers.end(token, response as AgentResponse | undefined, sim.nowMs, () =>
        syncAnswerView(sim, nodeId, body),
      );
      if (problem !== null) sim.violation(problem);
    }
    onDone(response as AgentResponse | undefined);
  });
}

/** What the sync-before-answer rule reads when `nodeId`'s agent answered `body`. */
function syncAnswerView(sim: SimApi, nodeId: NodeId, body: AgentRequest): SyncAnswerView {
  const agent = agentOf(sim, nodeId);
  const serviceId =
    body.type === 'agent.service.register'
      ? (body.service.id ?? body.service.name)
      : body.type === 'agent.service.deregister'
        ? body.id
        : '';
  const servers = serversOfDc(sim.scenario, dcOf(sim.scenario, nodeId));
  return {
    left: agent === null || agent.left,
    syncWaitMs: Math.min(agent?.config.timing.rpcTimeoutMs ?? syncWaitMsMax, syncWaitMsMax),
    holds: servers.map((server) => {
      const runtime = sim.runtime(server);
      return runtime ? (storeOf(runtime).state.services.get(nodeId)?.has(serviceId) ?? false) : null;
    }),
    startedMs: servers.map((server) => {
      let atMs = -1;
      for (const start of runOf(sim).starts) if (start.node === server) atMs = start.atMs;
      return atMs;
    }),
  };
}

export function decodeValue(entry: { Value: string | null } | undefined): string | null {
  if (!entry || entry.Value === null) return null;
  return Buffer.from(entry.Value, 'base64').toString('utf8');
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

// ───────────────────────────────────────── workload ───────────────────────────────────────────────

/** The no-early-return rule (agent-blocking.ts) on a workload or watcher process's blocking read. */
function judgeBlockingAnswer(
  sim: SimApi,
  node: NodeId,
  key: string,
  minIndex: number,
  waitMs: number,
  invokeMs: number,
  response: Parameters<typeof checkBlockingAnswer>[6],
): void {
  const what = callText(node, 'blocking read', key, invokeMs);
  const early = checkBlockingAnswer(sim.scenario, what, minIndex, waitMs, invokeMs, sim.nowMs, response);
  if (early !== null) sim.violation(early);
}

function startWorkload(sim: SimApi, scenario: Scenario): void {
  const prng = sim.random('workload');
  const run = runOf(sim);
  const processes = num(scenario, 'clients', 3);
  const everyMs = num(scenario, 'opEveryMs', 100);
  const keys = Array.from({ length: num(scenario, 'keys', 3) }, (_, i) => `k${i}`);
  const timeoutMs = num(scenario, 'requestTimeoutMs', 3000);
  /** The mode of one read: drawn per read (consistent, default or stale), or always stale. */
  const readMode = readModeDrawer(prng, scenario);
  const read = { consistency: 'consistent' as Consistency };
  // Blocking reads (opt-in): drawn only when set, so that other scenarios draw exactly as before.
  const blockingPercent = num(scenario, 'blockingPercent', 0);
  // Delete-cas instead of a CAS (opt-in): drawn only when set, likewise.
  const deletePercent = num(scenario, 'deletePercent', 0);
  // Plain deletes and delete-trees instead of writes, listings instead of reads (opt-in): likewise.
  const deleteWritePercent = num(scenario, 'deleteWritePercent', 0);
  const listPercent = num(scenario, 'listPercent', 0);
  // Busy/quiet cycles (opt-in, no draw): an operation due in a quiet spell waits for the next busy one.
  const quietEveryMs = num(scenario, 'quietEveryMs', 0);
  const quietMs = quietEveryMs > 0 ? Math.min(num(scenario, 'quietMs', 0), quietEveryMs - 1) : 0;
  const quietLeftMs = (atMs: number): number => {
    if (quietMs <= 0) return 0;
    const intoMs = atMs % quietEveryMs;
    return intoMs < quietEveryMs - quietMs ? 0 : quietEveryMs - intoMs;
  };

  for (let process = 0; process < processes; process++) {
    /** The last X-Consul-Index this process saw per key (a blocking read's `?index=`). */
    const seenIndex = new Map<string, number>();
    const next = (): void => {
      if (sim.phase !== 'safety') return;
      const delayMs = 1 + prng.below(2 * everyMs);
      sim.after(delayMs + quietLeftMs(sim.nowMs + delayMs), issue);
    };
    const issue = (): void => {
      if (sim.phase !== 'safety') return;
      const node = prng.pick(agentsOf(sim));
      const raw = prng.pick(keys);
      const kind = prng.below(10);
      // Multi-DC: half the operations go to another DC's keys through `?dc=` (drawn only then, so a
      // one-DC scenario draws exactly what it always drew).
      const home = dcOf(scenario, node);
      const dc = multiDc(scenario) && prng.below(2) === 0 ? prng.pick(scenario.datacenters).name : home;
      const key = historyKey(scenario, dc, raw);
      const where = dc === home ? {} : { dc };
      if (kind < 4 && deleteWritePercent > 0 && prng.below(100) < deleteWritePercent) {
        const tree = prng.below(2) === 0;
        const deleted = tree ? keys.map((k) => historyKey(scenario, dc, k)) : [key];
        // A delete-tree is one request and one operation per key it deletes: each under a process of its own
        // (treeProcessBase), as the history keeps one open operation per process.
        const ops = deleted.map((k, i) =>
          sim.history.invoke(
            tree ? treeProcessBase + process * keys.length + i : process,
            'delete',
            { tree },
            node,
            sim.nowMs,
            k,
          ),
        );
        const del = tree
          ? ({ type: 'kv.deleteTree', prefix: 'k', ...where } as const)
          : ({ type: 'kv.delete', key: raw, ...where } as const);
        agentRequest(sim, node, del, timeoutMs, (response) => {
          for (const op of ops) completeDelete(sim, run, op, response);
          next();
        });
      } else if (kind < 4) {
        const value = `v${run.nextValue++}`;
        const op = sim.history.invoke(process, 'write', { value }, node, sim.nowMs, key);
        const put = { type: 'kv.put', key: raw, value: bytes(value), ...where } as const;
        agentRequest(sim, node, put, timeoutMs, (response) => {
          completeWrite(sim, run, node, dc, raw, value, op, response);
          next();
        });
      } else if (kind < 7 && listPercent > 0 && prng.below(100) < listPercent) {
        const listKey = historyKey(scenario, dc, 'list:k');
        const minIndex = seenIndex.get(listKey) ?? 0;
        const blocking = blockingPercent > 0 && prng.below(100) < blockingPercent && minIndex > 0;
        const waitMs = blocking ? 1000 + prng.below(2001) : 0;
        const read = waitMs > 0 ? { consistency: readMode(), minIndex, waitMs } : { consistency: readMode() };
        const list =
          prng.below(2) === 0
            ? ({ type: 'kv.list', prefix: 'k', read, ...where } as const)
            : ({ type: 'kv.keys', prefix: 'k', read, ...where } as const);
        const invokeMs = sim.nowMs;
        agentRequest(sim, node, list, timeoutMs + waitMs + Math.ceil(waitMs / 16), (response) => {
          checkResponseIndex(sim, node, listKey, response);
          judgeBlockingAnswer(sim, node, listKey, minIndex, waitMs, invokeMs, response);
          if (typeof response?.index === 'number' && response.index >= 1) seenIndex.set(listKey, response.index);
          next();
        });
      } else if (kind < 7) {
        const mode = readMode();
        const minIndex = seenIndex.get(key) ?? 0;
        const waitMs =
          blockingPercent > 0 && prng.below(100) < blockingPercent && minIndex > 0 ? 1000 + prng.below(2001) : 0;
        const op = sim.history.invoke(process, 'read', waitMs > 0 ? { mode, waitMs } : { mode }, node, sim.nowMs, key);
        if (waitMs > 0) run.blockingWaitMs.set(op.id, waitMs);
        const options = waitMs > 0 ? { consistency: mode, minIndex, waitMs } : { consistency: mode };
        const get = { type: 'kv.get', key: raw, read: options, ...where } as const;
        // A blocking read's client waits its wait and the jitter (wait/16) on top of the usual timeout.
        const clientTimeoutMs = timeoutMs + waitMs + Math.ceil(waitMs / 16);
        agentRequest(sim, node, get, clientTimeoutMs, (response) => {
          checkResponseIndex(sim, node, key, response);
          checkReadAnswer(sim, node, raw, op.invokeMs, response);
          judgeBlockingAnswer(sim, node, key, minIndex, waitMs, op.invokeMs, response);
          if (response === undefined) run.unanswered.add(op.id);
          else if (blockingPercent > 0 && typeof response.index === 'number' && response.index >= 1)
            seenIndex.set(key, response.index);
          if (response?.status === 200)
            sim.history.complete(op, 'ok', decodeValue((response.body as { Value: string | null }[])[0]), sim.nowMs);
          else if (response?.status === 404) sim.history.complete(op, 'ok', null, sim.nowMs);
          else if (noteError(run, op.id, response)) sim.history.complete(op, 'fail', response?.error, sim.nowMs); // a failed read constrains nothing
          next();
        });
      } else {
        // CAS: read the entry (not recorded), then cas on its ModifyIndex; values are unique, so
        // "ModifyIndex unchanged" is "value still equals what we read".
        const readAtMs = sim.nowMs;
        agentRequest(sim, node, { type: 'kv.get', key: raw, read, ...where }, timeoutMs, (seen) => {
          checkReadAnswer(sim, node, raw, readAtMs, seen);
          if (sim.phase !== 'safety' || (seen?.status !== 200 && seen?.status !== 404)) return next();
          const entry =
            seen.status === 200 ? (seen.body as { Value: string | null; ModifyIndex: number }[])[0] : undefined;
          const from = decodeValue(entry);
          if (deletePercent > 0 && prng.below(100) < deletePercent) {
            // Delete-cas on the index read: deletes when the key still holds `from`, succeeds doing nothing
            // when it is absent, fails when another value is there (Consul's `?cas=0` on an absent key).
            const op = sim.history.invoke(process, 'delete-cas', { from }, node, sim.nowMs, key);
            const del = { type: 'kv.delete', key: raw, cas: entry?.ModifyIndex ?? 0, ...where } as const;
            agentRequest(sim, node, del, timeoutMs, (response) => {
              completeConditional(sim, run, op, response);
              next();
            });
            return;
          }
          const to = `v${run.nextValue++}`;
          const op = sim.history.invoke(process, 'cas', { from, to }, node, sim.nowMs, key);
          agentRequest(
            sim,
            node,
            { type: 'kv.cas', key: raw, value: bytes(to), index: entry?.ModifyIndex ?? 0, ...where },
            timeoutMs,
            (response) => {
              checkWriteAnswer(sim, node, dc, 'cas', raw, to, op.invokeMs, response);
              completeConditional(sim, run, op, response);
              next();
            },
          );
        });
      }
    };
    sim.after(2000 + prng.below(everyMs + 1), issue);
  }
  startWatchers(sim, scenario);

  // Service registrations through random client agents (recorded, not part of the KV model).
  const clientsNodes = agentsOf(sim).filter((id) => !serversOf(scenario).includes(id));
  let serviceNumber = 0;
  const register = (): void => {
    if (sim.phase !== 'safety' || clientsNodes.length === 0 || processes === 0) return;
    const node = prng.pick(clientsNodes);
    const name = `svc${serviceNumber++ % 4}`;
    const op = sim.history.invoke(processes, 'register', { name }, node, sim.nowMs);
    agentRequest(
      sim,
      node,
      { type: 'agent.service.register', service: { name, port: 9000 + serviceNumber } },
      timeoutMs,
      (response) => {
        if (response?.status !== 200) noteError(run, op.id, response);
        sim.history.complete(op, response?.status === 200 ? 'ok' : 'unknown', response?.status, sim.nowMs);
        sim.after(500 + prng.below(1000), register);
      },
    );
  };
  sim.after(1500, register);
}

/**
 * Watch processes (opt-in, `set watchers N`), as consul-template and `consul watch` run: each long-polls
 * its own key `w<N>` through a random agent — a plain read first, then `?index=` the last index it saw
 * with `?wait=` 5–20 s (Consul's default wait is 5 minutes) — and a quarter of the time writes a new
 * value to it instead (the only writes of that key, so most watches run out their wait: long-lived
 * calls parked on a server, as real watches are). Recorded in the history like the other processes'
 * reads and writes (process ids after theirs), checked alike. Draws from their own stream. With
 * `remoteWatchers` (multi-DC), the key is another DC's, read and written through `?dc=`: the watch is parked
 * on a server of that DC for its whole wait, so a server of that DC dying silently meets it in flight.
 */
function startWatchers(sim: SimApi, scenario: Scenario): void {
  const watchers = num(scenario, 'watchers', 0);
  if (watchers === 0) return;
  const prng = sim.random('watchers');
  const readMode = readModeDrawer(prng, scenario);
  const run = runOf(sim);
  const processes = num(scenario, 'clients', 3) + 1; // after the workload's and the registrations' ids
  const timeoutMs = num(scenario, 'requestTimeoutMs', 3000);
  const remote = multiDc(scenario) && num(scenario, 'remoteWatchers', 0) === 1;
  for (let w = 0; w < watchers; w++) {
    const process = processes + w;
    const raw = `w${w}`;
    /** The last index seen, per datacenter (an agent reads and writes its own DC's `w<N>`). */
    const seenIndex = new Map<string, number>();
    const next = (): void => {
      if (sim.phase === 'safety') sim.after(1 + prng.below(50), watch);
    };
    const watch = (): void => {
      if (sim.phase !== 'safety') return;
      const node = prng.pick(agentsOf(sim));
      const home = dcOf(scenario, node);
      // `remoteWatchers`: another DC's key through `?dc=` (drawn only then: other scenarios draw as before).
      const dc = remote ? prng.pick(scenario.datacenters.filter((d) => d.name !== home)).name : home;
      const where = dc === home ? {} : { dc };
      const key = historyKey(scenario, dc, raw);
      if (prng.below(4) === 0) {
        const value = `v${run.nextValue++}`;
        const op = sim.history.invoke(process, 'write', { value }, node, sim.nowMs, key);
        const put = { type: 'kv.put', key: raw, value: bytes(value), ...where } as const;
        return agentRequest(sim, node, put, timeoutMs, (response) => {
          completeWrite(sim, run, node, dc, raw, value, op, response);
          next();
        });
      }
      const mode = readMode();
      const minIndex = seenIndex.get(dc) ?? 0;
      const waitMs = minIndex > 0 ? 5000 + prng.below(15_001) : 0;
      const op = sim.history.invoke(process, 'read', waitMs > 0 ? { mode, waitMs } : { mode }, node, sim.nowMs, key);
      if (waitMs > 0) run.blockingWaitMs.set(op.id, waitMs);
      const read = waitMs > 0 ? { consistency: mode, minIndex, waitMs } : { consistency: mode };
      const clientTimeoutMs = timeoutMs + waitMs + Math.ceil(waitMs / 16);
      agentRequest(sim, node, { type: 'kv.get', key: raw, read, ...where }, clientTimeoutMs, (response) => {
        checkResponseIndex(sim, node, key, response);
        checkReadAnswer(sim, node, raw, op.invokeMs, response);
        judgeBlockingAnswer(sim, node, key, minIndex, waitMs, op.invokeMs, response);
        if (response === undefined) run.unanswered.add(op.id);
        else if (typeof response.index === 'number' && response.index >= 1) seenIndex.set(dc, response.index);
        if (response?.status === 200)
          sim.history.complete(op, 'ok', decodeValue((response.body as { Value: string | null }[])[0]), sim.nowMs);
        else if (response?.status === 404) sim.history.complete(op, 'ok', null, sim.nowMs);
        else if (noteError(run, op.id, response)) sim.history.complete(op, 'fail', response?.error, sim.nowMs);
        next();
      });
    };
    sim.after(2000 + prng.below(1000), watch);
  }
}

/**
 * Session clients (`PUT /v1/session/create?ttl=10s`, renew, destroy) through random agents: each
 * renews its session 0–3 times, 2–4 s apart, then destroys it or abandons it to the leader's TTL
 * sweep. The servers' FSMs check that none is invalidated before TTL × 2 after its last renewal.
 */
function startSessions(sim: SimApi, scenario: Scenario): void {
  // Part of the workload: none when the scenario runs no workload processes (`clients 0`).
  const count = num(scenario, 'sessionClients', num(scenario, 'clients', 3) === 0 ? 0 : 2);
  const sessionStats = { created: 0, refused: [] as string[] };
  sim.at(scenario.safetyMs, () =>
    sim.log(
      `agent: sessions created ${sessionStats.created}, refused ${sessionStats.refused.length}: ${sessionStats.refused.slice(0, 2).join('; ')}`,
    ),
  );
  const prng = sim.random('sessions');
  const sessionNodeChecks = num(scenario, 'sessionNodeChecks', 0) === 1;
  const timeoutMs = num(scenario, 'requestTimeoutMs', 3000);
  for (let p = 0; p < count; p++) {
    const later = (ms: number, fn: () => void): void => {
      if (sim.phase === 'safety') sim.after(ms, fn);
    };
    const create = (): void => {
      const via = prng.pick(agentsOf(sim));
      // `set sessionNodeChecks 1`: a third each name no checks, `Checks: []` (no health tie: a TTL-only lock
      // session) or `Checks: ["serfHealth"]`. Drawn only when set, so other scenarios draw what they drew.
      const nodeChecks = sessionNodeChecks ? [undefined, [], ['serfHealth']][prng.below(3)] : undefined;
      const body: AgentRequest = {
        type: 'session.create',
        ttlMs: 10_000,
        lockDelayMs: 0,
        ...(nodeChecks !== undefined ? { checks: nodeChecks } : {}),
      };
      agentRequest(sim, via, body, timeoutMs, (r) => {
        const id = r?.status === 200 ? (r.body as { ID?: string }).ID : undefined;
        if (id === undefined) {
          sessionStats.refused.push(r ? `${r.status} ${r.error ?? ''}` : 'timeout');
          return later(500 + prng.below(1000), create);
        }
        sessionStats.created++;
        checkSessionAsAsked(sim, id, { ttlMs: 10_000, lockDelayMs: 0, via, ...(nodeChecks ? { nodeChecks } : {}) });
        let renewals = prng.below(4);
        const renew = (): void => {
          if (renewals-- <= 0) {
            if (prng.below(2) === 0)
              agentRequest(sim, prng.pick(agentsOf(sim)), { type: 'session.destroy', id }, timeoutMs, () => undefined);
            return later(500 + prng.below(1000), create); // destroyed, or abandoned to the TTL sweep
          }
          agentRequest(sim, prng.pick(agentsOf(sim)), { type: 'session.renew', id }, timeoutMs, () =>
            later(2000 + prng.below(2000), renew),
          );
        };
        later(2000 + prng.below(2000), renew);
      });
    };
    sim.after(2500 + prng.below(1000), create);
  }
}

/**
 * Issue 14: a server that never presented a server certificate (a rogue of the stranger's: the gossip key,
 * no certificate) is never in a Raft configuration, as a voter or as a learner — `operator raft
 * list-peers` never shows it. Checked on the configuration every server holds, after each of its steps.
 */
function checkNoRogueMember(sim: SimApi, nodeId: NodeId, raft: RaftState): string | null {
  const rogues = roguesOf(sim.scenario);
  if (rogues.length === 0 || roguesOf(sim.scenario).includes(nodeId)) return null;
  for (const rogue of rogues) {
    const as = raft.membership.voters.includes(rogue)
      ? 'a voter'
      : raft.membership.learners.includes(rogue)
        ? 'a learner'
        : null;
    if (as !== null)
      return `${nodeId}'s Raft configuration (index ${raft.membershipIndex}) lists the rogue ${rogue} as ${as}: it holds the gossip key but never presented a server certificate`;
  }
  return null;
}

/** Liveness probe: once faults stop, keep writing through random agents until one write commits. */
function startLivenessProbe(sim: SimApi, scenario: Scenario): void {
  const prng = sim.random('liveness');
  const run = runOf(sim);
  if (multiDc(scenario)) return startDcLivenessProbes(sim, scenario, prng);
  sim.at(scenario.safetyMs, () => {
    const probe = (): void => {
      if (run.livenessWriteOk || sim.phase === 'done') return;
      const node = prng.pick(agentsOf(sim));
      agentRequest(sim, node, { type: 'kv.put', key: 'liveness', value: bytes('ok') }, 1000, (response) => {
        if (response?.status === 200 && response.body === true) run.livenessWriteOk = true;
        else sim.after(200, probe);
      });
    };
    probe();
  });
}

/**
 * Errors the agent gives only when a write was never proposed anywhere: no server known, no leader
 * (Raft refuses a proposal it cannot lead before appending it; a forward happens only on such a
 * refusal), or a queue bound refused it. Such a write did not happen. Every other failure (RPC
 * timeouts, leadership lost while committing) leaves the outcome unknown.
 */
const notAppliedErrors = new Set([
  'No cluster leader',
  'No known Consul servers',
  'raft: too many pending operations',
  'rpc error: too many requests in flight',
]);

/**
 * Default and stale reads are not linearizable, but they still read what was written: a value read
 * must come from a write or CAS invoked before the read returned (or be absent).
 */
function checkNoPhantomReads(ops: readonly Operation[]): string[] {
  const writtenAtMs = new Map<string, number>();
  for (const op of ops) {
    const input = op.input as { value?: string; to?: string } | null;
    const value = op.f === 'write' ? input?.value : op.f === 'cas' ? input?.to : undefined;
    if (value !== undefined && op.key !== undefined) writtenAtMs.set(`${op.key}\u0000${value}`, op.invokeMs);
  }
  const problems: string[] = [];
  for (const op of ops) {
    if (op.f !== 'read' || op.outcome !== 'ok' || op.output === null || op.output === undefined) continue;
    const at = writtenAtMs.get(`${op.key}\u0000${String(op.output)}`);
    if (at === undefined || at > op.completeMs!)
      problems.push(
        `${modeOf(op)} read of ${op.key} on ${op.node} at ${op.invokeMs.toFixed(1)} ms returned ${String(op.output)}, which no write issued before it returned wrote`,
      );
  }
  return problems.slice(0, 5);
}

/**
 * Per-step rule, leader time: a store command that carries a time (session create and renew, locks,
 * the TTL sweep) carries the clock of the leader that proposes it, read in the step that appends it —
 * the TTL and lock-delay decisions every server replays are then measured on one clock, the leader's
 * (Consul runs session TTL timers on the leader). A time stamped by the agent that forwarded the write,
 * or earlier, skews them by that agent's clock.
 */
function checkLeaderTime(sim: SimApi, nodeId: NodeId, ops: readonly StorageOp[]): void {
  const runtime = sim.runtime(nodeId);
  if (!runtime?.hasMachine('raft') || runtime.stateOf<RaftState>('raft').role !== 'leader') return;
  const term = runtime.stateOf<RaftState>('raft').term;
  const nowMs = runOf(sim).stepNowMs;
  for (const op of ops) {
    if (op.op !== 'append') continue;
    for (const entry of op.entries as Entry[]) {
      const command = entry?.type === 'command' ? (entry.command as { type?: string; nowMs?: unknown }) : null;
      if (entry.term !== term || typeof command?.nowMs !== 'number' || command.nowMs === nowMs) continue;
      sim.violation(
        `leader time: ${nodeId} appended ${command.type ?? 'a command'} at index ${entry.index} stamped ${command.nowMs.toFixed(1)} ms while its clock reads ${nowMs.toFixed(1)} ms (a command carries the proposing leader's clock)`,
      );
    }
  }
}

// ───────────────────────────────────────── per-call answer check ──────────────────────────────────
// Issue 13, the RPC call-id hazard: an agent matches an RPC's answer to its call by the call id, so an
// answer meant for another call (one of an earlier process of the same agent whose ids were the same,
// re-sent or parked on a server past a fast restart) would be handed to the wrong client. Every answer a
// workload client receives must be an answer to its own request, judged from what the client sees and
// what the servers applied, never from the agent's own bookkeeping:
//  - a read of key k answered 200 carries exactly one entry, k's (Key = k), no newer than the answer's
//    X-Consul-Index; a 404 carries no body;
//  - a write or CAS answered 200 carries a boolean, and the log index it names (X-Consul-Index) is the
//    entry that wrote this very value to this key (a CAS answered false names its own refused command),
//    judged at the end of the run against the KV writes the servers applied (checkWriteAcks).

/** How many KV writes one server may apply in one step before the record is given up (kvWritesOf). */
const kvWritesKeptMax = 4096;

/** What a workload request was, for a violation's text. */
function callText(node: NodeId, what: string, key: string, invokeMs: number): string {
  return `${what} of ${key} through ${node} invoked at ${invokeMs.toFixed(1)} ms`;
}

/** Per-call rule for a KV read's answer (see above). */
function checkReadAnswer(
  sim: SimApi,
  node: NodeId,
  key: string,
  invokeMs: number,
  response: AgentResponse | undefined,
): void {
  if (response === undefined || (response.status !== 200 && response.status !== 404)) return;
  runOf(sim).answersChecked++;
  const call = callText(node, 'read', key, invokeMs);
  if (response.status === 404) {
    if (response.body !== null)
      sim.violation(`answer check: the ${call} was answered 404 with a body (${JSON.stringify(response.body)})`);
    return;
  }
  const body = response.body as { Key?: unknown; ModifyIndex?: unknown }[] | null;
  if (!Array.isArray(body) || body.length !== 1 || body[0] === null || typeof body[0] !== 'object')
    return sim.violation(
      `answer check: the ${call} was answered 200 with ${JSON.stringify(response.body)?.slice(0, 200)}, not one KV entry (another request's answer)`,
    );
  const entry = body[0];
  if (entry.Key !== key)
    return sim.violation(
      `answer check: the ${call} was answered with the entry of ${String(entry.Key)} (another request's answer)`,
    );
  if (typeof entry.ModifyIndex !== 'number' || typeof response.index !== 'number' || entry.ModifyIndex > response.index)
    sim.violation(
      `answer check: the ${call} was answered with an entry modified at index ${String(entry.ModifyIndex)} under X-Consul-Index ${String(response.index)}`,
    );
}

/** Per-call rule for a write's or CAS's answer: a boolean now, its index judged at the end (checkWriteAcks). */
function checkWriteAnswer(
  sim: SimApi,
  node: NodeId,
  dc: string,
  what: 'write' | 'cas',
  key: string,
  value: string,
  invokeMs: number,
  response: AgentResponse | undefined,
): void {
  if (response?.status !== 200) return;
  const run = runOf(sim);
  run.answersChecked++;
  const call = callText(node, what === 'write' ? `write of ${value}` : `cas to ${value}`, key, invokeMs);
  if (typeof response.body !== 'boolean' || typeof response.index !== 'number')
    return sim.violation(
      `answer check: the ${call} was answered 200 with ${JSON.stringify(response.body)?.slice(0, 200)} (index ${String(response.index)}), not a write's boolean (another request's answer)`,
    );
  run.writeAcks.push({ what: call, dc, key, value, index: response.index });
}

/**
 * The store FSM of a server, recording the KV writes it applies (key and value by log index) for the
 * write-ack check; the harness drains them after every step of the server (drainKvWrites).
 */
function recordingKvWrites(fsm: StoreFsm): StoreFsm & { readonly kvWrites: [number, AppliedKvWrite][] } {
  const kvWrites: [number, AppliedKvWrite][] = [];
  const apply = fsm.apply.bind(fsm);
  return Object.assign(fsm, {
    kvWrites,
    apply(command: unknown, index: number) {
      const c = command as StoreCommand | null;
      if ((c?.type === 'kvSet' || c?.type === 'kvCas') && kvWrites.length <= kvWritesKeptMax)
        kvWrites.push([
          index,
          { key: c.entry.key, value: c.entry.value === null ? null : Buffer.from(c.entry.value).toString('utf8') },
        ]);
      return apply(command, index);
    },
  });
}

/** Moves the KV writes `nodeId`'s store applied in its last step into the run's record of its datacenter. */
function drainKvWrites(sim: SimApi, nodeId: NodeId, fsm: { kvWrites?: [number, AppliedKvWrite][] }): void {
  const run = runOf(sim);
  run.appliedKvWritesRecorded = true;
  const writes = fsm.kvWrites;
  if (!writes || writes.length === 0) return;
  if (writes.length > kvWritesKeptMax) run.appliedKvWritesLost = true;
  const dc = dcOf(sim.scenario, nodeId);
  let applied = run.appliedKvWrites.get(dc);
  if (!applied) run.appliedKvWrites.set(dc, (applied = new Map()));
  for (const [index, write] of writes) if (!applied.has(index)) applied.set(index, write);
  writes.length = 0;
}

/**
 * End of run: every write or CAS answered with a boolean named, as its X-Consul-Index, the log entry that
 * wrote its own value to its own key (Raft's state machine safety, checked elsewhere, makes every
 * server's entry at an index the same one). An answer that names another write, or an index no server
 * applied a KV write at, answered another request.
 */
function checkWriteAcks(sim: SimApi): string[] {
  const run = runOf(sim);
  const problems: string[] = [];
  if (run.appliedKvWritesLost || (!run.appliedKvWritesRecorded && run.writeAcks.length > 0)) {
    sim.log(
      `agent: answer check: ${run.appliedKvWritesLost ? 'a server applied too many KV writes in one step to record' : 'per-step checks off'}; write answers not judged`,
    );
    return problems;
  }
  for (const ack of run.writeAcks) {
    const applied = run.appliedKvWrites.get(ack.dc)?.get(ack.index);
    if (applied !== undefined && applied.key === ack.key && applied.value === ack.value) continue;
    problems.push(
      applied === undefined
        ? `answer check: the ${ack.what} was answered with index ${ack.index}, where no server applied a KV write (another request's answer)`
        : `answer check: the ${ack.what} was answered with index ${ack.index}, the write of ${applied.value ?? 'nothing'} to ${applied.key} (another request's answer)`,
    );
  }
  sim.log(
    `agent: answer check: ${run.answersChecked} answers checked, ${run.writeAcks.length} write answers against the applied log, ${problems.length} not the caller's`,
  );
  return problems.slice(0, 5);
}

/** Per-step rule: every answer to a read carries X-Consul-Index ≥ 1 (Consul never sends 0). */
function checkResponseIndex(sim: SimApi, node: NodeId, key: string, response: AgentResponse | undefined): void {
  if (response === undefined || (response.status !== 200 && response.status !== 404)) return;
  if (!(typeof response.index === 'number' && response.index >= 1))
    sim.violation(
      `query index: ${node} answered a read of ${key} with X-Consul-Index ${String(response.index)} (must be ≥ 1)`,
    );
}

/**
 * A plain write's answer: the per-call rule, then its history entry — ok on `true`, failed when the error
 * says it was not applied, unknown otherwise (no answer, or an error after which it may have been).
 */
function completeWrite(
  sim: SimApi,
  run: AgentRun,
  node: NodeId,
  dc: string,
  key: string,
  value: string,
  op: Operation,
  response: AgentResponse | undefined,
): void {
  checkWriteAnswer(sim, node, dc, 'write', key, value, op.invokeMs, response);
  if (response === undefined) run.unanswered.add(op.id);
  if (response?.status === 200 && response.body === true) sim.history.complete(op, 'ok', true, sim.nowMs);
  else if (noteError(run, op.id, response) && definitelyNotApplied(response))
    sim.history.complete(op, 'fail', { error: response!.error }, sim.nowMs);
  else sim.history.complete(op, 'unknown', undefined, sim.nowMs);
}

/** History process ids of the delete-tree operations (sim/harnesses/agent-catalog.ts's start at 10,000). */
const treeProcessBase = 20_000;

/** A delete's or delete-tree's answer as the history entry of one key it deletes: ok on `true`, as a write's. */
function completeDelete(sim: SimApi, run: AgentRun, op: Operation, response: AgentResponse | undefined): void {
  if (response === undefined) run.unanswered.add(op.id);
  if (response?.status === 200 && response.body === true) sim.history.complete(op, 'ok', true, sim.nowMs);
  else if (noteError(run, op.id, response) && definitelyNotApplied(response))
    sim.history.complete(op, 'fail', { error: response!.error }, sim.nowMs);
  else sim.history.complete(op, 'unknown', undefined, sim.nowMs);
}

/**
 * A conditional write's answer (CAS, delete-cas) as its history entry: ok on `true`, failed on `false` (its
 * condition did not hold) or when the error says it was not applied, unknown otherwise.
 */
function completeConditional(sim: SimApi, run: AgentRun, op: Operation, response: AgentResponse | undefined): void {
  if (response === undefined) run.unanswered.add(op.id);
  if (response?.status === 200)
    sim.history.complete(op, response.body === true ? 'ok' : 'fail', response.body, sim.nowMs);
  else if (noteError(run, op.id, response) && definitelyNotApplied(response))
    sim.history.complete(op, 'fail', { error: response!.error }, sim.nowMs);
  else sim.history.complete(op, 'unknown', undefined, sim.nowMs);
}

/** Remembers why operation `id` did not succeed (for `expect errors`); always true, to sit in a condition. */
function noteError(run: AgentRun, id: number, response: AgentResponse | undefined): true {
  run.errorOf.set(
    id,
    response === undefined ? 'no answer within the client timeout' : `${response.status} ${response.error ?? ''}`,
  );
  return true;
}

function definitelyNotApplied(response: AgentResponse | undefined): boolean {
  return response !== undefined && response.status === 500 && notAppliedErrors.has(response.error ?? '');
}

function modeOf(op: Operation): Consistency {
  return (op.input as { mode?: Consistency } | null)?.mode ?? 'consistent';
}

/**
 * The KV history as LinOps for the register model (failed reads and writes that did not happen are
 * dropped). Only reads in `modes` are kept: `consistent` reads are linearizable; `default` reads may
 * be stale while a deposed leader has not noticed yet (Consul's documented window; they are checked
 * per step instead: answered by a leader); `stale` reads are not linearizable at all.
 */
export function linOpsOf(
  ops: readonly Operation[],
  modes: readonly Consistency[] = ['consistent'],
): LinOp<RegisterInput, unknown>[] {
  const out: LinOp<RegisterInput, unknown>[] = [];
  for (const op of ops) {
    if (op.f !== 'read' && op.f !== 'write' && op.f !== 'cas' && op.f !== 'delete-cas' && op.f !== 'delete') continue;
    if (op.f === 'read' && (op.outcome !== 'ok' || !modes.includes(modeOf(op)))) continue;
    // `fail` means it did not happen (sim/history.ts) — except a CAS that completed and answered
    // false, which observed another value and is a real, completed operation for the register model.
    const compares = op.f === 'cas' || op.f === 'delete-cas';
    if (op.outcome === 'fail' && !(compares && op.output === false)) continue;
    const input = op.input as { value?: string; from?: string | null; to?: string };
    const unknown = op.outcome === undefined || op.outcome === 'unknown';
    const output = unknown ? UNKNOWN : compares ? op.outcome === 'ok' : op.f === 'read' ? op.output : true;
    out.push({
      id: op.id,
      process: op.process,
      input: {
        f: op.f,
        key: op.key!,
        ...(op.f === 'write' ? { value: input.value } : {}),
        ...(op.f === 'cas' ? { from: input.from ?? null, to: input.to } : {}),
        ...(op.f === 'delete-cas' ? { from: input.from ?? null } : {}),
      },
      output,
      callTime: op.invokeMs,
      returnTime: unknown ? Infinity : op.completeMs!,
    });
  }
  return out;
}

// ───────────────────────────────────────── datacenters: checks ────────────────────────────────────

/**
 * Multi-DC liveness probes: once faults stop, each DC keeps writing through its own agents until a
 * write commits there, then keeps reading the next DC's probe key with `?dc=` (consistent) until one
 * such cross-DC read is answered: every DC recovered on its own, and the WAN carries requests again.
 */
function startDcLivenessProbes(sim: SimApi, scenario: Scenario, prng: ReturnType<SimApi['random']>): void {
  const run = runOf(sim);
  const names = scenario.datacenters.map((dc) => dc.name);
  sim.at(scenario.safetyMs, () => {
    names.forEach((dc, i) => {
      // The next DC in the ring that has not been retired (its servers all left), or this one alone.
      const nextOf = (): string =>
        [...names.slice(i + 1), ...names.slice(0, i + 1)].find((d) => d === dc || !retiredDc(sim, d))!;
      const probe = (): void => {
        if (sim.phase === 'done' || (run.livenessDcs.has(dc) && run.livenessCrossDcs.has(dc))) return;
        if (retiredDc(sim, dc)) return;
        const next = nextOf();
        const node = prng.pick(nodesOfDc(scenario, dc));
        if (!run.livenessDcs.has(dc))
          return agentRequest(sim, node, { type: 'kv.put', key: 'liveness', value: bytes('ok') }, 1000, (r) => {
            if (r?.status === 200 && r.body === true) run.livenessDcs.add(dc);
            sim.after(200, probe);
          });
        const read = { type: 'kv.get', key: 'liveness', dc: next, read: { consistency: 'consistent' } } as const;
        agentRequest(sim, node, read, 2000, (r) => {
          if (r?.status === 200 || r?.status === 404) run.livenessCrossDcs.add(dc);
          sim.after(200, probe);
        });
      };
      probe();
    });
  });
}

/** Servers that are up and in the WAN pool: a server that left (`leave`) left the WAN pool too (Consul's Server.Leave). */
function wanServersUp(sim: SimApi): NodeId[] {
  return serversOf(sim.scenario).filter((id) => sim.isUp(id) && !sim.isPaused(id) && !agentOf(sim, id)!.left);
}

/**
 * A datacenter retired on purpose: every server of it received a leave (round N, scenarios/multidc/dc-retired.txt).
 * It has no leader to elect and no write to commit, so liveness asks nothing of it, and the other DCs' probes
 * read across the WAN from another DC.
 */
function retiredDc(sim: SimApi, dc: string): boolean {
  const left = runOf(sim).leftNodes.leftAtMs;
  const servers = serversOfDc(sim.scenario, dc);
  return servers.length > 0 && servers.every((id) => left.has(id));
}

/** Multi-DC: every live server sees every other live server (of every DC) alive in its WAN pool. */
export function wanConverged(sim: SimApi): boolean {
  // The liveness poll asks this often: answer without building the misses' text (wanMisses explains them).
  const up = wanServersUp(sim);
  return up.every((id) => {
    const agent = agentOf(sim, id)!;
    return up.every((other) => other === id || agent.wanMembers.get(other)?.status === 'alive');
  });
}

/** What keeps the WAN pool from converging: each live server's view of another live one that is not alive. */
export function wanMisses(sim: SimApi): string[] {
  const up = wanServersUp(sim);
  const out: string[] = [];
  for (const id of up) {
    const agent = agentOf(sim, id)!;
    for (const other of up) {
      const status = agent.wanMembers.get(other)?.status;
      if (other !== id && status !== 'alive') out.push(`${id} sees ${other} as ${status ?? 'unknown'}`);
    }
  }
  return out;
}

/** The WAN misses as one clause: the first few, and how many more. */
function wanMissText(sim: SimApi): string {
  const misses = wanMisses(sim);
  const shown = misses.slice(0, 4).join(', ');
  return misses.length > 4 ? `${shown} and ${misses.length - 4} more` : shown;
}

/**
 * The Raft cluster checker of `nodeId`'s DC (multi-DC scenarios, server nodes): each DC is its own
 * Raft group, so one leader per term, log matching and state machine safety are judged per DC.
 */
function raftCheckerOf(sim: SimApi, nodeId: NodeId): RaftClusterChecker | null {
  const run = runOf(sim);
  let checker = run.raftCheckerByNode.get(nodeId);
  if (checker === undefined) {
    // A node is a server or not for the whole run (the scenario's node list), so the answer is kept.
    checker = null;
    if (serversOf(sim.scenario).includes(nodeId)) {
      const dc = dcOf(sim.scenario, nodeId);
      checker = run.raftCheckers.get(dc) ?? null;
      if (!checker) run.raftCheckers.set(dc, (checker = new RaftClusterChecker({ exactlyOnce: false })));
    }
    run.raftCheckerByNode.set(nodeId, checker);
  }
  return checker;
}

function raftEffect(sim: SimApi, nodeId: NodeId, effect: Effect): void {
  const checker = raftCheckerOf(sim, nodeId);
  if (!checker) return;
  const runtime = sim.runtime(nodeId);
  const problem = checker.onEffect(nodeId, effect, runtime ? runtime.stateOf<RaftState>('raft') : null, runtime);
  if (problem) sim.violation(`${dcOf(sim.scenario, nodeId)}: ${problem}`);
}

/**
 * Multi-DC liveness: every DC has a leader, a write committed in it and a cross-DC read from it was
 * answered after the faults stopped, every live node's serfHealth passes in its own DC's catalog, and
 * the WAN pool converged (every live server sees every other alive).
 */
function liveDcs(sim: SimApi): boolean {
  const run = runOf(sim);
  for (const dc of sim.scenario.datacenters) {
    if (retiredDc(sim, dc.name)) continue;
    if (!run.livenessDcs.has(dc.name) || !run.livenessCrossDcs.has(dc.name)) return false;
    if (leaderOf(sim, dc.name) === null) return false;
    const healthy = dc.nodes
      .filter((id) => sim.isUp(id) && !sim.isPaused(id) && !agentOf(sim, id)!.left)
      .every((id) => serfHealthOf(sim, id) === 'passing');
    if (!healthy) return false;
  }
  return wanConverged(sim);
}

/** Why one datacenter (or the only one) is not live: no leader, the probe write, health not passing. */
function whyNotLiveIn(sim: SimApi, dc: string | undefined): string[] {
  const out: string[] = [];
  const nodes = dc === undefined ? sim.nodeIds : nodesOfDc(sim.scenario, dc);
  const where = dc === undefined ? '' : ` in ${dc}`;
  const leader = leaderOf(sim, dc);
  if (leader === null) {
    // A down node may be a server: listed as down.
    const servers = nodes.filter((id) => sim.runtime(id)?.hasMachine('raft') ?? true);
    out.push(
      `no server leads${where}: ${servers.map((id) => raftNodeText(sim, id, sim.runtime(id)?.stateOf<RaftState>('raft') ?? null)).join('; ')}`,
    );
  }
  const run = runOf(sim);
  const wrote = dc === undefined ? run.livenessWriteOk : run.livenessDcs.has(dc);
  if (!wrote)
    out.push(`the liveness probe's write (PUT /v1/kv/liveness through a random agent${where}) never succeeded`);
  if (leader !== null) {
    const unhealthy = nodes
      .filter((id) => sim.isUp(id) && !sim.isPaused(id) && !agentOf(sim, id)!.left)
      .map((id) => [id, serfHealthOf(sim, id)] as const)
      .filter(([, health]) => health !== 'passing');
    if (unhealthy.length > 0)
      out.push(
        `${leader}'s catalog does not show every live agent passing its serfHealth check: ${unhealthy.map(([id, h]) => `${id} ${h ?? 'unknown'}`).join(', ')}`,
      );
    const unsynced = dc === undefined && expectsCatalogSync(sim.scenario) ? catalogSyncMisses(sim) : null;
    if (unsynced !== null) out.push(unsynced);
    const checks = dc === undefined && expectsChecksSync(sim.scenario) ? checksSyncMissesOf(sim) : null;
    if (checks !== null) out.push(checks);
  }
  return out;
}

function whyDcsNotLive(sim: SimApi): string[] {
  const run = runOf(sim);
  const out = sim.scenario.datacenters
    .filter((dc) => !retiredDc(sim, dc.name))
    .flatMap((dc) => [
      ...whyNotLiveIn(sim, dc.name),
      ...(run.livenessCrossDcs.has(dc.name) ? [] : [`no cross-datacenter request to ${dc.name} succeeded`]),
    ]);
  if (!wanConverged(sim)) out.push(`the WAN pool has not converged: ${wanMissText(sim)}`);
  return out;
}

/**
 * `expect served DC FROM TO`: a write of DC's own keys through one of DC's agents completed between
 * FROM and TO (e.g. while the DC was cut off from the WAN: it keeps serving its local clients). A CAS
 * that succeeded is such a write too: counting plain writes alone failed seeds (multidc/two-dc 3103,
 * 6801, 7367, 9165) in which dc2 applied four to eight CASes of its keys during the cut while the
 * clients' plain writes happened to go elsewhere or wait out cross-DC timeouts.
 */
function expectServed(sim: SimApi, args: readonly string[]): string | null {
  const [dc, fromText, toText] = args;
  const from = fromText === undefined ? null : parseDurationMs(fromText);
  const to = toText === undefined ? null : parseDurationMs(toText);
  if (dc === undefined || from === null || to === null) return 'served takes DC FROM TO (e.g. served dc2 5s 15s)';
  const nodes = new Set(nodesOfDc(sim.scenario, dc));
  const served = sim.history.ops.filter(
    (op) =>
      (op.f === 'write' || op.f === 'cas') &&
      op.outcome === 'ok' &&
      nodes.has(op.node) &&
      op.key?.startsWith(`${dc}/`) === true &&
      op.completeMs !== undefined &&
      op.completeMs >= from &&
      op.completeMs <= to,
  ).length;
  return served > 0
    ? null
    : `no write of ${dc}'s keys through ${dc}'s agents completed between ${fromText} and ${toText}`;
}

/** Whether `node`'s process was up at `atMs`: its last start at or before then is no older than its last stop. */
function processUpAt(run: AgentRun, node: NodeId, atMs: number): boolean {
  let lastStart = -Infinity;
  let lastStop = -Infinity;
  for (const start of run.starts) if (start.node === node && start.atMs <= atMs) lastStart = start.atMs;
  for (const stop of run.stops) if (stop.node === node && stop.atMs <= atMs) lastStop = stop.atMs;
  return lastStart >= lastStop && lastStart > -Infinity;
}

/**
 * `expect election-within D` (issue 15, failover after kill -9): when a server that led dies and a quorum
 * of the servers stays up, the next leader is elected within D of the death. The peers of a dead process
 * hear its connections close (`linkDown`) and poll one to two heartbeats later (core/raft/election.ts
 * onLeaderLinkDown) instead of waiting out an election timeout, so D is set between that fast path and one
 * election timeout: a failover that needs a whole election timeout — the two followers polling at once and
 * splitting the vote, then both waiting a full timeout (3–6 s at the agent's raft_multiplier 3, measured on
 * real processes) — fails it. An episode is judged when no other server stopped or started from the death
 * to its deadline (a restart or a second death is another story) and the run lasted past the deadline.
 */
function expectElectionWithin(sim: SimApi, args: readonly string[]): string | null {
  const withinMs = args.length === 1 ? parseDurationMs(args[0]!) : null;
  if (withinMs === null || withinMs <= 0) return 'election-within takes a DURATION (e.g. election-within 800ms)';
  const run = runOf(sim);
  const servers = new Set(serversOf(sim.scenario));
  const upAt = (node: NodeId, atMs: number): boolean => processUpAt(run, node, atMs);
  const problems: string[] = [];
  let judged = 0;
  for (const stop of run.stops) {
    if (stop.ledTerm === null || !servers.has(stop.node)) continue;
    const deadlineMs = stop.atMs + withinMs;
    if (deadlineMs > sim.nowMs) continue;
    const touched = (e: { readonly node: NodeId; readonly atMs: number }) =>
      servers.has(e.node) && e !== stop && e.atMs >= stop.atMs && e.atMs <= deadlineMs;
    if (run.stops.some(touched) || run.starts.some(touched)) continue;
    // A quorum of the servers must be up at the death (nothing changes until the deadline, above).
    const up = [...servers].filter((id) => id !== stop.node && upAt(id, stop.atMs)).length;
    if (up * 2 <= servers.size) continue;
    judged++;
    const elected = run.elections.find((e) => e.atMs > stop.atMs && e.term > stop.ledTerm!);
    if (elected === undefined || elected.atMs > deadlineMs)
      problems.push(
        `${stop.node} (leader at term ${stop.ledTerm}) stopped at ${stop.atMs.toFixed(1)} ms; ${elected === undefined ? 'no server was elected after it' : `${elected.node} was elected at term ${elected.term} only at ${elected.atMs.toFixed(1)} ms (${(elected.atMs - stop.atMs).toFixed(1)} ms later)`}`,
      );
  }
  sim.log(`agent: election-within ${args[0]}: ${judged} leader deaths judged, ${problems.length} too slow`);
  if (problems.length === 0) return null;
  return `${problems.length} of ${judged} leader deaths left the cluster without a leader for longer than ${args[0]}: ${problems.slice(0, 3).join('; ')}`;
}

/**
 * `expect failover-within D` (issue 13 §4, Consul's rpc_hold_timeout): requests in flight when the Raft
 * leader's process dies are answered within D of the next leader's election. For each stop of a server
 * that led (at term T), E is the first `raft.becameLeader` after it at a term above T; the episode is
 * judged when nothing else disturbed it — no other server stopped from the stop to E + D, and no newer
 * leader was elected in (E, E + D] — and the run lasted past its deadlines. Every workload operation
 * (read, blocking read, write, CAS) not answered before the stop and invoked before E, through an agent
 * that was up from its invocation to its deadline, must then:
 *
 *  - be answered by E + D (a blocking read: by its own wait + wait/16 + D, if that is later) — an
 *    operation whose client gave up earlier than that (its timeout) is not judged;
 *  - if it is a read, succeed, when E came early enough for the agents' hold to carry a read over
 *    (E − hold start ≤ rpcHoldTimeoutMs − 500 ms; the hold starts at the stop, or at the read's invocation
 *    when no leader served then or a server was down then): a read is always safe to retry, so an error (an RPC timeout,
 *    "leader changed", "No cluster leader") is a request the agent dropped. A write may answer that its
 *    outcome is unknown: it is answered, honestly (hold.ts).
 *
 * An operation still unanswered when a later leader stops, before its deadline, is left to that later
 * failover's episode (a long blocking read outlives several leaders).
 *
 * Meant for scenarios whose only faults are crashes and restarts (validate() insists): a partition or a
 * pause can keep an agent from the new leader for any length of time, which is no fault of the agent.
 */
function expectFailoverWithin(sim: SimApi, args: readonly string[]): string | null {
  const withinMs = args.length === 1 ? parseDurationMs(args[0]!) : null;
  if (withinMs === null || withinMs <= 0) return 'failover-within takes a DURATION (e.g. failover-within 2s)';
  const run = runOf(sim);
  const servers = new Set(serversOf(sim.scenario));
  const holdMs = agentTimingSim.rpcHoldTimeoutMs;
  const endMs = sim.nowMs;
  const upAt = (node: NodeId, atMs: number): boolean => processUpAt(run, node, atMs);
  const upThrough = (node: NodeId, fromMs: number, toMs: number): boolean =>
    upAt(node, fromMs) && !run.stops.some((stop) => stop.node === node && stop.atMs > fromMs && stop.atMs <= toMs);
  const problems: string[] = [];
  let judged = 0;
  const episodes = { leaderStops: 0, noLeader: 0, disturbed: 0, judged: 0 };
  for (const stop of run.stops) {
    if (stop.ledTerm === null || !servers.has(stop.node)) continue;
    episodes.leaderStops++;
    const elected = run.elections.find((e) => e.atMs > stop.atMs && e.term > stop.ledTerm!);
    if (!elected) {
      episodes.noLeader++; // no new leader: the liveness check speaks for that
      continue;
    }
    const windowEndMs = elected.atMs + withinMs;
    // Disturbed: the new leader lost its quorum (fewer than a majority of the servers up throughout the
    // window: a follower's crash may stall every write), or a newer leader was elected within the window.
    const upServers = [...servers].filter((id) => upThrough(id, elected.atMs, windowEndMs)).length;
    const disturbed =
      upServers <= servers.size / 2 ||
      run.elections.some((e) => e.atMs > elected.atMs && e.atMs <= windowEndMs && e.term > elected.term);
    if (disturbed) {
      episodes.disturbed++;
      continue;
    }
    episodes.judged++;
    // A read's hold begins when its request first fails: at the stop, for a read sent while a leader
    // served; at once, for one sent while the datacenter had no leader (an earlier failover still
    // running). Its hold then ends holdMs later with "No cluster leader", as Consul's rpc_hold_timeout
    // does, and only a read whose hold reaches the new leader must succeed (seed 54: a read held since a
    // leaderless 16.4 s ended at 18.4 s; the leader elected at 18.0 s died 4 ms later, the next came at 18.7 s).
    const leaderAt = (atMs: number): boolean => {
      let last: { node: NodeId; atMs: number } | null = null;
      for (const e of run.elections) if (e.atMs <= atMs && (last === null || e.atMs >= last.atMs)) last = e;
      return last !== null && upThrough(last.node, last.atMs, atMs);
    };
    for (const op of sim.history.ops) {
      if (op.f !== 'read' && op.f !== 'write' && op.f !== 'cas') continue;
      if (op.invokeMs >= elected.atMs || (op.completeMs !== undefined && op.completeMs <= stop.atMs)) continue;
      const waitMs = run.blockingWaitMs.get(op.id) ?? 0;
      const deadlineMs = Math.max(windowEndMs, op.invokeMs + waitMs + waitMs / 16 + withinMs);
      if (deadlineMs > endMs || !upThrough(op.node, op.invokeMs, deadlineMs)) continue;
      // A blocking read's deadline may lie well past E + D: when the next leader's process stops too before
      // that deadline, with the read still unanswered, that later failover is the one to judge it (its own
      // episode, the read in flight at its stop) — not this one, which assumed a leader from E to the deadline
      // (round I, seed 5 of agent/failover-watchers: a watcher's 5.6 s wait outlived two leaders, and the
      // third stop left no quorum for 2.2 s, so its hold rightly ran out with "No cluster leader").
      const overtaken = run.stops.some(
        (later) =>
          later.ledTerm !== null &&
          servers.has(later.node) &&
          later.atMs > elected.atMs &&
          later.atMs <= deadlineMs &&
          (op.completeMs === undefined || op.completeMs > later.atMs),
      );
      if (overtaken) continue;
      const what = `${waitMs > 0 ? `blocking read (wait ${waitMs} ms)` : op.f} of ${op.key ?? '-'} through ${op.node} invoked at ${op.invokeMs.toFixed(1)} ms`;
      const story = `${stop.node} (leader at term ${stop.ledTerm}) stopped at ${stop.atMs.toFixed(1)} ms, ${elected.node} became leader at ${elected.atMs.toFixed(1)} ms`;
      judged++;
      if (run.unanswered.has(op.id)) {
        if (op.completeMs! > deadlineMs)
          problems.push(
            `${what} had no answer by ${deadlineMs.toFixed(1)} ms (its client gave up at ${op.completeMs!.toFixed(1)} ms): ${story}`,
          );
        continue;
      }
      if (op.completeMs === undefined || op.completeMs > deadlineMs) {
        const when = op.completeMs === undefined ? 'never answered' : `answered at ${op.completeMs.toFixed(1)} ms`;
        problems.push(`${what} was ${when}, after its deadline ${deadlineMs.toFixed(1)} ms: ${story}`);
        continue;
      }
      // A read sent while a server was down may have gone to it (a client agent's gossip still calls a
      // server alive for a while after its crash) and failed at once: its hold then began at its
      // invocation, not at this stop (seed 7654 on 6573bb4: n4 sent a read to n2, dead for 267 ms, while
      // n3 led; the hold that began then ran out 86 ms after n1, the next leader, died).
      const serverDownAtInvoke = [...servers].some((id) => !upAt(id, op.invokeMs));
      const holdFromMs =
        leaderAt(op.invokeMs) && !serverDownAtInvoke ? stop.atMs : Math.max(op.invokeMs, stop.atMs - holdMs);
      // A blocking read's hold lasts until holdMs past the end of its wait too (hold.ts, Consul's HasTimedOut).
      const readsMustSucceed =
        elected.atMs - Math.max(Math.min(stop.atMs, holdFromMs), op.invokeMs + waitMs) <= holdMs - 500;
      if (op.f === 'read' && op.outcome !== 'ok' && readsMustSucceed)
        problems.push(
          `${what} answered ${run.errorOf.get(op.id) ?? op.outcome} at ${op.completeMs.toFixed(1)} ms (a read is retried, never failed, across a failover): ${story}`,
        );
    }
  }
  sim.log(
    `agent: failover-within ${args[0]}: ${episodes.leaderStops} leader stops (${episodes.noLeader} with no next leader, ${episodes.disturbed} disturbed), ${episodes.judged} judged with ${judged} operations in flight, ${problems.length} not answered in time or failed`,
  );
  if (problems.length === 0) return null;
  return `${problems.length} requests in flight across a failover were not answered within ${args[0]} of the new leader: ${problems.slice(0, 3).join('; ')}`;
}

/**
 * `expect read-errors MAX`: at most MAX KV reads (plain or blocking) were not answered with success. A
 * read is always safe to send again, so the agent holds and retries one whose server or connection
 * failed (hold.ts); in a scenario whose faults leave a leader reachable (connection resets between live
 * processes) a failed read is one the agent dropped. Writes are not counted: "may have been applied" is
 * an honest answer to a write whose connection was reset.
 */
function expectReadErrors(sim: SimApi, args: readonly string[]): string | null {
  const max = Number(args[0]);
  if (args.length !== 1 || !Number.isSafeInteger(max) || max < 0) return 'read-errors takes MAX (e.g. read-errors 0)';
  const run = runOf(sim);
  // A read still in flight when the run ended (the cluster recovered first) is not judged, nor one a
  // client agent refused before its join was ever answered (readBeforeJoin).
  const failed = sim.history.ops.filter(
    (op) => op.f === 'read' && op.outcome !== undefined && op.outcome !== 'ok' && !readBeforeJoin(run, op),
  );
  if (failed.length <= max) return null;
  const shown = failed.slice(0, 3).map((op) => {
    const waitMs = run.blockingWaitMs.get(op.id);
    const what = waitMs === undefined ? 'read' : `blocking read (wait ${waitMs} ms)`;
    return `${what} of ${op.key ?? '-'} through ${op.node} at ${op.invokeMs.toFixed(1)} ms: ${run.errorOf.get(op.id) ?? op.outcome}`;
  });
  return `${failed.length} of ${failed.length + sim.history.ops.filter((op) => op.f === 'read' && op.outcome === 'ok').length} reads failed (at most ${max} expected): ${shown.join('; ')}`;
}

/**
 * A read a client agent answered "No known Consul servers" before it had ever known a live server: its
 * retry-join had not been answered yet (a reset that took its join push-pull, agent/conn-reset seed 981),
 * and Consul's client answers exactly so until its retry_interval brings the next attempt. The floor of
 * `read-errors` is for agents that have joined; one that knew servers and lost them all still counts.
 */
function readBeforeJoin(run: AgentRun, op: Operation): boolean {
  if (!run.clientJoinsTracked || run.errorOf.get(op.id) !== `500 ${agentErrors.noServers}`) return false;
  const joinedAtMs = run.clientJoinedAtMs.get(op.node as NodeId);
  return joinedAtMs === undefined || op.invokeMs < joinedAtMs;
}

/** Per step of a client agent: the first moment it knows a live server (readBeforeJoin). */
function noteClientJoined(sim: SimApi, nodeId: NodeId, agent: AgentState): void {
  const run = runOf(sim);
  run.clientJoinsTracked = true;
  if (!run.clientJoinedAtMs.has(nodeId) && knownServers(agent).length > 0) run.clientJoinedAtMs.set(nodeId, sim.nowMs);
}

/**
 * `expect unanswered MAX`: at most MAX KV operations (reads, writes, CAS) got no answer at all within
 * their client's timeout (3 s; a blocking read's wait on top). An agent whose connection to a server was
 * reset hears it (linkDown) and answers at once — a read after a retry, a write with its honest unknown
 * outcome — instead of leaving its client to time out.
 */
function expectUnanswered(sim: SimApi, args: readonly string[]): string | null {
  const max = Number(args[0]);
  if (args.length !== 1 || !Number.isSafeInteger(max) || max < 0) return 'unanswered takes MAX (e.g. unanswered 0)';
  const run = runOf(sim);
  const unanswered = sim.history.ops.filter((op) => run.unanswered.has(op.id));
  if (unanswered.length <= max) return null;
  const shown = unanswered
    .slice(0, 3)
    .map((op) => `${op.f} of ${op.key ?? '-'} through ${op.node} at ${op.invokeMs.toFixed(1)} ms`);
  return `${unanswered.length} operations had no answer within their client timeout (at most ${max} expected): ${shown.join('; ')}`;
}

/**
 * `expect errors MAX`: at most MAX of the workload's operations (KV reads, writes and CAS, service
 * registrations) were not answered with success: a failure, an unknown outcome ("may have been
 * applied", an RPC timeout) or no answer within the client's timeout. A CAS answered false is a
 * success (it read another value). For scenarios whose faults cannot lose a request — gossip loss
 * leaves every stream alone, so Raft and the RPCs work throughout — where any error is a false alarm
 * the agent raised itself (issue 13: the soak's goal, 0 errors with no fault that touches requests).
 */
function expectErrors(sim: SimApi, args: readonly string[]): string | null {
  const max = Number(args[0]);
  if (args.length !== 1 || !Number.isSafeInteger(max) || max < 0) return 'errors takes MAX (e.g. errors 0)';
  const failed = sim.history.ops.filter(
    (op) =>
      (op.f === 'read' || op.f === 'write' || op.f === 'cas' || op.f === 'register') &&
      op.outcome !== 'ok' &&
      !(op.f === 'cas' && op.outcome === 'fail' && op.output === false),
  );
  if (failed.length <= max) return null;
  const shown = failed.slice(0, 3).map((op) => {
    const what = op.outcome === undefined ? 'no answer' : op.outcome === 'fail' ? 'failed' : 'unknown outcome';
    const why = runOf(sim).errorOf.get(op.id);
    return `${op.f} of ${op.key ?? '-'} through ${op.node} at ${op.invokeMs.toFixed(1)} ms: ${what}${why ? ` (${why})` : ''}`;
  });
  return `${failed.length} of ${sim.history.ops.length} operations were not answered with success (at most ${max} expected): ${shown.join('; ')}`;
}

// ───────────────────────────────────────── the harness ────────────────────────────────────────────

/** The tombstone age rule over what a server's store did in its step (sim/checkers/tombstones.ts). */
function drainTombstoneEvents(sim: SimApi, nodeId: NodeId, events: TombstoneEvent[] | undefined): string | null {
  if (events === undefined || events.length === 0) return null;
  const run = runOf(sim);
  const dc = dcOf(sim.scenario, nodeId);
  let checker = run.tombstoneAge.get(dc);
  if (checker === undefined) run.tombstoneAge.set(dc, (checker = new TombstoneAgeChecker()));
  const ttlMs = agentOf(sim, nodeId)?.config.timing.tombstoneTtlMs ?? simTimingOf(sim.scenario).tombstoneTtlMs;
  let problem: string | null = null;
  for (const event of events) problem ??= checker.note(nodeId, event, sim.nowMs, ttlMs);
  events.length = 0;
  return problem;
}

/** The agents' timing: the simulator's, with what the scenario sets (`antiEntropyMs`, `refutedResyncMs`, the tombstone GC's). */
function simTimingOf(scenario: Scenario): AgentConfig['timing'] {
  const has = (key: keyof typeof params): boolean => scenario.params[key] !== undefined;
  const keys = ['antiEntropyMs', 'refutedResyncMs', 'tombstoneTtlMs', 'tombstoneGranularityMs'] as const;
  if (!keys.some(has)) return agentTimingSim;
  return {
    ...agentTimingSim,
    antiEntropyIntervalMs: num(scenario, 'antiEntropyMs', agentTimingSim.antiEntropyIntervalMs),
    refutedResyncMs: num(scenario, 'refutedResyncMs', agentTimingSim.refutedResyncMs),
    tombstoneTtlMs: num(scenario, 'tombstoneTtlMs', agentTimingSim.tombstoneTtlMs),
    tombstoneGranularityMs: num(scenario, 'tombstoneGranularityMs', agentTimingSim.tombstoneGranularityMs),
  };
}

export const harness: Harness = {
  name: 'agent',
  params,
  // `sim explore --coverage`: the store transitions the agent workload reaches (Raft's role changes and
  // the other Raft transitions are counted too, as reached; the list names what must be reached).
  transitions: agentStoreTransitionsOf,

  validate(scenario) {
    const problems = checkIntegerParams(
      scenario,
      Object.keys(params).filter((key) => key !== 'readModes' && key !== 'acl' && key !== 'tcpFallbackPing'),
    );
    const fallback = scenario.params['tcpFallbackPing'];
    if (fallback !== undefined && fallback !== 'true' && fallback !== 'false')
      problems.push(`set tcpFallbackPing: '${fallback}' is not true or false`);
    try {
      for (const dc of multiDc(scenario) ? scenario.datacenters.map((d) => d.name) : ['dc1']) aclOf(scenario, dc);
    } catch (error) {
      problems.push((error as Error).message);
    }
    const shares = (scenario.params.readModes ?? '40/40/20').split('/').map(Number);
    if (
      shares.length !== 3 ||
      shares.some((n) => !Number.isInteger(n) || n < 0) ||
      shares.reduce((a, b) => a + b) !== 100
    )
      problems.push(
        `set readModes: '${scenario.params.readModes}' is not three shares CONSISTENT/DEFAULT/STALE adding up to 100`,
      );
    const timed = scenario.expectations.find((e) => e.name === 'failover-within' || e.name === 'election-within');
    if (timed !== undefined) {
      // Its verdict assumes an agent can always reach the new leader: only crashes and restarts may happen
      // (a partition or a pause can keep it away for any time; a cut link resets nothing in that case).
      // election-within also refuses resets: a vote lost on a reset connection costs a whole election timeout.
      const allowed =
        timed.name === 'election-within'
          ? ['crash', 'crash-leader']
          : ['crash', 'crash-leader', 'reset', 'reset-oneway'];
      const kinds = scenario.nemesis.mode === 'swarm' ? scenario.nemesis.kinds.filter((k) => !allowed.includes(k)) : [];
      const builtins = [
        ...(timed.name === 'election-within' ? ['reset', 'reset-oneway'] : []),
        'partition',
        'oneway',
        'bridge',
        'ring',
        'pause',
        'jump',
        'drift',
        'clog',
        'busy',
        'isolate-dc',
        'wan-oneway',
        'datagram-cut',
        'stream-cut',
        'full',
        'replace-disk',
        'network',
      ];
      const actions = scenario.timeline.map((e) => e.action).filter((a) => builtins.includes(a));
      if (kinds.length > 0 || actions.length > 0)
        problems.push(
          `expect ${timed.name} judges crashes only; this scenario also has ${[...kinds, ...actions].join(', ')} (a partition or pause can keep an agent from the new leader)`,
        );
    }
    if (multiDc(scenario) && scenario.params['servers'] !== undefined)
      problems.push('set servers: a multi-DC scenario gives each DC its servers in `nodes dc1:3+2 dc2:3+1`');
    const servers = multiDc(scenario) ? 1 : num(scenario, 'servers', 3);
    if (servers < 1 || servers > scenario.nodes.length)
      problems.push(`set servers: ${servers} must be between 1 and the node count ${scenario.nodes.length}`);
    return problems;
  },

  mounts(nodeId, scenario) {
    const dc = dcOf(scenario, nodeId);
    const servers = serversOfDc(scenario, dc);
    // A rogue runs `agent -server -join <the servers>` with the leaked gossip key: a server that never bootstraps.
    const rogue = roguesOf(scenario).includes(nodeId);
    const server = servers.includes(nodeId) || rogue;
    // Multi-DC: servers also join every other DC's servers in the WAN pool (as -retry-join-wan).
    const wan = multiDc(scenario)
      ? {
          datacenter: dc,
          wanPool: true,
          startJoinWan: server ? serversOf(scenario).filter((id) => !servers.includes(id)) : [],
        }
      : { wanPool: false };
    const config = makeAgentConfig({
      nodeName: nodeId,
      nodeId: `00000000-0000-4000-8000-${String(scenario.nodes.indexOf(nodeId)).padStart(12, '0')}`,
      server,
      ...wan,
      bootstrapExpect: server && !rogue ? servers.length : 0,
      advertiseAddr: nodeId,
      rpcId: nodeId,
      enableLocalScriptChecks: true,
      services: server ? [] : [webService],
      // Servers join each other (as -retry-join; SWIM retries until one answers); clients too unless
      // `clientsJoin` is 0, when they stay alone until an `agent.join` (the seed's `consul join`).
      startJoin: server || num(scenario, 'clientsJoin', 1) === 1 ? servers.filter((id) => id !== nodeId) : [],
      timing: simTimingOf(scenario),
      ...(num(scenario, 'serverAuth', 0) === 1 ? { authenticateServers: true } : {}),
      ...(scenario.params['raftMultiplier'] !== undefined
        ? { raftMultiplier: num(scenario, 'raftMultiplier', 1) }
        : {}),
      ...(scenario.params['acl'] !== undefined ? { acl: aclOf(scenario, dc) } : {}),
      ...(num(scenario, 'nodeMeta', 0) === 1 ? { nodeMeta: nodeMetaOf(scenario, nodeId) } : {}),
    });
    // The servers' store checks the per-step store rules at every apply (sim/checkers/store.ts).
    return mountsFor(config, {
      profile: 'sim',
      ...(scenario.params['tcpFallbackPing'] === 'false' ? { swim: { tcpFallbackPing: false } } : {}),
      ...(server
        ? {
            raft: {
              createFsm: () => recordingKvWrites(checkedStoreFsm(createStoreFsm({ tombstoneHints: true }), nodeId)),
            },
          }
        : {}),
    });
  },

  checkStep(sim, nodeId) {
    const runtime = sim.runtime(nodeId);
    const resultIn = runOf(sim).checkResultIn;
    if (resultIn !== null && resultIn.node === nodeId) {
      runOf(sim).checkResultIn = null;
      const problem = checkResultApplied(resultIn, agentOf(sim, nodeId));
      if (problem !== null) return problem;
    }
    if (!runtime?.hasMachine('raft')) {
      if (!runtime?.hasMachine('agent')) return null;
      const client = runtime.stateOf<AgentState>('agent');
      noteClientJoined(sim, nodeId, client);
      return checkRpcsToFailed(runOf(sim).gossipLive, nodeId, client);
    }
    const fsm = runtime.stateOf<RaftState>('raft').fsm as StoreFsm & {
      problems?: string[];
      transitions?: string[];
      kvWrites?: [number, AppliedKvWrite][];
      tombstoneEvents?: TombstoneEvent[];
    };
    drainKvWrites(sim, nodeId, fsm);
    const aged = drainTombstoneEvents(sim, nodeId, fsm.tombstoneEvents);
    if (aged !== null) return aged;
    if (fsm.transitions && fsm.transitions.length > 0) {
      if (sim.coverageOn) for (const transition of fsm.transitions) sim.cover(transition);
      fsm.transitions.length = 0;
    }
    coverRaftStep(sim, runOf(sim).roles, nodeId, runtime.stateOf<RaftState>('raft'), runtime);
    runOf(sim).staleContact.noteRole(
      nodeId,
      runOf(sim).stepNowMs,
      runtime.stateOf<RaftState>('raft').role === 'leader',
    );
    if (fsm.problems && fsm.problems.length > 0) return fsm.problems.splice(0).join('\n');
    if (runtime.hasMachine('agent')) {
      const agent = runtime.stateOf<AgentState>('agent');
      const missed = checkParkedReads(nodeId, agent, fsm);
      if (missed !== null) return missed;
      const serfProblem = checkSerfHealth(runOf(sim), agent, fsm);
      if (serfProblem !== null) return `${nodeId}: ${serfProblem}`;
      const rpcProblem = checkRpcsToFailed(runOf(sim).gossipLive, nodeId, agent);
      if (rpcProblem !== null) return rpcProblem;
    }
    const rogueProblem = checkNoRogueMember(sim, nodeId, runtime.stateOf<RaftState>('raft'));
    if (rogueProblem !== null) return rogueProblem;
    const checker = raftCheckerOf(sim, nodeId);
    return checker ? checker.afterStep(nodeId, runtime.stateOf<RaftState>('raft'), runtime) : null;
  },

  onNodeStart(sim, nodeId, durable) {
    runOf(sim).wanTimedOut.delete(nodeId); // a new process remembers no timeout
    runOf(sim).starts.push({ node: nodeId, atMs: sim.nowMs });
    runOf(sim).leftNodes.noteStart(nodeId);
    runOf(sim).staleContact.noteStart(nodeId);
    if (serversOf(sim.scenario).includes(nodeId)) coverRaftStart(sim, durable);
    raftCheckerOf(sim, nodeId)?.onNodeStart(nodeId, durable);
  },

  onInput(sim, nodeId, input) {
    runOf(sim).stepNowMs = input.nowMs;
    if (input.kind === 'checkResult')
      runOf(sim).checkResultIn = { node: nodeId, checkId: input.checkId, status: input.result.status };
    noteWanTimeout(sim, nodeId, input as { kind: string; timer?: string; nowMs: number });
    if (input.kind === 'request') {
      notePass(runOf(sim).checks, nodeId, input.nowMs, input.request);
      runOf(sim).leftNodes.noteInput(nodeId, sim.nowMs, input.request);
    }
    if (sim.runtime(nodeId)?.hasMachine('raft') && !answeredByAclDc(sim.scenario, nodeId, input))
      runOf(sim).staleContact.noteInput(nodeId, input.nowMs, input);
    const checker = raftCheckerOf(sim, nodeId);
    if (!checker) return;
    // The server's Raft state before the step, as the raft and kv harnesses pass it: the rules drop what the
    // node drops unread — a member's acknowledgement under another server id (it lost its data, core/raft
    // identity.ts). Without it they counted such a stranger as heard, and called a leader's check-quorum
    // step-down unfounded (agent/autopilot-catch-up seeds 147 and 198 on 5da6c81: n1 came back with a new id).
    const runtime = sim.runtime(nodeId);
    checker.onInput(nodeId, input, runtime?.hasMachine('raft') ? runtime.stateOf<RaftState>('raft') : null);
    // Arrivals of what may be a consistent read this server answers itself (see the consistentRead rule).
    if (input.kind === 'request') checker.rules?.readArrived(nodeId, `c${input.requestId}`);
    else if (input.kind === 'message') {
      const envelope = input.message as { m?: string; p?: { t?: string; id?: number; op?: { kind?: string } } };
      const p = envelope?.m === 'agent' ? envelope.p : undefined;
      if (p?.t === 'rpc' && p.op?.kind === 'read') checker.rules?.readArrived(nodeId, `r${input.from}:${p.id}`);
    }
  },

  start() {
    return new AgentRun();
  },

  workload(sim, scenario) {
    startWorkload(sim, scenario);
    startSessions(sim, scenario);
    // What the opt-in workloads borrow from the harness (sim/harnesses/agent-host.ts).
    const agents: AgentsHost = {
      agents: () => agentsOf(sim),
      request: (node, body, timeoutMs, done) => agentRequest(sim, node, body, timeoutMs, done),
    };
    const localState: LocalStateHost = {
      agentOf: (node) => agentOf(sim, node),
      startedSince: (node, atMs) => runOf(sim).starts.some((s) => s.node === node && s.atMs > atMs),
    };
    startCatalog(sim, scenario, num(scenario, 'catalogClients', 0), {
      ...agents,
      definitelyNotApplied,
      dnsDetails: num(scenario, 'dnsClients', 0) > 0,
    });
    startChecks(sim, scenario, num(scenario, 'checkClients', 0), { ...agents, ...localState }, runOf(sim).checks);
    startEvents(sim, scenario, num(scenario, 'eventClients', 0), { ...agents, ...localState }, runOf(sim).events);
    const catalogOn = num(scenario, 'catalogClients', 0) > 0;
    const timelineArg = (action: string): string[] =>
      scenario.timeline.filter((e) => e.action === action && e.args[1] !== undefined).map((e) => e.args[1]!);
    startDnsClients(sim, scenario, num(scenario, 'dnsClients', 0), {
      ...agents,
      datacenterOf: (node) => dcOf(scenario, node),
      serviceNames: [
        'web',
        ...['svc0', 'svc1', 'svc2', 'svc3'],
        ...Array.from({ length: num(scenario, 'checkClients', 0) }, (_, p) => `hc${p}`),
        ...(catalogOn ? [catalogService, 'loc0', 'loc1', 'loc2'] : []),
        ...new Set(timelineArg('health')),
      ],
      featuredServices: [...(catalogOn ? [catalogService] : []), ...new Set(timelineArg('health'))],
      externalNodes: catalogOn ? catalogNodes.map((node) => ({ node, address: catalogAddressOf(node) })) : [],
      queryNames: [
        ...(catalogOn && num(scenario, 'catalogNodeChecks', 0) > 0 ? [catalogQueryName] : []),
        ...new Set(timelineArg('query-create')),
      ],
      datacenters: scenario.datacenters.map((d) => d.name),
    });
    startAutopilotProbes(sim, scenario, num(scenario, 'autopilotProbes', 0), {
      ...agents,
      heartbeatMs: () => {
        for (const id of serversOf(sim.scenario)) {
          const runtime = sim.runtime(id);
          if (runtime?.hasMachine('raft')) return runtime.stateOf<RaftState>('raft').config.heartbeatIntervalMs;
        }
        return null;
      },
    });
    startLivenessProbe(sim, scenario);
  },

  checkResult(sim, _nodeId, _checkId, _check) {
    const fail = sim.random('checks').chance(num(sim.scenario, 'checkFailPercent', 10), 100);
    if (fail)
      return { status: 'critical', output: 'curl: (7) Failed to connect to localhost port 80: Connection refused' };
    // A second draw only when the knob is set: scenarios without it draw exactly what they drew before.
    const warnPercent = num(sim.scenario, 'checkWarnPercent', 0);
    if (warnPercent > 0 && sim.random('checks').chance(warnPercent, 100))
      return { status: 'warning', output: 'HTTP GET http://localhost/health: 429 Too Many Requests' };
    return { status: 'passing', output: 'ok' };
  },

  live(sim) {
    if (multiDc(sim.scenario)) return liveDcs(sim);
    if (!runOf(sim).livenessWriteOk) return false;
    const leader = leaderOf(sim);
    if (leader === null) return false;
    // A node that left on purpose is deregistered, not passing.
    const healthy = sim.nodeIds
      .filter((id) => sim.isUp(id) && !sim.isPaused(id) && !agentOf(sim, id)!.left)
      .every((id) => serfHealthOf(sim, id) === 'passing');
    // `expect catalog-synced`: live also means anti-entropy has converged (the liveness phase waits for it).
    // `expect checks-synced`: and the checks' statuses and outputs with it.
    return (
      healthy &&
      (!expectsCatalogSync(sim.scenario) || catalogSyncMisses(sim) === null) &&
      (!expectsChecksSync(sim.scenario) || checksSyncMissesOf(sim) === null)
    );
  },

  whyNotLive(sim) {
    return multiDc(sim.scenario) ? whyDcsNotLive(sim) : whyNotLiveIn(sim, undefined);
  },

  onNodeStop(sim, nodeId) {
    const runtime = sim.runtime(nodeId);
    const raft = runtime?.hasMachine('raft') ? runtime.stateOf<RaftState>('raft') : null;
    runOf(sim).stops.push({ node: nodeId, atMs: sim.nowMs, ledTerm: raft?.role === 'leader' ? raft.term : null });
  },

  onDropped(sim, nodeId, effects) {
    raftCheckerOf(sim, nodeId)?.onDropped(nodeId, effects);
  },

  onEffect(sim, nodeId, effect) {
    raftEffect(sim, nodeId, effect);
    if (sim.coverageOn && serversOf(sim.scenario).includes(nodeId)) coverRaftEffect(sim, nodeId, effect);
    if (effect.kind === 'persist') return checkLeaderTime(sim, nodeId, effect.ops);
    if (effect.kind === 'reply' || effect.kind === 'send') checkStaleContact(sim, nodeId, effect);
    if (effect.kind === 'send') {
      const leftProblem = runOf(sim).leftNodes.checkSend(nodeId, sim.nowMs, effect.message);
      if (leftProblem !== null) sim.violation(leftProblem);
      return checkWanForward(sim, nodeId, effect.to, effect.message);
    }
    if (effect.kind === 'trace' && effect.event.type === 'agent.syncFailed')
      return runOf(sim).syncAnswers.noteSyncFailed(nodeId, sim.nowMs);
    if (effect.kind === 'trace' && effect.event.type === 'agent.userEvent')
      return noteEvent(runOf(sim).events, nodeId, sim.nowMs, effect.event);
    if (effect.kind === 'trace' && effect.event.type === 'agent.checkTtlMissed')
      return checkTtlMiss(sim, runOf(sim).checks, nodeId, runOf(sim).stepNowMs, effect.event);
    if (effect.kind === 'trace' && effect.event.type === 'raft.becameLeader')
      runOf(sim).elections.push({ node: nodeId, term: effect.event.term, atMs: sim.nowMs });
    // Per-step rule (Consul's `consistent` mode: the leader verifies with a quorum that it still leads
    // before it answers): a consistent read a server answers from its own Raft read is answered by a
    // leader that committed an entry of its term and heard from a quorum of voters after the read
    // arrived — rule 8 of sim/checkers/raft-rules.ts, as the raft harness holds Raft's own reads to it.
    if (effect.kind === 'trace' && effect.event.type === 'consul.consistentRead') {
      const e = effect.event;
      const runtime = sim.runtime(nodeId);
      const key = e.requestId !== null ? `c${e.requestId}` : `r${e.from}:${e.id}`;
      const problem = runtime?.hasMachine('raft')
        ? raftCheckerOf(sim, nodeId)?.rules?.readAnswered(nodeId, key, runtime.stateOf<RaftState>('raft'))
        : `${nodeId} answered a consistent read without Raft (a client agent)`;
      if (problem) sim.violation(`consistent read: ${problem}`);
      return;
    }
    // Per-step rule: a `default` read is answered by a server whose Raft leads when it answers.
    if (effect.kind !== 'trace' || effect.event.type !== 'consul.defaultRead') return;
    const runtime = sim.runtime(nodeId);
    const raft = runtime?.hasMachine('raft') ? runtime.stateOf<RaftState>('raft') : null;
    runOf(sim).defaultReadsAnswered++;
    if (raft?.role !== 'leader')
      sim.violation(
        `default read: ${nodeId} answered a default read from its own state as ${raft?.role ?? 'a client agent'} at term ${raft?.term ?? '-'}, not as leader`,
      );
  },

  // The register workload's operations as linOpsOf reads them: writes, cas, and consistent-mode reads
  // (default and stale reads may lag by design; sessions and checks are not register operations).
  linearizable: (op) =>
    op.f === 'write' || op.f === 'cas' || op.f === 'delete-cas' || (op.f === 'read' && modeOf(op) === 'consistent'),

  checkEnd(sim) {
    const acks = checkWriteAcks(sim);
    if (acks.length > 0) return acks;
    const problems = checkNoPhantomReads(sim.history.ops);
    sim.log(`agent: ${runOf(sim).defaultReadsAnswered} default reads answered by a leader`);
    for (const [dc, aged] of runOf(sim).tombstoneAge)
      sim.log(
        `agent: ${dc}: ${aged.reaps} tombstone reaps applied, removing ${aged.tombstonesReaped} tombstones (counted per server)`,
      );
    if (problems.length > 0) return problems;
    const ops = linOpsOf(sim.history.ops, num(sim.scenario, 'staleReads', 0) === 1 ? ['stale'] : ['consistent']);
    const result = checkHistory(ops, registerModel, { timeoutMs: num(sim.scenario, 'linTimeoutMs', 20_000) });
    if (result.linearizable === false) {
      const explanation = result.explanation ? JSON.stringify(result.explanation).slice(0, 600) : '';
      return [`KV history of ${ops.length} operations is not linearizable: ${explanation}`];
    }
    if (result.linearizable === 'unknown')
      sim.log(`linearizability check of ${ops.length} operations ran out of time: no verdict`);
    else
      sim.log(
        `linearizability: ${ops.length} KV operations linearizable (${result.partitions} keys, ${Math.round(result.ms)} ms)`,
      );
    const catalog = checkCatalog(sim, num(sim.scenario, 'linTimeoutMs', 20_000));
    return catalog.length > 0 ? catalog : checkServersRegistered(sim);
  },

  act(sim, action, args) {
    const known = ['join', 'leave', 'register', 'drop-service', 'put', ...dcActions, ...gateActions];
    if (!known.includes(action)) return `unknown action '${action}' (agent knows: ${known.join(', ')})`;
    if ((gateActions as readonly string[]).includes(action))
      return actGate(sim, args, sim === null ? null : runOf(sim).dc);
    if ((dcActions as readonly string[]).includes(action))
      return actDc(sim, action, args, sim === null ? null : runOf(sim).dc);
    if (action === 'join' && args.length !== 2) return 'join takes NODE PEER (NODE runs `conclave join PEER`)';
    if (action === 'leave' && args.length !== 1) return 'leave takes NODE';
    if (action === 'register' && args.length !== 2) return 'register takes NODE SERVICE';
    if (action === 'drop-service' && args.length !== 2)
      return 'drop-service takes NODE SERVICE (removes it from the catalog behind the agent)';
    if (action === 'put' && args.length !== 3) return 'put takes NODE KEY VALUE';
    if (sim === null) return null;
    const node = args[0]!;
    const done = (what: string) => (response: AgentResponse | undefined) =>
      sim.log(`harness: ${what} on ${node} answered ${response ? response.status : 'nothing (timeout)'}`);
    if (action === 'join')
      agentRequest(sim, node, { type: 'agent.join', addresses: [args[1]!] }, 5000, done(`join ${args[1]}`));
    else if (action === 'leave') agentRequest(sim, node, { type: 'agent.leave' }, 5000, done('leave'));
    else if (action === 'register')
      agentRequest(
        sim,
        node,
        { type: 'agent.service.register', service: { name: args[1]!, port: 8080 } },
        5000,
        done(`register ${args[1]}`),
      );
    else if (action === 'drop-service')
      agentRequest(
        sim,
        serversOf(sim.scenario)[0]!,
        { type: 'catalog.deregister', node, serviceId: args[1]! },
        5000,
        done(`catalog deregister ${args[1]}`),
      );
    else
      agentRequest(sim, node, { type: 'kv.put', key: args[1]!, value: bytes(args[2]!) }, 5000, done(`put ${args[1]}`));
    return null;
  },

  expect(sim, name, args) {
    switch (name) {
      case 'leader': {
        // Multi-DC: `expect leader` means every DC has one; `expect leader dc2` names one DC.
        const dcs = args.length > 0 ? args : multiDc(sim.scenario) ? sim.scenario.datacenters.map((d) => d.name) : [];
        if (dcs.length === 0) return leaderOf(sim) === null ? 'no node leads' : null;
        const leaderless = dcs.filter((dc) => leaderOf(sim, dc) === null);
        return leaderless.length === 0 ? null : `no node leads in ${leaderless.join(', ')}`;
      }
      case 'served':
        return expectServed(sim, args);
      case 'errors':
        return expectErrors(sim, args);
      case 'failover-within':
        return expectFailoverWithin(sim, args);
      case 'election-within':
        return expectElectionWithin(sim, args);
      case 'read-errors':
        return expectReadErrors(sim, args);
      case 'unanswered':
        return expectUnanswered(sim, args);
      case 'wan-converged':
        return wanConverged(sim) ? null : `the WAN pool has not converged: ${wanMissText(sim)}`;
      case 'catalog-synced':
        return catalogSyncMisses(sim);
      case 'checks-synced':
        return checksSyncMissesOf(sim);
      case 'serfHealth': {
        const [node, status] = args;
        if (node === undefined || status === undefined) return 'serfHealth takes NODE passing|critical|absent';
        const actual = serfHealthOf(sim, node);
        return actual === status
          ? null
          : `serfHealth of ${node} is ${actual ?? 'unknown (no leader)'}, expected ${status}`;
      }
      case 'service': {
        const [service, count] = args;
        const leader = leaderOf(sim);
        if (leader === null) return 'no leader to ask';
        const store = storeOf(sim.runtime(leader)!).state;
        let instances = 0;
        for (const services of store.services.values())
          for (const s of services.values()) if (s.Service === service) instances++;
        return instances === Number(count)
          ? null
          : `service ${service} has ${instances} instances in the catalog, expected ${count}`;
      }
      default: {
        const verdict = expectDc(sim, name, args, runOf(sim).dc, (id) => agentOf(sim, id));
        if (verdict !== undefined) return verdict;
        return `unknown expectation '${name}' (agent knows: leader [DC], errors MAX, read-errors MAX, unanswered MAX, failover-within DURATION, election-within DURATION, serfHealth NODE STATUS, service NAME COUNT, served DC FROM TO, wan-converged, catalog-synced, checks-synced, queries, access, event NAME DC, event-at NAME NODE,NODE)`;
      }
    }
  },

  describe(sim, nodeId): Record<string, string | number> {
    const agent = agentOf(sim, nodeId);
    if (!agent) return { role: '-' };
    const view = agent.hasRaft ? sim.runtime(nodeId)!.stateOf<RaftState>('raft') : null;
    return {
      role: agent.hasRaft ? (view?.role ?? 'server') : 'client',
      services: agent.services.size,
      serf: serfHealthOf(sim, nodeId) ?? '-',
      // Multi-DC: the node's DC, and how many WAN servers a server sees alive (the TUI groups by dc).
      ...(multiDc(sim.scenario)
        ? {
            dc: dcOf(sim.scenario, nodeId),
            ...(agent.hasRaft
              ? { wan: [...agent.wanMembers.values()].filter((m) => m.status === 'alive').length }
              : {}),
          }
        : {}),
    };
  },
};
