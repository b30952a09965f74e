/**
 * Scenario files: a human-readable, diffable, line-based format. One directive per line; `#` starts a
 * comment; the comment block at the top is the scenario's story.
 *
 *   # Leader isolated, then healed: the old leader must step down and nothing committed is lost.
 *   protocol raft                       harness (sim/harnesses/)
 *   nodes 5                             or: nodes n1 n2 n3, or datacenters: nodes dc1:3+2 dc2:3+1
 *                                       (3 servers + 2 clients in dc1 = n1..n5, then dc2 = n6..n9)
 *   wan latency=30ms..80ms loss=1%      the links between datacenters (default: the LAN network's)
 *   seed 7                              default seed (npm start, tui)
 *   set electionTimeoutMsMin 150        protocol parameter (the harness lists them)
 *   network latency=1ms..10ms loss=1% dup=1% reorder=5%
 *   duration safety=20s liveness=10s    faults only during safety; then the cluster must recover
 *   nemesis swarm kinds=partition,crash every=1s    or: nemesis none
 *   at 2s partition n1 | n2 n3 n4 n5    timeline; also oneway A B, bridge B A.. | C.., ring, heal,
 *   at 8s heal                          crash N, restart N, pause N, resume N, jump N 500ms,
 *                                       drift N PPM, clog A B 300ms, network loss=5% ...,
 *                                       busy N..|all, idle N..|all (sim/engine/busy.ts), and
 *                                       protocol actions (the harness's `act`)
 *   expect liveness                     built in: liveness, pass; others go to the harness
 *   stranger links=open every=20ms      a node outside the cluster injects forged, replayed and
 *                                       garbage messages during the safety phase (sim/engine/stranger.ts);
 *                                       links=authenticated models gossip encryption + TLS: only
 *                                       replays of members' own messages get through; rogue=n6: n6
 *                                       is the stranger's too, a member with the gossip key and no
 *                                       certificate (its Raft and RPC die at the link)
 *
 * Errors name the file, the line and what is wrong; the parser never throws anything else.
 */
import type { NetworkKnobs } from './harness.js';
import { didYouMean } from './suggest.js';
import { parseBuggify, type BuggifySpec } from './engine/buggify.js';

export const faultKinds = [
  'partition',
  'oneway',
  'bridge',
  'ring',
  'crash',
  'pause',
  'clock',
  'loss',
  'dup',
  'clog',
  'reorder',
  'full',
  'disk-replaced',
  'busy',
  'wan-cut',
  'wan-oneway',
  'isolate',
  'datagram-cut',
  'crash-leader',
  'reset',
  'reset-oneway',
  'restart-fast',
] as const;
export type FaultKind = (typeof faultKinds)[number];

/**
 * The kinds `nemesis swarm` uses when no `kinds=` is given. The disk faults are opt-in: `full` and
 * `disk-replaced` came later, and adding them here would change every existing swarm scenario's draws
 * (and `disk-replaced` needs an operator's re-add before the node votes again).
 */
export const defaultFaultKinds: readonly FaultKind[] = faultKinds.filter(
  // busy (sim/engine/busy.ts), the WAN faults (datacenter scenarios only), isolate, datagram-cut,
  // crash-leader, reset, reset-oneway and restart-fast (sim/engine/nemesis.ts) are opt-in likewise: named
  // in `kinds=`.
  (k) =>
    k !== 'full' &&
    k !== 'disk-replaced' &&
    k !== 'busy' &&
    k !== 'wan-cut' &&
    k !== 'wan-oneway' &&
    k !== 'isolate' &&
    k !== 'datagram-cut' &&
    k !== 'crash-leader' &&
    k !== 'reset' &&
    k !== 'reset-oneway' &&
    k !== 'restart-fast',
);

/** A datacenter of a multi-DC scenario: its nodes (servers first) and how many are servers. */
export interface ScenarioDatacenter {
  readonly name: string;
  readonly nodes: readonly string[];
  readonly servers: number;
}

export interface TimelineEvent {
  readonly atMs: number;
  readonly action: string;
  readonly args: readonly string[];
  readonly line: number;
}

export interface Expectation {
  readonly name: string;
  readonly args: readonly string[];
  readonly line: number;
}

export const strangerKinds = ['forge', 'replay', 'garbage'] as const;
export type StrangerKind = (typeof strangerKinds)[number];

/**
 * The stranger fault: a process outside the cluster that sniffs the wire and injects messages.
 * `links` is the transport's security model: 'open' delivers whatever the stranger sends with any
 * sender id it claims (today's plain TCP/UDP: the receiver trusts the id in the frame);
 * 'authenticated' (gossip encryption, mutual TLS) drops at the link everything the stranger could not
 * have produced — forgeries and garbage — and lets only replays of members' own messages through.
 */
export interface StrangerSpec {
  readonly links: 'open' | 'authenticated';
  /** Mean gap between two injections (ms). */
  readonly everyMs: number;
  readonly kinds: readonly StrangerKind[];
  /** 'any' forges any number; 'out-of-range' forges only numbers no legitimate peer could send. */
  readonly numbers: 'any' | 'out-of-range';
  /**
   * `rogue=n6,n7`: scenario nodes the stranger also runs, with a leaked gossip key but no certificate
   * (links=authenticated only). Their gossip (SWIM) arrives like any member's; every other message to or
   * from them — Raft, agent RPC, over mutual TLS — dies at the link (the handshake fails both ways). What
   * they run is the real agent; the harness says what they may never become (a Raft member).
   */
  readonly rogues: readonly string[];
}

export interface Scenario {
  readonly file: string;
  readonly name: string;
  readonly story: string;
  readonly protocol: string;
  readonly nodes: readonly string[];
  /** `nodes dc1:3+2 dc2:3+1`: the datacenters, in order; empty for a one-DC scenario. */
  readonly datacenters: readonly ScenarioDatacenter[];
  /** The links between datacenters (`wan ...`); null: the same network as inside a DC. */
  readonly wan: NetworkKnobs | null;
  readonly seed: number;
  readonly params: Readonly<Record<string, string>>;
  readonly network: NetworkKnobs;
  readonly safetyMs: number;
  readonly livenessMs: number;
  readonly nemesis: { readonly mode: 'none' | 'swarm'; readonly kinds: readonly FaultKind[]; readonly everyMs: number };
  readonly timeline: readonly TimelineEvent[];
  readonly expectations: readonly Expectation[];
  /** The stranger fault, or null (off). */
  readonly stranger: StrangerSpec | null;
  /** BUGGIFY (sim/engine/buggify.ts), or null (off). */
  readonly buggify: BuggifySpec | null;
}

export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}: ${problem}`);
    this.name = 'ScenarioError';
  }
}

export const defaultNetwork: NetworkKnobs = {
  latencyMsMin: 1,
  latencyMsTailMean: 2,
  lossPercent: 0,
  duplicatePercent: 0,
  reorderPercent: 0,
  reorderMsMax: 20,
};

/** The directives a scenario line may start with. */
const directives = [
  'protocol',
  'nodes',
  'seed',
  'set',
  'network',
  'wan',
  'duration',
  'nemesis',
  'stranger',
  'buggify',
  'at',
  'expect',
];

/** Timeline actions the simulator itself carries out (the rest go to the harness's `act`). */
export const builtinActions: ReadonlySet<string> = new Set([
  'partition',
  'oneway',
  'bridge',
  'ring',
  'heal',
  'crash',
  'restart',
  'pause',
  'resume',
  'jump',
  'drift',
  'clog',
  'network',
  'full',
  'free',
  'replace-disk',
  'busy',
  'idle',
  'isolate-dc',
  'wan-oneway',
  'datagram-cut',
  'reset',
  'stream-cut',
]);

/**
 * Parses a duration: `250ms`, `2s`, `1.5s`, `3m`, `1h`, `500us`. The unit is required (only `0` may
 * go without): a bare `5` once silently meant 5 ms where its writer meant 5 s (issue 16 §4).
 */
export function parseDurationMs(text: string): number | null {
  const match = /^(-?\d+(?:\.\d+)?)(us|ms|s|m|h)?$/.exec(text.trim());
  if (!match) return null;
  const value = Number(match[1]);
  if (match[2] === undefined && value !== 0) return null;
  const unit = match[2] ?? 'ms';
  const factor = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!;
  return value * factor;
}

/** Why `text` is not a duration, when the reason is a missing unit; else ''. */
export function unitHint(text: string | undefined): string {
  return text !== undefined && /^-?\d+(\.\d+)?$/.test(text.trim())
    ? ` (a duration needs its unit: '${text}ms' or '${text}s')`
    : '';
}

/** Parses a byte count: `512`, `4KB`, `1MB` (binary units). */
export function parseBytes(text: string): number | null {
  const match = /^(\d+)(B|KB|MB)?$/.exec(text.trim());
  if (!match) return null;
  return Number(match[1]) * { B: 1, KB: 1024, MB: 1024 * 1024 }[match[2] ?? 'B']!;
}

/**
 * Parses a probability written `5%`, `0.05` or `1/20` into percent (0..100), the unit of every
 * simulator knob that is a chance (docs/scenario-grammar.md, "Units").
 */
export function parsePercent(text: string): number | null {
  let percent: number;
  if (text.endsWith('%')) percent = Number(text.slice(0, -1));
  else if (text.includes('/')) {
    const [a, b] = text.split('/').map(Number);
    percent = (a! / b!) * 100;
  } else percent = Number(text) * 100;
  return Number.isFinite(percent) && percent >= 0 && percent <= 100 ? percent : null;
}

export function parseScenario(text: string, file: string): Scenario {
  const lines = text.split(/\r?\n/);
  const fail = (line: number, problem: string): never => {
    throw new ScenarioError(file, line, problem);
  };
  const story: string[] = [];
  let storyOpen = true;
  let protocol: string | undefined;
  let nodes: string[] | undefined;
  let datacenters: ScenarioDatacenter[] = [];
  let wan: NetworkKnobs | null = null;
  let wanLine = 0;
  let seed = 1;
  const params: Record<string, string> = {};
  const network: NetworkKnobs = { ...defaultNetwork };
  let safetyMs = 10_000;
  let livenessMs = 10_000;
  let nemesis: Scenario['nemesis'] = { mode: 'none', kinds: [], everyMs: 1000 };
  const timeline: TimelineEvent[] = [];
  const expectations: Expectation[] = [];
  let stranger: StrangerSpec | null = null;
  let strangerLine = 0;
  let buggify: BuggifySpec | null = null;

  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const raw = lines[i]!;
    const trimmed = raw.trim();
    if (trimmed.startsWith('#')) {
      if (storyOpen) story.push(trimmed.replace(/^#\s?/, ''));
      continue;
    }
    storyOpen = storyOpen && trimmed === '' && story.length === 0;
    const content = raw.replace(/\s#.*$/, '').trim();
    if (content === '') continue;
    const [directive, ...args] = content.split(/\s+/);
    switch (directive) {
      case 'protocol':
        if (args.length !== 1) fail(n, 'protocol takes one name, e.g. `protocol raft`');
        protocol = args[0]!;
        break;
      case 'nodes':
        if (args.length === 1 && /^\d+$/.test(args[0]!)) {
          const count = Number(args[0]);
          if (count < 1 || count > 20_000) fail(n, `nodes: ${count} is out of range 1..20000`);
          nodes = Array.from({ length: count }, (_, k) => `n${k + 1}`);
        } else if (args.length > 0 && args.some((a) => a.includes(':'))) {
          datacenters = parseDatacenters(args, (problem) => fail(n, `nodes: ${problem}`));
          nodes = datacenters.flatMap((dc) => dc.nodes);
        } else if (args.length > 0) {
          if (new Set(args).size !== args.length) fail(n, 'nodes: a name is listed twice');
          for (const a of args) if (!/^[A-Za-z0-9_.-]+$/.test(a)) fail(n, `nodes: bad node name '${a}'`);
          nodes = args;
        } else fail(n, 'nodes takes a count or a list of names');
        break;
      case 'seed':
        if (args.length !== 1 || !/^\d+$/.test(args[0]!)) fail(n, 'seed takes one non-negative integer');
        seed = Number(args[0]);
        break;
      case 'set':
        if (args.length < 2) fail(n, 'set takes a parameter name and a value, e.g. `set electionTimeoutMsMin 150`');
        params[args[0]!] = args.slice(1).join(' ');
        break;
      case 'network':
        applyNetwork(network, args, (problem) => fail(n, `network: ${problem}`));
        break;
      case 'wan':
        wan = wan ?? { ...defaultNetwork };
        applyNetwork(wan, args, (problem) => fail(n, `wan: ${problem}`));
        wanLine = n;
        break;
      case 'duration':
        for (const arg of args) {
          const [key, value] = arg.split('=');
          const ms = value === undefined ? null : parseDurationMs(value);
          if (key !== 'safety' && key !== 'liveness')
            fail(n, `duration: unknown key '${key}' (safety, liveness)${didYouMean(key!, ['safety', 'liveness'])}`);
          if (ms === null || ms < 0) fail(n, `duration: '${arg}' is not key=DURATION${unitHint(value)}`);
          if (key === 'safety') safetyMs = ms!;
          else livenessMs = ms!;
        }
        break;
      case 'nemesis': {
        const mode = args[0];
        if (mode !== 'none' && mode !== 'swarm') fail(n, "nemesis: mode must be 'none' or 'swarm'");
        let kinds: FaultKind[] = [...defaultFaultKinds];
        let everyMs = 1000;
        for (const arg of args.slice(1)) {
          const [key, value = ''] = arg.split('=');
          if (key === 'kinds') {
            const list = value.split(',').filter(Boolean);
            for (const k of list)
              if (!(faultKinds as readonly string[]).includes(k))
                fail(n, `nemesis: unknown fault kind '${k}'${didYouMean(k, faultKinds)} (${faultKinds.join(', ')})`);
            kinds = list as FaultKind[];
          } else if (key === 'every') {
            const ms = parseDurationMs(value);
            if (ms === null || ms <= 0) fail(n, `nemesis: every=${value} is not a positive duration${unitHint(value)}`);
            everyMs = ms!;
          } else fail(n, `nemesis: unknown option '${key}'${didYouMean(key!, ['kinds', 'every'])} (kinds, every)`);
        }
        nemesis = { mode: mode as 'none' | 'swarm', kinds, everyMs };
        break;
      }
      case 'at': {
        const atMs = args[0] === undefined ? null : parseDurationMs(args[0]);
        if (atMs === null || atMs < 0)
          fail(n, `at takes a time and an action, e.g. \`at 2s crash n1\`${unitHint(args[0])}`);
        const action = args[1];
        if (action === undefined) fail(n, 'at: missing action');
        timeline.push({ atMs: atMs!, action: action!, args: args.slice(2), line: n });
        break;
      }
      case 'stranger':
        stranger = parseStranger(args, (problem) => fail(n, `stranger: ${problem}`));
        strangerLine = n;
        break;
      case 'buggify':
        buggify = parseBuggify(args, (problem) => fail(n, `buggify: ${problem}`));
        break;
      case 'expect':
        if (args.length === 0) fail(n, 'expect takes a name, e.g. `expect liveness`');
        expectations.push({ name: args[0]!, args: args.slice(1), line: n });
        break;
      default:
        fail(n, `unknown directive '${directive}'${didYouMean(directive!, directives)} (${directives.join(', ')})`);
    }
  }
  if (protocol === undefined) fail(1, 'missing `protocol NAME` line');
  if (nodes === undefined) fail(1, 'missing `nodes N` line');
  if (wan !== null && datacenters.length < 2)
    fail(wanLine, 'wan: the WAN links join datacenters: describe them with `nodes dc1:3+2 dc2:3+1`');
  const nodeSet = new Set(nodes);
  for (const rogue of stranger?.rogues ?? [])
    if (!nodeSet.has(rogue)) fail(strangerLine, `stranger: rogue=${rogue} is not a node of this scenario`);
  const dcNames = new Set(datacenters.map((dc) => dc.name));
  for (const event of timeline) {
    if (!builtinActions.has(event.action)) continue; // protocol actions are validated by the harness
    const problem = checkBuiltinAction(event, nodeSet, dcNames);
    if (problem) fail(event.line, problem);
  }
  timeline.sort((a, b) => a.atMs - b.atMs || a.line - b.line);
  const name = file.replace(/^.*\//, '').replace(/\.[^.]*$/, '');
  return {
    file,
    name,
    story: story.join('\n').trim(),
    protocol: protocol!,
    nodes: nodes!,
    datacenters,
    wan,
    seed,
    params,
    network,
    safetyMs,
    livenessMs,
    nemesis,
    timeline,
    expectations,
    stranger,
    buggify,
  };
}

/**
 * `dc1:3+2 dc2:3+1`: per datacenter its servers and clients. Nodes are numbered across the scenario
 * (dc1 holds n1..n5, dc2 n6..n9) so that every node name stays unique, as ids are in the simulator.
 */
function parseDatacenters(args: readonly string[], fail: (problem: string) => never): ScenarioDatacenter[] {
  const out: ScenarioDatacenter[] = [];
  let next = 1;
  for (const arg of args) {
    const match = /^([a-z0-9_-]+):(\d+)(?:\+(\d+))?$/i.exec(arg);
    if (!match) fail(`'${arg}' is not DC:SERVERS+CLIENTS (e.g. dc1:3+2)`);
    const [, name, serversText, clientsText] = match!;
    const servers = Number(serversText);
    const clients = Number(clientsText ?? 0);
    if (servers < 1) fail(`${name} needs at least one server`);
    if (out.some((dc) => dc.name === name)) fail(`datacenter ${name} is listed twice`);
    if (next + servers + clients > 1000) fail('more than 999 nodes across the datacenters');
    const nodes = Array.from({ length: servers + clients }, (_, k) => `n${next + k}`);
    next += servers + clients;
    out.push({ name: name!, nodes, servers });
  }
  return out;
}

function parseStranger(args: readonly string[], fail: (problem: string) => never): StrangerSpec {
  let links: StrangerSpec['links'] | undefined;
  let everyMs = 50;
  let kinds: StrangerKind[] = [...strangerKinds];
  let numbers: StrangerSpec['numbers'] = 'any';
  let rogues: string[] = [];
  for (const arg of args) {
    const [key, value = ''] = arg.split('=');
    if (key === 'links') {
      if (value !== 'open' && value !== 'authenticated') fail(`links=${value} must be open or authenticated`);
      links = value as StrangerSpec['links'];
    } else if (key === 'every') {
      const ms = parseDurationMs(value);
      if (ms === null || ms <= 0) fail(`every=${value} is not a positive duration`);
      everyMs = ms!;
    } else if (key === 'kinds') {
      const list = value.split(',').filter(Boolean);
      if (list.length === 0) fail('kinds= needs at least one of forge, replay, garbage');
      for (const k of list)
        if (!(strangerKinds as readonly string[]).includes(k)) fail(`unknown kind '${k}' (forge, replay, garbage)`);
      kinds = list as StrangerKind[];
    } else if (key === 'numbers') {
      if (value !== 'any' && value !== 'out-of-range') fail(`numbers=${value} must be any or out-of-range`);
      numbers = value as StrangerSpec['numbers'];
    } else if (key === 'rogue') {
      rogues = value.split(',').filter(Boolean);
      if (rogues.length === 0) fail('rogue= needs node names, e.g. rogue=n6');
    } else fail(`unknown option '${key}' (links, every, kinds, numbers, rogue)`);
  }
  if (links === undefined) fail('links=open or links=authenticated is required (say which transport is modelled)');
  if (rogues.length > 0 && links !== 'authenticated')
    fail('rogue= needs links=authenticated (on open links every member is as trusted as a rogue)');
  return { links: links!, everyMs, kinds, numbers, rogues };
}

function applyNetwork(network: NetworkKnobs, args: readonly string[], fail: (problem: string) => never): void {
  for (const arg of args) {
    const [key, value] = arg.split('=');
    if (value === undefined) fail(`'${arg}' is not key=value`);
    switch (key) {
      case 'latency': {
        const [lo, hi] = value!.split('..');
        const min = parseDurationMs(lo!);
        const max = hi === undefined ? min : parseDurationMs(hi);
        if (min === null || max === null || min < 0 || max < min)
          fail(
            `latency=${value} is not MIN..MAX (e.g. 1ms..10ms)${unitHint(hi === undefined || min === null ? lo : hi)}`,
          );
        network.latencyMsMin = min!;
        // The tail is exponential; its mean is a third of the spread, so ~95% of draws fall inside it.
        network.latencyMsTailMean = (max! - min!) / 3;
        break;
      }
      case 'loss':
      case 'dup':
      case 'reorder': {
        const percent = parsePercent(value!);
        if (percent === null) fail(`${key}=${value} is not a chance (5%, 0.05 or 1/20)`);
        if (key === 'loss') network.lossPercent = percent!;
        else if (key === 'dup') network.duplicatePercent = percent!;
        else network.reorderPercent = percent!;
        break;
      }
      default:
        fail(`unknown key '${key}' (latency, loss, dup, reorder)`);
    }
  }
}

/** Validates a built-in timeline action's arguments; null when fine. */
export function checkBuiltinAction(
  event: TimelineEvent,
  nodes: ReadonlySet<string>,
  datacenters: ReadonlySet<string> = new Set(),
): string | null {
  const unknownNode = event.args.find((a) => a !== '|' && !nodes.has(a));
  const { action, args } = event;
  const unknownDc = args.find((a) => !datacenters.has(a));
  switch (action) {
    case 'isolate-dc':
      if (datacenters.size < 2) return 'isolate-dc needs datacenters (`nodes dc1:3+2 dc2:3+1`)';
      if (args.length !== 1) return 'isolate-dc takes one datacenter';
      return unknownDc ? `isolate-dc: unknown datacenter '${unknownDc}'` : null;
    case 'wan-oneway':
      if (datacenters.size < 2) return 'wan-oneway needs datacenters (`nodes dc1:3+2 dc2:3+1`)';
      if (args.length !== 2 || args[0] === args[1]) return 'wan-oneway takes FROM_DC TO_DC';
      return unknownDc ? `wan-oneway: unknown datacenter '${unknownDc}'` : null;
    case 'heal':
    case 'ring':
      return args.length === 0 ? null : `${action} takes no arguments`;
    case 'partition':
    case 'bridge':
      if (unknownNode) return `${action}: unknown node '${unknownNode}'`;
      return args.includes('|') ? null : `${action} needs groups separated by '|', e.g. \`${action} n1 n2 | n3 n4\``;
    case 'oneway':
      if (args.length !== 2) return 'oneway takes FROM TO';
      return unknownNode ? `oneway: unknown node '${unknownNode}'` : null;
    case 'crash':
    case 'restart':
    case 'pause':
    case 'resume':
    case 'datagram-cut':
    case 'stream-cut':
      if (args.length !== 1) return `${action} takes one node`;
      return unknownNode ? `${action}: unknown node '${unknownNode}'` : null;
    case 'reset': {
      const nodesOf = args[args.length - 1] === 'oneway' ? args.slice(0, -1) : args;
      if (nodesOf.length < 1 || nodesOf.length > 2 || nodesOf[0] === nodesOf[1])
        return 'reset takes NODE [PEER] [oneway] (every peer when none; oneway: only the connections NODE dialled)';
      const unknown = nodesOf.find((id) => !nodes.has(id));
      return unknown ? `reset: unknown node '${unknown}'` : null;
    }
    case 'full':
      if (args.length !== 2 || !nodes.has(args[0]!) || parseBytes(args[1]!) === null)
        return 'full takes NODE BYTES (e.g. full n1 4KB: the disk takes 4 KB more, then writes fail)';
      return null;
    case 'free':
      if (args.length !== 1) return 'free takes one node';
      return unknownNode ? `free: unknown node '${unknownNode}'` : null;
    case 'replace-disk':
      if (
        args.length < 1 ||
        args.length > 2 ||
        !nodes.has(args[0]!) ||
        (args[1] !== undefined && args[1] !== 'keep-identity')
      )
        return 'replace-disk takes NODE [keep-identity]';
      return null;
    case 'busy':
    case 'idle':
      if (args.length === 0) return `${action} takes nodes or 'all'`;
      if (args.length === 1 && args[0] === 'all') return null;
      return unknownNode ? `${action}: unknown node '${unknownNode}'` : null;
    case 'jump':
      if (args.length !== 2 || !nodes.has(args[0]!) || parseDurationMs(args[1]!) === null)
        return 'jump takes NODE DURATION (e.g. jump n1 -500ms)';
      return null;
    case 'drift':
      if (args.length !== 2 || !nodes.has(args[0]!) || !Number.isFinite(Number(args[1])))
        return 'drift takes NODE PPM (e.g. drift n1 200)';
      return null;
    case 'clog':
      if (args.length !== 3 || !nodes.has(args[0]!) || !nodes.has(args[1]!) || parseDurationMs(args[2]!) === null)
        return 'clog takes FROM TO DURATION';
      return null;
    case 'network': {
      try {
        applyNetwork({ ...defaultNetwork }, args, (problem) => {
          throw new Error(problem);
        });
        return null;
      } catch (error) {
        return `network: ${(error as Error).message}`;
      }
    }
    default:
      return `unknown action '${action}'${didYouMean(action, builtinActions)}`;
  }
}

/** Network knobs changed by a `network` timeline action. */
export function networkFromArgs(base: NetworkKnobs, args: readonly string[]): NetworkKnobs {
  const next = { ...base };
  applyNetwork(next, args, (problem) => {
    throw new Error(problem);
  });
  return next;
}
