/**
 * The failover candidate list (Consul's queryFailover): NearestN of the other DCs by WAN distance
 * first, then the query's Datacenters that are known and not yet listed, in the query's order.
 */
import { describe, expect, it } from 'vitest';
import { checkFailoverWanted, failoverDatacentersMax, failoverTargets } from './failover.js';

describe('failoverTargets', () => {
  const others = ['dc2', 'dc3', 'dc4']; // nearest first

  it('takes the NearestN nearest other DCs, in distance order', () => {
    expect(failoverTargets(others, { NearestN: 2, Datacenters: null })).toEqual(['dc2', 'dc3']);
    expect(failoverTargets(others, { NearestN: 9, Datacenters: null })).toEqual(others);
    expect(failoverTargets(others, { NearestN: 0, Datacenters: null })).toEqual([]);
  });

  it('then the listed DCs in the query’s order, skipping unknown ones and those already chosen', () => {
    expect(failoverTargets(others, { NearestN: 1, Datacenters: ['dc4', 'dc9', 'dc2', 'dc3'] })).toEqual([
      'dc2',
      'dc4',
      'dc3',
    ]);
    expect(failoverTargets(others, { NearestN: 0, Datacenters: ['dc3', 'dc3'] })).toEqual(['dc3']);
    expect(failoverTargets([], { NearestN: 3, Datacenters: ['dc2'] })).toEqual([]);
  });

  it('a negative or non-integer NearestN selects nothing; the list is bounded', () => {
    expect(failoverTargets(others, { NearestN: -1, Datacenters: null })).toEqual([]);
    expect(failoverTargets(others, { NearestN: 1.5, Datacenters: null })).toEqual([]);
    const many = Array.from({ length: 200 }, (_, i) => `dc${i}`);
    expect(failoverTargets(many, { NearestN: 200, Datacenters: null })).toHaveLength(failoverDatacentersMax);
  });

  it('failover is wanted only with NearestN > 0 or some Datacenters', () => {
    expect(checkFailoverWanted({ NearestN: 0, Datacenters: null })).toBe(false);
    expect(checkFailoverWanted({ NearestN: 0, Datacenters: [] })).toBe(false);
    expect(checkFailoverWanted({ NearestN: 1, Datacenters: null })).toBe(true);
    expect(checkFailoverWanted({ NearestN: 0, Datacenters: ['dc2'] })).toBe(true);
  });
});
