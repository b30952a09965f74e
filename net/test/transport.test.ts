/**
 * Runs the shared conformance suite against the real sockets (UDP + TCP on 127.0.0.1, ports picked by
 * the OS and reused on restart) and the in-memory twin, then socket-only cases: the bounded queue
 * and the frame reader split across arbitrary chunk boundaries.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameReader } from '../transport/frame.js';
import { MemoryNetwork } from '../transport/memory.js';
import { listenSocketTransport } from '../transport/socket.js';
import type { Transport } from '../transport/types.js';
import { transportConformance, type TransportFixture } from './transport.conformance.js';

function socketFixture(): TransportFixture {
  const ports = new Map<number, number>();
  const open: Transport[] = [];
  return {
    async open(slot, log) {
      for (let attempt = 0; ; attempt++) {
        try {
          const t = await listenSocketTransport({
            bindHost: '127.0.0.1',
            port: ports.get(slot) ?? 0,
            udp: true,
            log,
            reconnectDelayMsMin: 20,
            reconnectDelayMsMax: 100,
          });
          ports.set(slot, Number(t.address.split(':')[1]));
          open.push(t);
          return t;
        } catch (error) {
          // Port 0 picks a free TCP port whose UDP twin may be taken: try another.
          if (attempt > 20 || ports.has(slot)) throw error;
        }
      }
    },
    deadAddress: () => '127.0.0.1:1',
    async sendRaw(to, bytes, channel) {
      const [host, port] = [to.split(':')[0]!, Number(to.split(':')[1])];
      if (channel === 'datagram') {
        const s = dgram.createSocket('udp4');
        await new Promise<void>((r) => s.send(bytes, port, host, () => r()));
        s.close();
        return;
      }
      await new Promise<void>((resolve) => {
        const s = net.connect({ host, port }, () => s.end(bytes, () => resolve()));
        s.on('error', () => resolve());
      });
    },
    async cleanup() {
      await Promise.all(open.map((t) => t.close()));
    },
  };
}

function memoryFixture(): TransportFixture {
  const network = new MemoryNetwork();
  const open: Transport[] = [];
  return {
    async open(slot, log) {
      const t = network.listen(`10.0.0.${slot + 1}:8301`, log);
      open.push(t);
      return t;
    },
    deadAddress: () => '10.9.9.9:8301',
    async sendRaw(to, bytes, channel) {
      network.injectRaw(to, bytes, channel);
    },
    async cleanup() {
      await Promise.all(open.map((t) => t.close()));
    },
  };
}

transportConformance('sockets', socketFixture);
transportConformance('memory twin', memoryFixture);

describe('socket transport limits', () => {
  it('bounds the bytes queued for one peer and counts the dropped frames', async () => {
    // A peer that accepts but never reads: the kernel buffers fill, then our queue bound kicks in.
    const sink = net.createServer((s) => s.pause());
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
    const port = (sink.address() as net.AddressInfo).port;
    const t = await listenSocketTransport({
      bindHost: '127.0.0.1',
      port: 0,
      udp: false,
      log: () => {},
      queueBytesMax: 1024 * 1024,
    });
    try {
      const chunk = new Uint8Array(64 * 1024);
      for (let i = 0; i < 400; i++) {
        t.send(`127.0.0.1:${port}`, chunk, 'stream');
        if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      expect(t.stats.framesDropped).toBeGreaterThan(0);
      expect(t.stats.framesSent + t.stats.framesDropped).toBe(400);
    } finally {
      await t.close();
      sink.close();
    }
  });
});

describe('socket transport reconnects', () => {
  it('a frame sent as soon as an established connection is reset goes out on a new connection, not dropped', async () => {
    // What the agent does on linkDown (core/agent/rpc.ts resendReplies): it sends the replies that were
    // lost with the connection again at once. Before, a broken connection started the redial backoff
    // and dropped exactly those frames (found by net/test/conn-reset.e2e.test.ts: reads answered
    // "rpc error: timeout"). A peer that resets its first connection after reading a frame from it:
    const received: number[] = []; // bytes read per incoming connection
    const sink = net.createServer((socket) => {
      const slot = received.push(0) - 1;
      socket.on('data', (chunk: Buffer) => {
        received[slot]! += chunk.length;
        if (slot === 0) setTimeout(() => socket.resetAndDestroy(), 400); // an RST, after the frame
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
    const to = `127.0.0.1:${(sink.address() as net.AddressInfo).port}`;
    const t = await listenSocketTransport({
      bindHost: '127.0.0.1',
      port: 0,
      udp: false,
      log: () => {},
      // A backoff of 300 ms or more would drop the frame sent again at once; the connection lived 400 ms.
      reconnectDelayMsMin: 300,
      reconnectDelayMsMax: 1000,
    });
    const heard: string[] = [];
    t.onLinkDown = (peer) => {
      heard.push(peer);
      t.send(peer, new Uint8Array(32), 'stream'); // sent again at once, as the agent does
    };
    try {
      t.send(to, new Uint8Array(16), 'stream');
      for (let waitedMs = 0; received.length < 2 || received[1]! === 0; waitedMs += 20) {
        if (waitedMs > 10_000) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(heard).toEqual([to]);
      expect(received.length).toBe(2);
      expect(received[1]).toBeGreaterThan(0);
      expect(t.stats.framesDropped).toBe(0);
    } finally {
      t.onLinkDown = null;
      await t.close();
      sink.close();
    }
  });

  it('a dial that is refused still backs off: frames sent meanwhile are dropped and heard as linkDown', async () => {
    const t = await listenSocketTransport({
      bindHost: '127.0.0.1',
      port: 0,
      udp: false,
      log: () => {},
      reconnectDelayMsMin: 5000,
      reconnectDelayMsMax: 5000,
    });
    const heard: string[] = [];
    t.onLinkDown = (peer) => heard.push(peer);
    try {
      t.send('127.0.0.1:1', new Uint8Array(8), 'stream'); // refused: nothing listens on port 1
      for (let waitedMs = 0; heard.length === 0 && waitedMs < 10_000; waitedMs += 20)
        await new Promise((r) => setTimeout(r, 20));
      t.send('127.0.0.1:1', new Uint8Array(8), 'stream'); // within the backoff: dropped, not dialled
      for (let waitedMs = 0; heard.length < 2 && waitedMs < 10_000; waitedMs += 20)
        await new Promise((r) => setTimeout(r, 20));
      expect(heard.length).toBe(2);
      expect(t.stats.framesDropped).toBeGreaterThanOrEqual(2);
    } finally {
      t.onLinkDown = null;
      await t.close();
    }
  });
});

/**
 * msgpackr decodes a `__proto__` key as `__proto_` (its guard against prototype pollution: an object
 * from the wire never gets a chosen prototype); the expected values say the same. fast-check's
 * jsonValue generates such keys (it found this with seed -46467178).
 */
function withoutProtoKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutProtoKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k === '__proto__' ? '__proto_' : k] = withoutProtoKeys(v);
  return out;
}

describe('frame reader', () => {
  it('never lets a frame choose an object prototype (__proto__ keys arrive renamed)', () => {
    const body = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    const reader = new FrameReader();
    const [frame] = reader.push(encodeFrame('127.0.0.1:8301', body));
    const decoded = (frame as { body: Record<string, unknown> }).body;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect((decoded as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(decoded).toEqual({ __proto_: { polluted: true }, a: 1 });
  });

  it('reassembles frames split at any byte boundary', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue(), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1 }),
        (bodies, cuts) => {
          const bytes = Buffer.concat(bodies.map((b) => encodeFrame('127.0.0.1:8301', b)));
          const reader = new FrameReader();
          const out: unknown[] = [];
          let at = 0;
          for (let i = 0; at < bytes.length; i++) {
            const n = cuts[i % cuts.length]!;
            for (const f of reader.push(bytes.subarray(at, at + n))) {
              expect('error' in f).toBe(false);
              out.push((f as { body: unknown }).body);
            }
            at += n;
          }
          expect(out).toEqual(bodies.map((b) => withoutProtoKeys(JSON.parse(JSON.stringify(b)))));
        },
      ),
      { numRuns: 100 },
    );
  });
});
