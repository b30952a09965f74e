/**
 * Network coordinates: Vivaldi (Dabek, Cox, Kaashoek, Morris, "Vivaldi: A Decentralized Network
 * Coordinate System", SIGCOMM 2004) with the refinements Serf uses — a height above the Euclidean
 * space for access links (Vivaldi §5.4), an adjustment term averaging the residual error over a
 * window (Ledlie, Gardner, Seltzer, "Network Coordinates in the Wild", NSDI 2007), a per-peer median
 * filter on round-trip samples, and gentle gravity toward the origin so coordinates do not drift.
 *
 * Units are seconds, as in Consul's `/v1/coordinate` API (`Vec`, `Error`, `Adjustment`, `Height`).
 * A node updates its own coordinate from the round-trip time of each direct SWIM probe and the
 * coordinate its peer put on the ack. Distances between two coordinates estimate the round trip.
 */
import type { Prng } from '../prng.js';
import type { NodeId } from '../types.js';

/** Consul's wire shape. */
export interface Coordinate {
  readonly Vec: readonly number[];
  readonly Error: number;
  readonly Adjustment: number;
  readonly Height: number;
}

export interface VivaldiConfig {
  /** Euclidean dimensions (Serf: 8). */
  readonly dimensionality: number;
  /** Error estimate ceiling, and a new coordinate's error (Serf: 1.5). */
  readonly errorMax: number;
  /** Vivaldi's c_e: how fast the error estimate follows new samples (Serf: 0.25). */
  readonly ce: number;
  /** Vivaldi's c_c: the fraction of the spring force applied per sample (Serf: 0.25). */
  readonly cc: number;
  /** Samples averaged into the adjustment term (Serf: 20; 0 disables it). */
  readonly adjustmentWindow: number;
  /** Smallest height, seconds (Serf: 10 µs). */
  readonly heightMinSeconds: number;
  /** Round-trip samples per peer whose median is used (Serf: 3). */
  readonly latencyFilterSize: number;
  /** Distance (seconds) at which gravity toward the origin equals one unit of force (Serf: 150). */
  readonly gravityRho: number;
  /** Round trips above this are treated as bogus and ignored (Serf: 10 s). */
  readonly rttMaxSeconds: number;
}

export const vivaldiDefaults: VivaldiConfig = {
  dimensionality: 8,
  errorMax: 1.5,
  ce: 0.25,
  cc: 0.25,
  adjustmentWindow: 20,
  heightMinSeconds: 10e-6,
  latencyFilterSize: 3,
  gravityRho: 150,
  rttMaxSeconds: 10,
};

const defaultOrigin = originCoordinate(vivaldiDefaults);

/** Two coordinates closer than this are "on top of each other": pick a random direction. */
const zeroThreshold = 1e-6;

export interface VivaldiState {
  coordinate: Coordinate;
  /** Per-peer recent round trips (seconds), newest last; bounded by latencyFilterSize. */
  readonly samples: Map<NodeId, number[]>;
  /**
   * The last usable coordinate each peer put on an ack (Serf's coordinate cache): the WAN pool reads it
   * to rank datacenters by estimated round trip and to forward to the nearest server. One entry per
   * member at most (forgotten when the member is reaped), so bounded by the member table.
   */
  readonly peers: Map<NodeId, Coordinate>;
  /** Residuals (rtt − raw distance) in a ring of adjustmentWindow slots. */
  readonly adjustments: number[];
  adjustmentIndex: number;
  /** Counters: samples applied, and resets after a computation went non-finite. */
  updates: number;
  resets: number;
}

export function originCoordinate(config: VivaldiConfig = vivaldiDefaults): Coordinate {
  return {
    Vec: new Array<number>(config.dimensionality).fill(0),
    Error: config.errorMax,
    Adjustment: 0,
    Height: config.heightMinSeconds,
  };
}

export function initVivaldi(config: VivaldiConfig = vivaldiDefaults): VivaldiState {
  return {
    coordinate: originCoordinate(config),
    samples: new Map(),
    peers: new Map(),
    adjustments: new Array<number>(config.adjustmentWindow).fill(0),
    adjustmentIndex: 0,
    updates: 0,
    resets: 0,
  };
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** A coordinate from the wire is usable: right dimension, every component finite, sane signs. */
export function isCoordinate(x: unknown, dimensionality = vivaldiDefaults.dimensionality): x is Coordinate {
  if (typeof x !== 'object' || x === null) return false;
  const c = x as Record<string, unknown>;
  return (
    Array.isArray(c.Vec) &&
    c.Vec.length === dimensionality &&
    c.Vec.every(finite) &&
    finite(c.Error) &&
    c.Error >= 0 &&
    finite(c.Adjustment) &&
    finite(c.Height) &&
    c.Height >= 0
  );
}

function magnitude(v: readonly number[]): number {
  let sum = 0;
  for (const x of v) sum += x * x;
  return Math.sqrt(sum);
}

/** Euclidean distance plus both heights, without the adjustment terms (seconds). */
export function rawDistanceSeconds(a: Coordinate, b: Coordinate): number {
  let sum = 0;
  for (let i = 0; i < a.Vec.length; i++) {
    const d = a.Vec[i]! - (b.Vec[i] ?? 0);
    sum += d * d;
  }
  return Math.sqrt(sum) + a.Height + b.Height;
}

/** Estimated round trip between two nodes (seconds): Serf's DistanceTo. */
export function distanceSeconds(a: Coordinate, b: Coordinate): number {
  const raw = rawDistanceSeconds(a, b);
  const adjusted = raw + a.Adjustment + b.Adjustment;
  return adjusted > 0 ? adjusted : raw;
}

/** Unit vector from `b` toward `a` and the distance between them; random if they coincide. */
function unitVectorAt(a: readonly number[], b: readonly number[], prng: Prng): { unit: number[]; mag: number } {
  const diff = a.map((x, i) => x - (b[i] ?? 0));
  const mag = magnitude(diff);
  if (mag > zeroThreshold) return { unit: diff.map((x) => x / mag), mag };
  // Coincident: a random direction (uniform components in [-0.5, 0.5), then normalised).
  for (;;) {
    const random = a.map(() => prng.below(1_000_000) / 1_000_000 - 0.5);
    const m = magnitude(random);
    if (m > zeroThreshold) return { unit: random.map((x) => x / m), mag: 0 };
  }
}

/** Moves `c` by `force` seconds along the line from `other` (positive = away), heights included. */
function applyForce(c: Coordinate, config: VivaldiConfig, force: number, other: Coordinate, prng: Prng): Coordinate {
  const { unit, mag } = unitVectorAt(c.Vec, other.Vec, prng);
  const vec = c.Vec.map((x, i) => x + unit[i]! * force);
  let height = c.Height;
  if (mag > zeroThreshold)
    height = Math.max(((c.Height + other.Height) * force) / mag + c.Height, config.heightMinSeconds);
  return { Vec: vec, Error: c.Error, Adjustment: c.Adjustment, Height: height };
}

/** The median of this peer's recent samples, including the new one (Serf's latency filter). */
function filtered(s: VivaldiState, config: VivaldiConfig, peer: NodeId, rttSeconds: number): number {
  let list = s.samples.get(peer);
  if (!list) {
    list = [];
    s.samples.set(peer, list);
  }
  list.push(rttSeconds);
  if (list.length > config.latencyFilterSize) list.shift();
  if (list.length === 1) return list[0]!;
  if (list.length === 3) {
    // The usual case, without sorting a copy: the middle of three.
    const [a, b, c] = list as [number, number, number];
    return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
  }
  const sorted = [...list].sort((x, y) => x - y);
  return sorted[sorted.length >> 1]!;
}

/**
 * One observation: we measured `rttSeconds` to `peer`, whose coordinate is `theirs`. Returns false
 * (and changes nothing) for an unusable sample: a bad coordinate or a round trip outside (0, rttMax].
 */
export function observe(
  s: VivaldiState,
  peer: NodeId,
  theirs: unknown,
  rttSeconds: number,
  prng: Prng,
  config: VivaldiConfig = vivaldiDefaults,
): boolean {
  if (
    !isCoordinate(theirs, config.dimensionality) ||
    !finite(rttSeconds) ||
    rttSeconds < 0 ||
    rttSeconds > config.rttMaxSeconds
  )
    return false;
  s.peers.set(peer, theirs);
  const rtt = Math.max(filtered(s, config, peer, rttSeconds), zeroThreshold);
  let c = s.coordinate;
  // Vivaldi §3 (adaptive timestep): weight the sample by our confidence relative to theirs.
  const dist = rawDistanceSeconds(c, theirs);
  const totalError = Math.max(c.Error + theirs.Error, zeroThreshold);
  const weight = c.Error / totalError;
  const relativeError = Math.abs(dist - rtt) / rtt;
  const error = Math.min(config.ce * weight * relativeError + c.Error * (1 - config.ce * weight), config.errorMax);
  c = applyForce({ ...c, Error: error }, config, config.cc * weight * (rtt - dist), theirs, prng);
  // Ledlie et al.: the adjustment is the mean residual over the window (halved: both ends add theirs).
  if (config.adjustmentWindow > 0) {
    s.adjustments[s.adjustmentIndex] = rtt - rawDistanceSeconds(c, theirs);
    s.adjustmentIndex = (s.adjustmentIndex + 1) % config.adjustmentWindow;
    let sum = 0;
    for (const x of s.adjustments) sum += x;
    c = { ...c, Adjustment: sum / (2 * config.adjustmentWindow) };
  }
  // Gravity: a pull toward the origin growing with the square of the distance from it.
  const origin = config === vivaldiDefaults ? defaultOrigin : originCoordinate(config);
  const fromOrigin = distanceSeconds(c, origin);
  c = applyForce(c, config, -1 * (fromOrigin / config.gravityRho) ** 2, origin, prng);
  if (!isCoordinate(c, config.dimensionality)) {
    // Numerical trouble (it should not happen): start over rather than spread a broken coordinate.
    s.coordinate = originCoordinate(config);
    s.resets++;
    return false;
  }
  s.coordinate = c;
  s.updates++;
  return true;
}

/** Forget a peer's samples (it was reaped). */
export function forgetPeer(s: VivaldiState, peer: NodeId): void {
  s.samples.delete(peer);
  s.peers.delete(peer);
}
