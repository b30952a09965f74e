/**
 * The machines one agent node hosts, in one NodeRuntime:
 *   server: swim + wan + raft (FSM = the state store) + agent
 *   client: swim + agent
 * `wan` is a second SWIM machine, the WAN gossip pool among servers of every DC (core/agent/wan.ts);
 * AgentConfig.wanPool false leaves it out.
 * SWIM and Raft tell the agent about membership and leadership (`observer: 'agent'`).
 *
 * Ids: SWIM's member id, Raft's server id and `config.rpcId` are all the runtime's node id (the
 * agent asserts it): a server's gossip id is the id the agent forwards to and bootstraps Raft with.
 * In the simulator every id is the node name; in the real agent one address per node.
 */
import type { Mount } from '../runtime.js';
import { makeRaftConfig, raftTimingFor, type RaftConfig } from '../raft/config.js';
import { raftMachine } from '../raft/raft.js';
import { createStoreFsm } from '../store/store.js';
import type { SwimConfig } from '../swim/config.js';
import { swimMachine } from '../swim/machine.js';
import { makeConfig as makeSwimConfig } from '../swim/config.js';
import type { AgentConfig } from './api.js';
import { agentMachine } from './machine.js';
import { agentTags, swimConfigFor } from './tags.js';
import { wanMachine, wanName } from './wan.js';

export interface MountOptions {
  /** Timing profile of Raft and SWIM: 'lan' for the real agent, 'sim' for the simulator. */
  readonly profile: 'lan' | 'sim';
  readonly raft?: Partial<RaftConfig>;
  readonly swim?: Partial<SwimConfig>;
  /** Overrides of the WAN pool's SWIM config. */
  readonly wan?: Partial<SwimConfig>;
}

/** The WAN machine: SWIM under another name (its messages, timers and storage keys are `wan`'s). */
const wanSwimMachine = { ...swimMachine, name: wanMachine };

/**
 * The WAN pool's SWIM config: Consul's WAN Serf — memberlist's WAN timings (probe 5 s, suspicion ×6)
 * for the real agent; in the simulator the sim profile, whose 1 s probes still fit the simulated WAN's
 * round trips (≤ ~200 ms) and let a cut-off DC be noticed, and rejoin, within a run of a minute. The
 * member name is `node.dc`; the tags are the server's LAN tags (role, dc, port...).
 */
export function wanSwimConfigFor(config: AgentConfig, options: MountOptions): SwimConfig {
  return makeSwimConfig(options.profile === 'sim' ? 'sim' : 'wan', {
    name: wanName(config.nodeName, config.datacenter),
    tags: agentTags(config, config.nodeId ?? ''),
    joinPeers: [...(config.startJoinWan ?? [])],
    // `-retry-interval-wan` / retry_interval_wan: how often the start-up WAN joins are retried.
    joinRetryMs: config.timing.retryJoinWanIntervalMs,
    observer: 'agent',
    ...(options.wan ?? {}),
  });
}

export function raftConfigFor(config: AgentConfig, options: MountOptions): RaftConfig {
  const expect = config.bootstrap ? 1 : config.bootstrapExpect;
  return makeRaftConfig(options.profile, {
    // Results carry the store's tombstone hints for the leader's GC (core/agent/tombstones.ts).
    createFsm: () => createStoreFsm({ tombstoneHints: true }),
    observer: 'agent',
    servers: [],
    // Consistent reads behind a ReadIndex round in flight share the next round (etcd batches alike): one
    // heartbeat and one ack per voter per batch instead of per read (docs/cluster-performance.md).
    readBatching: true,
    // A split vote after a leader's death is retried within three heartbeats, not a whole election
    // timeout (3–6 s at raft_multiplier 3): config.ts splitVoteBackoff, scenarios/agent/failover-split.txt.
    splitVoteBackoff: true,
    ...(expect > 0 ? { bootstrapExpect: expect } : {}),
    ...(config.raftMultiplier !== undefined ? raftTimingFor(config.raftMultiplier) : {}),
    ...(options.raft ?? {}),
  });
}

export function mountsFor(config: AgentConfig, options: MountOptions = { profile: 'lan' }): Mount[] {
  const mounts: Mount[] = [
    { machine: swimMachine, config: swimConfigFor(config, options.profile, options.swim ?? {}) },
  ];
  if (config.server && config.wanPool !== false)
    mounts.push({ machine: wanSwimMachine, config: wanSwimConfigFor(config, options) });
  if (config.server) mounts.push({ machine: raftMachine, config: raftConfigFor(config, options) });
  mounts.push({ machine: agentMachine, config });
  return mounts;
}
