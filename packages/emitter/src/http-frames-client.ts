/**
 * Sealed frames over HTTP: seals readings exactly as on TCP (fresh IV per frame) and posts them to
 * POST /api/v1/ingest/frames as application/octet-stream. No bearer: each frame authenticates itself.
 * A retry must re-seal (call `send` again), never re-post the same bytes: the hub would refuse them as
 * replayed_frame.
 */
import {
  CipherSuite,
  deriveDeviceKey,
  sealReadings,
  type CipherSuiteNumber,
  type DeviceKey,
  type Reading,
} from '@sealstream/protocol';
import { postForAnswer, type HttpIngestAnswer } from './http-answer.js';

export interface HttpFramesClientOptions {
  /** The hub's HTTP base URL, e.g. `http://127.0.0.1:8080`. */
  readonly baseUrl: string;
  readonly keyId: string;
  /** The device secret: 32 bytes. */
  readonly secret: Uint8Array;
  readonly suite?: CipherSuiteNumber;
  readonly timeoutMs?: number;
}

export const FRAMES_PATH = '/api/v1/ingest/frames';

export class HttpFramesClient {
  private readonly key: DeviceKey;
  private nextFrameId = 1;

  constructor(private readonly options: HttpFramesClientOptions) {
    this.key = deriveDeviceKey(options.secret);
  }

  /** Seals each batch into one frame and posts them all in one body; answers after the hub committed. */
  send(batches: ReadonlyArray<readonly Reading[]>): Promise<HttpIngestAnswer> {
    const frames = batches.map((readings) => this.seal(readings));
    return this.postFrames(frames);
  }

  /** One sealed frame (length prefix included), e.g. to post later or to build a test body. */
  seal(readings: readonly Reading[]): Buffer {
    const frameId = this.nextFrameId;
    this.nextFrameId = this.nextFrameId >= 0xffff_ffff ? 1 : this.nextFrameId + 1;
    return sealReadings(readings, this.key, {
      suite: this.options.suite ?? CipherSuite.Aes256Gcm,
      keyId: this.options.keyId,
      frameId,
    });
  }

  /** Posts already sealed frames as one body. */
  postFrames(frames: readonly Uint8Array[]): Promise<HttpIngestAnswer> {
    return postForAnswer(`${this.options.baseUrl}${FRAMES_PATH}`, {
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.concat(frames),
      timeoutMs: this.options.timeoutMs ?? 30_000,
    });
  }
}
