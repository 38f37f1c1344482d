/**
 * Well-known demo credentials, used ONLY with --demo so `npm start` works with no setup.
 * They are public by design; the hub refuses none of them in demo mode and never uses them otherwise.
 */
import { createHash } from 'node:crypto';
import type { DemoDefaults } from '../config/load-config.js';

export const DEMO_DEFAULTS: DemoDefaults = {
  keyId: 'demo',
  secret: createHash('sha256').update('sealstream demo device secret (public, demo only)').digest(),
  // The seed project's documented example key, so its emitter works against a demo hub unchanged.
  encryptionKey: 'encrypted-timeseries-secret-key-12345',
  // The seed's documented example AUTH_TOKEN, so its emitter configured as its README says authenticates.
  authToken: 'emitter-auth-token-secure-67890',
  // The token earlier demos documented; still accepted.
  extraAuthTokens: ['demo-auth-token'],
};

/** Share of the demo legacy emitter's tokens corrupted on purpose, so the demo shows refusals with their reasons. */
export const DEMO_LEGACY_TAMPER_FRACTION = 0.01;
