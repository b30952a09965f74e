/**
 * A server whose whole data dir was wiped — its Raft data and its identity record — is, to itself, a
 * brand-new server; with `-bootstrap-expect 3` and both peers alive it would found the cluster again.
 * The simulator found what that costs (scenarios/raft/disk-replaced-bootstrap.txt, seeds 203 and 268 on
 * c0072f4): with a one-entry log it votes, and a peer that missed a committed entry wins with its vote.
 * Real processes here: three `agent -server -bootstrap-expect 3` on their own loopback IPs; a key
 * written; s3 killed with -9, its data dir emptied, started again. It must ask its peers before
 * bootstrapping (Consul's maybeBootstrap), hear that they hold a cluster and say so in Consul's words,
 * never found a cluster again, and be added back by the leader under a new server id, with the key.
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
    // Wipe a follower (the leader keeps leading: nothing else changes while s3 comes back).
    const victim = ips.findIndex((ip) => ip !== leader);
    const victimName = `s${victim + 1}`;
    const old = agents[victim]!;
    old.child.kill('SIGKILL');
    await old.exited;
    fs.rmSync(dataDirs[victim]!, { recursive: true, force: true });
    fs.mkdirSync(dataDirs[victim]!);
    const wiped = start(victim);

    await wiped.waitFor(
      /consul: Existing Raft peers reported by s\d \(it knows [^)]* as [0-9a-f-]+\), disabling bootstrap mode/,
      30_000,
    );
    expect(wiped.output()).not.toContain(founding);
    const after = await until(
      async () => {
        const servers = await configuration(leader).catch(() => []);
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
