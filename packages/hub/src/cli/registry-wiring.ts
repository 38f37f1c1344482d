/**
 * Opens the device registry for a hub: the master key (from config, or in demo mode from a key file in
 * the data folder, created on first start with owner-only permissions), the database keyring loaded
 * and polled for other hubs' changes, the config keyring in front of it, the device service and API
 * keys. Refuses to start when stored keys cannot be opened: a hub must not run with half its keys.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { deviceToken, parseSecretHex } from '@sealstream/protocol';
import type { HubConfig } from '../config/hub-config.js';
import { KeyringChain, StaticKeyring, type KeyResolver } from '../pipeline/keyring.js';
import { ApiKeys } from '../registry/api-keys.js';
import { DeviceRegistry } from '../registry/device-registry.js';
import { MasterKeyMissingError, RegistryKeyring } from '../registry/registry-keyring.js';
import { SealedSecretError, SecretSealer } from '../registry/secret-sealer.js';
import { registryStoreFor, type SqlReadingStore, type SqlRegistryStore } from '../store/index.js';

export interface OpenedRegistry {
  readonly keys: KeyResolver;
  readonly devices: DeviceRegistry;
  readonly apiKeys: ApiKeys;
  readonly store: SqlRegistryStore;
  /** Stops polling for other hubs' changes. */
  stop(): void;
}

export async function openRegistry(config: HubConfig, store: SqlReadingStore, logger: Logger): Promise<OpenedRegistry> {
  const registryStore = registryStoreFor(store);
  const masterKey = config.registry.masterKey ?? demoMasterKey(config.registry.masterKeyFile);
  const sealer = masterKey === undefined ? null : new SecretSealer(masterKey);
  if (sealer === null)
    logger.warn('no master key (SEALSTREAM_MASTER_KEY): devices cannot be registered through the API');
  const registryKeyring = new RegistryKeyring({
    store: registryStore,
    sealer,
    onUnopenable: (keyIds, error) =>
      logger.error({ keyIds, err: error.message }, 'device keys left out: they do not open with this master key'),
  });
  await registryKeyring.reload({ strict: true }).catch((error: unknown) => {
    // A store first used with --demo holds keys sealed under its own key file: say how to go on.
    const demoKeyFile =
      !config.demo && config.store.kind === 'pglite' ? join(config.store.dataDir, 'master.key') : null;
    throw withMasterKeyAdvice(error, demoKeyFile !== null && existsSync(demoKeyFile) ? demoKeyFile : null);
  });
  const configKeys = new StaticKeyring(config.deviceKeys);
  const devices = new DeviceRegistry({
    store: registryStore,
    keyring: registryKeyring,
    sealer,
    keyIdTakenElsewhere: (keyId) => configKeys.resolve(keyId) !== undefined,
    deviceToken,
    defaultOverlapMs: config.registry.rotationOverlapMs,
    allowDefaultSecret: config.demo,
    onReloadError: (error) =>
      logger.error(
        { err: (error as Error).message },
        'device registry reload after a change failed; the refresh retries',
      ),
  });
  let refreshing = false;
  const timer = setInterval(() => {
    if (refreshing) return;
    refreshing = true;
    registryKeyring
      .refreshIfChanged()
      .then((changed) => {
        if (changed) logger.info({ keys: registryKeyring.size }, 'device registry reloaded after a change');
      })
      // Keep serving the last good snapshot; the next tick tries again.
      .catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'device registry refresh failed'))
      .finally(() => {
        refreshing = false;
      });
  }, config.registry.refreshMs);
  timer.unref();
  return {
    keys: new KeyringChain(configKeys, registryKeyring),
    devices,
    apiKeys: new ApiKeys(registryStore),
    store: registryStore,
    stop: () => clearInterval(timer),
  };
}

/**
 * The start-up error for stored device keys that do not open, with what to do about it: the message of
 * the registry names the key but not the way out.
 */
export function withMasterKeyAdvice(error: unknown, demoKeyFile: string | null): unknown {
  if (!(error instanceof SealedSecretError) && !(error instanceof MasterKeyMissingError)) return error;
  const demo =
    demoKeyFile === null
      ? ''
      : ` (this store was first used with --demo, which keeps its key in ${demoKeyFile}: SEALSTREAM_MASTER_KEY=$(cat ${demoKeyFile}))`;
  return new Error(
    `${error.message}. Start with the master key its devices were registered under${demo}, or on another ` +
      '--data-dir or database (docs/operations.md, "Device registry and the master key")',
  );
}

/** Demo only: read the master key file, or create it with a fresh random key (owner read/write only). */
function demoMasterKey(file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    const existing = parseSecretHex(readFileSync(file, 'utf8').trim());
    if (existing === undefined) throw new Error(`${file} does not hold 64 hex characters`);
    return existing;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(32);
  mkdirSync(dirname(file), { recursive: true });
  // 'wx': never overwrite a key another process just wrote; its keys would become unreadable.
  writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}
