/** The decoded shapes of the six native frame types. Types only. */
import type { ReasonCode } from './reasons.js';

export interface DataFrame {
  type: 1;
  /** Raw suite byte; may be a suite this version does not know (openDataFrame then refuses it). */
  suite: number;
  frameId: number;
  sentAt: number;
  keyId: string;
  /** Authenticated header: body bytes from the version byte through the end of the IV. */
  header: Buffer;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
  /** The whole frame including its length prefix. */
  raw: Buffer;
}

export interface AckFrame {
  type: 2;
  frameId: number;
  accepted: number;
  duplicates: number;
  rejected: number;
}

export interface ErrorFrame {
  type: 3;
  frameId: number;
  code: number;
  /** The reason the code maps to, or undefined for a code this version does not know. */
  reason: ReasonCode | undefined;
  message: string;
}

export interface PingFrame {
  type: 4;
  nonce: bigint;
}

export interface PongFrame {
  type: 5;
  nonce: bigint;
}

export interface CloseFrame {
  type: 6;
  code: number;
}

export type Frame = DataFrame | AckFrame | ErrorFrame | PingFrame | PongFrame | CloseFrame;
