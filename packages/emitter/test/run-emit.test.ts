import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { legacyKey, openLegacyToken, parseLegacyLine } from '@sealstream/protocol';
import { describeEmitSummary, emitExitCode, parseEmitArgs, runEmit } from '@sealstream/emitter';
import { FakeHub } from './fake-hub.js';

const secretHex = 'ab'.repeat(32);
let hub: FakeHub | undefined;
let listener: Server | undefined;

afterEach(async () => {
  await hub?.close();
  hub = undefined;
  await new Promise<void>((resolve) => (listener ? listener.close(() => resolve()) : resolve()));
  listener = undefined;
});

describe('runEmit', () => {
  it('runs the native simulator a parsed command describes and reports its summary', async () => {
    hub = new FakeHub(Buffer.from(secretHex, 'hex'));
    const port = await hub.listen();
    const parsed = parseEmitArgs(
      ['--port', String(port), '--devices', '3', '--rate', '500', '--duration', '0.3', '--key-id', 'k1'],
      { SEALSTREAM_DEVICE_SECRET: secretHex },
    );
    if (!parsed.ok) throw new Error(parsed.error);
    const progress: string[] = [];
    const summary = await runEmit(parsed.command, { onProgress: (line) => progress.push(line) }).done;
    expect(summary.mode).toBe('native');
    if (summary.mode !== 'native') return;
    expect(summary.sent).toBeGreaterThan(0);
    expect(summary.acked).toBe(summary.sent);
    expect(hub.stored.size).toBe(summary.sent);
    expect(progress.join('\n')).toContain('3 devices');
  });

  it('sends as the exact device ids given with --device-ids', async () => {
    hub = new FakeHub(Buffer.from(secretHex, 'hex'));
    hub.allowedDevices = new Set(['pump-7', 'pump-8']);
    const port = await hub.listen();
    const parsed = parseEmitArgs(
      ['--port', String(port), '--device-ids', 'pump-7,pump-8', '--rate', '200', '--duration', '0.3', '--key-id', 'k1'],
      { SEALSTREAM_DEVICE_SECRET: secretHex },
    );
    if (!parsed.ok) throw new Error(parsed.error);
    const summary = await runEmit(parsed.command).done;
    if (summary.mode !== 'native') throw new Error('expected native');
    expect(summary.sent).toBeGreaterThan(0);
    expect(summary.rejected).toBe(0);
    expect(new Set([...hub.stored.values()].map((reading) => reading.device))).toEqual(new Set(['pump-7', 'pump-8']));
    expect(emitExitCode(summary)).toBe(0);
    expect(describeEmitSummary(summary)).toMatch(
      new RegExp(`^emit: ${summary.sent} accepted, 0 duplicates, 0 refused`),
    );
  });

  it('fails (exit code 1) and says why when the hub refused readings', async () => {
    hub = new FakeHub(Buffer.from(secretHex, 'hex'));
    hub.allowedDevices = new Set(['pump-7']);
    const port = await hub.listen();
    const parsed = parseEmitArgs(
      [
        '--port',
        String(port),
        '--devices',
        '1',
        '--device-prefix',
        'pump',
        '--rate',
        '100',
        '--duration',
        '0.2',
        '--key-id',
        'k1',
      ],
      { SEALSTREAM_DEVICE_SECRET: secretHex },
    );
    if (!parsed.ok) throw new Error(parsed.error);
    const summary = await runEmit(parsed.command).done;
    if (summary.mode !== 'native') throw new Error('expected native');
    expect(summary.sent).toBeGreaterThan(0);
    expect(summary.rejected).toBe(summary.sent);
    expect(summary.refusedByReason).toEqual({ in_ack: summary.sent });
    expect(emitExitCode(summary)).toBe(1);
    const line = describeEmitSummary(summary);
    expect(line).toContain(`0 accepted, 0 duplicates, ${summary.sent} refused`);
    expect(line).toContain('device_not_allowed');
  });

  it('counts readings an ERROR frame refused by their reason', async () => {
    hub = new FakeHub(Buffer.from(secretHex, 'hex'));
    hub.answer = () => ({ kind: 'error', reason: 'schema_invalid' });
    const port = await hub.listen();
    const parsed = parseEmitArgs(
      ['--port', String(port), '--devices', '1', '--rate', '50', '--duration', '0.2', '--key-id', 'k1'],
      { SEALSTREAM_DEVICE_SECRET: secretHex },
    );
    if (!parsed.ok) throw new Error(parsed.error);
    const summary = await runEmit(parsed.command).done;
    if (summary.mode !== 'native') throw new Error('expected native');
    expect(summary.refusedByReason).toEqual({ schema_invalid: summary.sent });
    expect(emitExitCode(summary)).toBe(1);
    expect(describeEmitSummary(summary)).toContain(`${summary.sent} schema_invalid`);
  });

  it('exits 1 and says so when readings were never acknowledged (a hub that is down)', () => {
    const base = { mode: 'native', duplicates: 0, refusedByReason: {}, resent: 0, skipped: 0, seconds: 2 } as const;
    const down = { ...base, sent: 20, acked: 0, rejected: 0, reconnects: 8 };
    expect(emitExitCode(down)).toBe(1);
    expect(describeEmitSummary(down)).toBe(
      'emit: 0 accepted, 0 duplicates, 0 refused; 20 not acknowledged when the run ended (the hub never ' +
        'answered: is it running, and are --host/--port, or --mqtt-url, where it listens?)',
    );
    const partly = { ...base, sent: 20, acked: 15, rejected: 0, reconnects: 1 };
    expect(emitExitCode(partly)).toBe(1);
    expect(describeEmitSummary(partly)).toBe(
      'emit: 15 accepted, 0 duplicates, 0 refused; 5 not acknowledged when the run ended',
    );
    expect(emitExitCode({ ...base, sent: 20, acked: 20, rejected: 0, reconnects: 0 })).toBe(0);
  });

  it('counts legacy bursts in words', () => {
    const legacy = { mode: 'legacy', messages: 467, tampered: 0, authFailed: false } as const;
    expect(describeEmitSummary({ ...legacy, bursts: 1 })).toBe('emit: 467 messages in 1 burst (0 tampered on purpose)');
    expect(describeEmitSummary({ ...legacy, bursts: 2 })).toBe(
      'emit: 467 messages in 2 bursts (0 tampered on purpose)',
    );
  });

  it('runs the legacy emitter for exactly the requested number of bursts', async () => {
    const port = await startListener();
    const parsed = parseEmitArgs(['--mode', 'legacy', '--bursts', '2', '--variant', 'insertion'], {
      ENCRYPTION_KEY: 'ek',
      AUTH_TOKEN: 'tok',
      LISTENER_PORT: String(port),
      EMIT_INTERVAL_MS: '20',
    });
    if (!parsed.ok) throw new Error(parsed.error);
    const summary = await runEmit(parsed.command).done;
    expect(summary).toMatchObject({ mode: 'legacy', bursts: 2, authFailed: false });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(lines).toHaveLength(2);
    const key = legacyKey('ek');
    let tokens = 0;
    for (const line of lines) {
      const parsedLine = parseLegacyLine(line);
      if (parsedLine.kind !== 'data') throw new Error('expected a DATA line');
      tokens += parsedLine.tokens.length;
      for (const token of parsedLine.tokens)
        expect(openLegacyToken(token, key, ['insertion'])).toMatchObject({ ok: true });
    }
    expect(summary.mode === 'legacy' && summary.messages).toBe(tokens);
  });

  it('ends a legacy run whose token the listener refuses, reporting it', async () => {
    const port = await startListener();
    const parsed = parseEmitArgs(['--mode', 'legacy', '--port', String(port), '--auth-token', 'wrong'], {
      ENCRYPTION_KEY: 'ek',
      EMIT_INTERVAL_MS: '20',
    });
    if (!parsed.ok) throw new Error(parsed.error);
    const summary = await runEmit(parsed.command).done;
    expect(summary).toMatchObject({ mode: 'legacy', bursts: 0, authFailed: true });
    expect(lines).toHaveLength(0);
  });
});

const lines: string[] = [];

async function startListener(): Promise<number> {
  lines.length = 0;
  listener = createServer((socket) => {
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
        const line = buffered.slice(0, at);
        buffered = buffered.slice(at + 1);
        if (line.startsWith('AUTH:')) socket.write(line === 'AUTH:tok' ? 'AUTH_OK\n' : 'AUTH_FAIL\n');
        else lines.push(line);
      }
    });
    socket.on('error', () => undefined);
  });
  return new Promise<number>((resolve) =>
    listener?.listen(0, '127.0.0.1', () => resolve((listener?.address() as AddressInfo).port)),
  );
}
