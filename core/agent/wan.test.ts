/**
 * The WAN pool's pure choices (core/agent/wan.ts): which server of another DC a request is forwarded
 * to, and the order of `/v1/catalog/datacenters`. Members and coordinates are built by hand; distances
 * follow core/swim/coordinate.ts (Vec in seconds plus the heights).
 */
import { describe, expect, it } from 'vitest';
import type { Member } from '../swim/api.js';
import type { Coordinate } from '../swim/coordinate.js';
import { makeAgentConfig } from './api.js';
import { initialState } from './state.js';
import { datacentersByDistance, knownDatacenters, rankServers, wanServersOf } from './wan.js';

const at = (x: number): Coordinate => ({ Vec: [x, 0, 0, 0, 0, 0, 0, 0], Error: 0.1, Adjustment: 0, Height: 0 });
const member = (id: string, dc: string, status: Member['status'] = 'alive'): Member => ({
  id,
  name: `${id}.${dc}`,
  incarnation: 1,
  status,
  tags: { role: 'consul', dc, port: '8300' },
});

function server(dc = 'dc1') {
  const s = initialState(makeAgentConfig({ nodeName: 'a', rpcId: 'a', datacenter: dc, server: true }), true, 'id');
  return s;
}

describe('WAN forwarding choice', () => {
  it('alive before suspect, then nearest by coordinate, then by id; unknown coordinates last', () => {
    const coords = new Map([
      ['far', at(0.08)],
      ['near', at(0.01)],
      ['suspect', at(0.001)],
    ]);
    const servers = [
      member('far', 'dc2'),
      member('unknown', 'dc2'),
      member('near', 'dc2'),
      member('suspect', 'dc2', 'suspect'),
    ];
    expect(rankServers(servers, at(0), coords).map((m) => m.id)).toEqual(['near', 'far', 'unknown', 'suspect']);
    // A server that let a forwarded request time out lately goes last, whatever its distance.
    expect(rankServers(servers, at(0), coords, new Set(['near'])).map((m) => m.id)).toEqual([
      'far',
      'unknown',
      'suspect',
      'near',
    ]);
    // Without our own coordinate: alive first, then by id.
    expect(rankServers(servers, null, coords).map((m) => m.id)).toEqual(['far', 'near', 'unknown', 'suspect']);
  });

  it('only live servers of the target DC are candidates; failed and left ones are not', () => {
    const s = server();
    for (const m of [member('b', 'dc2'), member('c', 'dc2', 'failed'), member('d', 'dc2', 'left'), member('e', 'dc3')])
      s.wanMembers.set(m.id, m);
    expect(wanServersOf(s, 'dc2').map((m) => m.id)).toEqual(['b']);
    expect(wanServersOf(s, 'dc9')).toEqual([]);
    // A DC whose servers all failed is still known (until they are reaped); one whose servers left is not.
    s.wanMembers.set('b', member('b', 'dc2', 'failed'));
    expect(knownDatacenters(s)).toEqual(['dc1', 'dc2', 'dc3']);
  });
});

describe('datacenters by distance', () => {
  it('orders DCs by the median estimated round trip to their servers; ours first; DCs without coordinates last', () => {
    const s = server('dc1');
    for (const m of [
      member('b1', 'dc2'),
      member('b2', 'dc2'),
      member('b3', 'dc2'),
      member('c1', 'dc3'),
      member('z1', 'dc0'),
    ])
      s.wanMembers.set(m.id, m);
    const peers = new Map([
      ['b1', at(0.05)],
      ['b2', at(0.06)],
      ['b3', at(0.5)], // one outlier does not move the median
      ['c1', at(0.03)],
    ]);
    expect(datacentersByDistance(s, { own: at(0), peers })).toEqual(['dc1', 'dc3', 'dc2', 'dc0']);
    // No coordinate of our own yet: every DC ranks equal, by name.
    expect(datacentersByDistance(s, { own: null, peers })).toEqual(['dc0', 'dc1', 'dc2', 'dc3']);
  });
});
