/**
 * Gossip tags and the SWIM config of an agent (Consul's Serf LAN tags: role, dc, port, build, vsn,
 * expect, bootstrap, id). Servers are found through these tags: role=consul, the same dc, and the
 * server port in `port`.
 */
import { makeConfig, type SwimConfig } from '../swim/config.js';
import type { AgentConfig } from './api.js';

export function agentTags(config: AgentConfig, nodeId: string): Record<string, string> {
  const tags: Record<string, string> = {
    role: config.server ? 'consul' : 'node',
    dc: config.datacenter,
    build: config.build,
    vsn: '2',
    vsn_min: '2',
    vsn_max: '3',
  };
  if (nodeId) tags['id'] = nodeId;
  if (config.server) {
    tags['port'] = String(config.ports.server);
    if (config.bootstrap) tags['bootstrap'] = '1';
    if (config.bootstrapExpect > 0) tags['expect'] = String(config.bootstrapExpect);
  }
  return tags;
}

/** The SWIM config for this agent: its name, tags, start-up joins, and the agent as observer. */
export function swimConfigFor(
  config: AgentConfig,
  profile: 'lan' | 'sim',
  overrides: Partial<SwimConfig> = {},
): SwimConfig {
  return makeConfig(profile, {
    name: config.nodeName,
    tags: agentTags(config, config.nodeId ?? ''),
    joinPeers: [...config.startJoin],
    // `-retry-interval` / retry_interval: how often the start-up joins are retried until one answers.
    joinRetryMs: config.timing.retryJoinIntervalMs,
    observer: 'agent',
    ...overrides,
  });
}
