/**
 * The simulator's BUGGIFY decider (core/buggify.ts says what the points are). A scenario turns it on
 * with `buggify [enable=P%] [fire=Q%]`:
 *
 * - **enable**: per run, each point is on or off, the same on every node, drawn from the seed alone
 *   (so one seed explores one combination of rare paths; many seeds, many combinations);
 * - **fire**: an enabled point takes its rare path on a share of the calls that reach it, drawn from a
 *   stream of the node's own (per node and incarnation, so one node's calls never shift another's).
 *
 * Both come from the seed: a replay reproduces every decision, and the shrinker keeps the `buggify`
 * line. Scenarios without it never draw from these streams, so their traces do not change.
 */
import seedrandom from 'seedrandom';
import { buggifyPoints, type Buggify, type BuggifyPoint } from '../../core/buggify.js';
import type { NodeId } from '../../core/types.js';

export interface BuggifySpec {
  /** Share of points enabled in a run, percent. */
  readonly enablePercent: number;
  /** Share of calls at which an enabled point fires, percent. */
  readonly firePercent: number;
}

export const buggifySpecDefault: BuggifySpec = { enablePercent: 25, firePercent: 5 };

/** The points a run enables: drawn from the seed and the point's name only. */
export function enabledPoints(seed: number, spec: BuggifySpec): BuggifyPoint[] {
  return (Object.keys(buggifyPoints) as BuggifyPoint[]).filter(
    (point) => seedrandom(`${seed}:buggify-enable:${point}`).quick() * 100 < spec.enablePercent,
  );
}

/** One node incarnation's decider; `onFire` sees every point that fired (for coverage). */
export function nodeBuggify(
  seed: number,
  node: NodeId,
  incarnation: number,
  spec: BuggifySpec,
  enabled: ReadonlySet<BuggifyPoint>,
  onFire: (point: BuggifyPoint) => void,
): Buggify {
  const rng = seedrandom(`${seed}:buggify:${node}:${incarnation}`);
  return (point) => {
    if (!enabled.has(point)) return false;
    const fires = rng.quick() * 100 < spec.firePercent;
    if (fires) onFire(point);
    return fires;
  };
}

/** `buggify [enable=P%] [fire=Q%]` → the spec; `fail` names the bad argument. */
export function parseBuggify(args: readonly string[], fail: (problem: string) => never): BuggifySpec {
  let { enablePercent, firePercent } = buggifySpecDefault;
  for (const arg of args) {
    const [key, value = ''] = arg.split('=');
    const m = /^(\d+(?:\.\d+)?)%$/.exec(value);
    const percent = m ? Number(m[1]) : NaN;
    if (key !== 'enable' && key !== 'fire') fail(`unknown option '${key}' (enable, fire)`);
    if (!(percent >= 0 && percent <= 100)) fail(`${key}=${value} is not a percentage from 0% to 100%`);
    if (key === 'enable') enablePercent = percent;
    else firePercent = percent;
  }
  return { enablePercent, firePercent };
}
