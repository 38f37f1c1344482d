/**
 * The batch legacy opener against the references it replaces: its CTR keystream against OpenSSL's
 * aes-256-ctr (including counter carries and the wrap after ff…ff), its results against the old
 * one-decipher-per-token opener (legacy-reference.ts) for arbitrary mixes of good, tampered and garbage
 * tokens, and its fast plaintext reading against JSON.parse.
 */
import {
  legacyKey,
  legacyLineTokenCount,
  openLegacyLine,
  openLegacyToken,
  openLegacyTokens,
  ProtocolError,
  sealLegacyToken,
  type LegacyHashVariant,
  type LegacyMessage,
} from '@sealstream/protocol';
import fc from 'fast-check';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AES_BLOCK_BYTES, CtrBatch, ctrBatch, ctrBlocks } from '../src/aes-ctr-batch.js';
import { readCanonicalPlaintext, readPlaintext } from '../src/legacy-plaintext.js';
import { referenceOpen, referenceSecretKey } from './legacy-reference.js';

const KEY = legacyKey('encrypted-timeseries-secret-key-12345');
const OTHER_KEY = legacyKey('another-key');
const LEGACY_REASONS = ['legacy_bad_token', 'legacy_bad_json', 'legacy_integrity_failed'];

const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes));

/** IVs, often ending in ff bytes so the first few increments carry through 1..16 bytes (ff…ff wraps to 0). */
const iv = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes) => Buffer.from(bytes)),
  fc
    .tuple(
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.integer({ min: 1, max: 16 }),
      fc.integer({ min: 0, max: 12 }),
    )
    .map(([bytes, ones, below]) => {
      const out = Buffer.from(bytes);
      out.fill(0xff, 16 - ones);
      out[15] = 0xff - below;
      return out;
    }),
);

/** Characters that stress escaping, UTF-8 and the fast path: quotes, backslashes, controls, surrogates. */
const trickyChar = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'Z', '0', ' ', '-', 'é', '€', '😀') },
  {
    weight: 2,
    arbitrary: fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', '\u007f', '\ud800', '\udfff', '/', '}', ',', ':'),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)) },
);
const tricky = fc.array(trickyChar, { maxLength: 16 }).map((chars) => chars.join(''));
const plainText = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '.', 'é', '😀', '}', ',', ':'), maxLength: 12 });
const message: fc.Arbitrary<LegacyMessage> = fc.record({
  name: fc.oneof(tricky, plainText),
  origin: fc.oneof(tricky, plainText),
  destination: fc.oneof(tricky, plainText),
});
const variant = fc.constantFrom<LegacyHashVariant>('sorted', 'insertion');
const acceptLists = fc.constantFrom<readonly LegacyHashVariant[]>(
  ['sorted', 'insertion'],
  ['insertion', 'sorted'],
  ['sorted'],
  ['insertion'],
  [],
);

function ctrEncrypt(key: Buffer, ivBytes: Buffer, plaintext: string | Uint8Array): string {
  const cipher = createCipheriv('aes-256-ctr', key, ivBytes);
  const body = typeof plaintext === 'string' ? cipher.update(plaintext, 'utf8') : cipher.update(plaintext);
  return `${ivBytes.toString('hex')}:${body.toString('hex')}`;
}

/** Plaintexts near the seed's shape: other key orders, extra or missing keys, whitespace, wrong hashes. */
const foreignPlaintext = fc
  .record({
    message,
    secret: fc.oneof(
      variant.map((v) => ({ kind: v })),
      fc.constant({ kind: 'wrong' as const }),
      fc.constant({ kind: 'number' as const }),
    ),
    order: fc.constantFrom('seed', 'reversed', 'extra', 'missing', 'duplicate'),
    indent: fc.constantFrom(undefined, 0, 1, '\t'),
    raw: fc.boolean(),
  })
  .map(({ message: m, secret, order, indent, raw }) => {
    const secretKey =
      secret.kind === 'wrong' ? 'f'.repeat(64) : secret.kind === 'number' ? 7 : referenceSecretKey(m, secret.kind);
    if (raw) {
      // The seed's template with unescaped values: quotes, backslashes and controls make it invalid or odd.
      return `{"name":"${m.name}","origin":"${m.origin}","destination":"${m.destination}","secret_key":"${String(secretKey)}"}`;
    }
    const { name, origin, destination } = m;
    const fields: Record<string, unknown> =
      order === 'seed'
        ? { name, origin, destination, secret_key: secretKey }
        : order === 'reversed'
          ? { secret_key: secretKey, destination, origin, name }
          : order === 'extra'
            ? { name, origin, destination, secret_key: secretKey, extra: 1 }
            : { name, origin, secret_key: secretKey };
    const text = JSON.stringify(fields, null, indent);
    // A duplicate key: JSON.parse keeps the last one.
    return order === 'duplicate' ? text.replace(/^\{/, '{"name":"shadowed",') : text;
  });

const sealed = fc
  .tuple(message, iv, variant, fc.boolean())
  .map(([m, ivBytes, v, own]) => sealLegacyToken(m, own ? KEY : OTHER_KEY, { iv: ivBytes, variant: v }));

/** Arbitrary mixes of good, tampered and garbage tokens. */
const token = fc.oneof(
  { weight: 4, arbitrary: sealed },
  {
    weight: 2,
    arbitrary: fc.tuple(foreignPlaintext, iv).map(([text, ivBytes]) => ctrEncrypt(KEY, ivBytes, text)),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(sealed, fc.nat(), fc.constantFrom('flip', 'cut', 'upper', 'insert'), fc.string({ maxLength: 3 }))
      .map(([good, at, how, text]) => {
        const i = at % good.length;
        if (how === 'flip') return `${good.slice(0, i)}${good[i] === '0' ? '1' : '0'}${good.slice(i + 1)}`;
        if (how === 'cut') return good.slice(0, i);
        if (how === 'upper') return good.toUpperCase();
        return good.slice(0, i) + text + good.slice(i);
      }),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(iv, fc.uint8Array({ maxLength: 200 }))
      .map(([ivBytes, bytes]) => ctrEncrypt(KEY, ivBytes, bytes)),
  },
  { weight: 1, arbitrary: fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: trickyChar })) },
);

/** Segment contents: the length matters (how many counter increments), the bytes hardly; up to 20 blocks. */
const segmentData = fc
  .tuple(fc.nat({ max: 320 }), fc.uint8Array({ minLength: 1, maxLength: 8 }))
  .map(([length, pattern]) => Buffer.alloc(length, pattern));

describe('CtrBatch', () => {
  function viaBatch(batch: CtrBatch, key: Buffer, segments: ReadonlyArray<readonly [Buffer, Uint8Array]>): Buffer[] {
    let block = 0;
    const starts: number[] = [];
    for (const [ivBytes, data] of segments) {
      starts.push(block);
      ivBytes.copy(batch.counters, block * AES_BLOCK_BYTES);
      batch.data.set(data, block * AES_BLOCK_BYTES);
      batch.fillCounters(block, ctrBlocks(data.length));
      block += Math.max(1, ctrBlocks(data.length));
    }
    batch.decrypt(key, block);
    return segments.map(([, data], i) => {
      const start = (starts[i] as number) * AES_BLOCK_BYTES;
      return Buffer.from(batch.data.subarray(start, start + data.length));
    });
  }

  function blocksFor(segments: ReadonlyArray<readonly [Buffer, Uint8Array]>): number {
    return segments.reduce((sum, [, data]) => sum + Math.max(1, ctrBlocks(data.length)), 0);
  }

  it('gives exactly what aes-256-ctr gives, for any IVs (carries, wrap-around) and lengths', () => {
    fc.assert(
      fc.property(
        key32,
        fc.array(fc.tuple(iv, segmentData), { maxLength: 12 }),
        fc.boolean(),
        (key, segments, shared) => {
          const blocks = blocksFor(segments);
          // The shared scratch batch holds stale bytes from earlier runs; a fresh one does not.
          const batch = shared ? ctrBatch(blocks) : new CtrBatch(blocks);
          const expected = segments.map(([ivBytes, data]) =>
            createDecipheriv('aes-256-ctr', key, ivBytes).update(data),
          );
          expect(viaBatch(batch, key, segments)).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('carries across every word boundary of the counter and wraps ff…ff to zero', () => {
    const ivs = [
      'ffffffffffffffffffffffffffffffff',
      '000000000000000000000000fffffffd',
      '0000000000000000fffffffffffffffe',
      '00000000fffffffffffffffffffffffc',
      '7ffffffffffffffffffffffffffffffb',
      '0102030405060708090a0b0c0d0e0fff',
    ];
    const data = Buffer.alloc(40 * AES_BLOCK_BYTES + 5, 0x5a);
    const segments = ivs.map((hex) => [Buffer.from(hex, 'hex'), data] as const);
    const expected = segments.map(([ivBytes]) => createDecipheriv('aes-256-ctr', KEY, ivBytes).update(data));
    expect(viaBatch(new CtrBatch(blocksFor(segments)), KEY, segments)).toEqual(expected);
  });

  it('follows a change of key (the cached ECB cipher is per key)', () => {
    const ivBytes = Buffer.alloc(16, 3);
    const data = Buffer.alloc(50, 1);
    for (const key of [KEY, OTHER_KEY, KEY]) {
      const got = viaBatch(new CtrBatch(4), key, [[ivBytes, data]]);
      expect(got[0]).toEqual(createDecipheriv('aes-256-ctr', key, ivBytes).update(data));
    }
  });

  it('batches larger than the scratch limit get their own buffers', () => {
    const big = ctrBatch(70_000);
    expect(big.blocks).toBe(70_000);
    expect(ctrBatch(10)).not.toBe(big);
  });
});

describe('openLegacyTokens', () => {
  it('gives, token by token, what the one-decipher-per-token reference gives (results, reasons, details)', () => {
    fc.assert(
      fc.property(fc.array(token, { maxLength: 30 }), acceptLists, (tokens, accept) => {
        const batch = openLegacyTokens(tokens, KEY, accept);
        expect(batch).toEqual(tokens.map((t) => referenceOpen(t, KEY, accept)));
        expect(batch).toEqual(tokens.map((t) => openLegacyToken(t, KEY, accept)));
      }),
      { numRuns: 600 },
    );
  });

  it('decode(encode(message)) is the message, with its variant and lower-case IV', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(message, iv, variant), { minLength: 1, maxLength: 20 }), (items) => {
        const tokens = items.map(([m, ivBytes, v]) => sealLegacyToken(m, KEY, { iv: ivBytes, variant: v }));
        const opened = openLegacyTokens(tokens, KEY);
        expect(opened).toEqual(
          items.map(([m, ivBytes, v]) => ({
            ok: true,
            message: { name: m.name, origin: m.origin, destination: m.destination },
            ivHex: ivBytes.toString('hex'),
            variant: v,
          })),
        );
      }),
      { numRuns: 400 },
    );
  });

  it('never throws on arbitrary input, and refuses only with legacy reasons', () => {
    const anything = fc.oneof(token, fc.anything()) as fc.Arbitrary<string>;
    fc.assert(
      fc.property(fc.array(anything, { maxLength: 20 }), acceptLists, (tokens, accept) => {
        const results = openLegacyTokens(tokens, KEY, accept);
        expect(results).toHaveLength(tokens.length);
        for (const result of results) if (!result.ok) expect(LEGACY_REASONS).toContain(result.reason);
      }),
      { numRuns: 500 },
    );
  });

  it('writes the IV of every token that opens as four big-endian words when asked', () => {
    fc.assert(
      fc.property(fc.array(token, { maxLength: 20 }), (tokens) => {
        const words = new Uint32Array(4 * tokens.length).fill(0xdeadbeef);
        const results = openLegacyTokens(tokens, KEY, undefined, words);
        results.forEach((result, i) => {
          const got = Buffer.alloc(16);
          for (let w = 0; w < 4; w += 1) got.writeUInt32BE(words[4 * i + w] as number, 4 * w);
          if (result.ok) expect(got.toString('hex')).toBe(result.ivHex);
          else expect(got.toString('hex')).toBe('deadbeef'.repeat(4)); // untouched
        });
      }),
      { numRuns: 200 },
    );
    expect(() => openLegacyTokens(['x', 'y'], KEY, undefined, new Uint32Array(7))).toThrow(ProtocolError);
  });

  it('refuses a whole line of bad tokens one by one, and an empty line gives nothing', () => {
    expect(openLegacyTokens([], KEY)).toEqual([]);
    const good = sealLegacyToken({ name: 'a', origin: 'b', destination: 'c' }, KEY);
    const results = openLegacyTokens(['', good, `${good.slice(0, 31)}g:${good.slice(33)}`, `${good}0`, good], KEY);
    expect(results.map((r) => (r.ok ? 'ok' : r.reason))).toEqual([
      'legacy_bad_token',
      'ok',
      'legacy_bad_token',
      'legacy_bad_token',
      'ok',
    ]);
  });
});

describe('openLegacyLine', () => {
  /** A line's bytes: tokens (any text, UTF-8) joined by bars, or raw bytes now and then. */
  const lineBytes = fc.oneof(
    { weight: 6, arbitrary: fc.array(token, { maxLength: 12 }).map((tokens) => Buffer.from(tokens.join('|'), 'utf8')) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }).map((bytes) => Buffer.from(bytes)) },
  );

  function check(line: Buffer, accept: readonly LegacyHashVariant[]): void {
    const opening = openLegacyLine(line, KEY, accept);
    const tokens = line.length === 0 ? [] : line.toString('latin1').split('|');
    const reference = openLegacyTokens(tokens, KEY, accept);
    expect(opening.results).toHaveLength(tokens.length);
    expect(legacyLineTokenCount(line)).toBe(tokens.length);
    let start = 0;
    reference.forEach((expected, i) => {
      const got = opening.results[i];
      const end = opening.tokenEnds[i] as number;
      // Token i's bytes are the latin1 token the reference opened.
      expect(line.toString('latin1', start, end)).toBe(tokens[i]);
      const jsonStart = i === 0 ? 0 : (opening.messageJsonEnds[i - 1] as number);
      const json = opening.messageJson.toString('utf8', jsonStart, opening.messageJsonEnds[i]);
      if (expected.ok) {
        const { name, origin, destination } = expected.message;
        expect(got).toEqual({
          ok: true,
          message: expected.message,
          variant: expected.variant,
          plain: got?.ok === true && got.plain,
        });
        expect(json).toBe(JSON.stringify({ name, origin, destination }));
        if (got?.ok === true && got.plain) {
          expect(json).toBe(`{"name":"${name}","origin":"${origin}","destination":"${destination}"}`);
        }
        const words = [0, 1, 2, 3].map((w) => opening.ivWords[4 * i + w]);
        expect(
          Buffer.from(new Uint32Array(words.map((w) => w as number)).buffer)
            .swap32()
            .toString('hex'),
        ).toBe(expected.ivHex);
      } else {
        expect(got).toEqual(expected);
        expect(json).toBe('');
      }
      start = end + 1;
    });
  }

  it('opens every token as openLegacyTokens opens the latin1 text split at bars, and gives its JSON', () => {
    fc.assert(
      fc.property(lineBytes, acceptLists, (line, accept) => check(line, accept)),
      { numRuns: 400 },
    );
  });

  it("gives the seed emitter's messages as the plaintext minus its secret_key", () => {
    const messages = [
      { name: 'Jack Reacher', origin: 'Bengaluru', destination: 'Mumbai' },
      { name: 'Zoë 😀', origin: '', destination: 'a|b' },
      { name: 'q"uote', origin: 'back\\slash', destination: 'ctl\u0001' },
    ];
    const line = Buffer.from(messages.map((m) => sealLegacyToken(m, KEY)).join('|'), 'latin1');
    const opening = openLegacyLine(line, KEY);
    expect(opening.results.map((r) => r.ok && r.plain)).toEqual([true, true, false]);
    expect(opening.messageJson.toString('utf8')).toBe(messages.map((m) => JSON.stringify(m)).join(''));
    check(line, ['sorted', 'insertion']);
  });

  it('has no token in an empty line, and an empty token wherever two bars meet', () => {
    expect(openLegacyLine(Buffer.alloc(0), KEY).results).toEqual([]);
    const good = sealLegacyToken({ name: 'a', origin: 'b', destination: 'c' }, KEY);
    const opening = openLegacyLine(Buffer.from(`|${good}||`, 'latin1'), KEY);
    expect(opening.results.map((r) => r.ok)).toEqual([false, true, false, false]);
    expect([...opening.tokenEnds]).toEqual([0, 1 + good.length, 2 + good.length, 3 + good.length]);
  });
});

describe('the fast plaintext reading', () => {
  it('agrees with JSON.parse whenever it answers, and answers for the seed shape with plain values', () => {
    const value = fc.string({
      unit: fc.constantFrom('a', ' ', '"', '\\', '\n', 'é', '😀', '}', ',', ':'),
      maxLength: 8,
    });
    const text = fc.oneof(
      fc
        .tuple(value, value, value, value)
        .map(([a, b, c, d]) => `{"name":"${a}","origin":"${b}","destination":"${c}","secret_key":"${d}"}`),
      fc
        .tuple(value, value, value, value)
        .map(([a, b, c, d]) => JSON.stringify({ name: a, origin: b, destination: c, secret_key: d })),
      foreignPlaintext,
    );
    fc.assert(
      fc.property(text, (plaintext) => {
        // The caller only asks for the fast reading when there is no backslash and no control character.
        fc.pre(![...plaintext].some((char) => char === '\\' || char < ' '));
        const fast = readCanonicalPlaintext(plaintext);
        const slow = readPlaintext(plaintext);
        if (fast !== undefined) {
          expect(slow).toEqual({ ...fast, plain: false });
        }
        if (slow.ok && plaintext === JSON.stringify({ ...slow.message, secret_key: slow.secretKey })) {
          expect(fast).toBeDefined();
        }
      }),
      { numRuns: 1000 },
    );
  });
});
