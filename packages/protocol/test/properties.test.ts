import {
  FrameDecoder,
  LineSplitter,
  REASONS,
  encodeAck,
  encodeClose,
  encodeError,
  encodePing,
  encodePong,
  legacyKey,
  openDataFrame,
  openLegacyToken,
  sealLegacyToken,
  sealReadings,
  type DecodeItem,
  type Frame,
  type LineItem,
  type ByteLineItem,
  type ReasonCode,
  type Reading,
} from '@sealstream/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KEY } from './helpers.js';

const deviceId = fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/);
const keyId = fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/);
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const jsonValue = fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.parse(JSON.stringify(value)) as unknown);
const reading: fc.Arbitrary<Reading> = fc.record({
  device: deviceId,
  seq: fc.maxSafeNat(),
  ts: fc.maxSafeNat(),
  data: fc.dictionary(fc.string({ maxLength: 12 }), jsonValue, { maxKeys: 6 }),
});

/** Splits bytes into chunks at arbitrary cut points. */
const chunked = (bytes: fc.Arbitrary<Uint8Array>) =>
  bytes.chain((all) =>
    fc.uniqueArray(fc.integer({ min: 0, max: all.length }), { maxLength: 12 }).map((cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), all.length];
      return points.slice(1).map((end, i) => Buffer.from(all.subarray(points[i], end)));
    }),
  );

const reasonCodes = Object.keys(REASONS) as ReasonCode[];
const controlFrame: fc.Arbitrary<{ bytes: Buffer; frame: Frame }> = fc.oneof(
  fc.record({ frameId: u32, accepted: u32, duplicates: u32, rejected: u32 }).map((ack) => ({
    bytes: encodeAck(ack),
    frame: { type: 2 as const, ...ack },
  })),
  fc.tuple(u32, fc.constantFrom(...reasonCodes), fc.string({ maxLength: 200 })).map(([frameId, reason, message]) => ({
    bytes: encodeError(frameId, reason, message),
    frame: { type: 3 as const, frameId, code: REASONS[reason].code, reason, message },
  })),
  fc
    .bigInt({ min: 0n, max: 2n ** 64n - 1n })
    .map((nonce) => ({ bytes: encodePing(nonce), frame: { type: 4 as const, nonce } })),
  fc
    .bigInt({ min: 0n, max: 2n ** 64n - 1n })
    .map((nonce) => ({ bytes: encodePong(nonce), frame: { type: 5 as const, nonce } })),
  fc.integer({ min: 0, max: 0xffff }).map((code) => ({ bytes: encodeClose(code), frame: { type: 6 as const, code } })),
);

function decodeChunks(chunks: readonly Buffer[], decoder = new FrameDecoder()): DecodeItem[] {
  const items: DecodeItem[] = [];
  for (const chunk of chunks) items.push(...decoder.push(chunk));
  items.push(...decoder.end());
  return items;
}

describe('properties', () => {
  it('open(seal(readings)) returns the readings, for both suites', () => {
    fc.assert(
      fc.property(
        fc.array(reading, { minLength: 1, maxLength: 20 }),
        fc.constantFrom(1 as const, 2 as const),
        keyId,
        u32,
        fc.maxSafeNat(),
        (readings, suite, kid, frameId, sentAt) => {
          const items = decodeChunks([sealReadings(readings, KEY, { suite, keyId: kid, frameId, sentAt })]);
          expect(items).toHaveLength(1);
          const item = items[0];
          if (!item?.ok || item.frame.type !== 1) throw new Error('expected a DATA frame');
          expect(item.frame).toMatchObject({ suite, keyId: kid, frameId, sentAt });
          expect(openDataFrame(item.frame, KEY)).toEqual({ ok: true, readings });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('decode(encode(control frames)) returns them, however the stream is chunked', () => {
    fc.assert(
      fc.property(
        fc.array(controlFrame, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 40 }),
        (frames, size) => {
          const stream = Buffer.concat(frames.map((f) => f.bytes));
          const chunks: Buffer[] = [];
          for (let i = 0; i < stream.length; i += size) chunks.push(stream.subarray(i, i + size));
          expect(decodeChunks(chunks)).toEqual(frames.map((f) => ({ ok: true, frame: f.frame })));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('arbitrary bytes in arbitrary chunks never throw and yield only well-formed DecodeItems', () => {
    const junk = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      // Mostly valid-looking prefixes, so the body parsers get exercised too.
      fc
        .tuple(fc.integer({ min: 0, max: 120 }), fc.integer({ min: 1, max: 7 }), fc.uint8Array({ maxLength: 200 }))
        .map(([length, type, rest]) => {
          const head = Buffer.alloc(6);
          head.writeUInt32BE(length);
          head[4] = 1;
          head[5] = type;
          return new Uint8Array(Buffer.concat([head, rest]));
        }),
    );
    fc.assert(
      fc.property(chunked(junk), fc.integer({ min: 2, max: 256 }), (chunks, maxFrameBytes) => {
        const items = decodeChunks(chunks, new FrameDecoder({ maxFrameBytes }));
        let fatalSeen = false;
        for (const item of items) {
          expect(fatalSeen).toBe(false); // nothing after a fatal item
          if (item.ok) {
            expect([1, 2, 3, 4, 5, 6]).toContain(item.frame.type);
          } else {
            expect(Object.keys(REASONS)).toContain(item.reason);
            expect(typeof item.detail).toBe('string');
            expect(Buffer.isBuffer(item.raw)).toBe(true);
            fatalSeen = item.fatal;
          }
        }
        // Whatever the chunking, the result is the same as one push.
        expect(items).toEqual(decodeChunks([Buffer.concat(chunks)], new FrameDecoder({ maxFrameBytes })));
      }),
      { numRuns: 1000 },
    );
  });

  it('openLegacyToken never throws on arbitrary strings', () => {
    const key = legacyKey('k');
    const valid = sealLegacyToken({ name: 'a', origin: 'b', destination: 'c' }, key);
    const mutated = fc
      .tuple(fc.nat({ max: valid.length }), fc.nat({ max: valid.length }), fc.string({ maxLength: 4 }))
      .map(([from, to, insert]) => valid.slice(0, Math.min(from, to)) + insert + valid.slice(Math.max(from, to)));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), mutated), (token) => {
        const result = openLegacyToken(token, key);
        if (!result.ok)
          expect(['legacy_bad_token', 'legacy_bad_json', 'legacy_integrity_failed']).toContain(result.reason);
      }),
      { numRuns: 2000 },
    );
  });

  it('LineSplitter gives the same items for any chunking', () => {
    const text = fc.array(fc.oneof(fc.constantFrom('\n', '\r\n', '\r', 'DATA:', '|'), fc.string({ maxLength: 30 })), {
      maxLength: 30,
    });
    fc.assert(
      fc.property(
        chunked(text.map((parts) => new Uint8Array(Buffer.from(parts.join(''))))),
        fc.integer({ min: 1, max: 40 }),
        (chunks, maxLineBytes) => {
          const split = (pieces: readonly Buffer[]): LineItem[] => {
            const splitter = new LineSplitter({ maxLineBytes });
            const items = pieces.flatMap((piece) => splitter.push(piece));
            return [...items, ...splitter.end()];
          };
          const whole = Buffer.concat(chunks);
          const expected = split([whole]);
          expect(split(chunks)).toEqual(expected);
          // And the lines are exactly the newline-separated pieces (minus one trailing \r) within the cap.
          const reference = whole.toString('utf8').split('\n');
          if (reference.at(-1) === '') reference.pop();
          const lines = reference.map((line) =>
            Buffer.byteLength(line) > maxLineBytes ? 'TOO_LONG' : line.replace(/\r$/, ''),
          );
          expect(expected.map((item) => (item.ok ? item.line : 'TOO_LONG'))).toEqual(lines);
          // As bytes: the same lines (their UTF-8 text is the line), the same rejects, for any chunking.
          const splitBytes = (pieces: readonly Buffer[]): ByteLineItem[] => {
            const splitter = new LineSplitter({ maxLineBytes });
            const items = pieces.flatMap((piece) => splitter.pushBytes(piece));
            return [...items, ...splitter.endBytes()];
          };
          const asBytes = splitBytes(chunks);
          expect(asBytes.map((item) => (item.ok ? item.bytes.toString('utf8') : item))).toEqual(
            expected.map((item) => (item.ok ? item.line : item)),
          );
          // Each line's bytes are its own: not a view of a chunk or of the splitter's reused store.
          for (const item of asBytes) {
            if (item.ok) expect(item.bytes.buffer.byteLength).toBe(item.bytes.length);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
