import {
  LEGACY_AUTH_FAIL,
  LEGACY_AUTH_OK,
  LineSplitter,
  ProtocolError,
  encodeLegacyAuthLine,
  encodeLegacyDataLine,
  legacyKey,
  openLegacyToken,
  parseLegacyLine,
  sealLegacyToken,
  type LegacyMessage,
  type LineItem,
} from '@sealstream/protocol';
import { createDecipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';

const KEY = legacyKey('encrypted-timeseries-secret-key-12345');
const MESSAGE: LegacyMessage = { name: 'Jack Reacher', origin: 'Bengaluru', destination: 'Mumbai' };

function lines(items: LineItem[]): Array<string | { reason: string }> {
  return items.map((item) => (item.ok ? item.line : { reason: item.reason }));
}

describe('legacy tokens', () => {
  it('round-trips with a random IV in both variants, and the plaintext has the seed shape', () => {
    for (const variant of ['sorted', 'insertion'] as const) {
      const token = sealLegacyToken(MESSAGE, KEY, { variant });
      expect(token).toMatch(/^[0-9a-f]{32}:[0-9a-f]+$/);
      const opened = openLegacyToken(token, KEY);
      expect(opened).toMatchObject({ ok: true, message: MESSAGE, variant, ivHex: token.slice(0, 32) });
      const [ivHex, ctHex] = token.split(':') as [string, string];
      const plaintext = createDecipheriv('aes-256-ctr', KEY, Buffer.from(ivHex, 'hex'))
        .update(Buffer.from(ctHex, 'hex'))
        .toString('utf8');
      expect(Object.keys(JSON.parse(plaintext) as object)).toEqual(['name', 'origin', 'destination', 'secret_key']);
    }
  });

  it('uses a fresh IV per token', () => {
    expect(sealLegacyToken(MESSAGE, KEY)).not.toBe(sealLegacyToken(MESSAGE, KEY));
  });

  it('honours the accepted variants', () => {
    const insertion = sealLegacyToken(MESSAGE, KEY, { variant: 'insertion' });
    expect(openLegacyToken(insertion, KEY, ['sorted'])).toMatchObject({ ok: false, reason: 'legacy_integrity_failed' });
    expect(openLegacyToken(insertion, KEY, ['insertion'])).toMatchObject({ ok: true, variant: 'insertion' });
  });

  it('normalises the IV to lower case and accepts upper-case hex', () => {
    const token = sealLegacyToken(MESSAGE, KEY, { iv: Buffer.alloc(16, 0xab) });
    expect(openLegacyToken(token.toUpperCase(), KEY)).toMatchObject({ ok: true, ivHex: 'ab'.repeat(16) });
  });

  it('a flipped hex digit in the ciphertext gives legacy_integrity_failed or legacy_bad_json, never ok', () => {
    const token = sealLegacyToken(MESSAGE, KEY, { iv: Buffer.alloc(16, 1) });
    const seen = new Set<string>();
    for (let i = 33; i < token.length; i++) {
      const digit = token[i] as string;
      const flipped = `${token.slice(0, i)}${digit === '0' ? '1' : '0'}${token.slice(i + 1)}`;
      const result = openLegacyToken(flipped, KEY);
      expect(result.ok, `digit ${i}`).toBe(false);
      if (!result.ok) seen.add(result.reason);
    }
    expect([...seen].sort()).toEqual(['legacy_bad_json', 'legacy_integrity_failed']);
  });

  it('the wrong key fails', () => {
    const token = sealLegacyToken(MESSAGE, KEY);
    const result = openLegacyToken(token, legacyKey('another-key'));
    expect(result.ok).toBe(false);
  });

  it('refuses malformed tokens with legacy_bad_token', () => {
    const good = sealLegacyToken(MESSAGE, KEY);
    const bad = [
      '',
      ':',
      'abc',
      good.slice(0, 32),
      `${good.slice(0, 32)}:`,
      `${good.slice(0, 30)}:${good.slice(33)}`,
      `${good.slice(0, 32)}x${good.slice(33)}`,
      `${good.slice(0, 31)}g:${good.slice(33)}`,
      `${good}0`,
      `${good}zz`,
      `${good.slice(0, 40)}:${good.slice(41)}`,
    ];
    for (const token of bad) expect(openLegacyToken(token, KEY), token).toMatchObject({ reason: 'legacy_bad_token' });
  });

  it('refuses plaintexts that are not the seed object with legacy_bad_json', () => {
    const iv = Buffer.alloc(16, 2);
    for (const plaintext of ['[1]', 'null', '"x"', '{"name":"a","origin":"b","destination":"c"}', '{"name":1}', '{']) {
      const cipher = createDecipheriv('aes-256-ctr', KEY, iv); // CTR: encrypt == decrypt
      const token = `${iv.toString('hex')}:${cipher.update(plaintext, 'utf8').toString('hex')}`;
      expect(openLegacyToken(token, KEY), plaintext).toMatchObject({ ok: false, reason: 'legacy_bad_json' });
    }
  });

  it('throws ProtocolError for a key that is not 32 bytes or an IV that is not 16', () => {
    expect(() => openLegacyToken('x', Buffer.alloc(16))).toThrow(ProtocolError);
    expect(() => sealLegacyToken(MESSAGE, KEY, { iv: Buffer.alloc(12) })).toThrow(ProtocolError);
  });
});

describe('legacy lines', () => {
  it('encodes AUTH and DATA lines and the exact replies', () => {
    expect(encodeLegacyAuthLine('secret')).toBe('AUTH:secret\n');
    expect(encodeLegacyDataLine(['a:1', 'b:2'])).toBe('DATA:a:1|b:2\n');
    expect(LEGACY_AUTH_OK).toBe('AUTH_OK\n');
    expect(LEGACY_AUTH_FAIL).toBe('AUTH_FAIL\n');
  });

  it('parses AUTH, DATA and unknown lines', () => {
    expect(parseLegacyLine('AUTH:tok:en')).toEqual({ kind: 'auth', token: 'tok:en' });
    expect(parseLegacyLine('AUTH:')).toEqual({ kind: 'auth', token: '' });
    expect(parseLegacyLine('DATA:a|b|c')).toEqual({ kind: 'data', tokens: ['a', 'b', 'c'] });
    expect(parseLegacyLine('DATA:a||b\r')).toEqual({ kind: 'data', tokens: ['a', '', 'b'] });
    expect(parseLegacyLine('DATA:')).toEqual({ kind: 'data', tokens: [] });
    expect(parseLegacyLine('data:a')).toEqual({ kind: 'unknown', text: 'data:a' });
    expect(parseLegacyLine('')).toEqual({ kind: 'unknown', text: '' });
  });

  it('buffers a ~175 KB DATA line across chunks and every token opens', () => {
    const tokens = Array.from({ length: 499 }, (_, i) =>
      sealLegacyToken({ name: `Name ${i}`, origin: 'Bengaluru', destination: 'Mumbai' }, KEY),
    );
    const line = Buffer.from(encodeLegacyDataLine(tokens));
    const splitter = new LineSplitter();
    const items: LineItem[] = [];
    for (let i = 0; i < line.length; i += 1400) items.push(...splitter.push(line.subarray(i, i + 1400)));
    expect(items).toHaveLength(1);
    const parsed = items[0]?.ok ? parseLegacyLine(items[0].line) : undefined;
    expect(parsed?.kind).toBe('data');
    if (parsed?.kind !== 'data') return;
    expect(parsed.tokens.map((token) => openLegacyToken(token, KEY).ok)).toEqual(tokens.map(() => true));
  });

  it('splits lines across chunks and tolerates \\r\\n', () => {
    const splitter = new LineSplitter();
    const items = [
      ...splitter.push(Buffer.from('AUTH:abc\r\nDA')),
      ...splitter.push(Buffer.from('TA:x|y')),
      ...splitter.push(Buffer.from('\n\nlast')),
    ];
    expect(splitter.pendingBytes).toBe(4);
    items.push(...splitter.end());
    expect(lines(items)).toEqual(['AUTH:abc', 'DATA:x|y', '', 'last']);
  });

  it('skips an over-long line, reports legacy_line_too_long once, and parses the next line', () => {
    for (const chunkSize of [1, 3, 7, 64, 1000]) {
      const input = Buffer.from(`ok1\n${'x'.repeat(40)}\nok2\r\n${'y'.repeat(17)}\nok3\n`);
      const splitter = new LineSplitter({ maxLineBytes: 16 });
      const items: LineItem[] = [];
      for (let i = 0; i < input.length; i += chunkSize) items.push(...splitter.push(input.subarray(i, i + chunkSize)));
      items.push(...splitter.end());
      expect(lines(items), `chunk ${chunkSize}`).toEqual([
        'ok1',
        { reason: 'legacy_line_too_long' },
        'ok2',
        { reason: 'legacy_line_too_long' },
        'ok3',
      ]);
      const tooLong = items[1] as LineItem & { ok: false };
      expect(tooLong.raw.toString()).toBe('x'.repeat(17)); // first maxLineBytes+1 bytes
    }
  });

  it('a line of exactly maxLineBytes passes; one more byte does not', () => {
    const splitter = new LineSplitter({ maxLineBytes: 5 });
    expect(lines(splitter.push(Buffer.from('12345\n123456\n')))).toEqual(['12345', { reason: 'legacy_line_too_long' }]);
  });

  it('keeps pendingBytes within the line cap while skipping', () => {
    const splitter = new LineSplitter({ maxLineBytes: 100 });
    const items = splitter.push(Buffer.alloc(10_000, 0x61));
    expect(lines(items)).toEqual([{ reason: 'legacy_line_too_long' }]);
    expect((items[0] as LineItem & { ok: false }).raw).toHaveLength(101);
    expect(splitter.pendingBytes).toBe(0);
    expect(splitter.push(Buffer.alloc(10_000, 0x61))).toEqual([]);
    expect(lines(splitter.push(Buffer.from('tail\nnext\n')))).toEqual(['next']);
    expect(splitter.end()).toEqual([]);
  });
});
