/**
 * A real device registry over a real migrated store: master-key sealer, database keyring, device
 * service, API keys, and a Pipeline whose keys are the config keyring chained with the registry — the
 * same wiring the hub uses (cli/registry-wiring.ts), minus the polling timer.
 */
import { randomBytes } from 'node:crypto';
import { deviceToken } from '@sealstream/protocol';
import { createMetrics, type HubMetrics } from '../../src/observability/metrics.js';
import { KeyringChain, StaticKeyring, type KeyResolver, type KeySpec } from '../../src/pipeline/keyring.js';
import { Pipeline, type PipelineLimits } from '../../src/pipeline/pipeline.js';
import { ApiKeys } from '../../src/registry/api-keys.js';
import { DeviceRegistry } from '../../src/registry/device-registry.js';
import { RegistryKeyring } from '../../src/registry/registry-keyring.js';
import { SecretSealer } from '../../src/registry/secret-sealer.js';
import { registryStoreFor, type SqlReadingStore, type SqlRegistryStore } from '../../src/store/index.js';

export const TEST_LIMITS: PipelineLimits = {
  maxClockSkewMs: 300_000,
  maxReadingAgeMs: 86_400_000,
  maxReadingFutureMs: 300_000,
  maxReadingsPerFrame: 10_000,
  maxBatchRows: 10_000,
  maxQueuedRows: 100_000,
  highWaterRows: 50_000,
  commitConcurrency: 1,
  commitRetryDeadlineMs: 5_000,
  replayWindowMaxEntries: 100_000,
  deadLetters: { maxRawBytes: 4096, maxPerSecond: 100_000 },
};

export interface RegistryFixture {
  readonly masterKey: Buffer;
  readonly registryStore: SqlRegistryStore;
  readonly keyring: RegistryKeyring;
  readonly devices: DeviceRegistry;
  readonly apiKeys: ApiKeys;
  readonly pipeline: Pipeline;
  /** The pipeline's keys: config keys, then the registry. */
  readonly keys: KeyResolver;
  readonly metrics: HubMetrics;
}

export async function openRegistryFixture(
  store: SqlReadingStore,
  options: { masterKey?: Buffer; configKeys?: KeySpec[]; now?: () => number; overlapMs?: number } = {},
): Promise<RegistryFixture> {
  const masterKey = options.masterKey ?? randomBytes(32);
  const now = options.now ?? Date.now;
  const registryStore = registryStoreFor(store);
  const sealer = new SecretSealer(masterKey);
  const keyring = new RegistryKeyring({ store: registryStore, sealer, now });
  await keyring.reload();
  const configKeys = new StaticKeyring(options.configKeys ?? []);
  const devices = new DeviceRegistry({
    store: registryStore,
    keyring,
    sealer,
    keyIdTakenElsewhere: (keyId) => configKeys.resolve(keyId) !== undefined,
    deviceToken,
    now,
    ...(options.overlapMs === undefined ? {} : { defaultOverlapMs: options.overlapMs }),
  });
  const metrics = createMetrics();
  const keys = new KeyringChain(configKeys, keyring);
  const pipeline = new Pipeline({
    store,
    metrics: metrics.pipeline,
    keys,
    limits: TEST_LIMITS,
    now,
  });
  await pipeline.start();
  return {
    masterKey,
    registryStore,
    keyring,
    devices,
    apiKeys: new ApiKeys(registryStore, now),
    pipeline,
    keys,
    metrics,
  };
}
