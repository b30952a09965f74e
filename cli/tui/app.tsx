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
import { Dashboard } from './components.js';
import { type ClusterSnapshot, type UiState, nextSpeed } from './model.js';
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
    speed: props.speed ?? 100,
    selected: 0,
    message: null,
  });
  const [snapshot, setSnapshot] = useState<ClusterSnapshot>(() => session.current());
  const rows = useTerminalRows();
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
    else if (input === 'd') setUi((u) => ({ ...u, detail: !u.detail }));
    else if (input === ' ') setUi((u) => ({ ...u, paused: !u.paused, message: null }));
    else if (input === '.') {
      session.stepOne(performance.now() + keyBudgetMs);
      setUi((u) => ({ ...u, paused: true, message: null }));
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
      setUi((u) => ({ ...u, selected: next }));
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

  return <Dashboard snapshot={snapshot} ui={ui} {...(rows !== undefined ? { rows } : {})} />;
}

/**
 * The terminal's height, kept up to date on resize; undefined when the output is not a terminal
 * (ink-testing-library). One row is left free: a frame as tall as the terminal makes ink clear the
 * whole screen on every frame.
 */
function useTerminalRows(): number | undefined {
  const { stdout } = useStdout();
  const read = (): number | undefined => (stdout.isTTY && stdout.rows > 0 ? stdout.rows - 1 : undefined);
  const [rows, setRows] = useState(read);
  useEffect(() => {
    const onResize = (): void => setRows(read());
    stdout.on('resize', onResize);
    return () => void stdout.off('resize', onResize);
  }, [stdout]);
  return rows;
}
