/**
 * The transport under a NativeClient: something that carries sealed frames to a hub and its answers
 * back. The client owns batching, the outbox, resends and reconnect backoff; a link only opens once,
 * moves bytes, and reports that it closed. Two links exist: a TCP socket to the hub's native port
 * (tcp-link.ts) and an MQTT broker (mqtt-link.ts).
 */
import type { Frame } from '@sealstream/protocol';

export interface FrameLinkHandlers {
  /** The link is up: frames may be written. */
  onOpen(): void;
  /** A frame from the hub (ACK, ERROR, PONG, CLOSE). */
  onFrame(frame: Frame): void;
  /** A write that returned false may be followed by more writes now. */
  onDrain(): void;
  /** The link is gone (or never opened); called once. */
  onClose(reason: string): void;
}

export interface FrameLink {
  /** Writes whole frames; false when the link's buffer is full (wait for onDrain). */
  write(bytes: Buffer): boolean;
  /** Orderly end: what was written is delivered, then the link closes (onClose follows). */
  end(): Promise<void>;
  /** Drops the link at once. */
  destroy(reason?: string): void;
  /**
   * True when the hub answers PINGs on this link (TCP): the client sends heartbeats and treats silence
   * as a dead link. False (MQTT: the broker has its own keepalive): only silence while frames wait for
   * their answers counts.
   */
  readonly heartbeats: boolean;
}

/** How a NativeClient reaches the hub. */
export type FrameTransport =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly connectTimeoutMs?: number }
  | {
      readonly kind: 'mqtt';
      readonly url: string;
      /** Topic levels before `<channel>/frames` (default sealstream/v1). */
      readonly topicPrefix?: string;
      /** This client's channel; default `<keyId>.<random>` (one channel per client). */
      readonly channel?: string;
      /** Frames one MQTT message carries at most (frames written in one turn share a message). */
      readonly framesPerMessage?: number;
      /**
       * Bytes one MQTT message carries at most (default 1 MiB + 64 KiB, the hub's default bound); the
       * broker drops a message over the hub's bound without telling anyone.
       */
      readonly maxMessageBytes?: number;
      readonly connectTimeoutMs?: number;
    };
