/**
 * Frames, the unit on both channels:
 *
 *   [u32 big-endian length L][u8 version][L-1 bytes: msgpack of [from, body]]
 *
 * The same layout goes in a UDP datagram (L must match the datagram) and back to back on a TCP stream.
 * `from` is the sender's advertised address (`ip:port`); the receiver trusts it as the driver's claim
 * (types.ts: "the sender's id is the driver's claim, not proven").
 *
 * With gossip encryption (keyring.ts) the version byte is `sealedWireVersion` and the payload is sealed
 * with AES-GCM: [u32 length][u8 0x81][nonce][ciphertext of the msgpack][tag], the header authenticated.
 *
 * Bad input never throws out of this module: a frame with another version, an undecodable payload or
 * a length over the limit is reported as a `FrameError` value and the caller logs and drops it.
 */
import { decode, encode, encodeTransient } from '../codec.js';
import { sealedWireVersion } from './keyring.js';

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
  /** The frame was sealed and a key of the ring opened it (gossip encryption). */
  readonly sealed: boolean;
}

/** `unauthenticated`: dropped by the encryption layer (no key opened it, or a plain frame was refused). */
export type FrameError = { readonly error: string; readonly unauthenticated?: true };

/** What frames need from a keyring (keyring.ts's `Keyring`). */
export interface FrameSealer {
  readonly options: { readonly verifyIncoming: boolean; readonly verifyOutgoing: boolean };
  seal(header: Buffer, plaintext: Buffer): Buffer;
  open(header: Uint8Array, sealed: Uint8Array): Buffer | null;
}

export function encodeFrame(
  from: string,
  body: unknown,
  version = wireVersion,
  sealer: FrameSealer | null = null,
): Buffer {
  if (!sealer || !sealer.options.verifyOutgoing) {
    // The payload is copied once, straight from the packer's buffer into the frame.
    const payload = encodeTransient([from, body]);
    const frame = Buffer.allocUnsafe(frameHeaderBytes + payload.length);
    frame.writeUInt32BE(payload.length + 1, 0);
    frame.writeUInt8(version, 4);
    frame.set(payload, frameHeaderBytes);
    return frame;
  }
  const payload = encode([from, body]);
  const header = Buffer.allocUnsafe(frameHeaderBytes);
  header.writeUInt32BE(1 + sealedOverheadBytes + payload.length, 0);
  header.writeUInt8(sealedWireVersion, 4);
  return Buffer.concat([header, sealer.seal(header, payload)]);
}

/** Bytes a seal adds: the 12-byte nonce and the 16-byte tag. */
export const sealedOverheadBytes = 28;

/**
 * Decodes the part after the length prefix: version byte + payload (opened first when sealed).
 * `plainAllowed`: the frame came on a TLS stream whose peer presented a certificate the CA signed, so
 * an unsealed frame is authenticated already (encrypt_verify_incoming does not refuse it).
 */
export function decodeFrameBody(
  bytes: Uint8Array,
  sealer: FrameSealer | null = null,
  plainAllowed = false,
): Frame | FrameError {
  if (bytes.length < 1) return { error: 'empty frame' };
  const version = bytes[0]!;
  let payload = bytes.subarray(1);
  let sealed = false;
  if (version === sealedWireVersion) {
    if (!sealer) return { error: 'an encrypted frame, but gossip encryption is off here', unauthenticated: true };
    const header = Buffer.allocUnsafe(frameHeaderBytes);
    header.writeUInt32BE(bytes.length, 0);
    header.writeUInt8(version, 4);
    const opened = sealer.open(header, payload);
    if (opened === null) return { error: 'no key of the keyring authenticates the frame', unauthenticated: true };
    payload = opened;
    sealed = true;
  } else if (version !== wireVersion) return { error: `protocol version ${version} (we speak ${wireVersion})` };
  else if (sealer && sealer.options.verifyIncoming && !plainAllowed)
    return { error: 'an unencrypted frame (encrypt_verify_incoming is on)', unauthenticated: true };
  let value: unknown;
  try {
    value = decode(payload);
  } catch (error) {
    return { error: `undecodable payload (${(error as Error).message})` };
  }
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string' || !isAddress(value[0])) {
    return { error: 'payload is not [from, body]' };
  }
  return { from: value[0], body: value[1], sealed };
}

/** A whole datagram: the length prefix must match exactly. */
export function decodeDatagram(bytes: Uint8Array, sealer: FrameSealer | null = null): Frame | FrameError {
  if (bytes.length < frameHeaderBytes) return { error: `datagram of ${bytes.length} bytes is shorter than a header` };
  const length = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).readUInt32BE(0);
  if (length !== bytes.length - 4)
    return { error: `datagram length prefix ${length} does not match ${bytes.length - 4}` };
  return decodeFrameBody(bytes.subarray(4), sealer);
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

  /** `plainAllowed`: a verified TLS stream (decodeFrameBody). */
  constructor(
    private readonly sealer: FrameSealer | null = null,
    private readonly plainAllowed = false,
  ) {}

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
      out.push(decodeFrameBody(whole.subarray(4), this.sealer, this.plainAllowed));
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
