/**
 * Raft's protocol knobs, shared by the harnesses that run core/raft (raft, kv): the scenario
 * parameters that map onto RaftConfig fields, and the per-seed draw of the swarm scenarios (swarm
 * testing over the protocol's own options, as the nemesis does over faults: issue 12).
 *
 * A scenario opts in with `set knobs swarm` (the exploration scenarios do); a knob it pins with
 * `set KEY VALUE` is never drawn. Every drawn value is one production
 * accepts (core/raft/config.ts `checkRaftConfig`): heartbeat ≤ electionTimeoutMsMin / 2, lease reads
 * only with check-quorum. Lease reads also assume clock drift below `clockDriftBoundPpm` (thesis
 * §6.4.1), so a seed whose nemesis jumps or drifts clocks never draws them: that failure would be the
 * documented assumption breaking, not a bug.
 */
import type { Prng } from '../../core/prng.js';
import type { RaftConfig } from '../../core/raft/config.js';
import type { Knobs } from '../engine/nemesis.js';
import type { Scenario } from '../scenario.js';

export const raftKnobParams = {
  electionTimeoutMsMin: 'election timeout lower bound (ms)',
  electionTimeoutMsMax: 'election timeout upper bound (ms)',
  heartbeatIntervalMs: 'leader heartbeat interval (ms)',
  appendEntriesMax: 'most entries per AppendEntries',
  inflightAppendsMax: 'pipelining window per follower',
  snapshotThresholdEntries: 'applied entries between snapshots',
  snapshotTrailingEntries: 'entries kept below a snapshot',
  snapshotChunkBytes: 'InstallSnapshot chunk size (chars)',
  preVote: 'pre-vote on/off (true|false)',
  checkQuorum: 'check-quorum on/off (true|false)',
  leaseReads: 'lease reads on/off (true|false; needs checkQuorum)',
  readBatching: 'ReadIndex batching on/off (true|false): reads behind a round in flight share the next one',
  splitVoteBackoff:
    'split-vote backoff on/off (true|false): a candidate refusing a rival of its term polls again within 1–3 heartbeats',
  channel: "RPC channel: 'stream' (TCP-like) or 'datagram' (loss, dup, reorder apply)",
  knobs:
    "'swarm': a swarm scenario draws every protocol knob it does not pin, per seed (the exploration scenarios); 'fixed' (default): the scenario's values only",
} as const;

export type RaftKnob = keyof typeof raftKnobParams;
export const raftKnobNumeric: RaftKnob[] = [
  'electionTimeoutMsMin',
  'electionTimeoutMsMax',
  'heartbeatIntervalMs',
  'appendEntriesMax',
  'inflightAppendsMax',
  'snapshotThresholdEntries',
  'snapshotTrailingEntries',
  'snapshotChunkBytes',
];
export const raftKnobBoolean: RaftKnob[] = ['preVote', 'checkQuorum', 'leaseReads', 'readBatching', 'splitVoteBackoff'];

/** The RaftConfig fields a scenario's parameters set (absent ones keep the profile's value). */
export function raftKnobFields(scenario: Scenario): Partial<RaftConfig> {
  const p = scenario.params;
  const out: Record<string, unknown> = {};
  for (const key of raftKnobNumeric) if (p[key] !== undefined) out[key] = Number(p[key]);
  for (const key of raftKnobBoolean) if (p[key] !== undefined) out[key] = p[key] === 'true';
  if (p.channel !== undefined) out.channel = p.channel === 'datagram' ? 'datagram' : 'stream';
  return out as Partial<RaftConfig>;
}

/**
 * Election timing menus: [min, max, heartbeat] (ms). Short ones elect often. Every range is at least as
 * wide as production's: max ≥ 2 × min, as hashicorp/raft (ElectionTimeout..2×) and etcd ([T, 2T)) draw
 * it, and as the agent does (config.ts raftTimingFor). Narrower ranges were tried and are not a fault a
 * deployment can have: two candidates whose configurations do not list each other (a membership change
 * in flight) learn each other's term only from refusals, and with little randomness they stay in
 * lockstep — 15 ms (150–165) for tens of seconds (explore-membership seeds 122 and 253 of 1..1000), 75 ms
 * (150–225) still past the 4 s liveness bound (seed 464 of 1..1000, pre-vote off).
 */
export const electionTimings: readonly (readonly [number, number, number])[] = [
  [150, 300, 50], // the profile (Raft §9.3)
  [100, 200, 30], // fast elections: more terms, more leader changes per seed
  [120, 240, 40], // between the two: more competing candidates than the profile
  [300, 600, 100], // slow elections: long leader tenures, deep logs to reconcile
];

/**
 * Draws this seed's protocol knobs (the ones the scenario does not pin), as scenario parameter
 * values. `faults` are the seed's fault knobs (lease reads depend on the clock fault being off).
 */
export function drawRaftKnobs(prng: Prng, scenario: Scenario, faults: Knobs): Record<string, string> {
  if (scenario.params.knobs !== 'swarm') return {}; // opt-in: targeted swarm scenarios keep their configuration
  const pinned = (key: string): boolean => scenario.params[key] !== undefined;
  const out: Record<string, string> = {};
  const draw = (key: RaftKnob, values: readonly (string | number | boolean)[]): void => {
    const value = prng.pick(values); // drawn even when pinned: one seed's other draws stay put
    if (!pinned(key)) out[key] = String(value);
  };
  draw('preVote', [true, false]);
  draw('checkQuorum', [true, true, true, false]); // lease reads need it
  draw('channel', ['stream', 'datagram']);
  draw('appendEntriesMax', [1, 4, 16, 64]);
  draw('inflightAppendsMax', [1, 2, 4, 8]);
  draw('snapshotThresholdEntries', [8, 24, 64, 256]);
  draw('snapshotTrailingEntries', [0, 2, 8]);
  draw('snapshotChunkBytes', [32, 64, 256]);
  const timing = prng.pick(electionTimings);
  if (!pinned('electionTimeoutMsMin') && !pinned('electionTimeoutMsMax') && !pinned('heartbeatIntervalMs')) {
    out.electionTimeoutMsMin = String(timing[0]);
    out.electionTimeoutMsMax = String(timing[1]);
    out.heartbeatIntervalMs = String(timing[2]);
  }
  const lease = prng.chance(3, 4); // most seeds without clock faults read on a lease (else lease reads are rare)
  const checkQuorum = (scenario.params.checkQuorum ?? out.checkQuorum) === 'true';
  if (!pinned('leaseReads')) out.leaseReads = String(lease && checkQuorum && faults.faultWeights.clock === 0);
  return out;
}

/** Knobs drawn depending on the seed's faults (`Harness.guideSkips`): lease reads need the clock fault off. */
export const raftGuideSkips: readonly string[] = ['leaseReads'];

/** Knobs drawn as one (`Harness.guideGroups`): the election timeout range with its heartbeat. */
export const raftGuideGroups: readonly (readonly string[])[] = [
  ['electionTimeoutMsMin', 'electionTimeoutMsMax', 'heartbeatIntervalMs'],
];
