/**
 * `conclave sim serve SCENARIO [--seed N] [--port P]` (issue 18): a simulated run in the browser,
 * with the TUI's controls — play/pause, speed, one event, seek any moment (time travel), partition,
 * crash, restart, heal a node, save a replay — and the same views as the agent's UI: the cluster's
 * insides (every node's Raft role, term, indexes; the member table as one node sees it; leader
 * changes, member events and faults), plus the HTML report's pictures of the run so far.
 *
 * One simulation handle serves both front ends: this is the TUI's `TuiSession` (cli/tui/session.ts),
 * so a typed fault re-runs from the seed exactly as in the TUI, seeking back shows a kept snapshot,
 * and a saved replay reproduces what was watched. The pictures are the report's own SVG functions
 * (sim/tools/report/svg.ts) over the report's run record (collect.ts's RecordCollector, recorded in
 * slices only as far as the pictures ask) cut at the moment on screen: one rendering code path for the
 * report and for this page.
 *
 * The page is the agent's UI bundle (dist/ui, net/http/ui.ts) at its `#/sim` view; the JSON API is
 * under /sim/. Requests that change the run are POSTs carrying `X-Conclave-Sim: 1`, a header another
 * site's page cannot send without a CORS preflight this server never grants. It listens on 127.0.0.1
 * unless told otherwise.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Insides, InsidesEvent } from '../../agent/insides.js';
import { answerUi, defaultUiDir, loadUiAssets, uiSecurityHeaders, type UiAssets } from '../../../net/http/ui.js';
import { ScenarioError } from '../../../sim/scenario.js';
import { didYouMean } from '../../../sim/suggest.js';
import { loadScenarioText } from '../../../sim/run.js';
import { RecordCollector } from '../../../sim/tools/report/collect.js';
import type { RunRecord } from '../../../sim/tools/report/record.js';
import { lamportSvg, rolesSvg, timelineSvg } from '../../../sim/tools/report/svg.js';
import { type ClusterSnapshot, speeds } from '../../tui/model.js';
import type { SimState } from './serve-api.js';
import { TuiSession, type FaultKey } from '../../tui/session.js';

const usage = `Usage: conclave sim serve SCENARIO [--seed N] [--port P] [--host H] [--speed X] [--paused] [--replay-dir DIR] [--no-codec]
  Serves a simulated run in the browser at http://H:P/ (default 127.0.0.1:8510), with play/pause,
  speed, step, seek (time travel), faults and the cluster's insides. Ctrl-C stops.
`;

/** Wall time between two frames while playing, and the simulation time spent per frame at most. */
const frameMs = 50;
const frameBudgetMs = 35;
/** Wall time a control request may spend (a seek forward goes on in later frames). */
const controlBudgetMs = 250;
/** Checkpoints for fast backward-then-forward seeks are built in idle time, this often and this long. */
const idleEveryMs = 200;
const idleBudgetMs = 20;
/** Wall time the pictures' recording may take per frame, while a picture waits for it. */
const recordSliceMs = 30;
/** A picture waits this long at most for the recording to reach its moment, then shows how far it got. */
const pictureWaitMsMax = 20_000;

export async function runSimServe(args: string[]): Promise<number> {
  const opts = parseArgs(args);
  if (typeof opts === 'string') {
    process.stderr.write(`conclave sim serve: ${opts}\n\n${usage}`);
    return 2;
  }
  let text: string;
  try {
    text = readFileSync(opts.file, 'utf8');
  } catch (error) {
    process.stderr.write(`conclave sim serve: cannot read ${opts.file}: ${(error as Error).message}\n`);
    return 2;
  }
  let session: TuiSession;
  let assets: UiAssets;
  try {
    session = await TuiSession.open(opts.file, text, opts.seed, { codec: opts.codec });
    assets = loadUiAssets(defaultUiDir());
  } catch (error) {
    if (error instanceof ScenarioError || error instanceof Error) {
      process.stderr.write(`conclave sim serve: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const served = new SimServer(session, assets, opts);
  const address = await served.listen();
  process.stdout.write(
    `conclave sim serve: ${session.current().scenario} seed ${session.seed} at http://${address}/ui/#/sim (Ctrl-C stops)\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await served.close();
  return 0;
}

interface ServeOptions {
  readonly file: string;
  readonly seed: number | null;
  readonly port: number;
  readonly host: string;
  readonly speed: number;
  readonly paused: boolean;
  readonly replayDir: string;
  readonly codec: boolean;
}

function parseArgs(args: readonly string[]): ServeOptions | string {
  const out = {
    seed: null as number | null,
    port: 8510,
    host: '127.0.0.1',
    speed: 10,
    paused: false,
    replayDir: '.conclave/replays',
    codec: true,
  };
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string => (a.includes('=') ? a.slice(a.indexOf('=') + 1) : (args[++i] ?? ''));
    const name = a.replace(/^-+/, '').split('=')[0]!;
    if (!a.startsWith('-')) files.push(a);
    else if (name === 'seed' || name === 'port') {
      const v = value();
      if (!/^\d+$/.test(v)) return `--${name} needs a non-negative integer, got '${v}'`;
      if (name === 'port' && Number(v) > 65535) return `--port ${v} is not a port`;
      out[name] = Number(v);
    } else if (name === 'host') out.host = value();
    else if (name === 'replay-dir') out.replayDir = value();
    else if (name === 'speed') {
      const v = Number(value());
      if (!speeds.includes(v)) return `--speed must be one of ${speeds.filter(Number.isFinite).join(', ')}`;
      out.speed = v;
    } else if (name === 'paused') out.paused = true;
    else if (name === 'no-codec') out.codec = false;
    else
      return `unknown flag '${a}'${didYouMean(name, ['seed', 'port', 'host', 'speed', 'paused', 'replay-dir', 'no-codec'], '--')}`;
  }
  if (files.length !== 1) return files.length === 0 ? 'missing SCENARIO' : 'one SCENARIO at a time';
  return { ...out, file: files[0]! };
}

class SimServer {
  private paused: boolean;
  private speed: number;
  private message: string | null = null;
  private server: http.Server | null = null;
  private timers: NodeJS.Timeout[] = [];
  private lastFrameMs = performance.now();
  private collector: { key: string; value: RecordCollector } | null = null;
  /** Pictures waiting for the recording to reach their moment (`atUs`), or for `untilMs` (performance.now()). */
  private waiting: { atUs: number; untilMs: number; resolve: () => void }[] = [];
  private broken: string | null = null;

  constructor(
    private readonly session: TuiSession,
    private readonly assets: UiAssets,
    private readonly opts: ServeOptions,
  ) {
    this.paused = opts.paused;
    this.speed = opts.speed;
  }

  async listen(): Promise<string> {
    const server = http.createServer((req, res) => this.serve(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.timers.push(setInterval(() => this.guarded(() => this.frame()), frameMs));
    this.timers.push(setInterval(() => this.guarded(() => this.record()), frameMs));
    this.timers.push(setInterval(() => this.guarded(() => this.session.idleWork(idleBudgetMs)), idleEveryMs));
    const a = server.address() as AddressInfo;
    return `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** A failure inside the simulation stops the clock but keeps the page (and the error) up. */
  private guarded(fn: () => unknown): void {
    if (this.broken !== null) return;
    try {
      fn();
    } catch (error) {
      this.broken = (error as Error).message ?? String(error);
      this.paused = true;
      this.message = `the simulation failed: ${this.broken}`;
    }
  }

  /** As the TUI's frame: finish a pending re-run first, then advance by speed × wall time. */
  private frame(): void {
    const now = performance.now();
    const elapsed = now - this.lastFrameMs;
    this.lastFrameMs = now;
    const deadline = now + frameBudgetMs;
    const s = this.session;
    if (s.catchingUp && !s.catchUp(deadline)) return;
    if (this.paused || s.done) return;
    const wantUs = this.speed === Infinity ? Infinity : Math.round(elapsed * this.speed * 1000);
    if (wantUs > 0) s.advanceByUs(wantUs, deadline);
    if (s.done) {
      this.paused = true;
      this.message = `run finished: ${s.current().verdict.status}`;
    }
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const send = (status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...uiSecurityHeaders, ...extra });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    req.resume();
    if (url.pathname === '/') return send(302, 'text/plain; charset=utf-8', '', { Location: '/ui/#/sim' });
    if (!url.pathname.startsWith('/sim/')) {
      const answer = answerUi(this.assets, req.method ?? 'GET', req.url ?? '/', req.headers);
      if (!answer) return send(404, 'text/plain; charset=utf-8', '404 page not found\n');
      res.writeHead(answer.status, answer.headers);
      res.end(req.method === 'HEAD' ? undefined : answer.body);
      return;
    }
    const json = (value: unknown, status = 200) => send(status, 'application/json', JSON.stringify(value));
    const route = url.pathname.slice('/sim/'.length);
    if (req.method === 'GET' && route === 'state') return json(this.state());
    if (req.method === 'GET' && route.startsWith('picture/')) {
      void this.picture(route.slice('picture/'.length), Number(url.searchParams.get('at') ?? this.session.nowMs)).then(
        (svg) =>
          svg === null ? send(404, 'text/plain; charset=utf-8', 'no such picture\n') : send(200, 'image/svg+xml', svg),
        (error: Error) => send(500, 'text/plain; charset=utf-8', `${error.message}\n`),
      );
      return;
    }
    if (req.method !== 'POST') return send(405, 'text/plain; charset=utf-8', 'method not allowed\n', { Allow: 'POST' });
    if (req.headers['x-conclave-sim'] !== '1')
      return send(403, 'text/plain; charset=utf-8', 'a change needs the X-Conclave-Sim: 1 header\n');
    const problem = this.control(route, url.searchParams);
    if (problem !== null) return send(400, 'text/plain; charset=utf-8', `${problem}\n`);
    json(this.state());
  }

  /** Carries out one control; a string is the reason it was refused. */
  private control(route: string, q: URLSearchParams): string | null {
    const s = this.session;
    const deadline = performance.now() + controlBudgetMs;
    let outcome: string | null = null;
    this.guarded(() => {
      switch (route) {
        case 'play':
          if (s.done) outcome = 'the run is over: seek back to watch it again';
          else this.paused = false;
          this.message = null;
          return;
        case 'pause':
          this.paused = true;
          return;
        case 'step':
          this.paused = true;
          s.stepOne(deadline);
          return;
        case 'speed': {
          const v = Number(q.get('value'));
          const speed = q.get('value') === 'max' ? Infinity : v;
          if (!speeds.includes(speed)) outcome = `speed must be one of ${speeds.join(', ')}`;
          else this.speed = speed;
          return;
        }
        case 'seek': {
          const atMs = Number(q.get('atMs'));
          if (!Number.isFinite(atMs) || atMs < 0) {
            outcome = 'seek needs atMs, a time in simulated ms';
            return;
          }
          this.paused = true;
          s.seekToUs(Math.round(atMs * 1000), deadline);
          this.message = s.isViewingPast ? 'viewing the past: play or step to go on from here' : null;
          return;
        }
        case 'fault': {
          const kind = q.get('kind') as FaultKey | null;
          const node = q.get('node');
          if (!kind || !['partition', 'crash', 'restart', 'heal'].includes(kind)) {
            outcome = 'fault needs kind=partition|crash|restart|heal';
            return;
          }
          if (kind !== 'heal' && (node === null || !s.nodeIds.includes(node))) {
            outcome = `fault ${kind} needs node=one of ${s.nodeIds.join(', ')}`;
            return;
          }
          this.message = `fault: ${s.inject(kind, kind === 'heal' ? null : node, deadline)} (re-ran from seed ${s.seed})`;
          return;
        }
        case 'save':
          this.message = `saved ${s.save(this.opts.replayDir)}`;
          return;
        default:
          outcome = `unknown control '${route}'`;
      }
    });
    return outcome;
  }

  state(): SimState {
    const s = this.session;
    const snap = s.current();
    const catching = s.catchingUp;
    return {
      scenario: snap.scenario,
      seed: snap.seed,
      nowMs: snap.nowMs,
      endMs: snap.endMs,
      phase: snap.phase,
      events: snap.events,
      paused: this.paused,
      speed: this.speed === Infinity ? -1 : this.speed,
      speeds: speeds.map((v) => (v === Infinity ? -1 : v)),
      done: s.done,
      viewingPast: s.isViewingPast,
      catchingUp: catching ? catching.progress : null,
      verdict: snap.verdict,
      nodes: snap.nodes.map((n) => ({ name: n.name, up: n.up, paused: n.paused })),
      partition: snap.partition,
      interactive: s.interactive.map((f) => f.line),
      message: this.message,
      insides: insidesOfSnapshot(snap),
      recordedMs: this.collector ? this.collector.value.nowUs / 1000 : null,
    };
  }

  /**
   * The recording the pictures are drawn from: the run as it goes on from here (the typed faults
   * included), recorded by its own simulation in slices of wall time (`recordSliceMs` every
   * `frameMs`), only as far as a picture asked for: the first pictures need the first simulated
   * seconds, not the whole run (that took ~9 s for the default scenario). A new set of typed faults
   * starts a new recording.
   */
  private async recording(): Promise<RecordCollector> {
    const s = this.session;
    const key = s.interactive.map((f) => f.line).join('\n');
    if (this.collector?.key !== key) {
      const loaded = await loadScenarioText(s.scenarioText, s.scenarioFile);
      if (this.collector?.key !== key) {
        for (const w of this.waiting) w.resolve();
        this.waiting = [];
        this.collector = { key, value: new RecordCollector(loaded, s.seed, { codec: s.codec }) };
      }
    }
    return this.collector!.value;
  }

  /** Records on towards the latest moment a picture waits for (one slice); wakes the pictures it reached. */
  private record(): void {
    const c = this.collector?.value;
    if (!c || this.waiting.length === 0) return;
    const targetUs = Math.max(...this.waiting.map((w) => w.atUs));
    c.advanceToUs(targetUs, performance.now() + recordSliceMs);
    const reached = this.waiting.filter((w) => c.finished || c.nowUs >= w.atUs || performance.now() >= w.untilMs);
    this.waiting = this.waiting.filter((w) => !reached.includes(w));
    for (const w of reached) w.resolve();
  }

  private async picture(name: string, atMs: number): Promise<string | null> {
    const draw = { 'timeline.svg': timelineSvg, 'lamport.svg': lamportSvg, 'roles.svg': rolesSvg }[name];
    if (!draw) return null;
    const c = await this.recording();
    const atUs = Math.round(Math.max(0, atMs) * 1000);
    if (!c.finished && c.nowUs < atUs)
      await new Promise<void>((resolve) =>
        this.waiting.push({ atUs, resolve, untilMs: performance.now() + pictureWaitMsMax }),
      );
    // Drawn at the moment asked for, or as far as the recording got within pictureWaitMsMax.
    return draw(recordUntil(c.record(), Math.min(Math.max(0, atMs), c.nowUs / 1000)));
  }
}

/**
 * The run record as it stood at `atMs`: what had started by then, cut there (an operation still open is
 * drawn as not completed, a fault still active ends there), so the report's pictures show the moment
 * on screen — the Lamport diagram draws the messages just before it.
 */
export function recordUntil(record: RunRecord, atMs: number): RunRecord {
  const at = Math.min(atMs, record.simulatedMs);
  const violations = record.violations.filter((v) => v.atMs <= at);
  return {
    ...record,
    simulatedMs: Math.max(at, 1),
    result: violations.length > 0 ? 'fail' : 'pass',
    violations,
    ops: record.ops
      .filter((o) => o.invokeMs <= at)
      .map((o) => {
        if (o.completeMs === null || o.completeMs <= at) return o;
        const { output: _output, ...open } = o;
        return { ...open, completeMs: null, outcome: 'unknown' as const };
      }),
    faults: record.faults.filter((f) => f.startMs <= at).map((f) => ({ ...f, endMs: Math.min(f.endMs, at) })),
    messages: record.messages
      .filter((m) => m.sendMs <= at)
      .map((m) => (m.deliverMs !== null && m.deliverMs > at ? { ...m, deliverMs: at } : m)),
    roles: record.roles.filter((r) => r.atMs <= at),
    log: record.log.filter((l) => l.atMs <= at),
  };
}

/**
 * The insides of a simulated cluster at one moment, in the agent's shape: every node's own Raft state
 * (the simulator knows them all exactly), the member table as the first live node sees it, and the
 * recent election, membership, fault and verdict lines.
 */
export function insidesOfSnapshot(snap: ClusterSnapshot): Insides {
  const observer = snap.nodes.find((n) => n.up && !n.paused && Object.keys(n.peers).length > 0) ?? snap.nodes[0];
  const leaders = snap.nodes.filter((n) => n.up && n.role === 'leader');
  const leader = leaders.length === 0 ? null : leaders.reduce((a, b) => ((b.term ?? 0) > (a.term ?? 0) ? b : a));
  const events: InsidesEvent[] = [];
  for (const line of snap.log) {
    const kind =
      line.kind === 'election'
        ? 'leader'
        : line.kind === 'membership'
          ? 'member'
          : line.kind === 'fault'
            ? 'fault'
            : line.kind === 'verdict'
              ? 'verdict'
              : null;
    if (kind) events.push({ atMs: line.atMs, kind, text: line.text });
  }
  return {
    node: observer?.name ?? '',
    server: true,
    clock: 'sim',
    nowMs: snap.nowMs,
    leader: leader?.name ?? null,
    term: leader?.term ?? null,
    servers: snap.nodes.map((n) => ({
      id: n.name,
      name: n.name,
      self: true,
      voter: true,
      role: !n.up ? 'down' : n.paused ? `paused (${n.role ?? '–'})` : n.role,
      term: n.term,
      commitIndex: n.commitIndex,
      appliedIndex: n.appliedIndex,
      logIndex: null,
      lastContactMs: null,
      source: 'self',
    })),
    // The observer's member table with incarnations when the snapshot has it (small clusters).
    members: observer?.members
      ? observer.members.map((m) => ({ id: m.id, name: m.id, status: m.status, incarnation: m.incarnation, tags: {} }))
      : observer
        ? Object.entries({ [observer.name]: 'alive', ...observer.peers }).map(([name, status]) => ({
            id: name,
            name,
            status,
            incarnation: null,
            tags: {},
          }))
        : [],
    // Every node's own coordinate (the simulator sees them all), for the map; absent without SWIM.
    ...(snap.nodes.some((n) => n.coordinate)
      ? {
          coordinates: snap.nodes.flatMap((n) => (n.coordinate && n.up ? [{ node: n.name, coord: n.coordinate }] : [])),
        }
      : {}),
    events,
  };
}
