/**
 * The resolved settings and shared state the HTTP ingest routes are built with (one per app): the
 * pipeline, the key resolver, the clock, the signed-request nonce window and the per-sender limiter.
 */
import type { KeyResolver } from '../../pipeline/keyring.js';
import type { NonceWindow } from '../../pipeline/nonce-window.js';
import type { Pipeline } from '../../pipeline/pipeline.js';
import type { SharedReplayWindow } from '../../pipeline/shared-state-ports.js';
import type { IngestLimiter } from './ingest-rate-limiter.js';
import type { IngestJwtVerifier } from './ingest-jwt.js';

export interface IngestContext {
  readonly pipeline: Pipeline;
  readonly keys: KeyResolver;
  readonly now: () => number;
  /** Signed requests: accepted distance between x-timestamp and the hub clock, either way. */
  readonly signatureToleranceMs: number;
  /** Signed-request nonces, owned by device id (each device capped, see nonce-window.ts). */
  readonly nonces: NonceWindow;
  /** Nonces shared with other hubs (Redis), checked after `nonces`; null: `nonces` is the whole check. */
  readonly sharedNonces: SharedReplayWindow | null;
  /** Whether a credential holding XRayIOT's published default secret may sign (--demo only). */
  readonly allowDefaultSecret: boolean;
  /** Whether XRayIOT signal summaries are stored (each commits with its readings). */
  readonly storeSignalSummaries: boolean;
  /** null: no per-sender limit. */
  readonly limiter: IngestLimiter | null;
  readonly bodyLimitBytes: number;
  /** The signed route's body limit (XRayIOT signals carry up to 1 MiB of payload). */
  readonly signedBodyLimitBytes: number;
  readonly maxFrameBytes: number;
  /** Frames per frames-route body. */
  readonly maxFramesPerRequest: number;
  /** Readings per JSON request (the same bound as readings per sealed frame). */
  readonly maxReadingsPerRequest: number;
  /**
   * InsightHub-style HS256 JWT bearers on POST /ingest; null: refused (`bad_token`). `allowSharedKeys`:
   * a device a shared ('any') key may speak for counts as registered (demo mode only).
   */
  readonly jwt: { readonly verify: IngestJwtVerifier; readonly allowSharedKeys: boolean } | null;
}
