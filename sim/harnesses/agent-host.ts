/**
 * What the agent harness lends its opt-in workloads (catalog, checks, events, autopilot probes): each
 * workload's host interface extends these with what only it needs, so the shapes live in one place.
 */
import type { AgentRequest, AgentResponse } from '../../core/agent/api.js';
import type { AgentState } from '../../core/agent/state.js';
import type { NodeId } from '../../core/types.js';

/** Sends an agent request to a node, as a client would; `done` gets the answer, or undefined after `timeoutMs`. */
export interface RequestHost {
  readonly request: (
    node: NodeId,
    body: AgentRequest,
    timeoutMs: number,
    done: (r: AgentResponse | undefined) => void,
  ) => void;
}

/** The agents a client may talk to (servers and clients), besides sending to one. */
export interface AgentsHost extends RequestHost {
  readonly agents: () => readonly NodeId[];
}

/** A look at one agent's own state, for rules on what an agent holds after it acknowledged a request. */
export interface LocalStateHost {
  readonly agentOf: (node: NodeId) => AgentState | null;
  /** Whether `node` (re)started after `atMs` (global time). */
  readonly startedSince: (node: NodeId, atMs: number) => boolean;
}
