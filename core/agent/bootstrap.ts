/**
 * Starting the Raft cluster (Consul agent/consul/server_serf.go maybeBootstrap).
 *
 *  - `-bootstrap` or `-bootstrap-expect 1`: the server bootstraps alone at start.
 *  - `-bootstrap-expect N`: servers find each other through gossip tags (role=consul, same dc). Once
 *    N are known (this one included), each asks its Raft to bootstrap with all of them, sorted; every
 *    server proposes the same configuration, so whichever bootstraps first, they agree (hashicorp/raft
 *    BootstrapCluster is safe to call on every server with identical configurations).
 *  - A server whose Raft already has a configuration or a leader (a restart, a late joiner added by
 *    the leader) never bootstraps.
 *  - With `authenticateServers`, only servers that introduced themselves on the server port count
 *    (hello.ts): a holder of the gossip key without a certificate is never a founding voter.
 */
import type { RaftResponse } from '../raft/api.js';
import { checkServerAuthenticated } from './hello.js';
import { callRaft, knownServers } from './rpc.js';
import { trace, type AgentState, type Env } from './state.js';

export function expectedServers(s: AgentState): number {
  if (!s.hasRaft) return 0;
  if (s.config.bootstrap) return 1;
  return s.config.bootstrapExpect;
}

export function maybeBootstrap(s: AgentState, env: Env): void {
  const expect = expectedServers(s);
  if (expect === 0 || s.bootstrapped || s.bootstrapping) return;
  const ids = new Map<string, string>(
    knownServers(s)
      .filter((x) => checkServerAuthenticated(s, x.id))
      .map((x) => [x.id, x.name]),
  );
  ids.set(s.config.rpcId, s.nodeName);
  if (ids.size < expect) return;
  s.bootstrapping = true;
  callRaft(s, env, { type: 'status' }, (status, env2) => {
    const view = status.ok ? status.result : null;
    if (view && (view.voters.length > 0 || view.term > 0 || view.leader)) {
      s.bootstrapping = false;
      s.bootstrapped = true;
      return;
    }
    const servers = [...ids.keys()].sort();
    if (expect > 1) trace(env2, { type: 'consul.bootstrapping', servers: servers.map((id) => String(ids.get(id))) });
    callRaft(s, env2, { type: 'bootstrap', servers }, (response, env3) => {
      s.bootstrapping = false;
      if (response.ok) {
        s.bootstrapped = true;
        return;
      }
      trace(env3, { type: 'consul.bootstrapFailed', error: response.error, detail: response.detail ?? null });
    });
  });
}
