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
 *  - Nor does one whose peers hold a cluster already: before bootstrapping, a server asks every other
 *    expected server for its Raft view (Consul's maybeBootstrap asks `Status.Peers` of each) and
 *    bootstraps only when every one answered and none holds more than the same bootstrap entry. A
 *    server whose data dir was wiped with everything in it (its identity record too, so to itself it is
 *    a new server) would otherwise found the cluster again: with its one-entry log it votes, and with a
 *    peer that missed a committed entry it elects a leader without that entry
 *    (scenarios/raft/disk-replaced-bootstrap.txt seed 268 lost committed index 2; seed 203 voted twice
 *    in one term). It waits instead for the leader to add it back, as a server that knows it lost its
 *    data does (core/raft/identity.ts). A peer that does not answer leaves the question open: ask again
 *    after `bootstrapRetryMs` (Consul retries too; it gives up after six tries and bootstraps anyway,
 *    which this does not — a wiped server cut off from its peers must not found a cluster).
 *  - With `authenticateServers`, only servers that introduced themselves on the server port count
 *    (hello.ts): a holder of the gossip key without a certificate is never a founding voter.
 */
import type { RaftView } from '../raft/api.js';
import type { NodeId } from '../types.js';
import { checkServerAuthenticated } from './hello.js';
import { callRaft, knownServers, sendRpc } from './rpc.js';
import type { ServerResult } from './ops.js';
import { trace, type AgentState, type Env } from './state.js';

/** How long a server waits before asking its peers again when one did not answer (ms). */
export const bootstrapRetryMs = 1_000;

/** What a server tells a peer about to bootstrap (status `bootstrap`): its Raft view, reduced. */
export interface BootstrapView {
  readonly voters: readonly NodeId[];
  readonly membershipIndex: number;
  readonly lastIndex: number;
  readonly term: number;
  readonly leader: NodeId | null;
}

export function bootstrapViewOf(view: RaftView | null): BootstrapView {
  return {
    voters: view?.voters ?? [],
    membershipIndex: view?.membershipIndex ?? 0,
    lastIndex: view?.lastIndex ?? 0,
    term: view?.term ?? 0,
    leader: view?.leader ?? null,
  };
}

/**
 * Whether a peer's view shows a cluster that exists already, for a server about to bootstrap with
 * `servers`. Not when the peer holds nothing (a new server too), nor when it bootstrapped the very same
 * configuration and holds nothing after it and follows no leader (founders of one new cluster, which
 * bootstrap in any order: identical bootstrap entries are one configuration). Anything else — another
 * configuration, an entry after the bootstrap entry (every leader appends one when elected), a leader
 * (followed with or without a configuration) — is a cluster this server must be added to, not found again.
 * Terms are not evidence: without pre-vote a lone founder's failed campaigns raise its own and every
 * empty server's term, and a server that then refused to found would leave it without a quorum forever
 * (raft/disk-replaced-bootstrap seeds 9, 392 of a first draft). Pure: the simulator's Raft harness asks
 * it too (sim/harnesses/raft.ts `bootstrapExpect`).
 */
export function checkPeerHoldsCluster(peer: BootstrapView, servers: readonly NodeId[]): boolean {
  if (peer.voters.length === 0) return peer.lastIndex > 0 || peer.leader !== null;
  const same = peer.voters.length === servers.length && peer.voters.every((id) => servers.includes(id));
  return !same || peer.membershipIndex !== 1 || peer.lastIndex > 1 || peer.leader !== null;
}

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
    // Holds a log or follows a leader: a restart, or a joiner the leader reached first. A term alone is
    // candidates' vote requests heard while waiting (checkPeerHoldsCluster says why that is no cluster).
    if (view && (view.voters.length > 0 || view.lastIndex > 0 || view.leader)) {
      s.bootstrapping = false;
      s.bootstrapped = true;
      return;
    }
    const servers = [...ids.keys()].sort();
    askPeers(s, env2, servers, (verdict, env3) => {
      if (verdict.kind === 'cluster') {
        // Consul: "Existing Raft peers reported by server, disabling bootstrap mode".
        s.bootstrapping = false;
        s.bootstrapped = true;
        trace(env3, { type: 'consul.bootstrapDisabled', server: String(ids.get(verdict.peer) ?? verdict.peer) });
        return;
      }
      if (verdict.kind === 'unconfirmed') {
        s.bootstrapping = false;
        trace(env3, {
          type: 'consul.bootstrapUnconfirmed',
          server: String(ids.get(verdict.peer) ?? verdict.peer),
          retryMs: bootstrapRetryMs,
        });
        env3.ctx.emit({ kind: 'setTimer', timer: 'bootstrap', afterMs: bootstrapRetryMs });
        return;
      }
      if (expect > 1) trace(env3, { type: 'consul.bootstrapping', servers: servers.map((id) => String(ids.get(id))) });
      callRaft(s, env3, { type: 'bootstrap', servers }, (response, env4) => {
        s.bootstrapping = false;
        if (response.ok) {
          s.bootstrapped = true;
          return;
        }
        trace(env4, { type: 'consul.bootstrapFailed', error: response.error, detail: response.detail ?? null });
      });
    });
  });
}

/** The bootstrap retry timer: ask again (the servers known may have changed meanwhile). */
export function onBootstrapTimer(s: AgentState, env: Env): void {
  maybeBootstrap(s, env);
}

type PeersVerdict =
  | { readonly kind: 'none' }
  | { readonly kind: 'cluster'; readonly peer: NodeId }
  | { readonly kind: 'unconfirmed'; readonly peer: NodeId };

/**
 * Asks every other server of `servers` for its Raft view, all at once; `then` gets the verdict once all
 * answered or one decided it: the first peer that holds a cluster, else the first that did not answer
 * (an error or the RPC timer), else none. A single server asks nobody.
 */
function askPeers(
  s: AgentState,
  env: Env,
  servers: readonly NodeId[],
  then: (verdict: PeersVerdict, env: Env) => void,
): void {
  const peers = servers.filter((id) => id !== s.config.rpcId);
  if (peers.length === 0) return then({ kind: 'none' }, env);
  let waiting = peers.length;
  let decided = false;
  let unconfirmed: NodeId | null = null;
  for (const peer of peers) {
    const answer = (result: ServerResult, env2: Env): void => {
      if (decided) return;
      waiting--;
      if (!result.ok) unconfirmed ??= peer;
      else if (checkPeerHoldsCluster(result.value as BootstrapView, servers)) {
        decided = true;
        return then({ kind: 'cluster', peer }, env2);
      }
      if (waiting > 0) return;
      decided = true;
      then(unconfirmed === null ? { kind: 'none' } : { kind: 'unconfirmed', peer: unconfirmed }, env2);
    };
    const op = { kind: 'status', what: 'bootstrap' } as const;
    sendRpc(s, env, peer, op, { kind: 'internal', what: 'bootstrap', then: answer }, 1, s.config.timing.rpcTimeoutMs);
  }
}
