/**
 * The JSON that `conclave sim serve` answers at GET /sim/state (cli/commands/sim/serve.ts), shared with
 * the browser page that reads it (ui/src/views/sim.tsx): types only, no Node modules.
 */
import type { Insides } from '../../agent/insides.js';
import type { ClusterSnapshot } from '../../tui/model.js';

/** What GET /sim/state answers: the moment on screen, the controls' state and the insides. */
export interface SimState {
  readonly scenario: string;
  readonly seed: number;
  readonly nowMs: number;
  readonly endMs: number;
  readonly phase: string;
  readonly events: number;
  readonly paused: boolean;
  readonly speed: number;
  readonly speeds: readonly (number | null)[];
  readonly done: boolean;
  readonly viewingPast: boolean;
  /** A re-run after a typed fault or a seek is on its way: progress in [0, 1]. */
  readonly catchingUp: number | null;
  readonly verdict: ClusterSnapshot['verdict'];
  readonly nodes: readonly { readonly name: string; readonly up: boolean; readonly paused: boolean }[];
  readonly partition: ClusterSnapshot['partition'];
  readonly interactive: readonly string[];
  readonly message: string | null;
  readonly insides: Insides;
  /**
   * How far the pictures' recording has simulated (ms; null before the first picture): it runs only as
   * far as the pictures asked, so the first ones come without simulating the whole run.
   */
  readonly recordedMs: number | null;
}
