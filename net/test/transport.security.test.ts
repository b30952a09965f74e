/**
 * Transport security (issue 14 §1–2), on real sockets on 127.0.0.1:
 *  - the keyring: key sizes, Consul's rules (the primary cannot be removed, only installed keys are
 *    used), the file round trip, AES-GCM seal/open with a flipped byte or a foreign key refused;
 *  - gossip encryption between transports: same key delivers (datagram and stream), a foreign key or
 *    a plain frame is dropped and counted as unauthenticated, never delivered; a rotation (install,
 *    use) keeps two members talking, and a member without the new key is cut off;
 *  - TLS on streams: mutual TLS delivers; a plain connection, a TLS client without a certificate, or
 *    one signed by another CA is refused at the handshake; verify_server_hostname refuses a server
 *    whose certificate does not name server.<dc>.<domain>;
 *  - identity binding: a frame whose claimed sender is refused by `admit` is dropped, counted, logged
 *    once.
 */
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCa, createLeaf, type Pem } from '../tls/issue.js';
import { encodeFrame } from '../transport/frame.js';
import { decodeKey, generateKey, Keyring, KeyringError, readKeyringFile } from '../transport/keyring.js';
import { listenSocketTransport, type SocketTransportOptions, type TransportTls } from '../transport/socket.js';
import type { Transport } from '../transport/types.js';

const open: Transport[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function transport(options: Partial<SocketTransportOptions> = {}, logs: string[] = []) {
  for (let attempt = 0; ; attempt++) {
    try {
      const t = await listenSocketTransport({
        bindHost: '127.0.0.1',
        port: 0,
        udp: true,
        log: (_level, text) => logs.push(text),
        reconnectDelayMsMin: 20,
        reconnectDelayMsMax: 100,
        ...options,
      });
      open.push(t);
      const inbox: { from: string; body: unknown; channel: string }[] = [];
      t.onReceive = (from, body, channel) => inbox.push({ from, body, channel });
      return { t, inbox, logs };
    } catch (error) {
      if (attempt > 20) throw error; // port 0 picked a TCP port whose UDP twin is taken: retry
    }
  }
}

async function until(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const ring = (keys: string[], verifyIncoming = true, verifyOutgoing = true) =>
  new Keyring(keys.map(decodeKey), { verifyIncoming, verifyOutgoing, file: null });

describe('keyring', () => {
  it('takes base64 keys of 16, 24 or 32 bytes only', () => {
    for (const bytes of [16, 24, 32]) expect(decodeKey(Buffer.alloc(bytes, 7).toString('base64')).length).toBe(bytes);
    for (const bad of [Buffer.alloc(15).toString('base64'), Buffer.alloc(33).toString('base64'), 'not base64!', ''])
      expect(() => decodeKey(bad)).toThrow(KeyringError);
    expect(decodeKey(generateKey()).length).toBe(32);
  });

  it("follows Consul's rules: install, use an installed key, never remove the primary", () => {
    const [k1, k2, k3] = [generateKey(), generateKey(), generateKey()];
    const r = ring([k1]);
    expect(() => r.use(k2)).toThrow('Requested key is not in the keyring');
    r.install(k2);
    r.install(k2); // idempotent
    expect(r.list()).toEqual([k1, k2]);
    expect(() => r.remove(k1)).toThrow('Removing the primary key is not allowed');
    r.use(k2);
    expect(r.list()).toEqual([k2, k1]);
    r.remove(k1);
    r.remove(k3); // absent: fine, as in Serf
    expect(r.list()).toEqual([k2]);
  });

  it('persists to serf/local.keyring (primary first) and reopens from it, ignoring -encrypt', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyring-'));
    const file = path.join(dir, 'serf', 'local.keyring');
    const [k1, k2] = [generateKey(), generateKey()];
    const { keyring } = Keyring.open(k1, { verifyIncoming: true, verifyOutgoing: true, file });
    keyring!.install(k2);
    keyring!.use(k2);
    expect(readKeyringFile(file).map((k) => k.toString('base64'))).toEqual([k2, k1]);
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('600');
    const again = Keyring.open(generateKey(), { verifyIncoming: true, verifyOutgoing: true, file });
    expect(again.fromFile).toBe(true);
    expect(again.keyring!.list()).toEqual([k2, k1]);
    fs.rmSync(dir, { recursive: true });
  });

  it('seals with AES-GCM: a flipped byte, another header or a foreign key is refused', () => {
    const k = generateKey();
    const r = ring([k]);
    const header = Buffer.from([0, 0, 0, 9, 0x81]);
    const sealed = r.seal(header, Buffer.from('hello'));
    expect(r.open(header, sealed)?.toString()).toBe('hello');
    for (let i = 0; i < sealed.length; i++) {
      const bad = Buffer.from(sealed);
      bad[i]! ^= 1;
      expect(r.open(header, bad)).toBeNull();
    }
    expect(r.open(Buffer.from([0, 0, 0, 8, 0x81]), sealed)).toBeNull();
    expect(ring([generateKey()]).open(header, sealed)).toBeNull();
    expect(ring([generateKey(), k]).open(header, sealed)?.toString()).toBe('hello'); // any key of the ring
  });
});

describe('gossip encryption between transports', () => {
  it('delivers between members with the key; drops foreign-key and plain frames, counted, never delivered', async () => {
    const key = generateKey();
    const a = await transport({ sealer: ring([key]) });
    const b = await transport({ sealer: ring([key]) });
    const stranger = await transport({ sealer: ring([generateKey()]) });
    const plain = await transport();
    a.t.send(b.t.address, { n: 1 }, 'datagram');
    a.t.send(b.t.address, { n: 2 }, 'stream');
    await until(() => b.inbox.length === 2, 'both frames');
    expect(b.inbox.map((m) => m.body)).toEqual(expect.arrayContaining([{ n: 1 }, { n: 2 }]));
    stranger.t.send(b.t.address, { evil: 1 }, 'datagram');
    stranger.t.send(b.t.address, { evil: 2 }, 'stream');
    plain.t.send(b.t.address, { evil: 3 }, 'datagram');
    plain.t.send(b.t.address, { evil: 4 }, 'stream');
    await until(() => b.t.stats.framesUnauthenticated === 4, 'four unauthenticated frames');
    expect(b.inbox).toHaveLength(2);
    expect(b.logs.join('\n')).toMatch(/dropped an unauthenticated (datagram|stream) frame/);
  });

  it('encrypt_verify_incoming=false accepts plain frames too; verify_outgoing=false sends plain', async () => {
    const key = generateKey();
    const rolling = await transport({ sealer: ring([key], false, false) });
    const plain = await transport();
    plain.t.send(rolling.t.address, 'plain in', 'datagram');
    rolling.t.send(plain.t.address, 'plain out', 'datagram');
    await until(() => rolling.inbox.length === 1 && plain.inbox.length === 1, 'both ways');
  });

  it('a rotation keeps members talking; a member without the new key is cut off', async () => {
    const [k1, k2] = [generateKey(), generateKey()];
    const ra = ring([k1]);
    const rb = ring([k1]);
    const a = await transport({ sealer: ra });
    const b = await transport({ sealer: rb });
    ra.install(k2);
    rb.install(k2);
    ra.use(k2); // a seals with k2, b still opens it: k2 is installed there
    a.t.send(b.t.address, 'after use', 'datagram');
    await until(() => b.inbox.length === 1, 'frame under the new primary');
    rb.use(k2);
    ra.remove(k1);
    rb.remove(k1);
    const old = await transport({ sealer: ring([k1]) });
    old.t.send(b.t.address, 'old key', 'datagram');
    await until(() => b.t.stats.framesUnauthenticated === 1, 'the old key refused');
    expect(b.inbox).toHaveLength(1);
  });
});

describe('TLS on streams', () => {
  let ca: Pem;
  let server: Pem;
  let client: Pem;
  let otherCa: Pem;
  let foreign: Pem;
  beforeAll(async () => {
    ca = await createCa({ domain: 'consul' });
    server = await createLeaf({ ca, kind: 'server', datacenter: 'dc1', domain: 'consul' });
    client = await createLeaf({ ca, kind: 'client', datacenter: 'dc1', domain: 'consul' });
    otherCa = await createCa({ domain: 'consul' });
    foreign = await createLeaf({ ca: otherCa, kind: 'server', datacenter: 'dc1', domain: 'consul' });
  });
  const tlsOf = (pem: Pem, verifyIncoming: boolean, serverName: string | null, caPem = ca): TransportTls => ({
    ca: Buffer.from(caPem.certPem),
    cert: Buffer.from(pem.certPem),
    key: Buffer.from(pem.keyPem),
    verifyIncoming,
    verifyOutgoing: true,
    serverName,
    outgoingPort: null,
  });

  it('mutual TLS delivers; plain, certificate-less and foreign-CA clients are refused at the handshake', async () => {
    const b = await transport({ udp: false, tls: tlsOf(server, true, null) });
    const a = await transport({ udp: false, tls: tlsOf(server, false, 'server.dc1.consul') });
    a.t.send(b.t.address, 'over tls', 'stream');
    await until(() => b.inbox.length === 1, 'the TLS frame');

    const [host, port] = [b.t.address.split(':')[0]!, Number(b.t.address.split(':')[1])];
    const closed: string[] = [];
    // A plain frame (a forged Raft append) on the TLS port.
    await new Promise<void>((resolve) => {
      const s = net.connect({ host, port }, () => s.write(encodeFrame('127.0.0.1:1', { m: 'raft', p: {} })));
      s.on('close', () => (closed.push('plain'), resolve()));
      s.on('error', () => undefined);
      setTimeout(() => (s.destroy(), resolve()), 3000);
    });
    // TLS without a client certificate, and with one from another CA.
    for (const options of [
      { ca: ca.certPem },
      { ca: ca.certPem, cert: foreign.certPem, key: foreign.keyPem },
    ] as tls.ConnectionOptions[]) {
      await new Promise<void>((resolve) => {
        const s = tls.connect({ host, port, ...options, checkServerIdentity: () => undefined }, () =>
          s.write(encodeFrame('127.0.0.1:1', { m: 'raft', p: {} })),
        );
        s.on('close', () => (closed.push('tls'), resolve()));
        s.on('error', () => undefined);
        setTimeout(() => (s.destroy(), resolve()), 3000);
      });
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(closed).toEqual(['plain', 'tls', 'tls']); // each closed by the server, not by our timer
    expect(b.inbox, JSON.stringify(b.inbox) + b.logs.join('\n')).toHaveLength(1);
    expect(b.logs.join('\n')).toContain('refused a plain connection');
    expect(b.logs.join('\n')).toContain('TLS handshake with');
  });

  it('with gossip encryption too, frames on mutual TLS are not sealed again; a plain frame on TLS without a verified certificate is refused', async () => {
    const key = generateKey();
    const [ra, rb] = [ring([key]), ring([key])];
    const b = await transport({ udp: false, sealer: rb, tls: tlsOf(server, true, null) });
    const a = await transport({ udp: false, sealer: ra, tls: tlsOf(server, true, 'server.dc1.consul') });
    a.t.send(b.t.address, 'over mutual tls', 'stream');
    await until(() => b.inbox.length === 1, 'the TLS frame');
    expect(ra.stats.sealed).toBe(0); // TLS alone carried it
    // A receiver that does not require certificates: a TLS client without one gets through the
    // handshake, but its plain frame is not authenticated by anything and is dropped.
    const c = await transport({ udp: false, sealer: ring([key]), tls: tlsOf(server, false, null) });
    const [host, port] = [c.t.address.split(':')[0]!, Number(c.t.address.split(':')[1])];
    await new Promise<void>((resolve) => {
      const s = tls.connect({ host, port, ca: ca.certPem, checkServerIdentity: () => undefined }, () =>
        s.write(encodeFrame('127.0.0.1:1', { m: 'raft', p: {} }), () =>
          setTimeout(() => (s.destroy(), resolve()), 200),
        ),
      );
      s.on('error', () => resolve());
    });
    await until(() => c.t.stats.framesUnauthenticated === 1, 'the plain frame dropped');
    expect(c.inbox).toHaveLength(0);
  });

  it('verify_server_hostname: a server whose certificate is not server.<dc>.<domain> is refused', async () => {
    const b = await transport({ udp: false, tls: tlsOf(client, false, null) }); // serves a client certificate
    const logs: string[] = [];
    const a = await transport({ udp: false, tls: tlsOf(client, false, 'server.dc1.consul') }, logs);
    a.t.send(b.t.address, 'to a pretend server', 'stream');
    await until(() => logs.some((l) => l.includes('failed')), 'the refused connection');
    expect(logs.join('\n')).toMatch(/server\.dc1\.consul/);
    expect(b.inbox).toHaveLength(0);
  });

  it('outgoing connections and datagrams leave from the -bind address, not 127.0.0.1 (issue 14)', async () => {
    // Before, outgoing RPC connections came from 127.0.0.1 whatever -bind said, so a receiver binding the
    // claimed sender to the peer's address (the identity binding below) could not tell members apart.
    // Two transports on their own loopback addresses: what b sees as the peer's IP is a's -bind address,
    // on the stream channel (TCP; with TLS too) and the datagram channel (UDP). Checked to fail with the
    // dialler's localAddress removed (net/transport/socket.ts): the stream then comes from 127.0.0.1.
    for (const tls of [null, tlsOf(server, true, 'server.dc1.consul')]) {
      const seen: { channel: string; remoteIp: string }[] = [];
      const b = await transport({
        bindHost: '127.0.31.3',
        tls,
        admit: (_claimed, _body, peer) => {
          seen.push({ channel: peer.channel, remoteIp: peer.remoteIp });
          return true;
        },
      });
      const a = await transport({ bindHost: '127.0.31.2', tls });
      a.t.send(b.t.address, { m: 'raft', p: 'stream' }, 'stream');
      a.t.send(b.t.address, { m: 'swim', p: 'datagram' }, 'datagram');
      await until(() => b.inbox.length === 2, `both frames delivered (${tls ? 'TLS' : 'plain'})`);
      expect(seen.map((x) => x.channel).sort()).toEqual(['datagram', 'stream']);
      expect(seen.map((x) => x.remoteIp)).toEqual(['127.0.31.2', '127.0.31.2']);
    }
  });

  it('identity binding: a frame whose claimed sender the peer is not is dropped, counted and logged once', async () => {
    const logs: string[] = [];
    const b = await transport({ admit: (claimed, _body, peer) => claimed.startsWith(`${peer.remoteIp}:`) }, logs);
    const udp = dgram.createSocket('udp4');
    const [host, port] = [b.t.address.split(':')[0]!, Number(b.t.address.split(':')[1])];
    for (let i = 0; i < 3; i++)
      await new Promise<void>((r) =>
        udp.send(encodeFrame('10.9.9.9:8301', { m: 'raft', p: i }), port, host, () => r()),
      );
    await new Promise<void>((r) => udp.send(encodeFrame('127.0.0.1:8301', 'me'), port, host, () => r()));
    udp.close();
    await until(() => b.inbox.length === 1 && b.t.stats.framesImpersonating === 3, 'three dropped, one delivered');
    expect(logs.filter((l) => l.includes('claiming to be 10.9.9.9:8301'))).toHaveLength(1);
  });
});
