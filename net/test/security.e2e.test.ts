/**
 * Issue 14 against real `conclave agent` processes on loopback (one IP per agent, 127.0.0.171–179):
 *
 *  1. Wire hygiene: a forged RequestVote with term 2^53 − 1 (transfer flag set, so the disregard rule
 *     does not hide it) is dropped; the term stays small and writes go on. On the pre-session code the
 *     same frame (`npx tsx net/test/attacks.ts vote IP`) put the node at term 2^53 and every write hung.
 *  2. A forged AppendEntries from a stranger: on a plain port it is applied (nothing authenticates a
 *     frame without the switches: the pre-session code did the same), with gossip encryption it is
 *     dropped as unauthenticated, with TLS (verify_incoming) the plain connection is refused at the
 *     handshake. The forged key never appears in either case.
 *  3. A holder of the gossip key (every client agent has it) without a certificate sends AppendEntries
 *     under its own id to a TLS server's gossip port (8301): refused, Raft travels on 8300 only (before,
 *     the forged key was applied).
 *  4. A rogue `agent -server` with neither the gossip key nor a certificate joins a server that has
 *     both: it never appears in `members` or `operator raft list-peers`.
 *  5. A rogue `agent -server` with the gossip key but no certificate is in `members` but never in
 *     `list-peers`; a certified server that joins after it becomes a voter.
 *  6. bootstrap-expect 3 with two certified servers and such a rogue waits for a third certified one,
 *     and the cluster forms without the rogue.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, createLeaf } from '../tls/issue.js';
import { generateKey, Keyring } from '../transport/keyring.js';
import { listenSocketTransport } from '../transport/socket.js';
import { conclave, startAgent, stopAll, until, type AgentHandle } from './agent-process.js';
import { forgedAppendEnvelopes, forgedAppends, forgedVote, raftStats, sendPlain } from './attacks.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-security-'));
const agents: AgentHandle[] = [];
let tlsConfig = '';

beforeAll(async () => {
  const ca = await createCa({ domain: 'consul' });
  const server = await createLeaf({ ca, kind: 'server', datacenter: 'dc1', domain: 'consul' });
  const write = (name: string, text: string) => {
    fs.writeFileSync(path.join(root, name), text);
    return path.join(root, name);
  };
  tlsConfig = write(
    'tls.json',
    JSON.stringify({
      ca_file: write('ca.pem', ca.certPem),
      cert_file: write('server.pem', server.certPem),
      key_file: write('server-key.pem', server.keyPem),
      verify_incoming: true,
      verify_outgoing: true,
      verify_server_hostname: true,
    }),
  );
});

afterAll(async () => {
  await stopAll(agents);
  fs.rmSync(root, { recursive: true, force: true });
});

function dev(ip: string, ...extra: string[]): AgentHandle {
  const agent = startAgent([
    '-dev',
    '-node',
    `n${ip.split('.')[3]}`,
    '-bind',
    ip,
    '-client',
    ip,
    '-dns-port',
    '-1',
    ...extra,
  ]);
  agents.push(agent);
  return agent;
}

async function ready(agent: AgentHandle, ip: string): Promise<void> {
  await agent.waitFor('Conclave agent running!');
  await until(
    async () => (await conclave(['kv', 'put', '-http-addr', `${ip}:8500`, 'ready', 'yes'])).code === 0,
    30_000,
    `a leader on ${ip}`,
  );
}

const kvGet = (ip: string, key: string) => conclave(['kv', 'get', '-http-addr', `${ip}:8500`, key]);

/** A server on `bind` (HTTP there too, no DNS) with gossip encryption under `key`, its data in `root`. */
function encryptedServerArgs(name: string, bind: string, key: string, ...extra: string[]): string[] {
  return [
    '-server',
    '-node',
    name,
    '-data-dir',
    path.join(root, name),
    '-bind',
    bind,
    '-client',
    bind,
    '-dns-port',
    '-1',
    '-encrypt',
    key,
    ...extra,
  ];
}

describe('security against real processes (issue 14)', () => {
  it('drops a forged vote of term 2^53 − 1; a forged append is applied only while nothing authenticates frames', async () => {
    const ip = '127.0.0.171';
    const agent = dev(ip);
    await ready(agent, ip);
    const before = await raftStats(`${ip}:8500`);
    await sendPlain(ip, 8300, [forgedVote('127.0.0.66:8301', 2 ** 53 - 1)]);
    await agent.waitFor('is more than 2^32 past ours');
    expect((await conclave(['kv', 'put', '-http-addr', `${ip}:8500`, 'after-vote', 'ok'])).code).toBe(0);
    expect((await raftStats(`${ip}:8500`)).term).toBeLessThan(before.term + 10);

    // Without encryption or TLS the receiver trusts the sender id in the frame: the switches exist for this.
    const now = await raftStats(`${ip}:8500`);
    await sendPlain(ip, 8300, forgedAppends('127.0.0.66:8301', now.term, now.applied, 'forged', 'by-a-stranger'));
    const got = await until(async () => ((await kvGet(ip, 'forged')).code === 0 ? true : null), 10_000, 'forged key');
    expect(got).toBe(true);
  }, 90_000);

  it('with gossip encryption, a forged append is dropped as unauthenticated', async () => {
    const ip = '127.0.0.172';
    const agent = dev(ip, '-encrypt', generateKey());
    await ready(agent, ip);
    const now = await raftStats(`${ip}:8500`);
    await sendPlain(ip, 8300, forgedAppends('127.0.0.66:8301', now.term, now.applied, 'forged', 'x'));
    await agent.waitFor('dropped an unauthenticated stream frame');
    await new Promise((r) => setTimeout(r, 500));
    expect((await kvGet(ip, 'forged')).code).toBe(1);
    expect((await raftStats(`${ip}:8500`)).term).toBe(now.term);
  }, 90_000);

  it('with TLS (verify_incoming), a forged plain frame is refused at the handshake', async () => {
    const ip = '127.0.0.173';
    const agent = dev(ip, '-config-file', tlsConfig);
    await ready(agent, ip);
    expect(agent.output()).toContain('RPC-TLS: true, TLS-Incoming: true');
    const now = await raftStats(`${ip}:8500`);
    const outcome = await sendPlain(
      ip,
      8300,
      forgedAppends('127.0.0.66:8301', now.term, now.applied, 'forged', 'x'),
      2000,
    );
    expect(outcome).toBe('closed');
    await agent.waitFor('refused a plain connection');
    expect((await kvGet(ip, 'forged')).code).toBe(1);
  }, 90_000);

  it('a holder of the gossip key without a certificate cannot speak Raft through the gossip port', async () => {
    // Raft travels only on the server port (8300), where TLS with verify_incoming and verify_server_hostname
    // asks for a server certificate. The gossip port (8301) takes frames sealed with the gossip key, which
    // every client agent holds. A frame for Raft arriving there is refused whoever sealed it: before, a
    // leaked key let anyone send AppendEntries under its own id and have them applied.
    const ip = '127.0.0.174';
    const key = generateKey();
    const agent = dev(ip, '-encrypt', key, '-config-file', tlsConfig);
    await ready(agent, ip);
    const now = await raftStats(`${ip}:8500`);
    const { keyring } = Keyring.open(key, { verifyIncoming: true, verifyOutgoing: true, file: null });
    const rogue = await listenSocketTransport({
      bindHost: '127.0.0.177',
      port: 0,
      udp: true,
      log: () => undefined,
      sealer: keyring,
    });
    try {
      for (const envelope of forgedAppendEnvelopes(now.term, now.applied, 'forged', 'by-a-key-holder'))
        rogue.send(`${ip}:8301`, envelope, 'stream');
      // Either outcome ends the wait: the refusal logged, or (the old code) the forged key applied.
      await until(
        async () => agent.output().includes('arrived on the gossip port') || (await kvGet(ip, 'forged')).code === 0,
        30_000,
        'the forged appends refused or applied',
      );
      expect((await kvGet(ip, 'forged')).code).toBe(1);
      expect((await raftStats(`${ip}:8500`)).term).toBe(now.term);
    } finally {
      await rogue.close();
    }
  }, 90_000);

  it('a rogue server with neither the gossip key nor a certificate never becomes a member or a Raft peer', async () => {
    const ip = '127.0.0.175';
    const key = generateKey();
    const server = startAgent([
      '-server',
      '-bootstrap',
      '-node',
      'good',
      '-data-dir',
      path.join(root, 'good'),
      '-bind',
      ip,
      '-client',
      ip,
      '-dns-port',
      '-1',
      '-encrypt',
      key,
      '-config-file',
      tlsConfig,
    ]);
    agents.push(server);
    await ready(server, ip);
    expect(fs.readFileSync(path.join(root, 'good', 'serf', 'local.keyring'), 'utf8')).toContain(key);
    const rogue = startAgent([
      '-server',
      '-node',
      'evil',
      '-data-dir',
      path.join(root, 'evil'),
      '-bind',
      '127.0.0.179',
      '-client',
      '127.0.0.179',
      '-dns-port',
      '-1',
      '-join',
      ip,
    ]);
    agents.push(rogue);
    await rogue.waitFor('Conclave agent running!');
    await server.waitFor('dropped an unauthenticated', 20_000);
    await new Promise((r) => setTimeout(r, 3000));
    const members = await conclave(['members', '-http-addr', `${ip}:8500`]);
    expect(members.stdout).toContain('good');
    expect(members.stdout).not.toContain('evil');
    const peers = await conclave(['operator', 'raft', 'list-peers', '-http-addr', `${ip}:8500`]);
    expect(peers.code).toBe(0);
    expect(peers.stdout).toContain('good');
    expect(peers.stdout).not.toContain('evil');
    expect(peers.stdout).not.toContain('127.0.0.179');
  }, 120_000);
  it('a rogue server with a leaked gossip key but no certificate never appears in list-peers; a certified server joins', async () => {
    // The gossip key is on every client agent too, so it leaks more easily than a server certificate. With it
    // the rogue is a gossip member (`members` shows it, as Consul would). But with verify_incoming a server
    // joins Raft only after it introduced itself on the server port (core/agent/hello.ts), where mutual TLS
    // refuses a peer without a CA-signed certificate: the leader says it will not add the rogue, and list-peers
    // never shows it, while a server with a certificate, joining after it, is added and promoted to voter.
    // Before (b8aa082) the leader added the rogue as a learner at once (list-peers: `evil2 … follower false`).
    const ip = '127.0.0.176';
    const key = generateKey();
    const serverArgs = (name: string, bind: string, ...extra: string[]) =>
      encryptedServerArgs(name, bind, key, ...extra);
    const server = startAgent(serverArgs('good2', ip, '-bootstrap', '-config-file', tlsConfig));
    agents.push(server);
    await ready(server, ip);
    await conclave(['kv', 'put', '-http-addr', `${ip}:8500`, 'secret', 's3cret']);
    const peersText = async () => {
      const peers = await conclave(['operator', 'raft', 'list-peers', '-http-addr', `${ip}:8500`]);
      expect(peers.code).toBe(0);
      expect(peers.stdout).not.toContain('evil2');
      expect(peers.stdout).not.toContain('127.0.0.178');
      return peers.stdout;
    };
    const rogue = startAgent(serverArgs('evil2', '127.0.0.178', '-join', ip));
    agents.push(rogue);
    await rogue.waitFor('Conclave agent running!');
    await until(
      async () => ((await conclave(['members', '-http-addr', `${ip}:8500`])).stdout.includes('evil2') ? true : null),
      60_000,
      'the rogue in members (it holds the gossip key)',
    );
    await server.waitFor('not adding server evil2 to raft', 60_000);
    await peersText();

    const certified = startAgent(serverArgs('good3', '127.0.0.177', '-join', ip, '-config-file', tlsConfig));
    agents.push(certified);
    const peers = await until(
      async () => {
        const text = await peersText();
        const line = text.split('\n').find((l) => l.startsWith('good3 '));
        return line !== undefined && /\btrue\b/.test(line) ? text : null;
      },
      90_000,
      'the certified server good3 a voter',
    );
    expect(server.output()).toContain('server 127.0.0.177:8301 introduced itself on the server port');
    // The rogue is still a member, still not a peer; the cluster keeps working.
    expect((await conclave(['members', '-http-addr', `${ip}:8500`])).stdout).toContain('evil2');
    await peersText();
    const put = await until(
      async () => ((await conclave(['kv', 'put', '-http-addr', `${ip}:8500`, 'after', 'ok'])).code === 0 ? true : null),
      30_000,
      'a write with two voters',
    );
    expect(put).toBe(true);
    const leaked = await fetch('http://127.0.0.178:8500/v1/kv/secret?stale', { signal: AbortSignal.timeout(5000) })
      .then((r) => r.status)
      .catch(() => 'unreachable');
    expect(leaked).not.toBe(200);
    console.log(`list-peers with the key-only rogue in members:\n${peers}\nrogue's stale read of secret: ${leaked}`);
  }, 240_000);

  it('bootstrap-expect 3 does not count a key-only rogue: the cluster forms with the third certified server', async () => {
    // Gossip tags alone used to make a founding voter: with two servers up and a rogue holding the leaked key,
    // bootstrap-expect 3 saw three servers and bootstrapped with the rogue (the simulator's agent/rogue-server
    // scenario found it: a voter at 3 ms). Counted now are only servers that introduced themselves on the
    // server port, which needs a certificate: the two wait; the third certified server completes the set.
    const key = generateKey();
    const ips = ['127.0.0.181', '127.0.0.182', '127.0.0.183'];
    const args = (name: string, bind: string, ...extra: string[]) => [
      ...encryptedServerArgs(name, bind, key),
      '-retry-join',
      ips[0]!,
      '-retry-join',
      ips[1]!,
      '-retry-interval',
      '1s',
      ...extra,
    ];
    const start = (name: string, bind: string, ...extra: string[]) => {
      const agent = startAgent(args(name, bind, ...extra));
      agents.push(agent);
      return agent;
    };
    const s1 = start('b1', ips[0]!, '-bootstrap-expect', '3', '-config-file', tlsConfig);
    start('b2', ips[1]!, '-bootstrap-expect', '3', '-config-file', tlsConfig);
    const rogue = start('evil3', '127.0.0.184', '-bootstrap-expect', '3');
    await rogue.waitFor('Conclave agent running!');
    const members = () => conclave(['members', '-http-addr', `${ips[0]}:8500`]);
    await until(
      async () => ((await members()).stdout.includes('evil3') && (await members()).stdout.includes('b2') ? true : null),
      60_000,
      'b1, b2 and the rogue in members',
    );
    // Three servers in gossip, two of them certified: no bootstrap (before, b1 bootstrapped with the rogue here).
    await new Promise((r) => setTimeout(r, 3000));
    expect(s1.output()).not.toContain('bootstrapped a cluster');
    start('b3', ips[2]!, '-bootstrap-expect', '3', '-config-file', tlsConfig);
    const peers = await until(
      async () => {
        const out = await conclave(['operator', 'raft', 'list-peers', '-http-addr', `${ips[0]}:8500`]);
        expect(out.stdout).not.toContain('evil3');
        const voters = out.stdout.split('\n').filter((l) => /\btrue\b/.test(l));
        return out.code === 0 && voters.length === 3 ? out.stdout : null;
      },
      90_000,
      'three certified voters',
    );
    expect(peers).toMatch(/^b1 /m);
    expect(peers).toMatch(/^b3 /m);
    expect(peers).not.toContain('evil3');
    const put = await until(
      async () =>
        (await conclave(['kv', 'put', '-http-addr', `${ips[0]}:8500`, 'formed', 'yes'])).code === 0 ? true : null,
      30_000,
      'a write on the formed cluster',
    );
    expect(put).toBe(true);
  }, 240_000);
});
