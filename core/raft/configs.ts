/**
 * The configurations in the log (thesis §4.1): a server uses the latest configuration in its log,
 * committed or not, so appending a configuration entry changes the membership at once and a truncation
 * that removes one rolls it back. A leaf over the state, shared by replication (append, truncate) and
 * snapshots (the membership as of an index).
 */
import type { Entry, Membership } from './messages.js';
import { newProgress, type RaftState } from './state.js';

/** A configuration entry reached our log: it is in force from now on (a leader tracks its new members). */
export function onConfigEntryAppended(s: RaftState, entry: Entry): void {
  const membership = entry.config!;
  s.configs.push({ index: entry.index, membership });
  s.membership = membership;
  s.membershipIndex = entry.index;
  if (s.role === 'leader') syncProgress(s, 0);
}

/** After a truncation removed config entries, fall back to the latest remaining one (thesis §4.1). */
export function rollbackMembership(s: RaftState): void {
  while (s.configs.length > 0 && s.configs[s.configs.length - 1]!.index > s.log.lastIndex) s.configs.pop();
  const last = s.configs[s.configs.length - 1];
  s.membership = last ? last.membership : s.snapshotMembership;
  s.membershipIndex = last ? last.index : (s.snapshot?.lastIndex ?? 0);
}

/** The membership in force at `index` (the latest config entry at or below it). */
export function membershipAt(s: RaftState, index: number): Membership {
  for (let i = s.configs.length - 1; i >= 0; i--) if (s.configs[i]!.index <= index) return s.configs[i]!.membership;
  return s.snapshotMembership;
}

/** A leader keeps one Progress per member other than itself. */
function syncProgress(s: RaftState, nowMs: number): void {
  const members = new Set([...s.membership.voters, ...s.membership.learners]);
  for (const id of members) if (id !== s.id && !s.progress.has(id)) s.progress.set(id, newProgress(s, nowMs));
  for (const id of [...s.progress.keys()]) if (!members.has(id)) s.progress.delete(id);
}
