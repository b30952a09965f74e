import { describe, expect, it } from 'vitest';
import { admitFrame, checkEndpointCarries, type AdmitInput } from './admit.js';

const members = new Set(['10.0.0.1:8301', '10.0.0.2:8301']);
const peer = (remoteIp: string, over: Partial<AdmitInput['peer']> = {}): AdmitInput['peer'] => ({
  channel: 'stream',
  remoteIp,
  sealed: true,
  tlsVerified: false,
  certNames: [],
  ...over,
});
const base: AdmitInput = {
  endpoint: 'server',
  claimed: '10.0.0.2:8301',
  body: { m: 'raft', p: {} },
  peer: peer('10.0.0.2'),
  keyed: true,
  verifyIncomingRpc: false,
  checkSourceIp: true,
  isMember: (id) => members.has(id),
  self: '10.0.0.1:8301',
  serverName: null,
};

describe('admitFrame (identity binding on the agent ports)', () => {
  it('takes everything when neither gossip encryption nor verify_incoming is on', () => {
    expect(admitFrame({ ...base, keyed: false, claimed: '6.6.6.6:8301', isMember: () => false })).toBe(true);
  });

  it('refuses a frame whose claimed IP is not the source IP, on every endpoint', () => {
    for (const endpoint of ['gossip', 'server', 'wan'] as const)
      expect(admitFrame({ ...base, endpoint, peer: peer('10.0.0.9') })).toBe(false);
    expect(admitFrame({ ...base, peer: peer('10.0.0.9'), checkSourceIp: false })).toBe(true);
  });

  it('takes Raft frames on the server port from members only', () => {
    expect(admitFrame(base)).toBe(true);
    expect(admitFrame({ ...base, claimed: '10.0.0.3:8301', peer: peer('10.0.0.3') })).toBe(false);
  });

  it('takes a sealed agent RPC from a key holder gossip has not taught us yet (a member that just joined)', () => {
    const newcomer = { ...base, claimed: '10.0.0.3:8301', peer: peer('10.0.0.3') };
    expect(admitFrame({ ...newcomer, body: { m: 'agent', p: { t: 'rpc' } } })).toBe(true);
    // Not sealed with our key (encrypt_verify_incoming off during a rollout): membership is required.
    expect(admitFrame({ ...newcomer, body: { m: 'agent', p: {} }, peer: peer('10.0.0.3', { sealed: false }) })).toBe(
      false,
    );
  });

  it('with verify_server_hostname, a Raft frame over verified TLS needs the server name', () => {
    const tls = { ...base, serverName: 'server.dc1.consul' };
    expect(
      admitFrame({ ...tls, peer: peer('10.0.0.2', { tlsVerified: true, certNames: ['client.dc1.consul'] }) }),
    ).toBe(false);
    expect(
      admitFrame({ ...tls, peer: peer('10.0.0.2', { tlsVerified: true, certNames: ['server.dc1.consul'] }) }),
    ).toBe(true);
    // A server's hello (it asks to join Raft, core/agent/hello.ts) needs the server name too; other RPCs do not.
    const hello = { ...tls, body: { m: 'agent', p: { t: 'hello' } } };
    const client = peer('10.0.0.2', { tlsVerified: true, certNames: ['client.dc1.consul'] });
    expect(admitFrame({ ...hello, peer: client })).toBe(false);
    expect(admitFrame({ ...hello, body: { m: 'agent', p: { t: 'rpc' } }, peer: client })).toBe(true);
    expect(
      admitFrame({ ...hello, peer: peer('10.0.0.2', { tlsVerified: true, certNames: ['server.dc1.consul'] }) }),
    ).toBe(true);
  });

  it('takes a frame only on the endpoint it travels on (run.ts routeFor), whatever the switches', () => {
    const raft = { m: 'raft', p: { type: 'append' } };
    const rpc = { m: 'agent', p: { t: 'rpc' } };
    const rpcReply = { m: 'agent', p: { t: 'rpcReply' } };
    const swim = { m: 'swim', p: {} };
    const wan = { m: 'wan', p: {} };
    expect(checkEndpointCarries('server', raft)).toBeNull();
    expect(checkEndpointCarries('server', rpc)).toBeNull();
    expect(checkEndpointCarries('gossip', rpcReply)).toBeNull();
    expect(checkEndpointCarries('gossip', swim)).toBeNull();
    expect(checkEndpointCarries('wan', wan)).toBeNull();
    // A key holder (every client agent) reaches the gossip and WAN ports: Raft and RPC requests are refused there.
    expect(checkEndpointCarries('gossip', raft)).toMatch(/raft frame arrived on the gossip port/);
    expect(checkEndpointCarries('wan', raft)).toMatch(/travels on the server port only/);
    expect(checkEndpointCarries('gossip', rpc)).not.toBeNull();
    expect(checkEndpointCarries('server', swim)).not.toBeNull();
    expect(checkEndpointCarries('gossip', wan)).not.toBeNull();
    // Frames that are not the core's (the keyring's) are their owner's business.
    expect(checkEndpointCarries('gossip', { m: '_keyring', p: {} })).toBeNull();
    expect(checkEndpointCarries('gossip', null)).toBeNull();
  });
});
