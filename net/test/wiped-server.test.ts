/**
 * A server that lost its disk (issue 13 §2), with real processes: three `agent -server` processes on
 * their own loopback IPs and data dirs, and the operator's bad day from the issue — kill -9 s1; write 50
 * keys (each acknowledged `true`); kill -9 s2 and s3; wipe s3's data dir; start s1 and s3, then s2.
 * Before server ids, s1 and the empty s3 formed a majority: s3 voted with its empty log, s1 led without
 * the 50 writes (all lost) and s2 diverged silently. Now the empty s3 comes back under a new raft server
 * id, so its vote counts for nothing; s1 waits for s2, and the new leader replaces s3's stale entry
 * (remove, then add under the new id). Checked: every acknowledged key is on every server (s2 included,
 * read with ?stale), a write after the recovery reaches all three (s2 does not diverge), and s3 is a
 * voter again under a new id (`/v1/operator/raft/configuration`, `operator raft list-peers`).
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  conclave,
  fastServerCluster,
  raftConfiguration as configuration,
  until,
  type AgentHandle,
} from './agent-process.js';
import { kvPut, leaderIp } from './http-client.js';

const ips = ['127.0.13.1', '127.0.13.2', '127.0.13.3'];
// Consul's production timing (raft_multiplier 1), so that the run's four elections do not dominate the
// test's time; the recovery does not depend on it.
const { dataDirs, agents, start } = fastServerCluster(ips, 'wiped');

async function kill9(agent: AgentHandle): Promise<void> {
  agent.child.kill('SIGKILL');
  await agent.exited;
}

/** The value of `key` on `ip` (null when absent); `stale` reads that server's own copy. */
async function read(ip: string, key: string, stale: boolean): Promise<string | null> {
  const r = await fetch(`http://${ip}:8500/v1/kv/${key}?raw${stale ? '&stale' : ''}`, {
    signal: AbortSignal.timeout(5_000),
  });
  if (r.status === 404) return null;
  if (r.status !== 200) throw new Error(`GET ${key} on ${ip}: ${r.status} ${await r.text()}`);
  return r.text();
}

/** A server among `candidates` that leads and accepts a write. */
async function writableLeader(candidates: readonly string[], what: string): Promise<string> {
  return until(
    async () => {
      for (const ip of candidates) {
        const l = await leaderIp(ip).catch(() => null);
        if (l && candidates.includes(l) && (await kvPut(l, 'probe', what, 5_000))) return l;
      }
      return null;
    },
    90_000,
    what,
  );
}

describe('a server that lost its disk (real processes, issue 13 §2)', () => {
  it('kill s1, write 50 keys, kill s2 and s3, wipe s3, start s1 + s3 then s2: nothing lost, s3 rejoins', async () => {
    for (const i of ips.keys()) start(i);
    const first = await writableLeader(ips, 'a first leader');
    // Three voters before the run, so that s3 really acknowledged the writes as a member.
    const before = await until(
      async () => {
        const servers = await configuration(first);
        return servers.filter((s) => s.Voter).length === 3 ? servers : null;
      },
      60_000,
      'three voters',
    );
    const s3Before = before.find((s) => s.Node === 's3')!;

    await kill9(agents[0]!);
    const leader = await writableLeader(ips.slice(1), 'a leader among s2 and s3');
    const acknowledged: string[] = [];
    for (let k = 0; k < 50; k++) if (await kvPut(leader, `lost/${k}`, `v${k}`, 5_000)) acknowledged.push(`lost/${k}`);
    expect(acknowledged).toHaveLength(50);

    await kill9(agents[1]!);
    await kill9(agents[2]!);
    fs.rmSync(dataDirs[2]!, { recursive: true, force: true });
    fs.mkdirSync(dataDirs[2]!);
    const s1 = start(0);
    const s3 = start(2);
    await s1.waitFor('Log data will now stream in as it occurs', 30_000);
    await s3.waitFor('Log data will now stream in as it occurs', 30_000);
    // Give s1 and the empty s3 the time to elect each other, as they did before server ids (two election
    // timeouts at raft_multiplier 1).
    await new Promise((r) => setTimeout(r, 4_000));
    start(1);

    const after = await writableLeader(ips, 'a leader after the restarts');
    for (const key of acknowledged) expect(await read(after, key, false), `${key} through the leader`).not.toBeNull();

    // s2 does not diverge: a write after the recovery reaches it, and so does everything acknowledged.
    expect(await kvPut(after, 'after', 'recovered', 5_000)).toBe(true);
    for (const ip of ips) {
      await until(async () => (await read(ip, 'after', true)) === 'recovered', 60_000, `the new write on ${ip}`);
      for (const key of acknowledged) expect(await read(ip, key, true), `${key} on ${ip} (?stale)`).not.toBeNull();
    }

    // s3 is a voter again, under a new id (the old entry was removed, not reused).
    const final = await until(
      async () => {
        const servers = await configuration(after);
        const s3Now = servers.find((s) => s.Node === 's3');
        return servers.filter((s) => s.Voter).length === 3 && s3Now?.Voter && s3Now.ID !== s3Before.ID ? servers : null;
      },
      // Within 20 s: a re-add refused as "busy" right after the election is retried at once (it waited
      // for the leader's 60 s reconcile before, core/agent/leader.ts raftChangeRetryMs).
      20_000,
      's3 a voter again under a new id',
    );
    expect(final.map((s) => s.Node).sort()).toEqual(['s1', 's2', 's3']);
    const peers = await conclave(['operator', 'raft', 'list-peers', `-http-addr=${after}:8500`]);
    expect(peers.code).toBe(0);
    expect(peers.stdout).toContain(final.find((s) => s.Node === 's3')!.ID);
    // What the servers said: s3 is not told to delete anything; the leader logged the replacement.
    const logs = agents.map((a) => a.output()).join('\n');
    expect(logs).toMatch(/rejoined with raft id \S+, but the configuration has \S+ \(it lost its data\)/);
  }, 300_000);
});
