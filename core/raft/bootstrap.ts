/**
 * Starting a cluster: every server writes the same configuration entry at index 1, term 1 (as
 * hashicorp/raft does), either from the configured servers when the state is built, or on Consul's
 * bootstrap request once bootstrap-expect servers are known.
 */
import type { NodeId, StepContext } from '../types.js';
import type { Entry } from './messages.js';
import {
  fail,
  hardStateOp,
  persist,
  reply,
  resetElectionTimer,
  trace,
  type RaftState,
  type ReplyTarget,
} from './state.js';

/** Writes the bootstrap configuration entry; its persist waits in `startOps` for the caller to emit. */
export function bootstrapEntry(s: RaftState, servers: readonly NodeId[]): Entry {
  const entry: Entry = { term: 1, index: 1, type: 'config', config: { voters: [...servers], learners: [] } };
  s.log.append(entry);
  s.configs.push({ index: 1, membership: entry.config! });
  s.membership = entry.config!;
  s.membershipIndex = 1;
  // A server that heard candidates' terms before it bootstrapped keeps the highest (it voted in none: an
  // empty log grants no vote, election.ts checkMayGrant); the entry is the founders' common one, term 1.
  s.term = Math.max(s.term, 1);
  s.startOps.push(hardStateOp(s), { op: 'append', log: 'log', entries: [entry] });
  return entry;
}

/** Consul's bootstrap: once bootstrap-expect servers are known (or for a single server), start with them. */
export function onBootstrap(
  s: RaftState,
  ctx: StepContext,
  nowMs: number,
  target: ReplyTarget,
  servers: readonly NodeId[],
): void {
  if (
    !Array.isArray(servers) ||
    servers.some((x) => typeof x !== 'string') ||
    new Set(servers).size !== servers.length
  ) {
    return fail(s, ctx, target, 'badRequest', 'bootstrap needs a list of distinct server ids');
  }
  if (s.lostData) {
    // A server that lost its data is no founding member (identity.ts): the leader adds it again.
    trace(ctx, { type: 'raft.bootstrapRefusedLostData', node: s.id });
    return reply(s, ctx, target, { ok: true, index: 0, result: { lostData: true } });
  }
  // Only the log says whether this server holds a configuration: a term alone is what candidates' vote
  // requests raised while it waited (a founder campaigning before the others bootstrapped), not a cluster.
  if (s.log.lastIndex > 0 || s.snapshot !== null) {
    const same = s.membershipIndex === 1 && sameSet(s.membership.voters, servers);
    return same
      ? reply(s, ctx, target, { ok: true, index: 1, result: { already: true } })
      : fail(s, ctx, target, 'badRequest', 'already bootstrapped or joined a cluster');
  }
  const expect = s.config.bootstrapExpect ?? 1;
  if (servers.length < expect)
    return fail(s, ctx, target, 'badRequest', `bootstrap-expect is ${expect}, only ${servers.length} servers known`);
  if (!servers.includes(s.id)) return fail(s, ctx, target, 'badRequest', `${s.id} is not among the bootstrap servers`);
  bootstrapEntry(s, [...servers].sort());
  persist(s, ctx, s.startOps);
  s.startOps = [];
  trace(ctx, { type: 'raft.bootstrapped', node: s.id, servers: [...servers].sort() });
  resetElectionTimer(s, ctx, nowMs);
  reply(s, ctx, target, { ok: true, index: 1, result: { bootstrapped: true } });
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
