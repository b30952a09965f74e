/**
 * Identity binding (issue 14 §2): may a frame claiming to come from `claimed` (a gossip id, ip:port)
 * be taken from the peer that sent it? Pure: the agent passes what it knows (run.ts `admit`).
 *
 * With gossip encryption or TLS on:
 *  - the peer's source IP must be the claimed id's IP (outgoing connections and datagrams leave from
 *    -bind, so a member's own frames always pass; checked when -bind is the advertised address);
 *  - on the server port, a Raft frame's claimed id must be a member the encrypted gossip taught us
 *    (the LAN or WAN pool's table). An agent RPC sealed with our key need not be: its sender holds the
 *    key and joined a moment ago (a client agent's first anti-entropy sync, a server of another DC
 *    forwarding `?dc=` before the WAN pool told us of it). Dropping it made that caller wait out the
 *    10 s RPC timer, and a write so dropped answered `rpc error: timeout` though it never ran. Any key
 *    holder can join and become a member anyway; what an RPC may do is decided by the ACL on its token;
 *  - with verify_server_hostname, a Raft frame or a server's hello (core/agent/hello.ts) over verified
 *    TLS needs a certificate naming server.<dc>.<domain>: a client certificate does not make a Raft voter.
 * A refused frame is dropped (the transport counts it and logs it once per peer).
 *
 * Before any of that, whatever the switches (`checkEndpointCarries`): a frame must be one that travels on
 * the endpoint it arrived at (run.ts routeFor). Raft and agent RPC requests go to the server port only,
 * where TLS guards them; the gossip port takes anything sealed with the gossip key, which every client
 * agent holds, so a Raft frame there would let a leaked key speak Raft without a certificate (an
 * AppendEntries under the key holder's own id was applied before this check).
 */
import type { PeerInfo } from '../../net/transport/types.js';

export interface AdmitInput {
  readonly endpoint: 'gossip' | 'server' | 'wan';
  readonly claimed: string;
  /** The frame's envelope: `m` names the machine it is for ('raft', 'agent', 'swim', 'wan'). */
  readonly body: unknown;
  readonly peer: PeerInfo;
  /** Gossip encryption is on (a keyring exists). */
  readonly keyed: boolean;
  readonly verifyIncomingRpc: boolean;
  /** -bind is a single address and the advertised one: a claimed id's IP must be the source IP. */
  readonly checkSourceIp: boolean;
  /** Whether the LAN or WAN pool knows `id`; null before the agent's machines run. */
  readonly isMember: ((id: string) => boolean) | null;
  /** This agent's own id (its frames to itself pass). */
  readonly self: string;
  /** With verify_server_hostname: the name a server certificate carries (server.<dc>.<domain>). */
  readonly serverName: string | null;
}

export function admitFrame(input: AdmitInput): boolean {
  const { endpoint, claimed, peer } = input;
  if (!input.keyed && !input.verifyIncomingRpc) return true;
  if (input.checkSourceIp && claimed.slice(0, claimed.lastIndexOf(':')) !== peer.remoteIp) return false;
  if (endpoint !== 'server') return true;
  const machine = (input.body as { m?: unknown } | null)?.m;
  const agentCall = machine === 'agent' && peer.sealed;
  if (input.keyed && input.isMember && !input.isMember(claimed) && !agentCall && claimed !== input.self) return false;
  const hello = machine === 'agent' && (input.body as { p?: { t?: unknown } | null }).p?.t === 'hello';
  if (input.serverName !== null && peer.tlsVerified && (machine === 'raft' || hello))
    return peer.certNames.includes(input.serverName);
  return true;
}

/**
 * Null when a frame for this machine travels on `endpoint`, else why it is refused. The table is routeFor's
 * (run.ts): SWIM on the gossip port, the WAN pool's SWIM on the WAN port, Raft and agent RPC requests on
 * the server port, agent RPC replies back to the caller's gossip port. Other frames (the keyring's) are
 * not the core's and are left to their owner.
 */
export function checkEndpointCarries(endpoint: 'gossip' | 'server' | 'wan', body: unknown): string | null {
  const envelope = body as { m?: unknown; p?: { t?: unknown } | null } | null;
  const machine = envelope?.m;
  const carriedOn =
    machine === 'swim'
      ? 'gossip'
      : machine === 'wan'
        ? 'wan'
        : machine === 'raft'
          ? 'server'
          : machine === 'agent'
            ? envelope?.p?.t === 'rpcReply'
              ? 'gossip'
              : 'server'
            : null;
  if (carriedOn === null || carriedOn === endpoint) return null;
  return `a ${String(machine)} frame arrived on the ${endpoint} port; it travels on the ${carriedOn} port only`;
}
