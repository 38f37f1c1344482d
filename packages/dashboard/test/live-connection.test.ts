// Tests for LiveConnection's token renewal with fake sockets: make-before-break handover, and recovery when the hub closes the link.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LiveReadingBatch } from '../src/contract.js';
import { LiveConnection, type LiveSocket } from '../src/live-connection.js';
import type { ConnectionInfo } from '../src/live-store.js';

type Listener = (...args: unknown[]) => void;

/** Just the surface of a Socket.IO client socket that LiveConnection uses, driven by the test. */
class FakeSocket {
  connected = false;
  active = true;
  disconnected = false;
  readonly emitted: Array<[string, unknown]> = [];
  private listeners = new Map<string, Listener[]>();
  private managerListeners = new Map<string, Listener[]>();
  readonly io = {
    on: (event: string, listener: Listener) => this.add(this.managerListeners, event, listener),
    off: (event: string) => this.managerListeners.delete(event),
  };
  constructor(public auth: Record<string, unknown>) {}
  on(event: string, listener: Listener): this {
    this.add(this.listeners, event, listener);
    return this;
  }
  emit(event: string, payload: unknown): this {
    this.emitted.push([event, payload]);
    return this;
  }
  connect(): this {
    this.active = true;
    return this;
  }
  disconnect(): this {
    this.disconnected = true;
    this.connected = false;
    this.active = false;
    return this;
  }
  removeAllListeners(): this {
    this.listeners = new Map();
    return this;
  }
  /** The hub's side: deliver an event to this socket. */
  fire(event: string, ...args: unknown[]): void {
    if (event === 'connect') this.connected = true;
    if (event === 'disconnect') this.connected = false;
    for (const listener of this.listeners.get(event) ?? []) listener(...args);
  }
  private add(map: Map<string, Listener[]>, event: string, listener: Listener): void {
    map.set(event, [...(map.get(event) ?? []), listener]);
  }
}

const batch = (seq: number): LiveReadingBatch => ({
  room: 'device:a',
  readings: [{ device: 'a', seq, ts: seq, committedAt: seq, data: {} }],
  dropped: 0,
});

let sockets: FakeSocket[];
let delivered: number[];
let states: string[];
let connects: boolean[];
let refused: number;
let connection: LiveConnection;

beforeEach(() => {
  vi.useFakeTimers();
  sockets = [];
  delivered = [];
  states = [];
  connects = [];
  refused = 0;
  connection = new LiveConnection(
    {
      readings: (b) => delivered.push(...b.readings.map((r) => r.seq)),
      rejects: () => undefined,
      stats: () => undefined,
      connection: (info: ConnectionInfo) => states.push(info.state),
      connected: (reconnected) => connects.push(reconnected),
      unauthorized: () => (refused += 1),
    },
    'token-1',
    Date.now,
    {
      handoverOverlapMs: 1000,
      open: (auth) => {
        const socket = new FakeSocket(auth);
        sockets.push(socket);
        return socket as unknown as LiveSocket;
      },
    },
  );
  connection.follow('a');
});

afterEach(() => {
  connection.close();
  vi.useRealTimers();
});

describe('LiveConnection.renew', () => {
  it('moves a connected link to the new token make-before-break: no gap, no state change, old socket closed after the overlap', () => {
    const [first] = sockets;
    first?.fire('connect');
    expect(first?.emitted).toContainEqual(['subscribe', { devices: ['a'] }]);
    first?.fire('readings', batch(1));

    connection.renew('token-2');
    expect(sockets).toHaveLength(2);
    const second = sockets[1];
    expect(second?.auth).toEqual({ protocol: 2, token: 'token-2' });
    // Until the replacement is connected, the old link alone delivers; the replacement reports no state.
    first?.fire('readings', batch(2));
    second?.fire('readings', batch(99));
    second?.fire('connect');
    expect(second?.emitted).toContainEqual(['subscribe', { devices: ['a'] }]);
    // The overlap: both deliver (the store drops duplicates), so a reading on either is not lost.
    first?.fire('readings', batch(3));
    second?.fire('readings', batch(3));
    second?.fire('readings', batch(4));
    expect(first?.disconnected).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(first?.disconnected).toBe(true);
    first?.fire('readings', batch(5));
    second?.fire('readings', batch(6));
    expect(delivered).toEqual([1, 2, 3, 3, 4, 6]);
    expect(states).toEqual(['connected']);
    expect(connects).toEqual([false]);
    // Later reconnects of the link present the new token.
    expect(second?.auth).toEqual({ protocol: 2, token: 'token-2' });
  });

  it('hands a link that is down the new token for its next reconnect, opening nothing extra', () => {
    const [first] = sockets;
    connection.renew('token-2');
    expect(sockets).toHaveLength(1);
    expect(first?.auth).toEqual({ protocol: 2, token: 'token-2' });
  });

  it('keeps the current link when the replacement cannot connect', () => {
    const [first] = sockets;
    first?.fire('connect');
    connection.renew('token-2');
    const second = sockets[1];
    second?.fire('connect_error', new Error('xhr poll error'));
    expect(second?.disconnected).toBe(true);
    first?.fire('readings', batch(7));
    expect(delivered).toEqual([7]);
    expect(first?.auth).toEqual({ protocol: 2, token: 'token-2' });
    expect(states).toEqual(['connected']);
  });

  it('reopens the link with the newest token when the hub closes it at expiry, reporting a reconnect', () => {
    const [first] = sockets;
    first?.fire('connect');
    // Renewal happened while a replacement could not connect; then the hub closes the old link.
    connection.renew('token-2');
    sockets[1]?.fire('connect_error', new Error('timeout'));
    const reconnect = vi.spyOn(first as FakeSocket, 'connect');
    first?.fire('disconnect', 'io server disconnect');
    expect(reconnect).toHaveBeenCalledTimes(1);
    expect(first?.auth).toEqual({ protocol: 2, token: 'token-2' });
    expect(states).toEqual(['connected', 'reconnecting']);
    first?.fire('connect');
    expect(connects).toEqual([false, true]);
    // An expired token is refused at the handshake: the page signs out.
    first?.fire('disconnect', 'io server disconnect');
    first?.fire('connect_error', new Error('unauthorized'));
    expect(refused).toBe(1);
  });
});
