import { createCipheriv, createHmac } from 'node:crypto';
import {
  CipherSuite,
  DEFAULT_MAX_FRAME_BYTES,
  FrameDecoder,
  FrameType,
  ProtocolError,
  REASONS,
  deriveDeviceKey,
  encodeAck,
  encodeClose,
  encodeError,
  encodePing,
  encodePong,
  openDataFrame,
  parseSecretHex,
  sealReadings,
  type DataFrame,
  type DecodeItem,
  type Frame,
} from '@sealstream/protocol';
import { describe, expect, it } from 'vitest';
import { KEY, OTHER_KEY, SECRET, sampleReadings } from './helpers.js';

const SUITES = [CipherSuite.Aes256Gcm, CipherSuite.Aes256CtrHmacSha256] as const;

function decodeAll(bytes: Buffer, decoder = new FrameDecoder()): DecodeItem[] {
  return [...decoder.push(bytes), ...decoder.end()];
}

function onlyFrame(bytes: Buffer): Frame {
  const items = decodeAll(bytes);
  expect(items).toHaveLength(1);
  const [item] = items;
  if (!item?.ok) throw new Error(`expected a frame, got ${JSON.stringify(item)}`);
  return item.frame;
}

function onlyDataFrame(bytes: Buffer): DataFrame {
  const frame = onlyFrame(bytes);
  if (frame.type !== FrameType.Data) throw new Error('expected a DATA frame');
  return frame;
}

function onlyRejection(bytes: Buffer, decoder = new FrameDecoder()): DecodeItem & { ok: false } {
  const items = decodeAll(bytes, decoder);
  const rejections = items.filter((item): item is DecodeItem & { ok: false } => !item.ok);
  expect(rejections).toHaveLength(1);
  return rejections[0] as DecodeItem & { ok: false };
}

/** Prefixes a hand-built body with its length: for framing tests that never reach crypto. */
function rawFrame(body: Buffer): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(body.length);
  return Buffer.concat([prefix, body]);
}

describe('keys', () => {
  it('derives distinct 32-byte encryption and MAC keys', () => {
    expect(KEY.encKey).toHaveLength(32);
    expect(KEY.macKey).toHaveLength(32);
    expect(KEY.encKey.equals(KEY.macKey)).toBe(false);
    expect(deriveDeviceKey(SECRET).encKey.equals(KEY.encKey)).toBe(true);
  });

  it('refuses a secret that is not 32 bytes', () => {
    expect(() => deriveDeviceKey(Buffer.alloc(31))).toThrow(ProtocolError);
    expect(() => deriveDeviceKey(Buffer.alloc(33))).toThrow(ProtocolError);
  });

  it('parses 64 hex characters only', () => {
    expect(parseSecretHex(SECRET.toString('hex'))?.equals(SECRET)).toBe(true);
    expect(parseSecretHex(SECRET.toString('hex').toUpperCase())?.equals(SECRET)).toBe(true);
    expect(parseSecretHex(SECRET.toString('hex').slice(2))).toBeUndefined();
    expect(parseSecretHex(`${SECRET.toString('hex').slice(2)}zz`)).toBeUndefined();
    expect(parseSecretHex('')).toBeUndefined();
  });
});

describe('DATA frames', () => {
  for (const suite of SUITES) {
    it(`round-trips readings with suite ${suite}`, () => {
      const readings = sampleReadings(25);
      const sealed = sealReadings(readings, KEY, { suite, keyId: 'key-A', frameId: 99, sentAt: 1_700_000_123_456 });
      const frame = onlyDataFrame(sealed);
      expect(frame).toMatchObject({ type: 1, suite, frameId: 99, sentAt: 1_700_000_123_456, keyId: 'key-A' });
      expect(frame.raw.equals(sealed)).toBe(true);
      expect(frame.iv).toHaveLength(suite === CipherSuite.Aes256Gcm ? 12 : 16);
      expect(frame.tag).toHaveLength(suite === CipherSuite.Aes256Gcm ? 16 : 32);
      expect(openDataFrame(frame, KEY)).toEqual({ ok: true, readings });
    });

    it(`uses a fresh IV per frame with suite ${suite}`, () => {
      const readings = sampleReadings(1);
      const a = onlyDataFrame(sealReadings(readings, KEY, { suite, keyId: 'k', frameId: 1 }));
      const b = onlyDataFrame(sealReadings(readings, KEY, { suite, keyId: 'k', frameId: 1 }));
      expect(a.iv.equals(b.iv)).toBe(false);
      expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
    });

    it(`refuses tampering anywhere with integrity_failed (suite ${suite})`, () => {
      const sealed = sealReadings(sampleReadings(3), KEY, { suite, keyId: 'key-A', frameId: 5, sentAt: 1000 });
      const clean = onlyDataFrame(sealed);
      const headerStart = 4;
      const ivStart = headerStart + clean.header.length - clean.iv.length;
      const ciphertextStart = headerStart + clean.header.length;
      const tagStart = sealed.length - clean.tag.length;
      // frameId byte, sentAt byte, keyId byte (stays a legal char), IV, ciphertext, tag
      const positions = [headerStart + 6, headerStart + 10, headerStart + 16, ivStart, ciphertextStart + 3, tagStart];
      for (const position of positions) {
        const tampered = Buffer.from(sealed);
        tampered[position] = (tampered[position] as number) ^ (position === headerStart + 16 ? 0x20 : 0x01);
        const frame = onlyDataFrame(tampered);
        expect(openDataFrame(frame, KEY), `byte ${position}`).toMatchObject({ ok: false, reason: 'integrity_failed' });
      }
      expect(openDataFrame(clean, KEY).ok).toBe(true);
    });

    it(`refuses the wrong key with integrity_failed (suite ${suite})`, () => {
      const frame = onlyDataFrame(sealReadings(sampleReadings(2), KEY, { suite, keyId: 'k', frameId: 1 }));
      expect(openDataFrame(frame, OTHER_KEY)).toMatchObject({ ok: false, reason: 'integrity_failed' });
    });

    it(`enforces maxReadings with too_many_readings (suite ${suite})`, () => {
      const frame = onlyDataFrame(sealReadings(sampleReadings(11), KEY, { suite, keyId: 'k', frameId: 1 }));
      expect(openDataFrame(frame, KEY, 10)).toMatchObject({ ok: false, reason: 'too_many_readings' });
      expect(openDataFrame(frame, KEY, 11).ok).toBe(true);
    });
  }

  it('returns bad_payload for non-JSON, non-array and empty-array plaintexts', () => {
    for (const [plaintext, detail] of [
      ['{"device":"x"}', /not a JSON array/],
      ['[', /not valid JSON/],
      ['[]', /empty/],
      ['', /not valid JSON/],
    ] as const) {
      for (const suite of SUITES) {
        const frame = onlyDataFrame(sealPlaintext(plaintext, suite));
        const result = openDataFrame(frame, KEY);
        expect(result).toMatchObject({ ok: false, reason: 'bad_payload' });
        if (!result.ok) expect(result.detail).toMatch(detail);
      }
    }
  });

  it('returns bad_payload for an authentic payload that is not valid UTF-8, instead of storing U+FFFD', () => {
    const valid = Buffer.from('[{"device":"d","seq":1,"ts":1,"data":{"name":"\u00e9"}}]', 'utf8');
    for (const bytes of [
      Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d]), // ["\xff"]: a byte never valid in UTF-8
      Buffer.from([0x5b, 0x22, 0xc3, 0x22, 0x5d]), // a truncated two-byte sequence
      Buffer.from([0x5b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x5d]), // an encoded lone surrogate
    ]) {
      for (const suite of SUITES) {
        const template = onlyDataFrame(sealReadings(sampleReadings(1), KEY, { suite, keyId: 'k', frameId: 3 }));
        const result = openDataFrame(onlyDataFrame(resealWithPlaintext(template, bytes)), KEY);
        expect(result).toMatchObject({ ok: false, reason: 'bad_payload' });
        if (!result.ok) expect(result.detail).toMatch(/UTF-8/);
      }
    }
    for (const suite of SUITES) {
      const template = onlyDataFrame(sealReadings(sampleReadings(1), KEY, { suite, keyId: 'k', frameId: 3 }));
      expect(openDataFrame(onlyDataFrame(resealWithPlaintext(template, valid)), KEY).ok).toBe(true);
    }
  });

  it('passes an unknown suite through the decoder and refuses it in openDataFrame', () => {
    const sealed = sealReadings(sampleReadings(1), KEY, { suite: 1, keyId: 'key-Z', frameId: 77 });
    sealed[6] = 9; // suite byte
    const frame = onlyDataFrame(sealed);
    expect(frame).toMatchObject({ suite: 9, frameId: 77, keyId: 'key-Z' });
    expect(openDataFrame(frame, KEY)).toMatchObject({ ok: false, reason: 'unknown_suite' });
  });

  it('rejects caller bugs when sealing by throwing ProtocolError', () => {
    const readings = sampleReadings(1);
    expect(() => sealReadings([], KEY, { suite: 1, keyId: 'k', frameId: 1 })).toThrow(ProtocolError);
    expect(() => sealReadings(readings, KEY, { suite: 1, keyId: 'bad key', frameId: 1 })).toThrow(ProtocolError);
    expect(() => sealReadings(readings, KEY, { suite: 1, keyId: 'k'.repeat(65), frameId: 1 })).toThrow(ProtocolError);
    expect(() => sealReadings(readings, KEY, { suite: 1, keyId: 'k', frameId: -1 })).toThrow(ProtocolError);
    expect(() => sealReadings(readings, KEY, { suite: 1, keyId: 'k', frameId: 2 ** 32 })).toThrow(ProtocolError);
    expect(() => sealReadings(readings, KEY, { suite: 1, keyId: 'k', frameId: 1, sentAt: -5 })).toThrow(ProtocolError);
    expect(() => sealReadings(readings, KEY, { suite: 1, keyId: 'k', frameId: 1, iv: Buffer.alloc(16) })).toThrow(
      ProtocolError,
    );
    expect(() => sealReadings(readings, KEY, { suite: 3 as never, keyId: 'k', frameId: 1 })).toThrow(ProtocolError);
  });

  it('keeps a 64-character key id and frameId 2^32-1', () => {
    const keyId = 'A-z0.9_:'.repeat(8);
    const frame = onlyDataFrame(sealReadings(sampleReadings(1), KEY, { suite: 2, keyId, frameId: 0xffff_ffff }));
    expect(frame.keyId).toBe(keyId);
    expect(frame.frameId).toBe(0xffff_ffff);
  });
});

/** Seals an arbitrary UTF-8 plaintext exactly as sealReadings would, for bad_payload tests. */
function sealPlaintext(plaintext: string, suite: 1 | 2): Buffer {
  // sealReadings only ever produces a JSON array, so keep a real frame's header and encrypt our own plaintext
  // under it with node:crypto directly: an independent sealing path that also cross-checks the layout.
  const template = onlyDataFrame(sealReadings(sampleReadings(1), KEY, { suite, keyId: 'k', frameId: 3 }));
  return resealWithPlaintext(template, Buffer.from(plaintext, 'utf8'));
}

function resealWithPlaintext(template: DataFrame, plaintext: Buffer): Buffer {
  const header = Buffer.from(template.header);
  let ciphertext: Buffer;
  let tag: Buffer;
  if (template.suite === 1) {
    const cipher = createCipheriv('aes-256-gcm', KEY.encKey, template.iv);
    cipher.setAAD(header);
    ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    tag = cipher.getAuthTag();
  } else {
    const cipher = createCipheriv('aes-256-ctr', KEY.encKey, template.iv);
    ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    tag = createHmac('sha256', KEY.macKey).update(header).update(ciphertext).digest();
  }
  return rawFrame(Buffer.concat([header, ciphertext, tag]));
}

describe('control frames', () => {
  it('round-trips ACK, ERROR, PING, PONG and CLOSE', () => {
    expect(onlyFrame(encodeAck({ frameId: 4, accepted: 10, duplicates: 2, rejected: 1 }))).toEqual({
      type: 2,
      frameId: 4,
      accepted: 10,
      duplicates: 2,
      rejected: 1,
    });
    expect(onlyFrame(encodeError(9, 'store_unavailable', 'commit failed: résumé'))).toEqual({
      type: 3,
      frameId: 9,
      code: REASONS.store_unavailable.code,
      reason: 'store_unavailable',
      message: 'commit failed: résumé',
    });
    const maxNonce = 2n ** 64n - 1n;
    expect(onlyFrame(encodePing(maxNonce))).toEqual({ type: 4, nonce: maxNonce });
    expect(onlyFrame(encodePong(0n))).toEqual({ type: 5, nonce: 0n });
    expect(onlyFrame(encodeClose())).toEqual({ type: 6, code: 0 });
    expect(onlyFrame(encodeClose(REASONS.shutting_down.code))).toEqual({ type: 6, code: 82 });
  });

  it('cuts ERROR messages to 1024 bytes on a character boundary', () => {
    const frame = onlyFrame(encodeError(1, 'overloaded', 'é'.repeat(600))); // 1200 bytes of 2-byte chars
    expect(frame).toMatchObject({ type: 3, message: 'é'.repeat(512) });
    const ascii = onlyFrame(encodeError(1, 'overloaded', 'x'.repeat(5000)));
    expect(ascii).toMatchObject({ message: 'x'.repeat(1024) });
  });

  it('decodes an ERROR with a code this version does not know as reason undefined', () => {
    const body = Buffer.from([1, 3, 0, 0, 0, 1, 0x03, 0xe7, 0, 2, 0x68, 0x69]);
    expect(onlyFrame(rawFrame(body))).toEqual({ type: 3, frameId: 1, code: 999, reason: undefined, message: 'hi' });
  });

  it('throws ProtocolError for out-of-range control values', () => {
    expect(() => encodeAck({ frameId: -1, accepted: 0, duplicates: 0, rejected: 0 })).toThrow(ProtocolError);
    expect(() => encodeAck({ frameId: 1, accepted: 1.5, duplicates: 0, rejected: 0 })).toThrow(ProtocolError);
    expect(() => encodePing(-1n)).toThrow(ProtocolError);
    expect(() => encodePing(2n ** 64n)).toThrow(ProtocolError);
    expect(() => encodeClose(65536)).toThrow(ProtocolError);
    expect(() => encodeError(1, 'nope' as never, 'x')).toThrow(ProtocolError);
  });
});

describe('FrameDecoder chunking', () => {
  const stream = Buffer.concat([
    sealReadings(sampleReadings(3), KEY, { suite: 1, keyId: 'a', frameId: 1, sentAt: 1 }),
    encodePing(7n),
    sealReadings(sampleReadings(2, 'd-2'), KEY, { suite: 2, keyId: 'b', frameId: 2, sentAt: 2 }),
    encodeAck({ frameId: 1, accepted: 3, duplicates: 0, rejected: 0 }),
    encodeError(0, 'idle_timeout', 'bye'),
    encodeClose(),
  ]);
  const expected = decodeAll(stream);

  it('decodes the reference stream into six frames', () => {
    expect(expected.map((item) => item.ok && item.frame.type)).toEqual([1, 4, 1, 2, 3, 6]);
  });

  it('gives identical frames for a split at every position', () => {
    for (let split = 0; split <= stream.length; split++) {
      const decoder = new FrameDecoder();
      const items = [
        ...decoder.push(stream.subarray(0, split)),
        ...decoder.push(stream.subarray(split)),
        ...decoder.end(),
      ];
      expect(items, `split at ${split}`).toEqual(expected);
    }
  });

  it('gives identical frames fed byte by byte, and reports pending bytes meanwhile', () => {
    const decoder = new FrameDecoder();
    const items: DecodeItem[] = [];
    let maxPending = 0;
    for (let i = 0; i < stream.length; i++) {
      items.push(...decoder.push(stream.subarray(i, i + 1)));
      maxPending = Math.max(maxPending, decoder.pendingBytes);
    }
    items.push(...decoder.end());
    expect(items).toEqual(expected);
    expect(maxPending).toBeGreaterThan(0);
    expect(decoder.pendingBytes).toBe(0);
  });

  it('copies nothing visible: decoded DATA frames open after the chunks that carried them are gone', () => {
    const decoder = new FrameDecoder();
    const frames: DataFrame[] = [];
    for (let i = 0; i < stream.length; i += 5) {
      const chunk = Buffer.from(stream.subarray(i, i + 5));
      for (const item of decoder.push(chunk)) if (item.ok && item.frame.type === 1) frames.push(item.frame);
    }
    expect(frames.map((f) => openDataFrame(f, KEY).ok)).toEqual([true, true]);
  });

  it('ignores empty chunks and reports a clean end', () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(Buffer.alloc(0))).toEqual([]);
    expect(decoder.end()).toEqual([]);
  });
});

describe('FrameDecoder refusals', () => {
  const goodPing = encodePing(1n);

  it('truncated frame at end -> frame_truncated (fatal)', () => {
    const sealed = sealReadings(sampleReadings(2), KEY, { suite: 1, keyId: 'k', frameId: 1 });
    for (const cut of [1, 3, 4, 5, 20, sealed.length - 1]) {
      const item = onlyRejection(sealed.subarray(0, cut));
      expect(item).toMatchObject({ reason: 'frame_truncated', fatal: true });
      expect(item.raw.equals(sealed.subarray(0, Math.min(cut, 256)))).toBe(true);
    }
  });

  it('giant length prefix -> frame_too_large (fatal) as soon as the prefix arrives', () => {
    const decoder = new FrameDecoder();
    const items = decoder.push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ ok: false, reason: 'frame_too_large', fatal: true });
    expect(decoder.push(goodPing)).toEqual([]);
    expect(decoder.end()).toEqual([]);
  });

  it('honours a custom maxFrameBytes and refuses options beyond the hard ceiling', () => {
    const ack = encodeAck({ frameId: 1, accepted: 0, duplicates: 0, rejected: 0 }); // body 18 bytes
    expect(decodeAll(ack, new FrameDecoder({ maxFrameBytes: 18 }))[0]?.ok).toBe(true);
    expect(onlyRejection(ack, new FrameDecoder({ maxFrameBytes: 17 }))).toMatchObject({ reason: 'frame_too_large' });
    expect(() => new FrameDecoder({ maxFrameBytes: 16 * 1_048_576 + 1 })).toThrow(ProtocolError);
    expect(() => new FrameDecoder({ maxFrameBytes: 1 })).toThrow(ProtocolError);
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(DEFAULT_MAX_FRAME_BYTES + 1);
    expect(onlyRejection(prefix)).toMatchObject({ reason: 'frame_too_large', fatal: true });
  });

  it('length prefix below 2 -> frame_truncated (fatal)', () => {
    for (const length of [0, 1]) {
      const item = onlyRejection(Buffer.concat([rawFrame(Buffer.alloc(length, 1)), goodPing]));
      expect(item).toMatchObject({ reason: 'frame_truncated', fatal: true });
    }
  });

  it('bad version -> bad_version (fatal), and the decoder is dead afterwards', () => {
    const decoder = new FrameDecoder();
    const bad = Buffer.from(goodPing);
    bad[4] = 2;
    const items = decoder.push(Buffer.concat([goodPing, bad, goodPing]));
    expect(items.map((item) => (item.ok ? item.frame.type : item.reason))).toEqual([4, 'bad_version']);
    expect(items[1]).toMatchObject({ fatal: true });
    expect(decoder.push(goodPing)).toEqual([]);
  });

  it('bad version is detected before the body arrives', () => {
    const decoder = new FrameDecoder();
    const items = decoder.push(Buffer.from([0, 0, 1, 0, 9, 1]));
    expect(items[0]).toMatchObject({ reason: 'bad_version', fatal: true });
  });

  it('unknown type -> unknown_frame_type (fatal)', () => {
    for (const type of [0, 7, 255]) {
      const bad = Buffer.from(goodPing);
      bad[5] = type;
      expect(onlyRejection(bad)).toMatchObject({ reason: 'unknown_frame_type', fatal: true });
    }
  });

  it('bodies that do not fit their type -> malformed_frame (non-fatal), decoding continues', () => {
    const sealed = sealReadings(sampleReadings(1), KEY, { suite: 1, keyId: 'kid', frameId: 1 });
    const body = sealed.subarray(4);
    const badBodies: Array<[string, Buffer]> = [
      ['DATA shorter than its fixed fields', body.subarray(0, 15)],
      ['DATA keyId length 0', Buffer.concat([body.subarray(0, 15), Buffer.from([0]), body.subarray(19)])],
      ['DATA keyId length 65', Buffer.concat([body.subarray(0, 15), Buffer.from([65]), body.subarray(16)])],
      ['DATA keyId past the end', body.subarray(0, 17)],
      ['DATA no room for IV and tag', body.subarray(0, 19 + 12 + 15)],
      ['DATA keyId with a space', Buffer.concat([body.subarray(0, 16), Buffer.from(' id'), body.subarray(19)])],
      ['DATA keyId with a slash', Buffer.concat([body.subarray(0, 16), Buffer.from('k/d'), body.subarray(19)])],
      [
        'DATA keyId with a high byte',
        Buffer.concat([body.subarray(0, 16), Buffer.from([0x6b, 0xe9, 0x64]), body.subarray(19)]),
      ],
      ['DATA sentAt beyond 2^53', Buffer.concat([body.subarray(0, 7), Buffer.from([0, 0x20]), body.subarray(9)])],
      ['ACK too short', Buffer.from([1, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])],
      ['ACK too long', Buffer.from([1, 2, ...new Array<number>(17).fill(0)])],
      ['ERROR too short', Buffer.from([1, 3, 0, 0, 0, 1, 0, 5, 0])],
      ['ERROR message length too big', Buffer.from([1, 3, 0, 0, 0, 1, 0, 5, 0, 3, 0x61, 0x62])],
      ['ERROR message length too small', Buffer.from([1, 3, 0, 0, 0, 1, 0, 5, 0, 1, 0x61, 0x62])],
      ['PING short', Buffer.from([1, 4, 0, 0, 0, 0, 0, 0, 1])],
      ['PONG long', Buffer.from([1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 1])],
      ['CLOSE empty', Buffer.from([1, 6])],
      ['CLOSE long', Buffer.from([1, 6, 0, 0, 0])],
    ];
    for (const [name, badBody] of badBodies) {
      const bad = rawFrame(badBody);
      const items = decodeAll(Buffer.concat([goodPing, bad, goodPing]));
      expect(
        items.map((item) => (item.ok ? item.frame.type : item.reason)),
        name,
      ).toEqual([4, 'malformed_frame', 4]);
      const rejection = items[1] as DecodeItem & { ok: false };
      expect(rejection.fatal, name).toBe(false);
      expect(rejection.raw.equals(bad), name).toBe(true);
    }
  });

  it('accepts the largest safe sentAt', () => {
    const frame = onlyDataFrame(
      sealReadings(sampleReadings(1), KEY, { suite: 2, keyId: 'k', frameId: 1, sentAt: Number.MAX_SAFE_INTEGER }),
    );
    expect(frame.sentAt).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('never throws and never yields more than the input holds for junk after a good frame', () => {
    const decoder = new FrameDecoder();
    const items = decoder.push(Buffer.concat([goodPing, Buffer.from('GET / HTTP/1.1\r\n\r\n')]));
    expect(items.map((item) => (item.ok ? item.frame.type : item.reason))).toEqual([4, 'frame_too_large']);
  });
});
