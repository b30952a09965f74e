/**
 * User events (Consul agent/user_event.go): `event.fire` hands the event to SWIM, which spreads it by
 * gossip (Serf user events); every agent keeps the last 256 it accepted. An event with a node,
 * service or tag filter is accepted only by agents that match it (regular expressions, as Consul).
 * `event.list` blocks on an index derived from the newest event's id, not on Raft.
 */
import type { SwimResponse, UserEvent } from '../swim/api.js';
import type { AgentRequest } from './api.js';
import { base64Encode } from './base64.js';
import { blockingWaitMs, errorResponse, uuid, type RemoteEvent, type ServerOp } from './ops.js';
import { callSwim, deliver } from './rpc.js';
import {
  count,
  eventsKeptMax,
  reply,
  trace,
  type AgentState,
  type Env,
  type Origin,
  type ParkedEvents,
  type UserEventRecord,
} from './state.js';

/** Consul's uuidToUint64 idea: fold the event id to a number; the index of the list is that of its newest event. */
export function eventIndex(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash === 0 ? 1 : hash;
}

export function eventsIndex(s: AgentState): number {
  const last = s.events[s.events.length - 1];
  return last === undefined ? 1 : eventIndex(last.ID);
}

function matches(pattern: string, text: string): boolean {
  try {
    return new RegExp(pattern).test(text);
  } catch {
    return false;
  }
}

/** Whether this agent accepts an event (Consul shouldProcessUserEvent). */
export function acceptsEvent(
  s: AgentState,
  event: { nodeFilter?: string; serviceFilter?: string; tagFilter?: string },
): boolean {
  if (event.nodeFilter && !matches(event.nodeFilter, s.nodeName)) return false;
  if (event.serviceFilter) {
    const services = [...s.services.values()].filter((svc) => matches(event.serviceFilter!, svc.service));
    if (services.length === 0) return false;
    if (event.tagFilter && !services.some((svc) => svc.tags.some((tag) => matches(event.tagFilter!, tag))))
      return false;
  }
  return true;
}

function recordOf(event: UserEvent): UserEventRecord {
  return {
    ID: event.id,
    Name: event.name,
    Payload: event.payload ?? null,
    NodeFilter: event.nodeFilter ?? '',
    ServiceFilter: event.serviceFilter ?? '',
    TagFilter: event.tagFilter ?? '',
    Version: 1,
    LTime: event.ltime,
  };
}

export function renderEvent(record: UserEventRecord): Record<string, unknown> {
  return {
    ...record,
    Payload: record.Payload === null || record.Payload.length === 0 ? null : base64Encode(record.Payload),
  };
}

/** Keeps an accepted event (once) and wakes `event.list` watchers. */
export function recordEvent(s: AgentState, env: Env, event: UserEvent): void {
  if (s.events.some((e) => e.ID === event.id)) return;
  if (!acceptsEvent(s, event)) return;
  s.events.push(recordOf(event));
  if (s.events.length > eventsKeptMax) s.events.splice(0, s.events.length - eventsKeptMax);
  count(s, 'eventsReceived');
  trace(env, { type: 'agent.userEvent', name: event.name, id: event.id });
  const index = eventsIndex(s);
  for (const [requestId, parked] of [...s.parkedEvents]) {
    if (parked.minIndex === index) continue;
    s.parkedEvents.delete(requestId);
    env.ctx.emit({ kind: 'cancelTimer', timer: `events:${requestId}` });
    answerParked(s, env, parked);
  }
}

/** The event a fire request describes, with an id minted here (Consul's agent mints it, whichever DC fires it). */
export function eventOf(request: AgentRequest & { type: 'event.fire' }, id: string): RemoteEvent {
  return {
    name: request.name,
    payload: request.payload,
    id,
    ...(request.nodeFilter ? { nodeFilter: request.nodeFilter } : {}),
    ...(request.serviceFilter ? { serviceFilter: request.serviceFilter } : {}),
    ...(request.tagFilter ? { tagFilter: request.tagFilter } : {}),
  };
}

/** Hands `event` to this agent's LAN SWIM and keeps it here too; `then` gets the event as fired, or SWIM's error. */
function fireHere(s: AgentState, env: Env, event: RemoteEvent, then: (fired: UserEvent | string, env: Env) => void) {
  callSwim(s, env, { type: 'fireEvent', event }, (response, env2) => {
    if (!response.ok) return then(response.error, env2);
    const fired: UserEvent = response.event ?? { ...event, ltime: 0 };
    recordEvent(s, env2, fired);
    then(fired, env2);
  });
}

export function fireEvent(
  s: AgentState,
  env: Env,
  requestId: number,
  request: AgentRequest & { type: 'event.fire' },
): void {
  if (!request.name) return reply(env, requestId, errorResponse(400, 'Missing name'));
  fireHere(s, env, eventOf(request, uuid(env.ctx.prng)), (fired, env2) => {
    if (typeof fired === 'string') return reply(env2, requestId, errorResponse(500, fired));
    reply(env2, requestId, { status: 200, body: renderEvent(recordOf(fired)) });
  });
}

/**
 * `event/fire?dc=` on a server of the target DC (Consul's Internal.EventFire): the event goes into
 * this DC's LAN pool, so this DC's agents receive it and no other DC's do.
 */
export function fireEventForDc(s: AgentState, env: Env, op: ServerOp & { kind: 'eventFire' }, origin: Origin): void {
  fireHere(s, env, op.event, (fired, env2) => {
    if (typeof fired === 'string') return deliver(s, env2, origin, { ok: false, status: 500, error: fired });
    const value = renderEvent(recordOf(fired));
    deliver(s, env2, origin, { ok: true, index: 1, value, knownLeader: s.leader !== null, lastContactMs: 0 });
  });
}

function listBody(s: AgentState, name: string | undefined): unknown[] {
  return s.events.filter((e) => !name || e.Name === name).map(renderEvent);
}

function answerList(s: AgentState, env: Env, requestId: number, request: AgentRequest & { type: 'event.list' }): void {
  reply(env, requestId, { status: 200, body: listBody(s, request.name), index: eventsIndex(s) });
}

function answerParked(s: AgentState, env: Env, parked: ParkedEvents): void {
  if (parked.origin === undefined) return answerList(s, env, parked.requestId, parked.request);
  const value = listBody(s, parked.request.name);
  deliver(s, env, parked.origin, { ok: true, index: eventsIndex(s), value, knownLeader: true, lastContactMs: 0 });
}

/**
 * `event/list?dc=` on a server of the target DC: the events this server received, blocking as a local
 * list does (keyed by a negative id, so it never meets a client's request id).
 */
export function listEventsForDc(s: AgentState, env: Env, op: ServerOp & { kind: 'eventList' }, origin: Origin): void {
  const request = { type: 'event.list', read: { consistency: 'default' }, name: op.name } as const;
  const parkedId = -s.nextParkId++;
  const parked: ParkedEvents = { requestId: parkedId, request, minIndex: op.minIndex, deadlineMs: 0, origin };
  if (
    op.minIndex > 0 &&
    op.waitMs > 0 &&
    eventsIndex(s) === op.minIndex &&
    s.parkedEvents.size < s.config.timing.blockingQueriesMax
  ) {
    s.parkedEvents.set(parkedId, { ...parked, deadlineMs: env.nowMs + op.waitMs });
    env.ctx.emit({ kind: 'setTimer', timer: `events:${parkedId}`, afterMs: op.waitMs });
    return;
  }
  answerParked(s, env, parked);
}

export function listEvents(
  s: AgentState,
  env: Env,
  requestId: number,
  request: AgentRequest & { type: 'event.list' },
): void {
  const minIndex = request.read.minIndex ?? 0;
  const waitMs = blockingWaitMs(request.read, env.ctx.prng);
  // Consul blocks while the index equals the one the client saw (event ids are not ordered).
  if (
    minIndex > 0 &&
    waitMs > 0 &&
    eventsIndex(s) === minIndex &&
    s.parkedEvents.size < s.config.timing.blockingQueriesMax
  ) {
    s.parkedEvents.set(requestId, { requestId, request, minIndex, deadlineMs: env.nowMs + waitMs });
    env.ctx.emit({ kind: 'setTimer', timer: `events:${requestId}`, afterMs: waitMs });
    return;
  }
  answerList(s, env, requestId, request);
}

export function onEventsTimer(s: AgentState, env: Env, requestId: number): void {
  const parked = s.parkedEvents.get(requestId);
  if (!parked) return;
  s.parkedEvents.delete(requestId);
  answerParked(s, env, parked);
}
