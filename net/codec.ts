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

export function decode(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/** A value as a peer or the recorder will see it after the wire: used to normalise client requests. */
export function roundTrip<T>(value: T): T {
  return decode(encode(value)) as T;
}
