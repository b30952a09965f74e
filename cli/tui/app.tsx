/**
 * The TUI's container: holds the session (the simulation handle), the UI state (paused, speed,
 * selected node, message), reads keys and advances the simulation on a wall-clock timer. Everything
 * it draws goes through the presentational Dashboard.
 *
 * The event log is a live box, not ink's <Static>: time travel rewinds it, and <Static> output can
 * never be taken back.
 */
import React, { useEffect, useRef, useState } from 'react';
import { useApp, useInput, useStdout } from 'ink';
import { Dashboard, lowerPane, scrollEvents } from './components.js';
import {
  type ClusterSnapshot,
  type HuntKind,
  type UiState,
  endsHunt,
  formatSimTime,
  huntLabel,
  nextSpeed,
} from './model.js';
import type { FaultKey, TuiSession } from './session.js';

/** Wall time between two frames while running. */
export const frameMs = 50;
/** Simulated time one `[` or `]` moves. */
export const seekStepMs = 1000;
/** Wall time spent simulating per frame, at most (flat out spends all of it). */
export const frameBudgetMs = 35;
/** Wall time a key (`.`, `[`, `]`) may spend simulating before the screen answers; the rest waits. */
export const keyBudgetMs = 1000;
/** Clusters larger than this are drawn every `bigClusterFrameMs` only. */
export const bigClusterNodes = 50;
export const bigClusterFrameMs = 500;
/** Checkpoint building: at most `idleBudgetMs` of wall time every `idleEveryMs`. */
export const idleBudgetMs = 15;
export const idleEveryMs = 100;
/**
 * The default pace: real time. Elections (150–300 ms) and gossip rounds (1 s) are then slow enough to
 * watch, and a 60 s scenario lasts a minute; + speeds it up, f/l/x jump to the next fault, leader
 * change or violation.
 */
export const defaultSpeed = 1;
const usPerMs = 1000;

export interface AppProps {
  readonly session: TuiSession;
  /** Start paused (tests, and `--paused`). */
  readonly startPaused?: boolean;
  /** Initial speed (simulated ms per wall ms). */
  readonly speed?: number;
  /** Where `s` writes replay files. */
  readonly replayDir: string;
  /** A wall clock; tests pass a fake one. */
  readonly nowWallMs?: () => number;
}

export function App(props: AppProps): React.ReactElement {
  const { session } = props;
  const { exit } = useApp();
  const wall = props.nowWallMs ?? (() => performance.now());
  const [ui, setUi] = useState<UiState>({
    paused: props.startPaused ?? false,
    speed: props.speed ?? defaultSpeed,
    selected: 0,
    message: null,
  });
  const [snapshot, setSnapshot] = useState<ClusterSnapshot>(() => session.current());
  const { rows, columns } = useTerminalSize();
  /** The frame's height as last drawn, for the scrolling keys (a key handler sees no fresh props). */
  const rowsNow = useRef(rows);
  rowsNow.current = rows;
  const columnsNow = useRef(columns);
  columnsNow.current = columns;
  /**
   * The hunt under way (`f`, `l`, `x`), as a ref: the frame timer must see a hunt end at once, not at
   * the next render (a frame in between would hunt on past the event and overwrite its message).
   */
  const hunting = useRef<HuntKind | null>(null);
  /** The run was seen failing: it pauses once, at the first violation, and says so. */
  const sawViolation = useRef(false);
  // The selected node, also as a ref: a key typed right after ↓ must see the new selection even
  // before React has re-rendered with it. The frame timer reads pause and speed through a ref too.
  const selected = useRef(0);
  const uiNow = useRef(ui);
  uiNow.current = ui;
  /** What a typed fault said, kept to say it again once its re-run has caught up. */
  const faultMessage = useRef<string | null>(null);
  const refresh = (): void => setSnapshot(session.current());
  /**
   * Set when the simulation threw (a failed assertion, a bug in a machine): the screen keeps the
   * last good frame and the error, nothing advances any more, and q or Ctrl-C still quit.
   */
  const broken = useRef<string | null>(null);
  const guarded = (work: () => void): void => {
    if (broken.current !== null) return;
    try {
      work();
    } catch (error) {
      broken.current = (error as Error).message ?? String(error);
      setUi((u) => ({ ...u, paused: true, message: `the simulation failed: ${broken.current} (q quits)` }));
    }
  };

  // One frame timer, always on: it moves a re-run that is catching up (even while paused), else
  // advances the simulation as the speed asks. Every call into the session has a wall-clock
  // deadline, so a frame never holds the keyboard (or Ctrl-C, or SIGTERM) for long.
  useEffect(() => {
    let last = wall();
    let lastDrawn = -Infinity;
    const timer = setInterval(() => guarded(frame), frameMs);
    function frame(): void {
      const now = wall();
      const elapsed = now - last;
      last = now;
      const deadline = performance.now() + frameBudgetMs;
      const catching = session.catchingUp;
      if (catching !== null) {
        if (session.catchUp(deadline)) {
          say(`${faultMessage.current ?? 'continued'} (re-ran from seed ${session.seed})`);
          faultMessage.current = null;
        } else say(`re-running from seed ${session.seed}: ${Math.floor(catching.progress * 100)}%`);
        refresh();
        return;
      }
      const { paused, speed } = uiNow.current;
      if (hunting.current !== null) {
        hunt(hunting.current, deadline);
        return;
      }
      if (paused || session.done) return;
      // Simulate what the speed asks for, in whole microseconds, but never past the frame's deadline:
      // a simulation slower than the chosen speed then runs behind, instead of each frame taking
      // longer than the last (and the keys going unread).
      const wantUs = speed === Infinity ? Infinity : Math.round(elapsed * speed * usPerMs);
      if (wantUs > 0) session.advanceByUs(wantUs, deadline);
      // A snapshot of a big cluster costs (every node's view of every member): draw it less often.
      if (session.done || wall() - lastDrawn >= (session.nodeIds.length > bigClusterNodes ? bigClusterFrameMs : 0)) {
        lastDrawn = wall();
        refresh();
      }
      if (pauseAtFirstViolation()) return;
      if (session.done)
        setUi((u) => ({ ...u, paused: true, message: `run finished: ${session.current().verdict.status}` }));
    }
    return () => clearInterval(timer);
  }, []);

  // Idle time parks checkpoints (whole simulations at regular times), so that continuing from the
  // past re-runs at most a couple of simulated seconds.
  useEffect(() => {
    const timer = setInterval(() => guarded(() => session.idleWork(idleBudgetMs)), idleEveryMs);
    return () => clearInterval(timer);
  }, []);

  /** Runs flat out towards the next `kind` (one frame's worth); pauses there, or at the end. */
  function hunt(kind: HuntKind, deadline: number): void {
    const found = session.hunt((line) => endsHunt(kind, line), deadline);
    refresh();
    if (found === null) {
      say(`running to ${huntLabel[kind]}… (space stops)`);
      return;
    }
    if (kind !== 'violation') pauseAtFirstViolation();
    const where =
      found === 'end'
        ? `the run ended before ${huntLabel[kind]}`
        : `stopped at ${huntLabel[kind]}: ${formatSimTime(found.atMs)} ${found.node && !found.text.startsWith(`${found.node} `) ? `${found.node}: ` : ''}${found.text}`;
    hunting.current = null;
    setUi((u) => ({ ...u, until: null, paused: true, message: where }));
    if (found !== 'end' && kind === 'violation') sawViolation.current = true;
  }

  /** The first time the run is seen failing, pause there and say what failed. True when it paused. */
  function pauseAtFirstViolation(): boolean {
    if (sawViolation.current) return false;
    const verdict = session.current().verdict;
    if (verdict.status !== 'fail') return false;
    sawViolation.current = true;
    hunting.current = null;
    setUi((u) => ({
      ...u,
      paused: true,
      until: null,
      message: `paused at the first violation (v shows it in full): ${verdict.violations[0] ?? ''}`,
    }));
    return true;
  }

  function say(message: string | null): void {
    setUi((u) => ({ ...u, message }));
  }
  const fault = (key: FaultKey): void => {
    const node = session.nodeIds[selected.current] ?? null;
    try {
      faultMessage.current = `fault: ${session.inject(key, node)}`;
      say(
        session.catchingUp
          ? `${faultMessage.current} (re-running from seed ${session.seed}…)`
          : `${faultMessage.current} (re-ran from seed ${session.seed})`,
      );
    } catch (error) {
      say(`fault refused: ${(error as Error).message}`);
    }
    refresh();
  };

  useInput((chunk, key) => {
    // A chunk can hold several keys (typed fast, or pasted): handle each in order.
    const inputs = chunk.length > 1 && !key.ctrl && !key.meta ? [...chunk] : [chunk];
    for (const input of inputs) {
      let quit = false;
      if (input === 'q' || (key.ctrl && input === 'c')) quit = onKey(input, key);
      else guarded(() => void onKey(input, key));
      if (quit) return;
    }
  });

  /** Handles one key; true to stop reading (quit). */
  function onKey(input: string, key: Parameters<Parameters<typeof useInput>[0]>[1]): boolean {
    if (input === 'q' || (key.ctrl && input === 'c')) {
      exit();
      return true;
    }
    if (input === '?' || (key.escape && uiNow.current.help)) setUi((u) => ({ ...u, help: !u.help }));
    else if (input === 'd') setUi((u) => ({ ...u, detail: !u.detail, violations: false, scroll: 0 }));
    else if (input === 'v') setUi((u) => ({ ...u, violations: !u.violations, detail: false, scroll: 0 }));
    else if (key.pageDown || key.pageUp || input === 'J' || input === 'K' || key.home || key.end) {
      // Scrolls the detail or violations pane: a page less one line (context), a line, or to an end.
      setUi((u) => {
        if (!u.detail && !u.violations) {
          // The events pane: back through the kept lines, End (or scrolling to the newest) follows again.
          const s = session.current();
          const { shown } = lowerPane(s, u, rowsNow.current, columnsNow.current);
          if (rowsNow.current === undefined) return u;
          const how = key.pageUp
            ? 'pageUp'
            : key.pageDown
              ? 'pageDown'
              : key.home
                ? 'home'
                : key.end
                  ? 'end'
                  : input === 'K'
                    ? 'lineUp'
                    : 'lineDown';
          return { ...u, eventsEndSeq: scrollEvents(s.log, u.eventsEndSeq, shown, how) };
        }
        const pane = lowerPane(session.current(), u, rowsNow.current, columnsNow.current);
        const page = Math.max(1, pane.shown - 1);
        const by = key.pageDown ? page : key.pageUp ? -page : input === 'J' ? 1 : input === 'K' ? -1 : 0;
        const to = key.home ? 0 : key.end ? pane.scrollMax : (u.scroll ?? 0) + by;
        return { ...u, scroll: Math.max(0, Math.min(pane.scrollMax, to)) };
      });
    } else if (input === ' ') {
      if (hunting.current !== null) {
        hunting.current = null;
        setUi((u) => ({ ...u, until: null, paused: true, message: null }));
      } else setUi((u) => ({ ...u, paused: !u.paused, message: null }));
    } else if (input === 'f' || input === 'l' || input === 'x') {
      const kind: HuntKind = input === 'f' ? 'fault' : input === 'l' ? 'leader' : 'violation';
      hunting.current = kind;
      setUi((u) => ({ ...u, until: kind, paused: true, message: `running to ${huntLabel[kind]}…` }));
    } else if (input === '.') {
      const what = session.stepOne(performance.now() + keyBudgetMs);
      hunting.current = null;
      setUi((u) => ({ ...u, paused: true, until: null, message: what === null ? null : `processed ${what}` }));
      refresh();
    } else if (input === '+' || input === '=') setUi((u) => ({ ...u, speed: nextSpeed(u.speed, 1) }));
    else if (input === '-' || input === '_') setUi((u) => ({ ...u, speed: nextSpeed(u.speed, -1) }));
    else if (input === '[' || input === ']') {
      const stepUs = seekStepMs * usPerMs;
      session.seekToUs(session.nowUs + (input === '[' ? -stepUs : stepUs), performance.now() + keyBudgetMs);
      setUi((u) => ({
        ...u,
        paused: true,
        message: session.isViewingPast
          ? 'viewing the past: space, . or ] continues from here (from the nearest checkpoint)'
          : null,
      }));
      refresh();
    } else if (key.upArrow || input === 'k' || key.downArrow || input === 'j') {
      const step = key.upArrow || input === 'k' ? -1 : 1;
      selected.current = Math.max(0, Math.min(session.nodeIds.length - 1, selected.current + step));
      const next = selected.current;
      setUi((u) => ({ ...u, selected: next, scroll: 0 }));
    } else if (input === 'p') fault('partition');
    else if (input === 'c') fault('crash');
    else if (input === 'r') fault('restart');
    else if (input === 'h') fault('heal');
    else if (input === 's') {
      try {
        const path = session.save(props.replayDir);
        say(`saved ${path} (conclave sim replay ${path})`);
      } catch (error) {
        say(`save failed: ${(error as Error).message}`);
      }
    }
    return false;
  }

  return (
    <Dashboard
      snapshot={snapshot}
      ui={ui}
      {...(rows !== undefined ? { rows } : {})}
      {...(columns !== undefined ? { columns } : {})}
    />
  );
}

/**
 * The terminal's size, kept up to date on resize; undefined when the output is not a terminal
 * (ink-testing-library). One row is left free: a frame as tall as the terminal makes ink clear the
 * whole screen on every frame.
 */
function useTerminalSize(): { rows: number | undefined; columns: number | undefined } {
  const { stdout } = useStdout();
  const read = () => ({
    rows: stdout.isTTY && stdout.rows > 0 ? stdout.rows - 1 : undefined,
    columns: stdout.isTTY && stdout.columns > 0 ? stdout.columns : undefined,
  });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = (): void => setSize(read());
    stdout.on('resize', onResize);
    return () => void stdout.off('resize', onResize);
  }, [stdout]);
  return size;
}
