/**
 * The rules and workload actions round K added (docs/mutation-testing.md, Session 15, Round K) can fail:
 * each test plants the escaped mutant's behaviour in a wrapper around the real machine (or feeds the
 * model the answer the mutant gives) and checks that the simulation, or the model, names it; the real
 * machine passes the same run. Raft's learner rule has its own test in sim/checkers/raft-rules.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../core/types.js';
import { swimMachine, type SwimState } from '../../core/swim/machine.js';
import type { SwimConfig } from '../../core/swim/config.js';
import type { SwimMessage } from '../../core/swim/messages.js';
import { kvGroupModel, UNKNOWN } from '../checkers/lin/index.js';
import { harness } from '../harnesses/swim.js';
import type { Harness } from '../harness.js';
import { parseScenario } from '../scenario.js';
import { Simulation } from '../engine/simulation.js';

/** A harness whose nodes run `machine` instead of the real one. */
function withMachine(machine: Machine<unknown>): Harness {
  return {
    ...harness,
    mounts: (id, scenario, start) => harness.mounts(id, scenario, start).map((m) => ({ ...m, machine })),
  };
}

function run(h: Harness, text: string, seed = 1) {
  return new Simulation(parseScenario(text, 'planted.txt'), h, seed, { logLimit: 0 }).run();
}

/** The real SWIM machine with `around` run around each step. */
function planted(around: (s: SwimState, input: { kind: string; timer?: string }, step: () => void) => void) {
  return {
    ...swimMachine,
    step(state, input, ctx) {
      around(state as SwimState, input as { kind: string; timer?: string }, () =>
        swimMachine.step(state as SwimState, input as never, ctx as never),
      );
    },
  } as Machine<unknown>;
}

describe('round K: the reap rule (Serf reconnect_timeout / tombstone_timeout)', () => {
  it('a reaper that swaps the two timeouts (K09) is caught; the real one passes', () => {
    const swapped = planted((s, input, step) => {
      if (input.kind !== 'timer' || input.timer !== 'reap') return step();
      const config = s.config;
      const swap: SwimConfig = {
        ...config,
        reconnectTimeoutMs: config.tombstoneTimeoutMs,
        tombstoneTimeoutMs: config.reconnectTimeoutMs,
      };
      (s as { config: SwimConfig }).config = swap;
      try {
        step();
      } finally {
        (s as { config: SwimConfig }).config = config;
      }
    });
    // n6 leaves at 5 s: it must be kept 12 s (its tombstone), where the swapped reaper forgets it after 5.
    const text =
      'protocol swim\nnodes 6\nset reconnectTimeoutMs 5000\nset tombstoneTimeoutMs 12000\nset reapIntervalMs 1000\n' +
      'duration safety=25s liveness=5s\nat 5s leave n6\n';
    expect(run(harness, text).violations).toEqual([]);
    expect(run(withMachine(swapped), text).violations.join('\n')).toMatch(
      /reap: at its reap tick .* forgot n6, left for \d+(\.\d+)? ms, within its tombstoneTimeoutMs of 12000 ms/,
    );
  });
});

describe('round K: the Lifeguard LHM rule', () => {
  it('a prober that expects nacks from helpers it never asked (K10) is caught; the real one passes', () => {
    // After the direct phase ends the probe expects indirectChecks nacks whatever it asked (the mutant).
    const expectsAll = planted((s, input, step) => {
      step();
      if (input.kind === 'timer' && input.timer?.startsWith('pt:') && s.probe && s.probe.phase === 'indirect')
        s.probe.expectedNacks = s.config.indirectChecks;
    });
    // Four members, one crashed: a probe of it has at most two helpers to ask, fewer than indirectChecks 3.
    const text = 'protocol swim\nnodes 4\nduration safety=20s liveness=5s\nat 3s crash n4\nat 15s restart n4\n';
    expect(run(harness, text).violations).toEqual([]);
    expect(run(withMachine(expectsAll), text).violations.join('\n')).toMatch(
      /lifeguard LHM: n\d's probe \d+ of n4 failed after it asked \d member\(s\)/,
    );
  });
});

describe('round K: members restarted with new tags (set restartTags true)', () => {
  it('a member that does not override its old life at its own incarnation (K11) leaves stale tags; the real one converges', () => {
    // The mutant's view: a claim about ourselves at our own incarnation is ignored, whatever its tags.
    const ignoresOwnIncarnation = planted((s, input, step) => {
      if (input.kind !== 'message') return step();
      const message = (input as unknown as { message: SwimMessage }).message;
      const self = s.self;
      if (message.t === 'pushPull')
        (input as unknown as { message: SwimMessage }).message = {
          ...message,
          members: message.members.filter((m) => !(m.id === self.id && m.inc === self.incarnation)),
        };
      else if ('u' in message && message.u)
        (input as unknown as { message: SwimMessage }).message = {
          ...message,
          u: message.u.filter((u) => !(u.k === 'alive' && u.id === self.id && u.inc === self.incarnation)),
        } as SwimMessage;
      step();
    });
    const text =
      'protocol swim\nnodes 5\nset restartTags true\nduration safety=15s liveness=20s\n' +
      'at 5s crash n2\nat 5300ms restart n2\nexpect tags-converged\n';
    expect(run(harness, text).violations).toEqual([]);
    expect(run(withMachine(ignoresOwnIncarnation), text).violations.join('\n')).toMatch(
      /tags: n\d sees n2 with \{build=0\}, it has \{build=1\}/,
    );
  });
});

describe('round K: key listings in the kv-group model', () => {
  it("a listing answers exactly the group's present keys", () => {
    const state = JSON.stringify(['v1', null, 'v3']);
    const input = { f: 'read-keys', key: 't/1/' } as const;
    expect(kvGroupModel.step(state, input, ['a', 'c']).ok).toBe(true);
    expect(kvGroupModel.step(state, input, UNKNOWN).ok).toBe(true);
    // K07: the separator searched from the key's start rolls every key up at 't/'.
    expect(kvGroupModel.step(state, input, ['t/']).ok).toBe(false);
    expect(kvGroupModel.step(state, input, ['a']).ok).toBe(false);
    expect(kvGroupModel.readOnly!(input, ['a', 'c'])).toBe(true);
  });
});
