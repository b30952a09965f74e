/**
 * A server whose whole data dir was wiped — its Raft data and its identity record — is, to itself, a
 * brand-new server; with `-bootstrap-expect 3` and both peers alive it would found the cluster again.
 * The simulator found what that costs (scenarios/raft/disk-replaced-bootstrap.txt, seeds 203 and 268 on
 * c0072f4): with a one-entry log it votes, and a peer that missed a committed entry wins with its vote.
 * Real processes here: three `agent -server -bootstrap-expect 3` on their own loopback IPs; a key
 * written once the configuration records the three servers' ids; all three killed with -9, one
 * follower's data dir emptied, all three started again together (a power cut, a disk replaced). Gossip
 * finds the peers long before an election can end, so the wiped server comes to the bootstrap question
 * with no leader heard: it must ask its peers (Consul's maybeBootstrap), hear that they know it under its
 * old id and say so in Consul's words, never found a cluster again, and be added back by the new leader
 * under a new server id, with the key. (With a live leader instead, its heartbeat may reach the wiped
 * server before gossip does, and it then never asks — safe, but not this test's question.)
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fastServerCluster, raftConfiguration as configuration, until } from './agent-process.js';
import { kvPut, leaderIp } from './http-client.js';

const ips = ['127.0.53.1', '127.0.53.2', '127.0.53.3'];
const { dataDirs, agents, start } = fastServerCluster(ips, 'wiped-bootstrap');

const founding = 'Found expected number of peers, attempting bootstrap';

describe('a server wiped with its identity (real processes)', () => {
  it('asks its peers, hears of the cluster, does not bootstrap again, and is added back with the data', async () => {
    for (const i of ips.keys()) start(i);
    const leader = await until(
      async () => {
        const l = await leaderIp(ips[0]!).catch(() => null);
        return l && (await kvPut(l, 'kept', 'before the wipe', 5_000)) ? l : null;
      },
      60_000,
      'a leader that accepts a write',
    );
    const before = await until(
      async () => {
        const servers = await configuration(leader).catch(() => []);
        return servers.filter((s) => s.Voter).length === 3 ? servers : null;
      },
      60_000,
      'three voters',
    );
    await until(
      async () => {
        const servers = await configuration(leader).catch(() => []);
        // An id on record is a UUID; before, the ID column shows the address (core/agent/server.ts).
        return servers.length === 3 && servers.every((s) => /^[0-9a-f]{8}-/.test(s.ID)) ? true : null;
      },
      30_000,
      'the ids of the three servers on record',
    );
    // A power cut: all three down; one follower's disk replaced; all three back at once.
    const victim = ips.findIndex((ip) => ip !== leader);
    const victimName = `s${victim + 1}`;
    for (const agent of [...agents]) {
      agent.child.kill('SIGKILL');
      await agent.exited;
    }
    fs.rmSync(dataDirs[victim]!, { recursive: true, force: true });
    fs.mkdirSync(dataDirs[victim]!);
    const started = ips.map((_, i) => start(i));
    const wiped = started[victim]!;
    const survivor = ips.find((_, i) => i !== victim)!;

    await wiped.waitFor(
      /consul: Existing Raft peers reported by s\d \(it knows [^)]* as [0-9a-f-]+\), disabling bootstrap mode/,
      30_000,
    );
    expect(wiped.output()).not.toContain(founding);
    const after = await until(
      async () => {
        const servers = await configuration(survivor).catch(() => []);
        const now = servers.find((s) => s.Node === victimName);
        const was = before.find((s) => s.Node === victimName)!;
        return servers.filter((s) => s.Voter).length === 3 && now?.Voter && now.ID !== was.ID ? servers : null;
      },
      30_000,
      `${victimName} a voter again under a new id`,
    );
    expect(after.map((s) => s.Node).sort()).toEqual(['s1', 's2', 's3']);
    await until(
      async () => {
        const r = await fetch(`http://${ips[victim]}:8500/v1/kv/kept?raw&stale`, {
          signal: AbortSignal.timeout(2_000),
        });
        return r.status === 200 && (await r.text()) === 'before the wipe' ? true : null;
      },
      30_000,
      `the key on ${victimName}`,
    );
    expect(wiped.output()).not.toContain(founding);
  }, 180_000);
});
