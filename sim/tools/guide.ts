/**
 * Coverage-guided exploration (`sim explore --guided`), in the spirit of AFL's corpus: the explorer
 * keeps the set of features reached so far — each coverage item (message, request and effect kinds,
 * protocol transitions, BUGGIFY points, (role, input) pairs such as `state raft:candidate × append`)
 * with its hit count in AFL's buckets (1, 2, 3, 4–7, 8–15, 16–31, 32–127, 128+: a run with five
 * leader changes is new ground after runs with one) — and the knob settings of every seed that
 * reached a new feature. Half of the following seeds run with knobs bred from that corpus (one
 * parent's settings, a third of them taken from a second parent); the other half draw all their knobs
 * from the seed as usual, so the search never narrows to the corpus.
 *
 * What the guide chooses is pinned like `--knob KEY=VALUE`: every failing seed's replay command and
 * replay file carry its pins, so a guided failure reproduces on its own. The choices depend only on
 * the results seen so far; with one job the whole exploration is a function of its seed range.
 *
 * Knobs that the harness draws *depending on the seed's faults* (`Harness.guideSkips`: Raft's lease
 * reads, drawn only when the clock fault is off) are never pinned across seeds: a combination
 * production excludes would be a false alarm, not a bug.
 */
import seedrandom from 'seedrandom';
import type { SeedResult } from './explore.js';

export interface GuideOptions {
  /** Seeds the guide's own random choices (the range's first seed, so a rerun chooses the same). */
  readonly seed: number;
  /** Knob names never pinned by the guide. */
  readonly skip: readonly string[];
  /** Knobs that only make sense together (`Harness.guideGroups`): a cross takes each group whole from one parent. */
  readonly groups?: readonly (readonly string[])[];
  /** Whether pins make a valid configuration for the scenario (the harness's own validation). */
  readonly valid: (pins: Readonly<Record<string, string>>) => boolean;
  /** Whether to breed at all (false: only measure coverage growth, for comparison). */
  readonly active: boolean;
  /** The coverage curve gets a point every this many seeds. */
  readonly curveEvery?: number;
}

export interface CurvePoint {
  readonly seeds: number;
  /** Distinct coverage items reached by then. */
  readonly items: number;
  /** Distinct (item, hit-count bucket) features reached by then. */
  readonly features: number;
}

/** AFL's hit-count buckets. */
export function bucketOf(count: number): string {
  if (count <= 3) return String(count);
  if (count < 8) return '4-7';
  if (count < 16) return '8-15';
  if (count < 32) return '16-31';
  if (count < 128) return '32-127';
  return '128+';
}

interface Entry {
  readonly seed: number;
  readonly knobs: Readonly<Record<string, string>>;
  /** How many items it reached first. */
  readonly gain: number;
}

export class Guide {
  private readonly seen = new Set<string>();
  private readonly seenItems = new Set<string>();
  private readonly corpus: Entry[] = [];
  private readonly rng: seedrandom.PRNG;
  private readonly skip: ReadonlySet<string>;
  /** Each grouped knob → its group's key (the group's names joined). */
  private readonly groupOf = new Map<string, string>();
  private readonly every: number;
  private done = 0;
  readonly curve: CurvePoint[] = [];
  /** Seeds run with bred knobs, and how many of those reached something new. */
  bred = 0;
  bredGains = 0;
  private readonly bredSeeds = new Set<number>();

  constructor(private readonly options: GuideOptions) {
    this.rng = seedrandom(`guide:${options.seed}`);
    this.skip = new Set(options.skip);
    for (const group of options.groups ?? []) for (const key of group) this.groupOf.set(key, group.join('\n'));
    this.every = options.curveEvery ?? 1000;
  }

  get features(): number {
    return this.seen.size;
  }

  get corpusSize(): number {
    return this.corpus.length;
  }

  /** Knobs to pin for `seed`, or null to let the seed draw them all. */
  pinsFor(seed: number): Record<string, string> | null {
    if (!this.options.active || this.corpus.length === 0 || this.rng.quick() < 0.5) return null;
    const a = this.pick();
    const b = this.pick();
    // Every knob is pinned, a third of them from the second parent: a knob left to the seed would be
    // drawn without regard to the pinned ones (a heartbeat against another seed's election timeout).
    const child: Record<string, string> = {};
    const fromB = new Map<string, boolean>(); // a group's choice, made once for all its keys
    for (const [key, value] of Object.entries(a.knobs)) {
      if (this.skip.has(key)) continue;
      const group = this.groupOf.get(key);
      let takeB = group === undefined ? undefined : fromB.get(group);
      if (takeB === undefined) {
        takeB = this.rng.quick() < 1 / 3 && (group ?? key).split('\n').every((k) => k in b.knobs);
        if (group !== undefined) fromB.set(group, takeB);
      }
      child[key] = takeB ? b.knobs[key]! : value;
    }
    // Crossing can combine settings the harness refuses: then one parent's settings as they ran,
    // and if even those do not stand alone as pins, the seed draws its own.
    const parent = withoutSkipped(a.knobs, this.skip);
    const pins = this.options.valid(child) ? child : this.options.valid(parent) ? parent : null;
    if (pins === null) return null;
    this.bred++;
    this.bredSeeds.add(seed);
    return pins;
  }

  /** Takes in a finished seed: what it reached, and its knobs. */
  observe(result: SeedResult): void {
    this.done++;
    let gain = 0;
    for (const [item, count] of Object.entries(result.coverage ?? {})) {
      this.seenItems.add(item);
      const feature = `${item} #${bucketOf(count)}`;
      if (!this.seen.has(feature)) {
        this.seen.add(feature);
        gain++;
      }
    }
    if (gain > 0 && result.knobs) {
      this.corpus.push({ seed: result.seed, knobs: result.knobs, gain });
      if (this.bredSeeds.has(result.seed)) this.bredGains++;
    }
    this.bredSeeds.delete(result.seed);
    if (this.done % this.every === 0) this.curve.push(this.point());
  }

  /** The curve with its last point at the end of the run. */
  finalCurve(): CurvePoint[] {
    const last = this.curve.at(-1);
    return last?.seeds === this.done ? this.curve : [...this.curve, this.point()];
  }

  private point(): CurvePoint {
    return { seeds: this.done, items: this.seenItems.size, features: this.seen.size };
  }

  /** A corpus entry, the recent and the gainful ones more often (the newest found the newest ground). */
  private pick(): Entry {
    const n = this.corpus.length;
    const i = Math.floor(n * Math.sqrt(this.rng.quick())); // weights rise linearly with the index
    return this.corpus[Math.min(n - 1, i)]!;
  }
}

function withoutSkipped(knobs: Readonly<Record<string, string>>, skip: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(knobs)) if (!skip.has(k)) out[k] = v;
  return out;
}
