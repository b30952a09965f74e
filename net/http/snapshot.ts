/**
 * The `/v1/snapshot` archive: a point-in-time copy of the whole replicated store that `PUT
 * /v1/snapshot` restores (Consul's `consul snapshot save|restore`). Consul's archive is a tar of Raft
 * internals; ours is a magic line, then gzip of one msgpack object `{ version, index, store }` where
 * `store` is the store's own snapshot (core/store/store.ts). Clients treat it as opaque bytes.
 * Decoding never throws: a damaged or foreign file is a clear error.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { pack, unpack } from 'msgpackr';

const magic = Buffer.from('CONCLAVE-SNAPSHOT 1\n');
/** A restored archive may inflate to at most this much (a gzip bomb is refused). */
export const snapshotBytesMax = 256 * 1024 * 1024;

export function encodeSnapshot(store: unknown, index: number): Buffer {
  return Buffer.concat([magic, gzipSync(pack({ version: 1, index, store }))]);
}

export function decodeSnapshot(
  bytes: Uint8Array,
): { ok: true; store: unknown; index: number } | { ok: false; error: string } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < magic.length || !buf.subarray(0, magic.length).equals(magic))
    return { ok: false, error: 'not a conclave snapshot (bad header)' };
  let decoded: unknown;
  try {
    decoded = unpack(gunzipSync(buf.subarray(magic.length), { maxOutputLength: snapshotBytesMax }));
  } catch (error) {
    return { ok: false, error: `damaged snapshot: ${(error as Error).message}` };
  }
  const o = decoded as { version?: unknown; index?: unknown; store?: unknown } | null;
  if (o === null || typeof o !== 'object' || o.version !== 1 || typeof o.index !== 'number' || o.store === undefined)
    return { ok: false, error: 'damaged snapshot: missing version, index or store' };
  return { ok: true, store: o.store, index: o.index };
}
