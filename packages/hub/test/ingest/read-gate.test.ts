import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionRegistry } from '../../src/ingest/connection-registry.js';
import { ReadGate } from '../../src/ingest/read-gate.js';
import type { PipelineMetrics } from '../../src/pipeline/ports.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function socketPair(): Promise<Socket> {
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const socket = await accepted;
  cleanups.push(() => {
    client.destroy();
    socket.destroy();
    server.close();
  });
  return socket;
}

function registryWithGauge(): { registry: ConnectionRegistry; paused: () => number } {
  let paused = 0;
  const metrics = {
    pausedConnections: (n: number) => (paused = n),
    connectionOpened: () => undefined,
    connectionClosed: () => undefined,
    connectionDropped: () => undefined,
  };
  const registry = new ConnectionRegistry('tcp', metrics as unknown as PipelineMetrics, 60_000);
  cleanups.push(() => void registry.closeAll());
  return { registry, paused: () => paused };
}

describe('ReadGate', () => {
  it('holds reading while it must, releases when it may, and keeps the paused gauge right', async () => {
    const socket = await socketPair();
    const { registry, paused } = registryWithGauge();
    let mustHold = true;
    const gate = new ReadGate(socket, registry, () => mustHold);
    gate.holdIfNeeded(false);
    expect(socket.isPaused()).toBe(true);
    expect(paused()).toBe(1);
    gate.releaseIfPossible(false);
    expect(socket.isPaused()).toBe(true); // still must hold
    mustHold = false;
    gate.releaseIfPossible(false);
    expect(socket.isPaused()).toBe(false);
    expect(paused()).toBe(0);
    mustHold = true;
    gate.holdIfNeeded(false);
    gate.closed();
    expect(paused()).toBe(0);
  });

  it('does not count a partial frame as stalled while the hub holds the socket, and restarts the clock on release', async () => {
    const socket = await socketPair();
    const { registry } = registryWithGauge();
    let mustHold = false;
    const gate = new ReadGate(socket, registry, () => mustHold);
    gate.notePending(10);
    const later = Date.now() + 10_000;
    expect(gate.stalledLongerThan(later, 5_000)).toBe(true);
    mustHold = true;
    gate.holdIfNeeded(false);
    expect(gate.stalledLongerThan(later, 5_000)).toBe(false);
    mustHold = false;
    gate.releaseIfPossible(false);
    expect(gate.stalledLongerThan(Date.now() + 1_000, 5_000)).toBe(false);
    gate.notePending(0);
    expect(gate.stalledLongerThan(later, 5_000)).toBe(false);
  });
});

describe('ReadGate slow-sender clock', () => {
  it('tolerates a long frame that keeps making progress, but not a trickle without end or a silent sender', async () => {
    const socket = await socketPair();
    const { registry } = registryWithGauge();
    const gate = new ReadGate(socket, registry, () => false);
    const start = Date.now();
    gate.notePending(10);
    // Progress just now: an old frame start alone is not a stall until four times the limit.
    expect(gate.stalledLongerThan(start + 1_000, 5_000)).toBe(false);
    expect(gate.stalledLongerThan(start + 6_000, 5_000)).toBe(true); // silent for longer than the limit
    gate.notePending(20);
    expect(gate.stalledLongerThan(Date.now() + 4_000, 5_000)).toBe(false);
    expect(gate.stalledLongerThan(start + 21_000, 5_000)).toBe(true); // pending for over 4x the limit
  });
});
