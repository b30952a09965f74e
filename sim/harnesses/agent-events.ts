/**
 * User events of the agent harness (opt-in, `set eventClients N`): what `consul event` and `consul watch
 * -type=event` do. Half the processes fire events through random agents (`PUT /v1/event/fire/<name>`), with
 * names drawn from a few (`deploy`, `restart`, `reload`), so the same name is fired again and again, as a
 * deploy tool does; the other half watch one agent each with blocking `GET /v1/event/list` (`?index=` the
 * last X-Consul-Index, `?wait=` 1–3 s). Two rules, observing:
 *
 *  - an agent that acknowledged a fire holds the event it fired (by id: Consul keeps events apart by their
 *    id, never by name), unless it restarted since the request left;
 *  - a blocking list returns when its agent receives a new event: one that comes back more than
 *    `wakeSlackMs` after its agent logged a new event (`agent.userEvent`, after the request was sent) —
 *    typically at the end of its wait — was not woken.
 *
 * Draws from its own random stream, so scenarios without it draw exactly what they drew before.
 */
import type { AgentRequest } from '../../core/agent/api.js';
import type { NodeId } from '../../core/types.js';
import type { SimApi } from '../harness.js';
import type { Scenario } from '../scenario.js';
import type { AgentsHost, LocalStateHost } from './agent-host.js';

const eventNames = ['deploy', 'restart', 'reload'] as const;
/** A woken list's answer crosses the client link (≤ 5 ms in these scenarios) and may queue behind a step. */
export const wakeSlackMs = 250;

/** What the workload needs from the agent harness. */
export type EventsHost = AgentsHost & LocalStateHost;

/** Per run: when each agent last logged a new event (global time). */
export class EventsActivity {
  readonly receivedMs = new Map<NodeId, number>();
  fired = 0;
  woken = 0;
}

/** The effect hook: an agent logged a new event. */
export function noteEvent(activity: EventsActivity, node: NodeId, nowMs: number, event: { type: string }): void {
  if (event.type === 'agent.userEvent') activity.receivedMs.set(node, nowMs);
}

export function startEvents(
  sim: SimApi,
  scenario: Scenario,
  count: number,
  host: EventsHost,
  activity: EventsActivity,
): void {
  if (count === 0) return;
  const prng = sim.random('agent-events');
  const timeoutMs = Number(scenario.params['requestTimeoutMs'] ?? 3000);
  sim.at(scenario.safetyMs, () =>
    sim.log(`agent-events: ${activity.fired} fires checked, ${activity.woken} blocking lists woken by an event`),
  );
  for (let p = 0; p < count; p++) {
    const later = (ms: number, fn: () => void): void => {
      if (sim.phase === 'safety') sim.after(ms, fn);
    };
    if (p % 2 === 0) {
      const fire = (): void => {
        const node = prng.pick(host.agents());
        const sentMs = sim.nowMs;
        const body: AgentRequest = { type: 'event.fire', name: prng.pick(eventNames), payload: null };
        host.request(node, body, timeoutMs, (r) => {
          const id = r?.status === 200 ? (r.body as { ID?: unknown } | null)?.ID : undefined;
          const agent = host.agentOf(node);
          if (typeof id === 'string' && agent !== null && !agent.left && !host.startedSince(node, sentMs)) {
            activity.fired++;
            if (!agent.events.some((e) => e.ID === id))
              sim.violation(`agent-events: ${node} acknowledged event ${id} (${body.name}) but does not hold it`);
          }
          later(300 + prng.below(700), fire);
        });
      };
      sim.after(2000 + prng.below(500), fire);
    } else {
      const node = sim.nodeIds[Math.floor(p / 2) % sim.nodeIds.length]!;
      let index = 0;
      const watch = (): void => {
        const waitMs = 1000 + prng.below(2001);
        const sentMs = sim.nowMs;
        const read =
          index > 0
            ? { consistency: 'default' as const, minIndex: index, waitMs }
            : { consistency: 'default' as const };
        // The client waits out the wait and its jitter (wait/16) on top of the usual timeout.
        host.request(node, { type: 'event.list', read }, timeoutMs + waitMs + Math.ceil(waitMs / 16), (r) => {
          if (r?.status === 200) {
            const receivedMs = activity.receivedMs.get(node);
            if (index > 0 && receivedMs !== undefined && receivedMs > sentMs && !host.startedSince(node, sentMs)) {
              activity.woken++;
              if (sim.nowMs - receivedMs > wakeSlackMs)
                sim.violation(
                  `agent-events: a blocking event list on ${node} (index ${index}, wait ${waitMs} ms) answered ${Math.round(sim.nowMs - receivedMs)} ms after ${node} received an event`,
                );
            }
            if (typeof r.index === 'number') index = r.index;
          }
          later(r === undefined ? 500 : 1, watch);
        });
      };
      sim.after(2000 + prng.below(500), watch);
    }
  }
}
