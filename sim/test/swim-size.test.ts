/**
 * The packer's size estimate is conservative: for random SWIM datagrams (random ids, tags in any
 * script, events with payloads), core/swim/size.ts's estimate is ≥ the bytes msgpackr actually
 * produces for the node envelope — so "estimated ≤ 1,400" implies "encoded ≤ 1,400". Lives in sim/
 * because core/ must not import the codec.
 */
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { SwimMessage, SwimUpdate } from '../../core/swim/messages.js';
import { messageBytes } from '../../core/swim/size.js';

const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const id = fc.string({ minLength: 1, maxLength: 30 });
const inc = fc.nat({ max: 2 ** 40 });
const tags = fc.dictionary(text, text, { maxKeys: 6 });

const update: fc.Arbitrary<SwimUpdate> = fc.oneof(
  fc.record({ k: fc.constant('alive' as const), id, inc, tags }),
  fc.record({ k: fc.constant('alive' as const), id, inc, tags, name: text }),
  fc.record({ k: fc.constantFrom('suspect' as const, 'dead' as const), id, inc, from: id }),
  fc.record({
    k: fc.constant('event' as const),
    event: fc.record(
      { name: text, payload: fc.option(fc.uint8Array({ maxLength: 300 })), ltime: inc, id: text },
      { requiredKeys: ['name', 'payload', 'ltime', 'id'] },
    ),
  }),
);
const updates = fc.array(update, { maxLength: 12 });
const seconds = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 });
const coordinate = fc.record({
  Vec: fc.array(seconds, { minLength: 8, maxLength: 8 }),
  Error: seconds,
  Adjustment: seconds,
  Height: seconds,
});

const message: fc.Arbitrary<SwimMessage> = fc.oneof(
  fc.record({ t: fc.constant('ping' as const), seq: inc, target: id, u: updates }),
  fc.record({ t: fc.constant('ack' as const), seq: inc, u: updates }),
  fc.record({ t: fc.constant('ack' as const), seq: inc, c: coordinate, u: updates }),
  fc.record({ t: fc.constant('pingReq' as const), seq: inc, target: id, nack: fc.boolean(), u: updates }),
  fc.record({ t: fc.constant('nack' as const), seq: inc }),
  fc.record({ t: fc.constant('gossip' as const), u: updates }),
);

describe('datagram size estimate', () => {
  it('is an upper bound on the msgpackr encoding of the node envelope', () => {
    fc.assert(
      fc.property(message, (m) => {
        const encoded = pack({ m: 'swim', p: m }).length;
        expect(messageBytes(m)).toBeGreaterThanOrEqual(encoded);
      }),
      { numRuns: 500 },
    );
  });

  it('is not wildly pessimistic for typical gossip (within 3× of the real size)', () => {
    const u: SwimUpdate[] = Array.from({ length: 15 }, (_, i) => ({
      k: 'alive',
      id: `10.0.0.${i}:8301`,
      inc: i,
      tags: { role: 'node', dc: 'dc1', port: '8300', build: '1.0.0', vsn: '2' },
    }));
    const m: SwimMessage = { t: 'gossip', u };
    const encoded = pack({ m: 'swim', p: m }).length;
    expect(messageBytes(m)).toBeLessThan(3 * encoded);
  });
});
