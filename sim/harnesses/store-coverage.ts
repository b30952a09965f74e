/**
 * What a KV exploration reached in the store (`sim explore --coverage`): each applied store command
 * classified by its outcome — a CAS that applied or was refused, a transaction committed or rolled back,
 * a lock taken, refused or released, a session created, renewed, destroyed or invalidated by its TTL.
 * Counted per replica apply (every server applies every command), from the command and the result the
 * store FSM returned; the coverage report names the ones no seed reached.
 */
import type { StoreCommand } from '../../core/store/types.js';
import type { Scenario } from '../scenario.js';

/** Every store transition the kv workload can reach; the report lists the unreached ones. */
export const storeTransitions: readonly string[] = [
  'transition store: key written',
  'transition store: cas applied',
  'transition store: cas refused',
  'transition store: key deleted',
  'transition store: delete-cas applied',
  'transition store: delete-cas refused',
  'transition store: delete-tree',
  'transition store: txn committed',
  'transition store: txn rolled back',
  'transition store: lock acquired',
  'transition store: lock refused (held, or in lock-delay)',
  'transition store: lock released',
  'transition store: session created',
  'transition store: session renewed',
  'transition store: session destroyed',
  'transition store: session invalidated (TTL expired)',
];

/**
 * The store transitions the agent harness's workload reaches (`sim explore --coverage` of agent
 * scenarios): its KV writes, CAS and sessions through the HTTP API, plus the catalog work the leader
 * does on its own — registering members, their serfHealth turning critical or passing again, a new
 * leader restarting the TTL timers, and a session invalidated because its node's check failed.
 */
export const agentStoreTransitions: readonly string[] = [
  'transition store: key written',
  'transition store: cas applied',
  'transition store: cas refused',
  'transition store: session created',
  'transition store: session renewed',
  'transition store: session destroyed',
  'transition store: session invalidated (TTL expired)',
  'transition store: session invalidated (its node check failed)',
  'transition store: session timers reset (new leader)',
  'transition store: node registered',
  'transition store: service registered',
  'transition store: member failed (serfHealth critical)',
  'transition store: member alive (serfHealth passing)',
];

/**
 * The agent transitions a scenario must reach: the list above, plus the deletes when its workload deletes
 * (`set deleteWritePercent`), and the leader's tombstone reap when it also shortens the TTL to fit a run
 * (`set tombstoneTtlMs`; core/agent/tombstones.ts).
 */
export function agentStoreTransitionsOf(scenario: Scenario): readonly string[] {
  const deletes = Number(scenario.params['deleteWritePercent'] ?? 0) > 0;
  if (!deletes) return agentStoreTransitions;
  return [
    ...agentStoreTransitions,
    'transition store: key deleted',
    'transition store: delete-tree',
    ...(scenario.params['tombstoneTtlMs'] !== undefined ? ['transition store: tombstones reaped'] : []),
  ];
}

/** The catalog transitions of the agent harness (and the session invalidations they cause). */
export function catalogTransitionOf(
  command: StoreCommand,
  result: unknown,
  sessionsBefore: number,
  sessionsAfter: number,
): string[] {
  const r = result as { ok?: boolean } | null;
  if (r === null || typeof r !== 'object' || r.ok !== true) return [];
  const out: string[] = [];
  switch (command.type) {
    case 'catalogRegister':
      out.push(command.service ? 'transition store: service registered' : 'transition store: node registered');
      break;
    case 'memberHealth':
      if (command.health === 'failed') out.push('transition store: member failed (serfHealth critical)');
      else if (command.health === 'alive') out.push('transition store: member alive (serfHealth passing)');
      break;
    case 'sessionTimersReset':
      out.push('transition store: session timers reset (new leader)');
      break;
    default:
      break;
  }
  const sessionCommand = command.type === 'sessionDestroy' || command.type === 'sessionsExpire';
  if (!sessionCommand && sessionsAfter < sessionsBefore)
    out.push('transition store: session invalidated (its node check failed)');
  return out;
}

/** The transition one applied command made, from its result (null for commands the list does not name). */
export function storeTransitionOf(command: StoreCommand, result: unknown): string | null {
  const r = result as { ok?: boolean; value?: unknown } | null;
  if (r === null || typeof r !== 'object' || r.ok !== true) return null; // refused by validation: no transition
  const value = r.value;
  switch (command.type) {
    case 'kvSet':
      return 'transition store: key written';
    case 'kvCas':
      return value === true ? 'transition store: cas applied' : 'transition store: cas refused';
    case 'kvDelete':
      return 'transition store: key deleted';
    case 'kvDeleteCas':
      return value === true ? 'transition store: delete-cas applied' : 'transition store: delete-cas refused';
    case 'kvDeleteTree':
      return 'transition store: delete-tree';
    case 'txn': {
      const errors = (value as { Errors?: unknown } | null)?.Errors;
      return Array.isArray(errors) && errors.length > 0
        ? 'transition store: txn rolled back'
        : 'transition store: txn committed';
    }
    case 'kvLock':
      return value === true
        ? 'transition store: lock acquired'
        : 'transition store: lock refused (held, or in lock-delay)';
    case 'kvUnlock':
      return value === false ? null : 'transition store: lock released';
    case 'sessionCreate':
      return 'transition store: session created';
    case 'sessionRenew':
      return 'transition store: session renewed';
    case 'sessionDestroy':
      return 'transition store: session destroyed';
    case 'sessionsExpire':
      return Array.isArray(value) && value.length > 0 ? 'transition store: session invalidated (TTL expired)' : null;
    case 'tombstonesReap':
      return typeof value === 'number' && value > 0 ? 'transition store: tombstones reaped' : null;
    default:
      return null;
  }
}
