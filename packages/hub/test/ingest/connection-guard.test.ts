/**
 * The connection guard's bookkeeping, by address: IPv4 as is, IPv6 by its /64 (however spelled),
 * IPv4-mapped IPv6 as IPv4; places are given back on close; near the bound the oldest connection that
 * proved nothing is reaped, never one that authenticated or is busy. (The hostile suite drives it with
 * real sockets: test/hostile/connection-flood.test.ts; several IPv6 /64s cannot be had on loopback.)
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConnectionGuard, reapThreshold } from '../../src/ingest/connection-guard.js';

/** The part of a socket the guard uses: its address, destroy, and the close event. */
class PeerSocket extends EventEmitter {
  destroyed = false;
  constructor(
    readonly remoteAddress: string,
    readonly remotePort = 40_000,
  ) {
    super();
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
}

function guard(maxConnections: number, maxPerAddress: number) {
  const counts = { refused: 0, reaped: 0 };
  const instance = new ConnectionGuard({
    source: 'tcp',
    maxConnections,
    maxPerAddress,
    metrics: { refusedPerAddress: () => (counts.refused += 1), reaped: () => (counts.reaped += 1) },
  });
  const admit = (address: string): PeerSocket => {
    const socket = new PeerSocket(address);
    instance.admit(socket as unknown as Socket);
    return socket;
  };
  return { instance, counts, admit };
}

describe('ConnectionGuard', () => {
  it('counts IPv6 addresses by their /64 and IPv4-mapped addresses as IPv4', () => {
    const { counts, admit } = guard(100, 2);
    expect(admit('2001:db8:1:2::5').destroyed).toBe(false);
    expect(admit('2001:0db8:0001:0002:ffff::9').destroyed).toBe(false);
    expect(admit('2001:db8:1:2:aaaa:bbbb:cccc:dddd').destroyed).toBe(true); // third of the same /64
    expect(admit('2001:db8:1:3::1').destroyed).toBe(false); // another /64
    expect(admit('10.0.0.1').destroyed).toBe(false);
    expect(admit('::ffff:10.0.0.1').destroyed).toBe(false);
    expect(admit('10.0.0.1').destroyed).toBe(true);
    expect(admit('10.0.0.2').destroyed).toBe(false);
    expect(counts.refused).toBe(2);
  });

  it('gives a place back when its connection closes', () => {
    const { instance, admit } = guard(100, 1);
    const first = admit('192.0.2.7');
    expect(admit('192.0.2.7').destroyed).toBe(true);
    first.destroy();
    expect(admit('192.0.2.7').destroyed).toBe(false);
    expect(instance.size).toBe(1);
  });

  it('near the bound reaps the oldest unproven connection, never an authenticated or busy one', () => {
    const max = 10;
    const { instance, counts, admit } = guard(max, max);
    const reapAt = reapThreshold(max);
    expect(reapAt).toBe(9);
    const device = admit('198.51.100.1');
    instance.pin(device as unknown as Socket);
    const request = admit('198.51.100.2');
    instance.busy(request as unknown as Socket, 1);
    const idle = Array.from({ length: reapAt - 2 }, (_, i) => admit(`203.0.113.${i + 1}`));
    expect(counts.reaped).toBe(0);
    const newcomers = Array.from({ length: 5 }, (_, i) => admit(`203.0.113.${100 + i}`));
    expect(counts.reaped).toBe(5);
    expect(instance.size).toBe(reapAt);
    expect(device.destroyed).toBe(false);
    expect(request.destroyed).toBe(false);
    expect(idle.slice(0, 5).every((socket) => socket.destroyed)).toBe(true);
    expect(newcomers.every((socket) => !socket.destroyed)).toBe(true);
    // A request that ended leaves its connection idle, and so reapable again.
    instance.busy(request as unknown as Socket, -1);
    for (let i = 0; i < reapAt; i += 1) admit(`203.0.113.${200 + i}`);
    expect(request.destroyed).toBe(true);
    expect(device.destroyed).toBe(false);
  });
});
