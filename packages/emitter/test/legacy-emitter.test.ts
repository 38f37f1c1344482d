import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { legacyKey, openLegacyToken, parseLegacyLine } from '@sealstream/protocol';
import { LegacyEmitter } from '@sealstream/emitter';

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

function listener(onBytes: (all: Buffer, write: (s: string) => void) => void): Promise<number> {
  server = createServer((socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      onBytes(Buffer.concat(chunks), (s) => socket.write(s));
    });
    socket.on('error', () => undefined);
  });
  return new Promise((resolve) =>
    server?.listen(0, '127.0.0.1', () => resolve((server?.address() as AddressInfo).port)),
  );
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('LegacyEmitter', () => {
  it('speaks the seed protocol byte for byte: AUTH line, waits for AUTH_OK, one DATA line per burst', async () => {
    let authSeen = '';
    let dataLine = '';
    const port = await listener((all, write) => {
      const text = all.toString('latin1');
      if (authSeen === '' && text.includes('\n')) {
        authSeen = text.slice(0, text.indexOf('\n') + 1);
        write('AUTH_OK\n');
      }
      const rest = text.slice(authSeen.length);
      if (rest.endsWith('\n')) dataLine = rest;
    });
    const emitter = new LegacyEmitter({ host: '127.0.0.1', port, encryptionKey: 'secret-key', authToken: 'tok-1' });
    const count = await emitter.sendBurst(120);
    const deadline = Date.now() + 5000;
    while (dataLine === '' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    await emitter.stop();
    expect(authSeen).toBe('AUTH:tok-1\n');
    const parsed = parseLegacyLine(dataLine.slice(0, -1));
    expect(parsed.kind).toBe('data');
    if (parsed.kind !== 'data') return;
    expect(parsed.tokens).toHaveLength(count);
    const key = legacyKey('secret-key');
    for (const token of parsed.tokens) expect(openLegacyToken(token, key, ['sorted']).ok).toBe(true);
  });

  it('emits bursts of 49..499 tokens on its interval', async () => {
    const sizes: number[] = [];
    let buffered = '';
    let authed = false;
    const port = await listener((all, write) => {
      const text = all.toString('latin1');
      if (!authed && text.includes('\n')) {
        authed = true;
        write('AUTH_OK\n');
      }
      buffered = text.slice(text.indexOf('\n') + 1);
      sizes.length = 0;
      for (const line of buffered.split('\n').slice(0, -1)) sizes.push(line.slice(5).split('|').length);
    });
    const emitter = new LegacyEmitter({ host: '127.0.0.1', port, encryptionKey: 'k', authToken: 't', intervalMs: 50 });
    emitter.start();
    const deadline = Date.now() + 5000;
    while (sizes.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await emitter.stop();
    expect(sizes.length).toBeGreaterThanOrEqual(3);
    for (const size of sizes) {
      expect(size).toBeGreaterThanOrEqual(49);
      expect(size).toBeLessThanOrEqual(499);
    }
  });

  it('sendBurst() without a count sends 49..499 tokens, and tamperFraction corrupts exactly the counted ones', async () => {
    const lines: string[] = [];
    const port = await listener((all, write) => {
      const text = all.toString('latin1');
      if (lines.length === 0 && text.startsWith('AUTH:') && text.indexOf('\n') === text.length - 1) write('AUTH_OK\n');
      lines.splice(0, lines.length, ...text.split('\n').slice(1, -1));
    });
    const plain = new LegacyEmitter({ host: '127.0.0.1', port, encryptionKey: 'ek', authToken: 't' });
    const count = await plain.sendBurst();
    expect(count).toBeGreaterThanOrEqual(49);
    expect(count).toBeLessThanOrEqual(499);
    await waitFor(() => lines.length === 1);
    await plain.stop();
    const key = legacyKey('ek');
    const first = parseLegacyLine(lines[0] ?? '');
    if (first.kind !== 'data') throw new Error('expected a DATA line');
    expect(first.tokens).toHaveLength(count);
    expect(first.tokens.every((token) => openLegacyToken(token, key).ok)).toBe(true);

    lines.length = 0;
    const tampering = new LegacyEmitter({
      host: '127.0.0.1',
      port,
      encryptionKey: 'ek',
      authToken: 't',
      tamperFraction: 0.3,
    });
    await tampering.sendBurst(400);
    await waitFor(() => lines.length === 1);
    await tampering.stop();
    const second = parseLegacyLine(lines[0] ?? '');
    if (second.kind !== 'data') throw new Error('expected a DATA line');
    const refused = second.tokens.filter((token) => !openLegacyToken(token, key).ok).length;
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBe(tampering.stats().tampered);
  });

  it('stops on AUTH_FAIL instead of hammering the listener', async () => {
    let connections = 0;
    const port = await listener((_all, write) => write('AUTH_FAIL\n'));
    server?.on('connection', () => (connections += 1));
    const emitter = new LegacyEmitter({ host: '127.0.0.1', port, encryptionKey: 'k', authToken: 'wrong' });
    await expect(emitter.sendBurst(10)).rejects.toThrow('AUTH failed');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(connections).toBe(1);
    await emitter.stop();
  });
});
