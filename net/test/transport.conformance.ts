/**
 * The shared transport conformance suite. Every Transport implementation (real sockets, the in-memory
 * twin) runs these same cases through a fixture; a behaviour the driver relies on is written here once.
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../transport/frame.js';
import type { Channel, Transport } from '../transport/types.js';

export interface TransportFixture {
  /** Opens endpoint `slot`; reopening a closed slot reuses its address (a restarted peer). */
  open(slot: number, log: (level: string, text: string) => void): Promise<Transport>;
  /** An address nobody listens on. */
  deadAddress(): string;
  /** Writes raw bytes to an endpoint's address, bypassing framing (malformed input). */
  sendRaw(to: string, bytes: Uint8Array, channel: Channel): Promise<void>;
  cleanup(): Promise<void>;
}

interface Received {
  from: string;
  body: unknown;
  channel: Channel;
}

function collect(t: Transport): Received[] {
  const got: Received[] = [];
  t.onReceive = (from, body, channel) => got.push({ from, body, channel });
  return got;
}

async function until(predicate: () => boolean, timeoutMs = 4000, action?: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    action?.();
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function transportConformance(name: string, makeFixture: () => TransportFixture): void {
  describe(`transport conformance: ${name}`, () => {
    const withFixture = (fn: (fx: TransportFixture, logs: string[]) => Promise<void>) => async () => {
      const fx = makeFixture();
      const logs: string[] = [];
      try {
        await fn(fx, logs);
      } finally {
        await fx.cleanup();
      }
    };
    const logTo = (logs: string[]) => (level: string, text: string) => logs.push(`${level} ${text}`);

    it(
      'delivers a datagram with the sender address as from',
      withFixture(async (fx, logs) => {
        const a = await fx.open(0, logTo(logs));
        const b = await fx.open(1, logTo(logs));
        const got = collect(b);
        // Datagrams may be lost: resend until one arrives.
        await until(
          () => got.length > 0,
          4000,
          () => a.send(b.address, { type: 'ping', seq: 1 }, 'datagram'),
        );
        expect(got[0]).toEqual({ from: a.address, body: { type: 'ping', seq: 1 }, channel: 'datagram' });
      }),
    );

    it(
      'delivers a stream in order without loss, and replies reach the sender',
      withFixture(async (fx, logs) => {
        const a = await fx.open(0, logTo(logs));
        const b = await fx.open(1, logTo(logs));
        const atB = collect(b);
        const atA = collect(a);
        const count = 2000;
        for (let i = 0; i < count; i++) a.send(b.address, { i, pad: 'x'.repeat(i % 97) }, 'stream');
        await until(() => atB.length === count);
        expect(atB.map((r) => (r.body as { i: number }).i)).toEqual([...Array(count).keys()]);
        expect(new Set(atB.map((r) => r.from))).toEqual(new Set([a.address]));
        b.send(atB[0]!.from, 'reply', 'stream');
        await until(() => atA.length === 1);
        expect(atA[0]).toEqual({ from: b.address, body: 'reply', channel: 'stream' });
      }),
    );

    it(
      'carries a 2 MiB stream message and an oversized datagram intact',
      withFixture(async (fx, logs) => {
        const a = await fx.open(0, logTo(logs));
        const b = await fx.open(1, logTo(logs));
        const got = collect(b);
        const big = new Uint8Array(2 * 1024 * 1024).map((_, i) => i % 251);
        a.send(b.address, { big }, 'stream');
        a.send(b.address, { medium: 'y'.repeat(100_000) }, 'datagram');
        await until(() => got.length === 2);
        expect(Buffer.from((got[0]!.body as { big: Uint8Array }).big).equals(Buffer.from(big))).toBe(true);
        expect((got[1]!.body as { medium: string }).medium.length).toBe(100_000);
      }),
    );

    it(
      'never throws when the destination is unreachable',
      withFixture(async (fx, logs) => {
        const a = await fx.open(0, logTo(logs));
        for (let i = 0; i < 50; i++) {
          expect(() => a.send(fx.deadAddress(), { i }, 'stream')).not.toThrow();
          expect(() => a.send(fx.deadAddress(), { i }, 'datagram')).not.toThrow();
        }
        await new Promise((r) => setTimeout(r, 100));
      }),
    );

    it(
      'reconnects to a peer that restarted at the same address',
      withFixture(async (fx, logs) => {
        const a = await fx.open(0, logTo(logs));
        let b = await fx.open(1, logTo(logs));
        let got = collect(b);
        a.send(b.address, 'before', 'stream');
        await until(() => got.length === 1);
        await b.close();
        a.send(b.address, 'while down', 'stream'); // lost, like a message across a crash
        await new Promise((r) => setTimeout(r, 50));
        b = await fx.open(1, logTo(logs));
        got = collect(b);
        let n = 0;
        await until(
          () => got.length > 0,
          6000,
          () => a.send(b.address, `after ${n++}`, 'stream'),
        );
        expect(String(got[0]!.body)).toMatch(/^after /);
      }),
    );

    it(
      'drops malformed frames and other protocol versions with a log line, and keeps working',
      withFixture(async (fx, logs) => {
        const a = await fx.open(0, logTo(logs));
        const b = await fx.open(1, logTo(logs));
        const got = collect(b);
        const otherVersion = encodeFrame(a.address, 'from the future', 99);
        const garbagePayload = Buffer.from([0, 0, 0, 3, 1, 0xc1, 0xc1]); // version 1, invalid msgpack
        const notAnEnvelope = encodeFrame('not an address', 'x');
        for (const channel of ['datagram', 'stream'] as const) {
          await fx.sendRaw(b.address, otherVersion, channel);
          await fx.sendRaw(b.address, garbagePayload, channel);
          await fx.sendRaw(b.address, notAnEnvelope, channel);
          await fx.sendRaw(b.address, Buffer.from('GET / HTTP/1.1\r\n\r\n'), channel); // length prefix ~1.1 GB
        }
        await until(() => b.stats.framesRejected >= 7);
        expect(got).toEqual([]);
        expect(logs.some((l) => l.includes('protocol version 99'))).toBe(true);
        expect(logs.some((l) => l.includes('dropped a malformed'))).toBe(true);
        let n = 0;
        await until(
          () => got.some((r) => r.channel === 'stream'),
          4000,
          () => a.send(b.address, n++, 'stream'),
        );
        await until(
          () => got.some((r) => r.channel === 'datagram'),
          4000,
          () => a.send(b.address, n++, 'datagram'),
        );
      }),
    );
  });
}
