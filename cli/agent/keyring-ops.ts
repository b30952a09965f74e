/**
 * Keyring operations across the cluster (`/v1/operator/keyring`, `conclave keyring`), as Serf's key
 * queries do them: the agent that is asked applies the change to its own ring and sends it to every
 * live member over the encrypted gossip transport (a `_keyring` frame, sealed with the current primary
 * key); each member applies it to its ring (persisted in serf/local.keyring) and answers with its keys
 * or its error. The answer counts members (Consul's NumNodes / errors per node); a member that is down
 * misses the change, and the operator sees it in the count, as with Consul.
 *
 * A `_keyring` frame is obeyed only when it arrived sealed: a key change needs a key already in the
 * ring. Frames of this kind never reach the core.
 */
import type { AgentResponse } from '../../core/agent/api.js';
import { KeyringError, type Keyring } from '../../net/transport/keyring.js';
import type { PeerInfo, Transport } from '../../net/transport/types.js';

export type KeyringOp = 'list' | 'install' | 'use' | 'remove';

/** The envelope machine name of keyring frames (no core machine has it). */
export const keyringMachine = '_keyring';

/** How long the asking agent waits for every member's answer (ms). */
export const keyringAnswerTimeoutMs = 5000;

/** Most operations awaiting answers at once (each holds one entry per member). */
const pendingMax = 64;

interface OpFrame {
  readonly t: 'op';
  readonly id: number;
  readonly op: KeyringOp;
  readonly key: string | null;
}

interface AnswerFrame {
  readonly t: 'answer';
  readonly id: number;
  readonly error: string | null;
  readonly keys: readonly string[];
}

interface Member {
  readonly id: string;
  readonly name: string;
}

interface Pending {
  readonly waiting: Set<string>;
  readonly answers: Map<string, { error: string | null; keys: readonly string[] }>;
  readonly done: () => void;
}

export class KeyringOps {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly keyring: Keyring,
    private readonly gossip: Transport,
    private readonly selfId: string,
    private readonly datacenter: string,
    /** Live members (alive), this agent included. */
    private readonly members: () => Promise<Member[]>,
    private readonly log: (level: 'info' | 'warn', text: string) => void,
  ) {}

  /** Is this envelope a keyring frame? Then `onFrame` takes it, never the core. */
  static isKeyringFrame(body: unknown): boolean {
    return body !== null && typeof body === 'object' && (body as { m?: unknown }).m === keyringMachine;
  }

  /** Runs one operation on every live member and answers in Consul's form. */
  async run(op: KeyringOp, key: string | null): Promise<AgentResponse> {
    if (this.pending.size >= pendingMax) return { status: 500, body: null, error: 'too many keyring operations' };
    const members = await this.members();
    const others = members.filter((m) => m.id !== this.selfId);
    const id = this.nextId++;
    const answers = new Map<string, { error: string | null; keys: readonly string[] }>();
    answers.set(this.selfId, this.apply(op, key));
    const waiting = new Set(others.map((m) => m.id));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => finish(), keyringAnswerTimeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve();
      };
      this.pending.set(id, { waiting, answers, done: finish });
      const frame: OpFrame = { t: 'op', id, op, key };
      for (const m of others) this.gossip.send(m.id, { m: keyringMachine, p: frame }, 'stream');
      if (waiting.size === 0) finish();
    });
    const names = new Map(members.map((m) => [m.id, m.name]));
    const errors: string[] = [];
    for (const m of others)
      if (!answers.has(m.id)) errors.push(`${m.name}: no answer within ${keyringAnswerTimeoutMs} ms`);
    for (const [memberId, a] of answers) if (a.error) errors.push(`${names.get(memberId) ?? memberId}: ${a.error}`);
    const numNodes = members.length;
    if (op === 'list') {
      const keys: Record<string, number> = {};
      for (const a of answers.values()) for (const k of a.keys) keys[k] = (keys[k] ?? 0) + 1;
      const primary = this.keyring.primary();
      return {
        status: 200,
        body: [
          {
            WAN: false,
            Datacenter: this.datacenter,
            Segment: '',
            Keys: keys,
            PrimaryKeys: { [primary]: [...answers.values()].filter((a) => a.keys[0] === primary).length },
            NumNodes: numNodes,
            ...(errors.length > 0 ? { Messages: Object.fromEntries(errors.map((e, i) => [String(i), e])) } : {}),
          },
        ],
      };
    }
    if (errors.length > 0) {
      const verb = { install: 'install', use: 'use', remove: 'remove' }[op];
      return {
        status: 500,
        body: null,
        error: `${errors.length}/${numNodes} nodes reported failure to ${verb} the key:\n${errors.join('\n')}`,
      };
    }
    this.log('info', `serf: ${op} key: done on ${numNodes} nodes`);
    return { status: 200, body: null };
  }

  /** A keyring frame from a member (an operation to apply, or an answer to ours). */
  onFrame(from: string, body: unknown, info: PeerInfo | undefined): void {
    if (!info?.sealed) {
      this.log('warn', `agent: ignored an unencrypted keyring frame from ${from}`);
      return;
    }
    const p = (body as { p?: unknown }).p as {
      t?: unknown;
      id?: unknown;
      op?: unknown;
      key?: unknown;
      error?: unknown;
      keys?: unknown;
    } | null;
    if (p === null || typeof p !== 'object' || typeof p.id !== 'number') return;
    if (p.t === 'op') {
      const op = p.op;
      if (op !== 'list' && op !== 'install' && op !== 'use' && op !== 'remove') return;
      const key = typeof p.key === 'string' ? p.key : null;
      const result = this.apply(op, key);
      const answer: AnswerFrame = { t: 'answer', id: p.id as number, error: result.error, keys: result.keys };
      this.gossip.send(from, { m: keyringMachine, p: answer }, 'stream');
      return;
    }
    if (p.t === 'answer') {
      const pending = this.pending.get(p.id as number);
      if (!pending || !pending.waiting.has(from)) return;
      pending.waiting.delete(from);
      const keys = Array.isArray(p.keys) ? p.keys.filter((k): k is string => typeof k === 'string') : [];
      pending.answers.set(from, { error: typeof p.error === 'string' ? p.error : null, keys });
      if (pending.waiting.size === 0) pending.done();
    }
  }

  private apply(op: KeyringOp, key: string | null): { error: string | null; keys: readonly string[] } {
    try {
      if (op !== 'list') {
        if (key === null) throw new KeyringError('a key is required');
        if (op === 'install') this.keyring.install(key);
        else if (op === 'use') this.keyring.use(key);
        else this.keyring.remove(key);
        this.log('info', `serf: received ${op}-key query`);
      }
      return { error: null, keys: this.keyring.list() };
    } catch (error) {
      if (error instanceof KeyringError) return { error: error.message, keys: this.keyring.list() };
      throw error;
    }
  }
}
