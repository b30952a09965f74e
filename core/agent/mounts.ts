/**
 * The machines one agent node hosts, in one NodeRuntime:
 *   server: swim + raft (FSM = the state store) + agent
 *   client: swim + agent
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
import type { AgentConfig } from './api.js';
import { agentMachine } from './machine.js';
import { swimConfigFor } from './tags.js';

export interface MountOptions {
  /** Timing profile of Raft and SWIM: 'lan' for the real agent, 'sim' for the simulator. */
  readonly profile: 'lan' | 'sim';
  readonly raft?: Partial<RaftConfig>;
  readonly swim?: Partial<SwimConfig>;
}

export function raftConfigFor(config: AgentConfig, options: MountOptions): RaftConfig {
  const expect = config.bootstrap ? 1 : config.bootstrapExpect;
  return makeRaftConfig(options.profile, {
    createFsm: createStoreFsm,
    observer: 'agent',
    servers: [],
    ...(expect > 0 ? { bootstrapExpect: expect } : {}),
    ...(config.raftMultiplier !== undefined ? raftTimingFor(config.raftMultiplier) : {}),
    ...(options.raft ?? {}),
  });
}

export function mountsFor(config: AgentConfig, options: MountOptions = { profile: 'lan' }): Mount[] {
  const mounts: Mount[] = [
    { machine: swimMachine, config: swimConfigFor(config, options.profile, options.swim ?? {}) },
  ];
  if (config.server) mounts.push({ machine: raftMachine, config: raftConfigFor(config, options) });
  mounts.push({ machine: agentMachine, config });
  return mounts;
}
