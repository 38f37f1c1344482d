/**
 * The Socket.IO link to the hub: typed per the live contract, honest about its state, and
 * self-healing. It reports every state change (connecting / connected / reconnecting /
 * disconnected), re-joins the followed device's room after each reconnect (rooms do not survive a
 * new connection) and tells the caller when a reconnect happened so counters can be re-fetched.
 * Subscriptions are sent only while connected, so nothing piles up in the client's send buffer.
 * The handshake carries the signed-in user's API token; a refusal ('unauthorized') is reported so
 * the page can return to the sign-in form instead of retrying a dead token forever.
 * Token renewal: the hub closes a connection when the token it was opened with expires. `renew()`
 * moves the link to a renewed token make-before-break — a second socket connects and subscribes while
 * the first still delivers, and the first closes a moment later — so nothing is missed; the store
 * drops what the overlap delivers twice. Should the hub close the link anyway (renewal came late),
 * it is reopened with the newest token, and the page's reconnect back-fill covers the gap.
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
/** Socket.IO's reason when the server closed the connection (the hub does so when its token expires). */
const SERVER_CLOSED = 'io server disconnect';

export type LiveSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface LiveConnectionOptions {
  /** How long a replaced socket keeps delivering after its successor connected; default 1000 ms. */
  readonly handoverOverlapMs?: number;
  /** Opens a socket with the handshake `auth` (tests pass a fake). */
  readonly open?: (auth: Record<string, unknown>) => LiveSocket;
}

// forceNew: a page-local connection, never shared through socket.io-client's manager cache
// (React's development double-mount would otherwise reuse a closing manager; a handover needs two).
const openSocket = (auth: Record<string, unknown>): LiveSocket => io({ auth, forceNew: true });

export class LiveConnection {
  /** The socket whose state is reported and which carries the subscription. */
  private socket: LiveSocket;
  /** Opened with a renewed token; becomes `socket` once connected. */
  private incoming: LiveSocket | null = null;
  /** The socket `incoming` replaced, still delivering until the overlap ends. */
  private outgoing: LiveSocket | null = null;
  private outgoingTimer: ReturnType<typeof setTimeout> | undefined;
  private everConnected = false;
  private followed: string | null = null;
  private closed = false;
  private lastInfo: ConnectionInfo | null = null;
  private token: string | null;
  private readonly overlapMs: number;
  private readonly open: (auth: Record<string, unknown>) => LiveSocket;

  constructor(
    private readonly events: LiveConnectionEvents,
    token: string | null,
    private readonly now: () => number = Date.now,
    options: LiveConnectionOptions = {},
  ) {
    this.token = token;
    this.overlapMs = options.handoverOverlapMs ?? 1000;
    this.open = options.open ?? openSocket;
    this.socket = this.connectNew();
  }

  /** Follow one device's every reading (or none). Replaces the previous subscription. */
  follow(device: string | null): void {
    if (device === this.followed) return;
    const previous = this.followed;
    this.followed = device;
    // The outgoing socket keeps its subscription until it closes: switching devices mid-handover only
    // lets a few readings of the previous device arrive, which the store ignores.
    if (!this.socket.connected) return;
    if (previous !== null) this.socket.emit('unsubscribe', { devices: [previous] });
    if (device !== null) this.socket.emit('subscribe', { devices: [device] });
  }

  /**
   * Use a renewed token: every later (re)connect presents it, and a connected link is moved to it
   * before the hub closes the current connection at the old token's expiry.
   */
  renew(token: string | null): void {
    if (this.closed || token === this.token) return;
    this.token = token;
    this.socket.auth = this.handshake();
    // A link that is down reconnects with the new token by itself; a connected one is replaced.
    if (!this.socket.connected) return;
    if (this.incoming !== null) this.discard(this.incoming);
    this.incoming = this.connectNew();
  }

  /** A manual retry after the link gave up or was closed by the server. */
  reconnect(): void {
    if (this.closed || this.socket.connected) return;
    this.report(this.everConnected ? 'reconnecting' : 'connecting', 0, null);
    this.socket.auth = this.handshake();
    this.socket.connect();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.outgoingTimer);
    for (const socket of [this.incoming, this.outgoing, this.socket]) if (socket !== null) this.discard(socket);
    this.incoming = null;
    this.outgoing = null;
  }

  private handshake(): Record<string, unknown> {
    const auth: LiveHandshakeAuth = this.token === null ? { protocol: 2 } : { protocol: 2, token: this.token };
    return { ...auth };
  }

  private connectNew(): LiveSocket {
    const socket = this.open(this.handshake());
    // Data is taken from the current socket and, during a handover, from the outgoing one as well.
    const delivers = (): boolean => socket === this.socket || socket === this.outgoing;
    socket.on('readings', (batch) => {
      if (delivers()) this.events.readings(batch);
    });
    socket.on('rejects', (batch) => {
      if (delivers()) this.events.rejects(batch);
    });
    socket.on('stats', (stats) => {
      if (delivers()) this.events.stats(stats);
    });
    socket.on('connect', () => {
      if (socket === this.incoming) {
        this.promote(socket);
        return;
      }
      if (socket !== this.socket) return;
      const reconnected = this.everConnected;
      this.everConnected = true;
      this.report('connected', 0, null);
      if (this.followed !== null) socket.emit('subscribe', { devices: [this.followed] });
      this.events.connected(reconnected);
    });
    socket.on('disconnect', (reason) => {
      if (socket !== this.socket) return;
      if (reason === SERVER_CLOSED && !this.closed) {
        // The hub closed it, which it does when the token expires: reopen with the newest token. A
        // renewed token gets in (and the page back-fills the gap); an expired one is refused below.
        this.report('reconnecting', 0, 'the hub closed the link');
        socket.auth = this.handshake();
        socket.connect();
        return;
      }
      // `active` is false when nothing will retry by itself (this page closed it).
      this.report(socket.active ? 'reconnecting' : 'disconnected', 0, reason);
    });
    socket.on('connect_error', (error) => {
      if (socket === this.incoming) {
        // The replacement failed (hub restarting, token refused): keep the current link, which
        // already presents the new token on its next reconnect.
        this.discard(socket);
        this.incoming = null;
        return;
      }
      if (socket !== this.socket) return;
      if (error.message === UNAUTHORIZED) {
        this.report('disconnected', 0, 'the hub refused this session');
        this.events.unauthorized();
        return;
      }
      const state: ConnectionState = !socket.active
        ? 'disconnected'
        : this.everConnected
          ? 'reconnecting'
          : 'connecting';
      this.report(state, null, error.message);
    });
    socket.io.on('reconnect_attempt', (attempt) => {
      if (socket === this.socket) this.report(this.everConnected ? 'reconnecting' : 'connecting', attempt, undefined);
    });
    socket.io.on('reconnect_failed', () => {
      if (socket === this.socket) this.report('disconnected', 0, 'gave up reconnecting');
    });
    return socket;
  }

  /** The renewed socket connected: it becomes the link; the old one delivers a moment longer, then closes. */
  private promote(socket: LiveSocket): void {
    const previous = this.socket;
    const wasConnected = previous.connected;
    this.incoming = null;
    this.socket = socket;
    if (this.followed !== null) socket.emit('subscribe', { devices: [this.followed] });
    clearTimeout(this.outgoingTimer);
    if (this.outgoing !== null) this.discard(this.outgoing);
    this.outgoing = previous;
    this.outgoingTimer = setTimeout(() => {
      if (this.outgoing !== previous) return;
      this.outgoing = null;
      this.discard(previous);
    }, this.overlapMs);
    if (!wasConnected) {
      // The old link had dropped meanwhile: this is a reconnect, and the page back-fills the gap.
      this.report('connected', 0, null);
      this.events.connected(true);
    }
  }

  private discard(socket: LiveSocket): void {
    socket.io.off('reconnect_attempt');
    socket.io.off('reconnect_failed');
    socket.removeAllListeners();
    socket.disconnect();
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
