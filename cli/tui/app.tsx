/**
 * The TUI's container: holds the session (the simulation handle), the UI state (paused, speed,
 * selected node, message), reads keys and advances the simulation on a wall-clock timer. Everything
 * it draws goes through the presentational Dashboard.
 *
 * The event log is a live box, not ink's <Static>: time travel rewinds it, and <Static> output can
 * never be taken back.
 */
import React, { useEffect, useRef, useState } from 'react';
import { useApp, useInput } from 'ink';
import { Dashboard } from './components.js';
import { type ClusterSnapshot, type UiState, nextSpeed } from './model.js';
import type { FaultKey, TuiSession } from './session.js';

/** Wall time between two frames while running. */
export const frameMs = 50;
/** Simulated time one `[` or `]` moves. */
export const seekStepMs = 1000;
/** Wall time spent simulating per frame, at most (flat out spends all of it). */
export const frameBudgetMs = 35;
/** Simulated time advanced between two looks at the wall clock. */
export const chunkMs = 20;
/** Clusters larger than this are drawn every `bigClusterFrameMs` only. */
export const bigClusterNodes = 50;
export const bigClusterFrameMs = 500;
/** Checkpoint building: at most `idleBudgetMs` of wall time every `idleEveryMs`. */
export const idleBudgetMs = 15;
export const idleEveryMs = 100;

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
  // The selected node, also as a ref: a key typed right after ↓ must see the new selection even
  // before React has re-rendered with it.
  const selected = useRef(0);
  const refresh = (): void => setSnapshot(session.current());

  useEffect(() => {
    if (ui.paused || session.done) return;
    let last = wall();
    let lastDrawn = -Infinity;
    const timer = setInterval(() => {
      const now = wall();
      const elapsed = now - last;
      last = now;
      // Simulate what the speed asks for, but never more than a frame's budget of wall time: a
      // simulation slower than the chosen speed then just runs behind, instead of each frame taking
      // longer than the last (and the keys going unread).
      let wantMs = ui.speed === Infinity ? Infinity : elapsed * ui.speed;
      const until = now + frameBudgetMs;
      while (wantMs > 0 && !session.done) {
        const chunk = Math.min(wantMs, chunkMs);
        session.advanceBy(chunk);
        wantMs -= chunk;
        if (wall() >= until) break;
      }
      // A snapshot of a big cluster costs (every node's view of every member): draw it less often.
      if (session.done || wall() - lastDrawn >= (session.nodeIds.length > bigClusterNodes ? bigClusterFrameMs : 0)) {
        lastDrawn = wall();
        refresh();
      }
      if (session.done)
        setUi((u) => ({ ...u, paused: true, message: `run finished: ${session.current().verdict.status}` }));
    }, frameMs);
    return () => clearInterval(timer);
  }, [ui.paused, ui.speed]);

  // Idle time parks checkpoints (whole simulations at regular times), so that continuing from the
  // past re-runs at most a couple of simulated seconds.
  useEffect(() => {
    const timer = setInterval(() => session.idleWork(idleBudgetMs), idleEveryMs);
    return () => clearInterval(timer);
  }, []);

  const say = (message: string | null): void => setUi((u) => ({ ...u, message }));
  const fault = (key: FaultKey): void => {
    const node = session.nodeIds[selected.current] ?? null;
    try {
      say(`fault: ${session.inject(key, node)} (re-ran from seed ${session.seed})`);
    } catch (error) {
      say(`fault refused: ${(error as Error).message}`);
    }
    refresh();
  };

  useInput((chunk, key) => {
    // A chunk can hold several keys (typed fast, or pasted): handle each in order.
    const inputs = chunk.length > 1 && !key.ctrl && !key.meta ? [...chunk] : [chunk];
    for (const input of inputs) if (onKey(input, key)) return;
  });

  /** Handles one key; true to stop reading (quit). */
  function onKey(input: string, key: Parameters<Parameters<typeof useInput>[0]>[1]): boolean {
    if (input === 'q' || (key.ctrl && input === 'c')) {
      exit();
      return true;
    }
    if (input === ' ') setUi((u) => ({ ...u, paused: !u.paused, message: null }));
    else if (input === '.') {
      session.stepOne();
      setUi((u) => ({ ...u, paused: true, message: null }));
      refresh();
    } else if (input === '+' || input === '=') setUi((u) => ({ ...u, speed: nextSpeed(u.speed, 1) }));
    else if (input === '-' || input === '_') setUi((u) => ({ ...u, speed: nextSpeed(u.speed, -1) }));
    else if (input === '[' || input === ']') {
      session.seekTo(session.nowMs + (input === '[' ? -seekStepMs : seekStepMs));
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

  return <Dashboard snapshot={snapshot} ui={ui} />;
}
