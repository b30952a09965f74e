/**
 * SWIM's contract with the rest of the node (owned by core/swim; read by the agent and the
 * simulator). SWIM is a `Machine` named 'swim'. Callers use node-level requests
 * `{ machine: 'swim', body: SwimRequest }` or sibling `local` calls `{ requestId, request }` answered
 * by a `local` effect `{ type: 'reply', requestId, response }`; membership changes are told to
 * `config.observer` (a sibling machine name, optional) as `local` effects carrying `SwimNotice`. Both
 * are `SwimLocalOutput`, told apart by `type`.
 *
 * Member ids are opaque NodeIds: node names in the simulator, gossip addresses (`ip:8301`) in the
 * agent; a member also has a human `name` (the `-node` flag), equal to the id in the simulator.
 */
import type { NodeId } from '../types.js';
import type { Coordinate } from './coordinate.js';

/** As `conclave members` shows it. `leaving` = a leave intent is spreading. Append-only. */
export type MemberStatus = 'alive' | 'suspect' | 'failed' | 'leaving' | 'left';

export interface Member {
  readonly id: NodeId;
  readonly name: string;
  readonly incarnation: number;
  readonly status: MemberStatus;
  /** Serf tags: role (consul|node), dc, port, build, vsn... */
  readonly tags: Readonly<Record<string, string>>;
}

export interface UserEvent {
  readonly name: string;
  readonly payload: Uint8Array | null;
  /** Lamport time of the event (Serf's LTime). */
  readonly ltime: number;
  /** Unique id (the agent's `/v1/event/fire` ID). */
  readonly id: string;
  readonly nodeFilter?: string;
  readonly serviceFilter?: string;
  readonly tagFilter?: string;
}

export type SwimRequest =
  /** Contact these ids (push-pull state exchange over the stream channel). */
  | { readonly type: 'join'; readonly peers: readonly NodeId[] }
  /** Broadcast a leave intent, then stop probing once it has spread (or after a bound). */
  | { readonly type: 'leave' }
  | { readonly type: 'forceLeave'; readonly name: string }
  | { readonly type: 'members' }
  | { readonly type: 'setTags'; readonly tags: Readonly<Record<string, string>> }
  | { readonly type: 'fireEvent'; readonly event: Omit<UserEvent, 'ltime'> }
  | { readonly type: 'events' }
  /** Protocol counters and the local health score, for metrics. */
  | { readonly type: 'stats' }
  /** This node's network coordinate (Vivaldi, seconds; Consul's shape). */
  | { readonly type: 'coordinate' }
  /** This node's coordinate and the last one each peer sent on an ack (Serf's coordinate cache). */
  | { readonly type: 'coordinates' };

export type SwimResponse =
  | {
      readonly ok: true;
      readonly members?: readonly Member[];
      readonly joined?: number;
      readonly events?: readonly UserEvent[];
      readonly event?: UserEvent;
      readonly stats?: { readonly counters: Readonly<Record<string, number>>; readonly healthScore: number };
      readonly coordinate?: Coordinate;
      readonly peers?: readonly { readonly id: NodeId; readonly coordinate: Coordinate }[];
    }
  | { readonly ok: false; readonly error: string };

export interface SwimLocalCall {
  readonly requestId: number;
  readonly request: SwimRequest;
}

/** A `local` input SWIM receives: a call from any sibling (checked before it is served). */
export interface SwimLocalInput {
  readonly fromMachine: string;
  readonly payload: SwimLocalCall;
}

export interface SwimLocalReply {
  readonly type: 'reply';
  readonly requestId: number;
  readonly response: SwimResponse;
}

/** Every payload SWIM addresses to a sibling: answers to its local calls and notices to the observer. */
export type SwimLocalOutput = SwimLocalReply | SwimNotice;

export type SwimNotice =
  | { readonly type: 'member'; readonly member: Member; readonly previous: MemberStatus | null }
  | { readonly type: 'userEvent'; readonly event: UserEvent }
  /** A failed member passed reconnectTimeout (or a left one tombstoneTimeout) and was forgotten. */
  | { readonly type: 'reaped'; readonly member: Member }
  /**
   * This member refuted a claim that it had failed or left (a stale one, or about its previous life):
   * members — the Consul leader among them — may have acted on the claim before the refutation reached
   * them. `incarnation` is the one it refuted with.
   */
  | { readonly type: 'refuted'; readonly claim: 'failed' | 'left'; readonly incarnation: number };

/** What `view()` returns; the TUI reads these names. */
export interface SwimView {
  readonly members: readonly { readonly id: NodeId; readonly status: MemberStatus; readonly incarnation: number }[];
  readonly healthScore: number;
}
