/**
 * Conservative encoded-size estimates, so that a datagram is packed under `packetBytesMax` without
 * encoding it first (core/ does not know the codec). Every bound is an upper bound on MessagePack
 * (msgpackr, with or without its record extension): a string costs its UTF-8 length plus the largest
 * string header (5), a number the largest numeric encoding (9), a map or array its largest header (5).
 * sim/test/swim-size.test.ts checks estimate ≥ msgpackr's actual output on random messages.
 */
import type { UserEvent } from './api.js';
import type { SwimMessage, SwimUpdate } from './messages.js';

/** Bytes the node envelope `{ m: 'swim', p: … }` and the driver's framing may add. */
export const envelopeBytesMax = 32;

export function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A surrogate half is 2 of the 4 bytes of its code point; a lone one encodes as 3 (U+FFFD).
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
  }
  return bytes;
}

const str = (text: string): number => 5 + utf8Bytes(text);
const num = 9;
const mapHeader = 5;

export function tagsBytes(tags: Readonly<Record<string, string>>): number {
  let bytes = mapHeader;
  for (const key in tags) bytes += str(key) + str(tags[key]!);
  return bytes;
}

export function userEventBytes(event: UserEvent): number {
  let bytes =
    mapHeader +
    str('name') +
    str(event.name) +
    str('payload') +
    (event.payload === null ? 1 : 5 + event.payload.length);
  bytes += str('ltime') + num + str('id') + str(event.id);
  if (event.nodeFilter !== undefined) bytes += str('nodeFilter') + str(event.nodeFilter);
  if (event.serviceFilter !== undefined) bytes += str('serviceFilter') + str(event.serviceFilter);
  if (event.tagFilter !== undefined) bytes += str('tagFilter') + str(event.tagFilter);
  return bytes;
}

/** Upper bound on a coordinate `{Vec, Error, Adjustment, Height}` with `dimensions` components. */
export function coordinateBytes(dimensions: number): number {
  return (
    mapHeader + str('Vec') + 5 + dimensions * num + str('Error') + num + str('Adjustment') + num + str('Height') + num
  );
}

/** Upper bound on one update's encoded size, as an element of a `u` array. */
export function updateBytes(update: SwimUpdate): number {
  switch (update.k) {
    case 'alive':
      return (
        mapHeader +
        str('k') +
        str('alive') +
        str('id') +
        str(update.id) +
        str('inc') +
        num +
        str('tags') +
        tagsBytes(update.tags) +
        (update.name === undefined ? 0 : str('name') + str(update.name))
      );
    case 'suspect':
    case 'dead':
      return (
        mapHeader +
        str('k') +
        str(update.k) +
        str('id') +
        str(update.id) +
        str('inc') +
        num +
        str('from') +
        str(update.from)
      );
    case 'event':
      return mapHeader + str('k') + str('event') + str('event') + userEventBytes(update.event);
  }
}

/**
 * Upper bound on a probe/gossip message's size without its updates, including the envelope and the
 * `u` key with its array header. Push-pull goes over the stream channel and is not size-limited.
 */
export function messageBaseBytes(message: SwimMessage): number {
  const base = envelopeBytesMax + mapHeader + str('t') + str(message.t) + str('u') + 5;
  switch (message.t) {
    case 'ping':
      return base + str('seq') + num + str('target') + str(message.target);
    case 'pingReq':
      return base + str('seq') + num + str('target') + str(message.target) + str('nack') + 1;
    case 'ack':
      return base + str('seq') + num + (message.c === undefined ? 0 : str('c') + coordinateBytes(message.c.Vec.length));
    case 'nack':
      return base + str('seq') + num;
    case 'gossip':
      return base;
    case 'pushPull':
      return base + 64;
  }
}

/** Upper bound on a whole datagram message (base plus its updates). */
export function messageBytes(message: SwimMessage): number {
  let bytes = messageBaseBytes(message);
  if (message.t !== 'pushPull' && message.t !== 'nack' && message.u) for (const u of message.u) bytes += updateBytes(u);
  return bytes;
}
