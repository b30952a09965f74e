/**
 * Cluster-wide Raft properties (Raft paper Figure 3), checked outside the nodes over what they emit
 * and hold. Fed by the raft harness (after every step and for every effect) and by tests that drive
 * nodes by hand (the Figure 8 reproduction).
 *
 *  - Election Safety: at most one leader per term.
 *  - Log Matching: two entries with the same index and term hold the same command, and the logs
 *    agree on the entry before them (checked on every persisted append, by (index, term)).
 *  - Leader Completeness: a node that becomes leader holds every entry committed so far.
 *  - State Machine Safety: no two nodes apply different entries at one index (checked on every
 *    `apply` effect and on every commit advance).
 *  - Commit index never decreases within a process (a restart may lower it to the durable hint).
 *  - Applied never passes committed (node invariant, and here on every apply).
 *  - Exactly once, same order (end of run): every acknowledged command is applied once and only once,
 *    at the index its acknowledgement named; a command refused definitively is never applied.
 *  - Session table (thesis §6.3): once a node applied a client's command, its session records that
 *    command's seq and index (or the session was evicted): eviction by least recent use reads the index.
 *  - Snapshot configuration (Raft §7, Figure 13 "last config as of lastIncludedIndex"): a snapshot a
 *    node persists carries the configuration of the last config entry applied at or below its index.
 *  - The per-step rules of sim/checkers/raft-rules.ts (ORDERING RULE, §5.4.2 leader commit, follower
 *    commit bound, monotonic log terms), when the driver reports starts and inputs (`onNodeStart`,
 *    `onInput`); on by default in the raft and kv harnesses, off with `rules: false`.
 */
import type { DurableState, Effect, Input, NodeId } from '../../core/types.js';
import { RaftRuleChecker } from './raft-rules.js';
import type { RaftState } from '../../core/raft/raft.js';
import type { Entry } from '../../core/raft/messages.js';
import type { SnapshotRecord } from '../../core/raft/snapshot.js';
import type { History } from '../history.js';

/** A stable identity for an entry's content (commands of the harness carry client and sequence). */
export function entryKey(type: string, command: unknown): string {
  if (command !== null && typeof command === 'object' && 'c' in command && 's' in command) {
    const c = command as { c: unknown; s: unknown };
    return `${type}:${String(c.c)}:${String(c.s)}`;
  }
  return `${type}:${contentOf(command)}`;
}

/**
 * JSON of a command, remembered per object: without the codec every node's log holds the same command
 * object, so one serialisation serves all appends and applies of it (it was 9% of a KV exploration).
 * Commands are never mutated once proposed, so the cached text cannot go stale.
 */
const contentCache = new WeakMap<object, string>();
function contentOf(command: unknown): string {
  if (command === null || typeof command !== 'object') return JSON.stringify(command);
  let text = contentCache.get(command);
  if (text === undefined) {
    text = contentText(command);
    contentCache.set(command, text);
  }
  return text;
}

/**
 * JSON.stringify(command, sameBytes), faster: with the codec every node's copy of a command is another
 * object, so this ran for every copy, and a replacer is a call back into JavaScript for every value.
 * The bytes are rewritten in a copy of the tree (toJSON first, as JSON.stringify does), which is then
 * serialised without a replacer; a value the copy does not model exactly (a class instance, a boxed
 * primitive, a cycle) takes the replacer. Same text either way (raft.test.ts compares them).
 */
export function contentText(command: unknown): string {
  try {
    return JSON.stringify(sameBytesTree(command, '', 0));
  } catch (error) {
    if (error !== notPlain) throw error;
    return JSON.stringify(command, sameBytes);
  }
}

/** The reference: what contentText must equal. */
export function contentTextByReplacer(command: unknown): string {
  return JSON.stringify(command, sameBytes);
}

const notPlain = new Error('not plain data');
const treeDepthMax = 256;

function sameBytesTree(v: unknown, key: string | number, depth: number): unknown {
  if (depth > treeDepthMax) throw notPlain;
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function')
    v = (v as { toJSON(key: string): unknown }).toJSON(String(key));
  if (v === null || typeof v !== 'object') return v; // the replacer changes only objects
  const replaced = sameBytes('', v); // it reads no key
  if (replaced !== v) {
    // JSON.stringify serialises what the replacer returned without replacing it again, but its children
    // go through toJSON and the replacer like any other value.
    const bytes = (replaced as { bytes: unknown }).bytes;
    return { bytes: sameBytesTree(bytes, 'bytes', depth + 1) };
  }
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype) throw notPlain;
    const out = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = sameBytesTree(v[i], i, depth + 1);
    return out;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) throw notPlain;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const tagged = sameBytesTree((v as Record<string, unknown>)[k], k, depth + 1);
    if (k === '__proto__') Object.defineProperty(out, k, { value: tagged, enumerable: true, writable: true });
    else out[k] = tagged;
  }
  return out;
}

/**
 * Bytes read the same whichever way a node holds them: the leader's command holds a Uint8Array (JSON
 * `{"0":118,…}`), a follower's copy decoded by the wire codec a Buffer (`{"type":"Buffer","data":…}`).
 */
function sameBytes(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: Array.from(value) };
  if (
    value !== null &&
    typeof value === 'object' &&
    (value as { type?: unknown }).type === 'Buffer' &&
    Array.isArray((value as { data?: unknown }).data)
  )
    return { bytes: (value as { data: number[] }).data };
  return value;
}

/** The key of an applied command as the `apply` effect shows it (markers for no-op, config, duplicate). */
export function applyKey(command: unknown): string {
  if (command !== null && typeof command === 'object' && 'raft' in command) {
    const marker = command as { raft: string };
    if (marker.raft === 'noop') return 'noop:undefined';
    if (marker.raft === 'config') {
      const { voters, learners } = command as unknown as { voters: string[]; learners: string[] };
      return `config:${JSON.stringify({ voters, learners })}`;
    }
    return `dup:${JSON.stringify(command)}`;
  }
  return entryKey('command', command);
}

/** applyKey as KeyMemo calls it. */
function applyKeyOf(_type: string, command: unknown): string {
  return applyKey(command);
}

function keyOfEntry(e: Entry): string {
  if (e.type === 'config')
    return `config:${JSON.stringify({ voters: e.config!.voters, learners: e.config!.learners })}`;
  return entryKey(e.type, e.command);
}

/**
 * Content keys remembered per log position: every node stores, commits and applies its own copy of the
 * entry at (index, term) — its own objects, after the wire — so the key text was built once per node.
 * The first key built at a position is kept with a private plain copy of the command it was built
 * from; another node's command that is the same plain data, field for field in the same order, has
 * the same key (its JSON is the same text), and anything else gets its key built as before. The copy
 * is taken when the key is built, so a node that changes its command later cannot change what the
 * others are compared with.
 */
class KeyMemo {
  private readonly byIndex = new Map<
    number,
    { term: number; type: string; source: unknown; copy: unknown; key: string }
  >();

  /** `build(type, command)` makes the key when none is remembered (a function, not a closure per call). */
  keyOf(
    index: number,
    term: number,
    type: string,
    command: unknown,
    build: (type: string, command: unknown) => string,
  ): string {
    const memo = this.byIndex.get(index);
    if (memo !== undefined && memo.term === term && memo.type === type) {
      // The object the key was built from (the same node's commit and apply of the entry it stored):
      // its key, as contentOf's cache by object gives it (commands are never changed once proposed).
      if (memo.source === command) return memo.key;
      if (samePlain(memo.copy, command, 0)) return memo.key;
    }
    const key = build(type, command);
    const copy = plainCopy(command, 0);
    if (copy !== notCopied) this.byIndex.set(index, { term, type, source: command, copy, key });
    return key;
  }
}

/** plainCopy's answer for a value it does not copy (the memo then keeps nothing). */
const notCopied = Symbol('not copied');
const plainDepthMax = 64;

/**
 * A plain object as plainCopy keeps it: its own keys in Object.keys order and their copied values, so
 * that samePlain compares another object's keys with these in one pass, without listing them again.
 */
class PlainFields {
  constructor(
    readonly keys: readonly string[],
    readonly values: readonly unknown[],
  ) {}
}

const hasOwn = Object.prototype.hasOwnProperty;

/** A copy of plain data (plain objects and arrays, primitives, byte arrays), or notCopied. */
function plainCopy(v: unknown, depth: number): unknown {
  if (v === null || typeof v !== 'object') return typeof v === 'function' || typeof v === 'symbol' ? notCopied : v;
  if (depth > plainDepthMax) return notCopied;
  if (v instanceof Uint8Array) return new Uint8Array(v); // bytes serialise alike whatever their class (sameBytes)
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto === Array.prototype) {
    const a = v as unknown[];
    const out = new Array<unknown>(a.length);
    for (let i = 0; i < a.length; i++) {
      const c = plainCopy(a[i], depth + 1);
      if (c === notCopied) return notCopied;
      out[i] = c;
    }
    return out;
  }
  if (proto !== Object.prototype) return notCopied;
  const keys = Object.keys(v);
  const values = new Array<unknown>(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (k === '__proto__' || k === 'toJSON') return notCopied;
    const c = plainCopy((v as Record<string, unknown>)[k], depth + 1);
    if (c === notCopied) return notCopied;
    values[i] = c;
  }
  return new PlainFields(keys, values);
}

/**
 * `b` is the same plain data as the plain copy `a`: same fields in the same order, equal primitives and
 * bytes. An object's own enumerable keys are walked with for-in (the order Object.keys lists them in,
 * inherited ones skipped), so comparing a command allocates nothing.
 */
function samePlain(a: unknown, b: unknown, depth: number): boolean {
  if (a === null || typeof a !== 'object') return a === b;
  if (b === null || typeof b !== 'object' || depth > plainDepthMax) return false;
  if (a instanceof Uint8Array) {
    if (!(b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(b) as unknown;
  if (Array.isArray(a)) {
    if (proto !== Array.prototype) return false;
    const bs = b as unknown[];
    if (a.length !== bs.length) return false;
    for (let i = 0; i < a.length; i++) if (!samePlain(a[i], bs[i], depth + 1)) return false;
    return true;
  }
  if (proto !== Object.prototype || !(a instanceof PlainFields)) return false;
  const { keys, values } = a;
  let i = 0;
  for (const k in b) {
    if (!hasOwn.call(b, k)) continue;
    if (i >= keys.length || keys[i] !== k || !samePlain(values[i], (b as Record<string, unknown>)[k], depth + 1))
      return false;
    i++;
  }
  return i === keys.length;
}

interface Incarnation {
  readonly token: unknown;
  commit: number;
  applied: number;
  wasLeaderAt: number;
}

export class RaftClusterChecker {
  /** term → the node that led it. */
  private readonly leaders = new Map<number, NodeId>();
  /**
   * Entries as first stored, by index, then by term (almost always one): the content key and the term
   * of the entry before it (−1 unknown). Numbers, not an `${index}:${term}` string per stored entry.
   */
  private readonly entries = new Map<number, { term: number; key: string; prevTerm: number }[]>();
  /** Committed entries as first observed: term and content key per index. */
  private readonly committedTerm: number[] = [];
  private readonly committedKey: string[] = [];
  /** The term of the first node seen committing each index: the leader that decided it (an upper bound). */
  private readonly committedAtTerm: number[] = [];
  private committedMax = 0;
  /** index → applied key (first applier); command key → index applied at (not duplicates). */
  private readonly appliedAt = new Map<number, { key: string; term: number; node: NodeId }>();
  readonly commandIndex = new Map<string, number>();
  private readonly entryKeys = new KeyMemo();
  private readonly applyKeys = new KeyMemo();
  /** Configurations as applied (first applier), by index: what a snapshot at or above the index must carry. */
  private readonly appliedConfigs = new Map<number, { voters: readonly string[]; learners: readonly string[] }>();
  private readonly incarnations = new Map<NodeId, Incarnation>();
  readonly violations: string[] = [];
  /** Counters for reports. */
  stats = { elections: 0, applies: 0, duplicatesSuppressed: 0, snapshotsInstalled: 0 };
  /** The per-step rules; null when turned off (bench: their cost). */
  readonly rules: RaftRuleChecker | null;

  /** Whether one command applied at two indexes is a violation (see the constructor). */
  private readonly exactlyOnce: boolean;

  /**
   * `exactlyOnce: false` for clients that may propose one command twice on purpose: the agent retries
   * an idempotent write whose outcome is unknown (core/agent/hold.ts, Consul's rpc_hold_timeout), so
   * its log may hold the same kvSet twice; the KV history checker judges what clients saw of it.
   */
  constructor(options: { rules?: boolean; exactlyOnce?: boolean } = {}) {
    this.rules = options.rules === false ? null : new RaftRuleChecker();
    this.exactlyOnce = options.exactlyOnce !== false;
  }

  /** A node (re)started from `durable` (the rules' view of its disk). */
  onNodeStart(nodeId: NodeId, durable: DurableState): void {
    this.rules?.onNodeStart(nodeId, durable);
  }

  /** Effects the node emitted that a crash dropped unsent (`Harness.onDropped`). */
  onDropped(nodeId: NodeId, effects: readonly Effect[]): void {
    this.rules?.onDropped(nodeId, effects);
  }

  /** The input a node is about to step on; `raft` is the node's state before it (for the server-id check). */
  onInput(nodeId: NodeId, input: Input<unknown, unknown>, raft?: RaftState | null): void {
    this.rules?.onInput(nodeId, input, raft);
  }

  private fail(text: string): string {
    this.violations.push(text);
    return text;
  }

  /** Observe an effect node `nodeId` emitted (its state is already past the step). */
  onEffect(nodeId: NodeId, effect: Effect, state: RaftState | null, token: unknown): string | null {
    if (this.rules) {
      const problem = this.rules.onEffect(nodeId, effect, state);
      if (problem) return this.fail(problem);
    }
    if (effect.kind === 'apply')
      return this.onApply(nodeId, effect, token) ?? this.checkSessionRecorded(nodeId, effect, state);
    if (effect.kind === 'persist' && state) {
      for (const op of effect.ops) {
        if (op.op === 'put' && (op.key === 'snapshot' || op.key === 'raft/snapshot')) {
          const problem = this.checkSnapshotMembership(nodeId, op.value as SnapshotRecord);
          if (problem) return problem;
        }
        if (op.op !== 'append' || !(op.log === 'raft/log' || op.log === 'log')) continue;
        const problem = this.onAppend(nodeId, op.entries as Entry[], state);
        if (problem) return problem;
      }
    }
    if (effect.kind === 'trace' && effect.event.type === 'raft.snapshotInstalled') this.stats.snapshotsInstalled++;
    return null;
  }

  private onAppend(nodeId: NodeId, appended: readonly Entry[], state: RaftState): string | null {
    if (this.rules && appended.length > 0) {
      const before = state.log.termAt(appended[0]!.index - 1);
      const problem = RaftRuleChecker.checkAppendedTerms(nodeId, appended, before ?? 0);
      if (problem) return this.fail(problem);
    }
    for (let k = 0; k < appended.length; k++) {
      const e = appended[k]!;
      const prevTerm = k > 0 ? appended[k - 1]!.term : (state.log.termAt(e.index - 1) ?? -1);
      const key = this.keyOfEntry(e);
      let atIndex = this.entries.get(e.index);
      if (atIndex === undefined) this.entries.set(e.index, (atIndex = []));
      let known: { term: number; key: string; prevTerm: number } | undefined;
      for (const seen of atIndex) if (seen.term === e.term) known = seen;
      if (!known) {
        atIndex.push({ term: e.term, key, prevTerm });
        continue;
      }
      const id = `${e.index}:${e.term}`;
      if (known.key !== key)
        return this.fail(`Log Matching: ${nodeId} stored entry ${id} as ${key}, another node as ${known.key}`);
      if (known.prevTerm >= 0 && prevTerm >= 0 && known.prevTerm !== prevTerm) {
        return this.fail(
          `Log Matching: ${nodeId} has entry ${id} after term ${prevTerm}, another node after term ${known.prevTerm}`,
        );
      }
    }
    return null;
  }

  private onApply(nodeId: NodeId, effect: Extract<Effect, { kind: 'apply' }>, token: unknown): string | null {
    this.stats.applies++;
    const inc = this.incarnation(nodeId, token);
    if (effect.index <= inc.applied)
      return this.fail(`${nodeId} applied index ${effect.index} after ${inc.applied} (out of order or twice)`);
    inc.applied = effect.index;
    const key = this.applyKeys.keyOf(effect.index, effect.term, 'apply', effect.command, applyKeyOf);
    const first = this.appliedAt.get(effect.index);
    if (first) {
      if (first.key !== key || first.term !== effect.term) {
        return this.fail(
          `State Machine Safety: ${nodeId} applied ${key}@${effect.term} at index ${effect.index}, ${first.node} applied ${first.key}@${first.term}`,
        );
      }
    } else this.appliedAt.set(effect.index, { key, term: effect.term, node: nodeId });
    if (key.startsWith('config:') && !first) {
      const { voters, learners } = effect.command as { voters: readonly string[]; learners: readonly string[] };
      this.appliedConfigs.set(effect.index, { voters, learners });
    }
    if (key.startsWith('dup:')) this.stats.duplicatesSuppressed++;
    if (key.startsWith('command:')) {
      const at = this.commandIndex.get(key);
      if (at === undefined) this.commandIndex.set(key, effect.index);
      else if (at !== effect.index && this.exactlyOnce)
        return this.fail(`exactly once: ${key} applied at index ${at} and again at ${effect.index}`);
    }
    return null;
  }

  /**
   * The session of a command just applied records it: the node's table holds the client's seq and the
   * index (or a later one of the same step), unless the session was evicted. The entry is read from the
   * node's log; one compacted in the same step (a snapshot with no trailing entries) is not checked.
   */
  private checkSessionRecorded(
    nodeId: NodeId,
    effect: Extract<Effect, { kind: 'apply' }>,
    state: RaftState | null,
  ): string | null {
    if (!state) return null;
    const e = state.log.entryAt(effect.index);
    if (!e || e.type !== 'command' || !e.session || e.command !== effect.command) return null;
    const recorded = state.sessions.get(e.session.clientId);
    if (!recorded || (recorded.seq >= e.session.seq && recorded.lastIndex >= effect.index)) return null;
    return this.fail(
      `session table: ${nodeId} applied ${e.session.clientId} seq ${e.session.seq} at index ${effect.index}, but its session records seq ${recorded.seq} at index ${recorded.lastIndex}`,
    );
  }

  /** A persisted snapshot's configuration is the last one applied at or below its index (if any was seen). */
  private checkSnapshotMembership(nodeId: NodeId, record: SnapshotRecord): string | null {
    let at = 0;
    for (const index of this.appliedConfigs.keys()) if (index <= record.lastIndex && index > at) at = index;
    const expected = this.appliedConfigs.get(at);
    if (!expected) return null;
    const same = (a: readonly string[], b: readonly string[]): boolean =>
      a.length === b.length && [...a].sort().join(' ') === [...b].sort().join(' ');
    if (same(record.membership.voters, expected.voters) && same(record.membership.learners, expected.learners))
      return null;
    return this.fail(
      `snapshot configuration: ${nodeId} persisted a snapshot at index ${record.lastIndex} with voters [${record.membership.voters.join(' ')}] learners [${record.membership.learners.join(' ')}], but the configuration at that index (entry ${at}) is voters [${expected.voters.join(' ')}] learners [${expected.learners.join(' ')}]`,
    );
  }

  private keyOfEntry(e: Entry): string {
    if (e.type === 'config') return keyOfEntry(e);
    return this.entryKeys.keyOf(e.index, e.term, e.type, e.command, entryKey); // keyOfEntry for a non-config entry
  }

  private incarnation(nodeId: NodeId, token: unknown): Incarnation {
    let inc = this.incarnations.get(nodeId);
    if (!inc || inc.token !== token) {
      inc = { token, commit: -1, applied: 0, wasLeaderAt: 0 };
      this.incarnations.set(nodeId, inc);
    }
    return inc;
  }

  /** After every step of `nodeId`; `token` identifies the process (a new one after a restart). */
  afterStep(nodeId: NodeId, s: RaftState, token: unknown): string | null {
    if (this.rules) {
      const problem = this.rules.afterStep(nodeId, s, token);
      if (problem) return this.fail(problem);
    }
    const inc = this.incarnation(nodeId, token);
    if (inc.applied < s.appliedIndex && inc.applied === 0) inc.applied = s.appliedIndex; // restored from a snapshot at start
    if (s.appliedIndex > inc.applied) inc.applied = s.appliedIndex; // a snapshot install jumps ahead
    if (s.appliedIndex > s.commitIndex)
      return this.fail(`${nodeId} applied ${s.appliedIndex} beyond commit ${s.commitIndex}`);
    // Commit never decreases within a process.
    if (inc.commit >= 0 && s.commitIndex < inc.commit)
      return this.fail(`${nodeId} commit index went back from ${inc.commit} to ${s.commitIndex}`);
    if (s.commitIndex > inc.commit) {
      const problem = this.onCommit(nodeId, s, Math.max(inc.commit, 0));
      inc.commit = s.commitIndex;
      if (problem) return problem;
    }
    // Election Safety and Leader Completeness.
    if (s.role === 'leader' && inc.wasLeaderAt !== s.term) {
      inc.wasLeaderAt = s.term;
      const other = this.leaders.get(s.term);
      if (other !== undefined && other !== nodeId)
        return this.fail(`Election Safety: ${nodeId} and ${other} both led term ${s.term}`);
      if (other === undefined) {
        this.leaders.set(s.term, nodeId);
        this.stats.elections++;
      }
      // Raft §5.4: an entry committed in term T is in the log of every leader of a term > T.
      for (let i = Math.max(1, s.log.prevIndex + 1); i <= this.committedMax; i++) {
        if (this.committedAtTerm[i]! >= s.term) continue;
        const term = s.log.termAt(i);
        if (term !== this.committedTerm[i]) {
          return this.fail(
            `Leader Completeness: ${nodeId} leads term ${s.term} but holds ${term === undefined ? 'nothing' : `term ${term}`} at index ${i}, committed with term ${this.committedTerm[i]} in term ${this.committedAtTerm[i]}`,
          );
        }
      }
    }
    return null;
  }

  /** Entries newly committed on a node must agree with what any node committed there before. */
  private onCommit(nodeId: NodeId, s: RaftState, fromIndex: number): string | null {
    for (let i = Math.max(fromIndex + 1, s.log.prevIndex + 1); i <= s.commitIndex; i++) {
      const e = s.log.entryAt(i);
      if (!e) continue;
      const key = this.keyOfEntry(e);
      if (i <= this.committedMax && this.committedTerm[i] !== undefined) {
        if (this.committedTerm[i] !== e.term || this.committedKey[i] !== key) {
          return this.fail(
            `State Machine Safety: ${nodeId} committed ${key}@${e.term} at index ${i}, earlier committed ${this.committedKey[i]}@${this.committedTerm[i]}`,
          );
        }
      } else {
        this.committedTerm[i] = e.term;
        this.committedKey[i] = key;
        this.committedAtTerm[i] = s.term;
      }
    }
    if (s.commitIndex > this.committedMax) {
      // Only count a prefix we know every entry of (a snapshot install can skip entries we never saw).
      let max = this.committedMax;
      while (this.committedTerm[max + 1] !== undefined) max++;
      this.committedMax = max;
    }
    return null;
  }

  /**
   * End of run: every acknowledged write applied exactly once at the index its reply named; no write
   * refused definitively was applied; every linearizable read saw at least every write acknowledged
   * before it was invoked.
   */
  checkHistory(history: History): string[] {
    const problems: string[] = [];
    const writes = history.ops.filter((op) => op.f === 'write');
    for (const op of writes) {
      const key = entryKey('command', op.input);
      const at = this.commandIndex.get(key);
      if (op.outcome === 'ok') {
        const index = (op.output as { index?: number } | undefined)?.index;
        if (at === undefined) problems.push(`acknowledged write ${key} (op ${op.id}) was never applied`);
        else if (index !== undefined && index !== at)
          problems.push(`acknowledged write ${key} (op ${op.id}) answered index ${index} but applied at ${at}`);
      } else if (op.outcome === 'fail' && at !== undefined)
        problems.push(`write ${key} (op ${op.id}) was refused but applied at index ${at}`);
    }
    const acked = writes
      .filter((op) => op.outcome === 'ok' && op.completeMs !== undefined)
      .map((op) => ({ doneMs: op.completeMs!, index: (op.output as { index: number }).index }))
      .sort((a, b) => a.doneMs - b.doneMs);
    // neededUpTo[k]: the highest index among the first k acknowledged writes (a read needs the highest
    // index acknowledged before it began: a binary search instead of a walk per read).
    const neededUpTo = [0];
    for (const w of acked) neededUpTo.push(Math.max(neededUpTo[neededUpTo.length - 1]!, w.index));
    for (const op of history.ops) {
      if (op.f !== 'read' || op.outcome !== 'ok') continue;
      const seen = (op.output as { index: number }).index;
      let lo = 0;
      let hi = acked.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (acked[mid]!.doneMs < op.invokeMs) lo = mid + 1;
        else hi = mid;
      }
      const needed = neededUpTo[lo]!;
      if (seen < needed)
        problems.push(
          `linearizable read (op ${op.id}) at index ${seen} missed a write acknowledged at index ${needed} before it began`,
        );
    }
    this.violations.push(...problems);
    return problems;
  }
}
