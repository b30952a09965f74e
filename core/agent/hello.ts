/**
 * Authenticated server membership (issue 14): a server enters the Raft configuration only after it has
 * introduced itself on the server port, not merely because gossip says it is a server.
 *
 * Gossip tags (role=consul) are written by whoever holds the gossip key, and every client agent holds it.
 * Consul's leader adds any server gossip shows it (autopilot then keeps one that never catches up a
 * non-voter, but `operator raft list-peers` lists it), and bootstrap-expect counts it: a leaked key was
 * enough to become a founding voter. With `authenticateServers` (on when TLS verify_incoming guards the
 * server port, cli/agent/config.ts), a server that is not in its own Raft configuration sends a `hello`
 * to every live server of its datacenter every `helloIntervalMs`, and at once to a server gossip just
 * showed it. The hello travels on the server port (run.ts routeFor), whose mutual TLS refuses a peer
 * without a CA-signed certificate at the handshake, and with verify_server_hostname admits it only with a
 * certificate naming server.<dc>.<domain> (cli/agent/admit.ts); the gossip port refuses it
 * (checkEndpointCarries). So a hello that arrives was sent by a certified server, and only servers heard
 * from that way are counted for bootstrap-expect (bootstrap.ts) or added by the leader (leader.ts
 * reconcileRaftMembership). A server already in the configuration (a founder, or one added earlier) needs
 * none. Without the switch, gossip is the credential, as in Consul.
 *
 * What a hello proves is the certificate, not the name: any holder of a server certificate can claim
 * any node. That is Consul's trust model too (a server certificate is the server credential).
 */
import type { NodeId } from '../types.js';
import { callRaft, knownServers } from './rpc.js';
import { trace, type AgentState, type Env } from './state.js';

/**
 * How often a server outside the configuration says hello (ms). A joining server is added at most about
 * this long after the leader's gossip showed it (plus one change); only servers outside the configuration
 * send, so a settled cluster sends none.
 */
export const helloIntervalMs = 1_000;

/** Bound on the servers remembered as heard (a joining server, or a spoofed flood of names): oldest first out. */
export const serversHeardMax = 256;

/** Arms the hello timer on a server that must introduce itself (called at start). */
export function armHello(s: AgentState, env: Env): void {
  if (!s.hasRaft || !s.config.authenticateServers) return;
  env.ctx.emit({ kind: 'setTimer', timer: 'hello', afterMs: helloIntervalMs });
}

export function onHelloTimer(s: AgentState, env: Env): void {
  maybeSayHello(s, env, null);
  env.ctx.emit({ kind: 'setTimer', timer: 'hello', afterMs: helloIntervalMs });
}

/**
 * Says hello to `to` (or to every live server of our datacenter) unless our Raft configuration lists us
 * already. Nothing when the switch is off.
 */
export function maybeSayHello(s: AgentState, env: Env, to: NodeId | null): void {
  if (!s.hasRaft || !s.config.authenticateServers) return;
  callRaft(s, env, { type: 'status' }, (response, env2) => {
    const view = response.ok ? response.result : null;
    const self = s.config.rpcId;
    if (view !== null && (view.voters.includes(self) || view.learners.includes(self))) return;
    const targets = to !== null ? [to] : knownServers(s).map((x) => x.id);
    for (const target of targets)
      if (target !== self) env2.ctx.emit({ kind: 'send', to: target, channel: 'stream', message: { t: 'hello' } });
  });
}

/**
 * A hello arrived (on the server port, so from a certified server): remember it. Returns true the first
 * time this server is heard, when bootstrap or the leader's reconcile may now count it.
 */
export function onHello(s: AgentState, env: Env, from: NodeId): boolean {
  if (!s.hasRaft) return false;
  const known = s.serversHeard.has(from);
  s.serversHeard.delete(from); // re-inserted last: the Map's order is the eviction order
  s.serversHeard.set(from, env.nowMs);
  if (s.serversHeard.size > serversHeardMax) s.serversHeard.delete(s.serversHeard.keys().next().value!);
  if (!known) trace(env, { type: 'consul.serverIntroduced', server: from });
  return !known;
}

/** Whether server `id` may be counted for bootstrap or added to Raft: the switch is off, it is us, or it said hello. */
export function checkServerAuthenticated(s: AgentState, id: NodeId): boolean {
  return !s.config.authenticateServers || id === s.config.rpcId || s.serversHeard.has(id);
}

/** A server that left is forgotten: it introduces itself again if it comes back. */
export function forgetServerHeard(s: AgentState, id: NodeId): void {
  s.serversHeard.delete(id);
}
