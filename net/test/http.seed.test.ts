/**
 * The seed walkthrough's HTTP and DNS calls (../shared/seed/000_df83f11603424585.txt), run verbatim
 * with the real `curl` and `dig` binaries against a real agent named a2 (the seed's client node) that
 * loads the seed's two config files (ping.json, web.json). The agent listens on the seed's ports
 * 8500/8600 when they are free; otherwise on free ports, and only the port in the command changes.
 *
 * What is compared with the seed: status lines, the X-Consul-* headers of `curl -v`, and every JSON
 * body field except the Raft indexes (CreateIndex/ModifyIndex values are cluster history; we check
 * their relations instead: equal on create, rising on update, CAS by the index just read).
 * Two seed literals are data, not syntax: `cas=1061` is replaced by the ModifyIndex read just before
 * (the seed's author did the same by hand), and `index=101` works verbatim because the test first
 * raises the Raft index past 101 with catalog writes, as the seed's long-running cluster had.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../../test/consul-client/agent.js';
import { dig } from '../dns/client.js';

const seedFiles = {
  '00-scripts.json': '{"enable_script_checks": true, "enable_local_script_checks": true}',
  'ping.json': '{"check": {"name": "ping","script": "ping -c1 soft.dog >/dev/null", "interval": "30s"}}',
  'web.json':
    '{"service": {"name": "web", "tags": ["rails"], "port": 80,"check": {"script": "curl localhost >/dev/null 2>&1", "interval": "10s"}}}',
};

let agent: TestAgent;

beforeAll(async () => {
  agent = await startTestAgent({ nodeName: 'a2', configFiles: seedFiles, httpPort: 8500, dnsPort: 8600 });
}, 30_000);
afterAll(async () => agent?.stop());

interface Run {
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a seed command line through bash, with only the port rewritten if 8500/8600 were taken. */
function sh(commandLine: string): Promise<Run> {
  const line = commandLine.replace(/:8500\//g, `:${agent.httpPort}/`).replace(/-p 8600 /g, `-p ${agent.dnsPort} `);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    execFile('bash', ['-c', line], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') reject(new Error('bash is required'));
      else if (error && /command not found/.test(stderr))
        reject(new Error(`${line}: ${stderr.trim()} (install curl and dnsutils: apt-get install -y curl dnsutils)`));
      else if (error) reject(new Error(`${line} failed: ${error.message}\n${stderr}`));
      else resolve({ stdout, stderr, ms: Date.now() - started });
    });
  });
}

interface Entry {
  LockIndex: number;
  Key: string;
  Flags: number;
  Value: string | null;
  CreateIndex: number;
  ModifyIndex: number;
}

/** A seed body with its indexes blanked, for comparison. */
function shape(entries: Entry[]): Omit<Entry, 'CreateIndex' | 'ModifyIndex'>[] {
  return entries.map(({ CreateIndex: _c, ModifyIndex: _m, ...rest }) => rest);
}

describe('the seed, verbatim', () => {
  it('curl http://localhost:8500/v1/health/state/critical lists service:web as in the seed', async () => {
    const { stdout } = await sh('curl http://localhost:8500/v1/health/state/critical');
    const checks = JSON.parse(stdout) as Record<string, unknown>[];
    const web = checks.find((c) => c.CheckID === 'service:web');
    // The seed: {"Node":"a2","CheckID":"service:web","Name":"Service 'web' check","Status":"critical","Notes":"","Output":"",
    //            "ServiceID":"web","ServiceName":"web","CreateIndex":593,"ModifyIndex":593}
    expect(web).toMatchObject({
      Node: 'a2',
      CheckID: 'service:web',
      Name: "Service 'web' check",
      Status: 'critical',
      Notes: '',
      ServiceID: 'web',
      ServiceName: 'web',
    });
    expect(typeof web!.Output).toBe('string');
    expect(web!.CreateIndex).toBeGreaterThan(0);
    expect(web!.ModifyIndex).toBeGreaterThanOrEqual(web!.CreateIndex as number);
    // ping.json's check is loaded too; without internet it is critical here (the seed's host could reach soft.dog).
    const ping = (
      JSON.parse((await sh('curl -s http://localhost:8500/v1/agent/checks')).stdout) as Record<string, { Name: string }>
    ).ping;
    expect(ping?.Name).toBe('ping');
  });

  it('the KV walkthrough', async () => {
    // 1. An empty store: 404 with the seed's headers.
    const empty = await sh('curl -v http://localhost:8500/v1/kv/?recurse');
    expect(empty.stdout).toBe('');
    expect(empty.stderr).toMatch(/< HTTP\/1\.1 404 Not Found/);
    expect(empty.stderr).toMatch(/< X-Consul-Index: 1\r?\n/i);
    expect(empty.stderr).toMatch(/< X-Consul-Knownleader: true\r?\n/i);
    expect(empty.stderr).toMatch(/< X-Consul-Lastcontact: 0\r?\n/i);
    expect(empty.stderr).toMatch(/< Content-Length: 0\r?\n/i);
    expect(empty.stderr).toMatch(/< Content-Type: text\/plain; charset=utf-8\r?\n/i);

    // The seed's cluster had a long history (indexes ~900); raise the Raft index past 101 with writes
    // that do not touch the KV table, so `?index=101` means what it meant there.
    for (let batch = 0; batch < 110; batch += 10) {
      const writes = Array.from({ length: 10 }, (_, i) =>
        fetch(`http://127.0.0.1:${agent.httpPort}/v1/catalog/register`, {
          method: 'PUT',
          body: JSON.stringify({ Node: `history${i}`, Address: '10.0.0.1', NodeMeta: { n: String(batch) } }),
        }),
      );
      for (const r of await Promise.all(writes)) expect(r.status).toBe(200);
    }
    const stillEmpty = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/kv/?recurse`);
    expect([stillEmpty.status, stillEmpty.headers.get('x-consul-index')]).toEqual([404, '1']);

    // 2. Store three values.
    expect((await sh("curl -X PUT -d 'soft.dog' http://localhost:8500/v1/kv/web/key1")).stdout).toBe('true');
    expect((await sh("curl -X PUT -d 'soft.dog' http://localhost:8500/v1/kv/web/key2?flags=42")).stdout).toBe('true');
    expect((await sh("curl -X PUT -d 'soft.dog' http://localhost:8500/v1/kv/web/sub/key3")).stdout).toBe('true');
    const all = JSON.parse((await sh('curl http://localhost:8500/v1/kv/?recurse')).stdout) as Entry[];
    expect(shape(all)).toEqual([
      { LockIndex: 0, Key: 'web/key1', Flags: 0, Value: 'c29mdC5kb2c=' },
      { LockIndex: 0, Key: 'web/key2', Flags: 42, Value: 'c29mdC5kb2c=' },
      { LockIndex: 0, Key: 'web/sub/key3', Flags: 0, Value: 'c29mdC5kb2c=' },
    ]);
    for (const e of all) expect(e.ModifyIndex).toBe(e.CreateIndex);
    expect(all[0]!.CreateIndex).toBeLessThan(all[1]!.CreateIndex);
    expect(all[1]!.CreateIndex).toBeLessThan(all[2]!.CreateIndex);

    // 3. One key.
    const key2 = JSON.parse((await sh('curl http://localhost:8500/v1/kv/web/key2')).stdout) as Entry[];
    expect(shape(key2)).toEqual([{ LockIndex: 0, Key: 'web/key2', Flags: 42, Value: 'c29mdC5kb2c=' }]);
    expect(key2[0]!.ModifyIndex).toBeGreaterThan(101);

    // 4. Delete a subtree.
    expect((await sh('curl -X DELETE  http://localhost:8500/v1/kv/web/sub?recurse')).stdout).toBe('true');
    const afterDelete = JSON.parse((await sh('curl http://localhost:8500/v1/kv/web?recurse')).stdout) as Entry[];
    expect(afterDelete.map((e) => e.Key)).toEqual(['web/key1', 'web/key2']);

    // 5. Update: the ModifyIndex rises, the CreateIndex stays.
    const before = (JSON.parse((await sh('curl http://localhost:8500/v1/kv/web/key1')).stdout) as Entry[])[0]!;
    expect((await sh("curl -X PUT -d 'great' http://localhost:8500/v1/kv/web/key1")).stdout).toBe('true');
    const updated = (JSON.parse((await sh('curl http://localhost:8500/v1/kv/web/key1')).stdout) as Entry[])[0]!;
    expect(updated).toMatchObject({
      LockIndex: 0,
      Key: 'web/key1',
      Flags: 0,
      Value: 'Z3JlYXQ=',
      CreateIndex: before.CreateIndex,
    });
    expect(updated.ModifyIndex).toBeGreaterThan(before.ModifyIndex);

    // 6. Check-and-set with the index just read (the seed's 1061): true, then false.
    // The seed rewrites the same value ('great'); Consul 0.6.4 bumped ModifyIndex anyway, so its
    // second CAS was false. Whether an identical write bumps the index is checked on its own below.
    const cas = `curl -X PUT -d 'great' http://localhost:8500/v1/kv/web/key1?cas=${updated.ModifyIndex}`;
    expect((await sh(cas)).stdout).toBe('true');
    const afterCas = (JSON.parse((await sh('curl  http://localhost:8500/v1/kv/web/key1')).stdout) as Entry[])[0]!;
    expect((await sh(cas)).stdout).toBe(afterCas.ModifyIndex === updated.ModifyIndex ? 'true' : 'false');
    // A changed value always moves the index, so the same CAS then fails, as the seed shows.
    const casNew = `curl -X PUT -d 'greater' http://localhost:8500/v1/kv/web/key1?cas=${afterCas.ModifyIndex}`;
    expect((await sh(casNew)).stdout).toBe('true');
    expect((await sh(casNew)).stdout).toBe('false');
    expect((await sh("curl -X PUT -d 'great' http://localhost:8500/v1/kv/web/key1?cas=1061")).stdout).toBe('false');

    // 7. Blocking: index 101 is behind key2's ModifyIndex → at once; 10001 is ahead → waits out 5 s.
    const fast = await sh('time curl "http://localhost:8500/v1/kv/web/key2?index=101&wait=5s"');
    expect(shape(JSON.parse(fast.stdout) as Entry[])).toEqual([
      { LockIndex: 0, Key: 'web/key2', Flags: 42, Value: 'c29mdC5kb2c=' },
    ]);
    expect(fast.stderr).toMatch(/real\s+0m0\.\d+s/);
    expect(fast.ms).toBeLessThan(1500);
    const slow = await sh('time curl "http://localhost:8500/v1/kv/web/key2?index=10001&wait=5s"');
    expect(shape(JSON.parse(slow.stdout) as Entry[])).toEqual([
      { LockIndex: 0, Key: 'web/key2', Flags: 42, Value: 'c29mdC5kb2c=' },
    ]);
    // 5 s plus up to 5/16 s of jitter (the seed measured 5.138 s).
    expect(slow.stderr).toMatch(/real\s+0m5\.\d+s/);
    expect(slow.ms).toBeGreaterThanOrEqual(4900);
    expect(slow.ms).toBeLessThan(5000 + 5000 / 16 + 1500);
  }, 60_000);

  // The store follows Consul 0.6.4, the seed's version, here: every write moves ModifyIndex, even an
  // identical rewrite (seed: 1061 -> 1076 on 'great' -> 'great', then cas=1061 -> false). Consul >= 1.7
  // skips identical writes; see identicalWriteKeepsModifyIndex in core/store/kv.ts.
  it('seed CAS on an identical value: the second curl ...?cas=N answers false (Consul 0.6.4)', async () => {
    await sh("curl -X PUT -d 'great' http://localhost:8500/v1/kv/web/same");
    const index = (JSON.parse((await sh('curl http://localhost:8500/v1/kv/web/same')).stdout) as Entry[])[0]!
      .ModifyIndex;
    expect((await sh(`curl -X PUT -d 'great' http://localhost:8500/v1/kv/web/same?cas=${index}`)).stdout).toBe('true');
    expect((await sh(`curl -X PUT -d 'great' http://localhost:8500/v1/kv/web/same?cas=${index}`)).stdout).toBe('false');
  });

  it('dig @127.0.0.1 -p 8600 a2.node.consul / a2.node.dc1.consul / a1.node.dc1.consul', async () => {
    // The seed's a1 is another machine; here it is a catalog node with the seed's address.
    const r = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/catalog/register`, {
      method: 'PUT',
      body: JSON.stringify({ Node: 'a1', Address: '192.168.100.104' }),
    });
    expect(r.status).toBe(200);
    const cases: [string, string][] = [
      ['a2.node.consul', '127.0.0.1'],
      ['a2.node.dc1.consul', '127.0.0.1'],
      ['a1.node.dc1.consul', '192.168.100.104'],
    ];
    for (const [name, address] of cases) {
      // The real dig, as the seed ran it.
      const out = (await sh(`dig @127.0.0.1 -p 8600 ${name}`)).stdout;
      expect(out).toMatch(/status: NOERROR/);
      expect(out).toMatch(/flags: qr aa rd;/);
      expect(out).toMatch(/ANSWER: 1, AUTHORITY: 0/);
      expect(out).toMatch(
        new RegExp(`^${name.replace(/\./g, '\\.')}\\.\\s+0\\s+IN\\s+A\\s+${address.replace(/\./g, '\\.')}$`, 'm'),
      );
      // And our dns-packet client over UDP and TCP.
      for (const transport of ['udp', 'tcp'] as const) {
        const { packet } = await dig(name, 'A', { host: '127.0.0.1', port: agent.dnsPort, transport });
        expect(
          (packet.answers ?? []).map((a) => [(a as { ttl?: number }).ttl, (a as { data?: unknown }).data]),
        ).toEqual([[0, address]]);
      }
    }
    const missing = (await sh('dig @127.0.0.1 -p 8600 a3.node.consul')).stdout;
    expect(missing).toMatch(/status: NXDOMAIN/);
    expect(missing).toMatch(/AUTHORITY SECTION:\s*\nconsul\.\s+0\s+IN\s+SOA\s+ns\.consul\. postmaster\.consul\./);
  });
});
