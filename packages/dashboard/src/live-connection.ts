/**
 * The Socket.IO link to the hub: typed per the live contract, honest about its state, and
 * self-healing. It reports every state change (connecting / connected / reconnecting /
 * disconnected), re-joins the followed device's room after each reconnect (rooms do not survive a
 * new connection) and tells the caller when a reconnect happened so counters can be re-fetched.
 * Subscriptions are sent only while connected, so nothing piles up in the client's send buffer.
 * The handshake carries the signed-in user's API token; a refusal ('unauthorized') is reported so
 * the page can return to the sign-in form instead of retrying a dead token forever.
 */
import { io } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import type {
  ClientToServerEvents,
  LiveHandshakeAuth,
  LiveReadingBatch,
  LiveRejectBatch,
  LiveStats,
  ServerToClientEvents,
} from './contract.js';
import type { ConnectionInfo, ConnectionState } from './live-store.js';

export interface LiveConnectionEvents {
  readings(batch: LiveReadingBatch): void;
  rejects(batch: LiveRejectBatch): void;
  stats(stats: LiveStats): void;
  connection(info: ConnectionInfo): void;
  /** After every successful connect; `reconnected` is false only for the first one. */
  connected(reconnected: boolean): void;
  /** The hub refused the handshake's token (expired or revoked session). */
  unauthorized(): void;
}

/** The hub's handshake refusal message (packages/hub live/handshake-auth.ts). */
export const UNAUTHORIZED = 'unauthorized';

type LiveSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export class LiveConnection {
  private readonly socket: LiveSocket;
  private everConnected = false;
  private followed: string | null = null;
  private closed = false;
  private lastInfo: ConnectionInfo | null = null;

  constructor(
    private readonly events: LiveConnectionEvents,
    token: string | null,
    private readonly now: () => number = Date.now,
  ) {
    const auth: LiveHandshakeAuth = token === null ? { protocol: 2 } : { protocol: 2, token };
    // forceNew: a page-local connection, never shared through socket.io-client's manager cache
    // (React's development double-mount would otherwise reuse a closing manager).
    this.socket = io({ auth: { ...auth }, forceNew: true });
    this.socket.on('readings', (batch) => this.events.readings(batch));
    this.socket.on('rejects', (batch) => this.events.rejects(batch));
    this.socket.on('stats', (stats) => this.events.stats(stats));
    this.socket.on('connect', () => {
      const reconnected = this.everConnected;
      this.everConnected = true;
      this.report('connected', 0, null);
      if (this.followed !== null) this.socket.emit('subscribe', { devices: [this.followed] });
      this.events.connected(reconnected);
    });
    this.socket.on('disconnect', (reason) => {
      // `active` is false when nothing will retry by itself (the server or this page closed it).
      this.report(this.socket.active ? 'reconnecting' : 'disconnected', 0, reason);
    });
    this.socket.on('connect_error', (error) => {
      if (error.message === UNAUTHORIZED) {
        this.report('disconnected', 0, 'the hub refused this session');
        this.events.unauthorized();
        return;
      }
      const state: ConnectionState = !this.socket.active
        ? 'disconnected'
        : this.everConnected
          ? 'reconnecting'
          : 'connecting';
      this.report(state, null, error.message);
    });
    this.socket.io.on('reconnect_attempt', (attempt) => {
      this.report(this.everConnected ? 'reconnecting' : 'connecting', attempt, undefined);
    });
    this.socket.io.on('reconnect_failed', () => this.report('disconnected', 0, 'gave up reconnecting'));
  }

  /** Follow one device's every reading (or none). Replaces the previous subscription. */
  follow(device: string | null): void {
    if (device === this.followed) return;
    const previous = this.followed;
    this.followed = device;
    if (!this.socket.connected) return;
    if (previous !== null) this.socket.emit('unsubscribe', { devices: [previous] });
    if (device !== null) this.socket.emit('subscribe', { devices: [device] });
  }

  /** A manual retry after the link gave up or was closed by the server. */
  reconnect(): void {
    if (this.closed || this.socket.connected) return;
    this.report(this.everConnected ? 'reconnecting' : 'connecting', 0, null);
    this.socket.connect();
  }

  close(): void {
    this.closed = true;
    this.socket.io.off('reconnect_attempt');
    this.socket.io.off('reconnect_failed');
    this.socket.removeAllListeners();
    this.socket.disconnect();
  }

  /** `attempt` null keeps the current attempt; `error` undefined keeps the current error. */
  private report(state: ConnectionState, attempt: number | null, error: string | null | undefined): void {
    if (this.closed) return;
    const previous = this.lastInfo;
    const info: ConnectionInfo = {
      state,
      since: previous !== null && previous.state === state ? previous.since : this.now(),
      attempt: attempt ?? previous?.attempt ?? 0,
      lastError: error === undefined ? (previous?.lastError ?? null) : error,
    };
    this.lastInfo = info;
    this.events.connection(info);
  }
}
