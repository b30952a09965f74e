/**
 * The agent harness's blocking-query rules added for round H's escapes (session 14,
 * sim/harnesses/agent-blocking.ts), each fed a crafted bad case and its correct variant: no early return
 * (H09, H10) and no missed wake-up (H08). The SWIM escape (H12) is covered by scenarios/swim/restart-leave
 * and its unit test in core/swim/swim.corner.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { AgentResponse } from '../../core/agent/api.js';
import type { AgentState } from '../../core/agent/machine.js';
import { createStoreFsm } from '../../core/store/store.js';
import { checkBlockingAnswer, checkParkedReads, hasClockFaults } from '../harnesses/agent-blocking.js';
import { parseScenario } from '../scenario.js';

const scenario = (extra = '') =>
  parseScenario(`protocol agent\nnodes 5\nset servers 3\nduration safety=10s liveness=5s\n${extra}`, 'test.txt');
const answer = (index: number, status = 200): AgentResponse => ({ status, body: [], index });

describe('no early return (checkBlockingAnswer)', () => {
  const plain = scenario();

  it('an unchanged index answered before the wait ran out is reported', () => {
    expect(checkBlockingAnswer(plain, 'read', 49, 2000, 1000, 1001, answer(49))).toMatch(/returned before its wait/);
    expect(checkBlockingAnswer(plain, 'read', 49, 2000, 1000, 2900, answer(40, 404))).toMatch(/before its wait/);
  });

  it('an index past ?index, a wait that ran out, an error or no answer is not', () => {
    expect(checkBlockingAnswer(plain, 'read', 49, 2000, 1000, 1001, answer(50))).toBeNull();
    expect(checkBlockingAnswer(plain, 'read', 49, 2000, 1000, 3000, answer(49))).toBeNull();
    expect(checkBlockingAnswer(plain, 'read', 49, 2000, 1000, 1001, answer(49, 500))).toBeNull();
    expect(checkBlockingAnswer(plain, 'read', 49, 2000, 1000, 1001, undefined)).toBeNull();
    expect(checkBlockingAnswer(plain, 'read', 0, 0, 1000, 1001, answer(49))).toBeNull();
  });

  it('is not judged when clocks jump or drift', () => {
    const skewed = scenario('nemesis swarm kinds=clock every=1s');
    expect(hasClockFaults(skewed)).toBe(true);
    expect(hasClockFaults(scenario('at 2s jump n1 500ms'))).toBe(true);
    expect(hasClockFaults(plain)).toBe(false);
    expect(checkBlockingAnswer(skewed, 'read', 49, 2000, 1000, 1001, answer(49))).toBeNull();
  });
});

describe('no missed wake-up (checkParkedReads)', () => {
  const store = () => {
    const fsm = createStoreFsm();
    fsm.apply({ type: 'kvSet', entry: { key: 'k0', value: new TextEncoder().encode('a') } }, 5);
    return fsm;
  };
  const agentParking = (consistency: string, minIndex: number) =>
    ({
      parked: new Map([
        [
          1,
          {
            id: 1,
            op: { kind: 'read', query: { type: 'kvGet', key: 'k0' }, consistency, minIndex, waitMs: 2000 },
            checking: true,
            dirty: true,
          },
        ],
      ]),
    }) as unknown as AgentState;

  it('a default or stale read still parked after its key changed past its minIndex is reported', () => {
    expect(checkParkedReads('n1', agentParking('default', 4), store())).toMatch(/a wake-up was missed/);
    expect(checkParkedReads('n1', agentParking('stale', 4), store())).toMatch(/change index 5 past its minIndex 4/);
  });

  it('a read whose key has not changed since its minIndex, or a consistent read (its round may run), is not', () => {
    expect(checkParkedReads('n1', agentParking('default', 5), store())).toBeNull();
    expect(checkParkedReads('n1', agentParking('consistent', 4), store())).toBeNull();
  });
});
