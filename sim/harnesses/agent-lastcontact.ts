/**
 * Per-step rule (round N, session 17): a stale read's `X-Consul-LastContact` does not understate how long ago the
 * server that answered it last heard from a leader.
 *
 * Consul's contract (consul-api.md §3, Consul's "Consistency Modes"): a `?stale` read may be answered by any
 * server, and `X-Consul-LastContact` carries "the time in milliseconds that a server was last contacted by the
 * leader node" (0 on the leader itself), so that a client can bound how stale the answer may be (`max_stale`
 * retries on the leader when it is too old). A server that reports 0 — or any age below the real one — while it
 * has been cut off from its leader for seconds passes stale data off as fresh.
 *
 * The ground truth is taken from the messages each server's process received, not from its state: the last
 * AppendEntries or InstallSnapshot delivered to it (whatever their term: counting more contacts only weakens
 * the rule) and the last step after which its Raft led. A server's own clock is used throughout (its steps'
 * `nowMs`), as Raft measures it: a clock jump moves both sides alike. Judged at the answer's exit from the
 * server that ran the read: its reply to a client request, or its `rpcReply` to the agent that forwarded the
 * read, the first time (a re-sent reply carries the age measured when it was made). An answer of −1 (no leader
 * heard since the process started) claims nothing and is not judged.
 */
import type { NodeId } from '../../core/types.js';

/** How much later than Raft's measurement the answer may leave the agent (local calls take no simulated time). */
export const lastContactSlackMs = 1;

/** A stale read that arrived at a server: by `c<requestId>` (a client's request) or `r<from>:<id>` (an RPC). */
type Key = string;

export class StaleReadContact {
  /** Per server: its clock when it last received a leader's AppendEntries or InstallSnapshot. */
  private readonly heardMs = new Map<NodeId, number>();
  /** Per server: its clock at the end of the last step after which its Raft led. */
  private readonly ledMs = new Map<NodeId, number>();
  /** Per server: the stale reads it received and has not answered yet. */
  private readonly pending = new Map<NodeId, Set<Key>>();

  /** A new process knows no leader yet and owes no answer its predecessor owed. */
  noteStart(node: NodeId): void {
    this.heardMs.delete(node);
    this.ledMs.delete(node);
    this.pending.delete(node);
  }

  /** An input of server `node` at its clock `nowMs`: a leader's message, or a stale read arriving. */
  noteInput(
    node: NodeId,
    nowMs: number,
    input: { kind: string; from?: NodeId; message?: unknown; request?: unknown; requestId?: number },
  ): void {
    if (input.kind === 'message') {
      const envelope = input.message as {
        m?: string;
        p?: { type?: string; t?: string; id?: number; op?: unknown };
      } | null;
      if (envelope?.m === 'raft' && (envelope.p?.type === 'append' || envelope.p?.type === 'snapshot'))
        this.heardMs.set(node, nowMs);
      const op = envelope?.p?.op as { kind?: string; consistency?: string } | undefined;
      if (envelope?.m === 'agent' && envelope.p?.t === 'rpc' && op?.kind === 'read' && op.consistency === 'stale')
        this.keysOf(node).add(`r${input.from}:${envelope.p.id}`);
      return;
    }
    if (input.kind !== 'request') return;
    const request = input.request as {
      machine?: string;
      body?: { read?: { consistency?: string }; dc?: string };
    } | null;
    // A read for another DC is answered there, with that DC's server's age: not this server's to judge.
    const body = request?.machine === 'agent' ? request.body : undefined;
    if (body?.read?.consistency === 'stale' && (body.dc === undefined || body.dc === ''))
      this.keysOf(node).add(`c${input.requestId}`);
  }

  /** After a step of server `node` at its clock `nowMs`: whether its Raft leads. */
  noteRole(node: NodeId, nowMs: number, leads: boolean): void {
    if (leads) this.ledMs.set(node, nowMs);
  }

  /**
   * An answer leaving server `node` at its clock `nowMs` (`key` as the read arrived: a reply to client request
   * `c<requestId>`, or an `rpcReply` with call id `id` to `to`, `r<to>:<id>`); `leadsNow`: its Raft leads.
   * Null when it is not a stale read's first answer, or keeps the rule.
   */
  checkAnswer(node: NodeId, nowMs: number, key: Key, lastContactMs: unknown, leadsNow: boolean): string | null {
    const keys = this.pending.get(node);
    if (keys === undefined || !keys.delete(key)) return null;
    // A step runs one input and the local calls it makes: Raft's role when it answered is its role now.
    if (leadsNow || typeof lastContactMs !== 'number' || lastContactMs < 0) return null;
    const contactMs = Math.max(this.heardMs.get(node) ?? -Infinity, this.ledMs.get(node) ?? -Infinity);
    const ageMs = nowMs - contactMs;
    if (lastContactMs + lastContactSlackMs >= ageMs) return null;
    const since = Number.isFinite(contactMs)
      ? `it last heard from a leader (or led) at ${contactMs.toFixed(3)} ms, ${ageMs.toFixed(3)} ms before`
      : 'it has heard from no leader (nor led) since it started';
    return `stale read: ${node} answered a stale read (${key}) at ${nowMs.toFixed(3)} ms with X-Consul-LastContact ${lastContactMs} ms, but ${since}`;
  }

  private keysOf(node: NodeId): Set<Key> {
    let keys = this.pending.get(node);
    if (keys === undefined) this.pending.set(node, (keys = new Set()));
    return keys;
  }
}
