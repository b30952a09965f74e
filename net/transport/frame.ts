/**
 * Frames, the unit on both channels:
 *
 *   [u32 big-endian length L][u8 version][L-1 bytes: msgpack of [from, body]]
 *
 * The same layout goes in a UDP datagram (L must match the datagram) and back to back on a TCP stream.
 * `from` is the sender's advertised address (`ip:port`); the receiver trusts it as the driver's claim
 * (types.ts: "the sender's id is the driver's claim, not proven").
 *
 * Bad input never throws out of this module: a frame with another version, an undecodable payload or
 * a length over the limit is reported as a `FrameError` value and the caller logs and drops it.
 */
import { decode, encode } from '../codec.js';

/** Bumped when the frame layout or the envelope changes incompatibly. Peers of other versions are dropped. */
export const wireVersion = 1;

/** Largest frame accepted on a stream (a Raft snapshot of a big store must fit). */
export const frameBytesMax = 64 * 1024 * 1024;

/** Largest datagram we send over UDP; bigger datagram-channel messages go over the stream instead. */
export const datagramBytesMax = 60 * 1024;

export const frameHeaderBytes = 5;

export interface Frame {
  readonly from: string;
  readonly body: unknown;
}

export type FrameError = { readonly error: string };

export function encodeFrame(from: string, body: unknown, version = wireVersion): Buffer {
  const payload = encode([from, body]);
  const frame = Buffer.allocUnsafe(frameHeaderBytes + payload.length);
  frame.writeUInt32BE(payload.length + 1, 0);
  frame.writeUInt8(version, 4);
  payload.copy(frame, frameHeaderBytes);
  return frame;
}

/** Decodes the part after the length prefix: version byte + payload. */
export function decodeFrameBody(bytes: Uint8Array): Frame | FrameError {
  if (bytes.length < 1) return { error: 'empty frame' };
  const version = bytes[0]!;
  if (version !== wireVersion) return { error: `protocol version ${version} (we speak ${wireVersion})` };
  let value: unknown;
  try {
    value = decode(bytes.subarray(1));
  } catch (error) {
    return { error: `undecodable payload (${(error as Error).message})` };
  }
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string' || !isAddress(value[0])) {
    return { error: 'payload is not [from, body]' };
  }
  return { from: value[0], body: value[1] };
}

/** A whole datagram: the length prefix must match exactly. */
export function decodeDatagram(bytes: Uint8Array): Frame | FrameError {
  if (bytes.length < frameHeaderBytes) return { error: `datagram of ${bytes.length} bytes is shorter than a header` };
  const length = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).readUInt32BE(0);
  if (length !== bytes.length - 4)
    return { error: `datagram length prefix ${length} does not match ${bytes.length - 4}` };
  return decodeFrameBody(bytes.subarray(4));
}

/** `ip:port` (IPv4 or a host name, port 1..65535). */
export function isAddress(text: string): boolean {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return false;
  const port = Number(text.slice(colon + 1));
  return Number.isInteger(port) && port > 0 && port < 65536;
}

export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

/**
 * Reassembles frames from a TCP byte stream. `push` returns the complete frames (or errors) found so
 * far; after a fatal error (a length over the limit: the stream cannot be resynchronised) the caller
 * must close the connection.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  fatal: string | null = null;

  push(chunk: Buffer): (Frame | FrameError)[] {
    const out: (Frame | FrameError)[] = [];
    if (this.fatal) return out;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    for (let framesMax = 1_000_000; framesMax > 0; framesMax--) {
      if (this.bufferedBytes < 4) break;
      const head = this.peek(4);
      const length = head.readUInt32BE(0);
      if (length === 0 || length > frameBytesMax) {
        this.fatal = `frame length ${length} outside 1..${frameBytesMax}`;
        out.push({ error: this.fatal });
        this.chunks = [];
        this.bufferedBytes = 0;
        break;
      }
      if (this.bufferedBytes < 4 + length) break;
      const whole = this.take(4 + length);
      out.push(decodeFrameBody(whole.subarray(4)));
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private take(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    const first = this.chunks[0]!;
    const taken = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.bufferedBytes -= n;
    return taken;
  }
}
