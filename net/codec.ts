/**
 * The wire and disk codec: msgpackr with plain-data semantics. Core messages, requests and storage
 * values are plain data (objects, arrays, strings, numbers, booleans, null, Uint8Array, Set); a Map
 * arrives as a plain object, so protocols must not put Maps on the wire (the same rule as the
 * simulator's storage codec).
 *
 * One Packr instance is shared: msgpackr reuses its internal buffer between `pack` calls, so callers
 * must copy (`Buffer.from`) if they keep the result past the next call. `encode` does that.
 */
import { Packr } from 'msgpackr';

const packr = new Packr({ useRecords: false, moreTypes: true });

export function encode(value: unknown): Buffer {
  return Buffer.from(packr.pack(value));
}

/**
 * The packed bytes without the copy: a view of the shared Packr's buffer, valid only until the next
 * `encode`/`encodeTransient` call. For a caller that copies them at once (a frame writes its header and
 * the payload into one buffer: one copy per frame instead of two).
 */
export function encodeTransient(value: unknown): Uint8Array {
  return packr.pack(value);
}

export function decode(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/** A value as a peer or the recorder will see it after the wire: used to normalise client requests. */
export function roundTrip<T>(value: T): T {
  return decode(encode(value)) as T;
}
