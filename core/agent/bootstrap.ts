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
 *  - Nor does one that a peer forbids: before bootstrapping, a server asks every other expected server
 *    for its Raft view (Consul's maybeBootstrap asks `Status.Peers` of each) and bootstraps only when
 *    every one answered and none forbids it (`checkPeerForbids`: a peer that knows this server under
 *    another server id, or holds another configuration). A server whose data dir was wiped with
 *    everything in it (its identity record too, so to itself it is a new server) would otherwise found
 *    the cluster again: with its one-entry log it votes, and with a peer that missed a committed entry
 *    it elects a leader without that entry (scenarios/raft/disk-replaced-bootstrap.txt seed 268 lost
 *    committed index 2; seed 203 voted twice in one term). It waits instead for the leader to add it
 *    back, as a server that knows it lost its data does (core/raft/identity.ts). A peer that does not answer leaves the question open: ask again
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
  readonly lastIndex: number;
  readonly leader: NodeId | null;
  /** The id this server knows each member by (Raft `status` with `ids`: on record, else first heard). */
  readonly knownIds: Readonly<Record<NodeId, string>>;
}

export function bootstrapViewOf(view: RaftView | null): BootstrapView {
  return {
    voters: view?.voters ?? [],
    lastIndex: view?.lastIndex ?? 0,
    leader: view?.leader ?? null,
    knownIds: view?.knownIds ?? {},
  };
}

/** Whether a peer's answer has the shape of a `BootstrapView` (it crossed the network). */
export function checkBootstrapView(value: unknown): value is BootstrapView {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  const ids = v['knownIds'];
  return (
    Array.isArray(v['voters']) &&
    v['voters'].every((x) => typeof x === 'string') &&
    typeof v['lastIndex'] === 'number' &&
    (v['leader'] === null || typeof v['leader'] === 'string') &&
    ids !== null &&
    typeof ids === 'object' &&
    !Array.isArray(ids) &&
    Object.values(ids).every((x) => typeof x === 'string')
  );
}

/** Who is asking: the bootstrapping server's name in the configuration and its Raft server id. */
export interface Asker {
  readonly name: NodeId;
  readonly serverId: string;
}

/**
 * Why a peer's view forbids `asker` to bootstrap with `servers`, or null when it allows it:
 *  - the peer knows the asker under another server id: the asker took part under that id and lost its
 *    data since (its whole data dir, identity record included, so to itself it is new). Whatever it
 *    acknowledged or voted under the old id is gone, so it must not vote again on a founding log; it
 *    waits for the leader to add it back under its new id (core/raft/identity.ts). This is the case
 *    scenarios/raft/disk-replaced-bootstrap.txt found (seed 268 lost committed index 2; 203 voted twice
 *    in one term);
 *  - the peer holds another configuration than the founding one (another set of voters), or entries or
 *    a leader without a configuration: a cluster this server must be added to, not found.
 * A peer with nothing, or with the very same founding configuration however far its log went, allows
 * it: a founder that has not bootstrapped yet, and was never heard under another id, acknowledged and
 * voted nothing, so its identical bootstrap entry and its votes are a fresh founder's (hashicorp/raft
 * lets founders bootstrap in any order). Refusing it left clusters with no quorum of servers that may
 * vote: one wiped, one a founder that waited (raft/disk-replaced-bootstrap seeds 3536, 3709 of a first
 * draft that refused whenever a peer's log went past the bootstrap entry). Terms are no evidence either
 * way (candidates' vote requests raise every server's). Pure: the simulator's Raft harness asks it too.
 */
export function checkPeerForbids(peer: BootstrapView, servers: readonly NodeId[], asker: Asker): string | null {
  const known = Object.prototype.hasOwnProperty.call(peer.knownIds, asker.name) ? peer.knownIds[asker.name] : undefined;
  if (known !== undefined && known !== asker.serverId) return `knows ${asker.name} as ${known}`;
  if (peer.voters.length === 0) return peer.lastIndex > 0 || peer.leader !== null ? 'follows a cluster' : null;
  const same = peer.voters.length === servers.length && peer.voters.every((id) => servers.includes(id));
  return same ? null : 'holds another configuration';
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
    // candidates' vote requests heard while waiting (checkPeerForbids says why that is no cluster).
    if (view && (view.voters.length > 0 || view.lastIndex > 0 || view.leader)) {
      s.bootstrapping = false;
      s.bootstrapped = true;
      return;
    }
    const servers = [...ids.keys()].sort();
    const asker: Asker = { name: s.config.rpcId, serverId: view?.serverId ?? '' };
    askPeers(s, env2, servers, asker, (verdict, env3) => {
      if (verdict.kind === 'cluster') {
        // Consul: "Existing Raft peers reported by server, disabling bootstrap mode".
        s.bootstrapping = false;
        s.bootstrapped = true;
        trace(env3, {
          type: 'consul.bootstrapDisabled',
          server: String(ids.get(verdict.peer) ?? verdict.peer),
          reason: verdict.reason,
        });
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
  | { readonly kind: 'cluster'; readonly peer: NodeId; readonly reason: string }
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
  asker: Asker,
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
      // A peer's answer is wire data: one that is not a view leaves the question open, never a thrown step.
      const view = result.ok && checkBootstrapView(result.value) ? result.value : null;
      const reason = view !== null ? checkPeerForbids(view, servers, asker) : null;
      if (view === null) unconfirmed ??= peer;
      else if (reason !== null) {
        decided = true;
        return then({ kind: 'cluster', peer, reason }, env2);
      }
      if (waiting > 0) return;
      decided = true;
      then(unconfirmed === null ? { kind: 'none' } : { kind: 'unconfirmed', peer: unconfirmed }, env2);
    };
    const op = { kind: 'status', what: 'bootstrap' } as const;
    sendRpc(s, env, peer, op, { kind: 'internal', what: 'bootstrap', then: answer }, 1, s.config.timing.rpcTimeoutMs);
  }
}
